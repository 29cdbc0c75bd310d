// Tests of wait() (ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, timeout) and asCompleted(),
// against asyncio.wait / asyncio.as_completed as CPython's test_tasks.py checks them: the
// (done, pending) split, the time each returns (virtual time proves what waited for what),
// that nothing is ever cancelled, that no callback is left behind, and completion order.

#include <loopscope/loopscope.h>

#include <QStringList>
#include <QTest>

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using loopscope::asCompleted;
using loopscope::CancelledError;
using loopscope::Coro;
using loopscope::Duration;
using loopscope::EventLoop;
using loopscope::ExceptionContext;
using loopscope::Future;
using loopscope::ReturnWhen;
using loopscope::Task;
using loopscope::TimeoutError;
using loopscope::TimePoint;
using loopscope::ValueError;
using loopscope::VirtualClock;
using loopscope::wait;
using loopscope::WaitResult;

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

//! The ids of \a futures, to compare sets by identity and keep their order.
template <typename T>
std::vector<std::uint64_t> idsOf(const std::vector<Future<T>> &futures)
{
    std::vector<std::uint64_t> out;
    for (const auto &f : futures)
        out.push_back(f.id());
    return out;
}

template <typename T>
std::vector<std::uint64_t> idsOf(std::initializer_list<Future<T>> futures)
{
    return idsOf(std::vector<Future<T>>(futures));
}

//! The futures of \a items as one vector (built outside the coroutines: g++ 12 rejects a
//! braced std::vector temporary inside a co_await expression, "array used as initializer").
template <typename... F>
std::vector<Future<int>> futuresOf(const F &...items)
{
    return std::vector<Future<int>>{ Future<int>(items)... };
}

//! What next() gave: the value, or "Type:message" for what it threw.
QString describeNext(const std::exception_ptr &e)
{
    try {
        std::rethrow_exception(e);
    } catch (const CancelledError &c) {
        return QStringLiteral("CancelledError:") + QString::fromStdString(c.message());
    } catch (const TimeoutError &) {
        return QStringLiteral("TimeoutError");
    } catch (const ValueError &v) {
        return QStringLiteral("ValueError:") + QString::fromUtf8(v.what());
    } catch (const MyError &m) {
        return QStringLiteral("MyError:") + QString::fromUtf8(m.what());
    } catch (...) {
        return QStringLiteral("unknown");
    }
}

} // namespace

class tst_Wait : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // wait()
    void allCompletedWaitsForEverything();
    void childErrorsStayInTheirFutures();
    void firstCompletedReturnsAtTheFirstCompletion();
    void firstCompletedTakesEverythingDoneInThatIteration();
    void firstExceptionReturnsAtTheFirstError();
    void firstExceptionWithoutAnErrorWaitsForAll();
    void firstExceptionIgnoresCancelledChildren();
    void timeoutReturnsPendingWithoutCancelling();
    void zeroTimeoutPollsOnce();
    void timeoutUnusedWhenEverythingFinishesFirst();
    void alreadyDoneFuturesReturnAtOnce();
    void emptySetRaisesValueError();
    void doneCallbacksAreRemovedAfterwards();
    void cancellingTheWaitingTaskLeavesChildrenRunning();
    void waitLeavesChildExceptionsUnretrieved();
    // asCompleted()
    void asCompletedYieldsInCompletionOrder();
    void asCompletedErrorsArriveWithTheirItem();
    void asCompletedCancelledChildRaisesCancelledError();
    void asCompletedTimeoutFailsTheRestWithoutCancelling();
    void asCompletedUnusedTimeoutNeverFires();
    void asCompletedAlreadyDoneFutures();
    void asCompletedExhaustedRaisesValueError();
    void asCompletedEmptyInputHasNothing();
    void asCompletedNextCountsWhenCalled();
    void asCompletedConcurrentNextCallsEachGetAResult();
};

