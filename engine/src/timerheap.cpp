#include "timerheap_p.h"

#include <algorithm>

namespace loopscope::detail {

void TimerHeap::push(Ref<HandleBase> handle, LoopCore *owner)
{
    HandleBase *h = handle.release();
    h->m_sequence = m_nextSequence++;
    h->m_heapOwner = owner;
    m_entries.push_back(Entry{ h->m_when, h->m_sequence, h });
    siftUp(m_entries.size() - 1);
}

void TimerHeap::siftUp(std::size_t i) noexcept
{
    const Entry moving = m_entries[i];
    while (i > 0) {
        const std::size_t parent = (i - 1) / kArity;
        if (!earlier(moving, m_entries[parent]))
            break;
        m_entries[i] = m_entries[parent];
        i = parent;
    }
    m_entries[i] = moving;
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
        m_entries[i] = m_entries[best];
        i = best;
    }
    m_entries[i] = moving;
}

void TimerHeap::removeTop() noexcept
{
    m_entries.front() = m_entries.back();
    m_entries.pop_back();
    if (!m_entries.empty())
        siftDown(0);
}

void TimerHeap::discardCancelledTop()
{
    // Without cancelled timers there is nothing to look at (a handle's cache line less per
    // expiry).
    while (m_cancelled > 0 && !m_entries.empty() && m_entries.front().handle->cancelled()) {
        HandleBase *h = m_entries.front().handle;
        removeTop();
        --m_cancelled;
        h->m_heapOwner = nullptr;
        h->deref();
    }
}

Ref<HandleBase> TimerHeap::pop()
{
    HandleBase *h = m_entries.front().handle;
    removeTop();
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
    for (std::size_t i = m_entries.size() / kArity + 1; i-- > 0;)
        if (i < m_entries.size())
            siftDown(i);
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
