// Tests of coroutines and tasks: scheduling, awaiting, cancellation at the suspension point,
// swallowed cancellation, the cancelling()/uncancel() counters, error paths and lifetimes.

#include <loopscope/loopscope.h>

#include <QTest>

#include <memory>
#include <vector>

using namespace std::chrono_literals;
using loopscope::CancelledError;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::Future;
using loopscope::Task;
using loopscope::TimePoint;
using loopscope::VirtualClock;

namespace {

struct Fixture
{
    std::shared_ptr<VirtualClock> clock = std::make_shared<VirtualClock>();
    EventLoop loop{ clock };
};

Coro<int> answerAfter(loopscope::Duration d, int value)
{
    co_await loopscope::sleep(d);
    co_return value;
}

Coro<int> fail(const char *what)
{
    co_await loopscope::sleep(0s);
    throw std::runtime_error(what);
}

//! Sets a flag when destroyed: proves RAII cleanup ran in a frame.
struct Guard
{
    bool *flag;
    ~Guard() { *flag = true; }
};

} // namespace

class tst_Task : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void firstStepIsScheduledNotInline();
    void resultAndNameAndCreationSite();
    void awaitingTasksAndCoros();
    void exceptionPropagatesThroughAwaits();
    void sleepZeroYieldsOneIteration();
    void sleepWithResult();
    void cancelThrowsAtTheAwaitPoint();
    void swallowedCancellationFinishesNormally();
    void cancelBeforeFirstStepNeverRunsTheBody();
    void cancelOnDoneTaskReturnsFalse();
    void cancelPropagatesToAwaitedTask();
    void cancelAfterAwaitedFutureCompletedStillCancels();
    void selfCancelBeforeYield();
    void cancellingAndUncancelCounters();
    void loopKeepsDroppedTaskAlive();
    void deepAwaitChainDoesNotOverflowTheStack();
    void awaitingItselfIsAnError();
    void awaitingFutureOfAnotherLoopIsAnError();
    void allTasksAndCurrentTask();
    void neverRetrievedTaskExceptionIsReported();
    void closeWithPendingTaskDestroysFrameWithoutResuming();
    void runUntilCompleteAcceptsACoroutine();
    void doneCallbackOnTaskGetsTheTask();
    void createTaskRejectsEmptyOrFinishedCoro();
    void delayPostponesThePendingStart();
    void delayAfterTheAwaitedFutureBeforeTheNextStep();
    void cancelDuringDelayThrowsAtTheSuspensionPoint();
    void delayBadInput();
};

void tst_Task::firstStepIsScheduledNotInline()
{
    Fixture f;
    bool started = false;
    auto coro = [&]() -> Coro<void> {
        started = true;
        co_return;
    };
    auto task = f.loop.createTask(coro());
    QVERIFY(!started); // createTask only schedules the first step
    f.loop.runUntilComplete(task);
    QVERIFY(started);
    QVERIFY(task.done());
}

void tst_Task::resultAndNameAndCreationSite()
{
    Fixture f;
    const int line = __LINE__ + 1;
    auto task = f.loop.createTask(answerAfter(2s, 42), QStringLiteral("answer"));
    QCOMPARE(task.name(), QStringLiteral("answer"));
    QVERIFY(QByteArray(task.location().fileName()).endsWith("tst_task.cpp"));
    QCOMPARE(int(task.location().line()), line);
    auto unnamed = f.loop.createTask(answerAfter(1s, 1));
    QCOMPARE(unnamed.name(), QStringLiteral("Task-%1").arg(unnamed.taskId()));
    QCOMPARE(unnamed.taskId(), task.taskId() + 1);
    unnamed.setName(QStringLiteral("renamed"));
    QCOMPARE(unnamed.name(), QStringLiteral("renamed"));
    QCOMPARE(f.loop.runUntilComplete(task), 42);
    QCOMPARE(f.loop.time(), TimePoint(2s));
    QVERIFY(unnamed.done());
    QCOMPARE(unnamed.result(), 1);
}

