#pragma once

//! \file queue.h Queues for producer and consumer tasks of one loop (Python:
//! asyncio/queues.py, with the 3.13 shutdown()): Queue (FIFO), LifoQueue, PriorityQueue.

// moc (Qt 6.4) cannot parse the C++20 concepts <coroutine> brings in; it never needs these
// declarations, so a Q_OBJECT file may include this one.
#ifndef Q_MOC_RUN

#  include "loopscope/coro.h"
#  include "loopscope/errors.h"
#  include "loopscope/future.h"
#  include "loopscope/locks.h"

#  include <algorithm>
#  include <cstddef>
#  include <deque>
#  include <functional>
#  include <utility>
#  include <vector>

namespace loopscope {

//! Thrown by getNowait() on an empty queue (Python: asyncio.QueueEmpty).
class QueueEmpty : public Error
{
public:
    QueueEmpty() : Error("QueueEmpty") { }
    using Error::Error;
};

//! Thrown by putNowait() on a full queue (Python: asyncio.QueueFull).
class QueueFull : public Error
{
public:
    QueueFull() : Error("QueueFull") { }
    using Error::Error;
};

/*!
 * Thrown by put()/putNowait() once the queue is shut down, and by get()/getNowait() once it
 * is shut down and empty (Python 3.13: asyncio.QueueShutDown).
 */
class QueueShutDown : public Error
{
public:
    QueueShutDown() : Error("QueueShutDown") { }
    using Error::Error;
};

namespace detail {

/*!
 * The item-independent part of every queue: size limit, waiting getters and putters,
 * unfinished-task count, join() and shutdown(). BasicQueue adds the items.
 */
class QueueBase
{
public:
    QueueBase(const QueueBase &) = delete;
    QueueBase &operator=(const QueueBase &) = delete;

    //! Items in the queue now.
    std::size_t qsize() const noexcept { return storedCount(); }
    //! The capacity given to the constructor; 0 means unbounded.
    std::size_t maxsize() const noexcept { return m_maxsize; }
    bool empty() const noexcept { return storedCount() == 0; }
    //! True when maxsize() items are queued; never for an unbounded queue.
    bool full() const noexcept { return m_maxsize > 0 && storedCount() >= m_maxsize; }

    /*!
     * Marks one item taken with get() as processed (Python: task_done). join() returns once
     * this was called for every item ever put. Throws ValueError when called more often
     * than items were put.
     */
    void taskDone();
    //! Suspends until every item put so far was taken and marked done with taskDone().
    Coro<void> join();

    /*!
     * Shuts the queue down (Python 3.13: shutdown): put() and putNowait() throw QueueShutDown
     * from now on; get() and getNowait() throw it once the queue is empty. Every blocked
     * put() and get() wakes up to re-check. With \a immediate the queued items are dropped at
     * once (each counts as done for join()), so get() throws right away. Idempotent.
     */
    void shutdown(bool immediate = false);
    bool isShutDown() const noexcept { return m_shutdown; }

    //! Items put but not yet marked done with taskDone().
    std::size_t unfinishedTasks() const noexcept { return m_unfinished; }
    //! Tasks blocked in get() (Python: len(_getters)), for tests and the inspector.
    std::size_t getterCount() const noexcept { return m_getters.size(); }
    //! Tasks blocked in put() (Python: len(_putters)).
    std::size_t putterCount() const noexcept { return m_putters.size(); }

protected:
    explicit QueueBase(std::size_t maxsize);
    virtual ~QueueBase();

    virtual std::size_t storedCount() const noexcept = 0;
    //! Destroys every queued item (shutdown(true)).
    virtual void dropAll() noexcept = 0;

    //! put()'s wait while full(); throws QueueShutDown when shut down while full.
    Coro<void> waitForFreeSlot();
    //! get()'s wait while empty(); throws QueueShutDown when shut down and empty.
    Coro<void> waitForItem();
    //! Throws what putNowait() throws when the item cannot go in.
    void checkCanPut() const;
    //! Counts the new item and wakes the first getter.
    void itemPut();
    //! Throws what getNowait() throws when there is no item.
    void checkCanGet() const;
    //! Wakes the first putter.
    void itemTaken();

private:
    void wakeUpNext(WaiterQueue &waiters);

    LoopBinding m_binding;
    WaiterQueue m_getters;
    WaiterQueue m_putters;
    Event m_finished; //!< set while m_unfinished == 0
    std::size_t m_maxsize;
    std::size_t m_unfinished = 0;
    bool m_shutdown = false;
};

/*!
 * put()/get() over a storage policy \a Store (push(T&&), T pop(), size(), clear()).
 * Items are moved in and out, so T may be move-only.
 */
template <typename T, typename Store>
class BasicQueue : public QueueBase
{
public:
    using ValueType = T;

    /*!
     * Puts \a item, first waiting while the queue is full. Throws QueueShutDown when the
     * queue is (or while waiting becomes) shut down; the item is then dropped.
     */
    Coro<void> put(T item)
    {
        // The fast path needs no second coroutine frame (a ping-pong through a queue is a
        // benchmark workload).
        if (full())
            co_await waitForFreeSlot();
        putNowait(std::move(item));
    }

