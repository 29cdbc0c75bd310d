// The window's menus beyond the basics: the task menu's Delay, View (light/dark theme, Save
// image as PNG/SVG) and Help (the guided tour driving the seed example one callback at a
// time, the About box), and the window icon.

#include "guidedtour.h"
#include "mainwindow.h"
#include "theme.h"

#include <loopscope/eventloop.h>
#include <loopscope/recorder.h>
#include <loopscope/ui/eventlogview.h>
#include <loopscope/ui/eventstreamview.h>
#include <loopscope/ui/loophost.h>
#include <loopscope/ui/loopview.h>
#include <loopscope/ui/taskinspector.h>
#include <loopscope/ui/tasktablemodel.h>
#include <loopscope/ui/timelineview.h>
#include <loopscope/ui/warningsmodel.h>
#include <loopscope/ui/warningspanel.h>
#include <loopscope/ui/tracebatch.h>

#include <QAction>
#include <QApplication>
#include <QDockWidget>
#include <QFile>
#include <QTreeView>
#include <QInputDialog>
#include <QTableView>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>
#include <QTimer>

#include <memory>

using loopscope::ClockSpec;
using loopscope::TaskStats;

class tst_WindowMenus : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanup();
    void guidedTourStepsThroughTheSeedExample();
    void tourButtonsAndPages();
    void themeFollowsTheMenuAndIsRemembered();
    void aboutBoxNamesTheProgramAndQt();
    void windowIconHasEverySize();
    void saveImageWritesPngAndSvgAndExplainsErrors();
    void delayFromTheTaskMenuPostponesTheStart();
    void inspectorWarningsAndBreakpointsAreWiredIn();
    void lastScenarioIsRememberedAndRestored();
    void closeRightAfterAPausedStart();

private:
    MainWindow *makeWindow();
    QAction *action(const char *name) const;
    //! The task named \a name in the last batch, or null.
    const TaskStats *task(const QString &name) const;

    std::unique_ptr<MainWindow> m_window;
};

void tst_WindowMenus::initTestCase()
{
    QCoreApplication::setOrganizationName(QStringLiteral("LoopscopeTests"));
    QSettings().remove(QStringLiteral("view/theme"));
}

void tst_WindowMenus::cleanup()
{
    m_window.reset();
    theme::apply(theme::Mode::System);
    QSettings().remove(QStringLiteral("view/theme"));
}

MainWindow *tst_WindowMenus::makeWindow()
{
    m_window = std::make_unique<MainWindow>(ClockSpec{ ClockSpec::Mode::Virtual, 1.0 });
    m_window->show();
    if (!QTest::qWaitForWindowExposed(m_window.get()))
        return nullptr;
    return m_window.get();
}

QAction *tst_WindowMenus::action(const char *name) const
{
    return m_window->findChild<QAction *>(QString::fromLatin1(name));
}

const TaskStats *tst_WindowMenus::task(const QString &name) const
{
    // As the window shows it: its table has every task the batches told of.
    const loopscope::ui::TaskTableModel *model = m_window->taskModel();
    for (int row = 0; row < model->rowCount(); ++row)
        if (model->taskAt(row).name == name)
            return &model->taskAt(row);
    return nullptr;
}

