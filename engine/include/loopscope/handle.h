#pragma once

#include "loopscope/clock.h"
#include "loopscope/refcounted.h"

#include <cstdint>
#include <new>
#include <optional>
#include <utility>
#include "loopscope/sourcelocation.h"
#include <string>

namespace loopscope {

namespace detail {
class LoopCore;
}

//! How a callback came to be scheduled; shown in reports and (later) in the trace.
enum class HandleKind : std::uint8_t {
    CallSoon, //!< EventLoop::callSoon
    CallLater, //!< EventLoop::callLater / callAt (a timer)
    Threadsafe, //!< EventLoop::callSoonThreadsafe
    DoneCallback, //!< a future's done-callback
    TaskStep, //!< one step of a task's coroutine
    Internal, //!< the loop's own bookkeeping (not traced)
};

const char *handleKindName(HandleKind kind);

namespace detail {

/*!
 * One scheduled callback (Python: asyncio.Handle / TimerHandle). The ready queue and the
 * timer heap hold references to these; the public Handle is a reference too.
 */
class HandleBase : public RefCounted
{
    // The one-byte fields first: they fill the tail of RefCounted (vptr + 32-bit count), which
    // took a handle from 128 to 96 bytes with its callable (a burst of callSoon is
    // memory-bound).
    // The kind, and kTaskBound when this is a TaskBoundHandleBase (taskId()).
    std::uint8_t m_kind;
    bool m_cancelled = false;

public:
    bool m_running = false; //!< set by the loop while run() executes

protected:
    bool m_hasCallable = false; //!< CallbackHandle's callable is alive

public:
    HandleBase(HandleKind kind, SourceLocation location) noexcept
        : m_kind(std::uint8_t(kind)), m_location(location)
    {
    }

    //! Handles come from the per-thread pool (see poolAllocate()): a warm loop's callSoon
    //! allocates nothing.
    static void *operator new(std::size_t size) { return poolAllocate(size); }
    static void operator delete(void *block, std::size_t size) noexcept { poolFree(block, size); }

    //! Runs the callback. Only the loop calls this, and only when not cancelled.
    virtual void run() = 0;
    //! A human-readable description: kind, callable and creation site.
    virtual std::string describe() const;

    void cancel() noexcept;
    //! Called by the loop after run(): frees the callable and what it captured.
    void releaseAfterRun() noexcept;
    bool cancelled() const noexcept { return m_cancelled; }
    HandleKind kind() const noexcept { return HandleKind(m_kind & ~kTaskBound); }
    //! The task whose step this is, or that added this done-callback (0: none).
    std::uint64_t taskId() const noexcept;
    const SourceLocation &location() const noexcept { return m_location; }

    std::uint64_t m_id = 0; //!< loop-unique, assigned when scheduled

protected:
    static constexpr std::uint8_t kTaskBound = 0x80;
    struct TaskBoundTag
    {
    };
    HandleBase(HandleKind kind, SourceLocation location, TaskBoundTag) noexcept
        : m_kind(std::uint8_t(kind) | kTaskBound), m_location(location)
    {
    }

    //! Drops the callable (and what it captured) once cancelled, as asyncio does.
    virtual void releaseCallback() noexcept { }
    //! Called by cancel() once the handle is marked cancelled, before its callable goes.
    virtual void cancelQueued() noexcept { }

private:
    SourceLocation m_location;
};

/*!
 * A task's step, or a done-callback a task added: a handle that knows its task, for the
 * trace. Only these carry the task id: 8 bytes less in every other handle took post_burst's
 * handle from an 88- to a 72-byte block (a burst of a million callbacks is memory-bound).
 */
class TaskBoundHandleBase : public HandleBase
{
public:
    TaskBoundHandleBase(HandleKind kind, SourceLocation location) noexcept
        : HandleBase(kind, location, TaskBoundTag{})
    {
    }

