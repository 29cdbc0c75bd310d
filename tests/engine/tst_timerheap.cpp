// The private detail::TimerHeap on its own (ordering, FIFO ties, lazy cancellation,
// compaction, clear), then timers through an EventLoop on a virtual clock.

#include "timerheap_p.h"

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QTest>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

using namespace loopscope;
using namespace std::chrono_literals;

namespace {

using HandleRef = detail::Ref<detail::TimerHandleBase>;

HandleRef makeTimer(TimePoint when)
{
    auto fn = [] {};
    HandleRef h(new detail::TimerCallbackHandle<decltype(fn)>(HandleKind::CallLater, {},
                                                              std::move(fn)));
    h->m_when = when;
    return h;
}

TimePoint at(Duration d)
{
    return TimePoint(d);
}

qint64 ns(TimePoint t)
{
    return t.time_since_epoch().count();
}

//! Cancels \a h as the loop would for a handle queued in \a heap (the heap under test has no
//! owning loop core to notify, so the test tells the heap itself).
void cancelQueued(detail::TimerHeap &heap, const HandleRef &h)
{
    h->cancel();
    heap.noteCancelled();
}

} // namespace

class tst_TimerHeap : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // detail::TimerHeap
    void popsInDeadlineOrder();
    void equalDeadlinesPopFifo();
    void lazyCancellationDiscardsCancelledTop();
    void cancelledBelowTopStaysUntilItSurfaces();
    void compactsWhenMostlyCancelled();
    void noCompactionForSmallHeaps();
    void clearReleasesEverything();

    // through EventLoop on a VirtualClock
    void timersNeverFireEarly();
    void timersNeverFireEarlyOnRealClock();
    void negativeDelayRunsLikeZero();
    void cancelledTimersDoNotRun();
    void timerCancelledByEarlierCallbackInSameIterationDoesNotRun();
    void whenIsTimePlusDelay();
    void manyRandomTimersFireInDeadlineThenInsertionOrder();
    void massCancellationThroughLoopCompacts();
};

void tst_TimerHeap::popsInDeadlineOrder()
{
    detail::TimerHeap heap;
    const std::vector<int> deadlinesMs{ 50, 10, 40, 0, 30, 20, 60, 5 };
    std::vector<HandleRef> handles;
    for (int ms : deadlinesMs) {
        handles.push_back(makeTimer(at(std::chrono::milliseconds(ms))));
        heap.push(handles.back(), nullptr);
    }
    QCOMPARE(heap.size(), deadlinesMs.size());
    QCOMPARE(heap.liveCount(), deadlinesMs.size());

    std::vector<int> sorted = deadlinesMs;
    std::sort(sorted.begin(), sorted.end());
    for (int ms : sorted) {
        QVERIFY(!heap.empty());
        heap.discardCancelledTop();
        QCOMPARE(ns(heap.earliestDeadline()), ns(at(std::chrono::milliseconds(ms))));
        HandleRef h = heap.pop();
        QCOMPARE(ns(h->m_when), ns(at(std::chrono::milliseconds(ms))));
        QVERIFY(h->m_heapOwner == nullptr);
    }
    QVERIFY(heap.empty());
}

void tst_TimerHeap::equalDeadlinesPopFifo()
{
    detail::TimerHeap heap;
    std::vector<HandleRef> handles;
    // Interleave with other deadlines so the heap really has to reorder.
    for (int i = 0; i < 1000; ++i) {
        handles.push_back(makeTimer(at(1s)));
        heap.push(handles.back(), nullptr);
        heap.push(makeTimer(at(i % 2 ? 2s : 500ms)), nullptr);
    }
    QCOMPARE(heap.size(), std::size_t(2000));

    std::vector<detail::HandleBase *> popped;
    while (!heap.empty()) {
        HandleRef h = heap.pop();
        if (h->m_when == at(1s))
            popped.push_back(h.get());
    }
    QCOMPARE(popped.size(), handles.size());
    for (std::size_t i = 0; i < handles.size(); ++i) {
        if (popped[i] != handles[i].get())
            QFAIL(qPrintable(QStringLiteral("timer %1 of 1000 with the same deadline popped out "
                                            "of order")
                                     .arg(i)));
    }
}

