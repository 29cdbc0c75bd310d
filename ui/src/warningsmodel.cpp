#include <loopscope/ui/warningsmodel.h>

#include <loopscope/recorder.h>
#include <loopscope/ui/tracebatch.h>

#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

#include <algorithm>

namespace loopscope::ui {

namespace {

QString durationText(Duration d)
{
    const double ms = std::chrono::duration<double, std::milli>(d).count();
    if (ms < 1.0)
        return QStringLiteral("%1 µs").arg(ms * 1000.0, 0, 'f', 0);
    if (ms < 1000.0)
        return QStringLiteral("%1 ms").arg(ms, 0, 'f', ms < 10 ? 2 : 1);
    return QStringLiteral("%1 s").arg(ms / 1000.0, 0, 'f', 3);
}

//! The kinds whose Lint::duration means something (how slow, blocked, late or busy).
bool hasDuration(LintKind kind)
{
    return kind == LintKind::SlowCallback || kind == LintKind::BlockedLoop
            || kind == LintKind::TimerDrift || kind == LintKind::BusyPolling;
}

std::size_t kindIndex(LintKind kind)
{
    return std::min<std::size_t>(std::size_t(kind), kLintKindCount);
}

} // namespace

WarningsModel::WarningsModel(QObject *parent) : QAbstractTableModel(parent) { }

WarningsModel::~WarningsModel() = default;

int WarningsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int WarningsModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString WarningsModel::kindText(LintKind kind)
{
    switch (kind) {
    case LintKind::ExceptionNeverRetrieved:
        return tr("exception never retrieved");
    case LintKind::DestroyedPending:
        return tr("destroyed pending");
    case LintKind::SlowCallback:
        return tr("slow callback");
    case LintKind::BlockedLoop:
        return tr("blocked loop");
    case LintKind::BusyPolling:
        return tr("busy polling");
    case LintKind::UnawaitedFuture:
        return tr("unawaited future");
    case LintKind::TimerDrift:
        return tr("timer drift");
    }
    return QString::fromLatin1(lintKindName(kind));
}

QColor WarningsModel::kindColor(LintKind kind)
{
    switch (kind) {
    case LintKind::ExceptionNeverRetrieved:
    case LintKind::DestroyedPending:
    case LintKind::UnawaitedFuture:
        return QColor(0xd9, 0x30, 0x25); // something was lost: red
    case LintKind::SlowCallback:
    case LintKind::BlockedLoop:
        return QColor(0xe8, 0x71, 0x0a); // everyone waited: orange
    case LintKind::BusyPolling:
    case LintKind::TimerDrift:
        return QColor(0xd9, 0x8c, 0x00); // a smell: amber
    }
    return QColor(0x80, 0x80, 0x80);
}

QIcon WarningsModel::kindIcon(LintKind kind)
{
    static std::array<QIcon, kLintKindCount + 1> icons;
    QIcon &icon = icons[kindIndex(kind)];
    if (icon.isNull()) {
        QPixmap pixmap(12, 12);
        pixmap.fill(Qt::transparent);
        QPainter painter(&pixmap);
        painter.setRenderHint(QPainter::Antialiasing);
        painter.setPen(Qt::NoPen);
        const QColor color = kindColor(kind);
        painter.setBrush(color);
        if (color == kindColor(LintKind::ExceptionNeverRetrieved)) {
            painter.drawEllipse(QRectF(1, 1, 10, 10)); // an error: a dot
        } else {
            QPainterPath triangle; // a warning: a triangle
            triangle.moveTo(6, 1);
            triangle.lineTo(11, 11);
            triangle.lineTo(1, 11);
            triangle.closeSubpath();
            painter.drawPath(triangle);
        }
        painter.setBrush(Qt::white);
        painter.drawRect(QRectF(5.25, 4.5, 1.5, 3.5));
        painter.drawRect(QRectF(5.25, 8.75, 1.5, 1.5));
        painter.end();
        icon = QIcon(pixmap);
    }
    return icon;
}

QVariant WarningsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return QVariant();
    const Lint &lint = m_rows[std::size_t(index.row())];
    switch (role) {
    case KindRole:
        return int(lint.kind);
    case TaskIdRole:
        return QVariant::fromValue<quint64>(lint.task);
    case TimeRole:
        return QVariant::fromValue<qint64>(lint.timeNs);
    case Qt::DecorationRole:
        return index.column() == KindColumn ? QVariant(kindIcon(lint.kind)) : QVariant();
    case Qt::ForegroundRole:
        return index.column() == KindColumn ? QVariant(kindColor(lint.kind)) : QVariant();
    case Qt::TextAlignmentRole:
        switch (index.column()) {
        case TaskColumn:
        case TimeColumn:
        case DurationColumn:
            return QVariant(Qt::AlignRight | Qt::AlignVCenter);
        default:
            return QVariant();
        }
    case Qt::ToolTipRole:
        return index.column() == MessageColumn ? QVariant(lint.message) : QVariant();
    case SortRole:
        switch (index.column()) {
        case KindColumn:
            return int(lint.kind);
        case TaskColumn:
            return QVariant::fromValue<quint64>(lint.task);
        case TimeColumn:
            return QVariant::fromValue<qint64>(lint.timeNs);
        case DurationColumn:
            return QVariant::fromValue<qint64>(lint.duration.count());
        default:
            return lint.message;
        }
    case Qt::DisplayRole:
        switch (index.column()) {
        case KindColumn:
            return kindText(lint.kind);
        case TaskColumn:
            return lint.task ? QStringLiteral("#%1").arg(lint.task) : QString();
        case TimeColumn:
            return QStringLiteral("%1 s").arg(double(lint.timeNs) / 1e9, 0, 'f', 3);
        case DurationColumn:
            return hasDuration(lint.kind) ? durationText(lint.duration) : QString();
        case MessageColumn:
            return lint.message;
        default:
            return QVariant();
        }
    default:
        return QVariant();
    }
}

