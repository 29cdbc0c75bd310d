#pragma once

//! \file recorder.h The trace recorder: a bounded ring of compact events, per-task and per-loop
//! aggregates, lints, and export to Chrome trace-event JSON (Perfetto, chrome://tracing).

#include "loopscope/clock.h"
#include "loopscope/eventloop.h"
#include "loopscope/handle.h"
#include "loopscope/observer.h"

#include <QByteArray>
#include <QString>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace loopscope {

/*!
 * One trace event in the recorder's compact form: 64 bytes, trivially copyable, no pointers.
 * Strings (task names, error texts, creation sites) are indices into the recorder's string
 * table; resolve them with TraceRecorder::stringAt() soon after draining (see there).
 *
 * Times are nanoseconds on the loop's clock; durations of running code are real time (as in
 * TraceEvent). Which fields mean something depends on kind:
 *
 * | kind | id | related | aux | duration | strings |
 * | --- | --- | --- | --- | --- | --- |
 * | IterationBegin, IterationEnd | iteration | live timers | ready callbacks | End: real run time | |
 * | HandleScheduled | handle | | task of a step | | location |
 * | HandleStarted | handle | | task of a step | | location |
 * | HandleFinished | handle | | task of a step | real run time | location |
 * | TimerArmed | handle | | task that armed it (0: none) | deadline - time | location |
 * | TimerCancelled | handle | | | deadline - time | |
 * | TimerFired | handle | | | lateness (time - deadline) | |
 * | FutureCreated | future | | creating task | | |
 * | FutureDone, FutureCancelled, FutureFailed | future | running handle | completing task | | text |
 * | TaskCreated | task | its future | parent task | | text: name; location |
 * | TaskStepBegin | task | | step number | | |
 * | TaskStepEnd | task | future it awaits (0: none) | step number | real step time | |
 * | TaskDone | task | its future | | | text: error or cancel message |
 * | Wakeup | woken task | future that woke it | | | |
 * | ExecutorJobQueued | job | its future | | | location |
 * | ExecutorJobStarted | job | its future | worker thread | lag: time - when the worker started it | |
 * | ExecutorJobFinished | job | its future | worker thread | real run time | |
 * | LoopPaused | task or handle (0: none) | | PauseReason | | |
 * | TaskRenamed | task | | | | text: new name |
 * | DoneCallbackAdded | future | callback id | adding task | | location |
 * | TimerRescheduled | new handle | old handle | | deadline - time | |
 * | ExceptionNeverRetrieved | future | its task (0: none) | | | text: the error |
 * | LoopClosed | | | tasks abandoned | | |
 *
 * TaskStepEnd's `yielded` says the step ended in sleep(0); TaskDone's status Abandoned that the
 * loop closed while the task was pending. An executor job ran on its worker from
 * (Started.time - Started.duration) for Finished.duration.
 */
struct RecordedEvent
{
    //! Position in the recorder's event stream: 0 for the first event ever recorded, +1 for
    //! each one after. A gap between two drained events is the number of events dropped.
    std::uint64_t sequence = 0;
    std::int64_t time = 0; //!< ns on the loop's clock
    std::int64_t duration = 0; //!< ns; see the table
    std::uint64_t id = 0;
    std::uint64_t related = 0;
    std::uint64_t aux = 0;
    std::uint32_t text = 0; //!< string index, 0: none
    std::uint32_t location = 0; //!< string index, 0: none
    TraceEventKind kind = TraceEventKind::IterationBegin;
    HandleKind handleKind = HandleKind::CallSoon;
    FutureKind futureKind = FutureKind::Plain;
    DoneStatus status = DoneStatus::Finished;
    bool failed = false;
    bool yielded = false; //!< TaskStepEnd: the step ended in sleep(0)
    std::uint8_t reserved[2] = {};
};
static_assert(sizeof(RecordedEvent) == 64, "RecordedEvent is meant to stay one cache line");

namespace detail {
class HotHistogram;
class RecorderSink;
} // namespace detail

/*!
 * A histogram of non-negative durations with logarithmic buckets: four per power of two, so
 * a quantile read from it is at most 25% above the true value (and never above max()).
 * Fixed size (about 2 KiB), no allocation.
 */
