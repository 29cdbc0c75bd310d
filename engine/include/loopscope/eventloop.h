#pragma once

#include "loopscope/clock.h"
#include "loopscope/coro.h"
#include "loopscope/errors.h"
#include "loopscope/future.h"
#include "loopscope/handle.h"
#include "loopscope/task.h"

#include <QString>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include "loopscope/sourcelocation.h"
#include <type_traits>
#include <variant>
#include <vector>

namespace loopscope {

class LoopObserver;
class Sleep;
enum class PauseReason : std::uint8_t;

//! What step() runs before pausing again.
enum class StepKind : std::uint8_t { Callback, Iteration, TaskEvent, Timer };

namespace detail {

/*!
 * One runInExecutor() call: run() on a worker thread, then complete() back on the loop's
 * thread. The job (and the callable with whatever it captured) is destroyed on the loop's
 * thread too, so no last reference ever dies on a worker.
 */
class ExecutorJob : public RefCounted
{
public:
    explicit ExecutorJob(SourceLocation location)
        : m_cancelled(std::make_shared<std::atomic<bool>>(false)), m_location(location)
    {
    }
    //! From the per-thread pool (see poolAllocate()): made and freed on the loop's thread.
    static void *operator new(std::size_t size) { return poolAllocate(size); }
    static void operator delete(void *block, std::size_t size) noexcept { poolFree(block, size); }

    //! Worker thread. Skips the callable when the future was cancelled before it started.
    virtual void run() noexcept = 0;
    //! Loop thread: moves the outcome into the future unless it was cancelled meanwhile.
    virtual void complete() = 0;
    /*!
     * Loop thread, from close(): marks the future cancelled without running its callbacks
     * (see FutureBase::abandon). False when the future was done already.
     */
    virtual bool abandon(std::string message) noexcept = 0;
    /*!
     * The flag a done-callback on the future raises when it is cancelled, so that a job
     * not yet started never runs. A separate object: the callback must not hold the job,
     * which holds the future (a cycle that would leak if the loop closed first).
     */
    const std::shared_ptr<std::atomic<bool>> &cancelledFlag() const noexcept { return m_cancelled; }
    const SourceLocation &location() const noexcept { return m_location; }

    // Trace bookkeeping: set by the loop (ids) and by the worker (thread, run time, failure).
    std::uint64_t m_id = 0;
    std::uint64_t m_futureId = 0;
    Qt::HANDLE m_thread = nullptr;
    Duration m_ranFor{};
    std::chrono::steady_clock::time_point m_finishedAt{}; //!< real time, on the worker
    bool m_failed = false;
    bool m_traceStart = false;
    // The loop's list of jobs submitted and not completed yet (loop thread only).
    ExecutorJob *m_prevInFlight = nullptr;
    ExecutorJob *m_nextInFlight = nullptr;
    //! The next job in the executor's queue while queued, then in its list of finished jobs.
    ExecutorJob *m_nextQueued = nullptr;

protected:
    bool isCancelled() const noexcept { return m_cancelled->load(std::memory_order_relaxed); }

private:
    std::shared_ptr<std::atomic<bool>> m_cancelled;
    SourceLocation m_location;
};

template <typename F, typename R>
class ExecutorJobFor final : public ExecutorJob
{
public:
    ExecutorJobFor(F fn, Future<R> future, SourceLocation location)
        : ExecutorJob(location), m_fn(std::move(fn)), m_future(std::move(future))
    {
        m_futureId = m_future.id();
    }
    void run() noexcept override
    {
        if (isCancelled())
            return;
        try {
            if constexpr (std::is_void_v<R>) {
                m_fn();
                m_outcome.template emplace<1>();
            } else {
                m_outcome.template emplace<1>(m_fn());
            }
        } catch (...) {
            m_outcome.template emplace<2>(std::current_exception());
            m_failed = true;
        }
    }
    void complete() override
    {
        if (m_future.done())
            return; // cancelled while running: the late result is discarded
        if (m_outcome.index() == 2)
            m_future.setException(std::get<2>(m_outcome));
        else if (m_outcome.index() == 1) {
            if constexpr (std::is_void_v<R>)
                m_future.setResult();
            else
                m_future.setResult(std::move(std::get<1>(m_outcome)));
        }
    }
    bool abandon(std::string message) noexcept override
    {
        if (m_future.done())
            return false;
        m_future.base()->abandon(std::move(message));
        return true;
    }

private:
    F m_fn;
    Future<R> m_future;
    std::variant<std::monostate, ValueStorage<R>, std::exception_ptr> m_outcome;
};

} // namespace detail

//! What the exception handler is told (Python: the context dict of call_exception_handler).
struct ExceptionContext
{
    QString message; //!< what happened, e.g. "Exception in callback"
    std::exception_ptr exception; //!< may be null
    QString handle; //!< the callback involved, if any
    QString future; //!< the future involved, if any
    QString task; //!< the task involved, if any

