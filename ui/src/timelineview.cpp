#include "loopscope/ui/timelineview.h"

#include "loopscope/ui/timelinemodel.h"
#include "statictextcache.h"

#include <loopscope/handle.h>
#include <loopscope/observer.h>

#include <QFileInfo>
#include <QFile>
#include <QImage>
#include <QKeyEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QSvgGenerator>
#include <QPainterPath>
#include <QScrollBar>
#include <QToolTip>
#include <QWheelEvent>

#include <algorithm>
#include <array>
#include <cmath>

namespace loopscope::ui {

namespace {

constexpr double kMinNsPerPixel = 0.01;
constexpr double kMaxNsPerPixel = 1e12;
//! Ticks at least this far apart.
constexpr double kMinTickSpacing = 90;

QColor stateColor(SegmentState state)
{
    switch (state) {
    case SegmentState::Running:
        return QColor(0x2e, 0x9e, 0x44);
    case SegmentState::Ready:
        return QColor(0xf2, 0xc1, 0x4e);
    case SegmentState::Awaiting:
        return QColor(0x9d, 0xb4, 0xd6);
    case SegmentState::InExecutor:
        return QColor(0xa7, 0x7b, 0xd8);
    case SegmentState::Unknown:
        return QColor(0x99, 0x99, 0x99);
    }
    return Qt::gray;
}

const QColor kCallbackColor(0x4a, 0x7f, 0xd0);
const QColor kJobColor(0x7b, 0x4f, 0xb8);
const QColor kFailedColor(0xd0, 0x30, 0x30);
const QColor kCancelledColor(0xe0, 0x80, 0x20);
const QColor kSlowColor(0xe0, 0x20, 0x20);
const QColor kWakeupColor(0xd0, 0x40, 0xa0);
const QColor kSelectionColor(0x30, 0x70, 0xe0);
const QColor kPausedColor(0xc0, 0x60, 0x00);

QColor segmentColor(const TimelineLane &lane, const TimelineSegment &s)
{
    if (lane.kind == LaneKind::Loop && s.state == SegmentState::Running)
        return s.handleKind == HandleKind::TaskStep ? stateColor(SegmentState::Running)
                                                    : kCallbackColor;
    if (lane.kind == LaneKind::Executor && s.state == SegmentState::Running)
        return kJobColor;
    return stateColor(s.state);
}

//! Which state a pixel standing for several segments shows: work over waiting.
int statePriority(SegmentState state)
{
    switch (state) {
    case SegmentState::Running:
        return 4;
    case SegmentState::Ready:
        return 3;
    case SegmentState::InExecutor:
        return 2;
    case SegmentState::Awaiting:
        return 1;
    case SegmentState::Unknown:
        return 0;
    }
    return 0;
}

//! The 1-2-5 step at least \a minimum long.
double niceStep(double minimum)
{
    const double magnitude = std::pow(10.0, std::floor(std::log10(std::max(minimum, 1e-3))));
    for (const double m : { 1.0, 2.0, 5.0, 10.0 })
        if (m * magnitude >= minimum)
            return m * magnitude;
    return 10 * magnitude;
}

} // namespace

QString TimelineView::tickLabel(double t, double step)
{
    struct Unit
    {
        double ns;
        const char *name;
    };
    static constexpr std::array<Unit, 4> kUnits{
        { { 1e9, "s" }, { 1e6, "ms" }, { 1e3, "\xc2\xb5s" }, { 1, "ns" } }
    };
    // The largest unit the ticks are at least a tenth of: 500 ms ticks read "2.5 s".
    Unit unit = kUnits.back();
    for (const Unit &u : kUnits) {
        if (step * 10 >= u.ns) {
            unit = u;
            break;
        }
    }
    const int decimals = std::max(0, int(std::ceil(std::log10(unit.ns / step) - 1e-9)));
    return QString::number(t / unit.ns, 'f', decimals) + QLatin1Char(' ')
            + QString::fromUtf8(unit.name);
}

QString TimelineView::formatDuration(double ns)
{
    const double a = std::abs(ns);
    if (a >= 1e9)
        return QString::number(ns / 1e9, 'g', 4) + QStringLiteral(" s");
    if (a >= 1e6)
        return QString::number(ns / 1e6, 'g', 4) + QStringLiteral(" ms");
    if (a >= 1e3)
        return QString::number(ns / 1e3, 'g', 4) + QStringLiteral(" \u00b5s");
    return QString::number(ns, 'g', 4) + QStringLiteral(" ns");
}

TimelineView::TimelineView(QWidget *parent)
    : QAbstractScrollArea(parent), m_text(std::make_unique<StaticTextCache>())
{
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOn);
    setVerticalScrollBarPolicy(Qt::ScrollBarAsNeeded);
    viewport()->setMouseTracking(true);
    viewport()->setAttribute(Qt::WA_OpaquePaintEvent);
    setFocusPolicy(Qt::StrongFocus);
    setMinimumSize(320, 120);
    m_rowHeight = std::max(16, fontMetrics().height() + 4);
    connect(horizontalScrollBar(), &QScrollBar::valueChanged, this, [this](int value) {
        if (m_updatingScrollBars || !m_model)
            return;
        setFollowLive(false);
        m_viewStart = m_hScrollOrigin + double(value) * m_hScrollUnit;
        viewport()->update();
        emitVisibleRange();
    });
}

