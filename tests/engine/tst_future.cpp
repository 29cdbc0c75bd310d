// Future<T> and Future<void>: states, results and errors, done-callbacks, the "exception was
// never retrieved" report, co_await on a done future, and the default loop of Future().

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QList>
#include <QTest>

#include <stdexcept>
#include <string>
#include <vector>

using namespace loopscope;
using namespace std::chrono_literals;

namespace {

//! Runs exactly one loop iteration: what is ready now runs, what that schedules does not.
void runOneIteration(EventLoop &loop)
{
    loop.callSoon([&loop] { loop.stop(); });
    loop.runForever();
}

QString qs(const std::string &s)
{
    return QString::fromStdString(s);
}

//! The message of the std::exception (or CancelledError) that \a e holds.
QString messageOf(const std::exception_ptr &e)
{
    try {
        std::rethrow_exception(e);
    } catch (const std::exception &x) {
        return QString::fromUtf8(x.what());
    } catch (const CancelledError &x) {
        return qs(x.message());
    } catch (...) {
        return QStringLiteral("<unknown>");
    }
}

std::vector<int> g_plainCalls;
void plainCallback(Future<int> f)
{
    g_plainCalls.push_back(f.result());
}
void otherPlainCallback(Future<int>)
{
    g_plainCalls.push_back(-1);
}

//! Awaits \a f (already done) and reports whether a callback scheduled just before the
//! co_await ran before the coroutine continued: it does only if the co_await suspended.
Coro<int> awaitDoneFuture(EventLoop *loop, Future<int> f, bool *otherRan, bool *otherRanFirst)
{
    loop->callSoon([otherRan] { *otherRan = true; });
    const int v = co_await f;
    *otherRanFirst = *otherRan;
    co_return v;
}

//! Awaits a done failed / cancelled future and turns what it throws into a string.
Coro<QString> awaitAndDescribe(Future<int> f)
{
    try {
        const int v = co_await f;
        co_return QStringLiteral("value %1").arg(v);
    } catch (const CancelledError &e) {
        co_return QStringLiteral("cancelled: ") + qs(e.message());
    } catch (const std::exception &e) {
        co_return QStringLiteral("error: ") + QString::fromUtf8(e.what());
    }
}

Coro<void> createFutureInTask(Future<int> *out)
{
    *out = Future<int>();
    co_return;
}

} // namespace

class tst_Future : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void pendingToFinished();
    void pendingToCancelled();
    void failedFuture();
    void voidFuture();
    void setResultTwiceKeepsFirst();
    void setExceptionTwiceKeepsFirst();
    void setAfterCancelThrows();
    void cancelOnDoneReturnsFalse();
    void doneCallbackIsScheduledNotInline();
    void doneCallbackAddedAfterCompletionIsScheduled();
    void doneCallbackOnCancel();
    void doneCallbacksRunInRegistrationOrder();
    void doneCallbackReceivesTheFuture();
    void removeDoneCallbackById();
    void removeDoneCallbackByFunctionPointer();
    void removeDoneCallbackAfterDoneRemovesNothing();
    void unretrievedExceptionIsReported();
    void retrievedExceptionIsNotReported_data();
    void retrievedExceptionIsNotReported();
    void awaitedExceptionIsNotReported();
    void coAwaitDoneFutureReturnsImmediately();
    void coAwaitDoneFailedOrCancelledFutureThrows();
    void defaultConstructorUsesCurrentLoop();
    void defaultConstructorWithoutLoopThrows();
};

void tst_Future::pendingToFinished()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> f(loop);
    QCOMPARE(f.status(), FutureStatus::Pending);
    QVERIFY(!f.done());
    QVERIFY(!f.cancelled());
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, f.result());
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, f.exception());

    f.setResult(42);
    QCOMPARE(f.status(), FutureStatus::Finished);
    QVERIFY(f.done());
    QVERIFY(!f.cancelled());
    QCOMPARE(f.result(), 42);
    QCOMPARE(f.result(), 42); // result() can be read again
    QVERIFY(!f.exception());

    // A copy is the same future.
    Future<int> copy = f;
    QVERIFY(copy == f);
    QCOMPARE(copy.result(), 42);
    QCOMPARE(copy.id(), f.id());
    QVERIFY(Future<int>(loop).id() != f.id());
}

