#include "loopscope/future.h"

#include "eventloop_p.h"

#include <QtDebug>

#include <algorithm>

namespace loopscope::detail {

namespace {
// Callback ids only have to be unique per future; one counter per thread (futures are used
// from their loop's thread) saves every future a counter of its own.
thread_local CallbackId t_lastCallbackId = 0;

template <typename X, typename... Args>
X *makePooled(Args &&...args)
{
    return ::new (poolAllocate(sizeof(X))) X(std::forward<Args>(args)...);
}

const std::string kNoMessage;
} // namespace

FutureBase::FutureBase(LoopCore *loop, FutureKind kind)
    : m_kind(kind), m_loop(loop), m_id(loop->nextFutureId())
{
    refLoopCore(m_loop);
    if (m_kind == FutureKind::Foreign)
        m_loop->foreignStarted();
    if (m_loop->observed()) [[unlikely]]
        traceCreated();
}

void FutureBase::traceCreated() noexcept
{
    TraceEvent e;
    e.kind = TraceEventKind::FutureCreated;
    e.futureKind = m_kind;
    e.id = m_id;
    e.task = TaskCore::current() ? TaskCore::current()->id() : 0;
    m_loop->emit(e);
}

FutureBase::CallbackList &FutureBase::callbacks()
{
    if (!m_callbacks)
        m_callbacks.reset(makePooled<CallbackList>());
    return *m_callbacks;
}

const std::string &FutureBase::cancelMessage() const noexcept
{
    return m_cancelMessage ? *m_cancelMessage : kNoMessage;
}

void FutureBase::traceCompletion(TraceEventKind kind) noexcept
{
    if (!m_loop->observed()) [[likely]]
        return;
    TraceEvent e;
    e.kind = kind;
    e.futureKind = m_kind;
    e.id = m_id;
    // Who completed it: the running task (if any) and the running callback.
    e.task = TaskCore::current() ? TaskCore::current()->id() : 0;
    e.related = m_loop->runningHandleId();
    if (kind == TraceEventKind::FutureCancelled)
        e.text = QString::fromStdString(cancelMessage());
    else if (kind == TraceEventKind::FutureFailed)
        e.text = QString::fromStdString(describeException(m_exception));
    m_loop->emit(e);
}

void FutureBase::leavePending(FutureStatus status) noexcept
{
    m_status = status;
    if (m_kind == FutureKind::Foreign)
        m_loop->foreignSettled();
}

FutureBase::~FutureBase()
{
    if (m_status == FutureStatus::Pending && m_kind == FutureKind::Foreign)
        m_loop->foreignSettled();
    if (m_exceptionNotRetrieved) [[unlikely]]
        reportIfNeverRetrieved(describe(), 0);
    derefLoopCore(m_loop);
}

void FutureBase::reportIfNeverRetrieved(const std::string &description,
                                        std::uint64_t taskId) noexcept
{
    if (!m_exceptionNotRetrieved)
        return;
    m_exceptionNotRetrieved = false;
    const bool isTask = taskId != 0;
    // Observers live on the loop thread; a future dropped elsewhere is only reported.
    if (m_loop->observed() && m_loop->onLoopThread()) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::ExceptionNeverRetrieved;
        e.futureKind = m_kind;
        e.id = m_id;
        e.related = taskId;
        e.text = QString::fromStdString(describeException(m_exception));
        m_loop->emit(e);
    }
    // Python logs "Future exception was never retrieved" from __del__; same here.
    try {
        ExceptionContext ctx;
        ctx.exception = m_exception;
        if (isTask) {
            ctx.message = QStringLiteral("Task exception was never retrieved");
            ctx.task = QString::fromStdString(description);
        } else {
            ctx.message = QStringLiteral("Future exception was never retrieved");
            ctx.future = QString::fromStdString(description);
        }
        m_loop->callExceptionHandler(ctx);
    } catch (...) {
        qWarning("loopscope: could not report a never-retrieved exception");
    }
}

std::string FutureBase::describe() const
{
    std::string s = "<Future #" + std::to_string(m_id);
    switch (m_status) {
    case FutureStatus::Pending:
        s += " pending";
        break;
    case FutureStatus::Finished:
        s += m_exception ? " failed: " + describeException(m_exception) : " finished";
        break;
    case FutureStatus::Cancelled:
        s += " cancelled";
        break;
    }
    return s + ">";
}

void FutureBase::completeTask(bool) { }

void FutureBase::ensurePending(const char *operation) const
{
    if (m_status != FutureStatus::Pending)
        throw InvalidStateError(std::string(operation) + ": invalid state, " + describe()
                                + " is already done");
}

bool FutureBase::cancel(std::string message)
{
    return cancelFuture(std::move(message));
}

