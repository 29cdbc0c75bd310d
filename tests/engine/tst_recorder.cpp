// TraceRecorder: the bounded ring and its drop counter, the bounded string table, draining
// from another thread, the per-task and per-loop aggregates, and the lints.

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>

#include <QTest>

#include <atomic>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::Duration;
using loopscope::EventLoop;
using loopscope::LintKind;
using loopscope::RecordedEvent;
using loopscope::RecorderOptions;
using loopscope::TaskStats;
using loopscope::TraceRecorder;
using Kind = loopscope::TraceEventKind;
using State = TaskStats::State;

namespace {

constexpr Duration kNever = Duration::max();

//! A recorder attached to a loop on a virtual clock. The recorder is declared first so it
//! outlives the loop: close() in ~EventLoop still reports to it.
struct Fixture
{
    explicit Fixture(RecorderOptions options = {}, bool autoAdvance = true)
        : clock(std::make_shared<loopscope::VirtualClock>(autoAdvance)), rec(options), loop(clock)
    {
        loop.addObserver(&rec);
        // The recorder notes what it needs; nothing else is printed.
        loop.setExceptionHandler(rec.exceptionHandler([](const loopscope::ExceptionContext &) {}));
    }
    std::shared_ptr<loopscope::VirtualClock> clock;
    TraceRecorder rec;
    EventLoop loop;
};

RecorderOptions quietOptions()
{
    // Timing lints only when a test asks: real durations are not deterministic.
    RecorderOptions o;
    o.slowCallbackThreshold = kNever;
    o.blockedLoopThreshold = kNever;
    return o;
}

Coro<int> sleeper(Duration d, int v)
{
    co_await loopscope::sleep(d);
    co_return v;
}

Coro<void> failing(const char *what)
{
    co_await loopscope::sleep(0s);
    throw std::runtime_error(what);
}

std::int64_t ns(Duration d)
{
    return d.count();
}

std::vector<loopscope::Lint> lintsOf(const TraceRecorder &rec, LintKind kind)
{
    std::vector<loopscope::Lint> out;
    for (const auto &l : rec.lints())
        if (l.kind == kind)
            out.push_back(l);
    return out;
}

//! Runs \a count no-op callbacks (three events each) and returns once they ran.
void runCallbacks(EventLoop &loop, int count)
{
    for (int i = 0; i < count; ++i)
        loop.callSoon([] {});
    loop.callSoon([&loop] { loop.stop(); });
    loop.runForever();
}

} // namespace

class tst_Recorder : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void histogramBucketsAndQuantiles();
    void ringKeepsItsCapacityAndCountsDrops();
    void drainReturnsOnlyNewEvents();
    void stringsAreInternedOnce();
    void stringTableStaysBounded();
    void unnamedTasksTakeNoStringSlot();
    void crossThreadDrainSeesNoTornEvents();
    void taskTimesUnderVirtualClock();
    void taskStatesWhileRunning();
    void aYieldLeavesTheTaskScheduledFromTheYield();
    void failedAndCancelledTasks();
    void recorderAttachedMidTaskTracksIt();
    void liveTasksListedInIdOrderWhateverOrderTheyAppeared();
    void moreLiveTasksThanTheFiguresTableHoldsAreAllTracked();
    void finishedTasksRetainedUpToLimit();
    void tasksChangedSinceReportsEachChangeOnce();
    void loopAggregates();
    void aggregatesCountEveryEventThoughTheRingOverflows();
    void aggregatesAreUpToDateForAnotherThreadWhileACallbackRuns();
    void taskFiguresReadFromAnotherThreadAreNeverTorn();
    void recorderSeesWhatOtherObserversSee();
    void twoRecordersOnOneLoopRecordTheSame();
    void activityShowsTheRunningCallbackHoweverTheRecorderIsFed();
    void lintExceptionNeverRetrieved();
    void lintDestroyedPending();
    void lintSlowCallbackAndBlockedLoop();
    void lintBusyPolling();
    void lintUnawaitedFuture();
    void lintTimerDrift();
    void lintsAreBoundedButCounted();
    void cleanScenarioHasNoLints();
    void unrelatedExceptionsAreIgnored();
    void eventsReplaceTheExceptionHandler();
};

void tst_Recorder::histogramBucketsAndQuantiles()
{
    using H = loopscope::DurationHistogram;
    for (int i = 0; i < H::kBucketCount - 1; ++i) {
        QCOMPARE(H::bucketFor(H::bucketLowerBound(i)), i);
        QCOMPARE(H::bucketFor(H::bucketUpperBound(i) - 1ns), i);
        QVERIFY(H::bucketUpperBound(i) > H::bucketLowerBound(i));
    }
    QCOMPARE(H::bucketFor(Duration(std::numeric_limits<Duration::rep>::max())),
             H::kBucketCount - 1);
    QCOMPARE(H::bucketFor(-5ns), 0);

    H h;
    QCOMPARE(h.quantile(0.99), Duration::zero());
    for (int i = 1; i <= 100; ++i)
        h.add(std::chrono::microseconds(i));
    QCOMPARE(h.count(), 100u);
    QCOMPARE(h.max(), Duration(100us));
    QCOMPARE(h.mean(), Duration(50500ns));
    // p99 is the 99th value (99 us), reported as its bucket's upper bound: >= and <= +25%.
    QVERIFY(h.quantile(0.99) >= 99us);
    QVERIFY(ns(h.quantile(0.99)) <= ns(99us) * 5 / 4);
    QCOMPARE(h.quantile(1.0), Duration(100us));
    std::uint64_t total = 0;
    for (int i = 0; i < H::kBucketCount; ++i)
        total += h.bucket(i);
    QCOMPARE(total, 100u);
}

void tst_Recorder::ringKeepsItsCapacityAndCountsDrops()
{
    RecorderOptions o = quietOptions();
    o.capacity = 1000; // rounded up to 1024
    Fixture f(o);
    QCOMPARE(f.rec.capacity(), 1024u);
    runCallbacks(f.loop, 2000);
    const std::uint64_t produced = f.rec.producedEvents();
    QVERIFY(produced > 6000);

    // Nobody drained: the ring holds the newest 1024 and the rest count as dropped.
    const auto snap = f.rec.snapshot();
    QCOMPARE(snap.size(), 1024u);
    QCOMPARE(snap.back().sequence, produced - 1);
    for (std::size_t i = 1; i < snap.size(); ++i)
        QCOMPARE(snap[i].sequence, snap[i - 1].sequence + 1);
    QCOMPARE(f.rec.droppedEvents(), produced - 1024);

    std::vector<RecordedEvent> got;
    QCOMPARE(f.rec.drain(got), 1024u);
    QCOMPARE(got.front().sequence, produced - 1024);
    QCOMPARE(got.size() + f.rec.droppedEvents(), produced);
    QCOMPARE(f.rec.drain(got), 0u); // nothing new
    QCOMPARE(got.size() + f.rec.droppedEvents(), produced);

    // The ring's memory is fixed: recording more never grows it.
    runCallbacks(f.loop, 5000);
    QCOMPARE(f.rec.snapshot().size(), 1024u);
}

void tst_Recorder::drainReturnsOnlyNewEvents()
{
    Fixture f(quietOptions());
    runCallbacks(f.loop, 10);
    std::vector<RecordedEvent> got;
    const std::size_t first = f.rec.drain(got);
    QVERIFY(first > 30);
    QCOMPARE(got.front().sequence, 0u);
    runCallbacks(f.loop, 10);
    const std::size_t second = f.rec.drain(got);
    QVERIFY(second > 30);
    QCOMPARE(got.size(), std::size_t(f.rec.producedEvents()));
    for (std::size_t i = 0; i < got.size(); ++i)
        QCOMPARE(got[i].sequence, std::uint64_t(i));
    QCOMPARE(f.rec.droppedEvents(), 0u);
    // The fields come back as the loop reported them.
    int scheduled = 0;
    for (const RecordedEvent &e : got) {
        if (e.kind != Kind::HandleScheduled)
            continue;
        ++scheduled;
        QCOMPARE(e.handleKind, loopscope::HandleKind::CallSoon);
        QVERIFY2(f.rec.stringAt(e.location).startsWith(QStringLiteral("tst_recorder.cpp:")),
                 qPrintable(f.rec.stringAt(e.location)));
    }
    QCOMPARE(scheduled, 22);
}

