#pragma once

//! \file timelineview.h The custom-painted timeline: one row per lane of a TimelineModel.

#include <QAbstractScrollArea>
#include <QPixmap>
#include <QPoint>

#include <cstdint>
#include <memory>

namespace loopscope::ui {

class StaticTextCache;
class TimelineModel;

/*!
 * Shows a TimelineModel: one row per lane (the loop thread, executor threads, tasks) with a
 * label column, segments coloured by state (legend at the bottom), created/done/cancelled/
 * failed markers, slow-callback marks, and the wake-up arrows into and out of the task under
 * the mouse. A time axis with µs/ms/s ticks runs along the top.
 *
 * Navigation: the mouse wheel zooms centred on the cursor (over the labels, or with Shift,
 * it scrolls the lanes); dragging or the horizontal scroll bar pans; Shift+drag or a right
 * drag selects a range, shown with its duration, and emits rangeSelected(); a click emits
 * taskSelected(). In follow-live mode the latest time stays at the right edge (zooming then
 * anchors there); panning turns it off.
 *
 * Painting touches only the visible lanes and the visible time range, found by binary search
 * in the model. Call modelUpdated() after feeding the model (e.g. once per UI tick).
 */
class TimelineView : public QAbstractScrollArea
{
    Q_OBJECT

public:
    explicit TimelineView(QWidget *parent = nullptr);
    ~TimelineView() override;

    //! \a model is not owned and must outlive the view or be replaced first (nullptr: none).
    void setModel(TimelineModel *model);
    TimelineModel *model() const { return m_model; }

    //! The visible time range, ns on the loop's clock.
    qint64 visibleStart() const;
    qint64 visibleEnd() const;
    //! Shows [t0, t1] across the time area (t1 > t0). Does not change follow-live.
    void setVisibleRange(qint64 t0, qint64 t1);
    //! Loop-time nanoseconds per pixel (the zoom level).
    double nsPerPixel() const { return m_nsPerPixel; }

    bool followLive() const { return m_followLive; }
    //! The selected range, if any (t0 < t1).
    bool hasSelection() const { return m_selectionEnd > m_selectionStart; }
    qint64 selectionStart() const { return m_selectionStart; }
    qint64 selectionEnd() const { return m_selectionEnd; }
    //! The highlighted task (0: none).
    quint64 selectedTask() const { return m_selectedTask; }

    // Geometry, in viewport coordinates.
    int labelWidth() const { return m_labelWidth; }
    int rowHeight() const { return m_rowHeight; }
    int axisHeight() const;
    int legendHeight() const;
    //! The time at viewport x (in the time area).
    qint64 timeAt(int x) const;
    //! The viewport x of time \a t.
    double xAt(qint64 t) const;
    //! The lane index at viewport y, -1 outside the rows.
    int laneAt(int y) const;
    //! The first lane painted at the top of the rows.
    int firstVisibleLane() const;

    /*!
     * Writes the view as it is now to \a path: a PNG image or, for a .svg path, a vector
     * SVG drawing (the extension decides). False and \a error on failure; an existing file
     * is only replaced once the new one is complete.
     */
    bool saveImage(const QString &path, QString *error = nullptr);

    //! The axis label of time \a t (ns) for ticks \a step ns apart: "1.5 ms", "250 µs".
    static QString tickLabel(double t, double step);
    //! A duration in the unit that suits it, four significant digits: "3.017 ms".
    static QString formatDuration(double ns);

public Q_SLOTS:
    //! Repaints after the model changed; keeps the latest time at the right edge when
    //! following live.
    void modelUpdated();
    void setFollowLive(bool follow);
    //! Multiplies the zoom by \a factor (> 1 zooms in) keeping the time at viewport x
    //! \a anchorX in place.
    void zoomBy(double factor, int anchorX);
    //! Zooms out to show the whole history.
    void zoomToFit();
    void clearSelection();
    //! Highlights \a taskId and scrolls its lane into view (does not emit taskSelected).
    void setSelectedTask(quint64 taskId);
    //! Moves the view so that \a t is in the middle (turns follow-live off).
    void centerOn(qint64 t);

Q_SIGNALS:
    void rangeSelected(qint64 t0, qint64 t1);
    void taskSelected(quint64 taskId);
    void followLiveChanged(bool follow);
    void visibleRangeChanged(qint64 t0, qint64 t1);

protected:
    void paintEvent(QPaintEvent *event) override;
    void resizeEvent(QResizeEvent *event) override;
    void wheelEvent(QWheelEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;
    void keyPressEvent(QKeyEvent *event) override;
    void leaveEvent(QEvent *event) override;
    bool viewportEvent(QEvent *event) override;
    void scrollContentsBy(int dx, int dy) override;

private:
    enum class Drag { None, Pan, Select };

    int timeAreaWidth() const;
    int rowsTop() const { return axisHeight(); }
    int rowsHeight() const;
    void setViewStart(double start);
    void clampView();
    void updateScrollBars();
    void applyFollowLive();
    //! \a cached: blit the cached axis pixmap (screen) instead of drawing vectors (SVG).
    void paintAxis(QPainter &p, bool cached);
    void drawAxisTicks(QPainter &p, int width, int height) const;
    void paintLanes(QPainter &p, const QRect &exposed);
    void paintWakeups(QPainter &p);
    void paintSelection(QPainter &p);
    void paintLegend(QPainter &p);
    QString segmentToolTip(int lane, qint64 t) const;
    quint64 hoveredTask() const;
    //! The task lane \a lane shows around viewport x \a x (within a few pixels, so that
    //! zero-length callbacks under a virtual clock can be hit), 0: none.
    quint64 taskNear(int lane, int x) const;
    void emitVisibleRange();

    TimelineModel *m_model = nullptr;
    double m_viewStart = 0; //!< ns at the left edge of the time area
    double m_nsPerPixel = 10'000; //!< 10 µs per pixel to start with
    bool m_followLive = true;
    bool m_userZoomed = false; //!< until then, follow-live fits the whole history
    bool m_updatingScrollBars = false;
    int m_labelWidth = 160;
    int m_rowHeight = 18;
    double m_hScrollUnit = 1; //!< ns per horizontal scroll bar step
    double m_hScrollOrigin = 0; //!< ns at horizontal scroll bar value 0

    Drag m_drag = Drag::None;
    QPoint m_pressPos;
    double m_pressViewStart = 0;
    bool m_dragMoved = false;
    qint64 m_selectionStart = 0;
    qint64 m_selectionEnd = 0;
    qint64 m_selectionAnchor = 0;

    int m_hoverLane = -1;
    int m_hoverX = 0;
    quint64 m_selectedTask = 0;

    //! The ruler is redrawn only when the range or size changes.
    QPixmap m_axisCache;
    //! Lane labels and the legend, shaped once (they repaint at 30 Hz).
    std::unique_ptr<StaticTextCache> m_text;
    double m_axisCacheStart = -1;
    double m_axisCacheScale = -1;
    int m_axisCacheWidth = -1;
};

} // namespace loopscope::ui
