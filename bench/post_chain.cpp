// post_chain: one callback re-schedules itself 1,000,000 times. Loopscope's callSoon against
// a chain of queued QMetaObject::invokeMethod calls. While Loopscope's chain runs, a 5 ms
// QTimer keeps firing: "qt_timer_late_max_ms" is how late it fired at worst (the loop must
// stay a good citizen of Qt's event loop, issue 6: within 5 ms).
//
//   bench_post_chain [--quick] [--reps N]

#include "benchsupport.h"

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QTimer>

namespace {

struct LoopscopeChain
{
    loopscope::EventLoop *loop;
    std::int64_t *left;
    void operator()() const
    {
        if (--*left == 0)
            loop->stop();
        else
            loop->callSoon(*this);
    }
};

struct QtChain
{
    QObject *target;
    QEventLoop *events;
    std::int64_t *left;
    void operator()() const
    {
        if (--*left == 0)
            events->quit();
        else
            QMetaObject::invokeMethod(target, *this, Qt::QueuedConnection);
    }
};

//! A 5 ms repeating QTimer that records how late each timeout came.
class TimerProbe
{
public:
    TimerProbe()
    {
        m_timer.setTimerType(Qt::PreciseTimer);
        m_timer.setInterval(5);
        QObject::connect(&m_timer, &QTimer::timeout, &m_timer, [this] {
            const auto now = bench::Clock::now();
            const double late =
                    std::chrono::duration<double, std::milli>(now - m_last).count() - 5.0;
            m_maxLate = std::max(m_maxLate, late);
            m_last = now;
            ++m_fired;
        });
        m_last = bench::Clock::now();
        m_timer.start();
    }
    double maxLateMs() const { return m_maxLate; }
    int fired() const { return m_fired; }

private:
    QTimer m_timer;
    bench::Clock::time_point m_last;
    double m_maxLate = 0;
    int m_fired = 0;
};

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const bench::Options options(argc, argv);
    const std::int64_t n = options.size(1'000'000);
    bench::Result ours("post_chain", "loopscope", n);
    bench::Result qt("post_chain", "qt", n);

    for (int rep = 0; rep < options.repetitions; ++rep) {
        {
            loopscope::EventLoop loop;
            std::int64_t left = n;
            TimerProbe probe;
            const auto start = bench::Clock::now();
            loop.callSoon(LoopscopeChain{ &loop, &left });
            loop.runForever();
            ours.addRun(bench::secondsSince(start));
            ours.addFigure("qt_timer_late_max_ms", probe.maxLateMs());
            ours.addFigure("qt_timer_fired", probe.fired());
        }
        {
            QObject target;
            QEventLoop events;
            std::int64_t left = n;
            TimerProbe probe;
            const auto start = bench::Clock::now();
            QMetaObject::invokeMethod(&target, QtChain{ &target, &events, &left },
                                      Qt::QueuedConnection);
            events.exec();
            qt.addRun(bench::secondsSince(start));
            qt.addFigure("qt_timer_late_max_ms", probe.maxLateMs());
            qt.addFigure("qt_timer_fired", probe.fired());
        }
    }
    ours.print();
    qt.print();
    bench::printRatio("post_chain", ours, qt, "per_op_ns", 30, "ns");
    const double worst = ours.figureMax("qt_timer_late_max_ms");
    std::printf("post_chain    a 5 ms QTimer during the Loopscope chain fired at worst %.2f ms "
                "late (median over repetitions of each one's worst; worst of all: %.2f ms; "
                "target: within 5 ms: %s)\n",
                ours.figure("qt_timer_late_max_ms"), worst, worst <= 5.0 ? "met" : "NOT met");
    return 0;
}
