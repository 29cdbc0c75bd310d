#pragma once

#include "loopscope/handle.h"

#include <bit>
#include <cstddef>
#include <new>
#include <memory>
#include <utility>

namespace loopscope::detail {

/*!
 * The FIFO of callbacks ready to run (Python: loop._ready). Holds one reference per entry.
 *
 * A ring buffer whose capacity only doubles: a std::deque allocates and frees a block every
 * 64 entries as the queue moves along, which was an allocation per 64 callSoon in a warm
 * loop. A ring grown large by a burst is let go of once the queue drains: it goes to the
 * thread's burst cache (poolStashBuffer()), where the next burst finds it instead of growing
 * through every size again -- with a fresh mmap and its page faults each time.
 */
class ReadyQueue
{
public:
    ReadyQueue() = default;
    ReadyQueue(const ReadyQueue &) = delete;
    ReadyQueue &operator=(const ReadyQueue &) = delete;
    ~ReadyQueue() { clear(); }

    bool empty() const noexcept { return m_size == 0; }
    std::size_t size() const noexcept { return m_size; }

    void push(Ref<HandleBase> handle)
    {
        if (m_size == m_capacity) [[unlikely]]
            grow();
        m_ring[(m_head + m_size) & (m_capacity - 1)] = handle.release();
        ++m_size;
    }
    Ref<HandleBase> pop() noexcept
    {
        HandleBase *h = m_ring[m_head];
        m_head = (m_head + 1) & (m_capacity - 1);
        if (--m_size == 0 && m_capacity > kKeptCapacity) [[unlikely]]
            release();
        return Ref<HandleBase>::adopt(h);
    }
    template <typename F>
    void forEach(F &&fn) const
    {
        for (std::size_t i = 0; i < m_size; ++i)
            fn(*m_ring[(m_head + i) & (m_capacity - 1)]);
    }
    void clear() noexcept
    {
        // Dropping a handle may run destructors that schedule more work; take the items
        // out first so that never touches a half-cleared queue.
        HandleBase **ring = std::exchange(m_ring, nullptr);
        const std::size_t head = m_head, size = m_size, capacity = m_capacity;
        m_head = m_size = m_capacity = 0;
        for (std::size_t i = 0; i < size; ++i)
            ring[(head + i) & (capacity - 1)]->deref();
        letGo(ring, capacity);
    }

private:
    static constexpr std::size_t kInitialCapacity = 64;
    static constexpr std::size_t kKeptCapacity = 4096; // 32 KiB

    void grow()
    {
        std::size_t capacity = m_capacity ? m_capacity * 2 : kInitialCapacity;
        HandleBase **ring = nullptr;
        if (capacity > kKeptCapacity) {
            // A burst: the last one's buffer, if kept, is big enough for several doublings.
            std::size_t bytes = 0;
            ring = static_cast<HandleBase **>(poolTakeBuffer(capacity * sizeof(void *), bytes));
            if (ring)
                capacity = std::bit_floor(bytes / sizeof(void *));
        }
        if (!ring)
            ring = static_cast<HandleBase **>(::operator new(capacity * sizeof(void *)));
        for (std::size_t i = 0; i < m_size; ++i)
            ring[i] = m_ring[(m_head + i) & (m_capacity - 1)];
        letGo(std::exchange(m_ring, ring), m_capacity);
        m_head = 0;
        m_capacity = capacity;
    }
    void release() noexcept
    {
        letGo(std::exchange(m_ring, nullptr), m_capacity);
        m_head = m_capacity = 0;
    }
    static void letGo(HandleBase **ring, std::size_t capacity) noexcept
    {
        if (!ring)
            return;
        if (capacity > kKeptCapacity)
            poolStashBuffer(ring, capacity * sizeof(void *));
        else
            ::operator delete(ring);
    }

    HandleBase **m_ring = nullptr;
    std::size_t m_head = 0;
    std::size_t m_size = 0;
    std::size_t m_capacity = 0; //!< 0 or a power of two
};

} // namespace loopscope::detail
