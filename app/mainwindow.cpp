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

#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QStatusBar>
#include <QTableView>
#include <QToolBar>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <unordered_set>

using loopscope::ClockSpec;
using loopscope::Scenario;
using loopscope::ui::LoopHost;
using loopscope::ui::TaskFilterProxyModel;
using loopscope::ui::TaskTableModel;

namespace {

//! Lines of the event log one tick may add; a burst beyond that is summarised.
constexpr int MaxLogLinesPerTick = 40;

QString secondsText(std::int64_t ns)
{
    return QStringLiteral("%1 s").arg(double(ns) / 1e9, 0, 'f', 3);
}

int clockModeIndex(ClockSpec::Mode mode)
{
    switch (mode) {
    case ClockSpec::Mode::Real:
        return 0;
    case ClockSpec::Mode::Scaled:
        return 1;
    case ClockSpec::Mode::Virtual:
        return 2;
    }
    return 1;
}

ClockSpec::Mode clockModeAt(int index)
{
    switch (index) {
    case 0:
        return ClockSpec::Mode::Real;
    case 2:
        return ClockSpec::Mode::Virtual;
    default:
        return ClockSpec::Mode::Scaled;
    }
}

} // namespace

MainWindow::MainWindow(const ClockSpec &clock, QWidget *parent) : QMainWindow(parent)
{
    setWindowTitle(tr("Loopscope"));
    setObjectName(QStringLiteral("mainWindow"));
    m_host = new LoopHost(clock, this);

    m_model = new TaskTableModel(this);
    m_proxy = new TaskFilterProxyModel(this);
    m_proxy->setSourceModel(m_model);

    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("taskTable"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(TaskTableModel::IdColumn, Qt::AscendingOrder);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setColumnWidth(TaskTableModel::IdColumn, 60);
    m_table->setColumnWidth(TaskTableModel::NameColumn, 180);
    m_table->setColumnWidth(TaskTableModel::StateColumn, 110);
    m_table->setColumnWidth(TaskTableModel::AwaitingColumn, 200);
    m_table->setColumnWidth(TaskTableModel::ResultColumn, 240);
    m_table->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_table, &QWidget::customContextMenuRequested, this, &MainWindow::showTaskMenu);

    m_filter = new QLineEdit;
    m_filter->setObjectName(QStringLiteral("taskFilter"));
    m_filter->setPlaceholderText(tr("Filter tasks: name, id, state, what they await, result…"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, m_proxy, &TaskFilterProxyModel::setTextFilter);
    m_stateFilter = new QComboBox;
    m_stateFilter->setObjectName(QStringLiteral("stateFilter"));
    m_stateFilter->addItems(TaskFilterProxyModel::stateFilterNames());
    connect(m_stateFilter, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_proxy->setStateFilter(TaskFilterProxyModel::StateFilter(index));
    });

    m_blockedBanner = new QLabel;
    m_blockedBanner->setObjectName(QStringLiteral("blockedBanner"));
    m_blockedBanner->setStyleSheet(QStringLiteral(
            "QLabel { background: #d93025; color: white; font-weight: bold; padding: 6px; }"));
    m_blockedBanner->hide();
    m_errorBanner = new QLabel;
    m_errorBanner->setObjectName(QStringLiteral("errorBanner"));
    m_errorBanner->setWordWrap(true);
    m_errorBanner->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_errorBanner->setStyleSheet(QStringLiteral(
            "QLabel { background: #fce8e6; color: #a50e0e; border: 1px solid #d93025; "
            "padding: 6px; }"));
    m_errorBanner->hide();

    auto *retention = new QSpinBox;
    retention->setObjectName(QStringLiteral("retention"));
    retention->setRange(0, 24 * 3600);
    retention->setSuffix(tr(" s"));
    retention->setSpecialValueText(tr("for ever"));
    retention->setToolTip(tr("How long a task stays in the table after it ended (real time)"));
    retention->setValue(
            QSettings().value(QStringLiteral("taskTable/retentionSeconds"), 60).toInt());
    m_model->setRetention(std::chrono::seconds(retention->value()));
    connect(retention, &QSpinBox::valueChanged, this, [this](int seconds) {
        m_model->setRetention(std::chrono::seconds(seconds));
        QSettings().setValue(QStringLiteral("taskTable/retentionSeconds"), seconds);
    });

    auto *filterRow = new QHBoxLayout;
    filterRow->addWidget(m_filter, 1);
    filterRow->addWidget(m_stateFilter);
    filterRow->addWidget(new QLabel(tr("Keep finished:")));
    filterRow->addWidget(retention);
    auto *central = new QWidget;
    auto *layout = new QVBoxLayout(central);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(m_blockedBanner);
    layout->addWidget(m_errorBanner);
    layout->addLayout(filterRow);
    layout->addWidget(m_table, 1);
    setCentralWidget(central);

    m_statusLabel = new QLabel;
    m_statusLabel->setObjectName(QStringLiteral("loopStatus"));
    statusBar()->addPermanentWidget(m_statusLabel);

    buildActions();
    buildToolBar();
    buildDocks();

    connect(m_host, &LoopHost::batchReady, this, &MainWindow::onBatch);
    connect(m_host, &LoopHost::loopReset, this, [this](int generation) {
        m_model->clear();
        m_paused = false;
        m_loopPaused = false;
        m_loopNowNs = 0;
        logLine(tr("--- a fresh loop (#%1) on the %2 clock ---")
                        .arg(generation)
                        .arg(m_host->clock().toString()));
        if (generation == m_pendingHeaderGeneration) {
            for (const QString &line : std::as_const(m_pendingHeader))
                logLine(line);
            m_pendingHeader.clear();
        }
        updateControls();
    });
    connect(m_host, &LoopHost::blockedChanged, this, &MainWindow::onBlocked);
    connect(m_host, &LoopHost::messageLogged, this,
            [this](const QString &message) { logLine(message); });
    connect(m_host, &LoopHost::printed, this,
            [this](const QString &line) { logLine(tr("print: %1").arg(line)); });
    connect(m_host, &LoopHost::scenarioFinished, this, [this](const QString &summary) {
        logLine(tr("scenario finished: %1").arg(summary));
        statusBar()->showMessage(tr("Scenario finished: %1").arg(summary), 5000);
    });
    connect(m_host, &LoopHost::resultsKnown, m_model, &TaskTableModel::setResults);
    connect(m_host, &LoopHost::timeScaleApplied, this, [this](double factor) {
        m_scaleLabel->setText(QStringLiteral("%1×").arg(factor, 0, 'f', 2));
    });
    connect(m_spawnPanel, &loopscope::ui::SpawnPanel::spawnRequested, this,
            [this](const loopscope::ScenarioSpawn &spawn) {
                m_host->spawn(spawn);
                logLine(tr("spawn %1 × %2 (%3)")
                                .arg(spawn.count)
                                .arg(loopscope::templateSpec(spawn.templateId).name, spawn.name));
            });

    resize(1480, 920);
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("mainWindow/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("mainWindow/state")).toByteArray());
    updateControls();
}

MainWindow::~MainWindow()
{
    QSettings settings;
    settings.setValue(QStringLiteral("mainWindow/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("mainWindow/state"), saveState());
    // The host (a child) joins the loop thread when it goes, before the models it feeds.
    delete m_host;
    m_host = nullptr;
}

double MainWindow::sliderToScale(int position)
{
    return std::pow(10.0, double(std::clamp(position, -100, 100)) / 100.0);
}

int MainWindow::scaleToSlider(double factor)
{
    const double f = std::clamp(factor, loopscope::MinClockScale, loopscope::MaxClockScale);
    return int(std::lround(std::log10(f) * 100.0));
}

void MainWindow::buildActions()
{
    m_runPause = new QAction(tr("Pause"), this);
    m_runPause->setObjectName(QStringLiteral("runPauseAction"));
    m_runPause->setShortcut(Qt::Key_Space);
    m_runPause->setToolTip(tr("Pause or run the loop (Space)"));
    connect(m_runPause, &QAction::triggered, this, &MainWindow::togglePause);

    m_stepCallback = new QAction(tr("Step callback"), this);
    m_stepCallback->setObjectName(QStringLiteral("stepCallbackAction"));
    m_stepCallback->setShortcut(Qt::Key_F10);
    m_stepCallback->setToolTip(tr("Run exactly one ready callback, then pause again (F10)"));
    connect(m_stepCallback, &QAction::triggered, this,
            [this] { m_host->step(loopscope::StepKind::Callback); });

    m_stepIteration = new QAction(tr("Step iteration"), this);
    m_stepIteration->setObjectName(QStringLiteral("stepIterationAction"));
    m_stepIteration->setShortcut(Qt::Key_F11);
    m_stepIteration->setToolTip(tr("Run one whole loop iteration, then pause again (F11)"));
    connect(m_stepIteration, &QAction::triggered, this,
            [this] { m_host->step(loopscope::StepKind::Iteration); });

    m_stepTask = new QAction(tr("Step task"), this);
    m_stepTask->setObjectName(QStringLiteral("stepTaskAction"));
    m_stepTask->setShortcut(Qt::SHIFT | Qt::Key_F10);
    m_stepTask->setToolTip(tr("Run until the selected task's next event (scheduled, step, "
                              "wake-up, end), then pause (Shift+F10)"));
    connect(m_stepTask, &QAction::triggered, this, [this] {
        const std::vector<std::uint64_t> ids = selectedTaskIds();
        if (ids.empty()) {
            statusBar()->showMessage(tr("Select a task in the table first."), 4000);
            return;
        }
        m_host->step(loopscope::StepKind::TaskEvent, ids.front());
    });

    m_reset = new QAction(tr("Reset"), this);
    m_reset->setObjectName(QStringLiteral("resetAction"));
    m_reset->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    m_reset->setToolTip(tr("Cancel everything, close the loop and start a fresh one (Ctrl+R)"));
    connect(m_reset, &QAction::triggered, m_host, &LoopHost::reset);

    m_openScenario = new QAction(tr("Open scenario…"), this);
    m_openScenario->setObjectName(QStringLiteral("openScenarioAction"));
    m_openScenario->setShortcut(QKeySequence::Open);
    connect(m_openScenario, &QAction::triggered, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Open a scenario"), QString(),
                                                          tr("Scenarios (*.json);;All files (*)"));
        if (!path.isEmpty())
            loadScenarioFile(path);
    });

    m_exportTrace = new QAction(tr("Export trace…"), this);
    m_exportTrace->setObjectName(QStringLiteral("exportTraceAction"));
    m_exportTrace->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_E));
    m_exportTrace->setToolTip(tr("Save the recorded trace as Chrome JSON (open it in "
                                 "ui.perfetto.dev)"));
    connect(m_exportTrace, &QAction::triggered, this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Export trace"),
                                                          QStringLiteral("loopscope-trace.json"),
                                                          tr("Chrome trace (*.json)"));
        if (!path.isEmpty())
            exportTrace(path);
    });

    // The task table's own actions: their keys work while the table has focus.
    m_cancel = new QAction(tr("Cancel"), m_table);
    m_cancel->setObjectName(QStringLiteral("cancelTaskAction"));
    m_cancel->setShortcut(QKeySequence::Delete);
    m_cancel->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(m_cancel, &QAction::triggered, this, [this] { cancelSelectedTasks(); });
    m_cancelWithMessage = new QAction(tr("Cancel with message…"), m_table);
    m_cancelWithMessage->setObjectName(QStringLiteral("cancelWithMessageAction"));
    m_cancelWithMessage->setShortcut(QKeySequence(Qt::SHIFT | Qt::Key_Delete));
    m_cancelWithMessage->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(m_cancelWithMessage, &QAction::triggered, this, [this] {
        bool ok = false;
        const QString message =
                QInputDialog::getText(this, tr("Cancel with message"),
                                      tr("The message CancelledError carries (task.cancel(msg)):"),
                                      QLineEdit::Normal, tr("cancelled from the visualizer"), &ok);
        if (ok)
            cancelSelectedTasks(message);
    });
    m_inspect = new QAction(tr("Inspect"), m_table);
    m_inspect->setObjectName(QStringLiteral("inspectTaskAction"));
    m_inspect->setShortcut(Qt::Key_Return);
    m_inspect->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(m_inspect, &QAction::triggered, this, [this] {
        const QModelIndex current = m_table->currentIndex();
        if (!current.isValid())
            return;
        const QModelIndex source = m_proxy->mapToSource(current);
        const loopscope::TaskStats &t = m_model->taskAt(source.row());
        statusBar()->showMessage(tr("Task %1 %2: %3, %4 steps, created at %5")
                                         .arg(t.id)
                                         .arg(t.name, TaskTableModel::stateText(int(t.state)))
                                         .arg(t.steps)
                                         .arg(t.location),
                                 8000);
    });
    m_copy = new QAction(tr("Copy"), m_table);
    m_copy->setObjectName(QStringLiteral("copyTaskAction"));
    m_copy->setShortcut(QKeySequence::Copy);
    m_copy->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(m_copy, &QAction::triggered, this, &MainWindow::copySelectedTasks);
    m_table->addActions({ m_cancel, m_cancelWithMessage, m_inspect, m_copy });
}

