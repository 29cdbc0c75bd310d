#pragma once

//! \file loophost.h The visualized loop on its own thread, and the only way the window talks
//! to it.

#include <loopscope/scenario.h>

#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QString>
#include <QTimer>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <vector>

// moc (Qt 6.4) cannot parse the C++20 concepts the engine's loop headers bring in; it only
// needs the names of the types below.
#ifndef Q_MOC_RUN
#  include <loopscope/ui/tracebatch.h>
#endif

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace loopscope {
class TraceRecorder;
#ifndef Q_MOC_RUN
enum class StepKind : std::uint8_t;
#endif
} // namespace loopscope

namespace loopscope::ui {

class LoopWorker;
struct LoopPulse;
struct TraceBatch;

/*!
 * Runs an EventLoop on a thread of its own, with a TraceRecorder attached, and lets the GUI
 * thread drive and watch it.
 *
 * The loop thread runs `QThread::exec()`; the loop is created there and runs in attached
 * mode. Every command (spawn, cancel, pause, step, clock, reset …) is posted to an object of
 * the loop thread as a Qt event, never to the loop's own inbox: a paused loop drains no
 * inbox, but it must still hear "resume". Commands run in the order they were given.
 *
 * On the GUI thread a timer (tickInterval(), 30 Hz by default) drains the recorder, resolves
 * the events' strings at once, reads the aggregates and emits batchReady(). The same tick
 * watches the loop thread: when one iteration or callback has been running for more than
 * blockedThreshold() of real time, blockedFor() says for how long and blockedChanged() fires,
 * while the window itself stays responsive.
 *
 * Destroying the host cancels the loop's tasks, lets them unwind briefly, closes the loop on
 * its own thread and joins the thread (waiting for a callback that blocks the loop first).
 */
class LoopHost : public QObject
{
    Q_OBJECT

public:
    //! A loop on \a clock (virtual, real or scaled) on a new thread, ticking at once.
    explicit LoopHost(const loopscope::ClockSpec &clock = {}, QObject *parent = nullptr);
    ~LoopHost() override;

    // --- commands (GUI thread; each runs later on the loop thread, in order) ---------------

    //! Spawns \a spawn's instances through runScenario() (start delay, interval, names).
    void spawn(const loopscope::ScenarioSpawn &spawn);
    //! Runs \a scenario on the current loop; printed lines come back through printed().
    void runScenario(const loopscope::Scenario &scenario);
    //! Cancels the tasks \a taskIds (Task::taskId()) still pending, with \a message.
    void cancelTasks(const std::vector<std::uint64_t> &taskIds, const QString &message = {});
    /*!
     * Makes each task wait \a delay (loop time) before its next step (Task::delay()): a task
     * not started yet starts later, a waiting one sleeps that long once its wait is over.
     * Tasks already done are skipped (and said so in the log).
     */
    void delayTasks(const std::vector<std::uint64_t> &taskIds, std::chrono::milliseconds delay);
    void pause();
    void resume();
    //! While paused: run one callback, one iteration, up to the next event of \a taskId, or
    //! up to the next timer (see EventLoop::step()); then pause again.
    void step(loopscope::StepKind kind, std::uint64_t taskId = 0);
    /*!
     * Switches the clock. Only the factor of a scaled clock can change on a live loop; any
     * other change needs a new loop (an EventLoop keeps its clock for life), so it resets.
     */
    void setClock(const loopscope::ClockSpec &clock);
    //! The factor of the scaled clock (clamped to 0.1 … 10); switches to a scaled clock when
    //! the loop runs on another one (a reset).
    void setTimeScale(double factor);
    //! Tears the loop down (tasks cancelled, loop closed) and starts a fresh one, same clock.
    void reset();

    // --- breakpoints (GUI thread; forwarded like the commands above) ----------------------

    /*!
     * Pauses the loop when task \a taskId next changes state (is scheduled, steps, waits,
     * wakes or ends): LoopStats::paused, and a LoopPaused event with
     * PauseReason::TaskBreakpoint and the task's id. Stays until removed.
     *
     * Task ids count from 1 in every loop, so a reset (or a clock change that needs a new
     * loop) drops the task breakpoints rather than arm them on unrelated tasks of the new
     * loop; the two break-on flags below carry over to it.
     */
    void addTaskBreakpoint(std::uint64_t taskId);
    void removeTaskBreakpoint(std::uint64_t taskId);
    //! Pause when a task fails (PauseReason::TaskFailed, with the task's id).
    void setBreakOnTaskFailure(bool enabled);
    //! Pause after a callback that ran longer than the loop's slowCallbackDuration()
    //! (100 ms; PauseReason::SlowCallback, with the handle's id).
    void setBreakOnSlowCallback(bool enabled);

    // --- state (GUI thread) -----------------------------------------------------------------

