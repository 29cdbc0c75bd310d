#include "eventloop_p.h"

#include <QThread>
#include <QThreadPool>

namespace loopscope::detail {

namespace {
//! The loop-thread half of an executor job, sent back through callSoonThreadsafe.
struct ExecutorCompletion
{
    Ref<LoopCore> core;
    Ref<ExecutorJob> job;
    void operator()()
    {
        core->executorJobFinished();
        if (core->observed()) [[unlikely]] {
            TraceEvent e;
            e.kind = TraceEventKind::ExecutorJobFinished;
            e.id = job->m_id;
            e.related = job->m_futureId;
            e.thread = job->m_thread;
            e.duration = job->m_ranFor;
            e.failed = job->m_failed;
            e.when = core->clock().at(job->m_finishedAt);
            core->emit(e);
        }
        job->complete();
    }
};

//! Tells observers, on the loop thread, that a worker picked a job up.
struct ExecutorStarted
{
    Ref<LoopCore> core;
    std::uint64_t job;
    std::uint64_t future;
    Qt::HANDLE thread;
    std::chrono::steady_clock::time_point startedAt;
    void operator()()
    {
        if (!core->observed())
            return;
        TraceEvent e;
        e.kind = TraceEventKind::ExecutorJobStarted;
        e.id = job;
        e.related = future;
        e.thread = thread;
        e.when = core->clock().at(startedAt);
        core->emit(e);
    }
};
} // namespace

void LoopCore::submitToExecutor(Ref<ExecutorJob> job)
{
    checkClosed("runInExecutor");
    if (!m_executor) {
        m_executor = std::make_unique<QThreadPool>();
        m_executor->setMaxThreadCount(m_executorMaxThreads);
        m_executor->setObjectName(QStringLiteral("loopscope-executor"));
    }
    ++m_executorJobsInFlight;
    job->m_id = nextExecutorJobId();
    job->m_traceStart = m_observed;
    if (m_observed) [[unlikely]] {
        TraceEvent e;
        e.kind = TraceEventKind::ExecutorJobQueued;
        e.id = job->m_id;
        e.related = job->m_futureId;
        e.location = job->location();
        emit(e);
    }
    Ref<LoopCore> self(this);
    m_executor->start([self, job]() mutable {
        LoopCore *core = self.get();
        job->m_thread = QThread::currentThreadId();
        const auto started = std::chrono::steady_clock::now();
        if (job->m_traceStart) {
            // Only when observed: one more message through the inbox per job.
            try {
                core->scheduleThreadsafe(Ref<HandleBase>(new CallbackHandle<ExecutorStarted>(
                        HandleKind::Internal, job->location(),
                        ExecutorStarted{ self, job->m_id, job->m_futureId, job->m_thread,
                                         started })));
            } catch (const RuntimeError &) {
                // Closed meanwhile: nobody is left to tell.
            }
        }
        job->run();
        job->m_finishedAt = std::chrono::steady_clock::now();
        job->m_ranFor = job->m_finishedAt - started;
        const SourceLocation where = job->location();
        try {
            core->scheduleThreadsafe(Ref<HandleBase>(new CallbackHandle<ExecutorCompletion>(
                    HandleKind::Threadsafe, where,
                    ExecutorCompletion{ std::move(self), std::move(job) })));
        } catch (const RuntimeError &) {
            // The loop closed while the job ran: close() waits for the pool, so only a job
            // it could not wait for ends here, and its result has nowhere to go.
        }
    });
}

void LoopCore::executorJobFinished() noexcept
{
    --m_executorJobsInFlight;
}

void LoopCore::shutdownExecutor()
{
    if (!m_executor)
        return;
    m_executor->waitForDone();
    m_executor.reset();
}

void LoopCore::setExecutorMaxThreads(int count)
{
    m_executorMaxThreads = count < 1 ? 1 : count;
    if (m_executor)
        m_executor->setMaxThreadCount(m_executorMaxThreads);
}

int LoopCore::executorMaxThreads() const
{
    return m_executorMaxThreads;
}

} // namespace loopscope::detail
