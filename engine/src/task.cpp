#include "loopscope/task.h"

#include "eventloop_p.h"

#include <QtDebug>

namespace loopscope::detail {

//! What only some tasks need, out of line (see TaskCore).
struct TaskExtras
{
    QString name; //!< the given name (empty: "Task-<id>")
    std::string cancelMessage; //!< of a cancel() still to be thrown in
    std::string sleepCancelMessage; //!< of the cancel() that ended the current sleep
    Duration pendingDelay{}; //!< delay() still to be waited before the next step
    // The ids observers know the current sleep by: its Sleep future and its timer.
    std::uint64_t sleepFutureId = 0;
    std::uint64_t sleepTimerId = 0;
};

namespace {
thread_local TaskCore *t_currentTask = nullptr;
// Only compared and described right after the step returns, while the task is alive.
thread_local TaskCore *t_lastStepped = nullptr;

//! Makes a task current for the duration of one step (Python: _enter_task/_leave_task).
class CurrentTaskScope
{
public:
    explicit CurrentTaskScope(TaskCore *task) : m_previous(std::exchange(t_currentTask, task)) { }
    ~CurrentTaskScope() { t_currentTask = m_previous; }
    CurrentTaskScope(const CurrentTaskScope &) = delete;
    CurrentTaskScope &operator=(const CurrentTaskScope &) = delete;

private:
    TaskCore *m_previous;
};
} // namespace

TaskCore::TaskCore(FutureBase *self, std::coroutine_handle<> root, QString name,
                   SourceLocation location)
    : m_self(self),
      m_id(self->loopCore()->nextTaskId()),
      m_root(root),
      m_resume(root),
      m_location(location)
{
    if (name.isEmpty())
        m_defaultName = true;
    else
        extras().name = std::move(name);
}

TaskExtras &TaskCore::extras()
{
    if (!m_extras) [[unlikely]]
        m_extras = std::make_unique<TaskExtras>();
    return *m_extras;
}

QString TaskCore::name() const
{
    return m_defaultName ? StringTable::defaultTaskName(m_id) : m_extras->name;
}

std::uint64_t TaskCore::sleepFutureId() const noexcept
{
    return m_sleepState != SleepState::None && m_extras ? m_extras->sleepFutureId : 0;
}

TaskCore::~TaskCore()
{
    if (t_lastStepped == this)
        t_lastStepped = nullptr;
    destroyRoot();
}

void TaskCore::destroyRoot() noexcept
{
    if (!m_root)
        return;
    // Forget the frame first: a destructor running inside it may look at the task.
    CoroPromiseCommon *promise = m_self->rootPromise(); // never null while m_root is set
    const std::coroutine_handle<> root = std::exchange(m_root, {});
    m_resume = {};
    if (promise) [[likely]]
        destroyFrame(root, *promise);
}

TaskCore *TaskCore::current() noexcept
{
    return t_currentTask;
}

TaskCore *TaskCore::lastStepped() noexcept
{
    return t_lastStepped;
}

std::string TaskCore::describe() const
{
    std::string s = "<Task #" + std::to_string(id()) + " '" + name().toStdString() + "'";
    switch (m_self->status()) {
    case FutureStatus::Pending:
        if (m_waitingOn)
            s += " waiting on future #" + std::to_string(m_waitingOn->id());
        else if (m_sleepState == SleepState::Armed || m_sleepState == SleepState::Due)
            s += " sleeping";
        else
            s += " pending";
        break;
    case FutureStatus::Finished:
        s += m_self->failed() ? " failed" : " finished";
        break;
    case FutureStatus::Cancelled:
        s += " cancelled";
        break;
    }
    return s + " created at " + describeLocation(m_location) + ">";
}

void TaskCore::start()
{
    LoopCore *loop = m_self->loopCore();
    loop->registerTask(this);
    if (loop->observed()) [[unlikely]]
        traceCreated();
    scheduleStep();
}

void TaskCore::traceCreated() noexcept
{
    TraceEvent e;
    e.kind = TraceEventKind::TaskCreated;
    e.id = m_id;
    e.related = m_self->id();
    e.parent = t_currentTask ? t_currentTask->id() : 0;
    e.location = m_location;
    e.text = name();
    m_self->loopCore()->emit(e);
}

void TaskCore::setName(QString name)
{
    extras().name = std::move(name);
    m_defaultName = false;
    LoopCore *loop = m_self->loopCore();
    if (loop->observed()) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::TaskRenamed;
        e.id = m_id;
        e.text = m_extras->name;
        loop->emit(e);
    }
}

