#include "mainwindow.h"

#include <loopscope/eventloop.h>
#include <loopscope/recorder.h>
#include <loopscope/ui/eventlogview.h>
#include <loopscope/ui/loophost.h>
#include <loopscope/ui/loopstatemodel.h>
#include <loopscope/ui/loopview.h>
#include <loopscope/ui/spawnpanel.h>
#include <loopscope/ui/taskfilterproxymodel.h>
#include <loopscope/ui/tasktablemodel.h>
#include <loopscope/ui/timelinemodel.h>
#include <loopscope/ui/timelineview.h>
#include <loopscope/ui/tracebatch.h>
#include <loopscope/ui/tracereplay.h>

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QContextMenuEvent>
#include <QFile>
#include <QInputDialog>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QTableView>
#include <QTemporaryDir>
#include <QRegularExpression>
#include <QTest>
#include <QTimer>
#include <QToolBar>
#include <QToolButton>

#include <algorithm>
#include <memory>

using loopscope::ClockSpec;
using loopscope::RecordedEvent;
using loopscope::TraceEventKind;
using loopscope::ui::TaskTableModel;
using namespace std::chrono_literals;

namespace {

const ClockSpec Virtual{ ClockSpec::Mode::Virtual, 1.0 };
const ClockSpec Real{ ClockSpec::Mode::Real, 1.0 };

} // namespace

class tst_MainWindow : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanup();

    void windowHasTheControls();
    void spawnFromThePanelShowsRows();
    void invalidSpawnIsExplainedInline();
    void deleteKeyCancelsTheSelectedTask();
    void contextMenuCancelsTheTask();
    void cancelWithMessageCarriesTheMessage();
    void filterNarrowsTheTable();
    void pauseThenStepRunsExactlyOneCallback();
    void timeScaleSliderChangesTheClock();
    void exportWritesAChromeTrace();
    void badScenarioFileIsExplainedAndNothingIsLost();
    void printedLinesAreLoggedInTraceOrder();
    void blockedLoopShowsTheBanner();
    void blockedLoopTimelineAndTimersMoveOn();
    void closingWithRunningTasksIsSafe();
    void tenThousandTasksTickStaysShort();
    void timelineAndLoopViewFollowTheLoop();
    void replayATraceAndStepBack();
    void badTraceIsExplainedAndNothingChanges();

private:
    MainWindow *makeWindow(const ClockSpec &clock);
    //! Fills the spawn panel and clicks Spawn.
    void spawnFromPanel(const QString &templateName, const QString &prefix, int count,
                        const QString &paramKey = {}, int paramValue = 0);
    //! The proxy row of the task called \a name, -1 when not shown.
    int rowNamed(const QString &name) const;
    QString stateOf(const QString &name) const;
    QToolButton *buttonFor(const QString &actionName) const;

    std::unique_ptr<MainWindow> m_window;
};

void tst_MainWindow::initTestCase()
{
    // Keep the developer's own window layout out of (and unchanged by) the tests.
    QCoreApplication::setOrganizationName(QStringLiteral("LoopscopeTests"));
}

void tst_MainWindow::cleanup()
{
    m_window.reset();
}

MainWindow *tst_MainWindow::makeWindow(const ClockSpec &clock)
{
    m_window = std::make_unique<MainWindow>(clock);
    m_window->show();
    if (!QTest::qWaitForWindowExposed(m_window.get()))
        return nullptr;
    return m_window.get();
}

void tst_MainWindow::spawnFromPanel(const QString &templateName, const QString &prefix, int count,
                                    const QString &paramKey, int paramValue)
{
    loopscope::ui::SpawnPanel *panel = m_window->spawnPanel();
    auto *templates = panel->findChild<QComboBox *>(QStringLiteral("spawnTemplate"));
    QVERIFY(templates);
    templates->setCurrentIndex(templates->findText(templateName));
    QCOMPARE(templates->currentText(), templateName);
    if (!paramKey.isEmpty()) {
        auto *param = panel->findChild<QSpinBox *>(QStringLiteral("param_") + paramKey);
        QVERIFY2(param, qPrintable(paramKey));
        param->setValue(paramValue);
    }
    // Typed like a person would: select all, type.
    auto *countBox = panel->findChild<QSpinBox *>(QStringLiteral("spawnCount"));
    QVERIFY(countBox);
    countBox->setFocus();
    QTest::keyClick(countBox, Qt::Key_A, Qt::ControlModifier);
    QTest::keyClicks(countBox, QString::number(count));
    QCOMPARE(countBox->value(), count);
    auto *name = panel->findChild<QLineEdit *>(QStringLiteral("spawnName"));
    QVERIFY(name);
    name->selectAll();
    QTest::keyClicks(name, prefix);
    QCOMPARE(name->text(), prefix);
    auto *button = panel->findChild<QPushButton *>(QStringLiteral("spawnButton"));
    QVERIFY(button && button->isEnabled());
    QTest::mouseClick(button, Qt::LeftButton);
}

int tst_MainWindow::rowNamed(const QString &name) const
{
    const QAbstractItemModel *model = m_window->taskView()->model();
    for (int r = 0; r < model->rowCount(); ++r) {
        if (model->index(r, TaskTableModel::NameColumn).data().toString() == name)
            return r;
    }
    return -1;
}