void MainWindow::buildToolBar()
{
    QToolBar *bar = addToolBar(tr("Loop"));
    bar->setObjectName(QStringLiteral("loopToolBar"));
    bar->addAction(m_runPause);
    bar->addAction(m_stepCallback);
    bar->addAction(m_stepIteration);
    bar->addAction(m_stepTask);
    bar->addSeparator();

    m_clockMode = new QComboBox;
    m_clockMode->setObjectName(QStringLiteral("clockMode"));
    m_clockMode->addItems({ tr("Real time"), tr("Scaled time"), tr("Virtual time") });
    m_clockMode->setToolTip(tr("The loop's clock. Real: wall time. Scaled: wall time slowed "
                               "down or sped up. Virtual: time jumps to the next timer when "
                               "nothing is ready. Changing it starts a fresh loop."));
    m_clockMode->setCurrentIndex(clockModeIndex(m_host->clock().mode));
    connect(m_clockMode, &QComboBox::currentIndexChanged, this, &MainWindow::onClockModeChanged);
    bar->addWidget(m_clockMode);

    m_scaleSlider = new QSlider(Qt::Horizontal);
    m_scaleSlider->setObjectName(QStringLiteral("timeScale"));
    m_scaleSlider->setRange(-100, 100);
    m_scaleSlider->setPageStep(10);
    m_scaleSlider->setFixedWidth(160);
    m_scaleSlider->setValue(scaleToSlider(m_host->clock().scale));
    m_scaleSlider->setToolTip(tr("Time scale of the scaled clock, 0.1× to 10× (log scale)"));
    connect(m_scaleSlider, &QSlider::valueChanged, this, &MainWindow::onScaleSliderMoved);
    bar->addWidget(m_scaleSlider);
    m_scaleLabel = new QLabel;
    m_scaleLabel->setObjectName(QStringLiteral("timeScaleLabel"));
    m_scaleLabel->setMinimumWidth(
            m_scaleLabel->fontMetrics().horizontalAdvance(QStringLiteral("10.00×  ")));
    m_scaleLabel->setText(
            QStringLiteral("%1×").arg(sliderToScale(m_scaleSlider->value()), 0, 'f', 2));
    bar->addWidget(m_scaleLabel);
    bar->addAction(m_reset);
    bar->addSeparator();

    m_scenarioPicker = new QComboBox;
    m_scenarioPicker->setObjectName(QStringLiteral("scenarioPicker"));
    m_scenarioPicker->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_scenarioPicker->setMinimumContentsLength(22);
    m_scenarioPicker->setToolTip(tr("Reset the loop and run one of the shipped scenarios, or "
                                    "a scenario file"));
    m_scenarioPicker->addItem(tr("Run a scenario…"));
    const loopscope::ScenarioCatalog catalog =
            loopscope::scenarioCatalog(loopscope::builtInScenarioDirectory());
    m_scenarios = catalog.scenarios;
    for (const Scenario &s : m_scenarios) {
        m_scenarioPicker->addItem(s.title.isEmpty() ? s.name : s.title, s.name);
        m_scenarioPicker->setItemData(m_scenarioPicker->count() - 1, s.description,
                                      Qt::ToolTipRole);
    }
    m_scenarioPicker->addItem(tr("Open file…"), QStringLiteral(":open"));
    connect(m_scenarioPicker, &QComboBox::activated, this, &MainWindow::onScenarioPicked);
    bar->addWidget(m_scenarioPicker);
    bar->addAction(m_exportTrace);
}

