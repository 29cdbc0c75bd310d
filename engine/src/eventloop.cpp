#include "loopscope/eventloop.h"

#include "eventloop_p.h"

#include "loopscope/tsan.h"

#include <QCoreApplication>
#include <QEvent>
#include <QEventLoop>
#include <QStringList>
#include <QThread>
#include <QTimerEvent>
#include <QtDebug>

#include <algorithm>
#include <chrono>
#include <climits>
#include <utility>

namespace loopscope {

namespace {

const QEvent::Type kWakeEvent = static_cast<QEvent::Type>(QEvent::registerEventType());

//! A wake event for the loop's driver; posted from any thread. \a serial tells the newest
//! one from older ones still queued (see LoopCore::onWakeEvent()).
class WakeEvent : public QEvent
{
public:
    explicit WakeEvent(std::uint64_t serial) : QEvent(kWakeEvent), m_serial(serial)
    {
        // Qt's posted-event queue is locked inside Qt, out of ThreadSanitizer's sight: the
        // driver acquires this when the event arrives (LoopDriver::event()).
        LOOPSCOPE_TSAN_RELEASE(this);
    }
    std::uint64_t serial() const noexcept { return m_serial; }

private:
    std::uint64_t m_serial;
};

thread_local EventLoop *t_currentLoop = nullptr; // the loop iterating or running here
thread_local EventLoop *t_threadLoop = nullptr; // the first loop created in this thread

//! Makes \a loop current for a scope (an iteration or a runForever), restoring after.
class CurrentLoopScope
{
public:
    explicit CurrentLoopScope(EventLoop *loop) : m_previous(std::exchange(t_currentLoop, loop)) { }
    ~CurrentLoopScope() { t_currentLoop = m_previous; }
    CurrentLoopScope(const CurrentLoopScope &) = delete;
    CurrentLoopScope &operator=(const CurrentLoopScope &) = delete;

private:
    EventLoop *m_previous;
};

} // namespace

QString ExceptionContext::toString() const
{
    QString s = message;
    if (!handle.isEmpty())
        s += QStringLiteral("; handle: ") + handle;
    if (!task.isEmpty())
        s += QStringLiteral("; task: ") + task;
    if (!future.isEmpty())
        s += QStringLiteral("; future: ") + future;
    if (exception)
        s += QStringLiteral("; exception: ")
                + QString::fromStdString(detail::describeException(exception));
    return s;
}

void releaseThreadCache() noexcept
{
    detail::poolReleaseBurstCache();
}

namespace detail {

namespace {
//! \a wait as a QTimer interval: whole milliseconds rounded up (a timer must never fire
//! early), negative as 0, at most INT_MAX.
int qtTimerMilliseconds(Duration wait)
{
    using namespace std::chrono;
    return int(std::min<std::int64_t>(ceil<milliseconds>(std::max(wait, Duration::zero())).count(),
                                      INT_MAX));
}
} // namespace

bool LoopDriver::event(QEvent *event)
{
    LOOPSCOPE_TSAN_ACQUIRE(event); // see WakeEvent
    if (event->type() == kWakeEvent) {
        if (m_core)
            m_core->onWakeEvent(static_cast<WakeEvent *>(event)->serial());
        return true;
    }
    if (event->type() == QEvent::Timer) {
        if (m_core)
            m_core->onTimerEvent(static_cast<QTimerEvent *>(event)->timerId());
        return true;
    }
    return QObject::event(event);
}

LoopCore::LoopCore(EventLoop *owner, std::shared_ptr<Clock> clock)
    : m_owner(owner),
      m_thread(QThread::currentThread()),
      m_clock(clock ? std::move(clock) : std::make_shared<SteadyClock>()),
      m_driver(std::make_unique<LoopDriver>(this)),
      m_executorMaxThreads(std::min(32, QThread::idealThreadCount() + 4))
{
    // A manual advance of a virtual clock must wake the loop so due timers fire.
    m_clock->setAdvanceListener([this] {
        // Same deadline, new real wait (a scaled clock changed speed): re-arm for real.
        m_qtTimer.stop();
        m_holdTimer.stop(); // the wait limit may have changed
        m_armedDeadline = TimePoint::max();
        m_stampValid = false; // time moved by hand: read it again
        requestWake();
    });
    m_debug = qEnvironmentVariableIntValue("LOOPSCOPE_DEBUG") == 1;
}

void LoopCore::checkThread(const char *operation) const
{
    if (m_debug && QThread::currentThread() != m_thread)
        throw RuntimeError(std::string(operation)
                           + ": non-thread-safe operation invoked on an event loop from a thread "
                             "other than its own (use callSoonThreadsafe)");
}

LoopCore::~LoopCore() = default;

// --- scheduling -----------------------------------------------------------------------

void LoopCore::scheduleSoon(Ref<HandleBase> handle)
{
    checkClosed("callSoon");
    checkThread("callSoon");
    handle->m_id = ++m_lastHandleId;
    if (observed() && handle->kind() != HandleKind::Internal) [[unlikely]]
        traceScheduled(*handle);
    m_ready.push(std::move(handle));
    // Inside an iteration the end-of-iteration rearm() posts the wake-up; this keeps it to
    // one posted event per iteration however many callbacks are scheduled. Outside one (a
    // burst queued before the loop runs), a plain load first spares the locked exchange per
    // callSoon: on the loop's own thread a set flag stays set until onWakeEvent() serves it.
    if (!m_inIteration && !m_wakePending.load(std::memory_order_relaxed))
        requestWake();
}

void LoopCore::scheduleAt(TimePoint when, Ref<TimerHandleBase> handle)
{
    checkClosed("callAt");
    checkThread("callAt");
    handle->m_when = when;
    handle->m_id = ++m_lastHandleId;
    if (observed()) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::TimerArmed;
        e.handleKind = handle->kind();
        e.id = handle->m_id;
        e.when = when;
        e.location = handle->location();
        e.task = TaskCore::current() ? TaskCore::current()->id() : 0; // a sleep's task
        emit(e);
    }
    m_timers.push(std::move(handle), this);
    if (!m_inIteration && when < m_armedDeadline)
        rearm();
}

void LoopCore::scheduleTaskTimer(TimePoint when, TaskCore *task, std::uint64_t timerId)
{
    checkClosed("sleep");
    checkThread("sleep");
    if (m_observed) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::TimerArmed;
        e.handleKind = HandleKind::CallLater;
        e.id = timerId;
        e.when = when;
        e.location = task->location();
        e.task = task->id();
        emit(e);
    }
    m_timers.pushTask(when, task);
    if (!m_inIteration && when < m_armedDeadline)
        rearm();
}