void tst_Recorder::stringsAreInternedOnce()
{
    Fixture f(quietOptions());
    runCallbacks(f.loop, 500); // 500 callbacks from one site, one for stop()
    QCOMPARE(f.rec.stringCount(), 2u);
    const auto events = f.rec.snapshot();
    std::uint32_t index = 0;
    for (const RecordedEvent &e : events)
        if (e.kind == Kind::HandleScheduled && !index)
            index = e.location;
    QVERIFY(index != 0);
    int same = 0;
    for (const RecordedEvent &e : events)
        same += e.kind == Kind::HandleScheduled && e.location == index ? 1 : 0;
    QCOMPARE(same, 500);
}

void tst_Recorder::stringTableStaysBounded()
{
    RecorderOptions o = quietOptions();
    o.capacity = 256;
    o.stringCapacity = 64;
    o.maxStringLength = 40;
    Fixture f(o);
    std::map<std::uint64_t, QString> names; // task id -> name
    auto spawner = [&]() -> Coro<void> {
        for (int i = 0; i < 3000; ++i) {
            const QString name = QStringLiteral("job-%1").arg(i);
            auto t = f.loop.createTask(sleeper(0s, i), name);
            names[t.taskId()] = name;
            co_await t;
        }
    };
    // An early event's string index, to resolve after it is long out of the ring.
    f.loop.runUntilComplete(sleeper(0s, 0)); // nothing to name yet
    std::vector<RecordedEvent> early;
    auto first = f.loop.createTask(sleeper(0s, 1), QStringLiteral("the-first-task"));
    f.loop.runUntilComplete(first);
    f.rec.drain(early);
    std::uint32_t firstName = 0;
    for (const RecordedEvent &e : early)
        if (e.kind == Kind::TaskCreated && e.id == first.taskId())
            firstName = e.text;
    QVERIFY(firstName != 0);
    QCOMPARE(f.rec.stringAt(firstName), QStringLiteral("the-first-task"));

    f.loop.runUntilComplete(f.loop.createTask(spawner(), QStringLiteral("spawner")));
    QVERIFY(f.rec.stringCount() <= 64);
    // The slot was reused by now: the old index must not resolve to another string.
    QCOMPARE(f.rec.stringAt(firstName), QString());

    // Every name still referenced by the ring resolves to exactly that task's name.
    int resolved = 0;
    for (const RecordedEvent &e : f.rec.snapshot()) {
        if (e.kind != Kind::TaskCreated || !e.text)
            continue;
        const QString s = f.rec.stringAt(e.text);
        QCOMPARE(s, names[e.id]);
        ++resolved;
    }
    QVERIFY(resolved > 0);

    // Long strings are cut: a failure text longer than maxStringLength.
    auto longFailure = [&]() -> Coro<void> {
        co_await loopscope::sleep(0s);
        throw std::runtime_error(std::string(500, 'x'));
    };
    auto t = f.loop.createTask(longFailure());
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, f.loop.runUntilComplete(t));
    bool sawDone = false;
    for (const RecordedEvent &e : f.rec.snapshot()) {
        if (e.kind == Kind::TaskDone && e.id == t.taskId()) {
            sawDone = true;
            QCOMPARE(f.rec.stringAt(e.text).size(), 40);
        }
    }
    QVERIFY(sawDone);
}

void tst_Recorder::unnamedTasksTakeNoStringSlot()
{
    RecorderOptions o = quietOptions();
    o.stringCapacity = 16; // far fewer than the tasks
    Fixture f(o);
    std::vector<loopscope::Task<int>> tasks;
    for (int i = 0; i < 200; ++i)
        tasks.push_back(f.loop.createTask(sleeper(0s, i)));
    // Named like an unnamed task, but another task's name: an ordinary string.
    auto impostor = f.loop.createTask(sleeper(0s, -1), QStringLiteral("Task-1"));
    auto same = f.loop.createTask(sleeper(0s, -2));
    same.setName(QStringLiteral("Task-%1").arg(same.taskId())); // its own default name
    f.loop.runUntilComplete(impostor);
    f.loop.runUntilComplete(same);
    for (auto &t : tasks)
        f.loop.runUntilComplete(t);
    QCOMPARE(f.rec.droppedStrings(), std::uint64_t(0));
    // The creation sites, "Task-1" and the rename. Before, each unnamed task's name took a
    // slot, and with 16 slots 1,009 strings were dropped.
    QVERIFY(f.rec.stringCount() <= 8);
    std::map<std::uint64_t, QString> names;
    for (const RecordedEvent &e : f.rec.snapshot())
        if (e.kind == Kind::TaskCreated)
            names[e.id] = f.rec.stringAt(e.text);
    QCOMPARE(names.size(), std::size_t(202));
    for (const auto &t : tasks) {
        QCOMPARE(names[t.taskId()], QStringLiteral("Task-%1").arg(t.taskId()));
        QCOMPARE(f.rec.task(t.taskId())->name, QStringLiteral("Task-%1").arg(t.taskId()));
    }
    QCOMPARE(names[impostor.taskId()], QStringLiteral("Task-1"));
    QCOMPARE(names[same.taskId()], QStringLiteral("Task-%1").arg(same.taskId()));
    // The Chrome export resolves them the same way.
    const QByteArray json = f.rec.chromeTraceJson();
    QVERIFY(json.contains(QStringLiteral("Task-%1").arg(tasks.back().taskId()).toUtf8()));
}

void tst_Recorder::crossThreadDrainSeesNoTornEvents()
{
    // The one test on the real clock: a GUI-like thread drains while the loop records.
    RecorderOptions o;
    o.capacity = 4096;
    TraceRecorder rec(o);
    EventLoop loop;
    loop.addObserver(&rec);

    std::atomic<bool> done{ false };
    std::uint64_t received = 0;
    std::uint64_t gaps = 0;
    std::uint64_t problems = 0;
    QString firstProblem;
    std::thread drainer([&] {
        std::vector<RecordedEvent> batch;
        std::int64_t lastSeq = -1;
        std::int64_t lastTime = std::numeric_limits<std::int64_t>::min();
        std::uint64_t lastScheduled = 0;
        std::uint64_t lastIteration = 0;
        std::uint64_t openHandle = 0; // HandleStarted seen, its HandleFinished not yet
        auto problem = [&](const QString &what) {
            if (!problems++)
                firstProblem = what;
        };
        auto take = [&] {
            batch.clear();
            rec.drain(batch);
            for (const RecordedEvent &e : batch) {
                const auto seq = std::int64_t(e.sequence);
                if (seq <= lastSeq)
                    problem(QStringLiteral("sequence went back at %1").arg(seq));
                if (seq != lastSeq + 1)
                    openHandle = 0; // something was dropped in between
                gaps += std::uint64_t(seq - lastSeq - 1);
                lastSeq = seq;
                if (e.time < lastTime)
                    problem(QStringLiteral("time went back at %1").arg(seq));
                lastTime = e.time;
                switch (e.kind) {
                case Kind::HandleScheduled:
                    if (e.id <= lastScheduled || e.handleKind != loopscope::HandleKind::CallSoon
                        || e.aux != 0)
                        problem(QStringLiteral("bad HandleScheduled at %1").arg(seq));
                    lastScheduled = e.id;
                    break;
                case Kind::HandleStarted:
                    openHandle = e.id;
                    break;
                case Kind::HandleFinished:
                    if (openHandle && openHandle != e.id)
                        problem(QStringLiteral("HandleFinished %1 inside handle %2")
                                        .arg(e.id)
                                        .arg(openHandle));
                    openHandle = 0;
                    break;
                case Kind::IterationBegin:
                    if (e.id <= lastIteration)
                        problem(QStringLiteral("iteration went back at %1").arg(seq));
                    lastIteration = e.id;
                    break;
                case Kind::IterationEnd:
                    break;
                default:
                    problem(QStringLiteral("unexpected kind %1 at %2").arg(int(e.kind)).arg(seq));
                }
            }
            received += batch.size();
        };
        while (!done.load(std::memory_order_acquire)) {
            take();
            // What the GUI also reads at its tick; must not disturb the loop thread.
            (void)rec.loopStats();
            if (rec.snapshot().size() > rec.capacity())
                problem(QStringLiteral("snapshot larger than the ring"));
        }
        take(); // the loop stopped: what is left is all readable
    });

    constexpr int kBatches = 100;
    constexpr int kPerBatch = 800;
    int batches = 0;
    std::function<void()> batch = [&] {
        for (int i = 0; i < kPerBatch; ++i)
            loop.callSoon([] {});
        if (++batches < kBatches)
            loop.callSoon(batch);
        else
            loop.callSoon([&] { loop.stop(); });
    };
    loop.callSoon(batch);
    loop.runForever();
    loop.removeObserver(&rec);
    done.store(true, std::memory_order_release);
    drainer.join();

    QVERIFY2(problems == 0, qPrintable(firstProblem));
    const std::uint64_t produced = rec.producedEvents();
    QVERIFY2(produced >= 200000, qPrintable(QString::number(produced)));
    QCOMPARE(received + rec.droppedEvents(), produced);
    QCOMPARE(gaps, rec.droppedEvents());
    qInfo("produced %llu, received %llu, dropped %llu", qulonglong(produced), qulonglong(received),
          qulonglong(rec.droppedEvents()));
}

