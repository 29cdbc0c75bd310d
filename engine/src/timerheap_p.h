#pragma once

#include "loopscope/handle.h"

#include <cstdint>
#include <vector>

namespace loopscope::detail {

class TaskCore;

/*!
 * Min-heap of timers ordered by (deadline, sequence): equal deadlines pop in the order they
 * were pushed. Four children per node: half the depth of a binary heap, and the four
 * siblings compared at each level sit in two cache lines (popping from a heap of 200,000
 * timers was 40% of the timers workload, mostly cache misses).
 *
 * A timer is either a handle (callLater) or a sleeping task (sleep(): the task parks itself
 * in the heap, with no handle, future or callback of its own: a sleeping task's whole
 * footprint is what the sleepers_mem workload measures). Cancelled handles stay in place
 * until they reach the top or until more than half of a large heap is cancelled, when the
 * heap is rebuilt without them (asyncio's lazy deletion with the same thresholds). A task's
 * entry knows its position (TaskCore::m_heapIndex, kept up to date as entries move) and is
 * removed at once when its sleep is cancelled: a lazily kept entry would have to keep the
 * task alive.
 */
class TimerHeap
{
public:
    static constexpr std::size_t kMinSizeForCompaction = 100;
    //! TaskCore::m_heapIndex of a task that is not in a heap.
    static constexpr std::uint32_t kNotQueued = ~std::uint32_t(0);

    TimerHeap() = default;
    TimerHeap(const TimerHeap &) = delete;
    TimerHeap &operator=(const TimerHeap &) = delete;
    ~TimerHeap() { clear(); }

    //! Takes a reference; \a owner is told when the handle is cancelled while queued.
    void push(Ref<TimerHandleBase> handle, LoopCore *owner);
    /*!
     * Parks \a task until \a when. No reference is taken: a task stays registered with its
     * loop (and so alive) while it sleeps, and removes its entry (removeTask()) before it
     * can be anything but asleep.
     */
    void pushTask(TimePoint when, TaskCore *task);
    //! Removes the entry of \a task, which must be in this heap; returns its deadline.
    TimePoint removeTask(TaskCore *task) noexcept;
    //! Drops cancelled handles sitting at the top.
    void discardCancelledTop();
    //! The earliest live deadline; call discardCancelledTop() first. Heap must be non-empty.
    TimePoint earliestDeadline() const { return m_entries.front().when; }
    /*!
     * Removes the top (live, due) timer and returns the handle to run for it: the handle
     * itself, or for a sleeping task the handle that wakes it (TaskCore::sleepTimerDue()).
     */
    Ref<TimerHandleBase> pop();

    bool empty() const noexcept { return m_entries.empty(); }
    std::size_t size() const noexcept { return m_entries.size(); }
    std::size_t cancelledCount() const noexcept { return m_cancelled; }
    std::size_t liveCount() const noexcept { return m_entries.size() - m_cancelled; }

    //! Calls \a fn with every queued handle, cancelled ones included, in heap order. Sleeping
    //! tasks are not handles and are left out (they are reported as tasks).
    template <typename F>
    void forEach(F &&fn) const
    {
        for (const Entry &e : m_entries)
            if (!isTask(e))
                fn(*handleOf(e));
    }
    //! A queued handle was cancelled: count it and compact when mostly cancelled.
    void noteCancelled();
    //! Drops every entry. Sleeping tasks must have removed theirs (close() abandons them
    //! first): the heap may outlive them.
    void clear() noexcept;

private:
    struct Entry
    {
        TimePoint when;
        std::uint64_t sequence;
        std::uintptr_t node; //!< a TimerHandleBase *, or a TaskCore * with the low bit set
    };
    static bool earlier(const Entry &a, const Entry &b) noexcept
    {
        return a.when != b.when ? a.when < b.when : a.sequence < b.sequence;
    }
    static bool isTask(const Entry &e) noexcept { return e.node & 1; }
    static TimerHandleBase *handleOf(const Entry &e) noexcept
    {
        return reinterpret_cast<TimerHandleBase *>(e.node);
    }
    static TaskCore *taskOf(const Entry &e) noexcept
    {
        return reinterpret_cast<TaskCore *>(e.node & ~std::uintptr_t(1));
    }
    //! Stores \a e at \a i, telling a task entry where it now is.
    void place(std::size_t i, const Entry &e) noexcept;
    static constexpr std::size_t kArity = 4;
    void siftUp(std::size_t i) noexcept;
    void siftDown(std::size_t i) noexcept;
    //! Removes the entry at \a i.
    void removeAt(std::size_t i) noexcept;
    void compact();

    std::vector<Entry> m_entries;
    std::size_t m_cancelled = 0;
    std::uint64_t m_nextSequence = 0;
};

} // namespace loopscope::detail
