#include <loopscope/ui/tasktablemodel.h>

#include <loopscope/recorder.h>
#include <loopscope/ui/textcelldelegate.h>
#include <loopscope/ui/tracebatch.h>

#include <QHeaderView>
#include <QIcon>
#include <QPainter>
#include <QPixmap>
#include <QTableView>

#include <algorithm>
#include <iterator>
#include <array>

namespace loopscope::ui {

using State = TaskStats::State;

struct TaskTableModel::Row
{
    TaskStats task;
    std::int64_t doneSeenMs = -1; //!< m_clock time the model first saw it done
    std::uint64_t seenTick = 0; //!< last tick the recorder still reported it
};

namespace {

constexpr int StateCount = 8;

QString durationText(Duration d)
{
    const double ms = std::chrono::duration<double, std::milli>(d).count();
    if (ms < 1.0)
        return QStringLiteral("%1 µs").arg(ms * 1000.0, 0, 'f', 0);
    if (ms < 1000.0)
        return QStringLiteral("%1 ms").arg(ms, 0, 'f', ms < 10 ? 2 : 1);
    return QStringLiteral("%1 s").arg(ms / 1000.0, 0, 'f', 3);
}

//! Whether a change of \a a into \a b shows anywhere in the table.
bool sameForTable(const TaskStats &a, const TaskStats &b)
{
    return a.state == b.state && a.steps == b.steps && a.waitingOn == b.waitingOn
            && a.waitingOnKind == b.waitingOnKind && a.busy == b.busy && a.scheduled == b.scheduled
            && a.waiting == b.waiting && a.status == b.status && a.resultText == b.resultText
            && a.name == b.name;
}

QIcon stateIcon(int state)
{
    static std::array<QIcon, StateCount> icons;
    QIcon &icon = icons[std::size_t(std::clamp(state, 0, StateCount - 1))];
    if (icon.isNull()) {
        QPixmap pixmap(12, 12);
        pixmap.fill(Qt::transparent);
        QPainter painter(&pixmap);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.setPen(Qt::NoPen);
        painter.setBrush(TaskTableModel::stateColor(state));
        switch (State(state)) {
        case State::Finished:
        case State::Cancelled:
        case State::Failed:
        case State::Destroyed:
            painter.drawRect(QRectF(1.5, 1.5, 9, 9)); // ended: a square
            break;
        default:
            painter.drawEllipse(QRectF(1, 1, 10, 10)); // alive: a dot
            break;
        }
        painter.end();
        icon = QIcon(pixmap);
    }
    return icon;
}

} // namespace

TaskTableModel::TaskTableModel(QObject *parent) : QAbstractTableModel(parent)
{
    m_clock.start();
}

TaskTableModel::~TaskTableModel() = default;

int TaskTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int TaskTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString TaskTableModel::stateText(int state)
{
    switch (State(state)) {
    case State::Created:
        return tr("created");
    case State::Scheduled:
        return tr("scheduled");
    case State::Running:
        return tr("running");
    case State::Waiting:
        return tr("waiting");
    case State::Finished:
        return tr("finished");
    case State::Cancelled:
        return tr("cancelled");
    case State::Failed:
        return tr("failed");
    case State::Destroyed:
        return tr("destroyed pending");
    default:
        return QString::fromLatin1(taskStateName(State(state)));
    }
}

QColor TaskTableModel::stateColor(int state)
{
    switch (State(state)) {
    case State::Created:
        return QColor(0x80, 0x80, 0x80);
    case State::Scheduled:
        return QColor(0xd9, 0x8c, 0x00); // ready, waiting for its turn: amber
    case State::Running:
        return QColor(0x1e, 0x8e, 0x3e); // green
    case State::Waiting:
        return QColor(0x1a, 0x73, 0xe8); // blue
    case State::Finished:
        return QColor(0x5f, 0x63, 0x68);
    case State::Cancelled:
        return QColor(0x9c, 0x27, 0xb0); // purple
    case State::Failed:
    case State::Destroyed:
        return QColor(0xd9, 0x30, 0x25); // red
    default:
        return QColor(0x80, 0x80, 0x80);
    }
}

QString TaskTableModel::shortSite(const QString &location)
{
    const qsizetype paren = location.indexOf(QLatin1String(" ("));
    QString site = paren < 0 ? location : location.left(paren);
    const qsizetype slash = site.lastIndexOf(QLatin1Char('/'));
    return slash < 0 ? site : site.mid(slash + 1);
}

QString TaskTableModel::awaitingText(const Row &row) const
{
    const TaskStats &t = row.task;
    if (t.state != State::Waiting)
        return QString();
    if (t.waitingOn == 0)
        return tr("(something untraced)");
    if (t.waitingOnKind == FutureKind::Task) {
        const std::uint64_t task = m_taskOfFuture.value(t.waitingOn, 0);
        const int other = task ? rowOf(task) : -1;
        // Checked: while rows are being removed the index is renumbered only at the end.
        if (other >= 0 && other < int(m_rows.size()) && m_rows[std::size_t(other)].task.id == task)
            return tr("task %1 %2").arg(task).arg(m_rows[std::size_t(other)].task.name);
        return tr("task (future %1)").arg(t.waitingOn);
    }
    return QStringLiteral("%1 (future %2)")
            .arg(QString::fromLatin1(futureKindName(t.waitingOnKind)))
            .arg(t.waitingOn);
}

QVariant TaskTableModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return QVariant();
    const Row &row = m_rows[std::size_t(index.row())];
    const TaskStats &t = row.task;
    switch (role) {
    case TaskIdRole:
        return QVariant::fromValue<quint64>(t.id);
    case StateRole:
        return int(t.state);
    case DoneRole:
        return t.isDone();
    case Qt::ForegroundRole:
        if (index.column() == StateColumn)
            return stateColor(int(t.state));
        if (t.isDone())
            return QColor(Qt::gray);
        return QVariant();
    case Qt::DecorationRole:
        if (index.column() == StateColumn)
            return stateIcon(int(t.state));
        return QVariant();
    case Qt::TextAlignmentRole:
        switch (index.column()) {
        case IdColumn:
        case StepsColumn:
        case BusyColumn:
        case ScheduledColumn:
        case WaitingColumn:
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        default:
            return QVariant();
        }
    case Qt::ToolTipRole:
        switch (index.column()) {
        case SiteColumn:
            return t.location;
        case ResultColumn:
            return t.resultText;
        case BusyColumn:
            return tr("Real time spent running its steps");
        case ScheduledColumn:
            return tr("Loop time spent ready, waiting for its turn in the ready queue");
        case WaitingColumn:
            return tr("Loop time spent suspended on futures (finished waits)");
        default:
            return QVariant();
        }
    case SortRole:
        switch (index.column()) {
        case IdColumn:
            return QVariant::fromValue<quint64>(t.id);
        case StateColumn:
            return int(t.state);
        case StepsColumn:
            return QVariant::fromValue<quint64>(t.steps);
        case BusyColumn:
            return QVariant::fromValue<qint64>(t.busy.count());
        case ScheduledColumn:
            return QVariant::fromValue<qint64>(t.scheduled.count());
        case WaitingColumn:
            return QVariant::fromValue<qint64>(t.waiting.count());
        default:
            return data(index, Qt::DisplayRole);
        }
    case Qt::DisplayRole:
        switch (index.column()) {
        case IdColumn:
            return QVariant::fromValue<quint64>(t.id);
        case NameColumn:
            return t.name;
        case StateColumn:
            return stateText(int(t.state));
        case AwaitingColumn:
            return awaitingText(row);
        case StepsColumn:
            return QVariant::fromValue<quint64>(t.steps);
        case BusyColumn:
            return durationText(t.busy);
        case ScheduledColumn:
            return durationText(t.scheduled);
        case WaitingColumn:
            return durationText(t.waiting);
        case ResultColumn:
            if (!t.isDone())
                return QString();
            if (t.state == State::Finished && t.resultText.isEmpty())
                return m_results.value(t.id, tr("(returned)"));
            return t.resultText;
        case SiteColumn:
            return shortSite(t.location);
        default:
            return QVariant();
        }
    default:
        return QVariant();
    }
}

