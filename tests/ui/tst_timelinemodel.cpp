// TimelineModel: the lanes and segments built from a real loop's trace under a virtual clock
// (exact times), the binary-search queries, the history cap, finished-lane retention and the
// handling of dropped events.

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>
#include <loopscope/ui/timelinemodel.h>

#include <QTest>
#include <QTimer>

#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::FutureKind;
using loopscope::RecordedEvent;
using loopscope::TraceRecorder;
using loopscope::ui::LaneKind;
using loopscope::ui::MarkerKind;
using loopscope::ui::SegmentState;
using loopscope::ui::TimelineModel;
using loopscope::ui::TimelineSegment;
using Kind = loopscope::TraceEventKind;

namespace {

constexpr std::int64_t kMs = 1'000'000;

//! A recorder on a loop with a virtual clock; the recorder outlives the loop.
struct Fixture
{
    Fixture() : clock(std::make_shared<loopscope::VirtualClock>()), rec(options()), loop(clock)
    {
        loop.addObserver(&rec);
        loop.setExceptionHandler(rec.exceptionHandler([](const loopscope::ExceptionContext &) {}));
    }
    static loopscope::RecorderOptions options()
    {
        loopscope::RecorderOptions o;
        o.slowCallbackThreshold = loopscope::Duration::max();
        o.blockedLoopThreshold = loopscope::Duration::max();
        return o;
    }
    //! Drains everything recorded so far into \a model.
    void ingestInto(TimelineModel &model)
    {
        std::vector<RecordedEvent> events;
        rec.drain(events);
        model.ingest(events, rec);
    }
    std::shared_ptr<loopscope::VirtualClock> clock;
    TraceRecorder rec;
    EventLoop loop;
};

QString ms(std::int64_t ns)
{
    if (ns % kMs == 0)
        return QString::number(ns / kMs);
    return QString::number(double(ns) / double(kMs), 'f', 3);
}

//! "ready 0+0, running 0+0, awaiting:sleep 0+10" (start and length in ms of loop time).
QString describe(const TimelineModel &model, int lane)
{
    QStringList parts;
    for (const TimelineSegment &s : model.lane(lane).segments) {
        QString part = QLatin1String(loopscope::ui::segmentStateName(s.state));
        if (s.state == SegmentState::Awaiting || s.state == SegmentState::InExecutor)
            part += QLatin1Char(':') + QLatin1String(loopscope::futureKindName(s.futureKind));
        part += QLatin1Char(' ') + ms(s.start);
        part += s.isOpen() ? QStringLiteral("+open") : QLatin1Char('+') + ms(s.end - s.start);
        parts << part;
    }
    return parts.join(QStringLiteral(", "));
}

QString describeMarkers(const TimelineModel &model, int lane)
{
    QStringList parts;
    for (const auto &m : model.lane(lane).markers)
        parts << QLatin1String(loopscope::ui::markerKindName(m.kind)) + QLatin1Char(' ')
                        + ms(m.time);
    return parts.join(QStringLiteral(", "));
}

Coro<int> sleeper(std::chrono::milliseconds d, int v)
{
    co_await loopscope::sleep(d);
    co_return v;
}

Coro<int> awaitsChild()
{
    co_await loopscope::sleep(1ms);
    auto child = EventLoop::current()->createTask(sleeper(5ms, 7), QStringLiteral("child"));
    const int v = co_await child;
    co_return v + 1;
}

Coro<void> failsAfter(std::chrono::milliseconds d)
{
    co_await loopscope::sleep(d);
    throw std::runtime_error("boom");
}

Coro<int> offloads()
{
    auto job = EventLoop::current()->runInExecutor([] { return 41; });
    const int v = co_await job;
    co_return v + 1;
}

//! Synthesized events: a stand-in for a recorder's stream, with sequence numbers.
struct Stream
{
    std::vector<RecordedEvent> events;
    std::uint64_t sequence = 0;
    RecordedEvent &add(Kind kind, std::int64_t time, std::uint64_t id = 0,
                       std::uint64_t related = 0, std::uint64_t aux = 0)
    {
        RecordedEvent e;
        e.sequence = sequence++;
        e.kind = kind;
        e.time = time;
        e.id = id;
        e.related = related;
        e.aux = aux;
        events.push_back(e);
        return events.back();
    }
    //! One task: created at \a t, one step at t + 1 ms awaiting a sleep of \a sleep, a last
    //! step then, done.
    void task(std::uint64_t id, std::int64_t t, std::int64_t sleep)
    {
        add(Kind::TaskCreated, t, id, 1000 + id);
        add(Kind::HandleScheduled, t, 5000 + id, 0, id).handleKind =
                loopscope::HandleKind::TaskStep;
        add(Kind::TaskStepBegin, t + kMs, id, 0, 1);
        add(Kind::TaskStepEnd, t + kMs, id, 9000 + id, 1).futureKind = FutureKind::Sleep;
        add(Kind::HandleScheduled, t + kMs + sleep, 7000 + id, 0, id).handleKind =
                loopscope::HandleKind::TaskStep;
        add(Kind::Wakeup, t + kMs + sleep, id, 9000 + id);
        add(Kind::TaskStepBegin, t + kMs + sleep, id, 0, 2);
        add(Kind::TaskStepEnd, t + kMs + sleep, id, 0, 2);
        add(Kind::TaskDone, t + kMs + sleep, id, 1000 + id);
    }
};

} // namespace

