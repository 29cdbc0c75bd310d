// Tests of scenario.h: the template table, the strict parser (every malformed input names the
// file, the JSON path and what was expected), the catalog of shipped scenarios, and
// runScenario() running every template and every shipped scenario on a virtual clock.

#include <loopscope/eventloop.h>
#include <loopscope/scenario.h>

#include <QDir>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <chrono>
#include <memory>

using namespace loopscope;
using namespace std::chrono_literals;

namespace {

//! The shipped scenarios, in the source tree next to this test (or LOOPSCOPE_SCENARIO_DIR).
QString shippedScenarioDirectory()
{
    const QString fromEnvironment = qEnvironmentVariable("LOOPSCOPE_SCENARIO_DIR");
    if (!fromEnvironment.isEmpty())
        return fromEnvironment;
    return QFileInfo(QString::fromUtf8(__FILE__))
            .absoluteDir()
            .absoluteFilePath(QStringLiteral("../../resources/scenarios"));
}

//! A valid scenario document around \a spawns (a JSON array's text).
QByteArray document(const char *spawns)
{
    return QByteArray(R"({ "name": "test", "title": "A test", "description": "Testing.", )")
            + QByteArray(R"("spawns": )") + spawns + QByteArray(" }");
}

struct RunResult
{
    ScenarioOutcome outcome;
    QStringList printed;
    QStringList reports; //!< what the loop's exception handler was told
    int stopCalls = 0;
    std::size_t pendingAfterRun = 0;
    double loopSeconds = 0;
};

/*!
 * Runs \a scenario on a fresh loop with a virtual clock the way `loopscope --headless` does:
 * runForever() until the done-callback's stop() for seed_run_forever, runUntilComplete()
 * otherwise.
 */
RunResult runOnVirtualClock(const Scenario &scenario)
{
    RunResult result; // outlives the loop: its handler writes here until the loop is gone
    EventLoop loop(std::make_shared<VirtualClock>());
    loop.setExceptionHandler(
            [&result](const ExceptionContext &context) { result.reports << context.toString(); });
    ScenarioHooks hooks;
    hooks.print = [&result](const QString &line) { result.printed << line; };
    hooks.stopLoop = [&result, &loop] {
        ++result.stopCalls;
        loop.stop();
    };
    Task<ScenarioOutcome> run = runScenario(loop, scenario, hooks);
    if (scenario.endsOnStop()) {
        loop.runForever();
        if (!run.done())
            loop.runUntilComplete(Future<ScenarioOutcome>(run));
    } else {
        loop.runUntilComplete(Future<ScenarioOutcome>(run));
    }
    result.outcome = run.result();
    result.loopSeconds = loop.timeSeconds();
    result.pendingAfterRun = loop.allTasks().size();
    loop.close();
    return result;
}

//! Real-time templates (busy-waiting callback, CPU work) with tiny parameters for tests.
Scenario withTinyRealTimeWork(Scenario scenario)
{
    for (ScenarioSpawn &spawn : scenario.spawns) {
        if (spawn.templateId == ScenarioTemplate::BlockingCallback)
            spawn.params.insert(QStringLiteral("blockMs"), QVariant::fromValue<qint64>(1));
        if (spawn.templateId == ScenarioTemplate::Executor)
            spawn.params.insert(QStringLiteral("workMs"), QVariant::fromValue<qint64>(1));
    }
    return scenario;
}

Scenario scenarioOf(std::vector<ScenarioSpawn> spawns)
{
    Scenario s;
    s.name = QStringLiteral("test");
    s.title = QStringLiteral("A test");
    s.description = QStringLiteral("Testing.");
    s.spawns = std::move(spawns);
    return s;
}

} // namespace

class tst_Scenario : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    // the template table
    void templatesCoverEveryKind();
    void defaultsAreWithinTheirRanges();

    // the parser
    void everyTemplateParses_data();
    void everyTemplateParses();
    void parsesEveryField();
    void paramsDefaultWhenOmitted();
    void malformedInputIsRejected_data();
    void malformedInputIsRejected();
    void syntaxErrorsNameLineAndColumn();
    void allErrorsAreReportedAndNothingIsReturned();
    void clockSpecs_data();
    void clockSpecs();
    void jsonRoundTrip();
    void validateScenarioChecksCodeBuiltScenarios();
    void loadScenarioReportsFileProblems();

    // the shipped scenarios
    void shippedScenariosParse();
    void catalogReportsBrokenFilesAndDuplicates();
    void shippedScenariosRunOnAVirtualClock_data();
    void shippedScenariosRunOnAVirtualClock();

    // the runner
    void everyTemplateRuns_data();
    void everyTemplateRuns();
    void spawnsStartAtTheirDelays();
    void stopFromTheDoneCallbackEndsTheRun();
    void cancellingTheRunCancelsEverything();
    void cancellationStormIsDeterministic();
    void neverRetrievedChildIsReported();
    void taskGroupParentFailsWithExceptionGroup();
};

// --- the template table ----------------------------------------------------------------------

void tst_Scenario::templatesCoverEveryKind()
{
    const auto &templates = scenarioTemplates();
    QCOMPARE(templates.size(), std::size_t(ScenarioTemplate::SeedRunForever) + 1);
    QSet<QString> names;
    for (std::size_t i = 0; i < templates.size(); ++i) {
        QCOMPARE(std::size_t(templates[i].id), i);
        QVERIFY(!templates[i].summary.isEmpty());
        QVERIFY2(!names.contains(templates[i].name), qPrintable(templates[i].name));
        names.insert(templates[i].name);
        QCOMPARE(findTemplate(templates[i].name), &templates[i]);
        QCOMPARE(&templateSpec(templates[i].id), &templates[i]);
    }
    QCOMPARE(findTemplate(u"noSuchTemplate"), nullptr);
}

