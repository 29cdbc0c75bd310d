#include <loopscope/ui/warningspanel.h>
#include <loopscope/ui/loopinspector.h>

#include "tracedrain.h"

#include <loopscope/eventloop.h>
#include <loopscope/observer.h>
#include <loopscope/recorder.h>
#include <loopscope/task.h>
#include <loopscope/tsan.h>
#include <loopscope/ui/loopstatemodel.h>
#include <loopscope/ui/loopview.h>
#include <loopscope/ui/taskfilterproxymodel.h>
#include <loopscope/ui/tasktablemodel.h>
#include <loopscope/ui/timelinemodel.h>
#include <loopscope/ui/timelineview.h>
#include <loopscope/ui/tracebatch.h>

#include <QAction>
#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMetaObject>
#include <QPushButton>
#include <QStringList>
#include <QTabWidget>
#include <QTableView>
#include <QThread>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <unordered_set>

namespace loopscope::ui {

/*!
 * What the GUI thread and the loop's thread share about one attachment (one per attach()).
 * The agent is reached only through it, under its mutex, so the GUI never posts to an agent
 * that is gone: the loop's thread clears `agent` under the same mutex before deleting it.
 */
struct InspectorLink
{
    std::mutex mutex;
    //! The agent on another thread, to post commands to; null before it exists, after the
    //! GUI detached and after the loop closed. Guarded.
    LoopAgent *agent = nullptr;
    bool detaching = false; //!< the GUI detached; a late attach request does nothing. Guarded.
    QStringList messages; //!< refused commands, for the GUI's next tick. Guarded.
    std::atomic<bool> attached{ false }; //!< the observer was installed
    //! The loop closed: after the recorder saw LoopClosed, or before the observer could be
    //! installed.
    std::atomic<bool> closed{ false };

    void report(const QString &message)
    {
        std::lock_guard lock(mutex);
        messages.append(message);
    }
};

/*!
 * The inspector's half on the loop's thread: it attaches the recorder to the loop, observes
 * LoopClosed alone (so the loop builds no event per callback for it: the recorder, written to
 * directly, stays on its fast path), and is the object that commands are posted to, so they
 * arrive even while the loop is paused (a paused loop drains no inbox, but Qt delivers events
 * to this object).
 *
 * Every member function runs on the loop's thread. A local agent (the loop is the GUI
 * thread's) belongs to the inspector; any other deletes itself (deleteLater) once it was
 * removed from the loop, after clearing InspectorLink::agent.
 */
class LoopAgent final : public QObject, public LoopObserver
{
public:
    LoopAgent(EventLoop &loop, std::shared_ptr<TraceRecorder> recorder,
              std::shared_ptr<InspectorLink> link, bool local)
        : LoopObserver(Delivery::PerEvent, EventKinds{ TraceEventKind::LoopClosed }),
          m_loop(&loop),
          m_recorder(std::move(recorder)),
          m_link(std::move(link)),
          m_local(local)
    {
    }

    //! On the loop's thread: the recorder, then this agent, start watching the loop.
    void attachToLoop()
    {
        m_loop->addObserver(m_recorder.get());
        m_loop->addObserver(this);
    }

    //! LoopClosed, the only kind it is given (its EventKinds).
    void onEvent(const TraceEvent &) override { loopClosed(); }

    //! Stops observing (the GUI detached). Nothing to do when the loop closed first.
    void detachFromLoop()
    {
        if (m_loop) {
            m_loop->removeObserver(this);
            m_loop->removeObserver(m_recorder.get());
        }
        m_loop = nullptr;
    }

    void pause()
    {
        run("pause", [](EventLoop &loop) { loop.pause(); });
    }
    void resume()
    {
        run("resume", [](EventLoop &loop) { loop.resume(); });
    }
    void step(StepKind kind, std::uint64_t taskId)
    {
        run("step", [kind, taskId](EventLoop &loop) { loop.step(kind, taskId); });
    }
    void cancelTasks(std::vector<std::uint64_t> taskIds, const QString &message)
    {
        std::sort(taskIds.begin(), taskIds.end());
        run("cancel", [&](EventLoop &loop) {
            const std::string text = message.toStdString();
            for (TaskRef task : loop.allTasks()) {
                if (std::binary_search(taskIds.begin(), taskIds.end(), task.id()))
                    task.cancel(text);
            }
        });
    }

private:
    //! Runs \a fn on the loop unless it closed; what it throws is reported, never let into
    //! Qt's event dispatch.
    template <typename F>
    void run(const char *what, F &&fn)
    {
        if (!m_loop)
            return;
        try {
            fn(*m_loop);
        } catch (const std::exception &e) {
            m_link->report(
                    QStringLiteral("%1: %2").arg(QLatin1String(what), QString::fromUtf8(e.what())));
        }
    }

