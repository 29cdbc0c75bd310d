#pragma once

/*!
 * \file qtinterop.h
 * Qt and QCoro awaitables inside engine tasks, engine futures inside QCoro coroutines, and
 * tasks whose lifetime is tied to a QObject.
 *
 * Every foreign awaitable is bridged to an engine Future: a detached driver (a QCoro::Task
 * started eagerly, a QFutureWatcher or a signal connection) completes the Future when the Qt
 * operation completes, and the engine task `co_await`s the Future. The task therefore always
 * resumes from the loop's ready queue, so currentTask(), cancellation and the trace stay
 * right, and cancelling the task cancels the Future at once even though most Qt operations
 * cannot be cancelled. A result that arrives after that is dropped; an exception that
 * arrives after that is reported to the loop's exception handler, since nobody else can see
 * it any more.
 *
 * \code
 * Coro<void> MainWindow::run()
 * {
 *     co_await loopscope::waitForSignal(m_continueButton, &QPushButton::clicked);
 *     const int primes = co_await loopscope::toFuture(QtConcurrent::run(countPrimes, 100000));
 *     const QString text = co_await loopscope::toFuture(fetchTitle()); // a QCoro::Task<QString>
 *     co_await loopscope::sleep(1s);
 * }
 * loopscope::createTaskFor(loop, this, run()); // cancelled if the window is destroyed first
 * \endcode
 *
 * A plain `co_await` of a QCoro::Task, a QFuture, a `QTimer *`, another Qt object QCoro
 * knows (QNetworkReply * ...) or a `qCoro(obj, &Class::signal)` inside an engine coroutine
 * is routed through toFuture() / waitForTimeout() by the coroutine's await_transform (see
 * detail::AwaitTransform), so it too resumes from the ready queue. Other foreign awaitables
 * (a QCoroSignalQueue, hand-written awaiters) are awaited as they are, which resumes the task
 * from inside Qt code, outside the ready queue and without the task being current: wrap them
 * in toFuture(). This header must be included where such a `co_await` is written (the
 * umbrella loopscope.h includes it).
 */

// moc cannot parse C++20 concepts; it needs none of this, so a Q_OBJECT header may include it.
#ifndef Q_MOC_RUN

#  include "loopscope/errors.h"
#  include "loopscope/eventloop.h"
#  include "loopscope/future.h"
#  include "loopscope/sourcelocation.h"
#  include "loopscope/task.h"

#  include <QCoroSignal>
#  include <QCoroTask>
#  include <QException>
#  include <QFuture>
#  include <QFutureWatcher>
#  include <QObject>
#  include <QPointer>
#  include <QProcess>
#  include <QString>

#  include <cstdint>
#  include <exception>
#  include <optional>
#  include <string>
#  include <tuple>
#  include <type_traits>
#  include <utility>
#  include <variant>

QT_BEGIN_NAMESPACE
class QTimer;
QT_END_NAMESPACE

