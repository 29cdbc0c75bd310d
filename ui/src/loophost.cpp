#include <loopscope/ui/loophost.h>

#include "loopworker.h"
#include "tracedrain.h"

#include <loopscope/eventloop.h>
#include <loopscope/recorder.h>
#include <loopscope/tsan.h>
#include <loopscope/ui/tracebatch.h>

#include <QMetaObject>
#include <QThread>

#include <algorithm>
#include <cmath>

namespace loopscope::ui {

namespace {

std::int64_t steadyNowNs()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
}

} // namespace

LoopHost::LoopHost(const ClockSpec &clock, QObject *parent)
    : QObject(parent),
      m_clock(clock),
      m_thread(new QThread),
      m_pulse(std::make_shared<LoopPulse>()),
      m_batch(std::make_unique<TraceBatch>())
{
    m_thread->setObjectName(QStringLiteral("loopscope-loop"));
    m_worker = new LoopWorker(this, m_pulse);
    m_worker->moveToThread(m_thread);
#ifdef LOOPSCOPE_TSAN
    // QThread::wait() joins inside Qt, out of ThreadSanitizer's sight: the thread's last act
    // (finished() is emitted on it) orders all it did before ~LoopHost deletes the worker.
    connect(m_thread, &QThread::finished, [worker = m_worker] { LOOPSCOPE_TSAN_RELEASE(worker); });
#endif
    m_thread->start();
    m_generation = 1;
    post([clock, generation = m_generation](LoopWorker &w) { w.createLoop(clock, generation); });

    m_tickTimer.setTimerType(Qt::PreciseTimer);
    m_tickTimer.setInterval(std::chrono::milliseconds(33));
    connect(&m_tickTimer, &QTimer::timeout, this, &LoopHost::tick);
    m_tickTimer.start();
}

LoopHost::~LoopHost()
{
    m_tickTimer.stop();
    // The loop is closed on its own thread, queued behind whatever command still runs there
    // (even a callback that blocks the loop); then the thread ends. The worker itself, with no
    // loop left, is deleted here once its thread is gone.
    // Posted as a command, so it waits for a reset whose teardown is still unwinding tasks:
    // delivered inside that teardown's nested event loop, it used to end the thread half-way
    // through the reset, whose new loop was then closed by ~LoopWorker on this thread
    // (ThreadSanitizer, tst_loophost).
    QThread *thread = m_thread;
    post([thread](LoopWorker &w) {
        w.teardown();
        thread->quit();
    });
    m_thread->wait();
    LOOPSCOPE_TSAN_ACQUIRE(m_worker); // see the constructor
    delete m_worker;
    delete m_thread;
}

void LoopHost::post(std::function<void(LoopWorker &)> command)
{
    LoopWorker *worker = m_worker;
    // HandOff: Qt's queue to the loop thread is invisible to ThreadSanitizer.
    QMetaObject::invokeMethod(
            worker, HandOff([worker, command = std::move(command)] { worker->execute(command); }),
            Qt::QueuedConnection);
}

void LoopHost::spawn(const ScenarioSpawn &spawn)
{
    post([spawn](LoopWorker &w) { w.spawn(spawn); });
}

void LoopHost::runScenario(const Scenario &scenario)
{
    post([scenario](LoopWorker &w) { w.runScenario(scenario); });
}

void LoopHost::cancelTasks(const std::vector<std::uint64_t> &taskIds, const QString &message)
{
    post([taskIds, message](LoopWorker &w) { w.cancelTasks(taskIds, message); });
}

void LoopHost::delayTasks(const std::vector<std::uint64_t> &taskIds,
                          std::chrono::milliseconds delay)
{
    if (delay <= std::chrono::milliseconds::zero() || taskIds.empty())
        return;
    post([taskIds, delay](LoopWorker &w) { w.delayTasks(taskIds, delay); });
}

void LoopHost::pause()
{
    post([](LoopWorker &w) { w.pause(); });
}

void LoopHost::resume()
{
    post([](LoopWorker &w) { w.resume(); });
}

void LoopHost::step(StepKind kind, std::uint64_t taskId)
{
    post([kind, taskId](LoopWorker &w) { w.step(kind, taskId); });
}

void LoopHost::setClock(const ClockSpec &clock)
{
    ClockSpec wanted = clock;
    if (wanted.mode == ClockSpec::Mode::Scaled)
        wanted.scale = std::isfinite(wanted.scale)
                ? std::clamp(wanted.scale, MinClockScale, MaxClockScale)
                : 1.0;
    else
        wanted.scale = 1.0;
    if (wanted == m_clock)
        return;
    const bool live =
            wanted.mode == ClockSpec::Mode::Scaled && m_clock.mode == ClockSpec::Mode::Scaled;
    m_clock = wanted;
    if (!live) {
        ++m_generation;
        dropTaskBreakpoints();
    }
    post([wanted, generation = m_generation](LoopWorker &w) { w.setClock(wanted, generation); });
}

void LoopHost::setTimeScale(double factor)
{
    setClock(ClockSpec{ ClockSpec::Mode::Scaled, factor });
}

