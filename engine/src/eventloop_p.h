#pragma once

#include "loopscope/eventloop.h"
#include "loopscope/observer.h"

#include "readyqueue_p.h"
#include "recordersink_p.h"
#include "tickclock_p.h"
#include "timerheap_p.h"

#include <QBasicTimer>
#include <QObject>
#include <QPointer>
#include <QThread>
#include <QThreadPool>

#include <atomic>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

QT_BEGIN_NAMESPACE
class QEventLoop;
class QThread;
class QThreadPool;
QT_END_NAMESPACE

namespace loopscope::detail {

class LoopCore;

//! The QObject through which Qt's dispatcher drives the loop: one posted wake event type
//! and one precise timer.
class LoopDriver final : public QObject
{
public:
    explicit LoopDriver(LoopCore *core) : m_core(core) { }
    bool event(QEvent *event) override;
    void detach() noexcept { m_core = nullptr; }

private:
    LoopCore *m_core;
};

std::string describeLocation(const SourceLocation &loc);

/*!
 * Test-only fault injection (tests/engine/tst_faults.cpp): when set, called where
 * submitToExecutor() hands a job to the thread pool, standing in for QThreadPool::start()
 * failing to allocate (the hook throws std::bad_alloc). Null in normal use, where it costs
 * one load and a never-taken branch per submission. Loop thread only.
 */
extern void (*g_executorSubmitFault)();

/*!
 * The loop's state, reference-counted so that futures and tasks that outlive the public
 * EventLoop object (or its close()) can still report errors and refuse work cleanly.
 */
class LoopCore final : public RefCounted
{
public:
    LoopCore(EventLoop *owner, std::shared_ptr<Clock> clock);
    ~LoopCore() override;

    // Scheduling, loop thread.
    void scheduleSoon(Ref<HandleBase> handle);
    void scheduleAt(TimePoint when, Ref<TimerHandleBase> handle);
    // Any thread.
    void scheduleThreadsafe(Ref<HandleBase> handle);
    void timerCancelled(const TimerHandleBase &handle) noexcept;
    // A sleeping task parks itself in the timer heap (TaskCore::sleepFor), loop thread.
    //! Like scheduleAt() for \a task's own entry; \a timerId: the id observers know the
    //! timer by (0: none yet, when nobody observes).
    void scheduleTaskTimer(TimePoint when, TaskCore *task, std::uint64_t timerId);
    //! Removes \a task's entry (TimerCancelled for observers).
    void cancelTaskTimer(TaskCore *task, std::uint64_t timerId) noexcept;
    std::uint64_t nextHandleId() noexcept { return ++m_lastHandleId; }

