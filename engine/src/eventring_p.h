#pragma once

#include "loopscope/recorder.h"

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
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
    //! Producer only. Inline: it is a tenth of a recorded task switch.
    void push(const RecordedEvent &e) noexcept
    {
        pushWords(e.time, e.duration, e.id, e.related, e.aux, tailWord(e, 0), tailWord(e, 1));
    }
    /*!
     * Producer only: push() of an event given as its words, the last two as packText()
     * and packFlags() make them. For events built in registers (RecorderSink::pushHot()):
     * copying the tail out of a RecordedEvent just written byte by byte makes the processor
     * wait for the byte stores before it can load the word (a failed store-to-load
     * forwarding), five times per recorded task switch.
     */
    void pushWords(std::int64_t time, std::int64_t duration, std::uint64_t id,
                   std::uint64_t related, std::uint64_t aux, std::uint64_t tail0,
                   std::uint64_t tail1) noexcept
    {
        const std::uint64_t pos = m_head.load(std::memory_order_relaxed);
        Slot &slot = m_slots[pos & m_mask];
        slot.sequence.store(2 * pos + 1, std::memory_order_relaxed);
        // Orders the odd sequence before the payload: a reader that sees any new payload
        // word then sees the sequence changed when it checks again.
        std::atomic_thread_fence(std::memory_order_release);
        slot.words[0].store(std::uint64_t(time), std::memory_order_relaxed);
        slot.words[1].store(std::uint64_t(duration), std::memory_order_relaxed);
        slot.words[2].store(id, std::memory_order_relaxed);
        slot.words[3].store(related, std::memory_order_relaxed);
        slot.words[4].store(aux, std::memory_order_relaxed);
        slot.words[5].store(tail0, std::memory_order_relaxed);
        slot.words[6].store(tail1, std::memory_order_relaxed);
        slot.sequence.store(2 * pos + 2, std::memory_order_release);
        m_head.store(pos + 1, std::memory_order_release);
    }
    //! The tail words of an event (its strings, kind and flags) as they lie in a
    //! RecordedEvent, computed in registers (little-endian: the first byte is the low one).
    static std::uint64_t packText(std::uint32_t text, std::uint32_t location) noexcept
    {
        return std::uint64_t(text) | (std::uint64_t(location) << 32);
    }
    static std::uint64_t packFlags(TraceEventKind kind, HandleKind handleKind,
                                   FutureKind futureKind, DoneStatus status, bool failed,
                                   bool yielded) noexcept
    {
        return std::uint64_t(kind) | (std::uint64_t(handleKind) << 8)
                | (std::uint64_t(futureKind) << 16) | (std::uint64_t(status) << 24)
                | (std::uint64_t(failed) << 32) | (std::uint64_t(yielded) << 40);
    }

    //! Any thread: how many events were pushed (all positions below it are complete).
    std::uint64_t published() const noexcept { return m_head.load(std::memory_order_acquire); }
    //! Any thread: copies event \a pos into \a out; false when it was overwritten.
    bool read(std::uint64_t pos, RecordedEvent &out) const noexcept;

private:
    //! The last 16 bytes of \a e (strings, kind and flags) as two words, copied as they lie:
    //! packing them field by field cost more than the rest of push().
    static std::uint64_t tailWord(const RecordedEvent &e, int which) noexcept
    {
        std::uint64_t w;
        std::memcpy(&w, reinterpret_cast<const char *>(&e) + kTailOffset + 8 * which, 8);
        return w;
    }
    static constexpr std::size_t kTailOffset = offsetof(RecordedEvent, text);
    static_assert(std::endian::native == std::endian::little
                          && offsetof(RecordedEvent, handleKind) == kTailOffset + 9
                          && offsetof(RecordedEvent, futureKind) == kTailOffset + 10
                          && offsetof(RecordedEvent, status) == kTailOffset + 11
                          && offsetof(RecordedEvent, failed) == kTailOffset + 12
                          && offsetof(RecordedEvent, yielded) == kTailOffset + 13,
                  "packText() and packFlags() build the tail as RecordedEvent lays it out");
    static_assert(offsetof(RecordedEvent, location) == kTailOffset + 4
                          && offsetof(RecordedEvent, kind) == kTailOffset + 8
                          && sizeof(RecordedEvent) == kTailOffset + 16,
                  "push() copies text .. reserved as two words");
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
