#include "loopscope/ui/loopstatemodel.h"

#include "loopscope/ui/tracebatch.h"

#include <algorithm>

namespace loopscope::ui {

namespace {
constexpr std::size_t kMaxWakeups = 64;
}

const char *loopPhaseName(LoopPhase phase)
{
    switch (phase) {
    case LoopPhase::Idle:
        return "wait for Qt";
    case LoopPhase::ExpireTimers:
        return "expire timers";
    case LoopPhase::RunReady:
        return "run callbacks";
    }
    return "?";
}

LoopStateModel::LoopStateModel() = default;

void LoopStateModel::clear()
{
    *this = LoopStateModel();
}

void LoopStateModel::ingest(const TraceBatch &batch)
{
    if (batch.generation != m_generation) {
        clear();
        m_generation = batch.generation;
    }
    for (const RecordedEvent &e : batch.events) {
        if (e.sequence != m_nextSequence && m_nextSequence != 0)
            m_incomplete = true; // events were dropped: some handles may be missing
        m_nextSequence = e.sequence + 1;
        apply(e, batch);
    }
    m_paused = batch.stats.paused;
    m_blockedFor = batch.blockedFor;
}

QString LoopStateModel::taskLabel(std::uint64_t task) const
{
    const auto it = m_taskNames.find(task);
    if (it != m_taskNames.end() && !it->second.isEmpty())
        return it->second;
    return QStringLiteral("Task #%1").arg(task);
}

LoopStateModel::Callback LoopStateModel::callbackOf(const RecordedEvent &e,
                                                    const TraceBatch &batch) const
{
    Callback c;
    c.handle = e.id;
    c.kind = e.handleKind;
    c.task = e.aux;
    c.label = c.task ? taskLabel(c.task) : batch.string(e.location);
    c.sinceNs = e.time;
    return c;
}

void LoopStateModel::dropReady(std::uint64_t handle)
{
    // Almost always the front (FIFO); a search covers handles the trace saw out of order.
    if (!m_ready.empty() && m_ready.front().handle == handle) {
        m_ready.pop_front();
        return;
    }
    const auto it = std::find_if(m_ready.begin(), m_ready.end(),
                                 [handle](const Callback &c) { return c.handle == handle; });
    if (it != m_ready.end())
        m_ready.erase(it);
}

void LoopStateModel::apply(const RecordedEvent &e, const TraceBatch &batch)
{
    using K = TraceEventKind;
    m_nowNs = std::max(m_nowNs, e.time);
    switch (e.kind) {
    case K::IterationBegin:
    case K::IterationEnd:
        // The loop's own count of ready callbacks (aux) bounds ours, and the ones it holds
        // are the newest: anything older was run or cancelled (a cancelled callSoon handle has
        // no event of its own), or its HandleStarted was dropped. This heals the picture
        // after a burst the ring could not keep.
        if (m_ready.size() > e.aux)
            m_ready.erase(m_ready.begin(),
                          m_ready.begin() + std::ptrdiff_t(m_ready.size() - e.aux));
        if (e.kind == K::IterationBegin) {
            m_iteration = e.id;
            m_phase = LoopPhase::RunReady;
        } else {
            m_phase = LoopPhase::Idle;
            m_running = false;
        }
        break;
    case K::HandleScheduled:
        m_ready.push_back(callbackOf(e, batch));
        break;
    case K::HandleStarted: {
        dropReady(e.id);
        m_current = callbackOf(e, batch);
        m_running = true;
        m_phase = LoopPhase::RunReady;
        break;
    }
    case K::HandleFinished:
        if (m_running && m_current.handle == e.id)
            m_running = false;
        break;
    case K::TimerArmed:
    case K::TimerRescheduled: {
        Timer t;
        t.handle = e.id;
        t.armedNs = e.time;
        t.deadlineNs = e.time + e.duration;
        t.task = e.kind == K::TimerArmed ? e.aux : 0;
        t.label = t.task ? taskLabel(t.task) : batch.string(e.location);
        dropTimer(e.id);
        m_byDeadline.emplace(t.deadlineNs, e.id);
        m_timers.insert_or_assign(e.id, std::move(t));
        break;
    }
    case K::TimerFired:
        m_phase = LoopPhase::ExpireTimers;
        dropTimer(e.id);
        break;
    case K::TimerCancelled:
        dropTimer(e.id);
        break;
    case K::TaskCreated:
    case K::TaskRenamed:
        m_taskNames[e.id] = batch.string(e.text);
        break;
    case K::TaskDone:
        m_taskNames.erase(e.id);
        break;
    case K::Wakeup:
        m_wakeups.push_back(Wakeup{ e.id, e.futureKind, e.time });
        while (m_wakeups.size() > kMaxWakeups)
            m_wakeups.pop_front();
        break;
    case K::ExecutorJobQueued: {
        ExecutorJob job;
        job.job = e.id;
        job.future = e.related;
        job.queuedNs = e.time;
        job.label = batch.string(e.location);
        m_queuedJobs.insert_or_assign(e.id, std::move(job));
        break;
    }
    case K::ExecutorJobStarted: {
        ExecutorJob job;
        if (const auto it = m_queuedJobs.find(e.id); it != m_queuedJobs.end()) {
            job = std::move(it->second);
            m_queuedJobs.erase(it);
        }
        job.job = e.id;
        job.startedNs = e.time - e.duration; // duration: how long ago the worker started it
        if (std::find(m_workerOrder.begin(), m_workerOrder.end(), e.aux) == m_workerOrder.end())
            m_workerOrder.push_back(e.aux);
        m_workers.insert_or_assign(e.aux, std::move(job));
        m_jobThread[e.id] = e.aux;
        break;
    }
    case K::ExecutorJobFinished: {
        m_queuedJobs.erase(e.id); // a job whose start the trace missed
        const auto thread = m_jobThread.find(e.id);
        const std::uint64_t worker = thread != m_jobThread.end() ? thread->second : e.aux;
        if (const auto it = m_workers.find(worker); it != m_workers.end() && it->second.job == e.id)
            m_workers.erase(it);
        if (thread != m_jobThread.end())
            m_jobThread.erase(thread);
        break;
    }
    case K::LoopClosed:
        m_ready.clear();
        m_timers.clear();
        m_byDeadline.clear();
        m_running = false;
        m_phase = LoopPhase::Idle;
        break;
    default:
        break;
    }
}

void LoopStateModel::dropTimer(std::uint64_t handle)
{
    const auto it = m_timers.find(handle);
    if (it == m_timers.end())
        return;
    m_byDeadline.erase({ it->second.deadlineNs, handle });
    m_timers.erase(it);
}

std::vector<LoopStateModel::Timer> LoopStateModel::timersByDeadline(std::size_t limit) const
{
    std::vector<Timer> out;
    out.reserve(std::min(limit, m_byDeadline.size()));
    for (auto it = m_byDeadline.begin(); it != m_byDeadline.end() && out.size() < limit; ++it)
        out.push_back(m_timers.at(it->second));
    return out;
}

} // namespace loopscope::ui
