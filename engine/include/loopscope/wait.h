#pragma once

// moc (Qt 6.4) cannot parse C++20 concepts, which <ranges> and <concepts> bring in; it never
// needs these declarations, so a Q_OBJECT header may include this one.
#ifndef Q_MOC_RUN

#  include "loopscope/awaitable.h"
#  include "loopscope/sleep.h"

#  include <deque>
#  include <memory>
#  include <optional>
#  include <vector>

namespace loopscope {

//! When wait() returns (Python: asyncio.FIRST_COMPLETED / FIRST_EXCEPTION / ALL_COMPLETED).
enum class ReturnWhen { FirstCompleted, FirstException, AllCompleted };

//! The two sets wait() returns, each in the order the futures were given.
template <typename T>
struct WaitResult
{
    std::vector<Future<T>> done;
    std::vector<Future<T>> pending;
};

namespace detail {
template <typename T>
struct WaitState
{
    Future<void> waiter;
    std::size_t remaining;
    ReturnWhen returnWhen;
    TimerHandle timer;
    void release()
    {
        timer.cancel();
        if (!waiter.done())
            waiter.setResult();
    }
};
} // namespace detail

/*!
 * Waits until the futures (or tasks) complete as \a returnWhen says, or until \a timeout
 * passes, and returns (done, pending) (Python: asyncio.wait). Never cancels anything and never
 * throws TimeoutError: on timeout the unfinished ones are simply in `pending`. Throws
 * ValueError for an empty list. Coroutines are not accepted (Python 3.11+ refuses them
 * too): wrap them with createTask() to keep a handle on them.
 */
template <typename T>
Coro<WaitResult<T>> wait(std::vector<Future<T>> futures,
                         ReturnWhen returnWhen = ReturnWhen::AllCompleted,
                         std::optional<Duration> timeout = std::nullopt)
{
    if (futures.empty())
        throw ValueError("wait: the set of futures must not be empty");
    EventLoop *loop = EventLoop::current();
    if (!loop)
        throw RuntimeError("wait: there is no current event loop in this thread");
    auto state = std::make_shared<detail::WaitState<T>>(
            detail::WaitState<T>{ Future<void>(*loop), futures.size(), returnWhen, {} });
    if (timeout)
        state->timer = loop->callLater(*timeout, [state] {
            if (!state->waiter.done())
                state->waiter.setResult();
        });
    std::vector<CallbackId> ids;
    ids.reserve(futures.size());
    for (auto &f : futures) {
        ids.push_back(f.addDoneCallback([state](Future<T> done) {
            --state->remaining;
            // Only FIRST_EXCEPTION looks at the exception (and so marks it retrieved), as in
            // asyncio: with the other modes a failure nobody reads is still reported.
            bool release = state->remaining == 0 || state->returnWhen == ReturnWhen::FirstCompleted;
            if (!release && state->returnWhen == ReturnWhen::FirstException)
                release = !done.cancelled() && done.exception();
            if (release)
                state->release();
        }));
    }
    std::exception_ptr interrupted;
    try {
        co_await state->waiter;
    } catch (...) {
        interrupted = std::current_exception();
    }
    // Python's `finally`: whatever happened, leave nothing registered behind.
    state->timer.cancel();
    for (std::size_t i = 0; i < futures.size(); ++i)
        futures[i].removeDoneCallback(ids[i]);
    if (interrupted)
        std::rethrow_exception(interrupted);

    WaitResult<T> result;
    for (auto &f : futures)
        (f.done() ? result.done : result.pending).push_back(f);
    co_return result;
}

//! wait() over tasks.
template <typename T>
Coro<WaitResult<T>> wait(const std::vector<Task<T>> &tasks,
                         ReturnWhen returnWhen = ReturnWhen::AllCompleted,
                         std::optional<Duration> timeout = std::nullopt)
{
    std::vector<Future<T>> futures(tasks.begin(), tasks.end());
    return wait(std::move(futures), returnWhen, timeout);
}

/*!
 * Yields the results of the given futures in the order they complete (Python 3.13:
 * `for aw in asyncio.as_completed(aws, timeout=...)`):
 *
 *     auto it = asCompleted(futures, 5s);
 *     while (it.hasNext())
 *         T value = co_await it.next(); // throws the child's error, or TimeoutError
 *
 * Once \a timeout passes, every next() still to come throws TimeoutError. Nothing is
 * cancelled. Coroutines in the input must be wrapped with createTask() first.
 */
template <typename T>
class AsCompleted
{
public:
    AsCompleted(std::vector<Future<T>> futures, std::optional<Duration> timeout)
        : d(std::make_shared<State>())
    {
        EventLoop *loop = EventLoop::current();
        if (!loop)
            throw RuntimeError("asCompleted: there is no current event loop in this thread");
        d->loop = loop;
        d->left = futures.size();
        d->todo = futures;
        std::weak_ptr<State> weak = d;
        for (auto &f : d->todo) {
            d->ids.push_back(f.addDoneCallback([weak](Future<T> done) {
                if (auto s = weak.lock())
                    s->completed(std::move(done));
            }));
        }
        if (timeout && !futures.empty())
            d->timer = loop->callLater(*timeout, [weak] {
                if (auto s = weak.lock())
                    s->timedOut();
            });
    }
    AsCompleted(const AsCompleted &) = delete;
    AsCompleted &operator=(const AsCompleted &) = delete;
    AsCompleted(AsCompleted &&) = default;
    AsCompleted &operator=(AsCompleted &&) = default;
    ~AsCompleted()
    {
        if (d)
            d->detach();
    }

