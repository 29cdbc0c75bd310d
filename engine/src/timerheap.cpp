#include "timerheap_p.h"

#include <algorithm>

namespace loopscope::detail {

void TimerHeap::push(Ref<HandleBase> handle, LoopCore *owner)
{
    HandleBase *h = handle.release();
    h->m_sequence = m_nextSequence++;
    h->m_heapOwner = owner;
    m_entries.push_back(Entry{ h->m_when, h->m_sequence, h });
    std::push_heap(m_entries.begin(), m_entries.end(), Later{});
}

void TimerHeap::discardCancelledTop()
{
    while (!m_entries.empty() && m_entries.front().handle->cancelled()) {
        std::pop_heap(m_entries.begin(), m_entries.end(), Later{});
        HandleBase *h = m_entries.back().handle;
        m_entries.pop_back();
        --m_cancelled;
        h->m_heapOwner = nullptr;
        h->deref();
    }
}

Ref<HandleBase> TimerHeap::pop()
{
    std::pop_heap(m_entries.begin(), m_entries.end(), Later{});
    HandleBase *h = m_entries.back().handle;
    m_entries.pop_back();
    h->m_heapOwner = nullptr;
    return Ref<HandleBase>::adopt(h);
}

void TimerHeap::noteCancelled()
{
    ++m_cancelled;
    if (m_entries.size() > kMinSizeForCompaction && m_cancelled * 2 > m_entries.size())
        compact();
}

void TimerHeap::compact()
{
    std::vector<HandleBase *> dropped;
    dropped.reserve(m_cancelled);
    auto live = std::remove_if(m_entries.begin(), m_entries.end(), [&](const Entry &e) {
        if (!e.handle->cancelled())
            return false;
        dropped.push_back(e.handle);
        return true;
    });
    m_entries.erase(live, m_entries.end());
    std::make_heap(m_entries.begin(), m_entries.end(), Later{});
    m_cancelled = 0;
    // Deref last: a dropped callable's destructor may schedule new timers.
    for (HandleBase *h : dropped) {
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
        e.handle->m_heapOwner = nullptr;
        e.handle->deref();
    }
}

} // namespace loopscope::detail
