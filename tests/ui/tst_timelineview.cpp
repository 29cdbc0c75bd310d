// TimelineView: zoom centred on the cursor, pan by dragging, follow-live, range selection,
// task selection by click, image export, and painting 10,000 lanes, driven with real mouse
// and wheel events under QT_QPA_PLATFORM=offscreen.

#include <loopscope/recorder.h>
#include <loopscope/ui/timelinemodel.h>
#include <loopscope/ui/timelineview.h>

#include <QApplication>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QRegularExpression>
#include <QTest>
#include <QWheelEvent>

#include <memory>
#include <vector>

using loopscope::FutureKind;
using loopscope::RecordedEvent;
using loopscope::TraceRecorder;
using loopscope::ui::TimelineModel;
using loopscope::ui::TimelineView;
using Kind = loopscope::TraceEventKind;

namespace {

constexpr std::int64_t kMs = 1'000'000;

//! Synthesized recorder events: \a count tasks created 1 ms apart, each ready for 1 ms, one
//! step, a 5 ms sleep, a last step; the loop runs each step as a callback.
std::vector<RecordedEvent> tasks(std::uint64_t count, std::uint64_t firstId = 1,
                                 std::uint64_t firstSequence = 0)
{
    std::vector<RecordedEvent> out;
    std::uint64_t seq = firstSequence;
    auto add = [&](Kind kind, std::int64_t time, std::uint64_t id, std::uint64_t related = 0,
                   std::uint64_t aux = 0) -> RecordedEvent & {
        RecordedEvent e;
        e.sequence = seq++;
        e.kind = kind;
        e.time = time;
        e.id = id;
        e.related = related;
        e.aux = aux;
        out.push_back(e);
        return out.back();
    };
    for (std::uint64_t id = firstId; id < firstId + count; ++id) {
        const std::int64_t t = std::int64_t(id) * kMs;
        add(Kind::TaskCreated, t, id, 100'000 + id);
        add(Kind::HandleStarted, t + kMs, 200'000 + id, 0, id).handleKind =
                loopscope::HandleKind::TaskStep;
        add(Kind::TaskStepBegin, t + kMs, id, 0, 1);
        add(Kind::TaskStepEnd, t + kMs, id, 300'000 + id, 1).futureKind = FutureKind::Sleep;
        add(Kind::HandleFinished, t + kMs, 200'000 + id, 0, id).handleKind =
                loopscope::HandleKind::TaskStep;
        add(Kind::HandleScheduled, t + 6 * kMs, 400'000 + id, 0, id).handleKind =
                loopscope::HandleKind::TaskStep;
        add(Kind::Wakeup, t + 6 * kMs, id, 300'000 + id);
        add(Kind::TaskStepBegin, t + 6 * kMs, id, 0, 2);
        add(Kind::TaskStepEnd, t + 6 * kMs, id, 0, 2);
        add(Kind::TaskDone, t + 6 * kMs, id, 100'000 + id);
    }
    // Events of different tasks interleave in time: the stream is sorted by time.
    std::stable_sort(out.begin(), out.end(), [](const RecordedEvent &a, const RecordedEvent &b) {
        return a.time < b.time;
    });
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i].sequence = firstSequence + i;
    return out;
}

void wheel(QWidget *w, QPoint pos, int delta, Qt::KeyboardModifiers modifiers = Qt::NoModifier)
{
    QWheelEvent e(QPointF(pos), QPointF(w->mapToGlobal(pos)), QPoint(), QPoint(0, delta),
                  Qt::NoButton, modifiers, Qt::NoScrollPhase, false);
    QApplication::sendEvent(w, &e);
}

struct Fixture
{
    explicit Fixture(std::uint64_t count = 20)
    {
        model.ingest(tasks(count), strings);
        view.resize(900, 400);
        view.setModel(&model);
        view.show();
        QVERIFY(QTest::qWaitForWindowExposed(&view));
    }
    QWidget *vp() { return view.viewport(); }
    //! The viewport y of the middle of lane \a lane (with no vertical scroll).
    int rowY(int lane) const
    {
        return view.axisHeight() + lane * view.rowHeight() + view.rowHeight() / 2;
    }
    TraceRecorder strings; // only resolves (empty) strings
    TimelineModel model;
    TimelineView view;
};

} // namespace

class tst_TimelineView : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void followLiveShowsTheLatestTime();
    void setVisibleRangeMapsTimeToPixels();
    void wheelZoomKeepsTheTimeUnderTheCursor();
    void wheelZoomWhileFollowingKeepsTheLatestAtTheRightEdge();
    void wheelOverLabelsScrollsLanes();
    void dragPansAndTurnsFollowLiveOff();
    void horizontalScrollBarPans();
    void shiftDragSelectsARange();
    void rightDragSelectsARange();
    void clickSelectsTheTask();
    void clickOnTheLoopLaneSelectsTheStepsTask();
    void hoverShowsWakeupArrows();
    void axisLabelsAdaptToTheZoom();
    void zoomedOutStepsStayVisible();
    void paintsTenThousandLanes();
    void saveImageWritesPngAndSvg();
};

void tst_TimelineView::followLiveShowsTheLatestTime()
{
    Fixture f;
    QVERIFY(f.view.followLive());
    // 20 tasks: the last one ends at 26 ms.
    QCOMPARE(f.model.latestTime(), 26 * kMs);
    QVERIFY(qAbs(f.view.visibleEnd() - 26 * kMs) <= 1);
    // Everything so far is in view until the user zooms.
    QVERIFY(f.view.visibleStart() <= f.model.historyStart());

    // More events arrive: the right edge moves with them.
    f.model.ingest(tasks(5, 21, f.model.ingestedEvents()), f.strings);
    QSignalSpy range(&f.view, &TimelineView::visibleRangeChanged);
    f.view.modelUpdated();
    QCOMPARE(f.model.latestTime(), 31 * kMs);
    QVERIFY(qAbs(f.view.visibleEnd() - 31 * kMs) <= 1);
    QVERIFY(!range.isEmpty());
}

void tst_TimelineView::setVisibleRangeMapsTimeToPixels()
{
    Fixture f;
    f.view.setFollowLive(false);
    f.view.setVisibleRange(0, 20 * kMs);
    QCOMPARE(f.view.visibleStart(), 0);
    QVERIFY(qAbs(f.view.visibleEnd() - 20 * kMs) <= 1);
    const int width = f.vp()->width() - f.view.labelWidth();
    QCOMPARE(f.view.nsPerPixel(), double(20 * kMs) / width);
    QCOMPARE(f.view.timeAt(f.view.labelWidth()), 0);
    QCOMPARE(f.view.xAt(10 * kMs), f.view.labelWidth() + width / 2.0);
    QVERIFY(!f.view.followLive()); // unchanged
}

void tst_TimelineView::wheelZoomKeepsTheTimeUnderTheCursor()
{
    Fixture f;
    f.view.setFollowLive(false);
    f.view.setVisibleRange(0, 20 * kMs);
    const QPoint cursor(f.view.labelWidth() + 250, f.rowY(3));
    const qint64 before = f.view.timeAt(cursor.x());
    const double scale = f.view.nsPerPixel();
    const qint64 span = f.view.visibleEnd() - f.view.visibleStart();

    wheel(f.vp(), cursor, 120); // one notch in
    QCOMPARE(f.view.nsPerPixel(), scale / 1.25);
    QVERIFY(qAbs(f.view.timeAt(cursor.x()) - before) <= 1);
    QVERIFY(f.view.visibleEnd() - f.view.visibleStart() < span);
    QVERIFY(f.view.visibleStart() > 0);

    wheel(f.vp(), cursor, -240); // two notches out
    QVERIFY(qAbs(f.view.nsPerPixel() - scale * 1.25) < 1e-6 * scale);
    QVERIFY(qAbs(f.view.timeAt(cursor.x()) - before) <= 1);
    QVERIFY(f.view.visibleStart() < 0);
    QVERIFY(!f.view.followLive());
}

void tst_TimelineView::wheelZoomWhileFollowingKeepsTheLatestAtTheRightEdge()
{
    Fixture f;
    QVERIFY(f.view.followLive());
    const double scale = f.view.nsPerPixel();
    wheel(f.vp(), QPoint(f.view.labelWidth() + 100, f.rowY(2)), 120);
    QCOMPARE(f.view.nsPerPixel(), scale / 1.25);
    QVERIFY(f.view.followLive());
    QVERIFY(qAbs(f.view.visibleEnd() - f.model.latestTime()) <= 1);
    // The zoom sticks: new events scroll the view, they do not refit it.
    f.model.ingest(tasks(5, 21, f.model.ingestedEvents()), f.strings);
    f.view.modelUpdated();
    QCOMPARE(f.view.nsPerPixel(), scale / 1.25);
    QVERIFY(qAbs(f.view.visibleEnd() - f.model.latestTime()) <= 1);
}

void tst_TimelineView::wheelOverLabelsScrollsLanes()
{
    Fixture f(200);
    const double scale = f.view.nsPerPixel();
    QCOMPARE(f.view.firstVisibleLane(), 0);
    wheel(f.vp(), QPoint(10, f.rowY(2)), -120);
    QCOMPARE(f.view.firstVisibleLane(), 3);
    QCOMPARE(f.view.nsPerPixel(), scale); // no zoom
    QCOMPARE(f.view.laneAt(f.view.axisHeight() + 1), 3);
    wheel(f.vp(), QPoint(f.view.labelWidth() + 50, f.rowY(2)), -120, Qt::ShiftModifier);
    QCOMPARE(f.view.firstVisibleLane(), 6);
}

void tst_TimelineView::dragPansAndTurnsFollowLiveOff()
{
    Fixture f;
    QVERIFY(f.view.followLive());
    QSignalSpy follow(&f.view, &TimelineView::followLiveChanged);
    const qint64 start = f.view.visibleStart();
    const double scale = f.view.nsPerPixel();
    const int y = f.rowY(1);
    const int x = f.view.labelWidth() + 400;
    QTest::mousePress(f.vp(), Qt::LeftButton, Qt::NoModifier, QPoint(x, y));
    QTest::mouseMove(f.vp(), QPoint(x - 50, y));
    QTest::mouseMove(f.vp(), QPoint(x - 100, y));
    QTest::mouseRelease(f.vp(), Qt::LeftButton, Qt::NoModifier, QPoint(x - 100, y));
    QVERIFY(!f.view.followLive());
    QCOMPARE(follow.count(), 1);
    QCOMPARE(follow.at(0).at(0).toBool(), false);
    // Dragged 100 px to the left: the view moved 100 px later in time; zoom unchanged.
    QVERIFY(qAbs(f.view.visibleStart() - (start + qint64(100 * scale))) <= 1);
    QCOMPARE(f.view.nsPerPixel(), scale);

    // New events no longer move the view.
    const qint64 panned = f.view.visibleStart();
    f.model.ingest(tasks(5, 21, f.model.ingestedEvents()), f.strings);
    f.view.modelUpdated();
    QCOMPARE(f.view.visibleStart(), panned);
    // Back to live.
    f.view.setFollowLive(true);
    QVERIFY(qAbs(f.view.visibleEnd() - f.model.latestTime()) <= 1);
}

void tst_TimelineView::horizontalScrollBarPans()
{
    Fixture f;
    // The bar spans the history (and wherever the view was when it was last laid out).
    f.view.setVisibleRange(f.model.historyStart(), f.model.historyStart() + 5 * kMs);
    f.view.setFollowLive(false);
    QScrollBar *h = f.view.horizontalScrollBar();
    QVERIFY(h->maximum() > 0);
    h->setValue(h->maximum());
    // At the end of the bar the latest time is at the right edge.
    QVERIFY(qAbs(f.view.visibleEnd() - f.model.latestTime()) <= qint64(2 * f.view.nsPerPixel()));
    h->setValue(0);
    QVERIFY(qAbs(f.view.visibleStart() - f.model.historyStart())
            <= qint64(2 * f.view.nsPerPixel()));

    f.view.setFollowLive(true);
    h->setValue(h->value() - h->singleStep());
    QVERIFY(!f.view.followLive());
}

void tst_TimelineView::shiftDragSelectsARange()
{
    Fixture f;
    f.view.setFollowLive(false);
    f.view.setVisibleRange(0, 20 * kMs);
    QSignalSpy selected(&f.view, &TimelineView::rangeSelected);
    QSignalSpy follow(&f.view, &TimelineView::followLiveChanged);
    const qint64 start = f.view.visibleStart();
    const int y = f.rowY(4);
    const int x0 = f.view.labelWidth() + 300, x1 = f.view.labelWidth() + 120;
    QTest::mousePress(f.vp(), Qt::LeftButton, Qt::ShiftModifier, QPoint(x0, y));
    QTest::mouseMove(f.vp(), QPoint(x0 - 50, y));
    QTest::mouseMove(f.vp(), QPoint(x1, y));
    QTest::mouseRelease(f.vp(), Qt::LeftButton, Qt::ShiftModifier, QPoint(x1, y));
    QCOMPARE(selected.count(), 1);
    // Dragging leftwards still gives t0 < t1.
    QCOMPARE(selected.at(0).at(0).toLongLong(), f.view.timeAt(x1));
    QCOMPARE(selected.at(0).at(1).toLongLong(), f.view.timeAt(x0));
    QVERIFY(f.view.hasSelection());
    QCOMPARE(f.view.selectionStart(), f.view.timeAt(x1));
    QCOMPARE(f.view.visibleStart(), start); // selecting does not pan
    QCOMPARE(follow.count(), 0);
    // The selection shows in a render.
    QVERIFY(!f.view.grab().isNull());
    QTest::keyClick(&f.view, Qt::Key_Escape);
    QVERIFY(!f.view.hasSelection());
}

void tst_TimelineView::rightDragSelectsARange()
{
    Fixture f;
    f.view.setFollowLive(false);
    f.view.setVisibleRange(0, 20 * kMs);
    QSignalSpy selected(&f.view, &TimelineView::rangeSelected);
    const int y = f.rowY(4);
    const int x0 = f.view.labelWidth() + 100, x1 = f.view.labelWidth() + 400;
    QTest::mousePress(f.vp(), Qt::RightButton, Qt::NoModifier, QPoint(x0, y));
    QTest::mouseMove(f.vp(), QPoint(x1, y));
    QTest::mouseRelease(f.vp(), Qt::RightButton, Qt::NoModifier, QPoint(x1, y));
    QCOMPARE(selected.count(), 1);
    const qint64 t0 = selected.at(0).at(0).toLongLong();
    const qint64 t1 = selected.at(0).at(1).toLongLong();
    QCOMPARE(t0, f.view.timeAt(x0));
    QCOMPARE(t1, f.view.timeAt(x1));
    QVERIFY(qAbs((t1 - t0) - qint64(300 * f.view.nsPerPixel())) <= 1);
    // The model answers which tasks were active in it (what the task table filters on).
    QVERIFY(!f.model.tasksActiveIn(t0, t1).empty());

    // A right click without a drag selects nothing.
    selected.clear();
    QTest::mouseClick(f.vp(), Qt::RightButton, Qt::NoModifier, QPoint(x0, y));
    QCOMPARE(selected.count(), 0);
    QVERIFY(!f.view.hasSelection());
}

void tst_TimelineView::clickSelectsTheTask()
{
    Fixture f;
    f.view.setFollowLive(false);
    f.view.setVisibleRange(0, 30 * kMs);
    QSignalSpy selected(&f.view, &TimelineView::taskSelected);
    const int lane = f.model.laneOfTask(7);
    QCOMPARE(lane, 7); // the loop, then tasks 1..20
    // Task 7 lives from 7 to 13 ms.
    const int x = int(std::lround(f.view.xAt(10 * kMs)));
    QTest::mouseClick(f.vp(), Qt::LeftButton, Qt::NoModifier, QPoint(x, f.rowY(lane)));
    QCOMPARE(selected.count(), 1);
    QCOMPARE(selected.at(0).at(0).toULongLong(), 7u);
    QCOMPARE(f.view.selectedTask(), 7u);
    QVERIFY(!f.view.hasSelection());
    // A click on the label column selects the lane's task too.
    QTest::mouseClick(f.vp(), Qt::LeftButton, Qt::NoModifier, QPoint(10, f.rowY(9)));
    QCOMPARE(selected.count(), 2);
    QCOMPARE(selected.at(1).at(0).toULongLong(), 9u);
    // A click outside any lane selects nothing.
    QTest::mouseClick(f.vp(), Qt::LeftButton, Qt::NoModifier, QPoint(x, 2));
    QCOMPARE(selected.count(), 2);
}

void tst_TimelineView::clickOnTheLoopLaneSelectsTheStepsTask()
{
    Fixture f;
    f.view.setFollowLive(false);
    f.view.setVisibleRange(0, 30 * kMs);
    QSignalSpy selected(&f.view, &TimelineView::taskSelected);
    // At 5 ms the loop ran task 4's first step.
    QCOMPARE(f.model.taskAt(0, 5 * kMs), 4u);
    const int x = int(std::lround(f.view.xAt(5 * kMs)));
    QTest::mouseClick(f.vp(), Qt::LeftButton, Qt::NoModifier, QPoint(x, f.rowY(0)));
    QCOMPARE(selected.count(), 1);
    QCOMPARE(selected.at(0).at(0).toULongLong(), 4u);
}

void tst_TimelineView::hoverShowsWakeupArrows()
{
    Fixture f;
    f.view.setFollowLive(false);
    f.view.setVisibleRange(0, 30 * kMs);
    auto arrowPixels = [&f] {
        const QImage image =
                f.view.viewport()->grab().toImage().convertToFormat(QImage::Format_RGB32);
        const QRgb arrow = qRgb(0xd0, 0x40, 0xa0);
        int n = 0;
        for (int y = 0; y < image.height(); ++y)
            for (int x = 0; x < image.width(); ++x)
                n += image.pixel(x, y) == arrow ? 1 : 0;
        return n;
    };
    QCOMPARE(arrowPixels(), 0);
    // Hovering task 7 (woken at 13 ms by its sleep) draws the arrow into its lane.
    const int x = int(std::lround(f.view.xAt(10 * kMs)));
    QTest::mouseMove(f.vp(), QPoint(x, f.rowY(7)));
    QVERIFY(arrowPixels() > 10);
    // Over the label column nothing is hovered.
    QTest::mouseMove(f.vp(), QPoint(5, f.rowY(7)));
    QCOMPARE(arrowPixels(), 0);
}

void tst_TimelineView::axisLabelsAdaptToTheZoom()
{
    QCOMPARE(TimelineView::tickLabel(1.5e6, 5e5), QStringLiteral("1.5 ms"));
    QCOMPARE(TimelineView::tickLabel(2e9, 1e9), QStringLiteral("2 s"));
    QCOMPARE(TimelineView::tickLabel(2.5e9, 5e8), QStringLiteral("2.5 s"));
    QCOMPARE(TimelineView::tickLabel(250e3, 50e3), QStringLiteral("250 \u00b5s"));
    QCOMPARE(TimelineView::tickLabel(12.5e3, 500), QStringLiteral("12.5 \u00b5s"));
    QCOMPARE(TimelineView::tickLabel(120, 20), QStringLiteral("120 ns"));
    QCOMPARE(TimelineView::formatDuration(3.017e6), QStringLiteral("3.017 ms"));
    QCOMPARE(TimelineView::formatDuration(42), QStringLiteral("42 ns"));
}

void tst_TimelineView::zoomedOutStepsStayVisible()
{
    Fixture f;
    f.view.setFollowLive(false);
    // About 1.5 ms per pixel: task 7's zero-length steps share pixels with its ready and
    // awaiting segments, yet each shows as a running pixel.
    f.view.setVisibleRange(0, 1000 * kMs);
    const QImage image = f.view.viewport()->grab().toImage().convertToFormat(QImage::Format_RGB32);
    const int y = f.rowY(7) * int(image.devicePixelRatio());
    const QRgb running = qRgb(0x2e, 0x9e, 0x44);
    const QRgb awaiting = qRgb(0x9d, 0xb4, 0xd6);
    int runningPixels = 0, awaitingPixels = 0;
    for (int x = 0; x < image.width(); ++x) {
        runningPixels += image.pixel(x, y) == running ? 1 : 0;
        awaitingPixels += image.pixel(x, y) == awaiting ? 1 : 0;
    }
    // The first step (8 ms); the last one (13 ms) lies under the done marker.
    QCOMPARE(runningPixels, 1);
    QVERIFY(awaitingPixels >= 2);
}

void tst_TimelineView::paintsTenThousandLanes()
{
    Fixture f(10'000);
    QCOMPARE(f.model.laneCount(), 10'001);
    QVERIFY(f.view.verticalScrollBar()->maximum() > 0);
    QImage image = f.view.grab().toImage();
    QVERIFY(!image.isNull());
    // Zoomed out over everything, in the middle of the lanes, with a hovered task (its
    // wake-up arrows) and a selection.
    f.view.zoomToFit();
    f.view.verticalScrollBar()->setValue(f.view.verticalScrollBar()->maximum() / 2);
    const int lane = f.view.firstVisibleLane() + 2;
    const auto &l = f.model.lane(lane);
    const int y = f.view.axisHeight() + 2 * f.view.rowHeight() + f.view.rowHeight() / 2
            - f.view.verticalScrollBar()->value() % f.view.rowHeight();
    QTest::mouseMove(f.vp(), QPoint(int(std::lround(f.view.xAt(l.firstSeen + 6 * kMs))), y));
    QVERIFY(!f.view.grab().isNull());
    f.view.setVisibleRange(5000 * kMs, 5010 * kMs);
    QVERIFY(!f.view.grab().isNull());
    f.view.verticalScrollBar()->setValue(f.view.verticalScrollBar()->maximum());
    image = f.view.grab().toImage();
    QVERIFY(!image.isNull());
    QCOMPARE(image.size(), f.view.size() * image.devicePixelRatio());
}

void tst_TimelineView::saveImageWritesPngAndSvg()
{
    Fixture f;
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString png = dir.filePath(QStringLiteral("timeline.png"));
    QString error;
    QVERIFY2(f.view.saveImage(png, &error), qPrintable(error));
    QImage read(png);
    QVERIFY(!read.isNull());
    QCOMPARE(read.size(), f.vp()->size() * read.devicePixelRatio());
    // SVG: a vector drawing with the lanes' labels as text, not a picture of them.
    const QString svg = dir.filePath(QStringLiteral("timeline.svg"));
    QVERIFY2(f.view.saveImage(svg, &error), qPrintable(error));
    QFile file(svg);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray xml = file.readAll();
    QVERIFY(xml.contains("<svg"));
    QVERIFY(xml.contains("</svg>"));
    QVERIFY(!xml.contains("<image")); // the axis is drawn, not blitted
    QVERIFY2(xml.contains(f.model.lane(2).name.toUtf8()), xml.left(400).constData());
    QVERIFY(!QFile::exists(svg + QStringLiteral(".part")));
    // Any other format is refused with a reason, and no file appears.
    const QString bmp = dir.filePath(QStringLiteral("timeline.bmp"));
    QVERIFY(!f.view.saveImage(bmp, &error));
    QVERIFY(error.contains(QLatin1String(".png or .svg")));
    QVERIFY(!QFile::exists(bmp));
    // An unwritable place: an error, not a crash.
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("QSvgPaintEngine::begin")));
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(QStringLiteral("QPainter::begin")));
    QVERIFY(!f.view.saveImage(dir.filePath(QStringLiteral("no/such/dir/t.svg")), &error));
    QVERIFY(error.contains(QLatin1String("Cannot write")));
}

QTEST_MAIN(tst_TimelineView)
#include "tst_timelineview.moc"
