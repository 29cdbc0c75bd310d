#pragma once

//! \file scenario.h Scenarios: JSON files that say which tasks to spawn on a loop (templates
//! with typed parameters, counts, start delays, names), their strict parser, the catalog of
//! scenario files in a directory or Qt resource folder, and runScenario(), which spawns
//! everything on an EventLoop and completes when the scenario has ended. The visualizer, the
//! headless runner (`loopscope --headless`) and embedding applications share this code. The
//! file format is documented in docs/scenarios.md.

#include "loopscope/observer.h"

#include <QByteArray>
#include <QString>
#include <QStringList>
#include <QVariant>
#include <QVariantMap>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

// moc (Qt 6.4) cannot parse the C++20 concepts <coroutine> brings in; only runScenario()
// needs the task types, so the data part stays visible to moc.
#ifndef Q_MOC_RUN
#  include "loopscope/task.h"
#endif

namespace loopscope {

class EventLoop;

//! The clock a scenario is meant for, and what `--clock` takes: "virtual", "real" or
//! "scaled:F" with F from 0.1 to 10 (slow motion below 1, fast forward above).
struct ClockSpec
{
    enum class Mode : std::uint8_t { Virtual, Real, Scaled };

    Mode mode = Mode::Virtual;
    double scale = 1.0; //!< Scaled only: multiple of real time, 0.1 … 10

    //! The textual form parseClockSpec() accepts: "virtual", "real", "scaled:0.5".
    QString toString() const;
    friend bool operator==(const ClockSpec &, const ClockSpec &) = default;
};

//! The smallest and largest factor of a scaled clock.
inline constexpr double MinClockScale = 0.1;
inline constexpr double MaxClockScale = 10.0;

/*!
 * Parses "virtual", "real" or "scaled:F" (F a finite number in [0.1, 10]). Returns nullopt
 * on anything else and, when \a error is given, says what was expected.
 */
std::optional<ClockSpec> parseClockSpec(QStringView text, QString *error = nullptr);

/*!
 * A new clock as \a spec says. A scaled clock's factor is clamped to [MinClockScale,
 * MaxClockScale] and NaN taken as 1, so this never throws (callers run it from Qt's event
 * dispatch).
 */
std::shared_ptr<Clock> makeClock(const ClockSpec &spec);

//! What one spawn creates; the JSON spelling is in TemplateSpec::name.
enum class ScenarioTemplate : std::uint8_t {
    Sleep, //!< a task that sleeps (asyncio.sleep)
    Chain, //!< one task running a chain of inline awaits (await coro() … depth levels)
    Fanout, //!< a parent that gathers N child tasks
    Timeout, //!< work under waitFor() or a timeout() scope that expires or not
    ProducerConsumer, //!< a pipeline: producers and consumers around one bounded Queue
    Executor, //!< CPU work offloaded with runInExecutor()
    BlockingCallback, //!< a callback that busy-waits on the loop thread, stalling everyone
    Failing, //!< a task that raises after a delay, optionally with never-retrieved orphans
    CancellationStorm, //!< many sleepers, a seeded random fraction of them cancelled
    LockContention, //!< the spawn's tasks take turns on one Lock
    TaskGroup, //!< a parent whose TaskGroup fails fast when a child raises
    SeedRunUntilComplete, //!< asyncio seed 1: a task and a done-callback printing the result
    SeedRunForever, //!< asyncio seed 2: the done-callback prints and calls stop()
};

//! The type of a template parameter (and of its JSON value).
enum class ParamType : std::uint8_t {
    Integer, //!< a JSON number without fraction, within [minimum, maximum]
    Number, //!< a finite JSON number within [minimum, maximum]
    Boolean, //!< true or false
    String, //!< a string whose length (in UTF-16 units) is within [minimum, maximum]
    Choice, //!< one of choices
};
const char *paramTypeName(ParamType type);

//! One parameter of a template: what the parser accepts and what a spawn panel shows.
struct ParamSpec
{
    QString key; //!< JSON key in "params", e.g. "delayMs"
    ParamType type = ParamType::Integer;
    double minimum = 0; //!< Integer/Number: inclusive lower bound; String: min length
    double maximum = 0; //!< Integer/Number: inclusive upper bound; String: max length
    QVariant defaultValue; //!< qint64, double, bool or QString
    QString unit; //!< "ms", "tasks", "items", … or empty
    QStringList choices; //!< Choice only
    QString description; //!< one sentence for the reader
};

//! A template: its JSON name, what one instance is, and its parameters.
struct TemplateSpec
{
    ScenarioTemplate id = ScenarioTemplate::Sleep;
    QString name; //!< JSON spelling, e.g. "producerConsumer"
    QString summary; //!< what one instance of this template is
    std::vector<ParamSpec> params;

