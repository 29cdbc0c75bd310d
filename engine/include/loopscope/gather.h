#pragma once

// moc (Qt 6.4) cannot parse C++20 concepts, which <ranges> and <concepts> bring in; it never
// needs these declarations, so a Q_OBJECT header may include this one.
#ifndef Q_MOC_RUN

#  include "loopscope/awaitable.h"

#  include <functional>
#  include <ranges>
#  include <tuple>
#  include <vector>

namespace loopscope {

//! Tag for gather(ReturnExceptions, ...) (Python: gather(..., return_exceptions=True)).
struct ReturnExceptionsTag
{
};
inline constexpr ReturnExceptionsTag ReturnExceptions{};

namespace detail {

//! Checks that every child runs on one loop and returns it (the current loop when none).
LoopCore *commonLoop(const std::vector<Ref<FutureBase>> &children, const char *who);

/*!
 * The future gather() returns (Python: _GatheringFuture). Cancelling it cancels every child
 * that is not done; it then ends with CancelledError once all children are done.
 */
template <typename R>
class GatheringState final : public FutureState<R>
{
public:
    GatheringState(LoopCore *loop, std::vector<Ref<FutureBase>> children, bool returnExceptions,
                   std::function<R()> build)
        : FutureState<R>(loop, FutureKind::Gather),
          m_children(std::move(children)),
          m_build(std::move(build)),
          m_returnExceptions(returnExceptions)
    {
    }

    bool cancel(std::string message) override
    {
        if (this->done())
            return false;
        bool any = false;
        for (auto &child : m_children) {
            if (child->cancel(message))
                any = true;
        }
        // Only a cancel that reached a child counts: the gather ends once they are done.
        if (any)
            m_cancelRequested = true;
        return any;
    }

    void start(SourceLocation location)
    {
        if (m_children.empty()) {
            this->setResult(m_build());
            return;
        }
        Ref<FutureBase> self(this);
        for (auto &child : m_children) {
            child->addDoneCallback(
                    [self](FutureBase &c) {
                        static_cast<GatheringState *>(self.get())->onChildDone(c);
                    },
                    nullptr, HandleKind::DoneCallback, location);
        }
    }

private:
    void onChildDone(FutureBase &child)
    {
        ++m_finished;
        if (this->done()) {
            // Too late to matter: mark a failure retrieved so it is not reported as lost.
            if (!child.cancelled())
                (void)child.exception();
            return;
        }
        if (!m_returnExceptions) {
            // A cancelled child is an error of the gather, not a cancellation of it.
            if (child.cancelled()) {
                this->setException(std::make_exception_ptr(CancelledError(child.cancelMessage())));
                return;
            }
            if (std::exception_ptr e = child.exception()) {
                this->setException(e);
                return;
            }
        }
        if (m_finished < m_children.size())
            return;
        if (m_cancelRequested) {
            // asyncio builds the result list (reading every child's exception) before it
            // looks at the cancel request: do the same so no child error is reported lost.
            for (auto &c : m_children) {
                if (!c->cancelled())
                    (void)c->exception();
            }
            const std::string message = child.cancelled() ? child.cancelMessage() : std::string();
            this->setException(std::make_exception_ptr(CancelledError(message)));
            return;
        }
        this->setResult(m_build());
    }