    // Observers.
#ifdef LOOPSCOPE_NO_OBSERVER_HOOKS
    // LOOPSCOPE_OBSERVER_HOOKS=OFF: every emission site folds away at compile time.
    static constexpr bool kObserverHooks = false;
#else
    static constexpr bool kObserverHooks = true;
#endif
    bool observed() const noexcept
    {
        return kObserverHooks && m_observed;
    }
    /*!
     * Stamps \a event with the loop time, lets breakpoints and steps see it, and queues it
     * for the observers (moving from \a event): inside an iteration until the next hand-over
     * (flushEvents()), outside one it is handed over at once.
     */
    void emit(TraceEvent &event) noexcept;
    /*!
     * emit() without building the event elsewhere first: returns a blank event of \a kind,
     * in place in the queue, for the caller to fill in and pass to endEvent() before it
     * emits anything else. For the events of every callback and task step: copying the
     * 150-byte TraceEvent into the queue was a third of emit() (task_yield profile).
     */
    TraceEvent &beginEvent(TraceEventKind kind) noexcept
    {
        TraceEvent *e = &m_scratch;
        if (m_observerKinds.contains(kind)) {
            if (m_pendingCount == m_pending.size()) [[unlikely]]
                growPending();
            e = &m_pending[m_pendingCount++];
        }
        // Field by field into a slot that is reused, not a fresh TraceEvent: value-initializing
        // one compiled to `rep stos`, whose start-up cost made it most of beginEvent(). The
        // slot's text is null already (dispatchPending() and endEvent() clear it).
        e->kind = kind;
        e->handleKind = HandleKind::CallSoon;
        e->futureKind = FutureKind::Plain;
        e->status = DoneStatus::Finished;
        e->failed = false;
        e->yielded = false;
        e->when = TimePoint();
        e->duration = Duration::zero();
        e->id = 0;
        e->related = 0;
        e->task = 0;
        e->parent = 0;
        e->count = 0;
        e->count2 = 0;
        e->thread = nullptr;
        e->location = SourceLocation();
        return *e;
    }
    /*!
     * Stamps \a event (unless \a sinksHaveIt: the caller stamped it and gave it to the
     * sinks already, as traceHandle() and traceStep() do), lets breakpoints and steps see
     * it, gives it to the sinks and queues it for the observers.
     */
    void endEvent(TraceEvent &event, bool sinksHaveIt = false) noexcept;
    //! The time an event emitted now carries (as endEvent() stamps it).
    TimePoint eventTime() noexcept
    {
        return m_stampValid ? m_stamp : m_clock->at(m_ticks.now());
    }
    /*!
     * A task step's TaskStepBegin or TaskStepEnd (see TraceEventKind for the fields), like
     * traceHandle(): straight to the recorders (RecorderSink::pushHot()), and as a TraceEvent
     * only when other observers, a breakpoint or a step watch.
     */
    void traceStep(TraceEventKind kind, std::uint64_t task, std::uint64_t step, Duration took = {},
                   std::uint64_t awaited = 0, FutureKind awaitedKind = FutureKind::Plain,
                   bool yielded = false) noexcept
    {
        const TimePoint time = eventTime();
        pushToSinks(kind, time.time_since_epoch().count(), took.count(), task, awaited, step,
                    HandleKind::CallSoon, awaitedKind, false, yielded, nullptr);
        if (traceEventWanted(kind)) {
            TraceEvent &e = beginEvent(kind);
            e.time = time;
            e.id = task;
            e.count = step;
            e.related = awaited;
            e.futureKind = awaitedKind;
            e.yielded = yielded;
            e.duration = took;
            endEvent(e, true);
        }
    }
    //! Whether an event of \a kind must be built as a TraceEvent: an observer wants it, or
    //! a breakpoint or a step watches (the recorders take theirs directly).
    bool traceEventWanted(TraceEventKind kind) const noexcept
    {
        return ((m_wantedKinds >> unsigned(kind)) & 1) != 0;
    }
    //! Hands the queued events to the observers (see LoopObserver on when the loop calls it).
    void flushEvents() noexcept
    {
        if (m_pendingCount != 0)
            dispatchPending();
    }
    /*!
     * Events emitted from now on carry the clock's time at \a real (one steady_clock read
     * that also times the running code) instead of reading the clock each: the loop stamps
     * once per callback. Invalidated between iterations and when the clock is moved.
     */
    void restamp(std::chrono::steady_clock::time_point real) noexcept
    {
        // A task switch stamps with one read three times (the step's end, its callback's
        // end, the next callback's start): the clock converts it once.
        if (m_stampValid && real == m_stampReal)
            return;
        m_stamp = m_clock->at(real);
        m_stampReal = real;
        m_stampValid = true;
    }
    /*!
     * A task step's start: the real time its traced callback started (runHandle() read it
     * for HandleStarted), so TaskStepBegin costs no clock read of its own. Reads the clock
     * when no traced callback runs (an internal handle).
     */
    std::chrono::steady_clock::time_point callbackStarted() const noexcept
    {
        return m_callbackRead ? m_lastRead : m_ticks.now();
    }
    /*!
     * A task step's end: one clock read that stamps TaskStepEnd and what follows, and that
     * runHandle() reuses as its callback's end (HandleFinished) and the next callback's start
     * (HandleStarted): one read per task switch instead of four (task_yield profile: the
     * four reads were a fifth of the traced switch).
     */
    std::chrono::steady_clock::time_point stepEnded() noexcept
    {
        const auto real = m_ticks.now();
        restamp(real);
        if (m_callbackRead) {
            m_lastRead = real;
            m_endRead = true;
        }
        return real;
    }
    void addObserver(LoopObserver *observer);
    void removeObserver(LoopObserver *observer);
    //! The handle whose callback is running (0 between callbacks).
    std::uint64_t runningHandleId() const noexcept
    {
        return m_runningHandle;
    }
    std::uint64_t nextExecutorJobId() noexcept
    {
        return ++m_lastJobId;
    }

