#pragma once

//! \file eventrecorder.h An observer that keeps every TraceEvent it sees, for tests that
//! check what observers are told and in which order.

#include <loopscope/observer.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace loopscope::testsupport {

class EventRecorder : public LoopObserver
{
public:
    void onEvent(const TraceEvent &e) override { events.push_back(e); }

    //! The events of kind \a k, in order.
    std::vector<TraceEvent> of(TraceEventKind k) const
    {
        std::vector<TraceEvent> out;
        for (const TraceEvent &e : events)
            if (e.kind == k)
                out.push_back(e);
        return out;
    }
    //! Index of the first event of kind \a k with id \a id, -1 if none.
    int indexOf(TraceEventKind k, std::uint64_t id) const
    {
        for (std::size_t i = 0; i < events.size(); ++i)
            if (events[i].kind == k && events[i].id == id)
                return int(i);
        return -1;
    }

    std::vector<TraceEvent> events;
};

} // namespace loopscope::testsupport
