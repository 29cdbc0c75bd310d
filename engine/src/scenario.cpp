#include "loopscope/scenario.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>
#include <QRegularExpression>
#include <QSet>

#include <algorithm>
#include <cmath>
#include <limits>

namespace loopscope {

namespace {

namespace lim = scenariolimits;

ParamSpec integerParam(QString key, qint64 minimum, qint64 maximum, qint64 defaultValue,
                       QString unit, QString description)
{
    ParamSpec p;
    p.key = std::move(key);
    p.type = ParamType::Integer;
    p.minimum = double(minimum);
    p.maximum = double(maximum);
    p.defaultValue = QVariant::fromValue<qint64>(defaultValue);
    p.unit = std::move(unit);
    p.description = std::move(description);
    return p;
}

ParamSpec numberParam(QString key, double minimum, double maximum, double defaultValue,
                      QString description)
{
    ParamSpec p;
    p.key = std::move(key);
    p.type = ParamType::Number;
    p.minimum = minimum;
    p.maximum = maximum;
    p.defaultValue = defaultValue;
    p.description = std::move(description);
    return p;
}

ParamSpec stringParam(QString key, int minLength, int maxLength, QString defaultValue,
                      QString description)
{
    ParamSpec p;
    p.key = std::move(key);
    p.type = ParamType::String;
    p.minimum = minLength;
    p.maximum = maxLength;
    p.defaultValue = std::move(defaultValue);
    p.unit = QStringLiteral("characters");
    p.description = std::move(description);
    return p;
}

ParamSpec choiceParam(QString key, QStringList choices, QString description)
{
    ParamSpec p;
    p.key = std::move(key);
    p.type = ParamType::Choice;
    p.defaultValue = choices.value(0);
    p.choices = std::move(choices);
    p.description = std::move(description);
    return p;
}

const QString Ms = QStringLiteral("ms");
const QString Tasks = QStringLiteral("tasks");
const QString Items = QStringLiteral("items");

std::vector<TemplateSpec> buildTemplates()
{
    std::vector<TemplateSpec> t;
    auto add = [&t](ScenarioTemplate id, const char *name, QString summary,
                    std::vector<ParamSpec> params) {
        TemplateSpec spec;
        spec.id = id;
        spec.name = QString::fromLatin1(name);
        spec.summary = std::move(summary);
        spec.params = std::move(params);
        t.push_back(std::move(spec));
    };
    const QString seedDelay = QStringLiteral("How long slowOperation() sleeps before it returns.");
    const QString seedResult = QStringLiteral("What slowOperation() returns and the done-callback "
                                              "prints.");

    add(ScenarioTemplate::Sleep, "sleep", QStringLiteral("A task that sleeps, then returns."),
        { integerParam(QStringLiteral("delayMs"), 0, lim::MaxDelayMs, 1000, Ms,
                       QStringLiteral("How long the task sleeps (asyncio.sleep).")) });
    add(ScenarioTemplate::Chain, "chain",
        QStringLiteral("One task running a chain of coroutines, each awaiting the next inline "
                       "(await coro()): depth levels, one task."),
        { integerParam(QStringLiteral("depth"), 1, 1000, 5, QStringLiteral("levels"),
                       QStringLiteral("Coroutines in the chain.")),
          integerParam(QStringLiteral("stepDelayMs"), 0, 60000, 200, Ms,
                       QStringLiteral("Each level sleeps this long before it awaits the "
                                      "next.")) });
    add(ScenarioTemplate::Fanout, "fanout",
        QStringLiteral("A parent task that creates children and gathers their results."),
        { integerParam(QStringLiteral("children"), 1, lim::MaxCount, 10, Tasks,
                       QStringLiteral("Child tasks per parent.")),
          integerParam(QStringLiteral("childDelayMs"), 0, lim::MaxDelayMs, 500, Ms,
                       QStringLiteral("How long the first child sleeps.")),
          integerParam(QStringLiteral("spreadMs"), 0, 60000, 100, Ms,
                       QStringLiteral("Child i sleeps childDelayMs + i × spreadMs.")) });
    add(ScenarioTemplate::Timeout, "timeout",
        QStringLiteral("A task whose work runs under a time limit; it reports whether the limit "
                       "expired (TimeoutError) or the work finished in time."),
        { choiceParam(QStringLiteral("style"),
                      { QStringLiteral("waitFor"), QStringLiteral("timeout") },
                      QStringLiteral("waitFor(): the work runs as its own task, cancelled on "
                                     "expiry; timeout(): a scope that cancels the task "
                                     "itself.")),
          integerParam(QStringLiteral("limitMs"), 0, lim::MaxDelayMs, 500, Ms,
                       QStringLiteral("The time limit.")),
          integerParam(QStringLiteral("workMs"), 0, lim::MaxDelayMs, 1000, Ms,
                       QStringLiteral("How long the work sleeps; above limitMs it times "
                                      "out.")) });
    add(ScenarioTemplate::ProducerConsumer, "producerConsumer",
        QStringLiteral("A pipeline task with producer and consumer children around one Queue; "
                       "it ends when every item was consumed (join, then shutdown)."),
        { integerParam(QStringLiteral("producers"), 1, 1000, 2, Tasks,
                       QStringLiteral("Producer tasks.")),
          integerParam(QStringLiteral("consumers"), 1, 1000, 3, Tasks,
                       QStringLiteral("Consumer tasks.")),
          integerParam(QStringLiteral("items"), 0, 100000, 10, Items,
                       QStringLiteral("Items each producer puts.")),
          integerParam(QStringLiteral("queueSize"), 0, 100000, 4, Items,
                       QStringLiteral("The queue's maxsize; 0 is unbounded. A full queue "
                                      "makes put() wait.")),
          integerParam(QStringLiteral("produceMs"), 0, 60000, 100, Ms,
                       QStringLiteral("A producer sleeps this long before each put().")),
          integerParam(QStringLiteral("consumeMs"), 0, 60000, 250, Ms,
                       QStringLiteral("A consumer sleeps this long per item it took.")) });
    add(ScenarioTemplate::Executor, "executor",
        QStringLiteral("A task that offloads CPU work to the thread pool with runInExecutor() "
                       "and awaits the result; the loop stays free meanwhile."),
        { integerParam(QStringLiteral("workMs"), 0, 60000, 300, Ms,
                       QStringLiteral("Real (wall-clock) time the job keeps a worker thread "
                                      "busy.")) });
    add(ScenarioTemplate::BlockingCallback, "blockingCallback",
        QStringLiteral("A task that schedules a callback which busy-waits on the loop thread: "
                       "nothing else runs meanwhile, timers fire late. Deliberately bad."),
        { integerParam(QStringLiteral("blockMs"), 0, 10000, 500, Ms,
                       QStringLiteral("Real (wall-clock) time the callback blocks the "
                                      "loop.")) });
    add(ScenarioTemplate::Failing, "failing",
        QStringLiteral("A task that raises after a delay; optionally it first starts "
                       "fire-and-forget children that fail and that nobody awaits."),
        { integerParam(QStringLiteral("delayMs"), 0, lim::MaxDelayMs, 500, Ms,
                       QStringLiteral("How long the task sleeps before it raises.")),
          stringParam(QStringLiteral("message"), 1, 200, QStringLiteral("something went wrong"),
                      QStringLiteral("The error message.")),
          integerParam(QStringLiteral("orphans"), 0, 1000, 0, Tasks,
                       QStringLiteral("Children that fail at once and are never awaited: "
                                      "reported as \"exception was never retrieved\".")) });
    add(ScenarioTemplate::CancellationStorm, "cancellationStorm",
        QStringLiteral("Sleeping tasks; after the last one started, a fixed-seed random "
                       "fraction of them is cancelled."),
        { integerParam(QStringLiteral("sleepMs"), 0, lim::MaxDelayMs, 1000, Ms,
                       QStringLiteral("How long each task sleeps.")),
          integerParam(QStringLiteral("cancelAfterMs"), 0, lim::MaxDelayMs, 300, Ms,
                       QStringLiteral("When the storm hits, after the last instance "
                                      "started.")),
          numberParam(QStringLiteral("fraction"), 0, 1, 0.5,
                      QStringLiteral("Share of the spawn's tasks cancelled, rounded to the "
                                     "nearest task.")),
          integerParam(QStringLiteral("seed"), 0, 4294967295LL, 1, QString(),
                       QStringLiteral("Seed of the random choice; the same seed cancels the "
                                      "same tasks.")),
          integerParam(QStringLiteral("cleanupMs"), 0, 60000, 0, Ms,
                       QStringLiteral("A cancelled task catches CancelledError, cleans up for "
                                      "this long, then re-raises.")) });
    add(ScenarioTemplate::LockContention, "lockContention",
        QStringLiteral("Tasks that take turns on one Lock shared by the spawn's instances "
                       "(FIFO: first come, first served)."),
        { integerParam(QStringLiteral("holdMs"), 0, 60000, 100, Ms,
                       QStringLiteral("How long a task holds the lock each round.")),
          integerParam(QStringLiteral("rounds"), 1, 1000, 2, QStringLiteral("rounds"),
                       QStringLiteral("How often each task takes the lock.")),
          integerParam(QStringLiteral("thinkMs"), 0, 60000, 0, Ms,
                       QStringLiteral("A task sleeps this long between rounds, without the "
                                      "lock.")) });
    add(ScenarioTemplate::TaskGroup, "taskGroup",
        QStringLiteral("A parent running a TaskGroup: when a child raises, the group cancels "
                       "the others and raises an ExceptionGroup."),
        { integerParam(QStringLiteral("children"), 1, lim::MaxCount, 4, Tasks,
                       QStringLiteral("Children that sleep and succeed.")),
          integerParam(QStringLiteral("childDelayMs"), 0, lim::MaxDelayMs, 1000, Ms,
                       QStringLiteral("How long the succeeding children sleep.")),
          integerParam(QStringLiteral("failures"), 0, lim::MaxCount, 1, Tasks,
                       QStringLiteral("Extra children that raise, at most children.")),
          integerParam(QStringLiteral("failAfterMs"), 0, lim::MaxDelayMs, 300, Ms,
                       QStringLiteral("When the failing children raise.")),
          stringParam(QStringLiteral("message"), 1, 200, QStringLiteral("child failed"),
                      QStringLiteral("The failing children's error message.")) });
    add(ScenarioTemplate::SeedRunUntilComplete, "seedRunUntilComplete",
        QStringLiteral("asyncio seed example 1: createTask(slowOperation()), a done-callback "
                       "that prints the result; the scenario ends with the task."),
        { integerParam(QStringLiteral("delayMs"), 0, lim::MaxDelayMs, 1000, Ms, seedDelay),
          stringParam(QStringLiteral("result"), 1, 200, QStringLiteral("Future is done!"),
                      seedResult) });
    add(ScenarioTemplate::SeedRunForever, "seedRunForever",
        QStringLiteral("asyncio seed example 2: like seedRunUntilComplete, but the loop runs "
                       "forever and the done-callback calls stop(); the scenario ends there."),
        { integerParam(QStringLiteral("delayMs"), 0, lim::MaxDelayMs, 1000, Ms, seedDelay),
          stringParam(QStringLiteral("result"), 1, 200, QStringLiteral("Future is done!"),
                      seedResult) });
    return t;
}

} // namespace

// --- clock spec ----------------------------------------------------------------------------

QString ClockSpec::toString() const
{
    switch (mode) {
    case Mode::Virtual:
        return QStringLiteral("virtual");
    case Mode::Real:
        return QStringLiteral("real");
    case Mode::Scaled:
        return QStringLiteral("scaled:") + QString::number(scale);
    }
    return QString();
}

std::shared_ptr<Clock> makeClock(const ClockSpec &spec)
{
    switch (spec.mode) {
    case ClockSpec::Mode::Virtual:
        return std::make_shared<VirtualClock>();
    case ClockSpec::Mode::Real:
        return std::make_shared<SteadyClock>();
    case ClockSpec::Mode::Scaled:
        break;
    }
    return std::make_shared<ScaledClock>(
            std::isfinite(spec.scale) ? std::clamp(spec.scale, MinClockScale, MaxClockScale) : 1.0);
}

std::optional<ClockSpec> parseClockSpec(QStringView text, QString *error)
{
    auto fail = [&](const QString &message) -> std::optional<ClockSpec> {
        if (error)
            *error = message;
        return std::nullopt;
    };
    if (text == u"virtual")
        return ClockSpec{ ClockSpec::Mode::Virtual, 1.0 };
    if (text == u"real")
        return ClockSpec{ ClockSpec::Mode::Real, 1.0 };
    if (text.startsWith(u"scaled:")) {
        bool ok = false;
        const double scale = text.mid(7).toDouble(&ok);
        if (!ok || !std::isfinite(scale) || scale < MinClockScale || scale > MaxClockScale) {
            return fail(QStringLiteral("expected scaled:F with F a number from %1 to %2, got "
                                       "'%3'")
                                .arg(MinClockScale)
                                .arg(MaxClockScale)
                                .arg(text.toString()));
        }
        return ClockSpec{ ClockSpec::Mode::Scaled, scale };
    }
    return fail(QStringLiteral("expected 'virtual', 'real' or 'scaled:F' (F from %1 to %2), got "
                               "'%3'")
                        .arg(MinClockScale)
                        .arg(MaxClockScale)
                        .arg(text.toString()));
}

// --- templates -----------------------------------------------------------------------------

const char *paramTypeName(ParamType type)
{
    switch (type) {
    case ParamType::Integer:
        return "integer";
    case ParamType::Number:
        return "number";
    case ParamType::Boolean:
        return "boolean";
    case ParamType::String:
        return "string";
    case ParamType::Choice:
        return "choice";
    }
    return "?";
}

const ParamSpec *TemplateSpec::param(QStringView key) const
{
    for (const ParamSpec &p : params) {
        if (p.key == key)
            return &p;
    }
    return nullptr;
}

const std::vector<TemplateSpec> &scenarioTemplates()
{
    static const std::vector<TemplateSpec> templates = buildTemplates();
    return templates;
}

const TemplateSpec &templateSpec(ScenarioTemplate id)
{
    return scenarioTemplates().at(std::size_t(id));
}

const TemplateSpec *findTemplate(QStringView name)
{
    for (const TemplateSpec &t : scenarioTemplates()) {
        if (t.name == name)
            return &t;
    }
    return nullptr;
}

// --- the data model ------------------------------------------------------------------------

QString ScenarioSpawn::instanceName(int index) const
{
    if (count == 1)
        return name;
    return name + QLatin1Char('-') + QString::number(index + 1);
}

qint64 ScenarioSpawn::taskCount() const
{
    qint64 perInstance = 1;
    switch (templateId) {
    case ScenarioTemplate::Fanout:
    case ScenarioTemplate::TaskGroup:
        perInstance += intParam(QStringLiteral("children"));
        if (templateId == ScenarioTemplate::TaskGroup)
            perInstance += intParam(QStringLiteral("failures"));
        break;
    case ScenarioTemplate::Timeout:
        // waitFor() runs the work as a task of its own.
        if (stringParam(QStringLiteral("style")) == QLatin1String("waitFor"))
            perInstance += 1;
        break;
    case ScenarioTemplate::ProducerConsumer:
        perInstance +=
                intParam(QStringLiteral("producers")) + intParam(QStringLiteral("consumers"));
        break;
    case ScenarioTemplate::Failing:
        perInstance += intParam(QStringLiteral("orphans"));
        break;
    default:
        break;
    }
    return perInstance * count;
}

ScenarioSpawn ScenarioSpawn::withDefaults(ScenarioTemplate id, QString name, int count)
{
    ScenarioSpawn spawn;
    spawn.templateId = id;
    spawn.name = std::move(name);
    spawn.count = count;
    for (const ParamSpec &p : templateSpec(id).params)
        spawn.params.insert(p.key, p.defaultValue);
    return spawn;
}

bool Scenario::endsOnStop() const
{
    return std::any_of(spawns.begin(), spawns.end(), [](const ScenarioSpawn &s) {
        return s.templateId == ScenarioTemplate::SeedRunForever;
    });
}

qint64 Scenario::taskCount() const
{
    qint64 total = 0;
    for (const ScenarioSpawn &s : spawns)
        total += s.taskCount();
    return total;
}

QString ScenarioError::toString() const
{
    if (line > 0)
        return QStringLiteral("%1:%2:%3: %4").arg(file).arg(line).arg(column).arg(message);
    return QStringLiteral("%1: %2: %3")
            .arg(file, path.isEmpty() ? QStringLiteral("(document)") : path, message);
}

QString ScenarioParseResult::errorString() const
{
    QStringList lines;
    for (const ScenarioError &e : m_errors)
        lines.append(e.toString());
    return lines.join(QLatin1Char('\n'));
}

QString ScenarioOutcome::summaryLine() const
{
    QString line =
            QStringLiteral("%1 %2: %3 finished, %4 failed, %5 cancelled")
                    .arg(tasks.size())
                    .arg(tasks.size() == 1 ? QStringLiteral("task") : QStringLiteral("tasks"))
                    .arg(finished)
                    .arg(failed)
                    .arg(cancelled);
    if (stopped)
        line += QStringLiteral(", ended by stop()");
    return line;
}

// --- the parser ----------------------------------------------------------------------------

namespace {

//! "spawns[2]" + "params" -> "spawns[2].params"; keys that are not identifiers are quoted.
QString joinPath(const QString &path, const QString &key)
{
    static const QRegularExpression identifier(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]*$"));
    if (!identifier.match(key).hasMatch()) {
        QString quoted = key;
        quoted.replace(QLatin1Char('\\'), QLatin1String("\\\\"));
        quoted.replace(QLatin1Char('"'), QLatin1String("\\\""));
        return path + QStringLiteral("[\"") + quoted + QStringLiteral("\"]");
    }
    return path.isEmpty() ? key : path + QLatin1Char('.') + key;
}

QString indexPath(const QString &path, qsizetype index)
{
    return path + QLatin1Char('[') + QString::number(index) + QLatin1Char(']');
}

QString formatNumber(double value)
{
    if (std::floor(value) == value && std::fabs(value) < 9.0e15)
        return QString::number(qint64(value));
    return QString::number(value, 'g', 17);
}

//! What a value is, for "got …" in messages.
QString describeValue(const QJsonValue &value)
{
    switch (value.type()) {
    case QJsonValue::Null:
        return QStringLiteral("null");
    case QJsonValue::Bool:
        return value.toBool() ? QStringLiteral("true") : QStringLiteral("false");
    case QJsonValue::Double:
        return formatNumber(value.toDouble());
    case QJsonValue::String: {
        QString s = value.toString();
        if (s.size() > 40)
            s = s.left(37) + QStringLiteral("...");
        return QLatin1Char('"') + s + QLatin1Char('"');
    }
    case QJsonValue::Array:
        return QStringLiteral("an array");
    case QJsonValue::Object:
        return QStringLiteral("an object");
    case QJsonValue::Undefined:
        break;
    }
    return QStringLiteral("nothing");
}

/*!
 * QJsonDocument keeps the last of duplicate keys without a word; a scenario file with two
 * "delayMs" is a mistake worth reporting. Scans the (already valid) JSON text and returns the
 * path of the first duplicate key, or an empty string.
 */
QString findDuplicateKey(const QByteArray &json)
{
    struct Frame
    {
        bool object;
        QSet<QByteArray> keys;
        QByteArray lastKey;
        qsizetype commas = 0;
        bool expectKey = true;
    };
    std::vector<Frame> stack;
    auto pathOf = [&stack](const QByteArray &key) {
        QString path;
        for (std::size_t i = 0; i + 1 < stack.size(); ++i) {
            const Frame &f = stack[i];
            path = f.object ? joinPath(path, QString::fromUtf8(f.lastKey))
                            : indexPath(path, f.commas);
        }
        return joinPath(path, QString::fromUtf8(key));
    };
    const qsizetype n = json.size();
    for (qsizetype i = 0; i < n; ++i) {
        const char c = json.at(i);
        if (c == '"') {
            const qsizetype start = i + 1;
            for (++i; i < n && json.at(i) != '"'; ++i) {
                if (json.at(i) == '\\')
                    ++i;
            }
            if (!stack.empty() && stack.back().object && stack.back().expectKey) {
                Frame &f = stack.back();
                const QByteArray key = json.mid(start, i - start);
                if (f.keys.contains(key))
                    return pathOf(key);
                f.keys.insert(key);
                f.lastKey = key;
                f.expectKey = false;
            }
        } else if (c == '{' || c == '[') {
            stack.push_back(Frame{ c == '{', {}, {}, 0, true });
        } else if (c == '}' || c == ']') {
            if (!stack.empty())
                stack.pop_back();
        } else if (c == ',' && !stack.empty()) {
            ++stack.back().commas;
            stack.back().expectKey = true;
        }
    }
    return QString();
}

class ScenarioParser
{
public:
    explicit ScenarioParser(QString fileName) : m_file(std::move(fileName)) { }