    // Running.
    void runForever();
    void stop();
    bool isRunning() const noexcept
    {
        return m_runDepth > 0;
    }
    bool isClosed() const noexcept
    {
        return m_closed.load(std::memory_order_acquire);
    }
    void close();
    void checkClosed(const char *operation) const;
    void checkRunnable() const;
    TimePoint now() const
    {
        return m_clock->now();
    }
    Clock &clock() const
    {
        return *m_clock;
    }

    // Wake-ups from the dispatcher.
    void onWakeEvent(std::uint64_t serial);
    void onTimerEvent(int timerId);

    // Tasks.
    void registerTask(TaskCore *task);
    void unregisterTask(TaskCore *task);
    std::vector<TaskRef> allTasks() const;
    std::uint64_t nextFutureId() noexcept
    {
        return ++m_lastFutureId;
    }
    std::uint64_t nextTaskId() noexcept
    {
        return ++m_lastTaskId;
    }

    // Qt operations bridged into the loop (futures of FutureKind::Foreign), any thread.
    void foreignStarted() noexcept;
    void foreignSettled() noexcept;
    int foreignPending() const noexcept
    {
        return m_foreignPending.load(std::memory_order_acquire);
    }

    // Executor (executor.cpp).
    void submitToExecutor(Ref<ExecutorJob> job);
    //! m_executorMutex held: whether one more worker should start (fewer than the limit
    //! run, none lingering or on its way); if so it is counted as on its way.
    bool claimExecutorWorkerStart() noexcept;
    //! Asks \a pool (m_executor) for one more worker (runExecutorJobs()); loop or worker
    //! thread.
    void startExecutorWorker(QThreadPool *pool);
    //! A worker's loop: runs queued jobs until the queue is empty.
    void runExecutorJobs(QThreadPool *pool) noexcept;
    //! Loop thread: completes the jobs the workers finished since the last call.
    void completeFinishedJobs() noexcept;
    //! The completion of \a job runs: it is no longer in flight.
    void executorJobFinished(ExecutorJob *job) noexcept;
    void setExecutorMaxThreads(int count);
    int executorMaxThreads() const;

    // Pause, step, breakpoints.
    void pause();
    void resume();
    bool isPaused() const noexcept
    {
        return m_paused;
    }
    PauseReason pauseReason() const noexcept
    {
        return m_pauseReason;
    }
    void step(StepKind kind, std::uint64_t taskId);
    void addTaskBreakpoint(std::uint64_t taskId);
    void removeTaskBreakpoint(std::uint64_t taskId);
    void setBreakOnTaskFailure(bool enabled);
    void setBreakOnSlowCallback(bool enabled);

    // Integration with Qt's event loop.
    void setIterationBudget(Duration budget) noexcept
    {
        m_iterationBudget = budget;
    }
    Duration iterationBudget() const noexcept
    {
        return m_iterationBudget;
    }

