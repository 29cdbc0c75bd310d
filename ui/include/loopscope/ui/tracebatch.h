#pragma once

//! \file tracebatch.h What the visualizer's tick hands its views: the trace events drained since
//! the last tick, their strings resolved, and the recorder's aggregates at that moment.

#include <loopscope/recorder.h>

#include <QHash>
#include <QString>

#include <chrono>
#include <cstdint>
#include <vector>

namespace loopscope::ui {

/*!
 * One tick's worth of trace (LoopHost::batchReady()). The events' string indices are
 * resolved right after draining (the recorder reuses a string's slot once no event in its
 * ring refers to it), so a view may keep the QStrings but not the indices.
 */
struct TraceBatch
{
    //! Which loop the batch comes from: LoopHost::generation() when it was drained. A reset
    //! starts a new generation; views clear what they kept of the old one.
    int generation = 0;
    //! The events recorded since the previous tick, oldest first.
    std::vector<RecordedEvent> events;
    //! Every non-zero text/location index of \a events, resolved.
    QHash<std::uint32_t, QString> strings;
    /*!
     * The tasks that changed since the previous batch of this generation
     * (TraceRecorder::tasksChangedSince()): live ones in creation order, then finished ones
     * in the order they ended. The first batch of a generation (tasksComplete) holds every
     * task the recorder tracks. A task that did not change is not repeated: views keep what
     * they were told (with 10,000 sleeping tasks, copying them all is most of a tick).
     */
    std::vector<TaskStats> tasks;
    //! True when tasks holds every tracked task, not only the changed ones.
    bool tasksComplete = true;
    //! The recorder's task version after this batch (TraceRecorder::tasksChangedSince()).
    std::uint64_t tasksVersion = 0;
    LoopStats stats;
    std::vector<Lint> lints;
    /*!
     * False when the loop recorded nothing since the previous tick: then tasks is empty,
     * the other aggregates are the previous tick's, not read again, and views may skip
     * their diff.
     */
    bool changed = true;
    std::uint64_t producedEvents = 0;
    std::uint64_t droppedEvents = 0;
    //! Real time the loop thread has been inside one iteration or callback, 0 when idle.
    std::chrono::milliseconds blockedFor{ 0 };

    //! The resolved string \a index of an event; empty for 0.
    QString string(std::uint32_t index) const { return index ? strings.value(index) : QString(); }

    //! Resolves every text/location index of \a events through \a recorder into strings.
    //! Call right after draining: the recorder reuses a string's slot once its events left
    //! the ring.
    void resolveStrings(const TraceRecorder &recorder)
    {
        for (const RecordedEvent &e : events) {
            for (const std::uint32_t index : { e.text, e.location }) {
                if (index && !strings.contains(index))
                    strings.insert(index, recorder.stringAt(index));
            }
        }
    }
};

} // namespace loopscope::ui
