// The loop diagram: LoopStateModel rebuilds the ready queue, timer heap, running callback and
// executor workers from a real loop's trace; LoopView paints them and stays legible with
// 10,000 ready tasks.

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>
#include <loopscope/ui/loopstatemodel.h>
#include <loopscope/ui/loopview.h>
#include <loopscope/ui/tracebatch.h>

#include <QElapsedTimer>
#include <QSemaphore>
#include <QSignalSpy>
#include <QTest>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::HandleKind;
using loopscope::TraceRecorder;
using loopscope::ui::LoopStateModel;
using loopscope::ui::LoopView;
using loopscope::ui::TraceBatch;

namespace {

//! What LoopHost's tick does: drain the recorder and resolve the strings.
TraceBatch drain(TraceRecorder &recorder, int generation = 0)
{
    TraceBatch batch;
    batch.generation = generation;
    recorder.drain(batch.events);
    batch.resolveStrings(recorder);
    batch.stats = recorder.loopStats();
    return batch;
}

struct Fixture
{
    std::shared_ptr<loopscope::VirtualClock> clock = std::make_shared<loopscope::VirtualClock>();
    EventLoop loop{ clock };
    TraceRecorder recorder;
    LoopStateModel model;
    Fixture() { loop.addObserver(&recorder); }
    ~Fixture() { loop.removeObserver(&recorder); }
    void ingest() { model.ingest(drain(recorder)); }
};

Coro<void> nap(loopscope::Duration d)
{
    co_await loopscope::sleep(d);
}

} // namespace

class tst_LoopView : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void readyQueueInOrderAndTheRunningCallback();
    void timersByDeadlineAndTheirRemoval();
    void aSleepersTimerIsNamedAfterItsTask();
    void executorWorkersShowTheirJob();
    void newGenerationStartsAfresh();
    void tenThousandReadyTasksStayLegible();
    void clickingATaskBoxSelectsIt();
};

void tst_LoopView::readyQueueInOrderAndTheRunningCallback()
{
    // Ingested from inside a callback: it runs, and what it scheduled waits behind it.
    Fixture g;
    g.loop.callSoon([&] {
        g.loop.callSoon([] {});
        auto t = g.loop.createTask(nap(1s), QStringLiteral("napper"));
        g.loop.callSoon([] {});
        g.ingest();
        // First the step of runUntilComplete's own task (scheduled before this ran).
        const auto &ready = g.model.ready();
        QCOMPARE(ready.size(), 4u);
        QCOMPARE(ready[0].kind, HandleKind::TaskStep);
        QCOMPARE(ready[1].kind, HandleKind::CallSoon);
        QCOMPARE(ready[2].kind, HandleKind::TaskStep);
        QCOMPARE(ready[2].task, t.taskId());
        QCOMPARE(ready[2].label, QStringLiteral("napper"));
        QVERIFY2(ready[3].label.contains(QStringLiteral("tst_loopview.cpp")),
                 qPrintable(ready[3].label));
        QVERIFY(g.model.running() != nullptr);
        QCOMPARE(g.model.running()->kind, HandleKind::CallSoon);
        QCOMPARE(g.model.phase(), loopscope::ui::LoopPhase::RunReady);
    });
    g.loop.runUntilComplete(nap(2s));
    g.ingest();
    QVERIFY(g.model.ready().empty()); // everything ran
    QVERIFY(g.model.running() == nullptr);
    QCOMPARE(g.model.phase(), loopscope::ui::LoopPhase::Idle);
    QVERIFY(g.model.iteration() > 0);
}