void TaskCore::scheduleStep()
{
    Ref<FutureBase> self(m_self);
    // self keeps the task (and so this TaskCore) alive until the step has run.
    auto run = [self, core = this] {
        (void)self;
        core->step();
    };
    auto *h =
            new TaskCallbackHandle<decltype(run)>(HandleKind::TaskStep, m_location, std::move(run));
    h->m_task = m_id;
    m_self->loopCore()->scheduleSoon(Ref<HandleBase>(h));
}

void TaskCore::traceDone(bool abandoned) noexcept
{
    if (m_self->loopCore()->observed()) [[unlikely]]
        emitDone(abandoned);
}

void TaskCore::emitDone(bool abandoned) noexcept
{
    LoopCore *loop = m_self->loopCore();
    TraceEvent e;
    e.kind = TraceEventKind::TaskDone;
    e.id = m_id;
    e.related = m_self->id();
    if (m_self->cancelled()) {
        // An abandoned task's future is cancelled too, with the loop's message.
        e.status = abandoned ? DoneStatus::Abandoned : DoneStatus::Cancelled;
        e.text = QString::fromStdString(m_self->cancelMessage());
    } else if (m_self->failed()) {
        e.status = DoneStatus::Failed;
        // Read through the state without marking the exception retrieved.
        e.text = QString::fromStdString(describeException(m_self->peekException()));
    }
    loop->emit(e);
}

bool TaskCore::cancel(std::string message)
{
    if (m_self->done())
        return false;
    ++m_cancelRequests;
    // Pass the cancellation on to what we wait for; our wake-up then finds it cancelled and
    // the awaiter throws CancelledError at the suspension point. In an await cycle (a
    // deadlock: A awaits B, which awaits A) that comes back here: passing it on again
    // recursed until the stack overflowed (Python raises RecursionError). The request stops
    // at the task it came back to, for its next resumption, which a deadlock never brings;
    // close() destroys such tasks.
    if (m_waitingOn && !m_passingCancel) {
        m_passingCancel = true;
        const bool passed = m_waitingOn->cancel(message);
        m_passingCancel = false;
        if (passed)
            return true;
    } else if (m_sleepState == SleepState::Armed || m_sleepState == SleepState::Due) {
        // What cancelling the sleep future did: it ends the sleep, and the wake-up throws.
        cancelSleep(std::move(message));
        return true;
    }
    // Nothing to pass it to (ready to run, or waiting on something that cannot be
    // cancelled, or already woken): throw it in at the next resumption.
    m_mustCancel = true;
    extras().cancelMessage = std::move(message);
    return true;
}

bool TaskCore::delay(Duration delay)
{
    if (delay < Duration::zero())
        throw ValueError("Task.delay: the delay must not be negative (got "
                         + std::to_string(delay.count()) + " ns) for " + describe());
    if (m_self->done())
        return false;
    extras().pendingDelay += delay;
    return true;
}

bool TaskCore::delayStep()
{
    const Duration delay = std::exchange(m_extras->pendingDelay, Duration::zero());
    // A pending cancellation wins: the step runs at once and delivers it.
    if (delay <= Duration::zero() || m_mustCancel)
        return false;
    LoopCore *loop = m_self->loopCore();
    Ref<FutureBase> done(new FutureState<void>(loop, FutureKind::Sleep));
    ++m_steps;
    const bool traced = loop->observed();
    if (traced) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::TaskStepBegin;
        e.id = m_id;
        e.count = m_steps;
        loop->emit(e);
    }
    auto fire = [done] {
        if (!done->done())
            static_cast<FutureState<void> *>(done.get())->setResult({});
    };
    Ref<TimerHandleBase> timer(new TimerCallbackHandle<decltype(fire)>(
            HandleKind::CallLater, m_location, std::move(fire)));
    {
        CurrentTaskScope scope(this); // the timer is named after this task
        loop->scheduleAt(loop->now() + delay, timer);
    }
    m_waitingOn = done;
    Ref<FutureBase> self(m_self);
    done->addDoneCallback(
            [self, task = this, timer](FutureBase &awaited) {
                LoopCore *wakeLoop = self->loopCore();
                if (wakeLoop->observed()) [[unlikely]] {
                    TraceEvent e;
                    e.kind = TraceEventKind::Wakeup;
                    e.id = task->id();
                    e.related = awaited.id();
                    e.futureKind = awaited.kind();
                    wakeLoop->emit(e);
                }
                if (awaited.cancelled()) {
                    // cancel() reached the delay: deliver it at the task's suspension point.
                    timer->cancel();
                    task->m_mustCancel = true;
                    task->extras().cancelMessage = awaited.cancelMessage();
                }
                task->step();
            },
            nullptr, HandleKind::TaskStep, m_location, m_id);
    if (traced) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::TaskStepEnd;
        e.id = m_id;
        e.count = m_steps;
        e.related = done->id();
        e.futureKind = FutureKind::Sleep;
        loop->stepEnded(); // stamps the event
        loop->emit(e);
    }
    return true;
}

