// Tests of shield(), against asyncio.shield as CPython's test_tasks.py checks it
// (test_shield_*, test_gather_shield): the inner awaitable runs on when the outer future or
// the awaiting task is cancelled, results and errors pass through, an inner cancellation does
// reach the outer future, and a late inner failure nobody waits for any more is reported.

#include <loopscope/loopscope.h>

#include <QStringList>
#include <QTest>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using loopscope::CancelledError;
using loopscope::Coro;
using loopscope::Duration;
using loopscope::EventLoop;
using loopscope::ExceptionContext;
using loopscope::Future;
using loopscope::shield;
using loopscope::Task;
using loopscope::TimeoutError;
using loopscope::TimePoint;
using loopscope::VirtualClock;

namespace {

class MyError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

//! A loop on a virtual clock whose exception handler records every report.
struct Fixture
{
    Fixture()
    {
        loop.setExceptionHandler([this](const ExceptionContext &c) { reports.push_back(c); });
    }
    QStringList reportMessages() const
    {
        QStringList out;
        for (const auto &r : reports)
            out << r.message;
        return out;
    }
    //! Runs \a n loop iterations (asyncio's test_utils.run_briefly runs about one).
    void runIterations(int n = 2)
    {
        for (int i = 0; i < n; ++i) {
            loop.stop();
            loop.runForever();
        }
    }

    std::vector<ExceptionContext> reports;
    std::shared_ptr<VirtualClock> clock = std::make_shared<VirtualClock>();
    EventLoop loop{ clock };
};

Coro<int> answerAfter(Duration d, int value)
{
    co_await loopscope::sleep(d);
    co_return value;
}

Coro<int> failAfter(Duration d, std::string what)
{
    co_await loopscope::sleep(d);
    throw MyError(what);
}

//! Sleeps \a d; \a cancelled says whether a cancellation reached it.
Coro<int> watchCancel(Duration d, int value, bool &cancelled)
{
    try {
        co_await loopscope::sleep(d);
    } catch (const CancelledError &) {
        cancelled = true;
        throw;
    }
    co_return value;
}

//! Awaits shield(\a inner), the usual `await asyncio.shield(task)`.
Coro<int> awaitShielded(Task<int> inner)
{
    co_return co_await shield(inner);
}

QString describe(const std::exception_ptr &e)
{
    try {
        std::rethrow_exception(e);
    } catch (const CancelledError &c) {
        return QStringLiteral("CancelledError:") + QString::fromStdString(c.message());
    } catch (const TimeoutError &) {
        return QStringLiteral("TimeoutError");
    } catch (const MyError &m) {
        return QStringLiteral("MyError:") + QString::fromUtf8(m.what());
    } catch (...) {
        return QStringLiteral("unknown");
    }
}

template <typename T>
QString outcomeOf(EventLoop &loop, Future<T> future)
{
    try {
        (void)loop.runUntilComplete(future);
        return QStringLiteral("ok");
    } catch (...) {
        return describe(std::current_exception());
    }
}

} // namespace

class tst_Shield : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void resultPassesThrough();
    void exceptionPassesThrough();
    void innerRunsOnWhenTheAwaitingTaskIsCancelled();
    void cancellingTheShieldLeavesTheInnerAlone();
    void innerCancellationReachesTheShield();
    void lateInnerResultAfterOuterCancelReportsNothing();
    void lateInnerFailureAfterOuterCancelIsReported();
    void lateInnerTaskFailureAfterOuterCancelIsReported();
    void lateInnerFailureAwaitedElsewhereIsNotReported();
    void twoCancelledShieldsReportTheFailureOnce();
    void shieldOfADoneFutureIsThatFuture();
    void shieldOfACoroutineRunsItInATask();
    void gatherOfShieldsCancelsOnlyTheShields();
    void timeoutAroundAShieldLeavesTheInnerRunning();
};

void tst_Shield::resultPassesThrough()
{
    Fixture f;
    auto inner = f.loop.createTask(answerAfter(1s, 5));
    QCOMPARE(f.loop.runUntilComplete(awaitShielded(inner)), 5);
    QCOMPARE(f.loop.time(), TimePoint(1s));
    Future<QString> fut(f.loop);
    f.loop.callLater(1s, [&] { fut.setResult(QStringLiteral("text")); });
    QCOMPARE(f.loop.runUntilComplete(shield(fut)), QStringLiteral("text"));
    QCOMPARE(f.loop.time(), TimePoint(2s));
}

