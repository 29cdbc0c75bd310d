#pragma once

#include <loopscope/scenario.h>

#include <QHash>
#include <QMainWindow>
#include <QString>
#include <QStringList>

#include <chrono>

#include <cstdint>
#include <memory>
#include <vector>

QT_BEGIN_NAMESPACE
class QAction;
class QComboBox;
class QDockWidget;
class QLabel;
class QLineEdit;
class QSlider;
class QTableView;
class QTimer;
class QToolBar;
QT_END_NAMESPACE

namespace loopscope {
struct TraceFile;
}

class GuidedTour;

namespace loopscope::ui {
class EventLogView;
class LoopHost;
class LoopStateModel;
class LoopView;
class TimelineModel;
class TimelineView;
class SpawnPanel;
class TaskFilterProxyModel;
class TaskInspector;
class EventStreamView;
class WarningsPanel;
class TaskTableModel;
class TraceReplay;
struct TraceBatch;
} // namespace loopscope::ui

/*!
 * The visualizer's main window: a loop on its own thread (LoopHost), a toolbar to run,
 * pause, step, slow down or reset it and to pick a scenario, a spawn panel, the task table
 * and an event log. Everything it knows about the loop comes from the host's ticks.
 *
 * \a clock is the loop's first clock; tests pass a virtual one so that time-driven
 * behaviour is deterministic.
 */
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(const loopscope::ClockSpec &clock = { loopscope::ClockSpec::Mode::Scaled,
                                                              1.0 },
                        QWidget *parent = nullptr);
    ~MainWindow() override;

    loopscope::ui::LoopHost *host() const { return m_host; }
    loopscope::ui::TaskTableModel *taskModel() const { return m_model; }
    loopscope::ui::TaskFilterProxyModel *taskProxy() const { return m_proxy; }
    QTableView *taskView() const { return m_table; }
    loopscope::ui::SpawnPanel *spawnPanel() const { return m_spawnPanel; }
    loopscope::ui::EventLogView *log() const { return m_log; }
    loopscope::ui::LoopView *loopView() const { return m_loopView; }
    loopscope::ui::TimelineView *timelineView() const { return m_timelineView; }
    loopscope::ui::TimelineModel *timelineModel() const { return m_timeline.get(); }
    loopscope::ui::LoopStateModel *loopState() const { return m_loopState.get(); }
    loopscope::ui::TaskInspector *inspector() const { return m_inspector; }
    loopscope::ui::WarningsPanel *warnings() const { return m_warnings; }
    //! The raw event stream (Events dock).
    loopscope::ui::EventStreamView *eventStream() const { return m_events; }
    //! The guided tour dialog, null until first shown.
    GuidedTour *guidedTour() const { return m_tour; }
    //! The red "loop blocked 2.4 s" banner.
    QLabel *blockedBanner() const { return m_blockedBanner; }
    //! The banner that explains what went wrong (a scenario that did not load, an export).
    QLabel *errorBanner() const { return m_errorBanner; }
    //! The status bar's loop figures.
    QLabel *statusLabel() const { return m_statusLabel; }

    //! The time-scale factor the slider position \a position (−100 … 100) stands for:
    //! 10^(position/100), so 0.1× … 10× on a log scale.
    static double sliderToScale(int position);
    static int scaleToSlider(double factor);

    // --- replay of a saved trace ------------------------------------------------------------

    //! The replay source the views follow while isReplaying().
    loopscope::ui::TraceReplay *replay() const { return m_replay; }
    //! True between openTrace() and backToLive(): the views show the trace, live controls
    //! are disabled (the live loop goes on in the background).
    bool isReplaying() const { return m_replaying; }
    //! The replay bar: step back/forward, scrub slider, position, "Back to live".
    QToolBar *replayBar() const { return m_replayBar; }
    QSlider *replaySlider() const { return m_replaySlider; }
    //! "event 1,234 / 50,000 · 1.234 s".
    QLabel *replayPositionLabel() const { return m_replayPosition; }
    //! Replays \a trace, already loaded from \a fileName (`--replay`).
    void replayTrace(loopscope::TraceFile trace, const QString &fileName);

public Q_SLOTS:
    //! Resets the loop (on the scenario's clock, if it names one) and runs \a scenario;
    //! \a paused: the fresh loop starts paused, before the scenario's first callback.
    void startScenario(const loopscope::Scenario &scenario, bool paused = false);
    //! Loads a scenario file and runs it; on error the error banner says why and the running
    //! loop is left alone. Returns whether it loaded.
    bool loadScenarioFile(const QString &path);
    //! Runs the scenario the previous session ran last (remembered by startScenario()), if
    //! any; false when there is none or its file no longer loads (the banner says why).
    bool restoreLastScenario();
    //! Writes the trace as Chrome JSON (atomically); errors go to the error banner.
    bool exportTrace(const QString &path);
    void togglePause();
    //! Opens (or raises) Help ▸ Guided tour.
    void showGuidedTour();
    //! Saves the timeline as it is shown now: PNG or SVG by the extension; errors go to the
    //! error banner.
    bool saveTimelineImage(const QString &path);
    void cancelSelectedTasks(const QString &message = {});
    //! Task::delay() on the selected tasks (Delay… in the task menu, Ctrl+D).
    void delaySelectedTasks(std::chrono::milliseconds delay);
    void copySelectedTasks();
    /*!
     * Loads the trace file \a path (exported by Loopscope) and replays it from its start.
     * A file that does not load changes nothing but the error banner. Returns whether it
     * loaded.
     */
    bool openTrace(const QString &path);
    //! Leaves the replay: the views show the live loop again.
    void backToLive();

