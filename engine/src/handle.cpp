#include "loopscope/handle.h"

#include "eventloop_p.h"

namespace loopscope {

const char *handleKindName(HandleKind kind)
{
    switch (kind) {
    case HandleKind::CallSoon:
        return "callSoon";
    case HandleKind::CallLater:
        return "callLater";
    case HandleKind::Threadsafe:
        return "callSoonThreadsafe";
    case HandleKind::DoneCallback:
        return "doneCallback";
    case HandleKind::TaskStep:
        return "taskStep";
    case HandleKind::Internal:
        return "internal";
    }
    return "unknown";
}

namespace detail {

std::string describeLocation(const SourceLocation &loc)
{
    std::string file = loc.fileName() ? loc.fileName() : "";
    const auto slash = file.find_last_of('/');
    if (slash != std::string::npos)
        file = file.substr(slash + 1);
    if (file.empty())
        return "unknown location";
    return file + ":" + std::to_string(loc.line());
}

std::string HandleBase::describe() const
{
    std::string s = "<Handle ";
    s += handleKindName(m_kind);
    if (m_cancelled)
        s += " cancelled";
    s += " created at ";
    s += describeLocation(m_location);
    s += ">";
    return s;
}

void HandleBase::releaseAfterRun() noexcept
{
    // A handle runs at most once: drop what the callable captured now rather than when the
    // last Handle copy goes away (a callback that holds its own handle would otherwise
    // keep itself alive forever).
    releaseCallback();
}

void HandleBase::cancel() noexcept
{
    if (m_cancelled)
        return;
    m_cancelled = true;
    if (m_heapOwner)
        m_heapOwner->timerCancelled(*this);
    // A callback that cancels its own handle must not destroy the closure it runs in:
    // the loop releases it after run() returns instead.
    if (!m_running)
        releaseCallback();
}

} // namespace detail
} // namespace loopscope