QString tst_MainWindow::stateOf(const QString &name) const
{
    const int row = rowNamed(name);
    if (row < 0)
        return QStringLiteral("(absent)");
    return m_window->taskView()->model()->index(row, TaskTableModel::StateColumn).data().toString();
}

QToolButton *tst_MainWindow::buttonFor(const QString &actionName) const
{
    auto *action = m_window->findChild<QAction *>(actionName);
    if (!action)
        return nullptr;
    for (QToolBar *bar : m_window->findChildren<QToolBar *>()) {
        if (auto *button = qobject_cast<QToolButton *>(bar->widgetForAction(action)))
            return button;
    }
    return nullptr;
}

void tst_MainWindow::windowHasTheControls()
{
    QVERIFY(makeWindow(Virtual));
    QCOMPARE(m_window->windowTitle(), QStringLiteral("Loopscope"));
    const struct
    {
        const char *name;
        QKeySequence key;
    } actions[] = {
        { "runPauseAction", QKeySequence(Qt::Key_Space) },
        { "stepCallbackAction", QKeySequence(Qt::Key_F10) },
        { "stepIterationAction", QKeySequence(Qt::Key_F11) },
        { "stepTaskAction", QKeySequence(Qt::SHIFT | Qt::Key_F10) },
        { "resetAction", QKeySequence(Qt::CTRL | Qt::Key_R) },
        { "exportTraceAction", QKeySequence(Qt::CTRL | Qt::Key_E) },
        { "cancelTaskAction", QKeySequence(QKeySequence::Delete) },
    };
    for (const auto &a : actions) {
        auto *action = m_window->findChild<QAction *>(QLatin1String(a.name));
        QVERIFY2(action, a.name);
        QCOMPARE(action->shortcut(), a.key);
    }
    // Stepping only makes sense while paused.
    QVERIFY(!m_window->findChild<QAction *>(QStringLiteral("stepCallbackAction"))->isEnabled());
    auto *slider = m_window->findChild<QSlider *>(QStringLiteral("timeScale"));
    QVERIFY(slider);
    QCOMPARE(MainWindow::sliderToScale(slider->minimum()), 0.1);
    QCOMPARE(MainWindow::sliderToScale(slider->maximum()), 10.0);
    QCOMPARE(MainWindow::sliderToScale(0), 1.0);
    QVERIFY(!slider->isEnabled()); // virtual clock: no scale
    auto *mode = m_window->findChild<QComboBox *>(QStringLiteral("clockMode"));
    QVERIFY(mode);
    QCOMPARE(mode->currentText(), QStringLiteral("Virtual time"));
    auto *picker = m_window->findChild<QComboBox *>(QStringLiteral("scenarioPicker"));
    QVERIFY(picker);
    QCOMPARE(picker->itemText(picker->count() - 1), QStringLiteral("Open file…"));
    QVERIFY(m_window->findChild<QWidget *>(QStringLiteral("eventLog")));
    QVERIFY(!m_window->blockedBanner()->isVisible());
    QVERIFY(!m_window->errorBanner()->isVisible());
    QTRY_VERIFY(m_window->statusLabel()->text().contains(QStringLiteral("iterations")));
}

void tst_MainWindow::spawnFromThePanelShowsRows()
{
    QVERIFY(makeWindow(Virtual));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("nap"), 5, QStringLiteral("delayMs"),
                   2000);
    // The virtual clock jumps the two seconds: the rows appear and end finished.
    for (int i = 1; i <= 5; ++i)
        QTRY_COMPARE(stateOf(QStringLiteral("nap-%1").arg(i)), QStringLiteral("finished"));
    const int row = rowNamed(QStringLiteral("nap-3"));
    const QAbstractItemModel *model = m_window->taskView()->model();
    // Return values come when the spawn's run has ended, a moment after the tasks.
    QTRY_COMPARE(model->index(row, TaskTableModel::ResultColumn).data().toString(),
                 QStringLiteral("slept 2000 ms"));
    QVERIFY(model->index(row, TaskTableModel::SiteColumn)
                    .data()
                    .toString()
                    .contains(QStringLiteral(".cpp:")));
    QTRY_VERIFY(m_window->log()->toPlainText().contains(QStringLiteral("nap-5 created")));
}

void tst_MainWindow::invalidSpawnIsExplainedInline()
{
    QVERIFY(makeWindow(Virtual));
    loopscope::ui::SpawnPanel *panel = m_window->spawnPanel();
    auto *name = panel->findChild<QLineEdit *>(QStringLiteral("spawnName"));
    auto *button = panel->findChild<QPushButton *>(QStringLiteral("spawnButton"));
    auto *error = panel->findChild<QLabel *>(QStringLiteral("spawnError"));
    QVERIFY(name && button && error);
    QVERIFY(button->isEnabled());
    name->selectAll();
    QTest::keyClick(name, Qt::Key_Backspace);
    QVERIFY(!button->isEnabled());
    QVERIFY(error->isVisible());
    QVERIFY(!panel->errorText().isEmpty());
    QVERIFY(!panel->currentSpawn());
    QTest::keyClicks(name, QStringLiteral("ok"));
    QVERIFY(button->isEnabled());
    QVERIFY(!error->isVisible());
    // Numbers cannot leave their range: the editor clamps them.
    auto *count = panel->findChild<QSpinBox *>(QStringLiteral("spawnCount"));
    QCOMPARE(count->maximum(), 10000);
    QCOMPARE(count->minimum(), 1);
}

