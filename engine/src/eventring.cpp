#include "eventring_p.h"

#include <algorithm>
#include <bit>

namespace loopscope::detail {

namespace {

std::uint64_t packFlags(const RecordedEvent &e) noexcept
{
    return std::uint64_t(e.kind) | std::uint64_t(e.handleKind) << 8
            | std::uint64_t(e.futureKind) << 16 | std::uint64_t(e.status) << 24
            | std::uint64_t(e.failed ? 1 : 0) << 32 | std::uint64_t(e.yielded ? 1 : 0) << 33;
}

void unpackFlags(std::uint64_t w, RecordedEvent &e) noexcept
{
    e.kind = static_cast<TraceEventKind>(w & 0xff);
    e.handleKind = static_cast<HandleKind>((w >> 8) & 0xff);
    e.futureKind = static_cast<FutureKind>((w >> 16) & 0xff);
    e.status = static_cast<DoneStatus>((w >> 24) & 0xff);
    e.failed = ((w >> 32) & 1) != 0;
    e.yielded = ((w >> 33) & 1) != 0;
}

} // namespace

EventRing::EventRing(std::size_t capacity)
    : m_mask(std::bit_ceil(std::max<std::uint64_t>(capacity, 16)) - 1)
{
    m_slots.reset(new Slot[m_mask + 1]);
}

void EventRing::push(const RecordedEvent &e) noexcept
{
    const std::uint64_t pos = m_head.load(std::memory_order_relaxed);
    Slot &slot = m_slots[pos & m_mask];
    slot.sequence.store(2 * pos + 1, std::memory_order_relaxed);
    // Orders the odd sequence before the payload: a reader that sees any new payload word
    // then sees the sequence changed when it checks again.
    std::atomic_thread_fence(std::memory_order_release);
    slot.words[0].store(std::uint64_t(e.time), std::memory_order_relaxed);
    slot.words[1].store(std::uint64_t(e.duration), std::memory_order_relaxed);
    slot.words[2].store(e.id, std::memory_order_relaxed);
    slot.words[3].store(e.related, std::memory_order_relaxed);
    slot.words[4].store(e.aux, std::memory_order_relaxed);
    slot.words[5].store(std::uint64_t(e.text) | std::uint64_t(e.location) << 32,
                        std::memory_order_relaxed);
    slot.words[6].store(packFlags(e), std::memory_order_relaxed);
    slot.sequence.store(2 * pos + 2, std::memory_order_release);
    m_head.store(pos + 1, std::memory_order_release);
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
    out.text = std::uint32_t(w[5] & 0xffffffffu);
    out.location = std::uint32_t(w[5] >> 32);
    unpackFlags(w[6], out);
    return true;
}

} // namespace loopscope::detail
