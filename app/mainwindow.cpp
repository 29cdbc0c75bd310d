#include "mainwindow.h"

#include "guidedtour.h"
#include "theme.h"

#include <loopscope/eventloop.h>
#include <loopscope/recorder.h>
#include <loopscope/tracefile.h>
#include <loopscope/ui/eventlogview.h>
#include <loopscope/ui/eventstreamview.h>
#include <loopscope/ui/loophost.h>
#include <loopscope/ui/loopstatemodel.h>
#include <loopscope/ui/loopview.h>
#include <loopscope/ui/spawnpanel.h>
#include <loopscope/ui/taskinspector.h>
#include <loopscope/ui/taskfilterproxymodel.h>
#include <loopscope/ui/tasktablemodel.h>
#include <loopscope/ui/timelinemodel.h>
#include <loopscope/ui/timelineview.h>
#include <loopscope/ui/tracebatch.h>
#include <loopscope/ui/tracereplay.h>
#include <loopscope/ui/warningspanel.h>

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QIcon>
#include <QInputDialog>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QStatusBar>
#include <QTableView>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

#include <algorithm>
#include <climits>
#include <cmath>
#include <functional>
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
    loopscope::ui::setUpTaskTableView(m_table, m_proxy, 60, 180, 110, 200);
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
    buildReplay();
    buildInspection();
    buildHelp();

    connect(m_host, &LoopHost::batchReady, this, &MainWindow::onHostBatch);
    connect(m_host, &LoopHost::loopReset, this, [this](int generation) {
        m_liveResults.clear();
        if (m_replaying)
            return; // the views show the trace; back to live rebuilds them from the recorder
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
    connect(m_host, &LoopHost::blockedChanged, this, [this](qint64 ms) {
        if (!m_replaying)
            onBlocked(ms);
    });
    connect(m_host, &LoopHost::messageLogged, this,
            [this](const QString &message) { logLine(message); });
    connect(m_host, &LoopHost::printed, this,
            [this](const QString &line, qint64 loopNs, quint64 sequence) {
                logInTraceOrder(tr("print: %1").arg(line), loopNs, sequence);
            });
    connect(m_host, &LoopHost::scenarioFinished, this,
            [this](const QString &summary, qint64 loopNs, quint64 sequence) {
                logInTraceOrder(tr("scenario finished: %1").arg(summary), loopNs, sequence);
                statusBar()->showMessage(tr("Scenario finished: %1").arg(summary), 5000);
            });
    connect(m_host, &LoopHost::resultsKnown, this, [this](const QHash<quint64, QString> &results) {
        m_liveResults.insert(results);
        if (!m_replaying)
            m_model->setResults(results);
    });
    connect(m_host, &LoopHost::timeScaleApplied, this, [this](double factor) {
        // A confirmation can arrive after the slider already asked for another scale (End then
        // Home in quick succession): only the latest request may set the label.
        if (m_host->clock().mode != ClockSpec::Mode::Scaled || factor != m_host->clock().scale)
            return;
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
    m_replayBar->hide(); // whatever the saved state says: the window starts live
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
    m_delay = new QAction(tr("Delay…"), m_table);
    m_delay->setObjectName(QStringLiteral("delayTaskAction"));
    m_delay->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_D));
    m_delay->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_delay->setToolTip(tr("Make the selected tasks wait before their next step: a task not "
                           "started yet starts later, a waiting one sleeps once its wait is "
                           "over (Ctrl+D)"));
    connect(m_delay, &QAction::triggered, this, [this] {
        bool ok = false;
        const int ms = QInputDialog::getInt(
                this, tr("Delay tasks"),
                tr("Wait this long (loop time) before the next step, in milliseconds:"),
                m_lastDelayMs, 1, int(loopscope::scenariolimits::MaxDelayMs), 100, &ok);
        if (ok) {
            m_lastDelayMs = ms;
            delaySelectedTasks(std::chrono::milliseconds(ms));
        }
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
        m_inspector->setTask(m_model->taskAt(source.row()).id);
        m_inspectorDock->show();
        m_inspectorDock->raise();
    });
    m_copy = new QAction(tr("Copy"), m_table);
    m_copy->setObjectName(QStringLiteral("copyTaskAction"));
    m_copy->setShortcut(QKeySequence::Copy);
    m_copy->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(m_copy, &QAction::triggered, this, &MainWindow::copySelectedTasks);
    m_table->addActions({ m_cancel, m_cancelWithMessage, m_delay, m_inspect, m_copy });
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

void MainWindow::logInTraceOrder(const QString &text, std::int64_t loopNs, std::uint64_t sequence)
{
    // Its events before it are logged already (the current loop's trace was drained past
    // them): now. Otherwise when the batch that brings them is logged.
    const int generation = m_host->generation();
    const loopscope::ui::TraceBatch &last = m_host->lastBatch();
    if (m_pendingLines.empty() && last.generation == generation
        && last.producedEvents >= sequence) {
        logLine(text, loopNs);
        return;
    }
    m_pendingLines.push_back({ generation, sequence, loopNs, text });
}

void MainWindow::flushPendingLines(int generation, std::uint64_t beforeSequence)
{
    std::size_t n = 0;
    while (n < m_pendingLines.size()
           && (m_pendingLines[n].generation < generation
               || m_pendingLines[n].sequence <= beforeSequence)) {
        logLine(m_pendingLines[n].text, m_pendingLines[n].loopNs);
        ++n;
    }
    m_pendingLines.erase(m_pendingLines.begin(), m_pendingLines.begin() + std::ptrdiff_t(n));
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
        m_timeline->reconcile(batch.tasks, batch.tasksComplete);
        m_timelineView->modelUpdated();
    }
    // After the timeline: the inspector reads a task's lifecycle from it.
    m_inspector->ingest(batch);
    m_warnings->ingest(batch);
    m_events->ingest(batch);

    int logged = 0;
    int skipped = 0;
    for (const loopscope::RecordedEvent &e : batch.events) {
        // Lines printed before this event (their sequence is the count of events then).
        if (!m_pendingLines.empty())
            flushPendingLines(batch.generation, e.sequence);
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
    flushPendingLines(batch.generation, batch.producedEvents);

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
        m_blockStartNs = -1;
        return;
    }
    // The blocking callback reports nothing until it returns: let the timeline's open
    // segments (that callback on the loop lane, the waits) grow with the time that passes.
    // Only where loop time follows real time; a virtual clock stands still meanwhile.
    const ClockSpec clock = m_host->clock();
    if (clock.mode != ClockSpec::Mode::Virtual) {
        if (m_blockStartNs < 0)
            m_blockStartNs = m_timeline->latestTime();
        const double scale = clock.mode == ClockSpec::Mode::Scaled ? clock.scale : 1.0;
        const std::int64_t now = m_blockStartNs + std::int64_t(double(ms) * 1e6 * scale);
        m_timeline->extendTo(now);
        m_timelineView->modelUpdated();
        m_loopState->extendTo(now);
        m_loopView->update();
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
    m_scaleSlider->setEnabled(scaled && !m_replaying);
    m_scaleLabel->setEnabled(scaled && !m_replaying);
    // A replay is read-only: nothing that drives the live loop works meanwhile.
    const bool live = !m_replaying;
    for (QAction *action : { m_runPause, m_reset, m_openScenario, m_exportTrace, m_cancel,
                             m_cancelWithMessage, m_delay })
        action->setEnabled(live);
    if (m_replaying) {
        m_stepCallback->setEnabled(false);
        m_stepIteration->setEnabled(false);
        m_stepTask->setEnabled(false);
    }
    m_clockMode->setEnabled(live);
    m_scenarioPicker->setEnabled(live);
    m_spawnPanel->setEnabled(live);
    // A replay keeps finished tasks for ever (they go when the cursor goes back).
    if (auto *retention = findChild<QSpinBox *>(QStringLiteral("retention")))
        retention->setEnabled(live);
    if (m_backToLive) {
        m_backToLive->setEnabled(m_replaying);
        for (QAction *action : m_replayActions)
            action->setEnabled(m_replaying);
    }
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

void MainWindow::startScenario(const Scenario &scenario, bool paused)
{
    m_errorBanner->hide();
    // Remembered for the next start (restoreLastScenario()): a built-in one by name, any
    // other by its file.
    const bool builtIn = std::any_of(m_scenarios.begin(), m_scenarios.end(),
                                     [&](const Scenario &s) { return s.name == scenario.name; });
    if (builtIn || !scenario.fileName.isEmpty())
        QSettings().setValue(QStringLiteral("session/lastScenario"),
                             builtIn ? scenario.name : scenario.fileName);
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
    if (paused)
        m_host->pause(); // on the fresh loop, before the scenario schedules anything
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
    menu.addAction(m_delay);
    menu.addSeparator();
    const std::vector<std::uint64_t> ids = selectedTaskIds();
    m_breakOnTask->setChecked(!ids.empty()
                              && std::all_of(ids.begin(), ids.end(), [this](std::uint64_t id) {
                                     return m_host->hasTaskBreakpoint(id);
                                 }));
    QMenu *breakpoints = menu.addMenu(tr("Breakpoints"));
    breakpoints->setObjectName(QStringLiteral("taskBreakpointsMenu"));
    breakpoints->addAction(m_breakOnTask);
    breakpoints->addAction(m_breakOnFailure);
    menu.addSeparator();
    menu.addAction(m_inspect);
    menu.addAction(m_copy);
    menu.exec(m_table->viewport()->mapToGlobal(pos));
}

// --- replay ---------------------------------------------------------------------------------

void MainWindow::buildReplay()
{
    m_replay = new loopscope::ui::TraceReplay(this);
    connect(m_replay, &loopscope::ui::TraceReplay::batchReady, this, &MainWindow::onReplayBatch);

    m_openTrace = new QAction(tr("Open trace…"), this);
    m_openTrace->setObjectName(QStringLiteral("openTraceAction"));
    m_openTrace->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O));
    m_openTrace->setToolTip(tr("Replay a trace exported by Loopscope: step through it, forwards "
                               "and backwards, with the same views (Ctrl+Shift+O)"));
    connect(m_openTrace, &QAction::triggered, this, [this] {
        const QString path =
                QFileDialog::getOpenFileName(this, tr("Open a trace"), QString(),
                                             tr("Loopscope traces (*.json);;All files (*)"));
        if (!path.isEmpty())
            openTrace(path);
    });
    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->setObjectName(QStringLiteral("fileMenu"));
    file->addAction(m_openScenario);
    file->addAction(m_openTrace);
    file->addAction(m_exportTrace);

    m_backToLive = new QAction(tr("Back to live"), this);
    m_backToLive->setObjectName(QStringLiteral("backToLiveAction"));
    m_backToLive->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_L));
    m_backToLive->setToolTip(tr("Leave the replay and watch the live loop again (Ctrl+L)"));
    connect(m_backToLive, &QAction::triggered, this, &MainWindow::backToLive);

    using Unit = loopscope::ui::TraceReplay::Unit;
    // The live step keys (F10, F11) step the replay while it runs; the live actions are
    // disabled meanwhile, so the keys are never ambiguous.
    auto step = [this](const char *name, const QString &text, const QKeySequence &key,
                       const QString &tip, std::function<void()> run) {
        auto *action = new QAction(text, this);
        action->setObjectName(QLatin1String(name));
        action->setShortcut(key);
        action->setToolTip(
                QStringLiteral("%1 (%2)").arg(tip, key.toString(QKeySequence::NativeText)));
        connect(action, &QAction::triggered, this, std::move(run));
        m_replayActions.push_back(action);
        return action;
    };
    QAction *toStart =
            step("replayStartAction", tr("|◀ Start"), QKeySequence(Qt::CTRL | Qt::Key_Home),
                 tr("Back to the start of the trace"), [this] { m_replay->toStart(); });
    QAction *backIteration = step("replayBackIterationAction", tr("◀◀ Iteration"),
                                  QKeySequence(Qt::SHIFT | Qt::Key_F11),
                                  tr("Step back to the end of the previous iteration"),
                                  [this] { m_replay->stepBack(Unit::Iteration); });
    QAction *backCallback = step("replayBackCallbackAction", tr("◀ Callback"),
                                 QKeySequence(Qt::SHIFT | Qt::Key_F10),
                                 tr("Step back to the end of the previous callback"),
                                 [this] { m_replay->stepBack(Unit::Callback); });
    QAction *backEvent =
            step("replayBackEventAction", tr("‹ Event"), QKeySequence(Qt::ALT | Qt::Key_Left),
                 tr("Step back one event"), [this] { m_replay->stepBack(Unit::Event); });
    QAction *forwardEvent =
            step("replayForwardEventAction", tr("Event ›"), QKeySequence(Qt::ALT | Qt::Key_Right),
                 tr("Step forward one event"), [this] { m_replay->stepForward(Unit::Event); });
    QAction *forwardCallback =
            step("replayForwardCallbackAction", tr("Callback ▶"), QKeySequence(Qt::Key_F10),
                 tr("Step forward to the end of the next callback"),
                 [this] { m_replay->stepForward(Unit::Callback); });
    QAction *forwardIteration =
            step("replayForwardIterationAction", tr("Iteration ▶▶"), QKeySequence(Qt::Key_F11),
                 tr("Step forward to the end of the next iteration"),
                 [this] { m_replay->stepForward(Unit::Iteration); });
    QAction *toEnd = step("replayEndAction", tr("End ▶|"), QKeySequence(Qt::CTRL | Qt::Key_End),
                          tr("Forward to the end of the trace"), [this] { m_replay->toEnd(); });

    m_replaySlider = new QSlider(Qt::Horizontal);
    m_replaySlider->setObjectName(QStringLiteral("replaySlider"));
    m_replaySlider->setMinimumWidth(240);
    m_replaySlider->setToolTip(tr("Scrub through the trace: the position is the number of "
                                  "events applied"));
    m_replaySeek = new QTimer(this);
    m_replaySeek->setSingleShot(true);
    m_replaySeek->setInterval(15);
    // Dragging moves the slider faster than a 100,000-event rebuild: seek to where it is
    // now, once per interval.
    connect(m_replaySeek, &QTimer::timeout, this,
            [this] { m_replay->seek(m_replaySlider->value()); });
    connect(m_replaySlider, &QSlider::valueChanged, this, [this] {
        if (!m_replaySeek->isActive())
            m_replaySeek->start();
    });
    m_replayPosition = new QLabel;
    m_replayPosition->setObjectName(QStringLiteral("replayPosition"));
    m_replayFile = new QLabel;
    m_replayFile->setObjectName(QStringLiteral("replayFile"));

    m_replayBar = new QToolBar(tr("Replay"), this);
    m_replayBar->setObjectName(QStringLiteral("replayBar"));
    m_replayBar->addWidget(m_replayFile);
    m_replayBar->addAction(m_backToLive);
    m_replayBar->addSeparator();
    m_replayBar->addActions({ toStart, backIteration, backCallback, backEvent });
    m_replayBar->addWidget(m_replaySlider);
    m_replayBar->addActions({ forwardEvent, forwardCallback, forwardIteration, toEnd });
    m_replayBar->addSeparator();
    m_replayBar->addWidget(m_replayPosition);
    addToolBarBreak();
    addToolBar(m_replayBar);
    m_replayBar->hide();
}

