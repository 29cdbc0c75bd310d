// runScenario(): spawns a scenario's templates on a loop and waits until everything it created
// has ended (or a done-callback stopped the loop).

#include "loopscope/scenario.h"

#include "loopscope/eventloop.h"
#include "loopscope/refcounted.h"

#include "loopscope/gather.h"
#include "loopscope/locks.h"
#include "loopscope/queue.h"
#include "loopscope/sleep.h"
#include "loopscope/taskgroup.h"
#include "loopscope/timeout.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <random>

namespace loopscope {

namespace {

using std::chrono::milliseconds;

QString describeError(const std::exception_ptr &error)
{
    return QString::fromStdString(detail::describeException(error));
}

/*!
 * Keeps the current thread busy for \a duration of real time. Used on a worker thread (the
 * executor template: CPU work done right) and on the loop thread (the blockingCallback
 * template: CPU work done wrong, on purpose). Returns a figure that depends on every round so
 * the optimiser cannot drop the work.
 */
std::uint64_t burnCpu(milliseconds duration)
{
    const auto until = std::chrono::steady_clock::now() + duration;
    std::uint64_t x = 0x9E3779B97F4A7C15ULL;
    std::uint64_t rounds = 0;
    do {
        for (int i = 0; i < 4096; ++i)
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        ++rounds;
    } while (std::chrono::steady_clock::now() < until);
    return rounds + (x >> 63);
}

QString msText(qint64 ms)
{
    return QString::number(ms) + QStringLiteral(" ms");
}

class RunState;

/*!
 * What an instance's coroutine gets: its loop, its name, and a way to create child tasks
 * that the run tracks (so a stopped or cancelled run can cancel them and wait for them).
 */
struct InstanceContext
{
    EventLoop *loop;
    std::weak_ptr<RunState> run;
    QString name;
    std::size_t spawnIndex;

