// Soak test (issue 7): 1,000,000 tasks created and finished in waves, a random quarter of them
// cancelled (before their first step, while they sleep, or racing their own end) and some
// failing, on an auto-advancing virtual clock, with the RSS measured before and after.
//
// What it proves: a task, its coroutine frames, its sleep timers, its done-callbacks and the
// exceptions it raised are all given back once it ends; the loop's own structures (ready
// queue, timer heap, task list, a recorder attached to it) stay bounded however many tasks
// went through them. The RSS is read from /proc/self/statm after malloc_trim(0), so memory
// glibc keeps cached in its free lists does not count as growth.
//
// LOOPSCOPE_SOAK_TASKS (default 1,000,000) sets how many tasks run; LOOPSCOPE_SOAK_RSS_MB
// (default 5) the allowed RSS growth, 0 to skip the check (the sanitizer builds: ASan holds
// freed memory in its quarantine; LeakSanitizer checks for leaks at exit instead).

#include "../support/frameguard.h"

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>

#include <QTest>

#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::Duration;
using loopscope::EventLoop;

namespace {

using loopscope::testsupport::FrameGuard;
using loopscope::testsupport::g_liveFrames;

struct PlannedFailure : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

//! Resident set size in bytes (the second field of /proc/self/statm, in pages).
std::size_t residentBytes()
{
    std::FILE *f = std::fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0;
    unsigned long resident = 0;
    const int read = std::fscanf(f, "%lu %lu", &size, &resident);
    std::fclose(f);
    return read == 2 ? std::size_t(resident) * std::size_t(sysconf(_SC_PAGESIZE)) : 0;
}

std::size_t trimmedResidentBytes()
{
    // Freed memory glibc keeps in its arenas is not a leak; give it back before measuring.
    malloc_trim(0);
    return residentBytes();
}

double mebibytes(std::int64_t bytes)
{
    return double(bytes) / (1024.0 * 1024.0);
}

Coro<int> leaf(Duration delay)
{
    FrameGuard guard;
    co_await loopscope::sleep(delay);
    co_return 1;
}

//! A task body: a few sleeps, an inline child coroutine, and a planned failure at the end.
Coro<int> worker(int sleeps, Duration step, bool fail)
{
    FrameGuard guard;
    int sum = 0;
    for (int i = 0; i < sleeps; ++i) {
        co_await loopscope::sleep(step);
        ++sum;
    }
    if (sleeps > 1) {
        auto child = leaf(step); // a named local: see g++ bug 99576
        sum += co_await child;
    }
    if (fail)
        throw PlannedFailure("planned failure");
    co_return sum;
}

struct Tally
{
    std::uint64_t finished = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t failed = 0;
    std::uint64_t doneCallbacks = 0;
};

} // namespace

class tst_Soak : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void millionTasksInWavesKeepMemoryFlat();
};

