// TraceReplay: a saved trace scrubbed forwards and backwards produces the same batches (and
// so the same task table, loop state and timeline) a live loop produced at that point.

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>
#include <loopscope/tracefile.h>
#include <loopscope/ui/loopstatemodel.h>
#include <loopscope/ui/tasktablemodel.h>
#include <loopscope/ui/timelinemodel.h>
#include <loopscope/ui/tracebatch.h>
#include <loopscope/ui/tracereplay.h>

#include <QAbstractItemModelTester>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <map>
#include <stdexcept>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::RecordedEvent;
using loopscope::TaskStats;
using loopscope::TraceEventKind;
using loopscope::TraceRecorder;
using loopscope::ui::TraceBatch;
using loopscope::ui::TraceReplay;
using Unit = loopscope::ui::TraceReplay::Unit;
using State = TaskStats::State;

namespace {

struct Fixture
{
    explicit Fixture(loopscope::RecorderOptions options = {})
        : rec(options), loop(std::make_shared<loopscope::VirtualClock>())
    {
        loop.addObserver(&rec);
        loop.setExceptionHandler(rec.exceptionHandler([](const loopscope::ExceptionContext &) {}));
    }
    TraceRecorder rec;
    EventLoop loop;
};

Coro<int> child(int ms)
{
    co_await loopscope::sleep(std::chrono::milliseconds(ms));
    co_return ms;
}

Coro<void> failer()
{
    co_await loopscope::sleep(0s);
    throw std::runtime_error("broken");
}

Coro<void> sleeper(int sleeps)
{
    for (int i = 0; i < sleeps; ++i)
        co_await loopscope::sleep(std::chrono::milliseconds(1 + i % 3));
}

//! A few tasks that finish, fail and get cancelled; written to \a path.
void writeSmallTrace(const QString &path)
{
    Fixture f;
    auto main = [&]() -> Coro<int> {
        auto a = f.loop.createTask(child(10), QStringLiteral("child-a"));
        auto b = f.loop.createTask(child(20), QStringLiteral("child-b"));
        int sum = co_await a;
        sum += co_await b;
        auto bad = f.loop.createTask(failer(), QStringLiteral("failer"));
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
    QCOMPARE(f.loop.runUntilComplete(f.loop.createTask(main(), QStringLiteral("main"))), 30);
    QString error;
    QVERIFY2(f.rec.exportChromeTrace(path, &error), qPrintable(error));
}

//! What the views keep, fed the way the main window feeds them (the task table is cleared
//! when a new generation starts, as on a loop reset).
struct Views
{
    Views() : tester(&table, QAbstractItemModelTester::FailureReportingMode::QtTest)
    {
        table.setRetention(0ms); // replay: finished tasks stay
    }
    void apply(const TraceBatch &batch)
    {
        if (batch.generation != generation) {
            table.clear();
            timeline.clear();
            generation = batch.generation;
        }
        table.applyBatch(batch);
        loopState.ingest(batch);
        timeline.ingest(batch.events, [&batch](std::uint32_t i) { return batch.string(i); });
        timeline.reconcile(batch.tasks, batch.tasksComplete);
    }
    //! The state the table shows for the task \a name; -1 when it has no row.
    int stateOf(const QString &name) const
    {
        for (int row = 0; row < table.rowCount(); ++row)
            if (table.taskAt(row).name == name)
                return int(table.taskAt(row).state);
        return -1;
    }
    loopscope::ui::TaskTableModel table;
    QAbstractItemModelTester tester;
    loopscope::ui::LoopStateModel loopState;
    loopscope::ui::TimelineModel timeline;
    int generation = -1;
};

std::uint64_t taskIdOf(const loopscope::TraceFile &trace, const QString &name)
{
    for (const RecordedEvent &e : trace.events)
        if (e.kind == TraceEventKind::TaskCreated && trace.string(e.text) == name)
            return e.id;
    return 0;
}

//! The index of the first event of \a kind about the task named \a name.
std::size_t firstEventOf(const loopscope::TraceFile &trace, TraceEventKind kind,
                         const QString &name)
{
    const std::uint64_t id = taskIdOf(trace, name);
    for (std::size_t i = 0; i < trace.events.size(); ++i)
        if (trace.events[i].kind == kind && trace.events[i].id == id)
            return i;
    return trace.events.size();
}

void compareTasks(const std::vector<TaskStats> &a, const std::vector<TaskStats> &b)
{
    QCOMPARE(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        QCOMPARE(a[i].id, b[i].id);
        QCOMPARE(int(a[i].state), int(b[i].state));
        QCOMPARE(a[i].steps, b[i].steps);
        QCOMPARE(a[i].waiting.count(), b[i].waiting.count());
        QCOMPARE(a[i].resultText, b[i].resultText);
    }
}

void compareBatches(const TraceBatch &a, const TraceBatch &b)
{
    QCOMPARE(a.stats.callbacks, b.stats.callbacks);
    QCOMPARE(a.stats.iterations, b.stats.iterations);
    QCOMPARE(a.stats.lastEventNs, b.stats.lastEventNs);
    QCOMPARE(a.lints.size(), b.lints.size());
    QCOMPARE(a.producedEvents, b.producedEvents);
}

} // namespace

class tst_TraceReplay : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void opensAtTheStart();
    void stepForwardAppliesOneEvent();
    void stepBackRebuildsWithANewGeneration();
    void seekMatchesSteppingForward();
    void callbackAndIterationSteps();
    void viewsGoBackAndForth();
    void badFileKeepsTheTrace();
    void scrubHundredThousandEvents();

private:
    QTemporaryDir m_dir;
    QString m_small;
};

