// Tests of Event, Lock, Semaphore, BoundedSemaphore, Condition, Barrier and the lock guards
// (locks.h). They follow what CPython's Lib/test/test_asyncio/test_locks.py checks: FIFO
// fairness, cancellation at every waiting point, wake-ups handed on after a cancel, the
// Condition re-acquiring its lock when cancelled, the Barrier's reset and abort.
//
// Each test body is a coroutine run as the loop's main task (as IsolatedAsyncioTestCase
// does), so `co_await sleep(0s)` is Python's `await asyncio.sleep(0)`: one loop iteration.

#include <loopscope/locks.h>
#include <loopscope/loopscope.h>

#include <QStringList>
#include <QTest>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <vector>

using namespace loopscope;
using namespace std::chrono_literals;

// QVERIFY/QCOMPARE `return`, which a coroutine cannot: these `co_return` instead.
#define CO_VERIFY(statement)                                                               \
  do {                                                                                     \
    if (!QTest::qVerify(static_cast<bool>(statement), #statement, "", __FILE__, __LINE__)) \
      co_return;                                                                           \
  } while (false)

#define CO_COMPARE(actual, expected)                                                \
  do {                                                                              \
    if (!QTest::qCompare(actual, expected, #actual, #expected, __FILE__, __LINE__)) \
      co_return;                                                                    \
  } while (false)

#define CO_VERIFY_THROWS(ExceptionType, expression)                                          \
  do {                                                                                       \
    bool caught_ = false;                                                                    \
    try {                                                                                    \
      expression;                                                                            \
    } catch (const ExceptionType &) {                                                        \
      caught_ = true;                                                                        \
    } catch (...) {                                                                          \
    }                                                                                        \
    if (!QTest::qVerify(caught_, #expression, "throws " #ExceptionType, __FILE__, __LINE__)) \
      co_return;                                                                             \
  } while (false)

namespace {

//! Everything the loop reported to its exception handler; cleanup() wants it empty.
QStringList g_reports;

struct Fixture
{
    std::shared_ptr<VirtualClock> clock = std::make_shared<VirtualClock>();
    EventLoop loop{ clock };

    Fixture()
    {
        loop.setExceptionHandler(
                [](const ExceptionContext &context) { g_reports.append(context.toString()); });
    }

    /*!
     * Runs \a main as a task until it is done. A deadlock would leave the virtual clock
     * nothing to do: a watchdog an hour ahead then cancels the main task and fails the test
     * instead of hanging it.
     */
    void run(Coro<void> main)
    {
        Task<void> task = loop.createTask(std::move(main));
        bool hung = false;
        TimerHandle watchdog = loop.callLater(1h, [&hung, task]() mutable {
            hung = true;
            task.cancel("deadlock watchdog");
        });
        try {
            loop.runUntilComplete(Future<void>(task));
        } catch (const CancelledError &) {
        }
        watchdog.cancel();
        QVERIFY2(!hung, "deadlock: the main task never finished");
    }
};

//! Awaits each future and swallows what it throws (Python: gather(return_exceptions=True));
//! the test then checks every outcome itself.
template <typename T>
Coro<void> settleAll(std::vector<Future<T>> futures)
{
    for (Future<T> &f : futures) {
        try {
            co_await f;
        } catch (...) {
        }
    }
}

//! settleAll() of the given tasks or futures. Not a coroutine itself: GCC 12 miscompiles a
//! braced list in a co_await expression ("array used as initializer").
template <typename T, typename... More>
Coro<void> settle(const Future<T> &first, const More &...more)
{
    return settleAll(std::vector<Future<T>>{ first, Future<T>(more)... });
}

//! The CancelledError message a cancelled future ends with.
std::string cancelMessageOf(const Future<void> &f)
{
    try {
        f.result();
    } catch (const CancelledError &e) {
        return e.message();
    }
    return "<not cancelled>";
}

//! What type of error a failed future holds.
template <typename E, typename T>
bool failedWith(const Future<T> &f)
{
    if (!f.done() || f.cancelled() || !f.exception())
        return false;
    try {
        std::rethrow_exception(f.exception());
    } catch (const E &) {
        return true;
    } catch (...) {
        return false;
    }
}

} // namespace

class tst_Locks : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup();

    // Event
    void eventSetWakesEveryWaiter();
    void eventWaitOnSetEventDoesNotSuspend();
    void eventWaitCancelledLeavesNoWaiter();
    void eventSetClearSetWithWaiter();
    void eventFlag();

    // Lock
    void lockAcquireIsFifo();
    void lockReleaseUnlockedThrows();
    void lockAcquireCancelledLeavesNoWaiter();
    void lockCancelRaceWakesNextWaiter();
    void lockCancelReleaseRaceTakesLockOnce();
    void lockCancelledWokenWaiterPassesWakeUpOn();
    void lockNewcomerQueuesBehindWokenWaiter();
    void lockAllWaitersCancelledNewcomerTakesItAtOnce();
    void lockGuardReleasesAtScopeExit();
    void lockGuardReleasesWhenCancelUnwinds();
    void lockGuardMoveAndUnlock();
    void lockGuardFailedReleaseIsReported();
    void lockBoundToItsFirstLoop();

    // Semaphore
    void semaphoreConstruction();
    void semaphoreAcquireAndRelease();
    void semaphoreAcquireCancelledLeavesNoWaiter();
    void semaphoreCancelBeforeAwoken();
    void semaphoreCancelledWaiterDoesNotHang();
    void semaphoreWokenWaiterCancelledGivesUnitBack();
    void semaphoreFifoAcrossReacquire();
    void semaphoreFifoWhenReleasingTwice();
    void semaphoreFifoSkipsCancelledWaiter();
    void semaphoreLockedWhileWokenWaitersQueue();
    void semaphoreReleaseWithoutWaiters();
    void boundedSemaphoreOverReleaseThrows();
    void semaphoreGuardReleasesWhenCancelUnwinds();

    // Condition
    void conditionWaitNotifyOrder();
    void conditionWaitCancelledReacquiresLock();
    void conditionWaitCancelledWhileLockContested();
    void conditionCancelledWhileReacquiringAfterNotify();
    void conditionWaitWithoutLockThrows();
    void conditionWaitFor();
    void conditionWaitForWithoutLock();
    void conditionNotifyN();
    void conditionNotifyAll();
    void conditionNotifyWithoutLockThrows();
    void conditionSharesALock();
    void conditionCancelAtWakeUpKeepsMessageAndLock();
    void conditionCancelWhileReacquiringKeepsMessage();
    void conditionCancelledTwiceReacquiresAndRaisesTheLatest();
    void conditionCancelledWakeUpIsPassedOn();
    void conditionCancelledRelockIsPassedOn();

    // Barrier
    void barrierRejectsBadParties();
    void barrierThreePartiesGetEveryIndex();
    void barrierOfOneNeverWaits();
    void barrierIsReusable();
    void barrierDrainingStateUntilLastLeaves();
    void barrierBlocksNewcomersWhileDraining();
    void barrierCancelWhileFilling();
    void barrierResetBreaksWaiters();
    void barrierResetIdleAndAfterAbort();
    void barrierAbortBreaksCurrentAndLaterWaits();
    void barrierAbortOnException();
    void barrierAbortThenResetRecovers();
    void barrierResetWhileDraining();
};

void tst_Locks::cleanup()
{
    // Pending tasks destroyed at loop close and never-retrieved errors end up here.
    const QStringList reports = std::exchange(g_reports, {});
    QVERIFY2(reports.isEmpty(), qPrintable(reports.join(QLatin1Char('\n'))));
}

// --- Event -----------------------------------------------------------------------------

void tst_Locks::eventSetWakesEveryWaiter()
{
    Event ev;
    Fixture f;
    std::vector<int> result;
    auto waiter = [&](int id) -> Coro<void> {
        co_await ev.wait();
        result.push_back(id);
    };
    f.run([&]() -> Coro<void> {
        CO_VERIFY(!ev.isSet());
        auto t1 = f.loop.createTask(waiter(1));
        auto t2 = f.loop.createTask(waiter(2));
        co_await sleep(0s);
        CO_VERIFY(result.empty());
        CO_COMPARE(int(ev.waiterCount()), 2);

        // t3's first step was scheduled before set() scheduled the wake-ups: it runs first
        // and finds the flag set (CPython's test_wait: [3, 1, 2]).
        auto t3 = f.loop.createTask(waiter(3));
        ev.set();
        co_await sleep(0s);
        CO_COMPARE(result, (std::vector<int>{ 3, 1, 2 }));
        CO_VERIFY(t1.done() && t2.done() && t3.done());
        CO_COMPARE(int(ev.waiterCount()), 0);
    }());
}

void tst_Locks::eventWaitOnSetEventDoesNotSuspend()
{
    Event ev;
    Fixture f;
    f.run([&]() -> Coro<void> {
        ev.set();
        auto otherRan = std::make_shared<bool>(false);
        f.loop.callSoon([otherRan] { *otherRan = true; });
        co_await ev.wait();
        CO_VERIFY(!*otherRan);
        co_await sleep(0s);
        CO_VERIFY(*otherRan);
    }());
}

void tst_Locks::eventWaitCancelledLeavesNoWaiter()
{
    Event ev;
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto wait = f.loop.createTask(ev.wait());
        f.loop.callSoon([wait]() mutable { wait.cancel(); });
        co_await settle(wait);
        CO_VERIFY(wait.cancelled());
        CO_COMPARE(int(ev.waiterCount()), 0);
        CO_VERIFY(!ev.isSet());
    }());
}

void tst_Locks::eventSetClearSetWithWaiter()
{
    Event ev;
    Fixture f;
    std::vector<int> result;
    auto waiter = [&]() -> Coro<void> {
        co_await ev.wait();
        result.push_back(1);
    };
    f.run([&]() -> Coro<void> {
        auto t = f.loop.createTask(waiter());
        co_await sleep(0s);
        CO_VERIFY(result.empty());

        // The waiter was woken by the first set(); clearing before it runs does not undo that.
        ev.set();
        ev.clear();
        CO_VERIFY(!ev.isSet());
        ev.set();
        ev.set();
        CO_COMPARE(int(ev.waiterCount()), 1);

        co_await sleep(0s);
        CO_COMPARE(result, std::vector<int>{ 1 });
        CO_COMPARE(int(ev.waiterCount()), 0);
        CO_VERIFY(t.done() && !t.cancelled());
    }());
}

void tst_Locks::eventFlag()
{
    Event ev;
    QVERIFY(!ev.isSet());
    ev.set();
    QVERIFY(ev.isSet());
    ev.set();
    QVERIFY(ev.isSet());
    ev.clear();
    QVERIFY(!ev.isSet());
    ev.clear();
    QVERIFY(!ev.isSet());
}

// --- Lock ------------------------------------------------------------------------------

void tst_Locks::lockAcquireIsFifo()
{
    Lock lock;
    Fixture f;
    std::vector<int> result;
    auto acquirer = [&](int id) -> Coro<void> {
        co_await lock.acquire();
        result.push_back(id);
    };
    f.run([&]() -> Coro<void> {
        co_await lock.acquire();
        CO_VERIFY(lock.locked());
        auto t1 = f.loop.createTask(acquirer(1));
        auto t2 = f.loop.createTask(acquirer(2));
        co_await sleep(0s);
        CO_VERIFY(result.empty());

        lock.release();
        co_await sleep(0s);
        CO_COMPARE(result, std::vector<int>{ 1 });
        co_await sleep(0s);
        CO_COMPARE(result, std::vector<int>{ 1 });

        // t3 comes after t2 even though it asks while t2's wake-up is in flight.
        auto t3 = f.loop.createTask(acquirer(3));
        lock.release();
        co_await sleep(0s);
        CO_COMPARE(result, (std::vector<int>{ 1, 2 }));

        lock.release();
        co_await sleep(0s);
        CO_COMPARE(result, (std::vector<int>{ 1, 2, 3 }));
        CO_VERIFY(t1.done() && t2.done() && t3.done());
        CO_VERIFY(lock.locked());
        lock.release();
    }());
}

void tst_Locks::lockReleaseUnlockedThrows()
{
    Lock lock;
    Fixture f;
    QVERIFY_THROWS_EXCEPTION(RuntimeError, lock.release());
    f.run([&]() -> Coro<void> {
        co_await lock.acquire();
        CO_VERIFY(lock.locked());
        lock.release();
        CO_VERIFY(!lock.locked());
        CO_VERIFY_THROWS(RuntimeError, lock.release());
        CO_VERIFY(!lock.locked());
    }());
}

void tst_Locks::lockAcquireCancelledLeavesNoWaiter()
{
    Lock lock;
    Fixture f;
    f.run([&]() -> Coro<void> {
        co_await lock.acquire();
        auto task = f.loop.createTask(lock.acquire());
        f.loop.callSoon([task]() mutable { task.cancel(); });
        co_await settle(task);
        CO_VERIFY(task.cancelled());
        CO_COMPARE(int(lock.waiterCount()), 0);
        CO_VERIFY(lock.locked()); // still ours
        lock.release();
    }());
}

void tst_Locks::lockCancelRaceWakesNextWaiter()
{
    // A holds the lock, B and C wait. In the same iteration B is cancelled and A releases:
    // release() finds B's waiter cancelled and wakes nobody; B's cancellation must then hand
    // the lock on to C (CPython's test_cancel_race).
    Lock lock;
    Fixture f;
    auto lockit = [&](Future<void> *blocker) -> Coro<void> {
        LockGuard guard = co_await lock.scopedAcquire();
        if (blocker)
            co_await *blocker;
    };
    f.run([&]() -> Coro<void> {
        Future<void> fa(f.loop);
        auto ta = f.loop.createTask(lockit(&fa));
        co_await sleep(0s);
        CO_VERIFY(lock.locked());
        auto tb = f.loop.createTask(lockit(nullptr));
        co_await sleep(0s);
        CO_COMPARE(int(lock.waiterCount()), 1);
        auto tc = f.loop.createTask(lockit(nullptr));
        co_await sleep(0s);
        CO_COMPARE(int(lock.waiterCount()), 2);

        fa.setResult();
        tb.cancel();
        co_await sleep(0s);
        CO_VERIFY(!lock.locked()); // C's wake-up is on its way
        CO_VERIFY(ta.done() && !ta.cancelled());
        CO_VERIFY(tb.cancelled());
        co_await tc;
        CO_VERIFY(!lock.locked());
        CO_COMPARE(int(lock.waiterCount()), 0);
    }());
}

void tst_Locks::lockCancelReleaseRaceTakesLockOnce()
{
    // Cancel the first of three waiters and release in one callback: exactly one of the
    // others gets the lock (bpo-32734).
    Lock lock;
    Fixture f;
    int lockCount = 0;
    int callCount = 0;
    auto lockit = [&]() -> Coro<void> {
        ++callCount;
        co_await lock.acquire();
        ++lockCount;
    };
    f.run([&]() -> Coro<void> {
        co_await lock.acquire();
        auto t1 = f.loop.createTask(lockit());
        auto t2 = f.loop.createTask(lockit());
        auto t3 = f.loop.createTask(lockit());
        co_await sleep(0s);

        f.loop.callSoon([t1, &lock]() mutable {
            t1.cancel();
            lock.release();
        });
        co_await settle(t1);
        CO_COMPARE(lockCount, 1);
        CO_COMPARE(callCount, 3);
        CO_VERIFY(t1.cancelled());
        CO_VERIFY(t2.done() && !t2.cancelled());

        t3.cancel();
        co_await sleep(0s);
        CO_VERIFY(t3.cancelled());
        CO_COMPARE(lockCount, 1);
        CO_VERIFY(lock.locked()); // t2 holds it
        lock.release();
    }());
}

void tst_Locks::lockCancelledWokenWaiterPassesWakeUpOn()
{
    // CPython's test_finished_waiter_cancelled: B waits, C asks, B is cancelled and the lock
    // released in the same iteration. C must end up with the lock.
    Lock lock;
    Fixture f;
    f.run([&]() -> Coro<void> {
        co_await lock.acquire();
        auto tb = f.loop.createTask(lock.acquire());
        co_await sleep(0s);
        CO_COMPARE(int(lock.waiterCount()), 1);

        auto tc = f.loop.createTask(lock.acquire());
        tb.cancel();
        lock.release();
        co_await sleep(0s);
        CO_VERIFY(lock.locked());
        CO_VERIFY(tb.cancelled());
        co_await tc;
        CO_VERIFY(lock.locked());
        lock.release();
    }());
}

void tst_Locks::lockNewcomerQueuesBehindWokenWaiter()
{
    // Fairness: release() chose B; the releaser asking again at once finds the lock free but
    // must queue behind B instead of barging in.
    Lock lock;
    Fixture f;
    std::vector<int> order;
    auto b = [&]() -> Coro<void> {
        co_await lock.acquire();
        order.push_back(2);
        lock.release();
    };
    f.run([&]() -> Coro<void> {
        co_await lock.acquire();
        auto tb = f.loop.createTask(b());
        co_await sleep(0s);
        lock.release();
        CO_VERIFY(!lock.locked());
        co_await lock.acquire();
        order.push_back(1);
        CO_COMPARE(order, (std::vector<int>{ 2, 1 }));
        CO_VERIFY(tb.done());
        lock.release();
    }());
}

void tst_Locks::lockAllWaitersCancelledNewcomerTakesItAtOnce()
{
    // Jumping a queue of nothing but cancelled waiters is allowed (and takes no iteration).
    Lock lock;
    Fixture f;
    f.run([&]() -> Coro<void> {
        co_await lock.acquire();
        auto tb = f.loop.createTask(lock.acquire());
        co_await sleep(0s);
        tb.cancel();
        lock.release();
        CO_COMPARE(int(lock.waiterCount()), 1); // cancelled, not yet run to leave the queue

        auto otherRan = std::make_shared<bool>(false);
        f.loop.callSoon([otherRan] { *otherRan = true; });
        co_await lock.acquire();
        CO_VERIFY(!*otherRan); // no suspension
        CO_VERIFY(lock.locked());

        co_await sleep(0s);
        CO_VERIFY(tb.cancelled());
        CO_COMPARE(int(lock.waiterCount()), 0);
        CO_VERIFY(lock.locked()); // tb's cancellation did not steal or free it
        lock.release();
    }());
}

void tst_Locks::lockGuardReleasesAtScopeExit()
{
    Lock lock;
    Fixture f;
    f.run([&]() -> Coro<void> {
        {
            LockGuard guard = co_await lock.scopedAcquire();
            CO_VERIFY(lock.locked());
            CO_VERIFY(guard.ownsLock());
            CO_VERIFY(bool(guard));
            CO_VERIFY(guard.mutex() == &lock);
            co_await sleep(5s);
            CO_VERIFY(lock.locked());
        }
        CO_VERIFY(!lock.locked());
    }());
}

void tst_Locks::lockGuardReleasesWhenCancelUnwinds()
{
    Lock lock;
    Fixture f;
    bool holderFinished = false;
    TimePoint otherGotItAt = TimePoint::max();
    auto holder = [&]() -> Coro<void> {
        LockGuard guard = co_await lock.scopedAcquire();
        co_await sleep(1s);
        holderFinished = true;
    };
    auto other = [&]() -> Coro<void> {
        LockGuard guard = co_await lock.scopedAcquire();
        otherGotItAt = f.loop.time();
    };
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(holder());
        co_await sleep(0s);
        CO_VERIFY(lock.locked());
        auto t2 = f.loop.createTask(other());
        co_await sleep(0s);
        CO_COMPARE(int(lock.waiterCount()), 1);

        t1.cancel();
        co_await settle(t1, t2);
        CO_VERIFY(t1.cancelled());
        CO_VERIFY(!holderFinished);
        CO_VERIFY(t2.done() && !t2.cancelled());
        CO_COMPARE(otherGotItAt, TimePoint(0s)); // released by the unwinding, not after 1 s
        CO_VERIFY(!lock.locked());
    }());
}

void tst_Locks::lockGuardMoveAndUnlock()
{
    Lock lock;
    Lock other;
    Fixture f;
    static_assert(!std::is_copy_constructible_v<LockGuard>);
    static_assert(!std::is_copy_assignable_v<LockGuard>);
    static_assert(std::is_nothrow_move_constructible_v<LockGuard>);
    f.run([&]() -> Coro<void> {
        LockGuard empty;
        CO_VERIFY(!empty.ownsLock());
        empty.unlock(); // nothing to release

        LockGuard a = co_await lock.scopedAcquire();
        LockGuard b = std::move(a);
        CO_VERIFY(!a.ownsLock()); // NOLINT(bugprone-use-after-move): a moved-from guard is empty
        CO_VERIFY(b.ownsLock());
        CO_VERIFY(lock.locked());

        b.unlock();
        CO_VERIFY(!lock.locked());
        CO_VERIFY(!b.ownsLock());
        b.unlock(); // once only: a second release() would throw

        // Move-assigning releases what the target held first.
        LockGuard c = co_await lock.scopedAcquire();
        LockGuard d = co_await other.scopedAcquire();
        d = std::move(c);
        CO_VERIFY(!other.locked());
        CO_VERIFY(lock.locked());
        CO_VERIFY(d.mutex() == &lock);
        d = LockGuard();
        CO_VERIFY(!lock.locked());
    }());
}

void tst_Locks::lockGuardFailedReleaseIsReported()
{
    Lock lock;
    Fixture f;
    f.run([&]() -> Coro<void> {
        {
            LockGuard guard = co_await lock.scopedAcquire();
            lock.release(); // someone releases behind the guard's back
        }
        CO_COMPARE(int(g_reports.size()), 1);
        CO_VERIFY(g_reports.first().contains(QLatin1String("RuntimeError")));
        g_reports.clear();

        LockGuard guard = co_await lock.scopedAcquire();
        lock.release();
        CO_VERIFY_THROWS(RuntimeError, guard.unlock()); // the explicit unlock does throw
        CO_VERIFY(!guard.ownsLock());
    }());
    QVERIFY(g_reports.isEmpty()); // the failed unlock() is not reported a second time
}

void tst_Locks::lockBoundToItsFirstLoop()
{
    // Python's _LoopBoundMixin: the first wait binds the lock to that loop; waiting from
    // another loop later throws RuntimeError, while the no-wait fast path never checks.
    Lock lock;
    {
        Fixture first;
        first.run([&]() -> Coro<void> {
            co_await lock.acquire();
            auto waiter = first.loop.createTask(lock.acquire());
            co_await sleep(0s); // waits: binds the lock to this loop
            lock.release();
            co_await waiter;
            lock.release();
        }());
    }
    Fixture second;
    QString message;
    second.run([&]() -> Coro<void> {
        co_await lock.acquire(); // fast path: no loop involved
        CO_VERIFY(lock.locked());
        auto waiter = second.loop.createTask(lock.acquire());
        co_await settle(waiter);
        CO_VERIFY(failedWith<RuntimeError>(waiter));
        try {
            waiter.result();
        } catch (const RuntimeError &e) {
            message = QString::fromUtf8(e.what());
        }
        lock.release();
    }());
    QCOMPARE(message, QStringLiteral("Lock is bound to a different event loop"));
}

// --- Semaphore -------------------------------------------------------------------------

void tst_Locks::semaphoreConstruction()
{
    Semaphore zero(0);
    QVERIFY(zero.locked());
    QCOMPARE(zero.value(), 0);
    Semaphore one;
    QVERIFY(!one.locked());
    QCOMPARE(one.value(), 1);
    QVERIFY_THROWS_EXCEPTION(ValueError, Semaphore(-1));
    QVERIFY_THROWS_EXCEPTION(ValueError, BoundedSemaphore(-1));
}

void tst_Locks::semaphoreAcquireAndRelease()
{
    Semaphore sem(3);
    Fixture f;
    std::vector<int> result;
    auto acquirer = [&](int id) -> Coro<void> {
        co_await sem.acquire();
        result.push_back(id);
    };
    f.run([&]() -> Coro<void> {
        co_await sem.acquire();
        co_await sem.acquire();
        CO_VERIFY(!sem.locked());

        auto t1 = f.loop.createTask(acquirer(1));
        auto t2 = f.loop.createTask(acquirer(2));
        auto t3 = f.loop.createTask(acquirer(3));
        co_await sleep(0s);
        CO_COMPARE(result, std::vector<int>{ 1 });
        CO_VERIFY(sem.locked());
        CO_COMPARE(int(sem.waiterCount()), 2);
        CO_COMPARE(sem.value(), 0);

        // A waker takes the unit off the value at once: t4 (asking before t2 and t3 run)
        // cannot grab it.
        auto t4 = f.loop.createTask(acquirer(4));
        sem.release();
        sem.release();
        CO_COMPARE(sem.value(), 0);
        co_await sleep(0s);
        CO_COMPARE(sem.value(), 0);
        CO_COMPARE(result, (std::vector<int>{ 1, 2, 3 }));
        CO_VERIFY(sem.locked());
        CO_COMPARE(int(sem.waiterCount()), 1);
        CO_VERIFY(t1.done() && t2.done() && t3.done());
        CO_VERIFY(!t4.done());

        sem.release();
        co_await t4;
        CO_COMPARE(result, (std::vector<int>{ 1, 2, 3, 4 }));
    }());
}

void tst_Locks::semaphoreAcquireCancelledLeavesNoWaiter()
{
    Semaphore sem;
    Fixture f;
    f.run([&]() -> Coro<void> {
        co_await sem.acquire();
        auto acquire = f.loop.createTask(sem.acquire());
        f.loop.callSoon([acquire]() mutable { acquire.cancel(); });
        co_await settle(acquire);
        CO_VERIFY(acquire.cancelled());
        CO_COMPARE(int(sem.waiterCount()), 0);
        CO_COMPARE(sem.value(), 0);
        sem.release();
        CO_COMPARE(sem.value(), 1);
    }());
}

void tst_Locks::semaphoreCancelBeforeAwoken()
{
    // Two cancelled waiters at the head: the one release() goes to the third waiter.
    Semaphore sem(0);
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(sem.acquire());
        auto t2 = f.loop.createTask(sem.acquire());
        auto t3 = f.loop.createTask(sem.acquire());
        auto t4 = f.loop.createTask(sem.acquire());
        co_await sleep(0s);

        t1.cancel();
        t2.cancel();
        sem.release();
        co_await sleep(0s);
        co_await sleep(0s);
        CO_VERIFY(t1.cancelled() && t2.cancelled());
        CO_VERIFY(t3.done() && !t3.cancelled());
        CO_VERIFY(!t4.done());
        CO_COMPARE(sem.value(), 0);

        t4.cancel();
        co_await sleep(0s);
        CO_VERIFY(t4.cancelled());
        CO_COMPARE(sem.value(), 0);
        CO_COMPARE(int(sem.waiterCount()), 0);
    }());
}

