// The observer API: which events the loop reports, in which order, with which ids.

#include "../support/eventrecorder.h"

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <map>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::TraceEvent;
using Kind = loopscope::TraceEventKind;

namespace {

using Recorder = loopscope::testsupport::EventRecorder;

struct Fixture
{
    std::shared_ptr<loopscope::VirtualClock> clock = std::make_shared<loopscope::VirtualClock>();
    EventLoop loop{ clock };
    Recorder rec;
    Fixture() { loop.addObserver(&rec); }
    ~Fixture() { loop.removeObserver(&rec); }
};

Coro<int> sleeper(loopscope::Duration d, int v)
{
    co_await loopscope::sleep(d);
    co_return v;
}

} // namespace

class tst_Observer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void callbackLifecycleInOrder();
    void iterationsCountReadyAndTimers();
    void timerArmedFiredCancelled();
    void taskLifecycleWithSleep();
    void wakeupChainTimerFutureTask();
    void parentTaskIsRecorded();
    void failedAndCancelledTasks();
    void executorJobEvents();
    void throwingObserverIsReportedAndLoopGoesOn();
    void removedObserverSeesNothing();
    void observerMayRemoveItselfWhileCalled();
    void tracingDoesNotRetrieveExceptions();
    // events added for the recorder and the visualizer
    void stepEndSaysWhetherTheTaskYielded();
    void stepSpansItsRealDurationAndEventsShareTheCallbackStamp();
    void handleEventsCarryTheCreationSite();
    void handleEventsNameTheirTask();
    void renameDoneCallbackAndNeverRetrievedAreEvents();
    void closeAbandonsPendingTasksAndSaysSo();
    void executorEventsCarryTheWorkersTimes();
    void timeoutRescheduleIsReported();
    void syncAndQueueWaitersAreTagged();
    void observersAreGivenOnlyTheKindsTheyAskedFor();
    void breakpointsStillWorkWhenNoObserverWantsTheEvents();
};

void tst_Observer::callbackLifecycleInOrder()
{
    Fixture f;
    auto h = f.loop.callSoon([] {});
    f.loop.callSoon([&] { f.loop.stop(); });
    f.loop.runForever();
    const auto id = h.get()->m_id;
    const int scheduled = f.rec.indexOf(Kind::HandleScheduled, id);
    const int started = f.rec.indexOf(Kind::HandleStarted, id);
    const int finished = f.rec.indexOf(Kind::HandleFinished, id);
    QVERIFY(scheduled >= 0);
    QVERIFY(started > scheduled);
    QVERIFY(finished > started);
    QCOMPARE(f.rec.events[size_t(scheduled)].handleKind, loopscope::HandleKind::CallSoon);
    QVERIFY(QByteArray(f.rec.events[size_t(scheduled)].location.fileName())
                    .endsWith("tst_observer.cpp"));
    QVERIFY(!f.rec.events[size_t(finished)].failed);
    // The iteration brackets the callbacks.
    const auto begins = f.rec.of(Kind::IterationBegin);
    QVERIFY(!begins.empty());
    QVERIFY(f.rec.indexOf(Kind::IterationBegin, begins.front().id) < started);
    QVERIFY(f.rec.indexOf(Kind::IterationEnd, begins.front().id) > finished);
}

void tst_Observer::iterationsCountReadyAndTimers()
{
    Fixture f;
    f.loop.callSoon([] {});
    f.loop.callSoon([] {});
    f.loop.callLater(5s, [] {});
    f.loop.callSoon([&] { f.loop.stop(); });
    f.loop.runForever();
    const auto begins = f.rec.of(Kind::IterationBegin);
    QCOMPARE(begins.size(), 1u);
    QCOMPARE(begins[0].count, 3u); // three ready callbacks
    QCOMPARE(begins[0].count2, 1u); // one live timer
}