    ScenarioParseResult parse(const QByteArray &json)
    {
        if (json.size() > lim::MaxFileBytes) {
            error(QString(),
                  QStringLiteral("the file has %1 bytes; a scenario file may have at most %2")
                          .arg(json.size())
                          .arg(lim::MaxFileBytes));
            return ScenarioParseResult(std::move(m_errors));
        }
        QJsonParseError parseError;
        const QJsonDocument document = QJsonDocument::fromJson(json, &parseError);
        if (parseError.error != QJsonParseError::NoError) {
            syntaxError(json, parseError);
            return ScenarioParseResult(std::move(m_errors));
        }
        const QString duplicate = findDuplicateKey(json);
        if (!duplicate.isEmpty())
            error(duplicate, QStringLiteral("duplicate key (each key may appear only once)"));
        if (!document.isObject()) {
            error(QString(),
                  QStringLiteral("expected a JSON object with name, title, description and "
                                 "spawns, got %1")
                          .arg(document.isArray() ? QStringLiteral("an array")
                                                  : QStringLiteral("a scalar")));
            return ScenarioParseResult(std::move(m_errors));
        }
        Scenario scenario = parseRoot(document.object());
        if (!m_errors.empty())
            return ScenarioParseResult(std::move(m_errors));
        scenario.fileName = m_file;
        return ScenarioParseResult(std::move(scenario));
    }

private:
    //! Collecting more than this many errors helps nobody.
    static constexpr std::size_t MaxErrors = 20;

