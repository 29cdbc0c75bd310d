// sleep() as an awaitable that parks its task in the timer heap (issue 6, sleepers_mem): the
// cancellation cases around the timer (while armed, after it fired but before the wake-up
// step, uncancel() in between), loop close while sleeping, sleeps in nested coroutines and
// outside of any task, every place a Coro<void> is expected, what observers see, and no
// global allocation per sleep in a warm loop.

#include "../support/countingnew.h"
#include "../support/eventrecorder.h"

#include <loopscope/loopscope.h>

#include <QCoroTask>
#include <QTest>

#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <vector>

using namespace std::chrono_literals;
using loopscope::CancelledError;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::FutureKind;
using loopscope::TimePoint;
using loopscope::TraceEvent;
using loopscope::VirtualClock;
using Kind = loopscope::TraceEventKind;
using loopscope::testsupport::t_allocations;
using loopscope::testsupport::t_counting;

namespace {

struct Fixture
{
    std::shared_ptr<VirtualClock> clock = std::make_shared<VirtualClock>();
    EventLoop loop{ clock };
};

using Recorder = loopscope::testsupport::EventRecorder;

//! Sets a flag when destroyed: proves a frame was destroyed.
struct Guard
{
    bool *flag;
    ~Guard() { *flag = true; }
};

//! Sleeps \a d, saying whether the sleep ended in CancelledError (and with which message).
struct SleepOutcome
{
    bool woke = false;
    bool cancelled = false;
    std::string message;
};
Coro<void> sleepAndCatch(loopscope::Duration d, SleepOutcome *out)
{
    try {
        co_await loopscope::sleep(d);
        out->woke = true;
    } catch (const CancelledError &e) {
        out->cancelled = true;
        out->message = e.message();
    }
}

Coro<int> innerSleeper(loopscope::Duration d, int value)
{
    co_await loopscope::sleep(d);
    co_return value;
}

} // namespace

class tst_Sleep : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void wakesAtTheDeadline();
    void equalDeadlinesWakeInOrder();
    void cancelWhileSleeping();
    void cancelAfterTheTimerFiredBeforeTheStep();
    void cancelWhenTheTimerIsDueButNotRun();
    void uncancelAfterTheSleepWasCancelledStillThrows();
    void cancelInTheStepThatStartsTheSleep();
    void loopClosedWhileSleeping();
    void sleepInANestedCoroutine();
    void sleepOutsideOfAnyTask();
    void sleepWhereACoroIsExpected();
    void observersSeeASleepFuture();
    void noAllocationPerSleepZero();
    void timedSleepsAllocateNothingOfTheirOwn();
};

void tst_Sleep::wakesAtTheDeadline()
{
    Fixture f;
    TimePoint wokeAt{};
    auto body = [&]() -> Coro<void> {
        co_await loopscope::sleep(1500ms);
        wokeAt = f.loop.time();
        co_await 250ms; // a duration is a sleep too
    };
    f.loop.runUntilComplete(body());
    QCOMPARE(wokeAt, TimePoint(1500ms));
    QCOMPARE(f.loop.time(), TimePoint(1750ms));
}

void tst_Sleep::equalDeadlinesWakeInOrder()
{
    Fixture f;
    std::vector<int> order;
    auto sleeper = [&](int i) -> Coro<void> {
        co_await loopscope::sleep(1s);
        order.push_back(i);
    };
    std::vector<loopscope::Task<void>> tasks;
    for (int i = 0; i < 5; ++i)
        tasks.push_back(f.loop.createTask(sleeper(i)));
    f.loop.runUntilComplete(tasks.back());
    QCOMPARE(order, (std::vector<int>{ 0, 1, 2, 3, 4 }));
}

