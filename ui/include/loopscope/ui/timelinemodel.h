#pragma once

//! \file timelinemodel.h What the timeline shows: per lane (the loop thread, each executor
//! worker, each task) a time-sorted array of state segments, markers and wake-up edges,
//! built from the trace recorder's events.

#include <QString>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <span>
#include <vector>

// Only forward declarations of engine types: this header is included by Q_OBJECT headers,
// and moc (Qt 6.4) cannot parse the engine's C++20 headers.
namespace loopscope {
struct RecordedEvent;
struct TaskStats;
class TraceRecorder;
enum class FutureKind : std::uint8_t;
enum class HandleKind : std::uint8_t;
enum class DoneStatus : std::uint8_t;
} // namespace loopscope

namespace loopscope::ui {

//! What a lane is doing during a segment.
enum class SegmentState : std::uint8_t {
    Running, //!< task lane: a step runs; loop lane: a callback runs; executor lane: a job runs
    Ready, //!< task lane: its next step sits in the ready queue
    Awaiting, //!< task lane: suspended on a future (TimelineSegment::id, futureKind)
    InExecutor, //!< task lane: suspended on a runInExecutor() job's future
    Unknown, //!< events were dropped here: the state is not known
};
const char *segmentStateName(SegmentState state);

/*!
 * One span of time on a lane, on the loop's clock (ns). Segments of a lane never overlap and
 * are sorted by start, hence also by end. The last segment of a lane may be open (still
 * going on): its end is TimelineSegment::kOpen.
 */
struct TimelineSegment
{
    static constexpr std::int64_t kOpen = std::numeric_limits<std::int64_t>::max();

    std::int64_t start = 0;
    std::int64_t end = kOpen;
    //! Running segments: the real time the code ran (ns; under a virtual clock loop time
    //! stands still while code runs, so end - start may be 0). -1: not known.
    std::int64_t realDuration = -1;
    //! Awaiting/InExecutor: the awaited future; loop lane: the handle; executor lane: the job.
    std::uint64_t id = 0;
    //! Loop lane: the task whose step the callback is (0: none); executor lane: the task that
    //! submitted the job (0: not known); task lane: the task.
    std::uint64_t task = 0;
    SegmentState state = SegmentState::Unknown;
    FutureKind futureKind{}; //!< Awaiting/InExecutor
    HandleKind handleKind{}; //!< loop lane
    bool failed = false; //!< loop lane: the callback threw; executor lane: the job threw

    bool isOpen() const noexcept { return end == kOpen; }
};

//! Something that happened at one instant on a lane.
enum class MarkerKind : std::uint8_t {
    Created, //!< the task was created
    Finished, //!< the task returned
    Cancelled, //!< the task ended cancelled
    Failed, //!< the task ended with an exception
    SlowCallback, //!< a callback or step ran longer than the slow-callback threshold (value)
    Gap, //!< events were dropped before this instant (value: how many)
};
const char *markerKindName(MarkerKind kind);

struct TimelineMarker
{
    std::int64_t time = 0;
    //! SlowCallback: real run time (ns); Gap: events dropped.
    std::int64_t value = 0;
    //! SlowCallback: the handle.
    std::uint64_t id = 0;
    MarkerKind kind = MarkerKind::Created;
};

/*!
 * Who woke whom: the completion of future \a future at \a sourceTime (on lane source, if
 * the trace tells which) made task \a task runnable; its step began at \a time.
 */
struct WakeupEdge
{
    std::int64_t time = 0; //!< when the woken task's step began (the Wakeup event)
    std::int64_t sourceTime = -1; //!< when the future completed; -1: not seen
    std::uint64_t task = 0; //!< the woken task
    std::uint64_t future = 0; //!< the future whose completion woke it
    //! The task that completed the future (a task awaiting a task: that task; otherwise the
    //! task whose step set the result), 0: none or not known.
    std::uint64_t sourceTask = 0;
    //! The executor thread that ran the job when the future is an executor job's, else 0.
    std::uint64_t sourceThread = 0;
    FutureKind futureKind{};
};

enum class LaneKind : std::uint8_t { Loop, Executor, Task };

//! One row of the timeline.
struct TimelineLane
{
    LaneKind kind = LaneKind::Task;
    //! Task lane: the task id; executor lane: the worker thread's handle; loop lane: 0.
    std::uint64_t id = 0;
    QString name; //!< task name, "loop" or "executor N"
    QString location; //!< task: creation site
    std::uint64_t parent = 0; //!< task: the task that created it
    std::uint64_t futureId = 0; //!< task: its own future
    std::int64_t firstSeen = 0; //!< created (or first seen after dropped events)
    std::int64_t doneTime = -1; //!< task: when it ended; -1: pending (or not known)
    DoneStatus status{}; //!< task: how it ended (meaningful once doneTime >= 0)
    QString resultText; //!< task: error or cancel message
    std::uint64_t order = 0; //!< creation order among task lanes
    std::vector<TimelineSegment> segments; //!< sorted, non-overlapping
    std::vector<TimelineMarker> markers; //!< sorted by time