void tst_Task::awaitingTasksAndCoros()
{
    Fixture f;
    auto outer = [&]() -> Coro<int> {
        auto t1 = f.loop.createTask(answerAfter(3s, 1));
        auto t2 = f.loop.createTask(answerAfter(1s, 2));
        const int inlineValue = co_await answerAfter(1s, 10); // runs inline, like `await coro()`
        const int a = co_await t1;
        const int b = co_await t2; // already done: returns immediately
        co_return a + b + inlineValue;
    };
    QCOMPARE(f.loop.runUntilComplete(outer()), 13);
    // The three sleeps overlapped: 3 s in all, not 5 s.
    QCOMPARE(f.loop.time(), TimePoint(3s));
}

void tst_Task::exceptionPropagatesThroughAwaits()
{
    Fixture f;
    auto outer = [&]() -> Coro<QString> {
        try {
            co_await fail("inline");
        } catch (const std::runtime_error &e) {
            if (QByteArray(e.what()) != "inline")
                co_return QStringLiteral("wrong message");
        }
        auto t = f.loop.createTask(fail("in task"));
        try {
            co_await t;
        } catch (const std::runtime_error &e) {
            co_return QString::fromUtf8(e.what());
        }
        co_return QStringLiteral("no exception");
    };
    QCOMPARE(f.loop.runUntilComplete(outer()), QStringLiteral("in task"));

    auto failing = f.loop.createTask(fail("top"));
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, f.loop.runUntilComplete(failing));
    QVERIFY(failing.done());
    QVERIFY(!failing.cancelled());
    QVERIFY(failing.exception());
}

void tst_Task::sleepZeroYieldsOneIteration()
{
    Fixture f;
    std::vector<QString> log;
    auto worker = [&](QString name) -> Coro<void> {
        for (int i = 0; i < 3; ++i) {
            log.push_back(name + QString::number(i));
            co_await loopscope::sleep(0s);
        }
    };
    auto a = f.loop.createTask(worker(QStringLiteral("a")));
    auto b = f.loop.createTask(worker(QStringLiteral("b")));
    f.loop.runUntilComplete(b);
    QCOMPARE(log,
             (std::vector<QString>{ QStringLiteral("a0"), QStringLiteral("b0"),
                                    QStringLiteral("a1"), QStringLiteral("b1"),
                                    QStringLiteral("a2"), QStringLiteral("b2") }));
    QVERIFY(a.done());
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Task::sleepWithResult()
{
    Fixture f;
    auto coro = []() -> Coro<QString> {
        co_return co_await loopscope::sleep(1500ms, QStringLiteral("late"));
    };
    QCOMPARE(f.loop.runUntilComplete(coro()), QStringLiteral("late"));
    QCOMPARE(f.loop.time(), TimePoint(1500ms));
}

void tst_Task::cancelThrowsAtTheAwaitPoint()
{
    Fixture f;
    bool guardDestroyed = false, caught = false, afterSleep = false;
    auto sleeper = [&]() -> Coro<int> {
        Guard g{ &guardDestroyed };
        try {
            co_await loopscope::sleep(10s);
            afterSleep = true;
        } catch (const CancelledError &) {
            caught = true;
            throw; // clean up, then let the cancellation out
        }
        co_return 1;
    };
    auto task = f.loop.createTask(sleeper());
    f.loop.callLater(1s, [&] { QVERIFY(task.cancel("enough")); });
    try {
        f.loop.runUntilComplete(task);
        QFAIL("expected CancelledError");
    } catch (const CancelledError &e) {
        QCOMPARE(e.message(), std::string("enough"));
    }
    QVERIFY(caught);
    QVERIFY(!afterSleep);
    QVERIFY(guardDestroyed);
    QVERIFY(task.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(1s)); // the 10 s timer was cancelled, not waited for
    QVERIFY_THROWS_EXCEPTION(CancelledError, task.result());
}

void tst_Task::swallowedCancellationFinishesNormally()
{
    Fixture f;
    auto stubborn = [&]() -> Coro<int> {
        bool cancelled = false;
        try {
            co_await loopscope::sleep(10s);
        } catch (const CancelledError &) {
            cancelled = true; // C++ forbids co_await inside a handler: clean up after it
        }
        if (cancelled) {
            co_await loopscope::sleep(1s); // cleanup may await
            co_return 7;
        }
        co_return 0;
    };
    auto task = f.loop.createTask(stubborn());
    f.loop.callLater(2s, [&] { task.cancel(); });
    QCOMPARE(f.loop.runUntilComplete(task), 7);
    QVERIFY(!task.cancelled());
    QCOMPARE(task.cancelling(), 1);
    QCOMPARE(f.loop.time(), TimePoint(3s));
}

void tst_Task::cancelBeforeFirstStepNeverRunsTheBody()
{
    Fixture f;
    bool ran = false;
    auto body = [&]() -> Coro<void> {
        ran = true;
        co_return;
    };
    auto task = f.loop.createTask(body());
    QVERIFY(task.cancel("early"));
    QVERIFY(!task.done()); // cancellation takes effect at the next step
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(task));
    QVERIFY(!ran);
    QVERIFY(task.cancelled());
}

