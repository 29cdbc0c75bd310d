// post_burst (DESIGN.md, "Performance workloads"): 1,000,000 no-op callbacks posted before
// the loop runs, timed from the first post until the last one ran. Loopscope's callSoon
// against Qt's queued QMetaObject::invokeMethod on a QObject, in the same process.
//
//   bench_post_burst [--quick] [--reps N]

#include "benchsupport.h"

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QEventLoop>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const bench::Options options(argc, argv);
    const std::int64_t n = options.size(1'000'000);
    bench::Result ours("post_burst", "loopscope", n);
    bench::Result qt("post_burst", "qt", n);

    for (int rep = 0; rep < options.repetitions; ++rep) {
        {
            bench::settleHeap();
            loopscope::EventLoop loop;
            std::int64_t ran = 0;
            const auto start = bench::Clock::now();
            for (std::int64_t i = 0; i < n; ++i)
                loop.callSoon([&] {
                    if (++ran == n)
                        loop.stop();
                });
            loop.runForever();
            ours.addRun(bench::secondsSince(start));
        }
        {
            bench::settleHeap();
            QObject target;
            QEventLoop events;
            std::int64_t ran = 0;
            const auto start = bench::Clock::now();
            for (std::int64_t i = 0; i < n; ++i)
                QMetaObject::invokeMethod(
                        &target,
                        [&] {
                            if (++ran == n)
                                events.quit();
                        },
                        Qt::QueuedConnection);
            events.exec();
            qt.addRun(bench::secondsSince(start));
        }
    }
    ours.print();
    qt.print();
    bench::printRatio("post_burst", ours, qt, "per_op_ns", 20, "ns");
    return 0;
}
