// asyncio seed example 2: run_forever, stopped from the done-callback.
//
//   async def slow_operation():
//       await asyncio.sleep(1)
//       return 'Future is done!'
//   def got_result(future):
//       print(future.result())
//       loop.stop()
//   loop = asyncio.get_event_loop()
//   task = loop.create_task(slow_operation())
//   task.add_done_callback(got_result)
//   loop.run_forever()

#include <loopscope/loopscope.h>

#include <QCoreApplication>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

loopscope::Coro<QString> slowOperation()
{
    co_await loopscope::sleep(1s);
    co_return QStringLiteral("Future is done!");
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    std::shared_ptr<loopscope::Clock> clock;
    if (qEnvironmentVariableIntValue("LOOPSCOPE_VIRTUAL_CLOCK") == 1)
        clock = std::make_shared<loopscope::VirtualClock>();

    loopscope::EventLoop loop(clock);
    auto gotResult = [&loop](loopscope::Future<QString> future) {
        std::printf("%s\n", qPrintable(future.result()));
        loop.stop(); // we have the result, so stop
    };
    auto task = loop.createTask(slowOperation());
    task.addDoneCallback(gotResult);
    loop.runForever(); // run until stop() is called
    return 0;
}