TimelineView::~TimelineView() = default;

void TimelineView::setModel(TimelineModel *model)
{
    m_model = model;
    m_hoverLane = -1;
    m_selectedTask = 0;
    clearSelection();
    modelUpdated();
}

// --- geometry -------------------------------------------------------------------------

int TimelineView::axisHeight() const
{
    return fontMetrics().height() + 10;
}

int TimelineView::legendHeight() const
{
    return fontMetrics().height() + 6;
}

int TimelineView::timeAreaWidth() const
{
    return std::max(1, viewport()->width() - m_labelWidth);
}

int TimelineView::rowsHeight() const
{
    return std::max(0, viewport()->height() - axisHeight() - legendHeight());
}

qint64 TimelineView::timeAt(int x) const
{
    return qint64(std::llround(m_viewStart + double(x - m_labelWidth) * m_nsPerPixel));
}

double TimelineView::xAt(qint64 t) const
{
    return double(m_labelWidth) + (double(t) - m_viewStart) / m_nsPerPixel;
}

int TimelineView::firstVisibleLane() const
{
    return verticalScrollBar()->value() / m_rowHeight;
}

int TimelineView::laneAt(int y) const
{
    if (!m_model || y < rowsTop() || y >= rowsTop() + rowsHeight())
        return -1;
    const int lane = (y - rowsTop() + verticalScrollBar()->value()) / m_rowHeight;
    return lane < m_model->laneCount() ? lane : -1;
}

qint64 TimelineView::visibleStart() const
{
    return qint64(std::llround(m_viewStart));
}

qint64 TimelineView::visibleEnd() const
{
    return qint64(std::llround(m_viewStart + double(timeAreaWidth()) * m_nsPerPixel));
}

// --- navigation -----------------------------------------------------------------------

void TimelineView::setVisibleRange(qint64 t0, qint64 t1)
{
    if (t1 <= t0)
        return;
    m_nsPerPixel =
            std::clamp(double(t1 - t0) / double(timeAreaWidth()), kMinNsPerPixel, kMaxNsPerPixel);
    m_viewStart = double(t0);
    m_userZoomed = true;
    updateScrollBars();
    viewport()->update();
    emitVisibleRange();
}

void TimelineView::setViewStart(double start)
{
    m_viewStart = start;
    updateScrollBars();
    viewport()->update();
    emitVisibleRange();
}

void TimelineView::setFollowLive(bool follow)
{
    if (m_followLive == follow)
        return;
    m_followLive = follow;
    if (follow)
        applyFollowLive();
    viewport()->update();
    Q_EMIT followLiveChanged(follow);
}

void TimelineView::applyFollowLive()
{
    if (!m_model || m_model->isEmpty())
        return;
    const double latest = double(m_model->latestTime());
    if (!m_userZoomed) {
        // Until the user zooms, show everything so far, up to ten seconds across.
        const double span = std::max(latest - double(m_model->historyStart()), 1e6) * 1.05;
        m_nsPerPixel =
                std::clamp(span / double(timeAreaWidth()), 1e3, 1e10 / double(timeAreaWidth()));
    }
    m_viewStart = latest - double(timeAreaWidth()) * m_nsPerPixel;
    updateScrollBars();
    emitVisibleRange();
}

void TimelineView::zoomBy(double factor, int anchorX)
{
    if (!(factor > 0))
        return;
    const double anchor = m_viewStart + double(anchorX - m_labelWidth) * m_nsPerPixel;
    m_nsPerPixel = std::clamp(m_nsPerPixel / factor, kMinNsPerPixel, kMaxNsPerPixel);
    m_viewStart = anchor - double(anchorX - m_labelWidth) * m_nsPerPixel;
    m_userZoomed = true;
    updateScrollBars();
    viewport()->update();
    emitVisibleRange();
}

void TimelineView::zoomToFit()
{
    if (!m_model || m_model->isEmpty())
        return;
    setFollowLive(false);
    const qint64 t0 = m_model->historyStart();
    const qint64 t1 = std::max<qint64>(m_model->latestTime(), t0 + 1000);
    setVisibleRange(t0, t1);
}

void TimelineView::centerOn(qint64 t)
{
    setFollowLive(false);
    setViewStart(double(t) - double(timeAreaWidth()) * m_nsPerPixel / 2);
}

void TimelineView::clearSelection()
{
    if (!hasSelection())
        return;
    m_selectionStart = m_selectionEnd = 0;
    viewport()->update();
}

void TimelineView::setSelectedTask(quint64 taskId)
{
    m_selectedTask = taskId;
    if (m_model && taskId) {
        const int lane = m_model->laneOfTask(taskId);
        if (lane >= 0) {
            const int y = lane * m_rowHeight;
            QScrollBar *v = verticalScrollBar();
            if (y < v->value() || y + m_rowHeight > v->value() + rowsHeight())
                v->setValue(y - rowsHeight() / 2);
        }
    }
    viewport()->update();
}

void TimelineView::modelUpdated()
{
    if (m_followLive)
        applyFollowLive();
    updateScrollBars();
    viewport()->update();
}