void LoopCore::cancelTaskTimer(TaskCore *task, std::uint64_t timerId) noexcept
{
    const TimePoint when = m_timers.removeTask(task);
    if (m_observed && timerId) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::TimerCancelled;
        e.handleKind = HandleKind::CallLater;
        e.id = timerId;
        e.when = when;
        emit(e);
    }
}

void LoopCore::scheduleThreadsafe(Ref<HandleBase> handle)
{
    // The wake-up is posted under the inbox lock: close() marks the loop closed under the
    // same lock before it deletes the driver, so we never post to a deleted object.
    std::lock_guard lock(m_inboxMutex);
    if (isClosed())
        throw RuntimeError("callSoonThreadsafe: the event loop is closed");
    m_inbox.push_back(std::move(handle));
    m_inboxFilled.store(true, std::memory_order_release);
    requestWake();
}

void LoopCore::requestWake()
{
    // Coalesced: at most one wake event in Qt's queue. onWakeEvent() clears the flag before
    // it drains the inbox, so a push after the drain always posts a fresh event. Always the
    // locked exchange, never a plain load first: from another thread (callSoonThreadsafe,
    // executor completions) a load could see the flag still set while the loop had already
    // cleared it and, not yet seeing this thread's inbox push, found the inbox empty: a lost
    // wake-up that hung tst_model (store-buffer reordering; the exchange orders both).
    if (!m_wakePending.exchange(true, std::memory_order_acq_rel))
        postWakeEvent();
}

void LoopCore::postWakeEvent()
{
    const std::uint64_t serial = m_lastWakeSerial.fetch_add(1, std::memory_order_acq_rel) + 1;
    QCoreApplication::postEvent(m_driver.get(), new WakeEvent(serial), Qt::NormalEventPriority);
}

void LoopCore::forceWake()
{
    // A wake event posted while the Qt event handler that now starts a nested QEventLoop
    // (runForever() from a slot) was running can stay undelivered until that handler
    // returns: the visualizer's loop thread hung forever in such a runForever(). So post one
    // more. The newer one serves the wake and the older one, if it arrives at all, does
    // nothing (see onWakeEvent()), so no iteration moves ahead of Qt events queued before it.
    m_wakePending.store(true, std::memory_order_release);
    postWakeEvent();
}

// --- one iteration --------------------------------------------------------------------

void LoopCore::onWakeEvent(std::uint64_t serial)
{
    // Only the newest wake event serves: an older one still queued (forceWake()'s spare, or
    // one that raced another thread's post) must not run a slice, or the slice's own wake
    // event and the spare keep two in Qt's queue for good -- two slices per pass of Qt's
    // posted events, which kept a concurrent 5 ms QTimer waiting 7-11 ms (Glib dispatches
    // timers between passes; bench_post_chain).
    if (serial != m_lastWakeSerial.load(std::memory_order_acquire))
        return;
    if (m_runDepth > 0 && !m_nested) {
        // runForever() was told to return and Qt is finishing its current delivery pass:
        // nothing may run after stop() (one of forceWake()'s two events can land here).
        // Keep the wake for whoever runs the loop next.
        if (m_wakePending.load(std::memory_order_acquire))
            postWakeEvent();
        return;
    }
    if (!m_wakePending.exchange(false, std::memory_order_acq_rel))
        return; // the spare event of forceWake(): the wake was served already
    runSlice();
}

void LoopCore::runSlice()
{
    Ref<LoopCore> keepAlive(this); // a callback may destroy the EventLoop object
    if (!runOnce() || m_iterationBudget <= Duration::zero())
        return;
    // Back-to-back iterations while work is ready, for at most the budget: each one is a
    // whole asyncio iteration, only Qt's per-event price is paid once per slice. The wake
    // event the first iteration posted is already queued, so Qt serves its own events
    // (input, paint, timers) before the next slice.
    //
    // Reading the clock cost a fifth of a one-callback iteration (post_chain profile), so
    // while iterations are short it is read only every few of them: as many as the last ones
    // suggest fit in 1/64 of the budget, at most 32. The budget is then overrun by at most
    // that (about 1/64 of it) unless callbacks suddenly get slower.
    using std::chrono::steady_clock;
    auto checked = steady_clock::now();
    const auto deadline = checked + m_iterationBudget;
    std::uint32_t stride = 1;
    std::uint32_t untilCheck = 1;
    while (!m_ready.empty()) {
        if (--untilCheck == 0) {
            const auto now = steady_clock::now();
            if (now >= deadline)
                return;
            const bool fast = (now - checked) * 64 <= m_iterationBudget * stride;
            stride = fast ? std::min<std::uint32_t>(stride * 2, 32) : 1;
            untilCheck = stride;
            checked = now;
        }
        if (!runOnce())
            return;
    }
}

void LoopCore::onTimerEvent(int timerId)
{
    if (timerId == m_cacheTimer.timerId()) {
        m_cacheTimer.stop();
        if (m_ready.empty()) // idle for a second: the burst is over
            poolReleaseBurstCache();
        return;
    }
    if (timerId == m_holdTimer.timerId()) {
        // Waited long enough for the pending Qt operations: let virtual time jump once.
        m_holdTimer.stop();
        m_holdExpired = true;
        runSlice();
        return;
    }
    m_qtTimer.stop();
    m_armedDeadline = TimePoint::max();
    runSlice();
}

