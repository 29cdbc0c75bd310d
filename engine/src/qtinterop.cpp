#include "loopscope/qtinterop.h"

#include "eventloop_p.h"

#include <QMetaObject>
#include <QThread>
#include <QTimer>
#include <QtDebug>

#include <algorithm>
#include <chrono>
#include <memory>

namespace loopscope::detail {

bool onLoopThread(const FutureBase &future) noexcept
{
    return QThread::currentThread() == future.loopCore()->thread();
}

bool canSettle(const FutureBase &future) noexcept
{
    return !future.done() && !future.loopCore()->isClosed();
}

void postToLoop(const FutureBase &future, Ref<HandleBase> handle) noexcept
{
    try {
        future.loopCore()->scheduleThreadsafe(std::move(handle));
    } catch (...) {
        // The loop is closed: nothing will ever await this future again, and the handler is
        // the loop thread's business, so only say it here.
        qWarning("loopscope: a Qt operation completed on another thread after its event loop "
                 "was closed; its outcome is dropped");
    }
}

void reportLateException(FutureBase &future, std::exception_ptr exception,
                         const char *source) noexcept
{
    try {
        const QString what = QString::fromLatin1(source);
        ExceptionContext ctx;
        if (future.cancelled())
            ctx.message = QStringLiteral("%1: the operation failed after the Future awaiting it "
                                         "was cancelled; nobody can retrieve this exception")
                                  .arg(what);
        else if (future.done())
            ctx.message = QStringLiteral("%1: the operation failed after its Future was "
                                         "already done; nobody can retrieve this exception")
                                  .arg(what);
        else
            ctx.message = QStringLiteral("%1: the operation failed after the event loop was "
                                         "closed")
                                  .arg(what);
        ctx.exception = std::move(exception);
        ctx.future = QString::fromStdString(future.describe());
        future.loopCore()->callExceptionHandler(ctx);
    } catch (...) {
        qWarning("loopscope: could not report a late exception from %s", source);
    }
}

void checkNoForeignSuspension(const char *operation)
{
    const TaskCore *task = TaskCore::current();
    // A step starts with waitingOn() cleared and not sleeping, and ends as soon as the task's
    // own coroutine suspends, so during a step either is set only if some other coroutine
    // suspended on the task's behalf (an engine Coro called from a QCoro coroutine: it
    // parks the task, not the QCoro frame).
    if (!task || (!task->waitingOn() && !task->sleeping()))
        return;
    const std::string on = task->waitingOn() ? task->waitingOn()->describe() : "a sleep()";
    throw RuntimeError(std::string(operation) + ": in " + task->describe()
                       + ", a coroutine that is not the task's own (a QCoro coroutine called "
                         "inside the task?) already suspended on "
                       + on
                       + "; the task would later resume at the wrong place. Start such a QCoro "
                         "coroutine with startQCoro() instead.");
}

void checkContext(const QObject *context, const char *operation)
{
    if (!context)
        throw RuntimeError(std::string(operation) + ": the context object is null");
    if (context->thread() != QThread::currentThread())
        throw RuntimeError(std::string(operation)
                           + ": the context object lives in another thread than the event loop");
}

void checkSender(const QObject *sender, const char *operation)
{
    if (!sender)
        throw RuntimeError(std::string(operation) + ": the object is null");
}

// --- SignalWaiter -----------------------------------------------------------------------------

SignalWaiter::SignalWaiter(Ref<FutureBase> future, std::optional<Duration> timeout,
                           const char *operation, SourceLocation location)
    : m_future(std::move(future)), m_operation(operation)
{
    LoopCore *loop = m_future->loopCore();
    if (timeout) {
        m_timeout = std::max(*timeout, Duration::zero());
        // The timer callback and the done-callback below hold only QPointers: the waiter
        // owns the future and the timer handle, never the other way round, so a wait that
        // never ends (loop closed, sender immortal) leaves no reference cycle behind.
        auto fire = [self = QPointer<SignalWaiter>(this)] {
            if (self)
                self->timedOut();
        };
        m_timer = Ref<TimerHandleBase>(new TimerCallbackHandle<decltype(fire)>(
                HandleKind::CallLater, location, std::move(fire)));
        loop->scheduleAt(loop->now() + m_timeout, m_timer);
    }
    // Done from outside (the awaiting task was cancelled): stop listening at once.
    m_future->addDoneCallback(
            [self = QPointer<SignalWaiter>(this)](FutureBase &) { delete self.data(); }, nullptr,
            HandleKind::DoneCallback, location);
}

SignalWaiter::~SignalWaiter()
{
    if (m_timer)
        m_timer->cancel();
}

void SignalWaiter::watchSender(const QObject *sender)
{
    connect(sender, &QObject::destroyed, this, [this] {
        fail(std::make_exception_ptr(RuntimeError(
                std::string(m_operation) + ": the object was destroyed before it emitted")));
    });
}

bool SignalWaiter::mayDeliver() const noexcept
{
    return canSettle(*m_future);
}

void SignalWaiter::fail(std::exception_ptr exception)
{
    if (mayDeliver())
        m_future->setException(std::move(exception));
    delete this;
}

void SignalWaiter::timedOut()
{
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(m_timeout).count();
    fail(std::make_exception_ptr(TimeoutError(std::string(m_operation) + ": nothing within "
                                              + std::to_string(ms) + " ms")));
}

} // namespace loopscope::detail