void TimelineView::updateScrollBars()
{
    m_updatingScrollBars = true;
    const int lanes = m_model ? m_model->laneCount() : 0;
    QScrollBar *v = verticalScrollBar();
    v->setRange(0, std::max(0, lanes * m_rowHeight - rowsHeight()));
    v->setPageStep(std::max(1, rowsHeight()));
    v->setSingleStep(m_rowHeight);

    QScrollBar *h = horizontalScrollBar();
    if (!m_model || m_model->isEmpty()) {
        h->setRange(0, 0);
    } else {
        // The bar spans the history and wherever the view is now; its unit keeps the range
        // within int however long the history and deep the zoom.
        const double span = double(timeAreaWidth()) * m_nsPerPixel;
        const double lo = std::min(double(m_model->historyStart()), m_viewStart);
        const double hi = std::max(double(m_model->latestTime()) - span, m_viewStart);
        m_hScrollUnit = std::max({ m_nsPerPixel, (hi - lo) / 1e8, 1e-9 });
        m_hScrollOrigin = lo;
        h->setRange(0, int(std::llround((hi - lo) / m_hScrollUnit)));
        h->setPageStep(std::max(1, int(std::llround(span / m_hScrollUnit))));
        h->setSingleStep(std::max(1, int(std::llround(20 * m_nsPerPixel / m_hScrollUnit))));
        h->setValue(int(std::llround((m_viewStart - lo) / m_hScrollUnit)));
    }
    m_updatingScrollBars = false;
}

void TimelineView::emitVisibleRange()
{
    Q_EMIT visibleRangeChanged(visibleStart(), visibleEnd());
}

void TimelineView::scrollContentsBy(int, int)
{
    viewport()->update();
}

// --- painting -------------------------------------------------------------------------

void TimelineView::paintEvent(QPaintEvent *)
{
    QPainter p(viewport());
    p.fillRect(viewport()->rect(), palette().base());
    paintLanes(p, viewport()->rect());
    paintWakeups(p);
    paintSelection(p);
    paintAxis(p, true);
    paintLegend(p);
}

void TimelineView::drawAxisTicks(QPainter &a, int w, int h) const
{
    a.setPen(palette().windowText().color());
    a.setFont(font());
    const double step = niceStep(kMinTickSpacing * m_nsPerPixel);
    const double first = std::ceil(m_viewStart / step) * step;
    const double end = m_viewStart + double(w) * m_nsPerPixel;
    for (double t = first; t <= end; t += step) {
        const double x = (t - m_viewStart) / m_nsPerPixel;
        a.drawLine(QPointF(x, h - 6), QPointF(x, h));
        a.drawText(QPointF(x + 3, h - 8), tickLabel(t, step));
        // Minor ticks: five per step.
        for (int i = 1; i < 5; ++i) {
            const double mx = x + double(i) * step / 5 / m_nsPerPixel;
            a.drawLine(QPointF(mx, h - 3), QPointF(mx, h));
        }
    }
    a.drawLine(QPointF(0, h - 0.5), QPointF(w, h - 0.5));
}

void TimelineView::paintAxis(QPainter &p, bool cached)
{
    const int w = timeAreaWidth();
    const int h = axisHeight();
    if (!cached) {
        // Vector output (SVG): draw the ticks themselves, not a pixmap of them.
        p.save();
        p.fillRect(QRect(m_labelWidth, 0, w, h), palette().window());
        p.translate(m_labelWidth, 0);
        p.setClipRect(QRect(0, 0, w, h));
        drawAxisTicks(p, w, h);
        p.restore();
    } else {
        const qreal dpr = devicePixelRatioF();
        if (m_axisCache.isNull() || m_axisCacheStart != m_viewStart
            || m_axisCacheScale != m_nsPerPixel || m_axisCacheWidth != w
            || m_axisCache.devicePixelRatio() != dpr) {
            m_axisCache = QPixmap(QSize(w, h) * dpr);
            m_axisCache.setDevicePixelRatio(dpr);
            m_axisCache.fill(palette().window().color());
            QPainter a(&m_axisCache);
            drawAxisTicks(a, w, h);
            m_axisCacheStart = m_viewStart;
            m_axisCacheScale = m_nsPerPixel;
            m_axisCacheWidth = w;
        }
        p.drawPixmap(m_labelWidth, 0, m_axisCache);
    }
    // The corner above the labels: the zoom level and live state.
    const QRect corner(0, 0, m_labelWidth, h);
    p.fillRect(corner, palette().window());
    p.setPen(palette().windowText().color());
    const QString scale =
            formatDuration(kMinTickSpacing * m_nsPerPixel) + QStringLiteral(" / tick");
    p.drawText(corner.adjusted(4, 0, -4, 0), Qt::AlignVCenter | Qt::AlignLeft,
               m_followLive ? QStringLiteral("\u25cf live  ") + scale : scale);
}