bool LoopCore::runOnce()
{
    if (isClosed() || m_inIteration)
        return false;
    // runSlice() holds a reference: a callback may destroy the EventLoop object.
    CurrentLoopScope current(m_owner);
    if (m_paused) {
        if (m_stepActive && m_stepKind != StepKind::Iteration) {
            runOneStep();
            return false;
        }
        if (!m_stepActive) {
            // Paused: nothing runs, but stop() must still end runForever().
            if (m_stopping && m_nested) {
                m_stopping = false;
                std::exchange(m_nested, nullptr)->exit(0);
            }
            return false;
        }
    }
    m_inIteration = true;
    ++m_iteration;
    const auto started = observed() ? m_ticks.anchor() : std::chrono::steady_clock::time_point();
    if (observed()) [[unlikely]]
        restamp(started);
    drainInbox();
    expireTimers();
    if (observed()) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::IterationBegin;
        e.id = m_iteration;
        e.count = m_ready.size();
        e.count2 = m_timers.liveCount();
        emit(e);
    }
    runReadySnapshot();
    if (observed()) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::IterationEnd;
        e.id = m_iteration;
        e.count = m_ready.size();
        e.count2 = m_timers.liveCount();
        // The last callback's end, when it was read then and nothing ran since.
        const auto finished = m_carryRead ? m_lastRead : m_ticks.now();
        e.duration = finished - started;
        restamp(finished);
        emit(e);
    }
    m_carryRead = false;
    m_stampValid = false;
    m_inIteration = false;
    flushEvents();
    if (m_stepActive && m_stepKind == StepKind::Iteration)
        finishStep(PauseReason::StepDone, 0);
    if (m_pauseRequested)
        enterPause(m_requestedReason, m_requestedId);

    // Another iteration may follow at once only when the loop runs freely on.
    bool mayContinue = !m_paused && !m_stepActive && !m_stopping;
    if (m_stopping && m_nested) {
        m_stopping = false;
        std::exchange(m_nested, nullptr)->exit(0); // see onWakeEvent()
    }
    if (isClosed())
        return false;
    rearm();
    return mayContinue;
}

void LoopCore::drainInbox()
{
    // The flag spares an idle inbox the lock (two per iteration before).
    if (!m_inboxFilled.load(std::memory_order_acquire))
        return;
    // Swapped with a spare that keeps its capacity: callSoonThreadsafe allocates nothing
    // once warm.
    std::vector<Ref<HandleBase>> &incoming = m_inboxSpare;
    {
        std::lock_guard lock(m_inboxMutex);
        incoming.swap(m_inbox);
        m_inboxFilled.store(false, std::memory_order_relaxed);
    }
    for (auto &h : incoming) {
        h->m_id = ++m_lastHandleId;
        if (observed() && h->kind() != HandleKind::Internal) [[unlikely]] {
            TraceEvent e;
            e.kind = TraceEventKind::HandleScheduled;
            e.handleKind = h->kind();
            e.id = h->m_id;
            e.location = h->location();
            emit(e);
        }
        m_ready.push(std::move(h));
    }
    incoming.clear();
}

void LoopCore::expireTimers()
{
    m_timers.discardCancelledTop();
    if (m_timers.empty())
        return;
    // Virtual time jumps to the next deadline only when nothing else could happen first:
    // nothing ready, no executor job and no Qt operation whose completion might schedule
    // earlier work.
    if (m_clock->isVirtual() && m_timers.earliestDeadline() > m_clock->now() && mayJumpVirtualTime()
        && m_clock->autoAdvanceTo(m_timers.earliestDeadline()))
        m_holdExpired = false;

    const TimePoint now = m_clock->now();
    if (observed()) [[unlikely]] {
        m_stamp = now; // the time these timers fire at (after a virtual jump, too)
        m_stampReal = std::chrono::steady_clock::time_point::min();
        m_stampValid = true;
    }
    while (!m_timers.empty() && m_timers.earliestDeadline() <= now) {
        Ref<TimerHandleBase> due = m_timers.pop();
        if (observed()) [[unlikely]] {
            TraceEvent &e = beginEvent(TraceEventKind::TimerFired);
            e.handleKind = due->kind();
            e.id = due->m_id;
            e.when = due->m_when;
            e.duration = now - due->m_when;
            endEvent(e);
        }
        m_ready.push(std::move(due));
        m_timers.discardCancelledTop();
    }
}

void LoopCore::runReadySnapshot()
{
    // Exactly the callbacks ready now: whatever they schedule runs next iteration.
    m_carryRead = false; // read before the timers fired: too early for the first callback
    for (std::size_t n = m_ready.size(); n > 0 && !m_ready.empty(); --n) {
        Ref<HandleBase> h = m_ready.pop();
        if (!h->cancelled())
            runHandle(*h);
        // A breakpoint (or pause() from a callback) stops between two callbacks; the rest
        // stay queued, in order, for when the loop resumes.
        if (m_pauseRequested)
            break;
    }
}

// --- pause, step, breakpoints ---------------------------------------------------------

void LoopCore::updateObserved() noexcept
{
    m_controlWatching = m_stepActive || !m_breakTasks.empty() || m_breakOnFailure || m_breakOnSlow;
    // Breakpoints and steps need the events even with no observer attached.
    m_observed = !m_observers.empty() || !m_sinks.empty() || m_controlWatching;
    m_soleSink = m_sinks.size() == 1 ? m_sinks.front() : nullptr;
    // An unobserved callback does not clear it (runHandle()): the next traced one must not
    // start where a traced one ended before the observers changed.
    m_carryRead = false;
    m_observerKinds = EventKinds();
    for (const LoopObserver *observer : m_observers)
        m_observerKinds = m_observerKinds | observer->kinds();
    m_wantedKinds = m_controlWatching ? EventKinds::all().bits() : m_observerKinds.bits();
}

void LoopCore::pause()
{
    checkThread("pause");
    if (m_paused && !m_stepActive)
        return;
    if (m_inIteration) {
        requestPause(PauseReason::Requested, 0);
        return;
    }
    if (m_stepActive)
        finishStep(PauseReason::Requested, 0);
    else
        enterPause(PauseReason::Requested, 0);
}

void LoopCore::resume()
{
    checkThread("resume");
    m_pauseRequested = false;
    if (!m_paused)
        return;
    m_paused = false;
    m_stepActive = false;
    updateObserved();
    if (auto *scaled = dynamic_cast<ScaledClock *>(m_clock.get()))
        scaled->resume();
    if (observed()) {
        TraceEvent e;
        e.kind = TraceEventKind::LoopResumed;
        emit(e);
    }
    if (!isClosed()) {
        m_qtTimer.stop();
        m_armedDeadline = TimePoint::max();
        requestWake();
    }
}

void LoopCore::step(StepKind kind, std::uint64_t taskId)
{
    checkThread("step");
    checkClosed("step");
    if (!m_paused)
        throw RuntimeError("step: the loop is not paused (call pause() first)");
    if (m_stepActive)
        throw RuntimeError("step: a step is already in progress");
    if (kind == StepKind::TaskEvent && taskId == 0)
        throw ValueError("step: StepKind::TaskEvent needs a task id");
    m_stepActive = true;
    m_stepKind = kind;
    m_stepTask = taskId;
    m_stepHit = false;
    updateObserved();
    // A step needs time to pass for timers to come due.
    if (auto *scaled = dynamic_cast<ScaledClock *>(m_clock.get()))
        scaled->resume();
    m_qtTimer.stop();
    m_armedDeadline = TimePoint::max();
    requestWake();
}

