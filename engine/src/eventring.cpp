#include "eventring_p.h"

#include <algorithm>
#include <bit>
#include <cstring>

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
    // Word by word into locals, then into \a out as words. Copied through an array, the
    // tail came back as one 16-byte load of two 8-byte stores, which stalls the processor
    // (a failed store forwarding), and so did the caller's loads of the tail's bytes after
    // it: snapshot() of a full ring took 11 ns per event, 6.6 now.
    const std::uint64_t time = slot.words[0].load(std::memory_order_relaxed);
    const std::uint64_t duration = slot.words[1].load(std::memory_order_relaxed);
    const std::uint64_t id = slot.words[2].load(std::memory_order_relaxed);
    const std::uint64_t related = slot.words[3].load(std::memory_order_relaxed);
    const std::uint64_t aux = slot.words[4].load(std::memory_order_relaxed);
    const std::uint64_t tail0 = slot.words[5].load(std::memory_order_relaxed);
    const std::uint64_t tail1 = slot.words[6].load(std::memory_order_relaxed);
    // Orders the payload loads before the second sequence load (the reader half of the
    // seqlock): if the producer started overwriting, we see its odd or later sequence.
    std::atomic_thread_fence(std::memory_order_acquire);
    if (slot.sequence.load(std::memory_order_relaxed) != expected)
        return false;
    out.sequence = pos;
    out.time = std::int64_t(time);
    out.duration = std::int64_t(duration);
    out.id = id;
    out.related = related;
    out.aux = aux;
    std::memcpy(reinterpret_cast<char *>(&out) + kTailOffset, &tail0, 8);
    std::memcpy(reinterpret_cast<char *>(&out) + kTailOffset + 8, &tail1, 8);
    return true;
}

} // namespace loopscope::detail
