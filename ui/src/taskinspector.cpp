#include <loopscope/ui/taskinspector.h>

#include <loopscope/recorder.h>
#include <loopscope/ui/tasktablemodel.h>
#include <loopscope/ui/timelinemodel.h>
#include <loopscope/ui/timelineview.h>
#include <loopscope/ui/tracebatch.h>

#include <QAbstractTableModel>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QStackedWidget>
#include <QTreeView>
#include <QVBoxLayout>

#include <algorithm>

namespace loopscope::ui {

using State = TaskStats::State;

namespace {

//! Lifecycle rows shown at most: the newest transitions of a long-lived task.
constexpr std::size_t kMaxLifecycleRows = 1000;

QString loopTime(std::int64_t ns)
{
    return QStringLiteral("%1 s").arg(double(ns) / 1e9, 0, 'f', 6);
}

QString quoted(const QString &name)
{
    return QLatin1Char('\'') + name + QLatin1Char('\'');
}

QString taskLink(std::uint64_t taskId, const QString &text)
{
    return QStringLiteral("<a href=\"task:%1\">%2</a>").arg(taskId).arg(text.toHtmlEscaped());
}

QString futureText(FutureKind kind, std::uint64_t futureId)
{
    return QStringLiteral("%1 future #%2").arg(QLatin1String(futureKindName(kind))).arg(futureId);
}

} // namespace

// --- the lifecycle table --------------------------------------------------------------

/*!
 * The selected task's transitions, computed from its timeline lane. Rows hold raw values;
 * the text is made in data(), so a rebuild costs little even for a task that changes every
 * tick, and the view only asks for the rows it shows.
 */
class LifecycleModel : public QAbstractTableModel
{
public:
    enum Column { TimeColumn, TransitionColumn, DetailColumn, DurationColumn, ColumnCount };
    enum class Kind : std::uint8_t {
        Earlier, //!< older transitions not shown (id: how many, 0: trimmed by the timeline)
        Created,
        Scheduled, //!< its first step was queued (or its state is known again after a gap)
        Woken, //!< the awaited future completed: its next step was queued
        Requeued, //!< its own step queued its next one (sleep(0) or an await already done)
        Running,
        Awaiting,
        InExecutor,
        Unknown,
        Ended,
        NoHistory,
    };
    struct Row
    {
        std::int64_t time = 0;
        std::int64_t duration = -1; //!< loop time spent in it, -1: still in it (or none)
        std::int64_t realDuration = -1; //!< Running: real time the step ran
        std::uint64_t id = 0; //!< Running: step; Awaiting/Woken/InExecutor: the future
        Kind kind = Kind::Created;
        FutureKind futureKind = FutureKind::Plain;
        DoneStatus status = DoneStatus::Finished; //!< Ended
        bool slow = false;
        QString text; //!< Awaiting a task: its label; Ended: the message; Created: parent
        bool operator==(const Row &) const = default;
    };

    using QAbstractTableModel::QAbstractTableModel;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override
    {
        return parent.isValid() ? 0 : int(m_rows.size());
    }
    int columnCount(const QModelIndex &parent = QModelIndex()) const override
    {
        return parent.isValid() ? 0 : ColumnCount;
    }
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override
    {
        if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
            return QAbstractTableModel::headerData(section, orientation, role);
        switch (section) {
        case TimeColumn:
            return TaskInspector::tr("Loop time");
        case TransitionColumn:
            return TaskInspector::tr("Transition");
        case DetailColumn:
            return TaskInspector::tr("Detail");
        case DurationColumn:
            return TaskInspector::tr("For");
        default:
            return QVariant();
        }
    }
    QVariant data(const QModelIndex &index, int role) const override
    {
        if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
            return QVariant();
        const Row &row = m_rows[std::size_t(index.row())];
        switch (role) {
        case Qt::DisplayRole:
            switch (index.column()) {
            case TimeColumn:
                return row.kind == Kind::NoHistory ? QString() : loopTime(row.time);
            case TransitionColumn:
                return transitionText(row);
            case DetailColumn:
                return detailText(row);
            case DurationColumn:
                if (row.kind == Kind::Running && row.realDuration >= 0)
                    return TimelineView::formatDuration(double(row.realDuration))
                            + TaskInspector::tr(" (real)");
                return row.duration >= 0 ? TimelineView::formatDuration(double(row.duration))
                                         : QString();
            default:
                return QVariant();
            }
        case Qt::ForegroundRole:
            if (index.column() == TransitionColumn && stateOf(row) >= 0)
                return TaskTableModel::stateColor(stateOf(row));
            return QVariant();
        case Qt::ToolTipRole:
            return detailText(row);
        default:
            return QVariant();
        }
    }