void tst_Observer::timerArmedFiredCancelled()
{
    Fixture f;
    auto fired = f.loop.callLater(2s, [] {});
    auto cancelled = f.loop.callLater(3s, [] {});
    cancelled.cancel();
    f.loop.callLater(4s, [&] { f.loop.stop(); });
    f.loop.runForever();
    const auto armed = f.rec.of(Kind::TimerArmed);
    QCOMPARE(armed.size(), 3u);
    QCOMPARE(armed[0].when, loopscope::TimePoint(2s));
    const int firedAt = f.rec.indexOf(Kind::TimerFired, fired.get()->m_id);
    QVERIFY(firedAt >= 0);
    QCOMPARE(f.rec.events[size_t(firedAt)].time, loopscope::TimePoint(2s));
    QCOMPARE(f.rec.events[size_t(firedAt)].duration, loopscope::Duration(0)); // not late
    QVERIFY(f.rec.indexOf(Kind::TimerCancelled, cancelled.get()->m_id) >= 0);
    QCOMPARE(f.rec.indexOf(Kind::TimerFired, cancelled.get()->m_id), -1);
}

void tst_Observer::taskLifecycleWithSleep()
{
    Fixture f;
    auto task = f.loop.createTask(sleeper(1s, 7), QStringLiteral("napper"));
    QCOMPARE(f.loop.runUntilComplete(task), 7);
    const auto created = f.rec.of(Kind::TaskCreated);
    QCOMPARE(created.size(), 1u);
    QCOMPARE(created[0].id, task.taskId());
    QCOMPARE(created[0].related, task.id());
    QCOMPARE(created[0].text, QStringLiteral("napper"));
    QCOMPARE(created[0].parent, 0u);

    std::vector<TraceEvent> steps;
    for (const auto &e : f.rec.events)
        if (e.kind == Kind::TaskStepEnd && e.id == task.taskId())
            steps.push_back(e);
    QCOMPARE(steps.size(), 2u);
    QCOMPARE(steps[0].futureKind, loopscope::FutureKind::Sleep); // first step ends on the sleep
    QVERIFY(steps[0].related != 0);
    QCOMPARE(steps[1].related, 0u); // the last step ends the task
    const auto done = f.rec.of(Kind::TaskDone);
    QCOMPARE(done.size(), 1u);
    QCOMPARE(done[0].status, loopscope::DoneStatus::Finished);
    QCOMPARE(done[0].time, loopscope::TimePoint(1s));
}

void tst_Observer::wakeupChainTimerFutureTask()
{
    // timer handle -> completes the sleep future -> wakes the task: every link is in the trace.
    Fixture f;
    auto task = f.loop.createTask(sleeper(1s, 1));
    f.loop.runUntilComplete(task);
    const auto armed = f.rec.of(Kind::TimerArmed);
    QCOMPARE(armed.size(), 1u);
    const auto wakeups = f.rec.of(Kind::Wakeup);
    QCOMPARE(wakeups.size(), 1u);
    QCOMPARE(wakeups[0].id, task.taskId());
    const std::uint64_t sleepFuture = wakeups[0].related;
    QCOMPARE(wakeups[0].futureKind, loopscope::FutureKind::Sleep);
    const int doneAt = f.rec.indexOf(Kind::FutureDone, sleepFuture);
    QVERIFY(doneAt >= 0);
    QCOMPARE(f.rec.events[size_t(doneAt)].related, armed[0].id); // completed by the timer callback
    QVERIFY(doneAt < f.rec.indexOf(Kind::Wakeup, task.taskId()));
}

