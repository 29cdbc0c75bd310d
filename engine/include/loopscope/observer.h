#pragma once

#include "loopscope/clock.h"
#include "loopscope/handle.h"
#include "loopscope/sourcelocation.h"

#include <QString>
#include <QtGlobal>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

namespace loopscope {

namespace detail {
class LoopCore;
class RecorderSink;
} // namespace detail

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
 * A set of TraceEventKinds: what a LoopObserver is given. Cheap to copy (one word).
 *
 *     LoopObserver(Delivery::PerEvent, EventKinds{ TraceEventKind::LoopClosed })
 */
class EventKinds
{
public:
    //! No kind.
    constexpr EventKinds() noexcept = default;
    constexpr EventKinds(std::initializer_list<TraceEventKind> kinds) noexcept
    {
        for (TraceEventKind k : kinds)
            m_bits |= bit(k);
    }
    //! Every kind there is (a LoopObserver's default).
    static constexpr EventKinds all() noexcept
    {
        EventKinds k;
        k.m_bits = bit(TraceEventKind::LoopClosed) | (bit(TraceEventKind::LoopClosed) - 1);
        return k;
    }
    constexpr bool contains(TraceEventKind kind) const noexcept
    {
        return (m_bits & bit(kind)) != 0;
    }
    constexpr bool isEmpty() const noexcept { return m_bits == 0; }
    constexpr EventKinds operator|(EventKinds other) const noexcept
    {
        EventKinds k;
        k.m_bits = m_bits | other.m_bits;
        return k;
    }
    constexpr bool operator==(const EventKinds &) const noexcept = default;
    //! Bit k set: kind k is in the set.
    constexpr std::uint32_t bits() const noexcept { return m_bits; }

private:
    static constexpr std::uint32_t bit(TraceEventKind kind) noexcept
    {
        return std::uint32_t(1) << unsigned(kind);
    }
    static_assert(unsigned(TraceEventKind::LoopClosed) < 32, "EventKinds holds 32 kinds");
    std::uint32_t m_bits = 0;
};

/*!
 * Sees every event of the loops it is attached to (EventLoop::addObserver), or those of
 * the kinds it asked for (EventKinds), on the loop's thread, in order. It must not throw
 * (an exception is caught and reported to the loop's exception handler) and should be
 * quick: it runs inside the loop. With no observer attached the loop pays one predictable
 * branch per event and allocates nothing.
 *
 * The loop hands events over in runs rather than one at a time: it collects the events of
 * an iteration and hands them out before each callback runs (so the HandleStarted of a
 * callback that blocks is seen while it blocks), at the end of the iteration, when an
 * observer is added or removed, and at once for events outside an iteration (from a pause,
 * a step's end, close() or code that runs while the loop does not). So an observer hears of
 * an event a little after it happened, never out of order; the event's time says when.
 * A run holds at most kMaxRun events.
 *
 * An observer built with Delivery::PerEvent (the default) gets onEvent() once per event;
 * one with Delivery::Batched gets the whole run in one onEvents() call, which saves a
 * virtual call per event (TraceRecorder is one). Observers see a run one after the other,
 * in the order they were added. One that removes itself while onEvent() runs gets nothing
 * more, the rest of the run included; one that another observer removes while a run is
 * handed over misses that run. An exception from onEvent() is reported per event, one from
 * onEvents() once per run, and the loop goes on either way.
 */
class LoopObserver
{
public:
    //! How the loop calls the observer.
    enum class Delivery : std::uint8_t {
        PerEvent, //!< onEvent() for every event
        Batched, //!< onEvents() for every run of events
    };
    //! The longest run of events onEvents() is given.
    static constexpr std::size_t kMaxRun = 256;

    LoopObserver() noexcept = default;
    /*!
     * An observer given only the events of \a kinds (all by default). The loop builds an
     * event only when some observer wants its kind (or a breakpoint or a step watches), so
     * one that wants none of a callback's or a step's own events (HandleScheduled,
     * HandleStarted, HandleFinished, TaskStepBegin, TaskStepEnd) costs the loop nothing per
     * callback: EventKinds{ TraceEventKind::LoopClosed } to learn that the loop closed, say.
     */
    explicit LoopObserver(Delivery delivery, EventKinds kinds = EventKinds::all()) noexcept
        : m_delivery(delivery), m_kinds(kinds)
    {
    }
    //! A copy is not attached to any loop.
    LoopObserver(const LoopObserver &other) noexcept
        : m_delivery(other.m_delivery), m_kinds(other.m_kinds)
    {
    }
    LoopObserver &operator=(const LoopObserver &other) noexcept
    {
        m_delivery = other.m_delivery;
        m_kinds = other.m_kinds;
        return *this;
    }
    virtual ~LoopObserver();

    virtual void onEvent(const TraceEvent &event) = 0;
    //! A run of consecutive events, oldest first (Delivery::Batched only). The default calls
    //! onEvent() for each.
    virtual void onEvents(std::span<const TraceEvent> events);

    Delivery delivery() const noexcept { return m_delivery; }
    //! The kinds of event it is given (see the constructor).
    EventKinds kinds() const noexcept { return m_kinds; }

protected:
    /*!
     * Called on the thread of the loop this observer is attached to (from a callback or a
     * task), hands it the events the loop still holds back, so that what it answers is up to
     * date with the code that asks; anywhere else it does nothing. TraceRecorder calls it in
     * its getters: a task that asks the recorder about itself sees its own step begun.
     */
    void catchUp() const noexcept;

    //! The engine's own recorder (TraceRecorder): the loop writes every event to \a sink as
    //! it happens instead of calling onEvent()/onEvents() (see detail::RecorderSink).
    void setEventSink(detail::RecorderSink *sink) noexcept { m_sink = sink; }

private:
    friend class detail::LoopCore;
    Delivery m_delivery = Delivery::PerEvent;
    EventKinds m_kinds = EventKinds::all();
    detail::RecorderSink *m_sink = nullptr;
    // The loop it is attached to and that loop's thread, set by the loop on its thread;
    // catchUp() dereferences the loop only on that thread, where it is alive while attached.
    std::atomic<detail::LoopCore *> m_loop{ nullptr };
    std::atomic<Qt::HANDLE> m_loopThread{ nullptr };
};

/*!
 * False when the engine was built with LOOPSCOPE_OBSERVER_HOOKS=OFF: the loop then has no
 * observer hooks at all (not even the branch that skips them), EventLoop::addObserver()
 * throws, and task breakpoints and StepKind::TaskEvent / StepKind::Timer steps never trigger
 * (they watch the same events). For measuring what the hooks cost when nobody observes.
 */
bool observerHooksCompiled() noexcept;

} // namespace loopscope
