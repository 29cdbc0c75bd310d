// asyncio seed example 1: a task, a done-callback, run_until_complete.
//
//   async def slow_operation():
//       await asyncio.sleep(1)
//       return 'Future is done!'
//   def got_result(future):
//       print(future.result())
//   loop = asyncio.get_event_loop()
//   task = loop.create_task(slow_operation())
//   task.add_done_callback(got_result)
//   loop.run_until_complete(task)

#include <loopscope/loopscope.h>

#include <QCoreApplication>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

loopscope::Coro<QString> slowOperation()
{
    // co_await suspends this coroutine until sleep() has a result; meanwhile the loop is free.
    co_await loopscope::sleep(1s);
    // our task is done, here's the result
    co_return QStringLiteral("Future is done!");
}

void gotResult(loopscope::Future<QString> future)
{
    std::printf("%s\n", qPrintable(future.result()));
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    // LOOPSCOPE_VIRTUAL_CLOCK=1 runs the same program on virtual time (used by the tests).
    std::shared_ptr<loopscope::Clock> clock;
    if (qEnvironmentVariableIntValue("LOOPSCOPE_VIRTUAL_CLOCK") == 1)
        clock = std::make_shared<loopscope::VirtualClock>();

    loopscope::EventLoop loop(clock); // our main event loop
    auto task = loop.createTask(slowOperation()); // a task from a coroutine
    task.addDoneCallback(gotResult); // notify us when the task is complete
    loop.runUntilComplete(task); // the loop returns when the task has resolved
    return 0;
}
