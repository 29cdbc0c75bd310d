// Tests of gather() (variadic and over a range, with and without ReturnExceptions),
// ensureFuture() and Outcome, against asyncio.gather's semantics as CPython's test_tasks.py
// checks them (GatherTestsBase, FutureGatherTests, CoroutineGatherTests): results in argument
// order, the first error wins while the other children run on, cancellation in both directions,
// exceptions marked retrieved, and children of different loops refused.

#include <loopscope/loopscope.h>

#include <QStringList>
#include <QTest>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using loopscope::CancelledError;
using loopscope::Coro;
using loopscope::Duration;
using loopscope::EventLoop;
using loopscope::ExceptionContext;
using loopscope::ExceptionGroup;
using loopscope::Future;
using loopscope::gather;
using loopscope::Outcome;
using loopscope::ReturnExceptions;
using loopscope::Task;
using loopscope::TimePoint;
using loopscope::ValueError;
using loopscope::VirtualClock;

namespace {

//! The error the children throw; a type of its own so nothing else is mistaken for it.
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

    // Declared before the loop: close() in the loop's destructor may still report.
    std::vector<ExceptionContext> reports;
    std::shared_ptr<VirtualClock> clock = std::make_shared<VirtualClock>();
    EventLoop loop{ clock };
};

//! "Type:message" for an exception, groups as "ExceptionGroup(a, b)".
QString describe(const std::exception_ptr &e)
{
    if (!e)
        return QStringLiteral("none");
    try {
        std::rethrow_exception(e);
    } catch (const CancelledError &c) {
        return QStringLiteral("CancelledError:") + QString::fromStdString(c.message());
    } catch (const ExceptionGroup &g) {
        QStringList inner;
        for (const auto &x : g.exceptions())
            inner << describe(x);
        return QStringLiteral("ExceptionGroup(") + inner.join(QStringLiteral(", "))
                + QLatin1Char(')');
    } catch (const MyError &m) {
        return QStringLiteral("MyError:") + QString::fromUtf8(m.what());
    } catch (const ValueError &v) {
        return QStringLiteral("ValueError:") + QString::fromUtf8(v.what());
    } catch (const std::exception &x) {
        return QStringLiteral("other:") + QString::fromUtf8(x.what());
    } catch (...) {
        return QStringLiteral("unknown");
    }
}

//! How a future ended: "ok", or the description of what result() throws.
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

Coro<void> markAfter(Duration d, bool &done)
{
    co_await loopscope::sleep(d);
    done = true;
}

//! Records its id in \a starts when its first step runs, then answers the id after \a d.
Coro<int> loggedAnswer(std::vector<int> &starts, int id, Duration d)
{
    starts.push_back(id);
    co_await loopscope::sleep(d);
    co_return id;
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

} // namespace

class tst_Gather : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void resultsInArgumentOrder();
    void mixesFuturesTasksAndCoros();
    void voidChildrenContributeMonostate();
    void rangeOfTasksKeepsRangeOrder();
    void rangeOfCorosStartsTasksInRangeOrder();
    void emptyGatherIsDoneAtOnce();
    void sameFutureTwiceGivesItsResultTwice();
    void firstErrorPropagatesWhileOthersRunOn();
    void laterChildErrorsAreMarkedRetrieved();
    void unobservedGatherFailureIsReported();
    void returnExceptionsCollectsEveryOutcome();
    void returnExceptionsOverARange();
    void cancellingTheGatherCancelsEveryChild();
    void cancellingTheAwaitingTaskCancelsTheChildren();
    void cancelledReturnExceptionsGatherStillRaisesCancelledError();
    void cancelledReturnExceptionsGatherRetrievesChildErrors();
    void cancelAfterChildrenAreDoneReturnsFalse();
    void cancellationReachesNestedGathers();
    void cancelledChildFailsTheGatherWithoutCancellingIt();
    void childrenOfDifferentLoopsRaiseValueError();
    void ensureFutureWrapsCorosAndKeepsFutures();
    void outcomeHoldsAValueOrAnException();
};

void tst_Gather::resultsInArgumentOrder()
{
    Fixture f;
    auto main = [&]() -> Coro<std::tuple<int, int, int>> {
        co_return co_await gather(answerAfter(3s, 1), answerAfter(1s, 2), answerAfter(2s, 3));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), std::make_tuple(1, 2, 3));
    // The children ran concurrently: 3 s in all, not 6 s.
    QCOMPARE(f.loop.time(), TimePoint(3s));
    QVERIFY(f.loop.allTasks().empty());
    QVERIFY(f.reports.empty());
}

