// timers: 200,000 callLater with delays uniform in [0, 200 ms] (fixed seed), run until the
// last fired: total time, scheduling time, mean and p99 lateness (how late each fired, real
// time). Against one single-shot QTimer per deadline, which Qt 6.4 (a linear timer list)
// cannot do at full size in reasonable time. Issue 6 asks for the largest size Qt finishes
// in 20 s; five repetitions of that would not fit in bench/run's 5 minutes, so Qt runs the
// largest size that finishes in about 8 s on this machine: a first, untimed run of 40,000
// sets it, taking Qt's cost to grow with the cube of the count (at least 40,000, at most
// 200,000, in steps of 10,000). Loopscope runs that size too so that the comparison is like
// for like. The delays span 200 ms whatever the size, so no run can take less than that.
// (A fixed 40,000 until the ninth session: 2.1 s for Qt on this machine, 4.3 s on another.)
//
//   bench_timers [--quick] [--reps N]

#include "benchsupport.h"

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QTimer>

#include <algorithm>
#include <cmath>
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

//! The largest count of QTimers (see the file comment) Qt runs in about 8 s on this machine.
std::size_t qtSize()
{
    // Qt's cost grows faster than the square of the count (a 20,000 probe predicting with the
    // square gave 120,000, which took 30 s): taken as the cube, from a probe of 40,000.
    constexpr double kBudgetSeconds = 8.0;
    constexpr std::int64_t kProbe = 40'000;
    bench::Result probe("timers", "qt", kProbe);
    runQt(delays(kProbe), probe);
    const double seconds = probe.medianSeconds();
    const auto fits = std::int64_t(double(kProbe) * std::cbrt(kBudgetSeconds / seconds));
    const std::int64_t size = std::clamp<std::int64_t>(fits / 10'000 * 10'000, kProbe, 200'000);
    std::fprintf(stderr, "timers: Qt ran %lld timers in %.2f s; it runs %lld\n",
                 static_cast<long long>(kProbe), seconds, static_cast<long long>(size));
    return std::size_t(size);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const bench::Options options(argc, argv);
    const auto full = delays(options.size(200'000));
    const auto small = delays(options.quick ? options.size(40'000) : qtSize());
    bench::Result ours("timers", "loopscope", std::int64_t(full.size()));
    bench::Result oursSmall("timers", "loopscope", std::int64_t(small.size()));
    bench::Result qt("timers", "qt", std::int64_t(small.size()));
    qt.setNote(std::to_string(small.size())
               + " QTimers, the most that finish in about 8 s here: Qt 6.4's timer list is "
                 "linear, so 200,000 would take minutes");
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