class tst_TimelineModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sleepingTask();
    void taskAwaitingTask();
    void cancelledTask();
    void failingTask();
    void executorJob();
    void loopLaneCallbacksAndIterations();
    void loopPauses();
    void binarySearchQueries();
    void historyCapDropsOldestFinishedTasksFirst();
    void historyCapTrimsOldestHistoryOfLiveLanes();
    void finishedRetentionHidesLanes();
    void sequenceGapClosesSegmentsAsUnknown();
    void reconcileEndsTasksWhoseEndWasDropped();
    void slowCallbackMarks();
    void ingestWithResolvedStrings();
};

void tst_TimelineModel::sleepingTask()
{
    Fixture f;
    auto task = f.loop.createTask(sleeper(10ms, 3), QStringLiteral("sleepy"));
    QCOMPARE(f.loop.runUntilComplete(task), 3);
    TimelineModel model;
    f.ingestInto(model);

    QCOMPARE(model.laneCount(), 2); // loop + the task
    QCOMPARE(model.lane(0).kind, LaneKind::Loop);
    const int lane = model.laneOfTask(task.taskId());
    QCOMPARE(lane, 1);
    QCOMPARE(model.lane(lane).name, QStringLiteral("sleepy"));
    QVERIFY(model.lane(lane).location.contains(QLatin1String("tst_timelinemodel.cpp")));
    QCOMPARE(describe(model, lane),
             QStringLiteral(
                     "ready 0+0, running 0+0, awaiting:sleep 0+10, ready 10+0, running 10+0"));
    QCOMPARE(describeMarkers(model, lane), QStringLiteral("created 0, finished 10"));
    QCOMPARE(model.lane(lane).doneTime, 10 * kMs);
    QCOMPARE(model.latestTime(), 10 * kMs);
    QCOMPARE(model.historyStart(), 0);
    QCOMPARE(model.droppedEvents(), 0u);
    // The running segments carry the real step time.
    for (const TimelineSegment &s : model.lane(lane).segments)
        QCOMPARE(s.realDuration >= 0, s.state == SegmentState::Running);

    // The sleep's completion woke the task at 10 ms.
    const auto wakeups = model.wakeups(0, 20 * kMs);
    QCOMPARE(wakeups.size(), 1u);
    QCOMPARE(wakeups[0].task, task.taskId());
    QCOMPARE(wakeups[0].time, 10 * kMs);
    QCOMPARE(wakeups[0].sourceTime, 10 * kMs);
    QCOMPARE(wakeups[0].futureKind, FutureKind::Sleep);
    QCOMPARE(wakeups[0].future, model.lane(lane).segments[2].id);
}

