#pragma once

#include "loopscope/errors.h"
#include "loopscope/handle.h"
#include "loopscope/observer.h"
#include "loopscope/refcounted.h"

#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include "loopscope/sourcelocation.h"
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

namespace loopscope {

class EventLoop;

//! The three states of a future (Python: asyncio.futures._PENDING / _FINISHED / _CANCELLED).
enum class FutureStatus : std::uint8_t { Pending, Finished, Cancelled };

//! Identifies a done-callback for removeDoneCallback().
using CallbackId = std::uint64_t;

namespace detail {

class TaskCore;
class CoroPromiseCommon;

//! The loop core a new future without an explicit loop attaches to: the current loop.
//! Throws RuntimeError when this thread has no event loop.
LoopCore *currentLoopCore();
LoopCore *loopCoreOf(EventLoop &loop);
void refLoopCore(LoopCore *core) noexcept;
void derefLoopCore(LoopCore *core) noexcept;

/*!
 * The untyped part of every future and task: state, exception, cancel message and the
 * done-callbacks. FutureState<T> adds the value. Used from its loop's thread only.
 */
class FutureBase : public RefCounted
{
    // The one-byte fields first: they fill the tail of RefCounted (vptr + 32-bit count). A
    // future is 56 bytes, a task's future part too (sleepers_mem counts every byte of a
    // sleeping task): the callbacks and the cancel message live out of line, and callback
    // ids come from one per-thread counter.
    FutureStatus m_status = FutureStatus::Pending;
    FutureKind m_kind;
    bool m_exceptionNotRetrieved = false;

public:
    using Callback = std::function<void(FutureBase &)>;

    explicit FutureBase(LoopCore *loop, FutureKind kind = FutureKind::Plain);
    ~FutureBase() override;

    //! Futures and tasks come from the per-thread pool, as handles do (see poolAllocate()).
    static void *operator new(std::size_t size) { return poolAllocate(size); }
    static void operator delete(void *block, std::size_t size) noexcept { poolFree(block, size); }

    FutureStatus status() const noexcept { return m_status; }
    bool done() const noexcept { return m_status != FutureStatus::Pending; }
    bool cancelled() const noexcept { return m_status == FutureStatus::Cancelled; }
    bool failed() const noexcept { return m_status == FutureStatus::Finished && m_exception; }

    //! Cancels a pending future and schedules its callbacks. Tasks override this to cancel
    //! the coroutine instead (see TaskCore::cancel).
    virtual bool cancel(std::string message);

    //! Throws what result() must throw: InvalidStateError while pending, CancelledError when
    //! cancelled, the stored exception when failed. Marks the exception retrieved.
    void throwIfNotSuccessful();
    //! Python: Future.exception(). Marks the exception retrieved.
    std::exception_ptr exception();
    //! The stored exception without marking it retrieved (for traces and reports).
    const std::exception_ptr &peekException() const noexcept { return m_exception; }
    void setException(std::exception_ptr exception);

    //! \a taskId names the task a TaskStep callback belongs to (for the trace).
    CallbackId addDoneCallback(Callback fn, const void *identity, HandleKind kind,
                               SourceLocation location, std::uint64_t taskId = 0);
    std::size_t removeDoneCallback(CallbackId id);
    std::size_t removeDoneCallbackByIdentity(const void *identity);

    LoopCore *loopCore() const noexcept { return m_loop; }
    std::uint64_t id() const noexcept { return m_id; }
    FutureKind kind() const noexcept { return m_kind; }
    const std::string &cancelMessage() const noexcept;

    virtual TaskCore *taskCore() noexcept { return nullptr; }
    //! Tasks only: the promise of the root coroutine while its frame exists.
    virtual CoroPromiseCommon *rootPromise() noexcept { return nullptr; }
    //! Tasks only: moves the finished coroutine's outcome into the future.
    virtual void completeTask(bool mustCancel);
    virtual std::string describe() const;