void tst_MainWindow::deleteKeyCancelsTheSelectedTask()
{
    // Not time-driven: the sleepers only have to still be asleep when Del is pressed.
    QVERIFY(makeWindow(Real));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("nap"), 3, QStringLiteral("delayMs"),
                   3600000);
    for (int i = 1; i <= 3; ++i)
        QTRY_COMPARE(stateOf(QStringLiteral("nap-%1").arg(i)), QStringLiteral("waiting"));

    QTableView *table = m_window->taskView();
    const QModelIndex cell =
            table->model()->index(rowNamed(QStringLiteral("nap-2")), TaskTableModel::NameColumn);
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, table->visualRect(cell).center());
    QCOMPARE(table->currentIndex().row(), cell.row());
    QTest::keyClick(table, Qt::Key_Delete);
    QTRY_COMPARE(stateOf(QStringLiteral("nap-2")), QStringLiteral("cancelled"));
    QCOMPARE(stateOf(QStringLiteral("nap-1")), QStringLiteral("waiting"));
    QCOMPARE(stateOf(QStringLiteral("nap-3")), QStringLiteral("waiting"));

    // Copy puts the selected row on the clipboard.
    QTest::keyClick(table, Qt::Key_C, Qt::ControlModifier);
    QVERIFY2(QApplication::clipboard()->text().contains(QStringLiteral("nap-2\tcancelled")),
             qPrintable(QApplication::clipboard()->text()));
}

void tst_MainWindow::contextMenuCancelsTheTask()
{
    QVERIFY(makeWindow(Real));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("nap"), 2, QStringLiteral("delayMs"),
                   3600000);
    QTRY_COMPARE(stateOf(QStringLiteral("nap-1")), QStringLiteral("waiting"));
    QTRY_COMPARE(stateOf(QStringLiteral("nap-2")), QStringLiteral("waiting"));

    QTableView *table = m_window->taskView();
    const QModelIndex cell =
            table->model()->index(rowNamed(QStringLiteral("nap-1")), TaskTableModel::StateColumn);
    const QPoint pos = table->visualRect(cell).center();
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, pos);

    // The menu runs its own event loop: pick "Cancel" from inside it.
    QStringList seen;
    QTimer picker;
    picker.setInterval(10);
    connect(&picker, &QTimer::timeout, this, [&] {
        auto *menu = qobject_cast<QMenu *>(QApplication::activePopupWidget());
        if (!menu)
            return;
        picker.stop();
        for (QAction *action : menu->actions()) {
            seen.append(action->text());
            if (action->text() == QLatin1String("Cancel"))
                QTest::mouseClick(menu, Qt::LeftButton, {}, menu->actionGeometry(action).center());
        }
    });
    picker.start();
    QContextMenuEvent event(QContextMenuEvent::Mouse, pos, table->viewport()->mapToGlobal(pos));
    QApplication::sendEvent(table->viewport(), &event);
    QVERIFY2(seen.contains(QStringLiteral("Cancel with message…")), qPrintable(seen.join(u',')));
    QVERIFY(seen.contains(QStringLiteral("Inspect")));
    QVERIFY(seen.contains(QStringLiteral("Copy")));
    QTRY_COMPARE(stateOf(QStringLiteral("nap-1")), QStringLiteral("cancelled"));
    QCOMPARE(stateOf(QStringLiteral("nap-2")), QStringLiteral("waiting"));
}

void tst_MainWindow::cancelWithMessageCarriesTheMessage()
{
    QVERIFY(makeWindow(Real));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("nap"), 1, QStringLiteral("delayMs"),
                   3600000);
    QTRY_COMPARE(stateOf(QStringLiteral("nap")), QStringLiteral("waiting"));
    QTableView *table = m_window->taskView();
    const QModelIndex cell =
            table->model()->index(rowNamed(QStringLiteral("nap")), TaskTableModel::NameColumn);
    QTest::mouseClick(table->viewport(), Qt::LeftButton, {}, table->visualRect(cell).center());

    // The dialog is modal: answer it from inside its own event loop.
    bool answered = false;
    QTimer answer;
    answer.setInterval(10);
    connect(&answer, &QTimer::timeout, this, [&] {
        auto *dialog = qobject_cast<QInputDialog *>(QApplication::activeModalWidget());
        if (!dialog)
            return;
        answer.stop();
        dialog->setTextValue(QStringLiteral("time is up"));
        dialog->accept();
        answered = true;
    });
    answer.start();
    QTest::keyClick(table, Qt::Key_Delete, Qt::ShiftModifier);
    QVERIFY(answered);
    QTRY_COMPARE(stateOf(QStringLiteral("nap")), QStringLiteral("cancelled"));
    QCOMPARE(table->model()
                     ->index(rowNamed(QStringLiteral("nap")), TaskTableModel::ResultColumn)
                     .data()
                     .toString(),
             QStringLiteral("time is up"));
}

