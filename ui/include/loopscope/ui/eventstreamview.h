#pragma once

//! \file eventstreamview.h The raw trace event stream as a table: every event the recorder
//! drained, filterable by kind and task, with a pause of its own.

#include <QAbstractTableModel>
#include <QSortFilterProxyModel>
#include <QString>
#include <QWidget>

#include <cstdint>
#include <memory>
#include <optional>

QT_BEGIN_NAMESPACE
class QComboBox;
class QLabel;
class QLineEdit;
class QTableView;
class QToolButton;
QT_END_NAMESPACE

// Only forward declarations of engine types: moc (Qt 6.4) cannot parse the engine's headers.
namespace loopscope {
struct RecordedEvent;
enum class TraceEventKind : std::uint8_t;
} // namespace loopscope

namespace loopscope::ui {

struct TraceBatch;

/*!
 * The events of the latest ticks, oldest first, at most maxRows() (the oldest go first). While
 * paused, new events are held back (at most maxRows() of them too) and appear on resume, so
 * the rows stand still to be read. A new generation (a reset loop) clears everything.
 */
class EventStreamModel : public QAbstractTableModel
{
    Q_OBJECT

public:
    enum Column {
        SequenceColumn,
        TimeColumn,
        KindColumn,
        TaskColumn,
        IdColumn,
        DetailColumn,
        ColumnCount
    };
    enum Role {
        KindRole = Qt::UserRole + 1, //!< int(TraceEventKind)
        TaskRole, //!< quint64: the task the event is about (0: none)
        TimeRole, //!< qint64: loop time, ns
    };

    explicit EventStreamModel(QObject *parent = nullptr);
    ~EventStreamModel() override;

    void ingest(const TraceBatch &batch);
    void clear();

    bool isPaused() const { return m_paused; }
    void setPaused(bool paused);
    //! Events held back while paused or deferred.
    int heldCount() const;
    /*!
     * Deferred: new events are held back as while paused, but for nobody to read them:
     * the view is not on screen (behind another tab, in a closed dock). Undeferred, they
     * are added at once (unless paused), at most maxRows() of them, so the view shows what
     * it would have shown had it been visible all along, without paying for hundreds of
     * thousands of row insertions a second meanwhile.
     */
    void setDeferred(bool deferred);
    bool isDeferred() const { return m_deferred; }
    //! Events seen since the last clear, shown or not.
    std::uint64_t totalCount() const { return m_total; }
    int maxRows() const { return m_maxRows; }
    void setMaxRows(int rows);

    //! The task an event is about (a task event's own id, a step's task, a timer's arming
    //! task, a future's creating or completing task), 0 when none.
    static std::uint64_t taskOf(const RecordedEvent &e);
    //! A one-line description of the event's fields ("step 3 → awaits future #88 (sleep)").
    static QString describe(const RecordedEvent &e, const QString &text, const QString &location);

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

Q_SIGNALS:
    void countsChanged();

private:
    struct Store; //!< the shown and the held rows (RecordedEvent is not complete here)
    void appendHeld();

    std::unique_ptr<Store> d;
    int m_generation = -1;
    int m_maxRows = 50000;
    bool m_paused = false;
    bool m_deferred = false;
    std::uint64_t m_total = 0;
};

//! Keeps the events of one kind and/or about one task.
class EventStreamFilter : public QSortFilterProxyModel
{
    Q_OBJECT

public:
    explicit EventStreamFilter(QObject *parent = nullptr);
    void setKind(std::optional<TraceEventKind> kind);
    std::optional<TraceEventKind> kind() const { return m_kind; }
    //! 0: any task.
    void setTask(std::uint64_t taskId);
    std::uint64_t task() const { return m_task; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const override;

private:
    std::optional<TraceEventKind> m_kind;
    std::uint64_t m_task = 0;
};

/*!
 * The Events panel: a kind filter, a task filter ("12" or "#12"), a Pause toggle for the
 * stream itself (the loop keeps running), a count line, and the table, which follows the
 * newest event unless scrolled up.
 */
class EventStreamView : public QWidget
{
    Q_OBJECT

public:
    explicit EventStreamView(QWidget *parent = nullptr);

    void ingest(const TraceBatch &batch);
    EventStreamModel *model() const { return m_model; }
    EventStreamFilter *filter() const { return m_filter; }
    QTableView *table() const { return m_table; }
    QComboBox *kindCombo() const { return m_kind; }
    QLineEdit *taskEdit() const { return m_task; }
    QToolButton *pauseButton() const { return m_pause; }
    QLabel *countLabel() const { return m_count; }
    //! On screen: shown and not covered (a dock tabbed behind another is "visible" in Qt's
    //! sense but outside the window).
    bool isOnScreen() const;

public Q_SLOTS:
    /*!
     * Adds the events held back while it was off screen, if it is on screen now. Called on
     * show and on each ingest(); connect a dock's visibilityChanged(true) to it (queued) for a
     * dock tab raised while no tick comes.
     */
    void catchUp();

protected:
    void showEvent(QShowEvent *event) override;

private:
    void updateCount();

    EventStreamModel *m_model = nullptr;
    EventStreamFilter *m_filter = nullptr;
    QTableView *m_table = nullptr;
    QComboBox *m_kind = nullptr;
    QLineEdit *m_task = nullptr;
    QToolButton *m_pause = nullptr;
    QLabel *m_count = nullptr;
};

} // namespace loopscope::ui
