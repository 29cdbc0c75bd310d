// Fault injection (issue 7): exceptions and allocation failures thrown at the loop from every
// place user code or the system can throw, and loops closed or destroyed with work pending.
// Each case checks the loop's promises: the fault reaches the exception handler with a useful
// message, the other callbacks still run, in order, exactly once; every future ends in exactly
// one state; nothing is resumed after close(); and what was allocated is freed (live-object
// counters back to zero, futures held by nobody but the test).
//
// Covered elsewhere and not repeated here: a single throwing callback, a non-std exception
// and a throwing exception handler (tst_eventloop), a single failing or cancelled executor job
// (tst_executor), a single throwing observer (tst_observer), close() with one sleeping task
// (tst_task), and 2,000,000 random operations without faults (tst_model).

#include "../support/frameguard.h"

#include <loopscope/loopscope.h>

#include "eventloop_p.h" // detail::g_executorSubmitFault, the executor's injection point

#include <QSemaphore>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <set>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;
using loopscope::CancelledError;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::ExceptionContext;
using loopscope::Future;
using loopscope::Task;
using loopscope::TraceEvent;
using loopscope::VirtualClock;
using Kind = loopscope::TraceEventKind;

namespace {

using loopscope::testsupport::FrameGuard;
using loopscope::testsupport::g_liveFrames;

/*!
 * Copies alive of what a callback, done-callback or executor job captured; also notes when
 * a copy died on a thread other than the test's (the loop's), which must never happen: the
 * engine destroys every callable on the loop thread.
 */
std::atomic<int> g_liveCaptures{ 0 };
std::atomic<int> g_capturesDiedOffThread{ 0 };
QThread *g_loopThread = nullptr;
struct Capture
{
    Capture() { ++g_liveCaptures; }
    Capture(const Capture &) { ++g_liveCaptures; }
    Capture(Capture &&) noexcept { ++g_liveCaptures; }
    Capture &operator=(const Capture &) = default;
    ~Capture()
    {
        --g_liveCaptures;
        if (QThread::currentThread() != g_loopThread)
            ++g_capturesDiedOffThread;
    }
};

//! A local whose destructor throws (only possible with noexcept(false)).
struct ThrowsOnDestruction
{
    const char *what;
    ~ThrowsOnDestruction() noexcept(false) { throw std::runtime_error(what); }
};

struct Reports
{
    std::vector<ExceptionContext> all;
    std::vector<ExceptionContext> starting(const QString &prefix) const
    {
        std::vector<ExceptionContext> out;
        std::copy_if(all.begin(), all.end(), std::back_inserter(out),
                     [&](const ExceptionContext &c) { return c.message.startsWith(prefix); });
        return out;
    }
    QString dump() const
    {
        QStringList lines;
        for (const auto &c : all)
            lines.append(c.toString());
        return lines.join(QLatin1Char('\n'));
    }
};

class EventLog : public loopscope::LoopObserver
{
public:
    void onEvent(const TraceEvent &e) override { events.push_back(e); }
    std::size_t count(Kind k) const
    {
        return std::size_t(std::count_if(events.begin(), events.end(),
                                         [k](const TraceEvent &e) { return e.kind == k; }));
    }
    std::vector<TraceEvent> events;
};

//! Throws from every event it sees, after noting which kind it was.
class ThrowingObserver : public loopscope::LoopObserver
{
public:
    void onEvent(const TraceEvent &e) override
    {
        ++seen;
        kinds.insert(QLatin1String(loopscope::traceEventKindName(e.kind)));
        throw std::runtime_error("observer broke");
    }
    int seen = 0;
    std::set<QString> kinds;
};

//! Installs the executor's fault hook for one scope.
class SubmitFault
{
public:
    explicit SubmitFault(void (*hook)()) { loopscope::detail::g_executorSubmitFault = hook; }
    ~SubmitFault() { loopscope::detail::g_executorSubmitFault = nullptr; }
    SubmitFault(const SubmitFault &) = delete;
    SubmitFault &operator=(const SubmitFault &) = delete;
};
int g_submissions = 0;
int g_failOnSubmission = 0;
void failOneSubmission()
{
    if (++g_submissions == g_failOnSubmission)
        throw std::bad_alloc();
}

//! Where the reports from tst_faults.cpp name a source position.
const QString kThisFile = QStringLiteral("tst_faults.cpp");

Coro<int> sleepThenReturn(loopscope::Duration d, int value)
{
    FrameGuard guard;
    co_await loopscope::sleep(d);
    co_return value;
}

} // namespace

