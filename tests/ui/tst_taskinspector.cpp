// TaskInspector: the await chain and a deadlock cycle of real tasks, the lifecycle of a real
// task with exact virtual-clock times, parent/children links clicked with the mouse, done
// callbacks, results, updates only when the selection moved, shared models, reset.

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>
#include <loopscope/ui/taskinspector.h>
#include <loopscope/ui/tasktablemodel.h>
#include <loopscope/ui/timelinemodel.h>
#include <loopscope/ui/tracebatch.h>

#include <QAbstractItemModelTester>
#include <QElapsedTimer>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSignalSpy>
#include <QStackedWidget>
#include <QTest>

#include <optional>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::RecordedEvent;
using loopscope::Task;
using loopscope::TaskStats;
using loopscope::TraceRecorder;
using loopscope::ui::TaskInspector;
using loopscope::ui::TraceBatch;

namespace {

//! A recorder on a loop with a virtual clock; the recorder outlives the loop.
struct Fixture
{
    Fixture() : clock(std::make_shared<loopscope::VirtualClock>()), rec(options()), loop(clock)
    {
        loop.addObserver(&rec);
        loop.setExceptionHandler(rec.exceptionHandler([](const loopscope::ExceptionContext &) {}));
    }
    ~Fixture()
    {
        // Let whatever a test left pending end, so the loop closes on nothing.
        for (loopscope::TaskRef task : loop.allTasks())
            task.cancel();
        for (int i = 0; i < 10 && !loop.allTasks().empty(); ++i)
            runFor(1ms);
    }
    static loopscope::RecorderOptions options()
    {
        loopscope::RecorderOptions o;
        o.slowCallbackThreshold = loopscope::Duration::max();
        o.blockedLoopThreshold = loopscope::Duration::max();
        return o;
    }
    //! Runs the loop until \a d of virtual time passed.
    void runFor(std::chrono::milliseconds d) { loop.runUntilComplete(loopscope::sleep(d)); }
    //! Everything recorded since the last batch, as LoopHost's tick would hand it over.
    TraceBatch batch(int generation = 1)
    {
        TraceBatch b;
        b.generation = generation;
        rec.drain(b.events);
        b.resolveStrings(rec);
        b.tasks = rec.tasks();
        b.stats = rec.loopStats();
        b.lints = rec.lints();
        return b;
    }
    std::shared_ptr<loopscope::VirtualClock> clock;
    TraceRecorder rec;
    EventLoop loop;
};

Coro<int> sleeper(std::chrono::milliseconds d, int v)
{
    co_await loopscope::sleep(d);
    co_return v;
}

Coro<int> getter(loopscope::Queue<int> *queue)
{
    co_return co_await queue->get();
}

Coro<int> awaitTask(Task<int> task)
{
    co_return co_await task;
}

//! Awaits *other, once it exists (a cycle needs both tasks first).
Coro<int> awaitLater(std::optional<Task<int>> *other)
{
    co_await loopscope::sleep(1ms);
    co_return co_await **other;
}

Coro<int> awaitsChild()
{
    co_await loopscope::sleep(1ms);
    auto child = EventLoop::current()->createTask(sleeper(5ms, 7), QStringLiteral("child"));
    const int v = co_await child;
    co_return v + 1;
}

Coro<int> fanOut(int n)
{
    std::vector<Task<int>> children;
    for (int i = 0; i < n; ++i)
        children.push_back(EventLoop::current()->createTask(sleeper(10ms, i),
                                                            QStringLiteral("kid-%1").arg(i + 1)));
    int sum = 0;
    for (Task<int> &c : children)
        sum += co_await c;
    co_return sum;
}

Coro<int> fails()
{
    co_await loopscope::sleep(2ms);
    throw std::runtime_error("boom");
}

//! The lifecycle table as "time transition: detail" lines (time in ms of loop time).
QStringList lifecycle(const TaskInspector &inspector)
{
    const QAbstractItemModel *m = inspector.lifecycleModel();
    QStringList lines;
    for (int r = 0; r < m->rowCount(); ++r)
        lines << QStringLiteral("%1 %2: %3")
                         .arg(m->index(r, 0).data().toString(), m->index(r, 1).data().toString(),
                              m->index(r, 2).data().toString());
    return lines;
}

} // namespace