class DurationHistogram
{
public:
    static constexpr int kBucketCount = 248;

    void add(Duration d) noexcept;
    std::uint64_t count() const noexcept { return m_count; }
    Duration sum() const noexcept { return Duration(m_sum); }
    Duration max() const noexcept { return Duration(m_max); }
    Duration mean() const noexcept;
    //! The upper bound of the bucket holding the \a q quantile (0 < q <= 1), capped at max();
    //! zero when empty.
    Duration quantile(double q) const noexcept;

    std::uint64_t bucket(int index) const noexcept { return m_buckets[std::size_t(index)]; }
    //! Bucket \a index holds durations in [bucketLowerBound(index), bucketUpperBound(index)).
    static Duration bucketLowerBound(int index) noexcept;
    static Duration bucketUpperBound(int index) noexcept;
    static int bucketFor(Duration d) noexcept;

private:
    friend class detail::HotHistogram; // the recorder's live copy, read into one of these
    std::array<std::uint64_t, kBucketCount> m_buckets{};
    std::uint64_t m_count = 0;
    std::int64_t m_sum = 0;
    std::int64_t m_max = 0;
};

/*!
 * What the recorder knows about one task. Busy time is real time (the sum of its step
 * durations); created/scheduled/waiting/first-step times are on the loop's clock.
 */
struct TaskStats
{
    enum class State : std::uint8_t {
        Created, //!< created, first step not scheduled yet
        Scheduled, //!< ready: a step sits in the ready queue
        Running, //!< a step is running
        Waiting, //!< suspended on waitingOn (0: on something the trace cannot name)
        Finished,
        Cancelled,
        Failed,
        Destroyed, //!< still pending when its loop closed (TaskDone with status Abandoned)
    };

    std::uint64_t id = 0; //!< the task's number (Task::taskId())
    std::uint64_t futureId = 0;
    std::uint64_t parent = 0; //!< task that created it, 0: none
    QString name;
    QString location; //!< creation site, "file.cpp:12 (function)"
    State state = State::Created;
    std::uint64_t waitingOn = 0; //!< the future it is suspended on (state Waiting)
    FutureKind waitingOnKind = FutureKind::Plain;
    std::uint64_t steps = 0;
    std::uint64_t yields = 0; //!< steps that ended by rescheduling itself (sleep(0))
    std::uint64_t waits = 0; //!< steps that ended awaiting a future
    std::int64_t createdNs = 0;
    std::int64_t stateSinceNs = 0; //!< when it entered its current state
    std::int64_t firstStepNs = -1; //!< -1 until the first step ran
    std::int64_t doneNs = -1;
    Duration busy{}; //!< real time spent in its steps
    Duration scheduled{}; //!< loop time between becoming ready and its step starting
    Duration waiting{}; //!< loop time suspended on futures
    Duration firstStepDelay{}; //!< loop time from creation to the first step
    //! How it ended (Finished also for a task that is not done: see state).
    DoneStatus status = DoneStatus::Finished;
    QString resultText; //!< the error or cancel message once done
    bool isDone() const noexcept { return state >= State::Finished; }
};
const char *taskStateName(TaskStats::State state);

/*!
 * What the loop's thread is doing right now, as its recorder was told (TraceRecorder::activity()):
 * enough for another thread to see that the loop is stuck, and in which callback.
 */
struct LoopActivity
{
    //! steady_clock time (ns since its epoch) at which the running iteration began, or,
    //! outside an iteration (a step while the loop is paused), the running callback; 0 while
    //! the loop's thread is between iterations.
    std::int64_t busySinceNs = 0;
    std::uint64_t runningHandle = 0; //!< the callback running now, 0: none
    std::uint64_t runningTask = 0; //!< its task when it is a task step, 0 otherwise
};