void LoopCore::runOneStep()
{
    m_inIteration = true;
    m_carryRead = false;
    drainInbox();
    if (m_ready.empty())
        expireTimers(); // may jump a virtual clock to the next deadline
    bool ranOne = false;
    if (!(m_stepKind == StepKind::Timer && m_stepHit)) {
        while (!m_ready.empty() && !ranOne) {
            Ref<HandleBase> h = m_ready.pop();
            if (h->cancelled())
                continue;
            runHandle(*h);
            ranOne = true;
        }
    }
    m_inIteration = false;
    flushEvents();

    if (m_pauseRequested) {
        // A breakpoint hit during the step wins: report it, not a plain step end.
        finishStep(m_requestedReason, m_requestedId);
    } else if ((m_stepKind == StepKind::Callback && ranOne) || m_stepHit) {
        finishStep(PauseReason::StepDone, 0);
    } else if (!m_ready.empty()) {
        requestWake(); // one callback per Qt event: the UI stays live during long steps
        return;
    }
    if (m_stopping && m_nested) {
        m_stopping = false;
        std::exchange(m_nested, nullptr)->exit(0); // see onWakeEvent()
    }
    if (!isClosed() && m_stepActive)
        rearm(); // waiting for a timer or the inbox to bring the awaited event
}

void LoopCore::finishStep(PauseReason reason, std::uint64_t id)
{
    m_stepActive = false;
    m_stepHit = false;
    updateObserved();
    enterPause(reason, id);
}

void LoopCore::requestPause(PauseReason reason, std::uint64_t id) noexcept
{
    if (m_pauseRequested)
        return; // the first reason wins
    m_pauseRequested = true;
    m_requestedReason = reason;
    m_requestedId = id;
}

void LoopCore::enterPause(PauseReason reason, std::uint64_t id) noexcept
{
    m_pauseRequested = false;
    m_paused = true;
    m_pauseReason = reason;
    if (auto *scaled = dynamic_cast<ScaledClock *>(m_clock.get()))
        scaled->pause();
    if (observed()) {
        TraceEvent e;
        e.kind = TraceEventKind::LoopPaused;
        e.count = static_cast<std::uint64_t>(reason);
        e.id = id;
        emit(e);
    }
}

void LoopCore::watchControl(const TraceEvent &e) noexcept
{
    const bool aboutTask = e.kind == TraceEventKind::TaskStepBegin
            || e.kind == TraceEventKind::TaskStepEnd || e.kind == TraceEventKind::TaskDone
            || e.kind == TraceEventKind::Wakeup || e.kind == TraceEventKind::TaskCreated;
    if (m_stepActive) {
        if (m_stepKind == StepKind::TaskEvent
            && ((aboutTask && e.id == m_stepTask)
                || (e.kind == TraceEventKind::HandleScheduled && e.task == m_stepTask)))
            m_stepHit = true;
        if (m_stepKind == StepKind::Timer && e.kind == TraceEventKind::TimerFired)
            m_stepHit = true;
    }
    if (aboutTask && e.kind != TraceEventKind::TaskCreated
        && std::find(m_breakTasks.begin(), m_breakTasks.end(), e.id) != m_breakTasks.end())
        requestPause(PauseReason::TaskBreakpoint, e.id);
    if (m_breakOnFailure && e.kind == TraceEventKind::TaskDone && e.status == DoneStatus::Failed)
        requestPause(PauseReason::TaskFailed, e.id);
    if (m_breakOnSlow && e.kind == TraceEventKind::HandleFinished && e.duration >= m_slowCallback)
        requestPause(PauseReason::SlowCallback, e.id);
}

void LoopCore::addTaskBreakpoint(std::uint64_t taskId)
{
    if (std::find(m_breakTasks.begin(), m_breakTasks.end(), taskId) == m_breakTasks.end())
        m_breakTasks.push_back(taskId);
    updateObserved();
}

void LoopCore::removeTaskBreakpoint(std::uint64_t taskId)
{
    std::erase(m_breakTasks, taskId);
    updateObserved();
}

void LoopCore::setBreakOnTaskFailure(bool enabled)
{
    m_breakOnFailure = enabled;
    updateObserved();
}

void LoopCore::setBreakOnSlowCallback(bool enabled)
{
    m_breakOnSlow = enabled;
    updateObserved();
}

void LoopCore::runHandle(HandleBase &handle) noexcept
{
    if (observed()) [[unlikely]] {
        if (handle.kind() != HandleKind::Internal) {
            runTracedHandle(handle);
            return;
        }
        // An internal callback between two traced ones: the next one does not start where
        // the last one ended.
        m_carryRead = false;
    }
    handle.m_running = true;
    m_runningHandle = handle.m_id;
    // Debug mode times every callback on the real clock: a virtual clock does not move
    // while a callback blocks, but the loop is blocked all the same.
    const auto started = m_debug ? m_ticks.now() : std::chrono::steady_clock::time_point();
    try {
        handle.run();
    } catch (...) {
        reportCallbackException(handle);
    }
    m_runningHandle = 0;
    if (m_debug)
        reportIfSlow(handle, m_ticks.now() - started);
    handle.m_running = false;
    handle.releaseAfterRun();
}

void LoopCore::runTracedHandle(HandleBase &handle) noexcept
{
    handle.m_running = true;
    m_runningHandle = handle.m_id;
    // Traced back to back, one callback starts at the clock read that ended the previous one.
    const auto started = m_carryRead ? m_lastRead : m_ticks.now();
    m_carryRead = false;
    m_lastRead = started;
    m_callbackRead = true;
    m_endRead = false;
    restamp(started);
    traceHandle(TraceEventKind::HandleStarted, handle);
    // Observers learn of the callback before it runs: one that blocks shows as running.
    flushEvents();
    bool failed = false;
    try {
        handle.run();
    } catch (...) {
        failed = true;
        reportCallbackException(handle);
    }
    // A task step read the clock as it ended (stepEnded()): that read ends the callback too.
    const auto finished = m_endRead ? m_lastRead : m_ticks.now();
    m_callbackRead = false;
    m_endRead = false;
    m_lastRead = finished;
    m_carryRead = true;
    restamp(finished);
    traceHandle(TraceEventKind::HandleFinished, handle, finished - started, failed);
    m_runningHandle = 0;
    if (m_debug)
        reportIfSlow(handle, finished - started);
    handle.m_running = false;
    handle.releaseAfterRun();
}