    //! Puts \a item without waiting. Throws QueueShutDown after shutdown(), QueueFull when full.
    void putNowait(T item)
    {
        checkCanPut();
        m_store.push(std::move(item));
        itemPut();
    }

    /*!
     * Takes the next item, first waiting while the queue is empty. Throws QueueShutDown when
     * the queue is shut down and empty. A getter cancelled after an item was meant for it
     * leaves the item queued and wakes the next getter.
     */
    Coro<T> get()
    {
        if (empty())
            co_await waitForItem();
        co_return getNowait();
    }

    //! Takes the next item without waiting. Throws QueueShutDown when shut down and empty,
    //! QueueEmpty when merely empty.
    T getNowait()
    {
        checkCanGet();
        T item = m_store.pop();
        itemTaken();
        return item;
    }

protected:
    template <typename... Args>
    explicit BasicQueue(std::size_t maxsize, Args &&...storeArgs)
        : QueueBase(maxsize), m_store(std::forward<Args>(storeArgs)...)
    {
    }
    ~BasicQueue() override = default;

private:
    std::size_t storedCount() const noexcept override { return m_store.size(); }
    void dropAll() noexcept override { m_store.clear(); }

    Store m_store;
};

//! Queue's storage: first in, first out (Python: a collections.deque).
template <typename T>
class FifoStore
{
public:
    void push(T &&item) { m_items.push_back(std::move(item)); }
    T pop()
    {
        T item = std::move(m_items.front());
        m_items.pop_front();
        return item;
    }
    std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

private:
    std::deque<T> m_items;
};

//! LifoQueue's storage: last in, first out (Python: a list used as a stack).
template <typename T>
class LifoStore
{
public:
    void push(T &&item) { m_items.push_back(std::move(item)); }
    T pop()
    {
        T item = std::move(m_items.back());
        m_items.pop_back();
        return item;
    }
    std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

private:
    std::vector<T> m_items;
};

//! A binary min-heap under \a Compare (Python: heapq on a list).
template <typename T, typename Compare>
class HeapStore
{
public:
    HeapStore() = default;
    explicit HeapStore(Compare compare) : m_compare(std::move(compare)) { }

    void push(T &&item)
    {
        m_items.push_back(std::move(item));
        std::push_heap(m_items.begin(), m_items.end(), greater());
    }
    T pop()
    {
        std::pop_heap(m_items.begin(), m_items.end(), greater());
        T item = std::move(m_items.back());
        m_items.pop_back();
        return item;
    }
    std::size_t size() const noexcept { return m_items.size(); }
    void clear() noexcept { m_items.clear(); }

private:
    // std's heap algorithms keep the largest on top; inverting the order gives heapq's
    // smallest-first.
    auto greater() const
    {
        return [this](const T &a, const T &b) { return m_compare(b, a); };
    }

    std::vector<T> m_items;
    Compare m_compare;
};

} // namespace detail

/*!
 * A first-in first-out queue for tasks of one loop (Python: asyncio.Queue, including 3.13's
 * shutdown()). With \a maxsize 0 it is unbounded; otherwise put() waits while maxsize() items
 * are queued. Getters and putters are served in FIFO order, and a waiter woken for an item or
 * a free slot that is cancelled before it ran passes the wake-up on to the next one.
 * Loop thread only; the queue must outlive the tasks that wait on it.
 *
 * Differences from asyncio: maxsize is a std::size_t (Python treats maxsize <= 0 as
 * unbounded; here only 0 is); getterCount(), putterCount() and unfinishedTasks() are
 * public.
 */
template <typename T>
class Queue : public detail::BasicQueue<T, detail::FifoStore<T>>
{
public:
    explicit Queue(std::size_t maxsize = 0) : detail::BasicQueue<T, detail::FifoStore<T>>(maxsize)
    {
    }
};

/*!
 * A queue that returns the most recently put item first (Python: asyncio.LifoQueue).
 * Everything else as Queue.
 */
template <typename T>
class LifoQueue : public detail::BasicQueue<T, detail::LifoStore<T>>
{
public:
    explicit LifoQueue(std::size_t maxsize = 0)
        : detail::BasicQueue<T, detail::LifoStore<T>>(maxsize)
    {
    }
};

/*!
 * A queue that returns the smallest item first under \a Compare, a strict weak "less than"
 * (Python: asyncio.PriorityQueue, a heapq). Equal items come out in no particular order, as
 * with heapq: put (priority, sequence number) pairs when ties must stay FIFO. Everything
 * else as Queue.
 *
 * Differences from asyncio: the ordering is a comparator template argument (and object)
 * instead of the items' own `<`; the default std::less<T> matches Python.
 */
template <typename T, typename Compare = std::less<T>>
class PriorityQueue : public detail::BasicQueue<T, detail::HeapStore<T, Compare>>
{
public:
    explicit PriorityQueue(std::size_t maxsize = 0, Compare compare = Compare())
        : detail::BasicQueue<T, detail::HeapStore<T, Compare>>(maxsize, std::move(compare))
    {
    }
};

} // namespace loopscope

#endif // Q_MOC_RUN
