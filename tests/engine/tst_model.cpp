// Model-based randomized test (issue 7): long random sequences of loop operations from fixed
// seeds, on the virtual clock, checked after every run against what asyncio promises.
//
// Each seed drives one loop through N random operations: callSoon, callLater with random
// delays, cancelling a random handle, tasks of random shapes (sleep chains, awaiting another
// task, failing at a random point, gather, waitFor, shield, queue put/get, lock sections,
// executor jobs), cancelling random tasks. The test records what ran and checks:
//   - every callback that was not cancelled ran exactly once, none that was cancelled ran;
//   - no timer ran before its deadline; timers ran in (deadline, scheduling order) order;
//   - callSoon callbacks ran in the order they were scheduled;
//   - every task ended in exactly one of finished / cancelled / failed, and its coroutine
//     frames are all destroyed (a live-frame counter returns to zero);
//   - nothing is pending once the loop is closed.
// A failing seed is printed; LOOPSCOPE_MODEL_SEED=<seed> replays just that one and
// LOOPSCOPE_MODEL_SEEDS=<count> changes how many run (200 by default).

#include "../support/frameguard.h"

#include <loopscope/loopscope.h>

#include <QTest>

#include <map>
#include <random>
#include <set>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::Duration;
using loopscope::EventLoop;
using loopscope::TimePoint;

namespace {

using loopscope::testsupport::FrameGuard;
using loopscope::testsupport::g_liveFrames;

struct ModelError : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

class Model
{
public:
    explicit Model(std::uint64_t seed) : m_random(seed), m_seed(seed)
    {
        m_loop.setExceptionHandler([this](const loopscope::ExceptionContext &c) {
            // Failures nobody awaits are expected (they are the point of some shapes); note
            // anything else.
            if (!c.message.contains(QStringLiteral("never retrieved")))
                m_unexpectedReports.push_back(c.toString());
        });
    }

    void run(int operations)
    {
        for (int i = 0; i < operations; ++i) {
            operation();
            // Let the loop make some progress between bursts of operations.
            if (chance(0.05))
                runFor(Duration(std::chrono::milliseconds(pick(0, 50))));
        }
        // Drain: every timer comes due, every task ends.
        runFor(10s);
        for (auto &t : m_tasks)
            if (!t.task.done())
                t.task.cancel();
        runFor(10s);
        check();
        m_loop.close();
        if (!m_loop.allTasks().empty())
            fail("tasks pending after close");
    }

    std::vector<QString> m_unexpectedReports;

private:
    struct Callback
    {
        loopscope::Handle handle;
        TimePoint deadline{};
        std::uint64_t order = 0; //!< scheduling order
        bool timer = false;
        bool cancelled = false;
        int ran = 0;
        TimePoint ranAt{};
        std::uint64_t ranSeq = 0;
    };
    struct TrackedTask
    {
        loopscope::Task<int> task;
    };

    bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(m_random) < p; }
    int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(m_random); }

    [[noreturn]] void fail(const std::string &what) const
    {
        throw ModelError("seed " + std::to_string(m_seed) + ": " + what);
    }

    void runFor(Duration d) { m_loop.runUntilComplete(m_loop.createTask(sleepFor(d))); }

    static Coro<int> sleepFor(Duration d)
    {
        FrameGuard guard;
        co_await loopscope::sleep(d);
        co_return 0;
    }

    void schedule(bool timer)
    {
        const std::size_t index = m_callbacks.size();
        m_callbacks.push_back(Callback{});
        Callback &c = m_callbacks.back();
        c.order = m_nextOrder++;
        c.timer = timer;
        auto body = [this, index] {
            Callback &me = m_callbacks[index];
            ++me.ran;
            me.ranAt = m_loop.time();
            me.ranSeq = m_nextRun++;
        };
        if (timer) {
            const Duration delay = std::chrono::milliseconds(pick(0, 200));
            c.deadline = m_loop.time() + delay;
            c.handle = m_loop.callLater(delay, body);
        } else {
            c.deadline = m_loop.time();
            c.handle = m_loop.callSoon(body);
        }
    }

    // --- task shapes ----------------------------------------------------------------------

    Coro<int> chain(int steps)
    {
        FrameGuard guard;
        int sum = 0;
        for (int i = 0; i < steps; ++i) {
            co_await loopscope::sleep(std::chrono::milliseconds(pick(0, 30)));
            sum += i;
        }
        co_return sum;
    }
    Coro<int> failing(int after)
    {
        FrameGuard guard;
        co_await loopscope::sleep(std::chrono::milliseconds(after));
        throw std::runtime_error("planned failure");
    }
    Coro<int> awaitOther(loopscope::Task<int> other)
    {
        FrameGuard guard;
        try {
            co_return co_await other;
        } catch (const std::runtime_error &) {
            co_return -1;
        }
    }
    Coro<int> gathering(int children)
    {
        FrameGuard guard;
        std::vector<loopscope::Task<int>> kids;
        for (int i = 0; i < children; ++i)
            kids.push_back(m_loop.createTask(chain(pick(0, 3))));
        const auto results = co_await loopscope::gather(kids);
        int sum = 0;
        for (const int r : results)
            sum += r;
        co_return sum;
    }
    Coro<int> limited(int steps, int limitMs)
    {
        FrameGuard guard;
        try {
            auto inner = chain(steps);
            co_return co_await loopscope::waitFor(std::move(inner),
                                                  std::chrono::milliseconds(limitMs));
        } catch (const loopscope::TimeoutError &) {
        }
        co_return -2;
    }
    Coro<int> shielded(int steps)
    {
        FrameGuard guard;
        auto inner = m_loop.createTask(chain(steps));
        co_return co_await loopscope::shield(inner);
    }
    Coro<int> producer(int items)
    {
        FrameGuard guard;
        for (int i = 0; i < items; ++i) {
            co_await m_queue.put(i);
            co_await loopscope::sleep(std::chrono::milliseconds(pick(0, 10)));
        }
        co_return items;
    }
    Coro<int> consumer(int items)
    {
        FrameGuard guard;
        int sum = 0;
        for (int i = 0; i < items; ++i)
            sum += co_await m_queue.get();
        co_return sum;
    }
    Coro<int> locked(int holdMs)
    {
        FrameGuard guard;
        auto held = co_await m_lock.scopedAcquire();
        if (m_inside++ != 0)
            m_lockViolated = true;
        struct Leave // also when cancelled inside
        {
            int &inside;
            ~Leave() { --inside; }
        } leave{ m_inside };
        co_await loopscope::sleep(std::chrono::milliseconds(holdMs));
        co_return holdMs;
    }
    Coro<int> offloaded(int value)
    {
        FrameGuard guard;
        co_return co_await m_loop.runInExecutor([value] { return value * 2; });
    }

    loopscope::Task<int> spawnShape()
    {
        switch (pick(0, 9)) {
        case 0:
            return m_loop.createTask(chain(pick(0, 5)));
        case 1:
            return m_loop.createTask(failing(pick(0, 40)));
        case 2:
            if (!m_tasks.empty())
                return m_loop.createTask(
                        awaitOther(m_tasks[std::size_t(pick(0, int(m_tasks.size()) - 1))].task));
            return m_loop.createTask(chain(1));
        case 3:
            return m_loop.createTask(gathering(pick(1, 4)));
        case 4:
            return m_loop.createTask(limited(pick(0, 5), pick(0, 60)));
        case 5:
            return m_loop.createTask(shielded(pick(0, 3)));
        case 6: {
            const int items = pick(1, 4);
            m_tasks.push_back({ m_loop.createTask(consumer(items)) });
            return m_loop.createTask(producer(items));
        }
        case 7:
            return m_loop.createTask(locked(pick(0, 20)));
        case 8:
            return m_loop.createTask(offloaded(pick(0, 100)));
        default:
            return m_loop.createTask(chain(0));
        }
    }
    void spawn() { m_tasks.push_back({ spawnShape() }); }

    void operation()
    {
        const int op = pick(0, 99);
        if (op < 25) {
            schedule(false);
        } else if (op < 50) {
            schedule(true);
        } else if (op < 58) {
            if (!m_callbacks.empty()) {
                Callback &c = m_callbacks[std::size_t(pick(0, int(m_callbacks.size()) - 1))];
                if (!c.ran && !c.cancelled) {
                    c.handle.cancel();
                    c.cancelled = true;
                }
            }
        } else if (op < 90) {
            spawn();
        } else {
            if (!m_tasks.empty()) {
                auto &t = m_tasks[std::size_t(pick(0, int(m_tasks.size()) - 1))].task;
                const bool wasDone = t.done();
                const bool accepted = t.cancel();
                if (wasDone && accepted)
                    fail("cancel() of a finished task returned true");
            }
        }
    }

    void check()
    {
        // Callbacks: exactly once unless cancelled; never early; asyncio's orders.
        std::vector<const Callback *> timers;
        std::vector<const Callback *> soon;
        for (const Callback &c : m_callbacks) {
            if (c.cancelled && c.ran)
                fail("a cancelled callback ran");
            if (!c.cancelled && c.ran != 1)
                fail("a callback ran " + std::to_string(c.ran) + " times");
            if (c.ran && c.ranAt < c.deadline)
                fail("a timer ran before its deadline");
            if (c.ran)
                (c.timer ? timers : soon).push_back(&c);
        }
        std::sort(timers.begin(), timers.end(),
                  [](const Callback *a, const Callback *b) { return a->ranSeq < b->ranSeq; });
        for (std::size_t i = 1; i < timers.size(); ++i) {
            const Callback &a = *timers[i - 1];
            const Callback &b = *timers[i];
            if (std::tie(a.deadline, a.order) > std::tie(b.deadline, b.order))
                fail("timers ran out of (deadline, order) order");
        }
        std::sort(soon.begin(), soon.end(),
                  [](const Callback *a, const Callback *b) { return a->ranSeq < b->ranSeq; });
        for (std::size_t i = 1; i < soon.size(); ++i)
            if (soon[i - 1]->order > soon[i]->order)
                fail("callSoon callbacks ran out of order");
        if (m_lockViolated)
            fail("two tasks were inside the lock at once");
        // Tasks: each done in exactly one way.
        for (const auto &t : m_tasks) {
            if (!t.task.done())
                fail("a task is still pending");
            const bool failed = t.task.base()->failed();
            const int ways =
                    int(t.task.cancelled()) + int(failed) + int(!t.task.cancelled() && !failed);
            if (ways != 1)
                fail("a task ended in more than one way");
        }
    }

    std::mt19937_64 m_random;
    std::uint64_t m_seed;
    std::shared_ptr<loopscope::VirtualClock> m_clock = std::make_shared<loopscope::VirtualClock>();
    EventLoop m_loop{ m_clock };
    loopscope::Queue<int> m_queue{ 2 };
    loopscope::Lock m_lock;
    int m_inside = 0;
    bool m_lockViolated = false;
    std::vector<Callback> m_callbacks;
    std::vector<TrackedTask> m_tasks;
    std::uint64_t m_nextOrder = 0;
    std::uint64_t m_nextRun = 0;
};

} // namespace