void MainWindow::buildDocks()
{
    m_spawnPanel = new loopscope::ui::SpawnPanel;
    m_spawnPanel->setObjectName(QStringLiteral("spawnPanel"));
    auto *spawnDock = new QDockWidget(tr("Spawn"), this);
    spawnDock->setObjectName(QStringLiteral("spawnDock"));
    spawnDock->setWidget(m_spawnPanel);
    addDockWidget(Qt::LeftDockWidgetArea, spawnDock);

    m_log = new loopscope::ui::EventLogView;
    m_log->setObjectName(QStringLiteral("eventLog"));
    m_log->setMaximumBlockCount(5000);
    auto *logDock = new QDockWidget(tr("Event log"), this);
    logDock->setObjectName(QStringLiteral("eventLogDock"));
    logDock->setWidget(m_log);
    addDockWidget(Qt::BottomDockWidgetArea, logDock);

    // The loop diagram: what the loop holds right now.
    m_loopState = std::make_unique<loopscope::ui::LoopStateModel>();
    m_loopView = new loopscope::ui::LoopView;
    m_loopView->setObjectName(QStringLiteral("loopView"));
    m_loopView->setModel(m_loopState.get());
    auto *loopDock = new QDockWidget(tr("Loop"), this);
    loopDock->setObjectName(QStringLiteral("loopDock"));
    loopDock->setWidget(m_loopView);
    addDockWidget(Qt::RightDockWidgetArea, loopDock);
    resizeDocks({ loopDock }, { 560 }, Qt::Horizontal);
    connect(m_loopView, &loopscope::ui::LoopView::taskClicked, this,
            [this](quint64 id) { selectTask(id); });

    // The timeline: one lane per task, the loop and executor threads.
    m_timeline = std::make_unique<loopscope::ui::TimelineModel>();
    m_timelineView = new loopscope::ui::TimelineView;
    m_timelineView->setObjectName(QStringLiteral("timelineView"));
    m_timelineView->setModel(m_timeline.get());
    auto *timelineDock = new QDockWidget(tr("Timeline"), this);
    timelineDock->setObjectName(QStringLiteral("timelineDock"));
    timelineDock->setWidget(m_timelineView);
    addDockWidget(Qt::BottomDockWidgetArea, timelineDock);
    tabifyDockWidget(logDock, timelineDock);
    timelineDock->raise();
    resizeDocks({ timelineDock }, { 320 }, Qt::Vertical);
    connect(m_timelineView, &loopscope::ui::TimelineView::taskSelected, this,
            [this](quint64 id) { selectTask(id); });
    connect(m_timelineView, &loopscope::ui::TimelineView::rangeSelected, this,
            [this](qint64 t0, qint64 t1) {
                const auto active = m_timeline->tasksActiveIn(t0, t1);
                m_proxy->setTaskIdFilter(
                        std::unordered_set<std::uint64_t>(active.begin(), active.end()));
                statusBar()->showMessage(
                        tr("Showing the %1 task(s) active in the selected %2")
                                .arg(active.size())
                                .arg(loopscope::ui::TimelineView::formatDuration(t1 - t0)),
                        5000);
            });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex &current) {
                if (current.isValid())
                    m_timelineView->setSelectedTask(
                            current.data(TaskTableModel::TaskIdRole).toULongLong());
            });
}