void tst_Shield::exceptionPassesThrough()
{
    Fixture f;
    auto inner = f.loop.createTask(failAfter(1s, "inner failed"));
    QCOMPARE(outcomeOf(f.loop, Future<int>(f.loop.createTask(awaitShielded(inner)))),
             QStringLiteral("MyError:inner failed"));
    QVERIFY(f.reports.empty()); // the inner's error was retrieved by the shield
}

void tst_Shield::innerRunsOnWhenTheAwaitingTaskIsCancelled()
{
    Fixture f;
    bool innerCancelled = false;
    auto inner = f.loop.createTask(watchCancel(5s, 9, innerCancelled));
    auto outer = f.loop.createTask(awaitShielded(inner));
    f.loop.callLater(1s, [&] { outer.cancel("outer only"); });
    QCOMPARE(outcomeOf(f.loop, Future<int>(outer)), QStringLiteral("CancelledError:outer only"));
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QVERIFY(outer.cancelled());
    QVERIFY(!inner.done()); // from the inner's point of view, nothing happened
    QCOMPARE(f.loop.runUntilComplete(inner), 9);
    QVERIFY(!innerCancelled);
    QCOMPARE(f.loop.time(), TimePoint(5s));
}

void tst_Shield::cancellingTheShieldLeavesTheInnerAlone()
{
    // asyncio's test_shield_cancel_outer.
    Fixture f;
    Future<int> inner(f.loop);
    auto outer = shield(inner);
    f.runIterations();
    QVERIFY(outer.cancel());
    f.runIterations();
    QVERIFY(outer.cancelled());
    QVERIFY(!inner.done());
    inner.setResult(1);
    f.runIterations();
    QVERIFY(outer.cancelled());
    QCOMPARE(inner.result(), 1);
}

void tst_Shield::innerCancellationReachesTheShield()
{
    // asyncio's test_shield_cancel_inner: "If something() is cancelled by other means this
    // will still cancel shield()".
    Fixture f;
    auto inner = f.loop.createTask(answerAfter(10s, 1));
    auto outer = f.loop.createTask(awaitShielded(inner));
    f.loop.callLater(1s, [&] { inner.cancel(); });
    QCOMPARE(outcomeOf(f.loop, Future<int>(outer)).left(15), QStringLiteral("CancelledError:"));
    QVERIFY(inner.cancelled());
    QVERIFY(outer.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Shield::lateInnerResultAfterOuterCancelReportsNothing()
{
    // asyncio's test_shield_cancel_outer_result.
    Fixture f;
    {
        Future<int> inner(f.loop);
        auto outer = shield(inner);
        f.runIterations();
        outer.cancel();
        f.runIterations();
        inner.setResult(1);
        f.runIterations();
    }
    f.runIterations();
    QVERIFY(f.reports.empty());
}

void tst_Shield::lateInnerFailureAfterOuterCancelIsReported()
{
    // asyncio's test_shield_cancel_outer_exception: the shield's caller is gone, nobody will
    // see the inner's error, so it is reported (here when the inner goes away).
    Fixture f;
    {
        Future<int> inner(f.loop);
        auto outer = shield(inner);
        f.runIterations();
        outer.cancel();
        f.runIterations();
        inner.setException(MyError("late failure"));
        f.runIterations();
    }
    f.runIterations();
    QCOMPARE(f.reportMessages(),
             QStringList{ QStringLiteral("Future exception was never retrieved") });
    QVERIFY(f.reports[0].toString().contains(QStringLiteral("late failure")));
}

void tst_Shield::lateInnerTaskFailureAfterOuterCancelIsReported()
{
    // The same through a task: `await shield(coro())` cancelled before the coroutine fails.
    Fixture f;
    auto body = [&]() -> Coro<int> {
        co_return co_await shield(failAfter(2s, "after the caller left"));
    };
    auto outer = f.loop.createTask(body());
    f.loop.callLater(1s, [&] { outer.cancel(); });
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(outer));
    QCOMPARE(f.loop.allTasks().size(), 1u); // the shielded task runs on
    QVERIFY(f.reports.empty());
    f.loop.runUntilComplete(answerAfter(2s, 0));
    QCOMPARE(f.reportMessages(),
             QStringList{ QStringLiteral("Task exception was never retrieved") });
    QVERIFY(f.reports[0].toString().contains(QStringLiteral("after the caller left")));
}

void tst_Shield::lateInnerFailureAwaitedElsewhereIsNotReported()
{
    // Only an error that nobody looks at is reported: the inner task awaited by someone else
    // after the shield was cancelled is not.
    Fixture f;
    auto inner = f.loop.createTask(failAfter(2s, "seen"));
    auto outer = f.loop.createTask(awaitShielded(inner));
    f.loop.callLater(1s, [&] { outer.cancel(); });
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(outer));
    QCOMPARE(outcomeOf(f.loop, Future<int>(inner)), QStringLiteral("MyError:seen"));
    f.runIterations();
    QVERIFY(f.reports.empty());
}

