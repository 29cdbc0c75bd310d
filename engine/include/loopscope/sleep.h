#pragma once

#include "loopscope/clock.h"
#include "loopscope/coro.h"
#include "loopscope/eventloop.h"

#include "loopscope/sourcelocation.h"

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

} // namespace loopscope