void MainWindow::selectTask(std::uint64_t taskId)
{
    auto find = [this, taskId] {
        const QModelIndexList hits =
                m_proxy->match(m_proxy->index(0, 0), TaskTableModel::TaskIdRole,
                               QVariant::fromValue<quint64>(taskId), 1, Qt::MatchExactly);
        return hits.value(0);
    };
    QModelIndex index = find();
    if (!index.isValid() && m_proxy->hasTaskIdFilter()) {
        m_proxy->setTaskIdFilter(std::nullopt);
        index = find();
    }
    if (!index.isValid())
        return;
    m_table->selectRow(index.row());
    m_table->scrollTo(index);
}

void MainWindow::logLine(const QString &text, std::int64_t loopNs)
{
    const std::int64_t ns = loopNs >= 0 ? loopNs : m_loopNowNs;
    m_log->appendLine(QStringLiteral("[%1 s] ").arg(double(ns) / 1e9, 9, 'f', 3) + text);
}

void MainWindow::onBatch(const loopscope::ui::TraceBatch &batch)
{
    using loopscope::TraceEventKind;
    m_model->applyBatch(batch);
    m_loopState->ingest(batch);
    m_loopView->modelUpdated();
    if (batch.generation != m_timelineGeneration) {
        m_timeline->clear();
        m_proxy->setTaskIdFilter(std::nullopt);
        m_timelineGeneration = batch.generation;
    }
    if (!batch.events.empty() || batch.changed) {
        m_timeline->ingest(batch.events, [&batch](std::uint32_t i) { return batch.string(i); });
        m_timeline->reconcile(batch.tasks);
        m_timelineView->modelUpdated();
    }

    int logged = 0;
    int skipped = 0;
    for (const loopscope::RecordedEvent &e : batch.events) {
        QString line;
        switch (e.kind) {
        case TraceEventKind::TaskCreated:
            line = tr("task %1 %2 created").arg(e.id).arg(batch.string(e.text));
            break;
        case TraceEventKind::TaskDone:
            line = tr("task %1 done: %2%3")
                           .arg(e.id)
                           .arg(QString::fromLatin1(loopscope::doneStatusName(e.status)))
                           .arg(e.text ? QStringLiteral(" (") + batch.string(e.text)
                                                + QLatin1Char(')')
                                       : QString());
            break;
        case TraceEventKind::LoopPaused:
            line = tr("loop paused (%1)")
                           .arg(QString::fromLatin1(
                                   loopscope::pauseReasonName(loopscope::PauseReason(e.aux))));
            break;
        case TraceEventKind::LoopResumed:
            line = tr("loop resumed");
            break;
        default:
            continue;
        }
        if (logged < MaxLogLinesPerTick) {
            logLine(line, e.time);
            ++logged;
        } else {
            ++skipped;
        }
    }
    if (skipped > 0)
        logLine(tr("… and %1 more task events").arg(skipped));

    const loopscope::LoopStats &s = batch.stats;
    if (s.lastEventNs >= 0)
        m_loopNowNs = s.lastEventNs;
    if (s.paused != m_loopPaused) {
        // The loop paused or ran on its own (a step ended, a breakpoint hit, or our command
        // arrived): the controls follow it.
        m_loopPaused = s.paused;
        m_paused = s.paused;
        updateControls();
    }
    m_statusLabel->setText(
            tr("%1  ·  loop time %2  ·  %L3 iterations  ·  %L4 callbacks  ·  %5 callbacks/s  ·  "
               "%L6 live tasks  ·  %L7 events dropped")
                    .arg(s.paused ? tr("PAUSED") : tr("running"), secondsText(m_loopNowNs))
                    .arg(s.iterations)
                    .arg(s.callbacks)
                    .arg(s.callbacksPerSecond > 0 ? s.callbacksPerSecond : s.meanCallbacksPerSecond,
                         0, 'f', 0)
                    .arg(s.liveTasks)
                    .arg(batch.droppedEvents));
}