    std::vector<Ref<FutureBase>> m_children;
    std::function<R()> m_build;
    std::size_t m_finished = 0;
    bool m_returnExceptions;
    bool m_cancelRequested = false;
};

template <typename R>
Future<R> startGather(std::vector<Ref<FutureBase>> children, bool returnExceptions,
                      std::function<R()> build, SourceLocation location)
{
    LoopCore *loop = commonLoop(children, "gather");
    Ref<GatheringState<R>> state(
            new GatheringState<R>(loop, std::move(children), returnExceptions, std::move(build)));
    state->start(location);
    return Future<R>(Ref<FutureState<R>>(state.get()));
}

template <typename A>
auto toChildFuture(A &&awaitable, SourceLocation location)
{
    if constexpr (isLazyAwaitable<std::remove_cvref_t<A>>)
        return ensureFuture(std::move(awaitable), location);
    else
        return Future<AwaitResult<A>>(awaitable);
}

} // namespace detail

/*!
 * Runs the awaitables concurrently and returns a future of all their results, in argument
 * order (Python: asyncio.gather). Coroutines are wrapped in tasks, in argument order.
 *
 * The first child that fails (or is cancelled) makes the gather fail with that error while
 * the others keep running. Cancelling the returned future cancels every child; it then ends
 * with CancelledError. A void child contributes std::monostate.
 */
template <EngineAwaitable... A>
auto gather(A &&...awaitables) -> Future<std::tuple<detail::ValueStorage<AwaitResult<A>>...>>
{
    using R = std::tuple<detail::ValueStorage<AwaitResult<A>>...>;
    const SourceLocation location = SourceLocation::current();
    // A braced list evaluates left to right: tasks are created in argument order.
    std::tuple<Future<AwaitResult<A>>...> futures{ detail::toChildFuture(
            std::forward<A>(awaitables), location)... };
    std::vector<detail::Ref<detail::FutureBase>> children = std::apply(
            [](auto &...f) {
                return std::vector<detail::Ref<detail::FutureBase>>{
                    detail::Ref<detail::FutureBase>(f.base())...
                };
            },
            futures);
    return detail::startGather<R>(
            std::move(children), false,
            [futures] {
                return std::apply([](auto &...f) { return R{ f.state()->value()... }; }, futures);
            },
            location);
}

/*!
 * Like gather(), but a failing or cancelled child does not fail the gather: each child's
 * value or exception is returned as an Outcome (Python: return_exceptions=True).
 */
template <EngineAwaitable... A>
auto gather(ReturnExceptionsTag, A &&...awaitables)
        -> Future<std::tuple<Outcome<AwaitResult<A>>...>>
{
    using R = std::tuple<Outcome<AwaitResult<A>>...>;
    const SourceLocation location = SourceLocation::current();
    std::tuple<Future<AwaitResult<A>>...> futures{ detail::toChildFuture(
            std::forward<A>(awaitables), location)... };
    std::vector<detail::Ref<detail::FutureBase>> children = std::apply(
            [](auto &...f) {
                return std::vector<detail::Ref<detail::FutureBase>>{
                    detail::Ref<detail::FutureBase>(f.base())...
                };
            },
            futures);
    return detail::startGather<R>(
            std::move(children), true,
            [futures] {
                return std::apply(
                        [](auto &...f) {
                            return R{ Outcome<AwaitResult<A>>::fromDone(*f.state())... };
                        },
                        futures);
            },
            location);
}

namespace detail {
template <typename Range>
auto collectChildren(Range &&range, SourceLocation location)
{
    using A = std::ranges::range_value_t<Range>;
    using T = AwaitResult<A>;
    std::vector<Future<T>> futures;
    for (auto &&a : range) {
        if constexpr (std::is_same_v<A, Coro<T>>)
            futures.push_back(ensureFuture(std::move(a), location));
        else
            futures.push_back(Future<T>(a));
    }
    return futures;
}
template <typename T>
std::vector<Ref<FutureBase>> basesOf(const std::vector<Future<T>> &futures)
{
    std::vector<Ref<FutureBase>> out;
    out.reserve(futures.size());
    for (const auto &f : futures)
        out.emplace_back(f.base());
    return out;
}
} // namespace detail

//! gather() over a range of Futures, Tasks or Coros (moved from) of one result type.
template <std::ranges::input_range Range>
requires EngineAwaitable<std::ranges::range_value_t<Range>>
auto gather(Range &&range)
        -> Future<std::vector<detail::ValueStorage<AwaitResult<std::ranges::range_value_t<Range>>>>>
{
    using T = AwaitResult<std::ranges::range_value_t<Range>>;
    using R = std::vector<detail::ValueStorage<T>>;
    const SourceLocation location = SourceLocation::current();
    auto futures = detail::collectChildren(std::forward<Range>(range), location);
    auto children = detail::basesOf(futures);
    return detail::startGather<R>(
            std::move(children), false,
            [futures] {
                R out;
                out.reserve(futures.size());
                for (const auto &f : futures)
                    out.push_back(f.state()->value());
                return out;
            },
            location);
}

//! gather(ReturnExceptions, ...) over a range: one Outcome per child, in range order.
template <std::ranges::input_range Range>
requires EngineAwaitable<std::ranges::range_value_t<Range>>
auto gather(ReturnExceptionsTag, Range &&range)
        -> Future<std::vector<Outcome<AwaitResult<std::ranges::range_value_t<Range>>>>>
{
    using T = AwaitResult<std::ranges::range_value_t<Range>>;
    using R = std::vector<Outcome<T>>;
    const SourceLocation location = SourceLocation::current();
    auto futures = detail::collectChildren(std::forward<Range>(range), location);
    auto children = detail::basesOf(futures);
    return detail::startGather<R>(
            std::move(children), true,
            [futures] {
                R out;
                out.reserve(futures.size());
                for (const auto &f : futures)
                    out.push_back(Outcome<T>::fromDone(*f.state()));
                return out;
            },
            location);
}

} // namespace loopscope

#endif // Q_MOC_RUN
