#include "loopscope/ui/eventstreamview.h"

#include "loopscope/ui/textcelldelegate.h"
#include "loopscope/ui/tracebatch.h"

#include <loopscope/handle.h>
#include <loopscope/observer.h>
#include <loopscope/recorder.h>

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QScrollBar>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>

#include <deque>

namespace loopscope::ui {

namespace {
// The number of TraceEventKind values (LoopClosed is the last).
constexpr int kKindCount = int(TraceEventKind::LoopClosed) + 1;

QString kindName(TraceEventKind kind)
{
    return QString::fromLatin1(traceEventKindName(kind));
}
} // namespace

namespace {
struct Row
{
    RecordedEvent event;
    QString text;
    QString location;
};
} // namespace

struct EventStreamModel::Store
{
    std::deque<Row> rows;
    std::deque<Row> held;
    //! Appends \a fresh (emptied) to rows, dropping the oldest past \a keep.
    void append(EventStreamModel &model, std::deque<Row> &fresh, std::size_t keep);
};

EventStreamModel::EventStreamModel(QObject *parent)
    : QAbstractTableModel(parent), d(std::make_unique<Store>())
{
}

EventStreamModel::~EventStreamModel() = default;

void EventStreamModel::ingest(const TraceBatch &batch)
{
    if (batch.generation != m_generation) {
        clear();
        m_generation = batch.generation;
    }
    if (batch.events.empty())
        return;
    m_total += batch.events.size();
    std::deque<Row> fresh;
    // Past maxRows() only the newest would survive anyway.
    const std::size_t keep = std::size_t(m_maxRows);
    const std::size_t first = batch.events.size() > keep ? batch.events.size() - keep : 0;
    for (std::size_t i = first; i < batch.events.size(); ++i) {
        const RecordedEvent &e = batch.events[i];
        fresh.push_back(Row{ e, batch.string(e.text), batch.string(e.location) });
    }
    if (m_paused || m_deferred) {
        for (Row &row : fresh)
            d->held.push_back(std::move(row));
        while (d->held.size() > keep)
            d->held.pop_front();
        Q_EMIT countsChanged();
        return;
    }
    d->append(*this, fresh, keep);
}

void EventStreamModel::Store::append(EventStreamModel &model, std::deque<Row> &fresh,
                                     std::size_t keep)
{
    if (fresh.empty())
        return;
    while (fresh.size() > keep)
        fresh.pop_front();
    // Make room first: the oldest rows go.
    const std::size_t overflow = rows.size() + fresh.size() > keep
            ? std::min(rows.size(), rows.size() + fresh.size() - keep)
            : 0;
    if (overflow > 0) {
        model.beginRemoveRows({}, 0, int(overflow) - 1);
        rows.erase(rows.begin(), rows.begin() + qsizetype(overflow));
        model.endRemoveRows();
    }
    const int start = int(rows.size());
    model.beginInsertRows({}, start, start + int(fresh.size()) - 1);
    for (Row &row : fresh)
        rows.push_back(std::move(row));
    model.endInsertRows();
    fresh.clear();
    Q_EMIT model.countsChanged();
}

void EventStreamModel::appendHeld()
{
    d->append(*this, d->held, std::size_t(m_maxRows));
}

void EventStreamModel::clear()
{
    beginResetModel();
    d->rows.clear();
    d->held.clear();
    m_total = 0;
    endResetModel();
    Q_EMIT countsChanged();
}

void EventStreamModel::setPaused(bool paused)
{
    if (paused == m_paused)
        return;
    m_paused = paused;
    if (!paused && !m_deferred)
        appendHeld();
    Q_EMIT countsChanged();
}

void EventStreamModel::setDeferred(bool deferred)
{
    if (deferred == m_deferred)
        return;
    m_deferred = deferred;
    if (!deferred && !m_paused)
        appendHeld();
}

int EventStreamModel::heldCount() const
{
    return int(d->held.size());
}

void EventStreamModel::setMaxRows(int rows)
{
    m_maxRows = std::max(1, rows);
    if (int(d->rows.size()) > m_maxRows) {
        const int overflow = int(d->rows.size()) - m_maxRows;
        beginRemoveRows({}, 0, overflow - 1);
        d->rows.erase(d->rows.begin(), d->rows.begin() + overflow);
        endRemoveRows();
    }
    while (int(d->held.size()) > m_maxRows)
        d->held.pop_front();
    Q_EMIT countsChanged();
}

std::uint64_t EventStreamModel::taskOf(const RecordedEvent &e)
{
    switch (e.kind) {
    case TraceEventKind::TaskCreated:
    case TraceEventKind::TaskStepBegin:
    case TraceEventKind::TaskStepEnd:
    case TraceEventKind::TaskDone:
    case TraceEventKind::TaskRenamed:
    case TraceEventKind::Wakeup:
        return e.id;
    case TraceEventKind::HandleScheduled:
    case TraceEventKind::HandleStarted:
    case TraceEventKind::HandleFinished:
    case TraceEventKind::TimerArmed:
    case TraceEventKind::FutureCreated:
    case TraceEventKind::FutureDone:
    case TraceEventKind::FutureCancelled:
    case TraceEventKind::FutureFailed:
    case TraceEventKind::DoneCallbackAdded:
        return e.aux;
    case TraceEventKind::ExceptionNeverRetrieved:
        return e.related;
    default:
        return 0;
    }
}

QString EventStreamModel::describe(const RecordedEvent &e, const QString &text,
                                   const QString &location)
{
    const auto us = [](std::int64_t ns) {
        return QStringLiteral("%1 µs").arg(double(ns) / 1e3, 0, 'f', 1);
    };
    const QString future = QString::fromLatin1(futureKindName(e.futureKind));
    const QString at = location.isEmpty() ? QString() : QStringLiteral(" at ") + location;
    switch (e.kind) {
    case TraceEventKind::IterationBegin:
        return QStringLiteral("iteration %1: %2 ready, %3 timers")
                .arg(e.id)
                .arg(e.aux)
                .arg(e.related);
    case TraceEventKind::IterationEnd:
        return QStringLiteral("iteration %1 took %2").arg(e.id).arg(us(e.duration));
    case TraceEventKind::HandleScheduled:
    case TraceEventKind::HandleStarted:
        return QStringLiteral("%1 #%2%3")
                .arg(QString::fromLatin1(handleKindName(e.handleKind)))
                .arg(e.id)
                .arg(at);
    case TraceEventKind::HandleFinished:
        return QStringLiteral("%1 #%2 ran %3%4%5")
                .arg(QString::fromLatin1(handleKindName(e.handleKind)))
                .arg(e.id)
                .arg(us(e.duration), e.failed ? QStringLiteral(", threw") : QString(), at);
    case TraceEventKind::TimerArmed:
        return QStringLiteral("timer #%1 due in %2 ms%3")
                .arg(e.id)
                .arg(double(e.duration) / 1e6, 0, 'f', 3)
                .arg(at);
    case TraceEventKind::TimerFired:
        return QStringLiteral("timer #%1 fired, %2 late").arg(e.id).arg(us(e.duration));
    case TraceEventKind::TimerCancelled:
        return QStringLiteral("timer #%1 cancelled").arg(e.id);
    case TraceEventKind::TimerRescheduled:
        return QStringLiteral("timer #%1 replaces #%2").arg(e.id).arg(e.related);
    case TraceEventKind::FutureCreated:
        return QStringLiteral("%1 future #%2").arg(future).arg(e.id);
    case TraceEventKind::FutureDone:
    case TraceEventKind::FutureCancelled:
    case TraceEventKind::FutureFailed:
        return QStringLiteral("%1 future #%2%3")
                .arg(future)
                .arg(e.id)
                .arg(text.isEmpty() ? QString() : QStringLiteral(": ") + text);
    case TraceEventKind::TaskCreated:
        return QStringLiteral("'%1' (future #%2)%3").arg(text).arg(e.related).arg(at);
    case TraceEventKind::TaskStepBegin:
        return QStringLiteral("step %1").arg(e.aux);
    case TraceEventKind::TaskStepEnd:
        return e.related
                ? QStringLiteral("step %1 ran %2 → awaits %3 future #%4")
                          .arg(e.aux)
                          .arg(us(e.duration), future)
                          .arg(e.related)
                : QStringLiteral("step %1 ran %2%3")
                          .arg(e.aux)
                          .arg(us(e.duration), e.yielded ? QStringLiteral(", yielded") : QString());
    case TraceEventKind::TaskDone:
        return QString::fromLatin1(doneStatusName(e.status))
                + (text.isEmpty() ? QString() : QStringLiteral(": ") + text);
    case TraceEventKind::Wakeup:
        return QStringLiteral("woken by %1 future #%2").arg(future).arg(e.related);
    case TraceEventKind::ExecutorJobQueued:
    case TraceEventKind::ExecutorJobStarted:
    case TraceEventKind::ExecutorJobFinished:
        return QStringLiteral("job #%1 (future #%2)%3")
                .arg(e.id)
                .arg(e.related)
                .arg(e.kind == TraceEventKind::ExecutorJobFinished
                             ? QStringLiteral(" ran ") + us(e.duration)
                                     + (e.failed ? QStringLiteral(", threw") : QString())
                             : QString());
    case TraceEventKind::LoopPaused:
        return QString::fromLatin1(pauseReasonName(PauseReason(e.aux)));
    case TraceEventKind::TaskRenamed:
        return QStringLiteral("now '%1'").arg(text);
    case TraceEventKind::DoneCallbackAdded:
        return QStringLiteral("callback #%1 on future #%2%3").arg(e.related).arg(e.id).arg(at);
    case TraceEventKind::ExceptionNeverRetrieved:
        return QStringLiteral("future #%1: %2").arg(e.id).arg(text);
    case TraceEventKind::LoopResumed:
    case TraceEventKind::LoopClosed:
        break;
    }
    return {};
}

int EventStreamModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(d->rows.size());
}

int EventStreamModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant EventStreamModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= int(d->rows.size()))
        return {};
    const Row &row = d->rows[std::size_t(index.row())];
    const RecordedEvent &e = row.event;
    switch (role) {
    case KindRole:
        return int(e.kind);
    case TaskRole:
        return QVariant::fromValue<quint64>(taskOf(e));
    case TimeRole:
        return QVariant::fromValue<qint64>(e.time);
    case Qt::TextAlignmentRole:
        return index.column() <= IdColumn && index.column() != KindColumn
                ? QVariant(int(Qt::AlignRight | Qt::AlignVCenter))
                : QVariant();
    case Qt::DisplayRole:
        switch (index.column()) {
        case SequenceColumn:
            return QVariant::fromValue<quint64>(e.sequence);
        case TimeColumn:
            return QStringLiteral("%1 s").arg(double(e.time) / 1e9, 0, 'f', 6);
        case KindColumn:
            return kindName(e.kind);
        case TaskColumn: {
            const std::uint64_t task = taskOf(e);
            return task ? QVariant(QStringLiteral("#%1").arg(task)) : QVariant();
        }
        case IdColumn:
            return QVariant::fromValue<quint64>(e.id);
        case DetailColumn:
            return describe(e, row.text, row.location);
        }
        break;
    default:
        break;
    }
    return {};
}

