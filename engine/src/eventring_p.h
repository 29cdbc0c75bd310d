#pragma once

#include "loopscope/recorder.h"

#include <atomic>
#include <cstdint>
#include <memory>

namespace loopscope::detail {

/*!
 * The recorder's ring: one producer (the loop thread) that never waits, readers on any
 * thread that never block it.
 *
 * The producer always writes: when the ring is full it overwrites the oldest slot. Each slot
 * is a sequence lock (Boehm, "Can seqlocks get along with programming language memory
 * models?", 2012): the slot's sequence word is odd while the producer writes it and 2*pos+2
 * once it holds event number pos. A reader copies the words and checks the sequence word
 * before and after; any change means the producer lapped it and the event is lost (counted
 * as dropped), never torn. Every payload word is a relaxed atomic, so there is no data race
 * in the C++ sense and the producer's cost is a handful of plain stores on x86.
 */
class EventRing
{
public:
    explicit EventRing(std::size_t capacity);

    std::size_t capacity() const noexcept { return std::size_t(m_mask + 1); }

    //! Producer only: the position the next push() writes.
    std::uint64_t nextPosition() const noexcept { return m_head.load(std::memory_order_relaxed); }
    //! Producer only.
    void push(const RecordedEvent &event) noexcept;

    //! Any thread: how many events were pushed (all positions below it are complete).
    std::uint64_t published() const noexcept { return m_head.load(std::memory_order_acquire); }
    //! Any thread: copies event \a pos into \a out; false when it was overwritten.
    bool read(std::uint64_t pos, RecordedEvent &out) const noexcept;

private:
    static constexpr int kWords = 7;
    // One cache line per event: the producer never shares a line between two slots.
    struct alignas(64) Slot
    {
        std::atomic<std::uint64_t> sequence{ 0 };
        std::atomic<std::uint64_t> words[kWords]{};
    };

    std::unique_ptr<Slot[]> m_slots;
    std::uint64_t m_mask;
    // Its own line: readers poll it while the producer bumps it after every event.
    alignas(64) std::atomic<std::uint64_t> m_head{ 0 };
};

} // namespace loopscope::detail