void tst_Scenario::defaultsAreWithinTheirRanges()
{
    for (const TemplateSpec &t : scenarioTemplates()) {
        for (const ParamSpec &p : t.params) {
            const QString what = t.name + QLatin1Char('.') + p.key;
            QVERIFY2(!p.description.isEmpty(), qPrintable(what));
            switch (p.type) {
            case ParamType::Integer:
            case ParamType::Number:
                QVERIFY2(p.minimum <= p.defaultValue.toDouble()
                                 && p.defaultValue.toDouble() <= p.maximum,
                         qPrintable(what));
                break;
            case ParamType::String:
                QVERIFY2(p.defaultValue.toString().size() >= p.minimum
                                 && p.defaultValue.toString().size() <= p.maximum,
                         qPrintable(what));
                break;
            case ParamType::Choice:
                QVERIFY2(p.choices.contains(p.defaultValue.toString()), qPrintable(what));
                break;
            case ParamType::Boolean:
                break;
            }
        }
    }
}

// --- the parser ------------------------------------------------------------------------------

void tst_Scenario::everyTemplateParses_data()
{
    QTest::addColumn<int>("templateIndex");
    for (const TemplateSpec &t : scenarioTemplates())
        QTest::newRow(qPrintable(t.name)) << int(t.id);
}

void tst_Scenario::everyTemplateParses()
{
    QFETCH(int, templateIndex);
    const TemplateSpec &t = scenarioTemplates().at(std::size_t(templateIndex));
    // Every parameter written out, at its default: what the spawn panel would save.
    QJsonObject params;
    for (const ParamSpec &p : t.params)
        params.insert(p.key, QJsonValue::fromVariant(p.defaultValue));
    QJsonObject spawn{ { QStringLiteral("template"), t.name },
                       { QStringLiteral("name"), QStringLiteral("x") },
                       { QStringLiteral("count"), 3 },
                       { QStringLiteral("params"), params } };
    const QByteArray json = document(
            QByteArray(QByteArray("[") + QJsonDocument(spawn).toJson(QJsonDocument::Compact)
                       + QByteArray("]"))
                    .constData());
    const ScenarioParseResult result = parseScenario(json, QStringLiteral("t.json"));
    QVERIFY2(result.isValid(), qPrintable(result.errorString()));
    QCOMPARE(result.scenario().spawns.size(), std::size_t(1));
    const ScenarioSpawn &s = result.scenario().spawns.front();
    QCOMPARE(s.templateId, t.id);
    QCOMPARE(s.count, 3);
    for (const ParamSpec &p : t.params)
        QCOMPARE(s.params.value(p.key), p.defaultValue);
    QCOMPARE(s.params.size(), qsizetype(t.params.size()));
}

void tst_Scenario::parsesEveryField()
{
    const QByteArray json = R"({
        "format": 1,
        "name": "full_example",
        "title": "Every field",
        "description": "A scenario that sets every field.",
        "clock": "scaled:0.5",
        "order": 7,
        "spawns": [
            { "template": "sleep", "name": "nap", "count": 4, "startDelayMs": 250,
              "intervalMs": 10, "params": { "delayMs": 0 } },
            { "template": "cancellationStorm", "name": "storm",
              "params": { "fraction": 0.25, "seed": 4294967295, "sleepMs": 5 } },
            { "template": "timeout", "name": "t", "params": { "style": "timeout" } }
        ]
    })";
    const ScenarioParseResult result = parseScenario(json, QStringLiteral("full.json"));
    QVERIFY2(result.isValid(), qPrintable(result.errorString()));
    const Scenario &s = result.scenario();
    QCOMPARE(s.name, QStringLiteral("full_example"));
    QCOMPARE(s.title, QStringLiteral("Every field"));
    QCOMPARE(s.description, QStringLiteral("A scenario that sets every field."));
    QVERIFY(s.clock.has_value());
    QCOMPARE(s.clock->mode, ClockSpec::Mode::Scaled);
    QCOMPARE(s.clock->scale, 0.5);
    QCOMPARE(s.order, 7);
    QCOMPARE(s.fileName, QStringLiteral("full.json"));
    QCOMPARE(s.spawns.size(), std::size_t(3));
    QCOMPARE(s.spawns[0].name, QStringLiteral("nap"));
    QCOMPARE(s.spawns[0].count, 4);
    QCOMPARE(s.spawns[0].startDelayMs, 250);
    QCOMPARE(s.spawns[0].intervalMs, 10);
    QCOMPARE(s.spawns[0].intParam(QStringLiteral("delayMs")), 0);
    QCOMPARE(s.spawns[0].instanceName(0), QStringLiteral("nap-1"));
    QCOMPARE(s.spawns[0].instanceName(3), QStringLiteral("nap-4"));
    QCOMPARE(s.spawns[1].instanceName(0), QStringLiteral("storm"));
    QCOMPARE(s.spawns[1].numberParam(QStringLiteral("fraction")), 0.25);
    QCOMPARE(s.spawns[1].intParam(QStringLiteral("seed")), 4294967295LL);
    QCOMPARE(s.spawns[2].stringParam(QStringLiteral("style")), QStringLiteral("timeout"));
    QVERIFY(!s.endsOnStop());
    // 4 sleepers, 1 storm victim, 1 timeout task (a timeout scope needs no second task)
    QCOMPARE(s.taskCount(), 6);
}

void tst_Scenario::paramsDefaultWhenOmitted()
{
    const ScenarioParseResult result = parseScenario(
            document(R"([{ "template": "producerConsumer", "name": "p" }])"), QStringLiteral("d"));
    QVERIFY2(result.isValid(), qPrintable(result.errorString()));
    const ScenarioSpawn &s = result.scenario().spawns.front();
    QCOMPARE(s.count, 1);
    QCOMPARE(s.startDelayMs, 0);
    QCOMPARE(s.intervalMs, 0);
    QCOMPARE(s.intParam(QStringLiteral("producers")), 2);
    QCOMPARE(s.intParam(QStringLiteral("queueSize")), 4);
    QCOMPARE(s.taskCount(), 1 + 2 + 3);
    QVERIFY(!result.scenario().clock.has_value());
}