    Task<QString> child(Coro<QString> coro, const QString &suffix) const;
};

// --- the templates' coroutines -------------------------------------------------------------
// Every one returns a line of text: what the task did, shown as its result.

Coro<QString> sleeper(qint64 delayMs)
{
    co_await loopscope::sleep(milliseconds(delayMs));
    co_return QStringLiteral("slept ") + msText(delayMs);
}

Coro<int> chainLevel(int level, int depth, qint64 stepMs)
{
    co_await loopscope::sleep(milliseconds(stepMs));
    if (level < depth)
        co_return co_await chainLevel(level + 1, depth, stepMs);
    co_return level;
}

Coro<QString> chain(int depth, qint64 stepMs)
{
    const int reached = co_await chainLevel(1, depth, stepMs);
    co_return QStringLiteral("awaited a chain of %1 coroutines").arg(reached);
}

Coro<QString> fanout(InstanceContext ctx, int children, qint64 childDelayMs, qint64 spreadMs)
{
    std::vector<Task<QString>> tasks;
    tasks.reserve(std::size_t(children));
    for (int i = 0; i < children; ++i) {
        tasks.push_back(ctx.child(sleeper(childDelayMs + i * spreadMs),
                                  QStringLiteral(".child-%1").arg(i + 1)));
    }
    const std::vector<QString> results = co_await gather(tasks);
    co_return QStringLiteral("gathered %1 results").arg(results.size());
}

Coro<QString> timeLimited(bool useWaitFor, qint64 limitMs, qint64 workMs)
{
    bool expired = false;
    try {
        if (useWaitFor)
            co_await waitFor(loopscope::sleep(milliseconds(workMs)), milliseconds(limitMs));
        else
            co_await timeout(milliseconds(limitMs), loopscope::sleep(milliseconds(workMs)));
    } catch (const TimeoutError &) {
        expired = true;
    }
    const QString how = useWaitFor ? QStringLiteral("waitFor") : QStringLiteral("timeout");
    if (expired)
        co_return QStringLiteral("%1: TimeoutError after %2 (the work needed %3)")
                .arg(how, msText(limitMs), msText(workMs));
    co_return QStringLiteral("%1: finished in time (%2 of work, limit %3)")
            .arg(how, msText(workMs), msText(limitMs));
}

Coro<QString> producer(std::shared_ptr<Queue<int>> queue, qint64 items, qint64 produceMs)
{
    for (qint64 i = 0; i < items; ++i) {
        co_await loopscope::sleep(milliseconds(produceMs));
        co_await queue->put(int(i));
    }
    co_return QStringLiteral("put %1 items").arg(items);
}

Coro<QString> consumer(std::shared_ptr<Queue<int>> queue, qint64 consumeMs)
{
    qint64 taken = 0;
    for (;;) {
        try {
            (void)co_await queue->get();
        } catch (const QueueShutDown &) {
            break; // the pipeline shut the queue down: every item was processed
        }
        co_await loopscope::sleep(milliseconds(consumeMs));
        queue->taskDone();
        ++taken;
    }
    co_return QStringLiteral("consumed %1 items").arg(taken);
}

Coro<QString> pipeline(InstanceContext ctx, ScenarioSpawn spawn)
{
    const qint64 items = spawn.intParam(QStringLiteral("items"));
    const auto queue =
            std::make_shared<Queue<int>>(std::size_t(spawn.intParam(QStringLiteral("queueSize"))));
    std::vector<Task<QString>> producers;
    std::vector<Task<QString>> consumers;
    for (qint64 i = 0; i < spawn.intParam(QStringLiteral("producers")); ++i) {
        producers.push_back(
                ctx.child(producer(queue, items, spawn.intParam(QStringLiteral("produceMs"))),
                          QStringLiteral(".producer-%1").arg(i + 1)));
    }
    for (qint64 i = 0; i < spawn.intParam(QStringLiteral("consumers")); ++i) {
        consumers.push_back(ctx.child(consumer(queue, spawn.intParam(QStringLiteral("consumeMs"))),
                                      QStringLiteral(".consumer-%1").arg(i + 1)));
    }
    co_await gather(producers);
    co_await queue->join(); // every item taken and marked done
    queue->shutdown(); // wakes the consumers blocked in get() with QueueShutDown
    co_await gather(consumers);
    co_return QStringLiteral("%1 producers, %2 consumers: %3 items through a queue of size %4")
            .arg(producers.size())
            .arg(consumers.size())
            .arg(qint64(producers.size()) * items)
            .arg(queue->maxsize());
}

Coro<QString> offload(EventLoop *loop, qint64 workMs)
{
    const auto started = std::chrono::steady_clock::now();
    const std::uint64_t rounds =
            co_await loop->runInExecutor([workMs] { return burnCpu(milliseconds(workMs)); });
    const auto took =
            std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - started);
    co_return QStringLiteral("%1 rounds of CPU work on a worker thread, back after %2 real ms")
            .arg(rounds)
            .arg(took.count());
}

Coro<QString> blocker(EventLoop *loop, qint64 blockMs)
{
    Future<void> blocked(*loop);
    loop->callSoon([blocked, blockMs]() mutable {
        // Deliberately wrong: a callback that computes instead of awaiting holds up every
        // other callback, task step and timer of the loop.
        (void)burnCpu(milliseconds(blockMs));
        if (!blocked.done())
            blocked.setResult();
    });
    co_await blocked;
    co_return QStringLiteral("a callback blocked the loop for %1 of real time")
            .arg(msText(blockMs));
}

Coro<QString> failNow(QString message)
{
    throw std::runtime_error(message.toStdString());
    co_return QString(); // makes this a coroutine; never reached
}

Coro<QString> failing(InstanceContext ctx, qint64 delayMs, QString message, qint64 orphans)
{
    for (qint64 i = 0; i < orphans; ++i) {
        // Fire and forget: nobody keeps the task or awaits it, so its exception is reported
        // as never retrieved once the task is gone.
        (void)ctx.child(failNow(message + QStringLiteral(" (orphan %1)").arg(i + 1)),
                        QStringLiteral(".orphan-%1").arg(i + 1));
    }
    co_await loopscope::sleep(milliseconds(delayMs));
    throw ValueError(message.toStdString());
}

Coro<QString> stormVictim(qint64 sleepMs, qint64 cleanupMs)
{
    std::optional<CancelledError> cancelled;
    try {
        co_await loopscope::sleep(milliseconds(sleepMs));
    } catch (const CancelledError &e) {
        cancelled = e; // clean up first (C++ cannot co_await inside a handler)
    }
    if (cancelled) {
        if (cleanupMs > 0)
            co_await loopscope::sleep(milliseconds(cleanupMs));
        throw *cancelled;
    }
    co_return QStringLiteral("survived the storm (slept %1)").arg(msText(sleepMs));
}

Coro<QString> contender(EventLoop *loop, std::shared_ptr<Lock> lock, qint64 rounds, qint64 holdMs,
                        qint64 thinkMs)
{
    Duration waited{};
    for (qint64 r = 0; r < rounds; ++r) {
        if (r > 0 && thinkMs > 0)
            co_await loopscope::sleep(milliseconds(thinkMs));
        const TimePoint asked = loop->time();
        LockGuard guard = co_await lock->scopedAcquire();
        waited += loop->time() - asked;
        co_await loopscope::sleep(milliseconds(holdMs));
    }
    co_return QStringLiteral("held the lock %1 times, waited %2 for it")
            .arg(rounds)
            .arg(msText(std::chrono::duration_cast<milliseconds>(waited).count()));
}

Coro<QString> groupChildFails(qint64 delayMs, QString message)
{
    co_await loopscope::sleep(milliseconds(delayMs));
    throw ValueError(message.toStdString());
}

Coro<void> fillGroup(TaskGroup group, QString name, ScenarioSpawn spawn)
{
    for (qint64 i = 0; i < spawn.intParam(QStringLiteral("children")); ++i) {
        (void)group.createTask(sleeper(spawn.intParam(QStringLiteral("childDelayMs"))),
                               name + QStringLiteral(".child-%1").arg(i + 1));
    }
    for (qint64 i = 0; i < spawn.intParam(QStringLiteral("failures")); ++i) {
        (void)group.createTask(groupChildFails(spawn.intParam(QStringLiteral("failAfterMs")),
                                               spawn.stringParam(QStringLiteral("message"))),
                               name + QStringLiteral(".failing-%1").arg(i + 1));
    }
    co_return;
}

Coro<QString> groupParent(QString name, ScenarioSpawn spawn)
{
    // A named lambda, moved in: g++ 12 destroys a capturing lambda (or any aggregate)
    // passed as a prvalue to a coroutine inside a co_await expression twice.
    auto body = [name, spawn](TaskGroup &group) { return fillGroup(group, name, spawn); };
    co_await withTaskGroup(std::move(body));
    co_return QStringLiteral("all %1 children of the group finished")
            .arg(spawn.intParam(QStringLiteral("children")));
}

//! slow_operation() of both asyncio seed examples.
Coro<QString> slowOperation(qint64 delayMs, QString result)
{
    co_await loopscope::sleep(milliseconds(delayMs));
    co_return result;
}

// --- the run ---------------------------------------------------------------------------------

struct SpawnRuntime
{
    std::shared_ptr<Lock> lock; //!< lockContention: the lock every instance contends for
    std::vector<TaskRef> instances; //!< cancellationStorm: the candidates
    TimerHandle storm; //!< cancellationStorm: when the storm hits
};

class RunState : public std::enable_shared_from_this<RunState>
{
public:
    RunState(EventLoop &loop, Scenario scenario, ScenarioHooks hooks)
        : m_loop(loop), m_scenario(std::move(scenario)), m_hooks(std::move(hooks))
    {
        m_outcome.scenario = m_scenario.name;
        m_spawns.resize(m_scenario.spawns.size());
    }