void tst_LoopView::timersByDeadlineAndTheirRemoval()
{
    Fixture f;
    f.loop.callSoon([&] {
        f.loop.callLater(3s, [] {});
        auto cancelled = f.loop.callLater(2s, [] {});
        f.loop.callLater(1s, [] {});
        f.ingest();
        auto timers = f.model.timersByDeadline(10);
        QCOMPARE(timers.size(), 3u);
        QCOMPARE(timers[0].deadlineNs, std::int64_t(1'000'000'000));
        QCOMPARE(timers[1].deadlineNs, std::int64_t(2'000'000'000));
        QCOMPARE(timers[2].deadlineNs, std::int64_t(3'000'000'000));
        QCOMPARE(f.model.timersByDeadline(2).size(), 2u);
        cancelled.cancel();
        f.ingest();
        QCOMPARE(f.model.timerCount(), 2u);
        f.loop.stop();
    });
    f.loop.runForever();
    f.loop.callLater(10s, [&] { f.loop.stop(); });
    f.loop.runForever();
    f.ingest();
    QCOMPARE(f.model.timerCount(), 0u); // all fired
    QCOMPARE(f.model.nowNs(), std::int64_t(10'000'000'000));
}

void tst_LoopView::aSleepersTimerIsNamedAfterItsTask()
{
    Fixture f;
    auto sleepy = f.loop.createTask(nap(5s), QStringLiteral("sleepy"));
    f.loop.callSoon([&] {
        f.loop.callSoon([&] {
            f.ingest(); // the task's first step armed its sleep
            const auto timers = f.model.timersByDeadline(1);
            QCOMPARE(timers.size(), 1u);
            QCOMPARE(timers[0].task, sleepy.taskId());
            QCOMPARE(timers[0].label, QStringLiteral("sleepy"));
            f.loop.stop();
        });
    });
    f.loop.runForever();
    f.loop.runUntilComplete(sleepy);
}

void tst_LoopView::executorWorkersShowTheirJob()
{
    Fixture f;
    QSemaphore started;
    QSemaphore release;
    auto job = f.loop.runInExecutor([&] {
        started.release();
        release.acquire();
        return 1;
    });
    bool sawRunning = false;
    std::function<void()> poll = [&] {
        f.ingest();
        if (!f.model.workers().empty()) {
            sawRunning = true;
            QCOMPARE(f.model.workerThreads().size(), 1u);
            QCOMPARE(f.model.workers().begin()->second.future, job.id());
            release.release();
            return;
        }
        f.loop.callSoon(poll); // not a timer: virtual time holds while the job runs
    };
    f.loop.callSoon(poll);
    QCOMPARE(f.loop.runUntilComplete(job), 1);
    QVERIFY(sawRunning);
    f.ingest();
    QVERIFY(f.model.workers().empty());
    QCOMPARE(f.model.queuedJobs(), 0u);
    QCOMPARE(f.model.workerThreads().size(), 1u); // the lane stays
}

void tst_LoopView::newGenerationStartsAfresh()
{
    Fixture f;
    f.loop.callLater(5s, [] {});
    f.loop.callSoon([&] { f.loop.stop(); });
    f.loop.runForever();
    f.ingest();
    QCOMPARE(f.model.timerCount(), 1u);
    TraceBatch next;
    next.generation = 1;
    f.model.ingest(next);
    QCOMPARE(f.model.timerCount(), 0u);
    QCOMPARE(f.model.generation(), 1);
}

void tst_LoopView::tenThousandReadyTasksStayLegible()
{
    Fixture f;
    LoopView view;
    view.resize(900, 520);
    view.setModel(&f.model);
    f.loop.callSoon([&] {
        for (int i = 0; i < 10000; ++i)
            (void)f.loop.createTask(nap(1s), QStringLiteral("t%1").arg(i));
        f.ingest();
        QCOMPARE(f.model.ready().size(), 10000u);
        QElapsedTimer paint;
        paint.start();
        const QPixmap shot = view.grab();
        qInfo("painting 10,000 ready tasks took %lld ms", static_cast<long long>(paint.elapsed()));
        if (qEnvironmentVariableIsSet("LOOPSCOPE_SHOT_DIR"))
            shot.save(qEnvironmentVariable("LOOPSCOPE_SHOT_DIR") + QStringLiteral("/loopview.png"));
        QVERIFY(!shot.isNull());
        QVERIFY(view.paintedReadyBoxes() > 0);
        QVERIFY(view.paintedReadyBoxes() <= view.maxReadyBoxes());
        QCOMPARE(std::size_t(view.paintedReadyBoxes()) + view.hiddenReadyCount(), 10000u);
        f.loop.stop();
    });
    f.loop.runForever();
    f.loop.callLater(2s, [&] { f.loop.stop(); });
    f.loop.runForever();
    f.ingest();
    QVERIFY(f.model.ready().empty());
    QCOMPARE(f.model.timerCount(), 0u);
    (void)view.grab();
    QCOMPARE(view.paintedReadyBoxes(), 0);
}

void tst_LoopView::clickingATaskBoxSelectsIt()
{
    Fixture f;
    LoopView view;
    view.resize(900, 520);
    view.setModel(&f.model);
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QSignalSpy clicked(&view, &LoopView::taskClicked);
    std::uint64_t id = 0;
    f.loop.callSoon([&] {
        id = f.loop.createTask(nap(1s), QStringLiteral("click me")).taskId();
        f.ingest();
        view.modelUpdated();
        view.repaint();
        const QRect box = view.taskBoxRect(id);
        QVERIFY(!box.isEmpty());
        QTest::mouseClick(&view, Qt::LeftButton, {}, box.center());
        f.loop.stop();
    });
    f.loop.runForever();
    QCOMPARE(clicked.count(), 1);
    QCOMPARE(clicked.at(0).at(0).toULongLong(), id);
    f.loop.runUntilComplete(nap(2s)); // let the task finish
}

QTEST_MAIN(tst_LoopView)
#include "tst_loopview.moc"