void MainWindow::onBlocked(qint64 ms)
{
    if (ms <= 0) {
        m_blockedBanner->hide();
        return;
    }
    QString where;
    if (const std::uint64_t task = m_host->blockedTask()) {
        const int row = m_model->rowOf(task);
        where = tr(" in a step of task %1 %2")
                        .arg(task)
                        .arg(row >= 0 ? m_model->taskAt(row).name : QString());
    } else if (!m_host->blockedSite().isEmpty()) {
        where = tr(" in a callback scheduled at %1")
                        .arg(TaskTableModel::shortSite(m_host->blockedSite()));
    }
    m_blockedBanner->setText(tr("loop blocked %1 s%2: nothing else runs on the loop meanwhile")
                                     .arg(double(ms) / 1000.0, 0, 'f', 1)
                                     .arg(where));
    m_blockedBanner->show();
}

void MainWindow::updateControls()
{
    m_runPause->setText(m_paused ? tr("Run") : tr("Pause"));
    m_stepCallback->setEnabled(m_paused);
    m_stepIteration->setEnabled(m_paused);
    m_stepTask->setEnabled(m_paused);
    const bool scaled = m_host->clock().mode == ClockSpec::Mode::Scaled;
    m_scaleSlider->setEnabled(scaled);
    m_scaleLabel->setEnabled(scaled);
}

