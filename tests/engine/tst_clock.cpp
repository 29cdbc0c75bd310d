// SteadyClock and VirtualClock, on their own and as the time source of an EventLoop.

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QEvent>
#include <QTest>

#include <functional>
#include <vector>

using namespace loopscope;
using namespace std::chrono_literals;

namespace {

qint64 ns(TimePoint t)
{
    return t.time_since_epoch().count();
}

TimePoint at(Duration d)
{
    return TimePoint(d);
}

//! Runs exactly one loop iteration (stop() before runForever() means one iteration).
void runOneIteration(EventLoop &loop)
{
    loop.callSoon([&loop] { loop.stop(); });
    loop.runForever();
}

//! Counts the custom (>= QEvent::User) events Qt delivers in this thread: the loop's
//! wake-up events, since nothing else in these tests posts custom events.
class WakeCounter : public QObject
{
public:
    WakeCounter() { QCoreApplication::instance()->installEventFilter(this); }
    ~WakeCounter() override { QCoreApplication::instance()->removeEventFilter(this); }
    int count = 0;

protected:
    bool eventFilter(QObject *watched, QEvent *event) override
    {
        if (event->type() >= QEvent::User && event->type() <= QEvent::MaxUser)
            ++count;
        return QObject::eventFilter(watched, event);
    }
};

} // namespace

class tst_Clock : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void steadyClockIsMonotonic();
    void steadyClockRealTimeUntil();
    void toSecondsConversions();
    void virtualClockStartsAtZeroAndIsVirtual();
    void virtualAdvanceIgnoresNegative();
    void manualModeTimerWaitsForAdvance();
    void manualModeAdvanceWakesLoopViaProcessEvents();
    void manualModeAdvanceFromCallback();
    void manualModeIdleLoopDoesNotSpin();
    void autoModeJumpsToNextDeadline();
    void autoModeDoesNotJumpWhileCallbacksAreReady();
    void autoModeCanBeSwitched();
    void loopTimeFollowsClock();
    void sleepUsesVirtualTime();
};

void tst_Clock::steadyClockIsMonotonic()
{
    SteadyClock clock;
    QVERIFY(!clock.isVirtual());
    QVERIFY(!clock.autoAdvanceTo(at(100s)));
    TimePoint previous = clock.now();
    QVERIFY(previous >= TimePoint{}); // relative to the clock's creation
    QVERIFY(previous < at(10s));
    for (int i = 0; i < 200000; ++i) {
        const TimePoint t = clock.now();
        if (t < previous)
            QFAIL(qPrintable(QStringLiteral("went back by %1 ns").arg(ns(previous) - ns(t))));
        previous = t;
    }
    // It does move (spin, no sleep): 200k reads cannot take zero nanoseconds.
    const TimePoint start = clock.now();
    int spins = 0;
    while (clock.now() == start && spins < 100000000)
        ++spins;
    QVERIFY(clock.now() > start);
}

void tst_Clock::steadyClockRealTimeUntil()
{
    SteadyClock clock;
    const TimePoint now = clock.now();
    QCOMPARE(clock.realTimeUntil(now - 1s), Duration::zero()); // past: zero, never negative
    const Duration left = clock.realTimeUntil(now + 10s);
    QVERIFY(left > 9s);
    QVERIFY(left <= 10s);
}

void tst_Clock::toSecondsConversions()
{
    QCOMPARE(toSeconds(Duration(1500ms)), 1.5);
    QCOMPARE(toSeconds(at(250ms)), 0.25);
    QCOMPARE(toSeconds(Duration(-2s)), -2.0);
}

void tst_Clock::virtualClockStartsAtZeroAndIsVirtual()
{
    VirtualClock manual(false);
    VirtualClock automatic;
    QVERIFY(manual.isVirtual());
    QVERIFY(!manual.autoAdvance());
    QVERIFY(automatic.autoAdvance());
    QCOMPARE(ns(manual.now()), qint64(0));
    QVERIFY(manual.realTimeUntil(at(1s)) < Duration::zero()); // "never arm a Qt timer"

    // autoAdvanceTo moves only an auto clock, and never backwards.
    QVERIFY(!manual.autoAdvanceTo(at(5s)));
    QCOMPARE(ns(manual.now()), qint64(0));
    QVERIFY(automatic.autoAdvanceTo(at(5s)));
    QCOMPARE(ns(automatic.now()), ns(at(5s)));
    QVERIFY(automatic.autoAdvanceTo(at(2s)));
    QCOMPARE(ns(automatic.now()), ns(at(5s)));
}