void tst_Scenario::malformedInputIsRejected_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("path");
    QTest::addColumn<QString>("expected");

    const QByteArray sleep = R"({ "template": "sleep", "name": "s" })";
    auto spawns = [&](const QByteArray &third) {
        // The bad spawn is the third one, so the path must say [2].
        return document(QByteArray("[") + sleep + ", " + sleep + ", " + third + "]");
    };

    QTest::newRow("root is an array") << QByteArray("[1, 2]") << QStringLiteral("(document)")
                                      << QStringLiteral("expected a JSON object");
    QTest::newRow("unknown root key") << QByteArray(
            R"({ "name": "a", "title": "t", "description": "d", "nmae": 1, "spawns": [{ "template": "sleep", "name": "s" }] })")
                                      << QStringLiteral(": nmae:") << QStringLiteral("unknown key");
    QTest::newRow("missing name") << QByteArray(
            R"({ "title": "t", "description": "d", "spawns": [{ "template": "sleep", "name": "s" }] })")
                                  << QStringLiteral(": name:") << QStringLiteral("missing");
    QTest::newRow("name is a number") << QByteArray(
            R"({ "name": 5, "title": "t", "description": "d", "spawns": [{ "template": "sleep", "name": "s" }] })")
                                      << QStringLiteral(": name:") << QStringLiteral("got 5");
    QTest::newRow("name with a space") << QByteArray(
            R"({ "name": "Bad Name", "title": "t", "description": "d", "spawns": [{ "template": "sleep", "name": "s" }] })")
                                       << QStringLiteral(": name:")
                                       << QStringLiteral("lowercase letters");
    QTest::newRow("empty title") << QByteArray(
            R"({ "name": "a", "title": "", "description": "d", "spawns": [{ "template": "sleep", "name": "s" }] })")
                                 << QStringLiteral(": title:")
                                 << QStringLiteral("1 to 100 characters");
    QTest::newRow("description too long")
            << QByteArray(R"({ "name": "a", "title": "t", "description": ")" + QByteArray(2001, 'x')
                          + R"(", "spawns": [{ "template": "sleep", "name": "s" }] })")
            << QStringLiteral(": description:") << QStringLiteral("got 2001 characters");
    QTest::newRow("unknown clock") << QByteArray(
            R"({ "name": "a", "title": "t", "description": "d", "clock": "warp", "spawns": [{ "template": "sleep", "name": "s" }] })")
                                   << QStringLiteral(": clock:")
                                   << QStringLiteral("'virtual', 'real' or 'scaled:F'");
    QTest::newRow("scale out of range") << QByteArray(
            R"({ "name": "a", "title": "t", "description": "d", "clock": "scaled:20", "spawns": [{ "template": "sleep", "name": "s" }] })")
                                        << QStringLiteral(": clock:")
                                        << QStringLiteral("from 0.1 to 10");
    QTest::newRow("format 2") << QByteArray(
            R"({ "format": 2, "name": "a", "title": "t", "description": "d", "spawns": [{ "template": "sleep", "name": "s" }] })")
                              << QStringLiteral(": format:") << QStringLiteral("from 1 to 1");
    QTest::newRow("no spawns") << document("[]") << QStringLiteral(": spawns:")
                               << QStringLiteral("1 to 100 spawns, got 0 entries");
    QTest::newRow("spawns is an object")
            << document("{}") << QStringLiteral(": spawns:") << QStringLiteral("got an object");
    QTest::newRow("spawn is a string") << spawns(R"("sleep")") << QStringLiteral(": spawns[2]:")
                                       << QStringLiteral("expected a spawn object");
    QTest::newRow("unknown template")
            << spawns(R"({ "template": "nap", "name": "s" })")
            << QStringLiteral(": spawns[2].template:") << QStringLiteral("one of: sleep, chain");
    QTest::newRow("missing template")
            << spawns(R"({ "name": "s" })") << QStringLiteral(": spawns[2].template:")
            << QStringLiteral("missing");
    QTest::newRow("missing name prefix")
            << spawns(R"({ "template": "sleep" })") << QStringLiteral(": spawns[2].name:")
            << QStringLiteral("missing");
    QTest::newRow("name prefix with a newline")
            << spawns(R"({ "template": "sleep", "name": "a\nb" })")
            << QStringLiteral(": spawns[2].name:") << QStringLiteral("task name prefix");
    QTest::newRow("count zero") << spawns(R"({ "template": "sleep", "name": "s", "count": 0 })")
                                << QStringLiteral(": spawns[2].count:")
                                << QStringLiteral("an integer from 1 to 10000 tasks, got 0");
    QTest::newRow("negative count")
            << spawns(R"({ "template": "sleep", "name": "s", "count": -5 })")
            << QStringLiteral(": spawns[2].count:") << QStringLiteral("got -5");
    QTest::newRow("10^12 tasks") << spawns(R"({ "template": "sleep", "name": "s", "count": 1e12 })")
                                 << QStringLiteral(": spawns[2].count:")
                                 << QStringLiteral("got 1000000000000");
    QTest::newRow("fractional count")
            << spawns(R"({ "template": "sleep", "name": "s", "count": 1.5 })")
            << QStringLiteral(": spawns[2].count:") << QStringLiteral("an integer");
    QTest::newRow("count as a string")
            << spawns(R"({ "template": "sleep", "name": "s", "count": "3" })")
            << QStringLiteral(": spawns[2].count:") << QStringLiteral("got \"3\"");
    QTest::newRow("huge number") << spawns(
            R"({ "template": "sleep", "name": "s", "count": 123456789012345678901234567890 })")
                                 << QStringLiteral(": spawns[2].count:")
                                 << QStringLiteral("from 1 to 10000");
    QTest::newRow("negative start delay")
            << spawns(R"({ "template": "sleep", "name": "s", "startDelayMs": -1 })")
            << QStringLiteral(": spawns[2].startDelayMs:")
            << QStringLiteral("from 0 to 3600000 ms, got -1");
    QTest::newRow("last start too late") << spawns(
            R"({ "template": "sleep", "name": "s", "count": 10000, "intervalMs": 60000 })")
                                         << QStringLiteral(": spawns[2].intervalMs:")
                                         << QStringLiteral("the last instance");
    QTest::newRow("negative delay param")
            << spawns(R"({ "template": "sleep", "name": "s", "params": { "delayMs": -1 } })")
            << QStringLiteral(": spawns[2].params.delayMs:")
            << QStringLiteral("an integer from 0 to 3600000 ms, got -1");
    QTest::newRow("delay param is a boolean")
            << spawns(R"({ "template": "sleep", "name": "s", "params": { "delayMs": true } })")
            << QStringLiteral(": spawns[2].params.delayMs:") << QStringLiteral("got true");
    QTest::newRow("null param") << spawns(
            R"({ "template": "sleep", "name": "s", "params": { "delayMs": null } })")
                                << QStringLiteral(": spawns[2].params.delayMs:")
                                << QStringLiteral("got null");
    QTest::newRow("unknown param")
            << spawns(R"({ "template": "sleep", "name": "s", "params": { "delay": 5 } })")
            << QStringLiteral(": spawns[2].params.delay:")
            << QStringLiteral("unknown parameter of template sleep (expected one of: delayMs)");
    QTest::newRow("params is an array")
            << spawns(R"({ "template": "sleep", "name": "s", "params": [] })")
            << QStringLiteral(": spawns[2].params:") << QStringLiteral("got an array");
    QTest::newRow("fraction above 1") << spawns(
            R"({ "template": "cancellationStorm", "name": "s", "params": { "fraction": 1.5 } })")
                                      << QStringLiteral(": spawns[2].params.fraction:")
                                      << QStringLiteral("a number from 0 to 1, got 1.5");
    QTest::newRow("unknown choice")
            << spawns(R"({ "template": "timeout", "name": "s", "params": { "style": "never" } })")
            << QStringLiteral(": spawns[2].params.style:")
            << QStringLiteral("one of: waitFor, timeout; got \"never\"");
    QTest::newRow("empty message")
            << spawns(R"({ "template": "failing", "name": "s", "params": { "message": "" } })")
            << QStringLiteral(": spawns[2].params.message:")
            << QStringLiteral("1 to 200 characters");
    QTest::newRow("more failures than children") << spawns(
            R"({ "template": "taskGroup", "name": "s", "params": { "children": 2, "failures": 3 } })")
                                                 << QStringLiteral(": spawns[2].params.failures:")
                                                 << QStringLiteral("at most children (2), got 3");
    QTest::newRow("too many items") << spawns(
            R"({ "template": "producerConsumer", "name": "s", "params": { "producers": 1000, "items": 100000 } })")
                                    << QStringLiteral(": spawns[2].params.items:")
                                    << QStringLiteral("at most 1000000");
    QTest::newRow("too many tasks in all") << spawns(
            R"({ "template": "fanout", "name": "s", "count": 10000, "params": { "children": 10000 } })")
                                           << QStringLiteral(": spawns:")
                                           << QStringLiteral("at most 200000 are allowed");
    QTest::newRow("duplicate key")
            << spawns(R"({ "template": "sleep", "name": "s", "count": 1, "count": 2 })")
            << QStringLiteral(": spawns[2].count:") << QStringLiteral("duplicate key");
    QTest::newRow("odd key is quoted")
            << spawns(R"({ "template": "sleep", "name": "s", "bad key": 1 })")
            << QStringLiteral(": spawns[2][\"bad key\"]:") << QStringLiteral("unknown key");
}