class tst_TaskInspector : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void emptyStateSaysHowToSelectATask();
    void chainFollowsTasksToTheFutureAtTheEnd();
    void twoTasksAwaitingEachOtherAreADeadlock();
    void lifecycleRowsInOrderWithTimes();
    void childAndParentLinksEmitTaskActivated();
    void doneCallbacksAndResults();
    void updatesOnlyWhenTheSelectionMoved();
    void sharedModelsServeTheSameWay();
    void newGenerationClears();
    void tenThousandTasksStayCheap();
};

void tst_TaskInspector::emptyStateSaysHowToSelectATask()
{
    TaskInspector inspector;
    auto *stack = inspector.findChild<QStackedWidget *>();
    QVERIFY(stack);
    auto *empty = inspector.findChild<QLabel *>(QStringLiteral("inspectorEmpty"));
    QVERIFY(empty);
    QCOMPARE(stack->currentWidget(), empty);
    QVERIFY(empty->text().contains(QStringLiteral("Select a task")));
    QCOMPARE(inspector.task(), 0u);
    QVERIFY(inspector.headerText().isEmpty());

    // A task the trace does not know (yet): said so, not a crash.
    inspector.setTask(42);
    QVERIFY(stack->currentWidget() != empty);
    QCOMPARE(inspector.headerText(), QStringLiteral("#42 — not known"));
    inspector.setTask(0);
    QCOMPARE(stack->currentWidget(), empty);
}

void tst_TaskInspector::chainFollowsTasksToTheFutureAtTheEnd()
{
    Fixture f;
    loopscope::Queue<int> queue;
    Task<int> inner = f.loop.createTask(getter(&queue), QStringLiteral("inner"));
    Task<int> mid = f.loop.createTask(awaitTask(inner), QStringLiteral("mid"));
    Task<int> outer = f.loop.createTask(awaitTask(mid), QStringLiteral("outer"));
    f.runFor(5ms);

    TaskInspector inspector;
    inspector.ingest(f.batch());
    inspector.setTask(outer.taskId());
    QCOMPARE(inspector.headerText(), QStringLiteral("#%1 outer — waiting").arg(outer.taskId()));
    const QString chain = inspector.chainText();
    const QString expected = QStringLiteral("task #%1 'mid', which awaits task #%2 'inner', which "
                                            "awaits queue future #")
                                     .arg(mid.taskId())
                                     .arg(inner.taskId());
    QVERIFY2(chain.startsWith(expected), qPrintable(chain));
    QVERIFY(!inspector.isDeadlocked());
    auto *deadlock = inspector.findChild<QLabel *>(QStringLiteral("inspectorDeadlock"));
    QVERIFY(deadlock && deadlock->isHidden());
    // The chain label links the tasks it names.
    auto *label = inspector.findChild<QLabel *>(QStringLiteral("inspectorChain"));
    QVERIFY(label->text().contains(QStringLiteral("href=\"task:%1\"").arg(mid.taskId())));
    QSignalSpy activated(&inspector, &TaskInspector::taskActivated);
    Q_EMIT label->linkActivated(QStringLiteral("task:%1").arg(inner.taskId()));
    QCOMPARE(activated.count(), 1);
    QCOMPARE(activated.at(0).at(0).toULongLong(), inner.taskId());

    // From the middle the chain starts there.
    inspector.setTask(mid.taskId());
    QVERIFY2(inspector.chainText().startsWith(
                     QStringLiteral("task #%1 'inner', which awaits queue").arg(inner.taskId())),
             qPrintable(inspector.chainText()));

    // Once the queue has an item, all three finish: nothing left to await.
    queue.putNowait(41);
    f.runFor(1ms);
    inspector.setTask(outer.taskId());
    inspector.ingest(f.batch());
    QCOMPARE(inspector.chainText(), QStringLiteral("nothing: it is finished"));
    QCOMPARE(inspector.headerText(), QStringLiteral("#%1 outer — finished").arg(outer.taskId()));
}