int TaskCore::uncancel() noexcept
{
    if (m_cancelRequests > 0)
        --m_cancelRequests;
    if (m_cancelRequests == 0)
        m_mustCancel = false;
    return m_cancelRequests;
}

std::string TaskCore::takeCancelMessage()
{
    return m_extras ? std::exchange(m_extras->cancelMessage, {}) : std::string();
}

bool TaskCore::consumeThrowCancel() noexcept
{
    return std::exchange(m_throwCancel, false);
}

std::chrono::steady_clock::time_point TaskCore::traceStepBegin() noexcept
{
    LoopCore *loop = m_self->loopCore();
    const auto started = loop->callbackStarted();
    loop->traceStep(TraceEventKind::TaskStepBegin, m_id, m_steps);
    return started;
}

void TaskCore::traceStepEnd(std::chrono::steady_clock::time_point started, bool yielded) noexcept
{
    LoopCore *loop = m_self->loopCore();
    const auto finished = loop->stepEnded();
    std::uint64_t awaited = 0;
    FutureKind awaitedKind = FutureKind::Plain;
    if (m_waitingOn && !m_root.done()) {
        awaited = m_waitingOn->id();
        awaitedKind = m_waitingOn->kind();
    } else if (m_sleepState == SleepState::Armed && !m_root.done()) {
        awaited = sleepIds().sleepFutureId;
        awaitedKind = FutureKind::Sleep;
    }
    // yielded: its next step is already scheduled.
    loop->traceStep(TraceEventKind::TaskStepEnd, m_id, m_steps, finished - started, awaited,
                    awaitedKind, yielded);
}

void TaskCore::step()
{
    if (m_self->done())
        return;
    Ref<FutureBase> keepAlive(m_self);
    m_waitingOn.reset();
    if (m_extras && m_extras->pendingDelay > Duration::zero() && delayStep()) [[unlikely]]
        return;
    const bool throwCancel = std::exchange(m_mustCancel, false);
    if (throwCancel && !m_started) {
        // Cancelled before its first step: Python throws CancelledError in before the first
        // line runs, which leaves the coroutine at once. Same outcome, without resuming.
        m_self->completeTask(true);
        destroyRoot();
        traceDone();
        m_self->loopCore()->unregisterTask(this);
        return;
    }
    m_started = true;
    m_throwCancel = throwCancel;
    ++m_steps;
    const bool traced = m_self->loopCore()->observed();
    std::chrono::steady_clock::time_point started;
    if (traced) [[unlikely]]
        started = traceStepBegin();
    std::coroutine_handle<> h = std::exchange(m_resume, {});
    {
        CurrentTaskScope scope(this);
        t_lastStepped = this;
        h.resume(); // never throws: Coro promises catch into unhandled_exception
    }
    m_throwCancel = false;
    const bool yielded = std::exchange(m_yielded, false);
    if (traced) [[unlikely]]
        traceStepEnd(started, yielded);
    if (m_root.done()) {
        finish();
        return;
    }
    if (m_mustCancel && m_waitingOn) {
        // cancel() was called during this step, before the task suspended (Python: the
        // must_cancel check after a yielded future).
        if (m_waitingOn->cancel(m_extras->cancelMessage))
            m_mustCancel = false;
    } else if (m_mustCancel && m_sleepState == SleepState::Armed) {
        cancelSleep(m_extras->cancelMessage);
        m_mustCancel = false;
    }
}

void TaskCore::finish()
{
    const bool mustCancel = std::exchange(m_mustCancel, false);
    m_self->completeTask(mustCancel);
    destroyRoot();
    traceDone();
    m_self->loopCore()->unregisterTask(this);
}

void TaskCore::suspendOn(FutureBase &future, std::coroutine_handle<> h)
{
    if (&future == m_self)
        throw RuntimeError("Task cannot await on itself: " + describe());
    if (future.loopCore() != m_self->loopCore())
        throw RuntimeError(describe() + " got " + future.describe()
                           + " attached to a different event loop");
    m_waitingOn = Ref<FutureBase>(&future);
    m_resume = h;
    Ref<FutureBase> self(m_self);
    future.addDoneCallback(
            [self, task = this](FutureBase &awaited) {
                LoopCore *loop = self->loopCore();
                if (loop->observed()) [[unlikely]] {
                    TraceEvent e;
                    e.kind = TraceEventKind::Wakeup;
                    e.id = task->id();
                    e.related = awaited.id();
                    e.futureKind = awaited.kind();
                    loop->emit(e);
                }
                // Python's __wakeup: the awaited future is done, run the next step now
                // (this callback itself went through the ready queue).
                task->step();
            },
            nullptr, HandleKind::TaskStep, m_location, m_id);
}