void tst_TimerHeap::lazyCancellationDiscardsCancelledTop()
{
    detail::TimerHeap heap;
    HandleRef first = makeTimer(at(1s));
    HandleRef second = makeTimer(at(2s));
    HandleRef third = makeTimer(at(3s));
    heap.push(first, nullptr);
    heap.push(second, nullptr);
    heap.push(third, nullptr);

    cancelQueued(heap, first);
    cancelQueued(heap, second);
    // Lazy: still in the heap, only counted.
    QCOMPARE(heap.size(), std::size_t(3));
    QCOMPARE(heap.cancelledCount(), std::size_t(2));
    QCOMPARE(heap.liveCount(), std::size_t(1));

    const auto refsBefore = first->refCount();
    heap.discardCancelledTop();
    QCOMPARE(heap.size(), std::size_t(1));
    QCOMPARE(heap.cancelledCount(), std::size_t(0));
    QCOMPARE(ns(heap.earliestDeadline()), ns(at(3s)));
    QCOMPARE(first->refCount(), refsBefore - 1); // the heap let go of it
    QVERIFY(first->m_heapOwner == nullptr);

    HandleRef h = heap.pop();
    QVERIFY(h == third);
    QVERIFY(heap.empty());

    // Discarding an empty heap or a live top does nothing.
    heap.discardCancelledTop();
    QVERIFY(heap.empty());
    heap.push(makeTimer(at(1s)), nullptr);
    heap.discardCancelledTop();
    QCOMPARE(heap.size(), std::size_t(1));
}

void tst_TimerHeap::cancelledBelowTopStaysUntilItSurfaces()
{
    detail::TimerHeap heap;
    HandleRef a = makeTimer(at(1s));
    HandleRef b = makeTimer(at(2s));
    HandleRef c = makeTimer(at(3s));
    heap.push(a, nullptr);
    heap.push(b, nullptr);
    heap.push(c, nullptr);
    cancelQueued(heap, b);
    heap.discardCancelledTop(); // top (a) is live: nothing dropped
    QCOMPARE(heap.size(), std::size_t(3));
    QVERIFY(heap.pop() == a);
    heap.discardCancelledTop(); // now b surfaces and goes
    QCOMPARE(heap.size(), std::size_t(1));
    QCOMPARE(heap.cancelledCount(), std::size_t(0));
    QVERIFY(heap.pop() == c);
}

void tst_TimerHeap::compactsWhenMostlyCancelled()
{
    detail::TimerHeap heap;
    std::vector<HandleRef> handles;
    for (int i = 0; i < 200; ++i) {
        handles.push_back(makeTimer(at(std::chrono::milliseconds(i))));
        heap.push(handles.back(), nullptr);
    }
    // Cancel from the end, so lazy discarding at the top could never drop them.
    for (int i = 199; i >= 100; --i)
        cancelQueued(heap, handles[i]);
    // Exactly half cancelled: not "more than half" yet.
    QCOMPARE(heap.size(), std::size_t(200));
    QCOMPARE(heap.cancelledCount(), std::size_t(100));

    cancelQueued(heap, handles[99]); // 101 of 200 cancelled
    QCOMPARE(heap.size(), std::size_t(99));
    QCOMPARE(heap.cancelledCount(), std::size_t(0));
    QCOMPARE(heap.liveCount(), std::size_t(99));
    for (int i = 99; i < 200; ++i) {
        QCOMPARE(handles[i]->refCount(), std::uint32_t(1)); // only our reference is left
        QVERIFY(handles[i]->m_heapOwner == nullptr);
    }

    // Still a valid heap with the survivors in order.
    for (int i = 0; i < 99; ++i) {
        heap.discardCancelledTop();
        HandleRef h = heap.pop();
        QVERIFY(h == handles[i]);
    }
    QVERIFY(heap.empty());
}

void tst_TimerHeap::noCompactionForSmallHeaps()
{
    detail::TimerHeap heap;
    std::vector<HandleRef> handles;
    for (int i = 0; i < 100; ++i) {
        handles.push_back(makeTimer(at(std::chrono::milliseconds(i))));
        heap.push(handles.back(), nullptr);
    }
    for (int i = 99; i >= 10; --i)
        cancelQueued(heap, handles[i]);
    // 90 % cancelled but only 100 entries: kept lazily.
    QCOMPARE(heap.size(), std::size_t(100));
    QCOMPARE(heap.cancelledCount(), std::size_t(90));
    QCOMPARE(heap.liveCount(), std::size_t(10));
}

void tst_TimerHeap::clearReleasesEverything()
{
    HandleRef kept = makeTimer(at(1s));
    {
        detail::TimerHeap heap;
        for (int i = 0; i < 50; ++i)
            heap.push(makeTimer(at(std::chrono::milliseconds(i))), nullptr);
        heap.push(kept, nullptr);
        cancelQueued(heap, kept);
        QCOMPARE(kept->refCount(), std::uint32_t(2));
        heap.clear();
        QVERIFY(heap.empty());
        QCOMPARE(heap.size(), std::size_t(0));
        QCOMPARE(heap.cancelledCount(), std::size_t(0));
        QCOMPARE(kept->refCount(), std::uint32_t(1));
        QVERIFY(kept->m_heapOwner == nullptr);

        // Usable after clear().
        heap.push(makeTimer(at(5s)), nullptr);
        QCOMPARE(heap.size(), std::size_t(1));
        QCOMPARE(heap.liveCount(), std::size_t(1));
    }
    QCOMPARE(kept->refCount(), std::uint32_t(1));
}

