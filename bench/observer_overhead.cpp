// What watching the loop costs: the post_burst and task_yield workloads (DESIGN.md,
// "Performance workloads") with no observer, with an observer that does nothing, and with
// the TraceRecorder, interleaved in one process. Prints one JSON line per combination, then a
// table of the overhead ratios against "no observer".
//
//   bench_observer_overhead [--quick]     (--quick: a tenth of the work, one repetition)
//   bench_observer_overhead --only WORKLOAD OBSERVER [REPS]
//       runs one combination alone (e.g. `--only task_yield recorder 20` under perf record)

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>

#include <QCoreApplication>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

using namespace std::chrono_literals;

namespace {

enum class Attached { None, Null, Recorder };
constexpr std::array<Attached, 3> kAttached{ Attached::None, Attached::Null, Attached::Recorder };
const char *name(Attached a)
{
    switch (a) {
    case Attached::None:
        return "none";
    case Attached::Null:
        return "null";
    case Attached::Recorder:
        return "recorder";
    }
    return "?";
}

//! Sees every event and does nothing: the price of the observer call itself.
class NullObserver final : public loopscope::LoopObserver
{
public:
    void onEvent(const loopscope::TraceEvent &) override { }
};

struct RunResult
{
    double seconds = 0;
    std::uint64_t events = 0;
    std::uint64_t dropped = 0;
};

//! Attaches the observer for one run and detaches it before the loop dies.
class Observed
{
public:
    Observed(loopscope::EventLoop &loop, Attached what) : m_loop(loop)
    {
        if (what == Attached::Null)
            m_observer = &m_null;
        else if (what == Attached::Recorder)
            m_observer =
                    m_recorder.emplace_back(std::make_unique<loopscope::TraceRecorder>()).get();
        if (m_observer)
            m_loop.addObserver(m_observer);
    }
    ~Observed()
    {
        if (m_observer)
            m_loop.removeObserver(m_observer);
    }
    void fill(RunResult &r) const
    {
        if (!m_recorder.empty()) {
            r.events = m_recorder.front()->producedEvents();
            r.dropped = m_recorder.front()->droppedEvents();
        }
    }

private:
    loopscope::EventLoop &m_loop;
    NullObserver m_null;
    std::vector<std::unique_ptr<loopscope::TraceRecorder>> m_recorder;
    loopscope::LoopObserver *m_observer = nullptr;
};

double since(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

//! post_burst: n no-op callSoon queued before the loop runs, run until the last one ran.
RunResult postBurst(Attached what, int n)
{
    loopscope::EventLoop loop;
    Observed observed(loop, what);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n - 1; ++i)
        loop.callSoon([] {});
    loop.callSoon([&loop] { loop.stop(); });
    loop.runForever();
    RunResult r{ since(start) };
    observed.fill(r);
    return r;
}

loopscope::Coro<void> yielder(int switches, int *remaining, loopscope::EventLoop *loop)
{
    for (int i = 0; i < switches; ++i)
        co_await loopscope::sleep(0s);
    if (--*remaining == 0)
        loop->stop();
}

//! task_yield: tasks each doing co_await sleep(0) \a switches times.
RunResult taskYield(Attached what, int tasks, int switches)
{
    loopscope::EventLoop loop;
    Observed observed(loop, what);
    int remaining = tasks;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < tasks; ++i)
        (void)loop.createTask(yielder(switches, &remaining, &loop));
    loop.runForever();
    RunResult r{ since(start) };
    observed.fill(r);
    return r;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
#ifndef NDEBUG
    std::fprintf(stderr, "warning: not a Release build; these figures are not representative\n");
#endif
    if (argc >= 4 && std::strcmp(argv[1], "--only") == 0) {
        const bool yield = std::strcmp(argv[2], "task_yield") == 0;
        Attached what = Attached::None;
        for (Attached a : kAttached)
            if (std::strcmp(argv[3], name(a)) == 0)
                what = a;
        const int reps = argc >= 5 ? std::atoi(argv[4]) : 10;
        double total = 0;
        for (int i = 0; i < reps; ++i)
            total += yield ? taskYield(what, 10'000, 100).seconds
                           : postBurst(what, 1'000'000).seconds;
        std::printf("%s/%s: %.1f ns/op (mean of %d)\n", argv[2], name(what),
                    total / reps * 1e9 / 1e6, reps);
        return 0;
    }
    const int repetitions = quick ? 1 : 5;
    const int burst = quick ? 100'000 : 1'000'000;
    const int tasks = quick ? 1'000 : 10'000;
    const int switches = 100;

    struct Workload
    {
        const char *name;
        long long n;
        std::array<std::vector<double>, 3> seconds;
        std::array<RunResult, 3> last;
    };
    std::array<Workload, 2> workloads{
        Workload{ "post_burst", burst, {}, {} },
        Workload{ "task_yield", static_cast<long long>(tasks) * switches, {}, {} }
    };
    // Interleaved, so that drift of the machine (frequency, other load) hits all three alike.
    for (int rep = 0; rep < repetitions; ++rep) {
        for (std::size_t a = 0; a < kAttached.size(); ++a) {
            const RunResult p = postBurst(kAttached[a], burst);
            workloads[0].seconds[a].push_back(p.seconds);
            workloads[0].last[a] = p;
            const RunResult t = taskYield(kAttached[a], tasks, switches);
            workloads[1].seconds[a].push_back(t.seconds);
            workloads[1].last[a] = t;
        }
    }

    for (const Workload &w : workloads) {
        for (std::size_t a = 0; a < kAttached.size(); ++a) {
            const double m = median(w.seconds[a]);
            std::printf("{\"workload\":\"%s\",\"impl\":\"loopscope\",\"observer\":\"%s\","
                        "\"n\":%lld,\"median_s\":%.6f,\"per_op_ns\":%.1f}\n",
                        w.name, name(kAttached[a]), w.n, m, m * 1e9 / double(w.n));
        }
    }

    std::printf("\n%-11s %14s %22s %22s %14s\n", "workload", "none ns/op", "null ns/op (ratio)",
                "recorder ns/op (ratio)", "events/op");
    for (const Workload &w : workloads) {
        const double none = median(w.seconds[0]) * 1e9 / double(w.n);
        const double null = median(w.seconds[1]) * 1e9 / double(w.n);
        const double rec = median(w.seconds[2]) * 1e9 / double(w.n);
        std::printf("%-11s %14.1f %14.1f (%5.2fx) %14.1f (%5.2fx) %14.2f\n", w.name, none, null,
                    null / none, rec, rec / none, double(w.last[2].events) / double(w.n));
    }
    std::printf("\n(%d repetitions, median; the recorder keeps its default %zu-event ring, the "
                "rest is dropped as nobody drains it)\n",
                repetitions, loopscope::RecorderOptions().capacity);
    return 0;
}
