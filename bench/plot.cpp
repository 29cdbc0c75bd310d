// Draws the figures of a bench/run (its JSON lines, bench-results.jsonl) as a PNG: one row
// per workload, one bar per implementation, each bar the per-op cost (bytes per sleeping task
// for sleepers_mem) on the row's own scale, with the value and how many times Loopscope is
// cheaper. Renders offscreen; docs/performance.png is made with it.
//
//   bench_plot <bench-results.jsonl> <out.png>

#include <QColor>
#include <QFile>
#include <QFont>
#include <QGuiApplication>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPainter>
#include <QString>
#include <QStringList>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace {

struct Bar
{
    QString impl;
    qint64 n = 0;
    double value = 0;
};

struct Row
{
    QString workload;
    QString unit;
    std::vector<Bar> bars;
};

const QStringList kWorkloads{ QStringLiteral("post_burst"), QStringLiteral("post_chain"),
                              QStringLiteral("task_yield"), QStringLiteral("timers"),
                              QStringLiteral("ping_pong"),  QStringLiteral("sleepers_mem"),
                              QStringLiteral("executor") };

//! Issue 6's target for each workload's ratio, shown under its name.
QString targetOf(const QString &workload)
{
    if (workload == QLatin1String("post_burst"))
        return QStringLiteral("target ≥ 20×");
    if (workload == QLatin1String("post_chain"))
        return QStringLiteral("target ≥ 30×");
    if (workload == QLatin1String("task_yield"))
        return QStringLiteral("target ≥ 100×");
    if (workload == QLatin1String("timers"))
        return QStringLiteral("target ≥ 10×");
    if (workload == QLatin1String("ping_pong"))
        return QStringLiteral("target ≥ 15×");
    if (workload == QLatin1String("sleepers_mem"))
        return QStringLiteral("target ≥ 3×");
    if (workload == QLatin1String("executor"))
        return QStringLiteral("target ≥ 1×");
    return {};
}

QColor colorOf(const QString &impl)
{
    if (impl.startsWith(QLatin1String("loopscope")))
        return QColor(0x2b, 0x7a, 0x4b);
    if (impl == QLatin1String("qcoro"))
        return QColor(0x8e, 0x5a, 0xa8);
    return QColor(0x3d, 0x6f, 0xb6); // qt
}

QString formatValue(double v, const QString &unit)
{
    if (unit == QLatin1String("ns") && v >= 10'000)
        return QStringLiteral("%1 µs").arg(v / 1000, 0, 'f', 1);
    return QStringLiteral("%1 %2").arg(v, 0, 'f', v < 100 ? 1 : 0).arg(unit);
}

} // namespace