    void error(const QString &path, const QString &message)
    {
        if (m_errors.size() < MaxErrors)
            m_errors.push_back(ScenarioError{ m_file, path, message, 0, 0 });
    }

    void syntaxError(const QByteArray &json, const QJsonParseError &parseError)
    {
        int line = 1;
        int column = 1;
        const qsizetype end = std::min<qsizetype>(parseError.offset, json.size());
        for (qsizetype i = 0; i < end; ++i) {
            if (json.at(i) == '\n') {
                ++line;
                column = 1;
            } else if ((json.at(i) & 0xC0) != 0x80) { // count characters, not UTF-8 bytes
                ++column;
            }
        }
        m_errors.push_back(ScenarioError{
                m_file, QString(),
                QStringLiteral("invalid JSON: %1 (no NaN, Infinity, comments or trailing "
                               "commas in JSON)")
                        .arg(parseError.errorString()),
                line, column });
    }

    //! Reports every key of \a object not in \a allowed.
    void checkKeys(const QString &path, const QJsonObject &object, const QStringList &allowed)
    {
        for (auto it = object.begin(); it != object.end(); ++it) {
            if (!allowed.contains(it.key())) {
                error(joinPath(path, it.key()),
                      QStringLiteral("unknown key (expected one of: %1)")
                              .arg(allowed.join(QStringLiteral(", "))));
            }
        }
    }