void tst_Task::cancelOnDoneTaskReturnsFalse()
{
    Fixture f;
    auto task = f.loop.createTask(answerAfter(0s, 5));
    QCOMPARE(f.loop.runUntilComplete(task), 5);
    QVERIFY(!task.cancel());
    QCOMPARE(task.cancelling(), 0);
    QCOMPARE(task.result(), 5);
}

void tst_Task::cancelPropagatesToAwaitedTask()
{
    Fixture f;
    auto inner = f.loop.createTask(answerAfter(10s, 1), QStringLiteral("inner"));
    auto outerBody = [&]() -> Coro<int> { co_return co_await inner; };
    auto outer = f.loop.createTask(outerBody(), QStringLiteral("outer"));
    f.loop.callLater(1s, [&] { outer.cancel("stop both"); });
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(outer));
    QVERIFY(inner.cancelled());
    QVERIFY(outer.cancelled());
    try {
        (void)inner.result();
    } catch (const CancelledError &e) {
        QCOMPARE(e.message(), std::string("stop both"));
    }
}

void tst_Task::cancelAfterAwaitedFutureCompletedStillCancels()
{
    // The awaited future is already done when cancel() comes, so it cannot take the
    // cancellation; the task must still get CancelledError when it resumes.
    Fixture f;
    Future<int> fut(f.loop);
    bool resumedNormally = false;
    auto body = [&]() -> Coro<void> {
        co_await fut;
        resumedNormally = true;
    };
    auto task = f.loop.createTask(body());
    f.loop.callLater(1s, [&] {
        fut.setResult(1);
        QVERIFY(task.cancel());
    });
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(task));
    QVERIFY(!resumedNormally);
    QVERIFY(task.cancelled());
}