void tst_Future::pendingToCancelled()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<QString> f = loop.createFuture<QString>();
    QVERIFY(f.cancel("stop it"));
    QCOMPARE(f.status(), FutureStatus::Cancelled);
    QVERIFY(f.done());
    QVERIFY(f.cancelled());

    bool caught = false;
    try {
        (void)f.result();
    } catch (const CancelledError &e) {
        caught = true;
        QCOMPARE(qs(e.message()), QStringLiteral("stop it"));
        QCOMPARE(QString::fromUtf8(e.what()), QStringLiteral("stop it"));
    }
    QVERIFY(caught);

    caught = false;
    try {
        (void)f.exception();
    } catch (const CancelledError &e) {
        caught = true;
        QCOMPARE(qs(e.message()), QStringLiteral("stop it"));
    }
    QVERIFY(caught);

    // Without a message the CancelledError has an empty message.
    Future<int> g(loop);
    QVERIFY(g.cancel());
    caught = false;
    try {
        (void)g.result();
    } catch (const CancelledError &e) {
        caught = true;
        QVERIFY(e.message().empty());
    }
    QVERIFY(caught);
}

void tst_Future::failedFuture()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> f(loop);
    f.setException(std::out_of_range("index 7"));
    QCOMPARE(f.status(), FutureStatus::Finished);
    QVERIFY(f.done());
    QVERIFY(!f.cancelled());

    // result() rethrows the stored exception with its own type and message.
    bool caught = false;
    try {
        (void)f.result();
    } catch (const std::out_of_range &e) {
        caught = true;
        QCOMPARE(QString::fromUtf8(e.what()), QStringLiteral("index 7"));
    }
    QVERIFY(caught);

    const std::exception_ptr e = f.exception();
    QVERIFY(e);
    QCOMPARE(messageOf(e), QStringLiteral("index 7"));
    QVERIFY_THROWS_EXCEPTION(std::out_of_range, std::rethrow_exception(e));

    // setException(exception_ptr) stores that very exception.
    Future<int> g(loop);
    const auto stored = std::make_exception_ptr(std::logic_error("via ptr"));
    g.setException(stored);
    QVERIFY(g.exception() == stored);

    // A null exception_ptr is refused and leaves the future pending.
    Future<int> h(loop);
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, h.setException(std::exception_ptr()));
    QVERIFY(!h.done());
}

void tst_Future::voidFuture()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<void> f = loop.createFuture();
    QCOMPARE(f.status(), FutureStatus::Pending);
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, f.result());
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, f.exception());
    f.setResult();
    QCOMPARE(f.status(), FutureStatus::Finished);
    f.result(); // does not throw
    QVERIFY(!f.exception());
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, f.setResult());
    QVERIFY(!f.cancel());

    Future<void> c(loop);
    QVERIFY(c.cancel("void cancel"));
    QVERIFY(c.cancelled());
    bool caught = false;
    try {
        c.result();
    } catch (const CancelledError &e) {
        caught = true;
        QCOMPARE(qs(e.message()), QStringLiteral("void cancel"));
    }
    QVERIFY(caught);

    Future<void> e(loop);
    e.setException(std::runtime_error("void failure"));
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, e.result());
    QCOMPARE(messageOf(e.exception()), QStringLiteral("void failure"));
}

void tst_Future::setResultTwiceKeepsFirst()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    int calls = 0;
    Future<int> f(loop);
    f.addDoneCallback([&calls] { ++calls; });
    f.setResult(1);
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, f.setResult(2));
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, f.setException(std::runtime_error("late")));
    QCOMPARE(f.result(), 1);
    QVERIFY(!f.exception());
    QCOMPARE(f.status(), FutureStatus::Finished);

    // The refused calls did not schedule the callbacks a second time.
    runOneIteration(loop);
    runOneIteration(loop);
    QCOMPARE(calls, 1);
}

void tst_Future::setExceptionTwiceKeepsFirst()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> f(loop);
    f.setException(std::runtime_error("first"));
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, f.setException(std::runtime_error("second")));
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, f.setResult(5));
    QCOMPARE(messageOf(f.exception()), QStringLiteral("first"));
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, f.result());
}