    const std::vector<Row> &rows() const { return m_rows; }

    //! Replaces the rows, keeping the unchanged ones at the front (the common case: a live
    //! task gained transitions at the end), so views keep their scroll position.
    void setRows(std::vector<Row> rows)
    {
        std::size_t same = 0;
        while (same < m_rows.size() && same < rows.size() && m_rows[same] == rows[same])
            ++same;
        if (same < m_rows.size()) {
            beginRemoveRows(QModelIndex(), int(same), int(m_rows.size()) - 1);
            m_rows.erase(m_rows.begin() + std::ptrdiff_t(same), m_rows.end());
            endRemoveRows();
        }
        if (same < rows.size()) {
            beginInsertRows(QModelIndex(), int(same), int(rows.size()) - 1);
            m_rows.insert(m_rows.end(),
                          std::make_move_iterator(rows.begin() + std::ptrdiff_t(same)),
                          std::make_move_iterator(rows.end()));
            endInsertRows();
        }
    }

private:
    static int stateOf(const Row &row)
    {
        switch (row.kind) {
        case Kind::Created:
            return int(State::Created);
        case Kind::Scheduled:
        case Kind::Woken:
        case Kind::Requeued:
            return int(State::Scheduled);
        case Kind::Running:
            return int(State::Running);
        case Kind::Awaiting:
        case Kind::InExecutor:
            return int(State::Waiting);
        case Kind::Ended:
            switch (row.status) {
            case DoneStatus::Finished:
                return int(State::Finished);
            case DoneStatus::Cancelled:
                return int(State::Cancelled);
            case DoneStatus::Failed:
                return int(State::Failed);
            case DoneStatus::Abandoned:
                return int(State::Destroyed);
            }
            return -1;
        default:
            return -1;
        }
    }
    static QString transitionText(const Row &row)
    {
        switch (row.kind) {
        case Kind::Earlier:
            return QStringLiteral("…");
        case Kind::Created:
            return TaskInspector::tr("created");
        case Kind::Scheduled:
            return TaskInspector::tr("scheduled");
        case Kind::Woken:
            return TaskInspector::tr("woken");
        case Kind::Requeued:
            return TaskInspector::tr("scheduled again");
        case Kind::Running:
            return TaskInspector::tr("running");
        case Kind::Awaiting:
            return TaskInspector::tr("awaiting");
        case Kind::InExecutor:
            return TaskInspector::tr("in executor");
        case Kind::Unknown:
            return TaskInspector::tr("unknown");
        case Kind::Ended:
            return TaskTableModel::stateText(stateOf(row));
        case Kind::NoHistory:
            return TaskInspector::tr("no history");
        }
        return QString();
    }
    static QString detailText(const Row &row)
    {
        switch (row.kind) {
        case Kind::Earlier:
            return row.id ? TaskInspector::tr("%1 earlier transitions not shown").arg(row.id)
                          : TaskInspector::tr("earlier history was trimmed by the timeline");
        case Kind::Created:
            return row.text;
        case Kind::Scheduled:
            return TaskInspector::tr("its step is in the ready queue");
        case Kind::Woken:
            return row.id ? TaskInspector::tr("%1 completed; its next step is in the ready queue")
                                    .arg(futureText(row.futureKind, row.id))
                          : TaskInspector::tr("its next step is in the ready queue");
        case Kind::Requeued:
            return TaskInspector::tr("its step queued the next one (sleep(0), or it awaited "
                                     "something already done)");
        case Kind::Running: {
            QString text = TaskInspector::tr("step %1").arg(row.id);
            if (row.slow)
                text += TaskInspector::tr(" — slow callback");
            return text;
        }
        case Kind::Awaiting:
            if (!row.text.isEmpty())
                return row.text;
            return row.id ? futureText(row.futureKind, row.id)
                          : TaskInspector::tr("something the trace cannot name");
        case Kind::InExecutor:
            return TaskInspector::tr("awaits executor job (future #%1)").arg(row.id);
        case Kind::Unknown:
            return TaskInspector::tr("trace events were dropped here");
        case Kind::Ended:
            return row.text;
        case Kind::NoHistory:
            return TaskInspector::tr("the timeline keeps no transitions of this task (not seen "
                                     "yet, or dropped to bound memory)");
        }
        return QString();
    }