    bool require(const QString &path, const QJsonObject &object, const QString &key,
                 const QString &what)
    {
        if (object.contains(key))
            return true;
        error(joinPath(path, key), QStringLiteral("missing; expected %1").arg(what));
        return false;
    }

    std::optional<qint64> readInteger(const QString &path, const QJsonValue &value, qint64 minimum,
                                      qint64 maximum, const QString &unit)
    {
        const QString range = QStringLiteral("an integer from %1 to %2%3")
                                      .arg(minimum)
                                      .arg(maximum)
                                      .arg(unit.isEmpty() ? QString() : QLatin1Char(' ') + unit);
        if (!value.isDouble()) {
            error(path, QStringLiteral("expected %1, got %2").arg(range, describeValue(value)));
            return std::nullopt;
        }
        const double d = value.toDouble();
        // Range first: a double far outside qint64 must never reach the conversion.
        if (!std::isfinite(d) || std::floor(d) != d || d < double(minimum) || d > double(maximum)) {
            error(path, QStringLiteral("expected %1, got %2").arg(range, describeValue(value)));
            return std::nullopt;
        }
        return qint64(d);
    }

    std::optional<double> readNumber(const QString &path, const QJsonValue &value, double minimum,
                                     double maximum)
    {
        const QString range = QStringLiteral("a number from %1 to %2").arg(minimum).arg(maximum);
        if (!value.isDouble() || !std::isfinite(value.toDouble()) || value.toDouble() < minimum
            || value.toDouble() > maximum) {
            error(path, QStringLiteral("expected %1, got %2").arg(range, describeValue(value)));
            return std::nullopt;
        }
        return value.toDouble();
    }

