// Tests of loopscope::EventLoop: scheduling order, the snapshot rule, stop/run semantics,
// attached mode, thread-safe scheduling, error paths and the Qt wake-up budget.

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEvent>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using loopscope::EventLoop;
using loopscope::TimePoint;
using loopscope::VirtualClock;

namespace {

//! Counts events of every type delivered in this thread while installed.
class EventCounter : public QObject
{
public:
    EventCounter() { QCoreApplication::instance()->installEventFilter(this); }
    ~EventCounter() override { QCoreApplication::instance()->removeEventFilter(this); }
    bool eventFilter(QObject *, QEvent *event) override
    {
        if (event->type() == QEvent::Timer)
            ++timers;
        else if (event->type() >= QEvent::User)
            ++userEvents;
        return false;
    }
    int timers = 0;
    int userEvents = 0;
};

struct Recorder
{
    std::vector<int> order;
    std::vector<QString> errors;
};

} // namespace

class tst_EventLoop : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void callSoonRunsInFifoOrder();
    void callbacksScheduledDuringAnIterationRunNextIteration();
    void stopFromCallbackLetsTheIterationFinish();
    void stopBeforeRunForeverRunsOneIteration();
    void stopFromQtTimerWhileRunning();
    void cancelledHandleDoesNotRun();
    void handleCancellingItselfWhileRunning();
    void timersRunInDeadlineOrderWithFifoTies();
    void negativeDelayMeansNow();
    void timerOnRealClockNeverFiresEarly();
    void exceptionInCallbackGoesToHandlerAndLoopGoesOn();
    void defaultHandlerLogsWithHandleDescription();
    void throwingExceptionHandlerIsContained();
    void runUntilCompleteReturnsResult();
    void runUntilCompleteRethrows();
    void runUntilCompleteThrowsWhenStoppedEarly();
    void runUntilCompleteWhileRunningThrows();
    void runUntilCompleteOnFutureOfOtherLoopThrows();
    void closeIsIdempotentAndRefusesWork();
    void closeWhileRunningThrows();
    void callSoonThreadsafeFromFourThreadsLosesNothing();
    void attachedModeRunsInsideQCoreApplicationExec();
    void currentLoop();
    void burstUsesOneWakeEventNotOnePerCallback();
    void timersUseOneQtTimerNotOnePerCallback();
    void qtEventsInterleaveWithIterations();
    void saturatedLoopServesQtEventsWithinTheBudget();
    void saturatedLoopRunsOneSlicePerPassOfQtEvents();
    void moveOnlyCallables();
    void executorJobCancelledBeforeItStartsNeverRuns();
};

void tst_EventLoop::callSoonRunsInFifoOrder()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    std::vector<int> order;
    for (int i = 0; i < 1000; ++i)
        loop.callSoon([&order, i] { order.push_back(i); });
    loop.callSoon([&loop] { loop.stop(); });
    loop.runForever();
    QCOMPARE(order.size(), 1000u);
    for (int i = 0; i < 1000; ++i)
        QCOMPARE(order[i], i);
}

void tst_EventLoop::callbacksScheduledDuringAnIterationRunNextIteration()
{
    // asyncio's _run_once runs exactly the ready snapshot: A schedules B, C was already
    // queued, so the iteration runs A and C; stop() inside A ends the loop before B.
    EventLoop loop(std::make_shared<VirtualClock>());
    std::vector<char> order;
    loop.callSoon([&] {
        order.push_back('A');
        loop.callSoon([&] { order.push_back('B'); });
        loop.stop();
    });
    loop.callSoon([&] { order.push_back('C'); });
    loop.runForever();
    QCOMPARE(order, (std::vector<char>{ 'A', 'C' }));

    // The next run picks B up first.
    loop.callSoon([&] { loop.stop(); });
    loop.runForever();
    QCOMPARE(order, (std::vector<char>{ 'A', 'C', 'B' }));
}

void tst_EventLoop::stopFromCallbackLetsTheIterationFinish()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    int ran = 0;
    loop.callSoon([&] {
        ++ran;
        loop.stop();
    });
    loop.callSoon([&] { ++ran; }); // same iteration: still runs
    QVERIFY(!loop.isRunning());
    loop.runForever();
    QVERIFY(!loop.isRunning());
    QCOMPARE(ran, 2);
}