bool MainWindow::openTrace(const QString &path)
{
    loopscope::TraceFileResult result = loopscope::loadTraceFile(path);
    if (!result) {
        showError(tr("Could not open the trace (nothing changed):\n%1").arg(result.errorString()));
        logLine(tr("trace not opened: %1").arg(result.errorString()));
        return false;
    }
    replayTrace(result.takeTrace(), path);
    return true;
}

void MainWindow::replayTrace(loopscope::TraceFile trace, const QString &fileName)
{
    if (!m_replaying) {
        m_livePaused = m_paused;
        m_liveNowNs = m_loopNowNs;
        m_replaying = true;
    }
    m_errorBanner->hide();
    m_blockedBanner->hide();
    clearViews();
    // A replay keeps every task it reached: finished ones only go when the cursor does.
    m_model->setRetention(std::chrono::milliseconds(0));
    m_log->clear();
    m_replayGeneration = -1;
    const std::size_t events = trace.events.size();
    const std::uint64_t dropped = trace.droppedEvents;
    const QFileInfo info(fileName);
    m_replayFile->setText(tr("Replay: %1").arg(info.fileName()));
    m_replayFile->setToolTip(fileName);
    m_replaySlider->setEnabled(events > 0);
    {
        const QSignalBlocker block(m_replaySlider);
        m_replaySlider->setRange(0, int(std::min<std::size_t>(events, INT_MAX)));
        m_replaySlider->setValue(0);
    }
    // On a line of its own, whatever layout restoreState() brought back.
    if (toolBarArea(m_replayBar) != Qt::TopToolBarArea) {
        removeToolBar(m_replayBar);
        addToolBar(Qt::TopToolBarArea, m_replayBar);
    }
    if (!toolBarBreak(m_replayBar))
        insertToolBarBreak(m_replayBar);
    m_replayBar->show();
    setWindowTitle(tr("Loopscope — replay of %1").arg(info.fileName()));
    updateControls();
    m_replay->setTrace(std::move(trace), fileName);
    logLine(tr("=== replay of %1: %L2 events%3 (read-only; Back to live returns) ===")
                    .arg(fileName)
                    .arg(qulonglong(events))
                    .arg(dropped ? tr(", %L1 dropped before it was written").arg(dropped)
                                 : QString()),
            0);
}