void tst_MainWindow::filterNarrowsTheTable()
{
    QVERIFY(makeWindow(Virtual));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("alpha"), 3);
    spawnFromPanel(QStringLiteral("failing"), QStringLiteral("beta"), 2, QStringLiteral("delayMs"),
                   10);
    QTRY_COMPARE(stateOf(QStringLiteral("alpha-3")), QStringLiteral("finished"));
    QTRY_COMPARE(stateOf(QStringLiteral("beta-2")), QStringLiteral("failed"));

    auto *filter = m_window->findChild<QLineEdit *>(QStringLiteral("taskFilter"));
    QVERIFY(filter);
    QTest::keyClicks(filter, QStringLiteral("alpha-"));
    QCOMPARE(m_window->taskView()->model()->rowCount(), 3);
    filter->clear();
    auto *state = m_window->findChild<QComboBox *>(QStringLiteral("stateFilter"));
    QVERIFY(state);
    state->setCurrentIndex(int(loopscope::ui::TaskFilterProxyModel::StateFilter::Failed));
    QCOMPARE(m_window->taskView()->model()->rowCount(), 2);
    QCOMPARE(stateOf(QStringLiteral("beta-1")), QStringLiteral("failed"));
}

void tst_MainWindow::pauseThenStepRunsExactlyOneCallback()
{
    QVERIFY(makeWindow(Virtual));
    loopscope::ui::LoopHost *host = m_window->host();
    std::vector<RecordedEvent> events;
    connect(host, &loopscope::ui::LoopHost::batchReady, this,
            [&events](const loopscope::ui::TraceBatch &b) {
                events.insert(events.end(), b.events.begin(), b.events.end());
            });

    QToolButton *runPause = buttonFor(QStringLiteral("runPauseAction"));
    QVERIFY(runPause);
    QCOMPARE(runPause->text(), QStringLiteral("Pause"));
    QTest::mouseClick(runPause, Qt::LeftButton);
    QTRY_VERIFY(host->lastBatch().stats.paused);
    QTRY_VERIFY(m_window->statusLabel()->text().startsWith(QStringLiteral("PAUSED")));
    QCOMPARE(runPause->text(), QStringLiteral("Run"));
    QToolButton *stepCallback = buttonFor(QStringLiteral("stepCallbackAction"));
    QVERIFY(stepCallback && stepCallback->isEnabled());

    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("nap"), 3);
    const std::uint64_t before = host->lastBatch().stats.callbacks;
    const std::size_t mark = events.size();
    QTest::keyClick(m_window.get(), Qt::Key_F10);
    QTRY_COMPARE(host->lastBatch().stats.callbacks, before + 1);

    // The step ends in a pause of its own, with exactly one callback run before it.
    std::size_t ran = 0;
    bool stepDone = false;
    QTRY_VERIFY(
            std::any_of(events.begin() + qsizetype(mark), events.end(), [](const RecordedEvent &e) {
                return e.kind == TraceEventKind::LoopPaused
                        && loopscope::PauseReason(e.aux) == loopscope::PauseReason::StepDone;
            }));
    for (std::size_t i = mark; i < events.size(); ++i) {
        if (events[i].kind == TraceEventKind::LoopPaused) {
            stepDone = true;
            break;
        }
        ran += events[i].kind == TraceEventKind::HandleFinished ? 1 : 0;
    }
    QVERIFY(stepDone);
    QCOMPARE(ran, std::size_t(1));
    QVERIFY(host->lastBatch().stats.paused);
    QCOMPARE(runPause->text(), QStringLiteral("Run"));

    // Space runs the loop again; the sleepers end.
    QTest::keyClick(m_window.get(), Qt::Key_Space);
    QTRY_COMPARE(stateOf(QStringLiteral("nap-3")), QStringLiteral("finished"));
    QCOMPARE(runPause->text(), QStringLiteral("Pause"));
}

void tst_MainWindow::timeScaleSliderChangesTheClock()
{
    QVERIFY(makeWindow(ClockSpec{ ClockSpec::Mode::Scaled, 1.0 }));
    loopscope::ui::LoopHost *host = m_window->host();
    auto *slider = m_window->findChild<QSlider *>(QStringLiteral("timeScale"));
    auto *label = m_window->findChild<QLabel *>(QStringLiteral("timeScaleLabel"));
    QVERIFY(slider && label);
    QVERIFY(slider->isEnabled());
    QCOMPARE(label->text(), QStringLiteral("1.00×"));
    slider->setFocus();
    for (int i = 0; i < 5; ++i)
        QTest::keyClick(slider, Qt::Key_PageUp); // +50: 10^0.5
    QCOMPARE(slider->value(), 50);
    QCOMPARE(label->text(), QStringLiteral("3.16×"));
    QTRY_VERIFY(qAbs(host->appliedTimeScale() - 3.1623) < 1e-3);
    QCOMPARE(host->generation(), 1); // changed live, same loop
    QTest::keyClick(slider, Qt::Key_End);
    QTRY_COMPARE(host->appliedTimeScale(), 10.0);
    QTest::keyClick(slider, Qt::Key_Home);
    QTRY_COMPARE(host->appliedTimeScale(), 0.1);
    QCOMPARE(label->text(), QStringLiteral("0.10×"));
    // A late confirmation of the earlier 10× request (queued from the loop thread; under ASan it
    // arrived after Home) must not overwrite the newer value.
    Q_EMIT host->timeScaleApplied(10.0);
    QCOMPARE(label->text(), QStringLiteral("0.10×"));

    // Another clock mode is another loop; the slider has nothing to scale there.
    auto *mode = m_window->findChild<QComboBox *>(QStringLiteral("clockMode"));
    mode->setCurrentIndex(mode->findText(QStringLiteral("Virtual time")));
    QCOMPARE(host->generation(), 2);
    QCOMPARE(host->clock().mode, ClockSpec::Mode::Virtual);
    QVERIFY(!slider->isEnabled());
    QTRY_VERIFY(m_window->log()->toPlainText().contains(QStringLiteral("on the virtual clock")));
}