void TaskCore::yieldStep(std::coroutine_handle<> h)
{
    m_resume = h;
    m_yielded = true;
    scheduleStep();
}

TaskExtras &TaskCore::sleepIds()
{
    TaskExtras &x = extras();
    LoopCore *loop = m_self->loopCore();
    if (!x.sleepFutureId)
        x.sleepFutureId = loop->nextFutureId();
    if (!x.sleepTimerId)
        x.sleepTimerId = loop->nextHandleId();
    return x;
}

void TaskCore::sleepFor(Duration delay, std::coroutine_handle<> h)
{
    LoopCore *loop = m_self->loopCore();
    loop->checkClosed("sleep"); // before observers hear of a sleep that cannot be
    const TimePoint when = loop->now() + delay;
    std::uint64_t timerId = 0;
    if (loop->observed()) [[unlikely]] {
        // What the Sleep future, its timer and the task's done-callback on it used to
        // report, in the same order, by ids that have no object behind them.
        const TaskExtras &ids = sleepIds();
        timerId = ids.sleepTimerId;
        TraceEvent e;
        e.kind = TraceEventKind::FutureCreated;
        e.futureKind = FutureKind::Sleep;
        e.id = ids.sleepFutureId;
        e.task = m_id;
        loop->emit(e);
    }
    loop->scheduleTaskTimer(when, this, timerId);
    m_resume = h;
    m_sleepState = SleepState::Armed;
    if (loop->observed()) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::DoneCallbackAdded;
        e.futureKind = FutureKind::Sleep;
        e.handleKind = HandleKind::TaskStep;
        e.id = m_extras->sleepFutureId;
        e.related = 1; // the sleep future's first (and only) callback
        e.task = m_id;
        e.location = m_location;
        loop->emit(e);
    }
}

Ref<TimerHandleBase> TaskCore::sleepTimerDue(TimePoint when)
{
    m_sleepState = SleepState::Due;
    // The handle holds the task: cancel() may end the sleep before the handle runs, and
    // the task may finish meanwhile.
    Ref<FutureBase> self(m_self);
    auto fire = [self, task = this] {
        (void)self;
        task->sleepTimerFired();
    };
    Ref<TimerHandleBase> h(new TimerCallbackHandle<decltype(fire)>(HandleKind::CallLater,
                                                                   m_location, std::move(fire)));
    h->m_when = when;
    const std::uint64_t known = m_extras ? m_extras->sleepTimerId : 0;
    h->m_id = known ? known : m_self->loopCore()->nextHandleId();
    return h;
}

void TaskCore::sleepTimerFired()
{
    if (m_sleepState != SleepState::Due)
        return; // cancel() came first (Python: _set_result_unless_cancelled)
    m_sleepState = SleepState::Woken;
    LoopCore *loop = m_self->loopCore();
    if (loop->observed()) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::FutureDone;
        e.futureKind = FutureKind::Sleep;
        e.id = sleepIds().sleepFutureId;
        e.task = t_currentTask ? t_currentTask->id() : 0;
        e.related = loop->runningHandleId();
        loop->emit(e);
    }
    scheduleSleepWakeup();
}

void TaskCore::cancelSleep(std::string message)
{
    LoopCore *loop = m_self->loopCore();
    if (m_sleepState == SleepState::Armed)
        loop->cancelTaskTimer(this, m_extras ? m_extras->sleepTimerId : 0);
    // Due: the timer's handle is queued already and will find the sleep over.
    m_sleepState = SleepState::Cancelled;
    if (loop->observed()) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::FutureCancelled;
        e.futureKind = FutureKind::Sleep;
        e.id = sleepIds().sleepFutureId;
        e.task = t_currentTask ? t_currentTask->id() : 0;
        e.related = loop->runningHandleId();
        e.text = QString::fromStdString(message);
        loop->emit(e);
    }
    extras().sleepCancelMessage = std::move(message);
    scheduleSleepWakeup();
}

