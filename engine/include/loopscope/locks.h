#pragma once

//! \file locks.h Synchronisation primitives for tasks of one loop (Python: asyncio/locks.py):
//! Event, Lock, Semaphore, BoundedSemaphore, Condition, Barrier, and the RAII guards that
//! release a Lock or Semaphore when a scope is left, also by CancelledError.

// moc (Qt 6.4) cannot parse the C++20 concepts <coroutine> brings in; it never needs these
// declarations, so a Q_OBJECT file may include this one.
#ifndef Q_MOC_RUN

#  include "loopscope/coro.h"
#  include "loopscope/errors.h"
#  include "loopscope/future.h"

#  include <cstddef>
#  include <deque>
#  include <exception>
#  include <memory>
#  include <type_traits>
#  include <utility>

namespace loopscope {

/*!
 * Thrown by Barrier::wait() when the barrier is aborted, or reset while the task waits in it
 * (Python: asyncio.BrokenBarrierError).
 */
class BrokenBarrierError : public Error
{
public:
    BrokenBarrierError() : Error("BrokenBarrierError") { }
    using Error::Error;
};

namespace detail {

/*!
 * Python's _LoopBoundMixin: a primitive is created without a loop and binds to the current
 * loop the first time it has to wait (the fast paths never bind). Using it later from another
 * loop throws RuntimeError. Holds a counted reference to the bound loop's core, so a loop
 * destroyed and a new one created at the same address is still told apart.
 */
class LoopBinding
{
public:
    LoopBinding() = default;
    ~LoopBinding();
    LoopBinding(const LoopBinding &) = delete;
    LoopBinding &operator=(const LoopBinding &) = delete;

    //! A new pending future on the bound loop; binds to the current loop on first use.
    //! Throws RuntimeError when there is no current loop or it is not the bound one;
    //! \a owner names the primitive in the message.
    //! A waiter future on the bound loop; \a kind says what it waits for in the trace.
    Future<void> newWaiter(const char *owner, FutureKind kind = FutureKind::Sync);
    bool isBound() const noexcept { return m_core != nullptr; }

private:
    LoopCore *m_core = nullptr; //!< counted reference once bound
};

//! The waiters of a primitive, oldest first (Python: the collections.deque of futures).
using WaiterQueue = std::deque<Future<void>>;

//! Removes \a waiter from \a waiters if it is still there; false when someone already popped it.
bool removeWaiter(WaiterQueue &waiters, const Future<void> &waiter);

//! Reports a release that failed in a guard's destructor (destructors must not throw).
void reportGuardReleaseFailure(std::exception_ptr error) noexcept;

} // namespace detail

/*!
 * Owns one acquisition of a Lock or Semaphore and releases it in its destructor, so
 * `{ auto guard = co_await lock.scopedAcquire(); co_await sleep(1s); }` releases even when
 * CancelledError unwinds the frame (Python: `async with lock:`). Movable, not copyable.
 *
 * Python's `async with` raises from `__aexit__` when the release fails; a destructor must not
 * throw, so a failing release (someone else released the lock already) is reported to the
 * current loop's exception handler instead. unlock() releases early and does throw.
 */
template <typename Mutex>
class [[nodiscard]] ScopedRelease
{
public:
    //! A guard that owns nothing.
    ScopedRelease() noexcept = default;
    //! Adopts an acquisition of \a mutex made by the caller.
    explicit ScopedRelease(Mutex &mutex) noexcept : m_mutex(&mutex) { }
    ScopedRelease(ScopedRelease &&other) noexcept : m_mutex(std::exchange(other.m_mutex, nullptr))
    {
    }
    ScopedRelease &operator=(ScopedRelease &&other) noexcept
    {
        if (this != &other) {
            releaseQuietly();
            m_mutex = std::exchange(other.m_mutex, nullptr);
        }
        return *this;
    }
    ScopedRelease(const ScopedRelease &) = delete;
    ScopedRelease &operator=(const ScopedRelease &) = delete;
    ~ScopedRelease() { releaseQuietly(); }

    //! Releases now (once); afterwards the guard owns nothing. Throws what release() throws.
    void unlock()
    {
        if (Mutex *m = std::exchange(m_mutex, nullptr))
            m->release();
    }
    //! True while the guard still has to release.
    bool ownsLock() const noexcept { return m_mutex != nullptr; }
    explicit operator bool() const noexcept { return ownsLock(); }
    //! The guarded primitive, or null once released or moved from.
    Mutex *mutex() const noexcept { return m_mutex; }

private:
    void releaseQuietly() noexcept
    {
        if (Mutex *m = std::exchange(m_mutex, nullptr)) {
            try {
                m->release();
            } catch (...) {
                detail::reportGuardReleaseFailure(std::current_exception());
            }
        }
    }