    //! The clock asked for last (the loop thread applies it in order).
    loopscope::ClockSpec clock() const { return m_clock; }
    //! Whether task \a taskId has a breakpoint (as asked for; the loop applies it in order).
    bool hasTaskBreakpoint(std::uint64_t taskId) const
    {
        return m_taskBreakpoints.count(taskId) != 0;
    }
    //! The tasks with a breakpoint, ascending.
    std::vector<std::uint64_t> taskBreakpoints() const
    {
        return { m_taskBreakpoints.begin(), m_taskBreakpoints.end() };
    }
    bool breakOnTaskFailure() const { return m_breakOnTaskFailure; }
    bool breakOnSlowCallback() const { return m_breakOnSlowCallback; }
    //! The factor the loop thread last applied to its scaled clock (1 for other clocks).
    double appliedTimeScale() const;
    //! Counts loops: 1 for the first, +1 on each reset.
    int generation() const { return m_generation; }
    //! How long the loop thread has been stuck in one iteration or callback; zero while it
    //! is below blockedThreshold().
    std::chrono::milliseconds blockedFor() const { return m_blockedFor; }
    //! The handle (callback) that runs while the loop is blocked, 0 when not blocked.
    std::uint64_t blockedHandle() const { return m_blockedHandle; }
    //! The task whose step blocks the loop, 0 when none (or a plain callback blocks).
    std::uint64_t blockedTask() const { return m_blockedTask; }
    //! Where the blocking callback was scheduled ("file.cpp:12 (function)"), when known.
    QString blockedSite() const { return m_blockedSite; }
    std::chrono::milliseconds blockedThreshold() const { return m_blockedThreshold; }
    void setBlockedThreshold(std::chrono::milliseconds threshold);

    //! The last batch emitted (empty before the first tick).
    const TraceBatch &lastBatch() const { return *m_batch; }
    //! Real time the last tick took (drain + aggregates + everything connected to
    //! batchReady()).
    std::chrono::nanoseconds lastTickDuration() const { return m_lastTickDuration; }
    std::chrono::milliseconds tickInterval() const;
    void setTickInterval(std::chrono::milliseconds interval);

    //! The recorder of the current loop (any thread may read it).
    std::shared_ptr<loopscope::TraceRecorder> recorder() const { return m_recorder; }
    //! Writes the current loop's trace as Chrome JSON to \a path, atomically.
    bool exportChromeTrace(const QString &path, QString *error = nullptr) const;

public Q_SLOTS:
    //! Drains the recorder and emits batchReady(); the timer calls it, tests may too.
    void tick();

Q_SIGNALS:
    //! Every tick, with what was drained (possibly no events) and the aggregates.
    void batchReady(const loopscope::ui::TraceBatch &batch);
    //! A fresh loop replaced the old one (reset, clock change); views drop what they hold.
    void loopReset(int generation);
    //! The loop became blocked, is still blocked (every tick, with the milliseconds so far),
    //! or is no longer blocked (0).
    void blockedChanged(qint64 blockedForMs);
    //! What the loop's exception handler was told, and commands that failed (e.g. step()
    //! while not paused), one line each.
    void messageLogged(const QString &message);
    /*!
     * A scenario's print() (the seeds' "Future is done!"), at loop time \a loopNs, after the
     * trace's first \a sequence events (TraceRecorder::producedEvents() then): these signals
     * can overtake the tick that drains the events before them, so a log places the line by
     * \a sequence.
     */
    void printed(const QString &line, qint64 loopNs, quint64 sequence);
    //! A scenario started with runScenario() or spawn() ended: its summary line (\a loopNs
    //! and \a sequence as for printed()).
    void scenarioFinished(const QString &summary, qint64 loopNs, quint64 sequence);
    /*!
     * A scenario run ended: what each of its tasks returned, raised or was cancelled with,
     * by task id. The trace only carries errors and cancel messages; return values come
     * from here.
     */
    void resultsKnown(const QHash<quint64, QString> &results);
    //! The loop thread applied a new time-scale factor.
    void timeScaleApplied(double factor);
    //! The breakpoints asked for changed (added, removed, a flag set, or dropped by a reset).
    void breakpointsChanged();

private:
    friend class LoopWorker;
    void post(std::function<void(LoopWorker &)> command);
    void adoptLoop(int generation, std::shared_ptr<loopscope::TraceRecorder> recorder);
    //! A new loop is coming: its task ids mean other tasks.
    void dropTaskBreakpoints();
    void updateBlocked();

    loopscope::ClockSpec m_clock;
    QThread *m_thread = nullptr;
    LoopWorker *m_worker = nullptr; //!< lives in m_thread; deleted there
    std::shared_ptr<LoopPulse> m_pulse;
    std::shared_ptr<loopscope::TraceRecorder> m_recorder;
    std::unique_ptr<TraceBatch> m_batch;
    QTimer m_tickTimer;
    int m_generation = 0; //!< requested: counts reset() calls
    int m_adoptedGeneration = 0; //!< the loop whose recorder m_recorder is
    bool m_batchIsFresh = true; //!< the next tick reads the aggregates whatever happened
    std::chrono::milliseconds m_blockedThreshold{ 250 };
    std::chrono::milliseconds m_blockedFor{ 0 };
    std::uint64_t m_blockedHandle = 0;
    std::uint64_t m_blockedTask = 0;
    QString m_blockedSite;
    std::chrono::nanoseconds m_lastTickDuration{ 0 };
    std::set<std::uint64_t> m_taskBreakpoints;
    bool m_breakOnTaskFailure = false;
    bool m_breakOnSlowCallback = false;
};

} // namespace loopscope::ui
