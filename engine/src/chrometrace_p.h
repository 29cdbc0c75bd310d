#pragma once

#include "loopscope/recorder.h"

#include <QByteArray>
#include <QHash>
#include <QString>

#include <cstdint>
#include <vector>

namespace loopscope::detail {

//! What the Chrome trace writer needs besides the events: their strings, resolved up front
//! (one lock instead of one per event), and the names of tasks created before the window.
struct ChromeTraceSource
{
    const std::vector<RecordedEvent> *events = nullptr;
    QHash<std::uint32_t, QString> strings;
    QHash<std::uint64_t, QString> taskNames;
    std::uint64_t producedEvents = 0;
    std::uint64_t droppedEvents = 0;
    std::size_t capacity = 0;
};

//! Chrome trace-event JSON (object form) for \a source; see TraceRecorder::chromeTraceJson().
QByteArray writeChromeTrace(const ChromeTraceSource &source);

} // namespace loopscope::detail