    std::vector<Row> m_rows;
};

// --- TaskInspector --------------------------------------------------------------------

TaskInspector::TaskInspector(QWidget *parent)
    : QWidget(parent),
      m_ownTasks(std::make_unique<TaskTableModel>()),
      m_ownTimeline(std::make_unique<TimelineModel>()),
      m_tasks(m_ownTasks.get()),
      m_timeline(m_ownTimeline.get()),
      m_lifecycle(new LifecycleModel(this)),
      m_lastStats(std::make_unique<TaskStats>())
{
    m_stack = new QStackedWidget;

    m_empty = new QLabel(tr("No task selected.\n\nSelect a task in the task table, on the "
                            "timeline or in the loop view to see its lifecycle, what it "
                            "awaits, its parent and children, and how it ended."));
    m_empty->setObjectName(QStringLiteral("inspectorEmpty"));
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    m_stack->addWidget(m_empty);

    auto *page = new QWidget;
    m_icon = new QLabel;
    m_title = new QLabel;
    m_title->setObjectName(QStringLiteral("inspectorTitle"));
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_site = new QLabel;
    m_site->setObjectName(QStringLiteral("inspectorSite"));
    m_site->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_site->setWordWrap(true);

    m_chainLabel = new QLabel;
    m_chainLabel->setObjectName(QStringLiteral("inspectorChain"));
    m_chainLabel->setWordWrap(true);
    m_chainLabel->setTextFormat(Qt::RichText);
    m_chainLabel->setTextInteractionFlags(Qt::LinksAccessibleByMouse
                                          | Qt::LinksAccessibleByKeyboard);
    m_deadlockLabel = new QLabel;
    m_deadlockLabel->setObjectName(QStringLiteral("inspectorDeadlock"));
    m_deadlockLabel->setWordWrap(true);
    m_deadlockLabel->setStyleSheet(QStringLiteral("color: #d93025; font-weight: bold;"));
    m_deadlockLabel->hide();

    m_parentButton = new QPushButton;
    m_parentButton->setObjectName(QStringLiteral("inspectorParent"));
    m_parentButton->setFlat(true);
    m_parentButton->setCursor(Qt::PointingHandCursor);
    m_parentButton->setStyleSheet(QStringLiteral("text-align: left;"));
    m_parentButton->setToolTip(tr("Inspect the task that created this one"));
    connect(m_parentButton, &QPushButton::clicked, this, [this] {
        if (m_parent)
            Q_EMIT taskActivated(m_parent);
    });

    m_childrenLabel = new QLabel;
    m_childrenLabel->setObjectName(QStringLiteral("inspectorChildrenSummary"));
    m_childList = new QListWidget;
    m_childList->setObjectName(QStringLiteral("inspectorChildren"));
    m_childList->setMaximumHeight(110);
    m_childList->setUniformItemSizes(true);
    m_childList->setToolTip(tr("Click a child to inspect it"));
    connect(m_childList, &QListWidget::itemClicked, this, [this](QListWidgetItem *item) {
        Q_EMIT taskActivated(item->data(Qt::UserRole).toULongLong());
    });
    auto *children = new QVBoxLayout;
    children->setContentsMargins(0, 0, 0, 0);
    children->addWidget(m_childrenLabel);
    children->addWidget(m_childList);

    m_callbacksLabel = new QLabel;
    m_callbacksLabel->setObjectName(QStringLiteral("inspectorCallbacks"));
    m_callbacksLabel->setWordWrap(true);
    m_callbacksLabel->setTextFormat(Qt::RichText);
    m_callbacksLabel->setTextInteractionFlags(Qt::LinksAccessibleByMouse
                                              | Qt::LinksAccessibleByKeyboard);
    m_resultLabel = new QLabel;
    m_resultLabel->setObjectName(QStringLiteral("inspectorResult"));
    m_resultLabel->setWordWrap(true);
    m_resultLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);

    for (QLabel *label : { m_chainLabel, m_callbacksLabel })
        connect(label, &QLabel::linkActivated, this, &TaskInspector::onLinkActivated);

    m_lifecycleView = new QTreeView;
    m_lifecycleView->setObjectName(QStringLiteral("inspectorLifecycle"));
    m_lifecycleView->setModel(m_lifecycle);
    m_lifecycleView->setRootIsDecorated(false);
    m_lifecycleView->setUniformRowHeights(true);
    m_lifecycleView->setAlternatingRowColors(true);
    m_lifecycleView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_lifecycleView->header()->setStretchLastSection(false);
    m_lifecycleView->header()->setSectionResizeMode(LifecycleModel::DetailColumn,
                                                    QHeaderView::Stretch);
    m_lifecycleView->setColumnWidth(LifecycleModel::TimeColumn, 110);
    m_lifecycleView->setColumnWidth(LifecycleModel::TransitionColumn, 110);
    m_lifecycleView->setColumnWidth(LifecycleModel::DurationColumn, 110);

