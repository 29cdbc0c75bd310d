// Tests of the timeout()/timeoutAt() scopes, the Timeout handle and waitFor(), against
// asyncio.timeout / asyncio.timeout_at / asyncio.wait_for as CPython's test_timeouts.py and
// test_waitfor.py check them: only the scope's own cancellation becomes TimeoutError (the
// cancelling()/uncancel() protocol), scopes nest, deadlines move, and waitFor() cancels its
// awaitable *and waits for it* (the virtual clock shows the cleanup time).

#include <loopscope/loopscope.h>

#include <QStringList>
#include <QTest>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using loopscope::CancelledError;
using loopscope::Coro;
using loopscope::currentTask;
using loopscope::Duration;
using loopscope::EventLoop;
using loopscope::ExceptionContext;
using loopscope::Future;
using loopscope::RuntimeError;
using loopscope::Task;
using loopscope::TaskRef;
using loopscope::Timeout;
using loopscope::timeout;
using loopscope::timeoutAt;
using loopscope::TimeoutError;
using loopscope::TimePoint;
using loopscope::VirtualClock;
using loopscope::waitFor;

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

    std::vector<ExceptionContext> reports;
    std::shared_ptr<VirtualClock> clock = std::make_shared<VirtualClock>();
    EventLoop loop{ clock };
};

QString describe(const std::exception_ptr &e)
{
    try {
        std::rethrow_exception(e);
    } catch (const CancelledError &c) {
        return QStringLiteral("CancelledError:") + QString::fromStdString(c.message());
    } catch (const TimeoutError &) {
        return QStringLiteral("TimeoutError");
    } catch (const RuntimeError &r) {
        return QStringLiteral("RuntimeError:") + QString::fromUtf8(r.what());
    } catch (const MyError &m) {
        return QStringLiteral("MyError:") + QString::fromUtf8(m.what());
    } catch (...) {
        return QStringLiteral("unknown");
    }
}

//! Awaits \a body and says how it ended: "value:<n>", "ok" (void) or what it threw. Catching
//! here keeps the calling task alive, so the test can look at it afterwards.
template <typename T>
Coro<QString> outcomeOf(Coro<T> body)
{
    std::exception_ptr error;
    QString result;
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(body);
            result = QStringLiteral("ok");
        } else {
            result = QStringLiteral("value:") + QString::number(co_await std::move(body));
        }
    } catch (...) {
        error = std::current_exception();
    }
    if (error)
        co_return describe(error);
    co_return result;
}

//! Runs \a coro outside of any task (as asyncio's await_without_task) and returns what it
//! threw. The scopes refuse to start there, so it ends without suspending.
template <typename T>
std::exception_ptr runOutsideOfATask(Coro<T> coro)
{
    auto handle = coro.release();
    handle.resume();
    if (!handle.done())
        return nullptr; // suspended: leak the frame rather than destroy one still referenced
    std::exception_ptr error = handle.promise().exception();
    handle.destroy();
    return error;
}

