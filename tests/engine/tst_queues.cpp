// Tests of Queue, LifoQueue and PriorityQueue (queue.h). They follow what CPython's
// Lib/test/test_asyncio/test_queues.py checks: ordering, maxsize blocking, wake-up order of
// getters and putters, cancellation at every waiting point with the wake-up handed on,
// taskDone()/join(), and the 3.13 shutdown() (plain and immediate); plus move-only items.
//
// Each test body is a coroutine run as the loop's main task (as IsolatedAsyncioTestCase
// does), so `co_await sleep(0s)` is Python's `await asyncio.sleep(0)`: one loop iteration.

#include <loopscope/loopscope.h>
#include <loopscope/queue.h>

#include <QStringList>
#include <QTest>

#include <cstdlib>
#include <functional>
#include <memory>
#include <set>
#include <utility>
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

    //! Runs \a main as a task until it is done; a watchdog an hour ahead on the virtual clock
    //! turns a deadlock into a failure instead of a hang.
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

QString data()
{
    return QStringLiteral("data");
}

//! Orders unique_ptrs by what they point to.
struct PointeeLess
{
    bool operator()(const std::unique_ptr<int> &a, const std::unique_ptr<int> &b) const
    {
        return *a < *b;
    }
};

// --- scenarios run for each of the three queue kinds -----------------------------------

//! CPython's _QueueJoinTestMixin.test_task_done: two workers, 100 items, join().
template <typename Q>
Coro<void> taskDoneScenario(EventLoop &loop, Q &q, int *accumulator)
{
    for (int i = 0; i < 100; ++i)
        q.putNowait(i);
    bool running = true;
    auto worker = [&]() -> Coro<void> {
        while (running) {
            const int item = co_await q.get();
            *accumulator += item;
            q.taskDone();
        }
    };
    auto w1 = loop.createTask(worker());
    auto w2 = loop.createTask(worker());
    co_await q.join();
    CO_COMPARE(*accumulator, 4950);
    CO_COMPARE(int(q.unfinishedTasks()), 0);

    // Stop the workers: one last item each, seen after `running` went false.
    running = false;
    q.putNowait(0);
    q.putNowait(0);
    co_await settle(w1, w2);
    CO_VERIFY(w1.done() && !w1.cancelled() && !w1.exception());
    CO_VERIFY(w2.done() && !w2.cancelled() && !w2.exception());
    CO_VERIFY(q.empty());
}

//! CPython's test_shutdown_empty.
template <typename Q>
Coro<void> shutdownEmptyScenario(EventLoop &loop, Q &q)
{
    auto getTask = loop.createTask(q.get());
    co_await sleep(0s); // the getter is waiting before the shutdown
    CO_COMPARE(int(q.getterCount()), 1);

    q.shutdown(false);
    CO_VERIFY(q.isShutDown());
    CO_COMPARE(int(q.qsize()), 0);
    CO_COMPARE(int(q.getterCount()), 0);
    co_await q.join();

    co_await sleep(0s);
    CO_VERIFY(getTask.done());
    co_await settle(getTask);
    CO_VERIFY(failedWith<QueueShutDown>(getTask));

    CO_VERIFY_THROWS(QueueShutDown, co_await q.put(data()));
    CO_VERIFY_THROWS(QueueShutDown, q.putNowait(data()));
    CO_VERIFY_THROWS(QueueShutDown, co_await q.get());
    CO_VERIFY_THROWS(QueueShutDown, q.getNowait());
}

//! CPython's test_shutdown_nonempty: queued items can still be got; blocked putters fail.
template <typename Q>
Coro<void> shutdownNonEmptyScenario(EventLoop &loop, Q &q)
{
    CO_COMPARE(int(q.maxsize()), 1);
    q.putNowait(data());
    auto joinTask = loop.createTask(q.join());
    auto putTask = loop.createTask(q.put(QStringLiteral("data2")));
    co_await sleep(0s);
    CO_VERIFY(!putTask.done());
    CO_COMPARE(int(q.putterCount()), 1);

    q.shutdown(false);
    CO_COMPARE(int(q.qsize()), 1);
    co_await sleep(0s);
    CO_VERIFY(putTask.done());
    co_await settle(putTask);
    CO_VERIFY(failedWith<QueueShutDown>(putTask));

    CO_COMPARE(co_await q.get(), data());
    co_await sleep(0s);
    CO_VERIFY(!joinTask.done()); // the item got is not done yet

    CO_VERIFY_THROWS(QueueShutDown, co_await q.put(data()));
    CO_VERIFY_THROWS(QueueShutDown, q.putNowait(data()));
    CO_VERIFY_THROWS(QueueShutDown, co_await q.get());
    CO_VERIFY_THROWS(QueueShutDown, q.getNowait());

    q.taskDone();
    co_await sleep(0s);
    CO_VERIFY(joinTask.done() && !joinTask.cancelled() && !joinTask.exception());
    CO_VERIFY_THROWS(ValueError, q.taskDone());
}