class tst_Faults : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void throwingCallbacksOfEveryKindKeepOrderAndRunOnce();
    void throwingDoneCallbacksDoNotStopTheOthers();
    void throwingExecutorJobsFailOnlyTheirOwnFutures();
    void throwingObserverOnEveryEventLosesNothing();
    void frameDestructorThrowingAtCloseIsReportedAndFreed();
    void frameDestructorThrowingWhileRunningFailsTheTask();
    void badAllocFromExecutorSubmission();
    void closeWithPendingWorkCancelsFreesAndNamesIt_data();
    void closeWithPendingWorkCancelsFreesAndNamesIt();
    void closeWhileJobsRunDiscardsTheirOutcomes();
    void throwingHandlerDuringCloseStillCleansUp();
};

void tst_Faults::init()
{
    g_liveFrames = 0;
    g_liveCaptures = 0;
    g_capturesDiedOffThread = 0;
    g_loopThread = QThread::currentThread();
}

void tst_Faults::cleanup()
{
    // Every case ends with its loop gone: nothing it allocated may survive.
    QCOMPARE(g_liveFrames, 0);
    QCOMPARE(g_liveCaptures.load(), 0);
    QCOMPARE(g_capturesDiedOffThread.load(), 0);
}

void tst_Faults::throwingCallbacksOfEveryKindKeepOrderAndRunOnce()
{
    // callSoon, callLater (virtual clock) and callSoonThreadsafe callbacks, every third one
    // throwing something different: the handler hears of each failure, naming the handle, and
    // the others run in their usual order, once each.
    Reports reports;
    std::vector<int> ran;
    {
        EventLoop loop(std::make_shared<VirtualClock>());
        loop.setExceptionHandler([&](const ExceptionContext &c) { reports.all.push_back(c); });
        auto body = [&ran](int i) {
            return [i, &ran, c = Capture()] {
                (void)c;
                ran.push_back(i);
                if (i % 3 == 1)
                    throw std::runtime_error("callback " + std::to_string(i) + " failed");
                if (i % 3 == 2 && i % 2 == 0)
                    throw i; // not a std::exception
            };
        };
        for (int i = 0; i < 12; ++i)
            loop.callSoon(body(i));
        // Timers 100..111 with deadlines in reverse order of scheduling.
        for (int i = 0; i < 12; ++i)
            loop.callLater(std::chrono::milliseconds(120 - 10 * i), body(100 + i));
        for (int i = 0; i < 6; ++i)
            loop.callSoonThreadsafe(body(200 + i));
        loop.callLater(1s, [&loop] { loop.stop(); });
        loop.runForever();
    }
    std::vector<int> expected;
    for (int i = 0; i < 12; ++i)
        expected.push_back(i);
    for (int i = 0; i < 6; ++i)
        expected.push_back(200 + i); // drained into the first iteration after the callSoons
    for (int i = 11; i >= 0; --i)
        expected.push_back(100 + i);
    QCOMPARE(ran, expected);

    int throwers = 0;
    for (int i : expected)
        throwers += (i % 3 == 1) || (i % 3 == 2 && i % 2 == 0);
    QCOMPARE(int(reports.all.size()), throwers);
    for (const auto &c : reports.all) {
        QCOMPARE(c.message, QStringLiteral("Exception in callback"));
        QVERIFY2(c.handle.contains(kThisFile), qPrintable(c.toString()));
        QVERIFY(c.exception);
    }
    QVERIFY(reports.all.front().toString().contains(QStringLiteral("callback 1 failed")));
    QVERIFY(reports.all.front().handle.startsWith(QStringLiteral("<Handle callSoon")));
    const auto timerReports =
            std::count_if(reports.all.begin(), reports.all.end(), [](const ExceptionContext &c) {
                return c.handle.startsWith(QStringLiteral("<Handle callLater"));
            });
    const auto threadsafeReports =
            std::count_if(reports.all.begin(), reports.all.end(), [](const ExceptionContext &c) {
                return c.handle.startsWith(QStringLiteral("<Handle callSoonThreadsafe"));
            });
    QVERIFY(timerReports > 0);
    QVERIFY(threadsafeReports > 0);
}