namespace loopscope {

namespace detail {

//! What a foreign operation produced: nothing yet, a value, or an exception.
template <typename T>
using ForeignOutcome = std::variant<std::monostate, ValueStorage<T>, std::exception_ptr>;

// --- implemented in qtinterop.cpp -------------------------------------------------------

//! True on the thread that runs \a future's loop.
bool onLoopThread(const FutureBase &future) noexcept;
//! True when a foreign completion may still settle \a future: pending, and its loop open.
bool canSettle(const FutureBase &future) noexcept;
//! Queues \a handle on \a future's loop from any thread; drops it when the loop is closed.
void postToLoop(const FutureBase &future, Ref<HandleBase> handle) noexcept;
//! Reports \a exception, which arrived when \a future could no longer take it (cancelled,
//! or its loop closed), to the loop's exception handler: nobody else will ever see it.
void reportLateException(FutureBase &future, std::exception_ptr exception,
                         const char *source) noexcept;
/*!
 * Throws RuntimeError when, during the current task's step, some other coroutine has already
 * suspended on an engine future on the task's behalf. Future::Awaiter now tells the engine's
 * own coroutines from foreign ones (an eager QCoro coroutine awaiting an engine Future inside
 * a task resumes through the ready queue on its own), so this is a guard that should never
 * fire; it stays to catch a regression.
 */
void checkNoForeignSuspension(const char *operation);
//! Throws RuntimeError unless \a context is a live object of the current thread.
void checkContext(const QObject *context, const char *operation);
//! Throws RuntimeError when \a sender is null; \a operation names the caller.
void checkSender(const QObject *sender, const char *operation);

//! A pending future on the current loop, marked for the trace as a bridged Qt operation.
template <typename T>
Future<T> foreignFuture(const char *operation)
{
    EventLoop *loop = EventLoop::current();
    if (!loop)
        throw RuntimeError(std::string(operation)
                           + ": there is no current event loop in this thread");
    return Future<T>(*loop, FutureKind::Foreign);
}

/*!
 * Completes \a future with \a outcome on the future's loop thread. A value that comes too
 * late (the future was cancelled meanwhile, or the loop closed) is dropped, as asyncio drops
 * the result of an operation whose future was cancelled; a late exception goes to the
 * exception handler. A CancelledError outcome cancels the future.
 */
template <typename T>
void settle(Future<T> future, ForeignOutcome<T> outcome, const char *source,
            SourceLocation location)
{
    if (!onLoopThread(*future.base())) {
        // A QCoro coroutine may end on another thread (QCoro::moveToThread); an engine future
        // is only ever touched from its loop's thread, so hop there first. The handle owns
        // the future from here on, so no reference is dropped on this thread.
        const FutureBase *base = future.base();
        auto hop = [future = std::move(future), outcome = std::move(outcome), source,
                    location]() mutable {
            settle(std::move(future), std::move(outcome), source, location);
        };
        postToLoop(*base,
                   Ref<HandleBase>(new CallbackHandle<decltype(hop)>(HandleKind::Threadsafe,
                                                                     location, std::move(hop))));
        return;
    }
    if (!canSettle(*future.base())) {
        if (outcome.index() == 2 && !isCancelledError(std::get<2>(outcome)))
            reportLateException(*future.base(), std::get<2>(outcome), source);
        return;
    }
    if (outcome.index() == 2) {
        std::exception_ptr e = std::get<2>(std::move(outcome));
        if (isCancelledError(e))
            future.cancel(cancelMessageOf(e));
        else
            future.setException(std::move(e));
    } else if constexpr (std::is_void_v<T>) {
        future.setResult();
    } else {
        future.setResult(std::get<1>(std::move(outcome)));
    }
}

// --- QCoro::Task ----------------------------------------------------------------------------

template <typename X>
inline constexpr bool isQCoroTask = false;
template <typename T>
inline constexpr bool isQCoroTask<QCoro::Task<T>> = true;

template <typename X>
struct QCoroTaskValue;
template <typename T>
struct QCoroTaskValue<QCoro::Task<T>>
{
    using type = T;
};

//! The detached driver: awaits \a task the QCoro way and settles \a future with its outcome.
//! Its frame holds the future (and through it the loop core) until the task is done.
template <typename T>
QCoro::Task<void> driveQCoroTask(QCoro::Task<T> task, Future<T> future, const char *source,
                                 SourceLocation location)
{
    ForeignOutcome<T> outcome;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await task;
            outcome.template emplace<1>();
        } else {
            outcome.template emplace<1>(co_await task);
        }
    } catch (...) {
        outcome.template emplace<2>(std::current_exception());
    }
    settle(std::move(future), std::move(outcome), source, location);
}

/*!
 * Like driveQCoroTask, for startQCoro(): the frame owns \a fn, so a capturing lambda
 * coroutine stays valid until the task it returned is done (a coroutine lambda's captures
 * live in the lambda object, not in the coroutine frame).
 */
template <typename T, typename F>
QCoro::Task<void> driveQCoroCallable(F fn, Future<T> future, const char *source,
                                     SourceLocation location)
{
    ForeignOutcome<T> outcome;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await fn();
            outcome.template emplace<1>();
        } else {
            outcome.template emplace<1>(co_await fn());
        }
    } catch (...) {
        outcome.template emplace<2>(std::current_exception());
    }
    settle(std::move(future), std::move(outcome), source, location);
}

// --- any other QCoro awaitable --------------------------------------------------------------

template <typename X>
inline constexpr bool isQFuture = false;
template <typename T>
inline constexpr bool isQFuture<QFuture<T>> = true;