void tst_Clock::virtualAdvanceIgnoresNegative()
{
    VirtualClock clock(false);
    clock.advance(3s);
    QCOMPARE(ns(clock.now()), ns(at(3s)));
    clock.advance(-1s);
    QCOMPARE(ns(clock.now()), ns(at(3s)));
    clock.advance(Duration::zero());
    QCOMPARE(ns(clock.now()), ns(at(3s)));
    clock.advanceTo(at(1s)); // backwards: ignored
    QCOMPARE(ns(clock.now()), ns(at(3s)));
    clock.advanceTo(at(7s));
    QCOMPARE(ns(clock.now()), ns(at(7s)));
    clock.advance(1ns);
    QCOMPARE(ns(clock.now()), ns(at(7s)) + 1);

    // Through a loop: loop time does not go back either.
    auto shared = std::make_shared<VirtualClock>(false);
    EventLoop loop(shared);
    shared->advance(2s);
    shared->advance(-5s);
    QCOMPARE(ns(loop.time()), ns(at(2s)));
}

void tst_Clock::manualModeTimerWaitsForAdvance()
{
    auto clock = std::make_shared<VirtualClock>(false);
    EventLoop loop(clock);
    bool ran = false;
    TimePoint ranAt{};
    TimerHandle h = loop.callLater(1s, [&] {
        ran = true;
        ranAt = loop.time();
    });
    QCOMPARE(ns(h.when()), ns(at(1s)));

    for (int i = 0; i < 5; ++i)
        runOneIteration(loop);
    QVERIFY2(!ran, "timer ran although the manual clock did not move");
    QCOMPARE(ns(loop.time()), qint64(0));

    clock->advance(999ms);
    runOneIteration(loop);
    QVERIFY2(!ran, "timer ran 1 ms early");

    clock->advance(1ms);
    QVERIFY(!ran); // advance() only wakes the loop; the callback runs when it iterates
    runOneIteration(loop);
    QVERIFY(ran);
    QCOMPARE(ns(ranAt), ns(at(1s)));
}

void tst_Clock::manualModeAdvanceWakesLoopViaProcessEvents()
{
    // Attached mode: no runForever(), Qt's own event processing drives the loop.
    auto clock = std::make_shared<VirtualClock>(false);
    EventLoop loop(clock);
    int ran = 0;
    loop.callLater(1s, [&ran] { ++ran; });
    loop.callLater(2s, [&ran] { ++ran; });
    for (int i = 0; i < 5; ++i)
        QCoreApplication::processEvents();
    QCOMPARE(ran, 0);

    clock->advance(1s);
    QCoreApplication::processEvents();
    QCOMPARE(ran, 1);

    clock->advanceTo(at(10s));
    QCoreApplication::processEvents();
    QCOMPARE(ran, 2);
}

void tst_Clock::manualModeAdvanceFromCallback()
{
    // A step button in the visualizer is a callback or a slot on the loop thread that moves
    // time by hand; the timers then fire in deadline order at their exact times.
    auto clock = std::make_shared<VirtualClock>(false);
    EventLoop loop(clock);
    std::vector<qint64> firedAt;
    for (Duration d : { Duration(300ms), Duration(100ms), Duration(200ms) })
        loop.callLater(d, [&] { firedAt.push_back(ns(loop.time())); });
    loop.callSoon([clock] { clock->advance(100ms); });
    loop.callLater(100ms, [clock] { clock->advance(100ms); });
    loop.callLater(200ms, [clock] { clock->advance(100ms); });
    loop.callLater(300ms, [&loop] { loop.stop(); });
    loop.runForever();
    QCOMPARE(firedAt, (std::vector<qint64>{ ns(at(100ms)), ns(at(200ms)), ns(at(300ms)) }));
}

void tst_Clock::manualModeIdleLoopDoesNotSpin()
{
    // A loop on a manual clock with only a future timer has nothing to do until someone calls
    // advance(): it must sleep in Qt's dispatcher, not post itself a wake-up every iteration.
    auto clock = std::make_shared<VirtualClock>(false);
    EventLoop loop(clock);
    loop.callLater(1s, [] {});
    QCoreApplication::processEvents(); // the wake-up from scheduling may run once

    WakeCounter counter;
    for (int i = 0; i < 20; ++i)
        QCoreApplication::processEvents();
    QVERIFY2(counter.count <= 1,
             qPrintable(QStringLiteral("idle manual-clock loop iterated %1 times in 20 "
                                       "processEvents() calls (busy loop)")
                                .arg(counter.count)));
}

