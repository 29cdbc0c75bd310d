#include "loopscope/ui/loopview.h"

#include "loopscope/ui/loopstatemodel.h"
#include "statictextcache.h"

#include <QMouseEvent>
#include <QPainter>
#include <QPainterPath>

#include <algorithm>
#include <cmath>

namespace loopscope::ui {

namespace {

constexpr int kMargin = 8;
constexpr int kCycleHeight = 72;
constexpr int kBoxWidth = 118;
constexpr int kBoxHeight = 38;
constexpr int kGap = 6;
constexpr int kTitleHeight = 20;
constexpr int kRowHeight = 20;
constexpr qint64 kFadeMs = 800;

QColor kindColor(HandleKind kind)
{
    switch (kind) {
    case HandleKind::TaskStep:
        return QColor(0x3b, 0x82, 0xf6);
    case HandleKind::CallSoon:
        return QColor(0x6b, 0x72, 0x80);
    case HandleKind::CallLater:
        return QColor(0xf5, 0x9e, 0x0b);
    case HandleKind::Threadsafe:
        return QColor(0x8b, 0x5c, 0xf6);
    case HandleKind::DoneCallback:
        return QColor(0x10, 0xb9, 0x81);
    case HandleKind::Internal:
        break;
    }
    return QColor(0x9c, 0xa3, 0xaf);
}

QString kindLabel(HandleKind kind)
{
    switch (kind) {
    case HandleKind::TaskStep:
        return QStringLiteral("task step");
    case HandleKind::CallSoon:
        return QStringLiteral("callSoon");
    case HandleKind::CallLater:
        return QStringLiteral("timer");
    case HandleKind::Threadsafe:
        return QStringLiteral("threadsafe");
    case HandleKind::DoneCallback:
        return QStringLiteral("done-callback");
    case HandleKind::Internal:
        break;
    }
    return QStringLiteral("internal");
}

//! "1.25 s", "12.3 ms", "40 µs" for a duration in ns.
QString formatDuration(std::int64_t ns)
{
    const double abs = std::abs(double(ns));
    if (abs >= 1e9)
        return QStringLiteral("%1 s").arg(double(ns) / 1e9, 0, 'f', 2);
    if (abs >= 1e6)
        return QStringLiteral("%1 ms").arg(double(ns) / 1e6, 0, 'f', 1);
    return QStringLiteral("%1 µs").arg(double(ns) / 1e3, 0, 'f', 0);
}

void drawArrow(QPainter &p, QPointF from, QPointF to)
{
    const QPointF mid((from.x() + to.x()) / 2, std::min(from.y(), to.y()) - 24);
    // The curve as a polyline in a cosmetic one-pixel pen, twice side by side: Qt draws such
    // lines directly, while a wider or non-cosmetic pen is stroked into an outline and
    // filled by the rasterizer, which over an arrow's large bounding box cost most of a frame.
    constexpr int kSegments = 24;
    QPolygonF curve;
    curve.reserve(kSegments + 1);
    for (int i = 0; i <= kSegments; ++i) {
        const double t = double(i) / kSegments;
        const double a = (1 - t) * (1 - t), b = 2 * (1 - t) * t, c = t * t;
        curve << QPointF(a * from.x() + b * mid.x() + c * to.x(),
                         a * from.y() + b * mid.y() + c * to.y());
    }
    QPen thin(p.pen().color(), 1);
    thin.setCosmetic(true);
    p.save();
    p.setPen(thin);
    p.drawPolyline(curve);
    p.translate(0, 1);
    p.drawPolyline(curve);
    p.restore();
    const QPointF dir = to - mid;
    const double len = std::hypot(dir.x(), dir.y());
    if (len < 1)
        return;
    const QPointF u = dir / len;
    const QPointF n(-u.y(), u.x());
    QPolygonF head;
    head << to << to - u * 9 + n * 4 << to - u * 9 - n * 4;
    p.save();
    p.setBrush(p.pen().color());
    p.drawPolygon(head);
    p.restore();
}

} // namespace

struct LoopView::Layout
{
    QRect cycle;
    QRect ready;
    QRect running;
    QRect timers;
    QRect executor;
};

LoopView::LoopView(QWidget *parent) : QWidget(parent), m_text(std::make_unique<StaticTextCache>())
{
    setAttribute(Qt::WA_OpaquePaintEvent);
    m_fade.setInterval(33);
    connect(&m_fade, &QTimer::timeout, this, [this] {
        if (m_sinceUpdate.elapsed() > kFadeMs)
            m_fade.stop();
        // The arrows fade between ticks; while ticks repaint the view anyway, a second paint
        // of the same frame would only cost time.
        if (m_lastPaint.isValid() && m_lastPaint.elapsed() < m_fade.interval() * 3 / 4)
            return;
        update();
    });
}

LoopView::~LoopView() = default;

void LoopView::setModel(const LoopStateModel *model)
{
    m_model = model;
    m_background = QPixmap(); // the frames are drawn only with a model
    update();
}

void LoopView::setMaxReadyBoxes(int count)
{
    m_maxReadyBoxes = std::max(1, count);
    update();
}

void LoopView::setMaxTimerRows(int count)
{
    m_maxTimerRows = std::max(1, count);
    update();
}

QSize LoopView::sizeHint() const
{
    return { 560, 420 };
}

QSize LoopView::minimumSizeHint() const
{
    return { 420, 260 };
}

void LoopView::modelUpdated()
{
    if (m_model && !m_model->recentWakeups().empty()
        && std::uint64_t(m_model->recentWakeups().back().timeNs) != m_lastWakeupTime) {
        m_lastWakeupTime = std::uint64_t(m_model->recentWakeups().back().timeNs);
        m_sinceUpdate.start();
        if (!m_fade.isActive())
            m_fade.start();
    }
    update();
}

LoopView::Layout LoopView::layout() const
{
    Layout l;
    const QRect area = rect().adjusted(kMargin, kMargin, -kMargin, -kMargin);
    l.cycle = QRect(area.left(), area.top(), area.width(), kCycleHeight);
    const int bodyTop = l.cycle.bottom() + kGap;
    const int leftWidth = area.width() * 56 / 100;
    const int bodyHeight = area.bottom() - bodyTop;
    const int topHeight = bodyHeight * 55 / 100;
    l.ready = QRect(area.left(), bodyTop, leftWidth - kGap, topHeight);
    l.running = QRect(area.left() + leftWidth, bodyTop, area.width() - leftWidth, topHeight);
    const int bottomTop = bodyTop + topHeight + kGap;
    l.timers = QRect(area.left(), bottomTop, leftWidth - kGap, area.bottom() - bottomTop);
    l.executor = QRect(area.left() + leftWidth, bottomTop, area.width() - leftWidth,
                       area.bottom() - bottomTop);
    return l;
}

int LoopView::pillWidth(const Layout &l) const
{
    int width = 0;
    for (const LoopPhase phase : { LoopPhase::Idle, LoopPhase::ExpireTimers, LoopPhase::RunReady })
        width = std::max(width,
                         fontMetrics().horizontalAdvance(QString::fromLatin1(loopPhaseName(phase)))
                                 + 24);
    return std::min(width, (l.cycle.width() - 60) / 3);
}

void LoopView::paintStatic(QPainter &p, const Layout &l) const
{
    const QPalette &pal = palette();
    p.fillRect(rect(), pal.color(QPalette::Base));
    if (!m_model)
        return;
    p.setPen(QPen(pal.color(QPalette::Mid), 1));
    p.setBrush(pal.color(QPalette::AlternateBase));
    for (const QRect &r : { l.ready, l.running, l.timers, l.executor })
        p.drawRoundedRect(r, 6, 6);
    // The cycle: an arrow from each phase to the next, and the way back (dashed) once the
    // ready snapshot ran; the pills themselves change with the phase.
    const QColor dim = pal.color(QPalette::PlaceholderText);
    const int width = pillWidth(l);
    const int y = l.cycle.top() + 8;
    for (int i = 1; i < 3; ++i) {
        const int left = l.cycle.left() + i * (width + 30);
        p.setPen(QPen(dim, 1.5));
        drawArrow(p, QPoint(left - 30 + 2, y + 15), QPoint(left - 2, y + 15));
    }
    const int lastCentre = l.cycle.left() + 2 * (width + 30) + width / 2;
    const int backY = y + 30 + 10;
    p.setPen(QPen(dim, 1, Qt::DashLine));
    p.drawLine(QPoint(lastCentre, y + 30), QPoint(lastCentre, backY));
    p.drawLine(QPoint(lastCentre, backY), QPoint(l.cycle.left() + width / 2, backY));
    drawArrow(p, QPoint(l.cycle.left() + width / 2, backY),
              QPoint(l.cycle.left() + width / 2, y + 31));
}

void LoopView::paintEvent(QPaintEvent *)
{
    m_lastPaint.start();
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QPalette &pal = palette();
    {
        const Layout l = layout();
        const qreal ratio = devicePixelRatioF();
        if (m_background.size() != size() * ratio || m_background.devicePixelRatio() != ratio
            || m_backgroundPalette != qint64(pal.cacheKey()) || m_backgroundFont != font()) {
            m_background = QPixmap(size() * ratio);
            m_background.setDevicePixelRatio(ratio);
            QPainter bp(&m_background);
            bp.setRenderHint(QPainter::Antialiasing);
            paintStatic(bp, l);
            m_backgroundPalette = qint64(pal.cacheKey());
            m_backgroundFont = font();
        }
        p.drawPixmap(0, 0, m_background);
    }
    m_taskBoxes.clear();
    m_paintedReady = 0;
    m_hiddenReady = 0;
    m_paintedTimers = 0;
    if (!m_model) {
        p.setPen(pal.color(QPalette::PlaceholderText));
        p.drawText(rect(), Qt::AlignCenter, tr("No loop attached"));
        return;
    }
    const LoopStateModel &m = *m_model;
    const Layout l = layout();
    const QColor text = pal.color(QPalette::Text);
    const QColor dim = pal.color(QPalette::PlaceholderText);
    const QColor panel = pal.color(QPalette::AlternateBase);
    QFont titleFont = font();
    titleFont.setBold(true);
    QFont smallFont = font();
    smallFont.setPointSizeF(std::max(6.0, font().pointSizeF() * 0.85));

    // A panel's title says what it shows and how to read it; in a narrow dock the short
    // form (name and count) is shown rather than a cut-off sentence.
    // The frame itself is in the background picture.
    auto panelFrame = [&](const QRect &r, const QString &title, const QString &shortTitle) {
        p.setFont(titleFont);
        p.setPen(text);
        const QRect titleRect(r.left() + 8, r.top() + 2, r.width() - 16, kTitleHeight - 4);
        constexpr int kUnbounded = 1 << 20; // measured whole, not elided
        const bool fits =
                m_text->get(title, kUnbounded, titleFont).size().width() <= titleRect.width();
        m_text->draw(p, titleRect, Qt::AlignLeft | Qt::AlignVCenter, fits ? title : shortTitle);
        p.setFont(font());
        return r.adjusted(8, kTitleHeight + 2, -8, -6);
    };

    // --- the iteration cycle ----------------------------------------------------------------
    {
        const LoopPhase phases[] = { LoopPhase::Idle, LoopPhase::ExpireTimers,
                                     LoopPhase::RunReady };
        const int width = pillWidth(l);
        int x = l.cycle.left();
        const int y = l.cycle.top() + 8;
        for (const LoopPhase phase : phases) {
            const QRect pill(x, y, width, 30);
            const bool current = m.phase() == phase;
            const QColor accent = m.paused() ? QColor(0xef, 0x44, 0x44) : QColor(0x3b, 0x82, 0xf6);
            p.setPen(QPen(current ? accent : pal.color(QPalette::Mid), current ? 2 : 1));
            p.setBrush(current ? accent.lighter(185) : panel);
            p.drawRoundedRect(pill, 15, 15);
            p.setPen(current ? QColor(Qt::black) : dim);
            m_text->draw(p, pill, Qt::AlignCenter, QString::fromLatin1(loopPhaseName(phase)));
            x += width + 30;
        }
        // The arrows between the pills and the way back are in the background picture.
        p.setPen(text);
        // One status line under the cycle, right-aligned clear of the way-back arrow.
        const QRect info(l.cycle.left(), l.cycle.top() + 52, l.cycle.width(), 20);
        QString status = tr("iteration %L1 · loop time %2")
                                 .arg(m.iteration())
                                 .arg(formatDuration(m.nowNs()));
        if (m.paused())
            status += tr(" · PAUSED");
        if (m.incomplete())
            status += tr(" · events dropped: picture may be partial");
        p.drawText(info, Qt::AlignRight | Qt::AlignVCenter, status);
    }

    // --- the ready queue ---------------------------------------------------------------------
    {
        const auto &ready = m.ready();
        const QRect inner = panelFrame(
                l.ready, tr("Ready queue — %L1 callback(s), run in this order").arg(ready.size()),
                tr("Ready queue — %L1").arg(ready.size()));
        const int perRow = std::max(1, (inner.width() + kGap) / (kBoxWidth + kGap));
        const int rows = std::max(1, (inner.height() + kGap) / (kBoxHeight + kGap));
        const int capacity = std::min(m_maxReadyBoxes, perRow * rows);
        const bool overflow = int(ready.size()) > capacity;
        const int boxes = overflow ? capacity - 1 : int(ready.size());
        for (int i = 0; i < boxes; ++i) {
            const auto &c = ready[std::size_t(i)];
            const QRect box(inner.left() + (i % perRow) * (kBoxWidth + kGap),
                            inner.top() + (i / perRow) * (kBoxHeight + kGap), kBoxWidth,
                            kBoxHeight);
            const QColor color = kindColor(c.kind);
            p.setPen(QPen(color.darker(130), 1));
            p.setBrush(color.lighter(170));
            p.drawRoundedRect(box, 4, 4);
            p.setPen(Qt::black);
            const QRect labelRect = box.adjusted(5, 2, -5, -kBoxHeight / 2);
            m_text->draw(p, labelRect, Qt::AlignLeft | Qt::AlignVCenter,
                         c.label.isEmpty() ? tr("(callback)") : c.label);
            p.setFont(smallFont);
            p.setPen(QColor(0x37, 0x41, 0x51));
            m_text->draw(p, box.adjusted(5, kBoxHeight / 2, -5, -2),
                         Qt::AlignLeft | Qt::AlignVCenter,
                         QStringLiteral("%1. %2").arg(i + 1).arg(kindLabel(c.kind)));
            p.setFont(font());
            if (c.task)
                m_taskBoxes.emplace_back(box, c.task);
            ++m_paintedReady;
        }
        if (overflow) {
            m_hiddenReady = ready.size() - std::size_t(boxes);
            const QRect box(inner.left() + (boxes % perRow) * (kBoxWidth + kGap),
                            inner.top() + (boxes / perRow) * (kBoxHeight + kGap), kBoxWidth,
                            kBoxHeight);
            p.setPen(QPen(dim, 1, Qt::DashLine));
            p.setBrush(Qt::NoBrush);
            p.drawRoundedRect(box, 4, 4);
            p.setPen(text);
            p.drawText(box, Qt::AlignCenter, tr("+%L1 more").arg(m_hiddenReady));
        }
        if (ready.empty()) {
            p.setPen(dim);
            p.drawText(inner, Qt::AlignCenter | Qt::TextWordWrap,
                       tr("empty: nothing to run until a timer or a wake-up"));
        }
    }

    // --- the running callback -------------------------------------------------------------------
    {
        const QRect inner = panelFrame(l.running, tr("Running now"), tr("Running now"));
        if (const auto *c = m.running()) {
            const QRect box = inner.adjusted(0, 0, 0, -std::max(0, inner.height() - 80));
            const QColor color = kindColor(c->kind);
            p.setPen(QPen(QColor(0xef, 0x44, 0x44), 2));
            p.setBrush(color.lighter(160));
            p.drawRoundedRect(box, 5, 5);
            p.setPen(Qt::black);
            m_text->draw(p, box.adjusted(8, 4, -8, -4), Qt::AlignLeft | Qt::AlignTop, c->label);
            const QString since = m.blockedFor().count() > 0
                    ? tr("%1, blocking the loop for %2 (real time)")
                              .arg(kindLabel(c->kind),
                                   formatDuration(std::int64_t(m.blockedFor().count()) * 1'000'000))
                    : tr("%1, since %2 (loop time)")
                              .arg(kindLabel(c->kind), formatDuration(m.nowNs() - c->sinceNs));
            p.drawText(box.adjusted(8, 4 + p.fontMetrics().height(), -8, -4),
                       Qt::AlignLeft | Qt::AlignVCenter | Qt::TextWordWrap, since);
            if (c->task)
                m_taskBoxes.emplace_back(box, c->task);
        } else {
            p.setPen(dim);
            p.drawText(inner, Qt::AlignCenter | Qt::TextWordWrap,
                       tr("nothing: the loop is between callbacks"));
        }
    }

    // --- timers ---------------------------------------------------------------------------------
    {
        const QRect inner = panelFrame(
                l.timers,
                tr("Timer heap — %L1 pending, earliest deadline first").arg(m.timerCount()),
                tr("Timers — %L1").arg(m.timerCount()));
        const int rows = std::max(1, std::min(m_maxTimerRows, inner.height() / kRowHeight));
        const auto timers = m.timersByDeadline(std::size_t(rows));
        std::int64_t horizon = 1;
        for (const auto &t : timers)
            horizon = std::max(horizon, t.deadlineNs - m.nowNs());
        const int labelWidth = std::min(220, inner.width() * 45 / 100);
        int y = inner.top();
        for (const auto &t : timers) {
            const QRect row(inner.left(), y, inner.width(), kRowHeight - 3);
            p.setPen(text);
            m_text->draw(p, QRect(row.left(), row.top(), labelWidth - 6, row.height()),
                         Qt::AlignLeft | Qt::AlignVCenter,
                         t.label.isEmpty() ? tr("timer #%1").arg(t.handle) : t.label);
            const QRect bar(row.left() + labelWidth, row.top() + 3, row.width() - labelWidth - 90,
                            row.height() - 6);
            const std::int64_t left = t.deadlineNs - m.nowNs();
            p.setPen(Qt::NoPen);
            p.setBrush(pal.color(QPalette::Midlight));
            p.drawRect(bar);
            if (left >= 0) {
                QRect filled = bar;
                filled.setWidth(int(double(bar.width()) * double(left) / double(horizon)));
                p.setBrush(QColor(0xf5, 0x9e, 0x0b));
                p.drawRect(filled);
                p.setPen(text);
                p.drawText(QRect(bar.right() + 6, row.top(), 84, row.height()),
                           Qt::AlignLeft | Qt::AlignVCenter, tr("in %1").arg(formatDuration(left)));
            } else {
                p.setBrush(QColor(0xef, 0x44, 0x44));
                p.drawRect(bar);
                p.setPen(QColor(0xb9, 0x1c, 0x1c));
                p.drawText(QRect(bar.right() + 6, row.top(), 84, row.height()),
                           Qt::AlignLeft | Qt::AlignVCenter,
                           tr("late by %1").arg(formatDuration(-left)));
            }
            y += kRowHeight;
            ++m_paintedTimers;
        }
        if (m.timerCount() > timers.size()) {
            p.setPen(dim);
            p.drawText(QRect(inner.left(), y, inner.width(), kRowHeight),
                       Qt::AlignLeft | Qt::AlignVCenter,
                       tr("+%L1 later timers").arg(m.timerCount() - timers.size()));
        }
        if (timers.empty()) {
            p.setPen(dim);
            p.drawText(inner, Qt::AlignCenter | Qt::TextWordWrap,
                       tr("no timers: no sleep or callLater pending"));
        }
    }

    // --- executor workers -----------------------------------------------------------------------
    {
        const QRect inner =
                panelFrame(l.executor, tr("Executor — %1 job(s) queued").arg(m.queuedJobs()),
                           tr("Executor — %1 queued").arg(m.queuedJobs()));
        int y = inner.top();
        int lane = 0;
        for (const std::uint64_t thread : m.workerThreads()) {
            if (y + kRowHeight > inner.bottom())
                break;
            const QRect row(inner.left(), y, inner.width(), kRowHeight - 3);
            p.setPen(text);
            m_text->draw(p, QRect(row.left(), row.top(), 70, row.height()),
                         Qt::AlignLeft | Qt::AlignVCenter, tr("worker %1").arg(++lane));
            const QRect job(row.left() + 72, row.top() + 1, row.width() - 72, row.height() - 2);
            const auto it = m.workers().find(thread);
            if (it != m.workers().end()) {
                p.setPen(Qt::NoPen);
                p.setBrush(QColor(0x8b, 0x5c, 0xf6).lighter(150));
                p.drawRoundedRect(job, 3, 3);
                p.setPen(Qt::black);
                p.drawText(job.adjusted(4, 0, -4, 0), Qt::AlignLeft | Qt::AlignVCenter,
                           tr("job #%1, running %2")
                                   .arg(it->second.job)
                                   .arg(formatDuration(m.nowNs() - it->second.startedNs)));
            } else {
                p.setPen(dim);
                m_text->draw(p, job.adjusted(4, 0, -4, 0), Qt::AlignLeft | Qt::AlignVCenter,
                             tr("idle"));
            }
            y += kRowHeight;
        }
        if (m.workerThreads().empty()) {
            p.setPen(dim);
            p.drawText(inner, Qt::AlignCenter | Qt::TextWordWrap,
                       tr("no executor job yet (runInExecutor runs them on worker threads)"));
        }
    }

    // --- wake-up arrows, fading out ----------------------------------------------------------------
    if (m_sinceUpdate.isValid() && m_sinceUpdate.elapsed() < kFadeMs) {
        const double alpha = 1.0 - double(m_sinceUpdate.elapsed()) / double(kFadeMs);
        int drawn = 0;
        for (auto it = m.recentWakeups().rbegin(); it != m.recentWakeups().rend() && drawn < 8;
             ++it, ++drawn) {
            QPointF from;
            QColor color;
            switch (it->cause) {
            case FutureKind::Sleep:
                from = QPointF(l.timers.center().x(), l.timers.top());
                color = QColor(0xf5, 0x9e, 0x0b);
                break;
            case FutureKind::Executor:
                from = QPointF(l.executor.center().x(), l.executor.top());
                color = QColor(0x8b, 0x5c, 0xf6);
                break;
            default:
                from = QPointF(l.running.center().x(), l.running.bottom() - 4);
                color = QColor(0x10, 0xb9, 0x81);
                break;
            }
            QPointF to(l.ready.left() + 40, l.ready.top() + kTitleHeight);
            for (const auto &[box, task] : m_taskBoxes)
                if (task == it->task) {
                    to = QPointF(box.center().x(), box.bottom());
                    break;
                }
            color.setAlphaF(float(alpha));
            p.setPen(QPen(color, 2));
            drawArrow(p, from, to);
        }
    }
}

QRect LoopView::taskBoxRect(std::uint64_t taskId) const
{
    for (const auto &[box, task] : m_taskBoxes)
        if (task == taskId)
            return box;
    return {};
}

void LoopView::mousePressEvent(QMouseEvent *event)
{
    for (const auto &[box, task] : m_taskBoxes) {
        if (box.contains(event->position().toPoint())) {
            Q_EMIT taskClicked(task);
            return;
        }
    }
    QWidget::mousePressEvent(event);
}

} // namespace loopscope::ui