void tst_TimelineModel::taskAwaitingTask()
{
    Fixture f;
    auto parent = f.loop.createTask(awaitsChild(), QStringLiteral("parent"));
    QCOMPARE(f.loop.runUntilComplete(parent), 8);
    TimelineModel model;
    f.ingestInto(model);

    QCOMPARE(model.taskLaneCount(), 2);
    const int p = model.laneOfTask(parent.taskId());
    QCOMPARE(p, 1);
    const int c = 2; // created second
    QCOMPARE(model.lane(c).name, QStringLiteral("child"));
    QCOMPARE(model.lane(c).parent, parent.taskId());
    // The parent sleeps 1 ms, creates the child and awaits it (6 ms in all).
    QCOMPARE(describe(model, p),
             QStringLiteral("ready 0+0, running 0+0, awaiting:sleep 0+1, ready 1+0, running 1+0, "
                            "awaiting:task 1+5, ready 6+0, running 6+0"));
    QCOMPARE(describe(model, c),
             QStringLiteral("ready 1+0, running 1+0, awaiting:sleep 1+5, ready 6+0, running 6+0"));
    QCOMPARE(model.lane(p).segments[5].id, model.lane(c).futureId);
    QCOMPARE(describeMarkers(model, c), QStringLiteral("created 1, finished 6"));

    // Who woke whom: the child's completion woke the parent.
    std::vector<loopscope::ui::WakeupEdge> parentWakeups;
    for (const auto &w : model.wakeups(0, model.latestTime()))
        if (w.task == parent.taskId())
            parentWakeups.push_back(w);
    QCOMPARE(parentWakeups.size(), 2u);
    QCOMPARE(parentWakeups[1].futureKind, FutureKind::Task);
    QCOMPARE(parentWakeups[1].future, model.lane(c).futureId);
    QCOMPARE(parentWakeups[1].sourceTask, model.lane(c).id);
    QCOMPARE(parentWakeups[1].sourceTime, 6 * kMs);
    QCOMPARE(parentWakeups[1].time, 6 * kMs);
}

void tst_TimelineModel::cancelledTask()
{
    Fixture f;
    auto victim = f.loop.createTask(sleeper(1000ms, 0), QStringLiteral("victim"));
    f.loop.callLater(3ms, [&] { victim.cancel("enough"); });
    QVERIFY_THROWS_EXCEPTION(loopscope::CancelledError, f.loop.runUntilComplete(victim));
    TimelineModel model;
    f.ingestInto(model);
    const int lane = model.laneOfTask(victim.taskId());
    // Cancelling the sleep wakes the task at 3 ms, which ends cancelled in that step.
    QCOMPARE(describe(model, lane),
             QStringLiteral("ready 0+0, running 0+0, awaiting:sleep 0+3, ready 3+0, running 3+0"));
    QCOMPARE(describeMarkers(model, lane), QStringLiteral("created 0, cancelled 3"));
    QCOMPARE(model.lane(lane).status, loopscope::DoneStatus::Cancelled);
    QCOMPARE(model.lane(lane).resultText, QStringLiteral("enough"));
}

void tst_TimelineModel::failingTask()
{
    Fixture f;
    auto task = f.loop.createTask(failsAfter(2ms), QStringLiteral("failing"));
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, f.loop.runUntilComplete(task));
    TimelineModel model;
    f.ingestInto(model);
    const int lane = model.laneOfTask(task.taskId());
    QCOMPARE(describe(model, lane),
             QStringLiteral("ready 0+0, running 0+0, awaiting:sleep 0+2, ready 2+0, running 2+0"));
    QCOMPARE(describeMarkers(model, lane), QStringLiteral("created 0, failed 2"));
    QCOMPARE(model.lane(lane).status, loopscope::DoneStatus::Failed);
    QVERIFY(model.lane(lane).resultText.contains(QLatin1String("boom")));
}