void MainWindow::backToLive()
{
    if (!m_replaying)
        return;
    m_replaying = false;
    m_replaySeek->stop();
    m_replay->close();
    m_replayBar->hide();
    setWindowTitle(tr("Loopscope"));
    clearViews();
    m_paused = m_livePaused;
    m_loopNowNs = m_liveNowNs;
    if (const auto *retention = findChild<QSpinBox *>(QStringLiteral("retention")))
        m_model->setRetention(std::chrono::seconds(retention->value()));
    m_model->setResults(m_liveResults);

    // The host drained and dropped what the loop did meanwhile: the recorder still holds
    // it (up to its ring's capacity), so the views start again from its snapshot.
    loopscope::ui::TraceBatch batch;
    batch.generation = m_host->lastBatch().generation;
    m_liveFromSequence = 0;
    m_liveFromGeneration = batch.generation;
    if (const std::shared_ptr<loopscope::TraceRecorder> recorder = m_host->recorder()) {
        batch.events = recorder->snapshot();
        batch.resolveStrings(*recorder);
        batch.tasks = recorder->tasks();
        batch.stats = recorder->loopStats();
        batch.lints = recorder->lints();
        batch.producedEvents = recorder->producedEvents();
        batch.droppedEvents = recorder->droppedEvents();
        if (!batch.events.empty())
            m_liveFromSequence = batch.events.back().sequence + 1;
    }
    m_loopPaused = batch.stats.paused;
    m_paused = batch.stats.paused;
    logLine(tr("=== back to the live loop ==="));
    onBatch(batch);
    updateControls();
}