void tst_Locks::semaphoreCancelledWaiterDoesNotHang()
{
    // CPython's test_acquire_hang: the release skips the cancelled first waiter.
    Semaphore sem(0);
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(sem.acquire());
        auto t2 = f.loop.createTask(sem.acquire());
        co_await sleep(0s);
        t1.cancel();
        sem.release();
        co_await sleep(0s);
        co_await sleep(0s);
        CO_VERIFY(sem.locked());
        CO_VERIFY(t1.cancelled());
        CO_VERIFY(t2.done() && !t2.cancelled());
    }());
}

void tst_Locks::semaphoreWokenWaiterCancelledGivesUnitBack()
{
    // CPython's test_acquire_no_hang: t2 is woken by t1's release and cancelled before it
    // runs. It must give its unit back, or the semaphore would stay locked forever.
    Semaphore sem(1);
    Fixture f;
    TaskRef t2Handle;
    bool t2Entered = false;
    auto c1 = [&]() -> Coro<void> {
        {
            SemaphoreGuard guard = co_await sem.scopedAcquire();
            co_await sleep(0s);
        }
        t2Handle.cancel();
    };
    auto c2 = [&]() -> Coro<void> {
        SemaphoreGuard guard = co_await sem.scopedAcquire();
        t2Entered = true;
    };
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(c1());
        auto t2 = f.loop.createTask(c2());
        t2Handle = t2;
        co_await settle(t1, t2);
        CO_VERIFY(t1.done() && !t1.cancelled());
        CO_VERIFY(t2.cancelled());
        CO_VERIFY(!t2Entered);
        CO_COMPARE(sem.value(), 1);
        CO_VERIFY(!sem.locked());

        auto otherRan = std::make_shared<bool>(false);
        f.loop.callSoon([otherRan] { *otherRan = true; });
        co_await sem.acquire();
        CO_VERIFY(!*otherRan);
        CO_COMPARE(sem.value(), 0);
    }());
}

