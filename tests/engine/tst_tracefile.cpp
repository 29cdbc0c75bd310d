// The trace-file loader used by replay (issue 5) and its bad input (issue 7): an export reads
// back to exactly the events and strings the recorder held, replaying them rebuilds the same
// aggregates and lints, and anything else (a plain Chrome trace, a wrong field, a file cut
// short at any byte) is a clear error, never a crash.

#include <loopscope/loopscope.h>
#include <loopscope/recorder.h>
#include <loopscope/tracefile.h>

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <functional>
#include <stdexcept>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::RecordedEvent;
using loopscope::RecorderOptions;
using loopscope::TaskStats;
using loopscope::TraceFile;
using loopscope::TraceRecorder;

namespace {

//! The recorder outlives the loop, which still reports while it closes.
struct Fixture
{
    explicit Fixture(
            RecorderOptions options = {},
            std::shared_ptr<loopscope::Clock> clock = std::make_shared<loopscope::VirtualClock>())
        : rec(options), loop(std::move(clock))
    {
        loop.addObserver(&rec);
        loop.setExceptionHandler(rec.exceptionHandler([](const loopscope::ExceptionContext &) {}));
    }
    TraceRecorder rec;
    EventLoop loop;
};

Coro<int> child(int ms)
{
    co_await loopscope::sleep(std::chrono::milliseconds(ms));
    co_return ms;
}

Coro<void> failer(const char *what)
{
    co_await loopscope::sleep(0s);
    throw std::runtime_error(what);
}

Coro<void> poller(int yields)
{
    for (int i = 0; i < yields; ++i)
        co_await loopscope::sleep(0s);
}

/*!
 * Tasks with awkward names, sleeps, yields, an executor job, a failure nobody reads, a
 * cancellation, plain callbacks and timers, a task left pending when the loop closes.
 */
void runWorkload(Fixture &f)
{
    auto main = [&]() -> Coro<int> {
        auto a = f.loop.createTask(child(10), QStringLiteral("child \"a\"\n\\ tab\t ünï €"));
        auto b = f.loop.createTask(child(20), QStringLiteral("child-b"));
        int sum = co_await a;
        sum += co_await b;
        sum += co_await f.loop.runInExecutor([] { return 5; });
        auto poll = f.loop.createTask(poller(120), QStringLiteral("poller"));
        co_await poll;
        auto bad = f.loop.createTask(failer("broken"), QStringLiteral("failer"));
        try {
            co_await bad;
        } catch (const std::runtime_error &) {
        }
        // Nobody awaits this one: its exception is never retrieved.
        auto ignored = f.loop.createTask(failer("ignored"), QStringLiteral("ignored"));
        auto victim = f.loop.createTask(child(1000), QStringLiteral("victim"));
        f.loop.callLater(5ms, [victim]() mutable { victim.cancel("enough"); });
        try {
            co_await victim;
        } catch (const loopscope::CancelledError &) {
        }
        auto pending = f.loop.createTask(child(60000), QStringLiteral("left pending"));
        co_await loopscope::sleep(1ms);
        co_return sum;
    };
    f.loop.callSoon([] {});
    f.loop.callLater(1ms, [] {});
    QCOMPARE(f.loop.runUntilComplete(f.loop.createTask(main(), QStringLiteral("main"))), 35);
    f.loop.close(); // "left pending" is abandoned: a DestroyedPending lint
}

//! Everything a RecordedEvent says, its strings resolved.
void compareEvent(const RecordedEvent &got, const QString &gotText, const QString &gotLocation,
                  const RecordedEvent &want, const QString &wantText, const QString &wantLocation)
{
    QCOMPARE(got.sequence, want.sequence);
    QCOMPARE(got.time, want.time);
    QCOMPARE(got.duration, want.duration);
    QCOMPARE(got.id, want.id);
    QCOMPARE(got.related, want.related);
    QCOMPARE(got.aux, want.aux);
    QCOMPARE(int(got.kind), int(want.kind));
    QCOMPARE(int(got.handleKind), int(want.handleKind));
    QCOMPARE(int(got.futureKind), int(want.futureKind));
    QCOMPARE(int(got.status), int(want.status));
    QCOMPARE(got.failed, want.failed);
    QCOMPARE(got.yielded, want.yielded);
    QCOMPARE(gotText, wantText);
    QCOMPARE(gotLocation, wantLocation);
}

void compareTasks(const std::vector<TaskStats> &got, const std::vector<TaskStats> &want)
{
    QCOMPARE(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        const TaskStats &g = got[i];
        const TaskStats &w = want[i];
        QCOMPARE(g.id, w.id);
        QCOMPARE(g.futureId, w.futureId);
        QCOMPARE(g.parent, w.parent);
        QCOMPARE(g.name, w.name);
        QCOMPARE(g.location, w.location);
        QCOMPARE(int(g.state), int(w.state));
        QCOMPARE(g.waitingOn, w.waitingOn);
        QCOMPARE(g.steps, w.steps);
        QCOMPARE(g.yields, w.yields);
        QCOMPARE(g.waits, w.waits);
        QCOMPARE(g.createdNs, w.createdNs);
        QCOMPARE(g.stateSinceNs, w.stateSinceNs);
        QCOMPARE(g.firstStepNs, w.firstStepNs);
        QCOMPARE(g.doneNs, w.doneNs);
        QCOMPARE(g.busy.count(), w.busy.count());
        QCOMPARE(g.scheduled.count(), w.scheduled.count());
        QCOMPARE(g.waiting.count(), w.waiting.count());
        QCOMPARE(int(g.status), int(w.status));
        QCOMPARE(g.resultText, w.resultText);
    }
}

QByteArray exportOf(const TraceRecorder &rec)
{
    return rec.chromeTraceJson();
}

//! A small but real export, and the recorder that wrote it.
struct SmallTrace
{
    SmallTrace()
    {
        runWorkload(f);
        json = exportOf(f.rec);
    }
    Fixture f;
    QByteArray json;
};

QJsonObject streamOf(const QByteArray &json)
{
    return QJsonDocument::fromJson(json).object().value(QStringLiteral("loopscope")).toObject();
}

QByteArray withStream(const QByteArray &json, const QJsonObject &stream)
{
    QJsonObject root = QJsonDocument::fromJson(json).object();
    root.insert(QStringLiteral("loopscope"), stream);
    return QJsonDocument(root).toJson(QJsonDocument::Compact);
}

} // namespace