void tst_Recorder::taskTimesUnderVirtualClock()
{
    Fixture f(quietOptions());
    auto worker = [&]() -> Coro<int> {
        co_await loopscope::sleep(1s);
        co_await loopscope::sleep(0s);
        co_await loopscope::sleep(2s);
        co_return 1;
    };
    // Runs first in the first iteration and moves time on while the worker's first step
    // waits in the ready queue behind it: 500 ms of scheduled time and first-step delay.
    f.loop.callSoon([&] { f.clock->advance(500ms); });
    auto task = f.loop.createTask(worker(), QStringLiteral("worker"));
    QCOMPARE(f.loop.runUntilComplete(task), 1);

    const auto s = f.rec.task(task.taskId());
    QVERIFY(s.has_value());
    QCOMPARE(s->name, QStringLiteral("worker"));
    QCOMPARE(s->futureId, task.id());
    QCOMPARE(s->parent, 0u);
    QVERIFY2(s->location.startsWith(QStringLiteral("tst_recorder.cpp:")), qPrintable(s->location));
    QCOMPARE(s->state, State::Finished);
    QCOMPARE(s->status, loopscope::DoneStatus::Finished);
    QCOMPARE(s->steps, 4u); // start, after 1 s, after the yield, after 2 s
    QCOMPARE(s->yields, 1u);
    QCOMPARE(s->waits, 2u);
    QCOMPARE(s->createdNs, 0);
    QCOMPARE(s->firstStepNs, ns(500ms));
    QCOMPARE(s->firstStepDelay, Duration(500ms));
    QCOMPARE(s->scheduled, Duration(500ms));
    QCOMPARE(s->waiting, Duration(3s));
    QCOMPARE(s->doneNs, ns(3500ms));
    QVERIFY(s->busy > Duration::zero()); // real time of four steps
    QVERIFY(s->resultText.isEmpty());
}

void tst_Recorder::taskStatesWhileRunning()
{
    Fixture f(quietOptions());
    std::uint64_t childId = 0;
    std::uint64_t childFuture = 0;
    State selfState = State::Created;
    auto parent = [&]() -> Coro<int> {
        auto child = f.loop.createTask(sleeper(5s, 2), QStringLiteral("child"));
        childId = child.taskId();
        childFuture = child.id();
        selfState = f.rec.task(loopscope::currentTask().id())->state;
        co_return co_await child;
    };
    auto p = f.loop.createTask(parent(), QStringLiteral("parent"));
    std::optional<TaskStats> parentAt1s, childAt1s, freshAt1s;
    f.loop.callLater(1s, [&] {
        parentAt1s = f.rec.task(p.taskId());
        childAt1s = f.rec.task(childId);
        auto fresh = f.loop.createTask(sleeper(0s, 0), QStringLiteral("fresh"));
        freshAt1s = f.rec.task(fresh.taskId());
    });
    QCOMPARE(f.loop.runUntilComplete(p), 2);

    QCOMPARE(selfState, State::Running);
    QVERIFY(parentAt1s && childAt1s && freshAt1s);
    QCOMPARE(parentAt1s->state, State::Waiting);
    QCOMPARE(parentAt1s->waitingOn, childFuture);
    QCOMPARE(parentAt1s->waitingOnKind, loopscope::FutureKind::Task);
    QCOMPARE(childAt1s->state, State::Waiting);
    QCOMPARE(childAt1s->waitingOnKind, loopscope::FutureKind::Sleep);
    QVERIFY(childAt1s->waitingOn != 0);
    QCOMPARE(childAt1s->parent, p.taskId());
    QCOMPARE(freshAt1s->state, State::Scheduled);
    QCOMPARE(freshAt1s->steps, 0u);

    // The parent waited for its child from 0 s to 5 s.
    QCOMPARE(f.rec.task(p.taskId())->waiting, Duration(5s));
    QCOMPARE(f.rec.task(childId)->waiting, Duration(5s));
}

void tst_Recorder::aYieldLeavesTheTaskScheduledFromTheYield()
{
    // A step that schedules its own task's next step (sleep(0)) leaves the task Scheduled
    // from then, not Waiting: time until its next step counts as scheduled. Another task's
    // step waking it instead goes through the task's figures (Waiting -> Scheduled).
    Fixture f(quietOptions());
    std::optional<TaskStats> seenBetween;
    std::uint64_t selfId = 0;
    auto worker = [&]() -> Coro<int> {
        selfId = loopscope::currentTask().id();
        // Queued ahead of this task's next step: runs between the two, 300 ms long.
        f.loop.callSoon([&] {
            seenBetween = f.rec.task(selfId);
            f.clock->advance(300ms);
        });
        co_await loopscope::sleep(0s);
        co_return 5;
    };
    auto task = f.loop.createTask(worker());
    QCOMPARE(f.loop.runUntilComplete(task), 5);
    QVERIFY(seenBetween.has_value());
    QCOMPARE(seenBetween->state, State::Scheduled);
    QCOMPARE(seenBetween->stateSinceNs, 0); // from the yield
    const auto s = f.rec.task(task.taskId());
    QVERIFY(s.has_value());
    QCOMPARE(s->steps, 2u);
    QCOMPARE(s->yields, 1u);
    QCOMPARE(s->scheduled, Duration(300ms));
    QCOMPARE(s->waiting, Duration::zero());
}

void tst_Recorder::failedAndCancelledTasks()
{
    Fixture f(quietOptions());
    auto bad = f.loop.createTask(failing("kaboom"), QStringLiteral("bad"));
    auto sleepy = f.loop.createTask(sleeper(10s, 0), QStringLiteral("sleepy"));
    f.loop.callLater(1s, [&] { sleepy.cancel("stop it"); });
    QVERIFY_THROWS_EXCEPTION(std::runtime_error, f.loop.runUntilComplete(bad));
    QVERIFY_THROWS_EXCEPTION(loopscope::CancelledError, f.loop.runUntilComplete(sleepy));

    const auto b = f.rec.task(bad.taskId());
    QCOMPARE(b->state, State::Failed);
    QCOMPARE(b->status, loopscope::DoneStatus::Failed);
    QVERIFY2(b->resultText.contains(QStringLiteral("kaboom")), qPrintable(b->resultText));
    const auto s = f.rec.task(sleepy.taskId());
    QCOMPARE(s->state, State::Cancelled);
    QCOMPARE(s->resultText, QStringLiteral("stop it"));
    QCOMPARE(s->waiting, Duration(1s));
    QCOMPARE(s->doneNs, ns(1s));

    // Cancelled before its first step: never ran, only ever scheduled.
    auto never = f.loop.createTask(sleeper(1s, 0), QStringLiteral("never"));
    never.cancel();
    QVERIFY_THROWS_EXCEPTION(loopscope::CancelledError, f.loop.runUntilComplete(never));
    const auto n = f.rec.task(never.taskId());
    QCOMPARE(n->state, State::Cancelled);
    QCOMPARE(n->steps, 0u);
    QCOMPARE(n->firstStepNs, -1);

    const auto loop = f.rec.loopStats();
    QCOMPARE(loop.tasksFailed, 1u);
    QCOMPARE(loop.tasksCancelled, 2u);
    QCOMPARE(loop.liveTasks, 0u);
}

