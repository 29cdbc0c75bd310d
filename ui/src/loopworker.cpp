#include "loopworker.h"

#include <loopscope/clock.h>
#include <loopscope/errors.h>
#include <loopscope/tsan.h>
#include <loopscope/ui/loophost.h>

#include <QElapsedTimer>
#include <QMetaObject>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <exception>
#include <utility>

namespace loopscope::ui {

namespace {

//! How long a reset lets cancelled tasks unwind before the loop closes on them.
constexpr auto UnwindBudget = std::chrono::milliseconds(500);

} // namespace

LoopWorker::LoopWorker(LoopHost *host, std::shared_ptr<LoopPulse> pulse)
    : m_host(host), m_pulse(std::move(pulse))
{
}

LoopWorker::~LoopWorker()
{
    teardown();
}

template <typename F>
void LoopWorker::guarded(const char *what, F &&fn)
{
    try {
        fn();
    } catch (const std::exception &e) {
        report(QStringLiteral("%1: %2").arg(QLatin1String(what), QString::fromUtf8(e.what())));
    }
}

void LoopWorker::report(const QString &message)
{
    // HandOff, here and below: Qt's queue to the GUI thread is invisible to ThreadSanitizer.
    LoopHost *host = m_host;
    QMetaObject::invokeMethod(host,
                              HandOff([host, message] { Q_EMIT host->messageLogged(message); }),
                              Qt::QueuedConnection);
}

void LoopWorker::execute(std::function<void(LoopWorker &)> command)
{
    if (m_closing) {
        m_deferred.push_back(std::move(command));
        return;
    }
    command(*this);
    // Commands that arrived while a teardown inside \a command unwound tasks; running one of
    // them may defer more.
    while (!m_deferred.empty()) {
        std::vector<std::function<void(LoopWorker &)>> deferred;
        deferred.swap(m_deferred);
        for (auto &next : deferred)
            next(*this);
    }
}

void LoopWorker::createLoop(const ClockSpec &clock, int generation)
{
    teardown();
    m_clockSpec = clock;
    m_clock = makeClock(clock);
    RecorderOptions options;
    options.capacity = std::size_t(1) << 17; // 8 MiB: two seconds of a very busy loop
    options.retainedFinishedTasks = 20000; // the task table keeps its own, time-limited copy
    m_recorder = std::make_shared<TraceRecorder>(options);
    m_pulse->appliedScale.store(clock.mode == ClockSpec::Mode::Scaled ? clock.scale : 1.0,
                                std::memory_order_relaxed);
    m_loop = std::make_unique<EventLoop>(m_clock);
    LoopHost *host = m_host;
    m_loop->setExceptionHandler(m_recorder->exceptionHandler([host](const ExceptionContext &c) {
        const QString line = c.toString();
        QMetaObject::invokeMethod(host, HandOff([host, line] { Q_EMIT host->messageLogged(line); }),
                                  Qt::QueuedConnection);
    }));
    // The recorder alone watches the loop: it is written to directly, with no TraceEvent
    // built per callback (breakpoints and steps build theirs while they are set).
    m_loop->addObserver(m_recorder.get());
    m_taskBreakpoints.clear(); // ids of the old loop's tasks
    m_loop->setBreakOnTaskFailure(m_breakOnTaskFailure);
    m_loop->setBreakOnSlowCallback(m_breakOnSlowCallback);
    QMetaObject::invokeMethod(host, HandOff([host, generation, recorder = m_recorder] {
                                  host->adoptLoop(generation, recorder);
                              }),
                              Qt::QueuedConnection);
}

void LoopWorker::teardown()
{
    if (!m_loop || m_closing)
        return;
    m_closing = true;
    EventLoop &loop = *m_loop;
    try {
        // A breakpoint hit while the tasks unwind would pause the loop and leave them
        // pending until the budget ran out; the flags stay held for the next loop.
        for (const std::uint64_t taskId : m_taskBreakpoints)
            loop.removeTaskBreakpoint(taskId);
        loop.setBreakOnTaskFailure(false);
        loop.setBreakOnSlowCallback(false);
        loop.resume();
        for (Task<ScenarioOutcome> &run : m_runs) {
            if (!run.done())
                run.cancel("loop reset");
        }
        for (TaskRef task : loop.allTasks())
            task.cancel("loop reset");
        // Let the cancelled tasks run their cleanup: stop() before runForever() runs exactly
        // one iteration. Bounded, because a task may catch CancelledError and go on.
        QElapsedTimer elapsed;
        elapsed.start();
        while (!loop.allTasks().empty()
               && std::chrono::milliseconds(elapsed.elapsed()) < UnwindBudget) {
            loop.stop();
            loop.runForever();
        }
    } catch (const std::exception &e) {
        report(QStringLiteral("reset: ") + QString::fromUtf8(e.what()));
    }
    m_runs.clear();
    loop.close();
    m_recorder->noteLoopClosed();
    loop.removeObserver(m_recorder.get());
    m_loop.reset();
    // The GUI thread may still hold and drain the recorder; it goes with the last reference.
    m_recorder.reset();
    m_clock.reset();
    m_closing = false;
}

void LoopWorker::runScenario(const Scenario &scenario)
{
    if (!usable())
        return;
    guarded("run scenario", [&] {
        // Drop the runs that ended; their outcome went to the host already.
        std::erase_if(m_runs, [](const Task<ScenarioOutcome> &run) { return run.done(); });
        LoopHost *host = m_host;
        // Where in the loop's time and trace a line was printed (called on the loop thread,
        // while the loop runs).
        const auto place = [loop = m_loop.get(), recorder = m_recorder] {
            return std::pair<qint64, quint64>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                      loop->time().time_since_epoch())
                                                      .count(),
                                              recorder->producedEvents());
        };
        ScenarioHooks hooks;
        hooks.print = [host, place](const QString &line) {
            const auto [ns, sequence] = place();
            QMetaObject::invokeMethod(host, HandOff([host, line, ns = ns, sequence = sequence] {
                                          Q_EMIT host->printed(line, ns, sequence);
                                      }),
                                      Qt::QueuedConnection);
        };
        Task<ScenarioOutcome> run = loopscope::runScenario(*m_loop, scenario, std::move(hooks));
        run.addDoneCallback([host, place](Future<ScenarioOutcome> f) {
            QString summary;
            try {
                const ScenarioOutcome &outcome = f.result();
                summary = outcome.summaryLine();
                QHash<quint64, QString> results;
                for (const auto *list : { &outcome.tasks, &outcome.children }) {
                    for (const ScenarioTaskResult &r : *list)
                        results.insert(r.taskId, r.text);
                }
                QMetaObject::invokeMethod(
                        host, HandOff([host, results] { Q_EMIT host->resultsKnown(results); }),
                        Qt::QueuedConnection);
            } catch (const CancelledError &) {
                summary = QStringLiteral("cancelled");
            } catch (const std::exception &e) {
                summary = QStringLiteral("failed: ") + QString::fromUtf8(e.what());
            }
            const auto [ns, sequence] = place();
            QMetaObject::invokeMethod(host, HandOff([host, summary, ns = ns, sequence = sequence] {
                                          Q_EMIT host->scenarioFinished(summary, ns, sequence);
                                      }),
                                      Qt::QueuedConnection);
        });
        m_runs.push_back(std::move(run));
    });
}

