#pragma once

#include "loopscope/observer.h"
#include "loopscope/recorder.h"

#include "eventring_p.h"
#include "stringtable_p.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace loopscope::detail {

/*!
 * TraceRecorder's core as the loop sees it: the loop writes every event to it as the event
 * happens, on the loop thread, instead of queueing TraceEvents and handing them over in runs
 * (LoopObserver::setEventSink()).
 *
 * The hottest events (a callback's HandleScheduled, HandleStarted and HandleFinished, a task
 * step's TaskStepBegin and TaskStepEnd) come through pushHot(), inline: no TraceEvent is
 * built, nothing is queued, no lock is taken. Each goes straight into the ring, and the
 * aggregates it changes (the task's figures and the loop's callback and step figures) are
 * updated at once, from the values in registers, as single-writer atomics that readers on
 * other threads copy without stopping the loop (a sequence count per task keeps each task's
 * figures consistent). Events that carry text, and the rest, come through record() as
 * TraceEvents, and are aggregated under the recorder's lock.
 *
 * Why: building a 150-byte TraceEvent, handing it over and compacting it again, then
 * locking the aggregates for every run, was most of a recorded task switch (task_yield
 * profile, issue 6); reading the hot events back from the ring in batches to aggregate them
 * under the lock was a quarter of what was left.
 */
class RecorderSink
{
public:
    RecorderSink(std::size_t capacity, std::size_t stringCapacity, std::size_t maxStringLength)
        : ring(capacity), strings(stringCapacity, maxStringLength, ring.capacity())
    {
    }

    //! Loop thread: one hot event (see the class), in its compact form.
    void pushHot(TraceEventKind kind, std::int64_t time, std::int64_t duration, std::uint64_t id,
                 std::uint64_t related, std::uint64_t aux, HandleKind handleKind,
                 FutureKind futureKind, bool failed, bool yielded,
                 const SourceLocation *location) noexcept
    {
        // A string table that cannot grow ends the program here, as any allocation failure
        // in the loop's noexcept emission paths does.
        const std::uint32_t site =
                location ? strings.internLocation(*location, ring.nextPosition()) : 0;
        ring.pushWords(time, duration, id, related, aux, EventRing::packText(0, site),
                       EventRing::packFlags(kind, handleKind, futureKind, DoneStatus::Finished,
                                            failed, yielded));
        noteTime(time);
        if (kind == TraceEventKind::HandleStarted)
            callbackStarted(id, aux);
        else if (kind == TraceEventKind::HandleFinished)
            callbackFinished();
        aggregateHot(kind, time, duration, id, related, aux, handleKind, futureKind, failed,
                     yielded);
    }
    //! Loop thread: any event as a TraceEvent (see the class).
    virtual void record(const TraceEvent &event) = 0;

protected:
    ~RecorderSink() = default;

    /*!
     * The recording thread: the aggregates a hot event changes (none for HandleStarted), as
     * it is pushed, or as it comes as a TraceEvent (TraceRecorder::Private::update()).
     */
    void aggregateHot(TraceEventKind kind, std::int64_t time, std::int64_t duration,
                      std::uint64_t id, std::uint64_t related, std::uint64_t aux,
                      HandleKind handleKind, FutureKind futureKind, bool failed, bool yielded)
    {
        switch (kind) {
        case TraceEventKind::HandleScheduled:
            if (handleKind != HandleKind::TaskStep || !aux)
                break;
            if (aux == m_steppingTask) {
                // The running step scheduled its own task's next one (sleep(0), or an await
                // of something already done): ready when the step ends.
                if (m_scheduledDuringStep < 0)
                    m_scheduledDuringStep = time;
            } else {
                hotTaskScheduled(aux, time);
            }
            break;
        case TraceEventKind::HandleFinished:
            hotCallbackFinished(time, duration, id, aux, handleKind, failed);
            break;
        case TraceEventKind::TaskStepBegin:
            hotStepBegin(id, time, aux);
            break;
        case TraceEventKind::TaskStepEnd:
            hotStepEnd(id, time, duration, related, futureKind, yielded);
            break;
        default:
            break;
        }
    }
    // aggregateHot()'s steps (TraceRecorder::Private; out of line, the recorder's state is
    // its own). Not noexcept: a replayed or observed event's lint may throw bad_alloc to
    // its caller, where pushHot()'s noexcept ends the program instead.
    void hotTaskScheduled(std::uint64_t task, std::int64_t time);
    void hotCallbackFinished(std::int64_t time, std::int64_t duration, std::uint64_t handle,
                             std::uint64_t task, HandleKind kind, bool failed);
    void hotStepBegin(std::uint64_t task, std::int64_t time, std::uint64_t step);
    void hotStepEnd(std::uint64_t task, std::int64_t time, std::int64_t duration,
                    std::uint64_t awaited, FutureKind awaitedKind, bool yielded);

    //! Loop thread: LoopActivity, as a callback starts and finishes.
    void callbackStarted(std::uint64_t handle, std::uint64_t task) noexcept
    {
        runningHandle.store(handle, std::memory_order_relaxed);
        runningTask.store(task, std::memory_order_relaxed);
        if (!m_inIteration) [[unlikely]] // a step while paused: the callback alone is busy
            busySinceNs.store(steadyNowNs(), std::memory_order_relaxed);
    }
    void callbackFinished() noexcept
    {
        runningHandle.store(0, std::memory_order_relaxed);
        runningTask.store(0, std::memory_order_relaxed);
        if (!m_inIteration) [[unlikely]]
            busySinceNs.store(0, std::memory_order_relaxed);
    }
    //! Loop thread: LoopActivity for any event (the hot ones included, when they come as
    //! TraceEvents).
    void noteActivity(const TraceEvent &e) noexcept
    {
        switch (e.kind) {
        case TraceEventKind::IterationBegin:
            m_inIteration = true;
            busySinceNs.store(steadyNowNs(), std::memory_order_relaxed);
            break;
        case TraceEventKind::IterationEnd:
            m_inIteration = false;
            busySinceNs.store(0, std::memory_order_relaxed);
            break;
        case TraceEventKind::HandleStarted:
            callbackStarted(e.id, e.task);
            break;
        case TraceEventKind::HandleFinished:
            callbackFinished();
            break;
        default:
            break;
        }
    }
    static std::int64_t steadyNowNs() noexcept
    {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                .count();
    }

    //! Loop thread: the first and last event's time, without a lock (only it writes them).
    void noteTime(std::int64_t time) noexcept
    {
        if (firstEventNs.load(std::memory_order_relaxed) < 0) [[unlikely]]
            firstEventNs.store(time, std::memory_order_relaxed);
        lastEventNs.store(time, std::memory_order_relaxed);
    }

public:
    EventRing ring;
    StringTable strings;
    std::atomic<std::int64_t> firstEventNs{ -1 };
    std::atomic<std::int64_t> lastEventNs{ -1 };
    // LoopActivity, written by the loop thread as events come.
    std::atomic<std::int64_t> busySinceNs{ 0 };
    std::atomic<std::uint64_t> runningHandle{ 0 };
    std::atomic<std::uint64_t> runningTask{ 0 };

protected:
    //! Loop thread only: between IterationBegin and IterationEnd (LoopActivity).
    bool m_inIteration = false;
    // The recording thread: the tracked task whose step runs (0: none), and when that step
    // scheduled the task's next one (-1: it did not). One step runs at a time, and a recorder
    // watches one loop: a yield's HandleScheduled needs no look-up of the task's figures.
    std::uint64_t m_steppingTask = 0;
    std::int64_t m_scheduledDuringStep = -1;
};

} // namespace loopscope::detail