void tst_EventLoop::stopBeforeRunForeverRunsOneIteration()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    int first = 0, second = 0;
    loop.callSoon([&] {
        ++first;
        loop.callSoon([&] { ++second; });
    });
    loop.stop();
    loop.runForever();
    QCOMPARE(first, 1);
    QCOMPARE(second, 0);
}

void tst_EventLoop::stopFromQtTimerWhileRunning()
{
    // stop() from plain Qt code (not a loop callback) must still end runForever().
    EventLoop loop;
    QTimer::singleShot(0, [&loop] { loop.stop(); });
    QElapsedTimer t;
    t.start();
    loop.runForever();
    QVERIFY(t.elapsed() < 5000);
}

void tst_EventLoop::cancelledHandleDoesNotRun()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    bool ran = false, timerRan = false;
    auto h = loop.callSoon([&] { ran = true; });
    auto t = loop.callLater(1s, [&] { timerRan = true; });
    QVERIFY(!h.cancelled());
    h.cancel();
    t.cancel();
    QVERIFY(h.cancelled());
    QVERIFY(t.cancelled());
    loop.callLater(2s, [&] { loop.stop(); });
    loop.runForever();
    QVERIFY(!ran);
    QVERIFY(!timerRan);
    // Cancelling after the fact is harmless.
    h.cancel();
}

void tst_EventLoop::handleCancellingItselfWhileRunning()
{
    // Regression guard: cancel() from inside the running callback must not destroy the
    // closure that is executing (its captures stay valid until it returns).
    EventLoop loop(std::make_shared<VirtualClock>());
    auto self = std::make_shared<loopscope::Handle>();
    auto payload = std::make_shared<int>(7);
    int seen = 0;
    *self = loop.callSoon([self, payload, &seen, &loop] {
        self->cancel();
        seen = *payload; // would read freed memory if the closure were released early
        loop.stop();
    });
    loop.runForever();
    QCOMPARE(seen, 7);
    self.reset();
}

void tst_EventLoop::timersRunInDeadlineOrderWithFifoTies()
{
    auto clock = std::make_shared<VirtualClock>();
    EventLoop loop(clock);
    std::vector<int> order;
    loop.callLater(3s, [&] { order.push_back(3); });
    loop.callLater(1s, [&] { order.push_back(10); });
    loop.callLater(1s, [&] { order.push_back(11); });
    loop.callLater(2s, [&] { order.push_back(2); });
    loop.callLater(1s, [&] { order.push_back(12); });
    loop.callAt(loop.time() + 1s, [&] { order.push_back(13); });
    loop.callLater(4s, [&] { loop.stop(); });
    loop.runForever();
    QCOMPARE(order, (std::vector<int>{ 10, 11, 12, 13, 2, 3 }));
    QCOMPARE(loop.time(), TimePoint(4s));
}

void tst_EventLoop::negativeDelayMeansNow()
{
    auto clock = std::make_shared<VirtualClock>();
    EventLoop loop(clock);
    TimePoint ranAt = TimePoint::max();
    auto h = loop.callLater(-5s, [&] { ranAt = loop.time(); });
    QCOMPARE(h.when(), TimePoint(0s));
    loop.callLater(1s, [&] { loop.stop(); });
    loop.runForever();
    QCOMPARE(ranAt, TimePoint(0s));
}

void tst_EventLoop::timerOnRealClockNeverFiresEarly()
{
    // The one test on the real clock: Qt's millisecond timers must never make a loop timer
    // fire before its deadline.
    EventLoop loop;
    std::vector<std::pair<TimePoint, TimePoint>> seen; // (when, ran at)
    for (int ms : { 1, 3, 7, 12, 20 }) {
        auto h = std::make_shared<loopscope::TimerHandle>();
        *h = loop.callLater(std::chrono::milliseconds(ms),
                            [&seen, &loop, h] { seen.emplace_back(h->when(), loop.time()); });
    }
    loop.callLater(25ms, [&] { loop.stop(); });
    loop.runForever();
    QCOMPARE(seen.size(), 5u);
    for (auto [when, ranAt] : seen)
        QVERIFY2(ranAt >= when, "a timer fired before its deadline");
}

