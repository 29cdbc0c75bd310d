// WarningsModel + WarningsPanel: lints added once each (also several found at the same
// virtual instant), busy-polling rows updated in place, the row cap, the kind filter and the
// summary, the activation signal from a real click, clearing on a new generation, and the
// lints of a real loop (LoopHost on a virtual clock).

#include <loopscope/recorder.h>
#include <loopscope/scenario.h>
#include <loopscope/ui/loophost.h>
#include <loopscope/ui/tracebatch.h>
#include <loopscope/ui/warningsmodel.h>
#include <loopscope/ui/warningspanel.h>

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QLabel>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStyle>
#include <QTest>
#include <QTreeView>

#include <chrono>

using loopscope::Lint;
using loopscope::LintKind;
using loopscope::ui::TraceBatch;
using loopscope::ui::WarningsModel;
using loopscope::ui::WarningsPanel;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t kMs = 1'000'000;

Lint lint(LintKind kind, std::uint64_t task, std::uint64_t id, std::int64_t timeNs,
          QString message = {}, loopscope::Duration duration = {})
{
    Lint l;
    l.kind = kind;
    l.task = task;
    l.id = id;
    l.timeNs = timeNs;
    l.duration = duration;
    l.message = message.isEmpty() ? QStringLiteral("%1 of task %2 (%3)")
                                            .arg(QLatin1String(loopscope::lintKindName(kind)))
                                            .arg(task)
                                            .arg(id)
                                  : message;
    return l;
}

TraceBatch batchOf(std::vector<Lint> lints, int generation = 1)
{
    TraceBatch b;
    b.generation = generation;
    b.lints = std::move(lints);
    return b;
}

QString cell(const QAbstractItemModel &model, int row, int column, int role = Qt::DisplayRole)
{
    return model.data(model.index(row, column), role).toString();
}

} // namespace

class tst_WarningsPanel : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void newLintsAreAddedOnce();
    void lintsAtTheSameInstantAreToldApart();
    void busyPollingRowsUpdateInPlace();
    void maxRowsKeepsTheNewest();
    void kindFilterAndSummary();
    void clickingARowEmitsItsTaskAndTime();
    void newGenerationClears();
    void lintsOfARealLoop();
};

void tst_WarningsPanel::newLintsAreAddedOnce()
{
    WarningsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);

    std::vector<Lint> lints{
        lint(LintKind::SlowCallback, 3, 40, 10 * kMs, {}, 120ms),
        lint(LintKind::BlockedLoop, 0, 7, 20 * kMs, {}, 300ms),
    };
    model.applyBatch(batchOf(lints));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.columnCount(), int(WarningsModel::ColumnCount));
    QCOMPARE(inserted.count(), 1);

    // The recorder reports the same kept lints every tick: nothing new.
    model.applyBatch(batchOf(lints));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(inserted.count(), 1);
    QCOMPARE(changed.count(), 0);

    // Two more: one row insertion for both, after the others.
    lints.push_back(lint(LintKind::ExceptionNeverRetrieved, 5, 99, 30 * kMs,
                         QStringLiteral("Task exception was never retrieved: boom")));
    lints.push_back(lint(LintKind::TimerDrift, 0, 12, 40 * kMs, {}, 60ms));
    model.applyBatch(batchOf(lints));
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(inserted.count(), 2);
    QCOMPARE(inserted.at(1).at(1).toInt(), 2);
    QCOMPARE(inserted.at(1).at(2).toInt(), 3);

    // The recorder forgot the oldest: the model keeps its rows.
    lints.erase(lints.begin());
    model.applyBatch(batchOf(lints));
    QCOMPARE(model.rowCount(), 4);

    QCOMPARE(cell(model, 0, WarningsModel::KindColumn), QStringLiteral("slow callback"));
    QCOMPARE(cell(model, 0, WarningsModel::TaskColumn), QStringLiteral("#3"));
    QCOMPARE(cell(model, 0, WarningsModel::TimeColumn), QStringLiteral("0.010 s"));
    QCOMPARE(cell(model, 0, WarningsModel::DurationColumn), QStringLiteral("120.0 ms"));
    QCOMPARE(cell(model, 1, WarningsModel::TaskColumn), QString()); // no task
    QCOMPARE(cell(model, 2, WarningsModel::DurationColumn), QString()); // no duration
    QCOMPARE(cell(model, 2, WarningsModel::MessageColumn),
             QStringLiteral("Task exception was never retrieved: boom"));
    QCOMPARE(model.data(model.index(2, 0), WarningsModel::KindRole).toInt(),
             int(LintKind::ExceptionNeverRetrieved));
    QCOMPARE(model.data(model.index(2, 3), WarningsModel::TaskIdRole).toULongLong(), 5u);
    QCOMPARE(model.data(model.index(2, 1), WarningsModel::TimeRole).toLongLong(), 30 * kMs);
    QVERIFY(!model.data(model.index(0, WarningsModel::KindColumn), Qt::DecorationRole).isNull());
    QCOMPARE(model.data(model.index(2, WarningsModel::KindColumn), Qt::ForegroundRole)
                     .value<QColor>(),
             WarningsModel::kindColor(LintKind::ExceptionNeverRetrieved));
    QVERIFY(WarningsModel::kindColor(LintKind::ExceptionNeverRetrieved)
            != WarningsModel::kindColor(LintKind::SlowCallback));
    QCOMPARE(model.countOf(LintKind::SlowCallback), 1u);
    QCOMPARE(model.totalCount(), 4u);
}

