#include "loopscope/recorder.h"

#include "chrometrace_p.h"
#include "eventring_p.h"
#include "recordersink_p.h"
#include "stringtable_p.h"

#include <QSaveFile>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace loopscope {

// --- DurationHistogram ----------------------------------------------------------------

namespace {

//! DurationHistogram::bucketFor() of \a v ns, inline for the recorder's hot histograms.
inline int bucketIndex(std::uint64_t v) noexcept
{
    if (v < 4)
        return int(v);
    // Four buckets per power of two: the two bits below the leading one pick the quarter.
    const int msb = std::bit_width(v) - 1;
    const int sub = int((v >> (msb - 2)) & 3);
    return 4 * (msb - 1) + sub;
}

} // namespace

int DurationHistogram::bucketFor(Duration d) noexcept
{
    return bucketIndex(std::uint64_t(std::max<Duration::rep>(d.count(), 0)));
}

Duration DurationHistogram::bucketLowerBound(int index) noexcept
{
    if (index < 4)
        return Duration(std::max(index, 0));
    const int msb = index / 4 + 1;
    const int sub = index % 4;
    return Duration(Duration::rep(4 + sub) << (msb - 2));
}

Duration DurationHistogram::bucketUpperBound(int index) noexcept
{
    return index + 1 < kBucketCount ? bucketLowerBound(index + 1) : Duration::max();
}

void DurationHistogram::add(Duration d) noexcept
{
    const Duration::rep v = std::max<Duration::rep>(d.count(), 0);
    ++m_buckets[std::size_t(bucketFor(d))];
    ++m_count;
    m_sum += v;
    m_max = std::max(m_max, v);
}

Duration DurationHistogram::mean() const noexcept
{
    return m_count ? Duration(m_sum / std::int64_t(m_count)) : Duration::zero();
}

Duration DurationHistogram::quantile(double q) const noexcept
{
    if (!m_count)
        return Duration::zero();
    const auto rank =
            std::clamp<std::uint64_t>(std::uint64_t(std::ceil(q * double(m_count))), 1, m_count);
    std::uint64_t seen = 0;
    for (int i = 0; i < kBucketCount; ++i) {
        seen += m_buckets[std::size_t(i)];
        if (seen >= rank)
            return std::min(bucketUpperBound(i), max());
    }
    return max();
}

// --- names ----------------------------------------------------------------------------

const char *taskStateName(TaskStats::State state)
{
    using S = TaskStats::State;
    switch (state) {
    case S::Created:
        return "created";
    case S::Scheduled:
        return "scheduled";
    case S::Running:
        return "running";
    case S::Waiting:
        return "waiting";
    case S::Finished:
        return "finished";
    case S::Cancelled:
        return "cancelled";
    case S::Failed:
        return "failed";
    case S::Destroyed:
        return "destroyed";
    }
    return "unknown";
}

const char *lintKindName(LintKind kind)
{
    switch (kind) {
    case LintKind::ExceptionNeverRetrieved:
        return "exceptionNeverRetrieved";
    case LintKind::DestroyedPending:
        return "destroyedPending";
    case LintKind::SlowCallback:
        return "slowCallback";
    case LintKind::BlockedLoop:
        return "blockedLoop";
    case LintKind::BusyPolling:
        return "busyPolling";
    case LintKind::UnawaitedFuture:
        return "unawaitedFuture";
    case LintKind::TimerDrift:
        return "timerDrift";
    }
    return "unknown";
}

// --- the aggregates the hot events change ---------------------------------------------

namespace {

//! Single-writer atomics: only the recording thread changes them, so a change is a load and a
//! store (plain moves on x86-64), and readers on other threads see whole values.
template <class T>
T get(const std::atomic<T> &a) noexcept
{
    return a.load(std::memory_order_relaxed);
}
template <class T>
void put(std::atomic<T> &a, T value) noexcept
{
    a.store(value, std::memory_order_relaxed);
}
template <class T>
void bump(std::atomic<T> &a, T by = 1) noexcept
{
    a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

} // namespace

namespace detail {

/*!
 * DurationHistogram as single-writer atomics: the recording thread adds to it without a
 * lock, any thread reads it into a DurationHistogram. A read while durations are added may
 * be a few durations apart between the buckets, the count and the sum.
 */
class HotHistogram
{
public:
    void add(Duration d) noexcept
    {
        const Duration::rep v = std::max<Duration::rep>(d.count(), 0);
        bump(m_buckets[std::size_t(bucketIndex(std::uint64_t(v)))]);
        bump(m_count);
        bump(m_sum, v);
        if (v > get(m_max))
            put(m_max, v);
    }
    void readInto(DurationHistogram &h) const noexcept
    {
        for (std::size_t i = 0; i < h.m_buckets.size(); ++i)
            h.m_buckets[i] = get(m_buckets[i]);
        h.m_count = get(m_count);
        h.m_sum = get(m_sum);
        h.m_max = get(m_max);
    }

private:
    std::array<std::atomic<std::uint64_t>, DurationHistogram::kBucketCount> m_buckets{};
    std::atomic<std::uint64_t> m_count{ 0 };
    std::atomic<std::int64_t> m_sum{ 0 };
    std::atomic<std::int64_t> m_max{ 0 };
};

} // namespace detail

namespace {

//! LoopStats' fields that the hot events change (the rest change under the recorder's lock).
struct HotLoop
{
    std::atomic<std::uint64_t> callbacks{ 0 };
    std::atomic<std::uint64_t> failedCallbacks{ 0 };
    std::atomic<std::uint64_t> taskSteps{ 0 };
    std::atomic<double> callbacksPerSecond{ 0 };
    detail::HotHistogram stepDurations;
    detail::HotHistogram callbackDurations;
};

} // namespace

// --- TraceRecorder::Private -----------------------------------------------------------

namespace {

std::int64_t nanos(TimePoint t)
{
    return t.time_since_epoch().count();
}

QString millis(Duration d)
{
    return QString::number(toSeconds(d) * 1000.0, 'f', 3) + QStringLiteral(" ms");
}

/*!
 * A task's figures that its steps change (TaskStats' other fields change under the
 * recorder's lock). The recording thread writes them without the lock, between an odd and
 * an even seq (a sequence lock); a reader copies them until it reads the same even seq
 * before and after (TraceRecorder::Private::statsOf()).
 *
 * Two cache lines, kept in a table indexed by task id (Private::hotTable): tasks made one
 * after another, stepping in turn, walk it in order, which the processor prefetches (in a
 * node of the task map, each step's first touch was a cache miss: half of the step's
 * aggregation, task_yield profile).
 */
struct alignas(64) HotTask
{
    std::atomic<std::uint32_t> seq{ 0 };
    std::atomic<TaskStats::State> state{ TaskStats::State::Created };
    std::atomic<FutureKind> waitingOnKind{ FutureKind::Plain };
    std::atomic<std::uint64_t> waitingOn{ 0 };
    std::atomic<std::uint64_t> steps{ 0 };
    std::atomic<std::uint64_t> yields{ 0 };
    std::atomic<std::uint64_t> waits{ 0 };
    std::atomic<std::int64_t> stateSinceNs{ 0 };
    std::atomic<std::int64_t> firstStepNs{ -1 };
    std::atomic<std::int64_t> busyNs{ 0 };
    std::atomic<std::int64_t> scheduledNs{ 0 };
    std::atomic<std::int64_t> waitingNs{ 0 };
    std::atomic<std::int64_t> firstStepDelayNs{ 0 };
    //! Private::taskVersion when it last changed (tasksChangedSince()).
    std::atomic<std::uint64_t> version{ 0 };
    // Recording thread only.
    std::int64_t createdNs = 0; //!< TaskStats::createdNs, for the first step's delay
    std::uint64_t owner = 0; //!< in Private::hotTable: the task it is for, 0: free
};
static_assert(sizeof(HotTask) == 128, "HotTask is meant to stay two cache lines");

struct TaskRecord
{
    //! The fields HotTask does not hold (its copies of those are stale until the task is done).
    TaskStats stats;
    //! Its figures: in Private::hotTable, or from Private::spareHot when its place there was
    //! taken (owner 0).
    HotTask *hot = nullptr;
    //! Its slot in Private::liveOrder.
    std::size_t orderSlot = 0;
};

struct UnawaitedFuture
{
    FutureKind kind = FutureKind::Plain;
    std::uint64_t task = 0;
    std::int64_t createdNs = 0;
};

} // namespace

class TraceRecorder::Private final : public detail::RecorderSink
{
public:
    explicit Private(RecorderOptions o)
        : RecorderSink(o.capacity, o.stringCapacity, o.maxStringLength), options(o)
    {
        options.capacity = ring.capacity();
        options.stringCapacity =
                std::clamp<std::size_t>(o.stringCapacity, 1, detail::StringTable::kMaxCapacity);
        live.reserve(1024);
    }