void MainWindow::clearViews()
{
    m_model->clear();
    m_proxy->setTaskIdFilter(std::nullopt);
    m_loopState->clear();
    m_loopView->modelUpdated();
    m_timeline->clear();
    m_timelineView->modelUpdated();
    m_timelineGeneration = -1;
}

void MainWindow::onHostBatch(const loopscope::ui::TraceBatch &batch)
{
    if (m_replaying)
        return;
    if (m_liveFromSequence == 0 || batch.generation != m_liveFromGeneration) {
        m_liveFromSequence = 0;
        onBatch(batch);
        return;
    }
    if (batch.events.empty() || batch.events.front().sequence >= m_liveFromSequence) {
        m_liveFromSequence = batch.events.empty() ? m_liveFromSequence : 0;
        onBatch(batch);
        return;
    }
    loopscope::ui::TraceBatch fresh = batch;
    std::erase_if(fresh.events, [this](const loopscope::RecordedEvent &e) {
        return e.sequence < m_liveFromSequence;
    });
    m_liveFromSequence = 0;
    onBatch(fresh);
}

void MainWindow::onReplayBatch(const loopscope::ui::TraceBatch &batch)
{
    if (!m_replaying)
        return;
    if (batch.generation != m_replayGeneration) {
        // Moved backwards: the replay starts over and the batch holds everything up to the
        // cursor. The timeline and loop view clear themselves on a new generation.
        if (m_replayGeneration >= 0) {
            m_model->clear();
            m_log->clear();
        }
        m_replayGeneration = batch.generation;
    }
    onBatch(batch);
    updateReplayBar();
}