void tst_Observer::parentTaskIsRecorded()
{
    Fixture f;
    std::uint64_t childId = 0;
    auto parent = [&]() -> Coro<int> {
        auto child = f.loop.createTask(sleeper(1s, 2), QStringLiteral("child"));
        childId = child.taskId();
        co_return co_await child;
    };
    auto p = f.loop.createTask(parent(), QStringLiteral("parent"));
    QCOMPARE(f.loop.runUntilComplete(p), 2);
    const auto created = f.rec.of(Kind::TaskCreated);
    QCOMPARE(created.size(), 2u);
    QCOMPARE(created[1].id, childId);
    QCOMPARE(created[1].parent, p.taskId());
    // The parent's step ended awaiting the child task.
    bool awaitedTask = false;
    for (const auto &e : f.rec.events)
        if (e.kind == Kind::TaskStepEnd && e.id == p.taskId()
            && e.futureKind == loopscope::FutureKind::Task)
            awaitedTask = true;
    QVERIFY(awaitedTask);
}

void tst_Observer::failedAndCancelledTasks()
{
    Fixture f;
    auto failing = []() -> Coro<void> {
        co_await loopscope::sleep(0s);
        throw std::runtime_error("kaboom");
    };
    auto bad = f.loop.createTask(failing());
    auto sleepy = f.loop.createTask(sleeper(10s, 0));
    f.loop.callLater(1s, [&] { sleepy.cancel("enough"); });
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, f.loop.runUntilComplete(bad));
    QVERIFY_THROWS_EXCEPTION(loopscope::CancelledError, f.loop.runUntilComplete(sleepy));
    const auto done = f.rec.of(Kind::TaskDone);
    QCOMPARE(done.size(), 2u);
    QCOMPARE(done[0].status, loopscope::DoneStatus::Failed);
    QVERIFY2(done[0].text.contains(QStringLiteral("kaboom")), qPrintable(done[0].text));
    QCOMPARE(done[1].status, loopscope::DoneStatus::Cancelled);
    QCOMPARE(done[1].text, QStringLiteral("enough"));
    QVERIFY(!f.rec.of(Kind::FutureCancelled).empty());
}

void tst_Observer::executorJobEvents()
{
    Fixture f;
    auto fut = f.loop.runInExecutor([] { return 3; });
    QCOMPARE(f.loop.runUntilComplete(fut), 3);
    const auto queued = f.rec.of(Kind::ExecutorJobQueued);
    const auto started = f.rec.of(Kind::ExecutorJobStarted);
    const auto finished = f.rec.of(Kind::ExecutorJobFinished);
    QCOMPARE(queued.size(), 1u);
    QCOMPARE(finished.size(), 1u);
    QCOMPARE(queued[0].related, fut.id());
    QCOMPARE(finished[0].id, queued[0].id);
    QVERIFY(finished[0].thread != nullptr);
    QVERIFY(finished[0].thread != QThread::currentThreadId());
    QVERIFY(!finished[0].failed);
    // The started notice travels through the inbox; it may land in the same iteration as
    // the completion but is always delivered, and never after it.
    QCOMPARE(started.size(), 1u);
    QVERIFY(f.rec.indexOf(Kind::ExecutorJobStarted, queued[0].id)
            < f.rec.indexOf(Kind::ExecutorJobFinished, queued[0].id));
}

void tst_Observer::throwingObserverIsReportedAndLoopGoesOn()
{
    struct Throwing : loopscope::LoopObserver
    {
        void onEvent(const TraceEvent &) override { throw std::runtime_error("observer broke"); }
    } throwing;
    EventLoop loop(std::make_shared<loopscope::VirtualClock>());
    int reports = 0;
    loop.setExceptionHandler([&](const loopscope::ExceptionContext &c) {
        if (c.message.startsWith(QStringLiteral("Exception in a loop observer")))
            ++reports;
    });
    loop.addObserver(&throwing);
    bool ran = false;
    loop.callSoon([&] { ran = true; });
    loop.callSoon([&] { loop.stop(); });
    loop.runForever();
    loop.removeObserver(&throwing);
    QVERIFY(ran);
    QVERIFY(reports >= 4);
}

void tst_Observer::removedObserverSeesNothing()
{
    Fixture f;
    f.loop.removeObserver(&f.rec);
    f.loop.callSoon([&] { f.loop.stop(); });
    f.loop.runForever();
    QVERIFY(f.rec.events.empty());
    QVERIFY_THROWS_EXCEPTION(loopscope::ValueError, f.loop.addObserver(nullptr));
}