void tst_Recorder::recorderAttachedMidTaskTracksIt()
{
    auto clock = std::make_shared<loopscope::VirtualClock>();
    TraceRecorder rec(quietOptions());
    EventLoop loop(clock);
    auto task = loop.createTask(sleeper(1s, 3), QStringLiteral("early"));
    loop.runUntilComplete(sleeper(500ms, 0)); // the task now waits on its sleep
    loop.addObserver(&rec);
    QCOMPARE(loop.runUntilComplete(task), 3);
    const auto s = rec.task(task.taskId());
    QVERIFY(s.has_value());
    QCOMPARE(s->state, State::Finished);
    QCOMPARE(s->steps, 2u); // the step number the loop reported
    loop.removeObserver(&rec);
}

void tst_Recorder::liveTasksListedInIdOrderWhateverOrderTheyAppeared()
{
    // Attached late, the recorder meets tasks at their next step: here in reverse id order
    // (later ids wake first), after tasks created since. Some end in between; tasks() still
    // lists the live ones by id, then the finished ones.
    auto clock = std::make_shared<loopscope::VirtualClock>();
    TraceRecorder rec(quietOptions());
    EventLoop loop(clock);
    const auto twoSleeps = [](Duration first) -> Coro<int> {
        co_await loopscope::sleep(first);
        co_await loopscope::sleep(1000ms);
        co_return 0;
    };
    std::vector<loopscope::Task<int>> early;
    for (int i = 0; i < 6; ++i) // task i wakes at 60 - 10 i ms: the last created first
        early.push_back(loop.createTask(twoSleeps(std::chrono::milliseconds(60 - 10 * i))));
    loop.runUntilComplete(sleeper(1ms, 0));
    loop.addObserver(&rec);
    std::vector<loopscope::Task<int>> late;
    for (int i = 0; i < 6; ++i) // 10, 50, 90 ms: end early; the others stay
        late.push_back(loop.createTask(
                sleeper(i % 2 ? 1000ms : std::chrono::milliseconds(10 + 20 * i), i)));
    loop.runUntilComplete(sleeper(100ms, 0));
    std::vector<std::uint64_t> expected;
    for (const auto &t : early)
        expected.push_back(t.taskId());
    for (int i : { 1, 3, 5 })
        expected.push_back(late[std::size_t(i)].taskId());
    std::sort(expected.begin(), expected.end());
    const auto liveIds = [&rec] {
        std::vector<std::uint64_t> ids;
        for (const TaskStats &t : rec.tasks())
            if (!t.isDone())
                ids.push_back(t.id);
        return ids;
    };
    QCOMPARE(liveIds(), expected);
    // More come and go: still in order.
    auto extra = loop.createTask(sleeper(1ms, 7));
    loop.runUntilComplete(extra);
    QCOMPARE(liveIds(), expected);
    for (auto &t : early)
        t.cancel();
    loop.runUntilComplete(sleeper(1ms, 0));
    loop.removeObserver(&rec);
}

void tst_Recorder::moreLiveTasksThanTheFiguresTableHoldsAreAllTracked()
{
    // The recorder keeps the tasks' step figures in a table indexed by task id, which grows
    // with the live tasks up to 16,384 places; a task whose place is taken keeps its own.
    // 20,000 tasks are started 2,000 at a time while the earlier ones still step (the table
    // grows under them), then all step on together, with ids 16,384 apart sharing a place.
    constexpr int kTasks = 20'000;
    constexpr int kWave = 2'000;
    constexpr int kYields = 16; // more than the waves: the first tasks still step at the end
    RecorderOptions o = quietOptions();
    o.retainedFinishedTasks = kTasks + 1; // and the spawner
    TraceRecorder rec(o);
    EventLoop loop;
    loop.addObserver(&rec);
    std::vector<loopscope::Task<void>> tasks;
    std::uint64_t liveMidway = 0;
    auto yielder = [](int yields) -> Coro<void> {
        for (int i = 0; i < yields; ++i)
            co_await loopscope::sleep(0s);
    };
    auto spawner = [&]() -> Coro<void> {
        for (int wave = 0; wave < kTasks / kWave; ++wave) {
            for (int i = 0; i < kWave; ++i)
                tasks.push_back(loop.createTask(yielder(kYields + wave)));
            co_await loopscope::sleep(0s);
        }
        liveMidway = rec.loopStats().liveTasks;
        for (auto &t : tasks)
            co_await t;
    };
    loop.runUntilComplete(loop.createTask(spawner()));
    QCOMPARE(liveMidway, std::uint64_t(kTasks + 1)); // and the spawner
    QCOMPARE(rec.loopStats().untrackedTasks, std::uint64_t(0));
    std::map<std::uint64_t, TaskStats> byId;
    for (const TaskStats &t : rec.tasks())
        byId[t.id] = t;
    for (int i = 0; i < kTasks; ++i) {
        const auto it = byId.find(tasks[std::size_t(i)].taskId());
        QVERIFY(it != byId.end());
        const TaskStats &t = it->second;
        const auto yields = std::uint64_t(kYields + i / kWave);
        QCOMPARE(t.state, State::Finished);
        QCOMPARE(t.yields, yields);
        QCOMPARE(t.steps, yields + 1);
        QCOMPARE(t.waits, std::uint64_t(0));
        QVERIFY(t.firstStepNs >= t.createdNs);
        QVERIFY(t.busy >= Duration::zero());
    }
    loop.removeObserver(&rec);
}

void tst_Recorder::finishedTasksRetainedUpToLimit()
{
    RecorderOptions o = quietOptions();
    o.retainedFinishedTasks = 5;
    Fixture f(o);
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 20; ++i) {
        auto t = f.loop.createTask(sleeper(1ms * i, i));
        ids.push_back(t.taskId());
        f.loop.runUntilComplete(t);
    }
    const auto all = f.rec.tasks();
    QCOMPARE(all.size(), 5u);
    for (std::size_t i = 0; i < 5; ++i)
        QCOMPARE(all[i].id, ids[15 + i]);
    QVERIFY(!f.rec.task(ids.front()).has_value());
    QCOMPARE(f.rec.loopStats().tasksCreated, 20u);
}

void tst_Recorder::tasksChangedSinceReportsEachChangeOnce()
{
    RecorderOptions o = quietOptions();
    o.retainedFinishedTasks = 3;
    Fixture f(o);
    std::vector<loopscope::Task<int>> tasks;
    for (int i = 0; i < 6; ++i)
        tasks.push_back(f.loop.createTask(sleeper(1s * (i + 1), i)));
    std::uint64_t version = 0;
    // From 0: every tracked task, as tasks() lists them.
    std::vector<TaskStats> changed = f.rec.tasksChangedSince(version);
    QCOMPARE(changed.size(), 6u);
    QCOMPARE(changed.front().id, tasks.front().taskId());
    QVERIFY(version > 0);
    // Nothing happened: nothing to report, and the version stays.
    const std::uint64_t same = version;
    QVERIFY(f.rec.tasksChangedSince(version).empty());
    QCOMPARE(version, same);

    // One iteration: every task's first step ran (each now sleeps).
    f.loop.callSoon([&] { f.loop.stop(); });
    f.loop.runForever();
    changed = f.rec.tasksChangedSince(version);
    QCOMPARE(changed.size(), 6u);
    for (const TaskStats &t : changed)
        QCOMPARE(int(t.state), int(TaskStats::State::Waiting));

    // The first task ends: only it is reported, done, among the finished ones.
    f.loop.runUntilComplete(tasks[0]);
    changed = f.rec.tasksChangedSince(version);
    QCOMPARE(changed.size(), 1u);
    QCOMPARE(changed[0].id, tasks[0].taskId());
    QCOMPARE(int(changed[0].state), int(TaskStats::State::Finished));
    QVERIFY(f.rec.tasksChangedSince(version).empty());

    // Four more end; the recorder keeps three finished tasks: the first two to end are
    // forgotten (one of them never reported), the other three reported once each, in the
    // order they ended.
    f.loop.runUntilComplete(tasks[4]);
    changed = f.rec.tasksChangedSince(version);
    QCOMPARE(changed.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        QCOMPARE(changed[i].id, tasks[2 + i].taskId());
        QVERIFY(changed[i].isDone());
    }
    // A reader that starts late (0) gets the same as tasks().
    std::uint64_t late = 0;
    const std::vector<TaskStats> all = f.rec.tasksChangedSince(late);
    const std::vector<TaskStats> listed = f.rec.tasks();
    QCOMPARE(all.size(), listed.size());
    for (std::size_t i = 0; i < all.size(); ++i)
        QCOMPARE(all[i].id, listed[i].id);
    QCOMPARE(late, version);
    f.loop.runUntilComplete(tasks[5]);
}

