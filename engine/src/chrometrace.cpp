#include "chrometrace_p.h"

#include <algorithm>
#include <unordered_map>

namespace loopscope::detail {

namespace {

constexpr int kPid = 1;
constexpr int kLoopTid = 1;

void appendEscaped(QByteArray &out, const QByteArray &utf8)
{
    out += '"';
    for (const char c : utf8) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            static const char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else {
            out += c;
        }
    }
    out += '"';
}

//! Nanoseconds as microseconds with three decimals, exactly (no floating point rounding).
QByteArray micros(std::int64_t ns)
{
    const bool negative = ns < 0;
    const std::uint64_t v = negative ? std::uint64_t(-(ns + 1)) + 1 : std::uint64_t(ns);
    QByteArray frac = QByteArray::number(qulonglong(v % 1000));
    return (negative ? QByteArray("-") : QByteArray()) + QByteArray::number(qulonglong(v / 1000))
            + '.' + QByteArray(3 - frac.size(), '0') + frac;
}

//! A JSON object built field by field.
class JsonObject
{
public:
    JsonObject &str(const char *key, const QString &value)
    {
        return raw(key, quoted(value.toUtf8()));
    }
    JsonObject &str(const char *key, const char *value) { return raw(key, quoted(value)); }
    JsonObject &num(const char *key, std::int64_t value)
    {
        return raw(key, QByteArray::number(qlonglong(value)));
    }
    JsonObject &unum(const char *key, std::uint64_t value)
    {
        return raw(key, QByteArray::number(qulonglong(value)));
    }
    JsonObject &boolean(const char *key, bool value) { return raw(key, value ? "true" : "false"); }
    JsonObject &time(const char *key, std::int64_t ns) { return raw(key, micros(ns)); }
    JsonObject &object(const char *key, const JsonObject &value) { return raw(key, value.json()); }
    JsonObject &raw(const char *key, const QByteArray &json)
    {
        m_body += m_body.isEmpty() ? "" : ",";
        appendEscaped(m_body, key);
        m_body += ':';
        m_body += json;
        return *this;
    }
    bool isEmpty() const { return m_body.isEmpty(); }
    QByteArray json() const { return '{' + m_body + '}'; }

private:
    static QByteArray quoted(const QByteArray &utf8)
    {
        QByteArray q;
        appendEscaped(q, utf8);
        return q;
    }
    QByteArray m_body;
};

class ChromeTraceWriter
{
public:
    explicit ChromeTraceWriter(const ChromeTraceSource &source) : m_src(source) { }
    QByteArray run();

private:
    enum class SliceType : std::uint8_t { Iteration, Handle, Step };
    struct OpenSlice
    {
        SliceType type;
        std::uint64_t id;
        std::int64_t start;
        QString name;
        const char *cat;
        JsonObject args;
    };
    struct TaskTrack
    {
        bool open = false;
        bool done = false;
        bool running = false;
        bool rescheduled = false; //!< its next step was scheduled during the running one
        bool waiting = false;
        QString name;
    };
    struct Completion
    {
        std::int64_t ts;
        bool inSlice;
    };
    struct Job
    {
        std::int64_t queued = 0;
        std::uint32_t location = 0;
        std::int64_t started = -1; //!< when the worker started it, -1: unknown
    };

    QString string(std::uint32_t index) const { return m_src.strings.value(index); }
    //! The loop thread's timeline: loop time, pushed past everything already placed so that
    //! events are strictly ordered and slices nest (see chromeTraceJson()).
    std::int64_t place(std::int64_t time)
    {
        const std::int64_t ts = std::max(time, m_cursor);
        m_cursor = ts + 1;
        return ts;
    }
    void emit(const JsonObject &event)
    {
        m_out += m_first ? "\n" : ",\n";
        m_first = false;
        m_out += event.json();
    }
    JsonObject base(const char *ph, const QString &name, const char *cat, std::int64_t ts,
                    int tid = kLoopTid) const
    {
        JsonObject o;
        o.str("ph", ph)
                .str("name", name)
                .str("cat", cat)
                .time("ts", ts)
                .num("pid", kPid)
                .num("tid", tid);
        return o;
    }

