// EventLoop::runInExecutor: the thread pool bridge that completes futures on the loop thread.

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QList>
#include <QMutex>
#include <QSemaphore>
#include <QSet>
#include <QTest>
#include <QThread>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <vector>

using namespace loopscope;
using namespace std::chrono_literals;

namespace {

struct JobError : std::runtime_error
{
    JobError(const char *what, int c) : std::runtime_error(what), code(c) { }
    int code;
};

Coro<std::vector<int>> awaitThousandJobs(EventLoop *loop, QSet<QThread *> *threads, QMutex *mutex)
{
    std::vector<Future<int>> futures;
    for (int i = 0; i < 1000; ++i) {
        futures.push_back(loop->runInExecutor([i, threads, mutex] {
            {
                QMutexLocker lock(mutex);
                threads->insert(QThread::currentThread());
            }
            return i * i;
        }));
    }
    std::vector<int> results;
    for (auto &f : futures)
        results.push_back(co_await f);
    co_return results;
}

} // namespace

class tst_Executor : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void resultArrivesOnLoopThread();
    void voidJobs();
    void exceptionLandsInFuture();
    void nonStdExceptionLandsInFuture();
    void thousandJobsAwaitedTogether();
    void cancelBeforeCompletionDiscardsLateResult();
    void cancelBeforeCompletionDiscardsLateException();
    void cancelledBeforeStartNeverRuns();
    void moveOnlyCallable();
    void droppedFailedJobReportsNeverRetrieved();
    void maxThreads();
    void virtualClockWaitsForRunningJob();
    void closeWaitsForRunningJobsThenRefusesNewOnes();
    void completionsArriveInTheOrderJobsFinished();
    void jobsQueuedTogetherRunSideBySideUpToTheLimit();
    void loweringMaxThreadsAppliesToQueuedJobs();
    void jobsFinishedButNotCompletedAreFreedOnCloseOnTheLoopThread();
};

void tst_Executor::resultArrivesOnLoopThread()
{
    EventLoop loop;
    QThread *const loopThread = QThread::currentThread();
    std::atomic<QThread *> fnThread{ nullptr };
    QThread *callbackThread = nullptr;
    bool doneInCallback = false;

    Future<int> f = loop.runInExecutor([&fnThread] {
        fnThread = QThread::currentThread();
        return 42;
    });
    f.addDoneCallback([&](Future<int> g) {
        callbackThread = QThread::currentThread();
        doneInCallback = g.done();
    });
    QCOMPARE(loop.runUntilComplete(f), 42);
    QVERIFY(fnThread.load() != nullptr);
    QVERIFY2(fnThread.load() != loopThread, "fn ran on the loop thread");
    QVERIFY2(callbackThread == loopThread, "done-callback did not run on the loop thread");
    QVERIFY(doneInCallback);

    // A non-trivial result type.
    Future<QString> s = loop.runInExecutor([] { return QStringLiteral("from a worker"); });
    QCOMPARE(loop.runUntilComplete(s), QStringLiteral("from a worker"));
}

void tst_Executor::voidJobs()
{
    EventLoop loop;
    std::atomic<int> ran{ 0 };
    std::vector<Future<void>> futures;
    for (int i = 0; i < 10; ++i)
        futures.push_back(loop.runInExecutor([&ran] { ++ran; }));
    for (auto &f : futures) {
        loop.runUntilComplete(f);
        QVERIFY(f.done());
        QVERIFY(!f.cancelled());
        QVERIFY(!f.exception());
    }
    QCOMPARE(ran.load(), 10);
}

