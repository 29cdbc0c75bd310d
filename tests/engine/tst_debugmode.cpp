// Debug mode: slow callbacks and task steps, foreign-thread calls, never-awaited coroutines.

#include <loopscope/loopscope.h>

#include <QTest>

#include <thread>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::ExceptionContext;
using loopscope::VirtualClock;

namespace {

struct Fixture
{
    std::shared_ptr<VirtualClock> clock = std::make_shared<VirtualClock>();
    EventLoop loop{ clock };
    std::vector<ExceptionContext> reports;
    Fixture()
    {
        loop.setExceptionHandler([this](const ExceptionContext &c) { reports.push_back(c); });
    }
    QStringList messages() const
    {
        QStringList out;
        for (const auto &r : reports)
            out << r.message;
        return out;
    }
};

Coro<int> neverAwaitedCoroutine()
{
    co_return 1;
}

Coro<void> stepper()
{
    co_await loopscope::sleep(0s);
}

} // namespace

class tst_DebugMode : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void offByDefaultAndSwitchable();
    void environmentVariableTurnsItOn();
    void slowCallbackIsReportedWithCreationSite();
    void fastCallbackIsNotReported();
    void slowCallbacksAreNotReportedWhenDebugIsOff();
    void slowTaskStepNamesTheTask();
    void foreignThreadCallSoonThrows();
    void foreignThreadCallSoonThreadsafeStillWorks();
    void neverAwaitedCoroutineIsReportedWithItsDefinition();
    void awaitedOrScheduledCoroutineIsNotReported();
    void neverAwaitedIsSilentWhenDebugIsOff();
};

void tst_DebugMode::offByDefaultAndSwitchable()
{
    qunsetenv("LOOPSCOPE_DEBUG");
    EventLoop loop(std::make_shared<VirtualClock>());
    QVERIFY(!loop.debug());
    QCOMPARE(loop.slowCallbackDuration(), loopscope::Duration(100ms));
    loop.setDebug(true);
    QVERIFY(loop.debug());
    loop.setSlowCallbackDuration(5ms);
    QCOMPARE(loop.slowCallbackDuration(), loopscope::Duration(5ms));
}

void tst_DebugMode::environmentVariableTurnsItOn()
{
    qputenv("LOOPSCOPE_DEBUG", "1");
    EventLoop loop(std::make_shared<VirtualClock>());
    qunsetenv("LOOPSCOPE_DEBUG");
    QVERIFY(loop.debug());
}

void tst_DebugMode::slowCallbackIsReportedWithCreationSite()
{
    Fixture f;
    f.loop.setDebug(true);
    // A zero threshold makes every callback "slow": deterministic, no busy waiting.
    f.loop.setSlowCallbackDuration(0ns);
    const int line = __LINE__ + 1;
    f.loop.callSoon([] {});
    f.loop.callSoon([&] { f.loop.stop(); });
    f.loop.runForever();
    QVERIFY(f.reports.size() >= 1);
    const QString msg = f.reports.front().message;
    QVERIFY2(msg.startsWith(
                     QStringLiteral(
                             "Executing <Handle callSoon created at tst_debugmode.cpp:%1> took ")
                             .arg(line)),
             qPrintable(msg));
    QVERIFY(msg.endsWith(QStringLiteral(" seconds")));
    QVERIFY(!f.reports.front().exception);
}

void tst_DebugMode::fastCallbackIsNotReported()
{
    Fixture f;
    f.loop.setDebug(true);
    f.loop.setSlowCallbackDuration(1h);
    f.loop.callSoon([] {});
    f.loop.callSoon([&] { f.loop.stop(); });
    f.loop.runForever();
    QVERIFY(f.reports.empty());
}

void tst_DebugMode::slowCallbacksAreNotReportedWhenDebugIsOff()
{
    Fixture f;
    f.loop.setSlowCallbackDuration(0ns);
    f.loop.callSoon([] {});
    f.loop.callSoon([&] { f.loop.stop(); });
    f.loop.runForever();
    QVERIFY(f.reports.empty());
}

void tst_DebugMode::slowTaskStepNamesTheTask()
{
    Fixture f;
    f.loop.setDebug(true);
    f.loop.setSlowCallbackDuration(0ns);
    f.loop.runUntilComplete(f.loop.createTask(stepper(), QStringLiteral("stepper")));
    bool named = false;
    for (const auto &r : f.reports) {
        if (r.message.startsWith(QStringLiteral("Executing step of <Task #1 'stepper'"))
            && r.task.contains(QStringLiteral("tst_debugmode.cpp")))
            named = true;
    }
    QVERIFY2(named, qPrintable(f.messages().join(QStringLiteral(" | "))));
}

void tst_DebugMode::foreignThreadCallSoonThrows()
{
    Fixture f;
    f.loop.setDebug(true);
    QString error;
    std::thread t([&] {
        try {
            f.loop.callSoon([] {});
        } catch (const loopscope::RuntimeError &e) {
            error = QString::fromUtf8(e.what());
        }
        try {
            (void)f.loop.callLater(1s, [] {});
        } catch (const loopscope::RuntimeError &e) {
            error += QStringLiteral(" | ") + QString::fromUtf8(e.what());
        }
    });
    t.join();
    QVERIFY2(error.startsWith(QStringLiteral("callSoon: non-thread-safe operation")),
             qPrintable(error));
    QVERIFY(error.contains(QStringLiteral("| callAt: non-thread-safe operation")));
    QVERIFY(error.contains(QStringLiteral("use callSoonThreadsafe")));
}

void tst_DebugMode::foreignThreadCallSoonThreadsafeStillWorks()
{
    Fixture f;
    f.loop.setDebug(true);
    bool ran = false;
    std::thread t([&] {
        f.loop.callSoonThreadsafe([&] {
            ran = true;
            f.loop.stop();
        });
    });
    f.loop.runForever();
    t.join();
    QVERIFY(ran);
    QVERIFY(f.reports.empty());
}

void tst_DebugMode::neverAwaitedCoroutineIsReportedWithItsDefinition()
{
    Fixture f;
    f.loop.setDebug(true);
    {
        auto forgotten = neverAwaitedCoroutine();
        QCOMPARE(QByteArray(forgotten.location().functionName()),
                 QByteArray("neverAwaitedCoroutine"));
    }
    QCOMPARE(f.reports.size(), 1u);
    QVERIFY2(f.reports[0].message.startsWith(QStringLiteral(
                     "coroutine 'neverAwaitedCoroutine' was never awaited (defined at "
                     "tst_debugmode.cpp:")),
             qPrintable(f.reports[0].message));
}

void tst_DebugMode::awaitedOrScheduledCoroutineIsNotReported()
{
    Fixture f;
    f.loop.setDebug(true);
    auto outer = []() -> Coro<int> { co_return co_await neverAwaitedCoroutine(); };
    QCOMPARE(f.loop.runUntilComplete(outer()), 1);
    auto task = f.loop.createTask(neverAwaitedCoroutine());
    QCOMPARE(f.loop.runUntilComplete(task), 1);
    QVERIFY2(f.reports.empty(), qPrintable(f.messages().join(QStringLiteral(" | "))));
}

void tst_DebugMode::neverAwaitedIsSilentWhenDebugIsOff()
{
    Fixture f;
    {
        auto forgotten = neverAwaitedCoroutine();
    }
    QVERIFY(f.reports.empty());
}

QTEST_GUILESS_MAIN(tst_DebugMode)
#include "tst_debugmode.moc"