QVariant WarningsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case KindColumn:
        return tr("Kind");
    case TaskColumn:
        return tr("Task");
    case TimeColumn:
        return tr("When");
    case DurationColumn:
        return tr("Duration");
    case MessageColumn:
        return tr("Message");
    default:
        return QVariant();
    }
}

QHash<int, QByteArray> WarningsModel::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractTableModel::roleNames();
    names.insert(KindRole, "kind");
    names.insert(TaskIdRole, "taskId");
    names.insert(TimeRole, "timeNs");
    names.insert(SortRole, "sortValue");
    return names;
}

const Lint &WarningsModel::lintAt(int row) const
{
    return m_rows[std::size_t(row)];
}

std::uint64_t WarningsModel::countOf(LintKind kind) const
{
    return m_counts[kindIndex(kind)];
}

std::uint64_t WarningsModel::totalCount() const
{
    std::uint64_t n = 0;
    for (const std::uint64_t c : m_counts)
        n += c;
    return n;
}

void WarningsModel::setMaxRows(int rows)
{
    m_maxRows = std::max(rows, 1);
    trim();
}

QString WarningsModel::keyOf(const Lint &lint)
{
    return QStringLiteral("%1/%2/%3/%4/")
                   .arg(int(lint.kind))
                   .arg(lint.task)
                   .arg(lint.id)
                   .arg(lint.duration.count())
            + lint.message;
}

void WarningsModel::clear()
{
    beginResetModel();
    m_rows.clear();
    m_removed = 0;
    m_pollingRow.clear();
    m_pollingGone.clear();
    m_frontierNs = -1;
    m_frontier.clear();
    m_counts.fill(0);
    endResetModel();
}

void WarningsModel::applyBatch(const TraceBatch &batch)
{
    if (batch.generation != m_generation) {
        if (!m_rows.empty() || totalCount() > 0)
            clear();
        m_generation = batch.generation;
    }
    if (!batch.changed)
        return;

    std::vector<const Lint *> added;
    std::vector<int> changed;
    QHash<QString, int> seenAtFrontier;
    std::int64_t newest = m_frontierNs;
    QSet<std::uint64_t> pollingNow;
    for (const Lint &lint : batch.lints) {
        if (lint.kind == LintKind::BusyPolling) {
            pollingNow.insert(lint.task);
            if (m_pollingGone.contains(lint.task))
                continue;
            const auto it = m_pollingRow.constFind(lint.task);
            if (it == m_pollingRow.cend()) {
                added.push_back(&lint);
                continue;
            }
            const int row = int(*it - m_removed);
            Lint &kept = m_rows[std::size_t(row)];
            if (kept.message != lint.message || kept.duration != lint.duration
                || kept.timeNs != lint.timeNs) {
                kept = lint;
                changed.push_back(row);
            }
            continue;
        }
        // Recorded lints come oldest first, and the recorder only forgets old ones: anything
        // before the latest instant seen was seen.
        if (lint.timeNs < m_frontierNs)
            continue;
        newest = std::max(newest, lint.timeNs);
        if (lint.timeNs == m_frontierNs) {
            const QString key = keyOf(lint);
            if (++seenAtFrontier[key] <= m_frontier.value(key))
                continue;
        }
        added.push_back(&lint);
    }

    // Remember what this batch holds at the latest instant, for the next one.
    if (newest > m_frontierNs) {
        m_frontier.clear();
        for (auto it = batch.lints.rbegin(); it != batch.lints.rend(); ++it) {
            if (it->kind == LintKind::BusyPolling)
                continue;
            if (it->timeNs != newest)
                break;
            ++m_frontier[keyOf(*it)];
        }
        m_frontierNs = newest;
    } else {
        for (auto it = seenAtFrontier.cbegin(); it != seenAtFrontier.cend(); ++it)
            m_frontier[it.key()] = std::max(m_frontier.value(it.key()), it.value());
    }
    // A task the recorder no longer reports polling cannot come back in a later batch.
    for (auto it = m_pollingGone.begin(); it != m_pollingGone.end();)
        it = pollingNow.contains(*it) ? std::next(it) : m_pollingGone.erase(it);

    for (const int row : changed)
        Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));

    if (!added.empty()) {
        const int first = int(m_rows.size());
        beginInsertRows(QModelIndex(), first, first + int(added.size()) - 1);
        m_rows.reserve(m_rows.size() + added.size());
        for (const Lint *lint : added) {
            if (lint->kind == LintKind::BusyPolling)
                m_pollingRow.insert(lint->task, m_removed + m_rows.size());
            ++m_counts[kindIndex(lint->kind)];
            m_rows.push_back(*lint);
        }
        endInsertRows();
        trim();
    }
}

void WarningsModel::trim()
{
    if (int(m_rows.size()) <= m_maxRows)
        return;
    const int excess = int(m_rows.size()) - m_maxRows;
    beginRemoveRows(QModelIndex(), 0, excess - 1);
    for (int row = 0; row < excess; ++row) {
        const Lint &lint = m_rows[std::size_t(row)];
        if (lint.kind == LintKind::BusyPolling) {
            m_pollingRow.remove(lint.task);
            m_pollingGone.insert(lint.task);
        }
    }
    m_rows.erase(m_rows.begin(), m_rows.begin() + excess);
    m_removed += std::uint64_t(excess);
    endRemoveRows();
}

} // namespace loopscope::ui