//! CPython's test_shutdown_immediate: the queue is drained and join() returns.
template <typename Q>
Coro<void> shutdownImmediateScenario(EventLoop &loop, Q &q)
{
    q.putNowait(data());
    auto joinTask = loop.createTask(q.join());

    q.shutdown(true);
    CO_COMPARE(int(q.qsize()), 0);
    CO_COMPARE(int(q.unfinishedTasks()), 0);
    co_await sleep(0s);
    CO_VERIFY(joinTask.done() && !joinTask.exception());

    CO_VERIFY_THROWS(QueueShutDown, co_await q.put(data()));
    CO_VERIFY_THROWS(QueueShutDown, q.putNowait(data()));
    CO_VERIFY_THROWS(QueueShutDown, co_await q.get());
    CO_VERIFY_THROWS(QueueShutDown, q.getNowait());
    CO_VERIFY_THROWS(ValueError, q.taskDone());
}

//! CPython's test_shutdown_immediate_with_unfinished: an item already got still needs its
//! taskDone() before join() returns.
template <typename Q>
Coro<void> shutdownImmediateWithUnfinishedScenario(EventLoop &loop, Q &q)
{
    q.putNowait(data());
    q.putNowait(data());
    auto joinTask = loop.createTask(q.join());
    CO_COMPARE(co_await q.get(), data());

    q.shutdown(true);
    CO_COMPARE(int(q.qsize()), 0);
    CO_COMPARE(int(q.unfinishedTasks()), 1);
    co_await sleep(0s);
    CO_VERIFY(!joinTask.done());

    CO_VERIFY_THROWS(QueueShutDown, co_await q.put(data()));
    CO_VERIFY_THROWS(QueueShutDown, q.putNowait(data()));
    CO_VERIFY_THROWS(QueueShutDown, co_await q.get());
    CO_VERIFY_THROWS(QueueShutDown, q.getNowait());

    q.taskDone();
    CO_VERIFY_THROWS(ValueError, q.taskDone());
    co_await sleep(0s);
    CO_VERIFY(joinTask.done() && !joinTask.exception());
}

} // namespace

class tst_Queues : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void cleanup();

    // basics
    void emptyFullAndSize();
    void fifoOrder();
    void lifoOrder();
    void priorityOrder();
    void priorityWithCustomComparator();
    void maxsizeBlocksPut();

    // get
    void getWaitsForPut();
    void getNowaitOnEmptyThrowsQueueEmpty();
    void gettersAreServedInArrivalOrder();
    void getCancelledRace();
    void getWithWaitingPutters();
    void producerConsumerThroughMaxsizeOne();
    void cancelledGetterLeavesNoGetter();
    void cancelledWokenGetterDoesNotDropItem();
    void cancelledWokenGetterPassesWakeUpOn();

    // put
    void putWaitsForGet();
    void putNowaitOnFullThrowsQueueFull();
    void putWithWaitingGetter();
    void cancelledWokenPutterDoesNotLoseSlot();
    void cancelledWokenPutterPassesSlotOn();
    void cancelledPutterRace();
    void puttersAllGetIn();
    void cancelledPutterLeavesNoPutter();
    void cancelledPutterAlreadyPoppedByGet();

    // taskDone / join
    void taskDoneTooManyThrows();
    void taskDoneAndJoin();
    void joinEmptyQueueDoesNotSuspend();
    void joinWaitsForEveryTaskDone();

    // shutdown
    void shutdownEmpty();
    void shutdownNonEmpty();
    void shutdownImmediate();
    void shutdownImmediateWithUnfinished();
    void shutdownWakesEveryBlockedCaller();

    // C++ specifics
    void moveOnlyItems();
    void boundToItsFirstLoop();
};

void tst_Queues::cleanup()
{
    const QStringList reports = std::exchange(g_reports, {});
    QVERIFY2(reports.isEmpty(), qPrintable(reports.join(QLatin1Char('\n'))));
}

// --- basics ----------------------------------------------------------------------------