void tst_Wait::allCompletedWaitsForEverything()
{
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(3s, 1)),
                                  f.loop.createTask(answerAfter(1s, 2)),
                                  f.loop.createTask(answerAfter(2s, 3)) };
    auto main = [&]() -> Coro<WaitResult<int>> { co_return co_await wait(tasks); };
    const auto r = f.loop.runUntilComplete(main());
    QCOMPARE(f.loop.time(), TimePoint(3s));
    QVERIFY(r.pending.empty());
    // Both sets keep the order the futures were given in.
    QCOMPARE(idsOf(r.done), idsOf<int>({ tasks[0], tasks[1], tasks[2] }));
    QCOMPARE(r.done[0].result() + r.done[1].result() * 10 + r.done[2].result() * 100, 321);
}

void tst_Wait::childErrorsStayInTheirFutures()
{
    // wait() never raises a child's error: it is in the child's future.
    Fixture f;
    auto ok = f.loop.createTask(answerAfter(2s, 1));
    auto bad = f.loop.createTask(failAfter(1s, "bad"));
    auto main = [&]() -> Coro<WaitResult<int>> {
        co_return co_await wait(futuresOf(ok, bad), ReturnWhen::AllCompleted);
    };
    const auto r = f.loop.runUntilComplete(main());
    QCOMPARE(r.done.size(), 2u);
    QCOMPARE(r.done[0].result(), 1);
    QVERIFY_THROWS_EXCEPTION(MyError, (void)r.done[1].result());
    QCOMPARE(f.loop.time(), TimePoint(2s));
}

void tst_Wait::firstCompletedReturnsAtTheFirstCompletion()
{
    Fixture f;
    bool c1 = false, c3 = false;
    auto slow = f.loop.createTask(watchCancel(3s, 1, c1));
    auto quick = f.loop.createTask(answerAfter(1s, 2));
    auto later = f.loop.createTask(watchCancel(2s, 3, c3));
    TimePoint returnedAt;
    auto main = [&]() -> Coro<WaitResult<int>> {
        auto r = co_await wait(futuresOf(slow, quick, later), ReturnWhen::FirstCompleted);
        returnedAt = f.loop.time();
        co_return r;
    };
    const auto r = f.loop.runUntilComplete(main());
    QCOMPARE(returnedAt, TimePoint(1s));
    QCOMPARE(idsOf(r.done), idsOf<int>({ quick }));
    QCOMPARE(idsOf(r.pending), idsOf<int>({ slow, later }));
    // Nothing was cancelled: the pending ones run on.
    QCOMPARE(f.loop.runUntilComplete(slow), 1);
    QCOMPARE(later.result(), 3);
    QVERIFY(!c1 && !c3);
    QCOMPARE(f.loop.time(), TimePoint(3s));
}

void tst_Wait::firstCompletedTakesEverythingDoneInThatIteration()
{
    // Two timers due at the same time complete in the same iteration; the waiting task wakes
    // after both, so both are done.
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(1s, 1)),
                                  f.loop.createTask(answerAfter(1s, 2)),
                                  f.loop.createTask(answerAfter(2s, 3)) };
    auto main = [&]() -> Coro<WaitResult<int>> {
        co_return co_await wait(tasks, ReturnWhen::FirstCompleted);
    };
    const auto r = f.loop.runUntilComplete(main());
    QCOMPARE(r.done.size(), 2u);
    QCOMPARE(idsOf(r.pending), idsOf<int>({ tasks[2] }));
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Wait::firstExceptionReturnsAtTheFirstError()
{
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(1s, 1)),
                                  f.loop.createTask(failAfter(2s, "boom")),
                                  f.loop.createTask(answerAfter(5s, 3)) };
    auto main = [&]() -> Coro<WaitResult<int>> {
        co_return co_await wait(tasks, ReturnWhen::FirstException);
    };
    const auto r = f.loop.runUntilComplete(main());
    QCOMPARE(f.loop.time(), TimePoint(2s));
    QCOMPARE(idsOf(r.done), idsOf<int>({ tasks[0], tasks[1] }));
    QCOMPARE(idsOf(r.pending), idsOf<int>({ tasks[2] }));
    QVERIFY(!tasks[2].cancelled());
    QVERIFY_THROWS_EXCEPTION(MyError, (void)r.done[1].result());
    QCOMPARE(f.loop.runUntilComplete(tasks[2]), 3);
}