void tst_Observer::observerMayRemoveItselfWhileCalled()
{
    struct Once : loopscope::LoopObserver
    {
        EventLoop *loop = nullptr;
        int seen = 0;
        void onEvent(const TraceEvent &) override
        {
            ++seen;
            loop->removeObserver(this);
        }
    } once;
    Fixture f;
    once.loop = &f.loop;
    f.loop.addObserver(&once);
    f.loop.callSoon([] {});
    f.loop.callSoon([&] { f.loop.stop(); });
    f.loop.runForever();
    QCOMPARE(once.seen, 1);
    QVERIFY(f.rec.events.size() > 3); // the other observer kept going

    // The observer after one that removes itself still gets that very event (the walk used
    // to skip it: it moved into the freed slot). Here `once` sits before `after`.
    Fixture g;
    Once first;
    first.loop = &g.loop;
    Recorder after;
    g.loop.removeObserver(&g.rec);
    g.loop.addObserver(&first);
    g.loop.addObserver(&after);
    g.loop.addObserver(&g.rec);
    g.loop.callSoon([] {});
    g.loop.callSoon([&] { g.loop.stop(); });
    g.loop.runForever();
    QCOMPARE(first.seen, 1);
    QVERIFY(!after.events.empty());
    QVERIFY(!g.rec.events.empty());
    QCOMPARE(after.events.front().kind, g.rec.events.front().kind);
    QCOMPARE(after.events.size(), g.rec.events.size());
    g.loop.removeObserver(&after);
}

void tst_Observer::tracingDoesNotRetrieveExceptions()
{
    Fixture f;
    int neverRetrieved = 0;
    f.loop.setExceptionHandler([&](const loopscope::ExceptionContext &c) {
        if (c.message == QStringLiteral("Task exception was never retrieved"))
            ++neverRetrieved;
    });
    auto failing = []() -> Coro<void> {
        co_await loopscope::sleep(0s);
        throw std::runtime_error("lost");
    };
    (void)f.loop.createTask(failing());
    f.loop.runUntilComplete(sleeper(1s, 0));
    QCOMPARE(neverRetrieved, 1);
}

void tst_Observer::stepEndSaysWhetherTheTaskYielded()
{
    Fixture f;
    auto body = []() -> Coro<void> {
        co_await loopscope::sleep(0s); // a yield
        co_await loopscope::sleep(1s); // an await
    };
    auto task = f.loop.createTask(body());
    f.loop.runUntilComplete(task);
    std::vector<std::pair<bool, bool>> ends; // (yielded, awaits something)
    for (const TraceEvent &e : f.rec.of(Kind::TaskStepEnd))
        if (e.id == task.taskId())
            ends.emplace_back(e.yielded, e.related != 0);
    QCOMPARE(ends,
             (std::vector<std::pair<bool, bool>>{
                     { true, false }, { false, true }, { false, false } }));
}

void tst_Observer::stepSpansItsRealDurationAndEventsShareTheCallbackStamp()
{
    // Real clock: a step that blocks for 20 ms ends 20 ms after it began, in loop time.
    EventLoop loop;
    Recorder rec;
    loop.addObserver(&rec);
    auto body = [&]() -> Coro<void> {
        QThread::msleep(20);
        co_return;
    };
    loop.runUntilComplete(loop.createTask(body()));
    loop.removeObserver(&rec);
    const auto begin = rec.of(Kind::TaskStepBegin).at(0);
    const auto end = rec.of(Kind::TaskStepEnd).at(0);
    QVERIFY(end.time - begin.time >= 20ms);
    QVERIFY(end.time - begin.time <= end.duration + 5ms);
    // Events of one callback before its step ends share the callback's stamp.
    const auto started = rec.of(Kind::HandleStarted);
    const auto stepStart = std::find_if(started.begin(), started.end(), [](const TraceEvent &e) {
        return e.handleKind == loopscope::HandleKind::TaskStep;
    });
    QVERIFY(stepStart != started.end());
    QCOMPARE(begin.time, stepStart->time);
    // Time never goes backwards along the stream.
    for (std::size_t i = 1; i < rec.events.size(); ++i)
        QVERIFY2(rec.events[i].time >= rec.events[i - 1].time,
                 loopscope::traceEventKindName(rec.events[i].kind));
}