void MainWindow::togglePause()
{
    m_paused = !m_paused;
    if (m_paused)
        m_host->pause();
    else
        m_host->resume();
    updateControls();
}

void MainWindow::onClockModeChanged(int index)
{
    ClockSpec spec;
    spec.mode = clockModeAt(index);
    spec.scale = spec.mode == ClockSpec::Mode::Scaled ? sliderToScale(m_scaleSlider->value()) : 1.0;
    m_host->setClock(spec);
    updateControls();
}

void MainWindow::onScaleSliderMoved(int position)
{
    const double factor = sliderToScale(position);
    m_scaleLabel->setText(QStringLiteral("%1×").arg(factor, 0, 'f', 2));
    if (m_host->clock().mode == ClockSpec::Mode::Scaled)
        m_host->setTimeScale(factor);
}

void MainWindow::onScenarioPicked(int index)
{
    const QString name = m_scenarioPicker->itemData(index).toString();
    m_scenarioPicker->setCurrentIndex(0);
    if (name.isEmpty())
        return;
    if (name == QLatin1String(":open")) {
        m_openScenario->trigger();
        return;
    }
    for (const Scenario &s : m_scenarios) {
        if (s.name == name) {
            startScenario(s);
            return;
        }
    }
}

void MainWindow::startScenario(const Scenario &scenario)
{
    m_errorBanner->hide();
    const int before = m_host->generation();
    if (scenario.clock) {
        m_host->setClock(*scenario.clock);
        const QSignalBlocker blockMode(m_clockMode);
        const QSignalBlocker blockSlider(m_scaleSlider);
        m_clockMode->setCurrentIndex(clockModeIndex(scenario.clock->mode));
        if (scenario.clock->mode == ClockSpec::Mode::Scaled) {
            m_scaleSlider->setValue(scaleToSlider(scenario.clock->scale));
            m_scaleLabel->setText(QStringLiteral("%1×").arg(scenario.clock->scale, 0, 'f', 2));
        }
    }
    if (m_host->generation() == before)
        m_host->reset();
    m_host->runScenario(scenario);
    updateControls();
    // Logged once the fresh loop is there, after its "fresh loop" line.
    const QString title = scenario.title.isEmpty() ? scenario.name : scenario.title;
    statusBar()->showMessage(tr("Scenario %1: %2").arg(scenario.name, title), 5000);
    m_pendingHeader = QStringList{ tr("=== scenario %1: %2 ===").arg(scenario.name, title) };
    if (!scenario.description.isEmpty())
        m_pendingHeader.append(scenario.description);
    m_pendingHeaderGeneration = m_host->generation();
}