class TestTraceFile : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void roundTripVirtualClock();
    void roundTripRealClockWithExecutor();
    void chromePartUnchanged();
    void replayRebuildsAggregates();
    void emptyRecorder();
    void droppedEventsAndReusedStrings();
    void notALoopscopeTrace_data();
    void notALoopscopeTrace();
    void malformedStream();
    void truncatedAtEveryOffset();
    void loadFromDisk();
};

//! Every event and string the recorder held comes back, field for field.
void TestTraceFile::roundTripVirtualClock()
{
    SmallTrace t;
    const loopscope::TraceFileResult result =
            loopscope::parseTraceFile(t.json, QStringLiteral("t.json"));
    QVERIFY2(result, qPrintable(result.errorString()));
    const TraceFile &file = result.trace();
    const std::vector<RecordedEvent> want = t.f.rec.snapshot();
    QVERIFY(want.size() > 100);
    QCOMPARE(file.events.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        const RecordedEvent &w = want[i];
        compareEvent(file.events[i], file.string(file.events[i].text),
                     file.string(file.events[i].location), w, t.f.rec.stringAt(w.text),
                     t.f.rec.stringAt(w.location));
        if (QTest::currentTestFailed())
            QFAIL(qPrintable(QStringLiteral("event %1 differs").arg(i)));
    }
    QCOMPARE(file.producedEvents, t.f.rec.producedEvents());
    QCOMPARE(file.droppedEvents, t.f.rec.droppedEvents());
    QCOMPARE(file.capacity, std::uint64_t(t.f.rec.capacity()));
    QCOMPARE(file.options.slowCallbackThreshold, t.f.rec.options().slowCallbackThreshold);
    QCOMPARE(file.options.busyPollingMinYields, t.f.rec.options().busyPollingMinYields);
    QCOMPARE(file.options.retainedFinishedTasks, t.f.rec.options().retainedFinishedTasks);
    // Each distinct string once, the awkward name intact.
    QVERIFY(file.strings.size() >= 2);
    QVERIFY(file.strings.front().isEmpty());
    QCOMPARE(std::count(file.strings.begin(), file.strings.end(),
                        QStringLiteral("child \"a\"\n\\ tab\t ünï €")),
             1);
    QCOMPARE(std::count_if(file.strings.begin(), file.strings.end(),
                           [](const QString &s) { return s.contains(QStringLiteral("broken")); }),
             1);
    // Regression: the ring used to drop TaskStepEnd's yielded flag, so no drained event (and
    // no export) said a step ended in sleep(0).
    QVERIFY(std::count_if(file.events.begin(), file.events.end(),
                          [](const RecordedEvent &e) { return e.yielded; })
            >= 120);
}