void tst_TimerHeap::timersNeverFireEarly()
{
    auto clock = std::make_shared<VirtualClock>();
    EventLoop loop(clock);
    struct Fired
    {
        TimePoint when;
        TimePoint at;
    };
    std::vector<Fired> fired;
    std::vector<TimerHandle> handles;
    const std::vector<Duration> delays{ 1ns, 1us, 999us, 1ms, 7ms, 250ms, 1s, 1500ms, 60s };
    for (Duration d : delays) {
        auto slot = std::make_shared<TimerHandle>();
        *slot = loop.callLater(d, [&, slot] { fired.push_back({ slot->when(), loop.time() }); });
        handles.push_back(*slot);
    }
    // callAt with an absolute deadline too.
    auto slot = std::make_shared<TimerHandle>();
    *slot = loop.callAt(at(3s), [&, slot] { fired.push_back({ slot->when(), loop.time() }); });
    loop.callLater(61s, [&loop] { loop.stop(); });
    loop.runForever();

    QCOMPARE(fired.size(), delays.size() + 1);
    for (const Fired &f : fired) {
        QVERIFY2(f.at >= f.when,
                 qPrintable(QStringLiteral("fired at %1 ns before its deadline %2 ns")
                                    .arg(ns(f.at))
                                    .arg(ns(f.when))));
        // The virtual clock jumps exactly to the deadline.
        QCOMPARE(ns(f.at), ns(f.when));
    }
}

void tst_TimerHeap::timersNeverFireEarlyOnRealClock()
{
    // The one real-clock check: Qt's millisecond timers must be rounded so that a callback
    // never sees loop.time() before its deadline. Short delays, no sleeping.
    EventLoop loop;
    std::vector<std::pair<TimePoint, TimePoint>> fired;
    TimePoint lastDeadline{};
    for (int us : { 100, 900, 1000, 1500, 2300, 5000, 9999, 15000 }) {
        auto slot = std::make_shared<TimerHandle>();
        *slot = loop.callLater(std::chrono::microseconds(us),
                               [&, slot] { fired.emplace_back(slot->when(), loop.time()); });
        lastDeadline = std::max(lastDeadline, slot->when());
    }
    loop.callAt(lastDeadline, [&loop] { loop.stop(); });
    loop.runForever();
    QCOMPARE(fired.size(), std::size_t(8));
    for (const auto &[when, firedAt] : fired)
        QVERIFY2(firedAt >= when,
                 qPrintable(QStringLiteral("fired %1 ns early").arg(ns(when) - ns(firedAt))));
}

void tst_TimerHeap::negativeDelayRunsLikeZero()
{
    auto clock = std::make_shared<VirtualClock>();
    EventLoop loop(clock);
    clock->advance(10s);
    const TimePoint start = loop.time();

    std::vector<QString> order;
    TimePoint ranAt{};
    TimerHandle neg = loop.callLater(-5s, [&] {
        order.push_back(QStringLiteral("neg"));
        ranAt = loop.time();
    });
    TimerHandle zero = loop.callLater(0s, [&] { order.push_back(QStringLiteral("zero")); });
    TimerHandle neg2 = loop.callLater(-1ms, [&] { order.push_back(QStringLiteral("neg2")); });
    QCOMPARE(ns(neg.when()), ns(start));
    QCOMPARE(ns(zero.when()), ns(start));
    QCOMPARE(ns(neg2.when()), ns(start));

    loop.callLater(1s, [&loop] { loop.stop(); });
    loop.runForever();
    // Equal deadlines: insertion order, exactly as if all three had delay 0.
    QCOMPARE(order,
             (std::vector<QString>{ QStringLiteral("neg"), QStringLiteral("zero"),
                                    QStringLiteral("neg2") }));
    QCOMPARE(ns(ranAt), ns(start));
}

void tst_TimerHeap::cancelledTimersDoNotRun()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    std::vector<int> ran;
    std::vector<TimerHandle> handles;
    for (int i = 0; i < 20; ++i)
        handles.push_back(loop.callLater(std::chrono::milliseconds(10 * (i % 5)),
                                         [&ran, i] { ran.push_back(i); }));
    for (int i = 0; i < 20; i += 2)
        handles[i].cancel();
    for (int i = 0; i < 20; ++i)
        QCOMPARE(handles[i].cancelled(), i % 2 == 0);
    handles[1].cancel();
    handles[1].cancel(); // twice is harmless
    loop.callLater(1s, [&loop] { loop.stop(); });
    loop.runForever();

    std::vector<int> expected;
    for (int group = 0; group < 5; ++group) // by deadline, then insertion
        for (int i = group; i < 20; i += 5)
            if (i % 2 == 1 && i != 1)
                expected.push_back(i);
    QCOMPARE(ran, expected);
}