//! What the recorder knows about the loop as a whole.
struct LoopStats
{
    std::uint64_t iterations = 0;
    std::uint64_t callbacks = 0; //!< callbacks that ran, task steps included
    std::uint64_t failedCallbacks = 0;
    std::uint64_t taskSteps = 0;
    std::uint64_t tasksCreated = 0;
    std::uint64_t tasksFinished = 0;
    std::uint64_t tasksCancelled = 0;
    std::uint64_t tasksFailed = 0;
    std::uint64_t tasksDestroyedPending = 0;
    std::uint64_t liveTasks = 0; //!< tracked and not done
    std::uint64_t untrackedTasks = 0; //!< not tracked because maxLiveTasks was reached
    std::uint64_t futuresCreated = 0;
    std::uint64_t timersArmed = 0;
    std::uint64_t timersFired = 0;
    std::uint64_t timersCancelled = 0;
    std::uint64_t executorJobsQueued = 0;
    std::uint64_t executorJobsFinished = 0;
    Duration executorBusy{}; //!< real time spent in executor jobs
    std::uint64_t readyAtLastIteration = 0;
    std::uint64_t timersAtLastIteration = 0;
    std::int64_t firstEventNs = -1;
    std::int64_t lastEventNs = -1;
    //! Callbacks per second of loop time over the last complete window of at least one
    //! second (0 until one has passed).
    double callbacksPerSecond = 0;
    //! Callbacks per second of loop time since the first event (0 while no time passed).
    double meanCallbacksPerSecond = 0;
    Duration maxIteration{}; //!< real time of the longest iteration
    Duration totalIterationTime{};
    //! Loop lag: how late timers fired (max(), mean(), quantile(0.99)).
    DurationHistogram timerLateness;
    DurationHistogram stepDurations; //!< real time of every task step
    DurationHistogram callbackDurations; //!< real time of every callback
    bool paused = false;
    std::uint64_t pauses = 0;
    //! Candidates for the UnawaitedFuture lint forgotten because maxUnawaitedFutures was hit.
    std::uint64_t untrackedFutures = 0;
    //! Reports that reached the loop's exception handler through exceptionHandler().
    std::uint64_t exceptionsReported = 0;
};

//! The kinds of problem the recorder points out.
enum class LintKind : std::uint8_t {
    ExceptionNeverRetrieved, //!< a failed future or task died with nobody reading its error
    DestroyedPending, //!< a task was still pending when its loop closed
    SlowCallback, //!< a callback or task step ran longer than slowCallbackThreshold
    BlockedLoop, //!< an iteration ran longer than blockedLoopThreshold
    BusyPolling, //!< a task only ever yields with sleep(0), never awaiting anything
    UnawaitedFuture, //!< a future nobody awaited was still pending when the loop closed
    TimerDrift, //!< a timer fired later than timerDriftThreshold
};
constexpr int kLintKindCount = 7;
const char *lintKindName(LintKind kind);

//! One problem found by the recorder.
struct Lint
{
    LintKind kind = LintKind::SlowCallback;
    std::uint64_t task = 0; //!< the task involved, 0: none
    //! What else it is about: a future (UnawaitedFuture; the lost one or the task's own for
    //! ExceptionNeverRetrieved and DestroyedPending), a handle (SlowCallback, TimerDrift) or
    //! an iteration (BlockedLoop); 0 when unknown.
    std::uint64_t id = 0;
    std::int64_t timeNs = 0; //!< loop time it was found
    Duration duration{}; //!< how slow, blocked or late (the three timing lints)
    QString message;
};

//! How much a TraceRecorder keeps, and the lint thresholds.
struct RecorderOptions
{
    //! Events in the ring (rounded up to a power of two, at least 16); 64 bytes each.
    std::size_t capacity = std::size_t(1) << 16;
    //! Distinct strings kept at once (at most 262,143).
    std::size_t stringCapacity = std::size_t(1) << 14;
    //! Longer strings are cut to this many characters.
    std::size_t maxStringLength = 512;
    //! Tasks tracked at once before new ones are only counted.
    std::size_t maxLiveTasks = std::size_t(1) << 17;
    //! Done tasks whose TaskStats are kept (oldest forgotten first).
    std::size_t retainedFinishedTasks = 1000;
    //! Pending futures nobody awaited yet, kept for the UnawaitedFuture lint (oldest first out).
    std::size_t maxUnawaitedFutures = std::size_t(1) << 14;
    //! The most recent lints of each kind kept (lintCount() counts all of them).
    std::size_t maxLintsPerKind = 100;
    //! Lint thresholds; a duration exceeding it is reported. Duration::max() disables one.
    Duration slowCallbackThreshold = std::chrono::milliseconds(100);
    Duration blockedLoopThreshold = std::chrono::milliseconds(250);
    Duration timerDriftThreshold = std::chrono::milliseconds(50);
    //! BusyPolling: at least this many sleep(0) yields and no await at all.
    std::uint64_t busyPollingMinYields = 100;
};