void tst_WarningsPanel::lintsAtTheSameInstantAreToldApart()
{
    // On a virtual clock time stands still while callbacks run: several slow callbacks are
    // found at the same loop time, some in one tick and some in the next.
    WarningsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    std::vector<Lint> lints{ lint(LintKind::SlowCallback, 1, 10, 5 * kMs),
                             lint(LintKind::SlowCallback, 2, 11, 5 * kMs) };
    model.applyBatch(batchOf(lints));
    QCOMPARE(model.rowCount(), 2);
    lints.push_back(lint(LintKind::SlowCallback, 3, 12, 5 * kMs));
    model.applyBatch(batchOf(lints));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.lintAt(2).id, 12u);
    model.applyBatch(batchOf(lints));
    QCOMPARE(model.rowCount(), 3);
    // A later one, and an earlier instant again (already seen) in the same list.
    lints.push_back(lint(LintKind::BlockedLoop, 0, 4, 6 * kMs));
    model.applyBatch(batchOf(lints));
    QCOMPARE(model.rowCount(), 4);
    QCOMPARE(model.countOf(LintKind::SlowCallback), 3u);
}

void tst_WarningsPanel::busyPollingRowsUpdateInPlace()
{
    WarningsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    const Lint slow = lint(LintKind::SlowCallback, 1, 10, 5 * kMs);
    model.applyBatch(batchOf(
            { slow,
              lint(LintKind::BusyPolling, 7, 0, 2 * kMs, QStringLiteral("100 yields"), 3ms) }));
    QCOMPARE(model.rowCount(), 2);
    QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    model.applyBatch(batchOf(
            { slow,
              lint(LintKind::BusyPolling, 7, 0, 2 * kMs, QStringLiteral("250 yields"), 8ms) }));
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(inserted.count(), 0);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(changed.at(0).at(0).toModelIndex().row(), 1);
    QCOMPARE(cell(model, 1, WarningsModel::MessageColumn), QStringLiteral("250 yields"));
    QCOMPARE(cell(model, 1, WarningsModel::DurationColumn), QStringLiteral("8.00 ms"));
    QCOMPARE(model.countOf(LintKind::BusyPolling), 1u);
    // Unchanged: no signal.
    model.applyBatch(batchOf(
            { slow,
              lint(LintKind::BusyPolling, 7, 0, 2 * kMs, QStringLiteral("250 yields"), 8ms) }));
    QCOMPARE(changed.count(), 1);
}

void tst_WarningsPanel::maxRowsKeepsTheNewest()
{
    WarningsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    model.setMaxRows(3);
    std::vector<Lint> lints;
    for (std::uint64_t i = 1; i <= 5; ++i)
        lints.push_back(lint(LintKind::TimerDrift, 0, i, std::int64_t(i) * kMs));
    lints.push_back(lint(LintKind::BusyPolling, 9, 0, 0, QStringLiteral("polls")));
    model.applyBatch(batchOf(lints));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.lintAt(0).id, 4u);
    QCOMPARE(model.lintAt(1).id, 5u);
    QCOMPARE(model.lintAt(2).kind, LintKind::BusyPolling);
    QCOMPARE(model.countOf(LintKind::TimerDrift), 5u);

    // A newer lint pushes out the oldest, the polling row included; that row does not come
    // back although the recorder still reports the task polling.
    lints.insert(lints.end() - 1, lint(LintKind::TimerDrift, 0, 6, 6 * kMs));
    lints.insert(lints.end() - 1, lint(LintKind::TimerDrift, 0, 7, 7 * kMs));
    lints.insert(lints.end() - 1, lint(LintKind::TimerDrift, 0, 8, 8 * kMs));
    model.applyBatch(batchOf(lints));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.lintAt(0).id, 6u);
    QCOMPARE(model.lintAt(2).id, 8u);
    model.applyBatch(batchOf(lints));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.lintAt(2).id, 8u);
    QCOMPARE(model.countOf(LintKind::BusyPolling), 1u);
}