    EventLoop &loop() const { return m_loop; }
    bool stopRequested() const { return m_stopRequested; }

    //! Spawns what starts at 0 ms at once, from the runner's first step (as a program's own
    //! code calls createTask()), and schedules the rest with callLater; instances sharing a
    //! start time share a timer.
    void start()
    {
        const std::weak_ptr<RunState> weak = weak_from_this();
        for (std::size_t s = 0; s < m_scenario.spawns.size(); ++s) {
            const ScenarioSpawn &spawn = m_scenario.spawns[s];
            if (spawn.templateId == ScenarioTemplate::LockContention)
                m_spawns[s].lock = std::make_shared<Lock>();
            m_unspawned += std::size_t(spawn.count);
            const int groups = spawn.intervalMs == 0 ? 1 : spawn.count;
            for (int g = 0; g < groups; ++g) {
                const int first = g;
                const int last = spawn.intervalMs == 0 ? spawn.count : g + 1;
                if (spawn.startDelayMs + qint64(g) * spawn.intervalMs == 0) {
                    for (int i = first; i < last; ++i)
                        spawnInstance(s, i);
                    continue;
                }
                m_timers.push_back(
                        m_loop.callLater(milliseconds(spawn.startDelayMs + g * spawn.intervalMs),
                                         [weak, s, first, last] {
                                             if (auto run = weak.lock()) {
                                                 for (int i = first; i < last; ++i)
                                                     run->spawnInstance(s, i);
                                             }
                                         }));
            }
            if (spawn.templateId == ScenarioTemplate::CancellationStorm) {
                const qint64 at = spawn.startDelayMs + (spawn.count - 1) * spawn.intervalMs
                        + spawn.intParam(QStringLiteral("cancelAfterMs"));
                m_spawns[s].storm = m_loop.callLater(milliseconds(at), [weak, s] {
                    if (auto run = weak.lock())
                        run->storm(s);
                });
            }
        }
    }