    void loopClosed()
    {
        // The loop is about to go (close() may be running in ~EventLoop): never touch it
        // again. emit() lets an observer remove itself while it is being called. Staying
        // registered is not an option: a closed loop still reports to its observers (a future
        // dropped later), and the inspector may be long gone by then.
        detachFromLoop();
        m_link->closed.store(true, std::memory_order_release);
        if (m_local)
            return;
        {
            std::lock_guard lock(m_link->mutex);
            m_link->agent = nullptr;
        }
        deleteLater(); // commands already posted to it are discarded with it
    }

    EventLoop *m_loop; //!< null once detached or closed
    std::shared_ptr<TraceRecorder> m_recorder;
    std::shared_ptr<InspectorLink> m_link;
    bool m_local;
};

namespace {

/*!
 * The request to attach to a loop on another thread, run by that loop (callSoonThreadsafe).
 * If the loop closes before it runs, close() drops it unrun, and so does a failed
 * callSoonThreadsafe(): either way the destructor tells the inspector the loop is closed.
 */
struct AttachRequest
{
    AttachRequest(EventLoop &target, std::shared_ptr<TraceRecorder> traceRecorder,
                  std::shared_ptr<InspectorLink> sharedLink)
        : loop(&target), recorder(std::move(traceRecorder)), link(std::move(sharedLink))
    {
    }
    ~AttachRequest()
    {
        if (!ran)
            link->closed.store(true, std::memory_order_release);
    }
    AttachRequest(const AttachRequest &) = delete;
    AttachRequest &operator=(const AttachRequest &) = delete;

    //! On the loop's thread: creates the agent there and installs it as the observer.
    void run()
    {
        ran = true;
        std::lock_guard lock(link->mutex);
        if (link->detaching)
            return;
        auto *agent = new LoopAgent(*loop, recorder, link, false);
        agent->attachToLoop();
        link->agent = agent;
        link->attached.store(true, std::memory_order_release);
    }

    EventLoop *loop;
    std::shared_ptr<TraceRecorder> recorder;
    std::shared_ptr<InspectorLink> link;
    bool ran = false;
};

} // namespace

LoopInspector::LoopInspector(QWidget *parent)
    : QWidget(parent),
      m_batch(std::make_unique<TraceBatch>()),
      m_timeline(std::make_unique<TimelineModel>()),
      m_loopState(std::make_unique<LoopStateModel>())
{
    buildUi();
    m_tickTimer = new QTimer(this);
    m_tickTimer->setTimerType(Qt::PreciseTimer);
    m_tickTimer->setInterval(std::chrono::milliseconds(33));
    connect(m_tickTimer, &QTimer::timeout, this, &LoopInspector::tick);
    updateControls();
}

LoopInspector::LoopInspector(EventLoop &loop, QWidget *parent) : LoopInspector(parent)
{
    attach(loop);
}

LoopInspector::~LoopInspector()
{
    detach();
    // The views hold plain pointers to the models: they go first (they are children).
    delete m_tabs;
    m_tabs = nullptr;
}

void LoopInspector::buildUi()
{
    setObjectName(QStringLiteral("loopInspector"));

    m_model = new TaskTableModel(this);
    m_proxy = new TaskFilterProxyModel(this);
    m_proxy->setSourceModel(m_model);

    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("taskTable"));
    setUpTaskTableView(m_table, m_proxy, 50, 150, 100, 170);
    auto *cancelAction = new QAction(tr("Cancel"), m_table);
    cancelAction->setShortcut(QKeySequence::Delete);
    cancelAction->setShortcutContext(Qt::WidgetShortcut);
    connect(cancelAction, &QAction::triggered, this, &LoopInspector::cancelSelectedTasks);
    m_table->addAction(cancelAction);

    m_filter = new QLineEdit;
    m_filter->setObjectName(QStringLiteral("taskFilter"));
    m_filter->setPlaceholderText(tr("Filter tasks: name, id, state, what they await…"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, m_proxy, &TaskFilterProxyModel::setTextFilter);
    m_stateFilter = new QComboBox;
    m_stateFilter->setObjectName(QStringLiteral("stateFilter"));
    m_stateFilter->addItems(TaskFilterProxyModel::stateFilterNames());
    connect(m_stateFilter, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_proxy->setStateFilter(TaskFilterProxyModel::StateFilter(index));
    });