    bool isDone() const noexcept { return doneTime >= 0; }
};

/*!
 * The timeline's data, built incrementally from TraceRecorder events (a plain class; the
 * view asks it for what is visible and repaints when told, see TimelineView::modelUpdated).
 *
 * Feed it every drained batch in order with ingest(). Task states follow the recorder's own
 * rules (TaskStats): Ready from creation or from the scheduling of its next step, Running
 * from TaskStepBegin to TaskStepEnd, then Awaiting (InExecutor for an executor job's
 * future) or Ready again when the step re-scheduled itself. When the sequence numbers show
 * dropped events, every open segment is closed at the last event seen and an Unknown
 * segment stands for the gap until a lane's next event says what it does.
 *
 * Memory is bounded: at most maxItems() segments, markers and wake-ups are kept. Beyond it,
 * the oldest finished tasks are forgotten first, then the oldest history of all lanes
 * (historyStart() moves forward). Finished task lanes also disappear once they ended more
 * than finishedRetention() before the latest event.
 *
 * Not thread-safe: use it from one thread (the GUI thread).
 */
class TimelineModel
{
public:
    TimelineModel();
    ~TimelineModel();
    TimelineModel(const TimelineModel &) = delete;
    TimelineModel &operator=(const TimelineModel &) = delete;

    // --- ingestion ----------------------------------------------------------------------

    //! Resolves an event's text/location string index (0: none) to its text.
    using StringResolver = std::function<QString(std::uint32_t)>;

    //! Adds \a events (drained from \a recorder, in sequence order); names and messages are
    //! resolved with recorder.stringAt() now, before their string slots can be reused.
    void ingest(const std::vector<RecordedEvent> &events, const TraceRecorder &recorder);
    //! The same with strings already resolved elsewhere (e.g. TraceBatch::string()).
    void ingest(const std::vector<RecordedEvent> &events, const StringResolver &strings);
    /*!
     * After dropped events a task's end may have been lost with them, leaving its lane
     * Unknown for ever: this ends such lanes for the tasks \a tasks (TraceRecorder::tasks(),
     * TraceBatch::tasks) reports done. \a complete: \a tasks holds every tracked task, not
     * only the ones that changed (TraceBatch::tasksComplete); after a gap, reconciling goes
     * on until a complete list or the lanes' own events settle every lane. Cheap when no
     * events were dropped.
     */
    void reconcile(const std::vector<TaskStats> &tasks, bool complete = true);
    //! Forgets everything (e.g. when the visualized loop is reset).
    void clear();

    //! Callbacks and steps whose real run time exceeds this get a SlowCallback marker
    //! (default 100 ms, as the loop's slowCallbackDuration).
    void setSlowCallbackThreshold(std::int64_t ns);
    std::int64_t slowCallbackThreshold() const noexcept;
    //! The most segments + markers + wake-ups kept (default 1,000,000, about 50-100 MB; at least 1,000).
    void setMaxItems(std::size_t items);
    std::size_t maxItems() const noexcept;
    //! Finished task lanes disappear this long (loop time) after they ended; negative: keep
    //! them until maxItems() needs the room (the default).
    void setFinishedRetention(std::int64_t ns);
    std::int64_t finishedRetention() const noexcept;

