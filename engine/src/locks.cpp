#include "loopscope/locks.h"

#include "loopscope/eventloop.h"

#include <QtDebug>

#include <algorithm>
#include <string>

// C++ forbids co_await inside a catch handler, so every "try: await fut / except / finally"
// of asyncio's locks.py becomes: catch into an exception_ptr, do the bookkeeping (which may
// await), then rethrow.

namespace loopscope {

namespace detail {

LoopBinding::~LoopBinding()
{
    if (m_core)
        derefLoopCore(m_core);
}

Future<void> LoopBinding::newWaiter(const char *owner, FutureKind kind)
{
    LoopCore *current = currentLoopCore();
    if (!m_core) {
        m_core = current;
        refLoopCore(m_core);
    } else if (current != m_core) {
        throw RuntimeError(std::string(owner) + " is bound to a different event loop");
    }
    return Future<void>(Ref<FutureState<void>>(new FutureState<void>(m_core, kind)));
}

bool removeWaiter(WaiterQueue &waiters, const Future<void> &waiter)
{
    const auto it = std::find(waiters.begin(), waiters.end(), waiter);
    if (it == waiters.end())
        return false;
    waiters.erase(it);
    return true;
}

void reportGuardReleaseFailure(std::exception_ptr error) noexcept
{
    try {
        ExceptionContext ctx;
        ctx.message = QStringLiteral("A lock guard could not release on scope exit");
        ctx.exception = error;
        if (EventLoop *loop = EventLoop::current())
            loop->callExceptionHandler(ctx);
        else
            EventLoop::defaultExceptionHandler(ctx);
    } catch (...) {
        qWarning("loopscope: a lock guard could not release on scope exit");
    }
}

} // namespace detail

// --- Event -----------------------------------------------------------------------------

void Event::set()
{
    if (m_value)
        return;
    m_value = true;
    for (Future<void> &waiter : m_waiters) {
        if (!waiter.done())
            waiter.setResult();
    }
}

Coro<void> Event::wait()
{
    if (m_value)
        co_return;
    Future<void> waiter = m_binding.newWaiter("Event");
    m_waiters.push_back(waiter);
    std::exception_ptr error;
    try {
        co_await waiter;
    } catch (...) {
        error = std::current_exception();
    }
    detail::removeWaiter(m_waiters, waiter);
    if (error)
        std::rethrow_exception(error);
}

// --- Lock ------------------------------------------------------------------------------

Coro<void> Lock::acquire()
{
    // Fair: wait behind anyone queued, unless every queued waiter is cancelled (then nobody
    // will take the lock, and queueing behind them would only cost a loop iteration).
    if (!m_locked && std::all_of(m_waiters.begin(), m_waiters.end(), [](const Future<void> &w) {
            return w.cancelled();
        })) {
        m_locked = true;
        co_return;
    }
    Future<void> waiter = m_binding.newWaiter("Lock");
    m_waiters.push_back(waiter);
    std::exception_ptr error;
    try {
        co_await waiter;
    } catch (...) {
        error = std::current_exception();
    }
    detail::removeWaiter(m_waiters, waiter);
    if (error) {
        // If release() already chose us (our future has a result) and we were cancelled
        // before we ran, nobody holds the lock: hand the wake-up to the next waiter.
        if (detail::isCancelledError(error) && !m_locked)
            wakeUpFirst();
        std::rethrow_exception(error);
    }
    m_locked = true;
}

Coro<LockGuard> Lock::scopedAcquire()
{
    co_await acquire();
    // No suspension between the acquisition and the guard: a cancellation cannot leak it.
    co_return LockGuard(*this);
}

void Lock::release()
{
    if (!m_locked)
        throw RuntimeError("Lock is not acquired.");
    m_locked = false;
    wakeUpFirst();
}

void Lock::wakeUpFirst()
{
    if (m_waiters.empty())
        return;
    // Only the head: a done head is already on its way to take the lock (or to pass the
    // wake-up on when it turns out to be cancelled), so waking another would break FIFO.
    Future<void> &first = m_waiters.front();
    if (!first.done())
        first.setResult();
}

// --- Semaphore -------------------------------------------------------------------------

Semaphore::Semaphore(int initialValue) : Semaphore(initialValue, false) { }

Semaphore::Semaphore(int initialValue, bool bounded)
    : m_value(initialValue), m_bound(bounded ? initialValue : -1)
{
    if (initialValue < 0)
        throw ValueError("Semaphore initial value must be >= 0");
}

bool Semaphore::locked() const noexcept
{
    // Also locked while uncancelled waiters queue: FIFO makes a newcomer wait behind them.
    return m_value == 0
            || std::any_of(m_waiters.begin(), m_waiters.end(),
                           [](const Future<void> &w) { return !w.cancelled(); });
}

Coro<void> Semaphore::acquire()
{
    if (!locked()) {
        --m_value;
        co_return;
    }
    Future<void> waiter = m_binding.newWaiter("Semaphore");
    m_waiters.push_back(waiter);
    std::exception_ptr error;
    try {
        co_await waiter;
    } catch (...) {
        error = std::current_exception();
    }
    detail::removeWaiter(m_waiters, waiter);
    // wakeUpNext() took our unit off the value when it woke us; cancelled before we ran, we
    // give it back.
    if (error && detail::isCancelledError(error) && waiter.done() && !waiter.cancelled())
        ++m_value;
    // Newcomers may have queued behind us while units were free (FIFO): wake as many as the
    // value allows, also when we leave with an error.
    while (m_value > 0) {
        if (!wakeUpNext())
            break;
    }
    if (error)
        std::rethrow_exception(error);
}

Coro<SemaphoreGuard> Semaphore::scopedAcquire()
{
    co_await acquire();
    co_return SemaphoreGuard(*this);
}

void Semaphore::release()
{
    if (m_bound >= 0 && m_value >= m_bound)
        throw ValueError("BoundedSemaphore released too many times");
    ++m_value;
    wakeUpNext();
}

bool Semaphore::wakeUpNext()
{
    for (Future<void> &waiter : m_waiters) {
        if (!waiter.done()) {
            --m_value;
            waiter.setResult();
            return true;
        }
    }
    return false;
}

// --- Condition -------------------------------------------------------------------------

Condition::Condition() : m_ownLock(std::make_unique<Lock>()), m_lock(m_ownLock.get()) { }

Condition::Condition(Lock &lock) : m_lock(&lock) { }

Coro<void> Condition::wait()
{
    if (!locked())
        throw RuntimeError("cannot wait on un-acquired lock");
    // Created before the release: a wrong-loop error leaves the lock held, as in asyncio.
    Future<void> waiter = m_binding.newWaiter("Condition");
    release();

    std::exception_ptr error;
    m_waiters.push_back(waiter);
    try {
        co_await waiter;
    } catch (...) {
        error = std::current_exception();
    }
    detail::removeWaiter(m_waiters, waiter);

    // The lock must be held again when we leave, even when cancelled. Only CancelledError
    // makes us retry: any other error would spin. The latest cancellation is the one re-raised.
    for (;;) {
        try {
            co_await m_lock->acquire();
            break;
        } catch (const CancelledError &) {
            error = std::current_exception();
        } catch (...) {
            error = std::current_exception();
            break;
        }
    }

    if (error) {
        // We may have been notified before the error hit: pass the notification on so it is
        // not lost (a spurious wake-up for someone, which condition variables allow).
        wakeUp(1);
        std::rethrow_exception(error);
    }
}

void Condition::notify(std::size_t n)
{
    if (!locked())
        throw RuntimeError("cannot notify on un-acquired lock");
    wakeUp(n);
}

void Condition::notifyAll()
{
    notify(m_waiters.size());
}

void Condition::wakeUp(std::size_t n)
{
    std::size_t woken = 0;
    for (Future<void> &waiter : m_waiters) {
        if (woken >= n)
            break;
        if (!waiter.done()) {
            ++woken;
            waiter.setResult();
        }
    }
}

// --- Barrier ---------------------------------------------------------------------------

Barrier::Barrier(int parties) : m_parties(parties)
{
    if (parties < 1)
        throw ValueError("Barrier parties must be >= 1");
}

Coro<int> Barrier::wait()
{
    LockGuard guard = co_await m_cond.scopedAcquire();
    co_await blockWhileDrainingOrResetting();
    const int index = m_count++;
    std::exception_ptr error;
    try {
        if (index + 1 == m_parties) {
            // The last one in releases everybody; newcomers block until all have left.
            m_state = BarrierState::Draining;
            m_cond.notifyAll();
        } else {
            co_await waitForRelease();
        }
    } catch (...) {
        error = std::current_exception();
    }
    --m_count;
    leave();
    if (error)
        std::rethrow_exception(error);
    co_return index;
}

Coro<void> Barrier::blockWhileDrainingOrResetting()
{
    co_await m_cond.waitFor([this] {
        return m_state != BarrierState::Draining && m_state != BarrierState::Resetting;
    });
    if (m_state == BarrierState::Broken)
        throw BrokenBarrierError("Barrier aborted");
}

Coro<void> Barrier::waitForRelease()
{
    co_await m_cond.waitFor([this] { return m_state != BarrierState::Filling; });
    if (m_state == BarrierState::Broken || m_state == BarrierState::Resetting)
        throw BrokenBarrierError("Abort or reset of barrier");
}

void Barrier::leave()
{
    // The last task out ends a drain or a reset and lets the blocked newcomers in.
    if (m_count == 0) {
        if (m_state == BarrierState::Resetting || m_state == BarrierState::Draining)
            m_state = BarrierState::Filling;
        m_cond.notifyAll();
    }
}

Coro<void> Barrier::reset()
{
    LockGuard guard = co_await m_cond.scopedAcquire();
    if (m_count > 0)
        m_state = BarrierState::Resetting; // the waiting tasks get BrokenBarrierError
    else
        m_state = BarrierState::Filling;
    m_cond.notifyAll();
}

Coro<void> Barrier::abort()
{
    LockGuard guard = co_await m_cond.scopedAcquire();
    m_state = BarrierState::Broken;
    m_cond.notifyAll();
}

} // namespace loopscope