void tst_Faults::throwingDoneCallbacksDoNotStopTheOthers()
{
    Reports reports;
    {
        EventLoop loop(std::make_shared<VirtualClock>());
        loop.setExceptionHandler([&](const ExceptionContext &c) { reports.all.push_back(c); });
        Future<int> f(loop);
        std::vector<int> calls;
        for (int i = 0; i < 6; ++i) {
            f.addDoneCallback([i, &calls, c = Capture()](Future<int> done) {
                (void)c;
                calls.push_back(i * 100 + done.result());
                if (i % 2 == 1)
                    throw std::logic_error("done-callback " + std::to_string(i) + " failed");
            });
        }
        // A task awaiting the same future is woken through a done-callback too.
        int awaited = -1;
        auto waiter = [&]() -> Coro<void> {
            FrameGuard guard;
            awaited = co_await f;
        };
        Task<void> waiting = loop.createTask(waiter());
        // And a task's own done-callbacks may throw.
        auto quick = []() -> Coro<int> {
            FrameGuard guard;
            co_return 5;
        };
        Task<int> task = loop.createTask(quick());
        int taskCallbacks = 0;
        task.addDoneCallback([&taskCallbacks](Task<int>) {
            ++taskCallbacks;
            throw std::runtime_error("task done-callback failed");
        });
        task.addDoneCallback([&taskCallbacks](Task<int>) { ++taskCallbacks; });

        loop.callSoon([f]() mutable { f.setResult(7); });
        loop.runUntilComplete(waiting);
        loop.runUntilComplete(sleepThenReturn(1ms, 0)); // lets the last callbacks run

        QCOMPARE(calls, (std::vector<int>{ 7, 107, 207, 307, 407, 507 }));
        QCOMPARE(awaited, 7);
        QCOMPARE(taskCallbacks, 2);
        QCOMPARE(f.status(), loopscope::FutureStatus::Finished); // one state, still its value
        QCOMPARE(f.result(), 7);
        QCOMPARE(task.result(), 5);
        QVERIFY(!f.cancel());
        QVERIFY_THROWS_EXCEPTION(loopscope::InvalidStateError, f.setResult(8));
        QCOMPARE(f.result(), 7);
    }
    QCOMPARE(reports.all.size(), 4u);
    for (const auto &c : reports.all) {
        QCOMPARE(c.message, QStringLiteral("Exception in callback"));
        QVERIFY2(c.handle.startsWith(QStringLiteral("<Handle doneCallback created at "))
                         && c.handle.contains(kThisFile),
                 qPrintable(c.toString()));
    }
    // Each failure reported once, with its own exception.
    for (const char *what : { "done-callback 1 failed", "done-callback 3 failed",
                              "done-callback 5 failed", "task done-callback failed" }) {
        const auto n = std::count_if(reports.all.begin(), reports.all.end(),
                                     [what](const ExceptionContext &c) {
                                         return c.toString().contains(QLatin1String(what));
                                     });
        QVERIFY2(n == 1, what);
    }
}