void MainWindow::updateReplayBar()
{
    const QSignalBlocker block(m_replaySlider);
    m_replaySlider->setValue(int(std::min<std::size_t>(m_replay->position(), INT_MAX)));
    m_replayPosition->setText(m_replay->positionText());
    m_statusLabel->setText(tr("REPLAY  ·  ") + m_statusLabel->text());
}

// --- view and help ----------------------------------------------------------------------

void MainWindow::buildHelp()
{
    QIcon icon;
    for (const int size : { 16, 32, 48, 64, 128, 256 })
        icon.addFile(QStringLiteral(":/loopscope/icons/loopscope-%1.png").arg(size),
                     QSize(size, size));
    setWindowIcon(icon);

    m_saveImage = new QAction(tr("Save image"), this);
    m_saveImage->setObjectName(QStringLiteral("saveTimelineImageAction"));
    m_saveImage->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S));
    m_saveImage->setToolTip(tr("Save the timeline as it is shown now, as PNG or SVG "
                               "(Ctrl+Shift+S)"));
    connect(m_saveImage, &QAction::triggered, this, [this] {
        QString filter;
        const QString path = QFileDialog::getSaveFileName(
                this, tr("Save timeline image"), QStringLiteral("loopscope-timeline.png"),
                tr("PNG image (*.png);;SVG drawing (*.svg)"), &filter);
        if (path.isEmpty())
            return;
        // A name without an extension gets the one of the chosen filter.
        QString target = path;
        if (QFileInfo(path).suffix().isEmpty())
            target += filter.contains(QLatin1String("svg")) ? QStringLiteral(".svg")
                                                            : QStringLiteral(".png");
        saveTimelineImage(target);
    });
    if (auto *bar = findChild<QToolBar *>(QStringLiteral("loopToolBar")))
        bar->addAction(m_saveImage);

    QMenu *view = menuBar()->addMenu(tr("&View"));
    view->setObjectName(QStringLiteral("viewMenu"));
    view->addAction(m_saveImage);
    view->addSeparator();
    QMenu *themeMenu = view->addMenu(tr("&Theme"));
    themeMenu->setObjectName(QStringLiteral("themeMenu"));
    auto *themes = new QActionGroup(this);
    const theme::Mode saved =
            theme::modeFromName(QSettings().value(QStringLiteral("view/theme")).toString());
    const std::pair<theme::Mode, QString> modes[] = {
        { theme::Mode::System, tr("Follow the system") },
        { theme::Mode::Light, tr("Light") },
        { theme::Mode::Dark, tr("Dark") },
    };
    for (const auto &entry : modes) {
        // Not a structured binding: clang 14 cannot capture one in the lambda below.
        const theme::Mode mode = entry.first;
        QAction *action = themeMenu->addAction(entry.second);
        action->setObjectName(QStringLiteral("theme_") + theme::modeName(mode));
        action->setCheckable(true);
        action->setChecked(mode == saved);
        themes->addAction(action);
        connect(action, &QAction::triggered, this, [mode] {
            theme::apply(mode);
            QSettings().setValue(QStringLiteral("view/theme"), theme::modeName(mode));
        });
    }
    if (saved != theme::Mode::System)
        theme::apply(saved);
    // The docks' own show/hide toggles.
    view->addSeparator();
    for (QDockWidget *dock : findChildren<QDockWidget *>())
        view->addAction(dock->toggleViewAction());

    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->setObjectName(QStringLiteral("helpMenu"));
    QAction *tour = help->addAction(tr("&Guided tour…"), this, &MainWindow::showGuidedTour);
    tour->setObjectName(QStringLiteral("guidedTourAction"));
    tour->setShortcut(QKeySequence::HelpContents);
    help->addSeparator();
    QAction *about = help->addAction(tr("&About Loopscope"), this, [this] {
        QMessageBox box(this);
        box.setObjectName(QStringLiteral("aboutBox"));
        box.setWindowTitle(tr("About Loopscope"));
        box.setIconPixmap(windowIcon().pixmap(96, 96));
        box.setTextFormat(Qt::RichText);
        box.setText(tr("<h3>Loopscope %1</h3>"
                       "<p>Python asyncio's event loop, futures, tasks and coroutines rebuilt in "
                       "C++20 on top of Qt's event loop, and this window to watch one run: its "
                       "ready queue, timers, executor threads and every task's life.</p>"
                       "<p>The loop shown here runs on a thread of its own; everything you see "
                       "comes from its trace events.</p>"
                       "<p>Qt %2 · built with %3</p>")
                            .arg(QApplication::applicationVersion().isEmpty()
                                         ? QStringLiteral("(development build)")
                                         : QApplication::applicationVersion(),
                                 QString::fromLatin1(qVersion()),
#if defined(__clang__)
                                 QStringLiteral("clang %1").arg(__clang_major__)
#else
                             QStringLiteral("g++ %1").arg(__GNUC__)
#endif
                                         ));
        box.exec();
    });
    about->setObjectName(QStringLiteral("aboutAction"));
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::showGuidedTour()
{
    if (!m_tour) {
        m_tour = new GuidedTour(this);
        connect(m_tour, &GuidedTour::actionRequested, this,
                [this](GuidedTour::Action action) { onTourAction(int(action)); });
    }
    m_tour->show();
    m_tour->raise();
    m_tour->activateWindow();
}

