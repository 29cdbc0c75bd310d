#include <loopscope/eventloop.h>
#include <loopscope/recorder.h>
#include <loopscope/scenario.h>
#include <loopscope/ui/loophost.h>
#include <loopscope/ui/tracebatch.h>

#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <vector>

using loopscope::ClockSpec;
using loopscope::RecordedEvent;
using loopscope::ScenarioSpawn;
using loopscope::ScenarioTemplate;
using loopscope::TaskStats;
using loopscope::TraceEventKind;
using loopscope::ui::LoopHost;
using loopscope::ui::TraceBatch;
using namespace std::chrono_literals;

namespace {

const ClockSpec Virtual{ ClockSpec::Mode::Virtual, 1.0 };
const ClockSpec Real{ ClockSpec::Mode::Real, 1.0 };

ScenarioSpawn sleepers(int count, qint64 delayMs, const QString &name = QStringLiteral("s"))
{
    ScenarioSpawn spawn = ScenarioSpawn::withDefaults(ScenarioTemplate::Sleep, name, count);
    spawn.params.insert(QStringLiteral("delayMs"), delayMs);
    return spawn;
}

//! Every event the host drained while it lives.
struct EventLog
{
    explicit EventLog(LoopHost &host)
    {
        QObject::connect(&host, &LoopHost::batchReady, &host, [this](const TraceBatch &b) {
            events.insert(events.end(), b.events.begin(), b.events.end());
            for (const RecordedEvent &e : b.events) {
                if (e.kind == TraceEventKind::TaskCreated)
                    created.append(b.string(e.text));
            }
        });
    }
    std::vector<RecordedEvent> events;
    QStringList created; //!< the names of the tasks created, as resolved by the tick
};

//! Every task the host's recorder tracks now (a batch carries only the tasks that changed).
std::vector<TaskStats> allTasks(const LoopHost &host)
{
    const std::shared_ptr<loopscope::TraceRecorder> recorder = host.recorder();
    return recorder ? recorder->tasks() : std::vector<TaskStats>();
}

std::size_t countTasks(const LoopHost &host, TaskStats::State state, const QString &prefix)
{
    std::size_t n = 0;
    for (const TaskStats &t : allTasks(host))
        n += t.state == state && t.name.startsWith(prefix) ? 1 : 0;
    return n;
}

//! The LoopPaused events of \a log from index \a from on: (reason, id) pairs.
std::vector<std::pair<loopscope::PauseReason, std::uint64_t>> pausesIn(const EventLog &log,
                                                                       std::size_t from = 0)
{
    std::vector<std::pair<loopscope::PauseReason, std::uint64_t>> out;
    for (std::size_t i = from; i < log.events.size(); ++i) {
        if (log.events[i].kind == TraceEventKind::LoopPaused)
            out.emplace_back(loopscope::PauseReason(log.events[i].aux), log.events[i].id);
    }
    return out;
}

std::optional<TaskStats> findTask(const LoopHost &host, const QString &name)
{
    for (const TaskStats &t : allTasks(host)) {
        if (t.name == name)
            return t;
    }
    return std::nullopt;
}

//! The state of the task named \a name, or Created when it is not there (yet).
TaskStats::State stateOf(const LoopHost &host, const QString &name)
{
    const std::optional<TaskStats> t = findTask(host, name);
    return t ? t->state : TaskStats::State::Created;
}

ScenarioSpawn failing(qint64 delayMs, const QString &name = QStringLiteral("f"))
{
    ScenarioSpawn spawn = ScenarioSpawn::withDefaults(ScenarioTemplate::Failing, name, 1);
    spawn.params.insert(QStringLiteral("delayMs"), delayMs);
    spawn.params.insert(QStringLiteral("message"), QStringLiteral("boom"));
    return spawn;
}

} // namespace