//! Real time, a worker thread and real durations: times still never run backwards.
void TestTraceFile::roundTripRealClockWithExecutor()
{
    Fixture f({}, std::make_shared<loopscope::SteadyClock>());
    auto main = [&]() -> Coro<int> {
        int sum = 0;
        for (int i = 0; i < 20; ++i) {
            auto job = f.loop.runInExecutor([i] { return i; });
            auto sleeper = f.loop.createTask(child(1), QStringLiteral("s%1").arg(i));
            sum += co_await job;
            sum += co_await sleeper;
        }
        co_return sum;
    };
    QCOMPARE(f.loop.runUntilComplete(f.loop.createTask(main(), QStringLiteral("main"))), 190 + 20);
    const loopscope::TraceFileResult result =
            loopscope::parseTraceFile(exportOf(f.rec), QStringLiteral("real.json"));
    QVERIFY2(result, qPrintable(result.errorString()));
    QCOMPARE(result.trace().events.size(), f.rec.snapshot().size());
}

//! The Chrome part is what it was: valid JSON, traceEvents first, the stream last.
void TestTraceFile::chromePartUnchanged()
{
    SmallTrace t;
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(t.json, &pe);
    QCOMPARE(pe.error, QJsonParseError::NoError);
    QVERIFY(doc.object().value(QStringLiteral("traceEvents")).toArray().size() > 50);
    // Older Perfetto stops reading at the first top-level key it does not know: the stream
    // must come after traceEvents.
    const qsizetype events = t.json.indexOf("\"traceEvents\":[");
    const qsizetype stream = t.json.indexOf("\"loopscope\":{\"format\":1");
    QVERIFY(events > 0);
    QVERIFY(stream > events);
    QVERIFY(t.json.lastIndexOf("\"traceEvents\"") == events);
    QVERIFY(t.json.trimmed().endsWith("]}}"));
}

