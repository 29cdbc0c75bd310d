#include "tracedrain.h"

#include <loopscope/recorder.h>
#include <loopscope/ui/tracebatch.h>

namespace loopscope::ui {

bool drainTrace(TraceRecorder &recorder, TraceBatch &batch, bool force)
{
    batch.events.clear();
    batch.strings.clear();
    batch.changed = false;
    // No change since the previous batch: no task changed either.
    batch.tasks.clear();
    batch.tasksComplete = batch.tasksVersion == 0;
    const std::uint64_t produced = recorder.producedEvents();
    if (produced == batch.producedEvents && !force)
        return false;
    batch.changed = true;
    recorder.drain(batch.events);
    batch.resolveStrings(recorder);
    // Events recorded after `produced` was read show in the aggregates already and make the
    // next tick read them again: harmless.
    batch.tasksComplete = batch.tasksVersion == 0;
    batch.tasks = recorder.tasksChangedSince(batch.tasksVersion);
    batch.stats = recorder.loopStats();
    batch.lints = recorder.lints();
    batch.producedEvents = produced;
    batch.droppedEvents = recorder.droppedEvents();
    return true;
}

} // namespace loopscope::ui
