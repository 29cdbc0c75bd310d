// timers: 200,000 callLater with delays uniform in [0, 200 ms] (fixed seed), run until the
// last fired: total time, scheduling time, mean and p99 lateness (how late each fired, real
// time). Against one single-shot QTimer per deadline, which Qt 6.4 (a linear timer list)
// cannot do at full size in reasonable time: Qt runs 40,000 (issue 6 asks for the largest
// size that finishes in 20 s; 20,000 took 1.5 s on the 2-core machine and the cost grows
// about with the square of the count, and five repetitions of a 20 s run would not fit in
// bench/run's 5 minutes), and Loopscope runs that size too so that the comparison is like
// for like. The delays span 200 ms whatever the size, so no run can take less than that.
//
//   bench_timers [--quick] [--reps N]

#include "benchsupport.h"

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QTimer>

#include <random>

namespace {

std::vector<std::chrono::microseconds> delays(std::int64_t n)
{
    std::mt19937_64 random(42);
    std::uniform_int_distribution<int> micros(0, 200'000);
    std::vector<std::chrono::microseconds> out;
    out.reserve(std::size_t(n));
    for (std::int64_t i = 0; i < n; ++i)
        out.emplace_back(micros(random));
    return out;
}

struct Lateness
{
    std::vector<double> ms;
    void add(bench::Clock::time_point due)
    {
        ms.push_back(std::chrono::duration<double, std::milli>(bench::Clock::now() - due).count());
    }
    void report(bench::Result &r) const
    {
        double sum = 0;
        for (double v : ms)
            sum += v;
        r.addFigure("late_mean_ms", ms.empty() ? 0 : sum / double(ms.size()));
        r.addFigure("late_p99_ms", bench::quantile(ms, 0.99));
        r.addFigure("late_max_ms", bench::quantile(ms, 1.0));
    }
};

void runLoopscope(const std::vector<std::chrono::microseconds> &delay, bench::Result &r)
{
    loopscope::EventLoop loop;
    const std::int64_t n = std::int64_t(delay.size());
    std::int64_t fired = 0;
    Lateness late;
    late.ms.reserve(delay.size());
    const auto start = bench::Clock::now();
    for (const auto d : delay) {
        const auto due = bench::Clock::now() + d;
        loop.callLater(d, [&, due] {
            late.add(due);
            if (++fired == n)
                loop.stop();
        });
    }
    r.addFigure("sched_ms", bench::secondsSince(start) * 1000);
    loop.runForever();
    r.addRun(bench::secondsSince(start));
    late.report(r);
}

void runQt(const std::vector<std::chrono::microseconds> &delay, bench::Result &r)
{
    QObject context;
    QEventLoop events;
    const std::int64_t n = std::int64_t(delay.size());
    std::int64_t fired = 0;
    Lateness late;
    late.ms.reserve(delay.size());
    const auto start = bench::Clock::now();
    for (const auto d : delay) {
        // QTimer has millisecond resolution: round up so that it is never asked to fire early.
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d);
        const auto due = bench::Clock::now() + d;
        QTimer::singleShot(ms, Qt::PreciseTimer, &context, [&, due] {
            late.add(due);
            if (++fired == n)
                events.quit();
        });
    }
    r.addFigure("sched_ms", bench::secondsSince(start) * 1000);
    events.exec();
    r.addRun(bench::secondsSince(start));
    late.report(r);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const bench::Options options(argc, argv);
    const auto full = delays(options.size(200'000));
    const auto small = delays(options.size(40'000));
    bench::Result ours("timers", "loopscope", std::int64_t(full.size()));
    bench::Result oursSmall("timers", "loopscope", std::int64_t(small.size()));
    bench::Result qt("timers", "qt", std::int64_t(small.size()));
    qt.setNote("40,000 QTimers: Qt 6.4's timer list is linear, so 200,000 would take minutes");
    for (int rep = 0; rep < options.repetitions; ++rep) {
        runLoopscope(full, ours);
        runLoopscope(small, oursSmall);
        runQt(small, qt);
    }
    ours.print();
    oursSmall.print();
    qt.print();
    bench::printRatio("timers", oursSmall, qt, "per_op_ns", 10, "ns");
    bench::printRatio("timers", oursSmall, qt, "sched_ms", 0, "ms");
    bench::printRatio("timers", oursSmall, qt, "late_p99_ms", 10, "ms");
    bench::printRatio("timers", oursSmall, qt, "late_mean_ms", 0, "ms");
    std::printf("timers        the full %zu ran in %.3f s, p99 lateness %.3f ms\n", full.size(),
                ours.medianSeconds(), ours.figure("late_p99_ms"));
    return 0;
}
