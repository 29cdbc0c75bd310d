// The Events panel: the raw trace stream as a table, filtered by kind and task, paused on its
// own, capped, cleared by a new loop; fed by a real recorder too.

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>
#include <loopscope/ui/eventstreamview.h>
#include <loopscope/ui/tracebatch.h>

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QScrollBar>
#include <QTabBar>
#include <QTabWidget>
#include <QTableView>
#include <QTest>
#include <QToolButton>

using loopscope::RecordedEvent;
using loopscope::TraceEventKind;
using loopscope::ui::EventStreamModel;
using loopscope::ui::EventStreamView;
using loopscope::ui::TraceBatch;

namespace {

RecordedEvent event(std::uint64_t seq, TraceEventKind kind, std::uint64_t id, std::uint64_t aux = 0)
{
    RecordedEvent e;
    e.sequence = seq;
    e.time = std::int64_t(seq) * 1000;
    e.kind = kind;
    e.id = id;
    e.aux = aux;
    return e;
}

//! \a count events from sequence \a first: task steps of tasks 1-3 and their handles.
TraceBatch batch(std::uint64_t first, int count, int generation = 1)
{
    TraceBatch b;
    b.generation = generation;
    for (int i = 0; i < count; ++i) {
        const std::uint64_t seq = first + std::uint64_t(i);
        const std::uint64_t task = 1 + seq % 3;
        b.events.push_back(seq % 2 ? event(seq, TraceEventKind::TaskStepBegin, task, 1)
                                   : event(seq, TraceEventKind::HandleStarted, 100 + seq, task));
    }
    return b;
}

} // namespace

class tst_EventStreamView : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void rowsColumnsAndModelTester();
    void filterByKindAndTaskFromTheWidgets();
    void pauseHoldsEventsAndResumeShowsThem();
    void offScreenViewHoldsEventsUntilShown();
    void capKeepsTheNewest();
    void newGenerationClears();
    void realRecorderEventsAreDescribed();
};

void tst_EventStreamView::rowsColumnsAndModelTester()
{
    EventStreamModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.ingest(batch(0, 10));
    model.ingest(batch(10, 5));
    QCOMPARE(model.rowCount(), 15);
    QCOMPARE(model.totalCount(), std::uint64_t(15));
    QCOMPARE(model.index(1, EventStreamModel::KindColumn).data().toString(),
             QStringLiteral("taskStepBegin"));
    QCOMPARE(model.index(1, EventStreamModel::TaskColumn).data().toString(), QStringLiteral("#2"));
    // A handle's task is the step's task (aux).
    QCOMPARE(model.index(0, 0).data(EventStreamModel::TaskRole).toULongLong(), 1u);
    QCOMPARE(model.index(14, EventStreamModel::SequenceColumn).data().toULongLong(), 14u);
    QVERIFY(model.index(1, EventStreamModel::DetailColumn)
                    .data()
                    .toString()
                    .contains(QLatin1String("step 1")));
}

void tst_EventStreamView::filterByKindAndTaskFromTheWidgets()
{
    EventStreamView view;
    view.show();
    view.ingest(batch(0, 30));
    QCOMPARE(view.table()->model()->rowCount(), 30);
    const int kindIndex = view.kindCombo()->findText(QStringLiteral("taskStepBegin"));
    QVERIFY(kindIndex > 0);
    view.kindCombo()->setCurrentIndex(kindIndex);
    QCOMPARE(view.table()->model()->rowCount(), 15);
    QTest::keyClicks(view.taskEdit(), QStringLiteral("#2"));
    // Odd sequences with 1 + seq % 3 == 2: seq 1, 7, 13, 19, 25.
    QCOMPARE(view.table()->model()->rowCount(), 5);
    QVERIFY(view.countLabel()->text().startsWith(QStringLiteral("5 shown of 30 kept")));
    // New events pass through the same filters.
    view.ingest(batch(30, 6));
    QCOMPARE(view.table()->model()->rowCount(), 6); // + seq 31
    // Garbage in the task field filters nothing, and is marked.
    view.taskEdit()->clear();
    QTest::keyClicks(view.taskEdit(), QStringLiteral("abc"));
    QCOMPARE(view.table()->model()->rowCount(), 18);
    QVERIFY(!view.taskEdit()->styleSheet().isEmpty());
    view.kindCombo()->setCurrentIndex(0);
    QCOMPARE(view.table()->model()->rowCount(), 36);
}

void tst_EventStreamView::pauseHoldsEventsAndResumeShowsThem()
{
    EventStreamView view;
    view.show();
    view.ingest(batch(0, 10));
    QTest::mouseClick(view.pauseButton(), Qt::LeftButton);
    QVERIFY(view.model()->isPaused());
    QCOMPARE(view.pauseButton()->text(), QStringLiteral("Resume log"));
    view.ingest(batch(10, 7));
    QCOMPARE(view.model()->rowCount(), 10); // the rows stand still
    QCOMPARE(view.model()->heldCount(), 7);
    QVERIFY(view.countLabel()->text().contains(QLatin1String("7 new held back")));
    QTest::mouseClick(view.pauseButton(), Qt::LeftButton);
    QVERIFY(!view.model()->isPaused());
    QCOMPARE(view.model()->rowCount(), 17);
    QCOMPARE(view.model()->heldCount(), 0);
    QCOMPARE(view.model()->index(16, 0).data().toULongLong(), 16u);
}

