#pragma once

#include "loopscope/clock.h"
#include "loopscope/coro.h"
#include "loopscope/eventloop.h"
#include "loopscope/future.h"

#include <chrono>
#include <coroutine>

namespace loopscope {

namespace detail {
//! Sleep's halves (sleep.cpp): park \a h for \a delay (in its task when it is the engine's own
//! coroutine in a task step, else on a plain loop timer), and end the sleep on resumption.
void sleepTask(Duration delay, std::coroutine_handle<> h);
void sleepForeign(Duration delay, std::coroutine_handle<> h);
void endSleep();
Coro<void> sleepCoro(Duration delay);
} // namespace detail

/*!
 * What sleep() returns: an awaitable, not a coroutine, so that a sleeping task costs no
 * coroutine frame, future, timer handle or done-callback of its own. Awaited from a task, the
 * task parks itself in the loop's timer heap; cancelling the task unparks it and makes the
 * `co_await` throw CancelledError. Observers still see a Sleep future (by its id), its
 * timer and the wake-up, as for any awaited future.
 *
 * Where a coroutine is wanted (createTask(), gather(), waitFor(), shield(), timeout(), a
 * Coro<void> variable) a Sleep converts to a Coro<void> that awaits it.
 */
class [[nodiscard]] Sleep
{
public:
    explicit Sleep(Duration delay) noexcept : m_delay(delay) { }

    Duration delay() const noexcept { return m_delay; }

    bool await_ready() const noexcept { return false; }
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h)
    {
        // A foreign coroutine (QCoro's) is not the running task's continuation.
        if constexpr (detail::IsEnginePromise<P>::value)
            detail::sleepTask(m_delay, h);
        else
            detail::sleepForeign(m_delay, h);
    }
    void await_resume() { detail::endSleep(); }

    //! The sleep as a coroutine of its own (one frame: for when a Coro<void> is needed).
    operator Coro<void>() const { return detail::sleepCoro(m_delay); }

private:
    Duration m_delay;
};

/*!
 * Suspends the current task for \a delay on the loop's clock (Python: asyncio.sleep).
 * A delay of zero or less yields for exactly one loop iteration, letting every other ready
 * callback run first. Cancelling the task while it sleeps cancels the timer.
 */
inline Sleep sleep(Duration delay) noexcept
{
    return Sleep(delay);
}

//! Like sleep(delay), then returns \a result (Python: asyncio.sleep(delay, result)).
template <typename T>
Coro<T> sleep(Duration delay, T result)
{
    co_await Sleep(delay);
    co_return result;
}

namespace detail {

//! `co_await 250ms` in an engine coroutine is `co_await sleep(250ms)`: the loop's clock, not
//! a QTimer (QCoro's own `co_await` of a duration would resume outside the ready queue).
template <typename Rep, typename Period>
struct AwaitTransform<std::chrono::duration<Rep, Period>>
{
    template <typename A>
    static Sleep transform(A &&delay)
    {
        return Sleep(std::chrono::ceil<Duration>(delay));
    }
};

} // namespace detail

} // namespace loopscope
