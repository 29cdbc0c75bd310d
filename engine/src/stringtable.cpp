#include "stringtable_p.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <functional>

namespace loopscope::detail {

namespace {
// How many slots one intern looks at for a reusable one before giving up: bounds the cost
// when the table is full of strings the ring still refers to.
constexpr int kReuseScan = 64;
// The top bit is kDefaultTaskName's.
constexpr std::uint32_t kGenerationMask = (1u << (31 - StringTable::kSlotBits)) - 1;
} // namespace

std::size_t StringTable::LocationKeyHash::operator()(const LocationKey &k) const noexcept
{
    // The strings are literals from __builtin_FILE/__builtin_FUNCTION: their addresses are
    // stable and identify them (a duplicate literal in another object file only costs a
    // second slot with the same text).
    const std::size_t a = std::hash<const void *>()(k.file);
    const std::size_t b = std::hash<const void *>()(k.function);
    return a ^ (b * 0x9e3779b97f4a7c15ull) ^ (std::size_t(k.line) << 17);
}

StringTable::StringTable(std::size_t capacity, std::size_t maxLength, std::uint64_t ringCapacity)
    : m_capacity(std::clamp<std::size_t>(capacity, 1, kMaxCapacity)),
      m_maxLength(std::max<std::size_t>(maxLength, 8)),
      m_ringCapacity(ringCapacity)
{
    // Everything is allocated up front: the table never grows while recording.
    m_texts.resize(m_capacity + 1);
    m_generations.assign(m_capacity + 1, 0);
    m_lastUsed.assign(m_capacity + 1, 0);
    m_locationKeys.resize(m_capacity + 1);
    m_locations.reserve(m_capacity);
    m_textSlots.reserve(qsizetype(m_capacity));
}

QString StringTable::defaultTaskName(std::uint64_t task)
{
    return QStringLiteral("Task-%1").arg(task);
}

std::uint32_t StringTable::defaultTaskNameIndex(const QString &text, std::uint64_t task) noexcept
{
    if (task == 0 || task >= kDefaultTaskName)
        return 0;
    // Compared in place: formatting the name to compare would cost what interning it did.
    char digits[24];
    const auto [end, error] = std::to_chars(digits, digits + sizeof digits, task);
    const auto count = qsizetype(end - digits);
    static constexpr char16_t kPrefix[] = u"Task-";
    constexpr qsizetype kPrefixSize = 5;
    if (error != std::errc() || text.size() != kPrefixSize + count)
        return 0;
    const QChar *c = text.constData();
    for (qsizetype i = 0; i < kPrefixSize; ++i)
        if (c[i].unicode() != kPrefix[i])
            return 0;
    for (qsizetype i = 0; i < count; ++i)
        if (c[kPrefixSize + i].unicode() != char16_t(digits[i]))
            return 0;
    return kDefaultTaskName | std::uint32_t(task);
}

QString StringTable::formatLocation(const SourceLocation &location)
{
    const char *file = location.fileName();
    if ((!file || !*file) && location.line() == 0)
        return {};
    const char *slash = file ? std::strrchr(file, '/') : nullptr;
    QString s = QString::fromUtf8(slash ? slash + 1 : file) + QLatin1Char(':')
            + QString::number(location.line());
    const char *function = location.functionName();
    if (function && *function)
        s += QStringLiteral(" (") + QString::fromUtf8(function) + QLatin1Char(')');
    return s;
}

std::uint32_t StringTable::internNewLocation(const SourceLocation &location, std::uint64_t pos)
{
    const LocationKey key{ location.fileName(), location.functionName(), location.line() };
    if (!key.file && key.line == 0)
        return 0;
    std::uint32_t slot = 0;
    if (auto it = m_locations.find(key); it != m_locations.end()) {
        slot = it->second;
    } else {
        QString text = formatLocation(location);
        if (text.isEmpty())
            return 0;
        slot = acquireSlot(pos);
        if (!slot)
            return 0;
        m_locationKeys[slot] = key;
        m_locations.emplace(key, slot);
        fill(slot, std::move(text));
    }
    m_lastLocation = key;
    m_lastLocationSlot = slot;
    m_lastUsed[slot] = pos;
    return indexOf(slot);
}

std::uint32_t StringTable::internText(const QString &text, std::uint64_t pos)
{
    if (text.isEmpty())
        return 0;
    QString cut = text;
    if (std::size_t(cut.size()) > m_maxLength) {
        cut.truncate(qsizetype(m_maxLength) - 1);
        cut += QChar(0x2026); // ellipsis
    }
    std::uint32_t slot = m_textSlots.value(cut, 0);
    if (!slot) {
        slot = acquireSlot(pos);
        if (!slot)
            return 0;
        m_locationKeys[slot] = LocationKey{};
        m_textSlots.insert(cut, slot);
        fill(slot, std::move(cut));
    }
    m_lastUsed[slot] = pos;
    return indexOf(slot);
}

std::uint32_t StringTable::acquireSlot(std::uint64_t pos)
{
    if (m_used < m_capacity) {
        // m_used is read by other threads under the mutex (size()).
        std::lock_guard lock(m_mutex);
        return std::uint32_t(++m_used);
    }
    for (int i = 0; i < kReuseScan; ++i) {
        const std::uint32_t slot = m_hand;
        m_hand = m_hand >= m_capacity ? 1 : m_hand + 1;
        if (m_lastUsed[slot] + m_ringCapacity > pos)
            continue; // an event in the ring may still refer to it
        if (m_locationKeys[slot].file || m_locationKeys[slot].line) {
            m_locations.erase(m_locationKeys[slot]);
            if (m_lastLocationSlot == slot)
                m_lastLocationSlot = 0;
        } else {
            m_textSlots.remove(m_texts[slot]);
        }
        return slot;
    }
    m_dropped.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

void StringTable::fill(std::uint32_t slot, QString text)
{
    std::lock_guard lock(m_mutex);
    m_texts[slot] = std::move(text);
    m_generations[slot] = (m_generations[slot] + 1) & kGenerationMask;
}

QString StringTable::producerString(std::uint32_t index) const
{
    // The producer is the only writer: it reads what it wrote without the lock.
    return atLocked(index);
}

QString StringTable::atLocked(std::uint32_t index) const
{
    if (index & kDefaultTaskName)
        return defaultTaskName(index & ~kDefaultTaskName);
    const std::uint32_t slot = index & kSlotMask;
    if (!slot || slot > m_capacity || indexOf(slot) != index)
        return {};
    return m_texts[slot];
}

QString StringTable::at(std::uint32_t index) const
{
    if (!index)
        return {};
    if (index & kDefaultTaskName)
        return atLocked(index); // no slot: nothing to lock
    std::lock_guard lock(m_mutex);
    return atLocked(index);
}

QHash<std::uint32_t, QString> StringTable::resolve(const std::vector<RecordedEvent> &events) const
{
    QHash<std::uint32_t, QString> out;
    std::lock_guard lock(m_mutex);
    for (const RecordedEvent &e : events) {
        for (std::uint32_t index : { e.text, e.location }) {
            if (index && !out.contains(index))
                out.insert(index, atLocked(index));
        }
    }
    return out;
}

std::size_t StringTable::size() const
{
    std::lock_guard lock(m_mutex);
    return m_used;
}

} // namespace loopscope::detail