    const ParamSpec *param(QStringView key) const;
};

//! Every template, in the order of ScenarioTemplate.
const std::vector<TemplateSpec> &scenarioTemplates();
const TemplateSpec &templateSpec(ScenarioTemplate id);
//! The template named \a name (JSON spelling), or null.
const TemplateSpec *findTemplate(QStringView name);

//! Limits the parser enforces (docs/scenarios.md lists them with the per-parameter ranges).
namespace scenariolimits {
inline constexpr int MaxSpawns = 100; //!< entries in "spawns"
inline constexpr int MaxCount = 10000; //!< instances of one spawn
inline constexpr qint64 MaxDelayMs = 3600000; //!< start delays and long sleeps: one hour
inline constexpr qint64 MaxIntervalMs = 60000; //!< between two instances of a spawn
inline constexpr qint64 MaxTasks = 200000; //!< tasks a whole scenario may create
inline constexpr qint64 MaxWorkItems = 1000000; //!< queue items / lock rounds of one spawn
inline constexpr qsizetype MaxFileBytes = 1024 * 1024; //!< size of a scenario file
} // namespace scenariolimits

//! One entry of "spawns": \a count instances of a template, started with callLater.
struct ScenarioSpawn
{
    ScenarioTemplate templateId = ScenarioTemplate::Sleep;
    QString name; //!< name prefix: "name" when count is 1, else "name-1" … "name-N"
    int count = 1; //!< 1 … MaxCount
    qint64 startDelayMs = 0; //!< when the first instance starts, after the run begins
    qint64 intervalMs = 0; //!< between two consecutive instances
    //! Every parameter of the template (defaults filled in): qint64 for Integer, double for
    //! Number, bool for Boolean, QString for String and Choice.
    QVariantMap params;

    qint64 intParam(const QString &key) const { return params.value(key).toLongLong(); }
    double numberParam(const QString &key) const { return params.value(key).toDouble(); }
    bool boolParam(const QString &key) const { return params.value(key).toBool(); }
    QString stringParam(const QString &key) const { return params.value(key).toString(); }

    //! The name of instance \a index (0-based): the prefix alone when count is 1.
    QString instanceName(int index) const;
    //! Tasks this spawn creates, children included.
    qint64 taskCount() const;

    //! A spawn of \a id with every parameter at its default.
    static ScenarioSpawn withDefaults(ScenarioTemplate id, QString name, int count = 1);
};

//! A parsed scenario. Everything in it has been validated.
struct Scenario
{
    QString name; //!< identifier: [a-z][a-z0-9_]*, at most 64 characters
    QString title; //!< one line for lists
    QString description; //!< one paragraph for a newcomer
    std::optional<ClockSpec> clock; //!< the clock it is meant for; none: any
    int order = 1000; //!< listing position in a catalog (then by name)
    std::vector<ScenarioSpawn> spawns;
    QString fileName; //!< where it was loaded from; empty when built in code

    //! True when a spawn's done-callback stops the loop (SeedRunForever): the scenario ends
    //! then, and a runner uses runForever() rather than runUntilComplete().
    bool endsOnStop() const;
    //! Tasks the whole scenario creates (runScenario()'s own task not included).
    qint64 taskCount() const;
};

//! What is wrong with a scenario file, and where.
struct ScenarioError
{
    QString file; //!< the file name as given to the parser
    QString path; //!< JSON path, e.g. "spawns[2].params.delayMs"; empty: the whole document
    QString message; //!< what was expected and what was found
    int line = 0; //!< JSON syntax errors only: 1-based line, else 0
    int column = 0; //!< JSON syntax errors only: 1-based column, else 0

    //! "file: spawns[2].params.delayMs: expected …", or "file:3:14: invalid JSON: …".
    QString toString() const;
};

//! A scenario or the errors that kept it from loading (never both, never a partial one).
class ScenarioParseResult
{
public:
    ScenarioParseResult() = default;
    explicit ScenarioParseResult(Scenario scenario) : m_scenario(std::move(scenario)) { }
    explicit ScenarioParseResult(std::vector<ScenarioError> errors)
        : m_errors(std::move(errors)) { }