void tst_TaskInspector::twoTasksAwaitingEachOtherAreADeadlock()
{
    Fixture f;
    std::optional<Task<int>> a;
    std::optional<Task<int>> b;
    a = f.loop.createTask(awaitLater(&b), QStringLiteral("a"));
    b = f.loop.createTask(awaitLater(&a), QStringLiteral("b"));
    Task<int> c = f.loop.createTask(awaitTask(*a), QStringLiteral("c"));
    f.runFor(5ms);
    const std::uint64_t ida = a->taskId();
    const std::uint64_t idb = b->taskId();

    TaskInspector inspector;
    inspector.ingest(f.batch());
    inspector.setTask(ida);
    QVERIFY(inspector.isDeadlocked());
    QCOMPARE(inspector.deadlockText(),
             QStringLiteral("deadlock: #%1 → #%2 → #%1").arg(ida).arg(idb));
    QCOMPARE(inspector.chainText(),
             QStringLiteral("task #%1 'b', which awaits task #%2 'a' (a cycle)").arg(idb).arg(ida));
    auto *deadlock = inspector.findChild<QLabel *>(QStringLiteral("inspectorDeadlock"));
    QVERIFY(!deadlock->isHidden());
    QCOMPARE(deadlock->text(), inspector.deadlockText());
    QVERIFY(deadlock->styleSheet().contains(QStringLiteral("#d93025"))); // red

    // A task waiting on the cycle is stuck in it too; the cycle is named from where it starts.
    inspector.setTask(c.taskId());
    QCOMPARE(inspector.deadlockText(),
             QStringLiteral("deadlock: #%1 → #%2 → #%1").arg(ida).arg(idb));

    // Cancelling a task of the cycle cannot resume it (regression: the cancellation went
    // round the cycle until the stack overflowed): still deadlocked, and it says so.
    QVERIFY(a->cancel("break it"));
    f.runFor(1ms);
    inspector.ingest(f.batch());
    inspector.setTask(ida);
    QVERIFY(inspector.isDeadlocked());
    QVERIFY(!deadlock->isHidden());
    QCOMPARE(inspector.resultText(), QString());
    // The fixture's cancel at the end is just as harmless; the loop's close() destroys them.
}

