#include "eventloop_p.h"

#include "loopscope/tsan.h"

#include <QStringList>
#include <QThread>
#include <QThreadPool>

#include <algorithm>
#include <iterator>

namespace loopscope::detail {

void (*g_executorSubmitFault)() = nullptr;

namespace {
//! The loop-thread half of an executor job, sent back through callSoonThreadsafe.
struct ExecutorCompletion
{
    Ref<LoopCore> core;
    Ref<ExecutorJob> job;
    void operator()()
    {
        core->executorJobFinished(job.get());
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
    job->m_id = nextExecutorJobId();
    job->m_traceStart = observed();
    ExecutorJob *const submitted = job.get();
    Ref<LoopCore> self(this);
    if (g_executorSubmitFault) [[unlikely]]
        g_executorSubmitFault();
    // HandOff: the pool's queue is locked inside Qt, out of ThreadSanitizer's sight.
    m_executor->start(HandOff([self, job]() mutable {
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
    }));
    // Counted only once the pool took the job: start() may throw (std::bad_alloc), and a job
    // counted but never completed kept an auto-advancing virtual clock from ever moving
    // again (it waits for jobs in flight). The worker does not touch these fields, and the
    // job stays alive until its completion has run on this thread.
    ++m_executorJobsInFlight;
    submitted->m_prevInFlight = m_lastJob;
    if (m_lastJob)
        m_lastJob->m_nextInFlight = submitted;
    else
        m_firstJob = submitted;
    m_lastJob = submitted;
    if (observed()) [[unlikely]] {
        // After start(): the worker's ExecutorJobStarted comes through the inbox, so it still
        // follows this event.
        TraceEvent e;
        e.kind = TraceEventKind::ExecutorJobQueued;
        e.id = submitted->m_id;
        e.related = submitted->m_futureId;
        e.location = submitted->location();
        emit(e);
    }
}

void LoopCore::executorJobFinished(ExecutorJob *job) noexcept
{
    --m_executorJobsInFlight;
    if (job->m_prevInFlight)
        job->m_prevInFlight->m_nextInFlight = job->m_nextInFlight;
    else
        m_firstJob = job->m_nextInFlight;
    if (job->m_nextInFlight)
        job->m_nextInFlight->m_prevInFlight = job->m_prevInFlight;
    else
        m_lastJob = job->m_prevInFlight;
    job->m_prevInFlight = job->m_nextInFlight = nullptr;
}

void LoopCore::shutdownExecutor()
{
    if (!m_executor)
        return;
    // The futures of jobs not completed yet would otherwise stay pending for ever: their
    // completions can no longer run. Cancel them first (a worker never touches a future),
    // then wait, so that no job outlives the task frames close() destroys next (a job may
    // use a frame's locals by reference). Queued jobs still run, as in asyncio, whose
    // close() shuts its executor down without cancelling what it queued.
    std::vector<std::string> abandoned;
    for (ExecutorJob *job = m_firstJob; job; job = job->m_nextInFlight) {
        if (job->abandon("the event loop was closed while the executor job was pending"))
            abandoned.push_back("<executor job #" + std::to_string(job->m_id) + " (future #"
                                + std::to_string(job->m_futureId) + ") created at "
                                + describeLocation(job->location()) + ">");
    }
    if (!abandoned.empty()) {
        ExceptionContext ctx;
        ctx.message = QStringLiteral("Event loop closed with %1 executor job(s) pending: their "
                                     "futures are cancelled")
                              .arg(abandoned.size());
        QStringList names;
        for (const std::string &name : abandoned)
            names.append(QString::fromStdString(name));
        ctx.future = names.join(QStringLiteral(", "));
        callExceptionHandler(ctx);
    }
    m_executor->waitForDone();
    m_executor.reset();
    m_firstJob = m_lastJob = nullptr;
    m_executorJobsInFlight = 0;
    // Their completions (and start notices) wait in the inbox; they must not be taken for
    // callbacks the user scheduled. Dropping them frees the jobs here, on the loop thread.
    std::vector<Ref<HandleBase>> executorHandles;
    {
        std::lock_guard lock(m_inboxMutex);
        const auto ours =
                std::stable_partition(m_inbox.begin(), m_inbox.end(), [](const Ref<HandleBase> &h) {
                    return !dynamic_cast<CallbackHandle<ExecutorCompletion> *>(h.get())
                            && !dynamic_cast<CallbackHandle<ExecutorStarted> *>(h.get());
                });
        executorHandles.assign(std::make_move_iterator(ours),
                               std::make_move_iterator(m_inbox.end()));
        m_inbox.erase(ours, m_inbox.end());
    }
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
