// Uses only what an installed Loopscope provides: the umbrella header and Loopscope::Engine.
#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QString>

#include <chrono>
#include <cstdio>

namespace {

loopscope::Coro<QString> slowOperation()
{
    co_await loopscope::sleep(std::chrono::milliseconds(10));
    co_return QStringLiteral("Future is done!");
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    loopscope::EventLoop loop;

    bool callbackRan = false;
    loop.callSoon([&callbackRan] { callbackRan = true; });

    loopscope::Task<QString> task =
            loop.createTask(slowOperation(), QStringLiteral("slowOperation"));
    const QString result = loop.runUntilComplete(task);

    if (!callbackRan) {
        std::fprintf(stderr, "consumer: callSoon callback did not run\n");
        return 1;
    }
    if (result != QStringLiteral("Future is done!")) {
        std::fprintf(stderr, "consumer: unexpected result '%s'\n", qPrintable(result));
        return 1;
    }
    std::printf("consumer: %s\n", qPrintable(result));
    return 0;
}