void tst_MainWindow::exportWritesAChromeTrace()
{
    QVERIFY(makeWindow(Virtual));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("traced"), 2);
    QTRY_COMPARE(stateOf(QStringLiteral("traced-2")), QStringLiteral("finished"));

    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("trace.json"));
    QVERIFY(m_window->exportTrace(path));
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(file.readAll(), &error);
    QCOMPARE(error.error, QJsonParseError::NoError);
    const QJsonArray events = doc.isArray()
            ? doc.array()
            : doc.object().value(QStringLiteral("traceEvents")).toArray();
    QVERIFY(events.size() > 10);
    bool sawTask = false;
    for (const QJsonValue &v : events)
        sawTask = sawTask
                || v.toObject()
                           .value(QStringLiteral("name"))
                           .toString()
                           .contains(QStringLiteral("traced-1"));
    QVERIFY(sawTask);
    QVERIFY(!m_window->errorBanner()->isVisible());

    // A folder that does not exist: explained, nothing written.
    const QString bad = dir.filePath(QStringLiteral("no/such/folder/trace.json"));
    QVERIFY(!m_window->exportTrace(bad));
    QVERIFY(m_window->errorBanner()->isVisible());
    QVERIFY(m_window->errorBanner()->text().contains(QStringLiteral("Could not export")));
    QVERIFY(!QFile::exists(bad));
}

void tst_MainWindow::badScenarioFileIsExplainedAndNothingIsLost()
{
    QVERIFY(makeWindow(Real));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("keep"), 2, QStringLiteral("delayMs"),
                   3600000);
    QTRY_COMPARE(stateOf(QStringLiteral("keep-2")), QStringLiteral("waiting"));

    const QString bad = QFINDTESTDATA("data/bad_scenario.json");
    QVERIFY(!bad.isEmpty());
    QVERIFY(!m_window->loadScenarioFile(bad));
    QLabel *banner = m_window->errorBanner();
    QVERIFY(banner->isVisible());
    QVERIFY2(banner->text().contains(QStringLiteral("spawns[2].params.delayMs")),
             qPrintable(banner->text()));
    // The loop and its tasks are as they were.
    QCOMPARE(m_window->host()->generation(), 1);
    QTRY_COMPARE(stateOf(QStringLiteral("keep-1")), QStringLiteral("waiting"));
    QCOMPARE(stateOf(QStringLiteral("keep-2")), QStringLiteral("waiting"));

    // A good file replaces the run and the banner goes.
    const QString good = QFINDTESTDATA("data/tiny.json");
    QVERIFY(!good.isEmpty());
    QVERIFY(m_window->loadScenarioFile(good));
    QVERIFY(!banner->isVisible());
    QTRY_COMPARE(stateOf(QStringLiteral("keep-1")), QStringLiteral("(absent)"));
    QTRY_COMPARE(stateOf(QStringLiteral("oops")), QStringLiteral("failed"));
}

void tst_MainWindow::printedLinesAreLoggedInTraceOrder()
{
    // The seed example prints from the task's done-callback, after the task finished one
    // (virtual) second in. The printed line overtakes the tick that drains the task's end:
    // the log must still read in the order things happened, with the print's own time.
    QVERIFY(makeWindow(Virtual));
    auto *picker = m_window->findChild<QComboBox *>(QStringLiteral("scenarioPicker"));
    QVERIFY(picker);
    const int index = picker->findData(QStringLiteral("seed_run_until_complete"));
    QVERIFY(index >= 0);
    picker->setCurrentIndex(index - 1);
    QTest::keyClick(picker, Qt::Key_Down); // picks it, as a user would with the keyboard
    const auto log = [this] { return m_window->log()->toPlainText(); };
    QTRY_VERIFY2(log().contains(QLatin1String("scenario finished")), qPrintable(log()));
    const QString text = log();
    const qsizetype done = text.indexOf(QLatin1String("slowOperation")) < 0
            ? -1
            : text.indexOf(QRegularExpression(QStringLiteral("task \\d+ done: finished")));
    const qsizetype printed = text.indexOf(QLatin1String("print: Future is done!"));
    const qsizetype finished = text.indexOf(QLatin1String("scenario finished"));
    QVERIFY2(done >= 0 && printed > done && finished > printed, qPrintable(text));
    // Stamped with the loop time it was printed at: the task's sleep of one second.
    const QString printLine = text.mid(text.lastIndexOf(QLatin1Char('\n'), printed) + 1,
                                       printed - text.lastIndexOf(QLatin1Char('\n'), printed));
    QVERIFY2(printLine.contains(QLatin1String("1.0")), qPrintable(printLine));
}

void tst_MainWindow::blockedLoopShowsTheBanner()
{
    QVERIFY(makeWindow(Virtual));
    spawnFromPanel(QStringLiteral("blockingCallback"), QStringLiteral("blocker"), 1,
                   QStringLiteral("blockMs"), 900);
    QLabel *banner = m_window->blockedBanner();
    // The window keeps ticking while the loop thread is stuck.
    QTRY_VERIFY(banner->isVisible());
    QVERIFY2(banner->text().startsWith(QStringLiteral("loop blocked 0.")),
             qPrintable(banner->text()));
    QTRY_VERIFY(!banner->isVisible());
    QTRY_COMPARE(stateOf(QStringLiteral("blocker")), QStringLiteral("finished"));
}