Coro<void> yieldTimes(int n)
{
    for (int i = 0; i < n; ++i)
        co_await loopscope::sleep(Duration::zero());
}

void tst_Recorder::aggregatesCountEveryEventThoughTheRingOverflows()
{
    // The aggregates count every event, whatever the ring keeps: a 16-event ring that
    // overflows a thousand times over must not cost a step, asked on the loop's thread or
    // on another one alike.
    RecorderOptions o = quietOptions();
    o.capacity = 16;
    Fixture f(o);
    constexpr int kTasks = 50;
    constexpr int kYields = 40;
    std::vector<loopscope::Task<void>> tasks;
    for (int i = 0; i < kTasks; ++i)
        tasks.push_back(f.loop.createTask(yieldTimes(kYields)));
    for (auto &task : tasks)
        f.loop.runUntilComplete(task);
    QVERIFY(f.rec.droppedEvents() > 10'000);
    loopscope::LoopStats fromOtherThread;
    std::thread reader([&] { fromOtherThread = f.rec.loopStats(); });
    reader.join();
    const auto s = f.rec.loopStats();
    for (const auto &stats : { fromOtherThread, s }) {
        QCOMPARE(stats.taskSteps, std::uint64_t(kTasks * (kYields + 1)));
        QCOMPARE(stats.tasksFinished, std::uint64_t(kTasks));
        QCOMPARE(stats.stepDurations.count(), std::uint64_t(kTasks * (kYields + 1)));
    }
    const auto t = f.rec.task(tasks.front().taskId());
    QVERIFY(t.has_value());
    QCOMPARE(t->steps, std::uint64_t(kYields + 1));
    QCOMPARE(t->yields, std::uint64_t(kYields));
    QCOMPARE(t->state, State::Finished);
}

void tst_Recorder::aggregatesAreUpToDateForAnotherThreadWhileACallbackRuns()
{
    // The loop updates the aggregates as it writes a callback's events into the ring,
    // without the lock; a reader on another thread must see every callback that finished,
    // while the loop is busy in the next one.
    Fixture f(quietOptions());
    constexpr int kCallbacks = 10; // well under a batch
    for (int i = 0; i < kCallbacks; ++i)
        f.loop.callSoon([] {});
    loopscope::LoopStats seen;
    std::optional<TaskStats> seenTask;
    std::uint64_t taskId = 0;
    auto observed = [&]() -> Coro<void> {
        co_await loopscope::sleep(0s);
        co_await loopscope::sleep(0s);
        // Blocks the loop while another thread asks.
        std::thread reader([&] {
            seen = f.rec.loopStats();
            seenTask = f.rec.task(taskId);
        });
        reader.join();
    };
    auto task = f.loop.createTask(observed());
    taskId = task.taskId();
    f.loop.runUntilComplete(task);
    QCOMPARE(seen.callbacks, std::uint64_t(kCallbacks + 2)); // and the task's first two steps
    QCOMPARE(seen.taskSteps, std::uint64_t(3)); // the third is running
    QVERIFY(seenTask.has_value());
    QCOMPARE(seenTask->state, State::Running);
    QCOMPARE(seenTask->steps, std::uint64_t(3));
    QCOMPARE(seenTask->yields, std::uint64_t(2));
}

void tst_Recorder::taskFiguresReadFromAnotherThreadAreNeverTorn()
{
    // On the real clock: a GUI-like thread reads the tasks while the loop changes their
    // figures without the lock (a sequence count per task). The tasks only yield, so every
    // consistent copy has steps == yields when the task is ready, and one more step while a
    // step runs or once the last one ended; a copy taken in the middle of a change breaks
    // that.
    TraceRecorder rec(quietOptions());
    EventLoop loop;
    loop.addObserver(&rec);
    constexpr int kTasks = 3;
    constexpr int kYields = 100'000;
    auto yielder = []() -> Coro<void> {
        for (int i = 0; i < kYields; ++i)
            co_await loopscope::sleep(0s);
    };
    std::vector<std::uint64_t> ids;
    std::vector<loopscope::Task<void>> tasks;
    for (int i = 0; i < kTasks; ++i) {
        tasks.push_back(loop.createTask(yielder()));
        ids.push_back(tasks.back().taskId());
    }

    std::atomic<bool> done{ false };
    std::uint64_t copies = 0;
    std::uint64_t runningCopies = 0;
    std::uint64_t problems = 0;
    QString firstProblem;
    std::thread reader([&] {
        std::map<std::uint64_t, TaskStats> last;
        std::uint64_t lastCallbacks = 0;
        std::uint64_t lastDurations = 0;
        std::uint64_t version = 0;
        auto problem = [&](const QString &what) {
            if (!problems++)
                firstProblem = what;
        };
        auto check = [&](const TaskStats &t) {
            ++copies;
            const std::uint64_t extra =
                    t.state == State::Running || t.state == State::Waiting || t.isDone() ? 1 : 0;
            if (t.state == State::Running)
                ++runningCopies;
            if (t.steps != t.yields + extra)
                problem(QStringLiteral("task %1 %2 with %3 steps and %4 yields")
                                .arg(t.id)
                                .arg(QLatin1String(taskStateName(t.state)))
                                .arg(t.steps)
                                .arg(t.yields));
            const auto before = last.find(t.id);
            if (before != last.end()
                && (t.steps < before->second.steps || t.busy < before->second.busy
                    || t.scheduled < before->second.scheduled))
                problem(QStringLiteral("task %1's figures went back").arg(t.id));
            last[t.id] = t;
        };
        while (!done.load()) {
            for (const std::uint64_t id : ids)
                if (const auto t = rec.task(id))
                    check(*t);
            for (const TaskStats &t : rec.tasksChangedSince(version))
                check(t);
            // The loop's figures are single atomics, each whole (not one consistent set).
            const loopscope::LoopStats s = rec.loopStats();
            if (s.callbacks < lastCallbacks || s.callbackDurations.count() < lastDurations)
                problem(QStringLiteral("the callback count went back"));
            lastCallbacks = s.callbacks;
            lastDurations = s.callbackDurations.count();
        }
    });
    loop.runUntilComplete(loopscope::gather(tasks[0], tasks[1], tasks[2]));
    done = true;
    reader.join();
    QVERIFY2(problems == 0,
             qPrintable(QStringLiteral("%1 of %2 copies torn, first: %3")
                                .arg(problems)
                                .arg(copies)
                                .arg(firstProblem)));
    QVERIFY(copies > 0);
    qInfo("%llu copies read while the loop ran, %llu of them mid-step", qulonglong(copies),
          qulonglong(runningCopies));
    for (const std::uint64_t id : ids) {
        const auto t = rec.task(id);
        QVERIFY(t.has_value());
        QCOMPARE(t->state, State::Finished);
        QCOMPARE(t->yields, std::uint64_t(kYields));
        QCOMPARE(t->steps, std::uint64_t(kYields + 1));
    }
    loop.removeObserver(&rec);
}

//! Keeps every event it is given, as the recorder would store it.
class Collector final : public loopscope::LoopObserver
{
public:
    void onEvent(const loopscope::TraceEvent &e) override { events.push_back(e); }
    std::vector<loopscope::TraceEvent> events;
};

void tst_Recorder::recorderSeesWhatOtherObserversSee()
{
    // The recorder takes the hottest events directly and the rest as TraceEvents; another
    // observer gets all of them as TraceEvents, in runs. Both must see the same stream.
    Collector collector;
    Fixture f(quietOptions());
    f.loop.addObserver(&collector);
    int total = 0;
    auto body = [&]() -> Coro<void> {
        co_await loopscope::sleep(0s);
        const int v = co_await sleeper(5ms, 3);
        loopscope::Future<int> fut = f.loop.createFuture<int>();
        f.loop.callLater(1ms, [fut]() mutable { fut.setResult(4); });
        total = v + co_await fut;
        try {
            co_await failing("boom");
        } catch (const std::runtime_error &) {
        }
    };
    auto task = f.loop.createTask(body());
    f.loop.callSoon([] {});
    f.loop.runUntilComplete(task);
    f.loop.removeObserver(&collector);
    QCOMPARE(total, 7);
    std::vector<RecordedEvent> recorded;
    f.rec.drain(recorded);
    QCOMPARE(f.rec.droppedEvents(), std::uint64_t(0));
    // The recorder was attached first, so it also holds the events from before the collector.
    QVERIFY(recorded.size() >= collector.events.size());
    const std::size_t offset = recorded.size() - collector.events.size();
    QVERIFY(collector.events.size() > 30);
    for (std::size_t i = 0; i < collector.events.size(); ++i) {
        const loopscope::TraceEvent &e = collector.events[i];
        const RecordedEvent &r = recorded[offset + i];
        QCOMPARE(int(r.kind), int(e.kind));
        QCOMPARE(r.id, e.id);
        QCOMPARE(r.time, e.time.time_since_epoch().count());
        QCOMPARE(int(r.handleKind), int(e.handleKind));
        QCOMPARE(r.failed, e.failed);
        QCOMPARE(r.yielded, e.yielded);
        if (e.kind == Kind::HandleFinished || e.kind == Kind::TaskStepEnd)
            QCOMPARE(r.duration, e.duration.count());
        if (e.kind == Kind::TaskStepEnd)
            QCOMPARE(r.related, e.related);
        if (e.kind == Kind::HandleScheduled || e.kind == Kind::HandleStarted
            || e.kind == Kind::HandleFinished) {
            QCOMPARE(r.aux, e.task);
            if (e.handleKind == loopscope::HandleKind::TaskStep)
                QCOMPARE(e.task, task.taskId()); // steps know their task
        }
    }
}

void tst_Recorder::twoRecordersOnOneLoopRecordTheSame()
{
    // The loop writes to a lone recorder through one pointer and to several through a walk
    // of all of them (LoopCore::pushHotToAll()). Both recorders must get every event, and the
    // first must go on alone once the second leaves.
    Fixture f(quietOptions());
    TraceRecorder second(quietOptions());
    f.loop.addObserver(&second);
    auto body = [&]() -> Coro<int> {
        for (int i = 0; i < 5; ++i)
            co_await loopscope::sleep(0s);
        co_return co_await sleeper(2ms, 3);
    };
    auto task = f.loop.createTask(body());
    f.loop.callSoon([] {});
    QCOMPARE(f.loop.runUntilComplete(task), 3);
    f.loop.removeObserver(&second);
    std::vector<RecordedEvent> first;
    std::vector<RecordedEvent> other;
    f.rec.drain(first);
    second.drain(other);
    QCOMPARE(second.droppedEvents(), std::uint64_t(0));
    QVERIFY(other.size() > 20);
    // The fixture's recorder was attached first: the second's events are the last of its.
    QVERIFY(first.size() >= other.size());
    const std::size_t offset = first.size() - other.size();
    for (std::size_t i = 0; i < other.size(); ++i) {
        QCOMPARE(int(first[offset + i].kind), int(other[i].kind));
        QCOMPARE(first[offset + i].id, other[i].id);
        QCOMPARE(first[offset + i].time, other[i].time);
        QCOMPARE(first[offset + i].duration, other[i].duration);
    }
    // The aggregates the hot events change, in both.
    const std::optional<loopscope::TaskStats> a = f.rec.task(task.taskId());
    const std::optional<loopscope::TaskStats> b = second.task(task.taskId());
    QVERIFY(a && b);
    QCOMPARE(a->steps, std::uint64_t(7));
    QCOMPARE(b->steps, a->steps);
    QCOMPARE(b->yields, a->yields);
    QCOMPARE(second.loopStats().taskSteps, f.rec.loopStats().taskSteps);
    QCOMPARE(second.loopStats().callbacks, f.rec.loopStats().callbacks);

    // Alone again: the first records on, the second hears nothing more.
    const std::uint64_t callbacksBefore = f.rec.loopStats().callbacks;
    const std::uint64_t secondBefore = second.loopStats().callbacks;
    f.loop.callSoon([] {});
    f.loop.runUntilComplete(f.loop.createTask(sleeper(1ms, 1)));
    QVERIFY(f.rec.loopStats().callbacks >= callbacksBefore + 3);
    QCOMPARE(second.loopStats().callbacks, secondBefore);
    std::vector<RecordedEvent> more;
    second.drain(more);
    QVERIFY(more.empty());
    f.rec.drain(more);
    QVERIFY(more.size() > 5);
}

namespace {

//! Hands every run of events to a recorder, as an ordinary observer would.
class Forwarder final : public loopscope::LoopObserver
{
public:
    explicit Forwarder(TraceRecorder &to) : LoopObserver(Delivery::Batched), m_to(to) { }
    void onEvent(const loopscope::TraceEvent &e) override { m_to.onEvent(e); }
    void onEvents(std::span<const loopscope::TraceEvent> run) override { m_to.onEvents(run); }

private:
    TraceRecorder &m_to;
};

} // namespace

void tst_Recorder::activityShowsTheRunningCallbackHoweverTheRecorderIsFed()
{
    Fixture f(quietOptions()); // f.rec: written to directly by the loop
    TraceRecorder fed(quietOptions()); // given TraceEvent runs by an observer
    Forwarder forwarder(fed);
    f.loop.addObserver(&forwarder);
    QCOMPARE(f.rec.activity().busySinceNs, 0);
    loopscope::LoopActivity inCallback[2], inStep[2];
    f.loop.callSoon([&] {
        inCallback[0] = f.rec.activity();
        inCallback[1] = fed.activity();
    });
    auto body = [&]() -> Coro<void> {
        inStep[0] = f.rec.activity();
        inStep[1] = fed.activity();
        co_return;
    };
    auto task = f.loop.createTask(body());
    const auto before = std::chrono::steady_clock::now().time_since_epoch().count();
    f.loop.runUntilComplete(task);
    for (int i = 0; i < 2; ++i) {
        QVERIFY(inCallback[i].runningHandle != 0);
        QCOMPARE(inCallback[i].runningTask, std::uint64_t(0));
        QVERIFY(inCallback[i].busySinceNs >= before); // its iteration's start
        QVERIFY(inStep[i].runningHandle != 0);
        QVERIFY(inStep[i].runningHandle != inCallback[i].runningHandle);
        QCOMPARE(inStep[i].runningTask, task.taskId());
        QVERIFY(inStep[i].busySinceNs >= before);
        // Between iterations: nothing runs.
        const loopscope::LoopActivity idle = i == 0 ? f.rec.activity() : fed.activity();
        QCOMPARE(idle.busySinceNs, 0);
        QCOMPARE(idle.runningHandle, std::uint64_t(0));
        QCOMPARE(idle.runningTask, std::uint64_t(0));
    }
    QCOMPARE(inStep[0].runningHandle, inStep[1].runningHandle);
    f.loop.removeObserver(&forwarder);
}

void tst_Recorder::loopAggregates()
{
    {
        // Lag: a manual clock moved 3 s on makes the 1 s and 2 s timers 2 s and 1 s late.
        Fixture f(quietOptions(), /*autoAdvance=*/false);
        f.loop.callLater(1s, [] {});
        f.loop.callLater(2s, [&] { f.loop.stop(); });
        f.loop.callSoon([&] { f.clock->advance(3s); });
        f.loop.runForever();
        const auto s = f.rec.loopStats();
        QCOMPARE(s.timersArmed, 2u);
        QCOMPARE(s.timersFired, 2u);
        QCOMPARE(s.timerLateness.count(), 2u);
        QCOMPARE(s.timerLateness.max(), Duration(2s));
        QCOMPARE(s.timerLateness.mean(), Duration(1500ms));
        QCOMPARE(s.timerLateness.quantile(0.99), Duration(2s));
        QCOMPARE(s.callbacks, 3u);
        QCOMPARE(s.callbackDurations.count(), 3u);
        QCOMPARE(s.iterations, 2u);
        QCOMPARE(s.firstEventNs, 0);
        QCOMPARE(s.lastEventNs, ns(3s));
        QCOMPARE(s.meanCallbacksPerSecond, 1.0); // 3 callbacks over 3 s of loop time
        QVERIFY(s.maxIteration > Duration::zero());
        QVERIFY(s.totalIterationTime >= s.maxIteration);
    }
    {
        // Callbacks per second over one-second windows of loop time.
        Fixture f(quietOptions());
        for (int i = 0; i < 6; ++i)
            f.loop.callLater(500ms * i, [] {});
        f.loop.runUntilComplete(sleeper(3s, 0));
        const auto s = f.rec.loopStats();
        // 0, 0.5 and 1.0 s ran in the first window (the 1.0 s one closes it).
        QVERIFY2(s.callbacksPerSecond >= 2.0 && s.callbacksPerSecond <= 4.0,
                 qPrintable(QString::number(s.callbacksPerSecond)));
        QCOMPARE(s.taskSteps, 2u);
        QCOMPARE(s.stepDurations.count(), 2u);
        QCOMPARE(s.tasksCreated, 1u);
        QCOMPARE(s.tasksFinished, 1u);
        QCOMPARE(s.futuresCreated, 2u); // the task's future and its sleep's
    }
    {
        // Executor jobs and their real run time.
        Fixture f(quietOptions());
        auto job = f.loop.runInExecutor([] { return 4; });
        QCOMPARE(f.loop.runUntilComplete(job), 4);
        const auto s = f.rec.loopStats();
        QCOMPARE(s.executorJobsQueued, 1u);
        QCOMPARE(s.executorJobsFinished, 1u);
    }
}

void tst_Recorder::lintExceptionNeverRetrieved()
{
    Fixture f(quietOptions());
    std::uint64_t lost = 0;
    {
        auto t = f.loop.createTask(failing("lost"), QStringLiteral("loser"));
        lost = t.taskId();
    }
    f.loop.runUntilComplete(sleeper(1s, 0));
    QCOMPARE(f.rec.lintCount(LintKind::ExceptionNeverRetrieved), 1u);
    const auto lints = lintsOf(f.rec, LintKind::ExceptionNeverRetrieved);
    QCOMPARE(lints.size(), 1u);
    QCOMPARE(lints[0].task, lost);
    QVERIFY2(lints[0].message.contains(QStringLiteral("loser"))
                     && lints[0].message.contains(QStringLiteral("lost")),
             qPrintable(lints[0].message));

    // Clean: the same failure, awaited and so retrieved.
    Fixture clean(quietOptions());
    {
        auto t = clean.loop.createTask(failing("seen"));
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, clean.loop.runUntilComplete(t));
    }
    clean.loop.runUntilComplete(sleeper(1s, 0));
    QCOMPARE(clean.rec.lintCount(LintKind::ExceptionNeverRetrieved), 0u);
}

