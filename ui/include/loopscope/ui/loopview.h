#pragma once

//! \file loopview.h The loop diagram: one iteration's cycle with the phase it is in, the ready
//! queue as ordered boxes, the timer heap by deadline with countdown bars, the running
//! callback, executor worker lanes, and wake-up arrows fading out.

#include <QElapsedTimer>
#include <QFont>
#include <QPixmap>
#include <QTimer>
#include <QWidget>

#include <cstdint>
#include <memory>

namespace loopscope::ui {

class LoopStateModel;
class StaticTextCache;

class LoopView : public QWidget
{
    Q_OBJECT

public:
    explicit LoopView(QWidget *parent = nullptr);
    ~LoopView() override;

    //! The state to paint (not owned; may be null).
    void setModel(const LoopStateModel *model);
    const LoopStateModel *model() const { return m_model; }

    /*!
     * How many ready boxes the view draws at most; the rest of a long queue is one
     * "+N more" box (a loop with 10,000 ready tasks stays legible). Default 24.
     */
    void setMaxReadyBoxes(int count);
    int maxReadyBoxes() const { return m_maxReadyBoxes; }
    //! Likewise for the timer rows. Default 12.
    void setMaxTimerRows(int count);

    //! What the last paint drew (for tests and the status line): boxes, the "+N more" count.
    int paintedReadyBoxes() const { return m_paintedReady; }
    std::size_t hiddenReadyCount() const { return m_hiddenReady; }
    int paintedTimerRows() const { return m_paintedTimers; }
    //! Where the last paint drew \a taskId's box (ready or running), empty when it did not.
    QRect taskBoxRect(std::uint64_t taskId) const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

public Q_SLOTS:
    //! Repaint after the model ingested a batch; starts the wake-up arrows' fade.
    void modelUpdated();

Q_SIGNALS:
    //! A ready box or the running box of a task step was clicked.
    void taskClicked(quint64 taskId);

protected:
    void paintEvent(QPaintEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;

private:
    struct Layout;
    Layout layout() const;
    //! The width of each phase pill of the cycle.
    int pillWidth(const Layout &l) const;
    //! What does not change between frames: the background, the panel frames, the cycle's
    //! arrows. Painted into m_background once per size, palette and font.
    void paintStatic(QPainter &p, const Layout &l) const;

    const LoopStateModel *m_model = nullptr;
    int m_maxReadyBoxes = 24;
    int m_maxTimerRows = 12;
    int m_paintedReady = 0;
    std::size_t m_hiddenReady = 0;
    int m_paintedTimers = 0;
    //! Hit areas of the last paint: (rect, task id).
    std::vector<std::pair<QRect, std::uint64_t>> m_taskBoxes;
    QTimer m_fade; //!< repaints while wake-up arrows fade out
    QElapsedTimer m_sinceUpdate;
    QElapsedTimer m_lastPaint;
    std::uint64_t m_lastWakeupTime = 0;
    //! Labels shaped once, drawn from then on (30 Hz repaints, mostly the same labels).
    std::unique_ptr<StaticTextCache> m_text;
    //! paintStatic()'s picture and what it was painted for: blitting it replaces four large
    //! antialiased rounded rectangles and three curves, a third of each frame's cost.
    QPixmap m_background;
    qint64 m_backgroundPalette = -1;
    QFont m_backgroundFont;
};

} // namespace loopscope::ui