    //! True once nothing is left to spawn and every tracked task has ended.
    bool settled() const { return m_unspawned == 0 && m_live == 0; }
    //! What the runner waits for in its current phase.
    bool shouldWake() const { return settled() || (m_stopRequested && !m_ending); }

    //! A fresh future the runner awaits; completed by wakeIfDue().
    Future<void> newWake()
    {
        m_wake.emplace(m_loop);
        wakeIfDue();
        return *m_wake;
    }

    void requestStop()
    {
        if (m_stopRequested)
            return;
        m_stopRequested = true;
        m_outcome.stopped = true;
        wakeIfDue();
    }

    /*!
     * The run ends early (stop() or the run was cancelled): nothing more is spawned, and
     * every tracked task still running is cancelled. The runner then waits for them.
     */
    void cancelRemaining(const std::string &message)
    {
        m_ending = true;
        for (TimerHandle &t : m_timers)
            t.cancel();
        m_timers.clear();
        m_unspawned = 0;
        for (SpawnRuntime &s : m_spawns)
            s.storm.cancel();
        // Over a copy: cancel() runs none of the task's code inline (it only schedules), but
        // m_tracked must not be iterated while anything could append to it.
        const std::vector<TaskRef> tracked = m_tracked;
        for (TaskRef task : tracked) {
            if (task && !task.done())
                task.cancel(message);
        }
    }

    ScenarioOutcome finish()
    {
        for (SpawnRuntime &s : m_spawns) {
            s.storm.cancel();
            s.instances.clear();
        }
        const auto byId = [](const ScenarioTaskResult &a, const ScenarioTaskResult &b) {
            return a.taskId < b.taskId;
        };
        std::sort(m_outcome.tasks.begin(), m_outcome.tasks.end(), byId);
        std::sort(m_outcome.children.begin(), m_outcome.children.end(), byId);
        return m_outcome;
    }

    //! Creates \a coro as a task tracked by the run (a child of an instance of spawn \a s).
    Task<QString> track(Coro<QString> coro, const QString &name, std::size_t s)
    {
        Task<QString> task = m_loop.createTask(std::move(coro), name);
        watch(task, s, false);
        return task;
    }

private:
    void wakeIfDue()
    {
        if (m_wake && !m_wake->done() && shouldWake())
            m_wake->setResult();
    }

    void spawnInstance(std::size_t s, int index)
    {
        --m_unspawned;
        const ScenarioSpawn &spawn = m_scenario.spawns[s];
        const QString name = spawn.instanceName(index);
        InstanceContext ctx{ &m_loop, weak_from_this(), name, s };
        Task<QString> task = m_loop.createTask(makeInstance(ctx, spawn, s), name);
        if (spawn.templateId == ScenarioTemplate::SeedRunUntilComplete
            || spawn.templateId == ScenarioTemplate::SeedRunForever) {
            // Added before the run's own callback, so it prints before the run can end.
            addGotResult(task, spawn.templateId == ScenarioTemplate::SeedRunForever);
        }
        watch(task, s, true);
        if (spawn.templateId == ScenarioTemplate::CancellationStorm)
            m_spawns[s].instances.push_back(TaskRef(task));
        if (m_hooks.spawned)
            m_hooks.spawned(TaskRef(task), spawn);
        wakeIfDue();
    }

