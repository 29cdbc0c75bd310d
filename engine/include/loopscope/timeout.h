#pragma once

// moc (Qt 6.4) cannot parse C++20 concepts, which <ranges> and <concepts> bring in; it never
// needs these declarations, so a Q_OBJECT header may include this one.
#ifndef Q_MOC_RUN

#  include "loopscope/awaitable.h"

#  include <memory>
#  include <optional>

namespace loopscope {

namespace detail {
/*!
 * The state machine of one timeout scope (Python: asyncio.Timeout): CREATED -> ENTERED ->
 * (EXPIRING -> EXPIRED | EXITED). On expiry it cancels its task; on exit it turns only its
 * own cancellation into TimeoutError, using the task's cancelling()/uncancel() counter to
 * tell its cancellation from anyone else's.
 */
class TimeoutState : public std::enable_shared_from_this<TimeoutState>
{
public:
    enum class State { Created, Entered, Expiring, Expired, Exited };

    explicit TimeoutState(std::optional<TimePoint> when) : m_when(when) { }
    void enter();
    //! Returns true when \a bodyError (a CancelledError) is ours and must become TimeoutError.
    bool exit(const std::exception_ptr &bodyError);
    void reschedule(std::optional<TimePoint> when);
    std::optional<TimePoint> when() const { return m_when; }
    State state() const { return m_state; }

private:
    void onTimeout();

    std::optional<TimePoint> m_when;
    State m_state = State::Created;
    TaskRef m_task;
    int m_cancellingAtEnter = 0;
    Handle m_handle; //!< the timer, or the callSoon of a deadline already past
    EventLoop *m_loop = nullptr;
};
} // namespace detail

/*!
 * A handle on a running timeout scope, given to the body of timeout()/timeoutAt() (Python:
 * the object `async with asyncio.timeout(...) as cm` binds).
 */
class Timeout
{
public:
    explicit Timeout(std::shared_ptr<detail::TimeoutState> state) : d(std::move(state)) { }