QVariant TaskTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case IdColumn:
        return tr("Id");
    case NameColumn:
        return tr("Name");
    case StateColumn:
        return tr("State");
    case AwaitingColumn:
        return tr("Awaiting");
    case StepsColumn:
        return tr("Steps");
    case BusyColumn:
        return tr("Busy");
    case ScheduledColumn:
        return tr("Scheduled");
    case WaitingColumn:
        return tr("Waiting");
    case ResultColumn:
        return tr("Result / error");
    case SiteColumn:
        return tr("Created at");
    default:
        return QVariant();
    }
}

QHash<int, QByteArray> TaskTableModel::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractTableModel::roleNames();
    names.insert(TaskIdRole, "taskId");
    names.insert(StateRole, "state");
    names.insert(SortRole, "sortValue");
    names.insert(DoneRole, "done");
    return names;
}

std::uint64_t TaskTableModel::taskIdAt(int row) const
{
    return m_rows[std::size_t(row)].task.id;
}

const TaskStats &TaskTableModel::taskAt(int row) const
{
    return m_rows[std::size_t(row)].task;
}

QString TaskTableModel::rowText(int row) const
{
    QStringList cells;
    for (int c = 0; c < ColumnCount; ++c)
        cells.append(data(index(row, c)).toString());
    cells[SiteColumn] = m_rows[std::size_t(row)].task.location;
    return cells.join(QLatin1Char('\t'));
}