//! Feeding the loaded events to a fresh recorder gives the original's tasks, figures, lints.
void TestTraceFile::replayRebuildsAggregates()
{
    RecorderOptions options;
    options.slowCallbackThreshold = 0ns; // every callback is "slow": many lints to compare
    options.timerDriftThreshold = 0ns;
    options.busyPollingMinYields = 100;
    Fixture f(options);
    runWorkload(f);
    const loopscope::TraceFileResult result =
            loopscope::parseTraceFile(exportOf(f.rec), QStringLiteral("t.json"));
    QVERIFY2(result, qPrintable(result.errorString()));
    const TraceFile &file = result.trace();

    RecorderOptions replayOptions = file.options;
    replayOptions.maxStringLength = std::size_t(1) << 20;
    TraceRecorder replayed(replayOptions);
    for (const RecordedEvent &e : file.events)
        replayed.replay(e, file.string(e.text), file.string(e.location));

    compareTasks(replayed.tasks(), f.rec.tasks());
    const loopscope::LoopStats got = replayed.loopStats();
    const loopscope::LoopStats want = f.rec.loopStats();
    QCOMPARE(got.iterations, want.iterations);
    QCOMPARE(got.callbacks, want.callbacks);
    QCOMPARE(got.taskSteps, want.taskSteps);
    QCOMPARE(got.tasksCreated, want.tasksCreated);
    QCOMPARE(got.tasksFinished, want.tasksFinished);
    QCOMPARE(got.tasksCancelled, want.tasksCancelled);
    QCOMPARE(got.tasksFailed, want.tasksFailed);
    QCOMPARE(got.tasksDestroyedPending, want.tasksDestroyedPending);
    QVERIFY(got.tasksDestroyedPending >= 1);
    QCOMPARE(got.futuresCreated, want.futuresCreated);
    QCOMPARE(got.timersArmed, want.timersArmed);
    QCOMPARE(got.timersFired, want.timersFired);
    QCOMPARE(got.timersCancelled, want.timersCancelled);
    QCOMPARE(got.executorJobsFinished, want.executorJobsFinished);
    QCOMPARE(got.executorBusy.count(), want.executorBusy.count());
    QCOMPARE(got.firstEventNs, want.firstEventNs);
    QCOMPARE(got.lastEventNs, want.lastEventNs);
    QCOMPARE(got.maxIteration.count(), want.maxIteration.count());
    QCOMPARE(got.callbackDurations.count(), want.callbackDurations.count());
    QCOMPARE(got.callbackDurations.sum().count(), want.callbackDurations.sum().count());
    QCOMPARE(got.stepDurations.max().count(), want.stepDurations.max().count());
    QCOMPARE(got.timerLateness.count(), want.timerLateness.count());

    const std::vector<loopscope::Lint> gotLints = replayed.lints();
    const std::vector<loopscope::Lint> wantLints = f.rec.lints();
    QCOMPARE(gotLints.size(), wantLints.size());
    bool busyPolling = false;
    bool neverRetrieved = false;
    for (std::size_t i = 0; i < gotLints.size(); ++i) {
        QCOMPARE(int(gotLints[i].kind), int(wantLints[i].kind));
        QCOMPARE(gotLints[i].task, wantLints[i].task);
        QCOMPARE(gotLints[i].id, wantLints[i].id);
        QCOMPARE(gotLints[i].timeNs, wantLints[i].timeNs);
        QCOMPARE(gotLints[i].duration.count(), wantLints[i].duration.count());
        QCOMPARE(gotLints[i].message, wantLints[i].message);
        busyPolling |= gotLints[i].kind == loopscope::LintKind::BusyPolling;
        neverRetrieved |= gotLints[i].kind == loopscope::LintKind::ExceptionNeverRetrieved;
    }
    QVERIFY(busyPolling);
    QVERIFY(neverRetrieved);

    // The replaying recorder exports the same event stream again.
    const loopscope::TraceFileResult again =
            loopscope::parseTraceFile(replayed.chromeTraceJson(), QStringLiteral("again.json"));
    QVERIFY2(again, qPrintable(again.errorString()));
    QCOMPARE(again.trace().events.size(), file.events.size());
    for (std::size_t i = 0; i < file.events.size(); ++i) {
        const RecordedEvent &g = again.trace().events[i];
        compareEvent(g, again.trace().string(g.text), again.trace().string(g.location),
                     file.events[i], file.string(file.events[i].text),
                     file.string(file.events[i].location));
        if (QTest::currentTestFailed())
            QFAIL(qPrintable(QStringLiteral("event %1 differs").arg(i)));
    }
}

void TestTraceFile::emptyRecorder()
{
    TraceRecorder rec;
    const loopscope::TraceFileResult result =
            loopscope::parseTraceFile(rec.chromeTraceJson(), QStringLiteral("empty.json"));
    QVERIFY2(result, qPrintable(result.errorString()));
    QVERIFY(result.trace().events.empty());
    QCOMPARE(result.trace().strings.size(), std::size_t(1));
}

//! A ring that wrapped: sequence numbers start late and the file says what was lost.
void TestTraceFile::droppedEventsAndReusedStrings()
{
    RecorderOptions options;
    options.capacity = 64;
    options.stringCapacity = 8;
    Fixture f(options);
    runWorkload(f);
    QVERIFY(f.rec.producedEvents() > 64);
    const loopscope::TraceFileResult result =
            loopscope::parseTraceFile(exportOf(f.rec), QStringLiteral("small.json"));
    QVERIFY2(result, qPrintable(result.errorString()));
    const TraceFile &file = result.trace();
    QCOMPARE(file.events.size(), std::size_t(64));
    QCOMPARE(file.events.front().sequence, f.rec.producedEvents() - 64);
    QCOMPARE(file.producedEvents, f.rec.producedEvents());
    for (const RecordedEvent &e : file.events) {
        QVERIFY(e.text < file.strings.size());
        QVERIFY(e.location < file.strings.size());
    }
}