void LoopHost::reset()
{
    ++m_generation;
    dropTaskBreakpoints();
    post([clock = m_clock, generation = m_generation](LoopWorker &w) {
        w.createLoop(clock, generation);
    });
}

void LoopHost::addTaskBreakpoint(std::uint64_t taskId)
{
    if (taskId == 0 || !m_taskBreakpoints.insert(taskId).second)
        return;
    post([taskId](LoopWorker &w) { w.addTaskBreakpoint(taskId); });
    Q_EMIT breakpointsChanged();
}

void LoopHost::removeTaskBreakpoint(std::uint64_t taskId)
{
    if (m_taskBreakpoints.erase(taskId) == 0)
        return;
    post([taskId](LoopWorker &w) { w.removeTaskBreakpoint(taskId); });
    Q_EMIT breakpointsChanged();
}

void LoopHost::setBreakOnTaskFailure(bool enabled)
{
    if (enabled == m_breakOnTaskFailure)
        return;
    m_breakOnTaskFailure = enabled;
    post([enabled](LoopWorker &w) { w.setBreakOnTaskFailure(enabled); });
    Q_EMIT breakpointsChanged();
}

void LoopHost::setBreakOnSlowCallback(bool enabled)
{
    if (enabled == m_breakOnSlowCallback)
        return;
    m_breakOnSlowCallback = enabled;
    post([enabled](LoopWorker &w) { w.setBreakOnSlowCallback(enabled); });
    Q_EMIT breakpointsChanged();
}

void LoopHost::dropTaskBreakpoints()
{
    // The loop thread drops its own copy when it creates the new loop, in the same order.
    if (m_taskBreakpoints.empty())
        return;
    m_taskBreakpoints.clear();
    Q_EMIT breakpointsChanged();
}

double LoopHost::appliedTimeScale() const
{
    return m_pulse->appliedScale.load(std::memory_order_relaxed);
}

void LoopHost::setBlockedThreshold(std::chrono::milliseconds threshold)
{
    m_blockedThreshold = threshold;
}

std::chrono::milliseconds LoopHost::tickInterval() const
{
    return m_tickTimer.intervalAsDuration();
}

void LoopHost::setTickInterval(std::chrono::milliseconds interval)
{
    m_tickTimer.setInterval(interval);
}

bool LoopHost::exportChromeTrace(const QString &path, QString *error) const
{
    if (!m_recorder) {
        if (error)
            *error = tr("the loop has not started yet");
        return false;
    }
    return m_recorder->exportChromeTrace(path, error);
}

void LoopHost::adoptLoop(int generation, std::shared_ptr<TraceRecorder> recorder)
{
    m_recorder = std::move(recorder);
    m_adoptedGeneration = generation;
    *m_batch = TraceBatch();
    m_batch->generation = generation;
    m_batchIsFresh = true;
    m_blockedFor = std::chrono::milliseconds(0);
    Q_EMIT loopReset(generation);
}

void LoopHost::tick()
{
    const auto started = std::chrono::steady_clock::now();
    TraceBatch &batch = *m_batch;
    batch.generation = m_adoptedGeneration;
    batch.events.clear();
    batch.strings.clear();
    batch.changed = false;
    if (m_recorder && drainTrace(*m_recorder, batch, m_batchIsFresh))
        m_batchIsFresh = false;
    updateBlocked();
    batch.blockedFor = m_blockedFor;
    Q_EMIT batchReady(batch);
    m_lastTickDuration = std::chrono::steady_clock::now() - started;
}

void LoopHost::updateBlocked()
{
    const LoopActivity activity = m_recorder ? m_recorder->activity() : LoopActivity();
    const std::int64_t since = activity.busySinceNs;
    const auto busy = since ? std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::nanoseconds(steadyNowNs() - since))
                            : std::chrono::milliseconds(0);
    const bool blocked = busy > m_blockedThreshold;
    if (!blocked) {
        if (m_blockedFor.count() == 0)
            return;
        m_blockedFor = std::chrono::milliseconds(0);
        m_blockedHandle = 0;
        m_blockedTask = 0;
        m_blockedSite.clear();
        Q_EMIT blockedChanged(0);
        return;
    }
    const std::uint64_t handle = activity.runningHandle;
    if (handle != m_blockedHandle) {
        // Once per stall: where was the stuck callback scheduled? Its HandleScheduled event
        // is usually still in the ring.
        m_blockedHandle = handle;
        m_blockedTask = activity.runningTask;
        m_blockedSite.clear();
        if (handle && m_recorder) {
            const std::vector<RecordedEvent> ring = m_recorder->snapshot();
            for (auto it = ring.rbegin(); it != ring.rend(); ++it) {
                if (it->kind == TraceEventKind::HandleScheduled && it->id == handle) {
                    m_blockedSite = m_recorder->stringAt(it->location);
                    break;
                }
            }
        }
    }
    m_blockedFor = busy;
    Q_EMIT blockedChanged(busy.count());
}

} // namespace loopscope::ui