QVariant EventStreamModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case SequenceColumn:
        return tr("#");
    case TimeColumn:
        return tr("Loop time");
    case KindColumn:
        return tr("Event");
    case TaskColumn:
        return tr("Task");
    case IdColumn:
        return tr("Id");
    case DetailColumn:
        return tr("Detail");
    }
    return {};
}

// --- filter ---------------------------------------------------------------------------------

EventStreamFilter::EventStreamFilter(QObject *parent) : QSortFilterProxyModel(parent) { }

void EventStreamFilter::setKind(std::optional<TraceEventKind> kind)
{
    if (kind == m_kind)
        return;
    m_kind = kind;
    invalidateFilter();
}

void EventStreamFilter::setTask(std::uint64_t taskId)
{
    if (taskId == m_task)
        return;
    m_task = taskId;
    invalidateFilter();
}

bool EventStreamFilter::filterAcceptsRow(int sourceRow, const QModelIndex &sourceParent) const
{
    if (!m_kind && m_task == 0)
        return true;
    const QModelIndex index = sourceModel()->index(sourceRow, 0, sourceParent);
    if (m_kind && index.data(EventStreamModel::KindRole).toInt() != int(*m_kind))
        return false;
    return m_task == 0 || index.data(EventStreamModel::TaskRole).toULongLong() == m_task;
}

// --- view -----------------------------------------------------------------------------------