void LoopCore::reportCallbackException(const HandleBase &handle) noexcept
{
    ExceptionContext ctx;
    ctx.message = QStringLiteral("Exception in callback");
    ctx.exception = std::current_exception();
    ctx.handle = QString::fromStdString(handle.describe());
    callExceptionHandler(ctx);
}

void LoopCore::traceScheduled(const HandleBase &handle) noexcept
{
    traceHandle(TraceEventKind::HandleScheduled, handle);
}

inline void LoopCore::traceHandle(TraceEventKind kind, const HandleBase &handle, Duration took,
                                  bool failed) noexcept
{
    const TimePoint time = eventTime();
    pushToSinks(kind, time.time_since_epoch().count(), took.count(), handle.m_id, 0,
                handle.taskId(), handle.kind(), FutureKind::Plain, failed, false,
                &handle.location());
    if (traceEventWanted(kind)) {
        TraceEvent &e = beginEvent(kind);
        e.time = time;
        e.handleKind = handle.kind();
        e.id = handle.m_id;
        e.task = handle.taskId();
        e.location = handle.location();
        e.failed = failed;
        e.duration = took;
        endEvent(e, true);
    }
}

void LoopCore::pushHotToAll(TraceEventKind kind, std::int64_t time, std::int64_t duration,
                            std::uint64_t id, std::uint64_t related, std::uint64_t aux,
                            HandleKind handleKind, FutureKind futureKind, bool failed, bool yielded,
                            const SourceLocation *location) noexcept
{
    for (RecorderSink *sink : m_sinks)
        sink->pushHot(kind, time, duration, id, related, aux, handleKind, futureKind, failed,
                      yielded, location);
}

void LoopCore::reportIfSlow(const HandleBase &handle, Duration took) noexcept
{
    if (took < m_slowCallback)
        return;
    try {
        ExceptionContext ctx;
        QString what;
        if (handle.kind() == HandleKind::TaskStep && TaskCore::lastStepped()) {
            what = QStringLiteral("step of ")
                    + QString::fromStdString(TaskCore::lastStepped()->describe());
            ctx.task = QString::fromStdString(TaskCore::lastStepped()->describe());
        } else {
            what = QString::fromStdString(handle.describe());
        }
        ctx.message = QStringLiteral("Executing %1 took %2 seconds")
                              .arg(what)
                              .arg(toSeconds(took), 0, 'f', 3);
        ctx.handle = QString::fromStdString(handle.describe());
        callExceptionHandler(ctx);
    } catch (...) {
        qWarning("loopscope: could not report a slow callback");
    }
}

void LoopCore::rearm()
{
    if (!m_ready.empty() || m_inboxFilled.load(std::memory_order_acquire)) {
        requestWake();
        return;
    }
    if (poolHoldsBurstCache() && !m_cacheTimer.isActive()) [[unlikely]]
        m_cacheTimer.start(1000, Qt::CoarseTimer, m_driver.get());
    m_timers.discardCancelledTop();
    if (m_timers.empty()) {
        m_qtTimer.stop();
        m_armedDeadline = TimePoint::max();
        return;
    }
    const TimePoint deadline = m_timers.earliestDeadline();
    if (m_clock->isVirtual()) {
        // Time moves at the start of the next iteration (not here), so a loop that just
        // stopped leaves the clock where the last callback saw it. Post only when that
        // iteration can make progress: otherwise an executor completion or a manual
        // advance() wakes us (posting anyway would spin a core at 100%).
        if (deadline <= m_clock->now() || (m_clock->canAutoAdvance() && mayJumpVirtualTime())) {
            requestWake();
        } else if (m_clock->canAutoAdvance() && m_executorJobsInFlight == 0 && foreignPending() > 0
                   && !m_holdTimer.isActive()) {
            // Only Qt operations hold time back: wait for them, at most the clock's limit.
            if (const auto limit = m_clock->foreignWaitLimit())
                m_holdTimer.start(qtTimerMilliseconds(*limit), Qt::PreciseTimer, m_driver.get());
        }
        return;
    }
    armQtTimer(deadline);
}

bool LoopCore::mayJumpVirtualTime() const noexcept
{
    return m_ready.empty() && m_executorJobsInFlight == 0
            && (m_holdExpired || foreignPending() == 0);
}

void LoopCore::foreignStarted() noexcept
{
    m_foreignPending.fetch_add(1, std::memory_order_acq_rel);
}

void LoopCore::foreignSettled() noexcept
{
    // Settled on the loop thread (the bridges hand results over first), or dropped pending
    // anywhere. The last one lets an idle virtual clock jump: wake the loop to see it.
    if (m_foreignPending.fetch_sub(1, std::memory_order_acq_rel) == 1
        && QThread::currentThread() == m_thread && !isClosed()) {
        m_holdTimer.stop();
        requestWake();
    }
}

void LoopCore::armQtTimer(TimePoint deadline)
{
    if (deadline == m_armedDeadline && m_qtTimer.isActive())
        return;
    const Duration wait = m_clock->realTimeUntil(deadline);
    if (wait < Duration::zero()) {
        m_qtTimer.stop();
        m_armedDeadline = TimePoint::max();
        return;
    }
    // Round up: a timer must never fire early. If Qt still wakes us a hair early, nothing
    // is due and the next rearm() waits the remainder.
    const int ms = qtTimerMilliseconds(wait);
    if (ms == 0) {
        requestWake();
        return;
    }
    m_armedDeadline = deadline;
    m_qtTimer.start(ms, Qt::PreciseTimer, m_driver.get());
}

// --- running --------------------------------------------------------------------------

void LoopCore::checkClosed(const char *operation) const
{
    if (isClosed())
        throw RuntimeError(std::string(operation) + ": the event loop is closed");
}

void LoopCore::checkRunnable() const
{
    checkClosed("run");
    if (m_runDepth > 0)
        throw RuntimeError("This event loop is already running");
    if (m_inIteration)
        throw RuntimeError("Cannot run the event loop from inside one of its own callbacks");
    if (QThread::currentThread() != m_thread)
        throw RuntimeError("The event loop belongs to another thread");
}