void tst_Faults::throwingExecutorJobsFailOnlyTheirOwnFutures()
{
    // 24 jobs on 4 workers, every other one throwing (std and non-std exceptions), completed
    // while the loop runs a chain of callbacks. Each future ends in exactly one state with its
    // own outcome, each done-callback runs once, the chain keeps its order, and the one
    // failure nobody retrieves is the only report.
    Reports reports;
    {
        EventLoop loop(std::make_shared<VirtualClock>());
        loop.setExceptionHandler([&](const ExceptionContext &c) { reports.all.push_back(c); });
        loop.setExecutorMaxThreads(4);
        QSemaphore allStarted;
        QSemaphore gate;
        constexpr int kJobs = 24;
        std::vector<Future<int>> futures;
        std::vector<int> doneCalls(kJobs, 0);
        for (int i = 0; i < kJobs; ++i) {
            futures.push_back(loop.runInExecutor([i, &allStarted, &gate, c = Capture()]() -> int {
                (void)c;
                if (i < 4) { // the first four hold every worker until the loop is busy
                    allStarted.release();
                    gate.acquire();
                }
                if (i % 4 == 1)
                    throw std::runtime_error("job " + std::to_string(i) + " failed");
                if (i % 4 == 3)
                    throw i;
                return i * i;
            }));
            futures.back().addDoneCallback([i, &doneCalls] { ++doneCalls[std::size_t(i)]; });
        }
        // Dropped unretrieved: reported once when the last reference goes.
        (void)loop.runInExecutor([]() -> int { throw std::out_of_range("nobody looks"); });

        std::vector<int> chain;
        std::function<void(int)> link = [&](int n) {
            chain.push_back(n);
            if (n == 0)
                gate.release(4); // the workers go on while the chain runs
            if (n < 50)
                loop.callSoon([&link, n] { link(n + 1); });
        };
        allStarted.acquire(4);
        loop.callSoon([&link] { link(0); });
        auto all = [&]() -> Coro<int> {
            int finished = 0;
            for (auto &f : futures) {
                try {
                    (void)co_await f;
                } catch (...) {
                }
                ++finished;
            }
            co_return finished;
        };
        QCOMPARE(loop.runUntilComplete(all()), kJobs);
        loop.runUntilComplete(sleepThenReturn(1ms, 0)); // the last done-callbacks and links

        QCOMPARE(int(chain.size()), 51);
        for (int n = 0; n <= 50; ++n)
            QCOMPARE(chain[std::size_t(n)], n);
        for (int i = 0; i < kJobs; ++i) {
            const Future<int> &f = futures[std::size_t(i)];
            QCOMPARE(doneCalls[std::size_t(i)], 1);
            QCOMPARE(f.status(), loopscope::FutureStatus::Finished);
            if (i % 4 == 1) {
                QVERIFY_THROWS_EXCEPTION(std::runtime_error, (void)f.result());
            } else if (i % 4 == 3) {
                bool caught = false;
                try {
                    (void)f.result();
                } catch (int value) {
                    caught = value == i;
                }
                QVERIFY(caught);
            } else {
                QCOMPARE(f.result(), i * i);
            }
        }
    }
    QCOMPARE(reports.all.size(), 1u);
    QCOMPARE(reports.all[0].message, QStringLiteral("Future exception was never retrieved"));
    QVERIFY(reports.all[0].toString().contains(QStringLiteral("nobody looks")));
}

void tst_Faults::throwingObserverOnEveryEventLosesNothing()
{
    // An observer that throws from every event, over a workload of callbacks, timers, tasks,
    // executor jobs and a close() with a task pending: the loop's results are those of a loop
    // without it, a well-behaved observer attached after it sees every event (one report per
    // event it was shown), and the report names the event.
    Reports reports;
    ThrowingObserver throwing;
    EventLog log;
    std::vector<int> ran;
    int result = 0;
    bool resumedAfterClose = false;
    {
        EventLoop loop(std::make_shared<VirtualClock>());
        loop.setExceptionHandler([&](const ExceptionContext &c) { reports.all.push_back(c); });
        loop.addObserver(&throwing);
        loop.addObserver(&log);
        loop.callSoon([&ran] { ran.push_back(1); });
        loop.callLater(20ms, [&ran] { ran.push_back(3); });
        loop.callLater(10ms, [&ran] { ran.push_back(2); });
        auto work = [&]() -> Coro<int> {
            FrameGuard guard;
            // Not `co_await loop.runInExecutor([c = Capture()] ...)`: g++ 12 destroys a
            // temporary of a co_await expression twice (GCC bug 99576).
            Future<int> job = loop.runInExecutor([c = Capture()] { return 40; });
            const int fromJob = co_await job;
            co_await loopscope::sleep(30ms);
            co_return fromJob + co_await loop.createTask(sleepThenReturn(5ms, 2));
        };
        auto stuck = [&]() -> Coro<void> {
            FrameGuard guard;
            co_await loopscope::sleep(1h);
            resumedAfterClose = true;
        };
        Task<void> pending = loop.createTask(stuck(), QStringLiteral("stuck"));
        result = loop.runUntilComplete(work());
        loop.close();
        QVERIFY(pending.cancelled());
        loop.removeObserver(&log);
        loop.removeObserver(&throwing);
    }
    QCOMPARE(result, 42);
    QCOMPARE(ran, (std::vector<int>{ 1, 2, 3 }));
    QVERIFY(!resumedAfterClose);

    const auto observerReports = reports.starting(QStringLiteral("Exception in a loop observer"));
    QCOMPARE(int(observerReports.size()), throwing.seen);
    QCOMPARE(log.events.size(), std::size_t(throwing.seen));
    for (const char *kind : { "taskCreated", "taskDone", "timerFired", "executorJobQueued",
                              "executorJobFinished", "futureCreated", "loopClosed" }) {
        QVERIFY2(throwing.kinds.count(QLatin1String(kind)), kind);
    }
    QVERIFY(observerReports.back().message.contains(QStringLiteral("(event loopClosed)")));
    QVERIFY(observerReports.back().toString().contains(QStringLiteral("observer broke")));
    QCOMPARE(log.events.back().kind, Kind::LoopClosed);
    // Apart from the observer's: the pending task, nothing else.
    QCOMPARE(reports.all.size() - observerReports.size(), 1u);
    QCOMPARE(reports.starting(QStringLiteral("Task was destroyed but it is pending!")).size(), 1u);
}