void tst_EventLoop::exceptionInCallbackGoesToHandlerAndLoopGoesOn()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    std::vector<loopscope::ExceptionContext> reports;
    loop.setExceptionHandler([&](const loopscope::ExceptionContext &c) { reports.push_back(c); });
    bool after = false;
    loop.callSoon([] { throw std::runtime_error("boom"); });
    loop.callSoon([] { throw 42; }); // not even a std::exception
    loop.callSoon([&] {
        after = true;
        loop.stop();
    });
    loop.runForever();
    QVERIFY(after);
    QCOMPARE(reports.size(), 2u);
    QCOMPARE(reports[0].message, QStringLiteral("Exception in callback"));
    QVERIFY(reports[0].handle.contains(QStringLiteral("tst_eventloop.cpp")));
    QVERIFY(reports[0].toString().contains(QStringLiteral("boom")));
    QVERIFY(reports[1].exception);
}

void tst_EventLoop::defaultHandlerLogsWithHandleDescription()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral(
                                 "Exception in callback; handle: <Handle callSoon created at "
                                 "tst_eventloop.cpp:\\d+>.*kaput")));
    loop.callSoon([] { throw std::runtime_error("kaput"); });
    loop.callSoon([&] { loop.stop(); });
    loop.runForever();
}

void tst_EventLoop::throwingExceptionHandlerIsContained()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    loop.setExceptionHandler(
            [](const loopscope::ExceptionContext &) { throw std::logic_error("handler broke"); });
    QTest::ignoreMessage(
            QtWarningMsg,
            QRegularExpression(QStringLiteral("unhandled error in exception handler")));
    bool after = false;
    loop.callSoon([] { throw std::runtime_error("first"); });
    loop.callSoon([&] {
        after = true;
        loop.stop();
    });
    loop.runForever();
    QVERIFY(after);
}

void tst_EventLoop::runUntilCompleteReturnsResult()
{
    auto clock = std::make_shared<VirtualClock>();
    EventLoop loop(clock);
    loopscope::Future<int> f(loop);
    loop.callLater(5s, [f]() mutable { f.setResult(99); });
    QCOMPARE(loop.runUntilComplete(f), 99);
    QCOMPARE(loop.time(), TimePoint(5s));
    QVERIFY(!loop.isRunning());
    // A future that is already done still works (one iteration).
    QCOMPARE(loop.runUntilComplete(f), 99);
}

void tst_EventLoop::runUntilCompleteRethrows()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    loopscope::Future<int> f(loop);
    loop.callSoon([f]() mutable { f.setException(std::invalid_argument("bad input")); });
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, loop.runUntilComplete(f));

    loopscope::Future<void> c(loop);
    loop.callSoon([c]() mutable { c.cancel("nope"); });
    try {
        loop.runUntilComplete(c);
        QFAIL("expected CancelledError");
    } catch (const loopscope::CancelledError &e) {
        QCOMPARE(e.message(), std::string("nope"));
    }
}

void tst_EventLoop::runUntilCompleteThrowsWhenStoppedEarly()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    loopscope::Future<int> f(loop);
    loop.callSoon([&] { loop.stop(); });
    QVERIFY_THROWS_EXCEPTION(loopscope::RuntimeError, loop.runUntilComplete(f));
    QVERIFY(!f.done());
    // The stop callback was removed: completing the future later does not stop anything.
    f.setResult(1);
    bool ran = false;
    loop.callSoon([&] { ran = true; });
    loop.callSoon([&] { loop.stop(); });
    loop.runForever();
    QVERIFY(ran);
}

void tst_EventLoop::runUntilCompleteWhileRunningThrows()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    loopscope::Future<int> f(loop);
    QString error;
    loop.callSoon([&] {
        try {
            loop.runUntilComplete(f);
        } catch (const loopscope::RuntimeError &e) {
            error = QString::fromUtf8(e.what());
        }
        try {
            loop.runForever();
        } catch (const loopscope::RuntimeError &e) {
            error += QStringLiteral(" | ") + QString::fromUtf8(e.what());
        }
        loop.stop();
    });
    loop.runForever();
    QCOMPARE(error,
             QStringLiteral(
                     "This event loop is already running | This event loop is already running"));
}

