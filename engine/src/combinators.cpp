#include "loopscope/gather.h"

#include "eventloop_p.h"

namespace loopscope::detail {

LoopCore *commonLoop(const std::vector<Ref<FutureBase>> &children, const char *who)
{
    if (children.empty())
        return currentLoopCore();
    LoopCore *loop = children.front()->loopCore();
    for (const auto &c : children) {
        if (c->loopCore() != loop)
            throw ValueError(std::string(who) + ": the futures belong to different event loops");
    }
    return loop;
}

} // namespace loopscope::detail

#include "loopscope/timeout.h"

namespace loopscope::detail {

void TimeoutState::enter()
{
    if (m_state != State::Created)
        throw RuntimeError("Timeout has already been entered");
    m_task = currentTask();
    if (!m_task)
        throw RuntimeError("Timeout should be used inside a task");
    m_loop = EventLoop::current();
    m_state = State::Entered;
    // Cancellations requested before the scope began are not ours to convert.
    m_cancellingAtEnter = m_task.cancelling();
    reschedule(m_when);
}

void TimeoutState::reschedule(std::optional<TimePoint> when)
{
    switch (m_state) {
    case State::Entered:
        break;
    case State::Created:
        throw RuntimeError("Timeout has not been entered");
    case State::Expiring:
    case State::Expired:
        throw RuntimeError("Cannot change state of an expired Timeout");
    case State::Exited:
        throw RuntimeError("Cannot change state of an exited Timeout");
    }
    m_when = when;
    const std::uint64_t previous =
            m_handle.get() && !m_handle.cancelled() && !m_handle.get()->m_running
            ? m_handle.get()->m_id
            : 0;
    m_handle.cancel();
    m_handle = Handle();
    if (!when)
        return;
    std::weak_ptr<TimeoutState> weak = weak_from_this();
    auto fire = [weak] {
        if (auto self = weak.lock())
            self->onTimeout();
    };
    // Keep the handle either way: a later reschedule() or the exit must cancel it.
    if (*when <= m_loop->time())
        m_handle = m_loop->callSoon(fire);
    else
        m_handle = m_loop->callAt(*when, fire);
    LoopCore *core = m_loop->core();
    if (previous && core->observed()) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::TimerRescheduled;
        e.id = m_handle.get()->m_id;
        e.related = previous;
        e.when = *when;
        core->emit(e);
    }
}

void TimeoutState::onTimeout()
{
    if (m_state != State::Entered)
        return;
    m_task.cancel();
    m_state = State::Expiring;
    m_handle = Handle();
}

bool TimeoutState::exit(const std::exception_ptr &bodyError)
{
    m_handle.cancel();
    m_handle = Handle();
    if (m_state == State::Expiring) {
        m_state = State::Expired;
        // Ours only when no cancel request beyond those before the scope is left.
        return m_task.uncancel() <= m_cancellingAtEnter && bodyError && isCancelledError(bodyError);
    }
    if (m_state == State::Entered)
        m_state = State::Exited;
    return false;
}

Coro<void> cancelAndWait(Ref<FutureBase> future)
{
    EventLoop *loop = EventLoop::current();
    if (!loop)
        throw RuntimeError("waitFor: there is no current event loop in this thread");
    Future<void> waiter(*loop);
    const CallbackId id = future->addDoneCallback(
            [waiter](FutureBase &) mutable {
                if (!waiter.done())
                    waiter.setResult();
            },
            nullptr, HandleKind::DoneCallback, SourceLocation::current());
    std::exception_ptr error;
    try {
        future->cancel({});
        // Wait on our own future, not on the cancelled one: this wait stays cancellable.
        co_await waiter;
    } catch (...) {
        error = std::current_exception();
    }
    future->removeDoneCallback(id);
    if (error)
        std::rethrow_exception(error);
}

} // namespace loopscope::detail