Coro<int> immediate(int value)
{
    co_return value;
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

//! Sleeps \a d; \a cancelled says whether a cancellation reached it.
Coro<int> watchCancel(Duration d, bool &cancelled)
{
    try {
        co_await loopscope::sleep(d);
    } catch (const CancelledError &) {
        cancelled = true;
        throw;
    }
    co_return 1;
}

//! On cancellation, needs \a cleanup of (virtual) time before it lets CancelledError out.
Coro<int> cleanupAfterCancel(Duration d, Duration cleanup, bool &cleanedUp)
{
    bool cancelled = false;
    try {
        co_await loopscope::sleep(d);
    } catch (const CancelledError &) {
        cancelled = true; // no co_await in a handler: clean up after it
    }
    if (cancelled) {
        co_await loopscope::sleep(cleanup);
        cleanedUp = true;
        throw CancelledError();
    }
    co_return 1;
}

//! Swallows a cancellation and returns \a onCancel instead.
Coro<int> swallowCancel(Duration d, int onCancel)
{
    try {
        co_await loopscope::sleep(d);
    } catch (const CancelledError &) {
        co_return onCancel;
    }
    co_return 0;
}

//! Turns a cancellation into MyError(\a what).
Coro<int> failOnCancel(Duration d, std::string what)
{
    try {
        co_await loopscope::sleep(d);
    } catch (const CancelledError &) {
        throw MyError(what);
    }
    co_return 0;
}

//! Cancels its own task, then sleeps (asyncio: current_task().cancel(); await sleep()).
Coro<int> cancelSelfThenSleep(Duration d)
{
    currentTask().cancel();
    co_await loopscope::sleep(d);
    co_return 0;
}

//! A scope body that moves its deadline first. Takes the Timeout by value: it lives in the
//! coroutine frame.
Coro<int> rescheduleThenSleep(Timeout cm, std::optional<TimePoint> when, Duration d, int value)
{
    cm.reschedule(when);
    co_await loopscope::sleep(d);
    co_return value;
}

Coro<int> pastThenBackThenSleep(Timeout cm, EventLoop &loop, Duration d)
{
    cm.reschedule(loop.time() - 1s); // expires on the next iteration...
    cm.reschedule(loop.time() + 10s); // ...unless the deadline moves again first
    co_await loopscope::sleep(d);
    co_return 3;
}

//! Runs an inner scope that times out, catches its TimeoutError and carries on.
Coro<QString> innerTimesOutThenContinue()
{
    QString inner = QStringLiteral("no timeout");
    try {
        co_await timeout(1s, answerAfter(10s, 0));
    } catch (const TimeoutError &) {
        inner = QStringLiteral("inner TimeoutError");
    }
    co_await loopscope::sleep(1s);
    co_return inner;
}

//! An inner scope whose handle is kept in \a handle; \a saw tells what left it.
Coro<int> innerScope(std::optional<TimePoint> when, std::optional<Timeout> &handle, QString &saw)
{
    std::exception_ptr error;
    try {
        co_return co_await timeoutAt(when, [&handle](Timeout &t) {
            handle = t;
            return answerAfter(10s, 0);
        });
    } catch (...) {
        error = std::current_exception();
    }
    saw = describe(error);
    std::rethrow_exception(error);
}

//! Counts the closures alive, to see whether a body factory outlives its coroutine.
int g_liveProbes = 0;
struct Probe
{
    Probe() { ++g_liveProbes; }
    Probe(const Probe &) { ++g_liveProbes; }
    Probe(Probe &&other) noexcept : owner(std::exchange(other.owner, false)) { }
    Probe &operator=(const Probe &) = delete;
    Probe &operator=(Probe &&) = delete;
    ~Probe()
    {
        if (owner)
            --g_liveProbes;
    }
    bool owner = true;
};

} // namespace

class tst_Timeout : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // timeout() / timeoutAt() / Timeout
    void expiryRaisesTimeoutError();
    void timeoutAtExpiresAtItsDeadline();
    void noExpiryReturnsTheValue();
    void nulloptMeansNoDeadline();
    void rescheduleLater();
    void rescheduleEarlier();
    void rescheduleToNulloptDisablesTheDeadline();
    void rescheduleFromOutsideTheTask();
    void rescheduleOutsideTheScopeRaisesRuntimeError();
    void rescheduleIntoThePastAndBackDoesNotExpire();
    void nestedInnerExpiryConvertsOnlyInTheInnerScope();
    void nestedOuterExpiryPassesThroughALaterInnerScope();
    void nestedScopesWithTheSameDeadline();
    void outsideCancelStaysCancelledError();
    void outsideCancelAtTheDeadlineStaysCancelledError();
    void cancellingIsRestoredAfterExpiry();
    void timeoutAfterASwallowedCancellation();
    void cancelInTimeoutAfterASwallowedCancellation();
    void outsideATaskRaisesRuntimeError();
    void pastDeadlineExpiresOnTheNextIteration();
    void zeroDelayExpiresBeforeALongSleep();
    void pastDeadlineBodyThatNeverSuspendsCompletes();
    void foreignExceptionPassesThrough();
    void foreignExceptionDuringExpiryWins();
    void bodySwallowingTheExpiryReturnsItsValue();
    void taskEndsNormallyAfterACaughtTimeout();
    void bodyFactoryStaysAliveWhileTheBodyRuns();
    // waitFor()
    void waitForResultBeforeTheTimeout();
    void waitForInnerFailureBeforeTheTimeout();
    void waitForTimeoutCancelsAndWaitsForTheInnerTask();
    void waitForTimeoutCancelsAndWaitsForACoroutine();
    void waitForTimeoutErrorIsAnErrorNotACancellation();
    void waitForInnerSwallowingCancellationReturnsItsValue();
    void waitForReraisesAnErrorRaisedDuringCancellation();
    void waitForFutureSetBeforeTheDeadline();
    void waitForOuterCancelCancelsTheInner();
    void waitForOuterCancelWithoutLimitCancelsTheInner();
    void waitForZeroLimitWithADoneFuture();
    void waitForZeroLimitCancelsAndWaits();
    void waitForNegativeLimitActsAsZero();
    void waitForZeroLimitNeverStartsACoroutine();
    void waitForZeroLimitInnerReturningAValue();
    void waitForNulloptWaitsForever();
    void waitForCancelledBeforeItStartsLeavesTheInnerAlone();
    void waitForDoesNotSwallowALaterCancellation();
};