void TestTraceFile::notALoopscopeTrace_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("expected");
    const QString noStream = QStringLiteral("this trace has no Loopscope event stream; only "
                                            "traces exported by Loopscope can be replayed");
    QTest::newRow("chrome object") << QByteArray(R"({"traceEvents":[{"ph":"X","name":"a",)"
                                                 R"("ts":1,"dur":2,"pid":1,"tid":1}]})")
                                   << QStringLiteral("x.json: ") + noStream;
    QTest::newRow("chrome array") << QByteArray(R"([{"ph":"X","name":"a","ts":1}])")
                                  << QStringLiteral("x.json: expected a Chrome trace");
    QTest::newRow("other object") << QByteArray(R"({"name":"a scenario"})")
                                  << QStringLiteral("x.json: not a Chrome trace (no traceEvents)");
    QTest::newRow("scalar") << QByteArray("42") << QStringLiteral("x.json:1:2: invalid JSON");
    QTest::newRow("empty") << QByteArray() << QStringLiteral("x.json: the file is empty");
    QTest::newRow("whitespace") << QByteArray(" \n\t ")
                                << QStringLiteral("x.json: the file is empty");
    QTest::newRow("binary") << QByteArray("\x89PNG\r\n\x1a\n\0\0", 10)
                            << QStringLiteral("x.json:1:2: invalid JSON (byte 1)");
    QTest::newRow("syntax error on line 3")
            << QByteArray("{\n\"traceEvents\": [],\n\"loopscope\": {,}\n}")
            << QStringLiteral("x.json:3:");
    QTest::newRow("stream not an object") << QByteArray(R"({"traceEvents":[],"loopscope":[1]})")
                                          << QStringLiteral("x.json: loopscope: expected an "
                                                            "object, got an array");
}

void TestTraceFile::notALoopscopeTrace()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, expected);
    const loopscope::TraceFileResult result =
            loopscope::parseTraceFile(json, QStringLiteral("x.json"));
    QVERIFY(!result);
    QVERIFY2(result.errorString().contains(expected), qPrintable(result.errorString()));
}