void tst_Scenario::malformedInputIsRejected()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, path);
    QFETCH(QString, expected);
    const ScenarioParseResult result = parseScenario(json, QStringLiteral("bad.json"));
    QVERIFY(!result.isValid());
    QVERIFY(!result.errors().empty());
    const QString message = result.errorString();
    QVERIFY2(message.startsWith(QStringLiteral("bad.json")), qPrintable(message));
    QVERIFY2(message.contains(path), qPrintable(message));
    QVERIFY2(message.contains(expected), qPrintable(message));
}

void tst_Scenario::syntaxErrorsNameLineAndColumn()
{
    const QByteArray trailingComma = "{\n  \"name\": \"a\",\n  \"title\": \"t\",\n}";
    ScenarioParseResult result = parseScenario(trailingComma, QStringLiteral("comma.json"));
    QVERIFY(!result.isValid());
    QCOMPARE(result.errors().size(), std::size_t(1));
    QCOMPARE(result.errors().front().line, 4);
    QVERIFY2(result.errorString().startsWith(QStringLiteral("comma.json:4:")),
             qPrintable(result.errorString()));
    QVERIFY(result.errorString().contains(QStringLiteral("invalid JSON")));

    // JSON has no NaN and no Infinity: the parser refuses them as numbers.
    for (const char *bad :
         { R"({ "name": NaN })", R"({ "name": Infinity })", R"({ "name": 1e999 })" }) {
        result = parseScenario(QByteArray(bad), QStringLiteral("nan.json"));
        QVERIFY(!result.isValid());
        QVERIFY2(result.errorString().contains(QStringLiteral("invalid JSON")),
                 qPrintable(result.errorString()));
    }
    result = parseScenario(QByteArray(), QStringLiteral("empty.json"));
    QVERIFY(!result.isValid());
    QVERIFY(result.errorString().startsWith(QStringLiteral("empty.json:1:1: invalid JSON")));
}

void tst_Scenario::allErrorsAreReportedAndNothingIsReturned()
{
    // Three bad spawns around two good ones: every error is listed, and no scenario comes
    // back with just the good ones (nothing runs half-loaded).
    const QByteArray json = document(R"([
        { "template": "sleep", "name": "ok" },
        { "template": "sleep", "name": "s", "count": 0 },
        { "template": "sleep", "name": "ok2" },
        { "template": "sleep", "name": "s", "params": { "delayMs": -3 } },
        { "template": "warp", "name": "s" }
    ])");
    const ScenarioParseResult result = parseScenario(json, QStringLiteral("many.json"));
    QVERIFY(!result.isValid());
    QCOMPARE(result.errors().size(), std::size_t(3));
    QCOMPARE(result.errors()[0].path, QStringLiteral("spawns[1].count"));
    QCOMPARE(result.errors()[1].path, QStringLiteral("spawns[3].params.delayMs"));
    QCOMPARE(result.errors()[2].path, QStringLiteral("spawns[4].template"));
}

