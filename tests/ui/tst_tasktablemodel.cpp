#include <loopscope/recorder.h>
#include <loopscope/ui/taskfilterproxymodel.h>
#include <loopscope/ui/tasktablemodel.h>
#include <loopscope/ui/tracebatch.h>

#include <QAbstractItemModelTester>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>

#include <chrono>

using loopscope::DoneStatus;
using loopscope::FutureKind;
using loopscope::RecordedEvent;
using loopscope::TaskStats;
using loopscope::TraceEventKind;
using loopscope::ui::TaskFilterProxyModel;
using loopscope::ui::TaskTableModel;
using loopscope::ui::TraceBatch;
using State = TaskStats::State;
using namespace std::chrono_literals;

namespace {

TaskStats makeTask(std::uint64_t id, State state = State::Scheduled, QString name = {})
{
    TaskStats t;
    t.id = id;
    t.futureId = 1000 + id;
    t.name = name.isEmpty() ? QStringLiteral("task-%1").arg(id) : name;
    t.location = QStringLiteral("/src/scenariorun.cpp:42 (makeInstance)");
    t.state = state;
    if (t.isDone())
        t.status = state == State::Cancelled ? DoneStatus::Cancelled
                : state == State::Failed     ? DoneStatus::Failed
                                             : DoneStatus::Finished;
    return t;
}

QString cell(const QAbstractItemModel &model, int row, int column, int role = Qt::DisplayRole)
{
    return model.data(model.index(row, column), role).toString();
}

} // namespace

class tst_TaskTableModel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void newTasksAreAppendedInOneInsertion();
    void changedRowsGetDataChangedNotAReset();
    void awaitingNamesTheAwaitedTask();
    void taskDoneEventEndsATaskTheRecorderForgot();
    void finishedTasksExpireAfterTheRetention();
    void clearResets();
    void proxyFiltersByTextAndState();
    void proxySortsNumbersAsNumbers();
    void tenThousandTasksStayFast();
};

void tst_TaskTableModel::newTasksAreAppendedInOneInsertion()
{
    TaskTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);

    TraceBatch batch;
    batch.tasks = { makeTask(1), makeTask(2), makeTask(3, State::Waiting) };
    model.applyBatch(batch);
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.columnCount(), int(TaskTableModel::ColumnCount));
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(inserted.at(0).at(1).toInt(), 0);
    QCOMPARE(inserted.at(0).at(2).toInt(), 2);

    batch.tasks.push_back(makeTask(4));
    model.applyBatch(batch);
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(inserted.count(), 2);
    QCOMPARE(inserted.at(1).at(1).toInt(), 3);
    QCOMPARE(reset.count(), 0);

    QCOMPARE(cell(model, 0, TaskTableModel::IdColumn), QStringLiteral("1"));
    QCOMPARE(cell(model, 0, TaskTableModel::NameColumn), QStringLiteral("task-1"));
    QCOMPARE(cell(model, 0, TaskTableModel::StateColumn), QStringLiteral("scheduled"));
    QCOMPARE(cell(model, 0, TaskTableModel::SiteColumn), QStringLiteral("scenariorun.cpp:42"));
    QCOMPARE(model.data(model.index(2, 0), TaskTableModel::TaskIdRole).toULongLong(), 3u);
    QCOMPARE(model.data(model.index(2, 0), TaskTableModel::StateRole).toInt(), int(State::Waiting));
    // The state column has a colour and an icon.
    QVERIFY(model.data(model.index(0, TaskTableModel::StateColumn), Qt::ForegroundRole)
                    .canConvert<QColor>());
    QVERIFY(!model.data(model.index(0, TaskTableModel::StateColumn), Qt::DecorationRole).isNull());
    QCOMPARE(model.rowOf(4), 3);
    QCOMPARE(model.rowOf(99), -1);
}

