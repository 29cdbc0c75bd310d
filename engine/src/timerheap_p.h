#pragma once

#include "loopscope/handle.h"

#include <vector>

namespace loopscope::detail {

/*!
 * Min-heap of timer handles ordered by (deadline, sequence): equal deadlines pop in the
 * order they were pushed. Four children per node: half the depth of a binary heap, and the
 * four siblings compared at each level sit in two cache lines (popping from a heap of
 * 200,000 timers was 40% of the timers workload, mostly cache misses). Cancelled timers stay in place until they reach the top or until
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
    static bool earlier(const Entry &a, const Entry &b) noexcept
    {
        return a.when != b.when ? a.when < b.when : a.sequence < b.sequence;
    }
    static constexpr std::size_t kArity = 4;
    void siftUp(std::size_t i) noexcept;
    void siftDown(std::size_t i) noexcept;
    //! Removes the root, the earliest entry.
    void removeTop() noexcept;
    void compact();

    std::vector<Entry> m_entries;
    std::size_t m_cancelled = 0;
    std::uint64_t m_nextSequence = 0;
};

} // namespace loopscope::detail