void tst_EventLoop::runUntilCompleteOnFutureOfOtherLoopThrows()
{
    EventLoop a(std::make_shared<VirtualClock>());
    EventLoop b(std::make_shared<VirtualClock>());
    loopscope::Future<int> f(b);
    QVERIFY_THROWS_EXCEPTION(loopscope::RuntimeError, a.runUntilComplete(f));
}

void tst_EventLoop::closeIsIdempotentAndRefusesWork()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    bool ran = false;
    loop.callSoon([&] { ran = true; });
    QVERIFY(!loop.isClosed());
    loop.close();
    QVERIFY(loop.isClosed());
    loop.close(); // idempotent
    QVERIFY(!ran);
    QVERIFY_THROWS_EXCEPTION(loopscope::RuntimeError, loop.callSoon([] {}));
    QVERIFY_THROWS_EXCEPTION(loopscope::RuntimeError, loop.callLater(1s, [] {}));
    QVERIFY_THROWS_EXCEPTION(loopscope::RuntimeError, loop.callSoonThreadsafe([] {}));
    QVERIFY_THROWS_EXCEPTION(loopscope::RuntimeError, loop.runForever());
    QVERIFY_THROWS_EXCEPTION(loopscope::RuntimeError, (void)loop.runInExecutor([] { return 1; }));
    try {
        loop.callSoon([] {});
    } catch (const loopscope::RuntimeError &e) {
        QVERIFY(QString::fromUtf8(e.what()).contains(QStringLiteral("closed")));
    }
}

void tst_EventLoop::closeWhileRunningThrows()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    bool threw = false;
    loop.callSoon([&] {
        try {
            loop.close();
        } catch (const loopscope::RuntimeError &) {
            threw = true;
        }
        loop.stop();
    });
    loop.runForever();
    QVERIFY(threw);
    QVERIFY(!loop.isClosed());
}

void tst_EventLoop::callSoonThreadsafeFromFourThreadsLosesNothing()
{
    constexpr int kThreads = 4;
    constexpr int kPerThread = 100000;
    EventLoop loop;
    std::vector<int> lastSeen(kThreads, -1);
    std::atomic<int> outOfOrder{ 0 };
    int received = 0;
    Qt::HANDLE loopThread = QThread::currentThreadId();
    std::atomic<int> wrongThread{ 0 };

    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPerThread; ++i) {
                loop.callSoonThreadsafe([&, t, i] {
                    if (QThread::currentThreadId() != loopThread)
                        ++wrongThread;
                    if (i != lastSeen[t] + 1)
                        ++outOfOrder;
                    lastSeen[t] = i;
                    if (++received == kThreads * kPerThread)
                        loop.stop();
                });
            }
        });
    }
    loop.runForever();
    for (auto &th : threads)
        th.join();
    QCOMPARE(received, kThreads * kPerThread);
    QCOMPARE(outOfOrder.load(), 0);
    QCOMPARE(wrongThread.load(), 0);
}

void tst_EventLoop::attachedModeRunsInsideQCoreApplicationExec()
{
    // No runForever(): the loop is driven by Qt's own event loop.
    EventLoop loop;
    std::vector<int> order;
    bool wasRunning = true;
    loop.callSoon([&] {
        order.push_back(1);
        wasRunning = loop.isRunning();
        loop.callLater(2ms, [&] {
            order.push_back(3);
            QCoreApplication::quit();
        });
    });
    loop.callSoon([&] { order.push_back(2); });
    QTimer watchdog;
    watchdog.setSingleShot(true);
    QObject::connect(&watchdog, &QTimer::timeout, [] { QCoreApplication::exit(1); });
    watchdog.start(10000);
    const int rc = QCoreApplication::exec();
    QCOMPARE(rc, 0);
    QCOMPARE(order, (std::vector<int>{ 1, 2, 3 }));
    QVERIFY(!wasRunning); // attached mode is not runForever()
}