void tst_Timeout::expiryRaisesTimeoutError()
{
    Fixture f;
    bool bodyCancelled = false;
    std::optional<Timeout> cm;
    int cancellingAfter = -1;
    auto main = [&]() -> Coro<QString> {
        QString outcome = co_await outcomeOf(timeout(1s, [&](Timeout &t) {
            cm = t;
            return watchCancel(10s, bodyCancelled);
        }));
        cancellingAfter = currentTask().cancelling();
        co_return outcome;
    };
    auto task = f.loop.createTask(main());
    QCOMPARE(f.loop.runUntilComplete(task), QStringLiteral("TimeoutError"));
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QVERIFY(bodyCancelled); // the body saw a CancelledError, its caller a TimeoutError
    QVERIFY(cm->expired());
    QCOMPARE(cm->when(), std::optional<TimePoint>(TimePoint(1s)));
    QCOMPARE(cancellingAfter, 0);
    QVERIFY(!task.cancelled());
}

void tst_Timeout::timeoutAtExpiresAtItsDeadline()
{
    Fixture f;
    std::optional<Timeout> cm;
    auto main = [&]() -> Coro<QString> {
        co_await loopscope::sleep(1s);
        co_return co_await outcomeOf(timeoutAt(f.loop.time() + 2s, [&](Timeout &t) {
            cm = t;
            return answerAfter(10s, 0);
        }));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QCOMPARE(f.loop.time(), TimePoint(3s));
    QVERIFY(cm->expired());
    QCOMPARE(cm->when(), std::optional<TimePoint>(TimePoint(3s)));
}

void tst_Timeout::noExpiryReturnsTheValue()
{
    Fixture f;
    std::optional<Timeout> cm;
    auto main = [&]() -> Coro<int> {
        co_return co_await timeout(10s, [&](Timeout &t) {
            cm = t;
            return answerAfter(1s, 5);
        });
    };
    QCOMPARE(f.loop.runUntilComplete(main()), 5);
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QVERIFY(!cm->expired());
    QVERIFY(*cm->when() > f.loop.time());
    // The unused deadline left no timer behind that could cancel the task later.
    QCOMPARE(f.loop.runUntilComplete(answerAfter(20s, 1)), 1);
}

void tst_Timeout::nulloptMeansNoDeadline()
{
    Fixture f;
    std::optional<Timeout> a, b;
    auto main = [&]() -> Coro<int> {
        const int x = co_await timeout(std::nullopt, [&](Timeout &t) {
            a = t;
            return answerAfter(1h, 1);
        });
        const int y = co_await timeoutAt(std::nullopt, [&](Timeout &t) {
            b = t;
            return answerAfter(1h, 2);
        });
        co_return x + y;
    };
    QCOMPARE(f.loop.runUntilComplete(main()), 3);
    QCOMPARE(f.loop.time(), TimePoint(2h));
    QVERIFY(!a->when() && !b->when());
    QVERIFY(!a->expired() && !b->expired());
}

void tst_Timeout::rescheduleLater()
{
    Fixture f;
    std::optional<Timeout> cm;
    auto main = [&]() -> Coro<QString> {
        co_return co_await outcomeOf(timeout(1s, [&](Timeout &t) {
            cm = t;
            return rescheduleThenSleep(t, f.loop.time() + 5s, 3s, 7);
        }));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("value:7"));
    QCOMPARE(f.loop.time(), TimePoint(3s));
    QVERIFY(!cm->expired());
    QCOMPARE(cm->when(), std::optional<TimePoint>(TimePoint(5s)));
}

void tst_Timeout::rescheduleEarlier()
{
    Fixture f;
    std::optional<Timeout> cm;
    auto main = [&]() -> Coro<QString> {
        co_return co_await outcomeOf(timeout(10s, [&](Timeout &t) {
            cm = t;
            return rescheduleThenSleep(t, f.loop.time() + 1s, 3s, 7);
        }));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QVERIFY(cm->expired());
}

void tst_Timeout::rescheduleToNulloptDisablesTheDeadline()
{
    Fixture f;
    std::optional<Timeout> cm;
    auto main = [&]() -> Coro<QString> {
        co_return co_await outcomeOf(timeout(1s, [&](Timeout &t) {
            cm = t;
            return rescheduleThenSleep(t, std::nullopt, 3s, 8);
        }));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("value:8"));
    QCOMPARE(f.loop.time(), TimePoint(3s));
    QVERIFY(!cm->when());
    QVERIFY(!cm->expired());
}

void tst_Timeout::rescheduleFromOutsideTheTask()
{
    // asyncio's test_reschedule: the handle is moved from outside the task; cancelling the
    // task afterwards is a plain cancellation, not an expiry.
    Fixture f;
    std::optional<Timeout> cm;
    auto body = [&]() -> Coro<int> {
        co_return co_await timeoutAt(TimePoint(10s), [&](Timeout &t) {
            cm = t;
            return answerAfter(50s, 0);
        });
    };
    auto task = f.loop.createTask(body());
    std::vector<std::optional<TimePoint>> seen;
    f.loop.callLater(1s, [&] {
        seen.push_back(cm->when());
        cm->reschedule(TimePoint(30s));
        seen.push_back(cm->when());
        cm->reschedule(std::nullopt);
        seen.push_back(cm->when());
        task.cancel();
    });
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(task));
    QCOMPARE(seen,
             (std::vector<std::optional<TimePoint>>{ TimePoint(10s), TimePoint(30s),
                                                     std::nullopt }));
    QVERIFY(!cm->expired());
    QVERIFY(task.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Timeout::rescheduleOutsideTheScopeRaisesRuntimeError()
{
    Fixture f;
    std::optional<Timeout> exited, expired;
    QString beforeEntry;
    auto main = [&]() -> Coro<void> {
        (void)co_await timeout(5s, [&](Timeout &t) {
            exited = t;
            return immediate(1);
        });
        (void)co_await outcomeOf(timeout(1s, [&](Timeout &t) {
            expired = t;
            return answerAfter(5s, 1);
        }));
        try {
            // The factory runs (when the scope is awaited) before the scope is entered.
            (void)co_await timeout(1s, [&](Timeout &t) {
                t.reschedule(TimePoint(3s));
                return immediate(1);
            });
        } catch (const RuntimeError &e) {
            beforeEntry = QString::fromUtf8(e.what());
        }
    };
    f.loop.runUntilComplete(main());
    try {
        exited->reschedule(TimePoint(20s));
        QFAIL("expected RuntimeError");
    } catch (const RuntimeError &e) {
        QVERIFY2(QByteArray(e.what()).contains("exited"), e.what());
    }
    try {
        expired->reschedule(TimePoint(20s));
        QFAIL("expected RuntimeError");
    } catch (const RuntimeError &e) {
        QVERIFY2(QByteArray(e.what()).contains("expired"), e.what());
    }
    QVERIFY2(beforeEntry.contains(QStringLiteral("has not been entered")), qPrintable(beforeEntry));
    QCOMPARE(exited->when(), std::optional<TimePoint>(TimePoint(5s)));
}

void tst_Timeout::rescheduleIntoThePastAndBackDoesNotExpire()
{
    // asyncio keeps the call_soon handle of a past deadline in _timeout_handler, so the next
    // reschedule() cancels it. The deadline that counts is the last one.
    Fixture f;
    std::optional<Timeout> cm;
    auto main = [&]() -> Coro<QString> {
        co_return co_await outcomeOf(timeout(5s, [&](Timeout &t) {
            cm = t;
            return pastThenBackThenSleep(t, f.loop, 1s);
        }));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("value:3"));
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QVERIFY(!cm->expired());
}

void tst_Timeout::nestedInnerExpiryConvertsOnlyInTheInnerScope()
{
    Fixture f;
    std::optional<Timeout> outer;
    auto main = [&]() -> Coro<QString> {
        co_return co_await timeout(5s, [&](Timeout &t) {
            outer = t;
            return innerTimesOutThenContinue();
        });
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("inner TimeoutError"));
    QCOMPARE(f.loop.time(), TimePoint(2s));
    QVERIFY(!outer->expired());
}

void tst_Timeout::nestedOuterExpiryPassesThroughALaterInnerScope()
{
    Fixture f;
    std::optional<Timeout> outer, inner;
    QString innerSaw;
    auto main = [&]() -> Coro<QString> {
        co_return co_await outcomeOf(timeout(1s, [&](Timeout &t) {
            outer = t;
            return innerScope(f.loop.time() + 5s, inner, innerSaw);
        }));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    // The inner scope did not expire: it let the CancelledError through unchanged.
    QCOMPARE(innerSaw, QStringLiteral("CancelledError:"));
    QVERIFY(!inner->expired());
    QVERIFY(outer->expired());
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Timeout::nestedScopesWithTheSameDeadline()
{
    // asyncio's test_nested_timeouts: both expire, both cancel the task; the inner one finds
    // a cancel request that is not its own left and lets CancelledError through, the outer
    // one converts it.
    Fixture f;
    std::optional<Timeout> outer, inner;
    QString innerSaw;
    int cancellingAfter = -1;
    auto main = [&]() -> Coro<QString> {
        QString outcome = co_await outcomeOf(timeoutAt(TimePoint(1s), [&](Timeout &t) {
            outer = t;
            return innerScope(TimePoint(1s), inner, innerSaw);
        }));
        cancellingAfter = currentTask().cancelling();
        co_return outcome;
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QCOMPARE(innerSaw, QStringLiteral("CancelledError:"));
    QVERIFY(inner->expired());
    QVERIFY(outer->expired());
    QCOMPARE(cancellingAfter, 0);
}

void tst_Timeout::outsideCancelStaysCancelledError()
{
    Fixture f;
    std::optional<Timeout> cm;
    auto main = [&]() -> Coro<int> {
        co_return co_await timeout(10s, [&](Timeout &t) {
            cm = t;
            return cancelSelfThenSleep(10s);
        });
    };
    auto task = f.loop.createTask(main());
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(task));
    QVERIFY(task.cancelled());
    QVERIFY(!cm->expired());
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Timeout::outsideCancelAtTheDeadlineStaysCancelledError()
{
    // The deadline passes and someone else cancels the task in the same iteration: two cancel
    // requests, one not the scope's, so the cancellation goes on (asyncio: uncancel() > 0).
    Fixture f;
    std::optional<Timeout> cm;
    auto main = [&]() -> Coro<int> {
        co_return co_await timeout(1s, [&](Timeout &t) {
            cm = t;
            f.loop.callLater(1s, [task = currentTask()]() mutable { task.cancel("outside"); });
            return answerAfter(10s, 0);
        });
    };
    auto task = f.loop.createTask(main());
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(task));
    QVERIFY(cm->expired());
    QVERIFY(task.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Timeout::cancellingIsRestoredAfterExpiry()
{
    Fixture f;
    std::vector<int> cancelling;
    auto main = [&]() -> Coro<QString> {
        cancelling.push_back(currentTask().cancelling());
        QString outcome = co_await outcomeOf(timeout(1s, answerAfter(10s, 0)));
        cancelling.push_back(currentTask().cancelling());
        co_await loopscope::sleep(1s); // no cancel request is left over to hit this sleep
        co_return outcome;
    };
    auto task = f.loop.createTask(main());
    QCOMPARE(f.loop.runUntilComplete(task), QStringLiteral("TimeoutError"));
    QCOMPARE(cancelling, (std::vector<int>{ 0, 0 }));
    QCOMPARE(task.cancelling(), 0);
    QCOMPARE(f.loop.time(), TimePoint(2s));
}

void tst_Timeout::timeoutAfterASwallowedCancellation()
{
    // asyncio's test_timeout_after_cancellation: a cancel request swallowed before the scope
    // (cancelling() stays 1) does not stop the scope from converting its own.
    Fixture f;
    std::vector<int> cancelling;
    auto main = [&]() -> Coro<QString> {
        currentTask().cancel();
        try {
            co_await loopscope::sleep(1s);
        } catch (const CancelledError &) {
        }
        cancelling.push_back(currentTask().cancelling());
        QString outcome = co_await outcomeOf(timeout(0s, answerAfter(1s, 0)));
        cancelling.push_back(currentTask().cancelling());
        co_return outcome;
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QCOMPARE(cancelling, (std::vector<int>{ 1, 1 }));
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Timeout::cancelInTimeoutAfterASwallowedCancellation()
{
    // asyncio's test_cancel_in_timeout_after_cancellation.
    Fixture f;
    std::optional<Timeout> cm;
    auto main = [&]() -> Coro<QString> {
        currentTask().cancel();
        try {
            co_await loopscope::sleep(1s);
        } catch (const CancelledError &) {
        }
        co_return co_await outcomeOf(timeout(1s, [&](Timeout &t) {
            cm = t;
            return cancelSelfThenSleep(2s);
        }));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("CancelledError:"));
    QVERIFY(!cm->expired());
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Timeout::outsideATaskRaisesRuntimeError()
{
    Fixture f;
    std::optional<Timeout> cm;
    const QString error = describe(runOutsideOfATask(timeout(1s, [&](Timeout &t) {
        cm = t;
        return immediate(1);
    })));
    QVERIFY2(error.startsWith(QStringLiteral("RuntimeError:")), qPrintable(error));
    QVERIFY2(error.contains(QStringLiteral("inside a task")), qPrintable(error));
    // The scope was never entered.
    try {
        cm->reschedule(TimePoint(2s));
        QFAIL("expected RuntimeError");
    } catch (const RuntimeError &e) {
        QVERIFY2(QByteArray(e.what()).contains("has not been entered"), e.what());
    }
    QVERIFY(describe(runOutsideOfATask(timeoutAt(std::nullopt, immediate(2))))
                    .startsWith(QStringLiteral("RuntimeError:")));
}

void tst_Timeout::pastDeadlineExpiresOnTheNextIteration()
{
    // asyncio's test_timeout_in_the_past_sleep_zero: even sleep(0) is too long.
    Fixture f;
    std::optional<Timeout> cm;
    bool reached = false;
    auto body = [&]() -> Coro<int> {
        co_await loopscope::sleep(0s);
        reached = true;
        co_return 1;
    };
    auto main = [&]() -> Coro<QString> {
        co_await loopscope::sleep(5s);
        co_return co_await outcomeOf(timeout(-1s, [&](Timeout &t) {
            cm = t;
            return body();
        }));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QVERIFY(!reached);
    QVERIFY(cm->expired());
    QCOMPARE(cm->when(), std::optional<TimePoint>(TimePoint(4s)));
    QCOMPARE(f.loop.time(), TimePoint(5s));
}

void tst_Timeout::zeroDelayExpiresBeforeALongSleep()
{
    // asyncio's test_timeout_zero.
    Fixture f;
    auto main = [&]() -> Coro<QString> {
        co_return co_await outcomeOf(timeout(0s, answerAfter(10s, 0)));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Timeout::pastDeadlineBodyThatNeverSuspendsCompletes()
{
    // The expiry was only scheduled: a body done before the next iteration wins, and the
    // scheduled expiry must not cancel the task after the scope is gone.
    Fixture f;
    std::optional<Timeout> cm;
    auto main = [&]() -> Coro<int> {
        const int v = co_await timeout(-1s, [&](Timeout &t) {
            cm = t;
            return immediate(6);
        });
        co_await loopscope::sleep(1s);
        co_return v;
    };
    auto task = f.loop.createTask(main());
    QCOMPARE(f.loop.runUntilComplete(task), 6);
    QVERIFY(!cm->expired());
    QCOMPARE(task.cancelling(), 0);
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Timeout::foreignExceptionPassesThrough()
{
    Fixture f;
    std::optional<Timeout> cm;
    auto main = [&]() -> Coro<QString> {
        co_return co_await outcomeOf(timeout(10s, [&](Timeout &t) {
            cm = t;
            return failAfter(1s, "own error");
        }));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("MyError:own error"));
    QVERIFY(!cm->expired());
}

void tst_Timeout::foreignExceptionDuringExpiryWins()
{
    // asyncio's test_foreign_exception_on_timeout: an error raised while handling the
    // cancellation goes out as it is, not as TimeoutError.
    Fixture f;
    std::optional<Timeout> cm;
    int cancellingAfter = -1;
    auto main = [&]() -> Coro<QString> {
        QString outcome = co_await outcomeOf(timeout(1s, [&](Timeout &t) {
            cm = t;
            return failOnCancel(10s, "cleanup failed");
        }));
        cancellingAfter = currentTask().cancelling();
        co_return outcome;
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("MyError:cleanup failed"));
    QVERIFY(cm->expired());
    QCOMPARE(cancellingAfter, 0);
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Timeout::bodySwallowingTheExpiryReturnsItsValue()
{
    Fixture f;
    std::optional<Timeout> cm;
    int cancellingAfter = -1;
    TimePoint afterSleep;
    auto main = [&]() -> Coro<int> {
        const int v = co_await timeout(1s, [&](Timeout &t) {
            cm = t;
            return swallowCancel(10s, 42);
        });
        cancellingAfter = currentTask().cancelling();
        co_await loopscope::sleep(1s);
        afterSleep = f.loop.time();
        co_return v;
    };
    QCOMPARE(f.loop.runUntilComplete(main()), 42);
    QVERIFY(cm->expired());
    QCOMPARE(cancellingAfter, 0);
    QCOMPARE(afterSleep, TimePoint(2s));
}

void tst_Timeout::taskEndsNormallyAfterACaughtTimeout()
{
    // asyncio's test_outer_task_is_not_cancelled.
    Fixture f;
    auto main = [&]() -> Coro<QString> {
        co_return co_await outcomeOf(timeout(1ms, answerAfter(10s, 0)));
    };
    auto task = f.loop.createTask(main());
    QCOMPARE(f.loop.runUntilComplete(task), QStringLiteral("TimeoutError"));
    QVERIFY(task.done());
    QVERIFY(!task.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(1ms));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_Timeout::bodyFactoryStaysAliveWhileTheBodyRuns()
{
    // The natural way to use the handle is a coroutine lambda. Its captures (and the Timeout&
    // it is given) live in the factory object, so the factory must outlive the coroutine it
    // returned, as withTaskGroup() keeps its body alive. This probe only counts live copies of
    // the factory; it never touches one that is gone.
    Fixture f;
    g_liveProbes = 0;
    auto main = [&]() -> Coro<int> {
        // Named, not a temporary inside the co_await expression: g++ 12 destroys a lambda
        // temporary with init-captures twice there (clang does not).
        auto factory = [probe = Probe()](Timeout &) -> Coro<int> {
            co_await loopscope::sleep(1s);
            co_return g_liveProbes; // the factory this coroutine belongs to is still alive
        };
        Coro<int> scope = timeout(5s, std::move(factory));
        co_return co_await std::move(scope);
    };
    const int liveWhileRunning = f.loop.runUntilComplete(main());
    QCOMPARE(g_liveProbes, 0);
    QCOMPARE(liveWhileRunning, 1);
}

void tst_Timeout::waitForResultBeforeTheTimeout()
{
    Fixture f;
    auto main = [&]() -> Coro<int> { co_return co_await waitFor(answerAfter(1s, 5), 3s); };
    QCOMPARE(f.loop.runUntilComplete(main()), 5);
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_Timeout::waitForInnerFailureBeforeTheTimeout()
{
    Fixture f;
    auto main = [&]() -> Coro<QString> {
        co_return co_await outcomeOf(waitFor(failAfter(1s, "inner"), 3s));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("MyError:inner"));
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QVERIFY(f.reports.empty());
}

void tst_Timeout::waitForTimeoutCancelsAndWaitsForTheInnerTask()
{
    // asyncio's test_wait_for_waits_for_task_cancellation: the inner needs 1 s to clean up
    // after the cancellation; waitFor() returns only then.
    Fixture f;
    bool cleanedUp = false;
    auto inner = f.loop.createTask(cleanupAfterCancel(10s, 1s, cleanedUp));
    bool cleanedUpWhenTimeoutRaised = false;
    auto main = [&]() -> Coro<QString> {
        QString outcome = co_await outcomeOf(waitFor(inner, 2s));
        cleanedUpWhenTimeoutRaised = cleanedUp && inner.done();
        co_return outcome;
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QCOMPARE(f.loop.time(), TimePoint(3s)); // 2 s limit + 1 s cleanup
    QVERIFY(cleanedUpWhenTimeoutRaised);
    QVERIFY(inner.cancelled());
}

void tst_Timeout::waitForTimeoutCancelsAndWaitsForACoroutine()
{
    Fixture f;
    bool cleanedUp = false;
    auto main = [&]() -> Coro<QString> {
        co_return co_await outcomeOf(waitFor(cleanupAfterCancel(10s, 1s, cleanedUp), 2s));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QVERIFY(cleanedUp);
    QCOMPARE(f.loop.time(), TimePoint(3s));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_Timeout::waitForTimeoutErrorIsAnErrorNotACancellation()
{
    // TimeoutError is an ordinary error (Python: builtin TimeoutError, an Exception): a
    // generic std::exception handler sees it, and the waiting task is not cancelled.
    Fixture f;
    QString caught;
    int cancellingAfter = -1;
    auto main = [&]() -> Coro<void> {
        try {
            (void)co_await waitFor(answerAfter(10s, 0), 1s);
        } catch (const std::exception &e) {
            caught = QString::fromUtf8(e.what());
        }
        cancellingAfter = currentTask().cancelling();
    };
    auto task = f.loop.createTask(main());
    f.loop.runUntilComplete(task);
    QVERIFY(!caught.isEmpty());
    QCOMPARE(cancellingAfter, 0);
    QVERIFY(!task.cancelled());
    static_assert(std::is_base_of_v<loopscope::Error, TimeoutError>);
}

void tst_Timeout::waitForInnerSwallowingCancellationReturnsItsValue()
{
    // asyncio's test_wait_for_cancel_suppressed (gh-84849).
    Fixture f;
    auto main = [&]() -> Coro<int> { co_return co_await waitFor(swallowCancel(10s, 42), 1s); };
    QCOMPARE(f.loop.runUntilComplete(main()), 42);
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Timeout::waitForReraisesAnErrorRaisedDuringCancellation()
{
    // asyncio's test_wait_for_reraises_exception_during_cancellation.
    Fixture f;
    auto inner = f.loop.createTask(failOnCancel(10s, "in cleanup"));
    auto main = [&]() -> Coro<QString> { co_return co_await outcomeOf(waitFor(inner, 1s)); };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("MyError:in cleanup"));
    QVERIFY(inner.done() && !inner.cancelled());
}

void tst_Timeout::waitForFutureSetBeforeTheDeadline()
{
    // asyncio's test_wait_for_race_condition.
    Fixture f;
    Future<QString> fut(f.loop);
    f.loop.callLater(1s, [&] { fut.setResult(QStringLiteral("ok")); });
    auto main = [&]() -> Coro<QString> { co_return co_await waitFor(fut, 2s); };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("ok"));
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Timeout::waitForOuterCancelCancelsTheInner()
{
    // Python issue #23219: cancelling the wait must also cancel the task.
    Fixture f;
    Future<int> never(f.loop);
    auto blocking = [&]() -> Coro<int> { co_return co_await never; };
    auto inner = f.loop.createTask(blocking());
    auto main = [&]() -> Coro<int> { co_return co_await waitFor(inner, 60s); };
    auto waiter = f.loop.createTask(main());
    f.loop.callLater(1s, [&] { waiter.cancel("stop"); });
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(waiter));
    QVERIFY(inner.cancelled());
    QVERIFY(waiter.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Timeout::waitForOuterCancelWithoutLimitCancelsTheInner()
{
    Fixture f;
    bool cancelled = false;
    auto inner = f.loop.createTask(watchCancel(1h, cancelled));
    auto main = [&]() -> Coro<int> { co_return co_await waitFor(inner, std::nullopt); };
    auto waiter = f.loop.createTask(main());
    f.loop.callLater(1s, [&] { waiter.cancel(); });
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(waiter));
    QVERIFY(cancelled);
    QVERIFY(inner.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Timeout::waitForZeroLimitWithADoneFuture()
{
    Fixture f;
    Future<QString> fut(f.loop);
    fut.setResult(QStringLiteral("done"));
    auto main = [&]() -> Coro<QString> { co_return co_await waitFor(fut, 0s); };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("done"));
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Timeout::waitForZeroLimitCancelsAndWaits()
{
    // asyncio's test_wait_for_timeout_less_then_0_or_0 and ..._w_timeout_0: the running
    // task is cancelled and waited for (its cleanup takes 1 s), then TimeoutError.
    Fixture f;
    bool cleanedUp = false;
    auto inner = f.loop.createTask(cleanupAfterCancel(10s, 1s, cleanedUp));
    auto main = [&]() -> Coro<QString> {
        co_await loopscope::sleep(0s); // the inner task has started
        co_return co_await outcomeOf(waitFor(inner, 0s));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QVERIFY(inner.cancelled());
    QVERIFY(cleanedUp);
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_Timeout::waitForNegativeLimitActsAsZero()
{
    Fixture f;
    bool cancelled = false;
    auto inner = f.loop.createTask(watchCancel(10s, cancelled));
    auto main = [&]() -> Coro<QString> {
        co_await loopscope::sleep(0s);
        co_return co_await outcomeOf(waitFor(inner, -1s));
    };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QVERIFY(cancelled);
    QVERIFY(inner.cancelled());
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Timeout::waitForZeroLimitNeverStartsACoroutine()
{
    // asyncio's test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started.
    Fixture f;
    bool started = false;
    auto foo = [&]() -> Coro<int> {
        started = true;
        co_return 1;
    };
    auto main = [&]() -> Coro<QString> { co_return co_await outcomeOf(waitFor(foo(), 0s)); };
    QCOMPARE(f.loop.runUntilComplete(main()), QStringLiteral("TimeoutError"));
    QVERIFY(!started);
    QCOMPARE(f.loop.time(), TimePoint(0s));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_Timeout::waitForZeroLimitInnerReturningAValue()
{
    // With a limit <= 0, asyncio returns fut.result() after the cancellation: a task that
    // swallows it and returns a value gives that value.
    Fixture f;
    auto inner = f.loop.createTask(swallowCancel(10s, 9));
    auto main = [&]() -> Coro<int> {
        co_await loopscope::sleep(0s);
        co_return co_await waitFor(inner, 0s);
    };
    QCOMPARE(f.loop.runUntilComplete(main()), 9);
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_Timeout::waitForNulloptWaitsForever()
{
    // asyncio's test_wait_for_blocking.
    Fixture f;
    auto main = [&]() -> Coro<int> {
        co_return co_await waitFor(answerAfter(1h, 1), std::nullopt);
    };
    QCOMPARE(f.loop.runUntilComplete(main()), 1);
    QCOMPARE(f.loop.time(), TimePoint(1h));
}

void tst_Timeout::waitForCancelledBeforeItStartsLeavesTheInnerAlone()
{
    // asyncio's test_wait_for_self_cancellation: the waiting task is cancelled before it ever
    // runs, so the inner task is never touched and returns its value.
    Fixture f;
    auto stubborn = [&]() -> Coro<int> {
        co_await loopscope::sleep(300ms);
        co_return 42;
    };
    auto inner = f.loop.createTask(stubborn());
    auto main = [&]() -> Coro<int> { co_return co_await waitFor(inner, 100ms); };
    auto waiter = f.loop.createTask(main());
    waiter.cancel();
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(waiter));
    QCOMPARE(f.loop.runUntilComplete(inner), 42);
    QCOMPARE(f.loop.time(), TimePoint(300ms));
}

void tst_Timeout::waitForDoesNotSwallowALaterCancellation()
{
    // asyncio's test_wait_for_issue86296: after a waitFor() that finished at once, a cancel of
    // the task reaches the next await.
    Fixture f;
    bool reachedEnd = false;
    auto main = [&]() -> Coro<void> {
        (void)co_await waitFor(immediate(1), 100s);
        co_await loopscope::sleep(1s);
        reachedEnd = true;
    };
    auto task = f.loop.createTask(main());
    f.loop.callLater(500ms, [&] { task.cancel(); });
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.loop.runUntilComplete(task));
    QVERIFY(!reachedEnd);
    QCOMPARE(f.loop.time(), TimePoint(500ms));
}

QTEST_GUILESS_MAIN(tst_Timeout)
#include "tst_timeout.moc"