void TimelineView::paintLanes(QPainter &p, const QRect &)
{
    const int top = rowsTop();
    const int bottom = top + rowsHeight();
    const int width = viewport()->width();
    p.save();
    p.setClipRect(QRect(0, top, width, rowsHeight()));
    if (!m_model) {
        p.restore();
        return;
    }
    const int scroll = verticalScrollBar()->value();
    const int first = scroll / m_rowHeight;
    const int last = std::min(m_model->laneCount() - 1, (scroll + rowsHeight()) / m_rowHeight);
    const qint64 t0 = timeAt(m_labelWidth) - 1;
    const qint64 t1 = timeAt(width) + 1;
    const double latest = double(m_model->latestTime());
    const double left = m_labelWidth;
    const double right = width;

    // Light grid at the axis ticks.
    {
        const double step = niceStep(kMinTickSpacing * m_nsPerPixel);
        p.setPen(QColor(0, 0, 0, 20));
        for (double t = std::ceil(m_viewStart / step) * step; xAt(qint64(t)) < right; t += step)
            p.drawLine(QPointF(xAt(qint64(t)), top), QPointF(xAt(qint64(t)), bottom));
    }

    const quint64 hovered = hoveredTask();
    for (int lane = first; lane <= last; ++lane) {
        const int y = top + lane * m_rowHeight - scroll;
        const TimelineLane &l = m_model->lane(lane);
        const QRect row(m_labelWidth, y, width - m_labelWidth, m_rowHeight);
        if (l.kind == LaneKind::Task && (l.id == m_selectedTask || l.id == hovered))
            p.fillRect(row,
                       l.id == m_selectedTask ? QColor(0x30, 0x70, 0xe0, 40) : QColor(0, 0, 0, 14));
        else if (lane % 2)
            p.fillRect(row, palette().alternateBase());
        if (l.kind != LaneKind::Task)
            p.fillRect(row, QColor(0x40, 0x60, 0x90, 18));

        const auto segs = m_model->segments(lane, t0, t1);
        const double full = m_rowHeight - 4;
        std::size_t i = 0;
        double activeUntil = -1; // right edge of the last running/ready bar drawn
        while (i < segs.size()) {
            const TimelineSegment &s = segs[i];
            const double end = s.isOpen() ? std::max(latest, double(s.start)) : double(s.end);
            const double x0 = std::max(left, xAt(s.start));
            const double x1 =
                    std::min(right, double(m_labelWidth) + (end - m_viewStart) / m_nsPerPixel);
            double px0 = std::floor(x0);
            double px1 = std::max(px0 + 1, std::ceil(x1));
            // Everything ending within these pixels would paint over them: jump to the first
            // segment reaching beyond (a binary search), so a zoomed-out lane costs one step
            // per pixel, not one per segment. A segment wider than a pixel leaves its last
            // pixel to what follows (a step right after a long wait must show).
            const bool wide = px1 - px0 > 1;
            const double coveredUntil =
                    m_viewStart + ((wide ? px1 - 1 : px1) - double(m_labelWidth)) * m_nsPerPixel;
            const auto rest = segs.subspan(i + 1);
            const auto next = std::partition_point(rest.begin(), rest.end(),
                                                   [coveredUntil](const TimelineSegment &n) {
                                                       return double(n.end) < coveredUntil;
                                                   });
            // A pixel standing for several segments shows the busiest of them (a 20 µs step
            // between a ready wait and a long await must not vanish); a few are looked at, no
            // more, to keep the cost per pixel bounded.
            const TimelineSegment *shown = &s;
            constexpr std::ptrdiff_t kLookedAt = 16;
            if (!wide)
                for (auto it = rest.begin(); it != next && it - rest.begin() < kLookedAt; ++it)
                    if (statePriority(it->state) > statePriority(shown->state))
                        shown = &*it;
            // Waiting is quieter than work: thinner bars, never painted over a step that
            // shares their first pixel.
            const bool quiet =
                    shown->state == SegmentState::Awaiting || shown->state == SegmentState::Unknown;
            if (quiet) {
                px0 = std::max(px0, activeUntil);
                px1 = std::max(px1, px0 + 1);
            } else {
                activeUntil = px1;
            }
            const double h = quiet ? full / 2 : full;
            const QRectF r(px0, y + 2 + (full - h) / 2, px1 - px0, h);
            if (shown->state == SegmentState::Unknown)
                p.fillRect(r, QBrush(stateColor(SegmentState::Unknown), Qt::BDiagPattern));
            else
                p.fillRect(r, segmentColor(l, *shown));
            if (shown->failed)
                p.fillRect(QRectF(px0, y + 2, px1 - px0, 2), kFailedColor);
            i = i + 1 + std::size_t(next - rest.begin());
        }

        if (l.kind == LaneKind::Loop) {
            // Paused spans: cross-hatched over the whole loop row.
            for (const TimelineSegment &pause : m_model->pauses(t0, t1)) {
                const double end = pause.isOpen() ? latest : double(pause.end);
                const double x0 = std::floor(std::max(left, xAt(pause.start)));
                const double x1 =
                        std::min(right, double(m_labelWidth) + (end - m_viewStart) / m_nsPerPixel);
                p.fillRect(QRectF(x0, y, std::max(1.0, x1 - x0), m_rowHeight),
                           QBrush(kPausedColor, Qt::DiagCrossPattern));
            }
            // Iterations as a thin alternating band along the bottom of the loop's row.
            const auto its = m_model->iterations(t0, t1);
            std::size_t k = 0;
            while (k < its.size()) {
                const TimelineSegment &it = its[k];
                const double px0 = std::floor(std::max(left, xAt(it.start)));
                const double end = it.isOpen() ? latest : double(it.end);
                const double x1 =
                        std::min(right, double(m_labelWidth) + (end - m_viewStart) / m_nsPerPixel);
                const double px1 = std::max(px0 + 1, std::ceil(x1));
                p.fillRect(QRectF(px0, y + m_rowHeight - 3, px1 - px0, 2),
                           it.id % 2 ? QColor(0x50, 0x50, 0x50) : QColor(0xb0, 0xb0, 0xb0));
                // As for segments: skip, by binary search, what ends inside the drawn pixels.
                const double coveredUntil =
                        m_viewStart + (px1 - double(m_labelWidth)) * m_nsPerPixel;
                const auto rest = its.subspan(k + 1);
                const auto next = std::partition_point(rest.begin(), rest.end(),
                                                       [coveredUntil](const TimelineSegment &n) {
                                                           return double(n.end) < coveredUntil;
                                                       });
                k = k + 1 + std::size_t(next - rest.begin());
            }
        }

        // Markers, one per pixel and kind at most.
        std::array<double, 6> lastMarkerPx;
        lastMarkerPx.fill(-1);
        for (const TimelineMarker &m : m_model->markers(lane, t0, t1)) {
            const double x = std::floor(xAt(m.time)) + 0.5;
            double &lastPx = lastMarkerPx[std::size_t(m.kind)];
            if (x == lastPx)
                continue;
            lastPx = x;
            const double yc = y + m_rowHeight / 2.0;
            switch (m.kind) {
            case MarkerKind::Created:
                p.setPen(QPen(QColor(0x30, 0x30, 0x30), 1));
                p.drawLine(QPointF(x, y + 2), QPointF(x, y + m_rowHeight - 2));
                p.drawLine(QPointF(x, y + 2), QPointF(x + 4, y + 2));
                break;
            case MarkerKind::Finished:
                p.setPen(QPen(QColor(0x30, 0x30, 0x30), 2));
                p.drawLine(QPointF(x, y + 2), QPointF(x, y + m_rowHeight - 2));
                break;
            case MarkerKind::Cancelled:
                p.setPen(QPen(kCancelledColor, 2));
                p.drawLine(QPointF(x - 3, yc - 3), QPointF(x + 3, yc + 3));
                p.drawLine(QPointF(x - 3, yc + 3), QPointF(x + 3, yc - 3));
                break;
            case MarkerKind::Failed: {
                p.setPen(Qt::NoPen);
                p.setBrush(kFailedColor);
                p.drawEllipse(QPointF(x, yc), 4, 4);
                p.setBrush(Qt::NoBrush);
                break;
            }
            case MarkerKind::SlowCallback: {
                QPainterPath tri;
                tri.moveTo(x - 4, y);
                tri.lineTo(x + 4, y);
                tri.lineTo(x, y + 6);
                tri.closeSubpath();
                p.fillPath(tri, kSlowColor);
                break;
            }
            case MarkerKind::Gap:
                p.setPen(QPen(kFailedColor, 1, Qt::DashLine));
                p.drawLine(QPointF(x, y), QPointF(x, y + m_rowHeight));
                break;
            }
        }
    }

    // The label column, over anything that spilled into it.
    p.setClipRect(QRect(0, top, m_labelWidth, rowsHeight()));
    p.fillRect(QRect(0, top, m_labelWidth, rowsHeight()), palette().window());
    for (int lane = first; lane <= last; ++lane) {
        const int y = top + lane * m_rowHeight - scroll;
        const TimelineLane &l = m_model->lane(lane);
        QColor color = palette().windowText().color();
        QString text = l.name;
        if (l.kind == LaneKind::Task) {
            if (text != QStringLiteral("Task-%1").arg(l.id))
                text += QStringLiteral(" #%1").arg(l.id);
            if (l.isDone()) {
                color = l.status == DoneStatus::Failed      ? kFailedColor
                        : l.status == DoneStatus::Cancelled ? kCancelledColor
                                                            : palette().placeholderText().color();
            }
        } else {
            QFont bold = font();
            bold.setBold(true);
            p.setFont(bold);
        }
        if (l.kind == LaneKind::Task && l.id == m_selectedTask)
            p.fillRect(QRect(0, y, m_labelWidth, m_rowHeight), QColor(0x30, 0x70, 0xe0, 40));
        p.setPen(color);
        m_text->draw(p, QRect(6, y, m_labelWidth - 10, m_rowHeight),
                     Qt::AlignVCenter | Qt::AlignLeft, text, Qt::ElideMiddle);
        p.setFont(font());
    }
    p.setPen(palette().mid().color());
    p.drawLine(QPointF(m_labelWidth - 0.5, top), QPointF(m_labelWidth - 0.5, bottom));
    p.restore();
}