void tst_Queues::emptyFullAndSize()
{
    Queue<int> q;
    Queue<int> one(1);
    Fixture f;
    QVERIFY(q.empty());
    QVERIFY(!q.full());
    QCOMPARE(int(q.maxsize()), 0);
    QCOMPARE(int(one.maxsize()), 1);
    f.run([&]() -> Coro<void> {
        co_await q.put(1);
        CO_VERIFY(!q.empty());
        CO_VERIFY(!q.full()); // unbounded: never full
        CO_COMPARE(int(q.qsize()), 1);
        CO_COMPARE(co_await q.get(), 1);
        CO_VERIFY(q.empty());

        CO_VERIFY(!one.full());
        co_await one.put(1);
        CO_VERIFY(one.full());
        CO_COMPARE(int(one.qsize()), 1);
    }());
}

void tst_Queues::fifoOrder()
{
    Queue<int> q;
    Fixture f;
    f.run([&]() -> Coro<void> {
        for (int i : { 1, 3, 2 })
            co_await q.put(i);
        std::vector<int> items;
        for (int i = 0; i < 3; ++i)
            items.push_back(co_await q.get());
        CO_COMPARE(items, (std::vector<int>{ 1, 3, 2 }));
    }());
}

void tst_Queues::lifoOrder()
{
    LifoQueue<int> q;
    Fixture f;
    f.run([&]() -> Coro<void> {
        for (int i : { 1, 3, 2 })
            co_await q.put(i);
        std::vector<int> items;
        for (int i = 0; i < 3; ++i)
            items.push_back(co_await q.get());
        CO_COMPARE(items, (std::vector<int>{ 2, 3, 1 }));
    }());
}

void tst_Queues::priorityOrder()
{
    PriorityQueue<int> q;
    PriorityQueue<std::pair<int, QString>> entries;
    Fixture f;
    f.run([&]() -> Coro<void> {
        for (int i : { 1, 3, 2 })
            co_await q.put(i);
        std::vector<int> items;
        for (int i = 0; i < 3; ++i)
            items.push_back(co_await q.get());
        CO_COMPARE(items, (std::vector<int>{ 1, 2, 3 }));

        // The usual (priority, data) entries: smallest priority first, like heapq.
        entries.putNowait({ 5, QStringLiteral("low") });
        entries.putNowait({ 0, QStringLiteral("urgent") });
        entries.putNowait({ 2, QStringLiteral("normal") });
        QStringList order;
        while (!entries.empty())
            order.append((co_await entries.get()).second);
        CO_COMPARE(order,
                   (QStringList{ QStringLiteral("urgent"), QStringLiteral("normal"),
                                 QStringLiteral("low") }));
    }());
}

void tst_Queues::priorityWithCustomComparator()
{
    PriorityQueue<int, std::greater<int>> largestFirst;
    // A stateful comparator: order by distance to 10.
    auto nearTen = [](int a, int b) { return std::abs(a - 10) < std::abs(b - 10); };
    PriorityQueue<int, decltype(nearTen)> closest(0, nearTen);
    Fixture f;
    f.run([&]() -> Coro<void> {
        for (int i : { 4, 9, 1, 7 }) {
            largestFirst.putNowait(i);
            closest.putNowait(i * 3);
        }
        std::vector<int> big, near;
        while (!largestFirst.empty())
            big.push_back(co_await largestFirst.get());
        while (!closest.empty())
            near.push_back(co_await closest.get());
        CO_COMPARE(big, (std::vector<int>{ 9, 7, 4, 1 }));
        CO_COMPARE(near, (std::vector<int>{ 12, 3, 21, 27 }));
    }());
}

void tst_Queues::maxsizeBlocksPut()
{
    Queue<int> q(2);
    Fixture f;
    std::vector<int> haveBeenPut;
    auto putter = [&]() -> Coro<void> {
        for (int i = 0; i < 3; ++i) {
            co_await q.put(i);
            haveBeenPut.push_back(i);
        }
    };
    f.run([&]() -> Coro<void> {
        CO_COMPARE(int(q.maxsize()), 2);
        auto t = f.loop.createTask(putter());
        co_await sleep(0s);
        co_await sleep(0s);
        // Blocked after two items.
        CO_COMPARE(haveBeenPut, (std::vector<int>{ 0, 1 }));
        CO_COMPARE(int(q.putterCount()), 1);
        CO_COMPARE(co_await q.get(), 0);

        co_await sleep(0s);
        CO_COMPARE(haveBeenPut, (std::vector<int>{ 0, 1, 2 }));
        CO_COMPARE(co_await q.get(), 1);
        CO_COMPARE(co_await q.get(), 2);
        CO_VERIFY(t.done() && !t.exception());
    }());
}