EventStreamView::EventStreamView(QWidget *parent) : QWidget(parent)
{
    m_model = new EventStreamModel(this);
    m_filter = new EventStreamFilter(this);
    m_filter->setSourceModel(m_model);

    m_kind = new QComboBox;
    m_kind->setObjectName(QStringLiteral("eventKindFilter"));
    m_kind->addItem(tr("All events"));
    for (int k = 0; k < kKindCount; ++k)
        m_kind->addItem(kindName(TraceEventKind(k)), k);
    connect(m_kind, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_filter->setKind(index <= 0
                                  ? std::nullopt
                                  : std::optional(TraceEventKind(m_kind->itemData(index).toInt())));
        updateCount();
    });
    m_task = new QLineEdit;
    m_task->setObjectName(QStringLiteral("eventTaskFilter"));
    m_task->setPlaceholderText(tr("Task #"));
    m_task->setClearButtonEnabled(true);
    m_task->setMaximumWidth(120);
    connect(m_task, &QLineEdit::textChanged, this, [this](const QString &text) {
        static const QRegularExpression number(QStringLiteral("^\\s*#?(\\d+)\\s*$"));
        const QRegularExpressionMatch match = number.match(text);
        // Anything but a task number shows every task, and says so.
        m_task->setStyleSheet(text.trimmed().isEmpty() || match.hasMatch()
                                      ? QString()
                                      : QStringLiteral("color: #d93025;"));
        m_filter->setTask(match.hasMatch() ? match.captured(1).toULongLong() : 0);
        updateCount();
    });
    m_pause = new QToolButton;
    m_pause->setObjectName(QStringLiteral("eventPause"));
    m_pause->setText(tr("Pause log"));
    m_pause->setCheckable(true);
    m_pause->setToolTip(tr("Stop adding events to this list so it can be read (the loop keeps "
                           "running; the events are kept and appear on resume)"));
    connect(m_pause, &QToolButton::toggled, this, [this](bool paused) {
        m_model->setPaused(paused);
        m_pause->setText(paused ? tr("Resume log") : tr("Pause log"));
    });
    m_count = new QLabel;
    m_count->setObjectName(QStringLiteral("eventCount"));

    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("eventTable"));
    m_table->setModel(m_filter);
    m_table->setItemDelegate(new TextCellDelegate(m_table)); // new rows arrive on every tick
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 4);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setColumnWidth(EventStreamModel::SequenceColumn, 70);
    m_table->setColumnWidth(EventStreamModel::TimeColumn, 110);
    m_table->setColumnWidth(EventStreamModel::KindColumn, 150);
    m_table->setColumnWidth(EventStreamModel::TaskColumn, 60);
    m_table->setColumnWidth(EventStreamModel::IdColumn, 60);

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_kind);
    bar->addWidget(m_task);
    bar->addWidget(m_pause);
    bar->addWidget(m_count, 1);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addLayout(bar);
    layout->addWidget(m_table, 1);

    connect(m_model, &EventStreamModel::countsChanged, this, &EventStreamView::updateCount);
    updateCount();
}

void EventStreamView::ingest(const TraceBatch &batch)
{
    // Follow the newest event unless the reader scrolled up.
    QScrollBar *bar = m_table->verticalScrollBar();
    const bool atEnd = bar->value() >= bar->maximum() - 1;
    // Off screen in a shown window (a hidden tab page, a closed dock, or a dock tabbed
    // behind another, which Qt keeps "visible" but moves out of the window): hold the events
    // back until shown. Inserting every event into the model and its filter proxy for
    // nobody to see was a tenth of the UI thread's time at 100,000 events a second.
    const bool onScreen = isOnScreen();
    m_model->setDeferred(window()->isVisible() && !onScreen);
    m_model->ingest(batch);
    if (atEnd && !m_model->isPaused() && onScreen)
        m_table->scrollToBottom();
}

bool EventStreamView::isOnScreen() const
{
    return isVisible() && !visibleRegion().isEmpty();
}

void EventStreamView::catchUp()
{
    if (!m_model->isDeferred() || !isOnScreen())
        return;
    m_model->setDeferred(false);
    if (!m_model->isPaused())
        m_table->scrollToBottom();
}

void EventStreamView::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    // Queued: the layout that puts it on screen is not done yet.
    if (m_model->isDeferred())
        QMetaObject::invokeMethod(this, &EventStreamView::catchUp, Qt::QueuedConnection);
}

void EventStreamView::updateCount()
{
    QString text = tr("%L1 shown of %L2 kept · %L3 events this loop")
                           .arg(m_filter->rowCount())
                           .arg(m_model->rowCount())
                           .arg(m_model->totalCount());
    if (m_model->isPaused())
        text += tr(" · paused: %L1 new held back").arg(m_model->heldCount());
    m_count->setText(text);
}

} // namespace loopscope::ui
