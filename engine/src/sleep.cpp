#include "loopscope/sleep.h"

#include "loopscope/task.h"

namespace loopscope {

namespace detail {

void sleepTask(Duration delay, std::coroutine_handle<> h)
{
    if (delay <= Duration::zero()) {
        yieldTask(h);
        return;
    }
    if (TaskCore *task = TaskCore::current()) {
        task->sleepFor(delay, h);
        return;
    }
    sleepForeign(delay, h);
}

void sleepForeign(Duration delay, std::coroutine_handle<> h)
{
    if (delay <= Duration::zero()) {
        yieldForeign(h);
        return;
    }
    // No task to park: a plain timer resumes the coroutine from the ready queue.
    EventLoop *loop = EventLoop::current();
    if (!loop)
        throw RuntimeError("sleep: there is no current event loop in this thread");
    loop->callLater(delay, [h] { h.resume(); });
}

void endSleep()
{
    if (TaskCore *task = TaskCore::current())
        task->endSleep();
}

Coro<void> sleepCoro(Duration delay)
{
    co_await Sleep(delay);
}

} // namespace detail

void EventLoop::runUntilComplete(Sleep sleep, SourceLocation location)
{
    runUntilComplete(Future<void>(createTask(detail::sleepCoro(sleep.delay()), {}, location)));
}

Task<void> EventLoop::createTask(Sleep sleep, QString name, SourceLocation location)
{
    return createTask(detail::sleepCoro(sleep.delay()), std::move(name), location);
}

} // namespace loopscope