void tst_Scenario::clockSpecs_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("valid");
    QTest::addColumn<int>("mode");
    QTest::addColumn<double>("scale");
    QTest::newRow("virtual") << "virtual" << true << int(ClockSpec::Mode::Virtual) << 1.0;
    QTest::newRow("real") << "real" << true << int(ClockSpec::Mode::Real) << 1.0;
    QTest::newRow("scaled:0.1") << "scaled:0.1" << true << int(ClockSpec::Mode::Scaled) << 0.1;
    QTest::newRow("scaled:10") << "scaled:10" << true << int(ClockSpec::Mode::Scaled) << 10.0;
    QTest::newRow("scaled:2.5") << "scaled:2.5" << true << int(ClockSpec::Mode::Scaled) << 2.5;
    QTest::newRow("scaled:0.09") << "scaled:0.09" << false << 0 << 0.0;
    QTest::newRow("scaled:10.5") << "scaled:10.5" << false << 0 << 0.0;
    QTest::newRow("scaled:nan") << "scaled:nan" << false << 0 << 0.0;
    QTest::newRow("scaled:inf") << "scaled:inf" << false << 0 << 0.0;
    QTest::newRow("scaled:") << "scaled:" << false << 0 << 0.0;
    QTest::newRow("scaled") << "scaled" << false << 0 << 0.0;
    QTest::newRow("Virtual") << "Virtual" << false << 0 << 0.0;
    QTest::newRow("empty") << "" << false << 0 << 0.0;
}

void tst_Scenario::clockSpecs()
{
    QFETCH(QString, text);
    QFETCH(bool, valid);
    QFETCH(int, mode);
    QFETCH(double, scale);
    QString error;
    const std::optional<ClockSpec> spec = parseClockSpec(text, &error);
    QCOMPARE(spec.has_value(), valid);
    if (!valid) {
        QVERIFY(error.contains(QStringLiteral("expected")));
        return;
    }
    QCOMPARE(int(spec->mode), mode);
    QCOMPARE(spec->scale, scale);
    QCOMPARE(parseClockSpec(spec->toString()), spec);
}

void tst_Scenario::jsonRoundTrip()
{
    const ScenarioCatalog catalog = scenarioCatalog(shippedScenarioDirectory());
    QVERIFY(!catalog.scenarios.empty());
    for (const Scenario &s : catalog.scenarios) {
        const ScenarioParseResult again = parseScenario(scenarioToJson(s), s.fileName);
        QVERIFY2(again.isValid(), qPrintable(again.errorString()));
        const Scenario &t = again.scenario();
        QCOMPARE(t.name, s.name);
        QCOMPARE(t.title, s.title);
        QCOMPARE(t.description, s.description);
        QCOMPARE(t.clock, s.clock);
        QCOMPARE(t.order, s.order);
        QCOMPARE(t.spawns.size(), s.spawns.size());
        for (std::size_t i = 0; i < s.spawns.size(); ++i) {
            QCOMPARE(t.spawns[i].templateId, s.spawns[i].templateId);
            QCOMPARE(t.spawns[i].name, s.spawns[i].name);
            QCOMPARE(t.spawns[i].count, s.spawns[i].count);
            QCOMPARE(t.spawns[i].startDelayMs, s.spawns[i].startDelayMs);
            QCOMPARE(t.spawns[i].intervalMs, s.spawns[i].intervalMs);
            QCOMPARE(t.spawns[i].params, s.spawns[i].params);
        }
    }
}

void tst_Scenario::validateScenarioChecksCodeBuiltScenarios()
{
    Scenario s = scenarioOf(
            { ScenarioSpawn::withDefaults(ScenarioTemplate::Sleep, QStringLiteral("nap"), 3) });
    QVERIFY(validateScenario(s).empty());
    s.spawns.front().params.insert(QStringLiteral("delayMs"), QVariant::fromValue<qint64>(-4));
    s.spawns.front().params.insert(QStringLiteral("bogus"), 1);
    const std::vector<ScenarioError> errors = validateScenario(s);
    QCOMPARE(errors.size(), std::size_t(2));
    QCOMPARE(errors[0].path, QStringLiteral("spawns[0].params.bogus"));
    QCOMPARE(errors[1].path, QStringLiteral("spawns[0].params.delayMs"));
}

void tst_Scenario::loadScenarioReportsFileProblems()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ScenarioParseResult result = loadScenario(dir.filePath(QStringLiteral("missing.json")));
    QVERIFY(!result.isValid());
    QVERIFY2(result.errorString().contains(QStringLiteral("missing.json")),
             qPrintable(result.errorString()));
    QVERIFY(result.errorString().contains(QStringLiteral("no such file")));

    result = loadScenario(dir.path());
    QVERIFY(!result.isValid());
    QVERIFY(result.errorString().contains(QStringLiteral("directory")));

    const QString big = dir.filePath(QStringLiteral("big.json"));
    {
        QFile f(big);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray(scenariolimits::MaxFileBytes + 1, ' '));
    }
    result = loadScenario(big);
    QVERIFY(!result.isValid());
    QVERIFY2(result.errorString().contains(QStringLiteral("at most 1048576")),
             qPrintable(result.errorString()));

    const QString good = dir.filePath(QStringLiteral("good.json"));
    {
        QFile f(good);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(document(R"([{ "template": "sleep", "name": "s" }])"));
    }
    result = loadScenario(good);
    QVERIFY2(result.isValid(), qPrintable(result.errorString()));
    QCOMPARE(result.scenario().fileName, good);
}

