#pragma once

#include "loopscope/coro.h"
#include "loopscope/future.h"

#include <QString>

#include <chrono>
#include <coroutine>
#include <memory>
#include "loopscope/sourcelocation.h"

namespace loopscope {

namespace detail {

struct TaskExtras;

/*!
 * The untyped machinery of a task (Python: asyncio.Task's __step / __wakeup): it drives a
 * coroutine one step at a time, each step scheduled through the loop's ready queue.
 *
 * Kept small because every pending task has one (sleepers_mem): what only some tasks need
 * (a given name, cancel messages, a delay() in progress, the ids observers see for a sleep)
 * lives in TaskExtras, made on first use.
 */
class TaskCore
{
public:
    TaskCore(FutureBase *self, std::coroutine_handle<> root, QString name, SourceLocation location);
    ~TaskCore();
    TaskCore(const TaskCore &) = delete;
    TaskCore &operator=(const TaskCore &) = delete;

    //! Registers with the loop and schedules the first step (callSoon).
    void start();

    bool cancel(std::string message);
    bool delay(Duration delay);
    int cancelling() const noexcept { return m_cancelRequests; }
    int uncancel() noexcept;

    //! The task whose step is running in this thread, or null.
    static TaskCore *current() noexcept;
    //! The task whose step ran last in this thread (debug mode names it in slow reports).
    static TaskCore *lastStepped() noexcept;

    FutureBase *self() const noexcept { return m_self; }
    //! The task's own number (Task-1, Task-2... as asyncio), distinct from its future id.
    std::uint64_t id() const noexcept { return m_id; }
    //! The given name, else "Task-<id>" (made when asked for: a name string per task was a
    //! heap block per sleeping task).
    QString name() const;
    //! Renames the task and tells the loop's observers (TaskRenamed).
    void setName(QString name);
    const SourceLocation &location() const noexcept { return m_location; }
    //! What the task is suspended on, or null (ready, running, sleeping or done).
    FutureBase *waitingOn() const noexcept { return m_waitingOn.get(); }
    //! Parked by a sleep() (in the timer heap, or its wake-up on the way).
    bool sleeping() const noexcept { return m_sleepState != SleepState::None; }
    //! The id observers know the current sleep by (a Sleep future id, with no future
    //! behind it), 0 when not sleeping or when no observer has asked for it.
    std::uint64_t sleepFutureId() const noexcept;
    std::uint64_t stepCount() const noexcept { return m_steps; }
    std::string describe() const;
    //! The root coroutine's frame (null once it is destroyed).
    std::coroutine_handle<> root() const noexcept { return m_root; }

    // Called by the awaiters (task.cpp, sleep.cpp) and the loop.
    void suspendOn(FutureBase &future, std::coroutine_handle<> h);
    void yieldStep(std::coroutine_handle<> h);
    /*!
     * sleep(): parks the task itself in the loop's timer heap until \a delay has passed, \a h
     * resuming then. No future, handle or done-callback is made: observers still see a
     * Sleep future (FutureCreated, TimerArmed, FutureDone, Wakeup) by its id.
     */
    void sleepFor(Duration delay, std::coroutine_handle<> h);
    //! The timer heap found the deadline due: the handle that runs as the sleep's timer.
    Ref<TimerHandleBase> sleepTimerDue(TimePoint when);
    //! Sleep::await_resume(): ends the sleep; throws CancelledError when cancel() ended it.
    void endSleep();
    bool consumeThrowCancel() noexcept;
    std::string takeCancelMessage();
    //! close(): destroys the frame of a still-pending task without resuming it.
    void abandon() noexcept;

    // Intrusive list of the loop's pending tasks.
    TaskCore *m_prevPending = nullptr;
    TaskCore *m_nextPending = nullptr;

private:
    //! Where a sleep() is: parked in the heap (Armed), its deadline popped and its timer
    //! handle queued (Due), that handle run and the wake-up step queued (Woken), or cancel()
    //! reached it before it was woken (Cancelled: the step throws CancelledError).
    enum class SleepState : std::uint8_t { None, Armed, Due, Woken, Cancelled };