void tst_EventLoop::currentLoop()
{
    QVERIFY(EventLoop::current() == nullptr);
    {
        EventLoop a(std::make_shared<VirtualClock>());
        QCOMPARE(EventLoop::current(), &a);
        EventLoop b(std::make_shared<VirtualClock>());
        QCOMPARE(EventLoop::current(), &a); // the first loop of the thread
        EventLoop *inside = nullptr;
        b.callSoon([&] {
            inside = EventLoop::current();
            b.stop();
        });
        b.runForever();
        QCOMPARE(inside, &b); // the running loop while it runs
        QCOMPARE(EventLoop::current(), &a);
    }
    QVERIFY(EventLoop::current() == nullptr);
}

void tst_EventLoop::burstUsesOneWakeEventNotOnePerCallback()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    int ran = 0;
    for (int i = 0; i < 10000; ++i)
        loop.callSoon([&] { ++ran; });
    loop.callSoon([&] { loop.stop(); });
    EventCounter counter;
    loop.runForever();
    QCOMPARE(ran, 10000);
    QVERIFY2(counter.userEvents <= 2, qPrintable(QString::number(counter.userEvents)));
}

void tst_EventLoop::timersUseOneQtTimerNotOnePerCallback()
{
    // 1000 timers spread over 30 ms of real time: Qt sees at most one timer event per
    // millisecond boundary, never one per callback.
    EventLoop loop;
    int ran = 0;
    for (int i = 0; i < 1000; ++i)
        loop.callLater(std::chrono::microseconds(i * 30), [&] { ++ran; });
    loop.callLater(35ms, [&] { loop.stop(); });
    EventCounter counter;
    loop.runForever();
    QCOMPARE(ran, 1000);
    QVERIFY2(counter.timers < 200, qPrintable(QString::number(counter.timers)));
}

void tst_EventLoop::qtEventsInterleaveWithIterations()
{
    // A callback chain that never ends must not starve Qt: a queued Qt call gets through.
    // With no iteration budget every iteration costs one Qt event, so few hops run first.
    EventLoop loop(std::make_shared<VirtualClock>());
    loop.setIterationBudget(loopscope::Duration::zero());
    int hops = 0;
    std::function<void()> hop = [&] {
        ++hops;
        loop.callSoon(hop);
    };
    loop.callSoon(hop);
    bool qtRan = false;
    QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [&] {
                qtRan = true;
                loop.stop();
            },
            Qt::QueuedConnection);
    loop.runForever();
    QVERIFY(qtRan);
    QVERIFY(hops >= 1);
    QVERIFY(hops < 1000);
}

void tst_EventLoop::saturatedLoopServesQtEventsWithinTheBudget()
{
    // The default budget runs iterations back to back, yet a posted Qt event and a QTimer
    // are served while the loop never runs out of work.
    EventLoop loop;
    QCOMPARE(loop.iterationBudget(), loopscope::Duration(1ms));
    std::uint64_t hops = 0;
    bool posted = false;
    bool timerFired = false;
    std::uint64_t hopsAtPosted = 0;
    std::function<void()> hop = [&] {
        if (++hops == 1) {
            // Posted from inside the first slice: Qt serves it once that slice gives back.
            QMetaObject::invokeMethod(
                    QCoreApplication::instance(),
                    [&] {
                        posted = true;
                        hopsAtPosted = hops;
                    },
                    Qt::QueuedConnection);
        }
        loop.callSoon(hop);
    };
    loop.callSoon(hop);
    QTimer::singleShot(20ms, QCoreApplication::instance(), [&] {
        timerFired = true;
        loop.stop();
    });
    QTimer watchdog; // a starved Qt would never get here: fail instead of hanging
    watchdog.setSingleShot(true);
    QObject::connect(&watchdog, &QTimer::timeout, &watchdog, [&] { loop.stop(); });
    watchdog.start(5s);
    loop.runForever();
    QVERIFY(posted);
    QVERIFY(timerFired);
    QVERIFY(watchdog.isActive()); // stopped by the 20 ms timer, not the watchdog
    // Several iterations per Qt event: the first slice ran more than one hop before the
    // posted event was served (one iteration per event would give exactly one).
    QVERIFY2(hopsAtPosted > 1, qPrintable(QString::number(hopsAtPosted)));
    QVERIFY(hops > hopsAtPosted);

    // Iterations stay asyncio iterations: what a callback schedules runs in the next one.
    std::vector<int> order;
    loop.callSoon([&] {
        order.push_back(1);
        loop.callSoon([&] { order.push_back(3); });
    });
    loop.callSoon([&] { order.push_back(2); });
    loop.callSoon([&] { loop.stop(); });
    loop.runForever();
    QCOMPARE(order, (std::vector<int>{ 1, 2 })); // 3 belongs to the iteration after stop
    loop.callSoon([&] { loop.stop(); });
    loop.runForever();
    QCOMPARE(order, (std::vector<int>{ 1, 2, 3 }));

    QVERIFY_THROWS_EXCEPTION(loopscope::ValueError, loop.setIterationBudget(-1ms));
}

