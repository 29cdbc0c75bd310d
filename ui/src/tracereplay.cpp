#include <loopscope/ui/tracereplay.h>

#include <loopscope/recorder.h>
#include <loopscope/tracefile.h>
#include <loopscope/ui/tracebatch.h>

#include <QLocale>

#include <algorithm>

namespace loopscope::ui {

TraceReplay::TraceReplay(QObject *parent)
    : QObject(parent),
      m_trace(std::make_unique<TraceFile>()),
      m_batch(std::make_unique<TraceBatch>())
{
}

TraceReplay::~TraceReplay() = default;

std::size_t TraceReplay::eventCount() const
{
    return m_trace->events.size();
}

bool TraceReplay::open(const QString &path, QString *error)
{
    TraceFileResult result = loadTraceFile(path);
    if (!result) {
        if (error)
            *error = result.errorString();
        return false;
    }
    setTrace(result.takeTrace(), path);
    return true;
}

void TraceReplay::setTrace(TraceFile trace, const QString &fileName)
{
    *m_trace = std::move(trace);
    m_fileName = fileName;
    m_open = true;
    m_callbackEnds.clear();
    m_iterationEnds.clear();
    m_taskCount = 0;
    const std::vector<RecordedEvent> &events = m_trace->events;
    for (std::size_t i = 0; i < events.size(); ++i) {
        switch (events[i].kind) {
        case TraceEventKind::HandleFinished:
            m_callbackEnds.push_back(i + 1);
            break;
        case TraceEventKind::IterationEnd:
            m_iterationEnds.push_back(i + 1);
            break;
        case TraceEventKind::TaskCreated:
            ++m_taskCount;
            break;
        default:
            break;
        }
    }
    Q_EMIT traceChanged();
    rebuild(0);
}

void TraceReplay::close()
{
    *m_trace = TraceFile();
    m_recorder.reset();
    *m_batch = TraceBatch();
    m_fileName.clear();
    m_open = false;
    m_position = 0;
    m_callbackEnds.clear();
    m_iterationEnds.clear();
    Q_EMIT traceChanged();
}

std::int64_t TraceReplay::elapsedNs(std::size_t position) const
{
    const std::vector<RecordedEvent> &events = m_trace->events;
    if (position == 0 || events.empty())
        return 0;
    position = std::min(position, events.size());
    return events[position - 1].time - events.front().time;
}

QString TraceReplay::positionText() const
{
    return tr("event %L1 / %L2 · %3 s")
            .arg(qulonglong(m_position))
            .arg(qulonglong(eventCount()))
            .arg(double(elapsedNs(m_position)) / 1e9, 0, 'f', 3);
}

std::size_t TraceReplay::after(const std::vector<std::size_t> &marks, std::size_t position)
{
    const auto it = std::upper_bound(marks.begin(), marks.end(), position);
    return it == marks.end() ? position : *it;
}

std::size_t TraceReplay::before(const std::vector<std::size_t> &marks, std::size_t position)
{
    // Before the first mark there is only the start.
    const auto it = std::lower_bound(marks.begin(), marks.end(), position);
    return it == marks.begin() ? 0 : *std::prev(it);
}

std::size_t TraceReplay::nextPosition(Unit unit) const
{
    switch (unit) {
    case Unit::Event:
        return std::min(m_position + 1, eventCount());
    case Unit::Callback:
        return after(m_callbackEnds, m_position);
    case Unit::Iteration:
        return after(m_iterationEnds, m_position);
    }
    return m_position;
}

std::size_t TraceReplay::previousPosition(Unit unit) const
{
    switch (unit) {
    case Unit::Event:
        return m_position > 0 ? m_position - 1 : 0;
    case Unit::Callback:
        return before(m_callbackEnds, m_position);
    case Unit::Iteration:
        return before(m_iterationEnds, m_position);
    }
    return m_position;
}

void TraceReplay::seek(qsizetype position)
{
    if (!m_open)
        return;
    const std::size_t target =
            std::size_t(std::clamp<qsizetype>(position, 0, qsizetype(eventCount())));
    if (target == m_position)
        return;
    if (target > m_position)
        advance(target);
    else
        rebuild(target);
}

void TraceReplay::stepForward(Unit unit)
{
    seek(qsizetype(nextPosition(unit)));
}

void TraceReplay::stepBack(Unit unit)
{
    seek(qsizetype(previousPosition(unit)));
}

void TraceReplay::rebuild(std::size_t position)
{
    const auto started = std::chrono::steady_clock::now();
    RecorderOptions options = m_trace->options;
    // The ring is only written, never read: small. Strings were cut when they were recorded.
    options.capacity = 1024;
    options.maxStringLength = std::size_t(1) << 20;
    // Every task stays: a view that jumps here never saw the ones a live recorder had already
    // forgotten, and the task table keeps rows the recorder still reports.
    options.retainedFinishedTasks = std::max(options.retainedFinishedTasks, m_taskCount);
    options.maxLiveTasks = std::max(options.maxLiveTasks, m_taskCount);
    m_recorder = std::make_unique<TraceRecorder>(options);
    ++m_generation;
    m_dropped = 0;
    m_position = 0;
    feed(0, position);
    publish(0, position);
    m_lastMove = std::chrono::steady_clock::now() - started;
}

void TraceReplay::advance(std::size_t position)
{
    const auto started = std::chrono::steady_clock::now();
    const std::size_t from = m_position;
    feed(from, position);
    publish(from, position);
    m_lastMove = std::chrono::steady_clock::now() - started;
}

void TraceReplay::feed(std::size_t from, std::size_t to)
{
    const std::vector<RecordedEvent> &events = m_trace->events;
    for (std::size_t i = from; i < to; ++i) {
        const RecordedEvent &e = events[i];
        if (i > 0)
            m_dropped += e.sequence - events[i - 1].sequence - 1;
        // Only the aggregates are read back (the batch's events come from the trace): give
        // the recorder just the strings they use and spare it interning every callback's site.
        switch (e.kind) {
        case TraceEventKind::TaskCreated:
            m_recorder->replay(e, m_trace->string(e.text), m_trace->string(e.location));
            break;
        case TraceEventKind::TaskRenamed:
        case TraceEventKind::TaskDone:
        case TraceEventKind::ExceptionNeverRetrieved:
            m_recorder->replay(e, m_trace->string(e.text));
            break;
        default:
            m_recorder->replay(e);
            break;
        }
    }
    m_position = to;
}

std::vector<TaskStats> TraceReplay::tasks() const
{
    return m_recorder ? m_recorder->tasks() : std::vector<TaskStats>();
}

void TraceReplay::publish(std::size_t from, std::size_t to)
{
    TraceBatch &batch = *m_batch;
    const std::vector<RecordedEvent> &events = m_trace->events;
    batch.generation = m_generation;
    batch.events.assign(events.begin() + qsizetype(from), events.begin() + qsizetype(to));
    batch.strings.clear();
    for (const RecordedEvent &e : batch.events) {
        for (const std::uint32_t index : { e.text, e.location }) {
            if (index && !batch.strings.contains(index))
                batch.strings.insert(index, m_trace->string(index));
        }
    }
    // The first batch from a new recorder (a new generation) carries every task.
    if (batch.generation != m_tasksGeneration) {
        m_tasksGeneration = batch.generation;
        batch.tasksVersion = 0;
    }
    batch.tasksComplete = batch.tasksVersion == 0;
    batch.tasks = m_recorder->tasksChangedSince(batch.tasksVersion);
    batch.stats = m_recorder->loopStats();
    batch.lints = m_recorder->lints();
    batch.changed = true;
    batch.producedEvents = to > 0 ? events[to - 1].sequence + 1 : 0;
    batch.droppedEvents = m_dropped;
    batch.blockedFor = std::chrono::milliseconds(0);
    Q_EMIT batchReady(batch);
    Q_EMIT positionChanged(qsizetype(m_position));
}

} // namespace loopscope::ui