void tst_TimelineModel::executorJob()
{
    Fixture f;
    auto task = f.loop.createTask(offloads(), QStringLiteral("offloader"));
    QCOMPARE(f.loop.runUntilComplete(task), 42);
    TimelineModel model;
    f.ingestInto(model);

    // Lanes: loop, one executor thread, the task.
    QCOMPARE(model.laneCount(), 3);
    QCOMPARE(model.executorLaneCount(), 1);
    QCOMPARE(model.lane(1).kind, LaneKind::Executor);
    QCOMPARE(model.lane(1).name, QStringLiteral("executor 1"));
    QCOMPARE(model.laneOfThread(model.lane(1).id), 1);
    const int lane = model.laneOfTask(task.taskId());
    QCOMPARE(lane, 2);
    // Virtual time does not move while the job runs: everything happens at 0.
    QCOMPARE(describe(model, lane),
             QStringLiteral("ready 0+0, running 0+0, in executor:executor 0+0, ready 0+0, "
                            "running 0+0"));
    const auto &jobs = model.lane(1).segments;
    QCOMPARE(jobs.size(), 1u);
    QCOMPARE(jobs[0].state, SegmentState::Running);
    QVERIFY(!jobs[0].isOpen());
    QVERIFY(jobs[0].realDuration >= 0);
    QCOMPARE(jobs[0].task, task.taskId()); // the executor lane knows who submitted the job
    QCOMPARE(model.taskAt(1, 0), task.taskId());

    // The job's completion woke the task, from the executor thread.
    const auto wakeups = model.wakeups(0, 0);
    QCOMPARE(wakeups.size(), 1u);
    QCOMPARE(wakeups[0].futureKind, FutureKind::Executor);
    QCOMPARE(wakeups[0].sourceThread, model.lane(1).id);
    QCOMPARE(wakeups[0].future, model.lane(lane).segments[2].id);
}

void tst_TimelineModel::loopLaneCallbacksAndIterations()
{
    Fixture f;
    int ran = 0;
    f.loop.callLater(4ms, [&] { ++ran; });
    auto task = f.loop.createTask(sleeper(10ms, 1));
    f.loop.runUntilComplete(task);
    QCOMPARE(ran, 1);
    TimelineModel model;
    f.ingestInto(model);

    // Every callback that ran is a closed Running segment on the loop lane, task steps
    // carrying their task.
    const auto &cbs = model.lane(0).segments;
    QVERIFY(cbs.size() >= 4);
    int steps = 0, timers = 0;
    for (const TimelineSegment &s : cbs) {
        QCOMPARE(s.state, SegmentState::Running);
        QVERIFY(!s.isOpen());
        if (s.handleKind == loopscope::HandleKind::TaskStep) {
            QCOMPARE(s.task, task.taskId());
            ++steps;
        }
        if (s.handleKind == loopscope::HandleKind::CallLater && s.start == 4 * kMs)
            ++timers;
    }
    QCOMPARE(steps, 2);
    QCOMPARE(timers, 1);
    QCOMPARE(model.taskAt(0, 10 * kMs), task.taskId()); // the last step ran at 10 ms
    // Iterations: sorted, closed, numbered upwards.
    const auto its = model.iterations(0, model.latestTime());
    QVERIFY(its.size() >= 3);
    for (std::size_t i = 1; i < its.size(); ++i) {
        QVERIFY(its[i].id > its[i - 1].id);
        QVERIFY(its[i].start >= its[i - 1].end);
    }
}

