// executor: 10,000 trivial jobs run on a thread pool and awaited together. Loopscope's
// runInExecutor + gather against Qt's QtConcurrent::run(...).then(context, ...) counting
// completions on the main thread, written out as what QtConcurrent::run does (a job on
// QThreadPool::globalInstance() reporting to a QFutureInterface) with the continuation
// attached before the job starts. Qt 6.4.2 crashes now and then (SIGSEGV in
// QFutureInterfaceBase::reportStarted(), from the continuation's event) when then(context,
// ...) is attached to a QtConcurrent::run future that may already be finishing: 9 of 25
// runs of this bench, 2 of 25 with the Loopscope side left out; none in 45 this way. Qt
// pays more per job this way (9.1-13.0 us against 5.4 us): its trivial jobs used to finish
// before then() was attached, so their continuation was posted from the main thread.
//
//   bench_executor [--quick] [--reps N]

#include "benchsupport.h"

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QtConcurrent>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const bench::Options options(argc, argv);
    const std::int64_t n = options.size(10'000);
    bench::Result ours("executor", "loopscope", n);
    bench::Result qt("executor", "qt", n);
    for (int rep = 0; rep < options.repetitions; ++rep) {
        {
            bench::settleHeap(); // as post_burst: neither side pays for the other's garbage
            loopscope::EventLoop loop;
            const auto start = bench::Clock::now();
            std::vector<loopscope::Future<int>> jobs;
            jobs.reserve(std::size_t(n));
            for (std::int64_t i = 0; i < n; ++i)
                jobs.push_back(loop.runInExecutor([i] { return int(i & 1); }));
            auto all = [&]() -> loopscope::Coro<std::size_t> {
                const auto results = co_await loopscope::gather(jobs);
                co_return results.size();
            };
            const std::size_t got = loop.runUntilComplete(loop.createTask(all()));
            ours.addRun(bench::secondsSince(start));
            if (std::int64_t(got) != n)
                return 1;
        }
        {
            bench::settleHeap();
            QObject context;
            QEventLoop events;
            std::int64_t done = 0;
            const auto start = bench::Clock::now();
            for (std::int64_t i = 0; i < n; ++i) {
                QFutureInterface<int> job;
                job.reportStarted();
                job.future().then(&context, [&](int) {
                    if (++done == n)
                        events.quit();
                });
                QThreadPool::globalInstance()->start([i, job]() mutable {
                    job.reportResult(int(i & 1));
                    job.reportFinished();
                });
            }
            events.exec();
            qt.addRun(bench::secondsSince(start));
        }
    }
    for (bench::Result *r : { &ours, &qt })
        r->addFigure("us_per_job", r->perOpNs() / 1000);
    ours.print();
    qt.print();
    bench::printRatio("executor", ours, qt, "per_op_ns", 1, "ns");
    return 0;
}
