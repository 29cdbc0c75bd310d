#include "loopscope/tracefile.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QJsonValue>
#include <QLocale>
#include <QStringList>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iterator>
#include <limits>

namespace loopscope {

namespace {

constexpr qint64 kMaxFileBytes = qint64(512) << 20;
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();

const char *const kFields[] = { "sequence",   "time",   "duration", "id",   "related",
                                "aux",        "text",   "location", "kind", "handleKind",
                                "futureKind", "status", "flags" };
constexpr int kFieldCount = int(std::size(kFields));

const QString kNotLoopscope =
        QStringLiteral("this trace has no Loopscope event stream; only traces exported by "
                       "Loopscope can be replayed");

QString typeName(const QJsonValue &v)
{
    switch (v.type()) {
    case QJsonValue::Null:
        return QStringLiteral("null");
    case QJsonValue::Bool:
        return QStringLiteral("a boolean");
    case QJsonValue::Double:
        return QStringLiteral("a number");
    case QJsonValue::String:
        return QStringLiteral("a string");
    case QJsonValue::Array:
        return QStringLiteral("an array");
    case QJsonValue::Object:
        return QStringLiteral("an object");
    case QJsonValue::Undefined:
        break;
    }
    return QStringLiteral("nothing");
}

//! Thrown inside the parser only; parseTraceFile() turns it into the result.
struct Failure
{
    QString path;
    QString message;
};

[[noreturn]] void fail(QString path, QString message)
{
    throw Failure{ std::move(path), std::move(message) };
}

//! The integer \a v in [minimum, maximum], or a Failure naming \a path.
std::int64_t integer(const QJsonValue &v, const QString &path, std::int64_t minimum,
                     std::int64_t maximum)
{
    if (!v.isDouble())
        fail(path, QStringLiteral("expected an integer, got %1").arg(typeName(v)));
    // toInteger() falls back to its argument for a fraction or a number beyond 64 bits.
    const qint64 a = v.toInteger(0);
    const qint64 b = v.toInteger(1);
    if (a != b) {
        const double d = v.toDouble();
        if (d == std::floor(d))
            fail(path,
                 QStringLiteral("%1 is out of range (%2 … %3)")
                         .arg(d, 0, 'g', 17)
                         .arg(minimum)
                         .arg(maximum));
        fail(path, QStringLiteral("expected an integer, got %1").arg(d, 0, 'g', 17));
    }
    if (a < minimum || a > maximum)
        fail(path, QStringLiteral("%1 is out of range (%2 … %3)").arg(a).arg(minimum).arg(maximum));
    return a;
}

QJsonValue member(const QJsonObject &o, const QString &parent, const char *key)
{
    const QJsonValue v = o.value(QLatin1String(key));
    if (v.isUndefined())
        fail(parent, QStringLiteral("\"%1\" is missing").arg(QLatin1String(key)));
    return v;
}

std::int64_t integerMember(const QJsonObject &o, const QString &parent, const char *key,
                           std::int64_t minimum, std::int64_t maximum)
{
    return integer(member(o, parent, key), parent + QLatin1Char('.') + QLatin1String(key), minimum,
                   maximum);
}

//! 1-based line and column of byte \a offset of \a json.
std::pair<int, int> lineColumn(const QByteArray &json, qsizetype offset)
{
    offset = std::clamp<qsizetype>(offset, 0, json.size());
    int line = 1;
    qsizetype lineStart = 0;
    for (qsizetype i = 0; i < offset; ++i) {
        if (json[i] == '\n') {
            ++line;
            lineStart = i + 1;
        }
    }
    return { line, int(offset - lineStart) + 1 };
}

//! How a document stands at its last byte: inside a string, how many containers open.
struct OpenState
{
    bool inString = false;
    int depth = 0;
    char innermost = 0;