    // Debug mode.
    void setDebug(bool enabled) noexcept
    {
        m_debug = enabled;
    }
    bool debug() const noexcept
    {
        return m_debug;
    }
    void setSlowCallbackDuration(Duration d) noexcept
    {
        m_slowCallback = d;
    }
    Duration slowCallbackDuration() const noexcept
    {
        return m_slowCallback;
    }
    //! Debug mode: throws RuntimeError when called from a thread other than the loop's.
    void checkThread(const char *operation) const;

    // Errors.
    void setExceptionHandler(ExceptionHandler handler)
    {
        m_exceptionHandler = std::move(handler);
    }
    void callExceptionHandler(const ExceptionContext &context) noexcept;

    EventLoop *owner() const noexcept
    {
        return m_owner;
    }
    void detachOwner() noexcept
    {
        m_owner = nullptr;
    }
    QThread *thread() const noexcept
    {
        return m_thread;
    }
    bool onLoopThread() const noexcept
    {
        return QThread::currentThread() == m_thread;
    }

private:
    //! What one Qt wake-up runs: iterations back to back while work is ready, for at most
    //! the iteration budget.
    void runSlice();
    //! One iteration, in asyncio's order; each phase small. True when it ran and the loop
    //! runs freely on (not paused, stepping, stopping or closed).
    bool runOnce();
    void drainInbox();
    void expireTimers();
    void runReadySnapshot();
    void rearm();
    void runHandle(HandleBase &handle) noexcept;
    /*!
     * runHandle() for a callback the observers see: out of line, so that an unobserved
     * loop's runHandle() is the one of a build without hooks plus one branch (an inlined
     * traced path made the compiler save more registers and spill more for every callback:
     * 7 more instructions per callback, post_burst, callgrind).
     */
    [[gnu::noinline]] void runTracedHandle(HandleBase &handle) noexcept;
    //! Called from a catch block: reports the callback's exception (asyncio's "Exception in
    //! callback") to the exception handler.
    void reportCallbackException(const HandleBase &handle) noexcept;
    //! scheduleSoon()'s HandleScheduled, out of line for the same reason (6 instructions).
    [[gnu::noinline]] void traceScheduled(const HandleBase &handle) noexcept;
    void reportIfSlow(const HandleBase &handle, Duration took) noexcept;

    void requestWake();
    void forceWake(); // posts even when a wake event is already pending
    void postWakeEvent(); // a new wake event, the newest (see onWakeEvent())
    void armQtTimer(TimePoint deadline);
    //! An auto-advancing virtual clock may jump now: nothing ready, no executor job, and no
    //! Qt operation pending (or the clock's foreignWaitLimit() has passed).
    bool mayJumpVirtualTime() const noexcept;

    void updateObserved() noexcept;
    //! RecorderSink::pushHot() to the recorders: the lone one directly, several through
    //! pushHotToAll() (see m_soleSink).
    [[gnu::always_inline]] void pushToSinks(TraceEventKind kind, std::int64_t time,
                                            std::int64_t duration, std::uint64_t id,
                                            std::uint64_t related, std::uint64_t aux,
                                            HandleKind handleKind, FutureKind futureKind,
                                            bool failed, bool yielded,
                                            const SourceLocation *location) noexcept
    {
        if (RecorderSink *sink = m_soleSink) [[likely]]
            sink->pushHot(kind, time, duration, id, related, aux, handleKind, futureKind, failed,
                          yielded, location);
        else if (!m_sinks.empty())
            pushHotToAll(kind, time, duration, id, related, aux, handleKind, futureKind, failed,
                         yielded, location);
    }
    //! RecorderSink::pushHot() to each of several sinks (see m_soleSink).
    [[gnu::noinline]] void pushHotToAll(TraceEventKind kind, std::int64_t time,
                                        std::int64_t duration, std::uint64_t id,
                                        std::uint64_t related, std::uint64_t aux,
                                        HandleKind handleKind, FutureKind futureKind, bool failed,
                                        bool yielded, const SourceLocation *location) noexcept;
    //! A callback's HandleScheduled, HandleStarted or HandleFinished, to the sinks and, when
    //! other observers, a breakpoint or a step watch, as a TraceEvent.
    [[gnu::always_inline]] inline void traceHandle(TraceEventKind kind, const HandleBase &handle,
                                                   Duration took = {},
                                                   bool failed = false) noexcept;
    //! Reports the exception being handled, thrown by an observer or sink given \a kind.
    void reportObserverException(TraceEventKind kind) noexcept;
    void dispatchPending() noexcept;
    void growPending() noexcept;
    void dispatch(std::span<const TraceEvent> events) noexcept;
    void runOneStep();
    void finishStep(PauseReason reason, std::uint64_t id);
    void requestPause(PauseReason reason, std::uint64_t id) noexcept;
    void enterPause(PauseReason reason, std::uint64_t id) noexcept;
    void watchControl(const TraceEvent &event) noexcept;
    //! close(): cancels (and names) the futures of the jobs in flight, waits for the pool
    //! and drops the completions it sent meanwhile.
    void shutdownExecutor();
    //! close(): names the callbacks and timers that will never run now.
    void reportDroppedCallbacks();