void tst_Locks::semaphoreFifoAcrossReacquire()
{
    // CPython's test_acquire_fifo_order: a task releasing and re-acquiring at once queues
    // behind the others.
    Semaphore sem(1);
    Fixture f;
    QStringList result;
    auto coro = [&](QString tag) -> Coro<void> {
        co_await sem.acquire();
        result.append(tag + QStringLiteral("_1"));
        co_await sleep(10ms);
        sem.release();

        co_await sem.acquire();
        result.append(tag + QStringLiteral("_2"));
        co_await sleep(10ms);
        sem.release();
    };
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(coro(QStringLiteral("c1")));
        auto t2 = f.loop.createTask(coro(QStringLiteral("c2")));
        auto t3 = f.loop.createTask(coro(QStringLiteral("c3")));
        co_await settle(t1, t2, t3);
        CO_COMPARE(result,
                   (QStringList{ QStringLiteral("c1_1"), QStringLiteral("c2_1"),
                                 QStringLiteral("c3_1"), QStringLiteral("c1_2"),
                                 QStringLiteral("c2_2"), QStringLiteral("c3_2") }));
        CO_COMPARE(f.loop.time(), TimePoint(60ms));
        CO_COMPARE(sem.value(), 1);
    }());
}

void tst_Locks::semaphoreFifoWhenReleasingTwice()
{
    // CPython's test_acquire_fifo_order_2: c2 releases and re-acquires while c3 is woken
    // but has not run: c2 must wait for c3 ([1, 2, 3, 4]).
    Semaphore sem(1);
    Fixture f;
    std::vector<int> result;
    auto c1 = [&]() -> Coro<void> {
        co_await sem.acquire();
        result.push_back(1);
    };
    auto c2 = [&]() -> Coro<void> {
        co_await sem.acquire();
        result.push_back(2);
        sem.release();
        co_await sem.acquire();
        result.push_back(4);
    };
    auto c3 = [&]() -> Coro<void> {
        co_await sem.acquire();
        result.push_back(3);
    };
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(c1());
        auto t2 = f.loop.createTask(c2());
        auto t3 = f.loop.createTask(c3());
        co_await sleep(0s);
        sem.release();
        sem.release();
        co_await settle(t1, t2, t3);
        CO_COMPARE(result, (std::vector<int>{ 1, 2, 3, 4 }));
        CO_VERIFY(!t1.cancelled() && !t2.cancelled() && !t3.cancelled());
    }());
}