void tst_WarningsPanel::kindFilterAndSummary()
{
    WarningsPanel panel;
    QAbstractItemModelTester tester(panel.proxyModel(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(panel.summaryText(), QStringLiteral("No warnings"));
    panel.ingest(batchOf({
            lint(LintKind::SlowCallback, 1, 10, 1 * kMs),
            lint(LintKind::BlockedLoop, 0, 3, 2 * kMs),
            lint(LintKind::SlowCallback, 2, 11, 3 * kMs),
            lint(LintKind::DestroyedPending, 4, 0, 4 * kMs),
    }));
    QCOMPARE(panel.proxyModel()->rowCount(), 4);
    QCOMPARE(panel.summaryText(),
             QStringLiteral("4 warnings: 1 destroyed pending · 2 slow "
                            "callback · 1 blocked loop"));
    const auto *summary = panel.findChild<QLabel *>(QStringLiteral("warningsSummary"));
    QVERIFY(summary);
    QCOMPARE(summary->text(), panel.summaryText());

    // The user picks a kind in the combo box.
    auto *combo = panel.findChild<QComboBox *>(QStringLiteral("warningsKindFilter"));
    QVERIFY(combo);
    combo->setCurrentIndex(combo->findText(QStringLiteral("slow callback")));
    QCOMPARE(panel.kindFilter(), std::optional<LintKind>(LintKind::SlowCallback));
    QCOMPARE(panel.proxyModel()->rowCount(), 2);
    for (int r = 0; r < 2; ++r)
        QCOMPARE(panel.proxyModel()->index(r, 0).data(WarningsModel::KindRole).toInt(),
                 int(LintKind::SlowCallback));
    // New lints of other kinds stay hidden; the summary still counts them.
    panel.ingest(batchOf({ lint(LintKind::TimerDrift, 0, 5, 9 * kMs) }));
    QCOMPARE(panel.proxyModel()->rowCount(), 2);
    QVERIFY(panel.summaryText().contains(QStringLiteral("1 timer drift")));
    QVERIFY(summary->text().startsWith(QStringLiteral("5 warnings")));

    panel.setKindFilter(LintKind::BlockedLoop);
    QCOMPARE(combo->currentText(), QStringLiteral("blocked loop"));
    QCOMPARE(panel.proxyModel()->rowCount(), 1);
    panel.setKindFilter(std::nullopt);
    QCOMPARE(panel.proxyModel()->rowCount(), 5);
}

void tst_WarningsPanel::clickingARowEmitsItsTaskAndTime()
{
    WarningsPanel panel;
    panel.resize(800, 300);
    panel.ingest(batchOf({ lint(LintKind::SlowCallback, 12, 10, 1500 * kMs),
                           lint(LintKind::ExceptionNeverRetrieved, 34, 7, 2500 * kMs) }));
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    QSignalSpy activated(&panel, &WarningsPanel::lintActivated);
    QTreeView *view = panel.view();
    const QRect rect = view->visualRect(panel.proxyModel()->index(1, WarningsModel::MessageColumn));
    QVERIFY(rect.isValid());
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, rect.center());
    QCOMPARE(activated.count(), 1);
    QCOMPARE(activated.at(0).at(0).toULongLong(), 34u);
    QCOMPARE(activated.at(0).at(1).toLongLong(), 2500 * kMs);

    // Sorted by time, newest first: the first row is still the right lint.
    view->sortByColumn(WarningsModel::TimeColumn, Qt::DescendingOrder);
    const QRect first = view->visualRect(panel.proxyModel()->index(0, WarningsModel::KindColumn));
    QTest::mouseClick(view->viewport(), Qt::LeftButton, {}, first.center());
    QCOMPARE(activated.count(), 2);
    QCOMPARE(activated.at(1).at(0).toULongLong(), 34u);

    // Enter on the current row activates it too (once, whatever the style).
    view->setCurrentIndex(panel.proxyModel()->index(1, 0));
    view->setFocus();
    QTest::keyClick(view, Qt::Key_Return);
    const bool singleClick =
            view->style()->styleHint(QStyle::SH_ItemView_ActivateItemOnSingleClick, nullptr, view);
    if (!singleClick) {
        QCOMPARE(activated.count(), 3);
        QCOMPARE(activated.at(2).at(0).toULongLong(), 12u);
        QCOMPARE(activated.at(2).at(1).toLongLong(), 1500 * kMs);
    }
}

void tst_WarningsPanel::newGenerationClears()
{
    WarningsPanel panel;
    QAbstractItemModelTester tester(panel.model(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    panel.ingest(batchOf({ lint(LintKind::SlowCallback, 1, 10, 5 * kMs),
                           lint(LintKind::BusyPolling, 3, 0, 0) }));
    QCOMPARE(panel.model()->rowCount(), 2);
    QSignalSpy reset(panel.model(), &QAbstractItemModel::modelReset);
    TraceBatch fresh = batchOf({}, 2);
    panel.ingest(fresh);
    QCOMPARE(reset.count(), 1);
    QCOMPARE(panel.model()->rowCount(), 0);
    QCOMPARE(panel.model()->totalCount(), 0u);
    QCOMPARE(panel.summaryText(), QStringLiteral("No warnings"));
    // The new loop's lints start from scratch: an old time is new again.
    panel.ingest(batchOf({ lint(LintKind::SlowCallback, 1, 10, 5 * kMs) }, 2));
    QCOMPARE(panel.model()->rowCount(), 1);
    // An unchanged batch (no new events) adds nothing.
    TraceBatch idle = batchOf({ lint(LintKind::SlowCallback, 8, 10, 9 * kMs) }, 2);
    idle.changed = false;
    panel.ingest(idle);
    QCOMPARE(panel.model()->rowCount(), 1);
    panel.clear();
    QCOMPARE(panel.model()->rowCount(), 0);
}

void tst_WarningsPanel::lintsOfARealLoop()
{
    loopscope::ui::LoopHost host(loopscope::ClockSpec{ loopscope::ClockSpec::Mode::Virtual, 1.0 });
    WarningsPanel panel;
    QAbstractItemModelTester tester(panel.model(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    connect(&host, &loopscope::ui::LoopHost::batchReady, &panel, &WarningsPanel::ingest);

    // A failing task with two fire-and-forget children whose errors nobody reads, and a
    // callback that blocks the loop for 150 ms of real time (slow: over 100 ms).
    loopscope::ScenarioSpawn failing = loopscope::ScenarioSpawn::withDefaults(
            loopscope::ScenarioTemplate::Failing, QStringLiteral("f"), 1);
    failing.params.insert(QStringLiteral("orphans"), qint64(2));
    failing.params.insert(QStringLiteral("delayMs"), qint64(10));
    host.spawn(failing);
    loopscope::ScenarioSpawn blocker = loopscope::ScenarioSpawn::withDefaults(
            loopscope::ScenarioTemplate::BlockingCallback, QStringLiteral("blocker"), 1);
    blocker.params.insert(QStringLiteral("blockMs"), qint64(150));
    host.spawn(blocker);

    QTRY_VERIFY(panel.model()->countOf(LintKind::ExceptionNeverRetrieved) >= 2);
    QTRY_VERIFY(panel.model()->countOf(LintKind::SlowCallback) >= 1);
    bool sawOrphan = false;
    for (int r = 0; r < panel.model()->rowCount(); ++r) {
        const Lint &l = panel.model()->lintAt(r);
        if (l.kind == LintKind::ExceptionNeverRetrieved && l.task != 0
            && l.message.contains(QStringLiteral("orphan")))
            sawOrphan = true;
    }
    QVERIFY(sawOrphan);
    QVERIFY(panel.summaryText().contains(QStringLiteral("exception never retrieved")));
    const int rows = panel.model()->rowCount();
    // Further ticks with nothing new add nothing.
    QSignalSpy ticks(&host, &loopscope::ui::LoopHost::batchReady);
    QTRY_VERIFY(ticks.count() >= 3);
    QCOMPARE(panel.model()->rowCount(), rows);

    host.reset();
    QTRY_COMPARE(panel.model()->rowCount(), 0);
}

QTEST_MAIN(tst_WarningsPanel)
#include "tst_warningspanel.moc"