void tst_Task::selfCancelBeforeYield()
{
    Fixture f;
    std::unique_ptr<Task<int>> self;
    int reached = 0;
    auto body = [&]() -> Coro<int> {
        reached = 1;
        self->cancel("self");
        reached = 2; // cancel() does not throw; the next suspension does
        co_await loopscope::sleep(5s);
        reached = 3;
        co_return 0;
    };
    self = std::make_unique<Task<int>>(f.loop.createTask(body()));
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(*self));
    QCOMPARE(reached, 2);
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Task::cancellingAndUncancelCounters()
{
    Fixture f;
    int seenCancelling = -1;
    std::vector<int> afterUncancel;
    std::unique_ptr<Task<void>> self;
    auto body = [&]() -> Coro<void> {
        try {
            co_await loopscope::sleep(10s);
        } catch (const CancelledError &) {
            seenCancelling = self->cancelling();
            afterUncancel.push_back(self->uncancel());
            afterUncancel.push_back(self->uncancel());
        }
        co_await loopscope::sleep(1s); // not cancelled any more: completes
    };
    self = std::make_unique<Task<void>>(f.loop.createTask(body()));
    f.loop.callLater(1s, [&] {
        self->cancel();
        self->cancel(); // two requests
    });
    f.loop.runUntilComplete(*self);
    QCOMPARE(seenCancelling, 2);
    QCOMPARE(afterUncancel, (std::vector<int>{ 1, 0 }));
    QVERIFY(!self->cancelled());
    QCOMPARE(self->cancelling(), 0);
}

void tst_Task::loopKeepsDroppedTaskAlive()
{
    Fixture f;
    bool finished = false;
    auto body = [&]() -> Coro<void> {
        co_await loopscope::sleep(1s);
        finished = true;
    };
    (void)f.loop.createTask(body()); // handle dropped at once
    QCOMPARE(f.loop.allTasks().size(), 1u);
    f.loop.runUntilComplete(answerAfter(2s, 0));
    QVERIFY(finished);
    QCOMPARE(f.loop.allTasks().size(), 0u);
}

namespace {
Coro<int> chain(EventLoop &loop, int n)
{
    if (n == 0)
        co_return 0;
    co_return 1 + co_await loop.createTask(chain(loop, n - 1));
}
} // namespace

void tst_Task::deepAwaitChainDoesNotOverflowTheStack()
{
    // Every resume goes through the ready queue, so 100,000 tasks each awaiting the next
    // never nest on the C++ stack.
    Fixture f;
    QCOMPARE(f.loop.runUntilComplete(chain(f.loop, 100000)), 100000);
    QCOMPARE(f.loop.allTasks().size(), 0u);
}

void tst_Task::awaitingItselfIsAnError()
{
    Fixture f;
    std::unique_ptr<Task<int>> self;
    QString error;
    auto body = [&]() -> Coro<int> {
        co_await loopscope::sleep(0s);
        try {
            co_await *self;
        } catch (const loopscope::RuntimeError &e) {
            error = QString::fromUtf8(e.what());
        }
        co_return 3;
    };
    self = std::make_unique<Task<int>>(f.loop.createTask(body()));
    QCOMPARE(f.loop.runUntilComplete(*self), 3);
    QVERIFY2(error.contains(QStringLiteral("cannot await on itself")), qPrintable(error));
}

void tst_Task::awaitingFutureOfAnotherLoopIsAnError()
{
    Fixture f;
    EventLoop other(std::make_shared<VirtualClock>());
    Future<int> foreign(other);
    auto body = [&]() -> Coro<QString> {
        try {
            co_await foreign;
        } catch (const loopscope::RuntimeError &e) {
            co_return QString::fromUtf8(e.what());
        }
        co_return QString();
    };
    QVERIFY(f.loop.runUntilComplete(body()).contains(QStringLiteral("different event loop")));
}

void tst_Task::allTasksAndCurrentTask()
{
    Fixture f;
    std::uint64_t seenCurrent = 0;
    bool seenFree = false;
    std::unique_ptr<Task<void>> self;
    auto body = [&]() -> Coro<void> {
        seenCurrent = f.loop.currentTask().id();
        seenFree = loopscope::currentTask() == f.loop.currentTask();
        co_await loopscope::sleep(1s);
    };
    self = std::make_unique<Task<void>>(f.loop.createTask(body(), QStringLiteral("watched")));
    auto other = f.loop.createTask(answerAfter(2s, 0));
    auto tasks = f.loop.allTasks();
    QCOMPARE(tasks.size(), 2u);
    QCOMPARE(tasks[0].name(), QStringLiteral("watched"));
    QCOMPARE(tasks[1].id(), other.taskId());
    QVERIFY(tasks[1] == loopscope::TaskRef(other));
    QVERIFY(!f.loop.currentTask().isValid());
    QVERIFY(!loopscope::currentTask());
    f.loop.runUntilComplete(*self);
    QCOMPARE(seenCurrent, self->taskId());
    QVERIFY(seenFree);
    QCOMPARE(f.loop.allTasks().size(), 1u);
    f.loop.runUntilComplete(other);
}

