#include "loopscope/observer.h"

#include "eventloop_p.h"

#include <QThread>

namespace loopscope {

LoopObserver::~LoopObserver() = default;

void LoopObserver::onEvents(std::span<const TraceEvent> events)
{
    for (const TraceEvent &event : events)
        onEvent(event);
}

void LoopObserver::catchUp() const noexcept
{
    const Qt::HANDLE thread = m_loopThread.load(std::memory_order_acquire);
    if (thread && thread == QThread::currentThreadId()) {
        if (detail::LoopCore *loop = m_loop.load(std::memory_order_relaxed))
            loop->flushEvents();
    }
}

bool observerHooksCompiled() noexcept
{
#ifdef LOOPSCOPE_NO_OBSERVER_HOOKS
    return false;
#else
    return true;
#endif
}

const char *futureKindName(FutureKind kind)
{
    switch (kind) {
    case FutureKind::Plain:
        return "future";
    case FutureKind::Task:
        return "task";
    case FutureKind::Sleep:
        return "sleep";
    case FutureKind::Executor:
        return "executor";
    case FutureKind::Gather:
        return "gather";
    case FutureKind::Sync:
        return "sync";
    case FutureKind::Queue:
        return "queue";
    case FutureKind::Foreign:
        return "foreign";
    }
    return "unknown";
}

const char *traceEventKindName(TraceEventKind kind)
{
    switch (kind) {
    case TraceEventKind::IterationBegin:
        return "iterationBegin";
    case TraceEventKind::IterationEnd:
        return "iterationEnd";
    case TraceEventKind::HandleScheduled:
        return "handleScheduled";
    case TraceEventKind::HandleStarted:
        return "handleStarted";
    case TraceEventKind::HandleFinished:
        return "handleFinished";
    case TraceEventKind::TimerArmed:
        return "timerArmed";
    case TraceEventKind::TimerFired:
        return "timerFired";
    case TraceEventKind::TimerCancelled:
        return "timerCancelled";
    case TraceEventKind::FutureCreated:
        return "futureCreated";
    case TraceEventKind::FutureDone:
        return "futureDone";
    case TraceEventKind::FutureCancelled:
        return "futureCancelled";
    case TraceEventKind::FutureFailed:
        return "futureFailed";
    case TraceEventKind::TaskCreated:
        return "taskCreated";
    case TraceEventKind::TaskStepBegin:
        return "taskStepBegin";
    case TraceEventKind::TaskStepEnd:
        return "taskStepEnd";
    case TraceEventKind::TaskDone:
        return "taskDone";
    case TraceEventKind::Wakeup:
        return "wakeup";
    case TraceEventKind::ExecutorJobQueued:
        return "executorJobQueued";
    case TraceEventKind::ExecutorJobStarted:
        return "executorJobStarted";
    case TraceEventKind::ExecutorJobFinished:
        return "executorJobFinished";
    case TraceEventKind::LoopPaused:
        return "loopPaused";
    case TraceEventKind::LoopResumed:
        return "loopResumed";
    case TraceEventKind::TaskRenamed:
        return "taskRenamed";
    case TraceEventKind::DoneCallbackAdded:
        return "doneCallbackAdded";
    case TraceEventKind::TimerRescheduled:
        return "timerRescheduled";
    case TraceEventKind::ExceptionNeverRetrieved:
        return "exceptionNeverRetrieved";
    case TraceEventKind::LoopClosed:
        return "loopClosed";
    }
    return "unknown";
}

const char *doneStatusName(DoneStatus status)
{
    switch (status) {
    case DoneStatus::Finished:
        return "finished";
    case DoneStatus::Cancelled:
        return "cancelled";
    case DoneStatus::Failed:
        return "failed";
    case DoneStatus::Abandoned:
        return "abandoned";
    }
    return "unknown";
}

const char *pauseReasonName(PauseReason reason)
{
    switch (reason) {
    case PauseReason::Requested:
        return "requested";
    case PauseReason::StepDone:
        return "stepDone";
    case PauseReason::TaskBreakpoint:
        return "taskBreakpoint";
    case PauseReason::TaskFailed:
        return "taskFailed";
    case PauseReason::SlowCallback:
        return "slowCallback";
    }
    return "unknown";
}

} // namespace loopscope
