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
    try {
        co_await done;
    } catch (...) {
        // Cancelled: the timer must not keep the future (and our frame's state) around.
        timer.cancel();
        throw;
    }
}

} // namespace loopscope