    auto *header = new QHBoxLayout;
    header->setContentsMargins(0, 0, 0, 0);
    header->addWidget(m_icon);
    header->addWidget(m_title, 1);

    auto *form = new QFormLayout;
    form->setContentsMargins(0, 0, 0, 0);
    form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    form->addRow(tr("Awaits:"), m_chainLabel);
    form->addRow(QString(), m_deadlockLabel);
    form->addRow(tr("Parent:"), m_parentButton);
    form->addRow(tr("Children:"), children);
    form->addRow(tr("Done callbacks:"), m_callbacksLabel);
    form->addRow(tr("Result:"), m_resultLabel);

    auto *layout = new QVBoxLayout(page);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(header);
    layout->addWidget(m_site);
    layout->addLayout(form);
    layout->addWidget(new QLabel(tr("Lifecycle:")));
    layout->addWidget(m_lifecycleView, 1);
    m_stack->addWidget(page);

    auto *outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    outer->addWidget(m_stack);

    setSources(nullptr, nullptr);
}

TaskInspector::~TaskInspector() = default;

void TaskInspector::setSources(const TaskTableModel *tasks, const TimelineModel *timeline)
{
    if (m_tasks)
        disconnect(m_tasks, nullptr, this, nullptr);
    const bool own = !tasks || !timeline;
    if (own && !m_ownTasks) {
        m_ownTasks = std::make_unique<TaskTableModel>();
        m_ownTimeline = std::make_unique<TimelineModel>();
    }
    m_tasks = own ? m_ownTasks.get() : tasks;
    m_timeline = own ? m_ownTimeline.get() : timeline;
    if (!own) {
        m_ownTasks.reset();
        m_ownTimeline.reset();
    }
    // Return values arrive between ticks (TaskTableModel::setResults()): one dataChanged over
    // the result column only.
    connect(m_tasks, &QAbstractItemModel::dataChanged, this,
            [this](const QModelIndex &topLeft, const QModelIndex &bottomRight) {
                if (!m_task || topLeft.column() != TaskTableModel::ResultColumn
                    || bottomRight.column() != TaskTableModel::ResultColumn)
                    return;
                const int row = m_tasks->rowOf(m_task);
                if (row >= topLeft.row() && row <= bottomRight.row())
                    refresh();
            });
    m_taskOfFuture.clear();
    m_doneCallbacks.clear();
    m_haveSequence = false;
    m_childrenStale = true;
    if (m_task)
        refresh();
}

void TaskInspector::clear()
{
    if (m_ownTasks) {
        m_ownTasks->clear();
        m_ownTimeline->clear();
    }
    m_taskOfFuture.clear();
    m_doneCallbacks.clear();
    m_haveSequence = false;
    setTask(0);
}

void TaskInspector::setResults(const QHash<quint64, QString> &results)
{
    if (m_ownTasks)
        m_ownTasks->setResults(results); // its dataChanged refreshes the view if it matters
}

void TaskInspector::setTask(std::uint64_t taskId)
{
    if (taskId == m_task && taskId != 0)
        return;
    m_task = taskId;
    m_parent = 0;
    m_futureId = 0;
    m_children.clear();
    m_watched.clear();
    m_header.clear();
    m_chain.clear();
    m_deadlock.clear();
    m_result.clear();
    *m_lastStats = TaskStats();
    m_childrenStale = true;
    if (!m_task) {
        m_lifecycle->setRows({});
        m_childList->clear();
        m_stack->setCurrentIndex(0);
        return;
    }
    refresh();
}

