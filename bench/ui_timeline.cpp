// The timeline's cost: TimelineModel ingest throughput and TimelineView paint time, offscreen,
// on a synthesized trace of 10,000 tasks and about 1,000,000 events (steps, sleeps, executor
// jobs, loop callbacks and iterations, as a real recorder would report them). Prints one JSON
// line per figure, then a table.
//
//   bench_ui_timeline [--quick] [--image out.png]
//     --quick: 1,000 tasks and 10 repaints (a smoke test)
//     --image: also save the view zoomed to fit as a PNG

#include <loopscope/recorder.h>
#include <loopscope/ui/timelinemodel.h>
#include <loopscope/ui/timelineview.h>

#include <QApplication>
#include <QImage>
#include <QPainter>
#include <QScrollBar>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <queue>
#include <random>
#include <vector>

using loopscope::FutureKind;
using loopscope::HandleKind;
using loopscope::RecordedEvent;
using Kind = loopscope::TraceEventKind;

namespace {

constexpr std::int64_t kUs = 1'000;
constexpr std::int64_t kMs = 1'000'000;

/*!
 * A loop running \a tasks tasks created over the first 10 s: each takes 3-20 steps, between
 * them awaiting a sleep of 1-500 ms or (one await in ten) an executor job of 1-50 ms on one
 * of four workers; most finish, some fail or are cancelled. Steps run 5-50 µs (the loop clock
 * is real time, so it moves while they run).
 */
std::vector<RecordedEvent> synthesize(int tasks, std::uint32_t seed = 42)
{
    std::mt19937_64 rng(seed);
    auto uniform = [&](std::int64_t lo, std::int64_t hi) {
        return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
    };
    std::vector<RecordedEvent> out;
    out.reserve(std::size_t(tasks) * 110);
    std::uint64_t handleId = 0, futureId = 0, jobId = 0, iteration = 0;
    std::int64_t now = 0;
    auto add = [&](Kind kind, std::uint64_t id, std::uint64_t related = 0,
                   std::uint64_t aux = 0) -> RecordedEvent & {
        RecordedEvent e;
        e.sequence = out.size();
        e.kind = kind;
        e.time = now;
        e.id = id;
        e.related = related;
        e.aux = aux;
        out.push_back(e);
        return out.back();
    };

    struct Due
    {
        std::int64_t time;
        std::uint64_t task;
        int what; // 0: first step, 1: wake-up, 2: executor job starts, 3: job finishes
        std::uint64_t future;
        std::uint64_t job;
        std::uint64_t thread;
        std::int64_t ran = 0; // executor job run time
        bool operator>(const Due &o) const { return time > o.time; }
    };
    std::priority_queue<Due, std::vector<Due>, std::greater<>> due;
    struct TaskState
    {
        int stepsLeft;
        int step = 0;
    };
    std::vector<TaskState> state(std::size_t(tasks) + 1);
    for (int i = 1; i <= tasks; ++i) {
        state[std::size_t(i)].stepsLeft = int(uniform(3, 20));
        due.push(Due{ uniform(0, 10'000 * kMs), std::uint64_t(i), 0, 0, 0, 0, 0 });
    }
    std::int64_t nextIteration = 0;
    while (!due.empty()) {
        const Due d = due.top();
        due.pop();
        now = std::max(now, d.time);
        if (now >= nextIteration) {
            // An iteration boundary every millisecond of activity.
            if (iteration)
                add(Kind::IterationEnd, iteration).duration = 200 * kUs;
            add(Kind::IterationBegin, ++iteration, 0, due.size());
            nextIteration = now + kMs;
        }
        TaskState &t = state[d.task];
        if (d.what == 2) {
            add(Kind::ExecutorJobStarted, d.job, d.future, d.thread);
            continue;
        }
        if (d.what == 3) {
            add(Kind::ExecutorJobFinished, d.job, d.future, d.thread).duration = d.ran;
            add(Kind::FutureDone, d.future, 0, 0).futureKind = FutureKind::Executor;
        }
        if (d.what == 0) {
            add(Kind::TaskCreated, d.task, 1'000'000'000 + d.task, 0);
            add(Kind::HandleScheduled, ++handleId, 0, d.task).handleKind = HandleKind::TaskStep;
        } else {
            if (d.what == 1)
                add(Kind::FutureDone, d.future).futureKind = FutureKind::Sleep;
            add(Kind::HandleScheduled, ++handleId, 0, d.task).handleKind = HandleKind::TaskStep;
        }
        now += 2 * kUs;
        add(Kind::HandleStarted, handleId, 0, d.task).handleKind = HandleKind::TaskStep;
        if (d.what != 0)
            add(Kind::Wakeup, d.task, d.future).futureKind =
                    d.what == 3 ? FutureKind::Executor : FutureKind::Sleep;
        add(Kind::TaskStepBegin, d.task, 0, std::uint64_t(++t.step));
        const std::int64_t ran = uniform(5, 50) * kUs;
        now += ran;
        if (--t.stepsLeft == 0) {
            add(Kind::TaskStepEnd, d.task, 0, std::uint64_t(t.step)).duration = ran;
            add(Kind::HandleFinished, handleId, 0, d.task).duration = ran;
            auto &done = add(Kind::TaskDone, d.task, 1'000'000'000 + d.task);
            const auto roll = uniform(0, 99);
            done.status = roll < 5 ? loopscope::DoneStatus::Failed
                    : roll < 10    ? loopscope::DoneStatus::Cancelled
                                   : loopscope::DoneStatus::Finished;
            continue;
        }
        const std::uint64_t future = ++futureId;
        if (uniform(0, 9) == 0) {
            const std::uint64_t job = ++jobId;
            add(Kind::FutureCreated, future, 0, d.task).futureKind = FutureKind::Executor;
            add(Kind::ExecutorJobQueued, job, future);
            auto &end = add(Kind::TaskStepEnd, d.task, future, std::uint64_t(t.step));
            end.futureKind = FutureKind::Executor;
            end.duration = ran;
            add(Kind::HandleFinished, handleId, 0, d.task).duration = ran;
            const std::uint64_t thread = 0x7000 + job % 4;
            const std::int64_t start = now + uniform(10, 200) * kUs;
            const std::int64_t ranFor = uniform(1, 50) * kMs;
            due.push(Due{ start, d.task, 2, future, job, thread, 0 });
            due.push(Due{ start + ranFor, d.task, 3, future, job, thread, ranFor });
        } else {
            add(Kind::FutureCreated, future, 0, d.task).futureKind = FutureKind::Sleep;
            auto &end = add(Kind::TaskStepEnd, d.task, future, std::uint64_t(t.step));
            end.futureKind = FutureKind::Sleep;
            end.duration = ran;
            add(Kind::HandleFinished, handleId, 0, d.task).duration = ran;
            due.push(Due{ now + uniform(1, 500) * kMs, d.task, 1, future, 0, 0, 0 });
        }
    }
    return out;
}

double quantile(std::vector<double> v, double q)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const double rank = std::ceil(q * double(v.size())) - 1;
    return v[std::size_t(std::clamp(rank, 0.0, double(v.size() - 1)))];
}

double since(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct PaintResult
{
    const char *zoom;
    double p50ms;
    double p99ms;
};

} // namespace

int main(int argc, char **argv)
{
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    bool quick = false;
    const char *imagePath = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (std::strcmp(argv[i], "--image") == 0 && i + 1 < argc)
            imagePath = argv[++i];
    }
#ifndef NDEBUG
    std::fprintf(stderr, "warning: not a Release build; these figures are not representative\n");
#endif
    const int tasks = quick ? 1'000 : 10'000;
    const int repaints = quick ? 10 : 100;
    const std::vector<RecordedEvent> events = synthesize(tasks);
    loopscope::TraceRecorder strings; // names resolve to "" (synthesized events have none)

    // Ingest in UI-tick-sized batches, three times; the median run counts.
    constexpr std::size_t kBatch = 10'000;
    std::vector<double> ingestSeconds;
    auto model = std::make_unique<loopscope::ui::TimelineModel>();
    for (int rep = 0; rep < 3; ++rep) {
        model = std::make_unique<loopscope::ui::TimelineModel>();
        std::vector<RecordedEvent> batch;
        batch.reserve(kBatch);
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t i = 0; i < events.size(); i += kBatch) {
            batch.assign(events.begin() + std::ptrdiff_t(i),
                         events.begin() + std::ptrdiff_t(std::min(events.size(), i + kBatch)));
            model->ingest(batch, strings);
        }
        ingestSeconds.push_back(since(start));
    }
    std::sort(ingestSeconds.begin(), ingestSeconds.end());
    const double ingestS = ingestSeconds[1];
    const double eventsPerSecond = double(events.size()) / ingestS;
    std::printf("{\"bench\":\"ui_timeline\",\"figure\":\"ingest\",\"events\":%zu,\"tasks\":%d,"
                "\"median_s\":%.4f,\"events_per_s\":%.0f,\"items\":%zu,\"lanes\":%d}\n",
                events.size(), tasks, ingestS, eventsPerSecond, model->itemCount(),
                model->laneCount());

    loopscope::ui::TimelineView view;
    view.resize(1280, 800);
    view.setModel(model.get());
    view.show();
    QCoreApplication::processEvents();

    const std::int64_t first = model->historyStart();
    const std::int64_t last = model->latestTime();
    const std::int64_t middle = first + (last - first) / 2;
    struct Zoom
    {
        const char *name;
        std::int64_t t0, t1;
    };
    const Zoom zooms[] = {
        { "all", first, last },
        { "1s", middle, middle + 1'000 * kMs },
        { "10ms", middle, middle + 10 * kMs },
        { "100us", middle, middle + 100 * kUs },
    };
    QImage image(view.size(), QImage::Format_ARGB32_Premultiplied);
    std::vector<PaintResult> paints;
    for (const Zoom &z : zooms) {
        view.setFollowLive(false);
        view.setVisibleRange(z.t0, z.t1);
        // Lanes of tasks alive in the middle of the run.
        view.verticalScrollBar()->setValue(view.verticalScrollBar()->maximum() / 2);
        std::vector<double> ms;
        for (int i = 0; i < repaints; ++i) {
            const auto start = std::chrono::steady_clock::now();
            QPainter painter(&image);
            view.render(&painter);
            painter.end();
            ms.push_back(since(start) * 1e3);
        }
        paints.push_back(PaintResult{ z.name, quantile(ms, 0.5), quantile(ms, 0.99) });
        std::printf("{\"bench\":\"ui_timeline\",\"figure\":\"paint\",\"zoom\":\"%s\",\"width\":%d,"
                    "\"height\":%d,\"repaints\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
                    z.name, view.width(), view.height(), repaints, paints.back().p50ms,
                    paints.back().p99ms);
    }

    // A live tick: the newest 1/60 s of 100,000 events/s ingested, then a repaint following
    // live (the budget: p50 and p99 under 16 ms).
    std::vector<double> tickMs;
    {
        loopscope::ui::TimelineModel live;
        loopscope::ui::TimelineView liveView;
        liveView.resize(1280, 800);
        liveView.setModel(&live);
        liveView.show();
        constexpr std::size_t kTick = 100'000 / 60;
        std::vector<RecordedEvent> batch;
        for (std::size_t i = 0; i < events.size(); i += kTick) {
            batch.assign(events.begin() + std::ptrdiff_t(i),
                         events.begin() + std::ptrdiff_t(std::min(events.size(), i + kTick)));
            const auto start = std::chrono::steady_clock::now();
            live.ingest(batch, strings);
            liveView.modelUpdated();
            QPainter painter(&image);
            liveView.render(&painter);
            painter.end();
            tickMs.push_back(since(start) * 1e3);
        }
        std::printf("{\"bench\":\"ui_timeline\",\"figure\":\"live_tick\",\"events_per_tick\":%zu,"
                    "\"ticks\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
                    kTick, tickMs.size(), quantile(tickMs, 0.5), quantile(tickMs, 0.99),
                    *std::max_element(tickMs.begin(), tickMs.end()));
    }

    if (imagePath) {
        view.zoomToFit();
        view.verticalScrollBar()->setValue(0);
        QString error;
        if (!view.saveImage(QString::fromLocal8Bit(imagePath), &error))
            std::fprintf(stderr, "%s\n", qPrintable(error));
    }

    std::printf("\n%-22s %14s\n", "figure", "value");
    std::printf("%-22s %14zu\n", "events", events.size());
    std::printf("%-22s %14.0f\n", "ingest events/s", eventsPerSecond);
    std::printf("%-22s %14zu\n", "items kept", model->itemCount());
    for (const PaintResult &p : paints)
        std::printf("paint %-16s %7.2f / %.2f ms (p50 / p99)\n", p.zoom, p.p50ms, p.p99ms);
    std::printf("%-22s %7.2f / %.2f ms (p50 / p99)\n", "live tick", quantile(tickMs, 0.5),
                quantile(tickMs, 0.99));
    return 0;
}