    //! The deadline, or nullopt for none.
    std::optional<TimePoint> when() const { return d->when(); }
    //! Moves the deadline (nullopt: no deadline). A deadline in the past expires at once
    //! (on the next iteration). Throws RuntimeError once the scope has expired or exited.
    void reschedule(std::optional<TimePoint> when) { d->reschedule(when); }
    //! True once the deadline passed and the scope cancelled its task.
    bool expired() const
    {
        return d->state() == detail::TimeoutState::State::Expiring
                || d->state() == detail::TimeoutState::State::Expired;
    }

private:
    std::shared_ptr<detail::TimeoutState> d;
};

namespace detail {
//! loop.time() + delay on the current loop; nullopt stays nullopt (no deadline).
inline std::optional<TimePoint> deadlineAfter(std::optional<Duration> delay)
{
    if (!delay)
        return std::nullopt;
    EventLoop *loop = EventLoop::current();
    if (!loop)
        throw RuntimeError("timeout: there is no current event loop in this thread");
    return loop->time() + *delay;
}

template <typename T>
Coro<T> runInTimeoutScope(std::shared_ptr<TimeoutState> state, Coro<T> body)
{
    state->enter();
    std::exception_ptr error;
    std::optional<ValueStorage<T>> value;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(body);
            value.emplace();
        } else {
            value.emplace(co_await std::move(body));
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (state->exit(error))
        throw TimeoutError("timeout expired");
    if (error)
        std::rethrow_exception(error);
    if constexpr (!std::is_void_v<T>)
        co_return std::move(*value);
}
} // namespace detail

/*!
 * Runs \a body in the current task with a deadline (Python: `async with
 * asyncio.timeout_at(when)`). When the deadline passes the task is cancelled; if the
 * CancelledError comes out of \a body it is turned into TimeoutError. A cancellation from
 * anyone else passes through unchanged, and scopes nest (each converts only its own).
 * \a when nullopt means no deadline. Must run inside a task (RuntimeError otherwise).
 */
template <typename T>
Coro<T> timeoutAt(std::optional<TimePoint> when, Coro<T> body)
{
    return detail::runInTimeoutScope(std::make_shared<detail::TimeoutState>(when), std::move(body));
}

/*!
 * timeoutAt() with a body that gets the Timeout handle, e.g. to reschedule() it:
 * `co_await timeoutAt(when, [&](Timeout &cm) -> Coro<int> { cm.reschedule(...); ... })`.
 * A coroutine itself, so the factory (and what it captured) and the handle live in its frame
 * for as long as the body runs.
 */
//! timeoutAt() of a sleep() (as a coroutine of its own).
inline Coro<void> timeoutAt(std::optional<TimePoint> when, Sleep body)
{
    return timeoutAt(when, Coro<void>(body));
}

template <typename F>
requires std::is_invocable_v<F &, Timeout &>
auto timeoutAt(std::optional<TimePoint> when, F bodyFactory) -> std::invoke_result_t<F &, Timeout &>
{
    auto state = std::make_shared<detail::TimeoutState>(when);
    Timeout handle(state);
    // Named, not a temporary inside the co_await: see the g++ 12.2 note in taskgroup.h.
    auto body = bodyFactory(handle);
    co_return co_await detail::runInTimeoutScope(state, std::move(body));
}

/*!
 * timeoutAt(loop.time() + delay, body) (Python: `async with asyncio.timeout(delay)`);
 * nullopt means no deadline.
 */
template <typename T>
Coro<T> timeout(std::optional<Duration> delay, Coro<T> body)
{
    return timeoutAt(detail::deadlineAfter(delay), std::move(body));
}

//! timeout() of a sleep() (as a coroutine of its own).
inline Coro<void> timeout(std::optional<Duration> delay, Sleep body)
{
    return timeout(delay, Coro<void>(body));
}

template <typename F>
requires std::is_invocable_v<F &, Timeout &>
auto timeout(std::optional<Duration> delay, F bodyFactory) -> std::invoke_result_t<F &, Timeout &>
{
    return timeoutAt(detail::deadlineAfter(delay), std::move(bodyFactory));
}

namespace detail {
//! Cancels \a future and waits until it is done, itself staying cancellable (Python:
//! tasks._cancel_and_wait).
Coro<void> cancelAndWait(Ref<FutureBase> future);

template <typename T>
Coro<T> awaitFuture(Future<T> future)
{
    co_return co_await future;
}
} // namespace detail

/*!
 * Waits for \a awaitable with a time limit (Python 3.12: asyncio.wait_for). On timeout the
 * awaitable is cancelled, *waited for until it is really done*, and TimeoutError is thrown;
 * cancelling the caller cancels the awaitable too. A limit <= 0 checks once: the result if
 * already done, else cancel, wait, TimeoutError. nullopt waits forever.
 */
template <EngineAwaitable A>
Coro<AwaitResult<A>> waitFor(A awaitable, std::optional<Duration> limit)
{
    using T = AwaitResult<A>;
    Future<T> future = [&] {
        if constexpr (detail::isLazyAwaitable<A>)
            return ensureFuture(std::move(awaitable));
        else
            return Future<T>(awaitable);
    }();
    if (limit && *limit <= Duration::zero()) {
        if (future.done())
            co_return future.result();
        co_await detail::cancelAndWait(detail::Ref<detail::FutureBase>(future.base()));
        try {
            co_return future.result();
        } catch (const CancelledError &) {
            // Turned into TimeoutError below: C++ cannot throw a new exception type from
            // inside a handler and keep the flow this readable.
        }
        throw TimeoutError("waitFor: timed out");
    }
    co_return co_await timeout(limit, detail::awaitFuture(future));
}

/*!
 * Protects \a awaitable from cancellation (Python: asyncio.shield): returns a new future that
 * follows it. Cancelling that future (e.g. because the awaiting task is cancelled) does not
 * cancel the inner one, which runs on; its late failure is then reported as never
 * retrieved, as in asyncio.
 */
template <EngineAwaitable A>
Future<AwaitResult<A>> shield(A awaitable)
{
    using T = AwaitResult<A>;
    Future<T> inner = [&] {
        if constexpr (detail::isLazyAwaitable<A>)
            return ensureFuture(std::move(awaitable));
        else
            return Future<T>(awaitable);
    }();
    if (inner.done())
        return inner;
    auto outer = std::make_shared<Future<T>>(Future<T>(detail::Ref<detail::FutureState<T>>(
            new detail::FutureState<T>(inner.base()->loopCore()))));
    auto innerId = std::make_shared<CallbackId>(0);
    *innerId = inner.addDoneCallback([outer](Future<T> in) {
        if (outer->cancelled()) {
            if (!in.cancelled())
                (void)in.exception(); // retrieved: the shield's caller is gone
            return;
        }
        if (in.cancelled()) {
            outer->cancel(in.base()->cancelMessage());
        } else if (std::exception_ptr e = in.exception()) {
            outer->setException(e);
        } else if constexpr (std::is_void_v<T>) {
            outer->setResult();
        } else {
            outer->setResult(in.result());
        }
    });
    Future<T> innerCopy = inner;
    outer->addDoneCallback([innerCopy, innerId]() mutable {
        if (!innerCopy.done())
            innerCopy.removeDoneCallback(*innerId);
    });
    return *outer;
}

} // namespace loopscope

#endif // Q_MOC_RUN