void TaskInspector::ingest(const TraceBatch &batch)
{
    if (batch.generation != m_generation) {
        if (m_generation != -1)
            clear();
        m_generation = batch.generation;
    }
    if (m_ownTasks) {
        m_ownTasks->applyBatch(batch);
        if (!batch.events.empty()) {
            m_ownTimeline->ingest(batch.events,
                                  [&batch](std::uint32_t i) { return batch.string(i); });
            m_ownTimeline->reconcile(batch.tasks, batch.tasksComplete);
        }
    }
    if (batch.events.empty())
        return;

    bool stale = false;
    for (const RecordedEvent &e : batch.events) {
        if (m_haveSequence && e.sequence != m_nextSequence) {
            stale = true; // events were dropped: what they said is lost
            m_childrenStale = true;
        }
        m_haveSequence = true;
        m_nextSequence = e.sequence + 1;
        switch (e.kind) {
        case TraceEventKind::TaskCreated:
            if (e.related)
                m_taskOfFuture.insert_or_assign(e.related, e.id);
            if (m_task && (e.id == m_task || e.aux == m_task)) {
                stale = true;
                m_childrenStale = m_childrenStale || e.aux == m_task;
            }
            break;
        case TraceEventKind::DoneCallbackAdded: {
            if (!m_taskOfFuture.contains(e.id))
                break; // only task futures: sleeps and the like have nothing to inspect
            std::vector<DoneCallback> &list = m_doneCallbacks[e.id];
            if (list.size() >= std::size_t(kMaxDoneCallbacks))
                list.erase(list.begin());
            list.push_back(DoneCallback{ e.related, e.aux, batch.string(e.location),
                                         e.handleKind == HandleKind::TaskStep });
            stale = stale || (m_futureId && e.id == m_futureId);
            break;
        }
        case TraceEventKind::TaskStepBegin:
        case TraceEventKind::TaskStepEnd:
        case TraceEventKind::TaskDone:
        case TraceEventKind::Wakeup:
        case TraceEventKind::TaskRenamed:
            stale = stale || m_watched.contains(e.id);
            break;
        case TraceEventKind::HandleScheduled:
            stale = stale || (e.handleKind == HandleKind::TaskStep && m_watched.contains(e.aux));
            break;
        default:
            break;
        }
    }
    pruneMaps();
    if (stale && m_task)
        refresh();
}

void TaskInspector::pruneMaps()
{
    // Both maps grow with every task ever created; the models they serve forget done tasks.
    // Rebuilt from what the models still know once they are twice that size (amortised).
    const auto known = std::size_t(m_tasks->rowCount()) + std::size_t(m_timeline->taskLaneCount());
    if (std::size_t(m_taskOfFuture.size()) <= std::max<std::size_t>(4096, 2 * known))
        return;
    std::unordered_map<std::uint64_t, std::uint64_t> kept;
    kept.reserve(known);
    for (int row = 0; row < m_tasks->rowCount(); ++row) {
        const TaskStats &t = m_tasks->taskAt(row);
        if (t.futureId)
            kept.insert_or_assign(t.futureId, t.id);
    }
    for (int lane = 0; lane < m_timeline->laneCount(); ++lane) {
        const TimelineLane &l = m_timeline->lane(lane);
        if (l.kind == LaneKind::Task && l.futureId)
            kept.insert_or_assign(l.futureId, l.id);
    }
    m_taskOfFuture.swap(kept);
    for (auto it = m_doneCallbacks.begin(); it != m_doneCallbacks.end();)
        it = m_taskOfFuture.contains(it.key()) ? std::next(it) : m_doneCallbacks.erase(it);
}

std::uint64_t TaskInspector::taskOfFuture(std::uint64_t futureId)
{
    if (const auto it = m_taskOfFuture.find(futureId); it != m_taskOfFuture.end())
        return it->second;
    // Its TaskCreated was dropped or came before the inspector did: ask the task table.
    for (int row = 0; row < m_tasks->rowCount(); ++row) {
        const TaskStats &t = m_tasks->taskAt(row);
        if (t.futureId == futureId) {
            m_taskOfFuture.insert_or_assign(futureId, t.id);
            return t.id;
        }
    }
    return 0;
}

const TaskStats *TaskInspector::statsOf(std::uint64_t taskId) const
{
    const int row = m_tasks->rowOf(taskId);
    if (row >= 0 && row < m_tasks->rowCount() && m_tasks->taskIdAt(row) == taskId)
        return &m_tasks->taskAt(row);
    return nullptr;
}

QString TaskInspector::taskLabel(std::uint64_t taskId) const
{
    if (const TaskStats *t = statsOf(taskId))
        return QStringLiteral("#%1 %2").arg(taskId).arg(quoted(t->name));
    const int lane = m_timeline->laneOfTask(taskId);
    if (lane >= 0)
        return QStringLiteral("#%1 %2").arg(taskId).arg(quoted(m_timeline->lane(lane).name));
    return QStringLiteral("#%1").arg(taskId);
}

void TaskInspector::onLinkActivated(const QString &link)
{
    if (!link.startsWith(QLatin1String("task:")))
        return;
    bool ok = false;
    const quint64 id = link.mid(5).toULongLong(&ok);
    if (ok && id)
        Q_EMIT taskActivated(id);
}

