#pragma once

// Private to Loopscope::Ui: the loop thread's half of LoopHost.

#include <loopscope/eventloop.h>
#include <loopscope/observer.h>
#include <loopscope/recorder.h>
#include <loopscope/scenario.h>
#include <loopscope/task.h>

#include <QObject>

#include <atomic>
#include <functional>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace loopscope::ui {

class LoopHost;

/*!
 * What the loop thread tells the GUI thread without a queued event: written by the loop
 * thread, read by the GUI's tick. (Whether the loop is stuck, and in which callback, the GUI
 * reads from the recorder: TraceRecorder::activity().)
 */
struct LoopPulse
{
    std::atomic<double> appliedScale{ 1.0 }; //!< the scaled clock's factor, 1 otherwise
};

/*!
 * Owns the EventLoop, its clock and recorder, on the loop thread. LoopHost posts lambdas to
 * it (QMetaObject::invokeMethod, queued), so everything here runs on the loop thread, outside
 * any loop callback.
 */
class LoopWorker final : public QObject
{
public:
    LoopWorker(LoopHost *host, std::shared_ptr<LoopPulse> pulse);
    ~LoopWorker() override;

    /*!
     * Runs \a command now, or, while a teardown lets tasks unwind (a nested Qt event loop that
     * also delivers the next commands), once the teardown and the loop creation around it
     * are over: commands always run in the order they were posted.
     */
    void execute(std::function<void(LoopWorker &)> command);

    //! Replaces the loop (if any) with a fresh one on \a clock for \a generation.
    void createLoop(const ClockSpec &clock, int generation);
    //! Cancels every task, lets them unwind for a short while, closes the loop.
    void teardown();

    void spawn(const ScenarioSpawn &spawn);
    void runScenario(const Scenario &scenario);
    void cancelTasks(const std::vector<std::uint64_t> &taskIds, const QString &message);
    void delayTasks(const std::vector<std::uint64_t> &taskIds, std::chrono::milliseconds delay);
    void pause();
    void resume();
    void step(StepKind kind, std::uint64_t taskId);
    void setClock(const ClockSpec &clock, int generation);
    void addTaskBreakpoint(std::uint64_t taskId);
    void removeTaskBreakpoint(std::uint64_t taskId);
    void setBreakOnTaskFailure(bool enabled);
    void setBreakOnSlowCallback(bool enabled);

private:
    //! Runs \a fn and reports RuntimeError & co. to the host instead of letting them escape
    //! into Qt's event dispatch.
    template <typename F>
    void guarded(const char *what, F &&fn);
    void report(const QString &message);
    bool usable() const { return m_loop && !m_closing; }

    //! Only used to post back to the GUI thread: the host joins this thread before it dies.
    LoopHost *m_host;
    std::shared_ptr<LoopPulse> m_pulse;
    ClockSpec m_clockSpec;
    std::shared_ptr<Clock> m_clock;
    std::shared_ptr<TraceRecorder> m_recorder;
    std::unique_ptr<EventLoop> m_loop;
    std::vector<Task<ScenarioOutcome>> m_runs;
    std::vector<std::function<void(LoopWorker &)>> m_deferred;
    //! Held here too, so that a new loop gets the flags; task breakpoints die with their loop.
    std::vector<std::uint64_t> m_taskBreakpoints;
    bool m_breakOnTaskFailure = false;
    bool m_breakOnSlowCallback = false;
    bool m_closing = false;
};

} // namespace loopscope::ui