void tst_Locks::semaphoreFifoSkipsCancelledWaiter()
{
    // CPython's test_acquire_fifo_order_3.
    Semaphore sem(0);
    Fixture f;
    std::vector<int> result;
    auto acquirer = [&](int id) -> Coro<void> {
        co_await sem.acquire();
        result.push_back(id);
    };
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(acquirer(1));
        auto t2 = f.loop.createTask(acquirer(2));
        auto t3 = f.loop.createTask(acquirer(3));
        co_await sleep(0s);
        t1.cancel();
        co_await sleep(0s);
        sem.release();
        sem.release();
        co_await settle(t1, t2, t3);
        CO_COMPARE(result, (std::vector<int>{ 2, 3 }));
        CO_VERIFY(t1.cancelled());
        CO_COMPARE(sem.value(), 0);
    }());
}

void tst_Locks::semaphoreLockedWhileWokenWaitersQueue()
{
    // locked() is true while woken waiters have not run yet, even with a free unit: FIFO
    // would make a newcomer wait.
    Semaphore sem(0);
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(sem.acquire());
        auto t2 = f.loop.createTask(sem.acquire());
        co_await sleep(0s);
        sem.release();
        sem.release();
        sem.release();
        CO_COMPARE(sem.value(), 1);
        CO_VERIFY(sem.locked());
        CO_COMPARE(int(sem.waiterCount()), 2);

        co_await sleep(0s);
        CO_VERIFY(t1.done() && t2.done());
        CO_COMPARE(sem.value(), 1);
        CO_VERIFY(!sem.locked());
        CO_COMPARE(int(sem.waiterCount()), 0);
    }());
}

