// libFuzzer target for the trace-file loader used by replay (issues 5 and 7): any byte string
// must give either a trace whose every event is consistent (indices resolve, sequence numbers
// increase, time never runs backwards) and that a recorder can replay, or one error that names
// the file — never a crash, a hang or an empty message.

#include <loopscope/recorder.h>
#include <loopscope/tracefile.h>

#include <QByteArray>
#include <QString>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const QByteArray json(reinterpret_cast<const char *>(data), qsizetype(size));
    const QString file = QStringLiteral("fuzz.json");
    const loopscope::TraceFileResult result = loopscope::parseTraceFile(json, file);
    if (!result) {
        const QString error = result.errorString();
        if (!error.startsWith(file) || error.size() <= file.size() + 2)
            std::abort(); // rejected without naming the file or saying why
        return 0;
    }
    const loopscope::TraceFile &trace = result.trace();
    if (trace.strings.empty() || !trace.strings.front().isEmpty())
        std::abort();
    for (std::size_t i = 0; i < trace.events.size(); ++i) {
        const loopscope::RecordedEvent &e = trace.events[i];
        if (e.text >= trace.strings.size() || e.location >= trace.strings.size())
            std::abort();
        if (e.kind > loopscope::TraceEventKind::LoopClosed)
            std::abort();
        if (i > 0
            && (e.sequence <= trace.events[i - 1].sequence || e.time < trace.events[i - 1].time))
            std::abort();
    }
    // What replay does with it: a recorder fed every event, its aggregates read back.
    loopscope::RecorderOptions options = trace.options;
    options.capacity = 64;
    options.maxLiveTasks = std::min<std::size_t>(options.maxLiveTasks, 4096);
    options.retainedFinishedTasks = std::min<std::size_t>(options.retainedFinishedTasks, 4096);
    options.maxUnawaitedFutures = std::min<std::size_t>(options.maxUnawaitedFutures, 4096);
    options.maxLintsPerKind = std::min<std::size_t>(options.maxLintsPerKind, 64);
    loopscope::TraceRecorder recorder(options);
    for (const loopscope::RecordedEvent &e : trace.events)
        recorder.replay(e, trace.string(e.text), trace.string(e.location));
    (void)recorder.tasks();
    (void)recorder.loopStats();
    (void)recorder.lints();
    return 0;
}