void tst_TaskInspector::lifecycleRowsInOrderWithTimes()
{
    Fixture f;
    f.runFor(2ms); // the task starts at 2 ms of loop time, not 0
    Task<int> parent = f.loop.createTask(awaitsChild(), QStringLiteral("parent"));
    TaskInspector inspector;
    QAbstractItemModelTester tester(inspector.lifecycleModel(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    inspector.setTask(parent.taskId());
    QVERIFY(f.loop.runUntilComplete(parent) == 8);
    inspector.ingest(f.batch());

    std::uint64_t child = 0;
    for (const TaskStats &t : f.rec.tasks()) {
        if (t.name == QLatin1String("child"))
            child = t.id;
    }
    QVERIFY(child);
    const QStringList rows = lifecycle(inspector);
    const QStringList expected{
        QStringLiteral("0.002000 s created: "),
        QStringLiteral("0.002000 s scheduled: its step is in the ready queue"),
        QStringLiteral("0.002000 s running: step 1"),
        QStringLiteral("0.002000 s awaiting: sleep future #"),
        QStringLiteral("0.003000 s woken: sleep future #"),
        QStringLiteral("0.003000 s running: step 2"),
        QStringLiteral("0.003000 s awaiting: task #%1 'child'").arg(child),
        QStringLiteral("0.008000 s woken: task future #"),
        QStringLiteral("0.008000 s running: step 3"),
        QStringLiteral("0.008000 s finished: "),
    };
    QCOMPARE(rows.size(), expected.size());
    for (int i = 0; i < rows.size(); ++i)
        QVERIFY2(rows[i].startsWith(expected[i]),
                 qPrintable(QStringLiteral("row %1: %2").arg(i).arg(rows.join(u'\n'))));
    // How long it awaited its child, in the duration column.
    const QAbstractItemModel *m = inspector.lifecycleModel();
    QCOMPARE(m->index(6, 3).data().toString(), QStringLiteral("5 ms"));
    QCOMPARE(inspector.resultText(), QStringLiteral("finished"));
}

void tst_TaskInspector::childAndParentLinksEmitTaskActivated()
{
    Fixture f;
    Task<int> parent = f.loop.createTask(fanOut(3), QStringLiteral("parent"));
    f.runFor(1ms);
    // The loop runs whenever Qt's does (attached mode), and a virtual clock would jump to the
    // children's deadlines while the window is shown: hold it.
    f.loop.pause();

    TaskInspector inspector;
    inspector.resize(500, 600);
    inspector.show();
    QVERIFY(QTest::qWaitForWindowExposed(&inspector));
    inspector.ingest(f.batch());
    inspector.setTask(parent.taskId());
    const std::vector<std::uint64_t> kids = inspector.childIds();
    QCOMPARE(kids.size(), std::size_t(3));
    auto *list = inspector.findChild<QListWidget *>(QStringLiteral("inspectorChildren"));
    QVERIFY(list && list->isVisible());
    QCOMPARE(list->count(), 3);
    QVERIFY(list->item(1)->text().startsWith(QStringLiteral("#%1 'kid-2'").arg(kids[1])));
    QVERIFY2(list->item(1)->text().endsWith(QStringLiteral("waiting")),
             qPrintable(list->item(1)->text()));

    QSignalSpy activated(&inspector, &TaskInspector::taskActivated);
    const QRect rect = list->visualItemRect(list->item(1));
    QTest::mouseClick(list->viewport(), Qt::LeftButton, {}, rect.center());
    QCOMPARE(activated.count(), 1);
    QCOMPARE(activated.at(0).at(0).toULongLong(), kids[1]);

    // The window selects the child; its parent is a link back.
    inspector.setTask(kids[1]);
    QCOMPARE(inspector.parentId(), parent.taskId());
    auto *parentButton = inspector.findChild<QPushButton *>(QStringLiteral("inspectorParent"));
    QVERIFY(parentButton && parentButton->isVisible() && parentButton->isEnabled());
    QVERIFY(parentButton->text().startsWith(QStringLiteral("#%1 'parent'").arg(parent.taskId())));
    QTest::mouseClick(parentButton, Qt::LeftButton);
    QCOMPARE(activated.count(), 2);
    QCOMPARE(activated.at(1).at(0).toULongLong(), parent.taskId());
    QVERIFY(inspector.childIds().empty());
    inspector.setTask(parent.taskId());
    QCOMPARE(parentButton->text(), QStringLiteral("none"));
    QVERIFY(!parentButton->isEnabled());

    f.loop.resume();
    QCOMPARE(f.loop.runUntilComplete(parent), 0 + 1 + 2);
}

void tst_TaskInspector::doneCallbacksAndResults()
{
    Fixture f;
    Task<int> work = f.loop.createTask(sleeper(5ms, 42), QStringLiteral("work"));
    int called = 0;
    work.addDoneCallback([&called] { ++called; });
    Task<int> waiter = f.loop.createTask(awaitTask(work), QStringLiteral("waiter"));
    Task<int> bad = f.loop.createTask(fails(), QStringLiteral("bad"));
    f.runFor(1ms);

    TaskInspector inspector;
    inspector.ingest(f.batch());
    inspector.setTask(work.taskId());
    const QStringList lines = inspector.doneCallbackLines();
    QCOMPARE(lines.size(), 2);
    QVERIFY2(lines[0].startsWith(QStringLiteral("callback #")), qPrintable(lines[0]));
    QVERIFY2(lines[0].contains(QStringLiteral("tst_taskinspector.cpp")), qPrintable(lines[0]));
    QVERIFY2(lines[1].startsWith(
                     QStringLiteral("awaited by task #%1 'waiter'").arg(waiter.taskId())),
             qPrintable(lines[1]));
    QCOMPARE(inspector.resultText(), QString()); // pending

    f.runFor(10ms);
    inspector.ingest(f.batch());
    QCOMPARE(called, 1);
    QCOMPARE(inspector.resultText(), QStringLiteral("finished"));
    // The return value arrives later (LoopHost::resultsKnown()).
    const std::uint64_t refreshes = inspector.refreshCount();
    inspector.setResults({ { quint64(work.taskId()), QStringLiteral("42") } });
    QVERIFY(inspector.refreshCount() > refreshes);
    QCOMPARE(inspector.resultText(), QStringLiteral("finished: 42"));

    inspector.setTask(bad.taskId());
    QCOMPARE(inspector.resultText(), QStringLiteral("failed: std::runtime_error: boom"));
    QCOMPARE(inspector.chainText(), QStringLiteral("nothing: it is failed"));
    auto *result = inspector.findChild<QLabel *>(QStringLiteral("inspectorResult"));
    QCOMPARE(result->text(), QStringLiteral("failed: std::runtime_error: boom"));
    QVERIFY(result->styleSheet().contains(QStringLiteral("#d93025")));
    try {
        (void)bad.result();
    } catch (const std::exception &) {
        // retrieved: not a lint
    }
}

void tst_TaskInspector::updatesOnlyWhenTheSelectionMoved()
{
    Fixture f;
    Task<int> slow = f.loop.createTask(sleeper(100ms, 1), QStringLiteral("slow"));
    f.runFor(1ms);
    TaskInspector inspector;
    inspector.ingest(f.batch());
    inspector.setTask(slow.taskId());
    const QStringList before = lifecycle(inspector);
    const std::uint64_t refreshes = inspector.refreshCount();

    // Other tasks come and go; the selected one sleeps on.
    for (int i = 0; i < 5; ++i) {
        (void)f.loop.createTask(sleeper(1ms, i), QStringLiteral("busy"));
        f.runFor(2ms);
        inspector.ingest(f.batch());
    }
    QCOMPARE(inspector.refreshCount(), refreshes);
    QCOMPARE(lifecycle(inspector), before);

    // It wakes and ends: the view follows.
    f.runFor(100ms);
    inspector.ingest(f.batch());
    QVERIFY(inspector.refreshCount() > refreshes);
    QVERIFY(lifecycle(inspector).last().contains(QStringLiteral("finished")));
    QCOMPARE(inspector.headerText(), QStringLiteral("#%1 slow — finished").arg(slow.taskId()));
}

void tst_TaskInspector::sharedModelsServeTheSameWay()
{
    Fixture f;
    loopscope::ui::TaskTableModel tasks;
    loopscope::ui::TimelineModel timeline;
    TaskInspector inspector;
    inspector.setSources(&tasks, &timeline);
    QCOMPARE(inspector.taskModel(), &tasks);
    QCOMPARE(inspector.timelineModel(), &timeline);
    const auto feed = [&](const TraceBatch &b) {
        // As the window does: its models first, then the inspector.
        tasks.applyBatch(b);
        timeline.ingest(b.events, [&b](std::uint32_t i) { return b.string(i); });
        inspector.ingest(b);
    };

    std::optional<Task<int>> a;
    std::optional<Task<int>> b;
    a = f.loop.createTask(awaitLater(&b), QStringLiteral("a"));
    b = f.loop.createTask(awaitLater(&a), QStringLiteral("b"));
    f.runFor(5ms);
    feed(f.batch());
    inspector.setTask(b->taskId());
    QCOMPARE(inspector.deadlockText(),
             QStringLiteral("deadlock: #%1 → #%2 → #%1").arg(b->taskId()).arg(a->taskId()));
    QVERIFY(lifecycle(inspector).size() >= 5);

    // Results reach the shared table from the window; the inspector follows its dataChanged.
    Task<int> done = f.loop.createTask(sleeper(1ms, 5), QStringLiteral("done"));
    f.runFor(2ms);
    feed(f.batch());
    inspector.setTask(done.taskId());
    tasks.setResults({ { quint64(done.taskId()), QStringLiteral("5") } });
    QCOMPARE(inspector.resultText(), QStringLiteral("finished: 5"));

    // Back to its own models (fed from the next batch on).
    inspector.setSources(nullptr, nullptr);
    QVERIFY(inspector.taskModel() != &tasks);
}

void tst_TaskInspector::newGenerationClears()
{
    Fixture f;
    Task<int> t = f.loop.createTask(sleeper(10ms, 1), QStringLiteral("t"));
    f.runFor(1ms);
    TaskInspector inspector;
    inspector.ingest(f.batch(1));
    inspector.setTask(t.taskId());
    QVERIFY(inspector.lifecycleModel()->rowCount() > 0);
    QSignalSpy activated(&inspector, &TaskInspector::taskActivated);

    // The loop was reset: task ids start again, nothing of the old loop stays.
    TraceBatch fresh;
    fresh.generation = 2;
    inspector.ingest(fresh);
    QCOMPARE(inspector.task(), 0u);
    QCOMPARE(inspector.lifecycleModel()->rowCount(), 0);
    QCOMPARE(inspector.taskModel()->rowCount(), 0);
    QVERIFY(inspector.headerText().isEmpty());
    auto *empty = inspector.findChild<QLabel *>(QStringLiteral("inspectorEmpty"));
    QCOMPARE(inspector.findChild<QStackedWidget *>()->currentWidget(), empty);
    inspector.setTask(t.taskId());
    QCOMPARE(inspector.headerText(), QStringLiteral("#%1 — not known").arg(t.taskId()));
    QCOMPARE(activated.count(), 0);
}

void tst_TaskInspector::tenThousandTasksStayCheap()
{
    Fixture f;
    std::vector<Task<int>> tasks;
    tasks.reserve(10000);
    for (int i = 0; i < 10000; ++i)
        tasks.push_back(f.loop.createTask(sleeper(std::chrono::milliseconds(10 + i % 50), i),
                                          QStringLiteral("s-%1").arg(i)));
    f.runFor(1ms);
    // As in the window: the task table and the timeline are fed first and shared.
    loopscope::ui::TaskTableModel table;
    loopscope::ui::TimelineModel timeline;
    TaskInspector inspector;
    inspector.setSources(&table, &timeline);
    QElapsedTimer timer;
    const auto feed = [&](const TraceBatch &b) {
        table.applyBatch(b);
        timeline.ingest(b.events, [&b](std::uint32_t i) { return b.string(i); });
        timer.restart();
        inspector.ingest(b);
        return timer.nsecsElapsed();
    };
    const TraceBatch first = f.batch();
    const qint64 firstNs = feed(first);
    const std::uint64_t selected = tasks[5001].taskId(); // sleeps 11 ms
    timer.restart();
    inspector.setTask(selected);
    const qint64 selectNs = timer.nsecsElapsed();
    QCOMPARE(inspector.headerText(), QStringLiteral("#%1 s-5001 — waiting").arg(selected));

    // A tick in which 200 other tasks wake and end (all of the 10 ms sleepers).
    const std::uint64_t refreshes = inspector.refreshCount();
    f.runFor(9ms);
    TraceBatch b = f.batch();
    const qint64 tickNs = feed(b);
    QCOMPARE(inspector.refreshCount(), refreshes);
    // And the tick in which it wakes and ends, with 200 others.
    f.runFor(1ms);
    TraceBatch own = f.batch();
    const qint64 ownTickNs = feed(own);
    QVERIFY(inspector.refreshCount() > refreshes);
    QCOMPARE(inspector.headerText(), QStringLiteral("#%1 s-5001 — finished").arg(selected));
    qInfo("10,000 tasks, shared models: ingest of the first batch (%zu events) %.2f ms, select "
          "%.2f ms, a tick of %zu events not about the selection %.2f ms, the tick in which it "
          "ends (%zu events) %.2f ms",
          first.events.size(), double(firstNs) / 1e6, double(selectNs) / 1e6, b.events.size(),
          double(tickNs) / 1e6, own.events.size(), double(ownTickNs) / 1e6);
    // Generous bounds (Debug and sanitizer builds): the point is "no rebuild per tick".
    QVERIFY2(selectNs < 200'000'000, qPrintable(QString::number(selectNs)));
    QVERIFY2(tickNs < 50'000'000, qPrintable(QString::number(tickNs)));
    f.runFor(100ms);
}

QTEST_MAIN(tst_TaskInspector)
#include "tst_taskinspector.moc"