void LoopWorker::spawn(const ScenarioSpawn &spawn)
{
    Scenario scenario;
    scenario.name = QStringLiteral("spawn_") + templateSpec(spawn.templateId).name.toLower();
    scenario.title = scenario.description = QStringLiteral("spawned from the panel");
    scenario.spawns.push_back(spawn);
    runScenario(scenario);
}

void LoopWorker::cancelTasks(const std::vector<std::uint64_t> &taskIds, const QString &message)
{
    if (!usable())
        return;
    guarded("cancel", [&] {
        std::vector<std::uint64_t> wanted = taskIds;
        std::sort(wanted.begin(), wanted.end());
        const std::string text = message.toStdString();
        for (TaskRef task : m_loop->allTasks()) {
            if (std::binary_search(wanted.begin(), wanted.end(), task.id()))
                task.cancel(text);
        }
    });
}

void LoopWorker::delayTasks(const std::vector<std::uint64_t> &taskIds,
                            std::chrono::milliseconds delay)
{
    if (!usable())
        return;
    guarded("delay", [&] {
        std::vector<std::uint64_t> wanted = taskIds;
        std::sort(wanted.begin(), wanted.end());
        int delayed = 0;
        for (TaskRef task : m_loop->allTasks()) {
            if (std::binary_search(wanted.begin(), wanted.end(), task.id()))
                delayed += task.delay(delay) ? 1 : 0;
        }
        if (delayed < int(wanted.size()))
            report(QStringLiteral("delay: %1 of %2 tasks were already done")
                           .arg(int(wanted.size()) - delayed)
                           .arg(wanted.size()));
    });
}

void LoopWorker::pause()
{
    if (usable())
        guarded("pause", [&] { m_loop->pause(); });
}

void LoopWorker::resume()
{
    if (usable())
        guarded("resume", [&] { m_loop->resume(); });
}

void LoopWorker::step(StepKind kind, std::uint64_t taskId)
{
    if (usable())
        guarded("step", [&] { m_loop->step(kind, taskId); });
}

void LoopWorker::setClock(const ClockSpec &clock, int generation)
{
    if (m_loop && !m_closing && clock.mode == ClockSpec::Mode::Scaled
        && m_clockSpec.mode == ClockSpec::Mode::Scaled) {
        auto *scaled = static_cast<ScaledClock *>(m_clock.get());
        guarded("time scale", [&] {
            scaled->setFactor(clock.scale);
            m_clockSpec = clock;
            m_pulse->appliedScale.store(clock.scale, std::memory_order_relaxed);
            LoopHost *host = m_host;
            const double factor = clock.scale;
            QMetaObject::invokeMethod(
                    host, HandOff([host, factor] { Q_EMIT host->timeScaleApplied(factor); }),
                    Qt::QueuedConnection);
        });
        return;
    }
    createLoop(clock, generation);
}

void LoopWorker::addTaskBreakpoint(std::uint64_t taskId)
{
    if (std::find(m_taskBreakpoints.begin(), m_taskBreakpoints.end(), taskId)
        == m_taskBreakpoints.end())
        m_taskBreakpoints.push_back(taskId);
    if (usable())
        guarded("breakpoint", [&] { m_loop->addTaskBreakpoint(taskId); });
}

void LoopWorker::removeTaskBreakpoint(std::uint64_t taskId)
{
    std::erase(m_taskBreakpoints, taskId);
    if (usable())
        guarded("breakpoint", [&] { m_loop->removeTaskBreakpoint(taskId); });
}

void LoopWorker::setBreakOnTaskFailure(bool enabled)
{
    m_breakOnTaskFailure = enabled;
    if (usable())
        guarded("break on failure", [&] { m_loop->setBreakOnTaskFailure(enabled); });
}

void LoopWorker::setBreakOnSlowCallback(bool enabled)
{
    m_breakOnSlowCallback = enabled;
    if (usable())
        guarded("break on slow callback", [&] { m_loop->setBreakOnSlowCallback(enabled); });
}

} // namespace loopscope::ui
