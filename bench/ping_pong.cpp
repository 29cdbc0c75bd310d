// ping_pong: two tasks exchange 200,000 messages through two Queues (ping and pong), timed
// per round trip. Against two QCoro coroutines that await each other's Qt signals
// (qCoro(obj, &Class::signal)); each side emits through a queued call so that the other is
// already waiting when the signal comes.
//
//   bench_ping_pong [--quick] [--reps N]

#include "benchsupport.h"

#include <loopscope/loopscope.h>

#include <QCoreApplication>
#include <QCoroSignal>
#include <QCoroTask>
#include <QEventLoop>

namespace {

class Player : public QObject
{
    Q_OBJECT
Q_SIGNALS:
    void ball(int value);
};

loopscope::Coro<void> pinger(loopscope::Queue<int> &ping, loopscope::Queue<int> &pong,
                             std::int64_t rounds)
{
    for (std::int64_t i = 0; i < rounds; ++i) {
        co_await ping.put(int(i));
        (void)co_await pong.get();
    }
}

loopscope::Coro<void> ponger(loopscope::Queue<int> &ping, loopscope::Queue<int> &pong,
                             std::int64_t rounds)
{
    for (std::int64_t i = 0; i < rounds; ++i) {
        const int v = co_await ping.get();
        co_await pong.put(v);
    }
}

void serve(Player *to, int value)
{
    QMetaObject::invokeMethod(
            to, [to, value] { Q_EMIT to->ball(value); }, Qt::QueuedConnection);
}

QCoro::Task<void> qcoroPinger(Player *mine, Player *theirs, std::int64_t rounds, QEventLoop *events)
{
    for (std::int64_t i = 0; i < rounds; ++i) {
        serve(theirs, int(i));
        (void)co_await qCoro(mine, &Player::ball);
    }
    events->quit();
}

QCoro::Task<void> qcoroPonger(Player *mine, Player *theirs, std::int64_t rounds)
{
    for (std::int64_t i = 0; i < rounds; ++i) {
        const int v = co_await qCoro(mine, &Player::ball);
        serve(theirs, v);
    }
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const bench::Options options(argc, argv);
    const std::int64_t rounds = options.size(200'000);
    bench::Result ours("ping_pong", "loopscope", rounds);
    bench::Result qcoro("ping_pong", "qcoro", rounds);
    for (int rep = 0; rep < options.repetitions; ++rep) {
        {
            loopscope::EventLoop loop;
            loopscope::Queue<int> ping(1);
            loopscope::Queue<int> pong(1);
            const auto start = bench::Clock::now();
            auto b = loop.createTask(ponger(ping, pong, rounds));
            auto a = loop.createTask(pinger(ping, pong, rounds));
            loop.runUntilComplete(a);
            loop.runUntilComplete(b);
            ours.addRun(bench::secondsSince(start));
        }
        {
            Player a;
            Player b;
            QEventLoop events;
            const auto start = bench::Clock::now();
            auto ponger = qcoroPonger(&b, &a, rounds); // waits for the first ball
            auto pinger = qcoroPinger(&a, &b, rounds, &events);
            events.exec();
            qcoro.addRun(bench::secondsSince(start));
        }
    }
    ours.print();
    qcoro.print();
    bench::printRatio("ping_pong", ours, qcoro, "per_op_ns", 15, "ns");
    return 0;
}

#include "ping_pong.moc"