/*!
 * Records what an EventLoop does, in fixed memory, for a viewer on another thread.
 *
 * Attach it with EventLoop::addObserver() (one loop per recorder: the loop's thread is the
 * only producer). Every event goes into a ring of RecordedEvent; when the ring is full the
 * oldest event is overwritten, so a reader that falls behind loses the oldest events it has
 * not read yet and droppedEvents() counts them. drain(), snapshot() and the aggregate
 * getters may be called from any thread while the loop records: the loop thread never waits
 * for the ring (each slot is a sequence lock; a reader discards a slot overwritten under it).
 * A callback's and a task step's events change the figures they touch (the task's, and the
 * loop's callback and step counts and histograms) as they happen, without a lock: a reader
 * copies each task's figures as of one moment (a sequence count per task), and each of the
 * loop's figures whole, though two of them may be a callback apart. The other events take
 * one mutex, uncontended but for a reader's copy.
 *
 * Memory stays bounded however long it runs: the ring, the string table (a string is reused
 * once no event in the ring refers to it), the tracked tasks, the retained finished tasks,
 * the unawaited-future candidates and the kept lints all have caps (RecorderOptions).
 *
 * The loop hands the recorder its events in runs (LoopObserver::Delivery::Batched). Asked
 * on the loop's thread (from a callback or a task), the recorder first takes in the events
 * the loop still holds back, so its answers include everything that happened before the
 * call; asked from another thread it answers with what it has: every callback and step that
 * finished, and what the loop still holds back of the other events (at most one callback's).
 *
 * Everything comes from the loop's events, the end of the loop included (LoopClosed, with
 * a TaskDone of status Abandoned for each task still pending). noteLoopClosed() is only
 * needed when the recorder is detached before EventLoop::close().
 */
class TraceRecorder final : public LoopObserver
{
public:
    explicit TraceRecorder(RecorderOptions options = {});
    ~TraceRecorder() override;
    TraceRecorder(const TraceRecorder &) = delete;
    TraceRecorder &operator=(const TraceRecorder &) = delete;

    //! Loop thread (called by the loop).
    void onEvent(const TraceEvent &event) override;
    /*!
     * Loop thread (called by the loop: the recorder takes its events in runs). Each event
     * goes into the ring as onEvent() would put it; the aggregates are updated once per run,
     * under one lock.
     */
    void onEvents(std::span<const TraceEvent> events) override;
    /*!
     * Records \a event as if the loop had reported it: the recorder's aggregates, lints and
     * ring come out as they did in the recorder \a event was taken from. \a text and
     * \a location are its strings, resolved (a location is kept as its text). For replaying
     * a saved trace (loadTraceFile()); call it from one thread only, as the loop would.
     */
    void replay(const RecordedEvent &event, const QString &text = {}, const QString &location = {});

    const RecorderOptions &options() const noexcept;

    // --- events (any thread) -----------------------------------------------------------

    /*!
     * Appends the events recorded since the previous drain() to \a out, oldest first, and
     * returns how many. Events overwritten before they could be read are skipped and counted
     * in droppedEvents(): after the loop stopped and a last drain, the total drained plus
     * droppedEvents() equals producedEvents().
     */
    std::size_t drain(std::vector<RecordedEvent> &out);
    //! The events the ring holds now, oldest first, drained or not (does not consume).
    std::vector<RecordedEvent> snapshot() const;
    //! Ring size in events.
    std::size_t capacity() const noexcept;
    //! Events recorded since construction.
    std::uint64_t producedEvents() const noexcept;
    //! Events drain() has lost or will lose because they were overwritten first.
    std::uint64_t droppedEvents() const;