    void scheduleStep();
    void step();
    void finish();
    //! TaskDone for observers; \a abandoned: it was still pending when the loop closed.
    void traceDone(bool abandoned = false) noexcept;
    // The events' bodies, out of line: an unobserved task pays one branch for each, not the
    // registers and stack a TraceEvent would take in its caller (callgrind, task_spawn).
    [[gnu::noinline, gnu::cold]] void traceCreated() noexcept;
    [[gnu::noinline, gnu::cold]] void emitDone(bool abandoned) noexcept;
    //! A step's TaskStepBegin and TaskStepEnd (the clock reads that time it included), out of
    //! line for the same reason: inlined, they cost an unobserved step 17 instructions.
    [[gnu::noinline]] std::chrono::steady_clock::time_point traceStepBegin() noexcept;
    [[gnu::noinline]] void traceStepEnd(std::chrono::steady_clock::time_point started,
                                        bool yielded) noexcept;
    bool delayStep();
    //! Destroys the root frame (see destroyFrame()) and forgets it.
    void destroyRoot() noexcept;
    TaskExtras &extras();
    //! The sleep's timer ran: the Sleep future is done (Python: the timer's
    //! futures._set_result_unless_cancelled); the task wakes next iteration.
    void sleepTimerFired();
    //! cancel() reached the sleep before it was woken: unpark the task and wake it to throw.
    void cancelSleep(std::string message);
    //! Schedules the step that ends a sleep (Python: the sleep future's __wakeup callback).
    void scheduleSleepWakeup();
    //! The ids observers know the current sleep by, made on first need (observed loops).
    TaskExtras &sleepIds();

    FutureBase *m_self;
    std::uint64_t m_id;
    std::coroutine_handle<> m_root;
    std::coroutine_handle<> m_resume; //!< innermost suspended coroutine to resume next
    Ref<FutureBase> m_waitingOn;
    SourceLocation m_location;
    std::unique_ptr<TaskExtras> m_extras;
    std::uint64_t m_steps = 0;
    int m_cancelRequests = 0;
    //! Position of the task's entry in its loop's timer heap (TimerHeap keeps it current).
    std::uint32_t m_heapIndex = ~std::uint32_t(0);
    bool m_mustCancel = false;
    bool m_throwCancel = false;
    bool m_started = false;
    bool m_yielded = false; //!< the running step ended in a yield (sleep(0))
    bool m_passingCancel = false; //!< cancel() is passing itself on to m_waitingOn
    bool m_defaultName = false; //!< named "Task-<id>": no name is stored
    SleepState m_sleepState = SleepState::None;

    friend class TaskFinisher;
    friend class TimerHeap;
};

template <typename T>
class TaskState final : public FutureState<T>
{
public:
    using Promise = CoroPromise<T>;

    TaskState(LoopCore *loop, std::coroutine_handle<Promise> root, QString name,
              SourceLocation location)
        : FutureState<T>(loop, FutureKind::Task), m_core(this, root, std::move(name), location)
    {
    }

    ~TaskState() override
    {
        if (this->exceptionNotRetrieved()) [[unlikely]]
            this->reportIfNeverRetrieved(m_core.describe(), m_core.id());
    }

    bool cancel(std::string message) override { return m_core.cancel(std::move(message)); }
    TaskCore *taskCore() noexcept override { return &m_core; }
    TaskCore &core() noexcept { return m_core; }
    std::string describe() const override { return m_core.describe(); }
    CoroPromiseCommon *rootPromise() noexcept override
    {
        return m_core.root() ? &root().promise() : nullptr;
    }

    //! Moves the finished root coroutine's outcome into the future. Called by TaskCore.
    void completeTask(bool mustCancel) override
    {
        Promise &p = root().promise();
        if (p.hasException()) {
            std::exception_ptr e = p.exception();
            if (isCancelledError(e))
                this->cancelFuture(cancelMessageOf(e));
            else
                this->setException(e);
        } else if (mustCancel) {
            // Cancelled right before the coroutine returned (Python does the same).
            this->cancelFuture(m_core.takeCancelMessage());
        } else if constexpr (std::is_void_v<T>) {
            this->setResult(std::monostate{});
        } else {
            this->setResult(p.takeValue());
        }
    }

private:
    //! The typed root frame: the core keeps it untyped (one pointer per task, not two).
    std::coroutine_handle<Promise> root() const noexcept
    {
        return std::coroutine_handle<Promise>::from_address(m_core.root().address());
    }

    TaskCore m_core;
};

} // namespace detail

/*!
 * A Future that drives a coroutine (Python: asyncio.Task). Create one with
 * EventLoop::createTask(); its first step runs on a later loop iteration. The loop keeps a
 * pending task alive even when every Task handle is dropped.
 */
template <typename T = void>
class Task : public Future<T>
{
public:
    using State = detail::TaskState<T>;

    explicit Task(detail::Ref<State> state)
        : Future<T>(detail::Ref<detail::FutureState<T>>(state.get()))
    {
    }