void TimelineView::paintWakeups(QPainter &p)
{
    const quint64 task = hoveredTask();
    if (!m_model || !task)
        return;
    const int scroll = verticalScrollBar()->value();
    auto laneY = [&](int lane) {
        return double(rowsTop() + lane * m_rowHeight - scroll) + m_rowHeight / 2.0;
    };
    p.save();
    p.setClipRect(QRect(m_labelWidth, rowsTop(), timeAreaWidth(), rowsHeight()));
    p.setRenderHint(QPainter::Antialiasing);
    const qint64 t0 = timeAt(m_labelWidth);
    const qint64 t1 = timeAt(viewport()->width());
    const auto edges = m_model->wakeups(t0, t1);
    // A bound on the work for a hover: a zoomed-out view may hold millions of edges.
    constexpr std::size_t kMaxExamined = 200'000;
    std::size_t examined = 0;
    for (const WakeupEdge &w : edges) {
        if (++examined > kMaxExamined)
            break;
        if (w.task != task && w.sourceTask != task)
            continue;
        const int to = m_model->laneOfTask(w.task);
        if (to < 0)
            continue;
        int from = w.sourceTask ? m_model->laneOfTask(w.sourceTask) : -1;
        if (from < 0 && w.sourceThread)
            from = m_model->laneOfThread(w.sourceThread);
        if (from < 0)
            from = 0; // a timer or plain callback: the loop
        const QPointF a(xAt(w.sourceTime >= 0 ? w.sourceTime : w.time), laneY(from));
        const QPointF b(xAt(w.time), laneY(to));
        p.setPen(QPen(kWakeupColor, 1.5));
        QPainterPath path(a);
        const double bend = std::max(12.0, std::abs(b.y() - a.y()) / 3);
        path.cubicTo(a + QPointF(bend, 0), b - QPointF(bend, 0), b);
        p.drawPath(path);
        QPainterPath head;
        head.moveTo(b);
        head.lineTo(b + QPointF(-7, -4));
        head.lineTo(b + QPointF(-7, 4));
        head.closeSubpath();
        p.fillPath(head, kWakeupColor);
    }
    p.restore();
}

