#include "eventloop_p.h"

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
        job->complete();
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
    Ref<LoopCore> self(this);
    m_executor->start([self, job]() mutable {
        job->run();
        LoopCore *core = self.get();
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