namespace loopscope {

namespace {

template <typename T>
Future<T> failedFuture(const char *operation, const QString &error)
{
    Future<T> future = detail::foreignFuture<T>(operation);
    future.setException(RuntimeError(std::string(operation) + ": " + error.toStdString()));
    return future;
}

template <typename T, typename... V>
Future<T> doneFuture(const char *operation, V &&...value)
{
    Future<T> future = detail::foreignFuture<T>(operation);
    future.setResult(std::forward<V>(value)...);
    return future;
}

} // namespace

Future<void> waitForTimeout(QTimer *timer, std::optional<Duration> timeout, SourceLocation location)
{
    detail::checkSender(timer, "waitForTimeout");
    if (!timer->isActive())
        return doneFuture<void>("waitForTimeout");
    return detail::waitForSignalNamed(timer, &QTimer::timeout, timeout, "waitForTimeout", location);
}

Future<void> waitForStarted(QProcess *process, std::optional<Duration> timeout,
                            SourceLocation location)
{
    using Waiter = detail::SignalWaiterFor<void>;
    detail::checkSender(process, "waitForStarted");
    if (process->state() == QProcess::Running)
        return doneFuture<void>("waitForStarted");
    if (process->state() == QProcess::NotRunning && process->error() == QProcess::FailedToStart)
        return failedFuture<void>("waitForStarted", process->errorString());
    Future<void> future = detail::foreignFuture<void>("waitForStarted");
    auto *waiter = new Waiter(future.state(), timeout, "waitForStarted", location);
    QObject::connect(process, &QProcess::started, waiter, [waiter] { waiter->deliver(); });
    QObject::connect(process, &QProcess::errorOccurred, waiter,
                     [waiter, process](QProcess::ProcessError error) {
                         if (error == QProcess::FailedToStart)
                             waiter->fail(std::make_exception_ptr(RuntimeError(
                                     "waitForStarted: " + process->errorString().toStdString())));
                     });
    waiter->watchSender(process);
    return future;
}

Future<std::tuple<int, QProcess::ExitStatus>>
waitForFinished(QProcess *process, std::optional<Duration> timeout, SourceLocation location)
{
    using R = std::tuple<int, QProcess::ExitStatus>;
    using Waiter = detail::SignalWaiterFor<R>;
    detail::checkSender(process, "waitForFinished");
    if (process->state() == QProcess::NotRunning) {
        if (process->error() == QProcess::FailedToStart)
            return failedFuture<R>("waitForFinished", process->errorString());
        return doneFuture<R>("waitForFinished", R(process->exitCode(), process->exitStatus()));
    }
    Future<R> future = detail::foreignFuture<R>("waitForFinished");
    auto *waiter = new Waiter(future.state(), timeout, "waitForFinished", location);
    QObject::connect(process, &QProcess::finished, waiter,
                     [waiter](int exitCode, QProcess::ExitStatus status) {
                         waiter->deliver(exitCode, status);
                     });
    QObject::connect(process, &QProcess::errorOccurred, waiter,
                     [waiter, process](QProcess::ProcessError error) {
                         if (error == QProcess::FailedToStart)
                             waiter->fail(std::make_exception_ptr(RuntimeError(
                                     "waitForFinished: " + process->errorString().toStdString())));
                     });
    waiter->watchSender(process);
    return future;
}

void bindTo(QObject *context, const TaskRef &task, SourceLocation location)
{
    detail::checkContext(context, "bindTo");
    if (!task.isValid())
        throw RuntimeError("bindTo: the task reference is empty");
    if (task.done())
        return;
    // Named now: by the time destroyed() is emitted the object is only a QObject any more.
    std::string message = std::string("the context object ") + context->metaObject()->className();
    if (!context->objectName().isEmpty())
        message += " '" + context->objectName().toStdString() + "'";
    message += " was destroyed";

    auto connection = std::make_shared<QMetaObject::Connection>();
    *connection = QObject::connect(context, &QObject::destroyed,
                                   [task = TaskRef(task), message = std::move(message)]() mutable {
                                       task.cancel(message);
                                   });
    // The connection holds a reference to the task; let it go as soon as the task is done.
    task.base()->addDoneCallback(
            [connection](detail::FutureBase &) { QObject::disconnect(*connection); }, nullptr,
            HandleKind::DoneCallback, location);
}

} // namespace loopscope