void tst_Soak::millionTasksInWavesKeepMemoryFlat()
{
    const int totalTasks = qEnvironmentVariableIsSet("LOOPSCOPE_SOAK_TASKS")
            ? qEnvironmentVariableIntValue("LOOPSCOPE_SOAK_TASKS")
            : 1000000;
    const int rssLimitMb = qEnvironmentVariableIsSet("LOOPSCOPE_SOAK_RSS_MB")
            ? qEnvironmentVariableIntValue("LOOPSCOPE_SOAK_RSS_MB")
            : 5;
    constexpr int kWave = 10000;
    const int waves = std::max(2, totalTasks / kWave);

    std::mt19937_64 random(20261127);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(random); };

    std::vector<QString> unexpected;
    Tally tally;
    std::size_t baseline = 0;
    std::size_t start = 0;
    std::size_t peak = 0;
    std::size_t after = 0;
    g_liveFrames = 0;
    {
        auto clock = std::make_shared<loopscope::VirtualClock>();
        EventLoop loop(clock);
        // Every failure is retrieved below, so any report is a broken promise.
        loop.setExceptionHandler(
                [&](const loopscope::ExceptionContext &c) { unexpected.push_back(c.toString()); });
        // The visualizer always has one attached: its aggregates must stay bounded too.
        loopscope::RecorderOptions options;
        options.capacity = 4096;
        loopscope::TraceRecorder recorder(options);
        loop.addObserver(&recorder);
        start = trimmedResidentBytes();

        std::vector<loopscope::Task<int>> tasks;
        tasks.reserve(kWave);
        std::vector<loopscope::TimerHandle> cancellers;
        for (int wave = 0; wave < waves; ++wave) {
            for (int i = 0; i < kWave; ++i) {
                // Named, in this order: argument evaluation order differs between compilers.
                const bool fail = pick(0, 9) == 0;
                const int sleeps = pick(0, 3);
                const Duration step = 1ms * pick(0, 20);
                tasks.push_back(loop.createTask(worker(sleeps, step, fail)));
                tasks.back().addDoneCallback([&tally] { ++tally.doneCallbacks; });
            }
            // A quarter cancelled: a third of those before their first step, the rest from a
            // timer at a random point of their life (some after they ended: a no-op).
            for (int i = 0; i < kWave / 4; ++i) {
                loopscope::Task<int> &victim = tasks[std::size_t(pick(0, kWave - 1))];
                if (pick(0, 2) == 0)
                    victim.cancel();
                else
                    cancellers.push_back(loop.callLater(Duration(1ms * pick(0, 100)),
                                                        [victim]() mutable { victim.cancel(); }));
            }
            // Every sleep and canceller is due within 200 virtual ms.
            auto settle = loop.createTask(leaf(200ms)); // a named local: see g++ bug 99576
            loop.runUntilComplete(settle);
            for (loopscope::Task<int> &task : tasks) {
                if (!task.done()) {
                    unexpected.push_back(QStringLiteral("a task still pending after its wave"));
                } else if (task.cancelled()) {
                    ++tally.cancelled;
                } else if (task.exception()) {
                    ++tally.failed;
                } else {
                    ++tally.finished;
                }
            }
            tasks.clear();
            cancellers.clear();
            if (!unexpected.empty())
                break;
            // The first wave warms up what is sized once and reused (the allocator's arenas,
            // the loop's queues, the recorder's tables): measure growth from its end.
            if (wave == 0)
                baseline = trimmedResidentBytes();
            peak = std::max(peak, residentBytes());
        }
        // Measured with the loop and the recorder still alive, as after the first wave.
        after = trimmedResidentBytes();
        loop.removeObserver(&recorder);
        loop.close();
        QVERIFY(loop.allTasks().empty());
        QVERIFY(recorder.droppedEvents() > 0); // the ring wrapped: it stayed its size
    }

    const std::uint64_t ran = std::uint64_t(waves) * kWave;
    const std::int64_t growth = std::int64_t(after) - std::int64_t(baseline);
    qInfo("%llu tasks in %d waves: %llu finished, %llu cancelled, %llu failed; RSS %.1f MiB at "
          "start, %.1f MiB after the first wave, peak %.1f MiB, %.1f MiB after the last "
          "(growth %+.2f MiB since the first wave, %+.2f MiB since the start); %.1f MiB once "
          "the loop is gone",
          qulonglong(ran), waves, qulonglong(tally.finished), qulonglong(tally.cancelled),
          qulonglong(tally.failed), mebibytes(std::int64_t(start)),
          mebibytes(std::int64_t(baseline)), mebibytes(std::int64_t(peak)),
          mebibytes(std::int64_t(after)), mebibytes(growth),
          mebibytes(std::int64_t(after) - std::int64_t(start)),
          mebibytes(std::int64_t(trimmedResidentBytes())));
    QVERIFY2(unexpected.empty(), qPrintable(unexpected.empty() ? QString() : unexpected.front()));
    QCOMPARE(g_liveFrames, 0);
    QCOMPARE(tally.finished + tally.cancelled + tally.failed, ran);
    QCOMPARE(tally.doneCallbacks, ran);
    QVERIFY(tally.cancelled > ran / 20); // every path was taken many times
    QVERIFY(tally.failed > ran / 20);
    if (rssLimitMb > 0)
        QVERIFY2(growth < std::int64_t(rssLimitMb) * 1024 * 1024,
                 qPrintable(QStringLiteral("RSS grew by %1 MiB").arg(mebibytes(growth))));
}

QTEST_GUILESS_MAIN(tst_Soak)
#include "tst_soak.moc"