void tst_TraceReplay::initTestCase()
{
    QVERIFY(m_dir.isValid());
    m_small = m_dir.filePath(QStringLiteral("small.json"));
    writeSmallTrace(m_small);
}

void tst_TraceReplay::opensAtTheStart()
{
    TraceReplay replay;
    QSignalSpy batches(&replay, &TraceReplay::batchReady);
    QSignalSpy changed(&replay, &TraceReplay::traceChanged);
    QVERIFY(!replay.isOpen());
    QString error;
    QVERIFY2(replay.open(m_small, &error), qPrintable(error));
    QVERIFY(replay.isOpen());
    QCOMPARE(replay.fileName(), m_small);
    QVERIFY(replay.eventCount() > 50);
    QCOMPARE(replay.position(), std::size_t(0));
    QCOMPARE(changed.count(), 1);
    QCOMPARE(batches.count(), 1);
    const TraceBatch &b = replay.lastBatch();
    QCOMPARE(b.generation, replay.generation());
    QVERIFY(b.events.empty());
    QVERIFY(b.tasks.empty());
    QVERIFY(b.changed);
    QCOMPARE(replay.positionText(),
             QStringLiteral("event 0 / %1 · 0.000 s")
                     .arg(QLocale().toString(qulonglong(replay.eventCount()))));
}

void tst_TraceReplay::stepForwardAppliesOneEvent()
{
    TraceReplay replay;
    QVERIFY(replay.open(m_small));
    const int generation = replay.generation();
    QSignalSpy positions(&replay, &TraceReplay::positionChanged);
    replay.stepForward();
    QCOMPARE(replay.position(), std::size_t(1));
    QCOMPARE(positions.count(), 1);
    QCOMPARE(positions.at(0).at(0).toLongLong(), 1);
    QCOMPARE(replay.lastBatch().generation, generation);
    QCOMPARE(replay.lastBatch().events.size(), std::size_t(1));
    QCOMPARE(replay.lastBatch().events.front().sequence, replay.trace().events.front().sequence);
    replay.stepForward();
    QCOMPARE(replay.lastBatch().events.size(), std::size_t(1));
    QCOMPARE(replay.lastBatch().events.front().sequence, replay.trace().events[1].sequence);
    QCOMPARE(replay.generation(), generation);

    // At the end, a step forward goes nowhere and says nothing.
    replay.toEnd();
    QSignalSpy batches(&replay, &TraceReplay::batchReady);
    replay.stepForward();
    QCOMPARE(batches.count(), 0);
    QCOMPARE(replay.position(), replay.eventCount());
}

void tst_TraceReplay::stepBackRebuildsWithANewGeneration()
{
    TraceReplay replay;
    QVERIFY(replay.open(m_small));
    replay.toEnd();
    const int generation = replay.generation();
    const std::size_t n = replay.eventCount();
    replay.stepBack();
    QCOMPARE(replay.position(), n - 1);
    QCOMPARE(replay.generation(), generation + 1);
    QCOMPARE(replay.lastBatch().generation, generation + 1);
    QCOMPARE(replay.lastBatch().events.size(), n - 1); // everything up to the cursor
    QCOMPARE(replay.lastBatch().stats.lastEventNs, replay.trace().events[n - 2].time);
    replay.toStart();
    QCOMPARE(replay.position(), std::size_t(0));
    QVERIFY(replay.lastBatch().tasks.empty());
    // At the start, a step back goes nowhere.
    const int atStart = replay.generation();
    replay.stepBack();
    QCOMPARE(replay.generation(), atStart);
}