void tst_MainWindow::blockedLoopTimelineAndTimersMoveOn()
{
    // On the real clock, while one callback blocks the loop (and reports nothing), the
    // timeline's open segments grow with the time that passes and the timers held up show
    // up late, instead of the picture freezing at the callback's start.
    QVERIFY(makeWindow(Real));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("nap"), 1, QStringLiteral("delayMs"),
                   200);
    QTRY_COMPARE(stateOf(QStringLiteral("nap")), QStringLiteral("waiting"));
    spawnFromPanel(QStringLiteral("blockingCallback"), QStringLiteral("blocker"), 1,
                   QStringLiteral("blockMs"), 1500);
    QLabel *banner = m_window->blockedBanner();
    QTRY_VERIFY(banner->isVisible());
    const std::int64_t atFirstReport = m_window->timelineModel()->latestTime();
    QTRY_VERIFY(banner->isVisible()
                && m_window->timelineModel()->latestTime() > atFirstReport + 300'000'000);
    const loopscope::ui::LoopStateModel *state = m_window->loopState();
    const auto timers = state->timersByDeadline(1);
    QVERIFY(!timers.empty());
    QVERIFY2(timers.front().deadlineNs < state->nowNs(), "the nap's timer shows as late");
    QTRY_VERIFY(!banner->isVisible());
    QTRY_COMPARE(stateOf(QStringLiteral("nap")), QStringLiteral("finished"));
}

void tst_MainWindow::closingWithRunningTasksIsSafe()
{
    QVERIFY(makeWindow(Real));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("nap"), 100, QStringLiteral("delayMs"),
                   3600000);
    QTRY_COMPARE(stateOf(QStringLiteral("nap-100")), QStringLiteral("waiting"));
    m_window.reset(); // cancels, unwinds, closes the loop on its thread, joins it (ASan run)
}

void tst_MainWindow::tenThousandTasksTickStaysShort()
{
    QVERIFY(makeWindow(Real));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("many"), 10000,
                   QStringLiteral("delayMs"), 3600000);
    QTRY_COMPARE_WITH_TIMEOUT(m_window->taskModel()->rowCount(), 10001, 30000);
    QTRY_COMPARE_WITH_TIMEOUT(stateOf(QStringLiteral("many-10000")), QStringLiteral("waiting"),
                              30000);

    // The tick: drain + aggregates of 10,000 tasks + table model diff + status line.
    std::vector<qint64> us;
    std::size_t changedTicks = 0;
    connect(m_window->host(), &loopscope::ui::LoopHost::batchReady, this,
            [&](const loopscope::ui::TraceBatch &batch) {
                // lastTickDuration() is the previous tick's, complete with its slots.
                us.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                                     m_window->host()->lastTickDuration())
                                     .count());
                changedTicks += batch.changed ? 1 : 0;
            });
    const auto figures = [&us](const char *what) {
        us.erase(us.begin()); // the tick before we started listening
        std::sort(us.begin(), us.end());
        const qint64 p50 = us[us.size() / 2];
        const qint64 p99 = us[us.size() * 99 / 100];
        qInfo("tick with 10,000 live tasks, %s: p50 %.2f ms, p99 %.2f ms (%zu ticks)", what,
              double(p50) / 1000.0, double(p99) / 1000.0, us.size());
        return p50;
    };
    QTRY_VERIFY_WITH_TIMEOUT(us.size() >= 16, 20000);
    const qint64 idle = figures("all asleep");

    // Now with a pipeline beside them that records events all the time, so every tick
    // drains, copies all 10,000 tasks' statistics and diffs the table.
    us.clear();
    changedTicks = 0;
    loopscope::ui::SpawnPanel *panel = m_window->spawnPanel();
    auto *templates = panel->findChild<QComboBox *>(QStringLiteral("spawnTemplate"));
    templates->setCurrentIndex(templates->findText(QStringLiteral("producerConsumer")));
    panel->findChild<QSpinBox *>(QStringLiteral("spawnCount"))->setValue(1);
    panel->findChild<QSpinBox *>(QStringLiteral("param_items"))->setValue(100000);
    panel->findChild<QSpinBox *>(QStringLiteral("param_produceMs"))->setValue(1);
    panel->findChild<QSpinBox *>(QStringLiteral("param_consumeMs"))->setValue(1);
    panel->spawn();
    QTRY_VERIFY_WITH_TIMEOUT(us.size() >= 31, 20000);
    const qint64 busy = figures("busy pipeline beside them");
    QVERIFY(changedTicks >= 25);
    // Generous: Debug and sanitizer builds run this too.
    QVERIFY2(idle < 100000, qPrintable(QString::number(idle)));
    QVERIFY2(busy < 500000, qPrintable(QString::number(busy)));
}