    //! One line with every non-empty field and the exception's type and message.
    QString toString() const;
};

using ExceptionHandler = std::function<void(const ExceptionContext &)>;

/*!
 * Python's asyncio event loop on top of Qt's event loop.
 *
 * An EventLoop belongs to the thread that creates it (which needs a QCoreApplication) and
 * drives itself from that thread's Qt event dispatcher: inside `app.exec()` it runs with no
 * call of its own ("attached mode"). runForever() and runUntilComplete() run a nested
 * QEventLoop for programs written the asyncio way.
 *
 * One iteration (asyncio's `_run_once`): drain the thread-safe inbox, move due timers to
 * the ready queue, run exactly the callbacks that were ready when the iteration started
 * (callbacks scheduled meanwhile run in the next one), then hand control back to Qt. The
 * loop wakes through one coalesced posted event when work becomes ready and one precise
 * Qt timer armed for the earliest deadline.
 *
 * Everything except callSoonThreadsafe() must be called from the loop's thread.
 */
class EventLoop
{
public:
    //! A loop on \a clock (default: a SteadyClock). Needs a QCoreApplication.
    explicit EventLoop(std::shared_ptr<Clock> clock = nullptr);
    //! Closes the loop (see close()).
    ~EventLoop();
    EventLoop(const EventLoop &) = delete;
    EventLoop &operator=(const EventLoop &) = delete;

    //! The loop running in this thread, else the first loop created in it, else null
    //! (Python: asyncio.get_event_loop()).
    static EventLoop *current() noexcept;

    // --- scheduling -------------------------------------------------------------------

    //! Schedules \a fn for the next iteration; FIFO with other callSoon calls.
    template <typename F>
    Handle callSoon(F &&fn, SourceLocation location = SourceLocation::current())
    {
        return scheduleSoon(makeHandle(HandleKind::CallSoon, location, std::forward<F>(fn)));
    }

    //! Schedules \a fn to run \a delay from now; a negative delay means now.
    template <typename F>
    TimerHandle callLater(Duration delay, F &&fn,
                          SourceLocation location = SourceLocation::current())
    {
        if (delay < Duration::zero())
            delay = Duration::zero();
        return callAt(time() + delay, std::forward<F>(fn), location);
    }

    //! Schedules \a fn to run at \a when on the loop's clock; never earlier. Callbacks with
    //! equal deadlines run in the order they were scheduled.
    template <typename F>
    TimerHandle callAt(TimePoint when, F &&fn, SourceLocation location = SourceLocation::current())
    {
        return scheduleAt(when,
                          makeHandle<detail::TimerHandleBase>(HandleKind::CallLater, location,
                                                              std::forward<F>(fn)));
    }

    //! Schedules \a fn from any thread and wakes the loop. Throws RuntimeError when closed.
    template <typename F>
    Handle callSoonThreadsafe(F &&fn, SourceLocation location = SourceLocation::current())
    {
        return scheduleThreadsafe(
                makeHandle(HandleKind::Threadsafe, location, std::forward<F>(fn)));
    }

    //! The loop's current time (Python: loop.time(), here a TimePoint).
    TimePoint time() const;
    double timeSeconds() const { return toSeconds(time()); }
    Clock &clock() const;

    // --- running ----------------------------------------------------------------------

    //! Runs until stop() is called. Throws RuntimeError when closed or already running.
    void runForever();

    /*!
     * Runs until \a future is done and returns its result or rethrows its exception.
     * Throws RuntimeError when the loop is closed or already running, when the future
     * belongs to another loop, or when stop() ends the loop before the future is done.
     */
    template <typename T>
    T runUntilComplete(Future<T> future)
    {
        prepareRunUntilComplete(*future.base());
        const CallbackId id =
                future.base()->addDoneCallback([this](detail::FutureBase &) { stop(); }, nullptr,
                                               HandleKind::DoneCallback, SourceLocation::current());
        try {
            runForever();
        } catch (...) {
            future.base()->removeDoneCallback(id);
            throw;
        }
        future.base()->removeDoneCallback(id);
        if (!future.done())
            throw RuntimeError("Event loop stopped before Future completed.");
        return future.result();
    }
    //! Wraps \a coro in a task and runs until it is done.
    template <typename T>
    T runUntilComplete(Coro<T> coro, SourceLocation location = SourceLocation::current())
    {
        return runUntilComplete(Future<T>(createTask(std::move(coro), {}, location)));
    }
    //! Runs until \a sleep has passed (in a task of its own; see sleep.h).
    void runUntilComplete(Sleep sleep, SourceLocation location = SourceLocation::current());