    //! True while next() has results (or TimeoutErrors) left to give.
    bool hasNext() const { return d->left > 0; }

    /*!
     * The next result to complete. Counts at the call (as Python's __next__), so
     * `while (it.hasNext()) coros.push_back(it.next());` takes exactly one per input; the
     * returned coroutine may be awaited later and concurrently with others. Throws
     * ValueError when every result was taken.
     */
    Coro<T> next()
    {
        if (d->left == 0)
            throw ValueError("asCompleted: no results left");
        --d->left;
        return waitForOne(d);
    }

private:
    struct State;
    static Coro<T> waitForOne(std::shared_ptr<State> s)
    {
        while (s->done.empty()) {
            Future<void> wake(*s->loop, FutureKind::Queue);
            s->waiters.push_back(wake);
            co_await wake;
        }
        std::optional<Future<T>> f = std::move(s->done.front());
        s->done.pop_front();
        if (!f)
            throw TimeoutError("asCompleted: timed out");
        co_return f->result();
    }

    struct State
    {
        EventLoop *loop = nullptr;
        std::vector<Future<T>> todo;
        std::vector<CallbackId> ids;
        std::deque<std::optional<Future<T>>> done; //!< nullopt: a timeout marker
        std::deque<Future<void>> waiters; //!< next() calls waiting for a result, oldest first
        TimerHandle timer;
        std::size_t left = 0;

        //! Wakes one waiter per new result, skipping those whose task was cancelled (like
        //! asyncio's Queue getters hand the wake-up on).
        void notify()
        {
            while (!waiters.empty()) {
                Future<void> w = waiters.front();
                waiters.pop_front();
                if (!w.done()) {
                    w.setResult();
                    return;
                }
            }
        }
        void completed(Future<T> f)
        {
            for (std::size_t i = 0; i < todo.size(); ++i) {
                if (todo[i] == f) {
                    todo.erase(todo.begin() + std::ptrdiff_t(i));
                    ids.erase(ids.begin() + std::ptrdiff_t(i));
                    break;
                }
            }
            done.push_back(std::move(f));
            if (todo.empty())
                timer.cancel();
            notify();
        }
        void timedOut()
        {
            for (std::size_t i = 0; i < todo.size(); ++i) {
                todo[i].removeDoneCallback(ids[i]);
                done.push_back(std::nullopt);
            }
            todo.clear();
            ids.clear();
            for (std::size_t i = 0; i < done.size(); ++i)
                notify();
        }
        void detach()
        {
            for (std::size_t i = 0; i < todo.size(); ++i)
                todo[i].removeDoneCallback(ids[i]);
            todo.clear();
            ids.clear();
            timer.cancel();
        }
    };
    std::shared_ptr<State> d;
};

template <typename T>
AsCompleted<T> asCompleted(std::vector<Future<T>> futures,
                           std::optional<Duration> timeout = std::nullopt)
{
    return AsCompleted<T>(std::move(futures), timeout);
}
template <typename T>
AsCompleted<T> asCompleted(const std::vector<Task<T>> &tasks,
                           std::optional<Duration> timeout = std::nullopt)
{
    return AsCompleted<T>(std::vector<Future<T>>(tasks.begin(), tasks.end()), timeout);
}

} // namespace loopscope

#endif // Q_MOC_RUN