    std::optional<QString> readString(const QString &path, const QJsonValue &value,
                                      qsizetype minLength, qsizetype maxLength)
    {
        const QString what =
                QStringLiteral("a string of %1 to %2 characters").arg(minLength).arg(maxLength);
        if (!value.isString()) {
            error(path, QStringLiteral("expected %1, got %2").arg(what, describeValue(value)));
            return std::nullopt;
        }
        const QString s = value.toString();
        if (s.size() < minLength || s.size() > maxLength) {
            error(path, QStringLiteral("expected %1, got %2 characters").arg(what).arg(s.size()));
            return std::nullopt;
        }
        for (const QChar ch : s) {
            if (ch.category() == QChar::Other_Control) {
                error(path, QStringLiteral("control characters are not allowed"));
                return std::nullopt;
            }
        }
        return s;
    }

    std::optional<QString> readMatching(const QString &path, const QJsonValue &value,
                                        const QRegularExpression &pattern, const QString &what)
    {
        if (!value.isString() || !pattern.match(value.toString()).hasMatch()) {
            error(path, QStringLiteral("expected %1, got %2").arg(what, describeValue(value)));
            return std::nullopt;
        }
        return value.toString();
    }

    Scenario parseRoot(const QJsonObject &root)
    {
        Scenario scenario;
        static const QStringList keys = { QStringLiteral("format"), QStringLiteral("name"),
                                          QStringLiteral("title"),  QStringLiteral("description"),
                                          QStringLiteral("clock"),  QStringLiteral("order"),
                                          QStringLiteral("spawns") };
        checkKeys(QString(), root, keys);

        if (root.contains(QStringLiteral("format")))
            readInteger(QStringLiteral("format"), root.value(QStringLiteral("format")), 1, 1,
                        QStringLiteral("(the only format so far)"));

        static const QRegularExpression nameRe(QStringLiteral("^[a-z][a-z0-9_]{0,63}$"));
        const QString nameWhat = QStringLiteral("a name of lowercase letters, digits and '_', "
                                                "starting with a letter, at most 64 characters");
        if (require(QString(), root, QStringLiteral("name"), nameWhat)) {
            if (auto v = readMatching(QStringLiteral("name"), root.value(QStringLiteral("name")),
                                      nameRe, nameWhat))
                scenario.name = *v;
        }
        if (require(QString(), root, QStringLiteral("title"), QStringLiteral("a one-line title"))) {
            if (auto v = readString(QStringLiteral("title"), root.value(QStringLiteral("title")), 1,
                                    100))
                scenario.title = *v;
        }
        if (require(QString(), root, QStringLiteral("description"),
                    QStringLiteral("a paragraph describing the scenario"))) {
            if (auto v = readString(QStringLiteral("description"),
                                    root.value(QStringLiteral("description")), 1, 2000))
                scenario.description = *v;
        }
        if (root.contains(QStringLiteral("clock"))) {
            const QJsonValue v = root.value(QStringLiteral("clock"));
            QString message;
            std::optional<ClockSpec> clock =
                    v.isString() ? parseClockSpec(v.toString(), &message) : std::nullopt;
            if (!v.isString())
                message = QStringLiteral("expected 'virtual', 'real' or 'scaled:F', got %1")
                                  .arg(describeValue(v));
            if (clock)
                scenario.clock = clock;
            else
                error(QStringLiteral("clock"), message);
        }
        if (root.contains(QStringLiteral("order"))) {
            if (auto v = readInteger(QStringLiteral("order"), root.value(QStringLiteral("order")),
                                     0, 1000, QString()))
                scenario.order = int(*v);
        }
        if (require(QString(), root, QStringLiteral("spawns"),
                    QStringLiteral("an array of 1 to %1 spawns").arg(lim::MaxSpawns))) {
            const QJsonValue v = root.value(QStringLiteral("spawns"));
            const QJsonArray array = v.toArray();
            if (!v.isArray() || array.isEmpty() || array.size() > lim::MaxSpawns) {
                error(QStringLiteral("spawns"),
                      QStringLiteral("expected an array of 1 to %1 spawns, got %2")
                              .arg(lim::MaxSpawns)
                              .arg(v.isArray() ? QStringLiteral("%1 entries").arg(array.size())
                                               : describeValue(v)));
            } else {
                for (qsizetype i = 0; i < array.size(); ++i) {
                    if (auto spawn =
                                parseSpawn(indexPath(QStringLiteral("spawns"), i), array.at(i)))
                        scenario.spawns.push_back(std::move(*spawn));
                }
            }
        }
        if (m_errors.empty() && scenario.taskCount() > lim::MaxTasks) {
            error(QStringLiteral("spawns"),
                  QStringLiteral("the scenario would create %1 tasks; at most %2 are allowed")
                          .arg(scenario.taskCount())
                          .arg(lim::MaxTasks));
        }
        return scenario;
    }