void tst_MainWindow::timelineAndLoopViewFollowTheLoop()
{
    QVERIFY(makeWindow(Virtual));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("lane"), 5, QStringLiteral("delayMs"),
                   2000);
    for (int i = 1; i <= 5; ++i)
        QTRY_COMPARE(stateOf(QStringLiteral("lane-%1").arg(i)), QStringLiteral("finished"));
    loopscope::ui::TimelineModel *timeline = m_window->timelineModel();
    QTRY_VERIFY(timeline->taskLaneCount() >= 5);
    QVERIFY(m_window->loopState()->iteration() > 0);
    QVERIFY(m_window->loopState()->ready().empty()); // all done: nothing left to run

    // Shift-drag across the whole timeline: the table keeps the tasks that ran (or were
    // ready) in the range.
    loopscope::ui::TimelineView *view = m_window->timelineView();
    view->parentWidget()->parentWidget()->show(); // the dock (tabbed with the log)
    // A little before the first and after the last event: the tasks ran at 0 s and 2 s.
    view->setVisibleRange(timeline->historyStart() - 100'000'000,
                          timeline->latestTime() + 100'000'000);
    QWidget *vp = view->viewport();
    QSignalSpy selected(view, &loopscope::ui::TimelineView::rangeSelected);
    const int y = view->axisHeight() + view->rowHeight() / 2;
    const int x0 = view->labelWidth() + 2;
    const int x1 = vp->width() - 2;
    QTest::mousePress(vp, Qt::LeftButton, Qt::ShiftModifier, QPoint(x0, y));
    QTest::mouseMove(vp, QPoint((x0 + x1) / 2, y));
    QTest::mouseMove(vp, QPoint(x1, y));
    QTest::mouseRelease(vp, Qt::LeftButton, Qt::ShiftModifier, QPoint(x1, y));
    QCOMPARE(selected.count(), 1);
    QVERIFY(m_window->taskProxy()->hasTaskIdFilter());
    // The five sleepers and the spawn's own runner task, which ran at 0 s and 2 s too.
    QCOMPARE(m_window->taskView()->model()->rowCount(), 6);
    for (int i = 1; i <= 5; ++i)
        QVERIFY(rowNamed(QStringLiteral("lane-%1").arg(i)) >= 0);

    // A click on a task lane selects its row.
    const int lane = timeline->laneOfTask(m_window->taskModel()
                                                  ->index(0, TaskTableModel::IdColumn)
                                                  .data(TaskTableModel::TaskIdRole)
                                                  .toULongLong());
    QVERIFY(lane >= 0);
    view->setVisibleRange(timeline->historyStart(), timeline->latestTime());
    const int laneY = view->axisHeight() + (lane - view->firstVisibleLane()) * view->rowHeight()
            + view->rowHeight() / 2;
    QTest::mouseClick(vp, Qt::LeftButton, Qt::NoModifier, QPoint(10, laneY));
    const QModelIndex current = m_window->taskView()->currentIndex();
    QVERIFY(current.isValid());
    QCOMPARE(current.data(TaskTableModel::TaskIdRole).toULongLong(), timeline->lane(lane).id);
}