// --- the shipped scenarios -------------------------------------------------------------------

void tst_Scenario::shippedScenariosParse()
{
    const QString directory = shippedScenarioDirectory();
    const QStringList files = QDir(directory).entryList({ QStringLiteral("*.json") }, QDir::Files);
    QVERIFY2(files.size() >= 12, qPrintable(directory));
    for (const QString &file : files) {
        const ScenarioParseResult result = loadScenario(QDir(directory).filePath(file));
        QVERIFY2(result.isValid(), qPrintable(result.errorString()));
        // The file is named after the scenario, so `--scenario NAME` is easy to find.
        QCOMPARE(result.scenario().name + QStringLiteral(".json"), file);
        QVERIFY(result.scenario().description.size() >= 200); // a real paragraph
    }
    const ScenarioCatalog catalog = scenarioCatalog(directory);
    QStringList errors;
    for (const ScenarioError &e : catalog.errors)
        errors << e.toString();
    QVERIFY2(catalog.errors.empty(), qPrintable(errors.join(QLatin1Char('\n'))));
    QCOMPARE(catalog.scenarios.size(), std::size_t(files.size()));
    // The two asyncio seed examples come first.
    QCOMPARE(catalog.scenarios[0].name, QStringLiteral("seed_run_until_complete"));
    QCOMPARE(catalog.scenarios[1].name, QStringLiteral("seed_run_forever"));
    QVERIFY(catalog.scenarios[1].endsOnStop());
    QVERIFY(catalog.find(u"lock_contention"));
    QVERIFY(!catalog.find(u"nope"));
    // Every template is shown by at least one shipped scenario.
    QSet<int> used;
    for (const Scenario &s : catalog.scenarios) {
        for (const ScenarioSpawn &spawn : s.spawns)
            used.insert(int(spawn.templateId));
    }
    for (const TemplateSpec &t : scenarioTemplates())
        QVERIFY2(used.contains(int(t.id)), qPrintable(t.name));
}

void tst_Scenario::catalogReportsBrokenFilesAndDuplicates()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    auto write = [&dir](const char *name, const QByteArray &content) {
        QFile f(dir.filePath(QString::fromLatin1(name)));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(content);
    };
    write("a.json", document(R"([{ "template": "sleep", "name": "s" }])"));
    write("b.json", document(R"([{ "template": "sleep", "name": "t" }])")); // same name "test"
    write("c.json", "{ broken");
    write("notes.txt", "not a scenario");
    const ScenarioCatalog catalog = scenarioCatalog(dir.path());
    QCOMPARE(catalog.scenarios.size(), std::size_t(1));
    QCOMPARE(catalog.errors.size(), std::size_t(2));
    QVERIFY(catalog.errors[0].toString().contains(QStringLiteral("already taken")));
    QVERIFY(catalog.errors[1].file.endsWith(QStringLiteral("c.json")));

    const ScenarioCatalog none = scenarioCatalog(dir.filePath(QStringLiteral("nowhere")));
    QVERIFY(none.scenarios.empty());
    QCOMPARE(none.errors.size(), std::size_t(1));
}

void tst_Scenario::shippedScenariosRunOnAVirtualClock_data()
{
    QTest::addColumn<QString>("file");
    const QString directory = shippedScenarioDirectory();
    for (const QString &file : QDir(directory).entryList({ QStringLiteral("*.json") }, QDir::Files))
        QTest::newRow(qPrintable(file)) << QDir(directory).filePath(file);
}

void tst_Scenario::shippedScenariosRunOnAVirtualClock()
{
    QFETCH(QString, file);
    ScenarioParseResult parsed = loadScenario(file);
    QVERIFY2(parsed.isValid(), qPrintable(parsed.errorString()));
    const Scenario scenario = withTinyRealTimeWork(parsed.takeScenario());

    const RunResult r = runOnVirtualClock(scenario);

    qint64 instances = 0;
    qint64 orphans = 0;
    for (const ScenarioSpawn &s : scenario.spawns) {
        instances += s.count;
        if (s.templateId == ScenarioTemplate::Failing)
            orphans += s.count * s.intParam(QStringLiteral("orphans"));
    }
    QCOMPARE(qint64(r.outcome.tasks.size()), instances);
    QCOMPARE(qint64(r.outcome.finished + r.outcome.failed + r.outcome.cancelled), instances);
    QCOMPARE(r.outcome.scenario, scenario.name);
    QCOMPARE(r.pendingAfterRun, std::size_t(0)); // the run ends with everything it started
    // The only reports a scenario may cause are the orphans it creates on purpose.
    QCOMPARE(qint64(r.reports.size()), orphans);
    for (const QString &report : r.reports)
        QVERIFY2(report.contains(QStringLiteral("exception was never retrieved")),
                 qPrintable(report));

    if (scenario.name.startsWith(QStringLiteral("seed_"))) {
        QCOMPARE(r.printed, QStringList{ QStringLiteral("Future is done!") });
        QCOMPARE(r.outcome.finished, std::size_t(1));
        QCOMPARE(r.loopSeconds, 1.0); // the one-second sleep, exactly, on a virtual clock
        QCOMPARE(r.outcome.stopped, scenario.endsOnStop());
        QCOMPARE(r.stopCalls, scenario.endsOnStop() ? 1 : 0);
    } else {
        QVERIFY(r.printed.isEmpty());
        QVERIFY(!r.outcome.stopped);
    }
    if (scenario.name == QLatin1String("failures")) {
        QCOMPARE(r.outcome.failed, std::size_t(4));
        QCOMPARE(r.outcome.finished, std::size_t(3));
    } else if (scenario.name == QLatin1String("cancellation_storm")) {
        QCOMPARE(r.outcome.cancelled, std::size_t(20)); // 40% of 50
        QCOMPARE(r.outcome.finished, std::size_t(30));
    } else if (scenario.name == QLatin1String("taskgroup_fail_fast")) {
        QCOMPARE(r.outcome.failed, std::size_t(1));
        QCOMPARE(r.loopSeconds, 0.3); // failing fast: the siblings' 1 s sleeps are cancelled
    } else if (scenario.name == QLatin1String("many_sleepers")) {
        QCOMPARE(r.outcome.finished, std::size_t(1005));
        QCOMPARE(r.loopSeconds, 1.3); // a thousand 1 s sleeps take 1 s, not 1000
    } else if (scenario.name == QLatin1String("timeouts")) {
        int expired = 0;
        for (const ScenarioTaskResult &t : r.outcome.tasks)
            expired += t.text.contains(QStringLiteral("TimeoutError")) ? 1 : 0;
        QCOMPARE(expired, 2);
    } else if (scenario.name == QLatin1String("producer_consumer")) {
        QVERIFY2(r.outcome.tasks.front().text.contains(QStringLiteral("20 items")),
                 qPrintable(r.outcome.tasks.front().text));
        QCOMPARE(r.outcome.children.size(), std::size_t(5));
    } else if (r.outcome.failed + r.outcome.cancelled != 0) {
        QFAIL(qPrintable(QStringLiteral("unexpected failures: ") + r.outcome.summaryLine()));
    }
}