    Coro<QString> makeInstance(const InstanceContext &ctx, const ScenarioSpawn &spawn,
                               std::size_t s)
    {
        switch (spawn.templateId) {
        case ScenarioTemplate::Sleep:
            return sleeper(spawn.intParam(QStringLiteral("delayMs")));
        case ScenarioTemplate::Chain:
            return chain(int(spawn.intParam(QStringLiteral("depth"))),
                         spawn.intParam(QStringLiteral("stepDelayMs")));
        case ScenarioTemplate::Fanout:
            return fanout(ctx, int(spawn.intParam(QStringLiteral("children"))),
                          spawn.intParam(QStringLiteral("childDelayMs")),
                          spawn.intParam(QStringLiteral("spreadMs")));
        case ScenarioTemplate::Timeout:
            return timeLimited(spawn.stringParam(QStringLiteral("style"))
                                       == QLatin1String("waitFor"),
                               spawn.intParam(QStringLiteral("limitMs")),
                               spawn.intParam(QStringLiteral("workMs")));
        case ScenarioTemplate::ProducerConsumer:
            return pipeline(ctx, spawn);
        case ScenarioTemplate::Executor:
            return offload(&m_loop, spawn.intParam(QStringLiteral("workMs")));
        case ScenarioTemplate::BlockingCallback:
            return blocker(&m_loop, spawn.intParam(QStringLiteral("blockMs")));
        case ScenarioTemplate::Failing:
            return failing(ctx, spawn.intParam(QStringLiteral("delayMs")),
                           spawn.stringParam(QStringLiteral("message")),
                           spawn.intParam(QStringLiteral("orphans")));
        case ScenarioTemplate::CancellationStorm:
            return stormVictim(spawn.intParam(QStringLiteral("sleepMs")),
                               spawn.intParam(QStringLiteral("cleanupMs")));
        case ScenarioTemplate::LockContention:
            return contender(&m_loop, m_spawns[s].lock, spawn.intParam(QStringLiteral("rounds")),
                             spawn.intParam(QStringLiteral("holdMs")),
                             spawn.intParam(QStringLiteral("thinkMs")));
        case ScenarioTemplate::TaskGroup:
            return groupParent(ctx.name, spawn);
        case ScenarioTemplate::SeedRunUntilComplete:
        case ScenarioTemplate::SeedRunForever:
            return slowOperation(spawn.intParam(QStringLiteral("delayMs")),
                                 spawn.stringParam(QStringLiteral("result")));
        }
        return sleeper(0);
    }

    //! got_result() of the seed examples: print the result; the second one stops the loop.
    void addGotResult(Task<QString> &task, bool stop)
    {
        const std::weak_ptr<RunState> weak = weak_from_this();
        task.addDoneCallback([weak, stop, print = m_hooks.print,
                              stopLoop = m_hooks.stopLoop](Future<QString> future) {
            QString line;
            try {
                line = future.result();
            } catch (const CancelledError &e) {
                line = QStringLiteral("CancelledError: ") + QString::fromStdString(e.what());
            } catch (...) {
                line = describeError(std::current_exception());
            }
            if (print)
                print(line);
            if (!stop)
                return;
            if (stopLoop)
                stopLoop(); // we have the result, so stop
            if (auto run = weak.lock())
                run->requestStop();
        });
    }

    /*!
     * Counts \a task as live until it ends, then records how it ended. For an \a instance
     * that retrieves its exception: the run is the one awaiting it. A child's exception is
     * only peeked at, so a child nobody awaits is reported as never retrieved, as it should.
     */
    void watch(Task<QString> &task, std::size_t spawnIndex, bool instance)
    {
        const std::size_t slot = m_tracked.size();
        m_tracked.emplace_back(task);
        ++m_live;
        const std::weak_ptr<RunState> weak = weak_from_this();
        task.addDoneCallback([weak, slot, spawnIndex, instance](Task<QString> done) {
            if (auto run = weak.lock())
                run->onDone(slot, done, spawnIndex, instance);
        });
    }