void tst_Observer::handleEventsCarryTheCreationSite()
{
    Fixture f;
    f.loop.callSoon([] {});
    f.loop.callSoon([&] { f.loop.stop(); });
    f.loop.runForever();
    const auto started = f.rec.of(Kind::HandleStarted);
    const auto finished = f.rec.of(Kind::HandleFinished);
    QVERIFY(!started.empty());
    QCOMPARE(started.size(), finished.size());
    for (const auto *list : { &started, &finished })
        for (const TraceEvent &e : *list)
            QVERIFY2(QByteArray(e.location.fileName()).endsWith("tst_observer.cpp"),
                     e.location.fileName());
}

void tst_Observer::handleEventsNameTheirTask()
{
    // Only task steps (and done-callbacks added for a task) carry a task id; the other
    // handles leave it out. The events must still name the task of every step, and no task
    // for anything else, a done-callback that a task's code added included.
    Fixture f;
    auto future = f.loop.createFuture<int>();
    auto adder = [&]() -> Coro<void> {
        future.addDoneCallback([](loopscope::Future<int>) {});
        co_return;
    };
    auto addingTask = f.loop.createTask(adder());
    f.loop.runUntilComplete(addingTask);
    f.loop.callSoon([] {});
    f.loop.callLater(1ms, [&] { future.setResult(1); });
    f.loop.runUntilComplete(future);
    auto sleeping = f.loop.createTask(sleeper(0s, 0));
    f.loop.runUntilComplete(sleeping);
    std::map<std::uint64_t, int> stepsOf;
    int doneCallbacks = 0;
    int plain = 0;
    for (const auto kind : { Kind::HandleScheduled, Kind::HandleStarted, Kind::HandleFinished }) {
        for (const TraceEvent &e : f.rec.of(kind)) {
            if (e.handleKind == loopscope::HandleKind::TaskStep) {
                ++stepsOf[e.task];
                continue;
            }
            QCOMPARE(e.task, std::uint64_t(0));
            ++(e.handleKind == loopscope::HandleKind::DoneCallback ? doneCallbacks : plain);
        }
    }
    QCOMPARE(stepsOf.size(), std::size_t(2));
    QCOMPARE(stepsOf[addingTask.taskId()], 3); // one step: scheduled, started, finished
    QCOMPARE(stepsOf[sleeping.taskId()], 6); // two steps around sleep(0)
    QVERIFY(doneCallbacks >= 3); // the task's, and runUntilComplete's own
    QVERIFY(plain >= 3);
}

