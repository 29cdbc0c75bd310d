#include "eventring_p.h"

#include <algorithm>
#include <bit>

namespace loopscope::detail {

EventRing::EventRing(std::size_t capacity)
    : m_mask(std::bit_ceil(std::max<std::uint64_t>(capacity, 16)) - 1)
{
    m_slots.reset(new Slot[m_mask + 1]);
}

bool EventRing::read(std::uint64_t pos, RecordedEvent &out) const noexcept
{
    const Slot &slot = m_slots[pos & m_mask];
    const std::uint64_t expected = 2 * pos + 2;
    if (slot.sequence.load(std::memory_order_acquire) != expected)
        return false;
    std::uint64_t w[kWords];
    for (int i = 0; i < kWords; ++i)
        w[i] = slot.words[i].load(std::memory_order_relaxed);
    // Orders the payload loads before the second sequence load (the reader half of the
    // seqlock): if the producer started overwriting, we see its odd or later sequence.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (slot.sequence.load(std::memory_order_relaxed) != expected)
        return false;
    out.sequence = pos;
    out.time = std::int64_t(w[0]);
    out.duration = std::int64_t(w[1]);
    out.id = w[2];
    out.related = w[3];
    out.aux = w[4];
    std::memcpy(reinterpret_cast<char *>(&out) + kTailOffset, &w[5], 16);
    return true;
}

} // namespace loopscope::detail