void tst_Executor::exceptionLandsInFuture()
{
    QList<ExceptionContext> reports;
    EventLoop loop;
    loop.setExceptionHandler([&reports](const ExceptionContext &c) { reports.append(c); });
    Future<int> f = loop.runInExecutor([]() -> int { throw JobError("job failed", 7); });

    bool caught = false;
    try {
        (void)loop.runUntilComplete(f);
    } catch (const JobError &e) {
        caught = true;
        QCOMPARE(QString::fromUtf8(e.what()), QStringLiteral("job failed"));
        QCOMPARE(e.code, 7);
    }
    QVERIFY2(caught, "runUntilComplete did not rethrow the job's exception as JobError");

    caught = false;
    try {
        (void)f.result();
    } catch (const JobError &e) {
        caught = true;
        QCOMPARE(e.code, 7);
    }
    QVERIFY(caught);
    QVERIFY(f.exception());

    Future<void> v = loop.runInExecutor([] { throw std::invalid_argument("void job failed"); });
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, loop.runUntilComplete(v));
    QVERIFY(reports.isEmpty()); // an error retrieved by the caller is not "unhandled"
}

void tst_Executor::nonStdExceptionLandsInFuture()
{
    EventLoop loop;
    Future<int> f = loop.runInExecutor([]() -> int { throw 1234; });
    bool caught = false;
    try {
        (void)loop.runUntilComplete(f);
    } catch (int value) {
        caught = true;
        QCOMPARE(value, 1234);
    }
    QVERIFY(caught);
}

void tst_Executor::thousandJobsAwaitedTogether()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    QSet<QThread *> threads;
    QMutex mutex;
    const std::vector<int> results =
            loop.runUntilComplete(awaitThousandJobs(&loop, &threads, &mutex));
    QCOMPARE(int(results.size()), 1000);
    for (int i = 0; i < 1000; ++i) {
        if (results[i] != i * i)
            QFAIL(qPrintable(QStringLiteral("job %1 returned %2").arg(i).arg(results[i])));
    }
    QVERIFY(!threads.contains(QThread::currentThread()));
    QVERIFY(!threads.isEmpty());
    QVERIFY(threads.size() <= loop.executorMaxThreads());
    QVERIFY(loop.allTasks().empty());
}

void tst_Executor::cancelBeforeCompletionDiscardsLateResult()
{
    QList<ExceptionContext> reports;
    EventLoop loop;
    loop.setExceptionHandler([&reports](const ExceptionContext &c) { reports.append(c); });
    // One worker: the second job starts after the first has posted its completion, so once
    // the second future is done the first late result has been delivered too.
    loop.setExecutorMaxThreads(1);
    QSemaphore started;
    QSemaphore gate;
    std::atomic<bool> finished{ false };
    int callbacks = 0;
    Future<int> f = loop.runInExecutor([&] {
        started.release();
        gate.acquire();
        finished = true;
        return 1;
    });
    f.addDoneCallback([&callbacks] { ++callbacks; });
    started.acquire(); // the job is running now
    QVERIFY(f.cancel("no longer needed"));
    gate.release();
    Future<int> after = loop.runInExecutor([] { return 2; });
    QCOMPARE(loop.runUntilComplete(after), 2);

    QVERIFY(finished.load());
    QVERIFY(f.cancelled());
    bool caught = false;
    try {
        (void)f.result();
    } catch (const CancelledError &e) {
        caught = true;
        QCOMPARE(QString::fromStdString(e.message()), QStringLiteral("no longer needed"));
    }
    QVERIFY(caught);
    QCOMPARE(callbacks, 1); // from cancel(), not again from the late result
    QVERIFY2(reports.isEmpty(), reports.isEmpty() ? "" : qPrintable(reports.at(0).toString()));
}

void tst_Executor::cancelBeforeCompletionDiscardsLateException()
{
    QList<ExceptionContext> reports;
    EventLoop loop;
    loop.setExceptionHandler([&reports](const ExceptionContext &c) { reports.append(c); });
    loop.setExecutorMaxThreads(1);
    QSemaphore started;
    QSemaphore gate;
    std::atomic<bool> threw{ false };
    {
        Future<int> f = loop.runInExecutor([&]() -> int {
            started.release();
            gate.acquire();
            threw = true;
            throw std::runtime_error("too late to matter");
        });
        started.acquire();
        QVERIFY(f.cancel());
        gate.release();
        Future<int> after = loop.runInExecutor([] { return 2; });
        QCOMPARE(loop.runUntilComplete(after), 2);
        QVERIFY(threw.load());
        QVERIFY(f.cancelled());
        QVERIFY_THROWS_EXCEPTION(CancelledError, f.result());
    }
    QVERIFY2(reports.isEmpty(), reports.isEmpty() ? "" : qPrintable(reports.at(0).toString()));
}