    std::optional<ScenarioSpawn> parseSpawn(const QString &path, const QJsonValue &value)
    {
        if (!value.isObject()) {
            error(path,
                  QStringLiteral("expected a spawn object with template and name, got %1")
                          .arg(describeValue(value)));
            return std::nullopt;
        }
        const QJsonObject object = value.toObject();
        static const QStringList keys = {
            QStringLiteral("template"),     QStringLiteral("name"),       QStringLiteral("count"),
            QStringLiteral("startDelayMs"), QStringLiteral("intervalMs"), QStringLiteral("params")
        };
        const std::size_t errorsBefore = m_errors.size();
        checkKeys(path, object, keys);

        ScenarioSpawn spawn;
        const TemplateSpec *templ = nullptr;
        QStringList templateNames;
        for (const TemplateSpec &t : scenarioTemplates())
            templateNames.append(t.name);
        const QString templateWhat =
                QStringLiteral("one of: %1").arg(templateNames.join(QStringLiteral(", ")));
        if (require(path, object, QStringLiteral("template"), templateWhat)) {
            const QJsonValue t = object.value(QStringLiteral("template"));
            templ = t.isString() ? findTemplate(t.toString()) : nullptr;
            if (templ)
                spawn.templateId = templ->id;
            else
                error(joinPath(path, QStringLiteral("template")),
                      QStringLiteral("expected %1; got %2").arg(templateWhat, describeValue(t)));
        }
        static const QRegularExpression prefixRe(QStringLiteral("^[A-Za-z0-9_.:-]{1,64}$"));
        const QString prefixWhat = QStringLiteral("a task name prefix of 1 to 64 letters, "
                                                  "digits, '_', '.', ':' or '-'");
        if (require(path, object, QStringLiteral("name"), prefixWhat)) {
            if (auto v = readMatching(joinPath(path, QStringLiteral("name")),
                                      object.value(QStringLiteral("name")), prefixRe, prefixWhat))
                spawn.name = *v;
        }
        if (object.contains(QStringLiteral("count"))) {
            if (auto v =
                        readInteger(joinPath(path, QStringLiteral("count")),
                                    object.value(QStringLiteral("count")), 1, lim::MaxCount, Tasks))
                spawn.count = int(*v);
        }
        if (object.contains(QStringLiteral("startDelayMs"))) {
            if (auto v = readInteger(joinPath(path, QStringLiteral("startDelayMs")),
                                     object.value(QStringLiteral("startDelayMs")), 0,
                                     lim::MaxDelayMs, Ms))
                spawn.startDelayMs = *v;
        }
        if (object.contains(QStringLiteral("intervalMs"))) {
            if (auto v = readInteger(joinPath(path, QStringLiteral("intervalMs")),
                                     object.value(QStringLiteral("intervalMs")), 0,
                                     lim::MaxIntervalMs, Ms))
                spawn.intervalMs = *v;
        }
        if (spawn.startDelayMs + (spawn.count - 1) * spawn.intervalMs > lim::MaxDelayMs) {
            error(joinPath(path, QStringLiteral("intervalMs")),
                  QStringLiteral("the last instance would start %1 ms after the run began; at "
                                 "most %2 ms (startDelayMs + (count - 1) × intervalMs)")
                          .arg(spawn.startDelayMs + (spawn.count - 1) * spawn.intervalMs)
                          .arg(lim::MaxDelayMs));
        }
        if (templ) {
            const QString paramsPath = joinPath(path, QStringLiteral("params"));
            const QJsonValue params = object.value(QStringLiteral("params"));
            if (object.contains(QStringLiteral("params")) && !params.isObject()) {
                error(paramsPath,
                      QStringLiteral("expected an object of %1 parameters, got %2")
                              .arg(templ->name, describeValue(params)));
            } else {
                parseParams(paramsPath, *templ, params.toObject(), spawn);
            }
        }
        if (m_errors.size() != errorsBefore)
            return std::nullopt;
        return spawn;
    }