    auto *tasksPage = new QWidget;
    auto *filterRow = new QHBoxLayout;
    filterRow->addWidget(m_filter, 1);
    filterRow->addWidget(m_stateFilter);
    auto *tasksLayout = new QVBoxLayout(tasksPage);
    tasksLayout->setContentsMargins(0, 4, 0, 0);
    tasksLayout->addLayout(filterRow);
    tasksLayout->addWidget(m_table, 1);

    m_timelineView = new TimelineView;
    m_timelineView->setObjectName(QStringLiteral("timelineView"));
    m_timelineView->setModel(m_timeline.get());
    connect(m_timelineView, &TimelineView::rangeSelected, this, [this](qint64 t0, qint64 t1) {
        const auto active = m_timeline->tasksActiveIn(t0, t1);
        m_proxy->setTaskIdFilter(std::unordered_set<std::uint64_t>(active.begin(), active.end()));
    });
    connect(m_timelineView, &TimelineView::taskSelected, this, [this](quint64 taskId) {
        const QModelIndexList hits =
                m_proxy->match(m_proxy->index(0, 0), TaskTableModel::TaskIdRole,
                               QVariant::fromValue<quint64>(taskId), 1, Qt::MatchExactly);
        if (!hits.isEmpty())
            m_table->selectRow(hits.first().row());
    });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex &current) {
                if (current.isValid())
                    m_timelineView->setSelectedTask(
                            current.data(TaskTableModel::TaskIdRole).toULongLong());
            });
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &LoopInspector::updateControls);

    m_loopView = new LoopView;
    m_loopView->setObjectName(QStringLiteral("loopView"));
    m_loopView->setModel(m_loopState.get());

    m_tabs = new QTabWidget;
    m_tabs->setObjectName(QStringLiteral("inspectorTabs"));
    m_tabs->setDocumentMode(true);
    m_tabs->addTab(tasksPage, tr("Tasks"));
    m_tabs->addTab(m_timelineView, tr("Timeline"));
    m_tabs->addTab(m_loopView, tr("Loop"));
    m_warnings = new WarningsPanel;
    m_warnings->setObjectName(QStringLiteral("inspectorWarnings"));
    m_tabs->addTab(m_warnings, tr("Warnings"));
    connect(m_warnings, &WarningsPanel::lintActivated, this, [this](quint64 taskId, qint64 t) {
        m_timelineView->centerOn(t);
        if (taskId)
            m_timelineView->setSelectedTask(taskId);
        m_tabs->setCurrentWidget(m_timelineView);
    });

    m_pauseButton = new QPushButton(tr("Pause"));
    m_pauseButton->setObjectName(QStringLiteral("pauseButton"));
    m_pauseButton->setToolTip(tr("Pause the loop: no callback runs until it resumes"));
    connect(m_pauseButton, &QPushButton::clicked, this, [this] {
        if (m_paused)
            resume();
        else
            pause();
    });
    m_stepCallbackButton = new QPushButton(tr("Step callback"));
    m_stepCallbackButton->setObjectName(QStringLiteral("stepCallbackButton"));
    m_stepCallbackButton->setToolTip(tr("While paused: run exactly one callback"));
    connect(m_stepCallbackButton, &QPushButton::clicked, this,
            [this] { step(StepKind::Callback); });
    m_stepIterationButton = new QPushButton(tr("Step iteration"));
    m_stepIterationButton->setObjectName(QStringLiteral("stepIterationButton"));
    m_stepIterationButton->setToolTip(tr("While paused: run one whole loop iteration"));
    connect(m_stepIterationButton, &QPushButton::clicked, this,
            [this] { step(StepKind::Iteration); });
    m_cancelButton = new QPushButton(tr("Cancel selected"));
    m_cancelButton->setObjectName(QStringLiteral("cancelButton"));
    m_cancelButton->setToolTip(tr("Cancel the tasks selected in the table (Del)"));
    connect(m_cancelButton, &QPushButton::clicked, this, &LoopInspector::cancelSelectedTasks);
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("inspectorStatus"));
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);

    auto *controls = new QHBoxLayout;
    controls->addWidget(m_pauseButton);
    controls->addWidget(m_stepCallbackButton);
    controls->addWidget(m_stepIterationButton);
    controls->addWidget(m_cancelButton);
    controls->addStretch(1);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(controls);
    layout->addWidget(m_status);
    layout->addWidget(m_tabs, 1);
}