class tst_LoopHost : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void loopRunsOnItsOwnThread();
    void spawnedTasksRunAndFinish();
    void batchesCarryOnlyTheTasksThatChanged();
    void scenarioPrintsAndFinishes();
    void pauseThenStepRunsExactlyOneCallback();
    void stepToTheNextEventOfATask();
    void stepWhileRunningIsReportedNotThrown();
    void cancelEndsTasksCancelled();
    void timeScaleChangesLiveAndClampsToTheRange();
    void clockModeChangeStartsAFreshLoop();
    void resetStartsAFreshLoopAndKeepsLaterCommands();
    void blockedLoopIsSeenWhileTheGuiStaysResponsive();
    void destroyingWithPendingTasksIsClean();
    void destroyingWhilePausedIsClean();
    void taskBreakpointPausesWhenThatTaskNextChangesState();
    void breakOnTaskFailurePausesWhenATaskFails();
    void breakOnSlowCallbackPausesAfterASlowCallback();
    void breakpointFlagsSurviveAResetTaskBreakpointsDoNot();
    void resetWithBreakpointsSetUnwindsTheOldTasks();
    void destroyedWhileAResetUnwindsLetsTheResetFinish();
};

void tst_LoopHost::loopRunsOnItsOwnThread()
{
    LoopHost host(Virtual);
    QSignalSpy reset(&host, &LoopHost::loopReset);
    QTRY_COMPARE(reset.count(), 1);
    QCOMPARE(reset.at(0).at(0).toInt(), 1);
    QVERIFY(host.recorder());
    QCOMPARE(host.generation(), 1);
    // The tick keeps coming on the GUI thread.
    QSignalSpy batches(&host, &LoopHost::batchReady);
    QTRY_VERIFY(batches.count() >= 2);
    QCOMPARE(host.lastBatch().generation, 1);
}