void tst_TaskTableModel::changedRowsGetDataChangedNotAReset()
{
    TaskTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    TraceBatch batch;
    for (std::uint64_t id = 1; id <= 10; ++id)
        batch.tasks.push_back(makeTask(id));
    model.applyBatch(batch);

    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    model.applyBatch(batch); // nothing changed: nothing emitted
    QCOMPARE(changed.count(), 0);

    batch.tasks[3].state = State::Running; // rows 3 and 4: one range
    batch.tasks[4].steps = 7;
    batch.tasks[8].busy = 5ms; // row 8: another
    model.applyBatch(batch);
    QCOMPARE(changed.count(), 2);
    QCOMPARE(changed.at(0).at(0).toModelIndex().row(), 3);
    QCOMPARE(changed.at(0).at(1).toModelIndex().row(), 4);
    // From the state to the result: the id and name of a running task do not change (a
    // proxy sorted by id has nothing to re-sort), nor does the creation site.
    QCOMPARE(changed.at(0).at(0).toModelIndex().column(), int(TaskTableModel::StateColumn));
    QCOMPARE(changed.at(0).at(1).toModelIndex().column(), int(TaskTableModel::ResultColumn));
    QCOMPARE(changed.at(1).at(0).toModelIndex().row(), 8);
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(reset.count(), 0);
    QCOMPARE(cell(model, 3, TaskTableModel::StateColumn), QStringLiteral("running"));
    QCOMPARE(cell(model, 4, TaskTableModel::StepsColumn), QStringLiteral("7"));
    QCOMPARE(cell(model, 8, TaskTableModel::BusyColumn), QStringLiteral("5.00 ms"));

    // A task that ends greys its whole row: from the id column.
    changed.clear();
    batch.tasks[5].state = State::Finished;
    batch.tasks[5].doneNs = 1;
    batch.tasks[6].steps = 3;
    model.applyBatch(batch);
    QCOMPARE(changed.count(), 2);
    QCOMPARE(changed.at(0).at(0).toModelIndex().row(), 5);
    QCOMPARE(changed.at(0).at(0).toModelIndex().column(), int(TaskTableModel::IdColumn));
    QCOMPARE(changed.at(1).at(0).toModelIndex().row(), 6);
    QCOMPARE(changed.at(1).at(0).toModelIndex().column(), int(TaskTableModel::StateColumn));
}

void tst_TaskTableModel::awaitingNamesTheAwaitedTask()
{
    TaskTableModel model;
    TraceBatch batch;
    TaskStats parent = makeTask(1, State::Waiting, QStringLiteral("parent"));
    TaskStats child = makeTask(2, State::Waiting, QStringLiteral("child"));
    parent.waitingOn = child.futureId;
    parent.waitingOnKind = FutureKind::Task;
    child.waitingOn = 77;
    child.waitingOnKind = FutureKind::Sleep;
    batch.tasks = { parent, child };
    model.applyBatch(batch);
    QCOMPARE(cell(model, 0, TaskTableModel::AwaitingColumn), QStringLiteral("task 2 child"));
    QCOMPARE(cell(model, 1, TaskTableModel::AwaitingColumn),
             QString::fromLatin1(loopscope::futureKindName(FutureKind::Sleep))
                     + QStringLiteral(" (future 77)"));
}

void tst_TaskTableModel::taskDoneEventEndsATaskTheRecorderForgot()
{
    TaskTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    TraceBatch batch;
    batch.tasks = { makeTask(1, State::Waiting), makeTask(2, State::Waiting) };
    model.applyBatch(batch);

    // Task 2 ended and the recorder already dropped it: only its TaskDone event says so.
    batch.tasks = { makeTask(1, State::Waiting) };
    RecordedEvent done;
    done.kind = TraceEventKind::TaskDone;
    done.id = 2;
    done.status = DoneStatus::Cancelled;
    done.text = 5;
    batch.events = { done };
    batch.strings.insert(5, QStringLiteral("stop it"));
    model.applyBatch(batch);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(cell(model, 1, TaskTableModel::StateColumn), QStringLiteral("cancelled"));
    QCOMPARE(cell(model, 1, TaskTableModel::ResultColumn), QStringLiteral("stop it"));
    QVERIFY(model.data(model.index(1, 0), TaskTableModel::DoneRole).toBool());
}

void tst_TaskTableModel::finishedTasksExpireAfterTheRetention()
{
    TaskTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setRetention(50ms);
    TraceBatch batch;
    batch.tasks = { makeTask(1, State::Finished), makeTask(2, State::Waiting),
                    makeTask(3, State::Failed), makeTask(4, State::Cancelled),
                    makeTask(5, State::Waiting) };
    model.applyBatch(batch);
    QCOMPARE(model.rowCount(), 5);

    // Retention is real time since the model saw the task end; ticks keep coming meanwhile.
    QTimer ticker;
    connect(&ticker, &QTimer::timeout, &model, [&] { model.applyBatch(batch); });
    ticker.start(5);
    QTRY_COMPARE(model.rowCount(), 2);
    QCOMPARE(model.taskIdAt(0), 2u);
    QCOMPARE(model.taskIdAt(1), 5u);
    QCOMPARE(model.rowOf(5), 1);
    QCOMPARE(model.rowOf(3), -1);
    // Still reported by the recorder: they do not come back.
    model.applyBatch(batch);
    QCOMPARE(model.rowCount(), 2);

    // Zero keeps finished tasks for ever.
    model.setRetention(0ms);
    batch.tasks = { makeTask(6, State::Finished) };
    model.applyBatch(batch);
    QTest::qWait(20);
    model.applyBatch(batch);
    QCOMPARE(model.rowOf(6), 2);
}

void tst_TaskTableModel::clearResets()
{
    TaskTableModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    TraceBatch batch;
    batch.tasks = { makeTask(1), makeTask(2) };
    model.applyBatch(batch);
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    model.clear();
    QCOMPARE(reset.count(), 1);
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.rowOf(1), -1);
}