// --- get -------------------------------------------------------------------------------

void tst_Queues::getWaitsForPut()
{
    Queue<int> q;
    Event started;
    Fixture f;
    bool finished = false;
    auto queueGet = [&]() -> Coro<int> {
        started.set();
        const int res = co_await q.get();
        finished = true;
        co_return res;
    };
    f.run([&]() -> Coro<void> {
        auto t = f.loop.createTask(queueGet());
        co_await started.wait();
        CO_VERIFY(!finished);
        f.loop.callLater(10ms, [&q] { q.putNowait(1); });
        const int res = co_await t;
        CO_VERIFY(finished);
        CO_COMPARE(res, 1);
        CO_COMPARE(f.loop.time(), TimePoint(10ms));
    }());
}

void tst_Queues::getNowaitOnEmptyThrowsQueueEmpty()
{
    Queue<int> q;
    QVERIFY_THROWS_EXCEPTION(QueueEmpty, q.getNowait());
    q.putNowait(1);
    QCOMPARE(q.getNowait(), 1);
    QVERIFY_THROWS_EXCEPTION(QueueEmpty, q.getNowait());
    LifoQueue<int> lifo;
    QVERIFY_THROWS_EXCEPTION(QueueEmpty, lifo.getNowait());
    PriorityQueue<int> prio;
    QVERIFY_THROWS_EXCEPTION(QueueEmpty, prio.getNowait());
}

void tst_Queues::gettersAreServedInArrivalOrder()
{
    Queue<int> q;
    Fixture f;
    std::vector<std::pair<int, int>> got; // (getter, item)
    auto getter = [&](int id) -> Coro<void> { got.emplace_back(id, co_await q.get()); };
    f.run([&]() -> Coro<void> {
        auto g1 = f.loop.createTask(getter(1));
        auto g2 = f.loop.createTask(getter(2));
        auto g3 = f.loop.createTask(getter(3));
        co_await sleep(0s);
        CO_COMPARE(int(q.getterCount()), 3);
        q.putNowait(10);
        q.putNowait(20);
        q.putNowait(30);
        CO_COMPARE(int(q.getterCount()), 0); // each put popped one getter
        co_await settle(g1, g2, g3);
        CO_COMPARE(got, (std::vector<std::pair<int, int>>{ { 1, 10 }, { 2, 20 }, { 3, 30 } }));
    }());
}

void tst_Queues::getCancelledRace()
{
    Queue<QString> q;
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto t1 = f.loop.createTask(q.get());
        auto t2 = f.loop.createTask(q.get());
        co_await sleep(0s);
        t1.cancel();
        co_await sleep(0s);
        CO_VERIFY(t1.done() && t1.cancelled());
        CO_COMPARE(int(q.getterCount()), 1);
        co_await q.put(QStringLiteral("a"));
        co_await sleep(0s);
        CO_COMPARE(co_await t2, QStringLiteral("a"));
    }());
}

void tst_Queues::getWithWaitingPutters()
{
    Queue<QString> q(1);
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto pa = f.loop.createTask(q.put(QStringLiteral("a")));
        auto pb = f.loop.createTask(q.put(QStringLiteral("b")));
        CO_COMPARE(co_await q.get(), QStringLiteral("a"));
        CO_COMPARE(co_await q.get(), QStringLiteral("b"));
        CO_VERIFY(pa.done() && pb.done());
        CO_VERIFY(!pa.exception() && !pb.exception());
    }());
}

void tst_Queues::producerConsumerThroughMaxsizeOne()
{
    Queue<int> q(1);
    Fixture f;
    std::vector<int> consumed;
    auto producer = [&](int n) -> Coro<void> {
        for (int i = 0; i < n; ++i)
            co_await q.put(i);
    };
    auto consumer = [&](int n) -> Coro<void> {
        for (int i = 0; i < n; ++i)
            consumed.push_back(co_await q.get());
    };
    f.run([&]() -> Coro<void> {
        auto p = f.loop.createTask(producer(5));
        auto c = f.loop.createTask(consumer(5));
        co_await settle(p, c);
        CO_VERIFY(!p.exception() && !c.exception());
        CO_COMPARE(consumed, (std::vector<int>{ 0, 1, 2, 3, 4 }));
        CO_VERIFY(q.empty());
        CO_COMPARE(int(q.getterCount()), 0);
        CO_COMPARE(int(q.putterCount()), 0);
    }());
}