void tst_Executor::cancelledBeforeStartNeverRuns()
{
    QList<ExceptionContext> reports;
    EventLoop loop;
    loop.setExceptionHandler([&reports](const ExceptionContext &c) { reports.append(c); });
    loop.setExecutorMaxThreads(1);
    QSemaphore started;
    QSemaphore gate;
    std::atomic<bool> queuedRan{ false };
    Future<void> blocker = loop.runInExecutor([&] {
        started.release();
        gate.acquire();
    });
    Future<int> queued = loop.runInExecutor([&queuedRan] {
        queuedRan = true;
        return 1;
    });
    started.acquire(); // the only worker is busy: `queued` cannot have started
    QVERIFY(queued.cancel("never mind"));
    // The cancellation reaches the job through a done-callback, i.e. on the next iteration.
    loop.callSoon([&loop] { loop.stop(); });
    loop.runForever();
    gate.release();
    Future<int> after = loop.runInExecutor([] { return 3; });
    QCOMPARE(loop.runUntilComplete(after), 3);
    loop.runUntilComplete(blocker);
    QVERIFY2(!queuedRan.load(), "a job cancelled before it started still ran");
    QVERIFY(queued.cancelled());
    QVERIFY(reports.isEmpty());
}

void tst_Executor::droppedFailedJobReportsNeverRetrieved()
{
    QList<ExceptionContext> reports;
    EventLoop loop;
    loop.setExceptionHandler([&reports](const ExceptionContext &c) { reports.append(c); });
    loop.setExecutorMaxThreads(1);
    (void)loop.runInExecutor([]() -> int { throw std::runtime_error("dropped job"); });
    Future<int> after = loop.runInExecutor([] { return 2; });
    QCOMPARE(loop.runUntilComplete(after), 2);
    QCOMPARE(reports.size(), 1);
    QVERIFY(reports.at(0).message.contains(QStringLiteral("never retrieved")));
}

void tst_Executor::moveOnlyCallable()
{
    EventLoop loop;
    auto owned = std::make_unique<int>(21);
    Future<int> f = loop.runInExecutor([p = std::move(owned)] { return *p * 2; });
    QCOMPARE(loop.runUntilComplete(f), 42);
}

void tst_Executor::maxThreads()
{
    EventLoop loop;
    QCOMPARE(loop.executorMaxThreads(), std::min(32, QThread::idealThreadCount() + 4));
    loop.setExecutorMaxThreads(3);
    QCOMPARE(loop.executorMaxThreads(), 3);
    loop.setExecutorMaxThreads(0);
    QCOMPARE(loop.executorMaxThreads(), 1);

    // With two workers at most two jobs overlap.
    loop.setExecutorMaxThreads(2);
    std::atomic<int> running{ 0 };
    std::atomic<int> peak{ 0 };
    std::vector<Future<void>> futures;
    for (int i = 0; i < 20; ++i) {
        futures.push_back(loop.runInExecutor([&] {
            const int now = ++running;
            int p = peak.load();
            while (now > p && !peak.compare_exchange_weak(p, now)) { }
            std::atomic<int> spin{ 0 };
            while (spin.fetch_add(1, std::memory_order_relaxed) < 100000) { }
            --running;
        }));
    }
    for (auto &f : futures)
        loop.runUntilComplete(f);
    QVERIFY(peak.load() >= 1);
    QVERIFY(peak.load() <= 2);
}

