#pragma once

//! \file tracefile.h Reading back a trace that TraceRecorder::exportChromeTrace() wrote, for
//! replay: the recorder's own event stream, which the export carries next to the Chrome
//! trace events.

#include "loopscope/recorder.h"

#include <QByteArray>
#include <QString>

#include <cstdint>
#include <optional>
#include <vector>

namespace loopscope {

/*!
 * A trace as its recorder saw it: every event of the export, in order, with its strings.
 *
 * The Chrome trace-event part of an export is lossy (slices, not events), so the export also
 * carries the events themselves, under a top-level key of its own. The Trace Event Format
 * lets a JSON object trace carry keys besides traceEvents (the trace viewer keeps them as
 * metadata) and current Perfetto skips them, but older versions of Perfetto's JSON importer
 * stopped reading at the first key they did not know: so the key comes last, after
 * traceEvents.
 *
 * \code
 * "loopscope": {
 *   "format": 1, "producedEvents": 1234, "droppedEvents": 0, "capacity": 131072,
 *   "options": { "slowCallbackNs": …, "blockedLoopNs": …, "timerDriftNs": …,
 *                "busyPollingMinYields": …, "maxLintsPerKind": …, "retainedFinishedTasks": …,
 *                "maxLiveTasks": …, "maxUnawaitedFutures": … },
 *   "fields": ["sequence", "time", "duration", "id", "related", "aux", "text", "location",
 *              "kind", "handleKind", "futureKind", "status", "flags"],
 *   "strings": ["main", "scenario.cpp:12 (run)", …],
 *   "events": [[0, 1000, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0], …]
 * }
 * \endcode
 *
 * Each event is an array of integers in the order of "fields", with the meaning
 * RecordedEvent gives them; text and location number the "strings" from 1 (0: none), kind,
 * handleKind, futureKind and status are the enums' values, flags is 1 for failed plus 2 for
 * yielded.
 */
struct TraceFile
{
    //! The format this version writes and reads.
    static constexpr int kFormat = 1;

    //! The events, oldest first; text and location index strings.
    std::vector<RecordedEvent> events;
    //! strings[i] is string number i of the events; strings[0] is empty (none).
    std::vector<QString> strings;
    //! What the exporting recorder had recorded, and lost, when it wrote the trace.
    std::uint64_t producedEvents = 0;
    std::uint64_t droppedEvents = 0;
    std::uint64_t capacity = 0;
    //! The exporting recorder's options (its lint thresholds, caps); the ring and string
    //! sizes are left at their defaults.
    RecorderOptions options;

    //! String \a index of an event; empty for 0 or an index out of range.
    QString string(std::uint32_t index) const
    {
        return index < strings.size() ? strings[index] : QString();
    }
};

//! A loaded trace or why it did not load (never both).
class TraceFileResult
{
public:
    TraceFileResult() = default;
    explicit TraceFileResult(TraceFile trace) : m_trace(std::move(trace)) { }
    explicit TraceFileResult(QString error) : m_error(std::move(error)) { }

    bool isValid() const noexcept { return m_trace.has_value(); }
    explicit operator bool() const noexcept { return isValid(); }
    //! The trace; only when isValid().
    const TraceFile &trace() const { return *m_trace; }
    TraceFile takeTrace() { return std::move(*m_trace); }
    /*!
     * Why it did not load, naming the file and where: "run.json:3:14: invalid JSON: …",
     * "run.json: the file ends after 5,120 bytes, in the middle of …",
     * "run.json: loopscope.events[12][8]: kind: 99 is out of range (0 … 26)" …
     */
    QString errorString() const { return m_error; }

private:
    std::optional<TraceFile> m_trace;
    QString m_error;
};

/*!
 * Reads a trace exported by TraceRecorder::chromeTraceJson() from \a json. Strict and
 * total: anything but a complete, consistent Loopscope export is an error naming
 * \a fileName and where it went wrong (a JSON syntax error with line and column, a truncated
 * file as such, a Chrome trace without the Loopscope event stream, a field of the wrong type
 * or out of range, a string index that resolves to nothing, sequence numbers that do not
 * increase, time running backwards). Never crashes, whatever the bytes.
 */
TraceFileResult parseTraceFile(const QByteArray &json, const QString &fileName);
//! Reads and parses the file at \a path (at most maxTraceFileBytes()).
TraceFileResult loadTraceFile(const QString &path);
//! The largest trace file loadTraceFile() reads.
qint64 maxTraceFileBytes();

} // namespace loopscope