void tst_EventLoop::saturatedLoopRunsOneSlicePerPassOfQtEvents()
{
    // A saturated loop keeps exactly one wake event in Qt's queue, so each pass of Qt's
    // posted events runs one slice. runForever() posts a spare wake event on purpose (see
    // LoopCore::forceWake()); if that spare also ran slices, every pass would run two and Qt
    // timers, dispatched by Glib between passes, would wait twice as long (a 5 ms QTimer
    // fired 7-11 ms late during bench_post_chain). A Qt event that re-posts itself marks
    // the passes; with a budget of zero every slice is one iteration, i.e. one hop.
    EventLoop loop;
    loop.setIterationBudget(0ms);
    int hops = 0;
    int hopsSincePing = 0;
    int mostHopsBetweenPings = 0;
    int pings = 0;
    QObject pinger; // its queued ping dies with it when the test returns
    std::function<void()> hop = [&] {
        ++hops;
        ++hopsSincePing;
        if (hops == 2000)
            loop.stop();
        else
            loop.callSoon(hop);
    };
    std::function<void()> ping = [&] {
        ++pings;
        mostHopsBetweenPings = std::max(mostHopsBetweenPings, hopsSincePing);
        hopsSincePing = 0;
        if (hops < 2000)
            QMetaObject::invokeMethod(&pinger, ping, Qt::QueuedConnection);
    };
    loop.callSoon(hop); // posts a wake event before runForever() posts its spare
    QMetaObject::invokeMethod(&pinger, ping, Qt::QueuedConnection);
    loop.runForever();
    QCOMPARE(hops, 2000);
    QVERIFY2(pings >= 1999, qPrintable(QString::number(pings)));
    QCOMPARE(mostHopsBetweenPings, 1);
}

void tst_EventLoop::moveOnlyCallables()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    int seen = 0;
    loop.callSoon([p = std::make_unique<int>(5), &seen] { seen += *p; });
    loop.callLater(1s, [p = std::make_unique<int>(6), &seen] { seen += *p; });
    auto f = loop.runInExecutor([p = std::make_unique<int>(7)] { return *p * 2; });
    QCOMPARE(loop.runUntilComplete(f), 14);
    loop.callLater(2s, [&] { loop.stop(); });
    loop.runForever();
    QCOMPARE(seen, 11);
}

void tst_EventLoop::executorJobCancelledBeforeItStartsNeverRuns()
{
    // One worker, blocked by a first job: the second job is still queued when its future
    // is cancelled, so it must never run (asyncio cancels the concurrent future the same way).
    EventLoop loop;
    loop.setExecutorMaxThreads(1);
    std::atomic<bool> release{ false };
    std::atomic<bool> secondRan{ false };
    auto first = loop.runInExecutor([&] {
        while (!release.load())
            std::this_thread::yield();
        return 1;
    });
    auto second = loop.runInExecutor([&] { secondRan = true; });
    QVERIFY(second.cancel());
    // Let the done-callback raise the job's cancelled flag, then unblock the worker.
    loop.callSoon([&] { loop.callSoon([&] { release = true; }); });
    QCOMPARE(loop.runUntilComplete(first), 1);
    loop.close(); // waits for the pool: the second job has been dequeued by now
    QVERIFY(!secondRan.load());
    QVERIFY(second.cancelled());
}

QTEST_GUILESS_MAIN(tst_EventLoop)
#include "tst_eventloop.moc"