    /*!
     * Requests cancellation: cancels what the task awaits, or makes its next resumption
     * throw CancelledError at the suspension point. The coroutine may catch it and clean
     * up; the task ends cancelled only if CancelledError leaves the coroutine. Returns false
     * when the task is already done.
     */
    bool cancel(std::string message = {}) { return core()->cancel(std::move(message)); }
    /*!
     * Makes the task wait \a delay on the loop's clock before its next step runs (a
     * debugging aid with no asyncio counterpart: the visualizer's "Delay"). A task that has
     * not started yet starts that much later; a task suspended on a future keeps waiting for
     * it and then sleeps \a delay before it resumes. The wait is an extra step that awaits a
     * Sleep future, so observers see it like a sleep() and cancel() interrupts it. Delays
     * requested before the wait began add up. Returns false when the task is already done;
     * throws ValueError for a negative delay.
     */
    bool delay(Duration delay) { return core()->delay(delay); }
    //! How many cancel() requests are pending (Python: Task.cancelling()).
    int cancelling() const { return core()->cancelling(); }
    //! Decrements the pending cancel requests and returns the new count (Python: uncancel()).
    int uncancel() { return core()->uncancel(); }

    QString name() const { return core()->name(); }
    void setName(QString name) { core()->setName(std::move(name)); }
    std::uint64_t taskId() const { return core()->id(); }
    //! Where createTask() was called.
    SourceLocation location() const { return core()->location(); }

    template <typename F>
    CallbackId addDoneCallback(F fn, SourceLocation location = SourceLocation::current())
    {
        if constexpr (std::is_invocable_v<F &, Task<T>> && !std::is_invocable_v<F &, Future<T>>) {
            return Future<T>::addDoneCallback(
                    [fn = std::move(fn)](Future<T> f) mutable {
                        fn(Task<T>(detail::Ref<State>(static_cast<State *>(f.base()))));
                    },
                    location);
        } else {
            return Future<T>::addDoneCallback(std::move(fn), location);
        }
    }

    detail::TaskCore *core() const
    {
        detail::TaskCore *c = this->d->taskCore();
        if (!c) [[unlikely]]
            throw RuntimeError("Task does not refer to a task state");
        return c;
    }
};

/*!
 * A reference to a task of any result type (Python: the Task object that current_task() and
 * all_tasks() return). Copies refer to the same task; a default-constructed TaskRef refers to
 * none (isValid() is false).
 */
class TaskRef
{
public:
    TaskRef() = default;
    //! \a task must be a task's future state (its taskCore() is not null).
    explicit TaskRef(detail::Ref<detail::FutureBase> task) : d(std::move(task)) { }
    template <typename T>
    TaskRef(const Task<T> &task) : d(task.base())
    {
    }

    bool isValid() const noexcept { return bool(d); }
    explicit operator bool() const noexcept { return isValid(); }

    bool done() const { return d->done(); }
    bool cancelled() const { return d->cancelled(); }
    //! Finished with an exception (not cancelled).
    bool failed() const { return d->failed(); }
    bool cancel(std::string message = {}) { return core()->cancel(std::move(message)); }
    //! See Task::delay().
    bool delay(Duration delay) { return core()->delay(delay); }
    int cancelling() const { return core()->cancelling(); }
    int uncancel() { return core()->uncancel(); }

    //! The task's own number (Python: the n of "Task-n").
    std::uint64_t id() const { return core()->id(); }
    //! The id of the task's future (shared counter with every future).
    std::uint64_t futureId() const { return d->id(); }
    QString name() const { return core()->name(); }
    void setName(QString name) { core()->setName(std::move(name)); }
    SourceLocation location() const { return core()->location(); }
    //! Steps (resumptions) run so far.
    std::uint64_t steps() const { return core()->stepCount(); }
    //! Id of the future the task is suspended on, 0 when it is not waiting on one. A sleeping
    //! task reports its Sleep future's id once an observer has seen it (see sleep()).
    std::uint64_t waitingOnFutureId() const
    {
        const detail::FutureBase *w = core()->waitingOn();
        return w ? w->id() : core()->sleepFutureId();
    }
    std::string describe() const { return core()->describe(); }

    detail::FutureBase *base() const noexcept { return d.get(); }
    detail::TaskCore *core() const
    {
        detail::TaskCore *c = d->taskCore();
        // Also tells the optimizer the pointer is not null (-Wnull-dereference at -O3).
        if (!c) [[unlikely]]
            throw RuntimeError("TaskRef does not refer to a task");
        return c;
    }

    friend bool operator==(const TaskRef &a, const TaskRef &b) noexcept { return a.d == b.d; }

private:
    detail::Ref<detail::FutureBase> d;
};

/*!
 * The task whose step is running in this thread, or an invalid TaskRef outside of any task
 * (Python: asyncio.current_task()).
 */
TaskRef currentTask();

namespace detail {
//! Awaitable that suspends the current task for one loop iteration (sleep(0)).
void yieldTask(std::coroutine_handle<> h);
void yieldForeign(std::coroutine_handle<> h);
struct YieldAwaiter
{
    bool await_ready() const noexcept { return false; }
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h)
    {
        if constexpr (IsEnginePromise<P>::value)
            yieldTask(h);
        else
            yieldForeign(h);
    }
    void await_resume() { checkCancelledOnResume(); }
};
} // namespace detail

} // namespace loopscope