void tst_Wait::firstExceptionWithoutAnErrorWaitsForAll()
{
    // FIRST_EXCEPTION with no exception behaves like ALL_COMPLETED.
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(1s, 1)),
                                  f.loop.createTask(answerAfter(4s, 2)) };
    auto main = [&]() -> Coro<WaitResult<int>> {
        co_return co_await wait(tasks, ReturnWhen::FirstException);
    };
    const auto r = f.loop.runUntilComplete(main());
    QCOMPARE(r.done.size(), 2u);
    QVERIFY(r.pending.empty());
    QCOMPARE(f.loop.time(), TimePoint(4s));
}

void tst_Wait::firstExceptionIgnoresCancelledChildren()
{
    // A cancelled child is not an exception for FIRST_EXCEPTION.
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(10s, 1)),
                                  f.loop.createTask(answerAfter(3s, 2)) };
    f.loop.callLater(1s, [&] { tasks[0].cancel(); });
    auto main = [&]() -> Coro<WaitResult<int>> {
        co_return co_await wait(tasks, ReturnWhen::FirstException);
    };
    const auto r = f.loop.runUntilComplete(main());
    QCOMPARE(r.done.size(), 2u);
    QVERIFY(r.done[0].cancelled());
    QCOMPARE(f.loop.time(), TimePoint(3s));
}

void tst_Wait::timeoutReturnsPendingWithoutCancelling()
{
    Fixture f;
    bool cancelled = false;
    auto quick = f.loop.createTask(answerAfter(1s, 1));
    auto slow = f.loop.createTask(watchCancel(5s, 2, cancelled));
    TimePoint returnedAt;
    auto main = [&]() -> Coro<WaitResult<int>> {
        auto r = co_await wait(futuresOf(quick, slow), ReturnWhen::AllCompleted, 2s);
        returnedAt = f.loop.time();
        co_return r;
    };
    const auto r = f.loop.runUntilComplete(main());
    QCOMPARE(returnedAt, TimePoint(2s)); // no TimeoutError: the timeout only ends the wait
    QCOMPARE(idsOf(r.done), idsOf<int>({ quick }));
    QCOMPARE(idsOf(r.pending), idsOf<int>({ slow }));
    QVERIFY(!slow.done());
    QCOMPARE(f.loop.runUntilComplete(slow), 2);
    QVERIFY(!cancelled);
    QCOMPARE(f.loop.time(), TimePoint(5s));
}

void tst_Wait::zeroTimeoutPollsOnce()
{
    Fixture f;
    Future<int> done(f.loop), never(f.loop);
    done.setResult(1);
    auto main = [&]() -> Coro<WaitResult<int>> {
        co_return co_await wait(futuresOf(done, never), ReturnWhen::AllCompleted, 0s);
    };
    const auto r = f.loop.runUntilComplete(main());
    QCOMPARE(idsOf(r.done), idsOf<int>({ done }));
    QCOMPARE(idsOf(r.pending), idsOf<int>({ never }));
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Wait::timeoutUnusedWhenEverythingFinishesFirst()
{
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(1s, 1)) };
    TimePoint returnedAt, afterSleep;
    auto main = [&]() -> Coro<std::size_t> {
        auto r = co_await wait(tasks, ReturnWhen::AllCompleted, 10s);
        returnedAt = f.loop.time();
        co_await loopscope::sleep(1s);
        afterSleep = f.loop.time();
        co_return r.pending.size();
    };
    QCOMPARE(f.loop.runUntilComplete(main()), 0u);
    QCOMPARE(returnedAt, TimePoint(1s));
    QCOMPARE(afterSleep, TimePoint(2s));
}

void tst_Wait::alreadyDoneFuturesReturnAtOnce()
{
    Fixture f;
    Future<int> a(f.loop), b(f.loop);
    a.setResult(1);
    b.setException(MyError("early"));
    auto main = [&]() -> Coro<WaitResult<int>> {
        co_return co_await wait(futuresOf(a, b), ReturnWhen::FirstCompleted);
    };
    const auto r = f.loop.runUntilComplete(main());
    QCOMPARE(r.done.size(), 2u);
    QVERIFY(r.pending.empty());
    QCOMPARE(f.loop.time(), TimePoint(0s));
    (void)b.exception();
}

