#include "loopscope/queue.h"

#include <algorithm>

namespace loopscope::detail {

QueueBase::QueueBase(std::size_t maxsize) : m_maxsize(maxsize)
{
    m_finished.set();
}

QueueBase::~QueueBase() = default;

void QueueBase::wakeUpNext(WaiterQueue &waiters)
{
    // Popped, not just woken: a woken getter must not be woken twice by the next put. A
    // cancelled one (done) is skipped, so the wake-up reaches someone who can use it.
    while (!waiters.empty()) {
        Future<void> waiter = std::move(waiters.front());
        waiters.pop_front();
        if (!waiter.done()) {
            waiter.setResult();
            break;
        }
    }
}

Coro<void> QueueBase::waitForFreeSlot()
{
    while (full()) {
        if (m_shutdown)
            throw QueueShutDown();
        Future<void> putter = m_binding.newWaiter("Queue", FutureKind::Queue);
        m_putters.push_back(putter);
        std::exception_ptr error;
        try {
            co_await putter;
        } catch (...) {
            error = std::current_exception();
        }
        if (error) {
            putter.cancel(); // in case it is still pending
            removeWaiter(m_putters, putter); // getNowait() or shutdown() may have popped it
            // Woken for a free slot we will not use: the next putter gets it.
            if (!full() && !putter.cancelled())
                wakeUpNext(m_putters);
            std::rethrow_exception(error);
        }
    }
}

Coro<void> QueueBase::waitForItem()
{
    while (empty()) {
        if (m_shutdown)
            throw QueueShutDown();
        Future<void> getter = m_binding.newWaiter("Queue", FutureKind::Queue);
        m_getters.push_back(getter);
        std::exception_ptr error;
        try {
            co_await getter;
        } catch (...) {
            error = std::current_exception();
        }
        if (error) {
            getter.cancel();
            removeWaiter(m_getters, getter); // putNowait() or shutdown() may have popped it
            // Woken for an item we will not take: it stays queued and the next getter gets it.
            if (!empty() && !getter.cancelled())
                wakeUpNext(m_getters);
            std::rethrow_exception(error);
        }
    }
}

void QueueBase::checkCanPut() const
{
    if (m_shutdown)
        throw QueueShutDown();
    if (full())
        throw QueueFull();
}

void QueueBase::itemPut()
{
    ++m_unfinished;
    m_finished.clear();
    wakeUpNext(m_getters);
}

void QueueBase::checkCanGet() const
{
    if (empty()) {
        if (m_shutdown)
            throw QueueShutDown();
        throw QueueEmpty();
    }
}

void QueueBase::itemTaken()
{
    wakeUpNext(m_putters);
}

void QueueBase::taskDone()
{
    if (m_unfinished == 0)
        throw ValueError("taskDone() called too many times");
    if (--m_unfinished == 0)
        m_finished.set();
}

Coro<void> QueueBase::join()
{
    if (m_unfinished > 0)
        co_await m_finished.wait();
}

void QueueBase::shutdown(bool immediate)
{
    m_shutdown = true;
    if (immediate) {
        // Every dropped item counts as done, so join() does not wait for items nobody will
        // ever get (items already taken still need their taskDone()).
        m_unfinished -= std::min(m_unfinished, storedCount());
        dropAll();
        if (m_unfinished == 0)
            m_finished.set();
    }
    // Everyone blocked re-checks: getters of an empty queue and all putters then throw.
    while (!m_getters.empty()) {
        Future<void> getter = std::move(m_getters.front());
        m_getters.pop_front();
        if (!getter.done())
            getter.setResult();
    }
    while (!m_putters.empty()) {
        Future<void> putter = std::move(m_putters.front());
        m_putters.pop_front();
        if (!putter.done())
            putter.setResult();
    }
}

} // namespace loopscope::detail
