#include "loopscope/sleep.h"

namespace loopscope {

Coro<void> sleep(Duration delay, SourceLocation location)
{
    if (delay <= Duration::zero()) {
        co_await detail::YieldAwaiter{};
        co_return;
    }
    EventLoop *loop = EventLoop::current();
    if (!loop)
        throw RuntimeError("sleep: there is no current event loop in this thread");
    Future<void> done(*loop, FutureKind::Sleep);
    TimerHandle timer = loop->callLater(
            delay,
            [done]() mutable {
                if (!done.done())
                    done.setResult();
            },
            location);
    // Cancelled, or the frame destroyed because the loop closed while the task slept: the
    // timer must not keep the future (and our frame's state) around, nor be named by close()
    // as a timer that will never run (the task is named already). Once the timer fired,
    // cancel() does nothing.
    struct CancelOnExit
    {
        TimerHandle &timer;
        ~CancelOnExit() { timer.cancel(); }
    } cancelOnExit{ timer };
    co_await done;
}

} // namespace loopscope