void LoopCore::runForever()
{
    checkRunnable();
    if (!QCoreApplication::instance())
        throw RuntimeError("runForever: a QCoreApplication must exist");
    Ref<LoopCore> keepAlive(this);
    CurrentLoopScope current(m_owner);
    QEventLoop nested;
    m_nested = &nested;
    ++m_runDepth;
    // Always run at least one iteration (stop() before runForever() means "one iteration").
    forceWake();
    nested.exec();
    --m_runDepth;
    m_nested = nullptr;
}

void LoopCore::stop()
{
    checkThread("stop");
    m_stopping = true;
    // Called from a Qt slot (not a loop callback) while runForever() waits: make sure an
    // iteration comes to notice it.
    if (m_runDepth > 0 && !m_inIteration && !isClosed())
        forceWake();
}

void LoopCore::close()
{
    checkThread("close");
    if (m_runDepth > 0 || m_inIteration)
        throw RuntimeError("Cannot close a running event loop");
    if (isClosed())
        return;
    Ref<LoopCore> keepAlive(this);
    // Destructors of abandoned frames may ask for the current loop (and their exceptions are
    // reported to it): make it this one, not the thread's first loop.
    CurrentLoopScope current(m_owner);
    shutdownExecutor();

    // Tasks still pending are destroyed, never resumed. Their frames' destructors may
    // schedule callbacks or drop futures, which is fine while the loop is still open.
    std::uint64_t abandoned = 0;
    while (TaskCore *task = m_firstTask) {
        ExceptionContext ctx;
        ctx.message = QStringLiteral("Task was destroyed but it is pending!");
        ctx.task = QString::fromStdString(task->describe());
        callExceptionHandler(ctx);
        task->abandon(); // unregisters it; TaskDone (Abandoned) for observers
        ++abandoned;
    }
    reportDroppedCallbacks();
    if (observed()) {
        TraceEvent e;
        e.kind = TraceEventKind::LoopClosed;
        e.count = abandoned;
        emit(e);
    }

    {
        std::lock_guard lock(m_inboxMutex);
        m_closed.store(true, std::memory_order_release);
    }
    std::vector<Ref<HandleBase>> inbox;
    {
        std::lock_guard lock(m_inboxMutex);
        inbox.swap(m_inbox);
    }
    inbox.clear();
    m_ready.clear();
    m_timers.clear();
    m_qtTimer.stop();
    m_holdTimer.stop();
    m_driver->detach();
    m_driver.reset();
    m_clock->setAdvanceListener({});
}

void LoopCore::reportDroppedCallbacks()
{
    // Steps and wake-ups of the abandoned tasks were reported with their tasks, the loop's
    // own bookkeeping is no concern of the user's, and cancelled handles would not run anyway.
    const auto dropped = [](const HandleBase &h) {
        return !h.cancelled() && h.kind() != HandleKind::TaskStep
                && h.kind() != HandleKind::Internal;
    };
    std::vector<const HandleBase *> ready;
    m_ready.forEach([&](const HandleBase &h) {
        if (dropped(h))
            ready.push_back(&h);
    });
    {
        std::lock_guard lock(m_inboxMutex);
        for (const Ref<HandleBase> &h : m_inbox)
            if (dropped(*h))
                ready.push_back(h.get());
    }
    std::vector<const TimerHandleBase *> timers;
    m_timers.forEach([&](const TimerHandleBase &h) {
        if (dropped(h))
            timers.push_back(&h);
    });
    if (ready.empty() && timers.empty())
        return;
    // Equal deadlines in the order they were scheduled: ids are handed out in that order.
    std::sort(timers.begin(), timers.end(), [](const TimerHandleBase *a, const TimerHandleBase *b) {
        return a->m_when != b->m_when ? a->m_when < b->m_when : a->m_id < b->m_id;
    });
    // Name the first few; a loop closed with thousands of timers must not flood the handler.
    constexpr std::size_t kNamed = 10;
    QStringList names;
    const auto name = [&](const HandleBase *h) {
        if (std::size_t(names.size()) < kNamed)
            names.append(QString::fromStdString(h->describe()));
    };
    std::for_each(ready.begin(), ready.end(), name);
    std::for_each(timers.begin(), timers.end(), name);
    const std::size_t total = ready.size() + timers.size();
    if (total > kNamed)
        names.append(QStringLiteral("and %1 more").arg(total - kNamed));
    ExceptionContext ctx;
    ctx.message = QStringLiteral("Event loop closed with %1 callback(s) and %2 timer(s) "
                                 "pending: they will never run")
                          .arg(ready.size())
                          .arg(timers.size());
    ctx.handle = names.join(QStringLiteral(", "));
    callExceptionHandler(ctx);
}

// --- tasks ----------------------------------------------------------------------------

void LoopCore::registerTask(TaskCore *task)
{
    task->self()->ref(); // the loop keeps every pending task alive
    task->m_prevPending = m_lastTask;
    task->m_nextPending = nullptr;
    if (m_lastTask)
        m_lastTask->m_nextPending = task;
    else
        m_firstTask = task;
    m_lastTask = task;
}

void LoopCore::unregisterTask(TaskCore *task)
{
    if (task->m_prevPending)
        task->m_prevPending->m_nextPending = task->m_nextPending;
    else
        m_firstTask = task->m_nextPending;
    if (task->m_nextPending)
        task->m_nextPending->m_prevPending = task->m_prevPending;
    else
        m_lastTask = task->m_prevPending;
    task->m_prevPending = task->m_nextPending = nullptr;
    task->self()->deref();
}

std::vector<TaskRef> LoopCore::allTasks() const
{
    std::vector<TaskRef> out;
    for (TaskCore *t = m_firstTask; t; t = t->m_nextPending)
        out.emplace_back(Ref<FutureBase>(t->self()));
    return out;
}

// --- observers ------------------------------------------------------------------------

void LoopCore::timerCancelled(const TimerHandleBase &handle) noexcept
{
    if (observed()) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::TimerCancelled;
        e.handleKind = handle.kind();
        e.id = handle.m_id;
        e.when = handle.m_when;
        emit(e);
    }
    m_timers.noteCancelled();
}

void LoopCore::emit(TraceEvent &event) noexcept
{
    TraceEvent &queued = beginEvent(event.kind);
    queued = std::move(event);
    endEvent(queued);
}