void tst_Recorder::lintDestroyedPending()
{
    {
        // Reported by the loop's exception handler during close() and by noteLoopClosed():
        // counted once.
        Fixture f(quietOptions());
        auto stuck = f.loop.createTask(sleeper(10s, 0), QStringLiteral("stuck"));
        f.loop.runUntilComplete(sleeper(1s, 0));
        f.loop.close();
        f.rec.noteLoopClosed();
        f.rec.noteLoopClosed();
        QCOMPARE(f.rec.lintCount(LintKind::DestroyedPending), 1u);
        const auto lints = lintsOf(f.rec, LintKind::DestroyedPending);
        QCOMPARE(lints[0].task, stuck.taskId());
        QVERIFY2(lints[0].message.contains(QStringLiteral("stuck")), qPrintable(lints[0].message));
        QCOMPARE(f.rec.task(stuck.taskId())->state, State::Destroyed);
        QCOMPARE(f.rec.loopStats().tasksDestroyedPending, 1u);
    }
    {
        // Without the exception handler, noteLoopClosed() alone finds it.
        auto clock = std::make_shared<loopscope::VirtualClock>();
        TraceRecorder rec(quietOptions());
        EventLoop loop(clock);
        loop.addObserver(&rec);
        loop.setExceptionHandler([](const loopscope::ExceptionContext &) {});
        auto stuck = loop.createTask(sleeper(10s, 0), QStringLiteral("stuck"));
        loop.runUntilComplete(sleeper(1s, 0));
        loop.close();
        rec.noteLoopClosed();
        QCOMPARE(rec.lintCount(LintKind::DestroyedPending), 1u);
        const auto lints = lintsOf(rec, LintKind::DestroyedPending);
        QCOMPARE(lints[0].task, stuck.taskId());
        QVERIFY2(lints[0].message.contains(QStringLiteral("waiting on sleep")),
                 qPrintable(lints[0].message));
    }
    {
        Fixture clean(quietOptions());
        auto t = clean.loop.createTask(sleeper(10s, 0));
        clean.loop.runUntilComplete(t);
        clean.loop.close();
        clean.rec.noteLoopClosed();
        QCOMPARE(clean.rec.lintCount(LintKind::DestroyedPending), 0u);
    }
}