    /*!
     * The string \a index of a RecordedEvent refers to; empty for 0 or a string whose slot
     * was reused meanwhile (which happens only once no event in the ring refers to it, so
     * resolve strings of drained events before the loop records capacity() more events).
     */
    QString stringAt(std::uint32_t index) const;
    //! Strings held now (at most options().stringCapacity).
    std::size_t stringCount() const;
    //! Strings that found no free slot (the event then carries index 0).
    std::uint64_t droppedStrings() const;

    // --- aggregates (any thread) -------------------------------------------------------

    //! Every tracked task: live ones in creation order, then retained done ones.
    std::vector<TaskStats> tasks() const;
    /*!
     * The tasks that changed since \a version, in tasks()' order, and sets \a version for
     * the next call; start from 0 to get every tracked task. A reader that calls it on every
     * tick copies only what moved instead of every tracked task (with 10,000 sleeping tasks
     * and 20,000 retained finished ones, most of them). A task the recorder stops tracking
     * (retention cap) is not reported again; one that ended is reported once, done.
     * Any thread; one \a version per reader.
     */
    std::vector<TaskStats> tasksChangedSince(std::uint64_t &version) const;
    std::optional<TaskStats> task(std::uint64_t taskId) const;
    LoopStats loopStats() const;
    /*!
     * Any thread, without a lock: what the loop's thread is doing now. Kept as the events
     * happen, not from the ring, so a callback that blocks shows at once, however the
     * recorder is fed.
     */
    LoopActivity activity() const noexcept;

    //! The lints found so far (the kept ones), oldest first, BusyPolling ones last.
    std::vector<Lint> lints() const;
    //! How many lints of \a kind were found, kept or not.
    std::uint64_t lintCount(LintKind kind) const;

    // --- beyond the events -------------------------------------------------------------

    //! Counts a report of the loop's exception handler (LoopStats::exceptionsReported).
    //! Any thread.
    void noteException(const ExceptionContext &context);
    /*!
     * A handler for EventLoop::setExceptionHandler() that calls noteException() and then
     * \a next (default: EventLoop::defaultExceptionHandler). The recorder must outlive the
     * loop's use of it.
     */
    ExceptionHandler exceptionHandler(ExceptionHandler next = {});
    /*!
     * What the LoopClosed event does, for a recorder detached before the loop closed: tasks
     * still tracked as pending become Destroyed (DestroyedPending) and futures created while
     * recording that nobody awaited and that never completed become UnawaitedFuture lints.
     * Any thread; once per recorder (a LoopClosed event counts).
     */
    void noteLoopClosed();

    // --- export ------------------------------------------------------------------------

    /*!
     * The ring's events as Chrome trace-event JSON (open it in https://ui.perfetto.dev or
     * chrome://tracing): the loop thread and executor threads as threads, iterations,
     * callbacks and task steps as complete ("X") slices on them, each task as an async slice
     * (cat "task", id = task id) with its waits nested inside, wake-ups and executor
     * completions as flow arrows, ready-queue length and timer count as counters.
     *
     * The loop thread's timeline is loop time, pushed forward where needed so that slices
     * never overlap: under a virtual clock, where time stands still while code runs, slices
     * are laid end to end with their real durations.
     */
    QByteArray chromeTraceJson() const;
    //! The same for \a events (e.g. what a viewer drained and kept), resolved with this
    //! recorder's strings.
    QByteArray chromeTraceJson(const std::vector<RecordedEvent> &events) const;
    /*!
     * Writes chromeTraceJson() to \a path atomically: into a temporary file next to it that
     * replaces \a path only once complete. On failure returns false, sets \a error and
     * leaves no file behind (an existing \a path stays as it was).
     */
    bool exportChromeTrace(const QString &path, QString *error = nullptr) const;

private:
    class Private;
    friend class detail::RecorderSink; // the loop's way in (Private is its one kind)
    std::unique_ptr<Private> d;
};

} // namespace loopscope
