#pragma once

// moc (Qt 6.4) cannot parse C++20 concepts, which <ranges> and <concepts> bring in; it never
// needs these declarations, so a Q_OBJECT header may include this one.
#ifndef Q_MOC_RUN

#  include "loopscope/awaitable.h"

#  include <memory>
#  include <vector>

namespace loopscope {

namespace detail {
/*!
 * Python's asyncio.TaskGroup state machine: children, collected errors, aborting, and the
 * parent-cancel bookkeeping that tells the group's own cancellation from an outside one.
 */
class TaskGroupState : public std::enable_shared_from_this<TaskGroupState>
{
public:
    void enter();
    //! Python's __aexit__: waits for every child, then throws what must propagate.
    //! Returns normally when nothing must (including a cancellation the group caused itself).
    Coro<void> exit(std::exception_ptr bodyError);
    void checkCanCreate() const;
    void adopt(const Ref<FutureBase> &task, SourceLocation location);
    void cancel();
    std::size_t pending() const { return m_tasks.size(); }
    std::string describe() const;

private:
    void abort();
    void onTaskDone(FutureBase &task);

    EventLoop *m_loop = nullptr;
    TaskRef m_parent;
    std::vector<Ref<FutureBase>> m_tasks; //!< children not yet done, in creation order
    std::vector<std::exception_ptr> m_errors;
    std::optional<Future<void>> m_onCompleted;
    bool m_entered = false;
    bool m_exiting = false;
    bool m_aborting = false;
    bool m_parentCancelRequested = false;
    bool m_cancelOnEnter = false;
};
} // namespace detail

/*!
 * A group of child tasks that all end before the group does (Python: asyncio.TaskGroup).
 * Use it through withTaskGroup():
 *
 *     co_await withTaskGroup([&](TaskGroup &group) -> Coro<void> {
 *         auto a = group.createTask(fetch(1));
 *         auto b = group.createTask(fetch(2));
 *         co_return;
 *     }); // both children are done here
 *
 * The first child to fail cancels its siblings and the body; once every child has ended the
 * group throws an ExceptionGroup holding every child error (and the body's, if any).
 * Cancellations of children are not errors.
 */
class TaskGroup
{
public:
    explicit TaskGroup(std::shared_ptr<detail::TaskGroupState> state) : d(std::move(state)) { }

    /*!
     * Creates a child task. Throws RuntimeError before the group is entered, after it has
     * finished, and while it is shutting down (a child failed or the group was cancelled).
     */
    template <typename T>
    Task<T> createTask(Coro<T> coro, QString name = {},
                       SourceLocation location = SourceLocation::current())
    {
        d->checkCanCreate();
        EventLoop *loop = EventLoop::current();
        Task<T> task = loop->createTask(std::move(coro), std::move(name), location);
        d->adopt(detail::Ref<detail::FutureBase>(task.base()), location);
        return task;
    }

    /*!
     * Cancels every child and the body; the group then ends *without* CancelledError (Python
     * 3.15's TaskGroup.cancel()). Idempotent; before entry it cancels on entry.
     */
    void cancel() { d->cancel(); }
    //! Children not done yet.
    std::size_t size() const { return d->pending(); }

private:
    std::shared_ptr<detail::TaskGroupState> d;
};

/*!
 * Runs \a body with a fresh TaskGroup in the current task (Python: `async with
 * asyncio.TaskGroup() as group:`), then waits for every child. \a body takes a TaskGroup&
 * and returns Coro<void>. Must run inside a task (RuntimeError otherwise).
 *
 * g++ 12.2 (Debian 12) destroys a temporary passed to a coroutine inside a co_await
 * expression twice (a compiler bug; clang is fine). A lambda that captures only references
 * is harmless, but one that captures a QString or a shared_ptr by value must be named first:
 * `auto body = [name](TaskGroup &g) -> Coro<void> {...}; co_await withTaskGroup(std::move(body));`
 */
template <typename F>
requires std::is_invocable_r_v<Coro<void>, F &, TaskGroup &> Coro<void> withTaskGroup(F body)
{
    auto state = std::make_shared<detail::TaskGroupState>();
    TaskGroup group(state);
    state->enter();
    std::exception_ptr error;
    try {
        co_await body(group);
    } catch (...) {
        error = std::current_exception();
    }
    co_await state->exit(error);
}

} // namespace loopscope

#endif // Q_MOC_RUN
