#pragma once

//! \file warningsmodel.h The warnings table: one row per lint the trace recorder found.

#include <QAbstractTableModel>
#include <QColor>
#include <QHash>
#include <QIcon>
#include <QSet>
#include <QString>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

// Only forward declarations of engine types: moc (Qt 6.4) cannot parse the engine's C++20
// headers.
namespace loopscope {
struct Lint;
enum class LintKind : std::uint8_t;
} // namespace loopscope

namespace loopscope::ui {

struct TraceBatch;

/*!
 * One row per lint (TraceRecorder::lints()) of the visualized loop, fed with
 * LoopHost::batchReady().
 *
 * Every batch carries the lints the recorder keeps (the newest of each kind); the model adds
 * the ones it has not seen yet, in the order they were found, with one rowsInserted per
 * batch. Busy-polling lints are not events but a judgement on a task's counters: there is
 * one row per busy-polling task, updated in place (dataChanged) as its counters grow.
 *
 * Memory is bounded: beyond maxRows() the oldest rows are removed. countOf() still counts
 * them. A batch of a new generation (the loop was reset) clears the model first.
 */
class WarningsModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column { KindColumn, TaskColumn, TimeColumn, DurationColumn, MessageColumn, ColumnCount };
    Q_ENUM(Column)

    //! Extra roles, from Qt::UserRole + 1 (Qt's model convention).
    enum Role {
        KindRole = Qt::UserRole + 1, //!< int: the LintKind (any column)
        TaskIdRole, //!< quint64: the task involved, 0: none (any column)
        TimeRole, //!< qint64: loop time (ns) it was found (any column)
        SortRole, //!< the column's raw value (numbers as numbers) for sorting
    };
    Q_ENUM(Role)

    explicit WarningsModel(QObject *parent = nullptr);
    ~WarningsModel() override;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    //! Adds the lints of \a batch not seen yet; clears first when its generation is new.
    void applyBatch(const TraceBatch &batch);
    //! Removes every row and forgets the counts (a new loop).
    void clear();

    //! The most rows kept (default 1,000; at least 1): the oldest go first.
    int maxRows() const { return m_maxRows; }
    void setMaxRows(int rows);

    //! The lint in \a row (0 ≤ row < rowCount()).
    const Lint &lintAt(int row) const;
    //! Lints of \a kind seen since the last clear, rows removed for maxRows() included
    //! (busy polling: the tasks found polling).
    std::uint64_t countOf(LintKind kind) const;
    //! Lints seen since the last clear, of every kind.
    std::uint64_t totalCount() const;

    //! What a kind is called in the table ("slow callback" …).
    static QString kindText(LintKind kind);
    //! The colour of a kind: red for lost errors and tasks, orange for stalls, amber for
    //! smells.
    static QColor kindColor(LintKind kind);
    static QIcon kindIcon(LintKind kind);

private:
    static QString keyOf(const Lint &lint);
    void trim();

    std::vector<Lint> m_rows;
    //! Rows removed from the front since the last clear: a polling row's absolute position
    //! minus this is its row.
    std::uint64_t m_removed = 0;
    //! Busy-polling task → absolute position of its row.
    QHash<std::uint64_t, std::uint64_t> m_pollingRow;
    //! Busy-polling tasks whose row maxRows() removed: not added again.
    QSet<std::uint64_t> m_pollingGone;
    //! Recorded lints arrive in time order; those at the latest time seen are remembered
    //! (with how many of each) to tell them from new ones found at that same instant, which
    //! happens on a virtual clock.
    std::int64_t m_frontierNs = -1;
    QHash<QString, int> m_frontier; //!< keyOf() → how many
    std::array<std::uint64_t, 8> m_counts{};
    int m_generation = -1;
    int m_maxRows = 1000;
};

} // namespace loopscope::ui
