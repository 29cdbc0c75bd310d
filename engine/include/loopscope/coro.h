#pragma once

#include "loopscope/refcounted.h"
#include "loopscope/sourcelocation.h"

#include <coroutine>
#include <exception>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace loopscope {

template <typename T>
class Coro;

namespace detail {

/*!
 * What `co_await x` inside an engine coroutine really awaits, chosen by x's type X (without
 * cv/ref): the identity by default, so the engine's own awaitables are awaited as they are.
 * Headers that bridge foreign awaitables specialize it (X, or X with the second parameter
 * void through enable_if): qtinterop.h sends QCoro tasks, QFutures, Qt objects QCoro can
 * await and qCoro() signals through toFuture(), so the task resumes from the loop's ready
 * queue; sleep.h turns a std::chrono duration into sleep(). A specialization provides
 * `static decltype(auto) transform(A &&)`.
 */
template <typename X, typename = void>
struct AwaitTransform
{
    template <typename A>
    static A &&transform(A &&awaitable) noexcept
    {
        return std::forward<A>(awaitable);
    }
};

//! Debug mode: reports a coroutine created at \a location but destroyed before it ever ran
//! (Python: "coroutine ... was never awaited"). Defined in task.cpp.
void reportNeverAwaited(const SourceLocation &location) noexcept;
//! Reports \a error, thrown by a destructor while the frame of the coroutine defined at
//! \a location was destroyed, to the current loop's exception handler (Python: "Exception
//! ignored in: <coroutine ...>"). Defined in task.cpp.
void reportFrameDestructorException(const SourceLocation &location,
                                    std::exception_ptr error) noexcept;

class CoroPromiseCommon;

//! Filled in when a destructor exception kept a frame alive (see destroyFrame()).
struct FrameDestroyWatch
{
    const CoroPromiseCommon *promise; //!< whose frame is being destroyed
    FrameDestroyWatch *outer; //!< the destroyFrame() this one runs inside, if any
    bool survived = false;
    std::exception_ptr error;
};
//! The innermost destroyFrame() running in this thread. A thread-local rather than a pointer
//! in every promise: 8 bytes less in every frame (sleepers_mem), for a case that needs a
//! destructor declared noexcept(false).
inline thread_local FrameDestroyWatch *t_frameDestroyWatch = nullptr;

//! What every engine promise has, whatever its result type, so that type-erased code (a
//! task's root) can destroy a frame with destroyFrame().
class CoroPromiseCommon
{
public:
    explicit CoroPromiseCommon(SourceLocation location) noexcept : m_location(location) { }

    //! Frames come from the per-thread pool (see poolAllocate()): a task that awaits sleep()
    //! or a queue's get() in a loop reuses the same block each time.
    static void *operator new(std::size_t size) { return poolAllocate(size); }
    static void operator delete(void *frame, std::size_t size) noexcept { poolFree(frame, size); }

    SourceLocation m_location;
};

template <typename T>
class CoroPromiseBase : public CoroPromiseCommon
{
public:
    explicit CoroPromiseBase(SourceLocation location) noexcept : CoroPromiseCommon(location) { }

    // An empty awaiter: one with a pointer took 8 bytes of every frame. Whoever first runs
    // the coroutine (Coro::Awaiter, or a task that took the frame) marks it started.
    std::suspend_always initial_suspend() const noexcept { return {}; }

    struct FinalAwaiter
    {
        bool await_ready() const noexcept { return false; }
        template <typename Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> h) const noexcept
        {
            auto &p = h.promise();
            FrameDestroyWatch *watch = t_frameDestroyWatch;
            if (watch && watch->promise == &p) [[unlikely]] {
                // destroy() of the suspended frame ran a destructor that threw: g++ and clang
                // then run unhandled_exception() and the final suspend instead of freeing the
                // frame. The continuation is being destroyed too (it owns this frame), so it
                // must not be resumed; destroyFrame() frees the frame.
                watch->survived = true;
                watch->error = p.exception();
                return std::noop_coroutine();
            }
            // Symmetric transfer back to the coroutine that awaited us inline: no stack
            // growth however deep the chain of `co_await coro()` is. A task's root has no
            // continuation: control returns to the task step, which sees done().
            if (auto c = p.m_continuation)
                return c;
            return std::noop_coroutine();
        }
        void await_resume() const noexcept { }
    };
    FinalAwaiter final_suspend() const noexcept { return {}; }

    void unhandled_exception() noexcept { m_result.template emplace<2>(std::current_exception()); }

    //! Every `co_await` in the coroutine goes through AwaitTransform (see there).
    template <typename A>
    decltype(auto) await_transform(A &&awaitable)
    {
        return AwaitTransform<std::remove_cvref_t<A>>::transform(std::forward<A>(awaitable));
    }

    std::coroutine_handle<> m_continuation;
    // no_unique_address: m_started goes in the variant's tail padding (8 bytes less per frame).
    [[no_unique_address]] std::variant<std::monostate,
                                       std::conditional_t<std::is_void_v<T>, std::monostate, T>,
                                       std::exception_ptr>
            m_result;
    bool m_started = false; //!< it was awaited: see Coro::destroy()