void TaskTableModel::setRetention(std::chrono::milliseconds retention)
{
    m_retention = retention;
}

void TaskTableModel::setResults(const QHash<quint64, QString> &results)
{
    int first = -1;
    int last = -1;
    for (auto it = results.begin(); it != results.end(); ++it) {
        m_results.insert(it.key(), it.value());
        const int r = rowOf(it.key());
        if (r < 0)
            continue;
        first = first < 0 ? r : std::min(first, r);
        last = std::max(last, r);
    }
    if (first >= 0)
        Q_EMIT dataChanged(index(first, ResultColumn), index(last, ResultColumn));
}

void TaskTableModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_rowOf.clear();
    m_taskOfFuture.clear();
    m_expired.clear();
    m_results.clear();
    m_updates = 0;
    endResetModel();
}

void TaskTableModel::applyBatch(const TraceBatch &batch)
{
    if (!batch.changed) {
        removeExpired(); // retention is real time: it runs out while the loop is idle too
        return;
    }
    ++m_tick;
    const std::int64_t nowMs = m_clock.elapsed();
    std::vector<int> changed; //!< rows whose state, counts, waits or result changed
    std::vector<int> wholeRow; //!< of those, rows that ended or were renamed
    std::vector<const TaskStats *> added;

    for (const TaskStats &t : batch.tasks) {
        const int r = m_rowOf.value(t.id, -1);
        if (r < 0) {
            if (!m_expired.isEmpty()) {
                const auto gone = m_expired.find(t.id);
                if (gone != m_expired.end()) {
                    *gone = m_tick; // retention is over: it stays out
                    continue;
                }
            }
            added.push_back(&t);
            continue;
        }
        Row &row = m_rows[std::size_t(r)];
        row.seenTick = m_tick;
        if (row.task.isDone() && t.isDone())
            continue; // an ended task changes no more (thousands of them on every tick)
        if (!sameForTable(row.task, t)) {
            // Ending greys the whole row; otherwise the id and name cells stay as they were,
            // and leaving them out keeps a proxy sorted by id from re-sorting the row.
            if (row.task.isDone() != t.isDone() || row.task.name != t.name)
                wholeRow.push_back(r);
            row.task = t;
            changed.push_back(r);
        }
        if (t.isDone() && row.doneSeenMs < 0)
            row.doneSeenMs = nowMs;
    }

    // A task the recorder forgot before the model saw it end (more tasks ended in one tick
    // than it retains): its TaskDone event still says how it ended.
    for (const RecordedEvent &e : batch.events) {
        if (e.kind != TraceEventKind::TaskDone)
            continue;
        const int r = m_rowOf.value(e.id, -1);
        if (r < 0)
            continue;
        Row &row = m_rows[std::size_t(r)];
        if (row.seenTick == m_tick || row.task.isDone())
            continue;
        switch (e.status) {
        case DoneStatus::Finished:
            row.task.state = State::Finished;
            break;
        case DoneStatus::Cancelled:
            row.task.state = State::Cancelled;
            break;
        case DoneStatus::Failed:
            row.task.state = State::Failed;
            break;
        default:
            row.task.state = State::Destroyed;
            break;
        }
        row.task.status = e.status;
        row.task.resultText = batch.string(e.text);
        row.doneSeenMs = nowMs;
        changed.push_back(r);
        wholeRow.push_back(r);
    }

    if (!changed.empty()) {
        ++m_updates;
        const auto unique = [](std::vector<int> &rows) {
            std::sort(rows.begin(), rows.end());
            rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
        };
        unique(changed);
        unique(wholeRow);
        std::vector<int> partial;
        std::set_difference(changed.begin(), changed.end(), wholeRow.begin(), wholeRow.end(),
                            std::back_inserter(partial));
        emitRowsChanged(wholeRow, IdColumn);
        emitRowsChanged(partial, StateColumn);
    }

    if (!added.empty()) {
        ++m_updates;
        const int first = int(m_rows.size());
        beginInsertRows(QModelIndex(), first, first + int(added.size()) - 1);
        m_rows.reserve(m_rows.size() + added.size());
        for (const TaskStats *t : added) {
            Row row;
            row.task = *t;
            row.seenTick = m_tick;
            if (t->isDone())
                row.doneSeenMs = nowMs;
            m_rowOf.insert(t->id, int(m_rows.size()));
            m_taskOfFuture.insert(t->futureId, t->id);
            m_rows.push_back(std::move(row));
        }
        endInsertRows();
    }

    // Expired tasks the recorder no longer reports cannot come back: forget them.
    if (!m_expired.isEmpty()) {
        for (auto it = m_expired.begin(); it != m_expired.end();)
            it = *it == m_tick ? std::next(it) : m_expired.erase(it);
    }
    removeExpired();
}