//! The awaiter behind an awaitable: its operator co_await's result, or the object itself.
template <typename Aw>
decltype(auto) awaiterOf(Aw &&aw)
{
    if constexpr (requires { std::forward<Aw>(aw).operator co_await(); })
        return std::forward<Aw>(aw).operator co_await();
    else if constexpr (requires { operator co_await(std::forward<Aw>(aw)); })
        return operator co_await(std::forward<Aw>(aw));
    else
        return std::forward<Aw>(aw);
}

//! What `co_await a` yields inside a QCoro coroutine (after QCoro's await_transform).
template <typename A>
using QCoroAwaitResult =
        std::remove_cvref_t<decltype(awaiterOf(std::declval<QCoro::detail::TaskPromiseBase &>()
                                                       .await_transform(std::declval<A &>()))
                                             .await_resume())>;

template <typename A>
concept QCoroAwaitable = requires(QCoro::detail::TaskPromiseBase &promise, A &a)
{
    promise.await_transform(a);
};

//! Engine Futures, Tasks and Coros: awaited directly, never through a QCoro driver (which,
//! started inside a task, would suspend on them on the task's behalf).
template <typename X>
inline constexpr bool isCoro = false;
template <typename T>
inline constexpr bool isCoro<Coro<T>> = true;

template <typename X, typename = void>
inline constexpr bool isEngineAwaitable = false;
template <typename X>
inline constexpr bool isEngineAwaitable<X, std::void_t<typename X::ValueType>> =
        std::is_base_of_v<Future<typename X::ValueType>, X> || isCoro<X>;

template <typename X>
inline constexpr bool hasOwnBridge = isQCoroTask<X> || isQFuture<X> || isEngineAwaitable<X>;

//! What the generic toFuture() takes: any QCoro awaitable without an overload of its own.
template <typename A>
concept OtherQCoroAwaitable = QCoroAwaitable<A> && !hasOwnBridge<std::remove_cvref_t<A>>;

//! Awaits \a awaitable inside a QCoro coroutine. Taken by value when it was an rvalue (so a
//! temporary lives in this frame), by reference when the caller passed an lvalue.
template <typename R, typename A>
QCoro::Task<R> awaitTheQCoroWay(A awaitable)
{
    if constexpr (std::is_void_v<R>)
        co_await awaitable;
    else
        co_return co_await awaitable;
}

// --- QFuture --------------------------------------------------------------------------------

/*!
 * Watches a QFuture and settles the engine future when it finishes. Owned by nobody but
 * itself: it deletes itself once the QFuture has finished, also when the engine future was
 * cancelled long before, so that a late exception can still be reported. Optionally passes
 * the engine future's cancellation on to the QFuture.
 */
template <typename T>
class QFutureBridge final : public QFutureWatcher<T>
{
public:
    QFutureBridge(QFuture<T> qfuture, Future<T> future, bool cancelQFuture, SourceLocation location)
        : m_future(std::move(future)), m_location(location)
    {
        QObject::connect(this, &QFutureWatcherBase::finished, this, [this] { onFinished(); });
        if (cancelQFuture) {
            m_future.addDoneCallback(
                    [bridge = QPointer<QFutureBridge>(this)](Future<T> f) {
                        if (bridge && f.cancelled())
                            bridge->future().cancel();
                    },
                    location);
        }
        this->setFuture(std::move(qfuture));
    }

    static ForeignOutcome<T> outcomeOf(QFuture<T> &qfuture)
    {
        ForeignOutcome<T> outcome;
        try {
            // Rethrows what the computation threw (QFuture keeps the first exception).
            qfuture.waitForFinished();
            if (qfuture.isCanceled())
                outcome.template emplace<2>(
                        std::make_exception_ptr(CancelledError("the QFuture was cancelled")));
            else if constexpr (std::is_void_v<T>)
                outcome.template emplace<1>();
            else if (qfuture.resultCount() == 0)
                throw RuntimeError("toFuture(QFuture): the QFuture finished without a result");
            else if constexpr (std::is_copy_constructible_v<T>)
                outcome.template emplace<1>(qfuture.result());
            else
                outcome.template emplace<1>(qfuture.takeResult());
        } catch (const QUnhandledException &e) {
            // QtConcurrent wraps whatever is not a QException; hand out the original, as
            // asyncio.wrap_future does.
            outcome.template emplace<2>(e.exception() ? e.exception() : std::current_exception());
        } catch (...) {
            outcome.template emplace<2>(std::current_exception());
        }
        return outcome;
    }

private:
    void onFinished()
    {
        QFuture<T> qfuture = this->future();
        settle(std::move(m_future), outcomeOf(qfuture), "toFuture(QFuture)", m_location);
        // Deleting the watcher from its own finished() is safe: Qt's signal emission and
        // posted-event delivery both allow the sender/receiver to go away in a slot.
        delete this;
    }