void tst_Observer::renameDoneCallbackAndNeverRetrievedAreEvents()
{
    Fixture f;
    f.loop.setExceptionHandler([](const loopscope::ExceptionContext &) {});
    auto task = f.loop.createTask(sleeper(1s, 1), QStringLiteral("before"));
    task.setName(QStringLiteral("after"));
    const auto renamed = f.rec.of(Kind::TaskRenamed);
    QCOMPARE(renamed.size(), 1u);
    QCOMPARE(renamed[0].id, task.taskId());
    QCOMPARE(renamed[0].text, QStringLiteral("after"));

    // A done-callback on a plain future: the waiter is visible.
    auto future = f.loop.createFuture<int>();
    const auto callback = future.addDoneCallback([](loopscope::Future<int>) {});
    auto added = f.rec.of(Kind::DoneCallbackAdded);
    QVERIFY(!added.empty());
    QCOMPARE(added.back().id, future.id());
    QCOMPARE(added.back().related, callback);
    QCOMPARE(added.back().handleKind, loopscope::HandleKind::DoneCallback);
    // A task awaiting it shows up as a TaskStep waiter, added by that task.
    auto waiter = [&]() -> Coro<int> { co_return co_await future; };
    auto waiting = f.loop.createTask(waiter());
    f.loop.callLater(1s, [&] { future.setResult(5); });
    QCOMPARE(f.loop.runUntilComplete(waiting), 5);
    added = f.rec.of(Kind::DoneCallbackAdded);
    QCOMPARE(added.back().id, future.id());
    QCOMPARE(added.back().task, waiting.taskId());
    QCOMPARE(added.back().handleKind, loopscope::HandleKind::TaskStep);

    // A failed future dropped unread.
    std::uint64_t lostId = 0;
    {
        auto lost = f.loop.createFuture<int>();
        lostId = lost.id();
        lost.setException(std::make_exception_ptr(std::runtime_error("nobody read me")));
    }
    const auto never = f.rec.of(Kind::ExceptionNeverRetrieved);
    QCOMPARE(never.size(), 1u);
    QCOMPARE(never[0].id, lostId);
    QCOMPARE(never[0].related, 0u);
    QVERIFY2(never[0].text.contains(QStringLiteral("nobody read me")), qPrintable(never[0].text));
}

void tst_Observer::closeAbandonsPendingTasksAndSaysSo()
{
    auto clock = std::make_shared<loopscope::VirtualClock>();
    Recorder rec;
    EventLoop loop(clock);
    loop.setExceptionHandler([](const loopscope::ExceptionContext &) {});
    loop.addObserver(&rec);
    auto stuck = loop.createTask(sleeper(1h, 0), QStringLiteral("stuck"));
    loop.runUntilComplete(sleeper(1s, 0));
    loop.close();
    loop.removeObserver(&rec);
    const auto done = rec.of(Kind::TaskDone);
    const auto it = std::find_if(done.begin(), done.end(),
                                 [&](const TraceEvent &e) { return e.id == stuck.taskId(); });
    QVERIFY(it != done.end());
    QCOMPARE(it->status, loopscope::DoneStatus::Abandoned);
    const auto closed = rec.of(Kind::LoopClosed);
    QCOMPARE(closed.size(), 1u);
    QCOMPARE(closed[0].count, 1u);
    QCOMPARE(rec.events.back().kind, Kind::LoopClosed);
}

void tst_Observer::executorEventsCarryTheWorkersTimes()
{
    EventLoop loop; // real clock: the worker's times mean something
    Recorder rec;
    loop.addObserver(&rec);
    auto job = loop.runInExecutor([] { QThread::msleep(30); });
    loop.runUntilComplete(job);
    loop.removeObserver(&rec);
    const auto started = rec.of(Kind::ExecutorJobStarted).at(0);
    const auto finished = rec.of(Kind::ExecutorJobFinished).at(0);
    QVERIFY(started.when <= started.time); // it ran before the loop heard of it
    QVERIFY(finished.when <= finished.time);
    QVERIFY(finished.when - started.when >= 30ms);
    QVERIFY(finished.when - started.when <= finished.duration + 1ms);
}

void tst_Observer::timeoutRescheduleIsReported()
{
    Fixture f;
    auto body = []() -> Coro<int> {
        co_return co_await loopscope::timeout(10s, [](loopscope::Timeout &t) -> Coro<int> {
            t.reschedule(loopscope::EventLoop::current()->time() + 20s);
            co_await loopscope::sleep(1s);
            co_return 1;
        });
    };
    QCOMPARE(f.loop.runUntilComplete(f.loop.createTask(body())), 1);
    const auto rescheduled = f.rec.of(Kind::TimerRescheduled);
    QCOMPARE(rescheduled.size(), 1u);
    QCOMPARE(rescheduled[0].when, loopscope::TimePoint(20s));
    QVERIFY(rescheduled[0].related != 0);
    QVERIFY(rescheduled[0].related != rescheduled[0].id);
    QVERIFY(f.rec.indexOf(Kind::TimerCancelled, rescheduled[0].related) >= 0);
    QVERIFY(f.rec.indexOf(Kind::TimerArmed, rescheduled[0].id) >= 0);
}