void tst_Queues::cancelledGetterLeavesNoGetter()
{
    // CPython's test_cancelled_getters_not_being_held_in_self_getters.
    Queue<int> q(5);
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto getter = f.loop.createTask(q.get());
        f.loop.callLater(100ms, [getter]() mutable { getter.cancel(); });
        co_await settle(getter);
        CO_VERIFY(getter.cancelled());
        CO_COMPARE(f.loop.time(), TimePoint(100ms));
        CO_COMPARE(int(q.getterCount()), 0);
    }());
}

void tst_Queues::cancelledWokenGetterDoesNotDropItem()
{
    // CPython's test_get_cancel_drop_one_pending_reader: the reader was woken for item 1
    // and cancelled before it ran: item 1 stays first in the queue.
    Queue<int> q;
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto reader = f.loop.createTask(q.get());
        co_await sleep(0s);
        q.putNowait(1);
        q.putNowait(2);
        reader.cancel();
        co_await settle(reader);
        CO_VERIFY(reader.cancelled());
        CO_COMPARE(int(q.qsize()), 2);

        auto again = f.loop.createTask(q.get());
        CO_COMPARE(co_await again, 1);
        CO_COMPARE(int(q.qsize()), 1);
    }());
}

void tst_Queues::cancelledWokenGetterPassesWakeUpOn()
{
    // CPython's test_get_cancel_drop_many_pending_readers: reader1 is woken and cancelled;
    // its wake-up goes to reader3, so both items are got.
    Queue<int> q;
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto reader1 = f.loop.createTask(q.get());
        auto reader2 = f.loop.createTask(q.get());
        auto reader3 = f.loop.createTask(q.get());
        co_await sleep(0s);
        q.putNowait(1);
        q.putNowait(2);
        reader1.cancel();
        co_await settle(reader1);
        CO_VERIFY(reader1.cancelled());
        co_await settle(reader2, reader3);
        CO_VERIFY(!reader2.cancelled() && !reader3.cancelled());
        CO_COMPARE((std::set<int>{ reader2.result(), reader3.result() }), (std::set<int>{ 1, 2 }));
        CO_VERIFY(q.empty());
        CO_COMPARE(int(q.getterCount()), 0);
    }());
}

// --- put -------------------------------------------------------------------------------

void tst_Queues::putWaitsForGet()
{
    Queue<int> q(1);
    Event started;
    Fixture f;
    bool finished = false;
    auto queuePut = [&]() -> Coro<void> {
        started.set();
        co_await q.put(1);
        co_await q.put(2);
        finished = true;
    };
    f.run([&]() -> Coro<void> {
        f.loop.callLater(10ms, [&q] { (void)q.getNowait(); });
        auto t = f.loop.createTask(queuePut());
        co_await started.wait();
        CO_VERIFY(!finished);
        co_await t;
        CO_VERIFY(finished);
        CO_COMPARE(f.loop.time(), TimePoint(10ms));
        CO_COMPARE(q.getNowait(), 2);
    }());
}

void tst_Queues::putNowaitOnFullThrowsQueueFull()
{
    Queue<int> q(1);
    q.putNowait(1);
    QVERIFY_THROWS_EXCEPTION(QueueFull, q.putNowait(2));
    QCOMPARE(int(q.qsize()), 1);
    QCOMPARE(int(q.unfinishedTasks()), 1); // the refused item is not counted
    LifoQueue<int> lifo(1);
    lifo.putNowait(1);
    QVERIFY_THROWS_EXCEPTION(QueueFull, lifo.putNowait(2));
    PriorityQueue<int> prio(1);
    prio.putNowait(1);
    QVERIFY_THROWS_EXCEPTION(QueueFull, prio.putNowait(2));
}

void tst_Queues::putWithWaitingGetter()
{
    Queue<QString> q;
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto t = f.loop.createTask(q.get());
        co_await sleep(0s);
        co_await q.put(QStringLiteral("a"));
        CO_COMPARE(co_await t, QStringLiteral("a"));
    }());
}

void tst_Queues::cancelledWokenPutterDoesNotLoseSlot()
{
    // CPython's test_put_cancel_drop: the writer was woken for the free slot and cancelled
    // before it ran; a new writer still gets the slot.
    Queue<int> q(1);
    Fixture f;
    f.run([&]() -> Coro<void> {
        q.putNowait(1);
        auto writer = f.loop.createTask(q.put(2));
        co_await sleep(0s);
        CO_COMPARE(q.getNowait(), 1);
        writer.cancel();
        co_await settle(writer);
        CO_VERIFY(writer.cancelled());
        CO_VERIFY(q.empty());

        auto again = f.loop.createTask(q.put(2));
        co_await again;
        CO_COMPARE(q.getNowait(), 2);
        CO_COMPARE(int(q.qsize()), 0);
    }());
}