void tst_Faults::frameDestructorThrowingAtCloseIsReportedAndFreed()
{
    // close() destroys pending tasks' frames. A local whose destructor throws used to leave the
    // frame alive (the language then runs unhandled_exception() and the final suspend instead
    // of freeing it), and for a coroutine awaited inline the final suspend resumed its caller,
    // which was itself being destroyed. Now each frame is freed, nothing is resumed, and the
    // exception is reported with the coroutine that threw.
    Reports reports;
    bool outerResumed = false, innerResumed = false, siblingRan = false;
    {
        EventLoop loop(std::make_shared<VirtualClock>());
        loop.setExceptionHandler([&](const ExceptionContext &c) { reports.all.push_back(c); });
        auto inner = [&]() -> Coro<int> {
            FrameGuard guard;
            ThrowsOnDestruction bomb{ "inner local's destructor" };
            co_await loopscope::sleep(1h);
            innerResumed = true;
            co_return 1;
        };
        auto outer = [&]() -> Coro<void> {
            FrameGuard guard;
            (void)co_await inner();
            outerResumed = true;
        };
        auto direct = [&]() -> Coro<void> {
            FrameGuard guard;
            ThrowsOnDestruction bomb{ "root local's destructor" };
            FrameGuard after; // destroyed before the bomb, freed all the same
            co_await loopscope::sleep(1h);
        };
        Task<void> nested = loop.createTask(outer(), QStringLiteral("nested"));
        Task<void> root = loop.createTask(direct(), QStringLiteral("root"));
        loop.runUntilComplete(sleepThenReturn(1s, 0));
        QCOMPARE(g_liveFrames, 4); // outer, inner, direct (with two guards)
        loop.callSoon([&siblingRan] { siblingRan = true; });
        loop.close();
        QCOMPARE(g_liveFrames, 0);
        QVERIFY(nested.cancelled());
        QVERIFY(root.cancelled());
    }
    QVERIFY(!outerResumed);
    QVERIFY(!innerResumed);
    QVERIFY(!siblingRan);
    const auto frameReports =
            reports.starting(QStringLiteral("Exception in a destructor while the frame"));
    QCOMPARE(frameReports.size(), 2u);
    QVERIFY2(frameReports[0].toString().contains(QStringLiteral("inner local's destructor")),
             qPrintable(reports.dump()));
    QVERIFY(frameReports[1].toString().contains(QStringLiteral("root local's destructor")));
    QVERIFY(frameReports[0].message.contains(kThisFile));
    QCOMPARE(reports.starting(QStringLiteral("Task was destroyed but it is pending!")).size(), 2u);
}

void tst_Faults::frameDestructorThrowingWhileRunningFailsTheTask()
{
    // Leaving a scope inside a running coroutine is ordinary code: the destructor's exception
    // fails the task (Python: an exception from a finally block), the awaiting task sees it,
    // and nothing goes to the handler.
    Reports reports;
    {
        EventLoop loop(std::make_shared<VirtualClock>());
        loop.setExceptionHandler([&](const ExceptionContext &c) { reports.all.push_back(c); });
        auto scoped = []() -> Coro<int> {
            FrameGuard guard;
            {
                ThrowsOnDestruction bomb{ "scope exit" };
                co_await loopscope::sleep(10ms);
            }
            co_return 1;
        };
        auto caller = [&]() -> Coro<QString> {
            FrameGuard guard;
            try {
                (void)co_await loop.createTask(scoped());
            } catch (const std::runtime_error &e) {
                co_return QString::fromUtf8(e.what());
            }
            co_return QString();
        };
        QCOMPARE(loop.runUntilComplete(caller()), QStringLiteral("scope exit"));
    }
    QVERIFY2(reports.all.empty(), qPrintable(reports.dump()));
}

