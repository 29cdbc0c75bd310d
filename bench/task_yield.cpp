// task_yield: 10,000 tasks each yield 100 times (`co_await sleep(0)`, asyncio's way to let
// the others run). Against QCoro coroutines yielding with `co_await QCoro::sleepFor(0ms)`
// (one QTimer per yield), which cannot do the full size in reasonable time: the same 10,000
// coroutines (so Qt's timer list is as long as in the full workload) yield 10 times each, and
// the per-switch figures are compared.
//
//   bench_task_yield [--quick] [--reps N]

#include "benchsupport.h"

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QCoroTask>
#include <QCoroTimer>
#include <QEventLoop>

using namespace std::chrono_literals;

namespace {

loopscope::Coro<void> yielder(int yields, std::int64_t *done, loopscope::EventLoop *loop,
                              std::int64_t tasks)
{
    for (int i = 0; i < yields; ++i)
        co_await loopscope::sleep(0s);
    if (++*done == tasks)
        loop->stop();
}

QCoro::Task<void> qcoroYielder(int yields, std::int64_t *done, QEventLoop *events,
                               std::int64_t tasks)
{
    for (int i = 0; i < yields; ++i)
        co_await QCoro::sleepFor(0ms);
    if (++*done == tasks)
        events->quit();
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const bench::Options options(argc, argv);
    constexpr int kYields = 100;
    const std::int64_t tasks = options.size(10'000);
    constexpr int kQCoroYields = 10;
    const std::int64_t qcoroTasks = options.size(10'000);
    bench::Result ours("task_yield", "loopscope", tasks * kYields);
    bench::Result qcoro("task_yield", "qcoro", qcoroTasks * kQCoroYields);
    qcoro.setNote("10,000 tasks x 10 yields (one QTimer per yield; x 100 takes over a minute)");

    for (int rep = 0; rep < options.repetitions; ++rep) {
        {
            loopscope::EventLoop loop;
            std::int64_t done = 0;
            std::vector<loopscope::Task<void>> all;
            all.reserve(std::size_t(tasks));
            const auto start = bench::Clock::now();
            for (std::int64_t i = 0; i < tasks; ++i)
                all.push_back(loop.createTask(yielder(kYields, &done, &loop, tasks)));
            loop.runForever();
            ours.addRun(bench::secondsSince(start));
        }
        {
            QEventLoop events;
            std::int64_t done = 0;
            std::vector<QCoro::Task<void>> all;
            all.reserve(std::size_t(qcoroTasks));
            const auto start = bench::Clock::now();
            for (std::int64_t i = 0; i < qcoroTasks; ++i)
                all.push_back(qcoroYielder(kQCoroYields, &done, &events, qcoroTasks));
            events.exec();
            qcoro.addRun(bench::secondsSince(start));
        }
    }
    ours.print();
    qcoro.print();
    bench::printRatio("task_yield", ours, qcoro, "per_op_ns", 100, "ns");
    return 0;
}
