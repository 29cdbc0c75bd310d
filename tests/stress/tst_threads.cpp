// Thread stress (issue 7): the engine's ways in and out of the loop thread, pushed hard on the
// real clock, for ThreadSanitizer (label tsan) as much as for their own checks.
//
//   - callSoonThreadsafe from eight threads while the loop runs, then closes under them;
//   - executor jobs finishing (results written on a worker, read on the loop thread) while
//     the loop closes with some of them queued or running;
//   - a TraceRecorder drained, and every one of its readers called, from another thread
//     while the loop records tasks, timers, executor jobs and thread-safe callbacks.
//
// None of the checks is a timing: each asserts what must hold whatever the interleaving.

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>

#include <QTest>
#include <QThread>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::Duration;
using loopscope::EventLoop;
using loopscope::RecordedEvent;
using loopscope::TraceEventKind;

namespace {

//! Captured by callables handed to the loop: counts the copies alive.
struct Tracked
{
    explicit Tracked(std::atomic<int> &counter) : m_live(&counter) { counter.fetch_add(1); }
    Tracked(const Tracked &other) : m_live(other.m_live) { m_live->fetch_add(1); }
    Tracked &operator=(const Tracked &) = delete;
    ~Tracked() { m_live->fetch_sub(1); }

private:
    std::atomic<int> *m_live;
};

//! Busy work on a worker for about \a iterations steps (no sleep: the pool stays busy).
std::uint64_t spin(std::uint64_t seed, int iterations)
{
    std::uint64_t x = seed | 1;
    for (int i = 0; i < iterations; ++i)
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
}

} // namespace

class tst_Threads : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void callSoonThreadsafeFromEightThreadsWhileTheLoopRunsAndCloses();
    void executorJobsFinishWhileTheLoopCloses();
    void recorderReadFromAnotherThreadWhileTheLoopRecords();
};

void tst_Threads::callSoonThreadsafeFromEightThreadsWhileTheLoopRunsAndCloses()
{
    constexpr int kThreads = 8;
    constexpr int kRunBeforeClose = 40000;
    std::atomic<int> live{ 0 };
    std::vector<int> ran(kThreads, 0); // loop thread only
    std::vector<int> accepted(kThreads, 0); // written by thread t, read after join
    int outOfOrder = 0;
    int wrongThread = 0;
    int total = 0;
    bool closed = false;
    int ranAfterClose = 0;
    const Qt::HANDLE loopThread = QThread::currentThreadId();
    {
        EventLoop loop;
        // close() names the callbacks it drops from the inbox: expected here.
        loop.setExceptionHandler([](const loopscope::ExceptionContext &) {});
        std::atomic<int> started{ 0 };
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] {
                Tracked tracked(live);
                started.fetch_add(1);
                // Posts until the loop refuses: the close lands in the middle of the flood.
                for (int i = 0;; ++i) {
                    try {
                        loop.callSoonThreadsafe([&, t, i, tracked] {
                            if (QThread::currentThreadId() != loopThread)
                                ++wrongThread;
                            if (closed)
                                ++ranAfterClose;
                            // One thread's callbacks run in the order it posted them.
                            if (i != ran[std::size_t(t)])
                                ++outOfOrder;
                            ++ran[std::size_t(t)];
                            if (++total == kRunBeforeClose)
                                loop.stop();
                        });
                    } catch (const loopscope::RuntimeError &) {
                        break;
                    }
                    ++accepted[std::size_t(t)];
                }
            });
        }
        while (started.load() < kThreads)
            std::this_thread::yield();
        loop.runForever();
        loop.close(); // the threads are still posting
        closed = true;
        for (auto &th : threads)
            th.join();
    }
    QCOMPARE(wrongThread, 0);
    QCOMPARE(outOfOrder, 0);
    QCOMPARE(ranAfterClose, 0);
    QVERIFY(total >= kRunBeforeClose); // stop() lets the current iteration end
    int acceptedTotal = 0;
    for (int t = 0; t < kThreads; ++t) {
        // What a thread got in ran or was dropped by close(), never more.
        QVERIFY(ran[std::size_t(t)] <= accepted[std::size_t(t)]);
        acceptedTotal += accepted[std::size_t(t)];
    }
    QVERIFY(acceptedTotal >= kRunBeforeClose);
    QCOMPARE(live.load(), 0); // every callable accepted and dropped by close() was freed
    qInfo("%d callbacks accepted, %d ran before close()", acceptedTotal, total);
}