void tst_Faults::badAllocFromExecutorSubmission()
{
    // runInExecutor's hand-over to the pool fails once (std::bad_alloc through the test-only
    // hook): the caller gets the exception, the job is never queued, run or traced, what it
    // captured is freed, and the loop is unaffected: the next jobs complete and the virtual
    // clock still jumps to timers (a job counted but never completed used to freeze it, which
    // the watchdog turns into a failure here instead of a hang).
    Reports reports;
    EventLog log;
    bool watchdogFired = false;
    {
        EventLoop loop(std::make_shared<VirtualClock>());
        loop.setExceptionHandler([&](const ExceptionContext &c) { reports.all.push_back(c); });
        loop.addObserver(&log);
        g_submissions = 0;
        g_failOnSubmission = 2;
        SubmitFault fault(&failOneSubmission);
        std::atomic<int> jobsRun{ 0 };

        Future<int> first = loop.runInExecutor([&jobsRun, c = Capture()] { return ++jobsRun; });
        QVERIFY_THROWS_EXCEPTION(std::bad_alloc,
                                 (void)loop.runInExecutor([&jobsRun, c = Capture()] {
                                     ++jobsRun;
                                     return -1;
                                 }));
        Future<int> third = loop.runInExecutor([c = Capture()] { return 3; });
        QCOMPARE(loop.runUntilComplete(first), 1);
        QCOMPARE(loop.runUntilComplete(third), 3);

        // A task whose submission fails ends failed with std::bad_alloc, like any exception.
        g_submissions = 0;
        g_failOnSubmission = 1;
        auto submitting = [&]() -> Coro<int> {
            FrameGuard guard;
            Future<int> job = loop.runInExecutor([c = Capture()] { return 0; }); // GCC bug 99576
            co_return co_await job;
        };
        Task<int> failing = loop.createTask(submitting());
        QVERIFY_THROWS_EXCEPTION(std::bad_alloc, loop.runUntilComplete(failing));
        QVERIFY(!failing.cancelled());

        // Time still moves: a 1 s timer fires at once on the virtual clock.
        QTimer watchdog;
        watchdog.setSingleShot(true);
        QObject::connect(&watchdog, &QTimer::timeout, [&] {
            watchdogFired = true;
            loop.stop();
        });
        watchdog.start(10s);
        bool timerRan = false;
        loop.callLater(1s, [&] {
            timerRan = true;
            loop.stop();
        });
        loop.runForever();
        watchdog.stop();
        QVERIFY2(!watchdogFired, "virtual time froze after a failed executor submission");
        QVERIFY(timerRan);
        QCOMPARE(jobsRun.load(), 1);
        loop.removeObserver(&log);
    }
    // Queued events only for the jobs the pool took (first, third); none for the failed two.
    QCOMPARE(log.count(Kind::ExecutorJobQueued), 2u);
    QCOMPARE(log.count(Kind::ExecutorJobFinished), 2u);
    QVERIFY2(reports.all.empty(), qPrintable(reports.dump()));
}

void tst_Faults::closeWithPendingWorkCancelsFreesAndNamesIt_data()
{
    QTest::addColumn<bool>("byDestructor");
    QTest::newRow("close()") << false;
    QTest::newRow("~EventLoop()") << true;
}