    Future<T> m_future;
    SourceLocation m_location;
};

// --- signals --------------------------------------------------------------------------------

template <typename... A>
struct TypeList
{
};

//! Qt's QPrivateSignal, the last parameter of signals only their class may emit. It is found
//! through its injected-class-name: only that struct has a member type of its own name.
template <typename T>
concept PrivateSignalTag = requires
{
    typename std::type_identity<class T::QPrivateSignal>::type;
};

template <typename List, typename Indices>
struct TakeFirst;
template <typename... A, std::size_t... I>
struct TakeFirst<TypeList<A...>, std::index_sequence<I...>>
{
    using type = TypeList<std::tuple_element_t<I, std::tuple<A...>>...>;
};

//! A signal's parameters, decayed, without a trailing QPrivateSignal.
template <typename... A>
struct SignalArgs
{
    using type = TypeList<>;
};
template <typename First, typename... Rest>
struct SignalArgs<First, Rest...>
{
    using All = TypeList<First, Rest...>;
    using Last = std::tuple_element_t<sizeof...(Rest), std::tuple<First, Rest...>>;
    using type = std::conditional_t<PrivateSignalTag<Last>,
                                    typename TakeFirst<All, std::index_sequence_for<Rest...>>::type,
                                    All>;
};

template <typename Signal>
struct SignalTraits;
template <typename R, typename C, typename... A>
struct SignalTraits<R (C::*)(A...)>
{
    using Object = C;
    using Args = typename SignalArgs<std::remove_cvref_t<A>...>::type;
};

template <typename List>
struct SignalValue;
template <>
struct SignalValue<TypeList<>>
{
    using type = void;
};
template <typename A>
struct SignalValue<TypeList<A>>
{
    using type = A;
};
template <typename A, typename B, typename... C>
struct SignalValue<TypeList<A, B, C...>>
{
    using type = std::tuple<A, B, C...>;
};

/*!
 * One pending waitForSignal() (or timer/process wait): owns the engine future and the
 * optional loop timer for the timeout; is the context object of every connection it makes,
 * so deleting it disconnects them all. It deletes itself once the future is settled or done.
 */
class SignalWaiter : public QObject
{
public:
    SignalWaiter(Ref<FutureBase> future, std::optional<Duration> timeout, const char *operation,
                 SourceLocation location);
    ~SignalWaiter() override;

    /*!
     * Fails the future with RuntimeError when \a sender is destroyed first. Called after the
     * awaited signal is connected, so that waiting for QObject::destroyed itself delivers.
     */
    void watchSender(const QObject *sender);
    //! Settles the future with \a exception (if it still can) and deletes this waiter.
    void fail(std::exception_ptr exception);

protected:
    //! Whether the future can still take the result. The caller settles it, then deletes us.
    bool mayDeliver() const noexcept;
    FutureBase &futureBase() const noexcept { return *m_future; }
    const char *operation() const noexcept { return m_operation; }

private:
    void timedOut();

    Ref<FutureBase> m_future;
    Ref<TimerHandleBase> m_timer;
    Duration m_timeout{};
    const char *m_operation;
};

template <typename R>
class SignalWaiterFor final : public SignalWaiter
{
public:
    using SignalWaiter::SignalWaiter;

    //! Completes the future with the signal's arguments (R built from them) and deletes this.
    template <typename... A>
    void deliver(const A &...args)
    {
        if (mayDeliver()) {
            auto &state = static_cast<FutureState<R> &>(futureBase());
            if constexpr (std::is_void_v<R>)
                state.setResult(std::monostate{});
            else
                state.setResult(R(args...));
        }
        delete this;
    }
};

//! The slot: takes exactly the signal's public arguments (Qt passes fewer than the signal
//! has, so a trailing QPrivateSignal never reaches it).
template <typename Waiter, typename List>
struct SignalSlot;
template <typename Waiter, typename... A>
struct SignalSlot<Waiter, TypeList<A...>>
{
    Waiter *waiter;
    void operator()(const A &...args) const { waiter->deliver(args...); }
};

} // namespace detail