    //! Used by close(): marks a pending future cancelled without scheduling its callbacks,
    //! because the loop that would run them is going away.
    void abandon(std::string message) noexcept;

protected:
    //! Reports a failed future's exception that nobody retrieved (once). Called from the
    //! destructors, where \a description still knows the most derived type.
    //! \a taskId: the task this future belongs to (0: a plain future).
    void reportIfNeverRetrieved(const std::string &description, std::uint64_t taskId) noexcept;
    //! Whether reportIfNeverRetrieved() would report: the destructors describe the future
    //! (string building) only then.
    bool exceptionNotRetrieved() const noexcept { return m_exceptionNotRetrieved; }
    //! Throws InvalidStateError unless pending.
    void ensurePending(const char *operation) const;
    //! PENDING -> FINISHED (value stored by the subclass) and schedule the callbacks.
    void markFinished();
    //! PENDING -> CANCELLED and schedule the callbacks (Python: Future.cancel).
    bool cancelFuture(std::string message);

private:
    void scheduleCallbacks();
    //! FutureCreated, out of line (see TaskCore::traceCreated()).
    [[gnu::noinline, gnu::cold]] void traceCreated() noexcept;
    void traceCompletion(TraceEventKind kind) noexcept;
    //! Leaves Pending for \a status (and tells the loop when a Qt operation settled).
    void leavePending(FutureStatus status) noexcept;

    struct Entry
    {
        CallbackId id;
        const void *identity;
        Callback fn;
        HandleKind kind;
        SourceLocation location;
        std::uint64_t task;
    };

    using CallbackList = std::vector<Entry, PoolAllocator<Entry>>;
    //! Frees an out-of-line block made with makePooled() (future.cpp).
    struct PoolDelete
    {
        template <typename X>
        void operator()(X *x) const noexcept
        {
            x->~X();
            poolFree(x, sizeof(X));
        }
    };
    //! The done-callbacks, made on the first addDoneCallback().
    CallbackList &callbacks();

    LoopCore *m_loop; //!< a counted reference: futures keep their loop's core alive
    std::unique_ptr<CallbackList, PoolDelete> m_callbacks;
    std::exception_ptr m_exception;
    std::unique_ptr<std::string, PoolDelete> m_cancelMessage; //!< null: none given
    std::uint64_t m_id;
};

template <typename T>
using ValueStorage = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

template <typename T>
class FutureState : public FutureBase
{
public:
    using FutureBase::FutureBase;

    void setResult(ValueStorage<T> value)
    {
        ensurePending("setResult");
        m_value.emplace(std::move(value));
        markFinished();
    }
    const ValueStorage<T> &value()
    {
        throwIfNotSuccessful();
        return *m_value;
    }

private:
    std::optional<ValueStorage<T>> m_value;
};

//! No value to store: a Future<void> (and a Task<void>) is no bigger than its FutureBase.
template <>
class FutureState<void> : public FutureBase
{
public:
    using FutureBase::FutureBase;

    void setResult(std::monostate)
    {
        ensurePending("setResult");
        markFinished();
    }
    const std::monostate &value()
    {
        static constexpr std::monostate kNone;
        throwIfNotSuccessful();
        return kNone;
    }
};

//! Registers the awaiting coroutine \a h with the current task (or, outside a task, with a
//! done-callback that resumes it through the ready queue). Defined in task.cpp.
void suspendOnFuture(FutureBase &future, std::coroutine_handle<> h);
//! Resumes \a h through the ready queue once \a future is done, whatever task is running:
//! for coroutines that are not the engine's own (QCoro's, say), which no task drives.
void suspendForeignOnFuture(FutureBase &future, std::coroutine_handle<> h);

template <typename T>
class CoroPromise;
//! True for the engine's own coroutine promises: only those belong to the running task.
template <typename P>
struct IsEnginePromise : std::false_type
{
};
template <typename T>
struct IsEnginePromise<CoroPromise<T>> : std::true_type
{
};
//! Throws CancelledError when the current task was cancelled while it could not pass the
//! cancellation on to what it awaited. Called first by every engine awaiter's await_resume.
void checkCancelledOnResume();

} // namespace detail

/*!
 * A result that arrives later (Python: asyncio.Future). A Future is a shared handle: copies
 * refer to the same state. States go PENDING -> FINISHED or PENDING -> CANCELLED, once.
 *
 * Done-callbacks are always scheduled on the loop with callSoon, never called inline, also
 * when added after the future is done. `co_await future` inside a Coro suspends until done,
 * then returns the result or throws its exception.
 */
template <typename T>
class [[nodiscard]] Future
{
public:
    using ValueType = T;
    using State = detail::FutureState<T>;