void tst_Observer::syncAndQueueWaitersAreTagged()
{
    Fixture f;
    loopscope::Event event;
    loopscope::Queue<int> queue;
    auto waitEvent = [&]() -> Coro<void> { co_await event.wait(); };
    auto getItem = [&]() -> Coro<int> { co_return co_await queue.get(); };
    auto a = f.loop.createTask(waitEvent());
    auto b = f.loop.createTask(getItem());
    f.loop.callLater(1s, [&] {
        event.set();
        queue.putNowait(3);
    });
    f.loop.runUntilComplete(a);
    QCOMPARE(f.loop.runUntilComplete(b), 3);
    std::vector<loopscope::FutureKind> kinds;
    for (const TraceEvent &e : f.rec.of(Kind::TaskStepEnd))
        if (e.related)
            kinds.push_back(e.futureKind);
    QVERIFY(std::find(kinds.begin(), kinds.end(), loopscope::FutureKind::Sync) != kinds.end());
    QVERIFY(std::find(kinds.begin(), kinds.end(), loopscope::FutureKind::Queue) != kinds.end());
    QVERIFY(std::find(kinds.begin(), kinds.end(), loopscope::FutureKind::Plain) == kinds.end());
}

QTEST_GUILESS_MAIN(tst_Observer)
namespace {

//! Keeps what it is given, run by run (Batched) or event by event (PerEvent).
class KindsObserver final : public loopscope::LoopObserver
{
public:
    KindsObserver(Delivery delivery, loopscope::EventKinds kinds)
        : LoopObserver(delivery, kinds) { }
    void onEvent(const TraceEvent &e) override { events.push_back(e); }
    void onEvents(std::span<const TraceEvent> run) override
    {
        runs.push_back(run.size());
        events.insert(events.end(), run.begin(), run.end());
    }
    std::vector<TraceEvent> events;
    std::vector<std::size_t> runs;
};

//! A workload with tasks, callbacks, timers and a failure: every common kind of event.
void mixedWorkload(EventLoop &loop)
{
    auto body = [&loop](int n) -> Coro<int> {
        for (int i = 0; i < n; ++i)
            co_await loopscope::sleep(0s);
        loop.callSoon([] {});
        co_return co_await sleeper(2ms, n);
    };
    auto a = loop.createTask(body(3), QStringLiteral("a"));
    auto b = loop.createTask(body(5), QStringLiteral("b"));
    loop.callLater(1ms, [] {});
    loop.runUntilComplete(a);
    loop.runUntilComplete(b);
}

} // namespace