void tst_Queues::cancelledWokenPutterPassesSlotOn()
{
    // The putter woken for the free slot is cancelled before it runs: the slot must go to
    // the next putter in line, or it would wait forever on a queue with room.
    Queue<int> q(1);
    Fixture f;
    f.run([&]() -> Coro<void> {
        q.putNowait(0);
        auto p1 = f.loop.createTask(q.put(1));
        auto p2 = f.loop.createTask(q.put(2));
        co_await sleep(0s);
        CO_COMPARE(int(q.putterCount()), 2);

        CO_COMPARE(q.getNowait(), 0); // wakes p1
        p1.cancel();
        co_await settle(p1);
        CO_VERIFY(p1.cancelled());
        co_await p2;
        CO_COMPARE(q.getNowait(), 2);
        CO_VERIFY(q.empty());
        CO_COMPARE(int(q.putterCount()), 0);
    }());
}

void tst_Queues::cancelledPutterRace()
{
    // CPython's test_put_cancelled_race: a cancelled putter in the middle does not take the
    // slot freed for the one before it.
    Queue<QString> q(1);
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto putA = f.loop.createTask(q.put(QStringLiteral("a")));
        auto putB = f.loop.createTask(q.put(QStringLiteral("b")));
        auto putC = f.loop.createTask(q.put(QStringLiteral("X")));
        co_await sleep(0s);
        CO_VERIFY(putA.done());
        CO_VERIFY(!putB.done());

        putC.cancel();
        co_await sleep(0s);
        CO_VERIFY(putC.done() && putC.cancelled());
        CO_COMPARE(q.getNowait(), QStringLiteral("a"));
        co_await sleep(0s);
        CO_COMPARE(q.getNowait(), QStringLiteral("b"));
        co_await putB;
        CO_VERIFY(q.empty());
    }());
}

void tst_Queues::puttersAllGetIn()
{
    // CPython's test_why_are_putters_waiting: four putters on a queue of two, a getter that
    // drains what it sees once: every putter gets its item in, none stays blocked.
    Queue<int> q(2);
    Fixture f;
    auto putter = [&](int item) -> Coro<void> { co_await q.put(item); };
    auto getter = [&]() -> Coro<void> {
        co_await sleep(0s);
        const std::size_t n = q.qsize();
        for (std::size_t i = 0; i < n; ++i)
            (void)q.getNowait();
    };
    f.run([&]() -> Coro<void> {
        std::vector<Future<void>> tasks{ f.loop.createTask(getter()), f.loop.createTask(putter(0)),
                                         f.loop.createTask(putter(1)), f.loop.createTask(putter(2)),
                                         f.loop.createTask(putter(3)) };
        co_await settleAll(tasks);
        for (const Future<void> &t : tasks)
            CO_VERIFY(t.done() && !t.cancelled() && !t.exception());
        CO_COMPARE(q.getNowait(), 2);
        CO_COMPARE(q.getNowait(), 3);
        CO_COMPARE(int(q.putterCount()), 0);
    }());
}

void tst_Queues::cancelledPutterLeavesNoPutter()
{
    Queue<int> q(1);
    Fixture f;
    f.run([&]() -> Coro<void> {
        q.putNowait(1);
        auto putTask = f.loop.createTask(q.put(1));
        co_await sleep(0s);
        CO_COMPARE(int(q.putterCount()), 1);
        putTask.cancel();
        co_await settle(putTask);
        CO_VERIFY(putTask.cancelled());
        CO_COMPARE(int(q.putterCount()), 0);
        CO_COMPARE(int(q.qsize()), 1);
    }());
}

void tst_Queues::cancelledPutterAlreadyPoppedByGet()
{
    // CPython's test_cancelled_put_silence_value_error_exception: getNowait() already took
    // the putter off the queue; its cancellation must still end as a plain CancelledError.
    Queue<int> q(1);
    Fixture f;
    f.run([&]() -> Coro<void> {
        q.putNowait(1);
        auto putTask = f.loop.createTask(q.put(1));
        co_await sleep(0s);
        (void)q.getNowait();
        CO_COMPARE(int(q.putterCount()), 0);
        putTask.cancel();
        co_await settle(putTask);
        CO_VERIFY(putTask.cancelled());
        CO_VERIFY(q.empty()); // the cancelled put did not put
    }());
}

// --- taskDone / join -------------------------------------------------------------------

