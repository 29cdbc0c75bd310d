// Loop control: pause/resume, single-stepping, breakpoints, and the scaled clock.

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QTest>

#include <cmath>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::PauseReason;
using loopscope::StepKind;
using loopscope::TimePoint;

namespace {

//! Lets Qt deliver what is pending (the loop runs attached, inside Qt's event processing).
void spin(int rounds = 20)
{
    for (int i = 0; i < rounds; ++i)
        QCoreApplication::processEvents();
}

struct Fixture
{
    std::shared_ptr<loopscope::VirtualClock> clock = std::make_shared<loopscope::VirtualClock>();
    EventLoop loop{ clock };
};

class PauseLog : public loopscope::LoopObserver
{
public:
    void onEvent(const loopscope::TraceEvent &e) override
    {
        if (e.kind == loopscope::TraceEventKind::LoopPaused)
            paused.push_back({ PauseReason(e.count), e.id });
        if (e.kind == loopscope::TraceEventKind::LoopResumed)
            ++resumed;
    }
    std::vector<std::pair<PauseReason, std::uint64_t>> paused;
    int resumed = 0;
};

Coro<int> napper(loopscope::Duration d, int v)
{
    co_await loopscope::sleep(d);
    co_return v;
}

} // namespace

class tst_Control : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void pauseStopsCallbacksAndResumeRunsThem();
    void pauseFromACallbackKeepsTheRestQueuedInOrder();
    void virtualTimeStandsStillWhilePaused();
    void stepOneCallback();
    void stepOneIterationKeepsTheSnapshotRule();
    void stepToNextTimer();
    void stepToNextEventOfATask();
    void stepErrors();
    void taskBreakpointPausesOnStateChange();
    void breakOnTaskFailure();
    void breakOnSlowCallback();
    void stopEndsRunForeverWhilePaused();
    void pauseAndStepAreTraced();
    void scaledClockRejectsFactorsOutOfRange();
    void scaledClockIsMonotonicAcrossFactorChanges();
    void scaledClockPausesAndScalesRealWaits();
    void loopPauseFreezesAScaledClock();
};

void tst_Control::pauseStopsCallbacksAndResumeRunsThem()
{
    Fixture f;
    int ran = 0;
    f.loop.callSoon([&] { ++ran; });
    f.loop.pause();
    QVERIFY(f.loop.isPaused());
    QCOMPARE(f.loop.pauseReason(), PauseReason::Requested);
    spin();
    QCOMPARE(ran, 0);
    f.loop.resume();
    QVERIFY(!f.loop.isPaused());
    spin();
    QCOMPARE(ran, 1);
}

void tst_Control::pauseFromACallbackKeepsTheRestQueuedInOrder()
{
    Fixture f;
    std::vector<int> order;
    f.loop.callSoon([&] {
        order.push_back(1);
        f.loop.pause();
    });
    f.loop.callSoon([&] { order.push_back(2); });
    f.loop.callSoon([&] { order.push_back(3); });
    spin();
    QCOMPARE(order, (std::vector<int>{ 1 }));
    QVERIFY(f.loop.isPaused());
    f.loop.resume();
    spin();
    QCOMPARE(order, (std::vector<int>{ 1, 2, 3 }));
}

