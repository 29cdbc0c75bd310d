#pragma once

#include "loopscope/recorder.h"
#include "loopscope/sourcelocation.h"

#include <QHash>
#include <QString>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace loopscope::detail {

/*!
 * The recorder's deduplicated strings, in a fixed number of slots.
 *
 * An index is (generation << kSlotBits) | slot, never 0, or kDefaultTaskName | task for the
 * name of an unnamed task, which takes no slot. A slot is reused only when no event
 * still in the ring refers to it (its last use is at least one ring capacity behind the
 * position being written); the generation changes on reuse so a stale index resolves to an
 * empty string instead of someone else's. When every slot is still referenced the string is
 * dropped (index 0) and counted.
 *
 * The producer (loop thread) owns the lookup maps and is the only writer; it takes the mutex
 * only to fill a slot. Readers on other threads take it to copy a string out.
 */
class StringTable
{
public:
    static constexpr int kSlotBits = 18;
    static constexpr std::uint32_t kSlotMask = (1u << kSlotBits) - 1;
    static constexpr std::size_t kMaxCapacity = kSlotMask;

    StringTable(std::size_t capacity, std::size_t maxLength, std::uint64_t ringCapacity);

    /*!
     * An index with this bit is not a slot: it stands for "Task-<n>", the name of an unnamed
     * task (TaskCore::name()), n being the index's other bits. The table does not store these
     * names. Every task has its own, so a loop running many short tasks interned, and later
     * evicted, one string per task: a third of what recording a task cost (issue 6).
     */
    static constexpr std::uint32_t kDefaultTaskName = 1u << 31;
    //! The name of unnamed task \a task.
    static QString defaultTaskName(std::uint64_t task);
    //! kDefaultTaskName | \a task when \a text is defaultTaskName(\a task); 0 when it is not,
    //! or when the index cannot hold \a task.
    static std::uint32_t defaultTaskNameIndex(const QString &text, std::uint64_t task) noexcept;

    // Producer only. \a pos is the ring position of the event that refers to the string.
    std::uint32_t internLocation(const SourceLocation &location, std::uint64_t pos)
    {
        // Callbacks come in runs from the same site (every step of tasks made in one place):
        // a repeat costs three compares, inline.
        if (m_lastLocationSlot && location.fileName() == m_lastLocation.file
            && location.line() == m_lastLocation.line
            && location.functionName() == m_lastLocation.function) {
            m_lastUsed[m_lastLocationSlot] = pos;
            return indexOf(m_lastLocationSlot);
        }
        return internNewLocation(location, pos);
    }
    std::uint32_t internText(const QString &text, std::uint64_t pos);
    //! Producer only: the string of \a index without locking (only the producer writes).
    QString producerString(std::uint32_t index) const;

    // Any thread.
    QString at(std::uint32_t index) const;
    //! Resolves every string \a events refer to under one lock.
    QHash<std::uint32_t, QString> resolve(const std::vector<RecordedEvent> &events) const;
    std::size_t size() const;
    std::uint64_t dropped() const noexcept { return m_dropped.load(std::memory_order_relaxed); }

    //! "file.cpp:12 (function)", or empty for a default-constructed location.
    static QString formatLocation(const SourceLocation &location);

private:
    struct LocationKey
    {
        const char *file = nullptr;
        const char *function = nullptr;
        std::uint_least32_t line = 0;
        bool operator==(const LocationKey &) const = default;
    };
    struct LocationKeyHash
    {
        std::size_t operator()(const LocationKey &k) const noexcept;
    };

    //! internLocation() for a site other than the last one.
    std::uint32_t internNewLocation(const SourceLocation &location, std::uint64_t pos);
    //! A free or reusable slot for a string first seen at \a pos, 0 when none.
    std::uint32_t acquireSlot(std::uint64_t pos);
    void fill(std::uint32_t slot, QString text);
    std::uint32_t indexOf(std::uint32_t slot) const noexcept
    {
        return m_generations[slot] << kSlotBits | slot;
    }
    QString atLocked(std::uint32_t index) const;

    const std::size_t m_capacity;
    const std::size_t m_maxLength;
    const std::uint64_t m_ringCapacity;

    // Written by the producer under the mutex, read by others under it.
    mutable std::mutex m_mutex;
    std::vector<QString> m_texts; // [0] unused: index 0 means "no string"
    std::vector<std::uint32_t> m_generations;
    std::size_t m_used = 0;
    std::atomic<std::uint64_t> m_dropped{ 0 };

    // Producer only.
    std::vector<std::uint64_t> m_lastUsed;
    std::vector<LocationKey> m_locationKeys; // file == nullptr: the slot holds a text
    std::unordered_map<LocationKey, std::uint32_t, LocationKeyHash> m_locations;
    QHash<QString, std::uint32_t> m_textSlots;
    std::uint32_t m_hand = 1;
    // internLocation()'s last site.
    LocationKey m_lastLocation;
    std::uint32_t m_lastLocationSlot = 0;
};

} // namespace loopscope::detail