    //! Stops runForever() once the current iteration has finished. Called while not running,
    //! the next runForever() runs one iteration and returns (as in asyncio).
    void stop();

    //! True while runForever()/runUntilComplete() is active.
    bool isRunning() const;
    bool isClosed() const;

    /*!
     * Closes the loop: cancels the futures of executor jobs not completed yet (without
     * running their callbacks) and waits for the jobs the pool still runs or queues, destroys
     * the frames of still-pending tasks without resuming them, and drops every scheduled
     * callback. Each abandoned task, and (in one report each) the executor jobs and the
     * callbacks and timers that will never run, are named to the exception handler.
     * Idempotent. Throws RuntimeError while running.
     */
    void close();

    // --- futures and tasks ------------------------------------------------------------

    template <typename T = void>
    Future<T> createFuture()
    {
        return Future<T>(*this);
    }

    /*!
     * Wraps \a coro in a task whose first step is scheduled with callSoon (Python:
     * loop.create_task). \a name defaults to "Task-<id>"; the creation site is recorded.
     */
    template <typename T>
    Task<T> createTask(Coro<T> coro, QString name = {},
                       SourceLocation location = SourceLocation::current())
    {
        checkTaskCreation(coro.isValid() && !coro.isDone());
        detail::Ref<detail::TaskState<T>> state(
                new detail::TaskState<T>(core(), coro.release(), std::move(name), location));
        state->core().start();
        return Task<T>(std::move(state));
    }

    //! createTask(sleep(d)): the sleep as a task of its own (see sleep.h).
    Task<void> createTask(Sleep sleep, QString name = {},
                          SourceLocation location = SourceLocation::current());

    //! The tasks not yet done, in creation order (Python: asyncio.all_tasks).
    std::vector<TaskRef> allTasks() const;
    //! The task of this loop whose step is running, else an invalid TaskRef (Python:
    //! asyncio.current_task(loop)).
    TaskRef currentTask() const;

    // --- executor ---------------------------------------------------------------------

    /*!
     * Runs \a fn on the loop's thread pool and returns a future completed back on this
     * loop's thread with fn's result, or with the exception it threw (Python:
     * loop.run_in_executor(None, fn)). \a fn may be move-only. Cancelling the future keeps a
     * job that has not started from running, and discards the late result of one that has.
     */
    template <typename F>
    auto runInExecutor(F fn, SourceLocation location = SourceLocation::current())
            -> Future<std::invoke_result_t<F &>>
    {
        using R = std::invoke_result_t<F &>;
        Future<R> future(*this, FutureKind::Executor);
        detail::Ref<detail::ExecutorJob> job(
                new detail::ExecutorJobFor<F, R>(std::move(fn), future, location));
        submitToExecutor(job);
        future.base()->addDoneCallback(
                [flag = job->cancelledFlag()](detail::FutureBase &f) {
                    if (f.cancelled())
                        flag->store(true, std::memory_order_relaxed);
                },
                nullptr, HandleKind::DoneCallback, location);
        return future;
    }

    //! Maximum executor threads (default: min(32, ideal thread count + 4), as Python).
    void setExecutorMaxThreads(int count);
    int executorMaxThreads() const;

    // --- pause, step, breakpoints -----------------------------------------------------

