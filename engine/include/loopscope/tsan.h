#pragma once

// Hand-over annotations for ThreadSanitizer. Empty, and free, in a build without it.

#include <utility>

#if defined(__SANITIZE_THREAD__)
#  define LOOPSCOPE_TSAN 1
#elif defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define LOOPSCOPE_TSAN 1
#  endif
#endif

#ifdef LOOPSCOPE_TSAN
extern "C" void __tsan_acquire(void *addr);
extern "C" void __tsan_release(void *addr);
//! ThreadSanitizer: what this thread did so far happens before a later
//! LOOPSCOPE_TSAN_ACQUIRE() of the same address on any thread.
#  define LOOPSCOPE_TSAN_RELEASE(addr) \
    __tsan_release(const_cast<void *>(static_cast<const volatile void *>(addr)))
//! ThreadSanitizer: see LOOPSCOPE_TSAN_RELEASE().
#  define LOOPSCOPE_TSAN_ACQUIRE(addr) \
    __tsan_acquire(const_cast<void *>(static_cast<const volatile void *>(addr)))
#else
// The address is still named, so that a lambda capturing it only for these compiles
// without an unused-capture warning (clang -Wunused-lambda-capture).
#  define LOOPSCOPE_TSAN_RELEASE(addr) static_cast<void>(addr)
#  define LOOPSCOPE_TSAN_ACQUIRE(addr) static_cast<void>(addr)
#endif

namespace loopscope {

/*!
 * A callable handed to another thread through Qt, made visible to ThreadSanitizer.
 *
 * Qt's libraries are not built with TSan, so the locks inside a queued
 * `QMetaObject::invokeMethod()`, `QCoreApplication::postEvent()` or `QThreadPool::start()`
 * are invisible to it: a closure built on one thread and called on another looks like a data
 * race. Wrapping it marks the hand-over where it is moved into the place Qt keeps it (the
 * slot object, the pool's std::function) and the receipt where it is called, so TSan sees that
 * everything the sending thread did before happens before the call:
 *
 * \code
 * QMetaObject::invokeMethod(worker, HandOff([worker, command] { worker->run(command); }),
 *                           Qt::QueuedConnection);
 * \endcode
 *
 * Without TSan it is the callable itself and costs nothing.
 */
template <typename F>
class HandOff
{
public:
    explicit HandOff(F fn) : m_fn(std::move(fn)) { LOOPSCOPE_TSAN_RELEASE(this); }
    // A member, not a lambda capture: members are built in declaration order, so the
    // release comes after the whole callable is in place.
    HandOff(HandOff &&other) : m_fn(std::move(other.m_fn)) { LOOPSCOPE_TSAN_RELEASE(this); }
    HandOff(const HandOff &other) : m_fn(other.m_fn) { LOOPSCOPE_TSAN_RELEASE(this); }
    HandOff &operator=(const HandOff &) = delete;
    HandOff &operator=(HandOff &&) = delete;
    // The other way round: a blocking queued call is deleted by the thread that waited for
    // it, after the receiver ran it.
    ~HandOff() { LOOPSCOPE_TSAN_ACQUIRE(this); }

    decltype(auto) operator()()
    {
        LOOPSCOPE_TSAN_ACQUIRE(this);
        const Returned returned{ this };
        return m_fn();
    }

private:
    struct Returned
    {
        HandOff *self;
        ~Returned() { LOOPSCOPE_TSAN_RELEASE(self); }
    };

    F m_fn;
};

} // namespace loopscope