void tst_Locks::semaphoreReleaseWithoutWaiters()
{
    Semaphore sem;
    Fixture f;
    f.run([&]() -> Coro<void> {
        co_await sem.acquire();
        CO_VERIFY(sem.locked());
        sem.release();
        CO_VERIFY(!sem.locked());
        sem.release(); // a plain Semaphore may go above its initial value
        CO_COMPARE(sem.value(), 2);
        co_await sem.acquire();
        co_await sem.acquire();
        CO_VERIFY(sem.locked());
    }());
}

void tst_Locks::boundedSemaphoreOverReleaseThrows()
{
    BoundedSemaphore sem(2);
    Fixture f;
    QString message;
    try {
        sem.release();
    } catch (const ValueError &e) {
        message = QString::fromUtf8(e.what());
    }
    QCOMPARE(message, QStringLiteral("BoundedSemaphore released too many times"));
    QCOMPARE(sem.value(), 2);
    f.run([&]() -> Coro<void> {
        co_await sem.acquire();
        co_await sem.acquire();
        CO_VERIFY(sem.locked());
        sem.release();
        sem.release();
        CO_COMPARE(sem.value(), 2);
        CO_VERIFY_THROWS(ValueError, sem.release());
        CO_COMPARE(sem.value(), 2);
    }());
}

void tst_Locks::semaphoreGuardReleasesWhenCancelUnwinds()
{
    BoundedSemaphore sem(2);
    Fixture f;
    auto holder = [&](Duration d) -> Coro<void> {
        SemaphoreGuard guard = co_await sem.scopedAcquire();
        co_await sleep(d);
    };
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(holder(10s));
        auto t2 = f.loop.createTask(holder(20s));
        co_await sleep(0s);
        CO_COMPARE(sem.value(), 0);
        t1.cancel();
        co_await settle(t1);
        CO_VERIFY(t1.cancelled());
        CO_COMPARE(sem.value(), 1);
        co_await t2;
        CO_COMPARE(sem.value(), 2); // no over-release: each guard released exactly once
        CO_COMPARE(f.loop.time(), TimePoint(20s));
    }());
}

// --- Condition -------------------------------------------------------------------------

void tst_Locks::conditionWaitNotifyOrder()
{
    Condition cond;
    Fixture f;
    std::vector<int> result;
    auto waiter = [&](int id) -> Coro<void> {
        co_await cond.acquire();
        co_await cond.wait();
        result.push_back(id); // and keeps the lock
    };
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(waiter(1));
        auto t2 = f.loop.createTask(waiter(2));
        auto t3 = f.loop.createTask(waiter(3));
        co_await sleep(0s);
        CO_VERIFY(result.empty());
        CO_VERIFY(!cond.locked());
        CO_COMPARE(int(cond.waiterCount()), 3);

        co_await cond.acquire();
        cond.notify();
        co_await sleep(0s);
        CO_VERIFY(result.empty()); // notified, but the lock is still ours
        CO_VERIFY(cond.locked());

        cond.release();
        co_await sleep(0s);
        CO_COMPARE(result, std::vector<int>{ 1 });
        CO_VERIFY(cond.locked());

        cond.notify(2);
        co_await sleep(0s);
        CO_COMPARE(result, std::vector<int>{ 1 });
        CO_VERIFY(cond.locked());

        cond.release();
        co_await sleep(0s);
        CO_COMPARE(result, (std::vector<int>{ 1, 2 }));
        CO_VERIFY(cond.locked());

        cond.release();
        co_await sleep(0s);
        CO_COMPARE(result, (std::vector<int>{ 1, 2, 3 }));
        CO_VERIFY(cond.locked());
        CO_VERIFY(t1.done() && t2.done() && t3.done());
        cond.release();
    }());
}

void tst_Locks::conditionWaitCancelledReacquiresLock()
{
    Condition cond;
    Fixture f;
    f.run([&]() -> Coro<void> {
        co_await cond.acquire();
        auto wait = f.loop.createTask(cond.wait());
        f.loop.callSoon([wait]() mutable { wait.cancel(); });
        co_await settle(wait);
        CO_VERIFY(wait.cancelled());
        CO_COMPARE(int(cond.waiterCount()), 0);
        CO_VERIFY(cond.locked()); // taken back by the cancelled wait()
        cond.release();
    }());
}

void tst_Locks::conditionWaitCancelledWhileLockContested()
{
    // Notified, then cancelled while it queues for the lock that is released right after:
    // wait() still ends holding the lock.
    Condition cond;
    Fixture f;
    f.run([&]() -> Coro<void> {
        co_await cond.acquire();
        auto waitTask = f.loop.createTask(cond.wait());
        co_await sleep(0s);
        CO_VERIFY(!cond.locked());

        co_await cond.acquire();
        cond.notify();
        f.loop.callSoon([waitTask]() mutable { waitTask.cancel(); });
        f.loop.callSoon([&cond] { cond.release(); });
        co_await settle(waitTask);
        CO_VERIFY(waitTask.done());
        CO_VERIFY(cond.locked());
        CO_COMPARE(int(cond.waiterCount()), 0);
        CO_COMPARE(int(cond.lock().waiterCount()), 0);
        cond.release();
    }());
}

void tst_Locks::conditionCancelledWhileReacquiringAfterNotify()
{
    // bpo-32841: notified, waiting to re-acquire, then cancelled: the task ends cancelled,
    // after having held the lock again (its guard releases it).
    Condition cond;
    Fixture f;
    bool waited = false;
    auto waitOnCond = [&]() -> Coro<void> {
        LockGuard guard = co_await cond.scopedAcquire();
        waited = true;
        co_await cond.wait();
    };
    f.run([&]() -> Coro<void> {
        auto waiter = f.loop.createTask(waitOnCond());
        co_await sleep(0s);
        co_await cond.acquire();
        cond.notify();
        co_await sleep(0s); // the waiter now queues for the lock
        CO_COMPARE(int(cond.lock().waiterCount()), 1);
        waiter.cancel();
        co_await sleep(0s); // the cancellation arrives; wait() queues for the lock again
        CO_VERIFY(!waiter.done());
        cond.release();
        co_await sleep(0s);
        CO_VERIFY(waiter.cancelled());
        CO_VERIFY(waited);
        CO_VERIFY(!cond.locked());
    }());
}

void tst_Locks::conditionWaitWithoutLockThrows()
{
    Condition cond;
    Fixture f;
    f.run([&]() -> Coro<void> {
        CO_VERIFY_THROWS(RuntimeError, co_await cond.wait());
        CO_VERIFY(!cond.locked());
        CO_COMPARE(int(cond.waiterCount()), 0);
    }());
}