void tst_Gather::mixesFuturesTasksAndCoros()
{
    Fixture f;
    Future<int> fut(f.loop);
    f.loop.callLater(2s, [&] { fut.setResult(7); });
    auto task = f.loop.createTask(loopscope::sleep(1s, QStringLiteral("task")));
    auto main = [&]() -> Coro<QString> {
        auto [a, b, c] = co_await gather(fut, task, loopscope::sleep(3s, 2.5));
        co_return QString::number(a) + QLatin1Char('/') + b + QLatin1Char('/') + QString::number(c);
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("7/task/2.5"));
    QCOMPARE(f.loop.time(), TimePoint(3s));
}

void tst_Gather::voidChildrenContributeMonostate()
{
    Fixture f;
    bool first = false, second = false;
    auto main = [&]() -> Coro<int> {
        auto results =
                co_await gather(markAfter(2s, first), answerAfter(1s, 5), markAfter(1s, second));
        static_assert(
                std::is_same_v<decltype(results), std::tuple<std::monostate, int, std::monostate>>);
        co_return std::get<1>(results);
    };
    QCOMPARE(f.loop.runUntilComplete(main()), 5);
    QVERIFY(first);
    QVERIFY(second);
    QCOMPARE(f.loop.time(), TimePoint(2s));
}

void tst_Gather::rangeOfTasksKeepsRangeOrder()
{
    Fixture f;
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 4; ++i) // the later in the range, the sooner it finishes
        tasks.push_back(f.loop.createTask(answerAfter(std::chrono::seconds(4 - i), i * 10)));
    auto all = gather(tasks);
    QCOMPARE(f.loop.runUntilComplete(all), (std::vector<int>{ 0, 10, 20, 30 }));
    QCOMPARE(f.loop.time(), TimePoint(4s));
}

