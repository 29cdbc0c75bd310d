#include "timerheap_p.h"

#include "loopscope/task.h"

#include <algorithm>

namespace loopscope::detail {

void TimerHeap::place(std::size_t i, const Entry &e) noexcept
{
    m_entries[i] = e;
    if (isTask(e)) [[unlikely]]
        taskOf(e)->m_heapIndex = std::uint32_t(i);
}

void TimerHeap::push(Ref<TimerHandleBase> handle, LoopCore *owner)
{
    TimerHandleBase *h = handle.release();
    h->m_heapOwner = owner;
    m_entries.push_back(Entry{ h->m_when, m_nextSequence++, reinterpret_cast<std::uintptr_t>(h) });
    siftUp(m_entries.size() - 1);
}

void TimerHeap::pushTask(TimePoint when, TaskCore *task)
{
    static_assert(alignof(TaskCore) > 1, "the low bit of an entry tells tasks from handles");
    m_entries.push_back(
            Entry{ when, m_nextSequence++, reinterpret_cast<std::uintptr_t>(task) | 1 });
    siftUp(m_entries.size() - 1);
}

TimePoint TimerHeap::removeTask(TaskCore *task) noexcept
{
    const std::size_t i = task->m_heapIndex;
    const TimePoint when = m_entries[i].when;
    task->m_heapIndex = kNotQueued;
    removeAt(i);
    return when;
}

void TimerHeap::siftUp(std::size_t i) noexcept
{
    const Entry moving = m_entries[i];
    while (i > 0) {
        const std::size_t parent = (i - 1) / kArity;
        if (!earlier(moving, m_entries[parent]))
            break;
        place(i, m_entries[parent]);
        i = parent;
    }
    place(i, moving);
}

void TimerHeap::siftDown(std::size_t i) noexcept
{
    const std::size_t n = m_entries.size();
    const Entry moving = m_entries[i];
    for (;;) {
        const std::size_t first = i * kArity + 1;
        if (first >= n)
            break;
        const std::size_t last = std::min(first + kArity, n);
        std::size_t best = first;
        for (std::size_t c = first + 1; c < last; ++c)
            if (earlier(m_entries[c], m_entries[best]))
                best = c;
        if (!earlier(m_entries[best], moving))
            break;
        place(i, m_entries[best]);
        i = best;
    }
    place(i, moving);
}

void TimerHeap::removeAt(std::size_t i) noexcept
{
    const Entry last = m_entries.back();
    m_entries.pop_back();
    if (i == m_entries.size())
        return; // it was the last one
    const bool rises = i > 0 && earlier(last, m_entries[(i - 1) / kArity]);
    place(i, last);
    if (rises)
        siftUp(i);
    else
        siftDown(i);
}

void TimerHeap::discardCancelledTop()
{
    // Without cancelled timers there is nothing to look at (a handle's cache line less per
    // expiry). Task entries are never cancelled in place.
    while (m_cancelled > 0 && !m_entries.empty() && !isTask(m_entries.front())
           && handleOf(m_entries.front())->cancelled()) {
        TimerHandleBase *h = handleOf(m_entries.front());
        removeAt(0);
        --m_cancelled;
        h->m_heapOwner = nullptr;
        h->deref();
    }
}

Ref<TimerHandleBase> TimerHeap::pop()
{
    const Entry top = m_entries.front();
    if (isTask(top)) {
        TaskCore *task = taskOf(top);
        task->m_heapIndex = kNotQueued;
        removeAt(0);
        return task->sleepTimerDue(top.when);
    }
    TimerHandleBase *h = handleOf(top);
    removeAt(0);
    h->m_heapOwner = nullptr;
    return Ref<TimerHandleBase>::adopt(h);
}

void TimerHeap::noteCancelled()
{
    ++m_cancelled;
    if (m_entries.size() > kMinSizeForCompaction && m_cancelled * 2 > m_entries.size())
        compact();
}

void TimerHeap::compact()
{
    std::vector<TimerHandleBase *> dropped;
    dropped.reserve(m_cancelled);
    auto live = std::remove_if(m_entries.begin(), m_entries.end(), [&](const Entry &e) {
        if (isTask(e) || !handleOf(e)->cancelled())
            return false;
        dropped.push_back(handleOf(e));
        return true;
    });
    m_entries.erase(live, m_entries.end());
    // The survivors moved: tell the tasks among them before the rebuild moves them again.
    for (std::size_t i = 0; i < m_entries.size(); ++i)
        place(i, m_entries[i]);
    for (std::size_t i = m_entries.size() / kArity + 1; i-- > 0;)
        if (i < m_entries.size())
            siftDown(i);
    m_cancelled = 0;
    // Deref last: a dropped callable's destructor may schedule new timers.
    for (TimerHandleBase *h : dropped) {
        h->m_heapOwner = nullptr;
        h->deref();
    }
}

void TimerHeap::clear() noexcept
{
    std::vector<Entry> entries;
    entries.swap(m_entries);
    m_cancelled = 0;
    for (const Entry &e : entries) {
        if (isTask(e))
            continue; // see clear()'s note: the task may be gone
        handleOf(e)->m_heapOwner = nullptr;
        handleOf(e)->deref();
    }
}

} // namespace loopscope::detail
