#include "eventloop_p.h"

#include "loopscope/tsan.h"

#include <QStringList>
#include <QThread>
#include <QThreadPool>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <thread>

namespace loopscope::detail {

void (*g_executorSubmitFault)() = nullptr;

namespace {
//! How long a worker that found the executor's queue empty waits for another job.
constexpr auto kExecutorLinger = std::chrono::microseconds(50);

//! Completes \a job on the loop thread: its result (or exception) goes to its future.
void completeJob(LoopCore *core, ExecutorJob *job)
{
    core->executorJobFinished(job);
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

//! The loop-thread half of one traced executor job, sent back through callSoonThreadsafe.
struct ExecutorCompletion
{
    Ref<LoopCore> core;
    Ref<ExecutorJob> job;
    void operator()() { completeJob(core.get(), job.get()); }
};

//! Completes the jobs finished since the last one ran (untraced jobs: one per batch).
struct ExecutorBatch
{
    Ref<LoopCore> core;
    void operator()() { core->completeFinishedJobs(); }
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
    if (g_executorSubmitFault) [[unlikely]]
        g_executorSubmitFault();
    bool startWorker = false;
    {
        std::lock_guard lock(m_executorMutex);
        // The queue owns the reference now.
        if (m_lastQueued)
            m_lastQueued->m_nextQueued = job.release();
        else
            m_firstQueued = job.release();
        m_lastQueued = submitted;
        ++m_executorQueued;
        m_executorQueuedHint.store(m_executorQueued, std::memory_order_relaxed);
        // The workers running keep at it until the queue is empty. A worker lingering for
        // the next job, or one started and not yet there, takes this one: start another only
        // when there is none (asyncio's ThreadPoolExecutor starts a thread per submission,
        // up to max_workers, when none is idle). A worker that takes a job and leaves more
        // behind starts the next one (runExecutorJobs()), so that jobs queued together still
        // run side by side up to the limit, one thread wake-up after the other; a burst of
        // small jobs no longer starts (and wakes) a thread for each while the first is on
        // its way.
        startWorker = claimExecutorWorkerStart();
    }
    if (startWorker) {
        try {
            startExecutorWorker(m_executor.get());
        } catch (...) {
            // start() may throw (std::bad_alloc). Take the job back unless a worker already
            // running took it: then it was submitted after all.
            bool taken = true;
            {
                std::lock_guard lock(m_executorMutex);
                --m_executorWorkers;
                --m_executorStarting;
                ExecutorJob *previous = nullptr;
                for (ExecutorJob *j = m_firstQueued; j; previous = j, j = j->m_nextQueued) {
                    if (j != submitted)
                        continue;
                    (previous ? previous->m_nextQueued : m_firstQueued) = j->m_nextQueued;
                    if (m_lastQueued == j)
                        m_lastQueued = previous;
                    --m_executorQueued;
                    m_executorQueuedHint.store(m_executorQueued, std::memory_order_relaxed);
                    j->m_nextQueued = nullptr;
                    taken = false;
                    break;
                }
            }
            if (!taken) {
                Ref<ExecutorJob>::adopt(submitted).reset();
                throw;
            }
        }
    }
    // Counted only once the job is queued for good: a job counted but never completed kept
    // an auto-advancing virtual clock from ever moving again (it waits for jobs in flight).
    // Workers do not touch these fields, and the job stays alive until its completion has
    // run on this thread.
    ++m_executorJobsInFlight;
    submitted->m_prevInFlight = m_lastJob;
    if (m_lastJob)
        m_lastJob->m_nextInFlight = submitted;
    else
        m_firstJob = submitted;
    m_lastJob = submitted;
    if (observed()) [[unlikely]] {
        // After queuing: the worker's ExecutorJobStarted comes through the inbox, so it still
        // follows this event.
        TraceEvent e;
        e.kind = TraceEventKind::ExecutorJobQueued;
        e.id = submitted->m_id;
        e.related = submitted->m_futureId;
        e.location = submitted->location();
        emit(e);
    }
}

bool LoopCore::claimExecutorWorkerStart() noexcept
{
    if (m_executorWorkers >= m_executorMaxThreads || m_executorLingering != 0
        || m_executorStarting != 0)
        return false;
    ++m_executorWorkers;
    ++m_executorStarting;
    return true;
}

void LoopCore::startExecutorWorker(QThreadPool *pool)
{
    // HandOff: the pool's queue is locked inside Qt, out of ThreadSanitizer's sight. The
    // worker gets the pool with it rather than reading m_executor, which the loop thread
    // resets once waitForDone() (synchronised inside Qt, again unseen) has returned.
    pool->start(HandOff([self = Ref<LoopCore>(this), pool] { self->runExecutorJobs(pool); }));
}

void LoopCore::runExecutorJobs(QThreadPool *pool) noexcept
{
    bool lingered = false;
    bool arrived = false;
    for (;;) {
        ExecutorJob *job;
        bool startHelper = false;
        {
            // Returning and the empty queue are one step under the lock: a job queued after
            // it starts a worker of its own (or finds this one lingering).
            std::lock_guard lock(m_executorMutex);
            if (!std::exchange(arrived, true))
                --m_executorStarting;
            if (lingered)
                --m_executorLingering;
            job = m_firstQueued;
            const bool surplus = m_executorWorkers > m_executorMaxThreads;
            if (!job && !lingered && !surplus && m_executorLingering == 0) {
                ++m_executorLingering;
            } else if (!job || surplus) {
                --m_executorWorkers;
                return;
            } else {
                m_firstQueued = job->m_nextQueued;
                if (!m_firstQueued)
                    m_lastQueued = nullptr;
                --m_executorQueued;
                m_executorQueuedHint.store(m_executorQueued, std::memory_order_relaxed);
                job->m_nextQueued = nullptr;
                // More left and nobody on the way for them: a helper (see submitToExecutor()).
                startHelper = m_firstQueued && claimExecutorWorkerStart();
            }
        }
        if (startHelper) {
            try {
                startExecutorWorker(pool);
            } catch (...) {
                // Out of memory: the workers running take the queued jobs in turn.
                std::lock_guard lock(m_executorMutex);
                --m_executorWorkers;
                --m_executorStarting;
            }
        }
        if (!job) {
            // The queue ran dry: one worker at a time stays a moment for the next job. A loop
            // that submits jobs faster than it can be woken (each a few hundred ns of its own
            // work) otherwise paid a QThreadPool::start() and a thread wake-up for nearly every
            // job, the workers having emptied the queue and returned in between. Yielding,
            // not spinning: the submitting thread may need this core.
            const auto until = std::chrono::steady_clock::now() + kExecutorLinger;
            while (m_executorQueuedHint.load(std::memory_order_relaxed) == 0
                   && std::chrono::steady_clock::now() < until)
                std::this_thread::yield();
            lingered = true;
            continue;
        }
        lingered = false;
        job->m_thread = QThread::currentThreadId();
        const auto started = std::chrono::steady_clock::now();
        if (job->m_traceStart) {
            // Only when observed: one more message through the inbox per job.
            try {
                scheduleThreadsafe(Ref<HandleBase>(new CallbackHandle<ExecutorStarted>(
                        HandleKind::Internal, job->location(),
                        ExecutorStarted{ Ref<LoopCore>(this), job->m_id, job->m_futureId,
                                         job->m_thread, started })));
            } catch (const RuntimeError &) {
                // Closed meanwhile: nobody is left to tell.
            }
        }
        job->run();
        job->m_finishedAt = std::chrono::steady_clock::now();
        job->m_ranFor = job->m_finishedAt - started;
        if (job->m_traceStart) {
            // A traced job completes in a callback of its own, behind its started notice in
            // the inbox: observers see every job's events in order.
            const SourceLocation where = job->location();
            try {
                scheduleThreadsafe(Ref<HandleBase>(new CallbackHandle<ExecutorCompletion>(
                        HandleKind::Threadsafe, where,
                        ExecutorCompletion{ Ref<LoopCore>(this), Ref<ExecutorJob>::adopt(job) })));
            } catch (const RuntimeError &) {
                // The loop closed while the job ran: close() waits for the pool, so only a
                // job it could not wait for ends here, and its result has nowhere to go.
            }
            continue;
        }
        // Otherwise onto the list of finished jobs; whoever finds it empty asks the loop to
        // come for it, so a burst of jobs finishing together costs one callback.
        ExecutorJob *head = m_executorDone.load(std::memory_order_relaxed);
        do
            job->m_nextQueued = head;
        while (!m_executorDone.compare_exchange_weak(head, job, std::memory_order_release,
                                                     std::memory_order_relaxed));
        if (head)
            continue;
        try {
            scheduleThreadsafe(Ref<HandleBase>(new CallbackHandle<ExecutorBatch>(
                    HandleKind::Internal, SourceLocation::current(),
                    ExecutorBatch{ Ref<LoopCore>(this) })));
        } catch (const RuntimeError &) {
            // Closed: shutdownExecutor() frees what is left on the list.
        }
    }
}

void LoopCore::completeFinishedJobs() noexcept
{
    ExecutorJob *newestFirst = m_executorDone.exchange(nullptr, std::memory_order_acquire);
    ExecutorJob *oldestFirst = nullptr;
    while (newestFirst) { // into the order they finished in
        ExecutorJob *next = newestFirst->m_nextQueued;
        newestFirst->m_nextQueued = oldestFirst;
        oldestFirst = newestFirst;
        newestFirst = next;
    }
    while (oldestFirst) {
        Ref<ExecutorJob> job = Ref<ExecutorJob>::adopt(oldestFirst);
        oldestFirst = std::exchange(job->m_nextQueued, nullptr);
        // One job's failure must not strand the rest of the batch.
        try {
            completeJob(this, job.get());
        } catch (...) {
            ExceptionContext ctx;
            ctx.message = QStringLiteral("Exception in callback");
            ctx.exception = std::current_exception();
            ctx.handle = QString::fromStdString("<executor completion of job #"
                                                + std::to_string(job->m_id) + " created at "
                                                + describeLocation(job->location()) + ">");
            callExceptionHandler(ctx);
        }
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
    // The workers empty the queue before they return.
    m_executor->waitForDone();
    m_executor.reset();
    m_firstJob = m_lastJob = nullptr;
    m_executorJobsInFlight = 0;
    // Their completions (and start notices) wait in the inbox, and finished jobs on the
    // list; they must not be taken for callbacks the user scheduled. Dropping them frees the
    // jobs here, on the loop thread.
    ExecutorJob *finished = m_executorDone.exchange(nullptr, std::memory_order_acquire);
    while (finished) {
        Ref<ExecutorJob> job = Ref<ExecutorJob>::adopt(finished);
        finished = std::exchange(job->m_nextQueued, nullptr);
    }
    std::vector<Ref<HandleBase>> executorHandles;
    {
        std::lock_guard lock(m_inboxMutex);
        const auto ours =
                std::stable_partition(m_inbox.begin(), m_inbox.end(), [](const Ref<HandleBase> &h) {
                    return !dynamic_cast<CallbackHandle<ExecutorCompletion> *>(h.get())
                            && !dynamic_cast<CallbackHandle<ExecutorBatch> *>(h.get())
                            && !dynamic_cast<CallbackHandle<ExecutorStarted> *>(h.get());
                });
        executorHandles.assign(std::make_move_iterator(ours),
                               std::make_move_iterator(m_inbox.end()));
        m_inbox.erase(ours, m_inbox.end());
    }
}

void LoopCore::setExecutorMaxThreads(int count)
{
    {
        // Workers beyond a lowered limit return after their current job.
        std::lock_guard lock(m_executorMutex);
        m_executorMaxThreads = count < 1 ? 1 : count;
    }
    if (m_executor)
        m_executor->setMaxThreadCount(m_executorMaxThreads);
}

int LoopCore::executorMaxThreads() const
{
    return m_executorMaxThreads;
}

} // namespace loopscope::detail