void tst_Locks::conditionWaitFor()
{
    Condition cond;
    Fixture f;
    bool presult = false;
    int predicateCalls = 0;
    std::vector<int> result;
    auto c1 = [&]() -> Coro<void> {
        co_await cond.acquire();
        const bool value = co_await cond.waitFor([&] {
            ++predicateCalls;
            return presult;
        });
        if (value) {
            result.push_back(1);
            cond.release();
        }
    };
    f.run([&]() -> Coro<void> {
        auto t = f.loop.createTask(c1());
        co_await sleep(0s);
        CO_VERIFY(result.empty());
        CO_COMPARE(predicateCalls, 1);

        co_await cond.acquire();
        cond.notify();
        cond.release();
        co_await sleep(0s);
        CO_VERIFY(result.empty()); // woke up, predicate still false: waits again
        CO_COMPARE(predicateCalls, 2);

        presult = true;
        co_await cond.acquire();
        cond.notify();
        cond.release();
        co_await sleep(0s);
        CO_COMPARE(result, std::vector<int>{ 1 });
        CO_COMPARE(predicateCalls, 3);
        CO_VERIFY(t.done() && !t.cancelled());
        CO_VERIFY(!cond.locked());
    }());
}

void tst_Locks::conditionWaitForWithoutLock()
{
    // A predicate true at once needs no lock and returns its value; otherwise wait() throws.
    Condition cond;
    Fixture f;
    f.run([&]() -> Coro<void> {
        const int value = co_await cond.waitFor([] { return 42; });
        CO_COMPARE(value, 42);
        CO_VERIFY(!cond.locked());
        CO_VERIFY_THROWS(RuntimeError, co_await cond.waitFor([] { return false; }));
        CO_COMPARE(int(cond.waiterCount()), 0);
    }());
}

void tst_Locks::conditionNotifyN()
{
    Condition cond;
    Fixture f;
    std::vector<int> result;
    auto waiter = [&](int id) -> Coro<void> {
        co_await cond.acquire();
        co_await cond.wait();
        result.push_back(id);
        cond.release();
    };
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(waiter(1));
        auto t2 = f.loop.createTask(waiter(2));
        auto t3 = f.loop.createTask(waiter(3));
        co_await sleep(0s);
        CO_VERIFY(result.empty());

        co_await cond.acquire();
        cond.notify(1);
        cond.release();
        co_await sleep(0s);
        CO_COMPARE(result, std::vector<int>{ 1 });

        co_await cond.acquire();
        cond.notify(1);
        cond.notify(2048); // more than are waiting: wakes the rest, skips the woken one
        cond.release();
        co_await sleep(0s);
        CO_COMPARE(result, (std::vector<int>{ 1, 2, 3 }));
        CO_VERIFY(t1.done() && t2.done() && t3.done());
    }());
}

void tst_Locks::conditionNotifyAll()
{
    Condition cond;
    Fixture f;
    std::vector<int> result;
    auto waiter = [&](int id) -> Coro<void> {
        co_await cond.acquire();
        co_await cond.wait();
        result.push_back(id);
        cond.release();
    };
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(waiter(1));
        auto t2 = f.loop.createTask(waiter(2));
        co_await sleep(0s);
        CO_VERIFY(result.empty());

        co_await cond.acquire();
        cond.notifyAll();
        cond.release();
        co_await sleep(0s);
        CO_COMPARE(result, (std::vector<int>{ 1, 2 }));
        CO_VERIFY(t1.done() && t2.done());
        CO_COMPARE(int(cond.waiterCount()), 0);
    }());
}

void tst_Locks::conditionNotifyWithoutLockThrows()
{
    Condition cond;
    QVERIFY_THROWS_EXCEPTION(RuntimeError, cond.notify());
    QVERIFY_THROWS_EXCEPTION(RuntimeError, cond.notifyAll());
}

void tst_Locks::conditionSharesALock()
{
    // CPython's test_explicit_lock: a condition on a shared lock and the lock itself see the
    // same state, whichever is used to acquire.
    Fixture f;
    auto check = [&](Lock &lock, Condition &cond) -> Coro<void> {
        CO_VERIFY(&cond.lock() == &lock);
        CO_VERIFY(!lock.locked() && !cond.locked());
        {
            LockGuard guard = co_await cond.scopedAcquire();
            CO_VERIFY(lock.locked() && cond.locked());
        }
        CO_VERIFY(!lock.locked() && !cond.locked());
        {
            LockGuard guard = co_await lock.scopedAcquire();
            CO_VERIFY(lock.locked() && cond.locked());
        }
        CO_VERIFY(!lock.locked() && !cond.locked());
    };
    f.run([&]() -> Coro<void> {
        Condition own;
        co_await check(own.lock(), own);
        Lock lock;
        Condition shared(lock);
        co_await check(lock, shared);
        Condition second(lock);
        co_await check(lock, second);
        CO_VERIFY(&second.lock() == &shared.lock());
    }());
}

void tst_Locks::conditionCancelAtWakeUpKeepsMessageAndLock()
{
    // CPython's test_cancelled_error_wakeup: cancelled while waiting for a notification,
    // the CancelledError (with its message) comes out after the lock is held again.
    Condition cond;
    Fixture f;
    std::string caughtMessage;
    bool lockedWhenCaught = false;
    auto func = [&]() -> Coro<void> {
        LockGuard guard = co_await cond.scopedAcquire();
        try {
            co_await cond.waitFor([] { return false; });
        } catch (const CancelledError &e) {
            caughtMessage = e.message();
            lockedWhenCaught = cond.locked();
            throw;
        }
    };
    f.run([&]() -> Coro<void> {
        auto task = f.loop.createTask(func());
        co_await sleep(0s);
        task.cancel("foo");
        co_await settle(task);
        CO_VERIFY(task.cancelled());
        CO_COMPARE(caughtMessage, std::string("foo"));
        CO_COMPARE(cancelMessageOf(task), std::string("foo"));
        CO_VERIFY(lockedWhenCaught);
        CO_VERIFY(!cond.locked());
    }());
}

void tst_Locks::conditionCancelWhileReacquiringKeepsMessage()
{
    // CPython's test_cancelled_error_re_aquire: notified, then cancelled while queueing for
    // the lock: wait() takes the lock anyway and re-raises that cancellation.
    Condition cond;
    Fixture f;
    bool wake = false;
    std::string caughtMessage;
    bool lockedWhenCaught = false;
    auto func = [&]() -> Coro<void> {
        LockGuard guard = co_await cond.scopedAcquire();
        try {
            co_await cond.waitFor([&] { return wake; });
        } catch (const CancelledError &e) {
            caughtMessage = e.message();
            lockedWhenCaught = cond.locked();
            throw;
        }
    };
    f.run([&]() -> Coro<void> {
        auto task = f.loop.createTask(func());
        co_await sleep(0s);
        co_await cond.acquire();
        wake = true;
        cond.notify();
        co_await sleep(0s);
        CO_COMPARE(int(cond.lock().waiterCount()), 1); // now re-acquiring
        task.cancel("foo");
        cond.release();
        co_await settle(task);
        CO_VERIFY(task.cancelled());
        CO_COMPARE(caughtMessage, std::string("foo"));
        CO_COMPARE(cancelMessageOf(task), std::string("foo"));
        CO_VERIFY(lockedWhenCaught);
        CO_VERIFY(!cond.locked());
    }());
}

void tst_Locks::conditionCancelledTwiceReacquiresAndRaisesTheLatest()
{
    // Cancelled while waiting for the notification ("first"), then again while queueing for
    // the lock ("second"): wait() keeps trying until it holds the lock and re-raises the
    // latest cancellation.
    Condition cond;
    Fixture f;
    std::string caughtMessage;
    bool lockedWhenCaught = false;
    auto func = [&]() -> Coro<void> {
        LockGuard guard = co_await cond.scopedAcquire();
        try {
            co_await cond.wait();
        } catch (const CancelledError &e) {
            caughtMessage = e.message();
            lockedWhenCaught = cond.locked();
            throw;
        }
    };
    f.run([&]() -> Coro<void> {
        auto task = f.loop.createTask(func());
        co_await sleep(0s);
        co_await cond.acquire(); // now the lock is contested
        task.cancel("first");
        co_await sleep(0s); // the first cancellation arrives; wait() queues for the lock
        CO_VERIFY(!task.done());
        CO_COMPARE(int(cond.lock().waiterCount()), 1);
        task.cancel("second");
        co_await sleep(0s); // the second one hits the lock wait; wait() queues again
        CO_VERIFY(!task.done());
        CO_COMPARE(int(cond.lock().waiterCount()), 1);
        cond.release();
        co_await settle(task);
        CO_VERIFY(task.cancelled());
        CO_COMPARE(caughtMessage, std::string("second"));
        CO_VERIFY(lockedWhenCaught);
        CO_VERIFY(!cond.locked());
        CO_COMPARE(int(cond.lock().waiterCount()), 0);
    }());
}