void tst_Wait::emptySetRaisesValueError()
{
    Fixture f;
    auto main = [&]() -> Coro<QString> {
        try {
            (void)co_await wait(std::vector<Future<int>>{});
        } catch (const ValueError &e) {
            co_return QString::fromUtf8(e.what());
        }
        co_return QString();
    };
    QVERIFY(f.loop.runUntilComplete(main()).contains(QStringLiteral("must not be empty")));
}

void tst_Wait::doneCallbacksAreRemovedAfterwards()
{
    // Python's `finally: f.remove_done_callback(_on_completion)`. A callback left on a pending
    // future shows once the loop is closed: completing the future then reports the callbacks
    // it had to drop.
    Fixture f;
    Future<int> quick(f.loop), afterFirst(f.loop), afterTimeout(f.loop), control(f.loop);
    f.loop.callLater(1s, [&] { quick.setResult(1); });
    control.addDoneCallback([] {});
    auto main = [&]() -> Coro<std::size_t> {
        auto r1 = co_await wait(futuresOf(quick, afterFirst), ReturnWhen::FirstCompleted);
        auto r2 = co_await wait(futuresOf(afterTimeout), ReturnWhen::AllCompleted, 1s);
        co_return r1.pending.size() + r2.pending.size();
    };
    QCOMPARE(f.loop.runUntilComplete(main()), 2u);
    QCOMPARE(f.loop.time(), TimePoint(2s));
    f.loop.close();
    QVERIFY(f.reports.empty());
    afterFirst.setResult(2);
    afterTimeout.setResult(3);
    QVERIFY2(f.reports.empty(), qPrintable(f.reportMessages().join(QLatin1Char('\n'))));
    control.setResult(4); // the method works: its own callback is reported as dropped
    QCOMPARE(f.reportMessages(),
             QStringList{ QStringLiteral("1 done-callback(s) dropped: the event loop is closed") });
}

void tst_Wait::cancellingTheWaitingTaskLeavesChildrenRunning()
{
    Fixture f;
    bool c1 = false, c2 = false;
    auto t1 = f.loop.createTask(watchCancel(3s, 1, c1));
    auto t2 = f.loop.createTask(watchCancel(4s, 2, c2));
    auto main = [&]() -> Coro<void> { (void)co_await wait(futuresOf(t1, t2)); };
    auto waiter = f.loop.createTask(main());
    f.loop.callLater(1s, [&] { waiter.cancel("enough"); });
    try {
        f.loop.runUntilComplete(waiter);
        QFAIL("expected CancelledError");
    } catch (const CancelledError &e) {
        QCOMPARE(e.message(), std::string("enough"));
    }
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QVERIFY(waiter.cancelled());
    QVERIFY(!t1.done() && !t2.done());
    QCOMPARE(f.loop.allTasks().size(), 2u);
    QCOMPARE(f.loop.runUntilComplete(t2), 2);
    QCOMPARE(t1.result(), 1);
    QVERIFY(!c1 && !c2);
    QCOMPARE(f.loop.time(), TimePoint(4s));
}

void tst_Wait::waitLeavesChildExceptionsUnretrieved()
{
    // asyncio.wait() with ALL_COMPLETED or FIRST_COMPLETED never calls f.exception() (the
    // `or` chain in _on_completion stops first), so a failed task nobody looks at is still
    // reported as "Task exception was never retrieved" when it goes away.
    Fixture f;
    auto main = [&]() -> Coro<std::size_t> {
        auto failing = f.loop.createTask(failAfter(1s, "unseen"));
        auto other = f.loop.createTask(answerAfter(2s, 1));
        auto r = co_await wait(futuresOf(failing, other));
        co_return r.done.size();
    };
    QCOMPARE(f.loop.runUntilComplete(main()), 2u);
    QCOMPARE(f.reportMessages(),
             QStringList{ QStringLiteral("Task exception was never retrieved") });
}

