#include "loopscope/ui/timelinemodel.h"

#include <loopscope/observer.h>
#include <loopscope/recorder.h>

#include <algorithm>
#include <deque>
#include <unordered_map>
#include <utility>

namespace loopscope::ui {

const char *segmentStateName(SegmentState state)
{
    switch (state) {
    case SegmentState::Running:
        return "running";
    case SegmentState::Ready:
        return "ready";
    case SegmentState::Awaiting:
        return "awaiting";
    case SegmentState::InExecutor:
        return "in executor";
    case SegmentState::Unknown:
        return "unknown";
    }
    return "?";
}

const char *markerKindName(MarkerKind kind)
{
    switch (kind) {
    case MarkerKind::Created:
        return "created";
    case MarkerKind::Finished:
        return "finished";
    case MarkerKind::Cancelled:
        return "cancelled";
    case MarkerKind::Failed:
        return "failed";
    case MarkerKind::SlowCallback:
        return "slow callback";
    case MarkerKind::Gap:
        return "events dropped";
    }
    return "?";
}

namespace {

using K = TraceEventKind;

//! A lane plus what ingestion needs to know about it and nobody else.
struct LaneData
{
    TimelineLane lane;
    //! Task lanes: when the next step was scheduled while a step ran (a yield, or an await
    //! of something already done); -1: not during this step. Mirrors the recorder.
    std::int64_t scheduledDuringStep = -1;
    //! Position among the task lanes (tasks vector) or executor lanes.
    std::size_t position = 0;
    bool dropped = false;

    std::size_t items() const { return lane.segments.size() + lane.markers.size(); }
    TimelineSegment *open()
    {
        return !lane.segments.empty() && lane.segments.back().isOpen() ? &lane.segments.back()
                                                                       : nullptr;
    }
};

//! What we learnt about a future that completed, for the wake-up edges it causes.
struct FutureInfo
{
    std::int64_t time = -1;
    std::uint64_t task = 0;
    std::uint64_t thread = 0;
};

template <typename T>
auto firstEndingAtOrAfter(const std::vector<T> &v, std::int64_t t0)
{
    return std::partition_point(v.begin(), v.end(), [t0](const T &s) { return s.end < t0; });
}

template <typename T>
auto firstStartingAfter(const std::vector<T> &v, std::int64_t t1)
{
    return std::partition_point(v.begin(), v.end(), [t1](const T &s) { return s.start <= t1; });
}

template <typename T>
std::span<const T> between(typename std::vector<T>::const_iterator first,
                           typename std::vector<T>::const_iterator last)
{
    if (first >= last)
        return {};
    return std::span<const T>(&*first, std::size_t(last - first));
}

std::span<const TimelineSegment> segmentsIn(const std::vector<TimelineSegment> &v, std::int64_t t0,
                                            std::int64_t t1)
{
    return between<TimelineSegment>(firstEndingAtOrAfter(v, t0), firstStartingAfter(v, t1));
}

constexpr std::size_t kMaxFutureInfos = std::size_t(1) << 16;

} // namespace

using StringResolver = TimelineModel::StringResolver;

class TimelineModel::Private
{
public:
    Private() { reset(); }

    void reset()
    {
        loop = LaneData{};
        loop.lane.kind = LaneKind::Loop;
        loop.lane.name = QStringLiteral("loop");
        iterations.clear();
        pauses.clear();
        executors.clear();
        tasks.clear();
        taskById.clear();
        executorByThread.clear();
        wakeupEdges.clear();
        doneOrder.clear();
        futureInfo.clear();
        futureInfoOrder.clear();
        taskOfFuture.clear();
        taskOfExecutorFuture.clear();
        items = 0;
        ingested = 0;
        dropped = 0;
        droppedLanes = 0;
        nextSequence = 0;
        haveSequence = false;
        mayNeedReconcile = false;
        start = 0;
        latest = 0;
        nextOrder = 0;
        ++generation;
    }

    void handle(const RecordedEvent &e, const StringResolver &strings);
    void gap(std::uint64_t lost, std::int64_t nextTime);