void MainWindow::onTourAction(int action)
{
    const auto load = [this](const QString &name) {
        for (const Scenario &s : m_scenarios) {
            if (s.name == name) {
                startScenario(s, true);
                m_paused = true;
                updateControls();
                return;
            }
        }
        showError(tr("The built-in scenario %1 is missing").arg(name));
    };
    switch (GuidedTour::Action(action)) {
    case GuidedTour::Action::None:
        break;
    case GuidedTour::Action::LoadSeedUntilComplete:
        load(QStringLiteral("seed_run_until_complete"));
        break;
    case GuidedTour::Action::LoadSeedRunForever:
        load(QStringLiteral("seed_run_forever"));
        break;
    case GuidedTour::Action::StepCallback:
        m_stepCallback->trigger();
        break;
    case GuidedTour::Action::StepIteration:
        m_stepIteration->trigger();
        break;
    case GuidedTour::Action::Run:
        if (m_paused)
            togglePause();
        break;
    }
}

bool MainWindow::saveTimelineImage(const QString &path)
{
    QString error;
    if (!m_timelineView->saveImage(path, &error)) {
        showError(tr("The timeline image was not saved: %1").arg(error));
        return false;
    }
    statusBar()->showMessage(tr("Timeline saved to %1").arg(path), 5000);
    return true;
}