void tst_Queues::taskDoneTooManyThrows()
{
    Queue<int> q;
    LifoQueue<int> lifo;
    PriorityQueue<int> prio;
    QVERIFY_THROWS_EXCEPTION(ValueError, q.taskDone());
    QVERIFY_THROWS_EXCEPTION(ValueError, lifo.taskDone());
    QVERIFY_THROWS_EXCEPTION(ValueError, prio.taskDone());
    q.putNowait(1);
    (void)q.getNowait();
    q.taskDone();
    QString message;
    try {
        q.taskDone();
    } catch (const ValueError &e) {
        message = QString::fromUtf8(e.what());
    }
    QCOMPARE(message, QStringLiteral("taskDone() called too many times"));
}

void tst_Queues::taskDoneAndJoin()
{
    Queue<int> fifo;
    LifoQueue<int> lifo;
    PriorityQueue<int> prio;
    Fixture f;
    int fifoSum = 0, lifoSum = 0, prioSum = 0;
    f.run(taskDoneScenario(f.loop, fifo, &fifoSum));
    f.run(taskDoneScenario(f.loop, lifo, &lifoSum));
    f.run(taskDoneScenario(f.loop, prio, &prioSum));
    QCOMPARE(fifoSum, 4950);
    QCOMPARE(lifoSum, 4950);
    QCOMPARE(prioSum, 4950);
}

void tst_Queues::joinEmptyQueueDoesNotSuspend()
{
    Queue<int> q;
    Fixture f;
    f.run([&]() -> Coro<void> {
        auto otherRan = std::make_shared<bool>(false);
        f.loop.callSoon([otherRan] { *otherRan = true; });
        co_await q.join();
        co_await q.join();
        CO_VERIFY(!*otherRan);
    }());
}

void tst_Queues::joinWaitsForEveryTaskDone()
{
    Queue<int> q;
    Fixture f;
    f.run([&]() -> Coro<void> {
        q.putNowait(1);
        q.putNowait(2);
        auto joiner = f.loop.createTask(q.join());
        co_await sleep(0s);
        (void)q.getNowait();
        (void)q.getNowait();
        co_await sleep(0s);
        CO_VERIFY(!joiner.done()); // got, not done
        q.taskDone();
        co_await sleep(0s);
        CO_VERIFY(!joiner.done());
        CO_COMPARE(int(q.unfinishedTasks()), 1);
        q.taskDone();
        co_await sleep(0s);
        CO_VERIFY(joiner.done() && !joiner.exception());

        // A new item makes join() wait again.
        q.putNowait(3);
        auto joiner2 = f.loop.createTask(q.join());
        co_await sleep(0s);
        CO_VERIFY(!joiner2.done());
        (void)q.getNowait();
        q.taskDone();
        co_await joiner2;
    }());
}

// --- shutdown --------------------------------------------------------------------------

void tst_Queues::shutdownEmpty()
{
    Queue<QString> fifo;
    LifoQueue<QString> lifo;
    PriorityQueue<QString> prio;
    Fixture f;
    f.run(shutdownEmptyScenario(f.loop, fifo));
    f.run(shutdownEmptyScenario(f.loop, lifo));
    f.run(shutdownEmptyScenario(f.loop, prio));
}

void tst_Queues::shutdownNonEmpty()
{
    Queue<QString> fifo(1);
    LifoQueue<QString> lifo(1);
    PriorityQueue<QString> prio(1);
    Fixture f;
    f.run(shutdownNonEmptyScenario(f.loop, fifo));
    f.run(shutdownNonEmptyScenario(f.loop, lifo));
    f.run(shutdownNonEmptyScenario(f.loop, prio));
}

void tst_Queues::shutdownImmediate()
{
    Queue<QString> fifo;
    LifoQueue<QString> lifo;
    PriorityQueue<QString> prio;
    Fixture f;
    f.run(shutdownImmediateScenario(f.loop, fifo));
    f.run(shutdownImmediateScenario(f.loop, lifo));
    f.run(shutdownImmediateScenario(f.loop, prio));
}

void tst_Queues::shutdownImmediateWithUnfinished()
{
    Queue<QString> fifo;
    LifoQueue<QString> lifo;
    PriorityQueue<QString> prio;
    Fixture f;
    f.run(shutdownImmediateWithUnfinishedScenario(f.loop, fifo));
    f.run(shutdownImmediateWithUnfinishedScenario(f.loop, lifo));
    f.run(shutdownImmediateWithUnfinishedScenario(f.loop, prio));
}