void tst_Faults::closeWithPendingWorkCancelsFreesAndNamesIt()
{
    // A loop closed (or destroyed) with tasks sleeping and awaiting an executor job, a job
    // running, jobs queued behind it, timers and a callback scheduled. Everything is cancelled
    // or dropped, nothing runs or resumes afterwards, every object is freed, and the handler is
    // told what was pending: each task, the executor jobs, the callbacks and the timers.
    QFETCH(bool, byDestructor);
    Reports reports;
    QSemaphore running;
    QSemaphore gate;
    std::atomic<int> jobsFinished{ 0 };
    bool resumed = false, callbackRan = false, doneCallbackRan = false;
    std::vector<Future<int>> jobs;
    std::vector<Task<void>> tasks;
    std::size_t reportsBeforeClose = 0;
    {
        auto loop = std::make_unique<EventLoop>(std::make_shared<VirtualClock>());
        loop->setExceptionHandler([&](const ExceptionContext &c) {
            reports.all.push_back(c);
            // close() names the executor jobs before it waits for them: only now may the
            // running one finish, so it provably ran across close().
            if (c.message.contains(QStringLiteral("executor job")))
                gate.release();
        });
        loop->setExecutorMaxThreads(1);
        auto sleeper = [&]() -> Coro<void> {
            FrameGuard guard;
            co_await loopscope::sleep(1h);
            resumed = true;
        };
        auto awaitingJob = [&]() -> Coro<void> {
            FrameGuard guard;
            Future<int> job = loop->runInExecutor([&, c = Capture()] { return ++jobsFinished; });
            jobs.push_back(job);
            (void)co_await job;
            resumed = true;
        };
        tasks.push_back(loop->createTask(sleeper(), QStringLiteral("sleeper-a")));
        tasks.push_back(loop->createTask(sleeper(), QStringLiteral("sleeper-b")));
        tasks.push_back(loop->createTask(awaitingJob(), QStringLiteral("awaiting-job")));
        // A job that runs until close() (virtual time stands still meanwhile: the loop only
        // runs ready callbacks from here on).
        jobs.push_back(loop->runInExecutor([&, c = Capture()] {
            running.release();
            gate.acquire();
            return ++jobsFinished;
        }));
        running.acquire();
        // One iteration: every task takes its first step and suspends, the third one on a
        // job queued behind the running one (one worker).
        loop->runUntilComplete(sleepThenReturn(0s, 0));
        jobs.push_back(loop->runInExecutor([&, c = Capture()] { return ++jobsFinished; }));
        jobs.back().addDoneCallback([&doneCallbackRan, c = Capture()] { doneCallbackRan = true; });
        loop->callLater(5s, [&callbackRan, c = Capture()] { callbackRan = true; });
        loop->callLater(2s, [&callbackRan, c = Capture()] { callbackRan = true; });
        loop->callSoon([&callbackRan, c = Capture()] { callbackRan = true; });
        QCOMPARE(g_liveFrames, 3);
        reportsBeforeClose = reports.all.size();
        if (byDestructor)
            loop.reset();
        else
            loop->close();
        // Closed: the tasks' frames are gone already, the futures ended.
        QCOMPARE(g_liveFrames, 0);
        for (const auto &job : jobs)
            QVERIFY(job.cancelled());
        for (const auto &task : tasks)
            QVERIFY(task.cancelled());
    }
    QCOMPARE(reportsBeforeClose, 0u);
    QCOMPARE(jobsFinished.load(), 3); // close() waited for the running and the queued jobs
    QVERIFY(!resumed);
    QVERIFY(!callbackRan);
    QVERIFY(!doneCallbackRan);
    for (const auto &job : jobs) {
        // Exactly one state, and only the test holds it.
        QCOMPARE(job.status(), loopscope::FutureStatus::Cancelled);
        QVERIFY_THROWS_EXCEPTION(CancelledError, (void)job.result());
        QCOMPARE(job.base()->refCount(), 1u);
    }
    for (const auto &task : tasks) {
        QCOMPARE(task.status(), loopscope::FutureStatus::Cancelled);
        QCOMPARE(task.base()->refCount(), 1u);
    }

    QCOMPARE(reports.all.size(), 5u);
    const ExceptionContext &jobReport = reports.all[0];
    QCOMPARE(jobReport.message,
             QStringLiteral("Event loop closed with 3 executor job(s) pending: their futures "
                            "are cancelled"));
    QCOMPARE(jobReport.future.count(kThisFile), 3);
    for (int i = 1; i <= 3; ++i)
        QCOMPARE(reports.all[std::size_t(i)].message,
                 QStringLiteral("Task was destroyed but it is pending!"));
    QVERIFY(reports.all[1].task.contains(QStringLiteral("sleeper-a")));
    QVERIFY(reports.all[2].task.contains(QStringLiteral("sleeper-b")));
    QVERIFY(reports.all[3].task.contains(QStringLiteral("awaiting-job")));
    // The sleepers' own timers went with their frames: only the two user timers are named,
    // the earlier deadline first, after the ready callback.
    const ExceptionContext &dropped = reports.all[4];
    QCOMPARE(dropped.message,
             QStringLiteral("Event loop closed with 1 callback(s) and 2 timer(s) pending: they "
                            "will never run"));
    const QStringList named = dropped.handle.split(QStringLiteral(", "));
    QCOMPARE(named.size(), 3);
    QVERIFY2(named[0].startsWith(QStringLiteral("<Handle callSoon created at tst_faults.cpp")),
             qPrintable(dropped.handle));
    QVERIFY(named[1].startsWith(QStringLiteral("<Handle callLater created at tst_faults.cpp")));
    QVERIFY(named[2].startsWith(QStringLiteral("<Handle callLater created at tst_faults.cpp")));
    const auto line = [](const QString &name) {
        return name.section(QLatin1Char(':'), -1).chopped(1).toInt();
    };
    QVERIFY(line(named[1]) > line(named[2])); // the 2 s timer was scheduled on the later line
}