// --- attaching ----------------------------------------------------------------------------

void LoopInspector::attach(EventLoop &loop)
{
    detach();
    resetViews();
    m_message.clear();
    m_link = std::make_shared<InspectorLink>();
    m_recorder = std::make_shared<TraceRecorder>();
    if (loop.isClosed()) {
        m_link->closed.store(true, std::memory_order_relaxed);
        setState(State::LoopClosed);
        return;
    }
    if (EventLoop::current() == &loop) {
        // This thread's loop: install the observer now, so that nothing it does from here on
        // is missed.
        m_localAgent = new LoopAgent(loop, m_recorder, m_link, true);
        m_localAgent->attachToLoop();
        m_link->attached.store(true, std::memory_order_relaxed);
        setState(State::Attached);
    } else {
        auto request = std::make_shared<AttachRequest>(loop, m_recorder, m_link);
        setState(State::Attaching);
        try {
            loop.callSoonThreadsafe([request] { request->run(); });
        } catch (const std::exception &) {
            // Closed meanwhile: the request is dropped unrun and says so.
        }
    }
    m_tickTimer->start();
    tick();
}

void LoopInspector::detach()
{
    if (!m_link)
        return;
    if (m_localAgent) {
        m_localAgent->detachFromLoop();
        delete m_localAgent;
        m_localAgent = nullptr;
    } else {
        std::lock_guard lock(m_link->mutex);
        m_link->detaching = true;
        if (LoopAgent *agent = m_link->agent) {
            // Removed and deleted on its own thread, unless the loop closes first (the agent
            // then removes itself, and this event is discarded with it).
            QMetaObject::invokeMethod(agent, HandOff([agent] {
                                          agent->detachFromLoop();
                                          agent->deleteLater();
                                      }),
                                      Qt::QueuedConnection);
            m_link->agent = nullptr;
        }
    }
    m_tickTimer->stop();
    m_link.reset();
    if (m_state != State::LoopClosed)
        setState(State::Detached);
}

std::shared_ptr<const TraceRecorder> LoopInspector::recorder() const
{
    return m_recorder;
}

// --- commands -----------------------------------------------------------------------------

template <typename F>
void LoopInspector::send(F &&command)
{
    if (m_state != State::Attached)
        return;
    if (m_localAgent) {
        command(*m_localAgent);
        // A refused command is known at once here; show it without waiting for a tick.
        QStringList messages;
        {
            std::lock_guard lock(m_link->mutex);
            messages.swap(m_link->messages);
        }
        for (const QString &message : std::as_const(messages))
            showMessage(message);
        return;
    }
    std::lock_guard lock(m_link->mutex);
    // HandOff: Qt's queue to the loop's thread is invisible to ThreadSanitizer.
    if (LoopAgent *agent = m_link->agent)
        QMetaObject::invokeMethod(
                agent, HandOff([agent, command = std::forward<F>(command)] { command(*agent); }),
                Qt::QueuedConnection);
}

void LoopInspector::pause()
{
    send([](LoopAgent &agent) { agent.pause(); });
}

void LoopInspector::resume()
{
    send([](LoopAgent &agent) { agent.resume(); });
}

void LoopInspector::step(StepKind kind, std::uint64_t taskId)
{
    send([kind, taskId](LoopAgent &agent) { agent.step(kind, taskId); });
}

void LoopInspector::cancelTasks(const std::vector<std::uint64_t> &taskIds, const QString &message)
{
    if (taskIds.empty())
        return;
    send([taskIds, message](LoopAgent &agent) { agent.cancelTasks(taskIds, message); });
}

void LoopInspector::cancelSelectedTasks()
{
    cancelTasks(selectedTaskIds(), tr("cancelled from the inspector"));
}

std::vector<std::uint64_t> LoopInspector::selectedTaskIds() const
{
    std::vector<std::uint64_t> ids;
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    ids.reserve(std::size_t(rows.size()));
    for (const QModelIndex &index : rows)
        ids.push_back(index.data(TaskTableModel::TaskIdRole).toULongLong());
    return ids;
}

// --- ticking ------------------------------------------------------------------------------