    void handle(const RecordedEvent &e);
    void openSlice(SliceType type, std::uint64_t id, std::int64_t ts, QString name, const char *cat,
                   JsonObject args);
    //! Closes the innermost open slice of \a type and \a id (and anything left open inside
    //! it); ignores an end whose beginning fell out of the window.
    void closeSlice(SliceType type, std::uint64_t id, std::int64_t duration,
                    const JsonObject &extraArgs = {});
    void closeTop();
    TaskTrack &task(std::uint64_t id, std::int64_t ts);
    void taskScheduled(std::uint64_t id, std::int64_t ts);
    void endWait(std::uint64_t id, TaskTrack &t, std::int64_t ts);
    void flow(const char *cat, std::int64_t fromTs, int fromTid, std::int64_t toTs);
    int executorTid(std::uint64_t thread);
    void metadata();

    const ChromeTraceSource &m_src;
    QByteArray m_out;
    bool m_first = true;
    std::int64_t m_cursor = 0;
    std::uint64_t m_nextFlow = 0;
    std::vector<OpenSlice> m_stack;
    std::unordered_map<std::uint64_t, TaskTrack> m_tasks;
    std::vector<std::uint64_t> m_taskOrder; // close order at the end: deterministic output
    std::unordered_map<std::uint64_t, std::uint32_t> m_handleSites;
    std::unordered_map<std::uint64_t, Completion> m_completions;
    std::unordered_map<std::uint64_t, Job> m_jobs;
    std::vector<std::uint64_t> m_executorThreads; // tid = kLoopTid + 1 + index
    std::vector<std::int64_t> m_executorCursor;
};

void ChromeTraceWriter::openSlice(SliceType type, std::uint64_t id, std::int64_t ts, QString name,
                                  const char *cat, JsonObject args)
{
    m_stack.push_back(OpenSlice{ type, id, ts, std::move(name), cat, std::move(args) });
}

void ChromeTraceWriter::closeTop()
{
    OpenSlice s = std::move(m_stack.back());
    m_stack.pop_back();
    const std::int64_t end = std::max(s.start, m_cursor);
    JsonObject x = base("X", s.name, s.cat, s.start);
    x.time("dur", end - s.start);
    if (!s.args.isEmpty())
        x.object("args", s.args);
    emit(x);
    m_cursor = end + 1;
}

void ChromeTraceWriter::closeSlice(SliceType type, std::uint64_t id, std::int64_t duration,
                                   const JsonObject &extraArgs)
{
    const auto it = std::find_if(m_stack.rbegin(), m_stack.rend(),
                                 [&](const OpenSlice &s) { return s.type == type && s.id == id; });
    if (it == m_stack.rend())
        return;
    const std::size_t depth = std::size_t(std::distance(it, m_stack.rend())); // 1-based
    while (m_stack.size() > depth)
        closeTop();
    OpenSlice &s = m_stack.back();
    m_cursor = std::max(m_cursor, s.start + std::max<std::int64_t>(duration, 0));
    if (!extraArgs.isEmpty())
        s.args.raw("end", extraArgs.json());
    closeTop();
}

ChromeTraceWriter::TaskTrack &ChromeTraceWriter::task(std::uint64_t id, std::int64_t ts)
{
    TaskTrack &t = m_tasks[id];
    if (!t.open && !t.done) {
        // First seen after its creation fell out of the window (or before the recorder was
        // attached): begin its slice here so every "b" still has its "e".
        t.open = true;
        t.name = m_src.taskNames.value(id, QStringLiteral("Task #%1").arg(id));
        m_taskOrder.push_back(id);
        JsonObject b = base("b", t.name, "task", ts);
        b.unum("id", id).object(
                "args",
                JsonObject().unum("task", id).str("note", "created before the trace window"));
        emit(b);
    }
    return t;
}

void ChromeTraceWriter::endWait(std::uint64_t id, TaskTrack &t, std::int64_t ts)
{
    if (!t.waiting)
        return;
    t.waiting = false;
    JsonObject e = base("e", t.name, "task", ts);
    e.unum("id", id);
    emit(e);
}

void ChromeTraceWriter::taskScheduled(std::uint64_t id, std::int64_t ts)
{
    const auto it = m_tasks.find(id);
    if (it != m_tasks.end() && it->second.done)
        return;
    TaskTrack &t = task(id, ts);
    if (t.running)
        t.rescheduled = true;
    endWait(id, t, ts);
}

void ChromeTraceWriter::flow(const char *cat, std::int64_t fromTs, int fromTid, std::int64_t toTs)
{
    const std::uint64_t id = ++m_nextFlow;
    JsonObject s = base("s", QString::fromLatin1(cat), cat, fromTs, fromTid);
    s.unum("id", id);
    emit(s);
    JsonObject f = base("f", QString::fromLatin1(cat), cat, toTs);
    // "e": bind to the slice enclosing the arrow's end (the woken step's callback), not the
    // next slice to begin.
    f.unum("id", id).str("bp", "e");
    emit(f);
}

int ChromeTraceWriter::executorTid(std::uint64_t thread)
{
    auto it = std::find(m_executorThreads.begin(), m_executorThreads.end(), thread);
    if (it == m_executorThreads.end()) {
        m_executorThreads.push_back(thread);
        m_executorCursor.push_back(0);
        it = m_executorThreads.end() - 1;
    }
    return kLoopTid + 1 + int(it - m_executorThreads.begin());
}

void ChromeTraceWriter::handle(const RecordedEvent &e)
{
    using K = TraceEventKind;
    const std::int64_t ts = place(e.time);
    switch (e.kind) {
    case K::IterationBegin: {
        JsonObject ready = base("C", QStringLiteral("ready queue"), "loop", ts);
        ready.object("args", JsonObject().unum("ready", e.aux));
        emit(ready);
        JsonObject timers = base("C", QStringLiteral("timers"), "loop", ts);
        timers.object("args", JsonObject().unum("timers", e.related));
        emit(timers);
        openSlice(SliceType::Iteration, e.id, ts, QStringLiteral("iteration"), "loop",
                  JsonObject()
                          .unum("iteration", e.id)
                          .unum("ready", e.aux)
                          .unum("timers", e.related));
        break;
    }
    case K::IterationEnd:
        closeSlice(SliceType::Iteration, e.id, e.duration);
        break;
    case K::HandleScheduled:
        if (e.location)
            m_handleSites[e.id] = e.location;
        if (e.handleKind == HandleKind::TaskStep && e.aux)
            taskScheduled(e.aux, ts);
        break;
    case K::TimerArmed:
        if (e.location)
            m_handleSites[e.id] = e.location;
        break;
    case K::HandleStarted: {
        JsonObject args;
        args.unum("handle", e.id).str("kind", handleKindName(e.handleKind));
        QString name = QString::fromLatin1(handleKindName(e.handleKind));
        if (e.aux)
            args.unum("task", e.aux);
        if (const auto it = m_handleSites.find(e.id); it != m_handleSites.end()) {
            const QString site = string(it->second);
            args.str("location", site);
            if (e.handleKind != HandleKind::TaskStep && !site.isEmpty())
                name += QLatin1Char(' ') + site;
        }
        openSlice(SliceType::Handle, e.id, ts, std::move(name), "callback", std::move(args));
        break;
    }
    case K::HandleFinished:
        m_handleSites.erase(e.id);
        closeSlice(SliceType::Handle, e.id, e.duration,
                   e.failed ? JsonObject().boolean("failed", true) : JsonObject());
        break;
    case K::TaskCreated: {
        TaskTrack &t = m_tasks[e.id];
        if (t.open || t.done)
            break;
        t.open = true;
        t.name = string(e.text);
        if (t.name.isEmpty())
            t.name = m_src.taskNames.value(e.id, QStringLiteral("Task #%1").arg(e.id));
        m_taskOrder.push_back(e.id);
        JsonObject args;
        args.unum("task", e.id).unum("future", e.related).unum("parent", e.aux);
        if (e.location)
            args.str("location", string(e.location));
        JsonObject b = base("b", t.name, "task", ts);
        b.unum("id", e.id).object("args", args);
        emit(b);
        break;
    }
    case K::TaskStepBegin: {
        TaskTrack &t = task(e.id, ts);
        if (t.done)
            break;
        t.running = true;
        t.rescheduled = false;
        openSlice(SliceType::Step, e.id, ts, t.name, "step",
                  JsonObject().unum("task", e.id).unum("step", e.aux));
        break;
    }
    case K::TaskStepEnd: {
        JsonObject end;
        if (e.related)
            end.unum("awaits", e.related).str("awaitsKind", futureKindName(e.futureKind));
        closeSlice(SliceType::Step, e.id, e.duration, end);
        TaskTrack &t = task(e.id, m_cursor);
        if (t.done)
            break;
        t.running = false;
        if (e.related && !t.rescheduled && !t.waiting) {
            t.waiting = true;
            const QString what = QStringLiteral("await %1 #%2")
                                         .arg(QLatin1String(futureKindName(e.futureKind)))
                                         .arg(e.related);
            JsonObject b = base("b", what, "task", place(e.time));
            b.unum("id", e.id);
            emit(b);
        }
        break;
    }
    case K::TaskDone: {
        TaskTrack &t = task(e.id, ts);
        if (t.done)
            break;
        endWait(e.id, t, ts);
        t.open = false;
        t.done = true;

        JsonObject args;
        args.str("status", doneStatusName(e.status));
        if (e.text)
            args.str("message", string(e.text));
        JsonObject end = base("e", t.name, "task", ts);
        end.unum("id", e.id).object("args", args);
        emit(end);
        break;
    }
    case K::FutureDone:
    case K::FutureCancelled:
    case K::FutureFailed:
        m_completions[e.id] = Completion{ ts, !m_stack.empty() };
        break;
    case K::Wakeup:
        if (const auto it = m_completions.find(e.related);
            it != m_completions.end() && it->second.inSlice && !m_stack.empty())
            flow("wakeup", it->second.ts, kLoopTid, ts);
        break;
    case K::ExecutorJobQueued:
        m_jobs[e.id] = Job{ ts, e.location, -1 };
        break;
    case K::ExecutorJobStarted:
        executorTid(e.aux);
        if (const auto it = m_jobs.find(e.id); it != m_jobs.end())
            it->second.started = ts - e.duration; // duration: how long ago it started
        break;
    case K::ExecutorJobFinished: {
        // At the worker's own start time when the trace has it (ExecutorJobStarted), else
        // ending when the loop heard of it; never before it was queued or overlapping the
        // worker's previous job.
        const int tid = executorTid(e.aux);
        std::int64_t &threadCursor = m_executorCursor[std::size_t(tid - kLoopTid - 1)];
        const Job job = m_jobs.count(e.id) ? m_jobs[e.id] : Job{ ts - e.duration, 0, -1 };
        m_jobs.erase(e.id);
        const std::int64_t workerStart = job.started >= 0 ? job.started : ts - e.duration;
        const std::int64_t start = std::max({ workerStart, job.queued, threadCursor });
        const std::int64_t duration = std::max<std::int64_t>(e.duration, 1);
        JsonObject args;
        args.unum("job", e.id).unum("future", e.related).boolean("failed", e.failed);
        if (job.location)
            args.str("location", string(job.location));
        JsonObject x =
                base("X", QStringLiteral("executor job #%1").arg(e.id), "executor", start, tid);
        x.time("dur", duration).object("args", args);
        emit(x);
        threadCursor = start + duration + 1;
        // The arrow to the completion on the loop thread: it must start inside the job's
        // slice and before the loop heard of it.
        const std::int64_t from = std::min(start + duration / 2, ts - 1);
        if (from >= start && !m_stack.empty())
            flow("executor", from, tid, ts);
        break;
    }
    case K::LoopPaused:
    case K::LoopResumed: {
        QString name = e.kind == K::LoopResumed
                ? QStringLiteral("resumed")
                : QStringLiteral("paused (%1)")
                          .arg(QLatin1String(pauseReasonName(static_cast<PauseReason>(e.aux))));
        JsonObject i = base("i", name, "loop", ts);
        i.str("s", "t");
        emit(i);
        break;
    }
    default:
        break;
    }
}

void ChromeTraceWriter::metadata()
{
    JsonObject process;
    process.str("ph", "M")
            .str("name", "process_name")
            .num("pid", kPid)
            .object("args", JsonObject().str("name", "loopscope"));
    emit(process);
    auto thread = [&](int tid, const QString &name) {
        JsonObject o;
        o.str("ph", "M")
                .str("name", "thread_name")
                .num("pid", kPid)
                .num("tid", tid)
                .object("args", JsonObject().str("name", name));
        emit(o);
        JsonObject sort;
        sort.str("ph", "M")
                .str("name", "thread_sort_index")
                .num("pid", kPid)
                .num("tid", tid)
                .object("args", JsonObject().num("sort_index", tid));
        emit(sort);
    };
    thread(kLoopTid, QStringLiteral("event loop"));
    for (std::size_t i = 0; i < m_executorThreads.size(); ++i)
        thread(kLoopTid + 1 + int(i), QStringLiteral("executor thread %1").arg(i + 1));
}

QByteArray ChromeTraceWriter::run()
{
    m_out = "{\"displayTimeUnit\":\"ns\",\"otherData\":";
    m_out += JsonObject()
                     .str("recorder", "loopscope")
                     .unum("producedEvents", m_src.producedEvents)
                     .unum("droppedEvents", m_src.droppedEvents)
                     .unum("capacity", m_src.capacity)
                     .unum("eventsInTrace", m_src.events ? m_src.events->size() : 0)
                     .json();
    m_out += ",\"traceEvents\":[";
    if (m_src.events) {
        if (!m_src.events->empty())
            m_cursor = m_src.events->front().time;
        for (const RecordedEvent &e : *m_src.events)
            handle(e);
    }
    // Whatever is still open (the trace was taken mid-iteration, tasks still pending) ends
    // with the trace, innermost first, so every "b" has its "e" and every slice its end.
    while (!m_stack.empty())
        closeTop();
    const std::int64_t end = place(m_cursor);
    for (const std::uint64_t id : m_taskOrder) {
        TaskTrack &t = m_tasks[id];
        if (!t.open)
            continue;
        endWait(id, t, end);
        JsonObject e = base("e", t.name, "task", end);
        e.unum("id", id).object("args", JsonObject().str("status", "pending at end of trace"));
        emit(e);
        t.open = false;
    }
    metadata();
    // The event stream goes last: current Perfetto skips top-level keys it does not know,
    // older versions stopped reading at the first one, so placed before "traceEvents" it
    // would have hidden every event.
    m_out += "\n],\"loopscope\":";
    m_out += writeEventStream(m_src);
    m_out += "}\n";
    return m_out;
}

} // namespace