void tst_Wait::asCompletedYieldsInCompletionOrder()
{
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(3s, 3)),
                                  f.loop.createTask(answerAfter(1s, 1)),
                                  f.loop.createTask(answerAfter(2s, 2)) };
    std::vector<int> values;
    std::vector<TimePoint> times;
    auto main = [&]() -> Coro<void> {
        auto it = asCompleted(tasks);
        while (it.hasNext()) {
            values.push_back(co_await it.next());
            times.push_back(f.loop.time());
        }
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(values, (std::vector<int>{ 1, 2, 3 }));
    QCOMPARE(times, (std::vector<TimePoint>{ TimePoint(1s), TimePoint(2s), TimePoint(3s) }));
}

void tst_Wait::asCompletedErrorsArriveWithTheirItem()
{
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(3s, 3)),
                                  f.loop.createTask(failAfter(2s, "second")),
                                  f.loop.createTask(answerAfter(1s, 1)) };
    QStringList got;
    auto main = [&]() -> Coro<void> {
        auto it = asCompleted(tasks);
        while (it.hasNext()) {
            try {
                got << QString::number(co_await it.next());
            } catch (const MyError &e) {
                got << QStringLiteral("MyError:") + QString::fromUtf8(e.what());
            }
        }
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(got,
             (QStringList{ QStringLiteral("1"), QStringLiteral("MyError:second"),
                           QStringLiteral("3") }));
    QVERIFY(f.reports.empty());
}

void tst_Wait::asCompletedCancelledChildRaisesCancelledError()
{
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(2s, 2)),
                                  f.loop.createTask(answerAfter(10s, 0)) };
    f.loop.callLater(1s, [&] { tasks[1].cancel("dropped"); });
    QStringList got;
    auto main = [&]() -> Coro<void> {
        auto it = asCompleted(tasks);
        while (it.hasNext()) {
            std::exception_ptr error;
            try {
                got << QString::number(co_await it.next());
            } catch (...) {
                error = std::current_exception();
            }
            if (error)
                got << describeNext(error);
        }
    };
    auto consumer = f.loop.createTask(main());
    f.loop.runUntilComplete(consumer);
    QCOMPARE(got, (QStringList{ QStringLiteral("CancelledError:dropped"), QStringLiteral("2") }));
    QVERIFY(!consumer.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(2s));
}

void tst_Wait::asCompletedTimeoutFailsTheRestWithoutCancelling()
{
    Fixture f;
    bool c2 = false, c3 = false;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(1s, 1)),
                                  f.loop.createTask(watchCancel(5s, 2, c2)),
                                  f.loop.createTask(watchCancel(6s, 3, c3)) };
    QStringList got;
    std::vector<TimePoint> times;
    auto main = [&]() -> Coro<void> {
        auto it = asCompleted(tasks, 2s);
        while (it.hasNext()) {
            std::exception_ptr error;
            try {
                got << QString::number(co_await it.next());
            } catch (...) {
                error = std::current_exception();
            }
            if (error)
                got << describeNext(error);
            times.push_back(f.loop.time());
        }
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(got,
             (QStringList{ QStringLiteral("1"), QStringLiteral("TimeoutError"),
                           QStringLiteral("TimeoutError") }));
    QCOMPARE(times, (std::vector<TimePoint>{ TimePoint(1s), TimePoint(2s), TimePoint(2s) }));
    QVERIFY(!tasks[1].done() && !tasks[2].done()); // not cancelled
    QCOMPARE(f.loop.runUntilComplete(tasks[2]), 3);
    QCOMPARE(tasks[1].result(), 2);
    QVERIFY(!c2 && !c3);
}

void tst_Wait::asCompletedUnusedTimeoutNeverFires()
{
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(2s, 2)),
                                  f.loop.createTask(answerAfter(1s, 1)) };
    std::vector<int> values;
    TimePoint afterSleep;
    auto main = [&]() -> Coro<void> {
        auto it = asCompleted(tasks, 10s);
        while (it.hasNext())
            values.push_back(co_await it.next());
        co_await loopscope::sleep(20s); // a timer left armed would show now: nothing may fail
        afterSleep = f.loop.time();
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(values, (std::vector<int>{ 1, 2 }));
    QCOMPARE(afterSleep, TimePoint(22s));
}