//! Reaching a position by rebuilding gives the batch that stepping there gave.
void tst_TraceReplay::seekMatchesSteppingForward()
{
    TraceReplay stepped;
    QVERIFY(stepped.open(m_small));
    TraceReplay jumped;
    QVERIFY(jumped.open(m_small));
    jumped.toEnd();
    const std::size_t n = stepped.eventCount();
    std::map<std::uint64_t, TaskStats> told; // what stepped's batches said, merged
    for (std::size_t p = 1; p <= n; ++p) {
        stepped.stepForward();
        // Once there are tasks, a step's batch carries only the ones that changed.
        QVERIFY(told.empty() || !stepped.lastBatch().tasksComplete);
        QVERIFY(stepped.lastBatch().tasks.size() <= 2);
        for (const TaskStats &t : stepped.lastBatch().tasks)
            told[t.id] = t;
        if (p % 7 != 0 && p != n)
            continue;
        const int generation = jumped.generation();
        jumped.seek(qsizetype(p)); // backwards from the end: a rebuild (but at the end)
        QCOMPARE(jumped.position(), p);
        compareBatches(jumped.lastBatch(), stepped.lastBatch());
        // A rebuild's batch lists every task; the changes merged add up to the same.
        if (jumped.generation() != generation) {
            QVERIFY(jumped.lastBatch().tasksComplete);
            compareTasks(jumped.lastBatch().tasks, jumped.tasks());
        }
        compareTasks(jumped.tasks(), stepped.tasks());
        std::vector<TaskStats> all = stepped.tasks();
        std::sort(all.begin(), all.end(),
                  [](const TaskStats &a, const TaskStats &b) { return a.id < b.id; });
        std::vector<TaskStats> merged;
        for (const auto &entry : told)
            merged.push_back(entry.second);
        compareTasks(all, merged);
        if (QTest::currentTestFailed())
            QFAIL(qPrintable(QStringLiteral("position %1 differs").arg(p)));
        jumped.toEnd();
    }
}

void tst_TraceReplay::callbackAndIterationSteps()
{
    TraceReplay replay;
    QVERIFY(replay.open(m_small));
    const auto &events = replay.trace().events;
    int callbacks = 0;
    while (replay.position() < replay.eventCount()) {
        const std::size_t before = replay.position();
        replay.stepForward(Unit::Callback);
        if (replay.position() == before)
            break; // no callback ends after here
        QCOMPARE(int(events[replay.position() - 1].kind), int(TraceEventKind::HandleFinished));
        // Exactly one callback ended in between.
        int ended = 0;
        for (std::size_t i = before; i < replay.position(); ++i)
            ended += events[i].kind == TraceEventKind::HandleFinished;
        QCOMPARE(ended, 1);
        ++callbacks;
    }
    QCOMPARE(std::uint64_t(callbacks), replay.lastBatch().stats.callbacks);
    QVERIFY(callbacks > 5);

    replay.toEnd();
    replay.stepBack(Unit::Iteration);
    QCOMPARE(int(events[replay.position() - 1].kind), int(TraceEventKind::IterationEnd));
    const std::size_t afterIteration = replay.position();
    replay.stepBack(Unit::Iteration);
    QVERIFY(replay.position() < afterIteration);
    QVERIFY(replay.position() == 0
            || events[replay.position() - 1].kind == TraceEventKind::IterationEnd);
    replay.stepForward(Unit::Iteration);
    QCOMPARE(replay.position(), afterIteration);
    replay.stepBack(Unit::Callback);
    QCOMPARE(int(events[replay.position() - 1].kind), int(TraceEventKind::HandleFinished));
    while (replay.position() > 0)
        replay.stepBack(Unit::Iteration); // ends at 0, never stuck
    QCOMPARE(replay.position(), std::size_t(0));
}

//! "Replay a trace and step back": the task table shows the victim cancelled at the end,
//! waiting before its TaskDone, cancelled again going forward.
void tst_TraceReplay::viewsGoBackAndForth()
{
    TraceReplay replay;
    Views views;
    connect(&replay, &TraceReplay::batchReady, &replay,
            [&views](const TraceBatch &b) { views.apply(b); });
    QVERIFY(replay.open(m_small));
    QCOMPARE(views.table.rowCount(), 0);
    replay.toEnd();
    QCOMPARE(views.table.rowCount(), 5);
    QCOMPARE(views.stateOf(QStringLiteral("victim")), int(State::Cancelled));
    QCOMPARE(views.stateOf(QStringLiteral("failer")), int(State::Failed));
    QCOMPARE(views.stateOf(QStringLiteral("main")), int(State::Finished));

    const std::size_t done =
            firstEventOf(replay.trace(), TraceEventKind::TaskDone, QStringLiteral("victim"));
    QVERIFY(done < replay.eventCount());
    replay.seek(qsizetype(done)); // just before the victim's end
    QCOMPARE(views.stateOf(QStringLiteral("victim")), int(State::Waiting));
    QCOMPARE(views.timeline.latestTime(), replay.trace().events[done - 1].time);
    replay.stepForward();
    QCOMPARE(views.stateOf(QStringLiteral("victim")), int(State::Cancelled));

    const std::size_t created =
            firstEventOf(replay.trace(), TraceEventKind::TaskCreated, QStringLiteral("failer"));
    replay.seek(qsizetype(created)); // before the failer existed
    QCOMPARE(views.stateOf(QStringLiteral("failer")), -1);
    QCOMPARE(views.table.rowCount(), 3); // main, child-a, child-b
    QCOMPARE(views.loopState.generation(), replay.generation());
    QCOMPARE(views.timeline.laneOfTask(taskIdOf(replay.trace(), QStringLiteral("failer"))), -1);
    QVERIFY(views.timeline.laneOfTask(taskIdOf(replay.trace(), QStringLiteral("child-a"))) >= 0);
}