    Mutex *m_mutex = nullptr;
};

/*!
 * A flag tasks can wait for (Python: asyncio.Event). set() wakes every waiting task; wait()
 * on a set event returns at once. Loop thread only, like every primitive here; an Event must
 * outlive the tasks that wait on it.
 *
 * Differences from asyncio: wait() returns nothing (asyncio returns True, always).
 */
class Event
{
public:
    Event() = default;
    Event(const Event &) = delete;
    Event &operator=(const Event &) = delete;

    //! True once set() was called and until clear() (Python: is_set()).
    bool isSet() const noexcept { return m_value; }
    //! Sets the flag and wakes every task waiting in wait(). No-op when already set.
    void set();
    //! Resets the flag; later wait() calls block until the next set().
    void clear() noexcept { m_value = false; }
    //! Suspends until the flag is set; returns at once when it already is. Cancellable.
    Coro<void> wait();

    //! Tasks waiting right now (Python: len(_waiters)); for tests and the inspector.
    std::size_t waiterCount() const noexcept { return m_waiters.size(); }

private:
    detail::LoopBinding m_binding;
    detail::WaiterQueue m_waiters;
    bool m_value = false;
};

class Lock;
//! Releases a Lock when it goes out of scope; see ScopedRelease.
using LockGuard = ScopedRelease<Lock>;

/*!
 * A mutual-exclusion lock for tasks (Python: asyncio.Lock). Not owned by a task: any code
 * may release it. Fair: waiters acquire in FIFO order, and a newcomer does not jump the queue
 * while an uncancelled waiter exists. A waiter cancelled just after release() chose it passes
 * the wake-up on to the next waiter, so a release is never lost.
 *
 * Differences from asyncio: acquire() returns nothing (asyncio returns True, always); use
 * `co_await lock.scopedAcquire()` where Python writes `async with lock:`.
 */
class Lock
{
public:
    Lock() = default;
    Lock(const Lock &) = delete;
    Lock &operator=(const Lock &) = delete;

    //! True while acquired.
    bool locked() const noexcept { return m_locked; }
    //! Suspends until the lock is free and this task's turn has come, then holds it.
    Coro<void> acquire();
    //! acquire(), then a guard that releases in its destructor (Python: `async with lock`).
    Coro<LockGuard> scopedAcquire();
    //! Frees the lock and wakes the first waiter. Throws RuntimeError when not locked.
    void release();

    //! Tasks queued in acquire() (Python: len(_waiters)), including a cancelled one that has
    //! not run yet to leave the queue.
    std::size_t waiterCount() const noexcept { return m_waiters.size(); }

private:
    void wakeUpFirst();

    detail::LoopBinding m_binding;
    detail::WaiterQueue m_waiters;
    bool m_locked = false;
};

class Semaphore;
//! Releases a Semaphore (or BoundedSemaphore) when it goes out of scope; see ScopedRelease.
using SemaphoreGuard = ScopedRelease<Semaphore>;

/*!
 * A counter that acquire() decrements and release() increments, never below zero
 * (Python: asyncio.Semaphore, with the 3.12 wake-up rules): FIFO, so acquire() waits while
 * others queue even if the value is positive; a waiter woken by release() and cancelled
 * before it ran gives its unit back and wakes the next one.
 *
 * Differences from asyncio: acquire() returns nothing (asyncio: True); value() is public.
 */
class Semaphore
{
public:
    //! Throws ValueError when \a initialValue is negative.
    explicit Semaphore(int initialValue = 1);
    Semaphore(const Semaphore &) = delete;
    Semaphore &operator=(const Semaphore &) = delete;

    //! The counter (Python: _value). Units handed to woken waiters are already taken off.
    int value() const noexcept { return m_value; }
    //! True when acquire() would wait: the value is zero, or uncancelled waiters queue.
    bool locked() const noexcept;
    //! Suspends until a unit is available and this task's turn has come, then takes it.
    Coro<void> acquire();
    //! acquire(), then a guard that releases in its destructor (Python: `async with sem`).
    Coro<SemaphoreGuard> scopedAcquire();
    //! Gives a unit back and wakes the first waiter. A BoundedSemaphore throws ValueError
    //! when that would exceed its initial value.
    void release();

    //! Tasks queued in acquire(), including ones already woken or cancelled that have not
    //! run yet to leave the queue.
    std::size_t waiterCount() const noexcept { return m_waiters.size(); }

protected:
    Semaphore(int initialValue, bool bounded);

private:
    bool wakeUpNext();