void tst_Wait::asCompletedAlreadyDoneFutures()
{
    Fixture f;
    Future<int> a(f.loop), b(f.loop), c(f.loop);
    b.setResult(2);
    a.setResult(1);
    f.loop.callLater(1s, [&] { c.setResult(3); });
    std::vector<int> values;
    auto main = [&]() -> Coro<void> {
        auto it = asCompleted(futuresOf(a, b, c));
        while (it.hasNext())
            values.push_back(co_await it.next());
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(values.size(), 3u);
    QCOMPARE(values[2], 3);
    QCOMPARE(values[0] + values[1], 3);
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Wait::asCompletedExhaustedRaisesValueError()
{
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(1s, 1)) };
    QString error;
    bool hasNextAtEnd = true;
    auto main = [&]() -> Coro<int> {
        auto it = asCompleted(tasks);
        const int value = co_await it.next();
        hasNextAtEnd = it.hasNext();
        try {
            (void)co_await it.next();
        } catch (const ValueError &e) {
            error = QString::fromUtf8(e.what());
        }
        co_return value;
    };
    QCOMPARE(f.loop.runUntilComplete(main()), 1);
    QVERIFY(!hasNextAtEnd);
    QVERIFY2(error.contains(QStringLiteral("no results left")), qPrintable(error));
}

void tst_Wait::asCompletedEmptyInputHasNothing()
{
    Fixture f;
    bool hasNext = true;
    auto main = [&]() -> Coro<void> {
        auto it = asCompleted(std::vector<Future<int>>{}, 1s);
        hasNext = it.hasNext();
        co_await loopscope::sleep(2s); // no timer was armed for an empty set
    };
    f.loop.runUntilComplete(main());
    QVERIFY(!hasNext);
    QCOMPARE(f.loop.time(), TimePoint(2s));
}

void tst_Wait::asCompletedNextCountsWhenCalled()
{
    // asyncio 3.13: `__next__` counts the item when it is called, so
    // `list(as_completed(fs))` gives exactly len(fs) awaitables. Here the loop
    // `while (it.hasNext()) items.push_back(it.next());` must end the same way.
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(1s, 1)),
                                  f.loop.createTask(answerAfter(2s, 2)) };
    bool hasNextAfterTakingAll = true;
    std::vector<int> values;
    auto main = [&]() -> Coro<void> {
        auto it = asCompleted(tasks);
        std::vector<Coro<int>> items;
        items.push_back(it.next());
        items.push_back(it.next());
        hasNextAfterTakingAll = it.hasNext();
        for (auto &item : items)
            values.push_back(co_await std::move(item));
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(values, (std::vector<int>{ 1, 2 }));
    QVERIFY2(!hasNextAfterTakingAll, "hasNext() still true after next() was called for every item");
}

void tst_Wait::asCompletedConcurrentNextCallsEachGetAResult()
{
    // asyncio's test_as_completed_concurrent: the awaitables the iterator gives may be awaited
    // concurrently (here each in its own task); each one gets one of the results.
    Fixture f;
    std::vector<Task<int>> tasks{ f.loop.createTask(answerAfter(1s, 1)),
                                  f.loop.createTask(answerAfter(2s, 2)) };
    std::vector<int> values;
    std::size_t stuck = 0;
    auto main = [&]() -> Coro<void> {
        auto it = asCompleted(tasks);
        auto first = f.loop.createTask(it.next());
        auto second = f.loop.createTask(it.next());
        // Bounded: an item that is never woken up must not hang the test.
        auto r = co_await wait(futuresOf(first, second), ReturnWhen::AllCompleted, 10s);
        for (const auto &d : r.done)
            values.push_back(d.result());
        stuck = r.pending.size();
        for (auto &p : r.pending)
            p.cancel();
        co_await loopscope::sleep(0s);
    };
    f.loop.runUntilComplete(main());
    std::sort(values.begin(), values.end());
    QCOMPARE(stuck, 0u);
    QCOMPARE(values, (std::vector<int>{ 1, 2 }));
    QCOMPARE(f.loop.time(), TimePoint(2s));
}

QTEST_GUILESS_MAIN(tst_Wait)
#include "tst_wait.moc"