    bool hasException() const noexcept { return m_result.index() == 2; }
    std::exception_ptr exception() const noexcept
    {
        return hasException() ? std::get<2>(m_result) : std::exception_ptr();
    }
};

/*!
 * Destroys the frame \a h whose promise is \a promise, also when a destructor of one of its
 * locals throws (possible only with noexcept(false)): the frame is then freed all the same
 * (a second destroy() from the final suspend point it was left at) and the exception is
 * reported instead of resuming whoever awaited the frame or leaking it. Never throws.
 */
inline void destroyFrame(std::coroutine_handle<> h, CoroPromiseCommon &promise) noexcept
{
    FrameDestroyWatch watch{ &promise, t_frameDestroyWatch, false, {} };
    const SourceLocation location = promise.m_location;
    t_frameDestroyWatch = &watch;
    h.destroy();
    t_frameDestroyWatch = watch.outer;
    if (!watch.survived) [[likely]]
        return; // freed: promise is gone
    h.destroy();
    reportFrameDestructorException(location, std::move(watch.error));
}

template <typename T>
class CoroPromise : public CoroPromiseBase<T>
{
public:
    // The default argument records the coroutine function itself (name, file, line): the
    // compiler constructs the promise from inside it. It must sit on the most derived
    // constructor, or it would name this class instead.
    explicit CoroPromise(SourceLocation location = SourceLocation::current()) noexcept
        : CoroPromiseBase<T>(location)
    {
    }
    Coro<T> get_return_object() noexcept;
    template <typename U>
    void return_value(U &&value)
    {
        this->m_result.template emplace<1>(std::forward<U>(value));
    }
    T takeValue() { return std::move(std::get<1>(this->m_result)); }
};

template <>
class CoroPromise<void> : public CoroPromiseBase<void>
{
public:
    explicit CoroPromise(SourceLocation location = SourceLocation::current()) noexcept
        : CoroPromiseBase<void>(location)
    {
    }
    Coro<void> get_return_object() noexcept;
    void return_void() noexcept { m_result.emplace<1>(); }
    void takeValue() { }
};

} // namespace detail

/*!
 * A lazy coroutine (Python: the coroutine object an `async def` returns). Nothing runs
 * until it is awaited or wrapped in a task:
 *
 * - `co_await coro()` inside another Coro runs it inline, like Python's `await coro()`;
 * - `loop.createTask(coro())` schedules it as a Task.
 *
 * A Coro owns its frame and destroys it when it goes out of scope; it can be awaited once.
 */
template <typename T = void>
class [[nodiscard]] Coro
{
public:
    using promise_type = detail::CoroPromise<T>;
    using Handle = std::coroutine_handle<promise_type>;
    using ValueType = T;

    Coro() noexcept = default;
    explicit Coro(Handle h) noexcept : m_handle(h) { }
    Coro(Coro &&o) noexcept : m_handle(std::exchange(o.m_handle, {})) { }
    Coro &operator=(Coro &&o) noexcept
    {
        if (this != &o) {
            destroy();
            m_handle = std::exchange(o.m_handle, {});
        }
        return *this;
    }
    Coro(const Coro &) = delete;
    Coro &operator=(const Coro &) = delete;
    ~Coro() { destroy(); }

    bool isValid() const noexcept { return bool(m_handle); }
    //! True once the coroutine has run to completion (it was awaited).
    bool isDone() const noexcept { return m_handle && m_handle.done(); }
    //! Where the coroutine function is (its name, file and line).
    SourceLocation location() const noexcept
    {
        return m_handle ? m_handle.promise().m_location : SourceLocation();
    }

    //! Gives up ownership of the frame (used by tasks).
    Handle release() noexcept { return std::exchange(m_handle, {}); }

    struct Awaiter
    {
        Handle h;
        bool await_ready() const noexcept { return !h || h.done(); }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept
        {
            h.promise().m_continuation = awaiting;
            h.promise().m_started = true;
            return h;
        }
        T await_resume()
        {
            if (!h)
                throw std::logic_error("co_await on an empty or already-awaited Coro");
            auto &p = h.promise();
            if (p.hasException())
                std::rethrow_exception(p.exception());
            return p.takeValue();
        }
    };
    Awaiter operator co_await() &&noexcept { return Awaiter{ m_handle }; }
    Awaiter operator co_await() &noexcept { return Awaiter{ m_handle }; }

private:
    void destroy() noexcept
    {
        if (!m_handle)
            return;
        if (!m_handle.promise().m_started)
            detail::reportNeverAwaited(m_handle.promise().m_location);
        const Handle h = std::exchange(m_handle, {});
        detail::destroyFrame(h, h.promise());
    }
    Handle m_handle;
};

namespace detail {
template <typename T>
Coro<T> CoroPromise<T>::get_return_object() noexcept
{
    return Coro<T>(std::coroutine_handle<CoroPromise<T>>::from_promise(*this));
}
inline Coro<void> CoroPromise<void>::get_return_object() noexcept
{
    return Coro<void>(std::coroutine_handle<CoroPromise<void>>::from_promise(*this));
}
} // namespace detail

} // namespace loopscope
