#pragma once

//! \file taskinspector.h The task inspector: everything known about one task of the
//! visualized loop.

#include <QHash>
#include <QIcon>
#include <QSet>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

QT_BEGIN_NAMESPACE
class QAbstractItemModel;
class QLabel;
class QListWidget;
class QPushButton;
class QStackedWidget;
class QTreeView;
QT_END_NAMESPACE

namespace loopscope {
struct TaskStats;
}

namespace loopscope::ui {

class TaskTableModel;
class TimelineModel;
struct TraceBatch;
class LifecycleModel;

/*!
 * Shows one task (setTask()): a header (id, name, state with the task table's colour and
 * icon, creation site), its await chain ("awaits task #12 'fetch', which awaits queue
 * future #88"; a cycle is flagged in red as a deadlock), its parent and children (click one
 * to emit taskActivated()), the callbacks added to its future, its result, error or cancel
 * message, and its lifecycle: every state transition with its loop time.
 *
 * It keeps no history of its own. Task states come from a TaskTableModel, transitions from
 * a TimelineModel's task lane (bounded there), so with 10,000 tasks the inspector costs one
 * map from futures to tasks and the done-callbacks of task futures, pruned to what those
 * models still know. By default it owns both models and feeds them in ingest(); a window that
 * has them already shares them with setSources().
 *
 * ingest() is cheap unless the selected task, a task of its chain, its parent or a shown
 * child had an event in the batch: only then is the view rebuilt. A batch of a new
 * generation (the loop was reset) clears the selection.
 */
class TaskInspector : public QWidget
{
    Q_OBJECT

public:
    explicit TaskInspector(QWidget *parent = nullptr);
    ~TaskInspector() override;

    /*!
     * Reads task states from \a tasks and transitions from \a timeline instead of the
     * inspector's own models. The caller feeds them every batch before passing the batch to
     * ingest(), and they must outlive the inspector (or be replaced first). Null for both:
     * back to the inspector's own models.
     */
    void setSources(const TaskTableModel *tasks, const TimelineModel *timeline);
    const TaskTableModel *taskModel() const { return m_tasks; }
    const TimelineModel *timelineModel() const { return m_timeline; }

    //! Takes in one tick (LoopHost::batchReady()); feeds the own models when not shared.
    void ingest(const TraceBatch &batch);
    /*!
     * Return values of finished tasks (LoopHost::resultsKnown()), for the own task model.
     * A shared TaskTableModel gets them from the window; its dataChanged is enough.
     */
    void setResults(const QHash<quint64, QString> &results);
    //! Forgets the selection and everything kept (a new loop).
    void clear();

    //! Inspects task \a taskId (0: none, the empty state).
    void setTask(std::uint64_t taskId);
    std::uint64_t task() const { return m_task; }

    // --- what it shows (tests, tooltips) ------------------------------------------------

    //! "#12 fetch — waiting"; empty with no task.
    QString headerText() const;
    //! The await chain as plain text ("awaits task #12 'fetch', which …").
    QString chainText() const;
    //! The cycle when the chain runs into one, else empty: "deadlock: #3 → #4 → #3".
    QString deadlockText() const;
    bool isDeadlocked() const { return !m_deadlock.isEmpty(); }
    //! The result, error or cancel message line ("failed: boom"), empty while pending.
    QString resultText() const;
    //! One line per callback added to its future.
    QStringList doneCallbackLines() const;
    //! The children shown, in creation order.
    std::vector<std::uint64_t> childIds() const;
    std::uint64_t parentId() const { return m_parent; }
    //! The lifecycle as a table: loop time, transition, detail (one row per transition).
    QAbstractItemModel *lifecycleModel() const;
    //! How many times the view was rebuilt (tests: it stays put when nothing relevant moved).
    std::uint64_t refreshCount() const { return m_refreshes; }

    //! Done callbacks kept per task future (the oldest are forgotten beyond it).
    static constexpr int kMaxDoneCallbacks = 32;
    //! Children listed (the rest are counted).
    static constexpr int kMaxChildren = 200;
    //! Links followed in an await chain before giving up.
    static constexpr int kMaxChainLength = 64;

Q_SIGNALS:
    //! A linked task (parent, child, a task of the chain) was clicked.
    void taskActivated(quint64 taskId);

private:
    struct DoneCallback
    {
        std::uint64_t callback = 0;
        std::uint64_t task = 0; //!< the task that added it, 0: none
        QString location;
        bool taskStep = false; //!< a task awaits the future (its step is the callback)
    };

    void refresh();
    void refreshChain();
    void refreshChildren();
    void refreshLifecycle(int lane);
    void pruneMaps();
    void onLinkActivated(const QString &link);
    //! The task whose own future is \a futureId, 0 when not known.
    std::uint64_t taskOfFuture(std::uint64_t futureId);
    //! The task table's row of \a taskId, or null.
    const TaskStats *statsOf(std::uint64_t taskId) const;
    //! "#12 'fetch'" (or "#12" when nothing names it).
    QString taskLabel(std::uint64_t taskId) const;

    std::unique_ptr<TaskTableModel> m_ownTasks;
    std::unique_ptr<TimelineModel> m_ownTimeline;
    const TaskTableModel *m_tasks = nullptr;
    const TimelineModel *m_timeline = nullptr;
    LifecycleModel *m_lifecycle; //!< a child: deleted with the inspector
    //! The selected task as last seen, for when the task table forgets it.
    std::unique_ptr<TaskStats> m_lastStats;

    std::uint64_t m_task = 0;
    std::uint64_t m_parent = 0;
    std::uint64_t m_futureId = 0; //!< the selected task's own future
    std::vector<std::uint64_t> m_children;
    //! Tasks whose events make the view stale: the selected one, its chain, parent, children.
    QSet<std::uint64_t> m_watched;
    QString m_header;
    QString m_chain;
    QString m_deadlock;
    QString m_result;
    QStringList m_callbackLines;
    QIcon m_stateIcon;

    //! A task's future → the task (std::unordered_map: QHash lookups trip g++ 12's
    //! -Wnull-dereference at -O3).
    std::unordered_map<std::uint64_t, std::uint64_t> m_taskOfFuture;
    QHash<std::uint64_t, std::vector<DoneCallback>> m_doneCallbacks; //!< by task future
    int m_generation = -1;
    std::uint64_t m_nextSequence = 0;
    bool m_haveSequence = false;
    bool m_childrenStale = true;
    std::uint64_t m_refreshes = 0;

    QStackedWidget *m_stack = nullptr;
    QLabel *m_empty = nullptr;
    QLabel *m_icon = nullptr;
    QLabel *m_title = nullptr;
    QLabel *m_site = nullptr;
    QLabel *m_chainLabel = nullptr;
    QLabel *m_deadlockLabel = nullptr;
    QPushButton *m_parentButton = nullptr;
    QLabel *m_childrenLabel = nullptr;
    QListWidget *m_childList = nullptr;
    QLabel *m_callbacksLabel = nullptr;
    QLabel *m_resultLabel = nullptr;
    QTreeView *m_lifecycleView = nullptr;
};

} // namespace loopscope::ui