    explicit OpenState(const QByteArray &json)
    {
        bool escaped = false;
        for (const char c : json) {
            if (inString) {
                if (escaped)
                    escaped = false;
                else if (c == '\\')
                    escaped = true;
                else if (c == '"')
                    inString = false;
                continue;
            }
            if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                ++depth;
                innermost = c;
            } else if (c == '}' || c == ']') {
                --depth;
            }
        }
    }
    bool open() const { return inString || depth > 0; }
    QString toString() const
    {
        const QString where = inString ? QStringLiteral("inside a string, ") : QString();
        if (depth > 0)
            return where
                    + QStringLiteral("with %1 JSON object(s) and array(s) still open (the "
                                     "innermost an %2)")
                              .arg(depth)
                              .arg(innermost == '{' ? QStringLiteral("object")
                                                    : QStringLiteral("array"));
        return where + QStringLiteral("before the end of the document");
    }
};

class TraceFileParser
{
public:
    explicit TraceFileParser(const QByteArray &json) : m_json(json) { }

    TraceFile parse()
    {
        if (m_json.trimmed().isEmpty())
            fail(QString(), QStringLiteral("the file is empty"));
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(m_json, &pe);
        if (pe.error != QJsonParseError::NoError)
            syntaxError(pe);
        if (!doc.isObject())
            fail(QString(),
                 QStringLiteral("expected a Chrome trace (a JSON object with "
                                "traceEvents), got %1; %2")
                         .arg(doc.isArray() ? QStringLiteral("an array")
                                            : QStringLiteral("a scalar"),
                              kNotLoopscope));
        const QJsonObject root = doc.object();
        const QJsonValue stream = root.value(QLatin1String("loopscope"));
        if (stream.isUndefined())
            fail(QString(),
                 root.contains(QLatin1String("traceEvents"))
                         ? kNotLoopscope
                         : QStringLiteral("not a Chrome trace (no traceEvents); ") + kNotLoopscope);
        if (!stream.isObject())
            fail(QStringLiteral("loopscope"),
                 QStringLiteral("expected an object, got %1").arg(typeName(stream)));
        return parseStream(stream.toObject());
    }

private:
    [[noreturn]] void syntaxError(const QJsonParseError &pe)
    {
        // A file cut short fails where the bytes end (trailing whitespace aside), or a few
        // bytes before when the cut split a token ("tr", "\\u00").
        qsizetype end = m_json.size();
        while (end > 0 && std::isspace(static_cast<unsigned char>(m_json[end - 1])))
            --end;
        const QByteArray content = m_json.left(end);
        const OpenState state(content);
        if (pe.offset >= end || (pe.offset >= end - 8 && state.open())) {
            const auto [line, column] = lineColumn(m_json, end);
            fail(QString(),
                 QStringLiteral("the file ends after %1 bytes (line %2, column %3), %4: it is "
                                "truncated or was not written completely")
                         .arg(QLocale::c().toString(qlonglong(m_json.size())))
                         .arg(line)
                         .arg(column)
                         .arg(state.toString()));
        }
        const auto [line, column] = lineColumn(m_json, pe.offset);
        throw Failure{
            QStringLiteral("%1:%2").arg(line).arg(column),
            QStringLiteral("invalid JSON (byte %1): %2").arg(pe.offset).arg(pe.errorString())
        };
    }

    TraceFile parseStream(const QJsonObject &s)
    {
        const QString at = QStringLiteral("loopscope");
        TraceFile trace;
        const std::int64_t format = integerMember(s, at, "format", 0, kInt64Max);
        if (format != TraceFile::kFormat)
            fail(at + QStringLiteral(".format"),
                 format > TraceFile::kFormat
                         ? QStringLiteral("the trace was written by a newer Loopscope (format "
                                          "%1); this version reads format %2")
                                   .arg(format)
                                   .arg(TraceFile::kFormat)
                         : QStringLiteral("unknown format %1; this version reads format %2")
                                   .arg(format)
                                   .arg(TraceFile::kFormat));
        trace.producedEvents = std::uint64_t(integerMember(s, at, "producedEvents", 0, kInt64Max));
        trace.droppedEvents = std::uint64_t(integerMember(s, at, "droppedEvents", 0, kInt64Max));
        trace.capacity = std::uint64_t(integerMember(s, at, "capacity", 0, kInt64Max));
        parseOptions(member(s, at, "options"), trace.options);
        checkFields(member(s, at, "fields"));
        parseStrings(member(s, at, "strings"), trace.strings);
        parseEvents(member(s, at, "events"), trace);
        return trace;
    }