void tst_LoopHost::spawnedTasksRunAndFinish()
{
    LoopHost host(Virtual);
    QSignalSpy finished(&host, &LoopHost::scenarioFinished);
    host.spawn(sleepers(5, 60000)); // a minute of virtual time: instant
    QTRY_COMPARE(finished.count(), 1);
    QCOMPARE(finished.at(0).at(0).toString(),
             QStringLiteral("5 tasks: 5 finished, 0 failed, 0 cancelled"));
    QTRY_COMPARE(countTasks(host, TaskStats::State::Finished, QStringLiteral("s-")),
                 std::size_t(5));
    QTRY_VERIFY(host.lastBatch().stats.lastEventNs >= 60'000'000'000LL);
    // The drained events come with their strings resolved.
    EventLog log(host);
    host.spawn(sleepers(1, 10, QStringLiteral("late")));
    QTRY_COMPARE(countTasks(host, TaskStats::State::Finished, QStringLiteral("late")),
                 std::size_t(1));
    // The recorder's getters are up to date at once; the drained events reach the GUI thread
    // with the host's next tick, so wait for that batch too.
    QTRY_VERIFY2(log.created.contains(QStringLiteral("late")), qPrintable(log.created.join(u',')));
}

void tst_LoopHost::batchesCarryOnlyTheTasksThatChanged()
{
    LoopHost host(Real);
    std::map<std::uint64_t, TaskStats> told; // every batch of this generation, merged
    int complete = 0;
    std::size_t sleepersInLastBatches = 0; // "s-" tasks in batches after they all slept
    bool allAsleep = false;
    QObject::connect(&host, &LoopHost::batchReady, &host, [&](const TraceBatch &b) {
        complete += b.tasksComplete && !b.tasks.empty() ? 1 : 0;
        for (const TaskStats &t : b.tasks) {
            told[t.id] = t;
            if (allAsleep && t.name.startsWith(QLatin1String("s-")))
                ++sleepersInLastBatches;
        }
    });
    host.spawn(sleepers(50, 3600000)); // an hour: they stay asleep
    QTRY_COMPARE(countTasks(host, TaskStats::State::Waiting, QStringLiteral("s-")),
                 std::size_t(50));
    // Once the views were told they sleep, nothing more is said about them.
    QSignalSpy batches(&host, &LoopHost::batchReady);
    QTRY_VERIFY(batches.count() >= 2);
    allAsleep = true;
    host.spawn(sleepers(3, 10, QStringLiteral("short")));
    QTRY_COMPARE(countTasks(host, TaskStats::State::Finished, QStringLiteral("short")),
                 std::size_t(3));
    const int seen = int(batches.count());
    QTRY_VERIFY(batches.count() >= seen + 2);
    QCOMPARE(sleepersInLastBatches, std::size_t(0));
    QCOMPARE(complete, 1); // only the generation's first batch with tasks lists them all
    // What the changes told adds up to the recorder's whole list.
    std::vector<TaskStats> all = allTasks(host);
    QCOMPARE(told.size(), all.size());
    QVERIFY(all.size() >= 53); // and the spawns' own runner tasks
    for (const TaskStats &t : all) {
        const auto it = told.find(t.id);
        QVERIFY(it != told.end());
        QCOMPARE(int(it->second.state), int(t.state));
        QCOMPARE(it->second.steps, t.steps);
        QCOMPARE(it->second.name, t.name);
    }
}

void tst_LoopHost::scenarioPrintsAndFinishes()
{
    LoopHost host(Virtual);
    loopscope::Scenario scenario;
    scenario.name = QStringLiteral("seed");
    scenario.title = scenario.description = QStringLiteral("seed");
    scenario.spawns.push_back(ScenarioSpawn::withDefaults(ScenarioTemplate::SeedRunUntilComplete,
                                                          QStringLiteral("slowOperation")));
    QSignalSpy printed(&host, &LoopHost::printed);
    QSignalSpy finished(&host, &LoopHost::scenarioFinished);
    host.runScenario(scenario);
    QTRY_COMPARE(finished.count(), 1);
    QCOMPARE(printed.count(), 1);
    QCOMPARE(printed.at(0).at(0).toString(), QStringLiteral("Future is done!"));
}

void tst_LoopHost::pauseThenStepRunsExactlyOneCallback()
{
    LoopHost host(Virtual);
    EventLog log(host);
    host.pause();
    QTRY_VERIFY(host.lastBatch().stats.paused);
    host.spawn(sleepers(3, 1000)); // the run's first step and then more wait in the queue
    const std::uint64_t before = host.lastBatch().stats.callbacks;

    host.step(loopscope::StepKind::Callback);
    QTRY_COMPARE(host.lastBatch().stats.callbacks, before + 1);
    QTRY_VERIFY(host.lastBatch().stats.paused);

    // Between the pause we asked for and the pause that ends the step, one callback ran.
    std::size_t paused = 0;
    while (paused < log.events.size() && log.events[paused].kind != TraceEventKind::LoopPaused)
        ++paused;
    QVERIFY(paused < log.events.size());
    QCOMPARE(loopscope::PauseReason(log.events[paused].aux), loopscope::PauseReason::Requested);
    std::size_t ran = 0;
    bool pausedAgain = false;
    for (std::size_t i = paused + 1; i < log.events.size(); ++i) {
        const RecordedEvent &e = log.events[i];
        if (e.kind == TraceEventKind::LoopPaused) {
            QCOMPARE(loopscope::PauseReason(e.aux), loopscope::PauseReason::StepDone);
            pausedAgain = true;
            break;
        }
        ran += e.kind == TraceEventKind::HandleFinished ? 1 : 0;
    }
    QVERIFY(pausedAgain);
    QCOMPARE(ran, std::size_t(1));

    // An iteration step runs the whole ready snapshot, then pauses again.
    host.step(loopscope::StepKind::Iteration);
    QTRY_VERIFY(host.lastBatch().stats.callbacks > before + 1);
    QTRY_VERIFY(host.lastBatch().stats.paused);

    host.resume();
    QTRY_COMPARE(countTasks(host, TaskStats::State::Finished, QStringLiteral("s-")),
                 std::size_t(3));
    QTRY_VERIFY(!host.lastBatch().stats.paused);
}

void tst_LoopHost::stepToTheNextEventOfATask()
{
    LoopHost host(Virtual);
    EventLog log(host);
    host.pause();
    QTRY_VERIFY(host.lastBatch().stats.paused);
    host.spawn(sleepers(2, 1000));
    // Step whole iterations until the run has created its instances.
    std::uint64_t target = 0;
    for (int i = 0; i < 10 && target == 0; ++i) {
        const std::uint64_t pauses = host.lastBatch().stats.pauses;
        host.step(loopscope::StepKind::Iteration);
        QTRY_VERIFY(host.lastBatch().stats.pauses > pauses);
        for (const TaskStats &t : allTasks(host)) {
            if (t.name == QLatin1String("s-2"))
                target = t.id;
        }
    }
    QVERIFY(target != 0);

    const std::size_t mark = log.events.size();
    const std::uint64_t pauses = host.lastBatch().stats.pauses;
    host.step(loopscope::StepKind::TaskEvent, target);
    QTRY_VERIFY(host.lastBatch().stats.pauses > pauses);
    QTRY_VERIFY(host.lastBatch().stats.paused);
    // The step ran until that task had an event, then paused.
    bool sawTarget = false;
    for (std::size_t i = mark; i < log.events.size(); ++i) {
        const RecordedEvent &e = log.events[i];
        if (e.kind == TraceEventKind::LoopPaused) {
            QCOMPARE(loopscope::PauseReason(e.aux), loopscope::PauseReason::StepDone);
            break;
        }
        sawTarget = sawTarget
                || ((e.kind == TraceEventKind::TaskStepBegin
                     || e.kind == TraceEventKind::TaskStepEnd || e.kind == TraceEventKind::Wakeup)
                    && e.id == target)
                || (e.kind == TraceEventKind::HandleScheduled && e.aux == target);
    }
    QVERIFY(sawTarget);
    host.resume();
    QTRY_COMPARE(countTasks(host, TaskStats::State::Finished, QStringLiteral("s-")),
                 std::size_t(2));
}

void tst_LoopHost::stepWhileRunningIsReportedNotThrown()
{
    LoopHost host(Virtual);
    QSignalSpy messages(&host, &LoopHost::messageLogged);
    host.step(loopscope::StepKind::Callback);
    QTRY_COMPARE(messages.count(), 1);
    QVERIFY2(messages.at(0).at(0).toString().contains(QStringLiteral("not paused")),
             qPrintable(messages.at(0).at(0).toString()));
}

void tst_LoopHost::cancelEndsTasksCancelled()
{
    // Not time-driven: the tasks just have to still be asleep when the cancel arrives.
    LoopHost host(Real);
    host.spawn(sleepers(4, 3600000));
    QTRY_COMPARE(countTasks(host, TaskStats::State::Waiting, QStringLiteral("s-")), std::size_t(4));
    std::vector<std::uint64_t> ids;
    for (const TaskStats &t : allTasks(host)) {
        if (t.name == QLatin1String("s-2") || t.name == QLatin1String("s-4"))
            ids.push_back(t.id);
    }
    QCOMPARE(ids.size(), std::size_t(2));
    host.cancelTasks(ids, QStringLiteral("enough"));
    QTRY_COMPARE(countTasks(host, TaskStats::State::Cancelled, QStringLiteral("s-")),
                 std::size_t(2));
    for (const TaskStats &t : allTasks(host)) {
        if (t.state == TaskStats::State::Cancelled) {
            QVERIFY(t.name == QLatin1String("s-2") || t.name == QLatin1String("s-4"));
            QCOMPARE(t.resultText, QStringLiteral("enough"));
        }
    }
    QCOMPARE(countTasks(host, TaskStats::State::Waiting, QStringLiteral("s-")), std::size_t(2));
}

void tst_LoopHost::timeScaleChangesLiveAndClampsToTheRange()
{
    LoopHost host(ClockSpec{ ClockSpec::Mode::Scaled, 1.0 });
    QSignalSpy reset(&host, &LoopHost::loopReset);
    QSignalSpy applied(&host, &LoopHost::timeScaleApplied);
    QTRY_COMPARE(reset.count(), 1);
    host.setTimeScale(2.5);
    QTRY_COMPARE(applied.count(), 1);
    QCOMPARE(applied.at(0).at(0).toDouble(), 2.5);
    QCOMPARE(host.appliedTimeScale(), 2.5);
    host.setTimeScale(50);
    QTRY_COMPARE(host.appliedTimeScale(), 10.0);
    host.setTimeScale(0.01);
    QTRY_COMPARE(host.appliedTimeScale(), 0.1);
    host.setTimeScale(std::nan("")); // refused: 1×, not an exception on the loop thread
    QTRY_COMPARE(host.appliedTimeScale(), 1.0);
    // The same loop all along.
    QCOMPARE(host.generation(), 1);
    QCOMPARE(reset.count(), 1);
}

void tst_LoopHost::clockModeChangeStartsAFreshLoop()
{
    LoopHost host(ClockSpec{ ClockSpec::Mode::Scaled, 1.0 });
    QSignalSpy reset(&host, &LoopHost::loopReset);
    QTRY_COMPARE(reset.count(), 1);
    host.setClock(Virtual);
    QCOMPARE(host.generation(), 2);
    QTRY_COMPARE(reset.count(), 2);
    QCOMPARE(reset.at(1).at(0).toInt(), 2);
    QCOMPARE(host.appliedTimeScale(), 1.0);
    // Virtual: an hour passes at once.
    QSignalSpy finished(&host, &LoopHost::scenarioFinished);
    host.spawn(sleepers(1, 3600000));
    QTRY_COMPARE(finished.count(), 1);
    // A scaled loop again: the factor asked for applies from the start.
    host.setTimeScale(0.5);
    QTRY_COMPARE(reset.count(), 3);
    QCOMPARE(host.appliedTimeScale(), 0.5);
}

void tst_LoopHost::resetStartsAFreshLoopAndKeepsLaterCommands()
{
    LoopHost host(Real);
    QSignalSpy reset(&host, &LoopHost::loopReset);
    host.spawn(sleepers(20, 3600000, QStringLiteral("old")));
    QTRY_COMPARE(countTasks(host, TaskStats::State::Waiting, QStringLiteral("old")),
                 std::size_t(20));
    const auto oldRecorder = host.recorder();
    // The reset unwinds the old tasks in a nested event loop; the spawn posted right after
    // it must land on the new loop, not get lost in between.
    host.reset();
    host.spawn(sleepers(3, 3600000, QStringLiteral("new")));
    QTRY_COMPARE(reset.count(), 2);
    QVERIFY(host.recorder() != oldRecorder);
    QTRY_COMPARE(countTasks(host, TaskStats::State::Waiting, QStringLiteral("new")),
                 std::size_t(3));
    QCOMPARE(host.lastBatch().generation, 2);
    for (const TaskStats &t : allTasks(host))
        QVERIFY2(!t.name.startsWith(QLatin1String("old")), qPrintable(t.name));
    // The old loop's tasks were cancelled and let unwind before it closed.
    bool allDone = true;
    for (const TaskStats &t : oldRecorder->tasks())
        allDone = allDone && t.isDone();
    QVERIFY(allDone);
}

void tst_LoopHost::blockedLoopIsSeenWhileTheGuiStaysResponsive()
{
    LoopHost host(Virtual);
    QSignalSpy blocked(&host, &LoopHost::blockedChanged);
    ScenarioSpawn blocker = ScenarioSpawn::withDefaults(ScenarioTemplate::BlockingCallback,
                                                        QStringLiteral("blocker"));
    blocker.params.insert(QStringLiteral("blockMs"), qint64(900));
    host.spawn(blocker);
    // The GUI thread keeps ticking while the loop thread spins.
    QTRY_VERIFY(host.blockedFor() > 250ms);
    QVERIFY(host.blockedHandle() != 0);
    QVERIFY(!blocked.isEmpty());
    QVERIFY(blocked.last().at(0).toLongLong() > 250);
    QTRY_COMPARE(host.blockedFor(), 0ms);
    QCOMPARE(blocked.last().at(0).toLongLong(), 0);
    QCOMPARE(host.blockedHandle(), 0u);
}

void tst_LoopHost::destroyingWithPendingTasksIsClean()
{
    auto host = std::make_unique<LoopHost>(Real);
    host->spawn(sleepers(200, 3600000));
    QTRY_COMPARE(countTasks(*host, TaskStats::State::Waiting, QStringLiteral("s-")),
                 std::size_t(200));
    const auto recorder = host->recorder();
    host.reset(); // cancels, unwinds, closes on the loop thread, joins it
    for (const TaskStats &t : recorder->tasks())
        QVERIFY2(t.isDone(), qPrintable(t.name));
}

void tst_LoopHost::destroyingWhilePausedIsClean()
{
    auto host = std::make_unique<LoopHost>(Real);
    host->spawn(sleepers(10, 3600000));
    QTRY_COMPARE(countTasks(*host, TaskStats::State::Waiting, QStringLiteral("s-")),
                 std::size_t(10));
    host->pause();
    QTRY_VERIFY(host->lastBatch().stats.paused);
    host.reset();
}

void tst_LoopHost::taskBreakpointPausesWhenThatTaskNextChangesState()
{
    LoopHost host(Virtual);
    EventLog log(host);
    QSignalSpy changed(&host, &LoopHost::breakpointsChanged);
    host.pause();
    QTRY_VERIFY(host.lastBatch().stats.paused);
    host.spawn(sleepers(2, 1000, QStringLiteral("bp")));
    // Step whole iterations until the run has created its instances (still scheduled).
    std::uint64_t target = 0;
    for (int i = 0; i < 10 && target == 0; ++i) {
        const std::uint64_t pauses = host.lastBatch().stats.pauses;
        host.step(loopscope::StepKind::Iteration);
        QTRY_VERIFY(host.lastBatch().stats.pauses > pauses);
        if (const std::optional<TaskStats> t = findTask(host, QStringLiteral("bp-2")))
            target = t->id;
    }
    QVERIFY(target != 0);
    QCOMPARE(stateOf(host, QStringLiteral("bp-2")), TaskStats::State::Scheduled);

    host.addTaskBreakpoint(target);
    QVERIFY(host.hasTaskBreakpoint(target));
    QVERIFY(!host.hasTaskBreakpoint(target + 1));
    QCOMPARE(host.taskBreakpoints(), std::vector<std::uint64_t>{ target });
    QCOMPARE(changed.count(), 1);
    host.addTaskBreakpoint(target); // already there: nothing to say
    QCOMPARE(changed.count(), 1);

    // Its first step runs, then the loop pauses for it: the task sleeps, a minute of virtual
    // time away, and nothing else ran after that step.
    std::size_t mark = log.events.size();
    host.resume();
    QTRY_COMPARE(pausesIn(log, mark).size(), std::size_t(1));
    auto pauses = pausesIn(log, mark);
    QCOMPARE(pauses[0].first, loopscope::PauseReason::TaskBreakpoint);
    QCOMPARE(pauses[0].second, target);
    QTRY_VERIFY(host.lastBatch().stats.paused);
    QTRY_COMPARE(stateOf(host, QStringLiteral("bp-2")), TaskStats::State::Waiting);
    QVERIFY(host.lastBatch().stats.lastEventNs < 1'000'000'000LL);

    // Resumed, it pauses again at its next change: woken when the sleep is over, in the
    // callback that runs its last step (the pause comes once that callback returned).
    mark = log.events.size();
    host.resume();
    QTRY_COMPARE(pausesIn(log, mark).size(), std::size_t(1));
    pauses = pausesIn(log, mark);
    QCOMPARE(pauses[0].first, loopscope::PauseReason::TaskBreakpoint);
    QCOMPARE(pauses[0].second, target);
    QTRY_VERIFY(host.lastBatch().stats.paused);
    QTRY_COMPARE(stateOf(host, QStringLiteral("bp-2")), TaskStats::State::Finished);
    QVERIFY(host.lastBatch().stats.lastEventNs >= 1'000'000'000LL);

    // Removed: the rest runs to the end without another pause.
    host.removeTaskBreakpoint(target);
    QVERIFY(!host.hasTaskBreakpoint(target));
    QCOMPARE(changed.count(), 2);
    QSignalSpy finished(&host, &LoopHost::scenarioFinished);
    mark = log.events.size();
    host.resume();
    QTRY_COMPARE(finished.count(), 1);
    QTRY_VERIFY(!host.lastBatch().stats.paused);
    QCOMPARE(countTasks(host, TaskStats::State::Finished, QStringLiteral("bp-")), std::size_t(2));
    QVERIFY(pausesIn(log, mark).empty());
}

void tst_LoopHost::breakOnTaskFailurePausesWhenATaskFails()
{
    LoopHost host(Virtual);
    EventLog log(host);
    host.setBreakOnTaskFailure(true);
    QVERIFY(host.breakOnTaskFailure());
    QSignalSpy finished(&host, &LoopHost::scenarioFinished);
    host.spawn(sleepers(1, 5000, QStringLiteral("ok")));
    host.spawn(failing(2000));
    QTRY_VERIFY(host.lastBatch().stats.paused);
    const auto pauses = pausesIn(log);
    QCOMPARE(pauses.size(), std::size_t(1));
    QCOMPARE(pauses[0].first, loopscope::PauseReason::TaskFailed);
    QTRY_VERIFY(findTask(host, QStringLiteral("f")));
    const std::optional<TaskStats> failed = findTask(host, QStringLiteral("f"));
    QCOMPARE(pauses[0].second, failed->id);
    QCOMPARE(failed->state, TaskStats::State::Failed);
    QCOMPARE(failed->resultText, QStringLiteral("ValueError: boom"));
    // Paused two seconds in: the sleeper of five seconds has not finished.
    QCOMPARE(countTasks(host, TaskStats::State::Finished, QStringLiteral("ok")), std::size_t(0));
    QCOMPARE(finished.count(), 0);

    host.setBreakOnTaskFailure(false);
    host.resume();
    QTRY_COMPARE(finished.count(), 2);
    QCOMPARE(pausesIn(log).size(), std::size_t(1));
}

void tst_LoopHost::breakOnSlowCallbackPausesAfterASlowCallback()
{
    LoopHost host(Virtual);
    EventLog log(host);
    host.setBreakOnSlowCallback(true);
    QVERIFY(host.breakOnSlowCallback());
    ScenarioSpawn blocker = ScenarioSpawn::withDefaults(ScenarioTemplate::BlockingCallback,
                                                        QStringLiteral("blocker"));
    blocker.params.insert(QStringLiteral("blockMs"), qint64(150)); // > 100 ms: slow
    host.spawn(blocker);
    QTRY_VERIFY(!pausesIn(log).empty());
    const auto pauses = pausesIn(log);
    QCOMPARE(pauses[0].first, loopscope::PauseReason::SlowCallback);
    QVERIFY(pauses[0].second != 0); // the slow handle
    // That handle ran for at least the 150 ms.
    bool sawIt = false;
    for (const RecordedEvent &e : log.events) {
        if (e.kind == TraceEventKind::HandleFinished && e.id == pauses[0].second)
            sawIt = e.duration >= 150'000'000;
    }
    QVERIFY(sawIt);
    QTRY_VERIFY(host.lastBatch().stats.paused);
}

void tst_LoopHost::breakpointFlagsSurviveAResetTaskBreakpointsDoNot()
{
    LoopHost host(Virtual);
    EventLog log(host);
    QSignalSpy reset(&host, &LoopHost::loopReset);
    QSignalSpy changed(&host, &LoopHost::breakpointsChanged);
    QTRY_COMPARE(reset.count(), 1);
    host.setBreakOnTaskFailure(true);
    host.addTaskBreakpoint(1);
    QCOMPARE(changed.count(), 2);

    // Task 1 of the next loop is another task: its breakpoint goes; the flag stays.
    host.reset();
    QCOMPARE(changed.count(), 3);
    QVERIFY(!host.hasTaskBreakpoint(1));
    QVERIFY(host.taskBreakpoints().empty());
    QVERIFY(host.breakOnTaskFailure());
    QTRY_COMPARE(reset.count(), 2);

    // On the new loop, the scenario's run task (task 1 again) does not pause it, and a
    // failing task does: the flag was applied to the new loop.
    const std::size_t mark = log.events.size();
    host.spawn(failing(100));
    QTRY_VERIFY(!pausesIn(log, mark).empty());
    const auto pauses = pausesIn(log, mark);
    QCOMPARE(pauses[0].first, loopscope::PauseReason::TaskFailed);
    QCOMPARE(host.lastBatch().generation, 2);

    // A clock change that needs a new loop is a reset too.
    host.addTaskBreakpoint(2);
    host.setClock(ClockSpec{ ClockSpec::Mode::Scaled, 1.0 });
    QVERIFY(!host.hasTaskBreakpoint(2));
    QVERIFY(host.breakOnTaskFailure());
}

void tst_LoopHost::resetWithBreakpointsSetUnwindsTheOldTasks()
{
    // Tasks that fail and change state while the reset cancels them must not pause the old
    // loop half-way through its teardown: every old task ends.
    LoopHost host(Real);
    QSignalSpy reset(&host, &LoopHost::loopReset);
    host.spawn(sleepers(5, 3600000, QStringLiteral("old")));
    QTRY_COMPARE(countTasks(host, TaskStats::State::Waiting, QStringLiteral("old")),
                 std::size_t(5));
    for (const TaskStats &t : allTasks(host))
        host.addTaskBreakpoint(t.id);
    host.setBreakOnTaskFailure(true);
    const auto oldRecorder = host.recorder();
    host.reset();
    QTRY_COMPARE(reset.count(), 2);
    for (const TaskStats &t : oldRecorder->tasks())
        QVERIFY2(t.state == TaskStats::State::Cancelled, qPrintable(t.name));
    QCOMPARE(oldRecorder->loopStats().tasksDestroyedPending, 0u);
}

void tst_LoopHost::destroyedWhileAResetUnwindsLetsTheResetFinish()
{
    // ~LoopHost's teardown used to be delivered inside the reset's own teardown (a nested
    // event loop unwinding the cancelled tasks) and to end the thread there: the old tasks
    // never finished their cleanup (destroyed pending), and the loop the reset created next
    // was closed by ~LoopWorker on this thread (a data race ThreadSanitizer reported).
    std::shared_ptr<const loopscope::TraceRecorder> old;
    {
        LoopHost host(Real);
        ScenarioSpawn spawn = ScenarioSpawn::withDefaults(ScenarioTemplate::CancellationStorm,
                                                          QStringLiteral("c"), 4);
        spawn.params.insert(QStringLiteral("sleepMs"), 3600000);
        spawn.params.insert(QStringLiteral("cancelAfterMs"), 3600000);
        spawn.params.insert(QStringLiteral("fraction"), 0.0);
        spawn.params.insert(QStringLiteral("cleanupMs"), 200);
        host.spawn(spawn);
        QTRY_COMPARE(countTasks(host, TaskStats::State::Waiting, QStringLiteral("c")),
                     std::size_t(4));
        old = host.recorder();
        host.reset(); // cancels them: each cleans up for 200 ms ...
    } // ... while the host is destroyed
    QVERIFY(old);
    QCOMPARE(old->lintCount(loopscope::LintKind::DestroyedPending), std::uint64_t(0));
    std::size_t cancelled = 0;
    for (const TaskStats &t : old->tasks())
        cancelled += t.name.startsWith(QLatin1Char('c')) && t.state == TaskStats::State::Cancelled;
    QCOMPARE(cancelled, std::size_t(4));
}

QTEST_MAIN(tst_LoopHost)
#include "tst_loophost.moc"
