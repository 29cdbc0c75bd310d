#pragma once

//! \file loopinspector.h A widget that attaches to an EventLoop the host application owns and
//! runs, and shows its tasks, timeline and loop state live, with pause, step and cancel.

#include <QString>
#include <QWidget>

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

QT_BEGIN_NAMESPACE
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTabWidget;
class QTableView;
class QTimer;
QT_END_NAMESPACE

namespace loopscope {
class EventLoop;
class TraceRecorder;
// moc (Qt 6.4) cannot parse the C++20 concepts the engine's loop headers bring in.
#ifndef Q_MOC_RUN
enum class StepKind : std::uint8_t;
enum class PauseReason : std::uint8_t;
#endif
} // namespace loopscope

namespace loopscope::ui {

class LoopStateModel;
class LoopView;
class WarningsPanel;
class TaskFilterProxyModel;
class TaskTableModel;
class TimelineModel;
class TimelineView;
struct InspectorLink;
struct TraceBatch;
class LoopAgent;

/*!
 * Inspects an EventLoop that someone else owns and runs: the host application's own loop, on
 * the GUI thread or on another thread. Put it in a dock, a dialog or a tab.
 *
 * Attaching installs a TraceRecorder as an observer of the loop, on the loop's thread (the
 * only thread that may call EventLoop::addObserver()): at once when \a loop is the GUI
 * thread's loop, otherwise through EventLoop::callSoonThreadsafe(), so that the inspector is
 * Attaching until that loop runs its next iteration (a loop that is paused when the inspector
 * attaches is attached once it resumes). A timer on the GUI thread (tickInterval(), 30 Hz)
 * drains the recorder and feeds the views: the task table with a text and a state filter, the
 * timeline, the loop diagram and the warnings (the recorder's lints), one tab each. addTab()
 * adds more pages; batchReady() hands them each tick's TraceBatch. The trace starts when the observer
 * is installed: a task created before shows up at its next step, named "Task-<id>" (its name
 * and creation site were in the event nobody recorded); attach before starting tasks to see
 * them all.
 *
 * The controls (pause/resume, step one callback, step one iteration, cancel the selected
 * tasks) are forwarded to the loop's thread: called directly on the GUI thread's loop, posted
 * as Qt events to an object living on the loop's thread otherwise, because a paused loop
 * drains no inbox but must still hear "resume". Commands that fail (a step while the loop
 * runs) are reported through messageLogged() and the status line, never thrown.
 *
 * Lifetimes, in every order:
 * - Destroying the inspector (or detach()) removes the observer on the loop's thread; the
 *   recorder goes with the last reference, after that.
 * - When the loop closes (explicitly or by being destroyed), the observer sees LoopClosed on
 *   the loop's thread, removes itself and never touches the loop again; the inspector keeps
 *   what it has shown, says "loop closed" and stops ticking (state() becomes LoopClosed).
 * The loop must be closed or destroyed on its own thread, as EventLoop requires.
 *
 * Cost for the host loop: a TraceRecorder per attached inspector (its ring: 64 bytes per
 * event, 4 MiB by default) and, per trace event, one observer call that appends to that ring
 * (see bench/observer_overhead.cpp).
 */
class LoopInspector : public QWidget
{
    Q_OBJECT

public:
    //! Where the inspector stands with its loop.
    enum class State {
        Detached, //!< no loop (never attached, or detach() was called)
        Attaching, //!< waiting for the loop's thread to install the observer
        Attached, //!< watching the loop
        LoopClosed, //!< the loop closed while attached; the views keep its last state
    };
    Q_ENUM(State)

    //! An inspector with no loop yet (see attach()).
    explicit LoopInspector(QWidget *parent = nullptr);
    //! An inspector attached to \a loop (see attach()).
    explicit LoopInspector(loopscope::EventLoop &loop, QWidget *parent = nullptr);
    //! Detaches from the loop, if any (see detach()).
    ~LoopInspector() override;

    /*!
     * Watches \a loop from now on, after detaching from the previous one; the views start
     * empty. \a loop may live on any thread. A closed loop is not attached to: the state
     * becomes LoopClosed at once.
     */
    void attach(loopscope::EventLoop &loop);
    /*!
     * Stops watching: the observer is removed on the loop's thread (at once on the GUI
     * thread's loop, as soon as the other thread handles the request otherwise). The views
     * keep what they show. The loop may be destroyed right after, on its own thread.
     */
    void detach();
    State state() const { return m_state; }
    //! A sentence for the status line ("attached", "loop closed" …).
    QString stateText() const;

