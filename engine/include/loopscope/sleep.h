#pragma once

#include "loopscope/clock.h"
#include "loopscope/coro.h"
#include "loopscope/eventloop.h"

#include "loopscope/sourcelocation.h"

#include <chrono>

namespace loopscope {

/*!
 * Suspends the current task for \a delay on the loop's clock (Python: asyncio.sleep).
 * A delay of zero or less yields for exactly one loop iteration, letting every other ready
 * callback run first. Cancelling the task while it sleeps cancels the timer.
 */
Coro<void> sleep(Duration delay, SourceLocation location = SourceLocation::current());

//! Like sleep(delay), then returns \a result (Python: asyncio.sleep(delay, result)).
template <typename T>
Coro<T> sleep(Duration delay, T result, SourceLocation location = SourceLocation::current())
{
    co_await sleep(delay, location);
    co_return result;
}

namespace detail {

//! `co_await 250ms` in an engine coroutine is `co_await sleep(250ms)`: the loop's clock, not
//! a QTimer (QCoro's own `co_await` of a duration would resume outside the ready queue).
template <typename Rep, typename Period>
struct AwaitTransform<std::chrono::duration<Rep, Period>>
{
    template <typename A>
    static Coro<void> transform(A &&delay)
    {
        return sleep(std::chrono::ceil<Duration>(delay));
    }
};

} // namespace detail

} // namespace loopscope