void tst_TimelineModel::loopPauses()
{
    Fixture f;
    auto task = f.loop.createTask(sleeper(10ms, 1));
    f.loop.callLater(4ms, [&f] {
        f.loop.pause();
        // Qt events keep flowing while the loop is paused: resume from one.
        QTimer::singleShot(0, [&f] { f.loop.resume(); });
    });
    QCOMPARE(f.loop.runUntilComplete(task), 1);
    TimelineModel model;
    f.ingestInto(model);
    const auto pauses = model.pauses(0, model.latestTime());
    QCOMPARE(pauses.size(), 1u);
    // Virtual time stands still while paused: the span is an instant at 4 ms.
    QCOMPARE(pauses[0].start, 4 * kMs);
    QCOMPARE(pauses[0].end, 4 * kMs);
    QCOMPARE(pauses[0].id, std::uint64_t(loopscope::PauseReason::Requested));
    QVERIFY(model.pauses(5 * kMs, 10 * kMs).empty());
    // The task slept through it, undisturbed.
    QCOMPARE(describe(model, 1),
             QStringLiteral(
                     "ready 0+0, running 0+0, awaiting:sleep 0+10, ready 10+0, running 10+0"));
}

void tst_TimelineModel::binarySearchQueries()
{
    // 100 tasks created 10 ms apart, each sleeping 5 ms after a 1 ms ready wait.
    Stream s;
    for (std::uint64_t i = 1; i <= 100; ++i)
        s.task(i, std::int64_t(i) * 10 * kMs, 5 * kMs);
    TraceRecorder strings;
    TimelineModel model;
    model.ingest(s.events, strings);
    QCOMPARE(model.taskLaneCount(), 100);
    QCOMPARE(model.ingestedEvents(), s.events.size());

    const int lane = model.laneOfTask(42);
    QCOMPARE(describe(model, lane),
             QStringLiteral("ready 420+1, running 421+0, awaiting:sleep 421+5, ready 426+0, "
                            "running 426+0"));
    // Before and after its life: nothing.
    QVERIFY(model.segments(lane, 0, 419 * kMs).empty());
    QVERIFY(model.segments(lane, 427 * kMs, 2000 * kMs).empty());
    // Inside the sleep: just the awaiting segment.
    auto mid = model.segments(lane, 422 * kMs, 425 * kMs);
    QCOMPARE(mid.size(), 1u);
    QCOMPARE(mid[0].state, SegmentState::Awaiting);
    // A range touching the boundaries includes the segments meeting at them.
    QCOMPARE(model.segments(lane, 421 * kMs, 421 * kMs).size(), 3u);
    QCOMPARE(model.segments(lane, 0, 10'000 * kMs).size(), 5u);
    QCOMPARE(model.segmentAt(lane, 423 * kMs)->state, SegmentState::Awaiting);
    QCOMPARE(model.segmentAt(lane, 426 * kMs)->state, SegmentState::Running);
    QVERIFY(!model.segmentAt(lane, 500 * kMs));
    QCOMPARE(model.markers(lane, 0, 10'000 * kMs).size(), 2u);
    QCOMPARE(model.markers(lane, 421 * kMs, 425 * kMs).size(), 0u);
    QCOMPARE(model.wakeups(426 * kMs, 426 * kMs).size(), 1u);
    QCOMPARE(model.wakeups(426 * kMs, 426 * kMs)[0].task, 42u);
    QCOMPARE(model.wakeups(0, 10'000 * kMs).size(), 100u);
    QCOMPARE(model.taskAt(lane, 423 * kMs), 42u);
    // Tasks that ran or were ready in [417, 425] ms: 41 ended at 416, 42 was ready at 420;
    // from 407 on, 41 ran (at 411 and 416) but 40's last step (406) is outside.
    QCOMPARE(model.tasksActiveIn(417 * kMs, 425 * kMs), std::vector<std::uint64_t>{ 42 });
    QCOMPARE(model.tasksActiveIn(407 * kMs, 425 * kMs), (std::vector<std::uint64_t>{ 41, 42 }));
}

void tst_TimelineModel::historyCapDropsOldestFinishedTasksFirst()
{
    Stream s;
    // A live task created first, still sleeping at the end.
    s.add(Kind::TaskCreated, 0, 999, 1999);
    s.add(Kind::TaskStepBegin, 0, 999, 0, 1);
    s.add(Kind::TaskStepEnd, 0, 999, 5555, 1).futureKind = FutureKind::Sleep;
    for (std::uint64_t i = 1; i <= 200; ++i)
        s.task(i, std::int64_t(i) * 10 * kMs, 5 * kMs);
    TraceRecorder strings;
    TimelineModel model;
    model.setMaxItems(1000); // 200 tasks x 7 items + the live one's: over
    model.ingest(s.events, strings);
    QVERIFY(model.itemCount() <= 1000);
    QVERIFY(model.droppedTaskLanes() > 0);
    // The survivors are the newest finished tasks, plus the live one (never dropped).
    QVERIFY(model.laneOfTask(999) >= 0);
    QCOMPARE(model.laneOfTask(1), -1);
    QVERIFY(model.laneOfTask(200) >= 0);
    std::uint64_t previous = 0;
    for (int i = 1 + model.executorLaneCount(); i < model.laneCount(); ++i) {
        const auto &l = model.lane(i);
        if (l.id == 999)
            continue;
        QVERIFY(l.id > previous); // still in creation order, a contiguous newest range
        if (previous)
            QCOMPARE(l.id, previous + 1);
        previous = l.id;
        QCOMPARE(model.laneOfTask(l.id), i);
    }
    QCOMPARE(previous, 200u);
    // The live task kept its whole history.
    QCOMPARE(describe(model, model.laneOfTask(999)),
             QStringLiteral("ready 0+0, running 0+0, awaiting:sleep 0+open"));
    // Dropping whole finished tasks was enough: the loop's history is intact.
    QCOMPARE(model.historyStart(), 0);
}

void tst_TimelineModel::historyCapTrimsOldestHistoryOfLiveLanes()
{
    // One live task yielding 10,000 times, 1 ms apart: nothing finished to drop.
    Stream s;
    s.add(Kind::TaskCreated, 0, 1, 2);
    for (int i = 0; i < 10'000; ++i) {
        const std::int64_t t = std::int64_t(i) * kMs;
        s.add(Kind::TaskStepBegin, t, 1, 0, std::uint64_t(i + 1));
        s.add(Kind::HandleScheduled, t, 100 + std::uint64_t(i), 0, 1).handleKind =
                loopscope::HandleKind::TaskStep;
        s.add(Kind::TaskStepEnd, t + kMs / 2, 1, 0, std::uint64_t(i + 1));
    }
    TraceRecorder strings;
    TimelineModel model;
    model.setMaxItems(4000);
    model.ingest(s.events, strings);
    QVERIFY(model.itemCount() <= 4000);
    QVERIFY(model.itemCount() >= 1000);
    QVERIFY(model.historyStart() > 0);
    const int lane = model.laneOfTask(1);
    QVERIFY(lane > 0);
    const auto &segs = model.lane(lane).segments;
    // What is kept is the newest history, still contiguous and sorted.
    QVERIFY(segs.front().end >= model.historyStart());
    QVERIFY(segs.back().isOpen());
    QCOMPARE(segs.back().start, 9999 * kMs + kMs / 2);
    for (std::size_t i = 1; i < segs.size(); ++i)
        QCOMPARE(segs[i].start, segs[i - 1].end);
    // Only the segment reaching across the cutoff is older than it.
    QVERIFY(model.segments(lane, 0, model.historyStart() - 1).size() <= 1);
    for (const TimelineSegment &seg : segs)
        QVERIFY(seg.end >= model.historyStart());
}

void tst_TimelineModel::finishedRetentionHidesLanes()
{
    Stream s;
    for (std::uint64_t i = 1; i <= 10; ++i)
        s.task(i, std::int64_t(i) * 100 * kMs, 5 * kMs); // task i ends at i*100 + 6 ms
    TraceRecorder strings;
    TimelineModel model;
    model.setFinishedRetention(250 * kMs);
    model.ingest(s.events, strings);
    // Latest event: 1006 ms. Tasks that ended before 756 ms are gone (1..7).
    QCOMPARE(model.taskLaneCount(), 3);
    QCOMPARE(model.lane(1).id, 8u);
    QCOMPARE(model.laneOfTask(7), -1);
    QCOMPARE(model.laneOfTask(10), 3);
    QCOMPARE(model.droppedTaskLanes(), 7u);
}

void tst_TimelineModel::sequenceGapClosesSegmentsAsUnknown()
{
    Stream s;
    s.add(Kind::TaskCreated, 0, 1, 11);
    s.add(Kind::TaskStepBegin, 1 * kMs, 1, 0, 1);
    s.add(Kind::TaskStepEnd, 1 * kMs, 1, 77, 1).futureKind = FutureKind::Sleep;
    s.add(Kind::HandleStarted, 2 * kMs, 50);
    s.sequence += 40; // 40 events lost, among them the end of callback 50
    s.add(Kind::HandleStarted, 9 * kMs, 60);
    s.add(Kind::HandleFinished, 9 * kMs, 60);
    s.add(Kind::TaskStepBegin, 10 * kMs, 1, 0, 2);
    s.add(Kind::TaskStepEnd, 10 * kMs, 1, 0, 2);
    s.add(Kind::TaskDone, 10 * kMs, 1, 11);
    TraceRecorder strings;
    TimelineModel model;
    model.ingest(s.events, strings);
    QCOMPARE(model.droppedEvents(), 40u);
    // The task was awaiting at the last event we saw (2 ms); from there on we do not know
    // until its next step begins.
    QCOMPARE(describe(model, 1),
             QStringLiteral("ready 0+1, running 1+0, awaiting:sleep 1+1, unknown 2+8, running "
                            "10+0"));
    // The loop: callback 50 ends where our knowledge ends, the gap is Unknown and marked.
    QCOMPARE(describe(model, 0), QStringLiteral("running 2+0, unknown 2+7, running 9+0"));
    QCOMPARE(describeMarkers(model, 0), QStringLiteral("events dropped 9"));
    QCOMPARE(model.lane(0).markers[0].value, 40);

    // A second batch continuing the sequence is no gap.
    Stream more;
    more.sequence = s.sequence;
    more.add(Kind::HandleStarted, 11 * kMs, 61);
    model.ingest(more.events, strings);
    QCOMPARE(model.droppedEvents(), 40u);
}

void tst_TimelineModel::reconcileEndsTasksWhoseEndWasDropped()
{
    Stream s;
    s.add(Kind::TaskCreated, 0, 1, 11);
    s.add(Kind::TaskCreated, 0, 2, 12);
    s.add(Kind::TaskStepBegin, 1 * kMs, 1, 0, 1);
    s.add(Kind::TaskStepEnd, 1 * kMs, 1, 77, 1).futureKind = FutureKind::Sleep;
    s.sequence += 10; // lost: task 1's wake-up, last step and TaskDone at 4 ms
    s.add(Kind::HandleStarted, 5 * kMs, 60);
    s.sequence += 10; // a second gap: still one Unknown segment per lane
    s.add(Kind::HandleStarted, 6 * kMs, 61);
    TraceRecorder strings;
    TimelineModel model;
    model.ingest(s.events, strings);
    QCOMPARE(describe(model, 1),
             QStringLiteral("ready 0+1, running 1+0, awaiting:sleep 1+0, "
                            "unknown 1+open"));
    QCOMPARE(model.lane(2).segments.back().state, SegmentState::Unknown);

    // The recorder's aggregates know task 1 ended at 4 ms; task 2 is still pending.
    loopscope::TaskStats one;
    one.id = 1;
    one.state = loopscope::TaskStats::State::Failed;
    one.status = loopscope::DoneStatus::Failed;
    one.doneNs = 4 * kMs;
    one.resultText = QStringLiteral("boom");
    loopscope::TaskStats two;
    two.id = 2;
    two.state = loopscope::TaskStats::State::Waiting;
    model.reconcile({ one, two });
    QCOMPARE(describe(model, 1),
             QStringLiteral("ready 0+1, running 1+0, awaiting:sleep 1+0, "
                            "unknown 1+3"));
    QCOMPARE(describeMarkers(model, 1), QStringLiteral("created 0, failed 4"));
    QCOMPARE(model.lane(1).resultText, QStringLiteral("boom"));
    QVERIFY(model.lane(1).isDone());
    QVERIFY(!model.lane(2).isDone());
    QVERIFY(model.lane(2).segments.back().isOpen());
}

void tst_TimelineModel::slowCallbackMarks()
{
    Stream s;
    s.add(Kind::TaskCreated, 0, 1, 11);
    s.add(Kind::HandleStarted, 1 * kMs, 5, 0, 1).handleKind = loopscope::HandleKind::TaskStep;
    s.add(Kind::TaskStepBegin, 1 * kMs, 1, 0, 1);
    s.add(Kind::TaskStepEnd, 1 * kMs, 1, 0, 1);
    auto &fin = s.add(Kind::HandleFinished, 1 * kMs, 5, 0, 1);
    fin.handleKind = loopscope::HandleKind::TaskStep;
    fin.duration = 150 * kMs;
    s.add(Kind::HandleStarted, 2 * kMs, 6);
    s.add(Kind::HandleFinished, 2 * kMs, 6).duration = 20 * kMs;
    TraceRecorder strings;
    TimelineModel model;
    model.ingest(s.events, strings);
    QCOMPARE(describeMarkers(model, 0), QStringLiteral("slow callback 1"));
    QCOMPARE(model.lane(0).markers[0].value, 150 * kMs);
    QCOMPARE(model.lane(0).segments[0].realDuration, 150 * kMs);
    QCOMPARE(describeMarkers(model, 1), QStringLiteral("created 0, slow callback 1"));

    TimelineModel strict;
    strict.setSlowCallbackThreshold(10 * kMs);
    strict.ingest(s.events, strings);
    QCOMPARE(describeMarkers(strict, 0), QStringLiteral("slow callback 1, slow callback 2"));
}

void tst_TimelineModel::ingestWithResolvedStrings()
{
    // What the visualizer's tick hands over: strings resolved on the loop side already.
    Stream s;
    auto &created = s.add(Kind::TaskCreated, 0, 1, 11);
    created.text = 5;
    created.location = 6;
    auto &done = s.add(Kind::TaskDone, 2 * kMs, 1, 11);
    done.text = 7;
    done.status = loopscope::DoneStatus::Failed;
    TimelineModel model;
    std::vector<std::uint32_t> asked;
    model.ingest(s.events, [&asked](std::uint32_t index) {
        asked.push_back(index);
        return QStringLiteral("s%1").arg(index);
    });
    QCOMPARE(model.lane(1).name, QStringLiteral("s5"));
    QCOMPARE(model.lane(1).location, QStringLiteral("s6"));
    QCOMPARE(model.lane(1).resultText, QStringLiteral("s7"));
    QCOMPARE(asked, (std::vector<std::uint32_t>{ 5, 6, 7 })); // never index 0
    QCOMPARE(describeMarkers(model, 1), QStringLiteral("created 0, failed 2"));
}

QTEST_GUILESS_MAIN(tst_TimelineModel)
#include "tst_timelinemodel.moc"