private:
    void buildActions();
    void buildToolBar();
    void buildDocks();
    //! View (theme, timeline image) and Help (guided tour, About) menus, the window icon.
    void buildHelp();
    //! The inspector and warnings docks, the breakpoint actions and the Debug menu.
    void buildInspection();
    void onTourAction(int action);
    void onBatch(const loopscope::ui::TraceBatch &batch);
    void onBlocked(qint64 ms);
    void onClockModeChanged(int index);
    void onScaleSliderMoved(int position);
    void onScenarioPicked(int index);
    void showError(const QString &text);
    void logLine(const QString &text, std::int64_t loopNs = -1);
    //! Logs \a text where it happened in the trace: after its first \a sequence events,
    //! which may not be drained (and logged) yet.
    void logInTraceOrder(const QString &text, std::int64_t loopNs, std::uint64_t sequence);
    //! Logs the pending lines of loops before \a generation, and those of \a generation
    //! printed after at most \a beforeSequence events.
    void flushPendingLines(int generation, std::uint64_t beforeSequence);
    void updateControls();
    std::vector<std::uint64_t> selectedTaskIds() const;
    //! Selects \a taskId's row in the table (clearing the range filter if it hides it).
    void selectTask(std::uint64_t taskId);
    void showTaskMenu(const QPoint &pos);
    //! The live host's ticks: ignored while replaying, and without the events the views
    //! already got from the recorder on the way back to live.
    void onHostBatch(const loopscope::ui::TraceBatch &batch);
    void buildReplay();
    void onReplayBatch(const loopscope::ui::TraceBatch &batch);
    void updateReplayBar();
    //! Empties the task table, loop view and timeline (before a replay, or back to live).
    void clearViews();

    loopscope::ui::LoopHost *m_host = nullptr;
    loopscope::ui::TaskTableModel *m_model = nullptr;
    loopscope::ui::TaskFilterProxyModel *m_proxy = nullptr;
    QTableView *m_table = nullptr;
    QLineEdit *m_filter = nullptr;
    QComboBox *m_stateFilter = nullptr;
    loopscope::ui::SpawnPanel *m_spawnPanel = nullptr;
    loopscope::ui::EventLogView *m_log = nullptr;
    std::unique_ptr<loopscope::ui::LoopStateModel> m_loopState;
    std::unique_ptr<loopscope::ui::TimelineModel> m_timeline;
    loopscope::ui::LoopView *m_loopView = nullptr;
    loopscope::ui::TimelineView *m_timelineView = nullptr;
    int m_timelineGeneration = -1;
    QLabel *m_blockedBanner = nullptr;
    QLabel *m_errorBanner = nullptr;
    QLabel *m_statusLabel = nullptr;

    QAction *m_runPause = nullptr;
    QAction *m_stepCallback = nullptr;
    QAction *m_stepIteration = nullptr;
    QAction *m_stepTask = nullptr;
    QAction *m_reset = nullptr;
    QAction *m_openScenario = nullptr;
    QAction *m_exportTrace = nullptr;
    QAction *m_cancel = nullptr;
    QAction *m_cancelWithMessage = nullptr;
    QAction *m_delay = nullptr;
    int m_lastDelayMs = 1000;
    QAction *m_inspect = nullptr;
    QAction *m_copy = nullptr;
    QAction *m_saveImage = nullptr;
    loopscope::ui::TaskInspector *m_inspector = nullptr;
    QDockWidget *m_inspectorDock = nullptr;
    loopscope::ui::WarningsPanel *m_warnings = nullptr;
    loopscope::ui::EventStreamView *m_events = nullptr;
    QAction *m_breakOnTask = nullptr;
    QAction *m_breakOnFailure = nullptr;
    QAction *m_breakOnSlow = nullptr;
    GuidedTour *m_tour = nullptr;
    QComboBox *m_clockMode = nullptr;
    QSlider *m_scaleSlider = nullptr;
    QLabel *m_scaleLabel = nullptr;
    QComboBox *m_scenarioPicker = nullptr;

    std::vector<loopscope::Scenario> m_scenarios; //!< the built-in ones, as in the picker
    bool m_paused = false; //!< what the controls show; follows the loop's own pauses too
    bool m_loopPaused = false; //!< LoopStats::paused at the last tick
    std::int64_t m_loopNowNs = 0; //!< the loop time of the last event seen
    struct PendingLine
    {
        int generation;
        std::uint64_t sequence;
        std::int64_t loopNs;
        QString text;
    };
    std::vector<PendingLine> m_pendingLines; //!< see logInTraceOrder()
    std::int64_t m_blockStartNs = -1; //!< timeline time the current block began, -1: none
    //! A started scenario's title lines, logged when its fresh loop (this generation) is up.
    QStringList m_pendingHeader;
    int m_pendingHeaderGeneration = 0;

    // Replay.
    loopscope::ui::TraceReplay *m_replay = nullptr;
    QToolBar *m_replayBar = nullptr;
    QLabel *m_replayFile = nullptr;
    QSlider *m_replaySlider = nullptr;
    QLabel *m_replayPosition = nullptr;
    QTimer *m_replaySeek = nullptr; //!< compresses slider moves into one seek per 15 ms
    QAction *m_openTrace = nullptr;
    QAction *m_backToLive = nullptr;
    std::vector<QAction *> m_replayActions; //!< steps and jumps: enabled while replaying
    bool m_replaying = false;
    int m_replayGeneration = -1;
    //! The live side while replaying: what the controls showed, the results it reported.
    bool m_livePaused = false;
    std::int64_t m_liveNowNs = 0;
    QHash<quint64, QString> m_liveResults;
    //! Back to live: host events below this sequence (of this generation) were shown already.
    std::uint64_t m_liveFromSequence = 0;
    int m_liveFromGeneration = -1;
};