    // --- lanes --------------------------------------------------------------------------

    //! Lanes in display order: the loop, the executor threads (first seen first), the tasks
    //! in creation order. Indices change when finished lanes are dropped: hold task ids.
    int laneCount() const noexcept;
    const TimelineLane &lane(int index) const;
    //! The lane index of task \a taskId, -1 when it has none (unknown or dropped).
    int laneOfTask(std::uint64_t taskId) const;
    //! The lane index of executor thread \a thread, -1 when none.
    int laneOfThread(std::uint64_t thread) const;
    int executorLaneCount() const noexcept;
    //! Task lanes currently kept.
    int taskLaneCount() const noexcept;
    //! Bumped whenever lanes are added, removed or reordered (for views caching indices).
    std::uint64_t laneGeneration() const noexcept;

    // --- time ---------------------------------------------------------------------------

    //! The earliest time still covered: the first event, or later once history was trimmed.
    std::int64_t historyStart() const noexcept;
    //! The time of the latest event ingested (0 before any), or later after extendTo().
    std::int64_t latestTime() const noexcept;
    /*!
     * Moves latestTime() forward to \a ns (never back) with no event: what is still open
     * (the callback running, the waits) grows to it. For a loop blocked in one long
     * callback, which reports nothing until the callback returns.
     */
    void extendTo(std::int64_t ns) noexcept;
    bool isEmpty() const noexcept;

    // --- queries (binary searches on the sorted arrays) ---------------------------------

    //! The segments of lane \a lane intersecting [t0, t1] (open ones count as reaching on
    //! for ever), in time order.
    std::span<const TimelineSegment> segments(int lane, std::int64_t t0, std::int64_t t1) const;
    //! The markers of lane \a lane within [t0, t1].
    std::span<const TimelineMarker> markers(int lane, std::int64_t t0, std::int64_t t1) const;
    //! Loop iterations (state Running, id: iteration number) intersecting [t0, t1].
    std::span<const TimelineSegment> iterations(std::int64_t t0, std::int64_t t1) const;
    //! When the loop was paused (LoopPaused..LoopResumed) intersecting [t0, t1]; id: the
    //! PauseReason, task: the task or handle whose breakpoint paused it (0: none).
    std::span<const TimelineSegment> pauses(std::int64_t t0, std::int64_t t1) const;
    //! Wake-ups whose woken step began within [t0, t1], in time order.
    std::span<const WakeupEdge> wakeups(std::int64_t t0, std::int64_t t1) const;
    //! The segment of lane \a lane covering time \a t, or null.
    const TimelineSegment *segmentAt(int lane, std::int64_t t) const;
    /*!
     * The task lane \a lane shows at time \a t: its task for a task lane; for the loop lane
     * the task whose step ran then; for an executor lane the task that submitted the job
     * running then. 0 when none.
     */
    std::uint64_t taskAt(int lane, std::int64_t t) const;
    //! Task ids with a lane whose segments intersect [t0, t1] with something else than
    //! Awaiting/Unknown (they ran or were ready), in lane order.
    std::vector<std::uint64_t> tasksActiveIn(std::int64_t t0, std::int64_t t1) const;

    // --- bookkeeping --------------------------------------------------------------------

    //! Segments + markers + wake-ups kept now.
    std::size_t itemCount() const noexcept;
    //! Events ingested in total, and how many the sequence numbers showed as lost.
    std::uint64_t ingestedEvents() const noexcept;
    std::uint64_t droppedEvents() const noexcept;
    //! Task lanes forgotten to stay within maxItems() or finishedRetention().
    std::uint64_t droppedTaskLanes() const noexcept;

private:
    class Private;
    std::unique_ptr<Private> d;
};

} // namespace loopscope::ui
