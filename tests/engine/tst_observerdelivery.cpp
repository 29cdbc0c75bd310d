// How the loop hands its events to observers (issue 6, observer overhead): in runs, before
// each callback and at each iteration's end, per event or per run as the observer asks, with
// one clock read per callback boundary; and what stays as it was (order, removal, the
// recorder's answers on the loop thread).

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>

#include <QTest>
#include <QTimer>

#include <algorithm>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::LoopObserver;
using loopscope::TraceEvent;
using Kind = loopscope::TraceEventKind;

namespace {

class PerEvent : public LoopObserver
{
public:
    void onEvent(const TraceEvent &e) override { events.push_back(e); }
    std::vector<TraceEvent> events;
};

class Batched : public LoopObserver
{
public:
    Batched() : LoopObserver(Delivery::Batched) { }
    void onEvent(const TraceEvent &) override { ++perEventCalls; }
    void onEvents(std::span<const TraceEvent> run) override
    {
        runs.push_back(run.size());
        events.insert(events.end(), run.begin(), run.end());
    }
    std::vector<TraceEvent> events;
    std::vector<std::size_t> runs;
    int perEventCalls = 0;
};

//! What must match between two observers of one loop.
bool sameStream(const std::vector<TraceEvent> &a, const std::vector<TraceEvent> &b)
{
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const TraceEvent &x, const TraceEvent &y) {
                          return x.kind == y.kind && x.id == y.id && x.related == y.related
                                  && x.task == y.task && x.time == y.time
                                  && x.duration == y.duration && x.text == y.text
                                  && x.handleKind == y.handleKind && x.yielded == y.yielded;
                      });
}

Coro<int> yielder(int switches)
{
    for (int i = 0; i < switches; ++i)
        co_await loopscope::sleep(0s);
    co_return switches;
}

Coro<int> sleeper(loopscope::Duration d, int v)
{
    co_await loopscope::sleep(d);
    co_return v;
}

} // namespace

class tst_ObserverDelivery : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void hooksAreCompiledIn();
    void batchedAndPerEventObserversSeeOneStream();
    void callbackRunsAfterObserversSawItStart();
    void longRunsAreSplit();
    void removedMidIterationSawEverythingBefore();
    void addedMidIterationSeesNothingBefore();
    void observerThatEmitsKeepsTheOrder();
    void oneClockReadEndsAStepAndStartsTheNext();
    void recorderAskedFromATaskIsUpToDate();
};

void tst_ObserverDelivery::hooksAreCompiledIn()
{
    // The test suite needs the hooks (LOOPSCOPE_OBSERVER_HOOKS=ON, the default).
    QVERIFY(loopscope::observerHooksCompiled());
}

void tst_ObserverDelivery::batchedAndPerEventObserversSeeOneStream()
{
    EventLoop loop(std::make_shared<loopscope::VirtualClock>());
    PerEvent one;
    Batched runs;
    loop.addObserver(&one);
    loop.addObserver(&runs);
    auto main = [&]() -> Coro<int> {
        auto a = loop.createTask(yielder(20), QStringLiteral("a"));
        auto b = loop.createTask(sleeper(2s, 3), QStringLiteral("b"));
        loopscope::Future<int> f = loop.createFuture<int>();
        loop.callLater(1s, [f]() mutable { f.setResult(4); });
        const int x = co_await a;
        const int y = co_await b;
        const int z = co_await f;
        co_return x + y + z;
    };
    QCOMPARE(loop.runUntilComplete(loop.createTask(main())), 27);
    loop.removeObserver(&runs);
    loop.removeObserver(&one);
    QVERIFY(one.events.size() > 100);
    QVERIFY(sameStream(one.events, runs.events));
    QCOMPARE(runs.perEventCalls, 0);
    // Runs, not single events: fewer calls than events.
    QVERIFY(runs.runs.size() < runs.events.size() / 2);
}