namespace {

/*!
 * CPython's test_cancelled_wakeup(_relock): two consumers wait for state != 0; one item is
 * produced and one consumer notified, which is cancelled at once (\a relock: after it woke
 * and queued for the lock). The notification must reach the other consumer: state ends 0.
 * The main task waits for state == 0 under a 10 ms watchdog (Python: asyncio.timeout(0.01)),
 * because nobody notifies it after the item is consumed.
 */
Coro<void> cancelledWakeUpScenario(EventLoop &loop, bool relock, int *finalState)
{
    Condition condition;
    int state = 0;
    auto consumer = [&]() -> Coro<void> {
        LockGuard guard = co_await condition.scopedAcquire();
        for (;;) {
            co_await condition.waitFor([&] { return state != 0; });
            if (state < 0)
                co_return;
            --state;
        }
    };
    auto c0 = loop.createTask(consumer());
    auto c1 = loop.createTask(consumer());
    co_await sleep(0s);
    {
        LockGuard guard = co_await condition.scopedAcquire();
        state += 1;
        condition.notify(1);
        if (relock)
            co_await sleep(0s); // c0 wakes and queues for the lock we hold
        c0.cancel();

        TaskRef self = currentTask();
        TimerHandle timeout = loop.callLater(10ms, [self]() mutable { self.cancel(); });
        bool timedOut = false;
        try {
            co_await condition.waitFor([&] { return state == 0; });
        } catch (const CancelledError &) {
            timedOut = true;
        }
        if (timedOut)
            currentTask().uncancel();
        timeout.cancel();
        *finalState = state;

        state = -1;
        condition.notifyAll();
    }
    co_await settle(c0, c1);
}

} // namespace

void tst_Locks::conditionCancelledWakeUpIsPassedOn()
{
    Fixture f;
    int finalState = -100;
    f.run(cancelledWakeUpScenario(f.loop, false, &finalState));
    QCOMPARE(finalState, 0);
}

void tst_Locks::conditionCancelledRelockIsPassedOn()
{
    Fixture f;
    int finalState = -100;
    f.run(cancelledWakeUpScenario(f.loop, true, &finalState));
    QCOMPARE(finalState, 0);
}

// --- Barrier ---------------------------------------------------------------------------

void tst_Locks::barrierRejectsBadParties()
{
    QVERIFY_THROWS_EXCEPTION(ValueError, Barrier(0));
    QVERIFY_THROWS_EXCEPTION(ValueError, Barrier(-4));
    Barrier barrier(5);
    QCOMPARE(barrier.parties(), 5);
    QCOMPARE(barrier.nWaiting(), 0);
    QVERIFY(!barrier.broken());
    QVERIFY(barrier.state() == BarrierState::Filling);
}

void tst_Locks::barrierThreePartiesGetEveryIndex()
{
    Barrier barrier(3);
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(barrier.wait());
        co_await sleep(0s);
        CO_COMPARE(barrier.nWaiting(), 1);
        CO_VERIFY(barrier.state() == BarrierState::Filling);
        auto t2 = f.loop.createTask(barrier.wait());
        co_await sleep(0s);
        CO_COMPARE(barrier.nWaiting(), 2);
        CO_VERIFY(!t1.done());
        auto t3 = f.loop.createTask(barrier.wait());
        co_await settle(t1, t2, t3);
        // Arrival order: the last one in trips the barrier.
        CO_COMPARE(t1.result(), 0);
        CO_COMPARE(t2.result(), 1);
        CO_COMPARE(t3.result(), 2);
        CO_COMPARE(barrier.nWaiting(), 0);
        CO_VERIFY(!barrier.broken());
        CO_VERIFY(barrier.state() == BarrierState::Filling);
    }());
}

void tst_Locks::barrierOfOneNeverWaits()
{
    Barrier barrier(1);
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto otherRan = std::make_shared<bool>(false);
        f.loop.callSoon([otherRan] { *otherRan = true; });
        CO_COMPARE(co_await barrier.wait(), 0);
        CO_VERIFY(!*otherRan);
        auto t1 = f.loop.createTask(barrier.wait());
        auto t2 = f.loop.createTask(barrier.wait());
        co_await sleep(0s);
        CO_VERIFY(t1.done() && t2.done());
        CO_COMPARE(t1.result(), t2.result());
        CO_COMPARE(barrier.nWaiting(), 0);
        CO_VERIFY(!barrier.broken());
    }());
}

void tst_Locks::barrierIsReusable()
{
    // Five tasks pass the barrier twice: every first-round mark comes before any second-round
    // mark, and each round hands out every index once.
    constexpr int N = 5;
    Barrier barrier(N);
    Fixture f;
    std::vector<int> rounds;
    std::vector<int> secondIndices;
    auto coro = [&]() -> Coro<void> {
        co_await barrier.wait();
        rounds.push_back(1);
        secondIndices.push_back(co_await barrier.wait());
        rounds.push_back(2);
    };
    f.run([&]() -> Coro<void> {
        std::vector<Future<void>> tasks;
        for (int i = 0; i < N; ++i)
            tasks.push_back(f.loop.createTask(coro()));
        co_await settleAll(tasks);
        CO_COMPARE(rounds, (std::vector<int>{ 1, 1, 1, 1, 1, 2, 2, 2, 2, 2 }));
        std::sort(secondIndices.begin(), secondIndices.end());
        CO_COMPARE(secondIndices, (std::vector<int>{ 0, 1, 2, 3, 4 }));
        CO_COMPARE(barrier.nWaiting(), 0);
        CO_VERIFY(!barrier.broken());
    }());
}

void tst_Locks::barrierDrainingStateUntilLastLeaves()
{
    // CPython's test_draining_state: every task but the last to leave sees the barrier
    // draining; the last one's exit puts it back to filling.
    constexpr int N = 5;
    Barrier barrier(N);
    Fixture f;
    std::vector<bool> draining;
    auto coro = [&]() -> Coro<void> {
        co_await barrier.wait();
        draining.push_back(barrier.state() == BarrierState::Draining);
    };
    f.run([&]() -> Coro<void> {
        std::vector<Future<void>> tasks;
        for (int i = 0; i < N; ++i)
            tasks.push_back(f.loop.createTask(coro()));
        co_await settleAll(tasks);
        CO_COMPARE(draining, (std::vector<bool>{ true, true, true, true, false }));
        CO_VERIFY(barrier.state() == BarrierState::Filling);
        CO_COMPARE(barrier.nWaiting(), 0);
    }());
}

void tst_Locks::barrierBlocksNewcomersWhileDraining()
{
    // CPython's test_blocking_tasks_while_draining: two tasks re-enter at once while the
    // barrier still drains; they must block (not count towards the old round) until the
    // others arrive through a second barrier. Success means nobody deadlocks.
    constexpr int N = 5;
    constexpr int rewait = 2;
    Barrier barrier(N);
    Barrier others(N - rewait);
    Fixture f;
    int rewaitLeft = rewait;
    auto coro = [&]() -> Coro<void> {
        co_await barrier.wait();
        if (rewaitLeft > 0) {
            --rewaitLeft;
            co_await barrier.wait();
        } else {
            co_await others.wait();
            co_await barrier.wait();
        }
    };
    f.run([&]() -> Coro<void> {
        std::vector<Future<void>> tasks;
        for (int i = 0; i < N; ++i)
            tasks.push_back(f.loop.createTask(coro()));
        co_await settleAll(tasks);
        for (const Future<void> &t : tasks)
            CO_VERIFY(t.done() && !t.cancelled() && !t.exception());
        CO_COMPARE(barrier.nWaiting(), 0);
        CO_COMPARE(others.nWaiting(), 0);
    }());
}