//! Every field checked: each broken copy of a good export names where and what.
void TestTraceFile::malformedStream()
{
    SmallTrace t;
    const QJsonObject good = streamOf(t.json);
    QVERIFY(!good.isEmpty());
    using Edit = std::function<void(QJsonObject &)>;
    auto setEvent = [](int index, int field, const QJsonValue &value) -> Edit {
        return [=](QJsonObject &s) {
            QJsonArray events = s.value(QStringLiteral("events")).toArray();
            QJsonArray e = events.at(index).toArray();
            e.replace(field, value);
            events.replace(index, e);
            s.insert(QStringLiteral("events"), events);
        };
    };
    auto set = [](const char *key, const QJsonValue &value) -> Edit {
        return [=](QJsonObject &s) { s.insert(QLatin1String(key), value); };
    };
    auto remove = [](const char *key) -> Edit {
        return [=](QJsonObject &s) { s.remove(QLatin1String(key)); };
    };
    const qsizetype stringCount = good.value(QStringLiteral("strings")).toArray().size();
    // A LoopPaused event whose aux is no pause reason.
    auto pausedWith = [](int reason) -> Edit {
        return [=](QJsonObject &s) {
            QJsonArray events = s.value(QStringLiteral("events")).toArray();
            QJsonArray e = events.at(0).toArray();
            e.replace(8, int(loopscope::TraceEventKind::LoopPaused));
            e.replace(5, reason);
            events.replace(0, e);
            s.insert(QStringLiteral("events"), events);
        };
    };

    auto S = [](const char *text) { return QString::fromUtf8(text); };
    const std::vector<std::pair<Edit, QString>> cases = {
        { set("format", 2), S("loopscope.format: the trace was written by a newer Loopscope") },
        { set("format", 0), S("loopscope.format: unknown format 0") },
        { set("format", QStringLiteral("1")),
          S("loopscope.format: expected an integer, got a string") },
        { remove("events"), S("loopscope: \"events\" is missing") },
        { remove("strings"), S("loopscope: \"strings\" is missing") },
        { remove("options"), S("loopscope: \"options\" is missing") },
        { set("options", QJsonObject{ { QStringLiteral("slowCallbackNs"), 1 } }),
          S("loopscope.options: \"blockedLoopNs\" is missing") },
        { set("producedEvents", -1), S("loopscope.producedEvents: -1 is out of range") },
        { set("fields", QJsonArray{ QStringLiteral("time"), QStringLiteral("sequence") }),
          S("loopscope.fields: expected [sequence, time") },
        { set("strings", QJsonArray{ QStringLiteral("a"), 3 }),
          S("loopscope.strings[1]: expected a string, got a number") },
        { set("events", QJsonObject{}),
          S("loopscope.events: expected an array of events, got an object") },
        { setEvent(0, 0, QJsonValue()),
          S("loopscope.events[0][0] (sequence): expected an integer, got null") },
        // Not QJsonArray{ QJsonArray{ 1, 2, 3 } }: clang reads that as a copy of the inner
        // array, g++ as a one-element list.
        { set("events",
              [] {
                  QJsonArray events;
                  events.append(QJsonArray{ 1, 2, 3 });
                  return events;
              }()),
          S("loopscope.events[0]: expected 13 fields, got 3") },
        { set("events", QJsonArray{ 7 }),
          S("loopscope.events[0]: expected an array of 13 integers, got a number") },
        { setEvent(3, 8, 99), S("loopscope.events[3][8] (kind): 99 is out of range (0 … 26)") },
        { setEvent(3, 8, -1), S("loopscope.events[3][8] (kind): -1 is out of range") },
        { setEvent(3, 9, 6), S("loopscope.events[3][9] (handleKind): 6 is out of range (0 … 5)") },
        { setEvent(3, 10, 8),
          S("loopscope.events[3][10] (futureKind): 8 is out of range (0 … 7)") },
        { setEvent(3, 11, 4), S("loopscope.events[3][11] (status): 4 is out of range (0 … 3)") },
        { setEvent(3, 12, 4), S("loopscope.events[3][12] (flags): 4 is out of range (0 … 3)") },
        { setEvent(3, 6, int(stringCount + 1)),
          QStringLiteral("loopscope.events[3][6] (text): %1 is out of range (0 … %2)")
                  .arg(stringCount + 1)
                  .arg(stringCount) },
        { setEvent(3, 7, -2), S("loopscope.events[3][7] (location): -2 is out of range") },
        { setEvent(3, 3, 1.5), S("loopscope.events[3][3] (id): expected an integer, got 1.5") },
        { setEvent(3, 3, 1e30), S("loopscope.events[3][3] (id): 1e+30 is out of range") },
        { setEvent(3, 4, -7), S("loopscope.events[3][4] (related): -7 is out of range") },
        { setEvent(5, 0, 0), S("loopscope.events[5][0] (sequence): sequence 0 does not follow 4") },
        { setEvent(5, 1, -1000),
          S("loopscope.events[5][1] (time): time -1000 ns is before the previous event's") },
        { pausedWith(9), S("loopscope.events[0][5] (aux): 9 is not a pause reason (0 … 4)") },
    };
    int n = 0;
    for (const auto &[edit, expected] : cases) {
        QJsonObject stream = good;
        edit(stream);
        const loopscope::TraceFileResult result =
                loopscope::parseTraceFile(withStream(t.json, stream), QStringLiteral("bad.json"));
        QVERIFY2(!result, qPrintable(QStringLiteral("case %1 loaded: %2").arg(n).arg(expected)));
        QVERIFY2(result.errorString().startsWith(QStringLiteral("bad.json: ")),
                 qPrintable(result.errorString()));
        QVERIFY2(result.errorString().contains(expected),
                 qPrintable(QStringLiteral("case %1: expected '%2' in '%3'")
                                    .arg(n)
                                    .arg(expected, result.errorString())));
        ++n;
    }
    // The unedited stream, written the same way, loads.
    const loopscope::TraceFileResult ok =
            loopscope::parseTraceFile(withStream(t.json, good), QStringLiteral("ok.json"));
    QVERIFY2(ok, qPrintable(ok.errorString()));
}