    void onDone(std::size_t slot, Task<QString> &task, std::size_t spawnIndex, bool instance)
    {
        // Drop the run's reference at once: a failed child nobody awaited is then reported
        // while the run is still going, not when the run ends.
        m_tracked[slot] = TaskRef();
        --m_live;
        ScenarioTaskResult r;
        r.taskId = task.taskId();
        r.name = task.name();
        r.spawnIndex = spawnIndex;
        if (task.cancelled()) {
            r.status = DoneStatus::Cancelled;
            r.text = QString::fromStdString(task.base()->cancelMessage());
        } else if (task.base()->failed()) {
            r.status = DoneStatus::Failed;
            r.text = describeError(instance ? task.exception() : task.base()->peekException());
        } else {
            r.status = DoneStatus::Finished;
            r.text = task.result();
        }
        if (instance) {
            switch (r.status) {
            case DoneStatus::Finished:
                ++m_outcome.finished;
                break;
            case DoneStatus::Cancelled:
                ++m_outcome.cancelled;
                break;
            case DoneStatus::Failed:
                ++m_outcome.failed;
                break;
            case DoneStatus::Abandoned: // never set here: the run sees only done tasks
                break;
            }
            m_outcome.tasks.push_back(std::move(r));
        } else {
            m_outcome.children.push_back(std::move(r));
        }
        wakeIfDue();
    }

    //! Cancels round(fraction × count) instances, chosen with the spawn's seed.
    void storm(std::size_t s)
    {
        const ScenarioSpawn &spawn = m_scenario.spawns[s];
        std::vector<TaskRef> &candidates = m_spawns[s].instances;
        const auto wanted = std::size_t(
                std::llround(spawn.numberParam(QStringLiteral("fraction")) * spawn.count));
        const std::size_t k = std::min(wanted, candidates.size());
        // A partial Fisher-Yates shuffle on mt19937, whose output the standard fixes, so a
        // seed picks the same victims everywhere (std::shuffle's algorithm is unspecified).
        std::mt19937 random(std::uint32_t(spawn.intParam(QStringLiteral("seed"))));
        for (std::size_t i = 0; i < k; ++i) {
            const std::size_t j = i + std::size_t(random() % (candidates.size() - i));
            std::swap(candidates[i], candidates[j]);
            candidates[i].cancel("cancellation storm");
        }
        candidates.clear();
    }

    EventLoop &m_loop;
    Scenario m_scenario;
    ScenarioHooks m_hooks;
    std::vector<SpawnRuntime> m_spawns;
    std::vector<TimerHandle> m_timers;
    std::vector<TaskRef> m_tracked; //!< a slot per tracked task, emptied when it ends
    std::optional<Future<void>> m_wake;
    std::size_t m_unspawned = 0;
    std::size_t m_live = 0;
    bool m_stopRequested = false;
    bool m_ending = false;
    ScenarioOutcome m_outcome;
};

Task<QString> InstanceContext::child(Coro<QString> coro, const QString &suffix) const
{
    if (auto state = run.lock())
        return state->track(std::move(coro), name + suffix, spawnIndex);
    return loop->createTask(std::move(coro), name + suffix);
}

Coro<ScenarioOutcome> runBody(std::shared_ptr<RunState> run)
{
    run->start();
    std::optional<CancelledError> cancelled;
    try {
        co_await run->newWake();
    } catch (const CancelledError &e) {
        cancelled = e;
    }
    if (cancelled || run->stopRequested()) {
        run->cancelRemaining(cancelled ? std::string("scenario run cancelled")
                                       : std::string("scenario stopped"));
        // Wait for what was cancelled to end: a task may clean up first.
        while (!run->settled()) {
            try {
                co_await run->newWake();
            } catch (const CancelledError &e) {
                cancelled = e;
                run->cancelRemaining("scenario run cancelled");
            }
        }
    }
    ScenarioOutcome outcome = run->finish();
    if (cancelled)
        throw *cancelled;
    co_return outcome;
}

} // namespace

Task<ScenarioOutcome> runScenario(EventLoop &loop, const Scenario &scenario, ScenarioHooks hooks)
{
    auto run = std::make_shared<RunState>(loop, scenario, std::move(hooks));
    return loop.createTask(runBody(std::move(run)), QStringLiteral("scenario:") + scenario.name);
}

} // namespace loopscope
