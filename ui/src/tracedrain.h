#pragma once

// Private to Loopscope::Ui: how a live view's tick turns a TraceRecorder into a TraceBatch
// (LoopHost's tick and LoopInspector's tick).

namespace loopscope {
class TraceRecorder;
}

namespace loopscope::ui {

struct TraceBatch;

/*!
 * Refills \a batch from \a recorder for one tick: clears its events and strings, and, when the
 * loop recorded something since the batch was last filled (its producedEvents) or \a force is
 * set, drains the new events, resolves their strings at once (the recorder reuses a string's
 * slot once its events left the ring) and reads the aggregates (tasks, stats, lints, counters).
 * Otherwise the aggregates stay the previous tick's and batch.changed is false: with 10,000
 * tasks, copying them is most of a tick. Returns batch.changed. The generation and blockedFor
 * fields are the caller's.
 */
bool drainTrace(TraceRecorder &recorder, TraceBatch &batch, bool force);

} // namespace loopscope::ui
