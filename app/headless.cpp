#include "headless.h"

#include "tasksummary.h"

#include <loopscope/eventloop.h>
#include <loopscope/recorder.h>

#include <QFileInfo>
#include <QTimer>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

using namespace loopscope;

namespace {

void printLine(std::FILE *stream, const QString &line)
{
    std::fprintf(stream, "%s\n", line.toLocal8Bit().constData());
    std::fflush(stream);
}

/*!
 * The last resort behind the soft watchdog: the soft one (a QTimer) needs the loop's thread
 * to come back to Qt, which a callback that never returns prevents. This thread ends the
 * process if the run is not over \a limit after it started.
 */
class HardWatchdog
{
public:
    explicit HardWatchdog(std::chrono::milliseconds limit)
        : m_thread([this, limit] {
              std::unique_lock lock(m_mutex);
              if (!m_done.wait_for(lock, limit, [this] { return m_disarmed; })) {
                  std::fprintf(stderr,
                               "loopscope: the loop thread did not come back within %lld ms; "
                               "giving up\n",
                               static_cast<long long>(limit.count()));
                  std::fflush(stderr);
                  std::_Exit(ExitTimeout);
              }
          })
    {
    }
    ~HardWatchdog()
    {
        {
            std::lock_guard lock(m_mutex);
            m_disarmed = true;
        }
        m_done.notify_one();
        m_thread.join();
    }
    HardWatchdog(const HardWatchdog &) = delete;
    HardWatchdog &operator=(const HardWatchdog &) = delete;

private:
    std::mutex m_mutex;
    std::condition_variable m_done;
    bool m_disarmed = false;
    std::thread m_thread; //!< last: starts once the members it uses exist
};

} // namespace

int runHeadless(const HeadlessOptions &options)
{
    const Scenario &scenario = options.scenario;
    // The hard watchdog leaves the soft one time to cancel, close and report first.
    HardWatchdog hardWatchdog(std::chrono::milliseconds(options.timeoutMs)
                              + std::chrono::seconds(10));

    // Observers outlive the loop (declared first, destroyed last).
    TaskSummary summary;
    std::unique_ptr<TraceRecorder> recorder;
    if (!options.tracePath.isEmpty()) {
        RecorderOptions recorderOptions;
        recorderOptions.capacity = std::size_t(1) << 18; // 16 MiB of events
        recorder = std::make_unique<TraceRecorder>(recorderOptions);
    }

    int exitCode = ExitOk;
    std::optional<ScenarioOutcome> outcome;
    std::uint64_t runTaskId = 0;
    double loopSeconds = 0;
    {
        // Before the loop: its handler may still report while the loop is destroyed.
        bool quiet = false;
        EventLoop loop(makeClock(options.clock));
        ExceptionHandler report = [&quiet](const ExceptionContext &context) {
            if (!quiet)
                printLine(stderr, QStringLiteral("loopscope: warning: ") + context.toString());
        };
        loop.setExceptionHandler(recorder ? recorder->exceptionHandler(report) : report);
        if (options.summary)
            loop.addObserver(&summary);
        if (recorder)
            loop.addObserver(recorder.get());

        ScenarioHooks hooks;
        hooks.print = [](const QString &line) { printLine(stdout, line); };
        hooks.stopLoop = [&loop] { loop.stop(); };

        bool timedOut = false;
        QTimer watchdog;
        watchdog.setSingleShot(true);
        watchdog.setTimerType(Qt::CoarseTimer);
        QObject::connect(&watchdog, &QTimer::timeout, [&] {
            timedOut = true;
            loop.stop();
        });
        watchdog.start(options.timeoutMs);

        const double started = loop.timeSeconds();
        Task<ScenarioOutcome> run = runScenario(loop, scenario, hooks);
        runTaskId = run.taskId();
        try {
            if (scenario.endsOnStop()) {
                // asyncio's seed 2: run_forever() until the done-callback calls stop(). Should
                // the run end some other way, stop then too rather than spin forever.
                run.addDoneCallback([&loop] { loop.stop(); });
                loop.runForever();
                // stop() ends the loop before the run saw it: let it cancel what is left.
                if (!timedOut && !run.done())
                    loop.runUntilComplete(Future<ScenarioOutcome>(run));
            } else {
                loop.runUntilComplete(Future<ScenarioOutcome>(run));
            }
            if (!timedOut)
                outcome = run.result();
        } catch (const CancelledError &e) {
            if (!timedOut) {
                printLine(stderr,
                          QStringLiteral("loopscope: the scenario run was cancelled: ")
                                  + QString::fromStdString(e.what()));
                exitCode = ExitFailure;
            }
        } catch (const std::exception &e) {
            if (!timedOut) {
                printLine(stderr,
                          QStringLiteral("loopscope: the scenario run failed: ")
                                  + QString::fromStdString(
                                          detail::describeException(std::current_exception())));
                exitCode = ExitFailure;
            }
        }
        watchdog.stop();
        loopSeconds = loop.timeSeconds() - started;
        if (timedOut) {
            printLine(stderr,
                      QStringLiteral("loopscope: scenario '%1' did not complete within %2 ms "
                                     "(--timeout-ms); giving up")
                              .arg(scenario.name)
                              .arg(options.timeoutMs));
            exitCode = ExitTimeout;
            // Closing destroys the tasks still pending; that they were is the message above.
            quiet = true;
        }
        loop.close();
        if (recorder)
            recorder->noteLoopClosed();
        loop.removeObserver(&summary);
        if (recorder)
            loop.removeObserver(recorder.get());
    }

    if (outcome && options.summary) {
        summary.applyOutcome(*outcome, runTaskId);
        printLine(stdout, summary.format());
        printLine(stdout,
                  QStringLiteral("scenario %1 completed on the %2 clock after %3 s of loop time: "
                                 "%4")
                          .arg(scenario.name, options.clock.toString())
                          .arg(loopSeconds, 0, 'f', 3)
                          .arg(outcome->summaryLine()));
    }
    if (recorder) {
        QString error;
        if (recorder->exportChromeTrace(options.tracePath, &error)) {
            printLine(stderr,
                      QStringLiteral("loopscope: trace written to %1 (%2 events, %3 dropped)")
                              .arg(options.tracePath)
                              .arg(recorder->producedEvents())
                              .arg(recorder->droppedEvents()));
        } else {
            printLine(stderr,
                      QStringLiteral("loopscope: cannot write the trace to %1: %2")
                              .arg(options.tracePath, error));
            if (exitCode == ExitOk)
                exitCode = ExitFailure;
        }
    }
    return exitCode;
}
