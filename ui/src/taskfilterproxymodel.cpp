#include <loopscope/ui/taskfilterproxymodel.h>

#include <loopscope/recorder.h>
#include <loopscope/ui/tasktablemodel.h>

namespace loopscope::ui {

using State = TaskStats::State;

TaskFilterProxyModel::TaskFilterProxyModel(QObject *parent) : QSortFilterProxyModel(parent)
{
    setSortRole(TaskTableModel::SortRole);
    setDynamicSortFilter(true);
}

void TaskFilterProxyModel::setTextFilter(const QString &text)
{
    if (text == m_text)
        return;
    m_text = text;
    invalidateRowsFilter();
}

void TaskFilterProxyModel::setStateFilter(StateFilter filter)
{
    if (filter == m_state)
        return;
    m_state = filter;
    invalidateRowsFilter();
}

QStringList TaskFilterProxyModel::stateFilterNames()
{
    return { tr("All states"), tr("Live"),     tr("Ready / running"), tr("Waiting"),
             tr("Done"),       tr("Finished"), tr("Cancelled"),       tr("Failed") };
}

void TaskFilterProxyModel::setTaskIdFilter(std::optional<std::unordered_set<std::uint64_t>> ids)
{
    m_ids = std::move(ids);
    invalidateRowsFilter();
}

bool TaskFilterProxyModel::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    const QAbstractItemModel *model = sourceModel();
    const QModelIndex first = model->index(sourceRow, 0, sourceParent);
    const auto state = State(model->data(first, TaskTableModel::StateRole).toInt());
    const bool done = model->data(first, TaskTableModel::DoneRole).toBool();
    bool keep = true;
    switch (m_state) {
    case StateFilter::All:
        break;
    case StateFilter::Live:
        keep = !done;
        break;
    case StateFilter::Ready:
        keep = state == State::Scheduled || state == State::Running;
        break;
    case StateFilter::Waiting:
        keep = state == State::Waiting;
        break;
    case StateFilter::Done:
        keep = done;
        break;
    case StateFilter::Finished:
        keep = state == State::Finished;
        break;
    case StateFilter::Cancelled:
        keep = state == State::Cancelled;
        break;
    case StateFilter::Failed:
        keep = done && state != State::Finished && state != State::Cancelled;
        break;
    }
    if (!keep)
        return false;
    if (m_ids && !m_ids->count(model->data(first, TaskTableModel::TaskIdRole).toULongLong()))
        return false;
    if (m_text.isEmpty())
        return true;
    for (const int column : { TaskTableModel::IdColumn, TaskTableModel::NameColumn,
                              TaskTableModel::StateColumn, TaskTableModel::AwaitingColumn,
                              TaskTableModel::ResultColumn, TaskTableModel::SiteColumn }) {
        const QString text = model->data(model->index(sourceRow, column, sourceParent)).toString();
        if (text.contains(m_text, Qt::CaseInsensitive))
            return true;
    }
    return false;
}

} // namespace loopscope::ui
