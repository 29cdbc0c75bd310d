#pragma once

//! \file loopstatemodel.h What the loop holds right now, rebuilt from its trace: the ready
//! queue in order, the timer heap by deadline, the running callback, executor workers and the
//! latest wake-ups. The loop view paints it.

#include <loopscope/recorder.h>

#include <QString>

#include <chrono>
#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

namespace loopscope::ui {

struct TraceBatch;

//! Where the loop is in its iteration (libuv's phases; asyncio's _run_once).
enum class LoopPhase : std::uint8_t {
    Idle, //!< between iterations: waiting in Qt's event loop for a wake-up or a timer
    ExpireTimers, //!< moving due timers to the ready queue
    RunReady, //!< running the ready snapshot, one callback after the other
};
const char *loopPhaseName(LoopPhase phase);

class LoopStateModel
{
public:
    //! A callback waiting in the ready queue, or the one running.
    struct Callback
    {
        std::uint64_t handle = 0;
        HandleKind kind = HandleKind::CallSoon;
        std::uint64_t task = 0; //!< the task whose step it is (TaskStep), else 0
        QString label; //!< the task's name, or the creation site
        std::int64_t sinceNs = 0; //!< loop time it was scheduled (started, when running)
    };
    struct Timer
    {
        std::uint64_t handle = 0;
        std::int64_t deadlineNs = 0;
        std::int64_t armedNs = 0;
        std::uint64_t task = 0; //!< the task that armed it (its sleep), 0: none
        QString label; //!< the task's name, or the creation site
    };
    struct ExecutorJob
    {
        std::uint64_t job = 0;
        std::uint64_t future = 0;
        std::int64_t queuedNs = 0;
        std::int64_t startedNs = -1; //!< when the worker started it, -1 while queued
        QString label;
    };
    //! Who woke which task (Wakeup), for the arrows.
    struct Wakeup
    {
        std::uint64_t task = 0;
        FutureKind cause = FutureKind::Plain; //!< Sleep: a timer; Executor: a job; ...
        std::int64_t timeNs = 0;
    };

    LoopStateModel();

    //! Applies one tick's events (in order). A batch of a new generation starts afresh.
    void ingest(const TraceBatch &batch);
    void clear();

    //! The ready queue in FIFO order (what the next iteration will run).
    const std::deque<Callback> &ready() const { return m_ready; }
    //! The \a limit pending timers with the earliest deadlines, earliest first.
    std::vector<Timer> timersByDeadline(std::size_t limit) const;
    std::size_t timerCount() const { return m_timers.size(); }
    //! The callback running now (the loop is inside it: blocked, or paused mid-step).
    const Callback *running() const { return m_running ? &m_current : nullptr; }
    //! Executor jobs by worker thread (running ones), and the ones still queued.
    const std::map<std::uint64_t, ExecutorJob> &workers() const { return m_workers; }
    std::size_t queuedJobs() const { return m_queuedJobs.size(); }
    //! Worker threads seen so far, in order of appearance (stable lanes).
    const std::vector<std::uint64_t> &workerThreads() const { return m_workerOrder; }
    //! Wake-ups of the latest ticks (at most the last 64), oldest first.
    const std::deque<Wakeup> &recentWakeups() const { return m_wakeups; }

    LoopPhase phase() const { return m_phase; }
    std::uint64_t iteration() const { return m_iteration; }
    std::int64_t nowNs() const { return m_nowNs; }
    //! Moves nowNs() forward (never back) with no event, e.g. while one callback blocks the
    //! loop and reports nothing: the timers it holds up show how late they are getting.
    void extendTo(std::int64_t ns) { m_nowNs = std::max(m_nowNs, ns); }
    bool paused() const { return m_paused; }
    //! Real time the loop has been stuck in the running callback (TraceBatch::blockedFor).
    std::chrono::milliseconds blockedFor() const { return m_blockedFor; }
    int generation() const { return m_generation; }
    //! True when events were dropped: the picture may miss handles (it heals as they run).
    bool incomplete() const { return m_incomplete; }

private:
    void apply(const RecordedEvent &e, const TraceBatch &batch);
    QString taskLabel(std::uint64_t task) const;
    //! The callback a HandleScheduled / HandleStarted event is about.
    Callback callbackOf(const RecordedEvent &e, const TraceBatch &batch) const;
    void dropReady(std::uint64_t handle);
    void dropTimer(std::uint64_t handle);

    std::deque<Callback> m_ready;
    std::unordered_map<std::uint64_t, Timer> m_timers;
    std::set<std::pair<std::int64_t, std::uint64_t>> m_byDeadline; // (deadline, handle)
    std::unordered_map<std::uint64_t, QString> m_taskNames;
    std::unordered_map<std::uint64_t, ExecutorJob> m_queuedJobs;
    std::map<std::uint64_t, ExecutorJob> m_workers; // by worker thread
    std::unordered_map<std::uint64_t, std::uint64_t> m_jobThread; // job -> worker thread
    std::vector<std::uint64_t> m_workerOrder;
    std::deque<Wakeup> m_wakeups;
    Callback m_current;
    bool m_running = false;
    LoopPhase m_phase = LoopPhase::Idle;
    std::uint64_t m_iteration = 0;
    std::int64_t m_nowNs = 0;
    std::uint64_t m_nextSequence = 0;
    bool m_paused = false;
    bool m_incomplete = false;
    std::chrono::milliseconds m_blockedFor{ 0 };
    int m_generation = -1;
};

} // namespace loopscope::ui