void tst_Executor::virtualClockWaitsForRunningJob()
{
    // Virtual time must not jump past a deadline while an executor job is in flight: the
    // job's completion may schedule earlier work. The job really blocks for a moment (it
    // stands for slow work in a worker); the loop meanwhile has only a 1 s timer.
    auto clock = std::make_shared<VirtualClock>();
    EventLoop loop(clock);
    std::vector<QString> events;
    auto stamp = [&loop](const char *what) {
        return QString::fromLatin1(what) + QLatin1Char('@')
                + QString::number(loop.time().time_since_epoch().count() / 1000000);
    };
    loop.callLater(1s, [&] { events.push_back(stamp("timer")); });
    Future<int> f = loop.runInExecutor([] {
        QThread::msleep(50);
        return 5;
    });
    f.addDoneCallback([&] {
        events.push_back(stamp("job"));
        loop.callLater(500ms, [&] { events.push_back(stamp("follow-up")); });
    });
    loop.callLater(2s, [&loop] { loop.stop(); });
    loop.runForever();
    QCOMPARE(events,
             (std::vector<QString>{ QStringLiteral("job@0"), QStringLiteral("follow-up@500"),
                                    QStringLiteral("timer@1000") }));
}

void tst_Executor::closeWaitsForRunningJobsThenRefusesNewOnes()
{
    std::atomic<bool> finished{ false };
    QSemaphore started;
    EventLoop loop;
    Future<int> f = loop.runInExecutor([&] {
        started.release();
        QThread::msleep(100); // still running when close() is called
        finished = true;
        return 1;
    });
    started.acquire();
    loop.close();
    QVERIFY2(finished.load(), "close() returned before the running job finished");
    QVERIFY(loop.isClosed());
    QVERIFY_THROWS_EXCEPTION(RuntimeError, (void)loop.runInExecutor([] { return 1; }));
    QVERIFY_THROWS_EXCEPTION(RuntimeError, (void)loop.runInExecutor([] {}));
    loop.close(); // idempotent
}

void tst_Executor::completionsArriveInTheOrderJobsFinished()
{
    // Jobs that finish while the loop is busy come back as one batch (one callback for all,
    // not one callSoonThreadsafe each); the batch is a stack the workers push onto, so it
    // must be turned round: completions in the order the jobs finished, as one by one.
    EventLoop loop;
    loop.setExecutorMaxThreads(1); // one worker: jobs finish in submission order
    constexpr int kJobs = 200;
    QSemaphore ran;
    std::vector<Future<int>> futures;
    std::vector<int> completed;
    for (int i = 0; i < kJobs; ++i) {
        futures.push_back(loop.runInExecutor([i, &ran] {
            ran.release();
            return i;
        }));
        futures.back().addDoneCallback(
                [&completed, f = futures.back()] { completed.push_back(f.result()); });
    }
    ran.acquire(kJobs); // every job has finished before the loop runs once
    loop.runUntilComplete(futures.back());
    loop.callSoon([&loop] { loop.stop(); }); // the last done-callback runs after it
    loop.runForever();
    QCOMPARE(int(completed.size()), kJobs);
    for (int i = 0; i < kJobs; ++i) {
        if (completed[i] != i)
            QFAIL(qPrintable(
                    QStringLiteral("completion %1 was job %2's").arg(i).arg(completed[i])));
    }
}

void tst_Executor::jobsQueuedTogetherRunSideBySideUpToTheLimit()
{
    // Python runs blocking jobs submitted together in as many threads as max_workers allows.
    // Here only the first submission starts a worker; each worker that takes a job and
    // leaves more queued starts the next one. Four jobs that each wait for all four to have
    // started therefore finish only if four workers run at once.
    EventLoop loop;
    loop.setExecutorMaxThreads(4);
    QSemaphore started;
    QSemaphore gate;
    std::vector<Future<bool>> jobs;
    for (int i = 0; i < 4; ++i)
        jobs.push_back(loop.runInExecutor([&] {
            started.release();
            // Generous: a deadlock guard, not a timing assertion.
            return gate.tryAcquire(1, 30000);
        }));
    QVERIFY2(started.tryAcquire(4, 30000), "the four jobs never ran side by side");
    gate.release(4);
    for (auto &f : jobs)
        QVERIFY(loop.runUntilComplete(f));
}