    static void parseOptions(const QJsonValue &v, RecorderOptions &o)
    {
        const QString at = QStringLiteral("loopscope.options");
        if (!v.isObject())
            fail(at, QStringLiteral("expected an object, got %1").arg(typeName(v)));
        const QJsonObject obj = v.toObject();
        o.slowCallbackThreshold = Duration(integerMember(obj, at, "slowCallbackNs", 0, kInt64Max));
        o.blockedLoopThreshold = Duration(integerMember(obj, at, "blockedLoopNs", 0, kInt64Max));
        o.timerDriftThreshold = Duration(integerMember(obj, at, "timerDriftNs", 0, kInt64Max));
        o.busyPollingMinYields =
                std::uint64_t(integerMember(obj, at, "busyPollingMinYields", 0, kInt64Max));
        o.maxLintsPerKind = std::size_t(integerMember(obj, at, "maxLintsPerKind", 0, kInt64Max));
        o.retainedFinishedTasks =
                std::size_t(integerMember(obj, at, "retainedFinishedTasks", 0, kInt64Max));
        o.maxLiveTasks = std::size_t(integerMember(obj, at, "maxLiveTasks", 0, kInt64Max));
        o.maxUnawaitedFutures =
                std::size_t(integerMember(obj, at, "maxUnawaitedFutures", 0, kInt64Max));
    }

    static void checkFields(const QJsonValue &v)
    {
        QStringList expected;
        for (const char *f : kFields)
            expected.append(QLatin1String(f));
        const QStringList got = v.toVariant().toStringList();
        if (!v.isArray() || got != expected || v.toArray().size() != kFieldCount)
            fail(QStringLiteral("loopscope.fields"),
                 QStringLiteral("expected [%1]").arg(expected.join(QStringLiteral(", "))));
    }

    static void parseStrings(const QJsonValue &v, std::vector<QString> &out)
    {
        const QString at = QStringLiteral("loopscope.strings");
        if (!v.isArray())
            fail(at, QStringLiteral("expected an array of strings, got %1").arg(typeName(v)));
        const QJsonArray a = v.toArray();
        out.reserve(std::size_t(a.size()) + 1);
        out.emplace_back();
        for (qsizetype i = 0; i < a.size(); ++i) {
            const QJsonValue s = a.at(i);
            if (!s.isString())
                fail(QStringLiteral("%1[%2]").arg(at).arg(i),
                     QStringLiteral("expected a string, got %1").arg(typeName(s)));
            out.push_back(s.toString());
        }
    }