void TimelineView::paintSelection(QPainter &p)
{
    if (!hasSelection() && m_drag != Drag::Select)
        return;
    const double x0 = std::max(double(m_labelWidth), xAt(m_selectionStart));
    const double x1 = std::min(double(viewport()->width()), xAt(m_selectionEnd));
    if (x1 < x0)
        return;
    const QRectF r(x0, rowsTop(), std::max(1.0, x1 - x0), rowsHeight());
    QColor fill = kSelectionColor;
    fill.setAlpha(40);
    p.fillRect(r, fill);
    p.setPen(kSelectionColor);
    p.drawLine(QPointF(r.left(), r.top()), QPointF(r.left(), r.bottom()));
    p.drawLine(QPointF(r.right(), r.top()), QPointF(r.right(), r.bottom()));
    const QString text = formatDuration(double(m_selectionEnd - m_selectionStart));
    const QFontMetrics fm = fontMetrics();
    const int tw = fm.horizontalAdvance(text) + 8;
    const QRectF label(r.center().x() - tw / 2.0, r.top() + 2, tw, fm.height() + 2);
    p.fillRect(label, kSelectionColor);
    p.setPen(Qt::white);
    p.drawText(label, Qt::AlignCenter, text);
}

void TimelineView::paintLegend(QPainter &p)
{
    const int h = legendHeight();
    const QRect area(0, viewport()->height() - h, viewport()->width(), h);
    p.fillRect(area, palette().window());
    p.setPen(palette().mid().color());
    p.drawLine(area.topLeft(), area.topRight());
    struct Entry
    {
        QColor color;
        const char *name;
    };
    const std::array<Entry, 11> entries{ {
            { stateColor(SegmentState::Running), "running" },
            { kCallbackColor, "callback" },
            { stateColor(SegmentState::Ready), "ready" },
            { stateColor(SegmentState::Awaiting), "awaiting" },
            { stateColor(SegmentState::InExecutor), "in executor" },
            { kJobColor, "executor job" },
            { stateColor(SegmentState::Unknown), "unknown (dropped)" },
            { kFailedColor, "failed" },
            { kCancelledColor, "cancelled" },
            { kSlowColor, "\xe2\x96\xbc slow" },
            { kPausedColor, "loop paused" },
    } };
    int x = 6;
    for (const Entry &e : entries) {
        const QString name = QString::fromUtf8(e.name);
        p.fillRect(QRect(x, area.top() + (h - 10) / 2, 10, 10), e.color);
        x += 14;
        p.setPen(palette().windowText().color());
        const QStaticText &shaped = m_text->get(name, area.width(), p.font());
        const int nameWidth = int(std::ceil(shaped.size().width()));
        m_text->draw(p, QRect(x, area.top(), nameWidth + 2, h), Qt::AlignVCenter, name);
        x += nameWidth + 12;
        if (x > area.right())
            break;
    }
}

// --- interaction ----------------------------------------------------------------------

quint64 TimelineView::hoveredTask() const
{
    return taskNear(m_hoverLane, m_hoverX);
}

