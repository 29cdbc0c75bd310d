#include "eventloop_p.h"

#include <QThreadPool>

namespace loopscope::detail {

void LoopCore::submitToExecutor(std::function<std::function<void()>()> job)
{
    checkClosed("runInExecutor");
    if (!m_executor) {
        m_executor = std::make_unique<QThreadPool>();
        m_executor->setMaxThreadCount(m_executorMaxThreads);
        m_executor->setObjectName(QStringLiteral("loopscope-executor"));
    }
    ++m_executorJobsInFlight;
    Ref<LoopCore> self(this);
    m_executor->start([self, job = std::move(job)]() mutable {
        // job() never throws: runInExecutor() catches fn's exception into the completion.
        std::function<void()> completion = job();
        // The job (and the future it holds) is destroyed on the loop thread, not here, so
        // a last reference never dies on a worker.
        LoopCore *core = self.get();
        auto onLoop = [self = std::move(self), job = std::move(job),
                       completion = std::move(completion)]() mutable {
            --self->m_executorJobsInFlight;
            completion();
        };
        try {
            core->scheduleThreadsafe(Ref<HandleBase>(new CallbackHandle<decltype(onLoop)>(
                    HandleKind::Threadsafe, std::source_location::current(), std::move(onLoop))));
        } catch (const RuntimeError &) {
            // The loop closed while the job ran: close() waits for the pool, so this only
            // happens for jobs it could not wait for. The result has nowhere to go.
        }
    });
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