void tst_Locks::barrierCancelWhileFilling()
{
    // CPython's test_filling_tasks_cancel_one: a cancelled waiter leaves the count.
    Barrier barrier(3);
    Fixture f;
    int passed = 0;
    auto coro = [&]() -> Coro<void> {
        co_await barrier.wait();
        ++passed;
    };
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(coro());
        co_await sleep(0s);
        CO_COMPARE(barrier.nWaiting(), 1);
        auto t2 = f.loop.createTask(coro());
        co_await sleep(0s);
        CO_COMPARE(barrier.nWaiting(), 2);

        t1.cancel();
        co_await sleep(0s);
        CO_COMPARE(barrier.nWaiting(), 1);
        co_await settle(t1);
        CO_VERIFY(t1.cancelled());

        auto t3 = f.loop.createTask(coro());
        co_await sleep(0s);
        CO_COMPARE(barrier.nWaiting(), 2);
        auto t4 = f.loop.createTask(coro());
        co_await settle(t2, t3, t4);
        CO_VERIFY(!t2.cancelled() && !t3.cancelled() && !t4.cancelled());
        CO_COMPARE(passed, 3);
        CO_COMPARE(barrier.nWaiting(), 0);
        CO_VERIFY(!barrier.broken());
    }());
}

void tst_Locks::barrierResetBreaksWaiters()
{
    // Two of three parties wait; reset() sends both BrokenBarrierError and leaves the
    // barrier usable (filling, not broken).
    Barrier barrier(3);
    Fixture f;
    int broken = 0;
    auto coro = [&]() -> Coro<void> {
        try {
            co_await barrier.wait();
        } catch (const BrokenBarrierError &) {
            ++broken;
        }
    };
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(coro());
        auto t2 = f.loop.createTask(coro());
        co_await sleep(0s);
        CO_COMPARE(barrier.nWaiting(), 2);

        auto resetter = f.loop.createTask(barrier.reset());
        co_await settle(t1, t2, resetter);
        CO_COMPARE(broken, 2);
        CO_COMPARE(barrier.nWaiting(), 0);
        CO_VERIFY(barrier.state() == BarrierState::Filling);
        CO_VERIFY(!barrier.broken());

        // A full round works again.
        auto a = f.loop.createTask(barrier.wait());
        auto b = f.loop.createTask(barrier.wait());
        auto c = f.loop.createTask(barrier.wait());
        co_await settle(a, b, c);
        CO_COMPARE(a.result() + b.result() + c.result(), 3);
    }());
}

void tst_Locks::barrierResetIdleAndAfterAbort()
{
    Barrier barrier(1);
    Fixture f;
    f.run([&]() -> Coro<void> {
        co_await barrier.reset();
        CO_COMPARE(barrier.nWaiting(), 0);
        CO_VERIFY(!barrier.broken());
        CO_VERIFY(barrier.state() == BarrierState::Filling);

        co_await barrier.abort();
        CO_VERIFY(barrier.broken());
        CO_VERIFY_THROWS(BrokenBarrierError, co_await barrier.wait());

        co_await barrier.reset();
        CO_VERIFY(!barrier.broken());
        CO_COMPARE(co_await barrier.wait(), 0);
    }());
}

void tst_Locks::barrierAbortBreaksCurrentAndLaterWaits()
{
    Barrier barrier(3);
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(barrier.wait());
        auto t2 = f.loop.createTask(barrier.wait());
        co_await sleep(0s);
        CO_COMPARE(barrier.nWaiting(), 2);

        co_await barrier.abort();
        CO_VERIFY(barrier.broken());
        CO_COMPARE(barrier.nWaiting(), 0);
        co_await settle(t1, t2);
        CO_VERIFY(failedWith<BrokenBarrierError>(t1));
        CO_VERIFY(failedWith<BrokenBarrierError>(t2));

        QString message;
        try {
            co_await barrier.wait();
        } catch (const BrokenBarrierError &e) {
            message = QString::fromUtf8(e.what());
        }
        CO_COMPARE(message, QStringLiteral("Barrier aborted"));
        CO_VERIFY(barrier.broken());
    }());
}

void tst_Locks::barrierAbortOnException()
{
    // CPython's test_abort_barrier_when_exception: the task with the middle index fails and
    // aborts; everybody else gets BrokenBarrierError from their second wait.
    constexpr int N = 5;
    Barrier barrier(N);
    Fixture f;
    int passedTwice = 0;
    int broken = 0;
    auto coro = [&]() -> Coro<void> {
        bool failed = false;
        try {
            const int i = co_await barrier.wait();
            if (i == N / 2)
                throw std::runtime_error("task failed");
            co_await barrier.wait();
            ++passedTwice;
        } catch (const BrokenBarrierError &) {
            ++broken;
        } catch (const std::runtime_error &) {
            failed = true;
        }
        if (failed)
            co_await barrier.abort(); // C++: no co_await inside a catch handler
    };
    f.run([&]() -> Coro<void> {
        std::vector<Future<void>> tasks;
        for (int i = 0; i < N; ++i)
            tasks.push_back(f.loop.createTask(coro()));
        co_await settleAll(tasks);
        CO_VERIFY(barrier.broken());
        CO_COMPARE(passedTwice, 0);
        CO_COMPARE(broken, N - 1);
        CO_COMPARE(barrier.nWaiting(), 0);
    }());
}

void tst_Locks::barrierAbortThenResetRecovers()
{
    // CPython's test_abort_barrier_when_exception_then_resetting.
    constexpr int N = 5;
    Barrier barrier1(N);
    Barrier barrier2(N);
    Fixture f;
    int results1 = 0, results2 = 0, results3 = 0;
    auto coro = [&]() -> Coro<void> {
        bool failed = false;
        try {
            const int i = co_await barrier1.wait();
            if (i == N / 2)
                throw std::runtime_error("task failed");
            co_await barrier1.wait();
            ++results1;
        } catch (const BrokenBarrierError &) {
            ++results2;
        } catch (const std::runtime_error &) {
            failed = true;
        }
        if (failed)
            co_await barrier1.abort();

        // Everyone leaves barrier1 before the reset and nobody enters it again before.
        const int i = co_await barrier2.wait();
        if (i == N / 2)
            co_await barrier1.reset();
        co_await barrier2.wait();
        co_await barrier1.wait();
        ++results3;
    };
    f.run([&]() -> Coro<void> {
        std::vector<Future<void>> tasks;
        for (int i = 0; i < N; ++i)
            tasks.push_back(f.loop.createTask(coro()));
        co_await settleAll(tasks);
        for (const Future<void> &t : tasks)
            CO_VERIFY(t.done() && !t.cancelled() && !t.exception());
        CO_VERIFY(!barrier1.broken());
        CO_COMPARE(results1, 0);
        CO_COMPARE(results2, N - 1);
        CO_COMPARE(results3, N);
        CO_COMPARE(barrier1.nWaiting(), 0);
    }());
}

void tst_Locks::barrierResetWhileDraining()
{
    // CPython's test_reset_barrier_while_tasks_draining: the last task out resets the barrier
    // while the others already wait again; they are not broken by it (the reset happens
    // before they count), and a final round passes for everyone.
    constexpr int N = 5;
    Barrier barrier(N);
    Fixture f;
    int count = 0;
    int results1 = 0, results2 = 0, results3 = 0;
    auto coro = [&]() -> Coro<void> {
        co_await barrier.wait();
        ++count;
        if (count == N) {
            co_await barrier.reset();
            co_await barrier.wait();
        } else {
            try {
                co_await barrier.wait();
                ++results1;
            } catch (const std::exception &) {
                ++results2;
            }
        }
        co_await barrier.wait();
        ++results3;
    };
    f.run([&]() -> Coro<void> {
        std::vector<Future<void>> tasks;
        for (int i = 0; i < N; ++i)
            tasks.push_back(f.loop.createTask(coro()));
        co_await settleAll(tasks);
        CO_VERIFY(!barrier.broken());
        CO_COMPARE(results1, N - 1);
        CO_COMPARE(results2, 0);
        CO_COMPARE(results3, N);
        CO_COMPARE(barrier.nWaiting(), 0);
    }());
}

QTEST_GUILESS_MAIN(tst_Locks)
#include "tst_locks.moc"