    static void parseEvents(const QJsonValue &v, TraceFile &trace)
    {
        const QString at = QStringLiteral("loopscope.events");
        if (!v.isArray())
            fail(at, QStringLiteral("expected an array of events, got %1").arg(typeName(v)));
        const QJsonArray a = v.toArray();
        const auto maxString = std::int64_t(trace.strings.size()) - 1;
        trace.events.reserve(std::size_t(a.size()));
        for (qsizetype i = 0; i < a.size(); ++i) {
            const QJsonValue ev = a.at(i);
            // Paths are formatted only for an error: 13 fields of 100,000 events add up.
            auto here = [&at, i] { return QStringLiteral("%1[%2]").arg(at).arg(i); };
            if (!ev.isArray())
                fail(here(),
                     QStringLiteral("expected an array of %1 integers, got %2")
                             .arg(kFieldCount)
                             .arg(typeName(ev)));
            const QJsonArray f = ev.toArray();
            if (f.size() != kFieldCount)
                fail(here(),
                     QStringLiteral("expected %1 fields, got %2").arg(kFieldCount).arg(f.size()));
            auto field = [&](int n, std::int64_t minimum, std::int64_t maximum) {
                const QJsonValue item = f.at(n);
                if (item.isDouble()) {
                    const qint64 value = item.toInteger(0);
                    if (value >= minimum && value <= maximum && value == item.toInteger(1))
                        return std::int64_t(value);
                }
                // Not an integer in range: the slow path says which way.
                return integer(item,
                               QStringLiteral("%1[%2] (%3)")
                                       .arg(here())
                                       .arg(n)
                                       .arg(QLatin1String(kFields[n])),
                               minimum, maximum);
            };
            RecordedEvent e;
            e.sequence = std::uint64_t(field(0, 0, kInt64Max));
            e.time = field(1, kInt64Min, kInt64Max);
            e.duration = field(2, kInt64Min, kInt64Max);
            e.id = std::uint64_t(field(3, 0, kInt64Max));
            e.related = std::uint64_t(field(4, 0, kInt64Max));
            e.aux = std::uint64_t(field(5, 0, kInt64Max));
            e.text = std::uint32_t(field(6, 0, maxString));
            e.location = std::uint32_t(field(7, 0, maxString));
            e.kind = TraceEventKind(field(8, 0, int(TraceEventKind::LoopClosed)));
            e.handleKind = HandleKind(field(9, 0, int(HandleKind::Internal)));
            e.futureKind = FutureKind(field(10, 0, int(FutureKind::Foreign)));
            e.status = DoneStatus(field(11, 0, int(DoneStatus::Abandoned)));
            const std::int64_t flags = field(12, 0, 3);
            e.failed = flags & 1;
            e.yielded = flags & 2;
            if (e.kind == TraceEventKind::LoopPaused
                && e.aux > std::uint64_t(PauseReason::SlowCallback))
                fail(here() + QStringLiteral("[5] (aux)"),
                     QStringLiteral("%1 is not a pause reason (0 … %2)")
                             .arg(e.aux)
                             .arg(int(PauseReason::SlowCallback)));
            if (!trace.events.empty()) {
                const RecordedEvent &previous = trace.events.back();
                if (e.sequence <= previous.sequence)
                    fail(here() + QStringLiteral("[0] (sequence)"),
                         QStringLiteral("sequence %1 does not follow %2: events must be in "
                                        "the order they were recorded")
                                 .arg(e.sequence)
                                 .arg(previous.sequence));
                if (e.time < previous.time)
                    fail(here() + QStringLiteral("[1] (time)"),
                         QStringLiteral("time %1 ns is before the previous event's %2 ns: "
                                        "loop time never runs backwards")
                                 .arg(e.time)
                                 .arg(previous.time));
            }
            trace.events.push_back(e);
        }
    }

    const QByteArray &m_json;
};

} // namespace

qint64 maxTraceFileBytes()
{
    return kMaxFileBytes;
}

TraceFileResult parseTraceFile(const QByteArray &json, const QString &fileName)
{
    try {
        return TraceFileResult(TraceFileParser(json).parse());
    } catch (const Failure &f) {
        // A path with a line:column joins the file name like a compiler's; a JSON path
        // follows it after ": ".
        QString where = fileName;
        if (!f.path.isEmpty())
            where += (f.path.front().isDigit() ? QStringLiteral(":") : QStringLiteral(": "))
                    + f.path;
        return TraceFileResult(where + QStringLiteral(": ") + f.message);
    }
}

TraceFileResult loadTraceFile(const QString &path)
{
    const QFileInfo info(path);
    auto error = [&path](const QString &message) {
        return TraceFileResult(path + QStringLiteral(": ") + message);
    };
    if (!info.exists())
        return error(QStringLiteral("cannot read the trace: no such file"));
    if (info.isDir())
        return error(QStringLiteral("cannot read the trace: this is a directory"));
    if (info.size() > kMaxFileBytes)
        return error(QStringLiteral("the file has %1 bytes; a trace file may have at most %2")
                             .arg(info.size())
                             .arg(kMaxFileBytes));
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return error(QStringLiteral("cannot read the trace: %1").arg(file.errorString()));
    const QByteArray json = file.read(kMaxFileBytes + 1);
    if (file.error() != QFileDevice::NoError)
        return error(QStringLiteral("cannot read the trace: %1").arg(file.errorString()));
    if (json.size() > kMaxFileBytes)
        return error(QStringLiteral("the file grew beyond %1 bytes while it was read")
                             .arg(kMaxFileBytes));
    return parseTraceFile(json, path);
}

} // namespace loopscope