    EventLoop *m_owner;
    QThread *m_thread;
    std::shared_ptr<Clock> m_clock;
    std::unique_ptr<LoopDriver> m_driver;
    QBasicTimer m_qtTimer;
    QBasicTimer m_cacheTimer; //!< gives the thread's burst cache back after an idle second
    TimePoint m_armedDeadline = TimePoint::max();

    ReadyQueue m_ready;
    TimerHeap m_timers;

    // The thread-safe inbox (Python: _write_to_self + the ready deque under the GIL).
    mutable std::mutex m_inboxMutex;
    std::vector<Ref<HandleBase>> m_inbox;
    std::vector<Ref<HandleBase>> m_inboxSpare; //!< drainInbox()'s, loop thread only
    std::atomic<bool> m_inboxFilled{ false }; //!< m_inbox is not empty (set under the lock)
    std::atomic<bool> m_wakePending{ false };
    std::atomic<std::uint64_t> m_lastWakeSerial{ 0 }; //!< serial of the newest wake event posted
    std::atomic<bool> m_closed{ false };

    QEventLoop *m_nested = nullptr;
    int m_runDepth = 0;
    bool m_inIteration = false;
    bool m_stopping = false;

    TaskCore *m_firstTask = nullptr;
    TaskCore *m_lastTask = nullptr;
    std::uint64_t m_lastFutureId = 0;
    std::uint64_t m_lastTaskId = 0;

    std::unique_ptr<QThreadPool> m_executor;
    // The executor's own queue: a job is queued here, and the pool is only asked for a
    // worker (runExecutorJobs()) while fewer than m_executorMaxThreads are busy, not once per
    // job; finished jobs come back in one list (m_executorDone), completed by one callback
    // per batch. A QThreadPool::start(), a wake-up of a worker and a callSoonThreadsafe per
    // job made runInExecutor slower than QtConcurrent (issue 6).
    std::mutex m_executorMutex;
    ExecutorJob *m_firstQueued = nullptr; //!< under m_executorMutex
    ExecutorJob *m_lastQueued = nullptr; //!< under m_executorMutex
    int m_executorQueued = 0; //!< jobs in the queue; under the mutex
    int m_executorWorkers = 0; //!< runExecutorJobs() started and not returned; under the mutex
    int m_executorLingering = 0; //!< workers waiting a moment for a job; under the mutex
    int m_executorStarting = 0; //!< workers started, not yet at the queue; under the mutex
    //! m_executorQueued, for a lingering worker to poll without the lock.
    std::atomic<int> m_executorQueuedHint{ 0 };
    int m_executorMaxThreads; //!< written under m_executorMutex
    //! Finished jobs, newest first (pushed by workers, taken by completeFinishedJobs()).
    std::atomic<ExecutorJob *> m_executorDone{ nullptr };
    int m_executorJobsInFlight = 0;
    ExecutorJob *m_firstJob = nullptr; //!< jobs in flight, in submission order
    ExecutorJob *m_lastJob = nullptr;
    // Qt operations bridged into the loop and not settled yet (toFuture, waitForSignal ...).
    // An auto-advancing virtual clock waits for them, up to its foreignWaitLimit() of real
    // time (m_holdTimer); m_holdExpired lets one jump through after that.
    std::atomic<int> m_foreignPending{ 0 };
    QBasicTimer m_holdTimer;
    bool m_holdExpired = false;

