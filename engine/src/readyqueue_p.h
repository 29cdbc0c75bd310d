#pragma once

#include "loopscope/handle.h"

#include <deque>

namespace loopscope::detail {

//! The FIFO of callbacks ready to run (Python: loop._ready). Holds one reference per entry.
class ReadyQueue
{
public:
    ReadyQueue() = default;
    ReadyQueue(const ReadyQueue &) = delete;
    ReadyQueue &operator=(const ReadyQueue &) = delete;
    ~ReadyQueue() { clear(); }

    bool empty() const noexcept { return m_items.empty(); }
    std::size_t size() const noexcept { return m_items.size(); }

    void push(Ref<HandleBase> handle) { m_items.push_back(handle.release()); }
    Ref<HandleBase> pop()
    {
        HandleBase *h = m_items.front();
        m_items.pop_front();
        return Ref<HandleBase>::adopt(h);
    }
    template <typename F>
    void forEach(F &&fn) const
    {
        for (const HandleBase *h : m_items)
            fn(*h);
    }
    void clear() noexcept
    {
        // Dropping a handle may run destructors that schedule more work; take the items
        // out first so that never touches a half-cleared container.
        std::deque<HandleBase *> items;
        items.swap(m_items);
        for (HandleBase *h : items)
            h->deref();
    }

private:
    std::deque<HandleBase *> m_items;
};

} // namespace loopscope::detail