void LoopInspector::tick()
{
    if (!m_link || !m_recorder)
        return;
    // Read before draining: the recorder saw LoopClosed before the flag was raised, so this
    // drain then holds the loop's last events.
    const bool closed = m_link->closed.load(std::memory_order_acquire);
    if (m_state == State::Attaching && m_link->attached.load(std::memory_order_acquire))
        setState(State::Attached);

    TraceBatch &batch = *m_batch;
    drainTrace(*m_recorder, batch, m_batchIsFresh);
    m_batchIsFresh = false;
    m_model->applyBatch(batch);
    m_loopState->ingest(batch);
    m_loopView->modelUpdated();
    if (!batch.events.empty() || batch.changed) {
        m_timeline->ingest(batch.events, [&batch](std::uint32_t i) { return batch.string(i); });
        m_timeline->reconcile(batch.tasks, batch.tasksComplete);
        m_timelineView->modelUpdated();
    }
    m_paused = batch.stats.paused;
    for (const RecordedEvent &e : batch.events) {
        if (e.kind == TraceEventKind::LoopPaused)
            m_pauseReason = PauseReason(e.aux);
    }

    QStringList messages;
    {
        std::lock_guard lock(m_link->mutex);
        messages.swap(m_link->messages);
    }
    for (const QString &message : std::as_const(messages))
        showMessage(message);

    if (closed) {
        // The agent removed itself on the loop's thread; nothing more will come.
        m_tickTimer->stop();
        delete m_localAgent; // removed from the loop already
        m_localAgent = nullptr;
        setState(State::LoopClosed);
    }
    updateControls();
    m_warnings->ingest(batch);
    Q_EMIT batchReady(batch);
}

std::chrono::milliseconds LoopInspector::tickInterval() const
{
    return m_tickTimer->intervalAsDuration();
}

void LoopInspector::setTickInterval(std::chrono::milliseconds interval)
{
    m_tickTimer->setInterval(interval);
}

// --- state --------------------------------------------------------------------------------

QString LoopInspector::stateText() const
{
    switch (m_state) {
    case State::Detached:
        return tr("Not attached to a loop");
    case State::Attaching:
        return tr("Attaching… (waiting for the loop's thread to run an iteration)");
    case State::LoopClosed:
        return tr("Loop closed: showing its last state");
    case State::Attached:
        break;
    }
    const LoopStats &s = m_batch->stats;
    QString running = tr("Running");
    if (m_paused) {
        switch (m_pauseReason) {
        case PauseReason::Requested:
            running = tr("Paused");
            break;
        case PauseReason::StepDone:
            running = tr("Paused after a step");
            break;
        case PauseReason::TaskBreakpoint:
            running = tr("Paused at a task breakpoint");
            break;
        case PauseReason::TaskFailed:
            running = tr("Paused: a task failed");
            break;
        case PauseReason::SlowCallback:
            running = tr("Paused after a slow callback");
            break;
        }
    }
    return tr("%1 · %2 live task(s) · %3 callbacks in %4 iterations")
            .arg(running)
            .arg(s.liveTasks)
            .arg(s.callbacks)
            .arg(s.iterations);
}

void LoopInspector::setState(State state)
{
    if (state == m_state)
        return;
    m_state = state;
    updateControls();
    Q_EMIT stateChanged(state);
}

void LoopInspector::showMessage(const QString &message)
{
    m_message = message;
    updateControls();
    Q_EMIT messageLogged(message);
}

void LoopInspector::updateControls()
{
    const bool attached = m_state == State::Attached;
    m_pauseButton->setEnabled(attached);
    m_pauseButton->setText(attached && m_paused ? tr("Resume") : tr("Pause"));
    m_stepCallbackButton->setEnabled(attached && m_paused);
    m_stepIterationButton->setEnabled(attached && m_paused);
    m_cancelButton->setEnabled(attached && m_table->selectionModel()->hasSelection());
    QString text = stateText();
    if (!m_message.isEmpty())
        text += QStringLiteral(" — ") + m_message;
    m_status->setText(text);
}

void LoopInspector::resetViews()
{
    m_model->clear();
    m_proxy->setTaskIdFilter(std::nullopt);
    m_loopState->clear();
    m_timeline->clear();
    m_timelineView->clearSelection();
    m_timelineView->modelUpdated();
    m_loopView->modelUpdated();
    const int generation = m_batch->generation + 1;
    *m_batch = TraceBatch();
    m_batch->generation = generation;
    m_batchIsFresh = true;
    m_paused = false;
}

int LoopInspector::addTab(QWidget *page, const QString &label)
{
    return m_tabs->addTab(page, label);
}

} // namespace loopscope::ui