void tst_Future::setAfterCancelThrows()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> f(loop);
    QVERIFY(f.cancel("gone"));
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, f.setResult(1));
    QVERIFY_THROWS_EXCEPTION(InvalidStateError, f.setException(std::runtime_error("x")));
    QCOMPARE(f.status(), FutureStatus::Cancelled);
    QVERIFY_THROWS_EXCEPTION(CancelledError, f.result());
}

void tst_Future::cancelOnDoneReturnsFalse()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> finished(loop);
    finished.setResult(3);
    QVERIFY(!finished.cancel("too late"));
    QCOMPARE(finished.status(), FutureStatus::Finished);
    QCOMPARE(finished.result(), 3);

    Future<int> failed(loop);
    failed.setException(std::runtime_error("boom"));
    QVERIFY(!failed.cancel());
    QCOMPARE(failed.status(), FutureStatus::Finished);
    QCOMPARE(messageOf(failed.exception()), QStringLiteral("boom"));

    Future<int> cancelled(loop);
    QVERIFY(cancelled.cancel("first"));
    QVERIFY(!cancelled.cancel("second"));
    bool caught = false;
    try {
        (void)cancelled.result();
    } catch (const CancelledError &e) {
        caught = true;
        QCOMPARE(qs(e.message()), QStringLiteral("first"));
    }
    QVERIFY(caught);
}

void tst_Future::doneCallbackIsScheduledNotInline()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> f(loop);
    bool ran = false;
    f.addDoneCallback([&ran] { ran = true; });
    f.setResult(1);
    QVERIFY2(!ran, "done-callback ran inline from setResult()");
    QCOMPARE(loop.runUntilComplete(f), 1);
    QVERIFY(ran);

    // Same with setException, through callSoon + stop.
    Future<int> g(loop);
    bool gRan = false;
    g.addDoneCallback([&gRan, g]() mutable { gRan = bool(g.exception()); });
    g.setException(std::runtime_error("e"));
    QVERIFY(!gRan);
    runOneIteration(loop);
    QVERIFY(gRan);
}

void tst_Future::doneCallbackAddedAfterCompletionIsScheduled()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> f(loop);
    f.setResult(9);
    int seen = 0;
    f.addDoneCallback([&seen](Future<int> g) { seen = g.result(); });
    QCOMPARE(seen, 0); // not inline although the future is already done
    runOneIteration(loop);
    QCOMPARE(seen, 9);

    Future<void> c(loop);
    QVERIFY(c.cancel());
    bool sawCancelled = false;
    c.addDoneCallback([&sawCancelled](Future<void> g) { sawCancelled = g.cancelled(); });
    QVERIFY(!sawCancelled);
    runOneIteration(loop);
    QVERIFY(sawCancelled);
}

void tst_Future::doneCallbackOnCancel()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> f(loop);
    QString message;
    f.addDoneCallback([&message](Future<int> g) {
        try {
            (void)g.result();
        } catch (const CancelledError &e) {
            message = qs(e.message());
        }
    });
    QVERIFY(f.cancel("cb sees this"));
    QVERIFY(message.isEmpty());
    runOneIteration(loop);
    QCOMPARE(message, QStringLiteral("cb sees this"));
}

void tst_Future::doneCallbacksRunInRegistrationOrder()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> f(loop);
    std::vector<int> order;
    for (int i = 0; i < 20; ++i)
        f.addDoneCallback([&order, i] { order.push_back(i); });
    // A callSoon scheduled before completion runs before the callbacks, one after it after.
    loop.callSoon([&order] { order.push_back(-1); });
    f.setResult(0);
    loop.callSoon([&order] { order.push_back(100); });
    f.addDoneCallback([&order] { order.push_back(20); }); // added after completion
    runOneIteration(loop);

    std::vector<int> expected{ -1 };
    for (int i = 0; i < 20; ++i)
        expected.push_back(i);
    expected.push_back(100);
    expected.push_back(20);
    QCOMPARE(order, expected);
}

void tst_Future::doneCallbackReceivesTheFuture()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<QString> f(loop);
    bool same = false;
    QString value;
    f.addDoneCallback([&, f](Future<QString> g) {
        same = (g == f);
        value = g.result();
    });
    f.setResult(QStringLiteral("hello"));
    runOneIteration(loop);
    QVERIFY(same);
    QCOMPARE(value, QStringLiteral("hello"));
}