class tst_Model : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void randomOperationsKeepAsyncioPromises();
};

void tst_Model::randomOperationsKeepAsyncioPromises()
{
    std::vector<std::uint64_t> seeds;
    if (qEnvironmentVariableIsSet("LOOPSCOPE_MODEL_SEED")) {
        seeds.push_back(qEnvironmentVariable("LOOPSCOPE_MODEL_SEED").toULongLong());
    } else {
        const int count = qEnvironmentVariableIsSet("LOOPSCOPE_MODEL_SEEDS")
                ? qEnvironmentVariableIntValue("LOOPSCOPE_MODEL_SEEDS")
                : 200;
        for (int i = 0; i < count; ++i)
            seeds.push_back(std::uint64_t(1000 + i));
    }
    const int operations = 10000; // per seed: 200 seeds = 2,000,000 operations
    std::uint64_t total = 0;
    for (const std::uint64_t seed : seeds) {
        g_liveFrames = 0;
        std::vector<QString> unexpected;
        try {
            Model model(seed);
            model.run(operations);
            unexpected = model.m_unexpectedReports;
        } catch (const std::exception &e) {
            QFAIL(qPrintable(QStringLiteral("%1 (replay: LOOPSCOPE_MODEL_SEED=%2)")
                                     .arg(QString::fromUtf8(e.what()))
                                     .arg(seed)));
        }
        QVERIFY2(g_liveFrames == 0,
                 qPrintable(QStringLiteral("seed %1: %2 coroutine frames leaked")
                                    .arg(seed)
                                    .arg(g_liveFrames)));
        QVERIFY2(unexpected.empty(),
                 qPrintable(QStringLiteral("seed %1: %2")
                                    .arg(seed)
                                    .arg(unexpected.empty() ? QString() : unexpected.front())));
        total += std::uint64_t(operations);
    }
    qInfo("%llu random operations over %zu seeds", static_cast<unsigned long long>(total),
          seeds.size());
}

QTEST_GUILESS_MAIN(tst_Model)
#include "tst_model.moc"