void tst_Shield::twoCancelledShieldsReportTheFailureOnce()
{
    // asyncio's test_shield_duplicate_log_once.
    Fixture f;
    {
        Future<int> inner(f.loop);
        auto first = shield(inner);
        f.runIterations();
        first.cancel();
        f.runIterations();
        auto second = shield(inner);
        f.runIterations();
        second.cancel();
        f.runIterations();
        inner.setException(MyError("once"));
        f.runIterations();
    }
    f.runIterations();
    QCOMPARE(f.reports.size(), 1u);
}

void tst_Shield::shieldOfADoneFutureIsThatFuture()
{
    Fixture f;
    Future<int> done(f.loop);
    done.setResult(3);
    QVERIFY(shield(done) == done);
    Future<int> failed(f.loop);
    failed.setException(MyError("early"));
    QVERIFY(shield(failed) == failed);
    QVERIFY_THROWS_EXCEPTION(MyError, (void)failed.result());
}

void tst_Shield::shieldOfACoroutineRunsItInATask()
{
    Fixture f;
    std::optional<Future<int>> outer;
    auto main = [&]() -> Coro<int> {
        outer.emplace(shield(answerAfter(1s, 4)));
        co_return co_await *outer;
    };
    auto task = f.loop.createTask(main());
    f.runIterations(1); // main's first step: shield() wrapped the coroutine in a task
    QCOMPARE(f.loop.allTasks().size(), 2u);
    QVERIFY(outer && !(*outer == Future<int>(task)));
    QCOMPARE(f.loop.runUntilComplete(task), 4);
    QVERIFY(f.loop.allTasks().empty());
}

void tst_Shield::gatherOfShieldsCancelsOnlyTheShields()
{
    // asyncio's test_gather_shield: cancelling the gather cancels the shields, not what they
    // protect.
    Fixture f;
    Future<int> child1(f.loop), child2(f.loop);
    auto inner1 = shield(child1);
    auto inner2 = shield(child2);
    auto parent = loopscope::gather(inner1, inner2);
    f.runIterations();
    QVERIFY(parent.cancel());
    f.runIterations();
    QVERIFY(parent.done());
    QVERIFY_THROWS_EXCEPTION(CancelledError, (void)parent.result());
    QVERIFY(inner1.cancelled());
    QVERIFY(inner2.cancelled());
    QVERIFY(!child1.done());
    QVERIFY(!child2.done());
    child1.setResult(1);
    child2.setResult(2);
    f.runIterations();
    QVERIFY(f.reports.empty());
}

void tst_Shield::timeoutAroundAShieldLeavesTheInnerRunning()
{
    // The usual "give up waiting, but let it finish": a deadline around a shielded task.
    Fixture f;
    bool innerCancelled = false;
    auto inner = f.loop.createTask(watchCancel(3s, 7, innerCancelled));
    auto main = [&]() -> Coro<QString> {
        try {
            (void)co_await loopscope::timeout(1s, awaitShielded(inner));
        } catch (const TimeoutError &) {
            co_return QStringLiteral("TimeoutError");
        }
        co_return QStringLiteral("no timeout");
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QCOMPARE(f.loop.runUntilComplete(inner), 7);
    QVERIFY(!innerCancelled);
    QCOMPARE(f.loop.time(), TimePoint(3s));
}

QTEST_GUILESS_MAIN(tst_Shield)
#include "tst_shield.moc"