void MainWindow::delaySelectedTasks(std::chrono::milliseconds delay)
{
    const std::vector<std::uint64_t> ids = selectedTaskIds();
    if (ids.empty() || delay <= std::chrono::milliseconds::zero())
        return;
    m_host->delayTasks(ids, delay);
    logLine(tr("delay %1 task(s) by %2 ms").arg(ids.size()).arg(delay.count()));
}

// --- inspector, warnings, breakpoints ---------------------------------------------------------

void MainWindow::buildInspection()
{
    using loopscope::ui::LoopHost;
    m_inspector = new loopscope::ui::TaskInspector;
    m_inspector->setObjectName(QStringLiteral("taskInspector"));
    m_inspector->setSources(m_model, m_timeline.get());
    m_inspectorDock = new QDockWidget(tr("Inspector"), this);
    m_inspectorDock->setObjectName(QStringLiteral("inspectorDock"));
    m_inspectorDock->setWidget(m_inspector);
    addDockWidget(Qt::RightDockWidgetArea, m_inspectorDock);
    if (auto *loopDock = findChild<QDockWidget *>(QStringLiteral("loopDock"))) {
        tabifyDockWidget(loopDock, m_inspectorDock);
        loopDock->raise();
    }
    connect(m_inspector, &loopscope::ui::TaskInspector::taskActivated, this,
            [this](quint64 id) { selectTask(id); });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex &current) {
                if (current.isValid())
                    m_inspector->setTask(current.data(TaskTableModel::TaskIdRole).toULongLong());
            });
    connect(m_host, &LoopHost::resultsKnown, m_inspector,
            [this](const QHash<quint64, QString> &results) {
                if (!m_replaying)
                    m_inspector->setResults(results);
            });

    // The raw event stream, beside the log of what happened in words.
    m_events = new loopscope::ui::EventStreamView;
    m_events->setObjectName(QStringLiteral("eventStream"));
    auto *eventsDock = new QDockWidget(tr("Events"), this);
    eventsDock->setObjectName(QStringLiteral("eventsDock"));
    eventsDock->setWidget(m_events);
    addDockWidget(Qt::BottomDockWidgetArea, eventsDock);
    if (auto *logDock = findChild<QDockWidget *>(QStringLiteral("eventLogDock")))
        tabifyDockWidget(logDock, eventsDock);
    // Behind another tab it holds its events back; raised, it shows them at once.
    connect(eventsDock, &QDockWidget::visibilityChanged, m_events,
            &loopscope::ui::EventStreamView::catchUp, Qt::QueuedConnection);

    m_warnings = new loopscope::ui::WarningsPanel;
    m_warnings->setObjectName(QStringLiteral("warningsPanel"));
    auto *warningsDock = new QDockWidget(tr("Warnings"), this);
    warningsDock->setObjectName(QStringLiteral("warningsDock"));
    warningsDock->setWidget(m_warnings);
    addDockWidget(Qt::BottomDockWidgetArea, warningsDock);
    if (auto *timelineDock = findChild<QDockWidget *>(QStringLiteral("timelineDock"))) {
        tabifyDockWidget(timelineDock, warningsDock);
        timelineDock->raise();
        resizeDocks({ timelineDock }, { 320 }, Qt::Vertical);
    }
    connect(m_warnings, &loopscope::ui::WarningsPanel::lintActivated, this,
            [this](quint64 taskId, qint64 timeNs) {
                if (taskId)
                    selectTask(taskId);
                // Jump the timeline there (it stops following live), the task selected.
                m_timelineView->centerOn(timeNs);
                if (auto *dock = findChild<QDockWidget *>(QStringLiteral("timelineDock")))
                    dock->raise();
            });

    // Breakpoints: per task from the task menu, the two global ones in the Debug menu.
    m_breakOnTask = new QAction(tr("Pause on its next state change"), m_table);
    m_breakOnTask->setObjectName(QStringLiteral("taskBreakpointAction"));
    m_breakOnTask->setCheckable(true);
    m_breakOnTask->setShortcut(QKeySequence(Qt::Key_F9));
    m_breakOnTask->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    m_breakOnTask->setToolTip(tr("A breakpoint on the selected task: the loop pauses whenever "
                                 "it steps, waits, wakes or ends (F9)"));
    connect(m_breakOnTask, &QAction::triggered, this, [this](bool on) {
        for (const std::uint64_t id : selectedTaskIds()) {
            if (on)
                m_host->addTaskBreakpoint(id);
            else
                m_host->removeTaskBreakpoint(id);
        }
    });
    m_table->addAction(m_breakOnTask);
    m_breakOnFailure = new QAction(tr("Pause when a task fails"), this);
    m_breakOnFailure->setObjectName(QStringLiteral("breakOnFailureAction"));
    m_breakOnFailure->setCheckable(true);
    connect(m_breakOnFailure, &QAction::toggled, m_host, &LoopHost::setBreakOnTaskFailure);
    m_breakOnSlow = new QAction(tr("Pause after a slow callback"), this);
    m_breakOnSlow->setObjectName(QStringLiteral("breakOnSlowCallbackAction"));
    m_breakOnSlow->setCheckable(true);
    m_breakOnSlow->setToolTip(tr("Pause the loop right after a callback or task step that ran "
                                 "longer than the slow-callback threshold"));
    connect(m_breakOnSlow, &QAction::toggled, m_host, &LoopHost::setBreakOnSlowCallback);
    QMenu *debug = menuBar()->addMenu(tr("&Debug"));
    debug->setObjectName(QStringLiteral("debugMenu"));
    debug->addAction(m_breakOnFailure);
    debug->addAction(m_breakOnSlow);
    debug->addSeparator();
    debug->addAction(m_breakOnTask);
    connect(m_host, &LoopHost::breakpointsChanged, this, [this] {
        const QSignalBlocker a(m_breakOnFailure);
        const QSignalBlocker b(m_breakOnSlow);
        m_breakOnFailure->setChecked(m_host->breakOnTaskFailure());
        m_breakOnSlow->setChecked(m_host->breakOnSlowCallback());
    });
}

bool MainWindow::restoreLastScenario()
{
    const QString last = QSettings().value(QStringLiteral("session/lastScenario")).toString();
    if (last.isEmpty())
        return false;
    for (const Scenario &s : m_scenarios) {
        if (s.name == last) {
            startScenario(s);
            return true;
        }
    }
    // A file: it may have changed or gone since; loadScenarioFile() says so in the banner.
    return loadScenarioFile(last);
}