void TaskCore::scheduleSleepWakeup()
{
    Ref<FutureBase> self(m_self);
    auto wake = [self, task = this] {
        LoopCore *loop = self->loopCore();
        if (loop->observed()) [[unlikely]] {
            TraceEvent e;
            e.kind = TraceEventKind::Wakeup;
            e.id = task->id();
            e.related = task->sleepIds().sleepFutureId;
            e.futureKind = FutureKind::Sleep;
            loop->emit(e);
        }
        if (task->m_extras) {
            // The next sleep gets ids of its own.
            task->m_extras->sleepFutureId = 0;
            task->m_extras->sleepTimerId = 0;
        }
        task->step();
    };
    auto *h = new TaskCallbackHandle<decltype(wake)>(HandleKind::TaskStep, m_location,
                                                     std::move(wake));
    h->m_task = m_id;
    m_self->loopCore()->scheduleSoon(Ref<HandleBase>(h));
}

void TaskCore::endSleep()
{
    const SleepState state = std::exchange(m_sleepState, SleepState::None);
    checkCancelledOnResume(); // a cancel() after the wake-up was queued wins, as it did
    if (state == SleepState::Cancelled)
        throw CancelledError(std::exchange(m_extras->sleepCancelMessage, {}));
}

void TaskCore::abandon() noexcept
{
    Ref<FutureBase> keepAlive(m_self);
    m_waitingOn.reset();
    if (m_sleepState == SleepState::Armed) {
        // The frame is destroyed, never resumed: its timer goes (TimerCancelled, as when a
        // sleep's frame unwinds), and the heap must not name a task that may die now.
        m_self->loopCore()->cancelTaskTimer(this, m_extras ? m_extras->sleepTimerId : 0);
    }
    m_sleepState = SleepState::None;
    destroyRoot();
    m_self->abandon("the event loop was closed while the task was pending");
    traceDone(true);
    m_self->loopCore()->unregisterTask(this);
}

} // namespace loopscope::detail

namespace loopscope {

TaskRef currentTask()
{
    detail::TaskCore *t = detail::TaskCore::current();
    return t ? TaskRef(detail::Ref<detail::FutureBase>(t->self())) : TaskRef();
}

} // namespace loopscope

namespace loopscope::detail {

void suspendOnFuture(FutureBase &future, std::coroutine_handle<> h)
{
    if (TaskCore *task = TaskCore::current()) {
        task->suspendOn(future, h);
        return;
    }
    // Awaited outside of any task (e.g. from a coroutine resumed by Qt code): resume through
    // the ready queue once the future is done.
    suspendForeignOnFuture(future, h);
}

void suspendForeignOnFuture(FutureBase &future, std::coroutine_handle<> h)
{
    future.addDoneCallback([h](FutureBase &) { h.resume(); }, nullptr, HandleKind::DoneCallback,
                           SourceLocation::current());
}

void reportNeverAwaited(const SourceLocation &location) noexcept
{
    EventLoop *loop = EventLoop::current();
    if (!loop || !loop->debug())
        return;
    try {
        ExceptionContext ctx;
        ctx.message = QStringLiteral("coroutine '%1' was never awaited (defined at %2)")
                              .arg(QString::fromUtf8(location.functionName()),
                                   QString::fromStdString(describeLocation(location)));
        loop->callExceptionHandler(ctx);
    } catch (...) {
        qWarning("loopscope: could not report a coroutine that was never awaited");
    }
}

void reportFrameDestructorException(const SourceLocation &location,
                                    std::exception_ptr error) noexcept
{
    try {
        ExceptionContext ctx;
        ctx.message = QStringLiteral("Exception in a destructor while the frame of coroutine '%1' "
                                     "(defined at %2) was destroyed; the frame is freed")
                              .arg(QString::fromUtf8(location.functionName()),
                                   QString::fromStdString(describeLocation(location)));
        ctx.exception = std::move(error);
        if (EventLoop *loop = EventLoop::current())
            loop->callExceptionHandler(ctx);
        else
            EventLoop::defaultExceptionHandler(ctx);
    } catch (...) {
        qWarning("loopscope: could not report an exception from a coroutine frame's destructor");
    }
}

void checkCancelledOnResume()
{
    TaskCore *task = TaskCore::current();
    if (task && task->consumeThrowCancel())
        throw CancelledError(task->takeCancelMessage());
}

void yieldTask(std::coroutine_handle<> h)
{
    if (TaskCore *task = TaskCore::current()) {
        task->yieldStep(h);
        return;
    }
    yieldForeign(h);
}

void yieldForeign(std::coroutine_handle<> h)
{
    EventLoop *loop = EventLoop::current();
    if (!loop)
        throw RuntimeError("sleep(0) outside of a task needs a current event loop");
    loop->callSoon([h] { h.resume(); });
}

} // namespace loopscope::detail