void tst_WindowMenus::guidedTourStepsThroughTheSeedExample()
{
    QVERIFY(makeWindow());
    QAction *tourAction = action("guidedTourAction");
    QVERIFY(tourAction);
    QCOMPARE(tourAction->shortcut(), QKeySequence(QKeySequence::HelpContents));
    tourAction->trigger();
    GuidedTour *tour = m_window->guidedTour();
    QVERIFY(tour);
    QTRY_VERIFY(tour->isVisible());
    QCOMPARE(tour->currentPage(), 0);
    QVERIFY(tour->actionButton()->isVisible());

    // Page 1: load the example paused. Nothing may run: the task is created and waits in
    // the ready queue.
    loopscope::ui::LoopHost *host = m_window->host();
    const int generation = host->generation();
    QTest::mouseClick(tour->actionButton(), Qt::LeftButton);
    QCOMPARE(tour->currentPage(), 1);
    QTRY_VERIFY(host->lastBatch().generation > generation);
    QTRY_VERIFY(host->lastBatch().stats.paused);
    QTRY_VERIFY(task(QStringLiteral("scenario:seed_run_until_complete")));
    QCOMPARE(host->lastBatch().stats.callbacks, std::uint64_t(0));
    QVERIFY(!task(QStringLiteral("slowOperation")));

    // Step callbacks until the task suspends on its sleep: it is then awaiting a Sleep
    // future, and it never finished early.
    // Each step runs exactly one callback, then the loop pauses again.
    const auto stepUntil = [&](auto done) -> bool {
        for (int i = 0; i < 10 && !done(); ++i) {
            const std::uint64_t before = host->lastBatch().stats.callbacks;
            QTest::mouseClick(tour->actionButton(), Qt::LeftButton);
            if (!QTest::qWaitFor([&] { return host->lastBatch().stats.callbacks == before + 1; }))
                return false;
            if (!QTest::qWaitFor([&] { return host->lastBatch().stats.paused; }))
                return false;
            // The tour moves on after every action; stay on a stepping page.
            tour->setPage(1);
        }
        return done();
    };
    // The runner's first step creates the task, as the page says: scheduled, not run.
    QTest::mouseClick(tour->actionButton(), Qt::LeftButton);
    QTRY_VERIFY(host->lastBatch().stats.callbacks == 1 && host->lastBatch().stats.paused
                && task(QStringLiteral("slowOperation")));
    tour->setPage(1);
    QCOMPARE(int(task(QStringLiteral("slowOperation"))->state), int(TaskStats::State::Scheduled));
    QCOMPARE(task(QStringLiteral("slowOperation"))->steps, std::uint64_t(0));
    QVERIFY(stepUntil([&] {
        const TaskStats *t = task(QStringLiteral("slowOperation"));
        return t && t->state == TaskStats::State::Waiting
                && t->waitingOnKind == loopscope::FutureKind::Sleep;
    }));
    QCOMPARE(task(QStringLiteral("slowOperation"))->steps, std::uint64_t(1));
    // Then until it finished, and its done-callback printed the result.
    QVERIFY(stepUntil([&] {
        const TaskStats *t = task(QStringLiteral("slowOperation"));
        return t && t->state == TaskStats::State::Finished;
    }));
    QCOMPARE(task(QStringLiteral("slowOperation"))->steps, std::uint64_t(2));
    QVERIFY(host->lastBatch().stats.paused); // it never ran on its own
    tour->setPage(1);
    QVERIFY(stepUntil([&] {
        return m_window->log()->toPlainText().contains(QLatin1String("Future is done!"));
    }));
}

void tst_WindowMenus::tourButtonsAndPages()
{
    QVERIFY(makeWindow());
    m_window->showGuidedTour();
    GuidedTour *tour = m_window->guidedTour();
    QVERIFY(tour);
    auto *position = tour->findChild<QLabel *>(QStringLiteral("tourPosition"));
    QVERIFY(position);
    QCOMPARE(position->text(), QStringLiteral("1 / %1").arg(tour->pageCount()));
    QVERIFY(!tour->backButton()->isEnabled());
    QVERIFY(tour->pageCount() >= 6);
    for (int i = 1; i < tour->pageCount(); ++i) {
        QTest::mouseClick(tour->nextButton(), Qt::LeftButton);
        QCOMPARE(tour->currentPage(), i);
        QVERIFY(!tour->text()->toPlainText().isEmpty());
        QCOMPARE(tour->actionButton()->isVisible(),
                 GuidedTour::pages()[std::size_t(i)].action != GuidedTour::Action::None);
    }
    QVERIFY(!tour->nextButton()->isEnabled());
    QVERIFY(tour->backButton()->isEnabled());
    QTest::mouseClick(tour->backButton(), Qt::LeftButton);
    QCOMPARE(tour->currentPage(), tour->pageCount() - 2);
    // Showing it again raises the same dialog.
    m_window->showGuidedTour();
    QCOMPARE(m_window->guidedTour(), tour);
}