void tst_Clock::autoModeJumpsToNextDeadline()
{
    auto clock = std::make_shared<VirtualClock>();
    EventLoop loop(clock);
    std::vector<qint64> seen;
    loop.callLater(7s, [&] { seen.push_back(ns(loop.time())); });
    loop.callLater(3s, [&] { seen.push_back(ns(loop.time())); });
    loop.callLater(3s, [&] { seen.push_back(ns(loop.time())); });
    loop.callLater(1h, [&] { seen.push_back(ns(loop.time())); });
    Future<void> done(loop);
    loop.callLater(10s, [done]() mutable { done.setResult(); });
    loop.runUntilComplete(done);
    // Each jump goes to the earliest deadline, not past it.
    QCOMPARE(seen, (std::vector<qint64>{ ns(at(3s)), ns(at(3s)), ns(at(7s)) }));
    QCOMPARE(ns(loop.time()), ns(at(10s)));
    QCOMPARE(ns(clock->now()), ns(at(10s)));
}

void tst_Clock::autoModeDoesNotJumpWhileCallbacksAreReady()
{
    auto clock = std::make_shared<VirtualClock>();
    EventLoop loop(clock);
    std::vector<qint64> chainTimes;
    qint64 timerAt = -1;
    loop.callLater(1s, [&] { timerAt = ns(loop.time()); });
    // A chain of callbacks, each scheduling the next: time must stand still meanwhile.
    std::function<void(int)> link = [&](int left) {
        chainTimes.push_back(ns(loop.time()));
        if (left > 0)
            loop.callSoon([&link, left] { link(left - 1); });
    };
    loop.callSoon([&link] { link(9); });
    loop.callLater(2s, [&loop] { loop.stop(); });
    loop.runForever();
    QCOMPARE(chainTimes, std::vector<qint64>(10, 0));
    QCOMPARE(timerAt, ns(at(1s)));
}

void tst_Clock::autoModeCanBeSwitched()
{
    auto clock = std::make_shared<VirtualClock>(false);
    EventLoop loop(clock);
    bool ran = false;
    loop.callLater(5s, [&ran] { ran = true; });
    runOneIteration(loop);
    QVERIFY(!ran);
    clock->setAutoAdvance(true);
    QVERIFY(clock->autoAdvance());
    loop.callLater(6s, [&loop] { loop.stop(); });
    loop.runForever();
    QVERIFY(ran);
    QCOMPARE(ns(loop.time()), ns(at(6s)));
}

void tst_Clock::loopTimeFollowsClock()
{
    auto clock = std::make_shared<VirtualClock>(false);
    EventLoop loop(clock);
    QVERIFY(&loop.clock() == clock.get());
    QVERIFY(loop.clock().isVirtual());
    QCOMPARE(ns(loop.time()), qint64(0));
    clock->advance(2s);
    QCOMPARE(ns(loop.time()), ns(at(2s)));
    QCOMPARE(loop.timeSeconds(), 2.0);
    clock->advance(500ms);
    QCOMPARE(ns(loop.time()), ns(clock->now()));
    QCOMPARE(loop.timeSeconds(), 2.5);

    EventLoop real; // default: a steady clock
    QVERIFY(!real.clock().isVirtual());
    const TimePoint a = real.time();
    const TimePoint b = real.time();
    QVERIFY(b >= a);
}

void tst_Clock::sleepUsesVirtualTime()
{
    auto clock = std::make_shared<VirtualClock>();
    EventLoop loop(clock);
    auto sleeper = [](EventLoop *l) -> Coro<qint64> {
        co_await sleep(90s);
        co_return l->time().time_since_epoch().count();
    };
    QCOMPARE(loop.runUntilComplete(sleeper(&loop)), ns(at(90s)));
    QCOMPARE(loop.runUntilComplete(sleep(30s, 7)), 7);
    QCOMPARE(ns(loop.time()), ns(at(120s)));
}

QTEST_GUILESS_MAIN(tst_Clock)
#include "tst_clock.moc"
