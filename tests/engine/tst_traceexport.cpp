// TraceRecorder's Chrome trace-event export: valid JSON, balanced async slices, one "f" for
// every flow "s", slices that nest on every thread, thread metadata, counters, atomic writes.

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::RecorderOptions;
using loopscope::TraceRecorder;

namespace {

struct Fixture
{
    explicit Fixture(RecorderOptions options = {})
        : clock(std::make_shared<loopscope::VirtualClock>()), rec(options), loop(clock)
    {
        loop.addObserver(&rec);
        loop.setExceptionHandler(rec.exceptionHandler([](const loopscope::ExceptionContext &) {}));
    }
    std::shared_ptr<loopscope::VirtualClock> clock;
    TraceRecorder rec; // outlives the loop, which still reports while it closes
    EventLoop loop;
};

Coro<int> child(int ms)
{
    co_await loopscope::sleep(std::chrono::milliseconds(ms));
    co_return ms;
}

Coro<void> failer()
{
    co_await loopscope::sleep(0s);
    throw std::runtime_error("broken");
}

//! Tasks, sleeps, a yield, an executor job, a failure and a cancellation, callbacks, timers.
void runScenario(Fixture &f)
{
    auto scenario = [&]() -> Coro<int> {
        auto a = f.loop.createTask(child(10), QStringLiteral("child-a"));
        auto b = f.loop.createTask(child(20), QStringLiteral("child-b"));
        int sum = co_await a;
        sum += co_await b;
        sum += co_await f.loop.runInExecutor([] { return 5; });
        co_await loopscope::sleep(0s);
        auto bad = f.loop.createTask(failer(), QStringLiteral("failer"));
        try {
            co_await bad;
        } catch (const std::runtime_error &) {
        }
        auto victim = f.loop.createTask(child(1000), QStringLiteral("victim"));
        f.loop.callLater(5ms, [victim]() mutable { victim.cancel("enough"); });
        try {
            co_await victim;
        } catch (const loopscope::CancelledError &) {
        }
        co_return sum;
    };
    f.loop.callSoon([] {});
    f.loop.callLater(1ms, [] {});
    QCOMPARE(f.loop.runUntilComplete(f.loop.createTask(scenario(), QStringLiteral("main"))), 35);
}

QJsonArray parse(const QByteArray &json, QString *error)
{
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &pe);
    if (pe.error != QJsonParseError::NoError) {
        *error = QStringLiteral("invalid JSON at %1: %2").arg(pe.offset).arg(pe.errorString());
        return {};
    }
    if (!doc.isObject() || !doc.object().value(QStringLiteral("traceEvents")).isArray()) {
        *error = QStringLiteral("no traceEvents array");
        return {};
    }
    return doc.object().value(QStringLiteral("traceEvents")).toArray();
}

QString str(const QJsonObject &o, const char *key)
{
    return o.value(QLatin1String(key)).toString();
}
double num(const QJsonObject &o, const char *key)
{
    return o.value(QLatin1String(key)).toDouble();
}
QString idOf(const QJsonObject &o)
{
    return o.value(QStringLiteral("id")).toVariant().toString();
}

std::vector<QJsonObject> ofPhase(const QJsonArray &events, const char *ph)
{
    std::vector<QJsonObject> out;
    for (const QJsonValue &v : events)
        if (str(v.toObject(), "ph") == QLatin1String(ph))
            out.push_back(v.toObject());
    return out;
}

// Timestamps are microseconds with three decimals; compare with half a nanosecond of slack.
constexpr double kEps = 0.0005;

struct Slice
{
    double start;
    double end;
};