void tst_WindowMenus::themeFollowsTheMenuAndIsRemembered()
{
    QVERIFY(makeWindow());
    QVERIFY(!theme::isDark(QApplication::palette()));
    QAction *dark = action("theme_dark");
    QAction *system = action("theme_system");
    QVERIFY(dark && system);
    QVERIFY(system->isChecked());
    dark->trigger();
    QVERIFY(dark->isChecked());
    QVERIFY(theme::isDark(QApplication::palette()));
    QTRY_VERIFY2(theme::isDark(m_window->loopView()->palette()),
                 qPrintable(m_window->loopView()->palette().color(QPalette::Window).name() + u' '
                            + m_window->loopView()->palette().color(QPalette::WindowText).name()));
    QCOMPARE(QSettings().value(QStringLiteral("view/theme")).toString(), QStringLiteral("dark"));
    // The custom-painted views paint on the dark base, not on a hard-coded white.
    const QImage image = m_window->loopView()->grab().toImage();
    QVERIFY(!image.isNull());
    QVERIFY2(QColor(image.pixel(2, image.height() - 3)).lightness() < 100,
             qPrintable(QColor(image.pixel(2, image.height() - 3)).name()));

    // A new window starts in the remembered theme.
    m_window.reset();
    QVERIFY(makeWindow());
    QVERIFY(action("theme_dark")->isChecked());
    QVERIFY(theme::isDark(QApplication::palette()));
    action("theme_system")->trigger();
    QVERIFY(!theme::isDark(QApplication::palette()));
    QCOMPARE(QSettings().value(QStringLiteral("view/theme")).toString(), QStringLiteral("system"));
}

void tst_WindowMenus::aboutBoxNamesTheProgramAndQt()
{
    QVERIFY(makeWindow());
    QString text;
    QTimer::singleShot(0, this, [&text] {
        QTRY_VERIFY(qobject_cast<QMessageBox *>(QApplication::activeModalWidget()));
        auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget());
        text = box->text();
        box->accept();
    });
    action("aboutAction")->trigger();
    QVERIFY2(text.contains(QLatin1String("Loopscope")), qPrintable(text));
    QVERIFY2(text.contains(QString::fromLatin1(qVersion())), qPrintable(text));
}

void tst_WindowMenus::windowIconHasEverySize()
{
    QVERIFY(makeWindow());
    const QIcon icon = m_window->windowIcon();
    QVERIFY(!icon.isNull());
    const QList<QSize> sizes = icon.availableSizes();
    for (const int s : { 16, 32, 48, 64, 128, 256 })
        QVERIFY2(sizes.contains(QSize(s, s)), qPrintable(QString::number(s)));
}

void tst_WindowMenus::saveImageWritesPngAndSvgAndExplainsErrors()
{
    QVERIFY(makeWindow());
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QVERIFY(action("saveTimelineImageAction"));
    const QString png = dir.filePath(QStringLiteral("t.png"));
    const QString svg = dir.filePath(QStringLiteral("t.svg"));
    QVERIFY(m_window->saveTimelineImage(png));
    QVERIFY(!QImage(png).isNull());
    QVERIFY(m_window->saveTimelineImage(svg));
    QFile file(svg);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(file.readAll().contains("<svg"));
    QVERIFY(m_window->errorBanner()->isHidden());
    QVERIFY(!m_window->saveTimelineImage(dir.filePath(QStringLiteral("t.gif"))));
    QVERIFY(m_window->errorBanner()->isVisible());
    QVERIFY(m_window->errorBanner()->text().contains(QLatin1String("not saved")));
}