void TaskTableModel::emitRowsChanged(const std::vector<int> &rows, int firstColumn)
{
    if (rows.empty())
        return;
    // The site never changes after creation.
    const int lastColumn = ResultColumn;
    // Neighbouring rows share one dataChanged; with many scattered ranges one signal over
    // the whole span is cheaper for views than hundreds of small ones.
    if (rows.size() > 64) {
        Q_EMIT dataChanged(index(rows.front(), firstColumn), index(rows.back(), lastColumn));
        return;
    }
    std::size_t first = 0;
    for (std::size_t i = 1; i <= rows.size(); ++i) {
        if (i == rows.size() || rows[i] != rows[i - 1] + 1) {
            Q_EMIT dataChanged(index(rows[first], firstColumn), index(rows[i - 1], lastColumn));
            first = i;
        }
    }
}

void TaskTableModel::removeExpired()
{
    if (m_retention.count() <= 0)
        return;
    const std::int64_t limit = m_clock.elapsed() - m_retention.count();
    const auto expired = [limit](const Row &row) {
        return row.doneSeenMs >= 0 && row.doneSeenMs <= limit;
    };
    if (std::none_of(m_rows.begin(), m_rows.end(), expired))
        return;
    ++m_updates;
    // From the back, one removal per run of neighbouring expired rows, so row numbers in
    // front stay valid while we go.
    int end = int(m_rows.size());
    while (end > 0) {
        if (!expired(m_rows[std::size_t(end - 1)])) {
            --end;
            continue;
        }
        int begin = end - 1;
        while (begin > 0 && expired(m_rows[std::size_t(begin - 1)]))
            --begin;
        beginRemoveRows(QModelIndex(), begin, end - 1);
        for (int r = begin; r < end; ++r) {
            m_expired.insert(m_rows[std::size_t(r)].task.id, m_tick);
            m_results.remove(m_rows[std::size_t(r)].task.id);
            m_rowOf.remove(m_rows[std::size_t(r)].task.id);
            m_taskOfFuture.remove(m_rows[std::size_t(r)].task.futureId);
        }
        m_rows.erase(m_rows.begin() + begin, m_rows.begin() + end);
        endRemoveRows();
        end = begin;
    }
    for (int r = 0; r < int(m_rows.size()); ++r)
        m_rowOf[m_rows[std::size_t(r)].task.id] = r;
}

void setUpTaskTableView(QTableView *table, QAbstractItemModel *model, int idWidth, int nameWidth,
                        int stateWidth, int awaitingWidth)
{
    table->setModel(model);
    table->setItemDelegate(new TextCellDelegate(table)); // the style's own is too slow here
    table->setSortingEnabled(true);
    table->sortByColumn(TaskTableModel::IdColumn, Qt::AscendingOrder);
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    table->setAlternatingRowColors(true);
    table->setWordWrap(false);
    table->verticalHeader()->hide();
    table->verticalHeader()->setDefaultSectionSize(table->fontMetrics().height() + 6);
    table->horizontalHeader()->setStretchLastSection(true);
    table->setColumnWidth(TaskTableModel::IdColumn, idWidth);
    table->setColumnWidth(TaskTableModel::NameColumn, nameWidth);
    table->setColumnWidth(TaskTableModel::StateColumn, stateWidth);
    table->setColumnWidth(TaskTableModel::AwaitingColumn, awaitingWidth);
}

} // namespace loopscope::ui