QByteArray writeChromeTrace(const ChromeTraceSource &source)
{
    return ChromeTraceWriter(source).run();
}

QByteArray writeEventStream(const ChromeTraceSource &source)
{
    static const std::vector<RecordedEvent> none;
    const std::vector<RecordedEvent> &events = source.events ? *source.events : none;

    // The recorder's string indices carry slot generations; the file numbers the strings its
    // events use from 1, in order of first use (0: none).
    std::unordered_map<std::uint32_t, std::uint32_t> dense;
    std::uint32_t written = 0;
    QByteArray strings = "[";
    auto indexOf = [&](std::uint32_t index) -> std::uint32_t {
        if (!index)
            return 0;
        if (const auto it = dense.find(index); it != dense.end())
            return it->second;
        const QString text = source.strings.value(index);
        std::uint32_t n = 0;
        if (!text.isEmpty()) { // empty: its slot was reused meanwhile, the string is gone
            n = ++written;
            if (n > 1)
                strings += ',';
            appendEscaped(strings, text.toUtf8());
        }
        dense.emplace(index, n);
        return n;
    };
    QByteArray list = "[";
    list.reserve(qsizetype(events.size()) * 48 + 4);
    bool first = true;
    for (const RecordedEvent &e : events) {
        const std::uint32_t text = indexOf(e.text);
        const std::uint32_t location = indexOf(e.location);
        list += first ? "\n[" : ",\n[";
        first = false;
        list += QByteArray::number(qulonglong(e.sequence)) + ',';
        list += QByteArray::number(qlonglong(e.time)) + ',';
        list += QByteArray::number(qlonglong(e.duration)) + ',';
        list += QByteArray::number(qulonglong(e.id)) + ',';
        list += QByteArray::number(qulonglong(e.related)) + ',';
        list += QByteArray::number(qulonglong(e.aux)) + ',';
        list += QByteArray::number(text) + ',';
        list += QByteArray::number(location) + ',';
        list += QByteArray::number(int(e.kind)) + ',';
        list += QByteArray::number(int(e.handleKind)) + ',';
        list += QByteArray::number(int(e.futureKind)) + ',';
        list += QByteArray::number(int(e.status)) + ',';
        list += QByteArray::number((e.failed ? 1 : 0) | (e.yielded ? 2 : 0));
        list += ']';
    }
    list += "\n]";
    strings += ']';

    const RecorderOptions &o = source.options;
    return JsonObject()
            .num("format", 1)
            .unum("producedEvents", source.producedEvents)
            .unum("droppedEvents", source.droppedEvents)
            .unum("capacity", source.capacity)
            .object("options",
                    JsonObject()
                            .num("slowCallbackNs", o.slowCallbackThreshold.count())
                            .num("blockedLoopNs", o.blockedLoopThreshold.count())
                            .num("timerDriftNs", o.timerDriftThreshold.count())
                            .unum("busyPollingMinYields", o.busyPollingMinYields)
                            .unum("maxLintsPerKind", o.maxLintsPerKind)
                            .unum("retainedFinishedTasks", o.retainedFinishedTasks)
                            .unum("maxLiveTasks", o.maxLiveTasks)
                            .unum("maxUnawaitedFutures", o.maxUnawaitedFutures))
            .raw("fields",
                 "[\"sequence\",\"time\",\"duration\",\"id\",\"related\",\"aux\",\"text\","
                 "\"location\",\"kind\",\"handleKind\",\"futureKind\",\"status\",\"flags\"]")
            .raw("strings", strings)
            .raw("events", list)
            .json();
}

} // namespace loopscope::detail