void tst_ObserverDelivery::callbackRunsAfterObserversSawItStart()
{
    // A callback that blocks must show as running: its HandleStarted is handed over before it
    // runs, with everything before it.
    EventLoop loop(std::make_shared<loopscope::VirtualClock>());
    PerEvent one;
    Batched runs;
    loop.addObserver(&one);
    loop.addObserver(&runs);
    std::vector<std::pair<Kind, Kind>> lastSeen;
    auto check = [&] { lastSeen.emplace_back(one.events.back().kind, runs.events.back().kind); };
    loop.callSoon(check);
    loop.callSoon(check);
    loop.callSoon([&] { loop.stop(); });
    loop.runForever();
    loop.removeObserver(&runs);
    loop.removeObserver(&one);
    QCOMPARE(lastSeen.size(), 2u);
    for (const auto &[a, b] : lastSeen) {
        QCOMPARE(a, Kind::HandleStarted);
        QCOMPARE(b, Kind::HandleStarted);
    }
}

void tst_ObserverDelivery::longRunsAreSplit()
{
    EventLoop loop(std::make_shared<loopscope::VirtualClock>());
    Batched runs;
    loop.addObserver(&runs);
    std::vector<loopscope::Future<int>> futures;
    loop.callSoon([&] {
        for (int i = 0; i < 1000; ++i)
            futures.push_back(loop.createFuture<int>());
    });
    loop.callSoon([&] { loop.stop(); });
    loop.runForever();
    loop.removeObserver(&runs);
    QVERIFY(*std::max_element(runs.runs.begin(), runs.runs.end()) <= LoopObserver::kMaxRun);
    std::vector<std::uint64_t> created;
    for (const TraceEvent &e : runs.events)
        if (e.kind == Kind::FutureCreated)
            created.push_back(e.id);
    QCOMPARE(created.size(), 1000u);
    QVERIFY(std::is_sorted(created.begin(), created.end()));
    QCOMPARE(created.front(), futures.front().id());
}

void tst_ObserverDelivery::removedMidIterationSawEverythingBefore()
{
    EventLoop loop(std::make_shared<loopscope::VirtualClock>());
    PerEvent stays;
    Batched leaves;
    loop.addObserver(&stays);
    loop.addObserver(&leaves);
    std::size_t seenAtRemoval = 0;
    loop.callSoon([&] {
        (void)loop.createFuture<int>(); // one more event, still held back
        loop.removeObserver(&leaves);
        seenAtRemoval = stays.events.size();
    });
    loop.callSoon([&] { loop.stop(); });
    loop.runForever();
    loop.removeObserver(&stays);
    // Everything up to the removal, nothing after.
    QCOMPARE(leaves.events.size(), seenAtRemoval);
    QCOMPARE(leaves.events.back().kind, Kind::FutureCreated);
    QVERIFY(sameStream(
            { stays.events.begin(), stays.events.begin() + std::ptrdiff_t(seenAtRemoval) },
            leaves.events));
    QVERIFY(stays.events.size() > seenAtRemoval);
}

void tst_ObserverDelivery::addedMidIterationSeesNothingBefore()
{
    EventLoop loop(std::make_shared<loopscope::VirtualClock>());
    PerEvent first;
    Batched late;
    loop.addObserver(&first);
    std::uint64_t futureBefore = 0;
    std::uint64_t futureAfter = 0;
    loop.callSoon([&] {
        futureBefore = loop.createFuture<int>().id();
        loop.addObserver(&late);
        futureAfter = loop.createFuture<int>().id();
    });
    loop.callSoon([&] { loop.stop(); });
    loop.runForever();
    loop.removeObserver(&late);
    loop.removeObserver(&first);
    QVERIFY(!late.events.empty());
    QCOMPARE(late.events.front().kind, Kind::FutureCreated);
    QCOMPARE(late.events.front().id, futureAfter);
    QVERIFY(std::none_of(late.events.begin(), late.events.end(), [&](const TraceEvent &e) {
        return e.kind == Kind::FutureCreated && e.id == futureBefore;
    }));
}