void tst_Faults::closeWhileJobsRunDiscardsTheirOutcomes()
{
    // Executor shutdown while four jobs run at once: close() waits for them, their results and
    // exceptions go nowhere (no "never retrieved" report for the failed ones: their futures are
    // cancelled), and every job and callable is destroyed on the loop thread, never on a worker.
    Reports reports;
    QSemaphore running;
    QSemaphore gate;
    std::atomic<int> finished{ 0 };
    std::vector<Future<int>> jobs;
    {
        EventLoop loop(std::make_shared<VirtualClock>());
        loop.setExceptionHandler([&](const ExceptionContext &c) {
            reports.all.push_back(c);
            if (c.message.contains(QStringLiteral("executor job")))
                gate.release(4);
        });
        loop.setExecutorMaxThreads(4);
        for (int i = 0; i < 4; ++i) {
            jobs.push_back(loop.runInExecutor([i, &running, &gate, &finished, c = Capture()] {
                running.release();
                gate.acquire();
                ++finished;
                if (i % 2)
                    throw std::runtime_error("failed while the loop closed");
                return i;
            }));
        }
        running.acquire(4);
        loop.close();
        QCOMPARE(finished.load(), 4);
    }
    for (const auto &job : jobs) {
        QVERIFY(job.cancelled());
        QCOMPARE(job.base()->refCount(), 1u);
    }
    QCOMPARE(reports.all.size(), 1u);
    QVERIFY(reports.all[0].message.startsWith(
            QStringLiteral("Event loop closed with 4 executor job(s) pending")));
}

void tst_Faults::throwingHandlerDuringCloseStillCleansUp()
{
    // The exception handler itself throws on every report close() makes (pending task,
    // executor job, dropped timer): each throw is contained with a warning, and close() still
    // destroys the frame, cancels the futures and frees every capture.
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral(
                                 "unhandled error in exception handler.*executor job")));
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral(
                                 "unhandled error in exception handler.*Task was destroyed")));
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral(
                                 "unhandled error in exception handler.*will never run")));
    int handlerCalls = 0;
    QSemaphore started;
    QSemaphore gate;
    std::optional<Future<int>> job;
    std::optional<Task<int>> task;
    {
        EventLoop loop(std::make_shared<VirtualClock>());
        loop.setExceptionHandler([&](const ExceptionContext &c) {
            ++handlerCalls;
            if (c.message.contains(QStringLiteral("executor job")))
                gate.release(); // the job runs across close(), as above
            throw std::logic_error("handler broke");
        });
        task = loop.createTask(sleepThenReturn(1h, 1));
        loop.runUntilComplete(sleepThenReturn(0s, 0)); // the task sleeps now
        job = loop.runInExecutor([&started, &gate, c = Capture()] {
            started.release();
            gate.acquire();
            return 1;
        });
        started.acquire();
        loop.callLater(1s, [c = Capture()] {});
        loop.close();
        QCOMPARE(g_liveFrames, 0);
    }
    QCOMPARE(handlerCalls, 3);
    QVERIFY(job->cancelled());
    QVERIFY(task->cancelled());
    QCOMPARE(job->base()->refCount(), 1u);
    QCOMPARE(task->base()->refCount(), 1u);
}

QTEST_GUILESS_MAIN(tst_Faults)
#include "tst_faults.moc"