void tst_Recorder::lintSlowCallbackAndBlockedLoop()
{
    RecorderOptions o;
    o.slowCallbackThreshold = Duration::zero(); // every callback is slower than 0
    o.blockedLoopThreshold = Duration::zero();
    Fixture f(o);
    auto t = f.loop.createTask(sleeper(0s, 0), QStringLiteral("stepper"));
    f.loop.runUntilComplete(t);
    QVERIFY(f.rec.lintCount(LintKind::SlowCallback) >= 2);
    QVERIFY(f.rec.lintCount(LintKind::BlockedLoop) >= 2);
    bool sawStep = false;
    for (const auto &l : lintsOf(f.rec, LintKind::SlowCallback)) {
        QVERIFY(l.duration > Duration::zero());
        if (l.task == t.taskId()) {
            sawStep = true;
            QVERIFY2(l.message.contains(QStringLiteral("stepper")), qPrintable(l.message));
        }
    }
    QVERIFY(sawStep);
    const auto blocked = lintsOf(f.rec, LintKind::BlockedLoop);
    QVERIFY(blocked.front().id >= 1); // the iteration number
    QVERIFY(blocked.front().message.contains(QStringLiteral("blocked the loop")));

    Fixture clean(quietOptions());
    clean.loop.runUntilComplete(clean.loop.createTask(sleeper(0s, 0)));
    QCOMPARE(clean.rec.lintCount(LintKind::SlowCallback), 0u);
    QCOMPARE(clean.rec.lintCount(LintKind::BlockedLoop), 0u);
}

void tst_Recorder::lintBusyPolling()
{
    Fixture f(quietOptions());
    auto poller = [&]() -> Coro<void> {
        for (int i = 0; i < 150; ++i)
            co_await loopscope::sleep(0s);
    };
    auto sleeperLoop = [&]() -> Coro<void> {
        for (int i = 0; i < 150; ++i)
            co_await loopscope::sleep(1ms);
    };
    auto mostlyPolling = [&]() -> Coro<void> {
        for (int i = 0; i < 150; ++i)
            co_await loopscope::sleep(0s);
        co_await loopscope::sleep(1ms); // one real await: not only polling
    };
    auto p = f.loop.createTask(poller(), QStringLiteral("poller"));
    auto s = f.loop.createTask(sleeperLoop(), QStringLiteral("patient"));
    auto m = f.loop.createTask(mostlyPolling(), QStringLiteral("mostly"));
    f.loop.runUntilComplete(p);
    // Reported while it still polls, from its aggregates.
    QCOMPARE(f.rec.lintCount(LintKind::BusyPolling), 1u);
    f.loop.runUntilComplete(s);
    f.loop.runUntilComplete(m);
    QCOMPARE(f.rec.lintCount(LintKind::BusyPolling), 1u);
    const auto lints = lintsOf(f.rec, LintKind::BusyPolling);
    QCOMPARE(lints.size(), 1u);
    QCOMPARE(lints[0].task, p.taskId());
    QVERIFY2(lints[0].message.contains(QStringLiteral("poller"))
                     && lints[0].message.contains(QStringLiteral("150")),
             qPrintable(lints[0].message));
    QCOMPARE(f.rec.task(p.taskId())->yields, 150u);
    QCOMPARE(f.rec.task(m.taskId())->yields, 150u);
    QCOMPARE(f.rec.task(m.taskId())->waits, 1u);
}