    RecordedEvent compact(const TraceEvent &e, std::uint64_t pos)
    {
        RecordedEvent r;
        compactInto(e, pos, r);
        return r;
    }
    //! compact() into \a r: a run's events are built where they stay (returned by value and
    //! copied, the copy stalled on store forwarding; task_yield profile).
    void compactInto(const TraceEvent &e, std::uint64_t pos, RecordedEvent &r);
    //! compact()'s inverse, for replay: the TraceEvent \a r was made from (its location
    //! aside, which replay() interns as text).
    static TraceEvent expand(const RecordedEvent &r, const QString &text);
    //! Loop thread (RecorderSink): one event.
    void record(const TraceEvent &e) override { recordRun({ &e, 1 }); }
    //! Loop thread: record() for a run of events, the aggregates under one lock.
    void recordRun(std::span<const TraceEvent> events);
    //! Loop thread: appends \a r, made from \a e, and aggregates it.
    void recordCompacted(const TraceEvent &e, const RecordedEvent &r);

    // Aggregates. The recording thread (the loop's, or replay()'s caller) is their only
    // writer: it changes the hot ones (HotTask, HotLoop) without the lock, everything else
    // (which tasks there are, their names, lints ...) under statsMutex, which readers hold.
    void update(const TraceEvent &e, const RecordedEvent &r);
    //! update() for the hot kinds, from the compact event alone.
    void updateHot(const RecordedEvent &r);
    void taskScheduled(std::uint64_t id, std::int64_t now);
    void callbackFinished(std::int64_t now, Duration duration, std::uint64_t handle,
                          std::uint64_t task, HandleKind kind, bool failed);
    void stepBegin(std::uint64_t id, std::int64_t now, std::uint64_t step);
    // The hot functions' rare paths, out of line: inlined, they made every call save and
    // restore registers and set up a frame they only need when they run (callgrind).
    [[gnu::noinline, gnu::cold]] HotTask *trackFromStep(std::uint64_t id, std::int64_t now);
    [[gnu::noinline, gnu::cold]] void noteAwaited(std::uint64_t awaited);
    [[gnu::noinline, gnu::cold]] void markBusyPolling() noexcept;
    [[gnu::noinline, gnu::cold]] void lintSlowCallback(std::int64_t now, Duration duration,
                                                       std::uint64_t handle, std::uint64_t task,
                                                       HandleKind kind);
    void stepEnd(std::uint64_t id, std::int64_t now, Duration duration, std::uint64_t awaited,
                 FutureKind awaitedKind, bool yielded);
    void taskCreated(const TraceEvent &e, const RecordedEvent &r, std::int64_t now);
    void taskDone(const TraceEvent &e, std::int64_t now);
    void exceptionNeverRetrieved(const TraceEvent &e, std::int64_t now);
    void loopClosed();
    void trackFuture(const TraceEvent &e, std::int64_t now);
    void destroyPending(std::uint64_t id);
    void retire(TaskStats stats);
    //! Recording thread: statsMutex held from here to the end of the scope, unless it is
    //! held already (the hot paths' rare steps: a task first seen, a lint).
    std::unique_lock<std::mutex> lockForWriter()
    {
        return writerLocked ? std::unique_lock<std::mutex>()
                            : std::unique_lock<std::mutex>(statsMutex);
    }
    //! Recording thread: the next task version (each change of a tracked task takes one).
    std::uint64_t nextVersion() noexcept
    {
        const std::uint64_t v = get(taskVersion) + 1;
        taskVersion.store(v, std::memory_order_release);
        return v;
    }
    //! Recording thread: a change of \a h's hot fields begins (see HotTask).
    static void beginWrite(HotTask &h) noexcept
    {
        put(h.seq, get(h.seq) + 1);
        std::atomic_thread_fence(std::memory_order_release);
    }
    //! ... and ends: readers may copy them again.
    void endWrite(HotTask &h) noexcept
    {
        put(h.version, nextVersion());
        h.seq.store(get(h.seq) + 1, std::memory_order_release);
    }
    /*!
     * Any thread, statsMutex held (or the recording thread): \a rec's TaskStats, its hot
     * fields as of one moment between two changes.
     */
    static TaskStats statsOf(const TaskRecord &rec);
    //! Recording thread: the live record of task \a id, nullptr when it is not tracked.
    TaskRecord *findLive(std::uint64_t id)
    {
        // A step's events come in a run for one task (scheduled, begin, end): one lookup.
        if (id == cachedId && cachedRecord)
            return cachedRecord;
        cachedId = id;
        LiveSlot &slot = liveIndex[id & kLiveIndexMask];
        if (slot.id == id && slot.record) {
            cachedRecord = slot.record;
        } else {
            const auto it = live.find(id);
            cachedRecord = it == live.end() ? nullptr : &it->second;
            if (cachedRecord)
                slot = LiveSlot{ id, cachedRecord };
        }
        return cachedRecord;
    }
    //! Recording thread: the figures of live task \a id, nullptr when it is not tracked.
    HotTask *hotFor(std::uint64_t id)
    {
        if (HotTask &h = hotTable[id & hotMask]; h.owner == id)
            return &h;
        TaskRecord *rec = findLive(id);
        return rec ? rec->hot : nullptr;
    }
    //! Recording thread, statsMutex held: hotTable with room for \a tasks live tasks.
    void growHotTable(std::size_t tasks);
    //! Recording thread, statsMutex held: a HotTask for a task whose place in hotTable is
    //! taken, from spareHot (eraseLive() gives it back).
    HotTask *takeSpareHot()
    {
        if (spareHot.empty()) {
            constexpr std::size_t kChunk = 256;
            auto chunk = std::make_unique<HotTask[]>(kChunk);
            for (std::size_t i = kChunk; i-- > 0;)
                spareHot.push_back(&chunk[i]);
            spareHotChunks.push_back(std::move(chunk));
        }
        HotTask *h = spareHot.back();
        spareHot.pop_back();
        return h;
    }
    void eraseLive(std::unordered_map<std::uint64_t, TaskRecord>::iterator it)
    {
        if (it->second.hot->owner == it->first)
            it->second.hot->owner = 0; // its place in hotTable is free again
        else
            spareHot.push_back(it->second.hot);
        if (it->first == cachedId)
            cachedRecord = nullptr;
        if (LiveSlot &slot = liveIndex[it->first & kLiveIndexMask]; slot.id == it->first)
            slot = LiveSlot{};
        liveOrder[it->second.orderSlot] = nullptr;
        ++liveOrderHoles;
        live.erase(it);
        // Compacted here too, not only by tasks(): a recorder nobody asks for its tasks grew
        // by one slot per task ever created (8 MB after 1,000,000 tasks, tst_soak).
        // Amortised: at least as many removals as the vector has live slots between two.
        if (liveOrderHoles > 64 && liveOrderHoles > liveOrder.size() / 2)
            tidyLiveOrder();
    }
    /*!
     * Recording thread, statsMutex held: adds task \a stats.id to live (and to liveOrder),
     * state Created since \a now; an id already there is replaced in place.
     */
    TaskRecord &insertLive(TaskStats stats, std::int64_t now)
    {
        const std::uint64_t id = stats.id;
        if (live.size() >= (hotMask + 1) / 2 && hotMask + 1 < kMaxHotTable)
            growHotTable(live.size() + 1);
        const auto [it, inserted] = live.try_emplace(id);
        TaskRecord &rec = it->second;
        rec.stats = std::move(stats);
        if (inserted) {
            if (HotTask &place = hotTable[id & hotMask]; place.owner == 0) {
                place.owner = id;
                rec.hot = &place;
            } else {
                rec.hot = takeSpareHot(); // owner 0: not a place of the table
            }
        }
        HotTask &h = *rec.hot;
        h.createdNs = rec.stats.createdNs;
        put(h.state, TaskStats::State::Created);
        put(h.waitingOnKind, FutureKind::Plain);
        put(h.waitingOn, std::uint64_t(0));
        put(h.steps, std::uint64_t(0));
        put(h.yields, std::uint64_t(0));
        put(h.waits, std::uint64_t(0));
        put(h.stateSinceNs, now);
        put(h.firstStepNs, std::int64_t(-1));
        put(h.busyNs, std::int64_t(0));
        put(h.scheduledNs, std::int64_t(0));
        put(h.waitingNs, std::int64_t(0));
        put(h.firstStepDelayNs, std::int64_t(0));
        put(h.version, nextVersion());
        if (inserted) {
            if (!liveOrder.empty()) {
                const TaskRecord *lastAdded = nullptr;
                for (auto back = liveOrder.rbegin(); back != liveOrder.rend() && !lastAdded; ++back)
                    lastAdded = *back;
                if (lastAdded && lastAdded->stats.id > id)
                    liveOrderSorted = false; // attached late: seen out of creation order
            }
            rec.orderSlot = liveOrder.size();
            liveOrder.push_back(&rec);
            liveIndex[id & kLiveIndexMask] = LiveSlot{ id, &rec };
        } else {
            liveOrder[rec.orderSlot] = &rec;
        }
        return rec;
    }
    //! liveOrder without holes, sorted by id (tasks() walks it instead of sorting live).
    void tidyLiveOrder()
    {
        if (liveOrderHoles == 0 && liveOrderSorted)
            return;
        std::erase(liveOrder, nullptr);
        if (!liveOrderSorted)
            std::sort(liveOrder.begin(), liveOrder.end(),
                      [](const TaskRecord *a, const TaskRecord *b) {
                          return a->stats.id < b->stats.id;
                      });
        for (std::size_t i = 0; i < liveOrder.size(); ++i)
            liveOrder[i]->orderSlot = i;
        liveOrderHoles = 0;
        liveOrderSorted = true;
    }
    //! False for events that change no aggregate: the loop thread skips the lock for them.
    static bool touchesAggregates(const TraceEvent &e)
    {
        switch (e.kind) {
        case TraceEventKind::HandleStarted:
        case TraceEventKind::Wakeup:
        case TraceEventKind::ExecutorJobStarted:
            return false;
        case TraceEventKind::HandleScheduled:
            return e.handleKind == HandleKind::TaskStep && e.task;
        default:
            return true;
        }
    }
    std::int64_t lastEventTime() const
    {
        return std::max<std::int64_t>(lastEventNs.load(std::memory_order_relaxed), 0);
    }
    //! statsMutex held: task \a id's TaskStats, live or retained; nullopt when unknown.
    std::optional<TaskStats> findAny(std::uint64_t id) const;
    //! statsMutex held: retained task \a id, nullptr when it is not one.
    const TaskStats *findFinished(std::uint64_t id) const
    {
        // Recently finished tasks are at the back.
        for (auto it = finished.rbegin(); it != finished.rend(); ++it)
            if (it->id == id)
                return &*it;
        return nullptr;
    }
    //! statsMutex held: the name and creation site of task \a id, for messages.
    QString taskLabel(std::uint64_t id) const;
    void addLint(LintKind kind, std::uint64_t task, std::uint64_t id, std::int64_t timeNs,
                 Duration duration, QString message);
    std::vector<Lint> busyPollingLints() const;
    bool isBusyPolling(std::uint64_t yields, std::uint64_t waits) const
    {
        return waits == 0 && yields >= options.busyPollingMinYields
                && options.busyPollingMinYields > 0;
    }
    bool isBusyPolling(const TaskStats &t) const { return isBusyPolling(t.yields, t.waits); }
    bool isBusyPolling(const HotTask &h) const
    {
        return isBusyPolling(get(h.yields), get(h.waits));
    }