    detail::LoopBinding m_binding;
    detail::WaiterQueue m_waiters;
    int m_value;
    int m_bound; //!< the initial value for a BoundedSemaphore, -1 for a plain Semaphore
};

/*!
 * A Semaphore whose release() refuses to go above the initial value (Python:
 * asyncio.BoundedSemaphore): an over-release throws ValueError ("BoundedSemaphore released
 * too many times") and leaves the value unchanged, as in asyncio.
 */
class BoundedSemaphore : public Semaphore
{
public:
    //! Throws ValueError when \a initialValue is negative.
    explicit BoundedSemaphore(int initialValue = 1) : Semaphore(initialValue, true) { }
};

/*!
 * A condition variable for tasks (Python: asyncio.Condition): wait() releases the lock,
 * sleeps until notify(), and takes the lock again before it returns. The lock is its own, or
 * one shared with other conditions and plain users (the Lock must then outlive the Condition).
 *
 * wait() re-acquires the lock even when it is cancelled, and only then lets the
 * CancelledError out (the same message). If it leaves with any error it passes a possible
 * notification on to another waiter, as asyncio does (spurious wake-ups are allowed).
 *
 * Differences from asyncio: wait() returns nothing (asyncio: True); waitFor() returns the
 * predicate's last value like asyncio's wait_for().
 */
class Condition
{
public:
    //! A condition with a lock of its own.
    Condition();
    //! A condition sharing \a lock, which must outlive it.
    explicit Condition(Lock &lock);
    Condition(const Condition &) = delete;
    Condition &operator=(const Condition &) = delete;

    //! The underlying lock.
    Lock &lock() const noexcept { return *m_lock; }
    bool locked() const noexcept { return m_lock->locked(); }
    //! Acquires the underlying lock.
    Coro<void> acquire() { return m_lock->acquire(); }
    //! Acquires the underlying lock and returns a guard over it (Python: `async with cond`).
    Coro<LockGuard> scopedAcquire() { return m_lock->scopedAcquire(); }
    //! Releases the underlying lock (RuntimeError when not locked).
    void release() { m_lock->release(); }

    /*!
     * Releases the lock, waits for notify()/notifyAll(), re-acquires the lock. Throws
     * RuntimeError when the lock is not held. The lock is held again when wait() returns or
     * throws CancelledError.
     */
    Coro<void> wait();

    /*!
     * Waits until \a predicate returns a true value, calling it first before waiting and
     * after every wake-up, and returns that value (Python: wait_for). Needs the lock held
     * only when it has to wait.
     */
    template <typename Predicate>
    Coro<std::decay_t<std::invoke_result_t<Predicate &>>> waitFor(Predicate predicate)
    {
        auto result = predicate();
        while (!result) {
            co_await wait();
            result = predicate();
        }
        co_return result;
    }

    //! Wakes up to \a n waiting tasks (they return once they got the lock back). Throws
    //! RuntimeError when the lock is not held.
    void notify(std::size_t n = 1);
    //! Wakes every waiting task. Throws RuntimeError when the lock is not held.
    void notifyAll();

    //! Tasks in wait() that were not woken yet or have not run since.
    std::size_t waiterCount() const noexcept { return m_waiters.size(); }

private:
    void wakeUp(std::size_t n);

    detail::LoopBinding m_binding;
    detail::WaiterQueue m_waiters;
    std::unique_ptr<Lock> m_ownLock; //!< null when the lock is shared
    Lock *m_lock;
};

//! The phases of a Barrier (Python: asyncio.locks._BarrierState).
enum class BarrierState { Filling, Draining, Resetting, Broken };

/*!
 * Lets a fixed number of tasks meet (Python: asyncio.Barrier): wait() blocks until
 * parties() tasks are waiting, then all of them go on, each with its own arrival index
 * 0 … parties()-1. The barrier can be used again afterwards. reset() sends
 * BrokenBarrierError to the tasks waiting now and makes the barrier usable again; abort()
 * breaks it (every current and later wait() throws BrokenBarrierError) until a reset().
 *
 * Differences from asyncio: state() is public (asyncio shows it only in repr()); wait()'s
 * index is an int.
 */
class Barrier
{
public:
    //! Throws ValueError when \a parties is less than 1.
    explicit Barrier(int parties);
    Barrier(const Barrier &) = delete;
    Barrier &operator=(const Barrier &) = delete;

    //! Waits until parties() tasks wait, and returns this task's arrival index. Throws
    //! BrokenBarrierError when the barrier is broken, or reset while waiting.
    Coro<int> wait();
    //! Back to the empty filling state (once the tasks waiting now have left with
    //! BrokenBarrierError); also repairs a broken barrier.
    Coro<void> reset();
    //! Breaks the barrier: waiting and later wait() calls throw BrokenBarrierError.
    Coro<void> abort();

    int parties() const noexcept { return m_parties; }
    //! Tasks waiting for the barrier to fill (0 while it drains, resets or is broken).
    int nWaiting() const noexcept { return m_state == BarrierState::Filling ? m_count : 0; }
    bool broken() const noexcept { return m_state == BarrierState::Broken; }
    BarrierState state() const noexcept { return m_state; }

private:
    Coro<void> blockWhileDrainingOrResetting();
    Coro<void> waitForRelease();
    void leave();

    Condition m_cond; //!< notifies every task in the barrier when the state changes
    int m_parties;
    int m_count = 0; //!< tasks inside wait()
    BarrierState m_state = BarrierState::Filling;
};

} // namespace loopscope

#endif // Q_MOC_RUN