void tst_WindowMenus::delayFromTheTaskMenuPostponesTheStart()
{
    QVERIFY(makeWindow());
    loopscope::ui::LoopHost *host = m_window->host();
    host->pause();
    QTRY_VERIFY(host->lastBatch().stats.paused);
    loopscope::ScenarioSpawn nap = loopscope::ScenarioSpawn::withDefaults(
            loopscope::ScenarioTemplate::Sleep, QStringLiteral("nap"), 1);
    nap.params.insert(QStringLiteral("delayMs"), qint64(1000));
    host->spawn(nap);
    // The spawn itself is a callback: step until the task exists, scheduled but not started.
    for (int i = 0; i < 10 && !task(QStringLiteral("nap")); ++i) {
        const std::uint64_t before = host->lastBatch().stats.callbacks;
        host->step(loopscope::StepKind::Callback);
        QTRY_VERIFY(host->lastBatch().stats.callbacks > before && host->lastBatch().stats.paused);
    }
    QVERIFY(task(QStringLiteral("nap")));
    QCOMPARE(task(QStringLiteral("nap"))->steps, std::uint64_t(0));
    QTableView *table = m_window->taskView();
    const auto rowOfNap = [table] {
        for (int r = 0; r < table->model()->rowCount(); ++r) {
            const QModelIndex name =
                    table->model()->index(r, loopscope::ui::TaskTableModel::NameColumn);
            if (name.data().toString() == QLatin1String("nap"))
                return r;
        }
        return -1;
    };
    QTRY_VERIFY(rowOfNap() >= 0);
    table->selectRow(rowOfNap());
    QAction *delay = action("delayTaskAction");
    QVERIFY(delay && delay->isEnabled());
    QCOMPARE(delay->shortcut(), QKeySequence(Qt::CTRL | Qt::Key_D));
    // The dialog asks how long; answer 5 s.
    bool asked = false;
    QTimer::singleShot(0, this, [&asked] {
        QTRY_VERIFY(qobject_cast<QInputDialog *>(QApplication::activeModalWidget()));
        auto *dialog = qobject_cast<QInputDialog *>(QApplication::activeModalWidget());
        QCOMPARE(dialog->intValue(), 1000);
        dialog->setIntValue(5000);
        asked = true;
        dialog->accept();
    });
    delay->trigger();
    QVERIFY(asked);
    host->resume();
    // Virtual time: the nap starts at 5 s instead of 0 and ends at 6 s instead of 1 s.
    QTRY_VERIFY(task(QStringLiteral("nap")) && task(QStringLiteral("nap"))->isDone());
    const TaskStats *t = task(QStringLiteral("nap"));
    QCOMPARE(int(t->state), int(TaskStats::State::Finished));
    QCOMPARE(t->doneNs, std::int64_t(6'000'000'000));
    QVERIFY(m_window->log()->toPlainText().contains(QLatin1String("delay 1 task(s) by 5000 ms")));
}

void tst_WindowMenus::inspectorWarningsAndBreakpointsAreWiredIn()
{
    QVERIFY(makeWindow());
    loopscope::ui::LoopHost *host = m_window->host();
    // A callback that blocks the loop for 250 ms of real time: a SlowCallback warning.
    loopscope::ScenarioSpawn block = loopscope::ScenarioSpawn::withDefaults(
            loopscope::ScenarioTemplate::BlockingCallback, QStringLiteral("hog"), 1);
    block.params.insert(QStringLiteral("blockMs"), qint64(250));
    host->spawn(block);
    loopscope::ui::WarningsPanel *warnings = m_window->warnings();
    QVERIFY(warnings);
    QTRY_VERIFY(warnings->model()->countOf(loopscope::LintKind::SlowCallback) >= 1);
    QVERIFY(m_window->findChild<QDockWidget *>(QStringLiteral("warningsDock")));

    // Activating the warning jumps the timeline there (no longer following live).
    QVERIFY(m_window->timelineView()->followLive());
    QTreeView *view = warnings->view();
    const QModelIndex first = view->model()->index(0, 0);
    QVERIFY(first.isValid());
    view->setCurrentIndex(first);
    QTest::keyClick(view, Qt::Key_Return);
    QTRY_VERIFY(!m_window->timelineView()->followLive());

    // Selecting a row inspects its task; Enter (Inspect) shows the inspector dock.
    QTableView *table = m_window->taskView();
    QTRY_VERIFY(table->model()->rowCount() > 0);
    table->setFocus();
    table->selectRow(0);
    const quint64 id = table->model()
                               ->index(0, 0)
                               .data(loopscope::ui::TaskTableModel::TaskIdRole)
                               .toULongLong();
    QVERIFY(id != 0);
    QTRY_COMPARE(m_window->inspector()->task(), std::uint64_t(id));
    auto *dock = m_window->findChild<QDockWidget *>(QStringLiteral("inspectorDock"));
    QVERIFY(dock);
    action("inspectTaskAction")->trigger();
    QTRY_VERIFY(dock->isVisible());

    // F9 sets a breakpoint on the selected task; the Debug menu's toggles reach the host.
    QVERIFY(!host->hasTaskBreakpoint(id));
    QTest::keyClick(table, Qt::Key_F9);
    QTRY_VERIFY(host->hasTaskBreakpoint(id));
    action("breakOnFailureAction")->trigger();
    QVERIFY(host->breakOnTaskFailure());
    action("breakOnSlowCallbackAction")->trigger();
    QVERIFY(host->breakOnSlowCallback());
    action("breakOnSlowCallbackAction")->trigger();
    QVERIFY(!host->breakOnSlowCallback());

    // The Events dock has the raw stream, the blocking callback's events among them.
    loopscope::ui::EventStreamView *events = m_window->eventStream();
    QVERIFY(events);
    auto *eventsDock = m_window->findChild<QDockWidget *>(QStringLiteral("eventsDock"));
    QVERIFY(eventsDock);
    // Behind the Event log's tab it holds new events back; raised, it shows them. (Events
    // of the first ticks may be in already: the dock can be on screen until the window's
    // first layout tabs it away.)
    QVERIFY(!events->isOnScreen());
    const int rowsBefore = events->model()->rowCount();
    host->spawn(loopscope::ScenarioSpawn::withDefaults(loopscope::ScenarioTemplate::Sleep,
                                                       QStringLiteral("more"), 5));
    QTRY_VERIFY(events->model()->heldCount() > 10);
    QCOMPARE(events->model()->rowCount(), rowsBefore);
    eventsDock->raise();
    QTRY_VERIFY(events->isOnScreen());
    QTRY_VERIFY(events->model()->rowCount() > rowsBefore + 10);
    QCOMPARE(events->model()->heldCount(), 0);
    QVERIFY(events->model()->totalCount() >= std::uint64_t(events->model()->rowCount()));
}

void tst_WindowMenus::lastScenarioIsRememberedAndRestored()
{
    QSettings().remove(QStringLiteral("session/lastScenario"));
    QVERIFY(makeWindow());
    QVERIFY(!m_window->restoreLastScenario()); // nothing remembered yet
    // A built-in scenario is remembered by name and restored in the next window.
    m_window->showGuidedTour();
    QTest::mouseClick(m_window->guidedTour()->actionButton(), Qt::LeftButton); // loads it
    QCOMPARE(QSettings().value(QStringLiteral("session/lastScenario")).toString(),
             QStringLiteral("seed_run_until_complete"));
    m_window.reset(); // at once: closeRightAfterAPausedStart covers that on its own
    QVERIFY(makeWindow());
    const int generation = m_window->host()->generation();
    QVERIFY(m_window->restoreLastScenario());
    QVERIFY(m_window->host()->generation() > generation);
    QTRY_VERIFY(task(QStringLiteral("slowOperation")));
    // A scenario file that has gone since: the banner says so, nothing else changes.
    QSettings().setValue(QStringLiteral("session/lastScenario"),
                         QStringLiteral("/nonexistent/gone.json"));
    QVERIFY(!m_window->restoreLastScenario());
    QVERIFY(m_window->errorBanner()->isVisible());
    QVERIFY(m_window->errorBanner()->text().contains(QLatin1String("gone.json")));
    QSettings().remove(QStringLiteral("session/lastScenario"));
}

void tst_WindowMenus::closeRightAfterAPausedStart()
{
    // Closing the window while its loop thread still has the commands (reset, pause, run)
    // queued hung the thread's teardown: the nested runForever() that lets cancelled tasks
    // unwind waited for a wake event that Qt only delivered after it returned.
    for (int i = 0; i < 10; ++i) {
        QVERIFY(makeWindow());
        m_window->showGuidedTour();
        QTest::mouseClick(m_window->guidedTour()->actionButton(), Qt::LeftButton);
        m_window.reset();
    }
}

QTEST_MAIN(tst_WindowMenus)
#include "tst_windowmenus.moc"