quint64 TimelineView::taskNear(int lane, int x) const
{
    if (!m_model || lane < 0 || lane >= m_model->laneCount())
        return 0;
    const TimelineLane &l = m_model->lane(lane);
    if (l.kind == LaneKind::Task)
        return l.id;
    const qint64 t = timeAt(x);
    if (const quint64 exact = m_model->taskAt(lane, t))
        return exact;
    constexpr int kSlop = 3;
    quint64 best = 0;
    double bestDistance = 0;
    for (const TimelineSegment &s : m_model->segments(lane, timeAt(x - kSlop), timeAt(x + kSlop))) {
        if (!s.task)
            continue;
        const double end = s.isOpen() ? double(m_model->latestTime()) : double(s.end);
        const double distance = double(t) < double(s.start) ? double(s.start) - double(t)
                : double(t) > end                           ? double(t) - end
                                                            : 0;
        if (!best || distance < bestDistance) {
            best = s.task;
            bestDistance = distance;
        }
    }
    return best;
}

void TimelineView::resizeEvent(QResizeEvent *event)
{
    QAbstractScrollArea::resizeEvent(event);
    m_labelWidth = std::clamp(viewport()->width() / 5, 80, 220);
    if (m_followLive)
        applyFollowLive();
    updateScrollBars();
}

void TimelineView::wheelEvent(QWheelEvent *event)
{
    const QPoint angle = event->angleDelta();
    const QPointF pos = event->position();
    if (pos.x() < m_labelWidth || (event->modifiers() & Qt::ShiftModifier)) {
        const int delta = angle.y() ? angle.y() : angle.x();
        QScrollBar *v = verticalScrollBar();
        v->setValue(v->value() - delta * 3 * m_rowHeight / 120);
        event->accept();
        return;
    }
    if (std::abs(angle.x()) > std::abs(angle.y())) {
        setFollowLive(false);
        setViewStart(m_viewStart - double(angle.x()) / 120.0 * 60 * m_nsPerPixel);
        event->accept();
        return;
    }
    if (angle.y() == 0)
        return;
    const double factor = std::pow(1.25, double(angle.y()) / 120.0);
    // Following live, the latest time stays at the right edge whatever the cursor.
    const int anchor = m_followLive ? viewport()->width() : int(std::lround(pos.x()));
    zoomBy(factor, anchor);
    event->accept();
}

void TimelineView::mousePressEvent(QMouseEvent *event)
{
    m_pressPos = event->position().toPoint();
    m_pressViewStart = m_viewStart;
    m_dragMoved = false;
    const bool select = event->button() == Qt::RightButton
            || (event->button() == Qt::LeftButton && (event->modifiers() & Qt::ShiftModifier));
    if (select && m_pressPos.x() >= m_labelWidth) {
        m_drag = Drag::Select;
        m_selectionAnchor = timeAt(m_pressPos.x());
        m_selectionStart = m_selectionEnd = m_selectionAnchor;
    } else if (event->button() == Qt::LeftButton) {
        m_drag = Drag::Pan;
    } else {
        m_drag = Drag::None;
    }
    event->accept();
}

void TimelineView::mouseMoveEvent(QMouseEvent *event)
{
    const QPoint pos = event->position().toPoint();
    if (m_drag != Drag::None && (pos - m_pressPos).manhattanLength() >= 3)
        m_dragMoved = true;
    if (m_drag == Drag::Pan && m_dragMoved) {
        setFollowLive(false);
        setViewStart(m_pressViewStart - double(pos.x() - m_pressPos.x()) * m_nsPerPixel);
        const int dy = pos.y() - m_pressPos.y();
        if (dy) {
            QScrollBar *v = verticalScrollBar();
            v->setValue(v->value() - dy);
            m_pressPos.setY(pos.y());
        }
    } else if (m_drag == Drag::Select) {
        const qint64 t = timeAt(std::max(pos.x(), m_labelWidth));
        m_selectionStart = std::min(m_selectionAnchor, t);
        m_selectionEnd = std::max(m_selectionAnchor, t);
        viewport()->update();
    }
    const quint64 before = hoveredTask();
    m_hoverLane = pos.x() >= m_labelWidth ? laneAt(pos.y()) : -1;
    m_hoverX = pos.x();
    if (hoveredTask() != before)
        viewport()->update();
    event->accept();
}

void TimelineView::mouseReleaseEvent(QMouseEvent *event)
{
    const QPoint pos = event->position().toPoint();
    const Drag drag = std::exchange(m_drag, Drag::None);
    if (drag == Drag::Select) {
        if (m_dragMoved && m_selectionEnd > m_selectionStart) {
            viewport()->update();
            Q_EMIT rangeSelected(m_selectionStart, m_selectionEnd);
        } else {
            m_selectionStart = m_selectionEnd = 0;
            viewport()->update();
        }
    } else if (drag == Drag::Pan && !m_dragMoved && m_model) {
        const int lane = laneAt(pos.y());
        quint64 task = 0;
        if (lane >= 0) {
            const TimelineLane &l = m_model->lane(lane);
            task = pos.x() < m_labelWidth ? (l.kind == LaneKind::Task ? l.id : 0)
                                          : taskNear(lane, pos.x());
        }
        if (task) {
            m_selectedTask = task;
            viewport()->update();
            Q_EMIT taskSelected(task);
        }
    }
    event->accept();
}