//! A file cut short anywhere says so; the complete file minus its last newline still loads.
void TestTraceFile::truncatedAtEveryOffset()
{
    SmallTrace t;
    const QByteArray &json = t.json;
    const qsizetype end = json.trimmed().size(); // up to and with the closing brace
    std::vector<qsizetype> offsets;
    for (qsizetype i = 0; i < 300 && i < end; ++i)
        offsets.push_back(i); // the header, byte by byte
    for (qsizetype i = std::max<qsizetype>(0, end - 300); i < end; ++i)
        offsets.push_back(i); // the end of the event stream, byte by byte
    for (int k = 1; k < 400; ++k)
        offsets.push_back(end * k / 400); // everywhere else
    const qsizetype streamAt = json.indexOf("\"loopscope\"");
    offsets.push_back(streamAt);
    offsets.push_back(streamAt - 1);
    offsets.push_back(json.size() / 2); // "truncated half-way"
    int checked = 0;
    for (const qsizetype offset : offsets) {
        const loopscope::TraceFileResult result =
                loopscope::parseTraceFile(json.left(offset), QStringLiteral("cut.json"));
        QVERIFY2(!result,
                 qPrintable(QStringLiteral("a file cut at byte %1 of %2 loaded")
                                    .arg(offset)
                                    .arg(json.size())));
        const QString error = result.errorString();
        const bool blank = json.left(offset).trimmed().isEmpty();
        QVERIFY2(error.startsWith(QStringLiteral("cut.json: ")), qPrintable(error));
        QVERIFY2(blank ? error.contains(QStringLiteral("the file is empty"))
                       : error.contains(QStringLiteral("it is truncated or was not written "
                                                       "completely")),
                 qPrintable(QStringLiteral("cut at %1: %2").arg(offset).arg(error)));
        ++checked;
    }
    QVERIFY(checked > 900);
    const loopscope::TraceFileResult whole =
            loopscope::parseTraceFile(json.left(end), QStringLiteral("whole.json"));
    QVERIFY2(whole, qPrintable(whole.errorString()));
    // A half-written file says how far it got.
    const QString half =
            loopscope::parseTraceFile(json.left(json.size() / 2), QStringLiteral("h.json"))
                    .errorString();
    QVERIFY2(half.contains(QStringLiteral("the file ends after ")), qPrintable(half));
    QVERIFY2(half.contains(QStringLiteral("still open")), qPrintable(half));
}

void TestTraceFile::loadFromDisk()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    SmallTrace t;
    const QString path = dir.filePath(QStringLiteral("run.json"));
    QString error;
    QVERIFY2(t.f.rec.exportChromeTrace(path, &error), qPrintable(error));
    const loopscope::TraceFileResult loaded = loopscope::loadTraceFile(path);
    QVERIFY2(loaded, qPrintable(loaded.errorString()));
    QCOMPARE(loaded.trace().events.size(), t.f.rec.snapshot().size());

    const QString missing = dir.filePath(QStringLiteral("nope.json"));
    QCOMPARE(loopscope::loadTraceFile(missing).errorString(),
             missing + QStringLiteral(": cannot read the trace: no such file"));
    QCOMPARE(loopscope::loadTraceFile(dir.path()).errorString(),
             dir.path() + QStringLiteral(": cannot read the trace: this is a directory"));

    QFile cut(dir.filePath(QStringLiteral("cut.json")));
    QVERIFY(cut.open(QIODevice::WriteOnly));
    cut.write(t.json.left(t.json.size() / 2));
    cut.close();
    const loopscope::TraceFileResult truncated = loopscope::loadTraceFile(cut.fileName());
    QVERIFY(!truncated);
    QVERIFY2(truncated.errorString().startsWith(cut.fileName() + QStringLiteral(": the file ends")),
             qPrintable(truncated.errorString()));
}

QTEST_GUILESS_MAIN(TestTraceFile)
#include "tst_tracefile.moc"