void tst_TraceReplay::badFileKeepsTheTrace()
{
    TraceReplay replay;
    QVERIFY(replay.open(m_small));
    replay.seek(10);
    QSignalSpy batches(&replay, &TraceReplay::batchReady);
    QString error;
    QVERIFY(!replay.open(m_dir.filePath(QStringLiteral("missing.json")), &error));
    QVERIFY2(error.endsWith(QStringLiteral("missing.json: cannot read the trace: no such file")),
             qPrintable(error));

    QFile small(m_small);
    QVERIFY(small.open(QIODevice::ReadOnly));
    const QByteArray json = small.readAll();
    const QString cutPath = m_dir.filePath(QStringLiteral("cut.json"));
    QFile cut(cutPath);
    QVERIFY(cut.open(QIODevice::WriteOnly));
    cut.write(json.left(json.size() / 2));
    cut.close();
    QVERIFY(!replay.open(cutPath, &error));
    QVERIFY2(error.contains(QStringLiteral("truncated")), qPrintable(error));

    QCOMPARE(batches.count(), 0);
    QVERIFY(replay.isOpen());
    QCOMPARE(replay.fileName(), m_small);
    QCOMPARE(replay.position(), std::size_t(10));
}

//! A 100,000-event trace: open it, jump to the end, step back (a full rebuild) with the
//! views attached; prints the figures.
void tst_TraceReplay::scrubHundredThousandEvents()
{
    loopscope::RecorderOptions options;
    options.capacity = std::size_t(1) << 18;
    Fixture f(options);
    auto main = [&]() -> Coro<void> {
        std::vector<loopscope::Task<void>> tasks;
        for (int i = 0; i < 750; ++i)
            tasks.push_back(f.loop.createTask(sleeper(10), QStringLiteral("sleeper-%1").arg(i)));
        for (auto &t : tasks)
            co_await t;
    };
    f.loop.runUntilComplete(f.loop.createTask(main(), QStringLiteral("main")));
    const QString path = m_dir.filePath(QStringLiteral("big.json"));
    QVERIFY(f.rec.exportChromeTrace(path));
    QVERIFY2(f.rec.producedEvents() >= 100000, qPrintable(QString::number(f.rec.producedEvents())));

    TraceReplay replay;
    Views views;
    connect(&replay, &TraceReplay::batchReady, &replay,
            [&views](const TraceBatch &b) { views.apply(b); });
    QElapsedTimer timer;
    timer.start();
    QVERIFY(replay.open(path));
    const qint64 openMs = timer.restart();
    QCOMPARE(replay.eventCount(), std::size_t(f.rec.producedEvents()));
    replay.toEnd();
    const qint64 endMs = timer.restart();
    QCOMPARE(views.table.rowCount(), 751);
    const std::int64_t toEndReplay = replay.lastMoveDuration().count() / 1000000;
    replay.stepBack();
    const qint64 backMs = timer.restart();
    QCOMPARE(replay.position(), replay.eventCount() - 1);
    replay.seek(qsizetype(replay.eventCount() / 2));
    const qint64 midMs = timer.restart();
    replay.stepForward(Unit::Callback);
    const qint64 forwardMs = timer.restart();

    // The replay alone (recorder rebuilt, no views).
    TraceReplay bare;
    QVERIFY(bare.open(path));
    bare.toEnd();
    timer.restart();
    bare.stepBack();
    const qint64 bareBackMs = timer.restart();
    qInfo("%zu events (%lld bytes): open %lld ms; to the end %lld ms (replay %lld ms); step "
          "back %lld ms (replay alone %lld ms); seek to the middle %lld ms; one callback "
          "forward %lld ms",
          replay.eventCount(), qlonglong(QFileInfo(path).size()), openMs, endMs,
          qlonglong(toEndReplay), backMs, bareBackMs, midMs, forwardMs);
    // Generous: sanitizer builds are slow; this guards against a hang, the figures above
    // are the measurement.
    QVERIFY(backMs < 30000);
}

QTEST_MAIN(tst_TraceReplay)
#include "tst_tracereplay.moc"