bool FutureBase::cancelFuture(std::string message)
{
    if (m_status != FutureStatus::Pending)
        return false;
    leavePending(FutureStatus::Cancelled);
    if (!message.empty())
        m_cancelMessage.reset(makePooled<std::string>(std::move(message)));
    traceCompletion(TraceEventKind::FutureCancelled);
    scheduleCallbacks();
    return true;
}

void FutureBase::markFinished()
{
    leavePending(FutureStatus::Finished);
    traceCompletion(TraceEventKind::FutureDone);
    scheduleCallbacks();
}

void FutureBase::throwIfNotSuccessful()
{
    switch (m_status) {
    case FutureStatus::Pending:
        throw InvalidStateError("Result is not ready: " + describe() + " is still pending");
    case FutureStatus::Cancelled:
        throw CancelledError(cancelMessage());
    case FutureStatus::Finished:
        break;
    }
    m_exceptionNotRetrieved = false;
    if (m_exception)
        std::rethrow_exception(m_exception);
}

std::exception_ptr FutureBase::exception()
{
    switch (m_status) {
    case FutureStatus::Pending:
        throw InvalidStateError("Exception is not set: " + describe() + " is still pending");
    case FutureStatus::Cancelled:
        throw CancelledError(cancelMessage());
    case FutureStatus::Finished:
        break;
    }
    m_exceptionNotRetrieved = false;
    return m_exception;
}

void FutureBase::setException(std::exception_ptr exception)
{
    ensurePending("setException");
    if (!exception)
        throw InvalidStateError("setException: the exception is null");
    m_exception = std::move(exception);
    m_exceptionNotRetrieved = true;
    leavePending(FutureStatus::Finished);
    traceCompletion(TraceEventKind::FutureFailed);
    scheduleCallbacks();
}

CallbackId FutureBase::addDoneCallback(Callback fn, const void *identity, HandleKind kind,
                                       SourceLocation location, std::uint64_t taskId)
{
    const CallbackId id = ++t_lastCallbackId;
    if (m_loop->observed()) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::DoneCallbackAdded;
        e.futureKind = m_kind;
        e.handleKind = kind;
        e.id = m_id;
        e.related = id;
        e.task = TaskCore::current() ? TaskCore::current()->id() : 0;
        e.location = location;
        m_loop->emit(e);
    }
    if (done()) {
        // Python: add_done_callback on a done future schedules the call at once.
        Ref<FutureBase> self(this);
        auto run = [self, fn = std::move(fn)]() mutable { fn(*self); };
        auto *h = new TaskCallbackHandle<decltype(run)>(kind, location, std::move(run));
        h->m_task = taskId;
        m_loop->scheduleSoon(Ref<HandleBase>(h));
        return id;
    }
    callbacks().push_back(Entry{ id, identity, std::move(fn), kind, location, taskId });
    return id;
}

std::size_t FutureBase::removeDoneCallback(CallbackId id)
{
    if (!m_callbacks)
        return 0;
    return std::erase_if(*m_callbacks, [id](const Entry &e) { return e.id == id; });
}

std::size_t FutureBase::removeDoneCallbackByIdentity(const void *identity)
{
    if (!identity || !m_callbacks)
        return 0;
    return std::erase_if(*m_callbacks,
                         [identity](const Entry &e) { return e.identity == identity; });
}

void FutureBase::scheduleCallbacks()
{
    if (!m_callbacks || m_callbacks->empty())
        return;
    CallbackList callbacks;
    callbacks.swap(*m_callbacks);
    if (m_loop->isClosed()) {
        // Nothing can run them any more; say so instead of dropping them silently.
        ExceptionContext ctx;
        ctx.message = QStringLiteral("%1 done-callback(s) dropped: the event loop is closed")
                              .arg(callbacks.size());
        ctx.future = QString::fromStdString(describe());
        m_loop->callExceptionHandler(ctx);
        return;
    }
    Ref<FutureBase> self(this);
    for (Entry &e : callbacks) {
        auto run = [self, fn = std::move(e.fn)]() mutable { fn(*self); };
        auto *h = new TaskCallbackHandle<decltype(run)>(e.kind, e.location, std::move(run));
        h->m_task = e.task;
        m_loop->scheduleSoon(Ref<HandleBase>(h));
    }
}

void FutureBase::abandon(std::string message) noexcept
{
    if (m_status != FutureStatus::Pending)
        return;
    leavePending(FutureStatus::Cancelled);
    if (!message.empty())
        m_cancelMessage.reset(makePooled<std::string>(std::move(message)));
    if (m_callbacks)
        m_callbacks->clear();
}

} // namespace loopscope::detail