// --- the runner ------------------------------------------------------------------------------

void tst_Scenario::everyTemplateRuns_data()
{
    everyTemplateParses_data();
}

void tst_Scenario::everyTemplateRuns()
{
    QFETCH(int, templateIndex);
    const auto id = ScenarioTemplate(templateIndex);
    Scenario s = withTinyRealTimeWork(
            scenarioOf({ ScenarioSpawn::withDefaults(id, QStringLiteral("x"), 2) }));
    QVERIFY(validateScenario(s).empty());
    const RunResult r = runOnVirtualClock(s);
    QCOMPARE(r.outcome.tasks.size(), std::size_t(2));
    QCOMPARE(r.pendingAfterRun, std::size_t(0));
    QVERIFY(r.reports.isEmpty());
    QCOMPARE(r.outcome.tasks[0].name, QStringLiteral("x-1"));
    QCOMPARE(r.outcome.tasks[1].name, QStringLiteral("x-2"));
    switch (id) {
    case ScenarioTemplate::Failing:
        QCOMPARE(r.outcome.failed, std::size_t(2));
        QCOMPARE(r.outcome.tasks[0].text, QStringLiteral("ValueError: something went wrong"));
        break;
    case ScenarioTemplate::TaskGroup:
        QCOMPARE(r.outcome.failed, std::size_t(2));
        QVERIFY(r.outcome.tasks[0].text.startsWith(QStringLiteral("ExceptionGroup")));
        break;
    case ScenarioTemplate::CancellationStorm:
        QCOMPARE(r.outcome.cancelled, std::size_t(1)); // half of 2
        QCOMPARE(r.outcome.finished, std::size_t(1));
        break;
    case ScenarioTemplate::SeedRunForever:
        // Both instances finish in the same iteration (same deadline): both done-callbacks
        // print and call stop() before the loop stops, and nothing is left to cancel.
        QVERIFY(r.outcome.stopped);
        QCOMPARE(r.stopCalls, 2);
        QCOMPARE(r.printed.size(), 2);
        QCOMPARE(r.outcome.finished, std::size_t(2));
        break;
    default:
        QCOMPARE(r.outcome.finished, std::size_t(2));
        for (const ScenarioTaskResult &t : r.outcome.tasks)
            QVERIFY(!t.text.isEmpty());
        break;
    }
}

void tst_Scenario::spawnsStartAtTheirDelays()
{
    ScenarioSpawn spawn =
            ScenarioSpawn::withDefaults(ScenarioTemplate::Sleep, QStringLiteral("s"), 3);
    spawn.startDelayMs = 100;
    spawn.intervalMs = 50;
    spawn.params.insert(QStringLiteral("delayMs"), QVariant::fromValue<qint64>(10));
    const Scenario s = scenarioOf({ spawn });

    EventLoop loop(std::make_shared<VirtualClock>());
    QList<double> started;
    QStringList names;
    ScenarioHooks hooks;
    hooks.spawned = [&](const TaskRef &task, const ScenarioSpawn &from) {
        started << loop.timeSeconds();
        names << task.name();
        QCOMPARE(from.name, QStringLiteral("s"));
    };
    Task<ScenarioOutcome> run = runScenario(loop, s, hooks);
    QCOMPARE(run.name(), QStringLiteral("scenario:test"));
    const ScenarioOutcome outcome = loop.runUntilComplete(Future<ScenarioOutcome>(run));
    QCOMPARE(started, (QList<double>{ 0.1, 0.15, 0.2 }));
    QCOMPARE(names,
             (QStringList{ QStringLiteral("s-1"), QStringLiteral("s-2"), QStringLiteral("s-3") }));
    QCOMPARE(loop.timeSeconds(), 0.21);
    QCOMPARE(outcome.summaryLine(), QStringLiteral("3 tasks: 3 finished, 0 failed, 0 cancelled"));
}

void tst_Scenario::stopFromTheDoneCallbackEndsTheRun()
{
    ScenarioSpawn seed = ScenarioSpawn::withDefaults(ScenarioTemplate::SeedRunForever,
                                                     QStringLiteral("slowOperation"));
    ScenarioSpawn sleeper =
            ScenarioSpawn::withDefaults(ScenarioTemplate::Sleep, QStringLiteral("long"), 2);
    sleeper.params.insert(QStringLiteral("delayMs"), QVariant::fromValue<qint64>(60000));
    const Scenario s = scenarioOf({ seed, sleeper });
    QVERIFY(s.endsOnStop());

    const RunResult r = runOnVirtualClock(s);
    QVERIFY(r.outcome.stopped);
    QCOMPARE(r.stopCalls, 1);
    QCOMPARE(r.printed, QStringList{ QStringLiteral("Future is done!") });
    QCOMPARE(r.outcome.finished, std::size_t(1));
    QCOMPARE(r.outcome.cancelled, std::size_t(2)); // the long sleepers, cut short
    QCOMPARE(r.loopSeconds, 1.0);
    QCOMPARE(r.pendingAfterRun, std::size_t(0));
    QVERIFY(r.outcome.summaryLine().endsWith(QStringLiteral("ended by stop()")));

    // Without a stopLoop hook (a loop attached to a running application) the stop only
    // ends the run.
    EventLoop loop(std::make_shared<VirtualClock>());
    const ScenarioOutcome outcome =
            loop.runUntilComplete(Future<ScenarioOutcome>(runScenario(loop, s)));
    QVERIFY(outcome.stopped);
    QCOMPARE(outcome.cancelled, std::size_t(2));
}