void tst_Control::virtualTimeStandsStillWhilePaused()
{
    Fixture f;
    bool fired = false;
    f.loop.callLater(1s, [&] { fired = true; });
    f.loop.pause();
    spin();
    QCOMPARE(f.loop.time(), TimePoint(0s));
    QVERIFY(!fired);
    f.loop.resume();
    spin();
    QVERIFY(fired);
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Control::stepOneCallback()
{
    Fixture f;
    std::vector<int> order;
    for (int i = 0; i < 3; ++i)
        f.loop.callSoon([&order, i] { order.push_back(i); });
    f.loop.pause();
    f.loop.step(StepKind::Callback);
    spin();
    QCOMPARE(order, (std::vector<int>{ 0 }));
    QVERIFY(f.loop.isPaused());
    QCOMPARE(f.loop.pauseReason(), PauseReason::StepDone);
    f.loop.step(StepKind::Callback);
    spin();
    QCOMPARE(order, (std::vector<int>{ 0, 1 }));
}

void tst_Control::stepOneIterationKeepsTheSnapshotRule()
{
    Fixture f;
    std::vector<char> order;
    f.loop.callSoon([&] {
        order.push_back('A');
        f.loop.callSoon([&] { order.push_back('B'); });
    });
    f.loop.callSoon([&] { order.push_back('C'); });
    f.loop.pause();
    f.loop.step(StepKind::Iteration);
    spin();
    QCOMPARE(order, (std::vector<char>{ 'A', 'C' }));
    f.loop.step(StepKind::Iteration);
    spin();
    QCOMPARE(order, (std::vector<char>{ 'A', 'C', 'B' }));
}

void tst_Control::stepToNextTimer()
{
    Fixture f;
    bool early = false, timer = false;
    f.loop.callLater(5s, [&] { timer = true; });
    f.loop.callLater(7s, [] {});
    f.loop.callSoon([&] { early = true; });
    f.loop.pause();
    f.loop.step(StepKind::Timer);
    spin();
    // Ran the ready callback, jumped virtual time to the timer; the timer's callback is the
    // next ready one, not yet run.
    QVERIFY(early);
    QVERIFY(!timer);
    QCOMPARE(f.loop.time(), TimePoint(5s));
    QCOMPARE(f.loop.pauseReason(), PauseReason::StepDone);
    f.loop.step(StepKind::Callback);
    spin();
    QVERIFY(timer);
    QCOMPARE(f.loop.time(), TimePoint(5s));
}

void tst_Control::stepToNextEventOfATask()
{
    Fixture f;
    int noise = 0;
    for (int i = 0; i < 5; ++i)
        f.loop.callSoon([&] { ++noise; });
    auto task = f.loop.createTask(napper(2s, 1));
    f.loop.pause();
    PauseLog log;
    f.loop.addObserver(&log);
    f.loop.step(StepKind::TaskEvent, task.taskId()); // to its first step
    spin(40);
    QCOMPARE(noise, 5); // the callbacks queued before the task's first step ran first
    QCOMPARE(task.core()->stepCount(), 1u);
    QCOMPARE(f.loop.time(), TimePoint(0s));
    f.loop.step(StepKind::TaskEvent, task.taskId()); // to its wake-up after the sleep
    spin(40);
    QCOMPARE(f.loop.time(), TimePoint(2s));
    QVERIFY(!task.done());
    f.loop.resume();
    spin(40);
    QVERIFY(task.done());
    QCOMPARE(task.result(), 1);
    f.loop.removeObserver(&log);
    QCOMPARE(log.paused.size(), 2u); // the two steps (the observer came after pause())
}

void tst_Control::stepErrors()
{
    Fixture f;
    QVERIFY_THROWS_EXCEPTION(loopscope::RuntimeError, f.loop.step(StepKind::Callback));
    f.loop.pause();
    QVERIFY_THROWS_EXCEPTION(loopscope::ValueError, f.loop.step(StepKind::TaskEvent));
    f.loop.step(StepKind::Timer); // nothing scheduled: waits
    QVERIFY_THROWS_EXCEPTION(loopscope::RuntimeError, f.loop.step(StepKind::Callback));
    f.loop.pause(); // ends the step
    QCOMPARE(f.loop.pauseReason(), PauseReason::Requested);
    f.loop.step(StepKind::Callback); // allowed again
    f.loop.resume();
}

void tst_Control::taskBreakpointPausesOnStateChange()
{
    Fixture f;
    auto watched = f.loop.createTask(napper(1s, 3), QStringLiteral("watched"));
    auto other = f.loop.createTask(napper(3s, 4));
    PauseLog log;
    f.loop.addObserver(&log);
    f.loop.addTaskBreakpoint(watched.taskId());
    spin();
    QVERIFY(f.loop.isPaused());
    QCOMPARE(f.loop.pauseReason(), PauseReason::TaskBreakpoint);
    QCOMPARE(log.paused.back().second, watched.taskId());
    f.loop.removeTaskBreakpoint(watched.taskId());
    f.loop.resume();
    spin(40);
    QVERIFY(watched.done());
    QVERIFY(other.done());
    f.loop.removeObserver(&log);
}

void tst_Control::breakOnTaskFailure()
{
    Fixture f;
    auto failing = []() -> Coro<void> {
        co_await loopscope::sleep(1s);
        throw std::runtime_error("bad");
    };
    auto bad = f.loop.createTask(failing());
    bool later = false;
    f.loop.callLater(2s, [&] { later = true; });
    f.loop.setBreakOnTaskFailure(true);
    spin(40);
    QVERIFY(f.loop.isPaused());
    QCOMPARE(f.loop.pauseReason(), PauseReason::TaskFailed);
    QVERIFY(bad.done());
    QVERIFY(!later);
    QCOMPARE(f.loop.time(), TimePoint(1s));
    f.loop.setBreakOnTaskFailure(false);
    f.loop.resume();
    spin(40);
    QVERIFY(later);
    QVERIFY(bad.exception());
}

void tst_Control::breakOnSlowCallback()
{
    Fixture f;
    f.loop.setSlowCallbackDuration(0ns); // every callback counts as slow: deterministic
    f.loop.setBreakOnSlowCallback(true);
    int ran = 0;
    f.loop.callSoon([&] { ++ran; });
    f.loop.callSoon([&] { ++ran; });
    spin();
    QCOMPARE(ran, 1);
    QCOMPARE(f.loop.pauseReason(), PauseReason::SlowCallback);
    f.loop.setBreakOnSlowCallback(false);
    f.loop.resume();
    spin();
    QCOMPARE(ran, 2);
}

void tst_Control::stopEndsRunForeverWhilePaused()
{
    Fixture f;
    bool ran = false;
    f.loop.callSoon([&] {
        f.loop.pause();
        f.loop.stop();
    });
    f.loop.callSoon([&] { ran = true; });
    f.loop.runForever(); // returns although paused
    QVERIFY(f.loop.isPaused());
    QVERIFY(!ran);
}

void tst_Control::pauseAndStepAreTraced()
{
    Fixture f;
    PauseLog log;
    f.loop.addObserver(&log);
    f.loop.callSoon([] {});
    f.loop.pause();
    f.loop.step(StepKind::Callback);
    spin();
    f.loop.resume();
    f.loop.removeObserver(&log);
    QCOMPARE(log.paused.size(), 2u);
    QCOMPARE(log.paused[0].first, PauseReason::Requested);
    QCOMPARE(log.paused[1].first, PauseReason::StepDone);
    QCOMPARE(log.resumed, 1);
}

void tst_Control::scaledClockRejectsFactorsOutOfRange()
{
    QVERIFY_THROWS_EXCEPTION(loopscope::ValueError, loopscope::ScaledClock(0.05));
    QVERIFY_THROWS_EXCEPTION(loopscope::ValueError, loopscope::ScaledClock(10.5));
    QVERIFY_THROWS_EXCEPTION(loopscope::ValueError, loopscope::ScaledClock(std::nan("")));
    loopscope::ScaledClock clock(10.0);
    QVERIFY_THROWS_EXCEPTION(loopscope::ValueError, clock.setFactor(-1));
    QCOMPARE(clock.factor(), 10.0);
    clock.setFactor(0.1);
    QCOMPARE(clock.factor(), 0.1);
}

void tst_Control::scaledClockIsMonotonicAcrossFactorChanges()
{
    loopscope::ScaledClock clock(1.0);
    TimePoint last = clock.now();
    for (double factor : { 10.0, 0.1, 3.0, 0.5, 10.0, 1.0 }) {
        clock.setFactor(factor);
        for (int i = 0; i < 100; ++i) {
            const TimePoint now = clock.now();
            QVERIFY(now >= last);
            last = now;
        }
    }
}

void tst_Control::scaledClockPausesAndScalesRealWaits()
{
    loopscope::ScaledClock clock(2.0);
    const TimePoint deadline = clock.now() + 1s;
    const auto wait = clock.realTimeUntil(deadline);
    QVERIFY2(wait <= loopscope::Duration(500ms) && wait > loopscope::Duration(490ms),
             qPrintable(QString::number(wait.count())));
    clock.pause();
    QVERIFY(clock.isPaused());
    const TimePoint frozen = clock.now();
    QCOMPARE(clock.now(), frozen);
    QVERIFY(clock.realTimeUntil(deadline) < loopscope::Duration::zero()); // no timer while paused
    clock.resume();
    QVERIFY(clock.now() >= frozen);
}

void tst_Control::loopPauseFreezesAScaledClock()
{
    auto clock = std::make_shared<loopscope::ScaledClock>(1.0);
    EventLoop loop(clock);
    loop.pause();
    QVERIFY(clock->isPaused());
    loop.resume();
    QVERIFY(!clock->isPaused());
}

QTEST_GUILESS_MAIN(tst_Control)
#include "tst_control.moc"