void tst_Task::neverRetrievedTaskExceptionIsReported()
{
    Fixture f;
    std::vector<loopscope::ExceptionContext> reports;
    f.loop.setExceptionHandler([&](const loopscope::ExceptionContext &c) { reports.push_back(c); });
    (void)f.loop.createTask(fail("nobody looks"));
    f.loop.runUntilComplete(answerAfter(1s, 0));
    QCOMPARE(reports.size(), 1u);
    QCOMPARE(reports[0].message, QStringLiteral("Task exception was never retrieved"));
    QVERIFY(reports[0].toString().contains(QStringLiteral("nobody looks")));

    // Retrieved through await: no report.
    reports.clear();
    auto body = [&]() -> Coro<void> {
        try {
            co_await f.loop.createTask(fail("seen"));
        } catch (const std::runtime_error &) {
        }
    };
    f.loop.runUntilComplete(body());
    QCOMPARE(reports.size(), 0u);
}

void tst_Task::closeWithPendingTaskDestroysFrameWithoutResuming()
{
    bool guardDestroyed = false, resumed = false;
    std::vector<loopscope::ExceptionContext> reports;
    std::unique_ptr<Task<void>> keep;
    {
        Fixture f;
        f.loop.setExceptionHandler(
                [&](const loopscope::ExceptionContext &c) { reports.push_back(c); });
        auto body = [&]() -> Coro<void> {
            Guard g{ &guardDestroyed };
            co_await loopscope::sleep(1h);
            resumed = true;
        };
        keep = std::make_unique<Task<void>>(f.loop.createTask(body(), QStringLiteral("sleepy")));
        f.loop.runUntilComplete(answerAfter(1s, 0));
        QVERIFY(!guardDestroyed);
        f.loop.close();
        QVERIFY(guardDestroyed);
        QVERIFY(!resumed);
    }
    QCOMPARE(reports.size(), 1u);
    QCOMPARE(reports[0].message, QStringLiteral("Task was destroyed but it is pending!"));
    QVERIFY(reports[0].task.contains(QStringLiteral("sleepy")));
    // The handle outlives the loop and reports a clear state.
    QVERIFY(keep->done());
    QVERIFY(keep->cancelled());
    QVERIFY_THROWS_EXCEPTION(CancelledError, keep->result());
    keep.reset();
}

void tst_Task::runUntilCompleteAcceptsACoroutine()
{
    Fixture f;
    QCOMPARE(f.loop.runUntilComplete(answerAfter(3s, 9)), 9);
    QCOMPARE(f.loop.time(), TimePoint(3s));
}

void tst_Task::doneCallbackOnTaskGetsTheTask()
{
    Fixture f;
    QString seen;
    auto task = f.loop.createTask(answerAfter(1s, 4), QStringLiteral("cb"));
    task.addDoneCallback([&](Task<int> t) { seen = t.name() + QString::number(t.result()); });
    // As in the seed example: our callback was added before runUntilComplete's own stop
    // callback, so both are scheduled in the same iteration and ours runs first.
    f.loop.runUntilComplete(task);
    QCOMPARE(seen, QStringLiteral("cb4"));
}