void tst_Gather::rangeOfCorosStartsTasksInRangeOrder()
{
    Fixture f;
    std::vector<int> starts;
    std::vector<Coro<int>> coros;
    coros.push_back(loggedAnswer(starts, 0, 3s));
    coros.push_back(loggedAnswer(starts, 1, 1s));
    coros.push_back(loggedAnswer(starts, 2, 2s));
    std::size_t tasksWhileRunning = 0;
    auto main = [&]() -> Coro<std::vector<int>> {
        auto all = gather(coros);
        tasksWhileRunning = f.loop.allTasks().size();
        co_return co_await all;
    };
    QCOMPARE(f.loop.runUntilComplete(main()), (std::vector<int>{ 0, 1, 2 }));
    QCOMPARE(starts, (std::vector<int>{ 0, 1, 2 }));
    QCOMPARE(tasksWhileRunning, 4u); // main and one task per coroutine
    for (const auto &c : coros)
        QVERIFY(!c.isValid()); // moved into their tasks
    QCOMPARE(f.loop.time(), TimePoint(3s));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_Gather::emptyGatherIsDoneAtOnce()
{
    // asyncio.gather() with no argument returns a future that is already done.
    Fixture f;
    auto none = gather();
    static_assert(std::is_same_v<decltype(none), Future<std::tuple<>>>);
    QVERIFY(none.done());
    (void)none.result();

    std::vector<Future<int>> empty;
    auto overRange = gather(empty);
    QVERIFY(overRange.done());
    QVERIFY(overRange.result().empty());
    auto outcomes = gather(ReturnExceptions, empty);
    QVERIFY(outcomes.done());
    QVERIFY(outcomes.result().empty());
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Gather::sameFutureTwiceGivesItsResultTwice()
{
    Fixture f;
    Future<int> fut(f.loop);
    f.loop.callLater(1s, [&] { fut.setResult(4); });
    QCOMPARE(f.loop.runUntilComplete(gather(fut, fut)), std::make_tuple(4, 4));
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Gather::firstErrorPropagatesWhileOthersRunOn()
{
    Fixture f;
    auto slow = f.loop.createTask(answerAfter(3s, 3));
    auto mid = f.loop.createTask(answerAfter(2s, 2));
    QString caught;
    TimePoint caughtAt;
    std::size_t tasksAtCatch = 0;
    bool othersPendingAtCatch = false;
    auto main = [&]() -> Coro<void> {
        try {
            (void)co_await gather(slow, failAfter(1s, "boom"), mid);
        } catch (const MyError &e) {
            caught = QString::fromUtf8(e.what());
            caughtAt = f.loop.time();
            tasksAtCatch = f.loop.allTasks().size();
            othersPendingAtCatch = !slow.done() && !mid.done();
        }
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(caught, QStringLiteral("boom"));
    QCOMPARE(caughtAt, TimePoint(1s));
    QVERIFY(othersPendingAtCatch);
    QCOMPARE(tasksAtCatch, 3u); // main, slow and mid: nothing was cancelled
    // They keep running and finish normally.
    QCOMPARE(f.loop.runUntilComplete(slow), 3);
    QCOMPARE(mid.result(), 2);
    QVERIFY(!mid.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(3s));
    QVERIFY(f.reports.empty());
}

void tst_Gather::laterChildErrorsAreMarkedRetrieved()
{
    // asyncio's test_exception_marking: once the gather has failed, later child errors are
    // marked retrieved, so dropping the children reports nothing.
    Fixture f;
    auto main = [&]() -> Coro<QString> {
        QString seen;
        try {
            (void)co_await gather(failAfter(1s, "first"), failAfter(2s, "second"));
        } catch (const MyError &e) {
            seen = QString::fromUtf8(e.what());
        }
        co_await loopscope::sleep(5s); // the second child fails and is released meanwhile
        co_return seen;
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("first"));
    QVERIFY2(f.reports.empty(), qPrintable(f.reportMessages().join(QLatin1Char('\n'))));
}

void tst_Gather::unobservedGatherFailureIsReported()
{
    // The gathering future is a future like any other: its failure, never looked at, is
    // reported when it goes away.
    Fixture f;
    auto main = [&]() -> Coro<void> {
        (void)gather(failAfter(1s, "nobody looks"), answerAfter(2s, 0));
        co_await loopscope::sleep(3s);
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(f.reportMessages(),
             QStringList{ QStringLiteral("Future exception was never retrieved") });
    QVERIFY(f.reports[0].toString().contains(QStringLiteral("nobody looks")));
}

void tst_Gather::returnExceptionsCollectsEveryOutcome()
{
    Fixture f;
    auto doomed = f.loop.createTask(answerAfter(10s, 0));
    f.loop.callLater(1s, [&] { doomed.cancel("gone"); });
    bool marked = false;
    auto [a, b, c, d] =
            f.loop.runUntilComplete(gather(ReturnExceptions, answerAfter(1s, 1),
                                           failAfter(2s, "bad"), doomed, markAfter(3s, marked)));
    // Nothing was failed early: the gather waited for every child.
    QCOMPARE(f.loop.time(), TimePoint(3s));

    QVERIFY(a.hasValue());
    QVERIFY(!a.hasException());
    QVERIFY(!a.exception());
    QCOMPARE(a.value(), 1);

    QVERIFY(b.hasException());
    QVERIFY(!b.isCancelled());
    QCOMPARE(describe(b.exception()), QStringLiteral("MyError:bad"));
    QVERIFY_THROWS_EXCEPTION(MyError, (void)b.value());

    QVERIFY(c.hasException());
    QVERIFY(c.isCancelled());
    QCOMPARE(describe(c.exception()), QStringLiteral("CancelledError:gone"));

    static_assert(std::is_same_v<decltype(d), Outcome<void>>);
    QVERIFY(d.hasValue());
    QVERIFY(marked);
    QVERIFY(f.reports.empty()); // the failure went into its Outcome: retrieved
}

void tst_Gather::returnExceptionsOverARange()
{
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(2s, 1)),
                                  f.loop.createTask(failAfter(1s, "x")),
                                  f.loop.createTask(answerAfter(5s, 3)) };
    tasks[2].cancel();
    auto outcomes = f.loop.runUntilComplete(gather(ReturnExceptions, tasks));
    QCOMPARE(outcomes.size(), 3u);
    QCOMPARE(outcomes[0].value(), 1);
    QCOMPARE(describe(outcomes[1].exception()), QStringLiteral("MyError:x"));
    QVERIFY(outcomes[2].isCancelled());
    QCOMPARE(f.loop.time(), TimePoint(2s));
}

void tst_Gather::cancellingTheGatherCancelsEveryChild()
{
    Fixture f;
    bool c1 = false, c2 = false, c3 = false;
    auto t1 = f.loop.createTask(watchCancel(10s, 1, c1));
    auto t2 = f.loop.createTask(watchCancel(20s, 2, c2));
    auto t3 = f.loop.createTask(watchCancel(30s, 3, c3));
    auto all = gather(t1, t2, t3);
    bool cancelReturned = false;
    f.loop.callLater(1s, [&] { cancelReturned = all.cancel("stop"); });
    auto main = [&]() -> Coro<void> { (void)co_await all; };
    auto waiter = f.loop.createTask(main());

    QCOMPARE(outcomeOf(f.loop, Future<void>(waiter)), QStringLiteral("CancelledError:stop"));
    QVERIFY(cancelReturned);
    QVERIFY(waiter.cancelled()); // the awaiting task got CancelledError and ended cancelled
    QVERIFY(c1 && c2 && c3);
    QVERIFY(t1.cancelled() && t2.cancelled() && t3.cancelled());
    // As asyncio's _GatheringFuture: it ends *failed* with CancelledError, not cancelled.
    QVERIFY(all.done());
    QVERIFY(!all.cancelled());
    QCOMPARE(describe(all.exception()), QStringLiteral("CancelledError:stop"));
    QVERIFY(!all.cancel());
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_Gather::cancellingTheAwaitingTaskCancelsTheChildren()
{
    Fixture f;
    bool c1 = false, c2 = false;
    auto t1 = f.loop.createTask(watchCancel(10s, 1, c1));
    auto t2 = f.loop.createTask(watchCancel(10s, 2, c2));
    auto main = [&]() -> Coro<void> { (void)co_await gather(t1, t2); };
    auto waiter = f.loop.createTask(main());
    f.loop.callLater(1s, [&] { waiter.cancel("outer"); });
    QCOMPARE(outcomeOf(f.loop, Future<void>(waiter)), QStringLiteral("CancelledError:outer"));
    QVERIFY(c1 && c2);
    QVERIFY(t1.cancelled() && t2.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Gather::cancelledReturnExceptionsGatherStillRaisesCancelledError()
{
    // bpo-32684: cancelling the gather raises CancelledError even with return_exceptions.
    Fixture f;
    bool c1 = false;
    auto t1 = f.loop.createTask(watchCancel(10s, 1, c1));
    auto all = gather(ReturnExceptions, t1, answerAfter(2s, 2));
    f.loop.callLater(1s, [&] { QVERIFY(all.cancel()); });
    // Every child was cancelled; the last one to end gives the (empty) message.
    QCOMPARE(outcomeOf(f.loop, all), QStringLiteral("CancelledError:"));
    QVERIFY(c1);
    QVERIFY(!all.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_Gather::cancelledReturnExceptionsGatherRetrievesChildErrors()
{
    // asyncio builds the list of outcomes (fut.exception() for each child) before it sees the
    // cancel request, so a child error is retrieved even when the gather ends cancelled.
    Fixture f;
    auto main = [&]() -> Coro<void> {
        auto all = gather(ReturnExceptions, failAfter(1s, "x"), answerAfter(10s, 0));
        f.loop.callLater(2s, [all]() mutable { all.cancel(); });
        try {
            (void)co_await all;
        } catch (const CancelledError &) {
        }
        co_await loopscope::sleep(1s); // let the children be released
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(f.loop.time(), TimePoint(3s));
    QVERIFY2(f.reports.empty(), qPrintable(f.reportMessages().join(QLatin1Char('\n'))));
}

void tst_Gather::cancelAfterChildrenAreDoneReturnsFalse()
{
    // asyncio's test_cancel_gather_1: the children are done but the gather has not seen it
    // yet; cancel() reaches no child, so it returns false and the gather gets its results.
    Fixture f;
    Future<int> a(f.loop), b(f.loop);
    auto all = gather(a, b);
    a.setResult(1);
    b.setResult(2);
    QVERIFY(!all.done());
    QVERIFY(!all.cancel());
    QCOMPARE(f.loop.runUntilComplete(all), std::make_tuple(1, 2));
}

void tst_Gather::cancellationReachesNestedGathers()
{
    // asyncio's test_cancellation_broadcast: a gather of gathers cancels the leaves.
    Fixture f;
    bool c1 = false, c2 = false, c3 = false;
    auto t1 = f.loop.createTask(watchCancel(10s, 1, c1));
    auto t2 = f.loop.createTask(watchCancel(10s, 2, c2));
    auto t3 = f.loop.createTask(watchCancel(10s, 3, c3));
    auto inner1 = gather(t1, t2);
    auto inner2 = gather(t3);
    auto outer = gather(inner1, inner2);
    f.loop.callLater(1s, [&] { outer.cancel(); });
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(outer));
    QVERIFY(c1 && c2 && c3);
    QVERIFY(inner1.done() && !inner1.cancelled());
    QVERIFY(inner2.done() && !inner2.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Gather::cancelledChildFailsTheGatherWithoutCancellingIt()
{
    Fixture f;
    auto t1 = f.loop.createTask(answerAfter(3s, 1));
    auto t2 = f.loop.createTask(answerAfter(10s, 2));
    auto t3 = f.loop.createTask(answerAfter(2s, 3));
    f.loop.callLater(1s, [&] { t2.cancel("child"); });
    auto all = gather(t1, t2, t3);
    bool othersRunning = false;
    auto main = [&]() -> Coro<QString> {
        try {
            (void)co_await all;
        } catch (const CancelledError &e) {
            othersRunning = !t1.done() && !t3.done();
            co_return QStringLiteral("CancelledError:") + QString::fromStdString(e.message());
        }
        co_return QStringLiteral("no error");
    };
    auto waiter = f.loop.createTask(main());
    QCOMPARE(f.loop.runUntilComplete(waiter), QStringLiteral("CancelledError:child"));
    QVERIFY(!waiter.cancelled()); // it caught the error
    QVERIFY(all.done());
    QVERIFY(!all.cancelled());
    QCOMPARE(describe(all.exception()), QStringLiteral("CancelledError:child"));
    QVERIFY(othersRunning);
    QCOMPARE(f.loop.runUntilComplete(t1), 1);
    QCOMPARE(t3.result(), 3);
    QCOMPARE(f.loop.time(), TimePoint(3s));
}

void tst_Gather::childrenOfDifferentLoopsRaiseValueError()
{
    Fixture f;
    EventLoop other(std::make_shared<VirtualClock>());
    Future<int> mine(f.loop), theirs(other);
    try {
        (void)gather(mine, theirs);
        QFAIL("expected ValueError");
    } catch (const ValueError &e) {
        QVERIFY2(QByteArray(e.what()).contains("different event loops"), e.what());
    }
    std::vector<Future<int>> both{ mine, theirs };
    QVERIFY_THROWS_EXCEPTION(ValueError, (void)gather(both));
    QVERIFY_THROWS_EXCEPTION(ValueError, (void)gather(ReturnExceptions, theirs, mine));
    QVERIFY_THROWS_EXCEPTION(ValueError, (void)gather(ReturnExceptions, both));
}

void tst_Gather::ensureFutureWrapsCorosAndKeepsFutures()
{
    Fixture f;
    Future<int> fut(f.loop);
    QVERIFY(loopscope::ensureFuture(fut) == fut);
    auto task = f.loop.createTask(answerAfter(1s, 1));
    QVERIFY(loopscope::ensureFuture(task) == Future<int>(task));
    QCOMPARE(f.loop.allTasks().size(), 1u);

    auto wrapped = loopscope::ensureFuture(answerAfter(2s, 9));
    const auto tasks = f.loop.allTasks();
    QCOMPARE(tasks.size(), 2u);
    QCOMPARE(tasks[1].futureId(), wrapped.id());
    QCOMPARE(tasks[1].name(), QStringLiteral("Task-%1").arg(tasks[1].id()));
    QCOMPARE(f.loop.runUntilComplete(wrapped), 9);
    QCOMPARE(task.result(), 1);
    QCOMPARE(f.loop.time(), TimePoint(2s));
}

void tst_Gather::outcomeHoldsAValueOrAnException()
{
    Fixture f;
    const Outcome<int> value(5);
    QVERIFY(value.hasValue());
    QVERIFY(!value.isCancelled());
    QCOMPARE(value.value(), 5);

    const Outcome<int> error(std::make_exception_ptr(MyError("e")));
    QVERIFY(error.hasException());
    QVERIFY(!error.isCancelled());
    QVERIFY_THROWS_EXCEPTION(MyError, (void)error.value());

    Future<QString> cancelled(f.loop);
    cancelled.cancel("why");
    const auto fromCancelled = Outcome<QString>::fromDone(*cancelled.state());
    QVERIFY(fromCancelled.isCancelled());
    QCOMPARE(describe(fromCancelled.exception()), QStringLiteral("CancelledError:why"));

    Future<void> finished(f.loop);
    finished.setResult();
    QVERIFY(Outcome<void>::fromDone(*finished.state()).hasValue());
}

QTEST_GUILESS_MAIN(tst_Gather)
#include "tst_gather.moc"
