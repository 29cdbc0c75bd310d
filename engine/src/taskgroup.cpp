#include "loopscope/taskgroup.h"

namespace loopscope::detail {

std::string TaskGroupState::describe() const
{
    std::string s = "<TaskGroup";
    if (!m_tasks.empty())
        s += " tasks=" + std::to_string(m_tasks.size());
    if (!m_errors.empty())
        s += " errors=" + std::to_string(m_errors.size());
    if (m_aborting)
        s += " cancelling";
    else if (m_entered)
        s += " entered";
    return s + ">";
}

void TaskGroupState::enter()
{
    if (m_entered)
        throw RuntimeError("TaskGroup " + describe() + " has already been entered");
    m_loop = EventLoop::current();
    m_parent = currentTask();
    if (!m_loop || !m_parent)
        throw RuntimeError("TaskGroup " + describe() + " cannot determine the parent task");
    m_entered = true;
    if (m_cancelOnEnter)
        cancel();
}

void TaskGroupState::checkCanCreate() const
{
    if (!m_entered)
        throw RuntimeError("TaskGroup " + describe() + " has not been entered");
    if (m_exiting && m_tasks.empty())
        throw RuntimeError("TaskGroup " + describe() + " is finished");
    if (m_aborting)
        throw RuntimeError("TaskGroup " + describe() + " is shutting down");
}

void TaskGroupState::adopt(const Ref<FutureBase> &task, SourceLocation location)
{
    m_tasks.push_back(task);
    std::weak_ptr<TaskGroupState> weak = weak_from_this();
    task->addDoneCallback(
            [weak](FutureBase &t) {
                if (auto self = weak.lock())
                    self->onTaskDone(t);
            },
            nullptr, HandleKind::DoneCallback, location);
}

void TaskGroupState::abort()
{
    m_aborting = true;
    // Copy: cancelling may not complete anything synchronously, but keep the loop simple.
    const auto tasks = m_tasks;
    for (const auto &t : tasks) {
        if (!t->done())
            t->cancel({});
    }
}

void TaskGroupState::cancel()
{
    if (!m_entered) {
        m_cancelOnEnter = true;
        return;
    }
    if (m_exiting && m_tasks.empty())
        return;
    if (!m_aborting) {
        abort();
        if (m_parent && !m_parentCancelRequested) {
            m_parentCancelRequested = true;
            m_parent.cancel();
        }
    }
}

void TaskGroupState::onTaskDone(FutureBase &task)
{
    std::erase_if(m_tasks, [&task](const Ref<FutureBase> &t) { return t.get() == &task; });
    if (m_onCompleted && m_tasks.empty() && !m_onCompleted->done())
        m_onCompleted->setResult();
    if (task.cancelled())
        return;
    std::exception_ptr error = task.exception();
    if (!error)
        return;
    m_errors.push_back(error);
    if (m_parent.done()) {
        ExceptionContext ctx;
        ctx.message =
                QStringLiteral("Task has errored out but its parent task is already completed");
        ctx.exception = error;
        if (TaskCore *core = task.taskCore())
            ctx.task = QString::fromStdString(core->describe());
        m_loop->callExceptionHandler(ctx);
        return;
    }
    if (!m_aborting && !m_parentCancelRequested) {
        // The parent is not being cancelled: cancel it to stop the body, and remember to
        // undo that (uncancel) on exit so the caller sees the errors, not a cancellation.
        abort();
        m_parentCancelRequested = true;
        m_parent.cancel();
    }
}

Coro<void> TaskGroupState::exit(std::exception_ptr bodyError)
{
    auto keepAlive = shared_from_this();
    m_exiting = true;
    const bool bodyCancelled = bodyError && isCancelledError(bodyError);
    std::exception_ptr propagateCancellation = bodyCancelled ? bodyError : nullptr;
    if (bodyError && !m_aborting)
        abort(); // the body failed or was cancelled: stop the children

    std::exception_ptr pendingCancellation;
    while (!m_tasks.empty()) {
        if (!m_onCompleted)
            m_onCompleted.emplace(*m_loop);
        bool cancelled = false;
        std::exception_ptr caught;
        try {
            co_await *m_onCompleted;
        } catch (const CancelledError &) {
            cancelled = true;
            caught = std::current_exception();
        }
        if (cancelled) {
            // The parent is being cancelled again while we wait for the children.
            pendingCancellation = caught;
            if (!m_aborting) {
                propagateCancellation = caught;
                abort();
            }
        }
        m_onCompleted.reset();
    }

    if (m_parentCancelRequested) {
        // We cancelled the parent ourselves, so we must uncancel it.
        if (m_parent.uncancel() == 0)
            propagateCancellation = nullptr; // nothing else wants it cancelled
        else if (!propagateCancellation)
            propagateCancellation = pendingCancellation; // the rest is someone else's
    }
    // Errors take priority over a cancellation.
    if (propagateCancellation && m_errors.empty())
        std::rethrow_exception(propagateCancellation);
    if (bodyError && !bodyCancelled)
        m_errors.push_back(bodyError);
    if (!m_errors.empty()) {
        // Cancelled from outside too: uncancel and cancel again to keep the count stable.
        if (m_parent.cancelling() > 0) {
            m_parent.uncancel();
            m_parent.cancel();
        }
        std::vector<std::exception_ptr> errors;
        errors.swap(m_errors);
        throw ExceptionGroup("unhandled errors in a TaskGroup", std::move(errors));
    }
}

} // namespace loopscope::detail