    void parseParams(const QString &path, const TemplateSpec &templ, const QJsonObject &object,
                     ScenarioSpawn &spawn)
    {
        QStringList keys;
        for (const ParamSpec &p : templ.params)
            keys.append(p.key);
        for (auto it = object.begin(); it != object.end(); ++it) {
            if (!keys.contains(it.key())) {
                error(joinPath(path, it.key()),
                      QStringLiteral("unknown parameter of template %1 (expected one of: %2)")
                              .arg(templ.name, keys.join(QStringLiteral(", "))));
            }
        }
        for (const ParamSpec &p : templ.params) {
            if (!object.contains(p.key)) {
                spawn.params.insert(p.key, p.defaultValue);
                continue;
            }
            const QString paramPath = joinPath(path, p.key);
            const QJsonValue v = object.value(p.key);
            switch (p.type) {
            case ParamType::Integer:
                if (auto i =
                            readInteger(paramPath, v, qint64(p.minimum), qint64(p.maximum), p.unit))
                    spawn.params.insert(p.key, QVariant::fromValue<qint64>(*i));
                break;
            case ParamType::Number:
                if (auto d = readNumber(paramPath, v, p.minimum, p.maximum))
                    spawn.params.insert(p.key, *d);
                break;
            case ParamType::Boolean:
                if (v.isBool())
                    spawn.params.insert(p.key, v.toBool());
                else
                    error(paramPath,
                          QStringLiteral("expected true or false, got %1").arg(describeValue(v)));
                break;
            case ParamType::String:
                if (auto s = readString(paramPath, v, qsizetype(p.minimum), qsizetype(p.maximum)))
                    spawn.params.insert(p.key, *s);
                break;
            case ParamType::Choice:
                if (v.isString() && p.choices.contains(v.toString()))
                    spawn.params.insert(p.key, v.toString());
                else
                    error(paramPath,
                          QStringLiteral("expected one of: %1; got %2")
                                  .arg(p.choices.join(QStringLiteral(", ")), describeValue(v)));
                break;
            }
        }
        checkCrossFields(path, spawn);
    }

    //! Limits that involve more than one field.
    void checkCrossFields(const QString &path, const ScenarioSpawn &spawn)
    {
        auto has = [&spawn](const char *key) {
            return spawn.params.contains(QString::fromLatin1(key));
        };
        switch (spawn.templateId) {
        case ScenarioTemplate::TaskGroup:
            if (has("failures") && has("children")
                && spawn.intParam(QStringLiteral("failures"))
                        > spawn.intParam(QStringLiteral("children"))) {
                error(joinPath(path, QStringLiteral("failures")),
                      QStringLiteral("expected at most children (%1), got %2")
                              .arg(spawn.intParam(QStringLiteral("children")))
                              .arg(spawn.intParam(QStringLiteral("failures"))));
            }
            break;
        case ScenarioTemplate::ProducerConsumer:
            if (has("producers") && has("items")
                && spawn.intParam(QStringLiteral("producers"))
                                * spawn.intParam(QStringLiteral("items"))
                        > lim::MaxWorkItems) {
                error(joinPath(path, QStringLiteral("items")),
                      QStringLiteral("producers × items is %1; at most %2 items per pipeline")
                              .arg(spawn.intParam(QStringLiteral("producers"))
                                   * spawn.intParam(QStringLiteral("items")))
                              .arg(lim::MaxWorkItems));
            }
            break;
        case ScenarioTemplate::LockContention:
            if (has("rounds")
                && qint64(spawn.count) * spawn.intParam(QStringLiteral("rounds"))
                        > lim::MaxWorkItems) {
                error(joinPath(path, QStringLiteral("rounds")),
                      QStringLiteral("count × rounds is %1; at most %2 lock rounds per spawn")
                              .arg(qint64(spawn.count) * spawn.intParam(QStringLiteral("rounds")))
                              .arg(lim::MaxWorkItems));
            }
            break;
        default:
            break;
        }
    }