void tst_TimerHeap::timerCancelledByEarlierCallbackInSameIterationDoesNotRun()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    bool secondRan = false;
    TimerHandle second;
    loop.callLater(1s, [&second] { second.cancel(); });
    second = loop.callLater(1s, [&secondRan] { secondRan = true; });
    bool thirdRan = false;
    loop.callLater(1s, [&thirdRan] { thirdRan = true; });
    loop.callLater(2s, [&loop] { loop.stop(); });
    loop.runForever();
    QVERIFY(second.cancelled());
    QVERIFY(!secondRan);
    QVERIFY(thirdRan);
}

void tst_TimerHeap::whenIsTimePlusDelay()
{
    auto clock = std::make_shared<VirtualClock>(false);
    EventLoop loop(clock);
    clock->advance(1234ms);
    const TimePoint now = loop.time();
    QCOMPARE(ns(now), ns(at(1234ms)));
    for (Duration d : { Duration(0), Duration(1), Duration(250ms), Duration(3600s) }) {
        TimerHandle h = loop.callLater(d, [] {});
        QCOMPARE(ns(h.when()), ns(now + d));
        h.cancel();
    }
    TimerHandle abs = loop.callAt(at(99s), [] {});
    QCOMPARE(ns(abs.when()), ns(at(99s)));
    abs.cancel();
    QCOMPARE(ns(TimerHandle().when()), qint64(0)); // a null handle
}

void tst_TimerHeap::manyRandomTimersFireInDeadlineThenInsertionOrder()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    constexpr int count = 10000;
    std::mt19937 rng(20240611);
    // Milliseconds in a narrow range: plenty of equal deadlines to test the FIFO tie-break.
    std::uniform_int_distribution<int> delayMs(-50, 500);
    std::vector<TimePoint> deadlines(count);
    std::vector<int> fired;
    fired.reserve(count);
    int early = 0;
    for (int i = 0; i < count; ++i) {
        auto slot = std::make_shared<TimerHandle>();
        *slot = loop.callLater(std::chrono::milliseconds(delayMs(rng)), [&, i, slot] {
            fired.push_back(i);
            if (loop.time() < slot->when())
                ++early;
        });
        deadlines[i] = slot->when();
    }
    loop.callLater(10s, [&loop] { loop.stop(); });
    loop.runForever();

    std::vector<int> expected(count);
    std::iota(expected.begin(), expected.end(), 0);
    std::stable_sort(expected.begin(), expected.end(),
                     [&](int a, int b) { return deadlines[a] < deadlines[b]; });
    QCOMPARE(int(fired.size()), count);
    QCOMPARE(early, 0);
    for (int i = 0; i < count; ++i) {
        if (fired[i] != expected[i])
            QFAIL(qPrintable(QStringLiteral("position %1: timer %2 fired, expected timer %3")
                                     .arg(i)
                                     .arg(fired[i])
                                     .arg(expected[i])));
    }
}

void tst_TimerHeap::massCancellationThroughLoopCompacts()
{
    // The loop core is the heap owner here: cancelling a queued TimerHandle must reach
    // noteCancelled() and let the heap drop the callables (and what they captured).
    EventLoop loop(std::make_shared<VirtualClock>());
    auto token = std::make_shared<int>(0);
    std::vector<TimerHandle> handles;
    for (int i = 0; i < 400; ++i)
        handles.push_back(loop.callLater(std::chrono::seconds(1 + i), [token] {}));
    QCOMPARE(token.use_count(), long(401));
    for (int i = 399; i >= 0; --i)
        handles[i].cancel();
    // Cancelling releases a timer's callable at once (as asyncio does).
    QCOMPARE(token.use_count(), long(1));
    // 400 -> (201 cancelled) 199 -> (100 cancelled) 99: two compactions dropped the
    // references to timers 99..399; the last 99 (fewer than 100 entries) stay lazily.
    for (int i = 99; i < 400; ++i)
        QCOMPARE(handles[i].get()->refCount(), std::uint32_t(1));
    for (int i = 0; i < 99; ++i)
        QCOMPARE(handles[i].get()->refCount(), std::uint32_t(2));
    bool ran = false;
    loop.callLater(1s, [&] {
        ran = true;
        loop.stop();
    });
    loop.runForever();
    QVERIFY(ran);
    // They surfaced at the top and were discarded.
    for (int i = 0; i < 99; ++i)
        QCOMPARE(handles[i].get()->refCount(), std::uint32_t(1));
}

QTEST_GUILESS_MAIN(tst_TimerHeap)
#include "tst_timerheap.moc"
