#pragma once

// moc (Qt 6.4) cannot parse C++20 concepts, which <ranges> and <concepts> bring in; it never
// needs these declarations, so a Q_OBJECT header may include this one.
#ifndef Q_MOC_RUN

#  include "loopscope/coro.h"
#  include "loopscope/eventloop.h"
#  include "loopscope/future.h"
#  include "loopscope/sleep.h"
#  include "loopscope/task.h"

#  include <exception>
#  include <type_traits>
#  include <variant>

namespace loopscope {

//! What the engine's combinators accept: a Future<T>, a Task<T>, a Coro<T> or a Sleep.
template <typename A>
struct AwaitableTraits;
template <typename T>
struct AwaitableTraits<Future<T>>
{
    using Result = T;
};
template <typename T>
struct AwaitableTraits<Task<T>>
{
    using Result = T;
};
template <typename T>
struct AwaitableTraits<Coro<T>>
{
    using Result = T;
};

template <>
struct AwaitableTraits<Sleep>
{
    using Result = void;
};

namespace detail {
//! A Coro or a Sleep: not a future yet, so a combinator wraps it in a task (ensureFuture()).
template <typename A>
inline constexpr bool isLazyAwaitable = false;
template <typename T>
inline constexpr bool isLazyAwaitable<Coro<T>> = true;
template <>
inline constexpr bool isLazyAwaitable<Sleep> = true;
} // namespace detail

//! The result type of awaiting an A (Future<T>, Task<T> or Coro<T>): T.
template <typename A>
using AwaitResult = typename AwaitableTraits<std::remove_cvref_t<A>>::Result;

template <typename A>
concept EngineAwaitable = requires
{
    typename AwaitableTraits<std::remove_cvref_t<A>>::Result;
};

/*!
 * The future for an awaitable (Python: asyncio.ensure_future): a Future or Task as it is, a
 * Coro (or a Sleep) wrapped in a task on the current loop.
 */
template <typename T>
Future<T> ensureFuture(const Future<T> &future)
{
    return future;
}
template <typename T>
Future<T> ensureFuture(Coro<T> &&coro, SourceLocation location = SourceLocation::current())
{
    EventLoop *loop = EventLoop::current();
    if (!loop)
        throw RuntimeError("ensureFuture: there is no current event loop in this thread");
    return loop->createTask(std::move(coro), {}, location);
}

//! A sleep() wrapped in a task of its own on the current loop.
inline Future<void> ensureFuture(Sleep sleep, SourceLocation location = SourceLocation::current())
{
    EventLoop *loop = EventLoop::current();
    if (!loop)
        throw RuntimeError("ensureFuture: there is no current event loop in this thread");
    return loop->createTask(sleep, {}, location);
}

/*!
 * A finished future's outcome, value or exception (what gather(ReturnExceptions, ...) gives
 * for each child: Python returns the result or the exception object in the list).
 */
template <typename T>
class Outcome
{
public:
    using Value = detail::ValueStorage<T>;

    explicit Outcome(Value value) : m_data(std::move(value)) { }
    explicit Outcome(std::exception_ptr exception) : m_data(std::move(exception)) { }

    bool hasValue() const noexcept { return m_data.index() == 0; }
    bool hasException() const noexcept { return m_data.index() == 1; }
    //! The child was cancelled (its exception is a CancelledError).
    bool isCancelled() const { return hasException() && detail::isCancelledError(exception()); }
    //! The value; rethrows the exception when there is one.
    const Value &value() const
    {
        if (hasException())
            std::rethrow_exception(std::get<1>(m_data));
        return std::get<0>(m_data);
    }
    std::exception_ptr exception() const
    {
        return hasException() ? std::get<1>(m_data) : std::exception_ptr();
    }

    //! The outcome of a done future (cancelled: a CancelledError with its message).
    static Outcome fromDone(detail::FutureState<T> &state)
    {
        if (state.cancelled())
            return Outcome(std::make_exception_ptr(CancelledError(state.cancelMessage())));
        if (std::exception_ptr e = state.exception())
            return Outcome(e);
        return Outcome(state.value());
    }

private:
    std::variant<Value, std::exception_ptr> m_data;
};

} // namespace loopscope

#endif // Q_MOC_RUN