    QString m_file;
    std::vector<ScenarioError> m_errors;
};

} // namespace

ScenarioParseResult parseScenario(const QByteArray &json, const QString &fileName)
{
    return ScenarioParser(fileName).parse(json);
}

ScenarioParseResult loadScenario(const QString &path)
{
    QFile file(path);
    const QFileInfo info(path);
    auto fail = [&path](const QString &message) {
        return ScenarioParseResult(
                std::vector<ScenarioError>{ ScenarioError{ path, QString(), message, 0, 0 } });
    };
    if (!info.exists())
        return fail(QStringLiteral("cannot read the scenario: no such file"));
    if (info.isDir())
        return fail(QStringLiteral("cannot read the scenario: this is a directory"));
    if (info.size() > lim::MaxFileBytes) {
        return fail(QStringLiteral("the file has %1 bytes; a scenario file may have at most %2")
                            .arg(info.size())
                            .arg(lim::MaxFileBytes));
    }
    if (!file.open(QIODevice::ReadOnly))
        return fail(QStringLiteral("cannot read the scenario: %1").arg(file.errorString()));
    // One byte more than allowed tells a file that grew since the size check.
    const QByteArray json = file.read(lim::MaxFileBytes + 1);
    if (file.error() != QFileDevice::NoError)
        return fail(QStringLiteral("cannot read the scenario: %1").arg(file.errorString()));
    return parseScenario(json, path);
}

QByteArray scenarioToJson(const Scenario &scenario)
{
    QJsonObject root;
    root.insert(QStringLiteral("format"), 1);
    root.insert(QStringLiteral("name"), scenario.name);
    root.insert(QStringLiteral("title"), scenario.title);
    root.insert(QStringLiteral("description"), scenario.description);
    if (scenario.clock)
        root.insert(QStringLiteral("clock"), scenario.clock->toString());
    root.insert(QStringLiteral("order"), scenario.order);
    QJsonArray spawns;
    for (const ScenarioSpawn &s : scenario.spawns) {
        QJsonObject spawn;
        spawn.insert(QStringLiteral("template"), templateSpec(s.templateId).name);
        spawn.insert(QStringLiteral("name"), s.name);
        spawn.insert(QStringLiteral("count"), s.count);
        spawn.insert(QStringLiteral("startDelayMs"), s.startDelayMs);
        spawn.insert(QStringLiteral("intervalMs"), s.intervalMs);
        QJsonObject params;
        for (const ParamSpec &p : templateSpec(s.templateId).params) {
            const QVariant v = s.params.value(p.key, p.defaultValue);
            switch (p.type) {
            case ParamType::Integer:
                params.insert(p.key, v.toLongLong());
                break;
            case ParamType::Number:
                params.insert(p.key, v.toDouble());
                break;
            case ParamType::Boolean:
                params.insert(p.key, v.toBool());
                break;
            case ParamType::String:
            case ParamType::Choice:
                params.insert(p.key, v.toString());
                break;
            }
        }
        // Keys a template does not know would be rejected on the way back in, as they must.
        for (auto it = s.params.begin(); it != s.params.end(); ++it) {
            if (!templateSpec(s.templateId).param(it.key()))
                params.insert(it.key(), QJsonValue::fromVariant(it.value()));
        }
        spawn.insert(QStringLiteral("params"), params);
        spawns.append(spawn);
    }
    root.insert(QStringLiteral("spawns"), spawns);
    return QJsonDocument(root).toJson(QJsonDocument::Indented);
}

std::vector<ScenarioError> validateScenario(const Scenario &scenario)
{
    const QString name =
            scenario.fileName.isEmpty() ? QStringLiteral("(scenario)") : scenario.fileName;
    ScenarioParseResult result = parseScenario(scenarioToJson(scenario), name);
    return result.errors();
}

// --- the catalog ---------------------------------------------------------------------------

const Scenario *ScenarioCatalog::find(QStringView name) const
{
    for (const Scenario &s : scenarios) {
        if (s.name == name)
            return &s;
    }
    return nullptr;
}

QString builtInScenarioDirectory()
{
    return QStringLiteral(":/loopscope/scenarios");
}

ScenarioCatalog scenarioCatalog(const QString &directory)
{
    ScenarioCatalog catalog;
    const QDir dir(directory);
    if (!dir.exists()) {
        catalog.errors.push_back(ScenarioError{ directory, QString(),
                                                QStringLiteral("no such scenario folder"), 0, 0 });
        return catalog;
    }
    const QStringList files =
            dir.entryList({ QStringLiteral("*.json") }, QDir::Files | QDir::Readable, QDir::Name);
    for (const QString &file : files) {
        ScenarioParseResult result = loadScenario(dir.filePath(file));
        if (!result) {
            catalog.errors.insert(catalog.errors.end(), result.errors().begin(),
                                  result.errors().end());
            continue;
        }
        Scenario scenario = result.takeScenario();
        if (const Scenario *other = catalog.find(scenario.name)) {
            catalog.errors.push_back(ScenarioError{
                    scenario.fileName, QStringLiteral("name"),
                    QStringLiteral("the name '%1' is already taken by %2; the file was skipped")
                            .arg(scenario.name, other->fileName),
                    0, 0 });
            continue;
        }
        catalog.scenarios.push_back(std::move(scenario));
    }
    std::stable_sort(catalog.scenarios.begin(), catalog.scenarios.end(),
                     [](const Scenario &a, const Scenario &b) {
                         if (a.order != b.order)
                             return a.order < b.order;
                         return a.name < b.name;
                     });
    return catalog;
}

} // namespace loopscope