void tst_Executor::loweringMaxThreadsAppliesToQueuedJobs()
{
    // Workers take jobs from the loop's queue until it is empty; after the limit is lowered,
    // those beyond it return after their current job, so the jobs still queued run one at a
    // time (as a QThreadPool lowered with setMaxThreadCount() would run them).
    EventLoop loop;
    loop.setExecutorMaxThreads(3);
    QSemaphore started;
    QSemaphore gate;
    std::vector<Future<void>> blockers;
    for (int i = 0; i < 3; ++i)
        blockers.push_back(loop.runInExecutor([&] {
            started.release();
            gate.acquire();
        }));
    std::atomic<int> running{ 0 };
    std::atomic<int> peak{ 0 };
    std::vector<Future<void>> queued;
    for (int i = 0; i < 12; ++i) {
        queued.push_back(loop.runInExecutor([&] {
            const int now = ++running;
            int p = peak.load();
            while (now > p && !peak.compare_exchange_weak(p, now)) { }
            std::atomic<int> spin{ 0 };
            while (spin.fetch_add(1, std::memory_order_relaxed) < 20000) { }
            --running;
        }));
    }
    started.acquire(3); // three workers busy, twelve jobs queued behind them
    loop.setExecutorMaxThreads(1);
    gate.release(3);
    for (auto &f : queued)
        loop.runUntilComplete(f);
    for (auto &f : blockers)
        loop.runUntilComplete(f);
    QCOMPARE(peak.load(), 1);
}

namespace {
//! Counts the live copies of a job's capture and the thread each was destroyed on.
struct Tracked
{
    std::atomic<int> *live;
    std::atomic<int> *elsewhere; //!< destroyed off the thread that made it
    Qt::HANDLE thread = QThread::currentThreadId();
    Tracked(std::atomic<int> *l, std::atomic<int> *e) : live(l), elsewhere(e) { ++*live; }
    Tracked(const Tracked &o) : live(o.live), elsewhere(o.elsewhere), thread(o.thread) { ++*live; }
    Tracked &operator=(const Tracked &) = delete;
    ~Tracked()
    {
        --*live;
        if (QThread::currentThreadId() != thread)
            ++*elsewhere;
    }
};
} // namespace

void tst_Executor::jobsFinishedButNotCompletedAreFreedOnCloseOnTheLoopThread()
{
    // Finished jobs wait on the executor's list for the loop to complete them; a loop closed
    // before it ever ran frees them (and what their callables captured) itself, on its own
    // thread, as it frees the completions left in its inbox.
    std::atomic<int> live{ 0 };
    std::atomic<int> elsewhere{ 0 };
    QList<ExceptionContext> reports;
    {
        EventLoop loop;
        loop.setExceptionHandler([&reports](const ExceptionContext &c) { reports.append(c); });
        QSemaphore ran;
        std::vector<Future<int>> futures;
        for (int i = 0; i < 50; ++i)
            futures.push_back(loop.runInExecutor([&ran, t = Tracked(&live, &elsewhere)] {
                ran.release();
                return 1;
            }));
        ran.acquire(50);
        QVERIFY(live.load() > 0);
        loop.close();
        QCOMPARE(live.load(), 0);
        for (auto &f : futures)
            QVERIFY(f.cancelled());
    }
    QCOMPARE(elsewhere.load(), 0);
    QCOMPARE(reports.size(), 1);
    QVERIFY(reports.at(0).message.contains(QStringLiteral("50 executor job(s)")));
}

QTEST_GUILESS_MAIN(tst_Executor)
#include "tst_executor.moc"