/*!
 * What waitForSignal() returns for \a Signal: `void` for a signal without parameters, the
 * value for one parameter, a `std::tuple` for several. A trailing `QPrivateSignal` does not
 * count. (QCoro's qCoro(obj, &signal) gives an empty tuple for no parameters and keeps
 * QPrivateSignal.)
 */
template <typename Signal>
using SignalResult =
        typename detail::SignalValue<typename detail::SignalTraits<Signal>::Args>::type;

namespace detail {

template <typename Sender, typename Signal>
Future<SignalResult<Signal>> waitForSignalNamed(const Sender *sender, Signal signal,
                                                std::optional<Duration> timeout,
                                                const char *operation, SourceLocation location)
{
    using R = SignalResult<Signal>;
    using Waiter = SignalWaiterFor<R>;
    checkSender(sender, operation);
    Future<R> future = foreignFuture<R>(operation);
    auto *waiter = new Waiter(future.state(), timeout, operation, location); // deletes itself
    QObject::connect(sender, signal, waiter,
                     SignalSlot<Waiter, typename SignalTraits<Signal>::Args>{ waiter });
    waiter->watchSender(sender);
    return future;
}

} // namespace detail

// --- QCoro::Task and other QCoro awaitables ------------------------------------------------

/*!
 * A Future on the current loop that completes with the outcome of the QCoro \a task: its
 * value, its exception, or cancelled when it threw CancelledError. Await it from an engine
 * task instead of awaiting the QCoro::Task directly.
 *
 * A detached QCoro driver awaits \a task; when it completes, the Future is settled from
 * there, and the awaiting engine task resumes from the ready queue. Cancelling the Future
 * (e.g. by cancelling the awaiting task) takes effect at once; the QCoro::Task itself cannot
 * be cancelled and runs on: its late value is dropped and a late exception is reported to
 * the loop's exception handler. The result may be produced on another thread
 * (QCoro::moveToThread): it is handed back to the loop's thread first.
 *
 * Throws RuntimeError when the thread has no event loop.
 */
template <typename T>
Future<T> toFuture(QCoro::Task<T> task, SourceLocation location = SourceLocation::current())
{
    detail::checkNoForeignSuspension("toFuture(QCoro::Task)");
    Future<T> future = detail::foreignFuture<T>("toFuture(QCoro::Task)");
    detail::driveQCoroTask(std::move(task), future, "toFuture(QCoro::Task)", location);
    return future;
}

//! What cancelling the Future returned by toFuture(QFuture) does to the QFuture.
enum class QFutureCancellation : std::uint8_t {
    //! Nothing: the computation runs on; its late result is dropped, its late exception is
    //! reported to the loop's exception handler.
    LetRun,
    /*!
     * QFuture::cancel(), as asyncio.wrap_future cancels the concurrent future: a QPromise
     * producer sees isCanceled() and can stop early. Qt then ignores whatever the
     * computation still reports, so a late exception is lost, not reported.
     */
    CancelQFuture,
};

/*!
 * A Future on the current loop that completes with \a qfuture's result (Python:
 * asyncio.wrap_future). Its exception is rethrown, a QUnhandledException from QtConcurrent
 * unwrapped to the original; a QFuture cancelled by its producer cancels the Future. A QFuture
 * that is already finished gives a Future that is already done.
 *
 * Cancelling the Future takes effect at once; what happens to the QFuture is \a onCancel's
 * choice (by default nothing: a running QtConcurrent::run cannot be stopped anyway).
 */
template <typename T>
Future<T> toFuture(QFuture<T> qfuture, QFutureCancellation onCancel = QFutureCancellation::LetRun,
                   SourceLocation location = SourceLocation::current())
{
    Future<T> future = detail::foreignFuture<T>("toFuture(QFuture)");
    if (qfuture.isFinished()) {
        detail::settle(future, detail::QFutureBridge<T>::outcomeOf(qfuture), "toFuture(QFuture)",
                       location);
        return future;
    }
    // Deletes itself once the QFuture has finished.
    new detail::QFutureBridge<T>(std::move(qfuture), future,
                                 onCancel == QFutureCancellation::CancelQFuture, location);
    return future;
}