    LaneData &taskLane(std::uint64_t id, std::int64_t now);
    LaneData *findTask(std::uint64_t id)
    {
        const auto it = taskById.find(id);
        return it == taskById.end() ? nullptr : it->second;
    }
    LaneData &executorLane(std::uint64_t thread, std::int64_t now);

    //! Closes \a lane's open segment at \a now (if any) and opens \a next from \a now.
    void enter(LaneData &lane, std::int64_t now, TimelineSegment next)
    {
        close(lane, now);
        next.start = now;
        next.end = TimelineSegment::kOpen;
        lane.lane.segments.push_back(next);
        ++items;
    }
    static void close(LaneData &lane, std::int64_t now)
    {
        if (TimelineSegment *s = lane.open())
            s->end = std::max(now, s->start);
    }
    void mark(LaneData &lane, TimelineMarker m)
    {
        lane.lane.markers.push_back(m);
        ++items;
    }

    void taskScheduled(std::uint64_t id, std::int64_t now);
    void stepBegin(const RecordedEvent &e);
    void stepEnd(const RecordedEvent &e);
    void taskDone(const RecordedEvent &e, const StringResolver &strings);
    void callbackFinished(const RecordedEvent &e);
    void wakeup(const RecordedEvent &e);
    FutureInfo &infoFor(std::uint64_t future);

    void enforceLimits();
    void dropLane(LaneData &lane);
    void compactTasks();
    void trimBefore(std::int64_t cutoff);
    std::size_t itemsEndingBefore(std::int64_t cutoff) const;

    int taskLaneIndex(const LaneData &lane) const
    {
        return 1 + int(executors.size()) + int(lane.position);
    }

    // Options.
    std::int64_t slowThreshold = 100'000'000;
    std::size_t maxItems = 1'000'000;
    std::int64_t retention = -1;

    LaneData loop;
    std::vector<TimelineSegment> iterations;
    std::vector<TimelineSegment> pauses;
    std::vector<std::unique_ptr<LaneData>> executors;
    std::vector<std::unique_ptr<LaneData>> tasks; // creation order
    std::unordered_map<std::uint64_t, LaneData *> taskById;
    std::unordered_map<std::uint64_t, LaneData *> executorByThread;
    std::vector<WakeupEdge> wakeupEdges;
    std::deque<std::pair<std::int64_t, std::uint64_t>> doneOrder; // (done time, task id)
    std::unordered_map<std::uint64_t, FutureInfo> futureInfo;
    std::deque<std::uint64_t> futureInfoOrder; // oldest first, bounds futureInfo
    std::unordered_map<std::uint64_t, std::uint64_t> taskOfFuture; // a task's own future
    std::unordered_map<std::uint64_t, std::uint64_t> taskOfExecutorFuture; // who submitted it