void tst_Sleep::cancelWhileSleeping()
{
    Fixture f;
    Recorder rec;
    f.loop.addObserver(&rec);
    SleepOutcome out;
    auto task = f.loop.createTask(sleepAndCatch(10s, &out));
    f.loop.callLater(1s, [&] { QVERIFY(task.cancel("stop")); });
    f.loop.runUntilComplete(task);
    QVERIFY(out.cancelled);
    QVERIFY(!out.woke);
    QCOMPARE(out.message, std::string("stop"));
    QVERIFY(!task.cancelled()); // the coroutine swallowed it
    QCOMPARE(f.loop.time(), TimePoint(1s)); // the 10 s timer went with the cancel
    // The sleep's timer was cancelled, never fired.
    const auto armed = rec.of(Kind::TimerArmed);
    const auto sleepTimer = std::find_if(armed.begin(), armed.end(), [&](const TraceEvent &e) {
        return e.task == task.taskId();
    });
    QVERIFY(sleepTimer != armed.end());
    QVERIFY(rec.indexOf(Kind::TimerCancelled, sleepTimer->id) >= 0);
    QCOMPARE(rec.indexOf(Kind::TimerFired, sleepTimer->id), -1);
    f.loop.removeObserver(&rec);
}

void tst_Sleep::cancelAfterTheTimerFiredBeforeTheStep()
{
    // The sleep's timer ran first (the sleep future is done, the wake-up is queued); a
    // callback with the same deadline cancels the task before that wake-up: as in asyncio,
    // the done future cannot be cancelled, so the cancellation is thrown in at the await.
    Fixture f;
    SleepOutcome out;
    auto task = f.loop.createTask(sleepAndCatch(1s, &out));
    f.loop.runUntilComplete(loopscope::sleep(0s)); // the task now sleeps
    f.loop.callLater(1s, [&] { QVERIFY(task.cancel("late")); }); // after the sleep's timer
    f.loop.runUntilComplete(task);
    QVERIFY(out.cancelled);
    QCOMPARE(out.message, std::string("late"));
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Sleep::cancelWhenTheTimerIsDueButNotRun()
{
    // Same deadline, but the cancelling callback comes first: the sleep's timer is due (its
    // handle queued behind the callback) and must then find the sleep over and do nothing.
    Fixture f;
    SleepOutcome out;
    std::optional<loopscope::Task<void>> task;
    f.loop.callLater(1s, [&] { QVERIFY(task->cancel("first")); }); // before the sleep's timer
    task = f.loop.createTask(sleepAndCatch(1s, &out));
    f.loop.runUntilComplete(*task);
    QVERIFY(out.cancelled);
    QVERIFY(!out.woke);
    QCOMPARE(out.message, std::string("first"));
}

void tst_Sleep::uncancelAfterTheSleepWasCancelledStillThrows()
{
    // cancel() cancelled the sleep (its future, in asyncio); uncancel() before the wake-up
    // clears the task's counter but cannot un-cancel that future: the await still throws.
    Fixture f;
    SleepOutcome out;
    auto task = f.loop.createTask(sleepAndCatch(10s, &out));
    f.loop.callLater(1s, [&] {
        QVERIFY(task.cancel("gone"));
        QCOMPARE(task.uncancel(), 0);
    });
    f.loop.runUntilComplete(task);
    QVERIFY(out.cancelled);
    QCOMPARE(out.message, std::string("gone"));
}

void tst_Sleep::cancelInTheStepThatStartsTheSleep()
{
    // The task cancels itself and then sleeps (asyncio: current_task().cancel(); await
    // sleep()): the sleep is cancelled as soon as the step ends, never waited for.
    Fixture f;
    SleepOutcome out;
    auto body = [&]() -> Coro<void> {
        loopscope::currentTask().cancel("self");
        co_await sleepAndCatch(1h, &out);
    };
    auto task = f.loop.createTask(body());
    f.loop.runUntilComplete(task);
    QVERIFY(out.cancelled);
    QCOMPARE(out.message, std::string("self"));
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Sleep::loopClosedWhileSleeping()
{
    bool destroyed = false;
    std::vector<QString> reports;
    {
        Fixture f;
        f.loop.setExceptionHandler(
                [&](const loopscope::ExceptionContext &c) { reports.push_back(c.message); });
        auto body = [&]() -> Coro<void> {
            Guard g{ &destroyed };
            co_await loopscope::sleep(1h);
        };
        auto task = f.loop.createTask(body());
        f.loop.runUntilComplete(loopscope::sleep(1s));
        QVERIFY(!destroyed);
        f.loop.close();
        QVERIFY(destroyed); // the frame went, never resumed
        QVERIFY(task.cancelled());
    }
    QCOMPARE(reports.size(), std::size_t(1));
    QCOMPARE(reports[0], QStringLiteral("Task was destroyed but it is pending!"));
}

void tst_Sleep::sleepInANestedCoroutine()
{
    Fixture f;
    auto outer = [&]() -> Coro<int> {
        const int a = co_await innerSleeper(1s, 1);
        const int b = co_await innerSleeper(2s, 2);
        co_return a + b;
    };
    QCOMPARE(f.loop.runUntilComplete(outer()), 3);
    QCOMPARE(f.loop.time(), TimePoint(3s));

    // Cancelling the task reaches the sleep two coroutines down.
    bool innerCaught = false;
    auto inner = [&]() -> Coro<void> {
        try {
            co_await loopscope::sleep(1h);
        } catch (const CancelledError &) {
            innerCaught = true;
            throw;
        }
    };
    auto middle = [&]() -> Coro<void> { co_await inner(); };
    auto task = f.loop.createTask(middle());
    f.loop.callLater(1s, [&] { task.cancel(); });
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(task));
    QVERIFY(innerCaught);
    QCOMPARE(f.loop.time(), TimePoint(4s));
}

void tst_Sleep::sleepOutsideOfAnyTask()
{
    // A QCoro coroutine is no task's: its sleep is a plain loop timer that resumes it from
    // the ready queue.
    Fixture f;
    TimePoint wokeAt{};
    bool done = false;
    auto qcoro = [&]() -> QCoro::Task<void> {
        co_await loopscope::sleep(2s);
        wokeAt = f.loop.time();
        done = true;
    };
    QCoro::Task<void> running;
    f.loop.callSoon([&] { running = qcoro(); });
    f.loop.runUntilComplete(loopscope::sleep(5s));
    QVERIFY(done);
    QCOMPARE(wokeAt, TimePoint(2s));
}

void tst_Sleep::sleepWhereACoroIsExpected()
{
    Fixture f;
    // A Coro<void> variable, a task of its own, runUntilComplete.
    Coro<void> coro = loopscope::sleep(1s);
    f.loop.runUntilComplete(std::move(coro));
    QCOMPARE(f.loop.time(), TimePoint(1s));
    auto task = f.loop.createTask(loopscope::sleep(1s), QStringLiteral("nap"));
    QCOMPARE(task.name(), QStringLiteral("nap"));
    f.loop.runUntilComplete(task);
    QCOMPARE(f.loop.time(), TimePoint(2s));
    f.loop.runUntilComplete(loopscope::sleep(1s));
    QCOMPARE(f.loop.time(), TimePoint(3s));

    // The combinators.
    auto combinators = [&]() -> Coro<int> {
        co_await loopscope::gather(loopscope::sleep(1s), loopscope::sleep(2s));
        int timedOut = 0;
        try {
            co_await loopscope::waitFor(loopscope::sleep(10s), 1s);
        } catch (const loopscope::TimeoutError &) {
            ++timedOut;
        }
        try {
            co_await loopscope::timeout(1s, loopscope::sleep(10s));
        } catch (const loopscope::TimeoutError &) {
            ++timedOut;
        }
        co_await loopscope::shield(loopscope::sleep(1s));
        co_return timedOut + co_await loopscope::sleep(1s, 40);
    };
    QCOMPARE(f.loop.runUntilComplete(combinators()), 42);
    QCOMPARE(f.loop.time(), TimePoint(3s + 2s + 1s + 1s + 1s + 1s));
}

void tst_Sleep::observersSeeASleepFuture()
{
    // No future object, but the trace tells the same story: a Sleep future created, its timer
    // armed and fired, the future done by that timer's callback, the task woken by it.
    Fixture f;
    Recorder rec;
    f.loop.addObserver(&rec);
    auto task = f.loop.createTask(innerSleeper(1s, 7));
    QCOMPARE(f.loop.runUntilComplete(task), 7);
    f.loop.removeObserver(&rec);

    const auto created = rec.of(Kind::FutureCreated);
    const auto sleepFuture = std::find_if(created.begin(), created.end(), [](const TraceEvent &e) {
        return e.futureKind == FutureKind::Sleep;
    });
    QVERIFY(sleepFuture != created.end());
    QCOMPARE(sleepFuture->task, task.taskId());
    const std::uint64_t futureId = sleepFuture->id;

    std::vector<TraceEvent> stepEnds;
    for (const TraceEvent &e : rec.of(Kind::TaskStepEnd))
        if (e.id == task.taskId())
            stepEnds.push_back(e);
    QCOMPARE(stepEnds.size(), std::size_t(2));
    QCOMPARE(stepEnds[0].related, futureId);
    QCOMPARE(stepEnds[0].futureKind, FutureKind::Sleep);

    const auto armed = rec.of(Kind::TimerArmed);
    QCOMPARE(armed.size(), std::size_t(1));
    QCOMPARE(armed[0].task, task.taskId());
    QCOMPARE(armed[0].when, TimePoint(1s));
    const int firedAt = rec.indexOf(Kind::TimerFired, armed[0].id);
    QVERIFY(firedAt >= 0);
    QVERIFY(rec.indexOf(Kind::HandleStarted, armed[0].id) > firedAt);
    const int doneAt = rec.indexOf(Kind::FutureDone, futureId);
    QVERIFY(doneAt > firedAt);
    QCOMPARE(rec.events[std::size_t(doneAt)].related, armed[0].id); // done by the timer
    QCOMPARE(rec.events[std::size_t(doneAt)].futureKind, FutureKind::Sleep);
    const int wakeAt = rec.indexOf(Kind::Wakeup, task.taskId());
    QVERIFY(wakeAt > doneAt);
    QCOMPARE(rec.events[std::size_t(wakeAt)].related, futureId);
    QCOMPARE(rec.events[std::size_t(wakeAt)].futureKind, FutureKind::Sleep);
    // The wake-up ran an iteration after the timer, as asyncio's __wakeup does.
    int iterationsBetween = 0;
    for (int i = doneAt; i < wakeAt; ++i)
        if (rec.events[std::size_t(i)].kind == Kind::IterationBegin)
            ++iterationsBetween;
    QCOMPARE(iterationsBetween, 1);
}

void tst_Sleep::noAllocationPerSleepZero()
{
    Fixture f;
    int rounds = 0;
    std::uint64_t counted = 0;
    auto body = [&]() -> Coro<void> {
        for (int i = 0; i < 200; ++i) {
            if (i == 100) { // warm: the pool has the blocks a yield needs
                t_allocations = 0;
                t_counting = true;
            }
            co_await loopscope::sleep(0ms);
            ++rounds;
        }
        t_counting = false;
        counted = t_allocations;
    };
    f.loop.runUntilComplete(body());
    QCOMPARE(rounds, 200);
    QCOMPARE(counted, std::uint64_t(0));
}

void tst_Sleep::timedSleepsAllocateNothingOfTheirOwn()
{
    // 100 tasks sleeping 10 ms twenty times in step. Once warm, the sleeps themselves take
    // nothing from the global heap; what is left is the loop's wake-up event for Qt, posted
    // once each time the virtual clock jumps to the next deadline (once a round), not once
    // per sleep.
    Fixture f;
    constexpr int kTasks = 100;
    constexpr int kRounds = 20;
    int sleeps = 0, countedSleeps = 0;
    auto sleeper = [&]() -> Coro<void> {
        for (int i = 0; i < kRounds; ++i) {
            co_await loopscope::sleep(10ms);
            ++sleeps;
            if (t_counting)
                ++countedSleeps;
        }
    };
    std::vector<loopscope::Task<void>> tasks;
    for (int i = 0; i < kTasks; ++i)
        tasks.push_back(f.loop.createTask(sleeper()));
    std::uint64_t counted = 0;
    f.loop.callLater(105ms, [] { // after ten rounds
        t_allocations = 0;
        t_counting = true;
    });
    f.loop.callLater(195ms, [&] { // before the tasks finish (gather's callbacks allocate)
        t_counting = false;
        counted = t_allocations;
    });
    f.loop.runUntilComplete(loopscope::gather(tasks));
    QCOMPARE(sleeps, kTasks * kRounds);
    QCOMPARE(countedSleeps, kTasks * 9); // woken at 110, 120 ... 190 ms
    QVERIFY2(counted <= 10, QByteArray::number(qulonglong(counted)).constData());
}

QTEST_GUILESS_MAIN(tst_Sleep)
#include "tst_sleep.moc"