void TaskInspector::refresh()
{
    ++m_refreshes;
    m_watched.clear();
    m_watched.insert(m_task);
    m_stack->setCurrentIndex(1);

    const TaskStats *t = statsOf(m_task);
    const bool tracked = t != nullptr;
    if (t)
        *m_lastStats = *t;
    else if (m_lastStats->id == m_task)
        t = m_lastStats.get(); // the table forgot it: what we saw last
    const int lane = m_timeline->laneOfTask(m_task);

    if (!t && lane < 0) {
        m_header = tr("#%1 — not known").arg(m_task);
        m_title->setText(m_header);
        m_icon->clear();
        m_site->setText(tr("No task #%1 in the trace (yet, or any more).").arg(m_task));
        m_chain.clear();
        m_deadlock.clear();
        m_result.clear();
        m_parent = 0;
        m_futureId = 0;
        m_chainLabel->clear();
        m_deadlockLabel->hide();
        m_parentButton->setText(tr("none"));
        m_parentButton->setEnabled(false);
        m_children.clear();
        m_childList->clear();
        m_childrenLabel->setText(tr("none"));
        m_callbacksLabel->setText(tr("none"));
        m_resultLabel->clear();
        m_lifecycle->setRows({});
        return;
    }

    // Header. A task the timeline knows but the table does not (expired): its lane has
    // the name and the end.
    const TimelineLane *l = lane >= 0 ? &m_timeline->lane(lane) : nullptr;
    const QString name = t ? t->name : l->name;
    int state = t ? int(t->state) : int(State::Waiting);
    if (!t && l->isDone())
        state = int(l->status == DoneStatus::Finished            ? State::Finished
                            : l->status == DoneStatus::Cancelled ? State::Cancelled
                            : l->status == DoneStatus::Failed    ? State::Failed
                                                                 : State::Destroyed);
    m_header =
            QStringLiteral("#%1 %2 — %3").arg(m_task).arg(name, TaskTableModel::stateText(state));
    m_title->setText(
            QStringLiteral("<b>#%1 %2</b> — <span style=\"color:%3\">%4</span>%5")
                    .arg(m_task)
                    .arg(name.toHtmlEscaped(), TaskTableModel::stateColor(state).name(),
                         TaskTableModel::stateText(state),
                         tracked ? QString() : tr(" <i>(no longer in the task table)</i>")));
    if (tracked) {
        const int row = m_tasks->rowOf(m_task);
        m_stateIcon =
                m_tasks->data(m_tasks->index(row, TaskTableModel::StateColumn), Qt::DecorationRole)
                        .value<QIcon>();
    }
    m_icon->setPixmap(m_stateIcon.pixmap(12, 12));
    const QString location = t ? t->location : l->location;
    m_site->setText(location.isEmpty() ? tr("creation site not known")
                                       : tr("created at %1").arg(location));

    m_parent = t ? t->parent : l->parent;
    m_futureId = t ? t->futureId : l->futureId;
    if (m_parent) {
        m_watched.insert(m_parent);
        const TaskStats *p = statsOf(m_parent);
        m_parentButton->setText(
                taskLabel(m_parent)
                + (p ? QStringLiteral(" (%1)").arg(TaskTableModel::stateText(int(p->state)))
                     : QString()));
        m_parentButton->setEnabled(true);
    } else {
        m_parentButton->setText(tr("none"));
        m_parentButton->setEnabled(false);
    }

    refreshChain();
    if (m_childrenStale)
        refreshChildren();
    m_childList->clear();
    for (const std::uint64_t child : m_children) {
        m_watched.insert(child);
        auto *item = new QListWidgetItem(taskLabel(child));
        item->setData(Qt::UserRole, QVariant::fromValue<quint64>(child));
        const int row = m_tasks->rowOf(child);
        if (const TaskStats *c = statsOf(child)) {
            item->setText(item->text() + QStringLiteral(" — ")
                          + TaskTableModel::stateText(int(c->state)));
            item->setIcon(m_tasks->data(m_tasks->index(row, TaskTableModel::StateColumn),
                                        Qt::DecorationRole)
                                  .value<QIcon>());
        }
        m_childList->addItem(item);
    }
    m_childList->setVisible(!m_children.empty());

    // Done callbacks on its own future.
    QStringList callbacks;
    QStringList callbackLinks;
    for (const DoneCallback &cb : m_doneCallbacks.value(m_futureId)) {
        const QString at = cb.location.isEmpty() ? QString() : tr(" at %1").arg(cb.location);
        if (cb.taskStep && cb.task) {
            callbacks << tr("awaited by task %1%2").arg(taskLabel(cb.task), at);
            callbackLinks << tr("awaited by task %1%2")
                                     .arg(taskLink(cb.task, taskLabel(cb.task)),
                                          at.toHtmlEscaped());
        } else {
            const QString by =
                    cb.task ? tr(" added by task %1").arg(taskLabel(cb.task)) : QString();
            callbacks << tr("callback #%1%2%3").arg(cb.callback).arg(by, at);
            callbackLinks << tr("callback #%1%2%3")
                                     .arg(cb.callback)
                                     .arg(cb.task ? tr(" added by task %1")
                                                            .arg(taskLink(cb.task,
                                                                          taskLabel(cb.task)))
                                                  : QString(),
                                          at.toHtmlEscaped());
        }
    }
    m_callbackLines = callbacks;
    m_callbacksLabel->setText(callbacks.isEmpty() ? tr("none")
                                                  : callbackLinks.join(QStringLiteral("<br>")));

    // Result, error or cancel message.
    m_result.clear();
    if (state >= int(State::Finished)) {
        const QString message = t ? t->resultText : l->resultText;
        switch (State(state)) {
        case State::Finished: {
            const int row = m_tasks->rowOf(m_task);
            const QString value = tracked
                    ? m_tasks->data(m_tasks->index(row, TaskTableModel::ResultColumn)).toString()
                    : QString();
            // The table says "(returned)" until LoopHost::resultsKnown() told the value.
            m_result = value.isEmpty() || value == TaskTableModel::tr("(returned)")
                    ? tr("finished")
                    : tr("finished: %1").arg(value);
            break;
        }
        case State::Cancelled:
            m_result = message.isEmpty() ? tr("cancelled") : tr("cancelled: %1").arg(message);
            break;
        case State::Failed:
            m_result = message.isEmpty() ? tr("failed") : tr("failed: %1").arg(message);
            break;
        default:
            m_result = tr("destroyed while still pending (its loop closed)");
            break;
        }
    }
    m_resultLabel->setText(m_result.isEmpty() ? tr("pending") : m_result);
    m_resultLabel->setStyleSheet(state == int(State::Failed) || state == int(State::Destroyed)
                                         ? QStringLiteral("color: #d93025;")
                                         : QString());

    refreshLifecycle(lane);
}