    //! A pending future on the current thread's loop (throws RuntimeError if none).
    Future() : d(new State(detail::currentLoopCore())) { }
    //! A pending future on \a loop (Python: loop.create_future()). \a kind tells the trace
    //! what it stands for.
    explicit Future(EventLoop &loop, FutureKind kind = FutureKind::Plain)
        : d(new State(detail::loopCoreOf(loop), kind))
    {
    }
    explicit Future(detail::Ref<State> state) : d(std::move(state)) { }

    bool done() const noexcept { return d->done(); }
    bool cancelled() const noexcept { return d->cancelled(); }
    FutureStatus status() const noexcept { return d->status(); }

    //! Cancels the future if pending and schedules its callbacks. False when already done.
    bool cancel(std::string message = {}) { return d->cancel(std::move(message)); }

    /*!
     * The result. Throws InvalidStateError while pending, CancelledError when cancelled,
     * the stored exception when failed.
     */
    T result() const
    {
        if constexpr (std::is_void_v<T>)
            d->throwIfNotSuccessful();
        else
            return d->value();
    }

    //! The stored exception (null when finished normally). Throws InvalidStateError while
    //! pending and CancelledError when cancelled.
    std::exception_ptr exception() const { return d->exception(); }

    //! Throws InvalidStateError when already done.
    template <typename U = T>
    requires(!std::is_void_v<U>) void setResult(U value) { d->setResult(std::move(value)); }
    template <typename U = T>
    requires std::is_void_v<U>
    void setResult() { d->setResult(std::monostate{}); }
    //! Throws InvalidStateError when already done.
    void setException(std::exception_ptr exception) { d->setException(std::move(exception)); }
    template <typename E>
    requires(!std::is_same_v<std::decay_t<E>, std::exception_ptr>) void setException(E &&exception)
    {
        d->setException(std::make_exception_ptr(std::forward<E>(exception)));
    }

    /*!
     * Adds \a fn, called with this future once it is done. The call is scheduled with the
     * loop's callSoon, also when the future is already done. \a fn takes the future or
     * nothing. Returns an id for removeDoneCallback().
     */
    template <typename F>
    CallbackId addDoneCallback(F fn, SourceLocation location = SourceLocation::current())
    {
        const void *identity = nullptr;
        if constexpr (std::is_pointer_v<F> && std::is_function_v<std::remove_pointer_t<F>>)
            identity = reinterpret_cast<const void *>(fn);
        return d->addDoneCallback(
                [fn = std::move(fn)](detail::FutureBase &base) mutable {
                    if constexpr (std::is_invocable_v<F &, Future<T>>)
                        fn(Future<T>(detail::Ref<State>(static_cast<State *>(&base))));
                    else
                        fn();
                },
                identity, HandleKind::DoneCallback, location);
    }
    //! Removes the callback added under \a id; returns how many were removed (0 or 1).
    std::size_t removeDoneCallback(CallbackId id) { return d->removeDoneCallback(id); }
    //! Removes every registration of the plain function \a fn; returns how many.
    std::size_t removeDoneCallback(void (*fn)(Future<T>))
    {
        return d->removeDoneCallbackByIdentity(reinterpret_cast<const void *>(fn));
    }

    //! A loop-unique id (also shown in reports and the trace).
    std::uint64_t id() const noexcept { return d->id(); }
    std::string describe() const { return d->describe(); }

    detail::FutureBase *base() const noexcept { return d.get(); }
    const detail::Ref<State> &state() const noexcept { return d; }

    friend bool operator==(const Future &a, const Future &b) noexcept { return a.d == b.d; }

    struct Awaiter
    {
        detail::Ref<State> state;
        bool await_ready() const noexcept { return state->done(); }
        template <typename P>
        void await_suspend(std::coroutine_handle<P> h)
        {
            // A foreign coroutine (e.g. an eager QCoro::Task started inside a task step) must
            // not be taken for the running task's continuation.
            if constexpr (detail::IsEnginePromise<P>::value)
                detail::suspendOnFuture(*state, h);
            else
                detail::suspendForeignOnFuture(*state, h);
        }
        T await_resume()
        {
            detail::checkCancelledOnResume();
            if constexpr (std::is_void_v<T>)
                state->throwIfNotSuccessful();
            else
                return state->value();
        }
    };
    Awaiter operator co_await() const noexcept { return Awaiter{ d }; }

protected:
    detail::Ref<State> d;
};

} // namespace loopscope