void tst_ObserverDelivery::observerThatEmitsKeepsTheOrder()
{
    // An observer that makes the loop emit while it is called (pause() on a task's first
    // step): the new events queue behind the run being handed over, and every observer sees
    // one order.
    struct Pauser : PerEvent
    {
        EventLoop *loop = nullptr;
        bool paused = false;
        void onEvent(const TraceEvent &e) override
        {
            PerEvent::onEvent(e);
            if (!paused && e.kind == Kind::TaskStepBegin) {
                paused = true;
                loop->pause();
            }
            // Resumed from a Qt event posted once the pause is seen, whatever order Qt
            // serves the loop's wake-ups and timers in.
            if (e.kind == Kind::LoopPaused)
                QTimer::singleShot(0, [l = loop] { l->resume(); });
        }
    } pauser;
    EventLoop loop(std::make_shared<loopscope::VirtualClock>());
    Batched runs;
    PerEvent after;
    pauser.loop = &loop;
    loop.addObserver(&runs);
    loop.addObserver(&pauser);
    loop.addObserver(&after);
    auto task = loop.createTask(yielder(3));
    QCOMPARE(loop.runUntilComplete(task), 3);
    loop.removeObserver(&after);
    loop.removeObserver(&pauser);
    loop.removeObserver(&runs);
    QVERIFY(sameStream(runs.events, pauser.events));
    QVERIFY(sameStream(runs.events, after.events));
    QVERIFY(std::any_of(runs.events.begin(), runs.events.end(),
                        [](const TraceEvent &e) { return e.kind == Kind::LoopPaused; }));
}

void tst_ObserverDelivery::oneClockReadEndsAStepAndStartsTheNext()
{
    // Real clock: the read that ends a task step also ends its callback and starts the next
    // callback of the same iteration.
    EventLoop loop;
    PerEvent rec;
    loop.addObserver(&rec);
    auto main = [&]() -> Coro<int> {
        auto a = loop.createTask(yielder(5));
        auto b = loop.createTask(yielder(5));
        const int x = co_await a;
        co_return x + co_await b;
    };
    QCOMPARE(loop.runUntilComplete(main()), 10);
    loop.removeObserver(&rec);
    int shared = 0;
    for (std::size_t i = 1; i < rec.events.size(); ++i) {
        const TraceEvent &prev = rec.events[i - 1];
        const TraceEvent &e = rec.events[i];
        QVERIFY(e.time >= prev.time);
        if (prev.kind == Kind::TaskStepEnd && e.kind == Kind::HandleFinished) {
            QCOMPARE(e.time, prev.time);
            QVERIFY(e.duration >= prev.duration);
        }
        if (prev.kind == Kind::HandleFinished && e.kind == Kind::HandleStarted) {
            QCOMPARE(e.time, prev.time);
            ++shared;
        }
    }
    QVERIFY(shared >= 5);
}

void tst_ObserverDelivery::recorderAskedFromATaskIsUpToDate()
{
    // The recorder is handed runs; asked on the loop thread it first takes in what the loop
    // still holds back, so a task sees its own step begun and a task it just created.
    EventLoop loop(std::make_shared<loopscope::VirtualClock>());
    loopscope::TraceRecorder rec;
    loop.addObserver(&rec);
    std::optional<loopscope::TaskStats> self;
    std::optional<loopscope::TaskStats> child;
    std::uint64_t produced = 0;
    auto main = [&]() -> Coro<void> {
        auto c = loop.createTask(sleeper(1s, 1), QStringLiteral("child"));
        self = rec.task(loopscope::currentTask().id());
        child = rec.task(c.taskId());
        produced = rec.producedEvents();
        co_await c;
    };
    loop.runUntilComplete(loop.createTask(main()));
    loop.removeObserver(&rec);
    QVERIFY(self && child);
    QCOMPARE(self->state, loopscope::TaskStats::State::Running);
    QCOMPARE(child->state, loopscope::TaskStats::State::Scheduled);
    QCOMPARE(child->name, QStringLiteral("child"));
    QVERIFY(produced > 0);
    QVERIFY(rec.producedEvents() > produced);
}

QTEST_GUILESS_MAIN(tst_ObserverDelivery)
#include "tst_observerdelivery.moc"