void TaskInspector::refreshChain()
{
    m_chain.clear();
    m_deadlock.clear();
    QString rich;
    const auto add = [&](const QString &plain, const QString &html) {
        m_chain += plain;
        rich += html;
    };

    const TaskStats *t = statsOf(m_task);
    if (!t && m_lastStats->id == m_task)
        t = m_lastStats.get();
    if (!t) {
        m_chainLabel->setText(tr("not known"));
        m_deadlockLabel->hide();
        return;
    }
    std::vector<std::uint64_t> path{ m_task };
    for (int link = 0;; ++link) {
        const bool first = path.size() == 1;
        if (t->state != State::Waiting) {
            const QString state = TaskTableModel::stateText(int(t->state));
            if (first)
                add(tr("nothing: it is %1").arg(state), tr("nothing: it is %1").arg(state));
            else
                add(tr(", which is %1").arg(state), tr(", which is %1").arg(state));
            break;
        }
        const QString prefix = first ? QString() : tr(", which awaits ");
        if (t->waitingOn == 0) {
            add(prefix + tr("something the trace cannot name"),
                prefix + tr("something the trace cannot name"));
            break;
        }
        if (t->waitingOnKind != FutureKind::Task) {
            const QString what = futureText(t->waitingOnKind, t->waitingOn);
            add(prefix + what, prefix + what);
            break;
        }
        const std::uint64_t next = taskOfFuture(t->waitingOn);
        if (!next) {
            const QString what = tr("a task (future #%1)").arg(t->waitingOn);
            add(prefix + what, prefix + what);
            break;
        }
        const QString label = taskLabel(next);
        add(prefix + tr("task %1").arg(label), prefix + tr("task %1").arg(taskLink(next, label)));
        const auto seen = std::find(path.begin(), path.end(), next);
        if (seen != path.end()) {
            // Every task of the cycle waits for the next one: none can ever resume.
            QStringList cycle;
            for (auto it = seen; it != path.end(); ++it)
                cycle << QStringLiteral("#%1").arg(*it);
            cycle << QStringLiteral("#%1").arg(next);
            m_deadlock = tr("deadlock: %1").arg(cycle.join(QStringLiteral(" → ")));
            add(tr(" (a cycle)"), tr(" (a cycle)"));
            break;
        }
        path.push_back(next);
        m_watched.insert(next);
        t = statsOf(next);
        if (!t) {
            add(tr(" (no longer in the task table)"), tr(" (no longer in the task table)"));
            break;
        }
        if (link + 1 >= kMaxChainLength) {
            add(tr(", …"), tr(", …"));
            break;
        }
    }
    m_chainLabel->setText(rich);
    m_deadlockLabel->setText(m_deadlock);
    m_deadlockLabel->setVisible(!m_deadlock.isEmpty());
}