    // --- commands (forwarded to the loop's thread; ignored unless Attached) --------------

    void pause();
    void resume();
    //! While paused: run one callback (StepKind::Callback), one iteration, up to the next
    //! event of \a taskId or up to the next timer; then pause again (EventLoop::step()).
    void step(loopscope::StepKind kind, std::uint64_t taskId = 0);
    //! Cancels the tasks \a taskIds (Task::taskId()) still pending, with \a message.
    void cancelTasks(const std::vector<std::uint64_t> &taskIds, const QString &message = {});
    //! Cancels the tasks selected in the task table (the Cancel button and the Del key).
    void cancelSelectedTasks();
    //! The ids of the tasks selected in the task table, in row order.
    std::vector<std::uint64_t> selectedTaskIds() const;

    // --- views ------------------------------------------------------------------------

    //! The pages: Tasks, Timeline, Loop, then whatever addTab() added.
    QTabWidget *tabs() const { return m_tabs; }
    //! Adds \a page (reparented) as a tab labelled \a label; returns its index.
    int addTab(QWidget *page, const QString &label);
    TaskTableModel *taskModel() const { return m_model; }
    TaskFilterProxyModel *taskFilterModel() const { return m_proxy; }
    QTableView *taskTable() const { return m_table; }
    TimelineModel *timelineModel() const { return m_timeline.get(); }
    TimelineView *timelineView() const { return m_timelineView; }
    LoopView *loopView() const { return m_loopView; }
    //! The Warnings page: the recorder's lints; activating one jumps the timeline there.
    WarningsPanel *warnings() const { return m_warnings; }

    //! The last batch the views were fed (empty before the first tick).
    const TraceBatch &lastBatch() const { return *m_batch; }
    //! The recorder of the current (or last) loop; null before the first attach().
    std::shared_ptr<const loopscope::TraceRecorder> recorder() const;

    std::chrono::milliseconds tickInterval() const;
    void setTickInterval(std::chrono::milliseconds interval);

public Q_SLOTS:
    //! Drains the recorder into the views and emits batchReady(); the timer calls it, tests
    //! may too.
    void tick();

Q_SIGNALS:
    //! Every tick while attached, after the built-in views were updated.
    void batchReady(const loopscope::ui::TraceBatch &batch);
    void stateChanged(loopscope::ui::LoopInspector::State state);
    //! A command the loop refused (e.g. a step while it runs), one line.
    void messageLogged(const QString &message);

private:
    void buildUi();
    void setState(State state);
    void updateControls();
    void showMessage(const QString &message);
    void resetViews();
    //! Runs \a command with the agent on the loop's thread (directly or posted).
    template <typename F>
    void send(F &&command);

    State m_state = State::Detached;
    std::shared_ptr<InspectorLink> m_link; //!< shared with the loop thread's agent
    //! The agent when the loop lives on this thread (owned here); null otherwise.
    LoopAgent *m_localAgent = nullptr;
    std::shared_ptr<loopscope::TraceRecorder> m_recorder;
    std::unique_ptr<TraceBatch> m_batch;
    bool m_batchIsFresh = true;
    bool m_paused = false;
#ifndef Q_MOC_RUN
    loopscope::PauseReason m_pauseReason{};
#endif
    QString m_message; //!< the last refused command, until the next state change

    TaskTableModel *m_model = nullptr;
    TaskFilterProxyModel *m_proxy = nullptr;
    std::unique_ptr<TimelineModel> m_timeline;
    std::unique_ptr<LoopStateModel> m_loopState;
    QTabWidget *m_tabs = nullptr;
    QTableView *m_table = nullptr;
    QLineEdit *m_filter = nullptr;
    QComboBox *m_stateFilter = nullptr;
    TimelineView *m_timelineView = nullptr;
    LoopView *m_loopView = nullptr;
    WarningsPanel *m_warnings = nullptr;
    QPushButton *m_pauseButton = nullptr;
    QPushButton *m_stepCallbackButton = nullptr;
    QPushButton *m_stepIterationButton = nullptr;
    QPushButton *m_cancelButton = nullptr;
    QLabel *m_status = nullptr;
    QTimer *m_tickTimer = nullptr;
};

} // namespace loopscope::ui