    std::uint64_t m_task = 0;
};

inline std::uint64_t HandleBase::taskId() const noexcept
{
    return (m_kind & kTaskBound) ? static_cast<const TaskBoundHandleBase *>(this)->m_task : 0;
}

/*!
 * A handle scheduled for a point in time (callLater, callAt, a timeout, a sleep's wake-up).
 * The timer fields live here rather than in HandleBase: a callSoon handle never needs them,
 * and 16 bytes less took post_burst's handle from a 104- to an 88-byte block (a burst of a
 * million callbacks is memory-bound). The heap keeps its own tie-breaking sequence number in
 * its entry; the close report orders timers of equal deadline by m_id, which the loop hands
 * out in the same order as it pushes them.
 */
class TimerHandleBase : public HandleBase
{
public:
    using HandleBase::HandleBase;

    // Timer bookkeeping, owned by the loop core.
    TimePoint m_when{};
    LoopCore *m_heapOwner = nullptr; //!< set while the handle sits in a timer heap

protected:
    void cancelQueued() noexcept override;
};

//! A handle running \a F, a callable taking no arguments; \a Base is HandleBase, or
//! TimerHandleBase for a handle that goes into a timer heap (TimerCallbackHandle).
template <typename F, typename Base = HandleBase>
class CallbackHandle final : public Base
{
public:
    CallbackHandle(HandleKind kind, SourceLocation location, F &&fn) : Base(kind, location)
    {
        ::new (static_cast<void *>(&m_fn)) F(std::move(fn));
        this->m_hasCallable = true;
    }
    ~CallbackHandle() override { releaseCallback(); }
    void run() override { m_fn(); }

protected:
    void releaseCallback() noexcept override
    {
        // Flag first: the callable's destructor may drop the last Handle to this one.
        if (std::exchange(this->m_hasCallable, false))
            m_fn.~F();
    }

private:
    // A union instead of std::optional: the engaged flag lives in the base's spare bytes.
    union {
        F m_fn;
    };
};

template <typename F>
using TimerCallbackHandle = CallbackHandle<F, TimerHandleBase>;
template <typename F>
using TaskCallbackHandle = CallbackHandle<F, TaskBoundHandleBase>;

} // namespace detail

/*!
 * A callback scheduled with EventLoop::callSoon() (Python: asyncio.Handle).
 * Copies refer to the same scheduled callback. cancel() before it runs prevents it from
 * running; cancel() after it ran does nothing.
 */
class Handle
{
public:
    Handle() = default;
    explicit Handle(detail::Ref<detail::HandleBase> handle) : d(std::move(handle)) { }

    //! Prevents the callback from running and releases what it captured. Loop thread only.
    void cancel() noexcept
    {
        if (d)
            d->cancel();
    }
    bool cancelled() const noexcept { return d && d->cancelled(); }
    bool isValid() const noexcept { return bool(d); }
    HandleKind kind() const { return d ? d->kind() : HandleKind::CallSoon; }
    //! e.g. "<Handle callSoon at main.cpp:12>".
    std::string describe() const { return d ? d->describe() : std::string("<Handle null>"); }

    detail::HandleBase *get() const noexcept { return d.get(); }

protected:
    detail::Ref<detail::HandleBase> d;
};

//! A callback scheduled for a point in time (Python: asyncio.TimerHandle).
class TimerHandle : public Handle
{
public:
    TimerHandle() = default;
    explicit TimerHandle(detail::Ref<detail::TimerHandleBase> handle)
        : Handle(std::move(handle)) { }

    //! The deadline on the loop's clock: the callback never runs before it.
    TimePoint when() const noexcept { return d ? timer()->m_when : TimePoint{}; }

    detail::TimerHandleBase *get() const noexcept { return timer(); }

private:
    // Only ever made from a TimerHandleBase (the constructor above).
    detail::TimerHandleBase *timer() const noexcept
    {
        return static_cast<detail::TimerHandleBase *>(d.get());
    }
};

} // namespace loopscope