int main(int argc, char **argv)
{
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s <bench-results.jsonl> <out.png>\n", argv[0]);
        return 2;
    }
    QFile in(QString::fromLocal8Bit(argv[1]));
    if (!in.open(QIODevice::ReadOnly)) {
        std::fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    std::vector<Row> rows;
    for (const QString &w : kWorkloads)
        rows.push_back(Row{ w,
                            w == QLatin1String("sleepers_mem") ? QStringLiteral("B")
                                                               : QStringLiteral("ns"),
                            {} });
    while (!in.atEnd()) {
        const QJsonObject o = QJsonDocument::fromJson(in.readLine()).object();
        const auto row = std::find_if(rows.begin(), rows.end(), [&](const Row &r) {
            return r.workload == o.value(QLatin1String("workload")).toString();
        });
        if (row == rows.end() || o.contains(QLatin1String("observer")))
            continue;
        const bool bytes = row->unit == QLatin1String("B");
        Bar bar{
            o.value(QLatin1String("impl")).toString(),
            qint64(o.value(QLatin1String("n")).toDouble()),
            o.value(bytes ? QLatin1String("bytes_per_task") : QLatin1String("per_op_ns")).toDouble()
        };
        row->bars.push_back(bar);
    }
    // Timers: the full-size Loopscope run is labelled with its size; the one at Qt's size is
    // the one compared.
    for (Row &r : rows) {
        qint64 baselineN = 0;
        for (const Bar &b : r.bars)
            if (!b.impl.startsWith(QLatin1String("loopscope")))
                baselineN = b.n;
        int loopscopeBars = 0;
        for (const Bar &b : r.bars)
            loopscopeBars += b.impl.startsWith(QLatin1String("loopscope"));
        if (loopscopeBars > 1)
            for (Bar &b : r.bars)
                if (b.impl == QLatin1String("loopscope") && b.n != baselineN)
                    b.impl = QStringLiteral("loopscope (n=%1)").arg(b.n);
    }
    std::erase_if(rows, [](const Row &r) { return r.bars.empty(); });

    constexpr int kWidth = 1100, kLeft = 150, kLabel = 240, kBar = 22, kGap = 6, kRowGap = 26;
    int height = 70;
    for (const Row &r : rows)
        height += int(r.bars.size()) * (kBar + kGap) + kRowGap;
    QImage image(kWidth, height, QImage::Format_RGB32);
    image.fill(Qt::white);
    QPainter p(&image);
    p.setRenderHint(QPainter::Antialiasing);
    QFont title = p.font();
    title.setPixelSize(18);
    title.setBold(true);
    QFont text = p.font();
    text.setPixelSize(13);
    p.setFont(title);
    p.drawText(QRect(0, 10, kWidth, 30), Qt::AlignCenter,
               QStringLiteral("Per-op cost, Loopscope vs Qt / QCoro (median; lower is better)"));
    p.setFont(text);
    int y = 55;
    for (const Row &r : rows) {
        double max = 0;
        double ours = 0;
        for (const Bar &b : r.bars) {
            max = std::max(max, b.value);
            if (b.impl == QLatin1String("loopscope"))
                ours = b.value;
        }
        const int rowHeight = int(r.bars.size()) * (kBar + kGap);
        QFont bold = text;
        bold.setBold(true);
        p.setFont(bold);
        p.setPen(Qt::black);
        p.drawText(QRect(8, y, kLeft - 12, rowHeight / 2), Qt::AlignBottom | Qt::AlignLeft,
                   r.workload);
        p.setFont(text);
        p.setPen(QColor(0x66, 0x66, 0x66));
        p.drawText(QRect(8, y + rowHeight / 2, kLeft - 12, rowHeight / 2),
                   Qt::AlignTop | Qt::AlignLeft, targetOf(r.workload));
        for (const Bar &b : r.bars) {
            const int span = kWidth - kLeft - kLabel - 20;
            const int w = max > 0 ? std::max(2, int(span * b.value / max)) : 2;
            p.fillRect(QRect(kLeft, y, w, kBar), colorOf(b.impl));
            QString label = b.impl + QStringLiteral("  ") + formatValue(b.value, r.unit);
            if (!b.impl.startsWith(QLatin1String("loopscope")) && ours > 0)
                label += QStringLiteral("  (%1×)").arg(b.value / ours, 0, 'f', 1);
            p.setPen(Qt::black);
            p.drawText(QRect(kLeft + w + 6, y, kWidth - kLeft - w - 10, kBar),
                       Qt::AlignVCenter | Qt::AlignLeft, label);
            y += kBar + kGap;
        }
        p.setPen(QColor(0xdd, 0xdd, 0xdd));
        p.drawLine(8, y + kRowGap / 2 - 3, kWidth - 8, y + kRowGap / 2 - 3);
        y += kRowGap;
    }
    p.end();
    if (!image.save(QString::fromLocal8Bit(argv[2]))) {
        std::fprintf(stderr, "cannot write %s\n", argv[2]);
        return 1;
    }
    std::printf("wrote %s\n", argv[2]);
    return 0;
}