/*!
 * A Future for anything a QCoro coroutine can `co_await` (a QNetworkReply *, a QTimer *, a
 * `qCoro(device).readAll()` ...): it is awaited inside a detached QCoro::Task, then as
 * toFuture(QCoro::Task). An lvalue is awaited by reference and must outlive the operation;
 * an rvalue is moved into the driver.
 */
template <detail::OtherQCoroAwaitable A>
auto toFuture(A &&awaitable, SourceLocation location = SourceLocation::current())
        -> Future<detail::QCoroAwaitResult<A>>
{
    using R = detail::QCoroAwaitResult<A>;
    return toFuture(detail::awaitTheQCoroWay<R, A>(std::forward<A>(awaitable)), location);
}

/*!
 * Calls \a fn, which returns a QCoro::Task, from a plain loop callback (outside every engine
 * task) and returns a Future for the task's outcome, as toFuture() does.
 *
 * Use this instead of toFuture(fn()) when the QCoro coroutine itself `co_await`s engine
 * futures or tasks: a QCoro coroutine runs eagerly up to its first suspension, and called
 * inside an engine task it would suspend on the engine future on the task's behalf. Started
 * here it is no task's business; it resumes from the futures' done-callbacks instead.
 * \a fn runs on the next loop iteration, never if the Future is cancelled before that, and is
 * kept alive until its task is done, so a capturing lambda coroutine is safe here (passed to
 * toFuture(), a temporary lambda would die while its coroutine still runs).
 */
template <typename F>
requires detail::isQCoroTask<std::invoke_result_t<F &>>
auto startQCoro(F fn, SourceLocation location = SourceLocation::current())
        -> Future<typename detail::QCoroTaskValue<std::invoke_result_t<F &>>::type>
{
    using T = typename detail::QCoroTaskValue<std::invoke_result_t<F &>>::type;
    EventLoop *loop = EventLoop::current();
    if (!loop)
        throw RuntimeError("startQCoro: there is no current event loop in this thread");
    Future<T> future(*loop, FutureKind::Foreign);
    loop->callSoon(
            [fn = std::move(fn), future, location]() mutable {
                if (future.done())
                    return; // cancelled before it started: it never starts
                detail::driveQCoroCallable<T>(std::move(fn), future, "startQCoro", location);
            },
            location);
    return future;
}

// --- signals, timers, processes ------------------------------------------------------------

/*!
 * A Future on the current loop that completes with the arguments of the next emission of
 * \a signal by \a sender (see SignalResult for the shape), like QCoro's
 * `qCoro(sender, signal, timeout)`. The connection is made now, so an emission before the
 * first `co_await` is not lost.
 *
 * \a timeout runs on the loop's clock (a VirtualClock in tests); when it passes first, the
 * Future fails with TimeoutError (QCoro returns an empty optional instead). When \a sender is
 * destroyed first, it fails with RuntimeError (QCoro never resumes). Cancelling the Future
 * disconnects at once. An emission from another thread is queued to the loop's thread.
 * Throws RuntimeError when \a sender is null.
 */
template <typename Sender, typename Signal>
requires std::is_base_of_v<typename detail::SignalTraits<Signal>::Object, Sender>
        Future<SignalResult<Signal>>
        waitForSignal(const Sender *sender, Signal signal,
                      std::optional<Duration> timeout = std::nullopt,
                      SourceLocation location = SourceLocation::current())
{
    return detail::waitForSignalNamed(sender, signal, timeout, "waitForSignal", location);
}

/*!
 * A Future that completes at \a timer's next timeout() (QCoro: `co_await timer`). Like QCoro,
 * a timer that is not active gives a Future that is already done. \a timeout as in
 * waitForSignal(). Throws RuntimeError when \a timer is null.
 */
Future<void> waitForTimeout(QTimer *timer, std::optional<Duration> timeout = std::nullopt,
                            SourceLocation location = SourceLocation::current());

/*!
 * A Future that completes when \a process has started (QCoro:
 * `qCoro(process).waitForStarted()`, which returns false instead of throwing): at once when
 * it is running already. Fails with RuntimeError when the process fails to start, with
 * TimeoutError when \a timeout passes first, with RuntimeError when \a process is destroyed.
 */