void tst_Observer::observersAreGivenOnlyTheKindsTheyAskedFor()
{
    const loopscope::EventKinds few{ Kind::TaskCreated, Kind::TaskDone, Kind::TimerFired };
    QVERIFY(few.contains(Kind::TaskDone));
    QVERIFY(!few.contains(Kind::HandleStarted));
    QVERIFY(loopscope::EventKinds::all().contains(Kind::LoopClosed));
    QVERIFY(loopscope::EventKinds::all().contains(Kind::IterationBegin));
    QVERIFY(loopscope::EventKinds().isEmpty());

    Fixture f; // f.rec wants every kind: what the others are given is its stream, filtered
    KindsObserver perEvent(loopscope::LoopObserver::Delivery::PerEvent, few);
    KindsObserver batched(loopscope::LoopObserver::Delivery::Batched,
                          loopscope::EventKinds{ Kind::HandleStarted, Kind::TaskStepEnd });
    QCOMPARE(perEvent.kinds(), few);
    f.loop.addObserver(&perEvent);
    f.loop.addObserver(&batched);
    mixedWorkload(f.loop);
    f.loop.removeObserver(&batched);
    f.loop.removeObserver(&perEvent);

    auto filtered = [&](loopscope::EventKinds kinds) {
        std::vector<TraceEvent> out;
        for (const TraceEvent &e : f.rec.events) {
            if (kinds.contains(e.kind))
                out.push_back(e);
        }
        return out;
    };
    auto same = [](const std::vector<TraceEvent> &got, const std::vector<TraceEvent> &want) {
        if (got.size() != want.size())
            return false;
        for (std::size_t i = 0; i < got.size(); ++i) {
            if (got[i].kind != want[i].kind || got[i].id != want[i].id
                || got[i].time != want[i].time)
                return false;
        }
        return true;
    };
    const std::vector<TraceEvent> wantFew = filtered(few);
    // Two tasks made and done; three timers fired (the callLater and the two sleeps).
    QCOMPARE(wantFew.size(), std::size_t(2 + 2 + 3));
    QVERIFY(same(perEvent.events, wantFew));
    const std::vector<TraceEvent> wantBatched =
            filtered(loopscope::EventKinds{ Kind::HandleStarted, Kind::TaskStepEnd });
    QVERIFY(wantBatched.size() > 10);
    QVERIFY(same(batched.events, wantBatched));
    // A batched observer is given runs (stretches of its kinds), never an empty one.
    QVERIFY(!batched.runs.empty());
    QVERIFY(std::find(batched.runs.begin(), batched.runs.end(), 0u) == batched.runs.end());
}

void tst_Observer::breakpointsStillWorkWhenNoObserverWantsTheEvents()
{
    // An observer of LoopClosed alone: the loop builds no event for it, but a breakpoint on
    // task failure still needs them, and still pauses.
    std::shared_ptr<loopscope::VirtualClock> clock = std::make_shared<loopscope::VirtualClock>();
    EventLoop loop{ clock };
    KindsObserver closedOnly(loopscope::LoopObserver::Delivery::PerEvent,
                             loopscope::EventKinds{ Kind::LoopClosed });
    loop.addObserver(&closedOnly);
    loop.setBreakOnTaskFailure(true);
    auto failing = []() -> Coro<void> {
        co_await loopscope::sleep(1ms);
        throw std::runtime_error("boom");
    };
    auto t = loop.createTask(failing());
    bool later = false;
    loop.callLater(5ms, [&later] { later = true; });
    for (int i = 0; i < 40; ++i)
        QCoreApplication::processEvents();
    QVERIFY(loop.isPaused());
    QCOMPARE(loop.pauseReason(), loopscope::PauseReason::TaskFailed);
    QVERIFY(t.done());
    QVERIFY(!later);
    QVERIFY(closedOnly.events.empty());
    loop.setBreakOnTaskFailure(false);
    loop.resume();
    for (int i = 0; i < 40; ++i)
        QCoreApplication::processEvents();
    QVERIFY(later);
    QVERIFY(t.exception());
    // A slow-callback breakpoint reads HandleFinished, one of the events built per callback.
    loop.setSlowCallbackDuration(0ns); // every callback counts as slow
    loop.setBreakOnSlowCallback(true);
    int ran = 0;
    loop.callSoon([&ran] { ++ran; });
    loop.callSoon([&ran] { ++ran; });
    for (int i = 0; i < 20; ++i)
        QCoreApplication::processEvents();
    QCOMPARE(ran, 1);
    QCOMPARE(loop.pauseReason(), loopscope::PauseReason::SlowCallback);
    loop.setBreakOnSlowCallback(false);
    loop.resume();
    for (int i = 0; i < 20; ++i)
        QCoreApplication::processEvents();
    QCOMPARE(ran, 2);
    loop.close();
    QCOMPARE(closedOnly.events.size(), std::size_t(1));
    QCOMPARE(int(closedOnly.events.front().kind), int(Kind::LoopClosed));
    loop.removeObserver(&closedOnly);
}

#include "tst_observer.moc"
