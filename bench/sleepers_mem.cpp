// sleepers_mem: 100,000 tasks sleeping 1 s at once: the bytes one sleeping task costs, all
// included (its coroutine frame, the task, its timer heap entry, its Task handle in the
// vector, and the blocks of the first steps' handles that the engine's pool keeps cached;
// sleep() itself makes no frame, future or handle). Measured as the growth of the heap
// in use (mallinfo2, plus the blocks the engine's pool carved from its own chunks, which
// malloc does not see: detail::poolMemory()) while they sleep, divided by their number, and
// as the growth of the resident set (first repetition only: later ones reuse freed memory).
// Loopscope's heap figure is taken from the first repetition only too: the engine keeps
// freed handles, futures and frames in per-thread caches (still "in use"), so later
// repetitions would reuse them without the heap growing and look cheaper than they are.
// Against QCoro
// coroutines sleeping on QCoro::sleepFor(1s) (a QTimer each), at 10,000 because Qt 6.4
// registers timers in a linear list.
//
//   bench_sleepers_mem [--quick] [--reps N]

#include "benchsupport.h"

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QCoroTask>
#include <QCoroTimer>
#include <QEventLoop>
#include <QTimer>

#include <malloc.h>

using namespace std::chrono_literals;

namespace {

std::int64_t heapInUse()
{
    const struct mallinfo2 info = mallinfo2();
    return std::int64_t(info.uordblks + info.hblkhd + loopscope::detail::poolMemory().blockBytes);
}

loopscope::Coro<void> sleeper()
{
    co_await loopscope::sleep(1s);
}

QCoro::Task<void> qcoroSleeper()
{
    co_await QCoro::sleepFor(1s);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const bench::Options options(argc, argv);
    const std::int64_t n = options.size(100'000);
    const std::int64_t qcoroN = options.size(10'000);
    bench::Result ours("sleepers_mem", "loopscope", n);
    bench::Result qcoro("sleepers_mem", "qcoro", qcoroN);
    qcoro.setNote("10,000 sleepers: Qt 6.4 registers each QTimer in a linear list");
    ours.setNote("bytes from the first repetition (later ones reuse the engine's cached blocks)");
    for (int rep = 0; rep < options.repetitions; ++rep) {
        {
            // Virtual time: the sleepers are parked, measured, then released at once.
            auto clock = std::make_shared<loopscope::VirtualClock>(false);
            loopscope::EventLoop loop(clock);
            const std::int64_t heap0 = heapInUse();
            const std::int64_t rss0 = bench::residentBytes();
            const auto start = bench::Clock::now();
            std::vector<loopscope::Task<void>> tasks;
            tasks.reserve(std::size_t(n));
            for (std::int64_t i = 0; i < n; ++i)
                tasks.push_back(loop.createTask(sleeper()));
            loop.callSoon([&] { loop.stop(); }); // after every first step: all asleep
            loop.runForever();
            ours.addRun(bench::secondsSince(start));
            // The first steps' handles, freed but kept in the thread's burst cache (a million
            // at once would be): free memory of the engine's, not the sleepers' footprint.
            loopscope::releaseThreadCache();
            if (rep == 0) {
                ours.addFigure("bytes_per_task", double(heapInUse() - heap0) / double(n));
                ours.addFigure("rss_bytes_per_task",
                               double(bench::residentBytes() - rss0) / double(n));
            }
            clock->advance(1s); // wake them all and let them finish
            loop.runUntilComplete(tasks.back());
            tasks.clear();
        }
        {
            const std::int64_t heap0 = heapInUse();
            const std::int64_t rss0 = bench::residentBytes();
            const auto start = bench::Clock::now();
            std::vector<QCoro::Task<void>> tasks;
            tasks.reserve(std::size_t(qcoroN));
            for (std::int64_t i = 0; i < qcoroN; ++i)
                tasks.push_back(qcoroSleeper()); // eager: parked on its QTimer at once
            qcoro.addRun(bench::secondsSince(start));
            qcoro.addFigure("bytes_per_task", double(heapInUse() - heap0) / double(qcoroN));
            if (rep == 0)
                qcoro.addFigure("rss_bytes_per_task",
                                double(bench::residentBytes() - rss0) / double(qcoroN));
            // Let them finish so that their frames are freed before the next repetition.
            QEventLoop events;
            QTimer::singleShot(1100ms, &events, &QEventLoop::quit);
            events.exec();
        }
    }
    ours.print();
    qcoro.print();
    const double ratio = ours.figure("bytes_per_task") > 0
            ? qcoro.figure("bytes_per_task") / ours.figure("bytes_per_task")
            : 0;
    std::printf("sleepers_mem  %.0f bytes per sleeping task vs qcoro %.0f: %.1fx smaller "
                "(target >= 3x: %s)\n",
                ours.figure("bytes_per_task"), qcoro.figure("bytes_per_task"), ratio,
                ratio >= 3 ? "met" : "NOT met");
    return 0;
}