void tst_Future::removeDoneCallbackById()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> f(loop);
    std::vector<int> calls;
    const CallbackId id1 = f.addDoneCallback([&calls] { calls.push_back(1); });
    const CallbackId id2 = f.addDoneCallback([&calls] { calls.push_back(2); });
    const CallbackId id3 = f.addDoneCallback([&calls] { calls.push_back(3); });
    QVERIFY(id1 != id2 && id2 != id3 && id1 != id3);

    QCOMPARE(f.removeDoneCallback(id2), std::size_t(1));
    QCOMPARE(f.removeDoneCallback(id2), std::size_t(0)); // already gone
    QCOMPARE(f.removeDoneCallback(CallbackId(id3 + 1000)), std::size_t(0)); // never existed

    f.setResult(0);
    runOneIteration(loop);
    QCOMPARE(calls, (std::vector<int>{ 1, 3 }));
}

void tst_Future::removeDoneCallbackByFunctionPointer()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    g_plainCalls.clear();
    Future<int> f(loop);
    f.addDoneCallback(plainCallback);
    f.addDoneCallback(otherPlainCallback);
    f.addDoneCallback(&plainCallback);
    int lambdaCalls = 0;
    f.addDoneCallback([&lambdaCalls](Future<int>) { ++lambdaCalls; });

    QCOMPARE(f.removeDoneCallback(&plainCallback), std::size_t(2));
    QCOMPARE(f.removeDoneCallback(&plainCallback), std::size_t(0));

    f.setResult(7);
    runOneIteration(loop);
    QCOMPARE(g_plainCalls, (std::vector<int>{ -1 }));
    QCOMPARE(lambdaCalls, 1);

    // Not removed: the plain function runs with the future.
    g_plainCalls.clear();
    Future<int> g(loop);
    g.addDoneCallback(plainCallback);
    g.setResult(11);
    runOneIteration(loop);
    QCOMPARE(g_plainCalls, (std::vector<int>{ 11 }));
}

void tst_Future::removeDoneCallbackAfterDoneRemovesNothing()
{
    // As in asyncio: once done, the callbacks are already scheduled and cannot be removed.
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> f(loop);
    int calls = 0;
    const CallbackId before = f.addDoneCallback([&calls] { ++calls; });
    f.setResult(1);
    const CallbackId after = f.addDoneCallback([&calls] { ++calls; });
    QCOMPARE(f.removeDoneCallback(before), std::size_t(0));
    QCOMPARE(f.removeDoneCallback(after), std::size_t(0));
    runOneIteration(loop);
    QCOMPARE(calls, 2);
}

void tst_Future::unretrievedExceptionIsReported()
{
    QList<ExceptionContext> reports; // outlives the loop: its handler refers to it
    EventLoop loop(std::make_shared<VirtualClock>());
    loop.setExceptionHandler([&reports](const ExceptionContext &c) { reports.append(c); });
    {
        Future<int> f(loop);
        f.setException(std::runtime_error("nobody looked"));
        QVERIFY(reports.isEmpty()); // reported when the future dies, not before
    }
    QCOMPARE(reports.size(), 1);
    QVERIFY2(reports.at(0).message.contains(QStringLiteral("exception was never retrieved")),
             qPrintable(reports.at(0).message));
    QVERIFY(reports.at(0).exception);
    QCOMPARE(messageOf(reports.at(0).exception), QStringLiteral("nobody looked"));
    QVERIFY(!reports.at(0).future.isEmpty());

    // Also when the last reference is the one held by a scheduled done-callback.
    reports.clear();
    {
        Future<void> g(loop);
        g.addDoneCallback([] {});
        g.setException(std::logic_error("via callback"));
    }
    QVERIFY(reports.isEmpty()); // the scheduled callback still holds the future
    runOneIteration(loop);
    QCOMPARE(reports.size(), 1);
    QVERIFY(reports.at(0).message.contains(QStringLiteral("never retrieved")));
    QCOMPARE(messageOf(reports.at(0).exception), QStringLiteral("via callback"));
}

void tst_Future::retrievedExceptionIsNotReported_data()
{
    QTest::addColumn<int>("how");
    QTest::newRow("result()") << 0;
    QTest::newRow("exception()") << 1;
    QTest::newRow("runUntilComplete") << 2;
    QTest::newRow("done-callback calls exception()") << 3;
    QTest::newRow("cancelled, never failed") << 4;
}