void tst_Recorder::lintUnawaitedFuture()
{
    Fixture f(quietOptions());
    auto orphan = f.loop.createFuture<int>();
    auto awaited = f.loop.createFuture<int>();
    auto completed = f.loop.createFuture<int>();
    completed.setResult(1);
    auto waiter = [&]() -> Coro<int> { co_return co_await awaited; };
    auto w = f.loop.createTask(waiter(), QStringLiteral("waiter"));
    f.loop.callLater(1s, [&] { awaited.setResult(2); });
    QCOMPARE(f.loop.runUntilComplete(w), 2);
    f.loop.close();
    f.rec.noteLoopClosed();
    QCOMPARE(f.rec.lintCount(LintKind::UnawaitedFuture), 1u);
    const auto lints = lintsOf(f.rec, LintKind::UnawaitedFuture);
    QCOMPARE(lints[0].id, orphan.id());
    QVERIFY(lints[0].message.contains(QStringLiteral("never awaited")));

    // Awaited but never completed: the task is the problem (DestroyedPending), not this.
    Fixture g(quietOptions());
    auto forever = g.loop.createFuture<void>();
    auto hang = [&]() -> Coro<void> { co_await forever; };
    auto h = g.loop.createTask(hang(), QStringLiteral("hang"));
    g.loop.runUntilComplete(sleeper(1s, 0));
    g.loop.close();
    g.rec.noteLoopClosed();
    QCOMPARE(g.rec.lintCount(LintKind::UnawaitedFuture), 0u);
    QCOMPARE(g.rec.lintCount(LintKind::DestroyedPending), 1u);
    QCOMPARE(lintsOf(g.rec, LintKind::DestroyedPending)[0].task, h.taskId());
}

void tst_Recorder::lintTimerDrift()
{
    RecorderOptions o = quietOptions();
    o.timerDriftThreshold = 1s;
    Fixture f(o, /*autoAdvance=*/false);
    auto late = f.loop.callLater(1s, [] {});
    f.loop.callLater(3s, [&] { f.loop.stop(); });
    f.loop.callSoon([&] { f.clock->advance(3s); });
    f.loop.runForever();
    QCOMPARE(f.rec.lintCount(LintKind::TimerDrift), 1u); // 2 s late; the 3 s one on time
    const auto lints = lintsOf(f.rec, LintKind::TimerDrift);
    QCOMPARE(lints[0].id, late.get()->m_id);
    QCOMPARE(lints[0].duration, Duration(2s));

    RecorderOptions zero = quietOptions();
    zero.timerDriftThreshold = Duration::zero();
    Fixture clean(zero); // auto-advance: every timer fires exactly on time
    clean.loop.callLater(1s, [] {});
    clean.loop.runUntilComplete(sleeper(2s, 0));
    QCOMPARE(clean.rec.lintCount(LintKind::TimerDrift), 0u);
}

void tst_Recorder::lintsAreBoundedButCounted()
{
    RecorderOptions o;
    o.slowCallbackThreshold = Duration::zero();
    o.blockedLoopThreshold = kNever;
    o.maxLintsPerKind = 3;
    Fixture f(o);
    runCallbacks(f.loop, 50);
    QCOMPARE(f.rec.lintCount(LintKind::SlowCallback), 51u);
    const auto kept = lintsOf(f.rec, LintKind::SlowCallback);
    QCOMPARE(kept.size(), 3u);
    // The most recent are kept.
    QVERIFY(kept[0].id < kept[1].id && kept[1].id < kept[2].id);
}

void tst_Recorder::cleanScenarioHasNoLints()
{
    Fixture f(quietOptions());
    auto child = [](int ms) -> Coro<int> {
        co_await loopscope::sleep(std::chrono::milliseconds(ms));
        co_return ms;
    };
    auto scenario = [&]() -> Coro<int> {
        auto a = f.loop.createTask(child(10), QStringLiteral("a"));
        auto b = f.loop.createTask(child(20), QStringLiteral("b"));
        int sum = co_await a;
        sum += co_await b;
        sum += co_await f.loop.runInExecutor([] { return 5; });
        co_await loopscope::sleep(0s);
        auto bad = f.loop.createTask(failing("handled"));
        try {
            co_await bad;
        } catch (const std::runtime_error &) {
        }
        auto victim = f.loop.createTask(child(1000), QStringLiteral("victim"));
        f.loop.callLater(5ms, [victim]() mutable { victim.cancel("enough"); });
        try {
            co_await victim;
        } catch (const loopscope::CancelledError &) {
        }
        co_return sum;
    };
    QCOMPARE(f.loop.runUntilComplete(f.loop.createTask(scenario(), QStringLiteral("main"))), 35);
    f.loop.close();
    f.rec.noteLoopClosed();
    QStringList found;
    for (const auto &l : f.rec.lints())
        found << l.message;
    QVERIFY2(found.isEmpty(), qPrintable(found.join(QLatin1Char('\n'))));
    for (int k = 0; k < loopscope::kLintKindCount; ++k)
        QCOMPARE(f.rec.lintCount(LintKind(k)), 0u);
    QCOMPARE(f.rec.loopStats().liveTasks, 0u);
}

void tst_Recorder::unrelatedExceptionsAreIgnored()
{
    // The exception handler's reports are only counted: lints come from the loop's events.
    TraceRecorder rec;
    loopscope::ExceptionContext ctx;
    ctx.message = QStringLiteral("Future exception was never retrieved");
    ctx.future = QStringLiteral("<Future #42 failed: boom>");
    rec.noteException(ctx);
    rec.exceptionHandler([](const loopscope::ExceptionContext &) {})(ctx);
    for (int k = 0; k < loopscope::kLintKindCount; ++k)
        QCOMPARE(rec.lintCount(LintKind(k)), 0u);
    QCOMPARE(rec.loopStats().exceptionsReported, 2u);
}

void tst_Recorder::eventsReplaceTheExceptionHandler()
{
    // No exception handler wired to the recorder, no noteLoopClosed(): the events suffice.
    auto clock = std::make_shared<loopscope::VirtualClock>();
    TraceRecorder rec(quietOptions());
    EventLoop loop(clock);
    loop.addObserver(&rec);
    loop.setExceptionHandler([](const loopscope::ExceptionContext &) {});
    {
        auto lost = loop.createFuture<int>();
        lost.setException(std::make_exception_ptr(std::runtime_error("dropped")));
    }
    auto stuck = loop.createTask(sleeper(1h, 0), QStringLiteral("stuck"));
    stuck.setName(QStringLiteral("renamed"));
    // Futures waited through done-callbacks (gather) are not "never awaited".
    auto a = loop.createFuture<int>();
    auto b = loop.createFuture<int>();
    loop.callLater(1s, [&] {
        a.setResult(1);
        b.setResult(2);
    });
    auto both = [&]() -> loopscope::Coro<int> {
        auto [x, y] = co_await loopscope::gather(a, b);
        co_return x + y;
    };
    QCOMPARE(loop.runUntilComplete(loop.createTask(both())), 3);
    auto forgotten = loop.createFuture<int>(); // nobody waits, never completes
    loop.close();
    QCOMPARE(rec.lintCount(LintKind::ExceptionNeverRetrieved), 1u);
    QVERIFY2(lintsOf(rec, LintKind::ExceptionNeverRetrieved)[0].message.contains(
                     QStringLiteral("dropped")),
             qPrintable(lintsOf(rec, LintKind::ExceptionNeverRetrieved)[0].message));
    QCOMPARE(rec.lintCount(LintKind::DestroyedPending), 1u);
    const auto destroyed = lintsOf(rec, LintKind::DestroyedPending);
    QCOMPARE(destroyed[0].task, stuck.taskId());
    QVERIFY2(destroyed[0].message.contains(QStringLiteral("renamed")),
             qPrintable(destroyed[0].message));
    QCOMPARE(rec.task(stuck.taskId())->state, State::Destroyed);
    QCOMPARE(rec.lintCount(LintKind::UnawaitedFuture), 1u);
    QCOMPARE(lintsOf(rec, LintKind::UnawaitedFuture)[0].id, forgotten.id());
    rec.noteLoopClosed(); // after the event: nothing new
    QCOMPARE(rec.lintCount(LintKind::DestroyedPending), 1u);
    QCOMPARE(rec.lintCount(LintKind::UnawaitedFuture), 1u);
}

QTEST_GUILESS_MAIN(tst_Recorder)
#include "tst_recorder.moc"