    RecorderOptions options;

    // Consumer side of the ring; the producer never takes this.
    mutable std::mutex consumerMutex;
    std::uint64_t readPos = 0;
    std::uint64_t dropped = 0;

    // Aggregates (see update()).
    mutable std::mutex statsMutex;
    //! Recording thread only: it holds statsMutex (recordRun(), recordCompacted()).
    bool writerLocked = false;
    std::unordered_map<std::uint64_t, TaskRecord> live;
    //! live's records in id order, with holes (nullptr) where tasks ended since the last
    //! tidyLiveOrder(): node pointers survive rehashing.
    std::vector<TaskRecord *> liveOrder;
    std::size_t liveOrderHoles = 0;
    bool liveOrderSorted = true;
    std::deque<TaskStats> finished;
    //! taskVersion when each of finished was retired: increasing, like finished's order.
    std::deque<std::uint64_t> finishedVersions;
    //! Counts changes to tracked tasks; each record keeps the count of its last change.
    std::atomic<std::uint64_t> taskVersion{ 0 };
    /*!
     * 0: no tracked task is busy-polling, busyPollingLints() need not look at each. A task
     * only becomes one in stepEnd(), which stores the task version there; a reader's look
     * that found none clears it, unless it changed meanwhile.
     */
    mutable std::atomic<std::uint64_t> busyPollingMark{ 0 };
    std::map<std::uint64_t, UnawaitedFuture> unawaited; // ordered: oldest evicted first
    //! The loop's figures but the hot ones (hotLoop).
    LoopStats loop;
    HotLoop hotLoop;
    std::array<std::deque<Lint>, kLintKindCount> lints;
    std::array<std::uint64_t, kLintKindCount> lintCounts{};
    // Recording thread only.
    std::uint64_t cachedId = 0;
    TaskRecord *cachedRecord = nullptr; // into live: node pointers survive rehashing
    //! live's records by id modulo the size (task ids are dense): one probe where live.find()
    //! chased a bucket and a node, each a cache miss with 10,000 tasks stepping in turn
    //! (task_yield profile: the find was 8 % of a recorded switch). A slot holds the last
    //! task inserted or found there; the rest go through live.
    struct LiveSlot
    {
        std::uint64_t id = 0;
        TaskRecord *record = nullptr;
    };
    static constexpr std::uint64_t kLiveIndexMask = (1u << 14) - 1;
    std::vector<LiveSlot> liveIndex = std::vector<LiveSlot>(kLiveIndexMask + 1);
    //! The live tasks' HotTask, at their id modulo the size (task ids are dense), but for a
    //! task whose place was taken (spareHot). Grows with the live tasks, up to 2 MiB.
    static constexpr std::size_t kMaxHotTable = std::size_t(1) << 14;
    static constexpr std::size_t kMinHotTable = 64;
    std::unique_ptr<HotTask[]> hotTable = std::make_unique<HotTask[]>(kMinHotTable);
    std::uint64_t hotMask = kMinHotTable - 1;
    //! HotTasks for tasks without a place in hotTable, allocated 256 at a time: one aligned
    //! allocation each (glibc's memalign, which also fragments the heap) was a sixth of what
    //! recording a task cost with more live tasks than the table has places.
    std::vector<std::unique_ptr<HotTask[]>> spareHotChunks;
    std::vector<HotTask *> spareHot;
    std::int64_t windowStart = -1;
    std::uint64_t windowCallbacks = 0;
    bool closeNoted = false;
};

void TraceRecorder::Private::compactInto(const TraceEvent &e, std::uint64_t pos, RecordedEvent &r)
{
    using K = TraceEventKind;
    r.sequence = 0;
    r.duration = 0;
    r.aux = 0;
    r.text = 0;
    r.location = 0;
    r.time = nanos(e.time);
    r.kind = e.kind;
    r.handleKind = e.handleKind;
    r.futureKind = e.futureKind;
    r.status = e.status;
    r.failed = e.failed;
    r.yielded = e.yielded;
    r.id = e.id;
    r.related = e.related;
    switch (e.kind) {
    case K::IterationBegin:
    case K::IterationEnd:
        r.aux = e.count;
        r.related = e.count2;
        r.duration = e.duration.count();
        break;
    case K::HandleScheduled:
        r.aux = e.task;
        r.location = strings.internLocation(e.location, pos);
        break;
    case K::HandleStarted:
    case K::HandleFinished:
        r.aux = e.task;
        r.duration = e.duration.count();
        r.location = strings.internLocation(e.location, pos);
        break;
    case K::DoneCallbackAdded:
        r.aux = e.task;
        r.location = strings.internLocation(e.location, pos);
        break;
    case K::TimerRescheduled:
        r.duration = (e.when - e.time).count();
        break;
    case K::TaskRenamed:
    case K::ExceptionNeverRetrieved:
        r.text = strings.internText(e.text, pos);
        break;
    case K::LoopClosed:
        r.aux = e.count;
        break;
    case K::TimerArmed:
        r.aux = e.task;
        r.duration = (e.when - e.time).count();
        r.location = strings.internLocation(e.location, pos);
        break;
    case K::TimerCancelled:
        r.duration = (e.when - e.time).count();
        break;
    case K::FutureCreated:
    case K::FutureDone:
    case K::FutureCancelled:
    case K::FutureFailed:
        r.aux = e.task;
        r.text = strings.internText(e.text, pos);
        break;
    case K::TaskCreated:
        r.aux = e.parent;
        r.text = detail::StringTable::defaultTaskNameIndex(e.text, e.id);
        if (!r.text)
            r.text = strings.internText(e.text, pos);
        r.location = strings.internLocation(e.location, pos);
        break;
    case K::TaskStepBegin:
    case K::TaskStepEnd:
        r.aux = e.count;
        r.duration = e.duration.count();
        break;
    case K::TaskDone:
        r.text = strings.internText(e.text, pos);
        break;
    case K::ExecutorJobQueued:
        r.location = strings.internLocation(e.location, pos);
        break;
    case K::ExecutorJobStarted:
        r.aux = std::uint64_t(reinterpret_cast<std::uintptr_t>(e.thread));
        r.duration = std::max<std::int64_t>((e.time - e.when).count(), 0);
        break;
    case K::ExecutorJobFinished:
        r.aux = std::uint64_t(reinterpret_cast<std::uintptr_t>(e.thread));
        r.duration = e.duration.count();
        break;
    default:
        // TimerFired, Wakeup, LoopPaused/Resumed and kinds added later: the generic fields.
        r.aux = e.count;
        r.duration = e.duration.count();
        break;
    }
}

TraceEvent TraceRecorder::Private::expand(const RecordedEvent &r, const QString &text)
{
    using K = TraceEventKind;
    TraceEvent e;
    e.kind = r.kind;
    e.handleKind = r.handleKind;
    e.futureKind = r.futureKind;
    e.status = r.status;
    e.failed = r.failed;
    e.yielded = r.yielded;
    e.time = TimePoint(Duration(r.time));
    e.id = r.id;
    e.related = r.related;
    e.text = text;
    const TimePoint plusDuration = e.time + Duration(r.duration);
    switch (r.kind) {
    case K::IterationBegin:
    case K::IterationEnd:
        e.count = r.aux;
        e.count2 = r.related;
        e.related = 0;
        e.duration = Duration(r.duration);
        break;
    case K::HandleScheduled:
    case K::DoneCallbackAdded:
        e.task = r.aux;
        break;
    case K::HandleStarted:
    case K::HandleFinished:
        e.task = r.aux;
        e.duration = Duration(r.duration);
        break;
    case K::TimerRescheduled:
    case K::TimerCancelled:
        e.when = plusDuration;
        break;
    case K::TimerArmed:
        e.task = r.aux;
        e.when = plusDuration;
        break;
    case K::TaskRenamed:
    case K::ExceptionNeverRetrieved:
    case K::TaskDone:
    case K::ExecutorJobQueued:
        break;
    case K::LoopClosed:
        e.count = r.aux;
        break;
    case K::FutureCreated:
    case K::FutureDone:
    case K::FutureCancelled:
    case K::FutureFailed:
        e.task = r.aux;
        break;
    case K::TaskCreated:
        e.parent = r.aux;
        break;
    case K::TaskStepBegin:
    case K::TaskStepEnd:
        e.count = r.aux;
        e.duration = Duration(r.duration);
        break;
    case K::ExecutorJobStarted:
        e.thread = reinterpret_cast<Qt::HANDLE>(std::uintptr_t(r.aux));
        e.when = e.time - Duration(r.duration);
        break;
    case K::ExecutorJobFinished:
        e.thread = reinterpret_cast<Qt::HANDLE>(std::uintptr_t(r.aux));
        e.duration = Duration(r.duration);
        break;
    default:
        e.count = r.aux;
        e.duration = Duration(r.duration);
        break;
    }
    return e;
}

void TraceRecorder::Private::recordRun(std::span<const TraceEvent> events)
{
    for (const TraceEvent &e : events)
        noteActivity(e);
    RecordedEvent r;
    if (std::none_of(events.begin(), events.end(), touchesAggregates)) {
        // Nothing to aggregate: no lock.
        for (const TraceEvent &e : events) {
            compactInto(e, ring.nextPosition(), r);
            ring.push(r);
            noteTime(r.time);
        }
        return;
    }
    std::lock_guard lock(statsMutex);
    writerLocked = true;
    for (const TraceEvent &e : events) {
        compactInto(e, ring.nextPosition(), r);
        ring.push(r);
        noteTime(r.time);
        if (touchesAggregates(e))
            update(e, r);
    }
    writerLocked = false;
}

void TraceRecorder::Private::recordCompacted(const TraceEvent &e, const RecordedEvent &r)
{
    std::lock_guard lock(statsMutex);
    writerLocked = true;
    ring.push(r);
    noteTime(r.time);
    update(e, r);
    writerLocked = false;
}

void TraceRecorder::Private::updateHot(const RecordedEvent &r)
{
    aggregateHot(r.kind, r.time, r.duration, r.id, r.related, r.aux, r.handleKind, r.futureKind,
                 r.failed, r.yielded);
}

void TraceRecorder::Private::update(const TraceEvent &e, const RecordedEvent &r)
{
    using K = TraceEventKind;
    const std::int64_t now = r.time;
    switch (e.kind) {
    case K::IterationBegin:
        ++loop.iterations;
        loop.readyAtLastIteration = e.count;
        loop.timersAtLastIteration = e.count2;
        break;
    case K::IterationEnd:
        loop.totalIterationTime += e.duration;
        loop.maxIteration = std::max(loop.maxIteration, e.duration);
        if (e.duration > options.blockedLoopThreshold)
            addLint(LintKind::BlockedLoop, 0, e.id, now, e.duration,
                    QStringLiteral("Iteration %1 blocked the loop for %2")
                            .arg(e.id)
                            .arg(millis(e.duration)));
        break;
    case K::HandleScheduled:
    case K::HandleFinished:
    case K::TaskStepBegin:
    case K::TaskStepEnd:
        updateHot(r);
        break;
    case K::TimerArmed:
        ++loop.timersArmed;
        break;
    case K::TimerFired:
        ++loop.timersFired;
        loop.timerLateness.add(e.duration);
        if (e.duration > options.timerDriftThreshold)
            addLint(LintKind::TimerDrift, 0, e.id, now, e.duration,
                    QStringLiteral("Timer #%1 fired %2 late").arg(e.id).arg(millis(e.duration)));
        break;
    case K::TimerCancelled:
        ++loop.timersCancelled;
        break;
    case K::FutureCreated:
        ++loop.futuresCreated;
        // A task's own future is covered by DestroyedPending.
        if (e.futureKind != FutureKind::Task)
            trackFuture(e, now);
        break;
    case K::FutureDone:
    case K::FutureCancelled:
    case K::FutureFailed:
    case K::DoneCallbackAdded: // somebody waits for it (a task, gather, wait ...)
        unawaited.erase(e.id);
        break;
    case K::TaskRenamed:
        if (TaskRecord *rec = findLive(e.id)) {
            rec->stats.name = e.text;
            put(rec->hot->version, nextVersion());
        }
        break;
    case K::ExceptionNeverRetrieved:
        exceptionNeverRetrieved(e, now);
        break;
    case K::LoopClosed:
        loopClosed();
        break;
    case K::TaskCreated:
        taskCreated(e, r, now);
        break;
    case K::TaskDone:
        taskDone(e, now);
        break;
    case K::ExecutorJobQueued:
        ++loop.executorJobsQueued;
        break;
    case K::ExecutorJobFinished:
        ++loop.executorJobsFinished;
        loop.executorBusy += e.duration;
        break;
    case K::LoopPaused:
        loop.paused = true;
        ++loop.pauses;
        break;
    case K::LoopResumed:
        loop.paused = false;
        break;
    default:
        break;
    }
}

void TraceRecorder::Private::callbackFinished(std::int64_t now, Duration duration,
                                              std::uint64_t handle, std::uint64_t task,
                                              HandleKind kind, bool failed)
{
    bump(hotLoop.callbacks);
    if (failed)
        bump(hotLoop.failedCallbacks);
    hotLoop.callbackDurations.add(duration);
    if (windowStart < 0)
        windowStart = now;
    ++windowCallbacks;
    constexpr std::int64_t kWindow = 1'000'000'000;
    if (now - windowStart >= kWindow) {
        put(hotLoop.callbacksPerSecond,
            double(windowCallbacks) / (double(now - windowStart) / 1e9));
        windowStart = now;
        windowCallbacks = 0;
    }
    if (duration > options.slowCallbackThreshold) [[unlikely]]
        lintSlowCallback(now, duration, handle, task, kind);
}

void TraceRecorder::Private::lintSlowCallback(std::int64_t now, Duration duration,
                                              std::uint64_t handle, std::uint64_t task,
                                              HandleKind kind)
{
    const auto lock = lockForWriter();
    QString what = kind == HandleKind::TaskStep && task
            ? QStringLiteral("a step of %1").arg(taskLabel(task))
            : QStringLiteral("%1 callback #%2")
                      .arg(QLatin1String(handleKindName(kind)))
                      .arg(handle);
    addLint(LintKind::SlowCallback, task, handle, now, duration,
            QStringLiteral("Executing %1 took %2").arg(what, millis(duration)));
}

void TraceRecorder::Private::taskCreated(const TraceEvent &e, const RecordedEvent &r,
                                         std::int64_t now)
{
    ++loop.tasksCreated;
    if (live.size() >= options.maxLiveTasks) {
        ++loop.untrackedTasks;
        return;
    }
    TaskStats s;
    s.id = e.id;
    s.futureId = e.related;
    s.parent = e.parent;
    s.name = e.text;
    // Shares the interned string when there is one (the same site creates many tasks).
    s.location = r.location ? strings.producerString(r.location)
                            : detail::StringTable::formatLocation(e.location);
    s.createdNs = now;
    insertLive(std::move(s), now);
}

void TraceRecorder::Private::taskScheduled(std::uint64_t id, std::int64_t now)
{
    HotTask *hot = hotFor(id);
    if (!hot)
        return;
    HotTask &h = *hot;
    using S = TaskStats::State;
    switch (get(h.state)) {
    case S::Running:
        // Only the stepping task runs, and aggregateHot() notes its own next step itself.
        break;
    case S::Waiting:
        beginWrite(h);
        bump(h.waitingNs, now - get(h.stateSinceNs));
        put(h.waitingOn, std::uint64_t(0));
        put(h.state, S::Scheduled);
        put(h.stateSinceNs, now);
        endWrite(h);
        break;
    case S::Created:
        beginWrite(h);
        put(h.state, S::Scheduled);
        put(h.stateSinceNs, now);
        endWrite(h);
        break;
    default:
        break;
    }
}

void TraceRecorder::Private::stepBegin(std::uint64_t id, std::int64_t now, std::uint64_t step)
{
    bump(hotLoop.taskSteps);
    HotTask *hot = hotFor(id);
    if (!hot) [[unlikely]] {
        hot = trackFromStep(id, now);
        if (!hot)
            return;
    }
    HotTask &h = *hot;
    using S = TaskStats::State;
    beginWrite(h);
    const S state = get(h.state);
    if (state == S::Scheduled || state == S::Created)
        bump(h.scheduledNs, now - get(h.stateSinceNs));
    if (get(h.firstStepNs) < 0) {
        put(h.firstStepNs, now);
        put(h.firstStepDelayNs, now - h.createdNs);
    }
    put(h.state, S::Running);
    put(h.stateSinceNs, now);
    put(h.steps, std::max<std::uint64_t>(get(h.steps) + 1, step));
    m_steppingTask = id;
    m_scheduledDuringStep = -1;
    endWrite(h);
}

HotTask *TraceRecorder::Private::trackFromStep(std::uint64_t id, std::int64_t now)
{
    // Attached after the task was created: track it from here on.
    if (live.size() >= options.maxLiveTasks)
        return nullptr;
    const auto lock = lockForWriter();
    TaskStats s;
    s.id = id;
    s.name = QStringLiteral("Task-%1").arg(id);
    s.createdNs = now;
    HotTask *hot = insertLive(std::move(s), now).hot;
    put(hot->state, TaskStats::State::Scheduled);
    return hot;
}

void TraceRecorder::Private::noteAwaited(std::uint64_t awaited)
{
    const auto lock = lockForWriter();
    unawaited.erase(awaited); // somebody awaits it now
}

void TraceRecorder::Private::markBusyPolling() noexcept
{
    busyPollingMark.store(get(taskVersion) + 1, std::memory_order_release);
}

void TraceRecorder::Private::stepEnd(std::uint64_t id, std::int64_t now, Duration duration,
                                     std::uint64_t awaited, FutureKind awaitedKind, bool yielded)
{
    hotLoop.stepDurations.add(duration);
    if (awaited && !unawaited.empty()) [[unlikely]]
        noteAwaited(awaited);
    const std::int64_t scheduledAt = id == m_steppingTask ? m_scheduledDuringStep : -1;
    m_steppingTask = 0;
    m_scheduledDuringStep = -1;
    HotTask *hot = hotFor(id);
    if (!hot)
        return;
    HotTask &h = *hot;
    using S = TaskStats::State;
    beginWrite(h);
    bump(h.busyNs, duration.count());
    if (awaited)
        bump(h.waits);
    if (yielded) {
        bump(h.yields);
        if (isBusyPolling(h)) [[unlikely]]
            markBusyPolling();
    }
    if (scheduledAt >= 0) {
        put(h.state, S::Scheduled);
        put(h.stateSinceNs, scheduledAt);
        put(h.waitingOn, std::uint64_t(0));
    } else {
        // Suspended; with awaited == 0 either its last step (TaskDone follows at once) or
        // an await the trace cannot name.
        put(h.state, S::Waiting);
        put(h.stateSinceNs, now);
        put(h.waitingOn, awaited);
        put(h.waitingOnKind, awaitedKind);
    }
    endWrite(h);
}

void TraceRecorder::Private::growHotTable(std::size_t tasks)
{
    const std::size_t size =
            std::clamp<std::size_t>(std::bit_ceil(2 * tasks), kMinHotTable, kMaxHotTable);
    if (size <= hotMask + 1)
        return;
    auto table = std::make_unique<HotTask[]>(size);
    const std::uint64_t mask = size - 1;
    // Readers are locked out, the loop's thread is here: the figures move as they are. Ids
    // apart modulo the old size are apart modulo the new one: each finds its place free.
    for (auto &[id, rec] : live) {
        if (rec.hot->owner != id)
            continue; // in its own HotTask, which stays where it is
        HotTask &from = *rec.hot;
        HotTask &to = table[id & mask];
        put(to.seq, get(from.seq));
        put(to.state, get(from.state));
        put(to.waitingOnKind, get(from.waitingOnKind));
        put(to.waitingOn, get(from.waitingOn));
        put(to.steps, get(from.steps));
        put(to.yields, get(from.yields));
        put(to.waits, get(from.waits));
        put(to.stateSinceNs, get(from.stateSinceNs));
        put(to.firstStepNs, get(from.firstStepNs));
        put(to.busyNs, get(from.busyNs));
        put(to.scheduledNs, get(from.scheduledNs));
        put(to.waitingNs, get(from.waitingNs));
        put(to.firstStepDelayNs, get(from.firstStepDelayNs));
        put(to.version, get(from.version));
        to.createdNs = from.createdNs;
        to.owner = id;
        rec.hot = &to;
    }
    hotTable = std::move(table);
    hotMask = mask;
}

TaskStats TraceRecorder::Private::statsOf(const TaskRecord &rec)
{
    TaskStats s = rec.stats;
    const HotTask &h = *rec.hot;
    for (int tries = 0;; ++tries) {
        const std::uint32_t before = h.seq.load(std::memory_order_acquire);
        if (before & 1) {
            // The recording thread is in the middle of a change: a few stores.
            if (tries > 64)
                std::this_thread::yield();
            continue;
        }
        s.state = get(h.state);
        s.waitingOnKind = get(h.waitingOnKind);
        s.waitingOn = get(h.waitingOn);
        s.steps = get(h.steps);
        s.yields = get(h.yields);
        s.waits = get(h.waits);
        s.stateSinceNs = get(h.stateSinceNs);
        s.firstStepNs = get(h.firstStepNs);
        s.busy = Duration(get(h.busyNs));
        s.scheduled = Duration(get(h.scheduledNs));
        s.waiting = Duration(get(h.waitingNs));
        s.firstStepDelay = Duration(get(h.firstStepDelayNs));
        std::atomic_thread_fence(std::memory_order_acquire);
        if (h.seq.load(std::memory_order_relaxed) == before)
            return s;
    }
}

void TraceRecorder::Private::exceptionNeverRetrieved(const TraceEvent &e, std::int64_t now)
{
    if (!e.related) {
        addLint(LintKind::ExceptionNeverRetrieved, 0, e.id, now, {},
                QStringLiteral("Future #%1 (%2) exception was never retrieved: %3")
                        .arg(e.id)
                        .arg(QLatin1String(futureKindName(e.futureKind)), e.text));
        return;
    }
    addLint(LintKind::ExceptionNeverRetrieved, e.related, e.id, now, {},
            QStringLiteral("Exception of %1 was never retrieved: %2")
                    .arg(taskLabel(e.related), e.text));
}

void TraceRecorder::Private::loopClosed()
{
    if (closeNoted)
        return;
    closeNoted = true;
    // Tasks the trace still shows pending (their TaskDone was dropped, or the recorder was
    // attached late) were abandoned all the same.
    std::vector<std::uint64_t> pending;
    for (const auto &[id, rec] : live)
        pending.push_back(id);
    std::sort(pending.begin(), pending.end());
    for (const std::uint64_t id : pending)
        destroyPending(id);
    const std::int64_t now = lastEventTime();
    for (const auto &[id, f] : unawaited) {
        QString message = QStringLiteral("Future #%1 (%2) was never awaited and still pending when "
                                         "the loop closed")
                                  .arg(id)
                                  .arg(QLatin1String(futureKindName(f.kind)));
        if (f.task)
            message += QStringLiteral("; created by ") + taskLabel(f.task);
        addLint(LintKind::UnawaitedFuture, f.task, id, now, {}, message);
    }
    unawaited.clear();
}

void TraceRecorder::Private::taskDone(const TraceEvent &e, std::int64_t now)
{
    if (e.status == DoneStatus::Abandoned) {
        destroyPending(e.id);
        return;
    }
    switch (e.status) {
    case DoneStatus::Finished:
        ++loop.tasksFinished;
        break;
    case DoneStatus::Cancelled:
        ++loop.tasksCancelled;
        break;
    case DoneStatus::Failed:
        ++loop.tasksFailed;
        break;
    case DoneStatus::Abandoned:
        break;
    }
    const auto it = live.find(e.id);
    if (it == live.end())
        return;
    TaskStats s = statsOf(it->second);
    eraseLive(it);
    using S = TaskStats::State;
    if (s.state == S::Scheduled || s.state == S::Created)
        s.scheduled += Duration(now - s.stateSinceNs); // cancelled before its first step
    else if (s.state == S::Waiting)
        s.waiting += Duration(now - s.stateSinceNs);
    s.state = e.status == DoneStatus::Finished  ? S::Finished
            : e.status == DoneStatus::Cancelled ? S::Cancelled
                                                : S::Failed;
    s.status = e.status;
    s.resultText = e.text;
    s.doneNs = now;
    s.stateSinceNs = now;
    s.waitingOn = 0;
    retire(std::move(s));
}

void TraceRecorder::Private::retire(TaskStats stats)
{
    if (options.retainedFinishedTasks == 0)
        return;
    finished.push_back(std::move(stats));
    finishedVersions.push_back(nextVersion());
    while (finished.size() > options.retainedFinishedTasks) {
        finished.pop_front();
        finishedVersions.pop_front();
    }
}

void TraceRecorder::Private::trackFuture(const TraceEvent &e, std::int64_t now)
{
    if (options.maxUnawaitedFutures == 0)
        return;
    unawaited.insert_or_assign(e.id, UnawaitedFuture{ e.futureKind, e.task, now });
    while (unawaited.size() > options.maxUnawaitedFutures) {
        unawaited.erase(unawaited.begin());
        ++loop.untrackedFutures;
    }
}

void TraceRecorder::Private::destroyPending(std::uint64_t id)
{
    const std::int64_t now = lastEventTime();
    QString message = QStringLiteral("Task was destroyed but it is pending: %1").arg(taskLabel(id));
    const auto it = live.find(id);
    if (it == live.end()) {
        // Not tracked (created before the recorder was attached, or past maxLiveTasks).
        addLint(LintKind::DestroyedPending, id, 0, now, {}, message);
        ++loop.tasksDestroyedPending;
        return;
    }
    TaskStats s = statsOf(it->second);
    eraseLive(it);
    if (s.state == TaskStats::State::Waiting && s.waitingOn)
        message += QStringLiteral(", waiting on %1 #%2")
                           .arg(QLatin1String(futureKindName(s.waitingOnKind)))
                           .arg(s.waitingOn);
    s.state = TaskStats::State::Destroyed;
    s.doneNs = now;
    s.stateSinceNs = now;
    ++loop.tasksDestroyedPending;
    addLint(LintKind::DestroyedPending, id, s.futureId, now, {}, message);
    retire(std::move(s));
}

std::optional<TaskStats> TraceRecorder::Private::findAny(std::uint64_t id) const
{
    if (const auto it = live.find(id); it != live.end())
        return statsOf(it->second);
    if (const TaskStats *t = findFinished(id))
        return *t;
    return std::nullopt;
}

QString TraceRecorder::Private::taskLabel(std::uint64_t id) const
{
    // The name and the site only, which do not change without the lock.
    const auto it = live.find(id);
    const TaskStats *t = it != live.end() ? &it->second.stats : findFinished(id);
    if (!t || t->name.isEmpty())
        return QStringLiteral("Task #%1").arg(id);
    QString label = QStringLiteral("task '%1' (#%2)").arg(t->name).arg(id);
    if (!t->location.isEmpty())
        label += QStringLiteral(" created at ") + t->location;
    return label;
}

void TraceRecorder::Private::addLint(LintKind kind, std::uint64_t task, std::uint64_t id,
                                     std::int64_t timeNs, Duration duration, QString message)
{
    const auto k = std::size_t(kind);
    ++lintCounts[k];
    if (options.maxLintsPerKind == 0)
        return;
    lints[k].push_back(Lint{ kind, task, id, timeNs, duration, std::move(message) });
    while (lints[k].size() > options.maxLintsPerKind)
        lints[k].pop_front();
}

std::vector<Lint> TraceRecorder::Private::busyPollingLints() const
{
    std::vector<Lint> out;
    const std::uint64_t mark = busyPollingMark.load(std::memory_order_acquire);
    if (mark == 0)
        return out;
    auto check = [&](const TaskStats &t) {
        if (!isBusyPolling(t))
            return;
        out.push_back(Lint{ LintKind::BusyPolling, t.id, 0, t.stateSinceNs, t.busy,
                            QStringLiteral("%1 yielded %2 times with sleep(0) and never awaited "
                                           "anything: it is busy-polling the loop")
                                    .arg(taskLabel(t.id))
                                    .arg(t.yields) });
    };
    // Only the (few) busy pollers are sorted, not every live task.
    std::vector<TaskStats> liveSorted;
    for (const auto &[id, rec] : live)
        if (isBusyPolling(*rec.hot))
            liveSorted.push_back(statsOf(rec));
    std::sort(liveSorted.begin(), liveSorted.end(),
              [](const TaskStats &a, const TaskStats &b) { return a.id < b.id; });
    for (const TaskStats &t : liveSorted)
        check(t);
    for (const TaskStats &t : finished)
        check(t);
    if (out.empty()) {
        // None: the next look can skip them all, unless a task became one meanwhile.
        std::uint64_t expected = mark;
        busyPollingMark.compare_exchange_strong(expected, 0, std::memory_order_relaxed);
    }
    return out;
}

// --- the hot events' aggregates, as the loop hands them over (RecorderSink) -----------

namespace detail {

// Private is RecorderSink's only kind.
void RecorderSink::hotTaskScheduled(std::uint64_t task, std::int64_t time)
{
    static_cast<TraceRecorder::Private *>(this)->taskScheduled(task, time);
}

void RecorderSink::hotCallbackFinished(std::int64_t time, std::int64_t duration,
                                       std::uint64_t handle, std::uint64_t task, HandleKind kind,
                                       bool failed)
{
    static_cast<TraceRecorder::Private *>(this)->callbackFinished(time, Duration(duration), handle,
                                                                  task, kind, failed);
}

void RecorderSink::hotStepBegin(std::uint64_t task, std::int64_t time, std::uint64_t step)
{
    static_cast<TraceRecorder::Private *>(this)->stepBegin(task, time, step);
}

void RecorderSink::hotStepEnd(std::uint64_t task, std::int64_t time, std::int64_t duration,
                              std::uint64_t awaited, FutureKind awaitedKind, bool yielded)
{
    static_cast<TraceRecorder::Private *>(this)->stepEnd(task, time, Duration(duration), awaited,
                                                         awaitedKind, yielded);
}

} // namespace detail

// --- TraceRecorder --------------------------------------------------------------------

TraceRecorder::TraceRecorder(RecorderOptions options)
    : LoopObserver(Delivery::Batched), d(std::make_unique<Private>(options))
{
    setEventSink(d.get());
}

TraceRecorder::~TraceRecorder() = default;

const RecorderOptions &TraceRecorder::options() const noexcept
{
    return d->options;
}

void TraceRecorder::onEvent(const TraceEvent &event)
{
    d->recordRun({ &event, 1 });
}

void TraceRecorder::onEvents(std::span<const TraceEvent> events)
{
    d->recordRun(events);
}

void TraceRecorder::replay(const RecordedEvent &event, const QString &text, const QString &location)
{
    const TraceEvent e = Private::expand(event, text);
    const std::uint64_t pos = d->ring.nextPosition();
    RecordedEvent r = d->compact(e, pos);
    if (!location.isEmpty())
        r.location = d->strings.internText(location, pos);
    d->recordCompacted(e, r);
}

std::size_t TraceRecorder::drain(std::vector<RecordedEvent> &out)
{
    // On the loop thread, take in what the loop still holds back (LoopObserver).
    catchUp();
    std::lock_guard lock(d->consumerMutex);
    const std::uint64_t head = d->ring.published();
    const std::uint64_t capacity = d->ring.capacity();
    std::uint64_t pos = d->readPos;
    if (head - pos > capacity) {
        d->dropped += head - capacity - pos;
        pos = head - capacity;
    }
    out.reserve(out.size() + std::size_t(head - pos));
    std::size_t received = 0;
    RecordedEvent e;
    for (; pos < head; ++pos) {
        if (d->ring.read(pos, e)) {
            out.push_back(e);
            ++received;
        } else {
            ++d->dropped; // overwritten while we read
        }
    }
    d->readPos = head;
    return received;
}

std::vector<RecordedEvent> TraceRecorder::snapshot() const
{
    catchUp();
    const std::uint64_t head = d->ring.published();
    const std::uint64_t capacity = d->ring.capacity();
    std::vector<RecordedEvent> out;
    std::uint64_t pos = head > capacity ? head - capacity : 0;
    out.reserve(std::size_t(head - pos));
    RecordedEvent e;
    for (; pos < head; ++pos)
        if (d->ring.read(pos, e))
            out.push_back(e);
    return out;
}

LoopActivity TraceRecorder::activity() const noexcept
{
    LoopActivity a;
    a.busySinceNs = d->busySinceNs.load(std::memory_order_relaxed);
    a.runningHandle = d->runningHandle.load(std::memory_order_relaxed);
    a.runningTask = d->runningTask.load(std::memory_order_relaxed);
    return a;
}

std::size_t TraceRecorder::capacity() const noexcept
{
    return d->ring.capacity();
}

std::uint64_t TraceRecorder::producedEvents() const noexcept
{
    catchUp();
    return d->ring.published();
}

std::uint64_t TraceRecorder::droppedEvents() const
{
    catchUp();
    std::lock_guard lock(d->consumerMutex);
    const std::uint64_t unread = d->ring.published() - d->readPos;
    const std::uint64_t capacity = d->ring.capacity();
    return d->dropped + (unread > capacity ? unread - capacity : 0);
}

QString TraceRecorder::stringAt(std::uint32_t index) const
{
    return d->strings.at(index);
}

std::size_t TraceRecorder::stringCount() const
{
    return d->strings.size();
}

std::uint64_t TraceRecorder::droppedStrings() const
{
    return d->strings.dropped();
}

std::vector<TaskStats> TraceRecorder::tasks() const
{
    catchUp();
    std::lock_guard lock(d->statsMutex);
    // The id order is kept as tasks come and go: no sort of 10,000 tasks on every call.
    d->tidyLiveOrder();
    std::vector<TaskStats> out;
    out.reserve(d->live.size() + d->finished.size());
    for (const TaskRecord *rec : d->liveOrder)
        out.push_back(Private::statsOf(*rec));
    out.insert(out.end(), d->finished.begin(), d->finished.end());
    return out;
}

std::vector<TaskStats> TraceRecorder::tasksChangedSince(std::uint64_t &version) const
{
    catchUp();
    std::lock_guard lock(d->statsMutex);
    // Read first: a change after it has a later version, and is returned next time.
    const std::uint64_t current = d->taskVersion.load(std::memory_order_acquire);
    d->tidyLiveOrder();
    std::vector<TaskStats> out;
    const std::uint64_t since = version;
    for (const TaskRecord *rec : d->liveOrder) {
        if (get(rec->hot->version) <= since)
            continue;
        out.push_back(Private::statsOf(*rec));
    }
    const auto firstNew =
            std::upper_bound(d->finishedVersions.begin(), d->finishedVersions.end(), since);
    out.insert(out.end(), d->finished.begin() + (firstNew - d->finishedVersions.begin()),
               d->finished.end());
    version = current;
    return out;
}

std::optional<TaskStats> TraceRecorder::task(std::uint64_t taskId) const
{
    catchUp();
    std::lock_guard lock(d->statsMutex);
    return d->findAny(taskId);
}

LoopStats TraceRecorder::loopStats() const
{
    catchUp();
    std::lock_guard lock(d->statsMutex);
    LoopStats s = d->loop;
    const HotLoop &hot = d->hotLoop;
    s.callbacks = get(hot.callbacks);
    s.failedCallbacks = get(hot.failedCallbacks);
    s.taskSteps = get(hot.taskSteps);
    s.callbacksPerSecond = get(hot.callbacksPerSecond);
    hot.callbackDurations.readInto(s.callbackDurations);
    hot.stepDurations.readInto(s.stepDurations);
    s.liveTasks = d->live.size();
    s.firstEventNs = d->firstEventNs.load(std::memory_order_relaxed);
    s.lastEventNs = d->lastEventNs.load(std::memory_order_relaxed);
    const std::int64_t span = s.lastEventNs - s.firstEventNs;
    s.meanCallbacksPerSecond = span > 0 ? double(s.callbacks) / (double(span) / 1e9) : 0.0;
    return s;
}

std::vector<Lint> TraceRecorder::lints() const
{
    catchUp();
    std::lock_guard lock(d->statsMutex);
    std::vector<Lint> out;
    for (const auto &kept : d->lints)
        out.insert(out.end(), kept.begin(), kept.end());
    std::stable_sort(out.begin(), out.end(),
                     [](const Lint &a, const Lint &b) { return a.timeNs < b.timeNs; });
    const std::vector<Lint> polling = d->busyPollingLints();
    out.insert(out.end(), polling.begin(), polling.end());
    return out;
}

std::uint64_t TraceRecorder::lintCount(LintKind kind) const
{
    catchUp();
    std::lock_guard lock(d->statsMutex);
    if (kind == LintKind::BusyPolling) {
        // Computed from the tasks' aggregates rather than recorded as it happens.
        std::uint64_t n = 0;
        if (d->busyPollingMark.load(std::memory_order_acquire) == 0)
            return n;
        for (const auto &[id, rec] : d->live)
            n += d->isBusyPolling(*rec.hot) ? 1 : 0;
        for (const TaskStats &t : d->finished)
            n += d->isBusyPolling(t) ? 1 : 0;
        return n;
    }
    return d->lintCounts[std::size_t(kind)];
}

void TraceRecorder::noteException(const ExceptionContext &)
{
    std::lock_guard lock(d->statsMutex);
    ++d->loop.exceptionsReported;
}

ExceptionHandler TraceRecorder::exceptionHandler(ExceptionHandler next)
{
    return [this, next = std::move(next)](const ExceptionContext &context) {
        noteException(context);
        if (next)
            next(context);
        else
            EventLoop::defaultExceptionHandler(context);
    };
}

void TraceRecorder::noteLoopClosed()
{
    std::lock_guard lock(d->statsMutex);
    d->loopClosed();
}

QByteArray TraceRecorder::chromeTraceJson() const
{
    return chromeTraceJson(snapshot());
}

QByteArray TraceRecorder::chromeTraceJson(const std::vector<RecordedEvent> &events) const
{
    detail::ChromeTraceSource source;
    source.events = &events;
    source.strings = d->strings.resolve(events);
    source.producedEvents = producedEvents();
    source.droppedEvents = droppedEvents();
    source.capacity = capacity();
    source.options = d->options;
    {
        std::lock_guard lock(d->statsMutex);
        for (const auto &[id, rec] : d->live)
            source.taskNames.insert(id, rec.stats.name);
        for (const TaskStats &t : d->finished)
            source.taskNames.insert(t.id, t.name);
    }
    return detail::writeChromeTrace(source);
}

bool TraceRecorder::exportChromeTrace(const QString &path, QString *error) const
{
    auto fail = [&](const QString &why) {
        if (error)
            *error = QStringLiteral("Cannot write the trace to %1: %2").arg(path, why);
        return false;
    };
    const QByteArray json = chromeTraceJson();
    // QSaveFile writes a temporary file next to path and renames it over path on commit();
    // destroyed uncommitted it removes the temporary, so a failure leaves nothing behind.
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return fail(file.errorString());
    if (file.write(json) != json.size()) {
        const QString why = file.errorString();
        file.cancelWriting();
        return fail(why);
    }
    if (!file.commit())
        return fail(file.errorString());
    return true;
}

} // namespace loopscope