void tst_Future::retrievedExceptionIsNotReported()
{
    QFETCH(int, how);
    QList<ExceptionContext> reports;
    EventLoop loop(std::make_shared<VirtualClock>());
    loop.setExceptionHandler([&reports](const ExceptionContext &c) { reports.append(c); });
    {
        Future<int> f(loop);
        if (how == 3) {
            f.addDoneCallback([](Future<int> g) { (void)g.exception(); });
            f.setException(std::runtime_error("seen"));
            runOneIteration(loop);
        } else if (how == 4) {
            QVERIFY(f.cancel());
        } else {
            f.setException(std::runtime_error("seen"));
        }
        if (how == 0)
            QVERIFY_THROWS_EXCEPTION(std::runtime_error, f.result());
        else if (how == 1)
            QVERIFY(f.exception());
        else if (how == 2)
            QVERIFY_THROWS_EXCEPTION(std::runtime_error, loop.runUntilComplete(f));
    }
    QCOMPARE(reports.size(), 0);
}

void tst_Future::awaitedExceptionIsNotReported()
{
    QList<ExceptionContext> reports;
    EventLoop loop(std::make_shared<VirtualClock>());
    loop.setExceptionHandler([&reports](const ExceptionContext &c) { reports.append(c); });
    {
        Future<int> f(loop);
        f.setException(std::runtime_error("awaited"));
        QCOMPARE(loop.runUntilComplete(awaitAndDescribe(f)), QStringLiteral("error: awaited"));
    }
    QCOMPARE(reports.size(), 0);
}

void tst_Future::coAwaitDoneFutureReturnsImmediately()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> f(loop);
    f.setResult(5);
    bool otherRan = false;
    bool otherRanFirst = true;
    QCOMPARE(loop.runUntilComplete(awaitDoneFuture(&loop, f, &otherRan, &otherRanFirst)), 5);
    QVERIFY(otherRan);
    QVERIFY2(!otherRanFirst, "co_await on a done future suspended the task");

    // A pending future does suspend: the other callback gets in first.
    Future<int> p(loop);
    loop.callLater(1s, [p]() mutable { p.setResult(6); });
    otherRan = false;
    otherRanFirst = false;
    QCOMPARE(loop.runUntilComplete(awaitDoneFuture(&loop, p, &otherRan, &otherRanFirst)), 6);
    QVERIFY(otherRanFirst);
}

void tst_Future::coAwaitDoneFailedOrCancelledFutureThrows()
{
    EventLoop loop(std::make_shared<VirtualClock>());
    Future<int> failed(loop);
    failed.setException(std::invalid_argument("bad arg"));
    QCOMPARE(loop.runUntilComplete(awaitAndDescribe(failed)), QStringLiteral("error: bad arg"));

    Future<int> cancelled(loop);
    QVERIFY(cancelled.cancel("called off"));
    QCOMPARE(loop.runUntilComplete(awaitAndDescribe(cancelled)),
             QStringLiteral("cancelled: called off"));
}

void tst_Future::defaultConstructorUsesCurrentLoop()
{
    EventLoop first(std::make_shared<VirtualClock>());
    Future<int> f;
    QVERIFY(f.base()->loopCore() == first.core());
    Future<void> v;
    QVERIFY(v.base()->loopCore() == first.core());

    // While another loop runs in this thread, that one is current.
    EventLoop second(std::make_shared<VirtualClock>());
    Future<int> outside;
    QVERIFY(outside.base()->loopCore() == first.core());
    Future<int> inside(first); // placeholder, replaced inside the task
    second.runUntilComplete(createFutureInTask(&inside));
    QVERIFY(inside.base()->loopCore() == second.core());

    // Its callbacks run on that loop.
    bool ran = false;
    f.addDoneCallback([&ran] { ran = true; });
    f.setResult(1);
    QCOMPARE(first.runUntilComplete(f), 1);
    QVERIFY(ran);
}

void tst_Future::defaultConstructorWithoutLoopThrows()
{
    QVERIFY(EventLoop::current() == nullptr);
    QVERIFY_THROWS_EXCEPTION(RuntimeError, (void)Future<int>());
    QVERIFY_THROWS_EXCEPTION(RuntimeError, (void)Future<void>());
}

QTEST_GUILESS_MAIN(tst_Future)
#include "tst_future.moc"
