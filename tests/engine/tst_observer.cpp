// The observer API: which events the loop reports, in which order, with which ids.

#include <loopscope/loopscope.h>

#include <QTest>
#include <QThread>

#include <algorithm>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::TraceEvent;
using Kind = loopscope::TraceEventKind;

namespace {

class Recorder : public loopscope::LoopObserver
{
public:
    void onEvent(const TraceEvent &e) override { events.push_back(e); }

    std::vector<TraceEvent> of(Kind k) const
    {
        std::vector<TraceEvent> out;
        std::copy_if(events.begin(), events.end(), std::back_inserter(out),
                     [k](const TraceEvent &e) { return e.kind == k; });
        return out;
    }
    //! Index of the first event of kind \a k with id \a id, -1 if none.
    int indexOf(Kind k, std::uint64_t id) const
    {
        for (std::size_t i = 0; i < events.size(); ++i)
            if (events[i].kind == k && events[i].id == id)
                return int(i);
        return -1;
    }
    std::vector<TraceEvent> events;
};

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

QTEST_GUILESS_MAIN(tst_Observer)
#include "tst_observer.moc"