    /*!
     * Pauses the loop: no ready callback runs until resume() (Qt events keep flowing, and a
     * ScaledClock or VirtualClock stands still). Called from a callback, it takes effect
     * once that callback returns; the rest of the iteration stays queued, in order.
     */
    void pause();
    void resume();
    bool isPaused() const;
    //! Why the loop last paused.
    PauseReason pauseReason() const;
    /*!
     * While paused, runs until: one callback ran (Callback), one iteration ran (Iteration),
     * task \a taskId had an event (TaskEvent: scheduled, stepped, woken, done), or a timer
     * fired (Timer: it is then the next ready callback). Then pauses again (reason StepDone)
     * and tells observers. Throws RuntimeError when not paused or already stepping.
     */
    void step(StepKind kind, std::uint64_t taskId = 0);
    //! Pause whenever task \a taskId changes state (steps, waits, wakes, ends).
    void addTaskBreakpoint(std::uint64_t taskId);
    void removeTaskBreakpoint(std::uint64_t taskId);
    //! Pause when any task fails.
    void setBreakOnTaskFailure(bool enabled);
    //! Pause after a callback that ran longer than slowCallbackDuration().
    void setBreakOnSlowCallback(bool enabled);

    // --- observers --------------------------------------------------------------------

    /*!
     * Attaches \a observer (not owned): it sees every event of this loop from now on (see
     * observer.h). Adding one twice has no effect. Loop thread only.
     */
    void addObserver(LoopObserver *observer);
    void removeObserver(LoopObserver *observer);

    // --- integration with Qt's event loop ---------------------------------------------

    /*!
     * How long the loop may run iterations back to back before it gives control back to Qt
     * (default 1 ms). Each Qt wake-up runs one iteration, then more while callbacks are
     * ready and the budget lasts: every iteration is still a whole asyncio iteration (the
     * callbacks scheduled during one run in the next), but Qt's price per posted event
     * (a few microseconds) is paid once per slice instead of once per iteration. Qt's posted
     * events (input, paint) wait at most about one budget, its timers about two: Qt's Glib
     * dispatcher serves timers between passes of posted events, but not in the pass right
     * after it served some (plus, each time, the callback running when the budget ends).
     * Zero gives one iteration per Qt event. Throws ValueError when negative.
     */
    void setIterationBudget(Duration budget);
    Duration iterationBudget() const;

    // --- debug mode -------------------------------------------------------------------

    /*!
     * Debug mode (Python: loop.set_debug; also on when the environment has LOOPSCOPE_DEBUG=1
     * at construction): callbacks and task steps slower than slowCallbackDuration() are
     * reported with their name and creation site; calls other than callSoonThreadsafe()
     * from a foreign thread throw RuntimeError; a coroutine destroyed before it ever ran is
     * reported with where it is defined. Reports go to the exception handler (no exception
     * attached), so the visualizer and tests see them.
     */
    void setDebug(bool enabled);
    bool debug() const;
    //! Python: loop.slow_callback_duration (default 100 ms, measured on the real clock).
    void setSlowCallbackDuration(Duration threshold);
    Duration slowCallbackDuration() const;

    // --- errors -----------------------------------------------------------------------

    //! Replaces the exception handler; an empty function restores the default (qWarning).
    void setExceptionHandler(ExceptionHandler handler);
    //! Reports \a context to the handler (Python: loop.call_exception_handler).
    void callExceptionHandler(const ExceptionContext &context);
    static void defaultExceptionHandler(const ExceptionContext &context);

    detail::LoopCore *core() const noexcept { return d; }

private:
    //! A new handle nobody references yet: the schedule functions below take it over.
    //! \a Base: detail::TimerHandleBase for a timer.
    template <typename Base = detail::HandleBase, typename F>
    static Base *makeHandle(HandleKind kind, SourceLocation location, F &&fn)
    {
        using Fn = std::decay_t<F>;
        static_assert(std::is_invocable_v<Fn &>, "callbacks take no arguments: use a lambda");
        return new detail::CallbackHandle<Fn, Base>(kind, location, Fn(std::forward<F>(fn)));
    }

    Handle scheduleSoon(detail::HandleBase *fresh);
    TimerHandle scheduleAt(TimePoint when, detail::TimerHandleBase *fresh);
    Handle scheduleThreadsafe(detail::HandleBase *fresh);
    void prepareRunUntilComplete(detail::FutureBase &future);
    void checkTaskCreation(bool validCoro);
    //! \a job runs on a worker thread and returns the completion to run on the loop.
    void submitToExecutor(detail::Ref<detail::ExecutorJob> job);

    detail::LoopCore *d; //!< one counted reference; futures hold others
};

/*!
 * Gives the calling thread's burst cache back to the system now: the handles, futures and
 * frames left over from a burst of work (a million callbacks queued at once) and the
 * largest ready-queue buffer, which the engine otherwise keeps for the next burst until a
 * loop of this thread has been idle for a second, or the thread ends (like malloc_trim()).
 */
void releaseThreadCache() noexcept;

} // namespace loopscope