void TimelineView::keyPressEvent(QKeyEvent *event)
{
    const int middle = m_labelWidth + timeAreaWidth() / 2;
    switch (event->key()) {
    case Qt::Key_Escape:
        clearSelection();
        break;
    case Qt::Key_Plus:
    case Qt::Key_Equal:
        zoomBy(1.5, m_followLive ? viewport()->width() : middle);
        break;
    case Qt::Key_Minus:
        zoomBy(1 / 1.5, m_followLive ? viewport()->width() : middle);
        break;
    case Qt::Key_End:
        setFollowLive(true);
        break;
    case Qt::Key_Home:
        zoomToFit();
        break;
    case Qt::Key_Left:
        setFollowLive(false);
        setViewStart(m_viewStart - double(timeAreaWidth()) * m_nsPerPixel / 8);
        break;
    case Qt::Key_Right:
        setFollowLive(false);
        setViewStart(m_viewStart + double(timeAreaWidth()) * m_nsPerPixel / 8);
        break;
    default:
        QAbstractScrollArea::keyPressEvent(event);
        return;
    }
    event->accept();
}

void TimelineView::leaveEvent(QEvent *event)
{
    if (m_hoverLane >= 0) {
        m_hoverLane = -1;
        viewport()->update();
    }
    QAbstractScrollArea::leaveEvent(event);
}

QString TimelineView::segmentToolTip(int lane, qint64 t) const
{
    const TimelineLane &l = m_model->lane(lane);
    QString text =
            l.kind == LaneKind::Task ? QStringLiteral("%1 #%2").arg(l.name).arg(l.id) : l.name;
    // Within a pixel of t: the segment under the cursor even when zero-length.
    const auto near = m_model->segments(lane, t - qint64(m_nsPerPixel), t + qint64(m_nsPerPixel));
    if (!near.empty()) {
        const TimelineSegment &s = near.back();
        text += QStringLiteral("\n%1").arg(QLatin1String(segmentStateName(s.state)));
        if (l.kind == LaneKind::Loop)
            text += QStringLiteral(" (%1 #%2)")
                            .arg(QLatin1String(handleKindName(s.handleKind)))
                            .arg(s.id);
        if (s.state == SegmentState::Awaiting || s.state == SegmentState::InExecutor)
            text += QStringLiteral(" on %1 #%2")
                            .arg(QLatin1String(futureKindName(s.futureKind)))
                            .arg(s.id);
        if (s.task && l.kind != LaneKind::Task) {
            const int tl = m_model->laneOfTask(s.task);
            text += QStringLiteral("\ntask %1")
                            .arg(tl >= 0 ? m_model->lane(tl).name : QString::number(s.task));
        }
        text += QStringLiteral("\nfrom %1").arg(formatDuration(double(s.start)));
        if (!s.isOpen())
            text += QStringLiteral(" for %1").arg(formatDuration(double(s.end - s.start)));
        if (s.realDuration >= 0)
            text += QStringLiteral("\nran %1 (real time)")
                            .arg(formatDuration(double(s.realDuration)));
    }
    if (l.kind == LaneKind::Task && l.isDone() && !l.resultText.isEmpty())
        text += QStringLiteral("\n") + l.resultText;
    return text;
}

bool TimelineView::viewportEvent(QEvent *event)
{
    if (event->type() == QEvent::ToolTip && m_model) {
        const auto *help = static_cast<QHelpEvent *>(event);
        const int lane = laneAt(help->pos().y());
        if (lane >= 0) {
            const QString tip = help->pos().x() < m_labelWidth
                    ? m_model->lane(lane).location
                    : segmentToolTip(lane, timeAt(help->pos().x()));
            QToolTip::showText(help->globalPos(), tip, viewport());
        } else {
            QToolTip::hideText();
        }
        return true;
    }
    return QAbstractScrollArea::viewportEvent(event);
}

bool TimelineView::saveImage(const QString &path, QString *error)
{
    const QString suffix = QFileInfo(path).suffix().toLower();
    const auto fail = [error](const QString &why) {
        if (error)
            *error = why;
        return false;
    };
    if (suffix == QLatin1String("svg")) {
        // Painted again into an SVG generator: vector lanes, text and axis.
        const QString tmp = path + QStringLiteral(".part");
        {
            QSvgGenerator svg;
            svg.setFileName(tmp);
            svg.setSize(viewport()->size());
            svg.setViewBox(viewport()->rect());
            svg.setTitle(QStringLiteral("Loopscope timeline"));
            svg.setDescription(QStringLiteral("Exported by Loopscope"));
            QPainter p;
            if (!p.begin(&svg))
                return fail(QStringLiteral("Cannot write the image to %1").arg(path));
            p.fillRect(viewport()->rect(), palette().base());
            paintLanes(p, viewport()->rect());
            paintWakeups(p);
            paintSelection(p);
            paintAxis(p, false);
            paintLegend(p);
            p.end();
        }
        QFile::remove(path);
        if (!QFile::rename(tmp, path)) {
            QFile::remove(tmp);
            return fail(QStringLiteral("Cannot write the image to %1").arg(path));
        }
        return true;
    }
    if (suffix != QLatin1String("png"))
        return fail(QStringLiteral("Images are saved as .png or .svg, not \"%1\" (%2)")
                            .arg(suffix, path));
    const QImage image = viewport()->grab().toImage();
    if (image.isNull() || !image.save(path, "PNG"))
        return fail(QStringLiteral("Cannot write the image to %1").arg(path));
    return true;
}

} // namespace loopscope::ui
