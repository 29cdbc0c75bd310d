#pragma once

//! \file tasktablemodel.h The task table: one row per task of the visualized loop.

#include <QAbstractTableModel>
#include <QColor>
#include <QElapsedTimer>
#include <QHash>
#include <QString>

#include <chrono>
#include <cstdint>
#include <vector>

namespace loopscope {
struct TaskStats;
}

QT_BEGIN_NAMESPACE
class QTableView;
QT_END_NAMESPACE

namespace loopscope::ui {

struct TraceBatch;

/*!
 * One row per task the loop's TraceRecorder reports, fed with LoopHost::batchReady().
 *
 * Updates are incremental: new tasks are appended with one rowsInserted per batch, changed
 * rows get dataChanged (ranges of neighbouring rows merged), and the model is reset only when
 * the loop is (clear()). A finished task stays for retention() of real time after the model
 * first saw it done, then its row is removed; the recorder itself forgets done tasks sooner
 * or later, so the model keeps its own copy.
 */
class TaskTableModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column {
        IdColumn,
        NameColumn,
        StateColumn,
        AwaitingColumn,
        StepsColumn,
        BusyColumn,
        ScheduledColumn,
        WaitingColumn,
        ResultColumn,
        SiteColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    //! Extra roles, from Qt::UserRole + 1 (Qt's model convention).
    enum Role {
        TaskIdRole = Qt::UserRole + 1, //!< quint64: the task's id (any column)
        StateRole, //!< int: TaskStats::State (any column)
        SortRole, //!< the column's raw value (numbers as numbers) for sorting
        DoneRole, //!< bool: the task has ended
    };
    Q_ENUM(Role)

    explicit TaskTableModel(QObject *parent = nullptr);
    ~TaskTableModel() override;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    //! Merges \a batch: new tasks, changed tasks, tasks that ended, expired rows.
    void applyBatch(const TraceBatch &batch);
    /*!
     * What tasks returned (LoopHost::resultsKnown()): shown as the result of finished tasks,
     * whose trace carries no result text. Kept until clear().
     */
    void setResults(const QHash<quint64, QString> &results);
    //! Removes every row (a new loop).
    void clear();

    //! How long a finished task stays after the model saw it end (default 60 s); zero or
    //! negative: forever.
    std::chrono::milliseconds retention() const { return m_retention; }
    void setRetention(std::chrono::milliseconds retention);

    //! The row of task \a taskId, -1 when absent.
    int rowOf(std::uint64_t taskId) const { return m_rowOf.value(taskId, -1); }
    std::uint64_t taskIdAt(int row) const;
    //! The task in \a row (0 ≤ row < rowCount()).
    const TaskStats &taskAt(int row) const;
    //! "file.cpp:12 (function)" → "file.cpp:12"; used for the Site column.
    static QString shortSite(const QString &location);
    //! The name of a state as the table shows it ("waiting", "cancelled" …).
    static QString stateText(int state);
    //! The colour of a state in the table.
    static QColor stateColor(int state);
    //! One line per row: the columns separated by tabs (Copy).
    QString rowText(int row) const;

    //! Ticks since the last clear in which the model changed (tests, bench).
    std::uint64_t updateCount() const { return m_updates; }

private:
    struct Row;
    QString awaitingText(const Row &row) const;
    void removeExpired();
    //! dataChanged() for \a rows (sorted) from \a firstColumn to the result column.
    void emitRowsChanged(const std::vector<int> &rows, int firstColumn);

    std::vector<Row> m_rows;
    QHash<std::uint64_t, int> m_rowOf; //!< task id → row
    QHash<std::uint64_t, std::uint64_t> m_taskOfFuture; //!< a task's future id → task id
    QHash<quint64, QString> m_results; //!< return values by task id (setResults())
    //! Done tasks whose retention ended, while the recorder still reports them → the tick it
    //! last did.
    QHash<std::uint64_t, std::uint64_t> m_expired;
    std::chrono::milliseconds m_retention{ 60000 };
    QElapsedTimer m_clock; //!< real time, for retention
    std::uint64_t m_tick = 0;
    std::uint64_t m_updates = 0;
};

/*!
 * Sets \a table up to show \a model (a TaskTableModel or a proxy of one) the way every task
 * table of the visualizer does: sorted by id, whole rows selected (several at once), alternating
 * rows, compact rows, no row header, the last column stretched; \a idWidth, \a nameWidth,
 * \a stateWidth and \a awaitingWidth are the first columns' widths.
 */
void setUpTaskTableView(QTableView *table, QAbstractItemModel *model, int idWidth, int nameWidth,
                        int stateWidth, int awaitingWidth);

} // namespace loopscope::ui