void tst_Scenario::cancellingTheRunCancelsEverything()
{
    ScenarioSpawn pipeline =
            ScenarioSpawn::withDefaults(ScenarioTemplate::ProducerConsumer, QStringLiteral("pipe"));
    ScenarioSpawn later =
            ScenarioSpawn::withDefaults(ScenarioTemplate::Sleep, QStringLiteral("later"), 3);
    later.startDelayMs = 5000; // never spawned: the run is cancelled first
    const Scenario s = scenarioOf({ pipeline, later });

    EventLoop loop(std::make_shared<VirtualClock>());
    QStringList reports;
    loop.setExceptionHandler(
            [&reports](const ExceptionContext &context) { reports << context.toString(); });
    int spawned = 0;
    ScenarioHooks hooks;
    hooks.spawned = [&spawned](const TaskRef &, const ScenarioSpawn &) { ++spawned; };
    Task<ScenarioOutcome> run = runScenario(loop, s, hooks);
    loop.callLater(300ms, [run]() mutable { run.cancel("enough"); });
    QVERIFY_THROWS_EXCEPTION(CancelledError, loop.runUntilComplete(Future<ScenarioOutcome>(run)));
    QVERIFY(run.cancelled());
    QCOMPARE(spawned, 1);
    QCOMPARE(loop.timeSeconds(), 0.3);
    // The pipeline and its producers and consumers are all done: nothing leaks, nothing is
    // destroyed pending when the loop closes.
    QVERIFY(loop.allTasks().empty());
    loop.close();
    QVERIFY2(reports.isEmpty(), qPrintable(reports.join(QLatin1Char('\n'))));
}

void tst_Scenario::cancellationStormIsDeterministic()
{
    ScenarioSpawn storm = ScenarioSpawn::withDefaults(ScenarioTemplate::CancellationStorm,
                                                      QStringLiteral("v"), 40);
    storm.params.insert(QStringLiteral("fraction"), 0.25);
    storm.params.insert(QStringLiteral("seed"), QVariant::fromValue<qint64>(12345));
    const Scenario s = scenarioOf({ storm });
    auto victims = [&s] {
        QStringList names;
        const RunResult r = runOnVirtualClock(s);
        for (const ScenarioTaskResult &t : r.outcome.tasks) {
            if (t.status == DoneStatus::Cancelled) {
                names << t.name;
                if (t.text != QLatin1String("cancellation storm"))
                    return QStringList{ QStringLiteral("wrong message: ") + t.text };
            }
        }
        return names;
    };
    const QStringList first = victims();
    QCOMPARE(first.size(), 10);
    QCOMPARE(victims(), first);
    // Another seed picks others (the chance of the same ten out of forty is negligible).
    storm.params.insert(QStringLiteral("seed"), QVariant::fromValue<qint64>(54321));
    const Scenario other = scenarioOf({ storm });
    QStringList otherVictims;
    const RunResult r = runOnVirtualClock(other);
    for (const ScenarioTaskResult &t : r.outcome.tasks) {
        if (t.status == DoneStatus::Cancelled)
            otherVictims << t.name;
    }
    QCOMPARE(otherVictims.size(), 10);
    QVERIFY(otherVictims != first);
}

void tst_Scenario::neverRetrievedChildIsReported()
{
    ScenarioSpawn failing =
            ScenarioSpawn::withDefaults(ScenarioTemplate::Failing, QStringLiteral("f"));
    failing.params.insert(QStringLiteral("orphans"), QVariant::fromValue<qint64>(2));
    const RunResult r = runOnVirtualClock(scenarioOf({ failing }));
    QCOMPARE(r.outcome.failed, std::size_t(1));
    QCOMPARE(r.reports.size(), 2);
    QVERIFY2(r.reports[0].contains(QStringLiteral("Task exception was never retrieved")),
             qPrintable(r.reports[0]));
    QVERIFY2(r.reports[0].contains(QStringLiteral("(orphan 1)")), qPrintable(r.reports[0]));
    // The run describes the children without retrieving their errors.
    QCOMPARE(r.outcome.children.size(), std::size_t(2));
    QCOMPARE(r.outcome.children[0].name, QStringLiteral("f.orphan-1"));
    QCOMPARE(r.outcome.children[0].status, DoneStatus::Failed);
}

void tst_Scenario::taskGroupParentFailsWithExceptionGroup()
{
    // Regression: the group's body is a capturing lambda, which g++ 12 destroyed twice when
    // it was passed as a prvalue inside the co_await expression (heap corruption at exit).
    ScenarioSpawn group =
            ScenarioSpawn::withDefaults(ScenarioTemplate::TaskGroup, QStringLiteral("g"), 3);
    group.params.insert(QStringLiteral("failures"), QVariant::fromValue<qint64>(2));
    const RunResult r = runOnVirtualClock(scenarioOf({ group }));
    QCOMPARE(r.outcome.failed, std::size_t(3));
    for (const ScenarioTaskResult &t : r.outcome.tasks)
        QVERIFY2(t.text.contains(QStringLiteral("(2 sub-exceptions)")), qPrintable(t.text));
    QCOMPARE(r.loopSeconds, 0.3);
    QVERIFY(r.reports.isEmpty());
}

QTEST_GUILESS_MAIN(tst_Scenario)
#include "tst_scenario.moc"