void LoopCore::endEvent(TraceEvent &event, bool sinksHaveIt) noexcept
{
    if (!sinksHaveIt) {
        // Through the tick clock, so that stamps never go back against the ones it gave.
        event.time = m_stampValid ? m_stamp : m_clock->at(m_ticks.now());
        // Sinks first: a breakpoint below may emit (LoopPaused), which comes after this.
        for (RecorderSink *sink : m_sinks) {
            try {
                sink->record(event);
            } catch (...) {
                reportObserverException(event.kind);
            }
        }
    }
    if (m_controlWatching)
        watchControl(event);
    if (&event == &m_scratch) {
        // Only breakpoints or a step watch: nothing is queued.
        if (!m_scratch.text.isNull())
            m_scratch.text = QString();
        return;
    }
    // Handed over at once outside an iteration; inside one, at the next callback's start or
    // the iteration's end (one virtual call per run and observer instead of per event), or
    // here when a callback emits a long run.
    if (!m_inIteration || m_pendingCount >= LoopObserver::kMaxRun)
        dispatchPending();
}

void LoopCore::growPending() noexcept
{
    // Only while a run is handed over and observers keep emitting; a bad_alloc here ends
    // the program, as any in a noexcept emission path would.
    m_pending.resize(std::max<std::size_t>(2 * m_pending.size(), 2 * LoopObserver::kMaxRun));
}

void LoopCore::dispatchPending() noexcept
{
    // An observer that makes the loop emit (pause() from onEvent) queues behind the run
    // being handed over; this loop hands that over next, so every observer sees one order.
    if (m_dispatchActive)
        return;
    m_dispatchActive = true;
    while (m_pendingCount != 0) {
        const std::size_t count = std::exchange(m_pendingCount, 0);
        m_dispatching.swap(m_pending);
        if (m_pending.size() < m_dispatching.size())
            m_pending.resize(m_dispatching.size());
        dispatch(std::span<const TraceEvent>(m_dispatching.data(), count));
        for (std::size_t i = 0; i < count; ++i) {
            if (!m_dispatching[i].text.isNull())
                m_dispatching[i].text = QString();
        }
    }
    m_dispatchActive = false;
}

void LoopCore::reportObserverException(TraceEventKind kind) noexcept
{
    ExceptionContext ctx;
    ctx.message = QStringLiteral("Exception in a loop observer (event %1)")
                          .arg(QLatin1String(traceEventKindName(kind)));
    ctx.exception = std::current_exception();
    callExceptionHandler(ctx);
}

void LoopCore::dispatch(std::span<const TraceEvent> events) noexcept
{
    auto attached = [this](const LoopObserver *observer) {
        return std::find(m_observers.begin(), m_observers.end(), observer) != m_observers.end();
    };
    // Index loop: an observer may remove itself or another one, or add one, while being
    // called. The walk goes on after wherever the called one is now (earlier removals shift
    // it down), or at the same index when it removed itself, so none is skipped.
    for (std::size_t i = 0; i < m_observers.size();) {
        LoopObserver *observer = m_observers[i];
        const EventKinds kinds = observer->kinds();
        if (observer->delivery() == LoopObserver::Delivery::Batched) {
            // The run, or each stretch of it of the observer's kinds.
            std::size_t from = 0;
            while (from < events.size()) {
                while (from < events.size() && !kinds.contains(events[from].kind))
                    ++from;
                std::size_t to = from;
                while (to < events.size() && kinds.contains(events[to].kind))
                    ++to;
                if (from == to)
                    break;
                try {
                    observer->onEvents(events.subspan(from, to - from));
                } catch (...) {
                    reportObserverException(events[from].kind);
                }
                if (!attached(observer))
                    break; // removed while called: nothing more for it
                from = to;
            }
        } else {
            for (const TraceEvent &event : events) {
                if (!kinds.contains(event.kind))
                    continue;
                try {
                    observer->onEvent(event);
                } catch (...) {
                    reportObserverException(event.kind);
                }
                if (!attached(observer))
                    break; // removed while called: nothing more for it
            }
        }
        const auto at = std::find(m_observers.begin(), m_observers.end(), observer);
        if (at != m_observers.end())
            i = std::size_t(at - m_observers.begin()) + 1;
    }
}

void LoopCore::addObserver(LoopObserver *observer)
{
    checkThread("addObserver");
    if (!observer)
        throw ValueError("addObserver: the observer is null");
    if constexpr (!kObserverHooks)
        throw RuntimeError("addObserver: Loopscope was built without observer hooks "
                           "(LOOPSCOPE_OBSERVER_HOOKS=OFF)");
    flushEvents(); // a new observer sees nothing from before it was added
    // Runs are handed over at kMaxRun events: the queues never grow past it but for what
    // observers emit while they are called.
    if (m_pending.empty())
        m_pending.resize(2 * LoopObserver::kMaxRun);
    const bool attached = observer->m_sink
            ? std::find(m_sinks.begin(), m_sinks.end(), observer->m_sink) != m_sinks.end()
            : std::find(m_observers.begin(), m_observers.end(), observer) != m_observers.end();
    if (!attached) {
        if (observer->m_sink)
            m_sinks.push_back(observer->m_sink);
        else
            m_observers.push_back(observer);
        observer->m_loop.store(this, std::memory_order_relaxed);
        observer->m_loopThread.store(QThread::currentThreadId(), std::memory_order_release);
    }
    updateObserved();
}

void LoopCore::removeObserver(LoopObserver *observer)
{
    checkThread("removeObserver");
    flushEvents(); // the leaving observer still sees everything up to now
    const std::size_t removed = !observer ? 0
            : observer->m_sink            ? std::erase(m_sinks, observer->m_sink)
                                          : std::erase(m_observers, observer);
    if (removed != 0 && observer->m_loop.load() == this) {
        observer->m_loopThread.store(nullptr, std::memory_order_release);
        observer->m_loop.store(nullptr, std::memory_order_relaxed);
    }
    updateObserved();
}

// --- errors ---------------------------------------------------------------------------

void LoopCore::callExceptionHandler(const ExceptionContext &context) noexcept
{
    try {
        if (m_exceptionHandler)
            m_exceptionHandler(context);
        else
            EventLoop::defaultExceptionHandler(context);
    } catch (...) {
        // Python logs "Unhandled error in exception handler" and goes on; so do we.
        qWarning("loopscope: unhandled error in exception handler (%s) while reporting: %s",
                 detail::describeException(std::current_exception()).c_str(),
                 qPrintable(context.toString()));
    }
}

// --- free helpers for headers -----------------------------------------------------------