void tst_Threads::executorJobsFinishWhileTheLoopCloses()
{
    constexpr int kRounds = 20;
    constexpr int kJobs = 64;
    std::mt19937_64 random(7);
    int finishedTotal = 0;
    int cancelledTotal = 0;
    for (int round = 0; round < kRounds; ++round) {
        std::atomic<int> live{ 0 };
        int completed = 0;
        int wrong = 0;
        int afterClose = 0;
        bool closed = false;
        std::vector<loopscope::Future<std::vector<std::uint64_t>>> futures;
        std::vector<std::uint64_t> seeds;
        {
            EventLoop loop;
            // close() names the futures it cancels and the done-callbacks it drops: expected.
            loop.setExceptionHandler([](const loopscope::ExceptionContext &) {});
            loop.setExecutorMaxThreads(4);
            for (int j = 0; j < kJobs; ++j) {
                const std::uint64_t seed = random();
                const int work = int(random() % 20000);
                seeds.push_back(seed);
                // The result is a heap object built on the worker and read on the loop
                // thread: the completion's hand-over must publish it.
                futures.push_back(loop.runInExecutor([seed, work, tracked = Tracked(live)] {
                    return std::vector<std::uint64_t>{ seed, spin(seed, work) };
                }));
                futures.back().addDoneCallback([&, j] {
                    if (closed)
                        ++afterClose;
                    auto &f = futures[std::size_t(j)];
                    if (!f.cancelled()) {
                        const std::vector<std::uint64_t> r = f.result();
                        if (r.size() != 2 || r[0] != seeds[std::size_t(j)])
                            ++wrong;
                    }
                    if (++completed == kJobs / 4)
                        loop.stop();
                });
            }
            loop.runForever();
            loop.close(); // jobs still queued and running
            closed = true;
            for (auto &f : futures) {
                QVERIFY(f.done());
                if (f.cancelled())
                    ++cancelledTotal;
                else
                    ++finishedTotal;
            }
        }
        futures.clear();
        QCOMPARE(wrong, 0);
        QCOMPARE(afterClose, 0);
        QCOMPARE(live.load(), 0); // every job's callable freed, none left on a worker
    }
    QVERIFY(finishedTotal >= kRounds * kJobs / 4);
    qInfo("%d executor futures finished, %d cancelled by close()", finishedTotal, cancelledTotal);
}

void tst_Threads::recorderReadFromAnotherThreadWhileTheLoopRecords()
{
    loopscope::RecorderOptions options;
    options.capacity = 2048; // small: the reader is lapped, drops are part of the test
    options.stringCapacity = 64;
    loopscope::TraceRecorder recorder(options);
    std::atomic<bool> done{ false };
    std::uint64_t received = 0;
    std::uint64_t gaps = 0;
    int problems = 0;
    QString firstProblem;
    std::thread reader([&] {
        std::vector<RecordedEvent> batch;
        std::int64_t lastSeq = -1;
        auto problem = [&](const QString &what) {
            if (!problems++)
                firstProblem = what;
        };
        auto take = [&] {
            batch.clear();
            recorder.drain(batch);
            for (const RecordedEvent &e : batch) {
                const auto seq = std::int64_t(e.sequence);
                if (seq <= lastSeq)
                    problem(QStringLiteral("sequence went back at %1").arg(seq));
                gaps += std::uint64_t(seq - lastSeq - 1);
                lastSeq = seq;
                if (int(e.kind) > int(TraceEventKind::LoopClosed))
                    problem(QStringLiteral("torn kind at %1").arg(seq));
                // Strings may have been reused since: empty then, never garbage.
                (void)recorder.stringAt(e.location);
                (void)recorder.stringAt(e.text);
            }
            received += batch.size();
        };
        int round = 0;
        while (!done.load(std::memory_order_acquire)) {
            take();
            // Everything the visualizer's tick and the inspector read.
            (void)recorder.loopStats();
            (void)recorder.tasks();
            (void)recorder.lints();
            (void)recorder.lintCount(loopscope::LintKind::ExceptionNeverRetrieved);
            (void)recorder.stringCount();
            (void)recorder.droppedStrings();
            if (recorder.snapshot().size() > recorder.capacity())
                problem(QStringLiteral("snapshot larger than the ring"));
            if (++round % 64 == 0)
                (void)recorder.chromeTraceJson();
        }
        take();
    });

    std::atomic<int> live{ 0 };
    {
        EventLoop loop;
        loop.setExceptionHandler(recorder.exceptionHandler());
        loop.addObserver(&recorder);
        loop.setExecutorMaxThreads(2);
        std::thread poster([&] {
            Tracked tracked(live);
            for (int i = 0; i < 5000; ++i)
                loop.callSoonThreadsafe([tracked] {});
        });
        auto body = [&](int i) -> Coro<int> {
            for (int s = 0; s < 3; ++s)
                co_await loopscope::sleep(Duration(1ms * (i % 3)));
            if (i % 5 == 0) {
                auto job = loop.runInExecutor([i] { return spin(std::uint64_t(i), 2000); });
                co_await job;
            }
            if (i % 17 == 0)
                throw std::runtime_error("never retrieved, on purpose"); // a lint
            co_return i;
        };
        std::vector<loopscope::Task<int>> tasks;
        for (int i = 0; i < 2000; ++i)
            tasks.push_back(loop.createTask(body(i), QStringLiteral("t%1").arg(i)));
        for (int i = 0; i < 2000; i += 7)
            tasks[std::size_t(i)].cancel();
        // Coroutine lambdas are named: they must outlive their coroutines.
        auto ticker = [](int ticks) -> Coro<void> {
            for (int i = 0; i < ticks; ++i)
                co_await loopscope::sleep(1ms);
        };
        auto all = loop.createTask(ticker(200));
        loop.runUntilComplete(all);
        poster.join();
        auto settle = loop.createTask(ticker(50));
        loop.runUntilComplete(settle);
        tasks.clear();
        loop.removeObserver(&recorder);
        loop.close();
    }
    done.store(true, std::memory_order_release);
    reader.join();
    QVERIFY2(problems == 0, qPrintable(firstProblem));
    QCOMPARE(received + recorder.droppedEvents(), recorder.producedEvents());
    QCOMPARE(gaps, recorder.droppedEvents());
    QCOMPARE(live.load(), 0);
    QVERIFY(recorder.lintCount(loopscope::LintKind::ExceptionNeverRetrieved) > 0);
    qInfo("produced %llu events, read %llu, dropped %llu", qulonglong(recorder.producedEvents()),
          qulonglong(received), qulonglong(recorder.droppedEvents()));
}

QTEST_GUILESS_MAIN(tst_Threads)
#include "tst_threads.moc"