void tst_EventStreamView::offScreenViewHoldsEventsUntilShown()
{
    // The model: deferred rows wait; undeferred they come, unless paused.
    EventStreamModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setMaxRows(50);
    model.setDeferred(true);
    model.ingest(batch(0, 30));
    model.ingest(batch(30, 40));
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.heldCount(), 50); // capped like the rows
    QCOMPARE(model.totalCount(), std::uint64_t(70));
    model.setPaused(true);
    model.setDeferred(false);
    QCOMPARE(model.rowCount(), 0); // still paused
    model.setPaused(false);
    QCOMPARE(model.rowCount(), 50);
    QCOMPARE(model.index(0, 0).data().toULongLong(), 20u); // the newest 50, in order
    QCOMPARE(model.index(49, 0).data().toULongLong(), 69u);

    // The view, in a tab behind another one of a shown window: it holds the events back
    // and shows them, scrolled to the newest, when its tab is clicked.
    QTabWidget tabs;
    tabs.addTab(new QLabel(QStringLiteral("log")), QStringLiteral("Log"));
    auto *view = new EventStreamView;
    tabs.addTab(view, QStringLiteral("Events"));
    tabs.resize(600, 300);
    tabs.show();
    QVERIFY(QTest::qWaitForWindowExposed(&tabs));
    QVERIFY(!view->isOnScreen());
    view->ingest(batch(0, 200));
    QVERIFY(view->model()->isDeferred());
    QCOMPARE(view->model()->rowCount(), 0);
    QCOMPARE(view->model()->heldCount(), 200);
    QTabBar *bar = tabs.tabBar();
    QTest::mouseClick(bar, Qt::LeftButton, {}, bar->tabRect(1).center());
    QCOMPARE(tabs.currentWidget(), view);
    QTRY_VERIFY(!view->model()->isDeferred());
    QCOMPARE(view->model()->rowCount(), 200);
    QCOMPARE(view->model()->heldCount(), 0);
    QTRY_COMPARE(view->table()->verticalScrollBar()->value(),
                 view->table()->verticalScrollBar()->maximum());
    QVERIFY(view->table()->verticalScrollBar()->maximum() > 0);
    // On screen, events go straight in.
    view->ingest(batch(200, 5));
    QCOMPARE(view->model()->rowCount(), 205);
}

void tst_EventStreamView::capKeepsTheNewest()
{
    EventStreamModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setMaxRows(100);
    model.ingest(batch(0, 80));
    model.ingest(batch(80, 70));
    QCOMPARE(model.rowCount(), 100);
    QCOMPARE(model.index(0, 0).data().toULongLong(), 50u);
    model.ingest(batch(150, 250)); // more than the cap at once
    QCOMPARE(model.rowCount(), 100);
    QCOMPARE(model.index(0, 0).data().toULongLong(), 300u);
    QCOMPARE(model.totalCount(), std::uint64_t(400));
    // Held events are capped as well.
    model.setPaused(true);
    model.ingest(batch(400, 150));
    QCOMPARE(model.heldCount(), 100);
    model.setPaused(false);
    QCOMPARE(model.index(0, 0).data().toULongLong(), 450u);
}

void tst_EventStreamView::newGenerationClears()
{
    EventStreamModel model;
    model.ingest(batch(0, 10, 1));
    model.setPaused(true);
    model.ingest(batch(10, 3, 1));
    model.ingest(batch(0, 4, 2)); // a reset loop: its events start over
    QCOMPARE(model.rowCount(), 0);
    QCOMPARE(model.heldCount(), 4);
    model.setPaused(false);
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.totalCount(), std::uint64_t(4));
}

void tst_EventStreamView::realRecorderEventsAreDescribed()
{
    using namespace std::chrono_literals;
    auto clock = std::make_shared<loopscope::VirtualClock>();
    loopscope::EventLoop loop(clock);
    loopscope::TraceRecorder recorder;
    loop.addObserver(&recorder);
    auto nap = [](std::chrono::milliseconds d) -> loopscope::Coro<int> {
        co_await loopscope::sleep(d);
        co_return 1;
    };
    auto task = loop.createTask(nap(250ms), QStringLiteral("napper"));
    QCOMPARE(loop.runUntilComplete(task), 1);
    loop.removeObserver(&recorder);
    TraceBatch b;
    b.generation = 1;
    recorder.drain(b.events);
    b.resolveStrings(recorder);
    EventStreamView view;
    view.ingest(b);
    QCOMPARE(view.model()->rowCount(), int(b.events.size()));
    QStringList details;
    for (int r = 0; r < view.model()->rowCount(); ++r)
        details << view.model()->index(r, EventStreamModel::DetailColumn).data().toString();
    const QString all = details.join(u'\n');
    QVERIFY2(all.contains(QLatin1String("'napper'")), qPrintable(all));
    QVERIFY2(all.contains(QLatin1String("awaits sleep future")), qPrintable(all));
    QVERIFY2(all.contains(QLatin1String("woken by sleep future")), qPrintable(all));
    QVERIFY2(all.contains(QLatin1String("finished")), qPrintable(all));
    // Everything about the task filters down to its own events.
    const quint64 id = task.core()->id();
    view.taskEdit()->setText(QString::number(id));
    QVERIFY(view.table()->model()->rowCount() > 4);
    for (int r = 0; r < view.table()->model()->rowCount(); ++r)
        QCOMPARE(view.table()->model()->index(r, 0).data(EventStreamModel::TaskRole).toULongLong(),
                 id);
}

QTEST_MAIN(tst_EventStreamView)
#include "tst_eventstreamview.moc"
