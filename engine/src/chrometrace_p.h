#pragma once

#include "loopscope/recorder.h"

#include <QByteArray>
#include <QHash>
#include <QString>

#include <cstdint>
#include <vector>

namespace loopscope::detail {

//! What the Chrome trace writer needs besides the events: their strings, resolved up front
//! (one lock instead of one per event), the names of tasks created before the window, and
//! the recorder's options (its lint thresholds travel with the event stream, for replay).
struct ChromeTraceSource
{
    const std::vector<RecordedEvent> *events = nullptr;
    QHash<std::uint32_t, QString> strings;
    QHash<std::uint64_t, QString> taskNames;
    std::uint64_t producedEvents = 0;
    std::uint64_t droppedEvents = 0;
    std::size_t capacity = 0;
    RecorderOptions options;
};

/*!
 * Chrome trace-event JSON (object form) for \a source; see TraceRecorder::chromeTraceJson().
 * After "traceEvents" comes the raw event stream under the key "loopscope" (see
 * tracefile.h), which loadTraceFile() reads back for replay.
 */
QByteArray writeChromeTrace(const ChromeTraceSource &source);

//! The "loopscope" value alone: the event stream, its strings and the recorder's options.
QByteArray writeEventStream(const ChromeTraceSource &source);

} // namespace loopscope::detail