void tst_Queues::shutdownWakesEveryBlockedCaller()
{
    // Several getters of an empty queue and several putters of a full one: shutdown()
    // unblocks all of them with QueueShutDown; a non-immediate shutdown of a queue with
    // items lets the getters have them first.
    Queue<int> empty;
    Queue<int> full(1);
    Queue<int> withItems;
    Fixture f;
    f.run([&]() -> Coro<void> {
        full.putNowait(0);
        std::vector<Future<int>> getters;
        std::vector<Future<void>> putters;
        for (int i = 0; i < 3; ++i) {
            getters.push_back(f.loop.createTask(empty.get()));
            putters.push_back(f.loop.createTask(full.put(i)));
        }
        co_await sleep(0s);
        CO_COMPARE(int(empty.getterCount()), 3);
        CO_COMPARE(int(full.putterCount()), 3);

        empty.shutdown();
        full.shutdown();
        co_await settleAll(getters);
        co_await settleAll(putters);
        for (const Future<int> &g : getters)
            CO_VERIFY(failedWith<QueueShutDown>(g));
        for (const Future<void> &p : putters)
            CO_VERIFY(failedWith<QueueShutDown>(p));
        CO_COMPARE(full.getNowait(), 0); // the queued item survives a non-immediate shutdown

        auto g1 = f.loop.createTask(withItems.get());
        auto g2 = f.loop.createTask(withItems.get());
        co_await sleep(0s);
        withItems.putNowait(7);
        withItems.shutdown();
        co_await settle(g1, g2);
        CO_COMPARE(g1.result(), 7);
        CO_VERIFY(failedWith<QueueShutDown>(g2));
    }());
}

// --- C++ specifics ---------------------------------------------------------------------

void tst_Queues::moveOnlyItems()
{
    Queue<std::unique_ptr<int>> q(1);
    LifoQueue<std::unique_ptr<int>> lifo;
    PriorityQueue<std::unique_ptr<int>, PointeeLess> prio;
    Fixture f;
    std::unique_ptr<int> gotByTask;
    auto getter = [&]() -> Coro<void> { gotByTask = co_await q.get(); };
    f.run([&]() -> Coro<void> {
        co_await q.put(std::make_unique<int>(1));
        auto putter = f.loop.createTask(q.put(std::make_unique<int>(2))); // blocks: full
        co_await sleep(0s);
        CO_COMPARE(int(q.putterCount()), 1);
        std::unique_ptr<int> a = co_await q.get();
        CO_VERIFY(a && *a == 1);
        co_await putter;
        std::unique_ptr<int> b = q.getNowait();
        CO_VERIFY(b && *b == 2);

        auto g = f.loop.createTask(getter()); // waits on the empty queue
        co_await sleep(0s);
        q.putNowait(std::make_unique<int>(3));
        co_await g;
        CO_VERIFY(gotByTask && *gotByTask == 3);

        for (int i : { 3, 1, 2 }) {
            lifo.putNowait(std::make_unique<int>(i));
            co_await prio.put(std::make_unique<int>(i));
        }
        std::vector<int> lifoOrder, prioOrder;
        while (!lifo.empty())
            lifoOrder.push_back(*co_await lifo.get());
        while (!prio.empty())
            prioOrder.push_back(*prio.getNowait());
        CO_COMPARE(lifoOrder, (std::vector<int>{ 2, 1, 3 }));
        CO_COMPARE(prioOrder, (std::vector<int>{ 1, 2, 3 }));
    }());
}

void tst_Queues::boundToItsFirstLoop()
{
    // Python's _LoopBoundMixin: the first wait binds the queue; waiting from another loop
    // throws RuntimeError, while the non-waiting operations work anywhere.
    Queue<int> q;
    {
        Fixture first;
        first.run([&]() -> Coro<void> {
            auto getter = first.loop.createTask(q.get());
            co_await sleep(0s); // waits: binds the queue to this loop
            q.putNowait(1);
            CO_COMPARE(co_await getter, 1);
        }());
    }
    Fixture second;
    QString message;
    second.run([&]() -> Coro<void> {
        co_await q.put(2); // no waiting: no loop check
        CO_COMPARE(co_await q.get(), 2);
        auto getter = second.loop.createTask(q.get());
        co_await settle(getter);
        CO_VERIFY(failedWith<RuntimeError>(getter));
        try {
            (void)getter.result();
        } catch (const RuntimeError &e) {
            message = QString::fromUtf8(e.what());
        }
    }());
    QCOMPARE(message, QStringLiteral("Queue is bound to a different event loop"));
}

QTEST_GUILESS_MAIN(tst_Queues)
#include "tst_queues.moc"