//! Every rule a trace viewer relies on; empty when all hold.
QString checkTrace(const QJsonArray &events)
{
    // Async slices: per (cat, id), in time order, every "b" closed by an "e", never below 0.
    std::map<std::pair<QString, QString>, std::vector<std::pair<double, int>>> async;
    std::map<QString, std::vector<QJsonObject>> flowStarts, flowEnds;
    std::map<int, std::vector<Slice>> slices;
    for (const QJsonValue &v : events) {
        if (!v.isObject())
            return QStringLiteral("an event is not an object");
        const QJsonObject o = v.toObject();
        const QString ph = str(o, "ph");
        if (ph.isEmpty())
            return QStringLiteral("an event has no ph");
        if (ph != QLatin1String("M") && !o.value(QStringLiteral("ts")).isDouble())
            return QStringLiteral("a %1 event has no numeric ts").arg(ph);
        if (ph == QLatin1String("b") || ph == QLatin1String("e")) {
            if (str(o, "cat").isEmpty() || idOf(o).isEmpty())
                return QStringLiteral("async event without cat or id");
            async[{ str(o, "cat"), idOf(o) }].push_back(
                    { num(o, "ts"), ph == QLatin1String("b") ? 1 : -1 });
        } else if (ph == QLatin1String("s")) {
            flowStarts[idOf(o)].push_back(o);
        } else if (ph == QLatin1String("f")) {
            flowEnds[idOf(o)].push_back(o);
        } else if (ph == QLatin1String("X")) {
            if (num(o, "dur") < 0)
                return QStringLiteral("negative dur");
            slices[o.value(QStringLiteral("tid")).toInt()].push_back(
                    { num(o, "ts"), num(o, "ts") + num(o, "dur") });
        }
    }
    for (auto &[key, marks] : async) {
        // At equal times an "e" of one nested slice may precede the "b" of the next.
        std::stable_sort(marks.begin(), marks.end(),
                         [](const auto &a, const auto &b) { return a.first < b.first; });
        int depth = 0;
        for (const auto &[ts, delta] : marks) {
            depth += delta;
            if (depth < 0)
                return QStringLiteral("\"e\" before its \"b\" for cat %1 id %2")
                        .arg(key.first, key.second);
        }
        if (depth != 0)
            return QStringLiteral("%1 unclosed \"b\" for cat %2 id %3")
                    .arg(depth)
                    .arg(key.first, key.second);
    }
    // Complete slices nest on every thread: sorted by start (longer first), each one starts
    // after the enclosing one ends or ends inside it.
    for (auto &[tid, list] : slices) {
        std::sort(list.begin(), list.end(), [](const Slice &a, const Slice &b) {
            return a.start < b.start || (a.start == b.start && a.end > b.end);
        });
        std::vector<Slice> stack;
        for (const Slice &s : list) {
            while (!stack.empty() && stack.back().end <= s.start + kEps)
                stack.pop_back();
            if (!stack.empty() && s.end > stack.back().end + kEps)
                return QStringLiteral("slices overlap on tid %1 at %2")
                        .arg(tid)
                        .arg(s.start, 0, 'f', 3);
            stack.push_back(s);
        }
    }
    auto enclosed = [&](const QJsonObject &o) {
        const double ts = num(o, "ts");
        for (const Slice &s : slices[o.value(QStringLiteral("tid")).toInt()])
            if (s.start - kEps <= ts && ts <= s.end + kEps)
                return true;
        return false;
    };
    for (const auto &[id, starts] : flowStarts) {
        const auto ends = flowEnds.find(id);
        if (starts.size() != 1 || ends == flowEnds.end() || ends->second.size() != 1)
            return QStringLiteral("flow %1 has %2 \"s\" and %3 \"f\"")
                    .arg(id)
                    .arg(starts.size())
                    .arg(ends == flowEnds.end() ? 0 : ends->second.size());
        const QJsonObject &s = starts.front();
        const QJsonObject &f = ends->second.front();
        if (str(s, "cat") != str(f, "cat"))
            return QStringLiteral("flow %1 changes category").arg(id);
        if (num(f, "ts") < num(s, "ts"))
            return QStringLiteral("flow %1 ends before it starts").arg(id);
        if (str(f, "bp") != QLatin1String("e"))
            return QStringLiteral("flow %1 end does not bind to its enclosing slice").arg(id);
        if (!enclosed(s) || !enclosed(f))
            return QStringLiteral("flow %1 is not inside slices").arg(id);
    }
    for (const auto &[id, ends] : flowEnds)
        if (!flowStarts.count(id))
            return QStringLiteral("flow %1 has an \"f\" but no \"s\"").arg(id);
    return {};
}