//! Issue 5: "replay a trace and step back". Export a run, open it, step through it with the
//! replay bar's buttons and keys, see the task table go back and forth, return to live.
void tst_MainWindow::replayATraceAndStepBack()
{
    QVERIFY(makeWindow(Virtual));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("traced"), 2);
    QTRY_COMPARE(stateOf(QStringLiteral("traced-2")), QStringLiteral("finished"));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("run.json"));
    QVERIFY(m_window->exportTrace(path));

    QVERIFY(!m_window->isReplaying());
    QVERIFY(!m_window->replayBar()->isVisible());
    auto *openTrace = m_window->findChild<QAction *>(QStringLiteral("openTraceAction"));
    QVERIFY(openTrace && openTrace->isEnabled());
    QCOMPARE(openTrace->shortcut(), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));

    QVERIFY(m_window->openTrace(path));
    QVERIFY(m_window->isReplaying());
    QVERIFY(m_window->replayBar()->isVisible());
    QVERIFY(m_window->windowTitle().contains(QStringLiteral("run.json")));
    loopscope::ui::TraceReplay *replay = m_window->replay();
    const auto events = qsizetype(replay->eventCount());
    QVERIFY(events > 20);
    QCOMPARE(m_window->replaySlider()->maximum(), events);
    QCOMPARE(m_window->replayPositionLabel()->text(),
             QStringLiteral("event 0 / %1 · 0.000 s").arg(QLocale().toString(events)));
    QCOMPARE(m_window->taskModel()->rowCount(), 0); // nothing happened yet at event 0
    // Live controls are off while replaying; the replay's are on.
    for (const char *name : { "runPauseAction", "stepCallbackAction", "stepIterationAction",
                              "resetAction", "exportTraceAction", "cancelTaskAction" })
        QVERIFY2(!m_window->findChild<QAction *>(QLatin1String(name))->isEnabled(), name);
    QVERIFY(!m_window->spawnPanel()->isEnabled());
    QVERIFY(!m_window->findChild<QComboBox *>(QStringLiteral("clockMode"))->isEnabled());
    QVERIFY(!m_window->findChild<QComboBox *>(QStringLiteral("scenarioPicker"))->isEnabled());

    // To the end: the table shows the run as it ended.
    QToolButton *end = buttonFor(QStringLiteral("replayEndAction"));
    QVERIFY(end && end->isEnabled());
    QTest::mouseClick(end, Qt::LeftButton);
    QCOMPARE(replay->position(), std::size_t(events));
    QCOMPARE(stateOf(QStringLiteral("traced-1")), QStringLiteral("finished"));
    QCOMPARE(stateOf(QStringLiteral("traced-2")), QStringLiteral("finished"));
    QCOMPARE(m_window->replaySlider()->value(), events);
    QVERIFY(m_window->replayPositionLabel()->text().startsWith(
            QStringLiteral("event %1 / ").arg(QLocale().toString(events))));
    QVERIFY(m_window->statusLabel()->text().startsWith(QStringLiteral("REPLAY")));

    // Step back one callback at a time until traced-2 has not finished yet.
    QToolButton *backCallback = buttonFor(QStringLiteral("replayBackCallbackAction"));
    QVERIFY(backCallback);
    int clicks = 0;
    while (stateOf(QStringLiteral("traced-2")) == QStringLiteral("finished") && clicks < 50) {
        const std::size_t before = replay->position();
        QTest::mouseClick(backCallback, Qt::LeftButton);
        QVERIFY(replay->position() < before);
        ++clicks;
    }
    QVERIFY(clicks >= 1 && clicks < 50);
    QCOMPARE_NE(stateOf(QStringLiteral("traced-2")), QStringLiteral("finished"));
    QCOMPARE_NE(stateOf(QStringLiteral("traced-2")), QStringLiteral("(absent)"));
    const std::size_t stepped = replay->position();
    QCOMPARE(m_window->replaySlider()->value(), qsizetype(stepped));
    // F10 steps the replay forward one callback: traced-2 finishes again.
    QTest::keyClick(m_window.get(), Qt::Key_F10);
    QVERIFY(replay->position() > stepped);
    QCOMPARE(stateOf(QStringLiteral("traced-2")), QStringLiteral("finished"));
    // Alt+Left steps back one event.
    const std::size_t here = replay->position();
    QTest::keyClick(m_window.get(), Qt::Key_Left, Qt::AltModifier);
    QCOMPARE(replay->position(), here - 1);

    // Scrub to the start with the slider: the tasks are gone again.
    m_window->replaySlider()->setValue(0);
    QTRY_COMPARE(replay->position(), std::size_t(0));
    QCOMPARE(m_window->taskModel()->rowCount(), 0);

    // Back to live: the live loop's tasks again, live controls back.
    QToolButton *live = buttonFor(QStringLiteral("backToLiveAction"));
    QVERIFY(live && live->isEnabled());
    QTest::mouseClick(live, Qt::LeftButton);
    QVERIFY(!m_window->isReplaying());
    QVERIFY(!m_window->replayBar()->isVisible());
    QCOMPARE(m_window->windowTitle(), QStringLiteral("Loopscope"));
    QVERIFY(m_window->findChild<QAction *>(QStringLiteral("runPauseAction"))->isEnabled());
    QVERIFY(m_window->spawnPanel()->isEnabled());
    QCOMPARE(stateOf(QStringLiteral("traced-1")), QStringLiteral("finished"));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("after"), 1);
    QTRY_COMPARE(stateOf(QStringLiteral("after")), QStringLiteral("finished"));
    QCOMPARE(stateOf(QStringLiteral("traced-2")), QStringLiteral("finished"));
}

//! A file that is not a Loopscope trace, or is cut short: the banner says why, nothing else
//! changes.
void tst_MainWindow::badTraceIsExplainedAndNothingChanges()
{
    QVERIFY(makeWindow(Real));
    spawnFromPanel(QStringLiteral("sleep"), QStringLiteral("keep"), 2, QStringLiteral("delayMs"),
                   3600000);
    QTRY_COMPARE(stateOf(QStringLiteral("keep-2")), QStringLiteral("waiting"));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("run.json"));
    QVERIFY(m_window->exportTrace(path));
    QFile whole(path);
    QVERIFY(whole.open(QIODevice::ReadOnly));
    const QByteArray json = whole.readAll();
    const QString cut = dir.filePath(QStringLiteral("cut.json"));
    QFile half(cut);
    QVERIFY(half.open(QIODevice::WriteOnly));
    half.write(json.left(json.size() / 2));
    half.close();

    QLabel *banner = m_window->errorBanner();
    const struct
    {
        QString path;
        QString expected;
    } cases[] = {
        { dir.filePath(QStringLiteral("missing.json")), QStringLiteral("no such file") },
        { cut, QStringLiteral("it is truncated or was not written completely") },
        { QFINDTESTDATA("data/tiny.json"),
          QStringLiteral("this trace has no Loopscope event stream; only traces exported by "
                         "Loopscope can be replayed") },
    };
    for (const auto &c : cases) {
        QVERIFY(!c.path.isEmpty());
        QVERIFY(!m_window->openTrace(c.path));
        QVERIFY(banner->isVisible());
        QVERIFY2(banner->text().contains(c.expected), qPrintable(banner->text()));
        QVERIFY(banner->text().contains(QStringLiteral("Could not open the trace")));
        QVERIFY(!m_window->isReplaying());
        QVERIFY(!m_window->replayBar()->isVisible());
        QVERIFY(m_window->findChild<QAction *>(QStringLiteral("runPauseAction"))->isEnabled());
        QCOMPARE(stateOf(QStringLiteral("keep-1")), QStringLiteral("waiting"));
    }
    QCOMPARE(m_window->host()->generation(), 1);
    // A good trace clears the banner.
    QVERIFY(m_window->openTrace(path));
    QVERIFY(!banner->isVisible());
    QVERIFY(m_window->isReplaying());
}

QTEST_MAIN(tst_MainWindow)
#include "tst_mainwindow.moc"
