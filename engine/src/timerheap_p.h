#pragma once

#include "loopscope/handle.h"

#include <vector>

namespace loopscope::detail {

/*!
 * Min-heap of timer handles ordered by (deadline, sequence): equal deadlines pop in the
 * order they were pushed. Cancelled timers stay in place until they reach the top or until
 * more than half of a large heap is cancelled, when the heap is rebuilt without them
 * (asyncio's lazy deletion with the same thresholds).
 */
class TimerHeap
{
public:
    static constexpr std::size_t kMinSizeForCompaction = 100;

    TimerHeap() = default;
    TimerHeap(const TimerHeap &) = delete;
    TimerHeap &operator=(const TimerHeap &) = delete;
    ~TimerHeap() { clear(); }

    //! Takes a reference; \a owner is told when the handle is cancelled while queued.
    void push(Ref<HandleBase> handle, LoopCore *owner);
    //! Drops cancelled handles sitting at the top.
    void discardCancelledTop();
    //! The earliest live deadline; call discardCancelledTop() first. Heap must be non-empty.
    TimePoint earliestDeadline() const { return m_entries.front().when; }
    //! Removes the top (live, due) handle and returns it.
    Ref<HandleBase> pop();

    bool empty() const noexcept { return m_entries.empty(); }
    std::size_t size() const noexcept { return m_entries.size(); }
    std::size_t cancelledCount() const noexcept { return m_cancelled; }
    std::size_t liveCount() const noexcept { return m_entries.size() - m_cancelled; }

    //! Calls \a fn with every queued handle, cancelled ones included, in heap order.
    template <typename F>
    void forEach(F &&fn) const
    {
        for (const Entry &e : m_entries)
            fn(*e.handle);
    }
    //! A queued handle was cancelled: count it and compact when mostly cancelled.
    void noteCancelled();
    void clear() noexcept;

private:
    struct Entry
    {
        TimePoint when;
        std::uint64_t sequence;
        HandleBase *handle;
    };
    struct Later
    {
        bool operator()(const Entry &a, const Entry &b) const noexcept
        {
            if (a.when != b.when)
                return a.when > b.when;
            return a.sequence > b.sequence;
        }
    };
    void compact();

    std::vector<Entry> m_entries;
    std::size_t m_cancelled = 0;
    std::uint64_t m_nextSequence = 0;
};

} // namespace loopscope::detail