QJsonArray exportAndCheck(const TraceRecorder &rec)
{
    QString error;
    const QJsonArray events = parse(rec.chromeTraceJson(), &error);
    if (error.isEmpty())
        error = checkTrace(events);
    if (!error.isEmpty())
        qWarning("%s", qPrintable(error));
    return error.isEmpty() ? events : QJsonArray();
}

} // namespace

class tst_TraceExport : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void emptyRecorderExportsValidTrace();
    void exportIsValidAndBalanced();
    void tasksAreAsyncSlicesWithStepsOnTheLoopThread();
    void wakeupsAreFlowArrows();
    void threadMetadataAndCounters();
    void wrappedRingStillBalanced();
    void namesAreEscaped();
    void drainedEventsExport();
    void exportWritesAtomically();
    void exportToUnwritablePathFailsAndLeavesNothing();
};

void tst_TraceExport::emptyRecorderExportsValidTrace()
{
    TraceRecorder rec;
    QString error;
    const QJsonArray events = parse(rec.chromeTraceJson(), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(checkTrace(events), QString());
    QVERIFY(!ofPhase(events, "M").empty());
}

void tst_TraceExport::exportIsValidAndBalanced()
{
    Fixture f;
    runScenario(f);
    const QJsonArray events = exportAndCheck(f.rec);
    QVERIFY(!events.isEmpty());
    QVERIFY(!ofPhase(events, "X").empty());
    QVERIFY(!ofPhase(events, "b").empty());
    QVERIFY(!ofPhase(events, "s").empty());

    QJsonParseError pe;
    const QJsonObject top = QJsonDocument::fromJson(f.rec.chromeTraceJson(), &pe).object();
    const QJsonObject other = top.value(QStringLiteral("otherData")).toObject();
    QCOMPARE(other.value(QStringLiteral("producedEvents")).toDouble(),
             double(f.rec.producedEvents()));
    QCOMPARE(other.value(QStringLiteral("droppedEvents")).toDouble(), 0.0);
}

void tst_TraceExport::tasksAreAsyncSlicesWithStepsOnTheLoopThread()
{
    Fixture f;
    runScenario(f);
    const QJsonArray events = exportAndCheck(f.rec);
    QVERIFY(!events.isEmpty());

    std::map<QString, QString> taskIdByName;
    for (const QJsonObject &b : ofPhase(events, "b"))
        if (str(b, "cat") == QLatin1String("task") && b.value(QStringLiteral("args")).isObject()
            && b.value(QStringLiteral("args")).toObject().contains(QStringLiteral("parent")))
            taskIdByName[str(b, "name")] = idOf(b);
    for (const char *name : { "main", "child-a", "child-b", "failer", "victim" })
        QVERIFY2(taskIdByName.count(QLatin1String(name)), name);

    // Each task's steps are "X" slices on the loop thread, as many as it had steps.
    std::map<QString, int> steps;
    for (const QJsonObject &x : ofPhase(events, "X"))
        if (str(x, "cat") == QLatin1String("step")) {
            QCOMPARE(x.value(QStringLiteral("tid")).toInt(), 1);
            ++steps[x.value(QStringLiteral("args"))
                            .toObject()
                            .value(QStringLiteral("task"))
                            .toVariant()
                            .toString()];
        }
    for (const auto &t : f.rec.tasks())
        QCOMPARE(steps[QString::number(t.id)], int(t.steps));

    // How each ended is on its "e".
    std::map<QString, QString> statusById;
    for (const QJsonObject &e : ofPhase(events, "e")) {
        const QJsonObject args = e.value(QStringLiteral("args")).toObject();
        if (args.contains(QStringLiteral("status")))
            statusById[idOf(e)] = str(args, "status");
    }
    QCOMPARE(statusById[taskIdByName[QStringLiteral("main")]], QStringLiteral("finished"));
    QCOMPARE(statusById[taskIdByName[QStringLiteral("failer")]], QStringLiteral("failed"));
    QCOMPARE(statusById[taskIdByName[QStringLiteral("victim")]], QStringLiteral("cancelled"));

    // Waits are nested slices of the task, named after what it awaited.
    bool sawSleepWait = false;
    for (const QJsonObject &b : ofPhase(events, "b"))
        sawSleepWait |= str(b, "name").startsWith(QStringLiteral("await sleep #"));
    QVERIFY(sawSleepWait);
}

void tst_TraceExport::wakeupsAreFlowArrows()
{
    Fixture f;
    runScenario(f);
    const QJsonArray events = exportAndCheck(f.rec);
    QVERIFY(!events.isEmpty());
    int wakeups = 0;
    for (const auto &e : f.rec.snapshot())
        wakeups += e.kind == loopscope::TraceEventKind::Wakeup ? 1 : 0;
    int wakeupFlows = 0;
    int executorFlows = 0;
    for (const QJsonObject &s : ofPhase(events, "s")) {
        wakeupFlows += str(s, "cat") == QLatin1String("wakeup") ? 1 : 0;
        if (str(s, "cat") == QLatin1String("executor")) {
            ++executorFlows;
            QVERIFY(s.value(QStringLiteral("tid")).toInt() > 1); // from the worker thread
        }
    }
    // Every wake-up whose cause is in the window (all of them here) is an arrow.
    QVERIFY(wakeups > 5);
    QCOMPARE(wakeupFlows, wakeups);
    QCOMPARE(executorFlows, 1);
}

void tst_TraceExport::threadMetadataAndCounters()
{
    Fixture f;
    runScenario(f);
    const QJsonArray events = exportAndCheck(f.rec);
    QVERIFY(!events.isEmpty());
    std::map<int, QString> threads;
    bool process = false;
    for (const QJsonObject &m : ofPhase(events, "M")) {
        if (str(m, "name") == QLatin1String("thread_name"))
            threads[m.value(QStringLiteral("tid")).toInt()] =
                    str(m.value(QStringLiteral("args")).toObject(), "name");
        process |= str(m, "name") == QLatin1String("process_name");
    }
    QVERIFY(process);
    QCOMPARE(threads[1], QStringLiteral("event loop"));
    QCOMPARE(threads[2], QStringLiteral("executor thread 1"));
    // The executor job is a slice on its thread.
    bool jobSlice = false;
    for (const QJsonObject &x : ofPhase(events, "X"))
        jobSlice |= str(x, "cat") == QLatin1String("executor")
                && x.value(QStringLiteral("tid")).toInt() == 2;
    QVERIFY(jobSlice);

    int ready = 0;
    int timers = 0;
    for (const QJsonObject &c : ofPhase(events, "C")) {
        const QJsonObject args = c.value(QStringLiteral("args")).toObject();
        if (str(c, "name") == QLatin1String("ready queue")
            && args.value(QStringLiteral("ready")).isDouble())
            ++ready;
        if (str(c, "name") == QLatin1String("timers")
            && args.value(QStringLiteral("timers")).isDouble())
            ++timers;
    }
    const auto iterations = f.rec.loopStats().iterations;
    QCOMPARE(std::uint64_t(ready), iterations);
    QCOMPARE(std::uint64_t(timers), iterations);
}

void tst_TraceExport::wrappedRingStillBalanced()
{
    // The window starts mid-stream: ends without beginnings, tasks created before it.
    for (std::size_t capacity : { 16u, 32u, 64u, 128u }) {
        RecorderOptions o;
        o.capacity = capacity;
        Fixture f(o);
        runScenario(f);
        QVERIFY(f.rec.droppedEvents() > 0);
        const QJsonArray events = exportAndCheck(f.rec);
        QVERIFY2(!events.isEmpty(), qPrintable(QString::number(capacity)));
    }
    {
        // Every possible window start and end of one run, through the export of a vector.
        Fixture f;
        runScenario(f);
        const auto all = f.rec.snapshot();
        QVERIFY(all.size() > 100);
        for (std::size_t cut = 0; cut < all.size(); ++cut) {
            for (const bool head : { true, false }) {
                const std::vector<loopscope::RecordedEvent> part = head
                        ? std::vector<loopscope::RecordedEvent>(all.begin() + long(cut), all.end())
                        : std::vector<loopscope::RecordedEvent>(all.begin(),
                                                                all.begin() + long(cut));
                QString error;
                const QJsonArray events = parse(f.rec.chromeTraceJson(part), &error);
                if (error.isEmpty())
                    error = checkTrace(events);
                QVERIFY2(error.isEmpty(),
                         qPrintable(QStringLiteral("%1 %2: %3")
                                            .arg(head ? QStringLiteral("from")
                                                      : QStringLiteral("up to"))
                                            .arg(cut)
                                            .arg(error)));
            }
        }
    }
    // A trace taken while tasks are still pending closes their slices at its end.
    Fixture f;
    auto pending = f.loop.createTask(child(10000), QStringLiteral("still-sleeping"));
    f.loop.runUntilComplete(child(5));
    const QJsonArray events = exportAndCheck(f.rec);
    QVERIFY(!events.isEmpty());
    bool endedPending = false;
    for (const QJsonObject &e : ofPhase(events, "e"))
        endedPending |= idOf(e) == QString::number(pending.taskId())
                && str(e.value(QStringLiteral("args")).toObject(), "status")
                        == QLatin1String("pending at end of trace");
    QVERIFY(endedPending);
}

void tst_TraceExport::namesAreEscaped()
{
    Fixture f;
    const QString name =
            QStringLiteral("quote\" back\\slash\nnew\ttab \u00e9\u4e2d \U0001F600 \x01");
    auto t = f.loop.createTask(child(1), name);
    f.loop.runUntilComplete(t);
    const QJsonArray events = exportAndCheck(f.rec);
    QVERIFY(!events.isEmpty());
    bool found = false;
    for (const QJsonObject &b : ofPhase(events, "b"))
        found |= str(b, "name") == name;
    QVERIFY(found);
}

void tst_TraceExport::drainedEventsExport()
{
    Fixture f;
    runScenario(f);
    std::vector<loopscope::RecordedEvent> kept;
    f.rec.drain(kept);
    QString error;
    const QJsonArray events = parse(f.rec.chromeTraceJson(kept), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(checkTrace(events), QString());
    // The same events as the ring's own snapshot (nothing was dropped), the same trace.
    QCOMPARE(f.rec.chromeTraceJson(kept), f.rec.chromeTraceJson());
}

void tst_TraceExport::exportWritesAtomically()
{
    Fixture f;
    runScenario(f);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(QStringLiteral("trace.json"));
    {
        QFile old(path);
        QVERIFY(old.open(QIODevice::WriteOnly));
        old.write("old content");
    }
    QString error;
    QVERIFY2(f.rec.exportChromeTrace(path, &error), qPrintable(error));
    QVERIFY(error.isEmpty());
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QCOMPARE(file.readAll(), f.rec.chromeTraceJson());
    // Nothing but the trace in the directory: the temporary file was renamed over it.
    QCOMPARE(QDir(dir.path()).entryList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::Hidden),
             QStringList{ QStringLiteral("trace.json") });
}

void tst_TraceExport::exportToUnwritablePathFailsAndLeavesNothing()
{
    Fixture f;
    runScenario(f);
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    {
        // A path below a regular file can be created by nobody, root included.
        QFile blocker(dir.filePath(QStringLiteral("blocker")));
        QVERIFY(blocker.open(QIODevice::WriteOnly));
    }
    const QString below = dir.filePath(QStringLiteral("blocker/trace.json"));
    QString error;
    QVERIFY(!f.rec.exportChromeTrace(below, &error));
    QVERIFY2(error.contains(below), qPrintable(error));
    QVERIFY(!QFile::exists(below));

    // A directory where the file should go: the complete temporary file cannot replace it,
    // and is removed.
    QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("taken")));
    const QString taken = dir.filePath(QStringLiteral("taken"));
    error.clear();
    QVERIFY(!f.rec.exportChromeTrace(taken, &error));
    QVERIFY(!error.isEmpty());
    QVERIFY(QFileInfo(taken).isDir());
    QCOMPARE(QDir(dir.path()).entryList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::Hidden),
             (QStringList{ QStringLiteral("blocker"), QStringLiteral("taken") }));
    QVERIFY(QDir(taken).isEmpty());

    // Without an error pointer it fails the same.
    QVERIFY(!f.rec.exportChromeTrace(below));
}

QTEST_GUILESS_MAIN(tst_TraceExport)
#include "tst_traceexport.moc"