LoopCore *currentLoopCore()
{
    EventLoop *loop = EventLoop::current();
    if (!loop)
        throw RuntimeError("There is no current event loop in this thread");
    return loop->core();
}

LoopCore *loopCoreOf(EventLoop &loop)
{
    return loop.core();
}

void refLoopCore(LoopCore *core) noexcept
{
    core->ref();
}

void derefLoopCore(LoopCore *core) noexcept
{
    core->deref();
}

} // namespace detail

// --- EventLoop ------------------------------------------------------------------------

EventLoop::EventLoop(std::shared_ptr<Clock> clock) : d(new detail::LoopCore(this, std::move(clock)))
{
    d->ref();
    if (!t_threadLoop)
        t_threadLoop = this;
}

EventLoop::~EventLoop()
{
    try {
        close();
    } catch (const std::exception &e) {
        qCritical("loopscope: EventLoop destroyed while running (%s); its callbacks are dropped",
                  e.what());
    }
    if (t_threadLoop == this)
        t_threadLoop = nullptr;
    if (t_currentLoop == this)
        t_currentLoop = nullptr;
    d->detachOwner();
    d->deref();
}

EventLoop *EventLoop::current() noexcept
{
    return t_currentLoop ? t_currentLoop : t_threadLoop;
}

// A fresh handle gets its two references (the returned Handle's and the ready queue's or
// timer heap's) with one plain store: two atomic increments were a tenth of post_chain's
// callSoon. When scheduling throws, both are dropped and the handle is freed.
Handle EventLoop::scheduleSoon(detail::HandleBase *fresh)
{
    using detail::HandleBase;
    fresh->setUnsharedRefs(2);
    Handle handle(detail::Ref<HandleBase>::adopt(fresh));
    d->scheduleSoon(detail::Ref<HandleBase>::adopt(fresh));
    return handle;
}

TimerHandle EventLoop::scheduleAt(TimePoint when, detail::TimerHandleBase *fresh)
{
    using detail::TimerHandleBase;
    fresh->setUnsharedRefs(2);
    TimerHandle handle(detail::Ref<TimerHandleBase>::adopt(fresh));
    d->scheduleAt(when, detail::Ref<TimerHandleBase>::adopt(fresh));
    return handle;
}

Handle EventLoop::scheduleThreadsafe(detail::HandleBase *fresh)
{
    using detail::HandleBase;
    fresh->setUnsharedRefs(2); // published to the loop thread under the inbox lock
    Handle handle(detail::Ref<HandleBase>::adopt(fresh));
    d->scheduleThreadsafe(detail::Ref<HandleBase>::adopt(fresh));
    return handle;
}

TimePoint EventLoop::time() const
{
    return d->now();
}

Clock &EventLoop::clock() const
{
    return d->clock();
}

void EventLoop::runForever()
{
    d->runForever();
}

void EventLoop::stop()
{
    d->stop();
}

bool EventLoop::isRunning() const
{
    return d->isRunning();
}

bool EventLoop::isClosed() const
{
    return d->isClosed();
}

void EventLoop::close()
{
    d->close();
}

void EventLoop::prepareRunUntilComplete(detail::FutureBase &future)
{
    d->checkRunnable();
    if (future.loopCore() != d)
        throw RuntimeError("runUntilComplete: the future belongs to a different event loop");
}

void EventLoop::checkTaskCreation(bool validCoro)
{
    d->checkClosed("createTask");
    if (!validCoro)
        throw RuntimeError("createTask: the coroutine is empty (moved from) or already awaited");
}

std::vector<TaskRef> EventLoop::allTasks() const
{
    return d->allTasks();
}

TaskRef EventLoop::currentTask() const
{
    detail::TaskCore *t = detail::TaskCore::current();
    if (!t || t->self()->loopCore() != d)
        return {};
    return TaskRef(detail::Ref<detail::FutureBase>(t->self()));
}

void EventLoop::submitToExecutor(detail::Ref<detail::ExecutorJob> job)
{
    d->submitToExecutor(std::move(job));
}

void EventLoop::setExecutorMaxThreads(int count)
{
    d->setExecutorMaxThreads(count);
}

int EventLoop::executorMaxThreads() const
{
    return d->executorMaxThreads();
}

void EventLoop::pause()
{
    d->pause();
}

void EventLoop::resume()
{
    d->resume();
}

bool EventLoop::isPaused() const
{
    return d->isPaused();
}

PauseReason EventLoop::pauseReason() const
{
    return d->pauseReason();
}

void EventLoop::step(StepKind kind, std::uint64_t taskId)
{
    d->step(kind, taskId);
}

void EventLoop::addTaskBreakpoint(std::uint64_t taskId)
{
    d->addTaskBreakpoint(taskId);
}

void EventLoop::removeTaskBreakpoint(std::uint64_t taskId)
{
    d->removeTaskBreakpoint(taskId);
}

void EventLoop::setBreakOnTaskFailure(bool enabled)
{
    d->setBreakOnTaskFailure(enabled);
}

void EventLoop::setBreakOnSlowCallback(bool enabled)
{
    d->setBreakOnSlowCallback(enabled);
}

void EventLoop::addObserver(LoopObserver *observer)
{
    d->addObserver(observer);
}

void EventLoop::removeObserver(LoopObserver *observer)
{
    d->removeObserver(observer);
}

void EventLoop::setDebug(bool enabled)
{
    d->setDebug(enabled);
}

bool EventLoop::debug() const
{
    return d->debug();
}

void EventLoop::setIterationBudget(Duration budget)
{
    d->checkThread("setIterationBudget");
    if (budget < Duration::zero())
        throw ValueError("setIterationBudget: the budget must not be negative");
    d->setIterationBudget(budget);
}

Duration EventLoop::iterationBudget() const
{
    return d->iterationBudget();
}

void EventLoop::setSlowCallbackDuration(Duration threshold)
{
    d->setSlowCallbackDuration(threshold);
}

Duration EventLoop::slowCallbackDuration() const
{
    return d->slowCallbackDuration();
}

void EventLoop::setExceptionHandler(ExceptionHandler handler)
{
    d->setExceptionHandler(std::move(handler));
}

void EventLoop::callExceptionHandler(const ExceptionContext &context)
{
    d->callExceptionHandler(context);
}

void EventLoop::defaultExceptionHandler(const ExceptionContext &context)
{
    qWarning("loopscope: %s", qPrintable(context.toString()));
}

} // namespace loopscope