bool MainWindow::loadScenarioFile(const QString &path)
{
    loopscope::ScenarioParseResult result = loopscope::loadScenario(path);
    if (!result) {
        showError(tr("Could not load the scenario (the loop keeps running as it was):\n%1")
                          .arg(result.errorString()));
        logLine(tr("scenario file not loaded: %1").arg(result.errorString()));
        return false;
    }
    startScenario(result.scenario());
    return true;
}

bool MainWindow::exportTrace(const QString &path)
{
    QString error;
    if (!m_host->exportChromeTrace(path, &error)) {
        showError(tr("Could not export the trace to %1: %2").arg(path, error));
        return false;
    }
    statusBar()->showMessage(tr("Trace written to %1 (open it in ui.perfetto.dev)").arg(path),
                             8000);
    logLine(tr("trace exported to %1").arg(path));
    return true;
}

void MainWindow::showError(const QString &text)
{
    m_errorBanner->setText(text);
    m_errorBanner->show();
}

std::vector<std::uint64_t> MainWindow::selectedTaskIds() const
{
    std::vector<std::uint64_t> ids;
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows)
        ids.push_back(index.data(TaskTableModel::TaskIdRole).toULongLong());
    if (ids.empty() && m_table->currentIndex().isValid())
        ids.push_back(m_table->currentIndex().data(TaskTableModel::TaskIdRole).toULongLong());
    return ids;
}

void MainWindow::cancelSelectedTasks(const QString &message)
{
    const std::vector<std::uint64_t> ids = selectedTaskIds();
    if (ids.empty())
        return;
    m_host->cancelTasks(ids, message);
    logLine(ids.size() == 1 ? tr("cancel task %1").arg(ids.front())
                            : tr("cancel %1 tasks").arg(ids.size()));
}

void MainWindow::copySelectedTasks()
{
    QStringList lines;
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows)
        lines.append(m_model->rowText(m_proxy->mapToSource(index).row()));
    if (!lines.isEmpty())
        QApplication::clipboard()->setText(lines.join(QLatin1Char('\n')));
}

void MainWindow::showTaskMenu(const QPoint &pos)
{
    if (!m_table->indexAt(pos).isValid())
        return;
    QMenu menu(this);
    menu.setObjectName(QStringLiteral("taskMenu"));
    menu.addAction(m_cancel);
    menu.addAction(m_cancelWithMessage);
    menu.addSeparator();
    menu.addAction(m_inspect);
    menu.addAction(m_copy);
    menu.exec(m_table->viewport()->mapToGlobal(pos));
}