    bool isValid() const noexcept { return m_scenario.has_value(); }
    explicit operator bool() const noexcept { return isValid(); }
    //! The scenario; only when isValid().
    const Scenario &scenario() const { return *m_scenario; }
    Scenario takeScenario() { return std::move(*m_scenario); }
    //! Every error found (the parser goes on after the first, up to a limit).
    const std::vector<ScenarioError> &errors() const noexcept { return m_errors; }
    //! Every error, one per line.
    QString errorString() const;

private:
    std::optional<Scenario> m_scenario;
    std::vector<ScenarioError> m_errors;
};

/*!
 * Parses a scenario from \a json. Strict and total: unknown keys, wrong types, numbers out of
 * range or with a fraction where an integer is expected, duplicate keys, missing fields and
 * scenarios that would create too many tasks are all errors, each naming \a fileName, the
 * JSON path and what was expected. Nothing is returned unless everything is valid.
 */
ScenarioParseResult parseScenario(const QByteArray &json, const QString &fileName);
//! Reads and parses the file at \a path (a file system path or a Qt resource ":/…").
ScenarioParseResult loadScenario(const QString &path);
//! Checks a scenario built in code by the same rules (through its JSON form).
std::vector<ScenarioError> validateScenario(const Scenario &scenario);
//! The JSON form of \a scenario, every parameter written out; parseScenario() reads it back.
QByteArray scenarioToJson(const Scenario &scenario);

//! The scenarios of one folder.
struct ScenarioCatalog
{
    std::vector<Scenario> scenarios; //!< by order, then name
    std::vector<ScenarioError> errors; //!< files that did not load, and duplicate names
    //! The scenario called \a name, or null.
    const Scenario *find(QStringView name) const;
};

/*!
 * Loads every `*.json` in \a directory, a file system path or a Qt resource folder. The
 * `loopscope` program compiles `resources/scenarios/` into its resources under
 * builtInScenarioDirectory(); other programs pass the folder they ship.
 */
ScenarioCatalog scenarioCatalog(const QString &directory);
//! ":/loopscope/scenarios", where the loopscope program keeps the shipped scenarios.
QString builtInScenarioDirectory();

//! How a task the scenario created ended.
struct ScenarioTaskResult
{
    std::uint64_t taskId = 0; //!< TaskRef::id()
    QString name;
    std::size_t spawnIndex = 0; //!< index in Scenario::spawns
    DoneStatus status = DoneStatus::Finished;
    QString text; //!< the result, the error, or the cancel message
};

//! What runScenario() returns.
struct ScenarioOutcome
{
    QString scenario; //!< Scenario::name
    std::vector<ScenarioTaskResult> tasks; //!< one per spawned instance, by task id
    /*!
     * The child tasks instances created through the run (fan-out children, producers and
     * consumers, orphans), by task id. Their errors are only described here, not retrieved:
     * a child nobody awaited is still reported as never retrieved.
     */
    std::vector<ScenarioTaskResult> children;
    std::size_t finished = 0; //!< instances that returned
    std::size_t failed = 0; //!< instances that raised
    std::size_t cancelled = 0; //!< instances that ended cancelled
    bool stopped = false; //!< ended by a done-callback's stop() (SeedRunForever)

    //! "3 tasks: 2 finished, 1 failed, 0 cancelled" (+ ", ended by stop()"); instances only.
    QString summaryLine() const;
};

//! How a runner lets a scenario talk to the program around it.
struct ScenarioHooks
{
    //! The seeds' `print(future.result())`; unset: the lines go nowhere.
    std::function<void(const QString &line)> print;
    /*!
     * What the seed_run_forever done-callback's `loop.stop()` does. A program that runs the
     * loop with runForever() passes `[&loop] { loop.stop(); }`; unset (a loop attached to a
     * running Qt application, where stop() would only affect a later runForever()) it just
     * ends the scenario run.
     */
    std::function<void()> stopLoop;
    //! Called for every instance right after it was created.
    std::function<void(const TaskRef &task, const ScenarioSpawn &spawn)> spawned;
};

#ifndef Q_MOC_RUN
/*!
 * Runs \a scenario on \a loop: every spawn's instances are created from callLater callbacks
 * at their start delays, and the returned task completes once every task the scenario
 * created has ended, or once a done-callback called stop() (then whatever still runs is
 * cancelled and waited for). Failed and cancelled instances are part of the outcome, not
 * errors of the run: their exceptions count as retrieved. Cancelling the returned task
 * cancels everything the scenario started, waits for it, and ends cancelled.
 *
 * \a scenario is copied. Must be called on \a loop's thread; the loop does not have to run
 * yet (runUntilComplete() the returned task, or let an attached loop run it).
 */
Task<ScenarioOutcome> runScenario(EventLoop &loop, const Scenario &scenario,
                                  ScenarioHooks hooks = {});
#endif

} // namespace loopscope
