#pragma once

#include "loopscope/clock.h"
#include "loopscope/handle.h"
#include "loopscope/sourcelocation.h"

#include <QString>
#include <QtGlobal>

#include <cstdint>

namespace loopscope {

//! What a future stands for, so a trace can say what a task waits on.
enum class FutureKind : std::uint8_t {
    Plain, //!< a Future created by hand
    Task, //!< a task (awaiting it waits for the task)
    Sleep, //!< sleep()'s timer future
    Executor, //!< a runInExecutor() job
    Gather, //!< gather()'s future
    Sync, //!< a lock, event, semaphore, condition or barrier waiter
    Queue, //!< a queue getter or putter
    Foreign, //!< a Qt/QCoro operation bridged into the loop
};
const char *futureKindName(FutureKind kind);

//! Every kind of event the loop reports to its observers.
enum class TraceEventKind : std::uint8_t {
    IterationBegin, //!< id: iteration number; count: ready callbacks; count2: live timers
    IterationEnd, //!< id: iteration number; duration: real time the iteration took
    HandleScheduled, //!< id: handle; handleKind; task: task of a step; location: creation site
    HandleStarted, //!< id: handle; handleKind; task: task of a step; location: creation site
    HandleFinished, //!< id: handle; handleKind; task; location; duration: real run time;
    //!< failed: it threw
    TimerArmed, //!< id: handle; when: deadline; location: creation site; task: the running
    //!< task (a sleep's own task), 0: none
    TimerFired, //!< id: handle; when: deadline; duration: lateness (time - when)
    TimerCancelled, //!< id: handle
    FutureCreated, //!< id: future; futureKind; task: the running task (0: none)
    FutureDone, //!< id: future; futureKind; task: the task whose step completed it (0: none);
    //!< related: the handle that was running
    FutureCancelled, //!< id: future; futureKind; text: cancel message
    FutureFailed, //!< id: future; futureKind; text: the error
    TaskCreated, //!< id: task; related: its future id; parent: creating task; text: name;
    //!< location: creation site
    TaskStepBegin, //!< id: task; count: step number
    TaskStepEnd, //!< id: task; count: step number; related: future it now awaits (0: none);
    //!< futureKind: what that future is; yielded: it gave up the loop for one iteration
    //!< (sleep(0)) and is ready again; duration: real step time
    TaskDone, //!< id: task; related: its future; status (Abandoned: still pending when the
    //!< loop closed); text: error or cancel message
    Wakeup, //!< id: woken task; related: the future whose completion woke it; futureKind
    //!< (a yield has no Wakeup: the step is scheduled again directly, see TaskStepEnd)
    ExecutorJobQueued, //!< id: job; related: its future
    ExecutorJobStarted, //!< id: job; related: its future; thread: worker thread; when: clock
    //!< time at which the worker started it (time: when the loop learned of it)
    ExecutorJobFinished, //!< id: job; related; thread: worker; duration: real run time;
    //!< failed; when: clock time at which the worker finished it
    LoopPaused, //!< count: PauseReason; id: the task or handle that hit a breakpoint (0: none)
    LoopResumed, //!< the loop runs freely again (resume(), or a step began)
    TaskRenamed, //!< id: task; text: the new name
    DoneCallbackAdded, //!< id: future; related: callback id; handleKind: TaskStep when a task
    //!< awaits the future, DoneCallback otherwise; task: the task that added it (0: none)
    TimerRescheduled, //!< id: the new timer handle; related: the cancelled one; when: deadline
    ExceptionNeverRetrieved, //!< id: future; related: its task (0: a plain future); text: the
    //!< error (Python: "Future/Task exception was never retrieved")
    LoopClosed, //!< count: tasks abandoned (each got a TaskDone with status Abandoned first)
};
//! Why the loop paused (TraceEventKind::LoopPaused's count field).
enum class PauseReason : std::uint8_t {
    Requested, //!< pause() was called
    StepDone, //!< a step() finished
    TaskBreakpoint, //!< a watched task changed state
    TaskFailed, //!< a task failed while breakOnTaskFailure is set
    SlowCallback, //!< a callback ran longer than slowCallbackDuration while breakOnSlowCallback
};
const char *pauseReasonName(PauseReason reason);
const char *traceEventKindName(TraceEventKind kind);

//! How a task or future ended, in TaskDone events.
enum class DoneStatus : std::uint8_t {
    Finished,
    Cancelled,
    Failed,
    Abandoned, //!< still pending when its loop closed: destroyed, never resumed
};
const char *doneStatusName(DoneStatus status);

/*!
 * One event as observers see it. Which fields mean something depends on kind (see
 * TraceEventKind). Times are on the loop's clock; durations of running code are real time,
 * because a virtual clock stands still while code runs.
 *
 * The loop reads its clock once per callback, not once per event: every event a callback
 * emits carries the time the callback started, except TaskStepEnd and HandleFinished, which
 * carry the time it ended (so a step spans [TaskStepBegin.time, TaskStepEnd.time]).
 */
struct TraceEvent
{
    TraceEventKind kind = TraceEventKind::IterationBegin;
    HandleKind handleKind = HandleKind::CallSoon;
    FutureKind futureKind = FutureKind::Plain;
    DoneStatus status = DoneStatus::Finished;
    bool failed = false;
    bool yielded = false;
    TimePoint time{};
    TimePoint when{};
    Duration duration{};
    std::uint64_t id = 0;
    std::uint64_t related = 0;
    std::uint64_t task = 0;
    std::uint64_t parent = 0;
    std::uint64_t count = 0;
    std::uint64_t count2 = 0;
    Qt::HANDLE thread = nullptr;
    SourceLocation location;
    QString text;
};

/*!
 * Sees every event of the loops it is attached to (EventLoop::addObserver), on the loop's
 * thread, in order. It must not throw (an exception is caught and reported to the loop's
 * exception handler) and should be quick: it runs inside the loop. With no observer attached
 * the loop pays one predictable branch per event and allocates nothing.
 */
class LoopObserver
{
public:
    virtual ~LoopObserver();
    virtual void onEvent(const TraceEvent &event) = 0;
};

} // namespace loopscope