void TaskInspector::refreshChildren()
{
    m_childrenStale = false;
    m_children.clear();
    std::size_t total = 0;
    for (int row = 0; row < m_tasks->rowCount(); ++row) {
        const TaskStats &t = m_tasks->taskAt(row);
        if (t.parent != m_task)
            continue;
        ++total;
        if (m_children.size() < std::size_t(kMaxChildren))
            m_children.push_back(t.id);
    }
    std::sort(m_children.begin(), m_children.end());
    if (total == 0)
        m_childrenLabel->setText(tr("none"));
    else if (total > m_children.size())
        m_childrenLabel->setText(tr("%1 (the first %2 listed)").arg(total).arg(m_children.size()));
    else
        m_childrenLabel->setText(QString::number(total));
}

void TaskInspector::refreshLifecycle(int lane)
{
    using Kind = LifecycleModel::Kind;
    using Row = LifecycleModel::Row;
    std::vector<Row> rows;
    if (lane < 0) {
        Row none;
        none.kind = Kind::NoHistory;
        rows.push_back(none);
        m_lifecycle->setRows(std::move(rows));
        return;
    }
    const TimelineLane &l = m_timeline->lane(lane);
    const std::vector<TimelineSegment> &segments = l.segments;
    const std::size_t first =
            segments.size() > kMaxLifecycleRows ? segments.size() - kMaxLifecycleRows : 0;
    rows.reserve(segments.size() - first + 3);

    const bool createdKept = std::any_of(l.markers.begin(), l.markers.end(), [](const auto &m) {
        return m.kind == MarkerKind::Created;
    });
    if (first > 0 || !createdKept) {
        Row earlier;
        earlier.kind = Kind::Earlier;
        earlier.id = first;
        earlier.time = first < segments.size() ? segments[first].start : l.firstSeen;
        rows.push_back(earlier);
    } else {
        Row created;
        created.kind = Kind::Created;
        created.time = l.firstSeen;
        created.text = l.parent ? tr("by task %1").arg(taskLabel(l.parent)) : QString();
        rows.push_back(created);
    }

    const std::int64_t slow = m_timeline->slowCallbackThreshold();
    for (std::size_t i = first; i < segments.size(); ++i) {
        const TimelineSegment &s = segments[i];
        const TimelineSegment *previous = i > 0 ? &segments[i - 1] : nullptr;
        Row row;
        row.time = s.start;
        row.duration = s.isOpen() ? -1 : s.end - s.start;
        switch (s.state) {
        case SegmentState::Ready:
            if (previous
                && (previous->state == SegmentState::Awaiting
                    || previous->state == SegmentState::InExecutor)) {
                row.kind = Kind::Woken;
                row.id = previous->id;
                row.futureKind = previous->futureKind;
            } else if (previous && previous->state == SegmentState::Running) {
                row.kind = Kind::Requeued;
            } else {
                row.kind = Kind::Scheduled;
            }
            break;
        case SegmentState::Running:
            row.kind = Kind::Running;
            row.id = s.id;
            row.realDuration = s.realDuration;
            row.slow = s.realDuration > slow;
            break;
        case SegmentState::Awaiting:
            row.kind = Kind::Awaiting;
            row.id = s.id;
            row.futureKind = s.futureKind;
            if (s.futureKind == FutureKind::Task && s.id) {
                if (const std::uint64_t task = taskOfFuture(s.id))
                    row.text = tr("task %1").arg(taskLabel(task));
            }
            break;
        case SegmentState::InExecutor:
            row.kind = Kind::InExecutor;
            row.id = s.id;
            row.futureKind = s.futureKind;
            break;
        case SegmentState::Unknown:
            row.kind = Kind::Unknown;
            break;
        }
        rows.push_back(std::move(row));
    }
    if (l.isDone()) {
        Row ended;
        ended.kind = Kind::Ended;
        ended.time = l.doneTime;
        ended.status = l.status;
        ended.text = l.resultText;
        rows.push_back(std::move(ended));
    }
    m_lifecycle->setRows(std::move(rows));
}

QString TaskInspector::headerText() const
{
    return m_task ? m_header : QString();
}

QString TaskInspector::chainText() const
{
    return m_chain;
}

QString TaskInspector::deadlockText() const
{
    return m_deadlock;
}

QString TaskInspector::resultText() const
{
    return m_result;
}

QStringList TaskInspector::doneCallbackLines() const
{
    return m_callbackLines;
}

std::vector<std::uint64_t> TaskInspector::childIds() const
{
    return m_children;
}

QAbstractItemModel *TaskInspector::lifecycleModel() const
{
    return m_lifecycle;
}

} // namespace loopscope::ui