Future<void> waitForStarted(QProcess *process, std::optional<Duration> timeout = std::nullopt,
                            SourceLocation location = SourceLocation::current());

/*!
 * A Future for the (exit code, exit status) of \a process, the arguments of
 * QProcess::finished (QCoro: `qCoro(process).waitForFinished()`, which returns only a bool).
 * At once when the process is not running (with its last exit code and status). Fails with
 * RuntimeError when the process fails to start, TimeoutError when \a timeout passes first.
 * Cancelling the Future does not kill the process.
 */
Future<std::tuple<int, QProcess::ExitStatus>>
waitForFinished(QProcess *process, std::optional<Duration> timeout = std::nullopt,
                SourceLocation location = SourceLocation::current());

// --- lifetime guard -------------------------------------------------------------------------

/*!
 * Ties \a task to \a context: when the object is destroyed before the task is done, the task
 * is cancelled at once (CancelledError at its suspension point, message naming the object),
 * so the code after its `co_await` never runs on a dead object. Its cancellation handlers and
 * destructors do run: they must not touch the object (check a QPointer). The connection is
 * removed when the task finishes. Equivalent in spirit to the context object of
 * QObject::connect and of QCoro::connect, which only guards a callback.
 *
 * Throws RuntimeError when \a context is null or lives in another thread.
 */
void bindTo(QObject *context, const TaskRef &task,
            SourceLocation location = SourceLocation::current());

/*!
 * loop.createTask(coro, name) bound to \a context with bindTo(): the task is cancelled if
 * \a context is destroyed before it is done. Nothing is created when \a context is invalid.
 */
template <typename T>
Task<T> createTaskFor(EventLoop &loop, QObject *context, Coro<T> coro, QString name = {},
                      SourceLocation location = SourceLocation::current())
{
    detail::checkContext(context, "createTaskFor");
    Task<T> task = loop.createTask(std::move(coro), std::move(name), location);
    bindTo(context, task, location);
    return task;
}

// --- a plain co_await of Qt/QCoro awaitables inside an engine coroutine ---------------------

namespace detail {

//! Qt types QCoro knows how to await (QTimer, QNetworkReply *, QDBusPendingCall ...).
template <typename X>
concept QCoroKnownQtType = requires
{
    typename QCoro::detail::awaiter_type<X>::type;
};

//! `co_await qcoroTask` is `co_await toFuture(std::move(qcoroTask))`; an lvalue is moved from.
template <typename T>
struct AwaitTransform<QCoro::Task<T>>
{
    template <typename A>
    static Future<T> transform(A &&task)
    {
        return toFuture(QCoro::Task<T>(std::move(task)));
    }
};

//! `co_await qfuture` is `co_await toFuture(qfuture)`.
template <typename T>
struct AwaitTransform<QFuture<T>>
{
    template <typename A>
    static Future<T> transform(A &&qfuture)
    {
        return toFuture(QFuture<T>(std::forward<A>(qfuture)));
    }
};

//! `co_await timer` (a QTimer *) is `co_await waitForTimeout(timer)`.
template <>
struct AwaitTransform<QTimer *>
{
    static Future<void> transform(QTimer *timer) { return waitForTimeout(timer); }
};

//! Any other Qt type QCoro can await: through the generic toFuture(). A copyable value (a
//! pointer, a QDBusPendingCall) is copied into the driver, anything else is referenced and
//! must outlive the operation.
template <typename X>
struct AwaitTransform<
        X, std::enable_if_t<QCoroKnownQtType<X> && !isQFuture<X> && !std::is_same_v<X, QTimer *>>>
{
    template <typename A>
    static auto transform(A &&awaitable)
    {
        if constexpr (std::is_copy_constructible_v<X>)
            return toFuture(X(awaitable));
        else
            return toFuture(std::forward<A>(awaitable));
    }
};

//! `co_await qCoro(obj, &Class::signal[, timeout])` goes through the generic toFuture() (an
//! lvalue is moved from): the signal's tuple/optional shape stays QCoro's.
template <typename T, typename F>
struct AwaitTransform<QCoro::detail::QCoroSignal<T, F>>
{
    template <typename A>
    static auto transform(A &&signal)
    {
        return toFuture(QCoro::detail::QCoroSignal<T, F>(std::move(signal)));
    }
};

} // namespace detail

} // namespace loopscope

#endif // Q_MOC_RUN