void tst_TaskTableModel::proxyFiltersByTextAndState()
{
    TaskTableModel model;
    TaskFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    QAbstractItemModelTester tester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
    TraceBatch batch;
    batch.tasks = { makeTask(1, State::Waiting, QStringLiteral("producer-1")),
                    makeTask(2, State::Running, QStringLiteral("consumer-1")),
                    makeTask(3, State::Finished, QStringLiteral("producer-2")),
                    makeTask(4, State::Cancelled, QStringLiteral("consumer-2")),
                    makeTask(5, State::Failed, QStringLiteral("oops")) };
    model.applyBatch(batch);
    QCOMPARE(proxy.rowCount(), 5);

    proxy.setTextFilter(QStringLiteral("PRODUCER"));
    QCOMPARE(proxy.rowCount(), 2);
    proxy.setStateFilter(TaskFilterProxyModel::StateFilter::Live);
    QCOMPARE(proxy.rowCount(), 1);
    QCOMPARE(proxy.data(proxy.index(0, TaskTableModel::NameColumn)).toString(),
             QStringLiteral("producer-1"));
    proxy.setTextFilter(QString());
    QCOMPARE(proxy.rowCount(), 2);
    proxy.setStateFilter(TaskFilterProxyModel::StateFilter::Done);
    QCOMPARE(proxy.rowCount(), 3);
    proxy.setStateFilter(TaskFilterProxyModel::StateFilter::Cancelled);
    QCOMPARE(proxy.rowCount(), 1);
    proxy.setStateFilter(TaskFilterProxyModel::StateFilter::Failed);
    QCOMPARE(proxy.rowCount(), 1);
    proxy.setStateFilter(TaskFilterProxyModel::StateFilter::Ready);
    QCOMPARE(proxy.rowCount(), 1);

    // A row that changes state moves in or out of the filter on the next batch.
    batch.tasks[1].state = State::Waiting;
    model.applyBatch(batch);
    QCOMPARE(proxy.rowCount(), 0);
    proxy.setStateFilter(TaskFilterProxyModel::StateFilter::Waiting);
    QCOMPARE(proxy.rowCount(), 2);
    QCOMPARE(TaskFilterProxyModel::stateFilterNames().size(), 8);
}

void tst_TaskTableModel::proxySortsNumbersAsNumbers()
{
    TaskTableModel model;
    TaskFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    TraceBatch batch;
    for (std::uint64_t id : { 9u, 10u, 100u, 2u })
        batch.tasks.push_back(makeTask(id));
    batch.tasks[0].busy = 2ms;
    batch.tasks[1].busy = 900us;
    batch.tasks[2].busy = 1s;
    model.applyBatch(batch);
    proxy.sort(TaskTableModel::IdColumn, Qt::AscendingOrder);
    QCOMPARE(proxy.data(proxy.index(0, 0)).toString(), QStringLiteral("2"));
    QCOMPARE(proxy.data(proxy.index(3, 0)).toString(), QStringLiteral("100"));
    proxy.sort(TaskTableModel::BusyColumn, Qt::DescendingOrder);
    QCOMPARE(proxy.data(proxy.index(0, 0)).toString(), QStringLiteral("100"));
    QCOMPARE(proxy.data(proxy.index(1, 0)).toString(), QStringLiteral("9"));
    QCOMPARE(proxy.data(proxy.index(2, 0)).toString(), QStringLiteral("10"));
}

void tst_TaskTableModel::tenThousandTasksStayFast()
{
    TaskTableModel model;
    TaskFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    proxy.sort(TaskTableModel::IdColumn, Qt::AscendingOrder);
    TraceBatch batch;
    for (std::uint64_t id = 1; id <= 10000; ++id)
        batch.tasks.push_back(makeTask(id, State::Waiting));
    QElapsedTimer timer;
    timer.start();
    model.applyBatch(batch);
    const qint64 insertMs = timer.elapsed();
    QCOMPARE(proxy.rowCount(), 10000);

    // A tick where a tenth of the tasks changed, and one where none did.
    for (std::size_t i = 0; i < batch.tasks.size(); i += 10)
        batch.tasks[i].steps += 1;
    QSignalSpy reset(&model, &QAbstractItemModel::modelReset);
    timer.restart();
    model.applyBatch(batch);
    const qint64 changeMs = timer.elapsed();
    timer.restart();
    model.applyBatch(batch);
    const qint64 idleMs = timer.elapsed();
    QCOMPARE(reset.count(), 0);
    qInfo("10,000 tasks: insert %lld ms, 1,000 changed %lld ms, unchanged %lld ms (with a "
          "sorting proxy)",
          insertMs, changeMs, idleMs);
    // Generous bounds (Debug and sanitizer builds): the point is "no full reset per tick".
    QVERIFY2(changeMs < 500, qPrintable(QString::number(changeMs)));
    QVERIFY2(idleMs < 200, qPrintable(QString::number(idleMs)));
}

QTEST_MAIN(tst_TaskTableModel)
#include "tst_tasktablemodel.moc"