    std::size_t items = 0;
    std::uint64_t ingested = 0;
    std::uint64_t dropped = 0;
    std::uint64_t droppedLanes = 0;
    std::uint64_t nextSequence = 0;
    bool haveSequence = false;
    bool mayNeedReconcile = false;
    std::int64_t start = 0;
    std::int64_t latest = 0;
    std::uint64_t nextOrder = 0;
    std::uint64_t generation = 0;
};

LaneData &TimelineModel::Private::taskLane(std::uint64_t id, std::int64_t now)
{
    if (LaneData *lane = findTask(id))
        return *lane;
    // First seen without its TaskCreated (dropped, or recorded before attaching).
    auto fresh = std::make_unique<LaneData>();
    fresh->lane.kind = LaneKind::Task;
    fresh->lane.id = id;
    fresh->lane.name = QStringLiteral("Task-%1").arg(id);
    fresh->lane.firstSeen = now;
    fresh->lane.order = nextOrder++;
    fresh->position = tasks.size();
    LaneData &lane = *fresh;
    taskById.emplace(id, fresh.get());
    tasks.push_back(std::move(fresh));
    ++generation;
    return lane;
}

LaneData &TimelineModel::Private::executorLane(std::uint64_t thread, std::int64_t now)
{
    if (const auto it = executorByThread.find(thread); it != executorByThread.end())
        return *it->second;
    auto fresh = std::make_unique<LaneData>();
    fresh->lane.kind = LaneKind::Executor;
    fresh->lane.id = thread;
    fresh->lane.name = QStringLiteral("executor %1").arg(executors.size() + 1);
    fresh->lane.firstSeen = now;
    fresh->position = executors.size();
    LaneData &lane = *fresh;
    executorByThread.emplace(thread, fresh.get());
    executors.push_back(std::move(fresh));
    ++generation;
    return lane;
}

FutureInfo &TimelineModel::Private::infoFor(std::uint64_t future)
{
    const auto [it, inserted] = futureInfo.try_emplace(future);
    if (inserted) {
        // Most completed futures are never awaited (a task nobody awaits): keep the newest.
        futureInfoOrder.push_back(future);
        while (futureInfoOrder.size() > kMaxFutureInfos) {
            if (futureInfoOrder.front() != future)
                futureInfo.erase(futureInfoOrder.front());
            futureInfoOrder.pop_front();
        }
    }
    return futureInfo[future];
}

void TimelineModel::Private::gap(std::uint64_t lost, std::int64_t nextTime)
{
    dropped += lost;
    mayNeedReconcile = true;
    // What happened between the last event we saw and the next one is lost: every open
    // segment ends where our knowledge ends, and Unknown covers the rest until a lane's
    // next event tells its state again.
    const std::int64_t t = latest;
    TimelineSegment unknown;
    unknown.state = SegmentState::Unknown;
    if (!iterations.empty() && iterations.back().isOpen())
        iterations.back().end = std::max(t, iterations.back().start);
    enter(loop, t, unknown);
    close(loop, std::max(t, nextTime));
    mark(loop, TimelineMarker{ std::max(t, nextTime), std::int64_t(lost), 0, MarkerKind::Gap });
    for (auto &lane : executors)
        if (lane->open())
            enter(*lane, t, unknown);
    for (auto &lane : tasks) {
        const TimelineSegment *open = lane->open();
        // Already Unknown since an earlier gap: one segment, however many gaps follow.
        if (lane->lane.isDone() || (open && open->state == SegmentState::Unknown))
            continue;
        lane->scheduledDuringStep = -1;
        unknown.task = lane->lane.id;
        enter(*lane, t, unknown);
    }
}

void TimelineModel::Private::taskScheduled(std::uint64_t id, std::int64_t now)
{
    LaneData &lane = taskLane(id, now);
    if (lane.lane.isDone())
        return;
    const TimelineSegment *s = lane.open();
    const SegmentState state = s ? s->state : SegmentState::Unknown;
    switch (state) {
    case SegmentState::Running:
        // It scheduled its own next step (sleep(0)) or awaited something already done: it
        // becomes ready when the step ends.
        if (lane.scheduledDuringStep < 0)
            lane.scheduledDuringStep = now;
        break;
    case SegmentState::Ready:
        break;
    case SegmentState::Awaiting:
    case SegmentState::InExecutor:
    case SegmentState::Unknown: {
        TimelineSegment ready;
        ready.state = SegmentState::Ready;
        ready.task = id;
        enter(lane, now, ready);
        break;
    }
    }
}

void TimelineModel::Private::stepBegin(const RecordedEvent &e)
{
    LaneData &lane = taskLane(e.id, e.time);
    TimelineSegment running;
    running.state = SegmentState::Running;
    running.task = e.id;
    running.id = e.aux; // step number
    enter(lane, e.time, running);
    lane.scheduledDuringStep = -1;
}

void TimelineModel::Private::stepEnd(const RecordedEvent &e)
{
    LaneData &lane = taskLane(e.id, e.time);
    TimelineSegment *s = lane.open();
    if (s && s->state == SegmentState::Running)
        s->realDuration = e.duration;
    TimelineSegment next;
    next.task = e.id;
    if (lane.scheduledDuringStep >= 0) {
        next.state = SegmentState::Ready;
    } else {
        // Suspended; with related == 0 either its last step (TaskDone follows at once) or an
        // await the trace cannot name.
        next.state = e.futureKind == FutureKind::Executor && e.related ? SegmentState::InExecutor
                                                                       : SegmentState::Awaiting;
        next.id = e.related;
        next.futureKind = e.futureKind;
    }
    lane.scheduledDuringStep = -1;
    enter(lane, e.time, next);
}

void TimelineModel::Private::taskDone(const RecordedEvent &e, const StringResolver &strings)
{
    LaneData &lane = taskLane(e.id, e.time);
    auto &segs = lane.lane.segments;
    if (!segs.empty() && segs.back().isOpen() && segs.back().state == SegmentState::Awaiting
        && segs.back().id == 0 && segs.back().start == e.time) {
        // Its last step's end said "awaiting nothing": that was the end, not a wait.
        segs.pop_back();
        --items;
    }
    close(lane, e.time);
    TimelineLane &l = lane.lane;
    l.doneTime = e.time;
    l.status = e.status;
    l.resultText = e.text ? strings(e.text) : QString();
    const MarkerKind kind = e.status == DoneStatus::Finished ? MarkerKind::Finished
            : e.status == DoneStatus::Cancelled              ? MarkerKind::Cancelled
                                                             : MarkerKind::Failed;
    mark(lane, TimelineMarker{ e.time, 0, e.id, kind });
    lane.scheduledDuringStep = -1;
    doneOrder.emplace_back(e.time, e.id);
}

void TimelineModel::Private::callbackFinished(const RecordedEvent &e)
{
    TimelineSegment *s = loop.open();
    if (s && s->state == SegmentState::Running && s->id == e.id) {
        s->realDuration = e.duration;
        s->failed = e.failed;
        close(loop, e.time);
    } else {
        // Its HandleStarted was dropped: the gap's Unknown covers it; nothing to close.
        close(loop, e.time);
    }
    if (e.duration > slowThreshold) {
        mark(loop, TimelineMarker{ e.time, e.duration, e.id, MarkerKind::SlowCallback });
        if (e.handleKind == HandleKind::TaskStep && e.aux)
            if (LaneData *task = findTask(e.aux))
                mark(*task, TimelineMarker{ e.time, e.duration, e.id, MarkerKind::SlowCallback });
    }
}

void TimelineModel::Private::wakeup(const RecordedEvent &e)
{
    WakeupEdge w;
    w.time = e.time;
    w.task = e.id;
    w.future = e.related;
    w.futureKind = e.futureKind;
    if (const auto it = futureInfo.find(e.related); it != futureInfo.end()) {
        w.sourceTime = it->second.time;
        w.sourceTask = it->second.task;
        w.sourceThread = it->second.thread;
    }
    wakeupEdges.push_back(w);
    ++items;
}

void TimelineModel::Private::handle(const RecordedEvent &e, const StringResolver &strings)
{
    if (haveSequence && e.sequence != nextSequence && e.sequence > nextSequence)
        gap(e.sequence - nextSequence, e.time);
    if (!haveSequence)
        start = e.time;
    haveSequence = true;
    nextSequence = e.sequence + 1;
    ++ingested;
    // Loop time never goes backwards; clamping keeps the arrays sorted even if it did.
    const std::int64_t now = std::max(e.time, latest);
    latest = now;
    RecordedEvent ev = e;
    ev.time = now;

    switch (ev.kind) {
    case K::IterationBegin: {
        if (!iterations.empty() && iterations.back().isOpen())
            iterations.back().end = now;
        TimelineSegment it;
        it.state = SegmentState::Running;
        it.start = now;
        it.id = ev.id;
        iterations.push_back(it);
        ++items;
        break;
    }
    case K::IterationEnd:
        if (!iterations.empty() && iterations.back().isOpen()) {
            iterations.back().end = now;
            iterations.back().realDuration = ev.duration;
        }
        break;
    case K::LoopPaused:
        if (pauses.empty() || !pauses.back().isOpen()) {
            TimelineSegment pause;
            pause.state = SegmentState::Unknown;
            pause.start = now;
            pause.id = ev.aux; // PauseReason
            pause.task = ev.id; // the task or handle that hit a breakpoint
            pauses.push_back(pause);
            ++items;
        }
        break;
    case K::LoopResumed:
        if (!pauses.empty() && pauses.back().isOpen())
            pauses.back().end = now;
        break;
    case K::HandleScheduled:
        if (ev.handleKind == HandleKind::TaskStep && ev.aux)
            taskScheduled(ev.aux, now);
        break;
    case K::HandleStarted: {
        TimelineSegment cb;
        cb.state = SegmentState::Running;
        cb.id = ev.id;
        cb.task = ev.handleKind == HandleKind::TaskStep ? ev.aux : 0;
        cb.handleKind = ev.handleKind;
        enter(loop, now, cb);
        break;
    }
    case K::HandleFinished:
        callbackFinished(ev);
        break;
    case K::FutureCreated:
        if (ev.futureKind == FutureKind::Executor && ev.aux)
            taskOfExecutorFuture[ev.id] = ev.aux;
        break;
    case K::FutureDone:
    case K::FutureCancelled:
    case K::FutureFailed: {
        FutureInfo &info = infoFor(ev.id);
        info.time = now;
        info.task = ev.aux;
        if (const auto it = taskOfFuture.find(ev.id); it != taskOfFuture.end()) {
            info.task = it->second; // a task's own future: the task itself woke its awaiters
            taskOfFuture.erase(it);
        }
        taskOfExecutorFuture.erase(ev.id);
        break;
    }
    case K::TaskCreated: {
        LaneData &lane = taskLane(ev.id, now);
        TimelineLane &l = lane.lane;
        if (const QString name = ev.text ? strings(ev.text) : QString(); !name.isEmpty())
            l.name = name;
        l.location = ev.location ? strings(ev.location) : QString();
        l.parent = ev.aux;
        l.futureId = ev.related;
        l.firstSeen = now;
        if (ev.related)
            taskOfFuture[ev.related] = ev.id;
        mark(lane, TimelineMarker{ now, 0, ev.id, MarkerKind::Created });
        // The recorder counts Created as scheduled time: the first step is queued at once.
        TimelineSegment ready;
        ready.state = SegmentState::Ready;
        ready.task = ev.id;
        enter(lane, now, ready);
        break;
    }
    case K::TaskStepBegin:
        stepBegin(ev);
        break;
    case K::TaskStepEnd:
        stepEnd(ev);
        break;
    case K::TaskDone:
        taskDone(ev, strings);
        break;
    case K::Wakeup:
        wakeup(ev);
        break;
    case K::ExecutorJobStarted: {
        LaneData &lane = executorLane(ev.aux, now);
        TimelineSegment job;
        job.state = SegmentState::Running;
        job.id = ev.id;
        if (const auto it = taskOfExecutorFuture.find(ev.related); it != taskOfExecutorFuture.end())
            job.task = it->second;
        // The worker started it ev.duration before the loop heard of it; never before the
        // lane's previous segment ends (the lane stays time-sorted).
        std::int64_t started = now - std::max<std::int64_t>(ev.duration, 0);
        if (!lane.lane.segments.empty()) {
            const TimelineSegment &last = lane.lane.segments.back();
            started = std::max(started, last.isOpen() ? last.start : last.end);
        }
        enter(lane, std::min(started, now), job);
        break;
    }
    case K::ExecutorJobFinished: {
        LaneData &lane = executorLane(ev.aux, now);
        if (TimelineSegment *s = lane.open(); s && s->id == ev.id) {
            s->realDuration = ev.duration;
            s->failed = ev.failed;
            // It ran for ev.duration of real time from its start, which the loop may have
            // heard of later still.
            close(lane, std::min(now, s->start + std::max<std::int64_t>(ev.duration, 0)));
        } else if (s && s->state == SegmentState::Unknown) {
            close(lane, now); // its start was lost in a gap: the job ended here
        }
        // Otherwise its start was lost and another job runs now: nothing to close.
        infoFor(ev.related).thread = ev.aux;
        break;
    }
    default:
        break;
    }
}

// --- limits ---------------------------------------------------------------------------

void TimelineModel::Private::dropLane(LaneData &lane)
{
    if (lane.dropped)
        return;
    lane.dropped = true;
    items -= lane.items();
    taskById.erase(lane.lane.id);
    ++droppedLanes;
}

void TimelineModel::Private::compactTasks()
{
    const auto end = std::remove_if(tasks.begin(), tasks.end(),
                                    [](const std::unique_ptr<LaneData> &l) { return l->dropped; });
    if (end == tasks.end())
        return;
    tasks.erase(end, tasks.end());
    for (std::size_t i = 0; i < tasks.size(); ++i)
        tasks[i]->position = i;
    ++generation;
}

std::size_t TimelineModel::Private::itemsEndingBefore(std::int64_t cutoff) const
{
    auto count = [cutoff](const std::vector<TimelineSegment> &v) {
        return std::size_t(firstEndingAtOrAfter(v, cutoff) - v.begin());
    };
    auto countMarkers = [cutoff](const std::vector<TimelineMarker> &v) {
        return std::size_t(
                std::partition_point(v.begin(), v.end(),
                                     [cutoff](const TimelineMarker &m) { return m.time < cutoff; })
                - v.begin());
    };
    std::size_t n = count(loop.lane.segments) + countMarkers(loop.lane.markers) + count(iterations)
            + count(pauses);
    for (const auto &lane : executors)
        n += count(lane->lane.segments) + countMarkers(lane->lane.markers);
    for (const auto &lane : tasks)
        n += count(lane->lane.segments) + countMarkers(lane->lane.markers);
    n += std::size_t(std::partition_point(wakeupEdges.begin(), wakeupEdges.end(),
                                          [cutoff](const WakeupEdge &w) { return w.time < cutoff; })
                     - wakeupEdges.begin());
    return n;
}

void TimelineModel::Private::trimBefore(std::int64_t cutoff)
{
    auto trim = [&](std::vector<TimelineSegment> &v) {
        const auto last = firstEndingAtOrAfter(v, cutoff);
        items -= std::size_t(last - v.begin());
        v.erase(v.begin(), last);
    };
    auto trimMarkers = [&](std::vector<TimelineMarker> &v) {
        const auto last = std::partition_point(
                v.begin(), v.end(), [cutoff](const TimelineMarker &m) { return m.time < cutoff; });
        items -= std::size_t(last - v.begin());
        v.erase(v.begin(), last);
    };
    trim(loop.lane.segments);
    trimMarkers(loop.lane.markers);
    trim(iterations);
    trim(pauses);
    for (auto &lane : executors) {
        trim(lane->lane.segments);
        trimMarkers(lane->lane.markers);
    }
    for (auto &lane : tasks) {
        if (lane->lane.isDone() && lane->lane.doneTime < cutoff) {
            dropLane(*lane); // nothing of it would remain
            continue;
        }
        trim(lane->lane.segments);
        trimMarkers(lane->lane.markers);
    }
    const auto last =
            std::partition_point(wakeupEdges.begin(), wakeupEdges.end(),
                                 [cutoff](const WakeupEdge &w) { return w.time < cutoff; });
    items -= std::size_t(last - wakeupEdges.begin());
    wakeupEdges.erase(wakeupEdges.begin(), last);
    start = std::max(start, cutoff);
}

void TimelineModel::Private::enforceLimits()
{
    bool lanesDropped = false;
    if (retention >= 0) {
        while (!doneOrder.empty() && doneOrder.front().first < latest - retention) {
            if (LaneData *lane = findTask(doneOrder.front().second)) {
                dropLane(*lane);
                lanesDropped = true;
            }
            doneOrder.pop_front();
        }
    }
    if (items > maxItems) {
        // Trim to three quarters so the cost is paid once per quarter of the budget.
        const std::size_t target = maxItems - maxItems / 4;
        // First the oldest finished tasks, whole.
        while (items > target && !doneOrder.empty()) {
            if (LaneData *lane = findTask(doneOrder.front().second)) {
                dropLane(*lane);
                lanesDropped = true;
            }
            doneOrder.pop_front();
        }
        if (items > target) {
            // Then the oldest history of every lane: a cutoff that frees enough, found to
            // 1/1024 of the span (each probe counts through every lane: with 10,000 lanes a
            // search down to the nanosecond took ~35 probes and most of a 15 ms trim).
            const std::size_t excess = items - target;
            const std::int64_t resolution = std::max<std::int64_t>(1, (latest - start) / 1024);
            std::int64_t lo = start, hi = latest;
            while (hi - lo > resolution) {
                const std::int64_t mid = lo + (hi - lo) / 2;
                if (itemsEndingBefore(mid) >= excess)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            trimBefore(hi);
            lanesDropped = true;
        }
    }
    if (lanesDropped)
        compactTasks();
}

// --- TimelineModel --------------------------------------------------------------------

TimelineModel::TimelineModel() : d(std::make_unique<Private>()) { }

TimelineModel::~TimelineModel() = default;

void TimelineModel::ingest(const std::vector<RecordedEvent> &events, const TraceRecorder &recorder)
{
    ingest(events, [&recorder](std::uint32_t index) { return recorder.stringAt(index); });
}

void TimelineModel::ingest(const std::vector<RecordedEvent> &events, const StringResolver &strings)
{
    // Limits are checked every few thousand events so that one huge batch stays bounded too.
    constexpr std::size_t kCheckEvery = 4096;
    std::size_t sinceCheck = 0;
    for (const RecordedEvent &e : events) {
        d->handle(e, strings);
        if (++sinceCheck == kCheckEvery) {
            sinceCheck = 0;
            if (d->items > d->maxItems)
                d->enforceLimits();
        }
    }
    d->enforceLimits();
}

void TimelineModel::reconcile(const std::vector<TaskStats> &tasks, bool complete)
{
    if (!d->mayNeedReconcile)
        return;
    bool stillUnknown = false;
    for (const TaskStats &t : tasks) {
        LaneData *lane = d->findTask(t.id);
        if (!lane || lane->lane.isDone())
            continue;
        const TimelineSegment *open = lane->open();
        if (!open || open->state != SegmentState::Unknown)
            continue;
        if (!t.isDone()) {
            stillUnknown = true; // its next event will tell
            continue;
        }
        auto &markers = lane->lane.markers;
        const std::int64_t when = std::max(
                { t.doneNs, open->start, markers.empty() ? t.doneNs : markers.back().time });
        Private::close(*lane, when);
        TimelineLane &l = lane->lane;
        l.doneTime = when;
        const bool destroyed = t.state == TaskStats::State::Destroyed;
        l.status = destroyed ? DoneStatus::Cancelled : t.status;
        l.resultText = destroyed ? QStringLiteral("destroyed while pending") : t.resultText;
        const MarkerKind kind = l.status == DoneStatus::Finished ? MarkerKind::Finished
                : l.status == DoneStatus::Cancelled              ? MarkerKind::Cancelled
                                                                 : MarkerKind::Failed;
        d->mark(*lane, TimelineMarker{ when, 0, t.id, kind });
        d->doneOrder.emplace_back(when, t.id);
    }
    // A list of changes cannot tell that no unknown lane is left: a task that did not
    // change is not in it.
    d->mayNeedReconcile = stillUnknown || !complete;
}

void TimelineModel::clear()
{
    d->reset();
}

void TimelineModel::setSlowCallbackThreshold(std::int64_t ns)
{
    d->slowThreshold = ns;
}

std::int64_t TimelineModel::slowCallbackThreshold() const noexcept
{
    return d->slowThreshold;
}

void TimelineModel::setMaxItems(std::size_t items)
{
    d->maxItems = std::max<std::size_t>(items, 1000);
    d->enforceLimits();
}

std::size_t TimelineModel::maxItems() const noexcept
{
    return d->maxItems;
}

void TimelineModel::setFinishedRetention(std::int64_t ns)
{
    d->retention = ns;
    d->enforceLimits();
}

std::int64_t TimelineModel::finishedRetention() const noexcept
{
    return d->retention;
}

int TimelineModel::laneCount() const noexcept
{
    return 1 + int(d->executors.size()) + int(d->tasks.size());
}

const TimelineLane &TimelineModel::lane(int index) const
{
    if (index <= 0)
        return d->loop.lane;
    const auto i = std::size_t(index - 1);
    if (i < d->executors.size())
        return d->executors[i]->lane;
    const std::size_t t = std::min(i - d->executors.size(), d->tasks.size() - 1);
    return d->tasks.empty() ? d->loop.lane : d->tasks[t]->lane;
}

int TimelineModel::laneOfTask(std::uint64_t taskId) const
{
    const LaneData *lane = d->findTask(taskId);
    return lane ? d->taskLaneIndex(*lane) : -1;
}

int TimelineModel::laneOfThread(std::uint64_t thread) const
{
    const auto it = d->executorByThread.find(thread);
    return it == d->executorByThread.end() ? -1 : 1 + int(it->second->position);
}

int TimelineModel::executorLaneCount() const noexcept
{
    return int(d->executors.size());
}

int TimelineModel::taskLaneCount() const noexcept
{
    return int(d->tasks.size());
}

std::uint64_t TimelineModel::laneGeneration() const noexcept
{
    return d->generation;
}

std::int64_t TimelineModel::historyStart() const noexcept
{
    return d->start;
}

std::int64_t TimelineModel::latestTime() const noexcept
{
    return d->latest;
}

void TimelineModel::extendTo(std::int64_t ns) noexcept
{
    d->latest = std::max(d->latest, ns);
}

bool TimelineModel::isEmpty() const noexcept
{
    return !d->haveSequence;
}

std::span<const TimelineSegment> TimelineModel::segments(int lane, std::int64_t t0,
                                                         std::int64_t t1) const
{
    if (lane < 0 || lane >= laneCount())
        return {};
    return segmentsIn(this->lane(lane).segments, t0, t1);
}

std::span<const TimelineMarker> TimelineModel::markers(int lane, std::int64_t t0,
                                                       std::int64_t t1) const
{
    if (lane < 0 || lane >= laneCount())
        return {};
    const auto &v = this->lane(lane).markers;
    const auto first = std::partition_point(v.begin(), v.end(),
                                            [t0](const TimelineMarker &m) { return m.time < t0; });
    const auto last = std::partition_point(first, v.end(),
                                           [t1](const TimelineMarker &m) { return m.time <= t1; });
    return between<TimelineMarker>(first, last);
}

std::span<const TimelineSegment> TimelineModel::iterations(std::int64_t t0, std::int64_t t1) const
{
    return segmentsIn(d->iterations, t0, t1);
}

std::span<const TimelineSegment> TimelineModel::pauses(std::int64_t t0, std::int64_t t1) const
{
    return segmentsIn(d->pauses, t0, t1);
}

std::span<const WakeupEdge> TimelineModel::wakeups(std::int64_t t0, std::int64_t t1) const
{
    const auto &v = d->wakeupEdges;
    const auto first = std::partition_point(v.begin(), v.end(),
                                            [t0](const WakeupEdge &w) { return w.time < t0; });
    const auto last = std::partition_point(first, v.end(),
                                           [t1](const WakeupEdge &w) { return w.time <= t1; });
    return between<WakeupEdge>(first, last);
}

const TimelineSegment *TimelineModel::segmentAt(int lane, std::int64_t t) const
{
    const auto found = segments(lane, t, t);
    // Zero-length segments may share the instant: the last one is the state from then on.
    return found.empty() ? nullptr : &found.back();
}

std::uint64_t TimelineModel::taskAt(int lane, std::int64_t t) const
{
    if (lane < 0 || lane >= laneCount())
        return 0;
    const TimelineLane &l = this->lane(lane);
    if (l.kind == LaneKind::Task)
        return l.id;
    // Several zero-length callbacks may share the instant (virtual time): the last one that
    // ran a task's step.
    const auto found = segments(lane, t, t);
    for (auto it = found.rbegin(); it != found.rend(); ++it)
        if (it->task)
            return it->task;
    return 0;
}

std::vector<std::uint64_t> TimelineModel::tasksActiveIn(std::int64_t t0, std::int64_t t1) const
{
    std::vector<std::uint64_t> out;
    for (const auto &lane : d->tasks) {
        for (const TimelineSegment &s : segmentsIn(lane->lane.segments, t0, t1)) {
            if (s.state == SegmentState::Running || s.state == SegmentState::Ready) {
                out.push_back(lane->lane.id);
                break;
            }
        }
    }
    return out;
}

std::size_t TimelineModel::itemCount() const noexcept
{
    return d->items;
}

std::uint64_t TimelineModel::ingestedEvents() const noexcept
{
    return d->ingested;
}

std::uint64_t TimelineModel::droppedEvents() const noexcept
{
    return d->dropped;
}

std::uint64_t TimelineModel::droppedTaskLanes() const noexcept
{
    return d->droppedLanes;
}

} // namespace loopscope::ui