    ExceptionHandler m_exceptionHandler;
    std::vector<LoopObserver *> m_observers;
    //! Recorders written to directly (LoopObserver::setEventSink()), not in m_observers.
    std::vector<RecorderSink *> m_sinks;
    /*!
     * m_sinks' only recorder, nullptr when there are none or several (pushHotToAll()): the
     * emission points test one pointer instead of walking the vector (callgrind, task_yield:
     * the walks took 52 instructions per recorded switch).
     */
    RecorderSink *m_soleSink = nullptr;
    //! Observers (not sinks), breakpoints or a step watch: events are built as TraceEvents.
    //! The kinds some observer wants (the union of their EventKinds).
    EventKinds m_observerKinds;
    //! The kinds to build as TraceEvents: m_observerKinds, or all while a breakpoint or a
    //! step watches (traceEventWanted()).
    std::uint32_t m_wantedKinds = 0;
    // Events not handed to the observers yet (the first m_pendingCount slots), and the run
    // being handed over (swapped, so that an observer may emit while it is called). Slots
    // are reused, never destroyed between runs.
    std::vector<TraceEvent> m_pending;
    std::vector<TraceEvent> m_dispatching;
    std::size_t m_pendingCount = 0;
    bool m_dispatchActive = false;
    TraceEvent m_scratch; //!< beginEvent()'s event when only breakpoints or a step watch
    std::uint64_t m_iteration = 0;
    std::uint64_t m_lastHandleId = 0;
    std::uint64_t m_lastJobId = 0;
    std::uint64_t m_runningHandle = 0;
    bool m_observed = false;
    bool m_controlWatching = false;
    bool m_stampValid = false;
    TimePoint m_stamp{};
    //! The real time m_stamp was converted from (restamp()); min(): not from a real read.
    std::chrono::steady_clock::time_point m_stampReal =
            std::chrono::steady_clock::time_point::min();
    // Shared clock reads (callbackStarted(), stepEnded()). m_lastRead is the running traced
    // callback's start (m_callbackRead), then its end once read (m_endRead); between two
    // callbacks of one ready snapshot it is the previous one's end (m_carryRead), which the
    // next one starts at.
    std::chrono::steady_clock::time_point m_lastRead{};
    mutable TickClock m_ticks; //!< the traced reads above, anchored once per observed iteration
    bool m_callbackRead = false;
    bool m_endRead = false;
    bool m_carryRead = false;

    // Pause/step/breakpoint state.
    std::vector<std::uint64_t> m_breakTasks;
    std::uint64_t m_stepTask = 0;
    std::uint64_t m_requestedId = 0;
    StepKind m_stepKind = StepKind::Callback;
    PauseReason m_pauseReason = PauseReason::Requested;
    PauseReason m_requestedReason = PauseReason::Requested;
    bool m_paused = false;
    bool m_stepActive = false;
    bool m_stepHit = false;
    bool m_pauseRequested = false;
    bool m_breakOnFailure = false;
    bool m_breakOnSlow = false;
    Duration m_slowCallback = std::chrono::milliseconds(100);
    // 1 ms: a saturated loop keeps a 5 ms QTimer within 5 ms (two slices, see
    // EventLoop::setIterationBudget()) for about 1 % of its throughput.
    Duration m_iterationBudget = std::chrono::milliseconds(1);
    bool m_debug = false;
};

} // namespace loopscope::detail