void tst_Task::createTaskRejectsEmptyOrFinishedCoro()
{
    // Regression: a Coro that was already awaited used to be accepted and then resumed
    // after completion (a crash in TaskCore::step).
    Fixture f;
    Coro<int> once = answerAfter(0s, 1);
    auto awaitIt = [&]() -> Coro<int> { co_return co_await once; };
    QCOMPARE(f.loop.runUntilComplete(awaitIt()), 1);
    QVERIFY(once.isDone());
    QVERIFY_THROWS_EXCEPTION(loopscope::RuntimeError, (void)f.loop.createTask(std::move(once)));

    Coro<int> empty;
    QVERIFY_THROWS_EXCEPTION(loopscope::RuntimeError, (void)f.loop.createTask(std::move(empty)));
}

QTEST_GUILESS_MAIN(tst_Task)
void tst_Task::delayPostponesThePendingStart()
{
    Fixture f;
    TimePoint startedAt{};
    // A named lambda: a coroutine lambda's captures live in the lambda object, which
    // must outlive the task.
    auto body = [&]() -> Coro<int> {
        startedAt = f.loop.time();
        co_return 7;
    };
    Task<int> t = f.loop.createTask(body());
    QVERIFY(t.delay(300ms));
    QVERIFY(t.delay(200ms)); // adds up
    QCOMPARE(f.loop.runUntilComplete(t), 7);
    QCOMPARE(startedAt, TimePoint(500ms));
    // The wait is an extra (empty) step that awaited a Sleep future.
    QCOMPARE(loopscope::TaskRef(t).steps(), std::uint64_t(2));
}

void tst_Task::delayAfterTheAwaitedFutureBeforeTheNextStep()
{
    Fixture f;
    Future<int> value(f.loop);
    std::vector<TimePoint> marks;
    // A named lambda: a coroutine lambda's captures live in the lambda object, which
    // must outlive the task.
    auto body = [&]() -> Coro<int> {
        marks.push_back(f.loop.time());
        const int v = co_await value;
        marks.push_back(f.loop.time());
        co_return v * 2;
    };
    Task<int> t = f.loop.createTask(body());
    f.loop.callLater(100ms, [&] {
        QVERIFY(t.delay(1s)); // while suspended on `value`
        value.setResult(21);
    });
    QCOMPARE(f.loop.runUntilComplete(t), 42);
    QCOMPARE(marks.size(), std::size_t(2));
    QCOMPARE(marks[0], TimePoint(0ms));
    QCOMPARE(marks[1], TimePoint(1100ms));
}

void tst_Task::cancelDuringDelayThrowsAtTheSuspensionPoint()
{
    Fixture f;
    bool cleanedUp = false;
    bool bodyRan = false;
    // A named lambda: a coroutine lambda's captures live in the lambda object, which
    // must outlive the task.
    auto body = [&]() -> Coro<void> {
        Guard g{ &cleanedUp };
        co_await loopscope::sleep(10ms);
        bodyRan = true;
    };
    Task<void> t = f.loop.createTask(body());
    f.loop.callLater(10ms, [&] { t.delay(1h); }); // the sleep is done: it delays the resume
    f.loop.callLater(20ms, [&] { QVERIFY(t.cancel("stop waiting")); });
    std::string message;
    try {
        f.loop.runUntilComplete(t);
    } catch (const CancelledError &e) {
        message = e.message();
    }
    QVERIFY(t.cancelled());
    QVERIFY(!bodyRan);
    QVERIFY(cleanedUp);
    QCOMPARE(message, std::string("stop waiting"));
    QCOMPARE(f.loop.time(), TimePoint(20ms)); // the hour-long timer was cancelled
}

void tst_Task::delayBadInput()
{
    Fixture f;
    Task<int> t = f.loop.createTask(answerAfter(0s, 1));
    QVERIFY_THROWS_EXCEPTION(loopscope::ValueError, t.delay(-1ms));
    QCOMPARE(f.loop.runUntilComplete(t), 1);
    QVERIFY(!t.delay(1s)); // done: nothing to delay
    QCOMPARE(loopscope::TaskRef(t).steps(), std::uint64_t(2));
}

#include "tst_task.moc"
