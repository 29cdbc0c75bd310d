#include "loopscope/handle.h"

#include "eventloop_p.h"

#include <sanitizer/asan_interface.h>

#include <algorithm>
#include <array>
#include <new>
#include <utility>

namespace loopscope {

const char *handleKindName(HandleKind kind)
{
    switch (kind) {
    case HandleKind::CallSoon:
        return "callSoon";
    case HandleKind::CallLater:
        return "callLater";
    case HandleKind::Threadsafe:
        return "callSoonThreadsafe";
    case HandleKind::DoneCallback:
        return "doneCallback";
    case HandleKind::TaskStep:
        return "taskStep";
    case HandleKind::Internal:
        return "internal";
    }
    return "unknown";
}

namespace detail {

// --- the small-object pool ---------------------------------------------------------------

namespace {

// Size classes of 16 * c + 8 bytes (8, 24, 40 ... 504): malloc adds an 8-byte header and
// rounds the chunk up to 16, so a block of 16 * c + 8 bytes fills its chunk exactly, where a
// 16 * c one took a chunk 16 bytes bigger (a 168-byte task was a 192-byte chunk, not 176).
constexpr std::size_t kGranule = 16;
constexpr std::size_t kClassCount = 32; // blocks up to 504 bytes
// What a thread keeps per size class for reuse: enough for the working set of a busy loop
// (10,000 tasks each with a step handle in flight), bounded so that a burst of a million
// callbacks does not stay cached for the rest of the thread's life.
constexpr std::size_t kMaxCachedBlocks = 16384;
constexpr std::size_t kMaxCachedBytes = std::size_t(2) << 20;

constexpr std::size_t sizeClassOf(std::size_t size) noexcept
{
    return (size + 7) / kGranule;
}

constexpr std::size_t blockSize(std::size_t sizeClass) noexcept
{
    return sizeClass * kGranule + 8;
}

struct FreeBlock
{
    FreeBlock *next;
};

// Beyond the steady lists: what a burst left behind, kept for the next one (see
// refcounted.h). Bounded so that a runaway producer cannot pin the whole machine.
constexpr std::size_t kMaxBurstBytes = std::size_t(256) << 20;

// Trivially destructible, so still usable while the thread's other thread_local objects are
// destroyed (a handle may die in one of their destructors): once `closed`, blocks go
// straight back to the global heap.
struct ThreadPool
{
    FreeBlock *head[kClassCount];
    std::uint32_t count[kClassCount];
    FreeBlock *burstHead[kClassCount];
    std::size_t burstBytes; // blocks in the burst lists plus the spare buffer
    void *spareBuffer;
    std::size_t spareBytes;
    bool reaperArmed;
    bool closed;
};
thread_local ThreadPool t_pool{};

//! Frees the thread's cached blocks when the thread ends.
struct PoolReaper
{
    bool armed = false;
    ~PoolReaper()
    {
        t_pool.closed = true;
        for (std::size_t c = 0; c < kClassCount; ++c) {
            while (FreeBlock *b = t_pool.head[c]) {
                ASAN_UNPOISON_MEMORY_REGION(b, blockSize(c));
                t_pool.head[c] = b->next;
                ::operator delete(b);
            }
            t_pool.count[c] = 0;
        }
        poolReleaseBurstCache();
    }
};
thread_local PoolReaper t_reaper;

void armReaper() noexcept
{
    if (!t_pool.reaperArmed) [[unlikely]] {
        t_pool.reaperArmed = true;
        t_reaper.armed = true; // first use constructs it: its destructor runs at thread exit
    }
}

constexpr std::size_t maxCachedOf(std::size_t sizeClass) noexcept
{
    return std::min(kMaxCachedBlocks, kMaxCachedBytes / (blockSize(sizeClass) + 8));
}

// A table, not a division on every free: poolFree() runs once per callback of a burst.
constexpr auto kMaxCached = [] {
    std::array<std::uint32_t, kClassCount> table{};
    for (std::size_t c = 0; c < kClassCount; ++c)
        table[c] = std::uint32_t(maxCachedOf(c));
    return table;
}();

} // namespace

void *poolAllocate(std::size_t size)
{
    const std::size_t c = sizeClassOf(size);
    if (c >= kClassCount)
        return ::operator new(size);
    if (FreeBlock *b = t_pool.head[c]) {
        ASAN_UNPOISON_MEMORY_REGION(b, blockSize(c));
        t_pool.head[c] = b->next;
        --t_pool.count[c];
        return b;
    }
    if (FreeBlock *b = t_pool.burstHead[c]) {
        ASAN_UNPOISON_MEMORY_REGION(b, blockSize(c));
        t_pool.burstHead[c] = b->next;
        t_pool.burstBytes -= blockSize(c);
        return b;
    }
    return ::operator new(blockSize(c));
}

void poolFree(void *block, std::size_t size) noexcept
{
    const std::size_t c = sizeClassOf(size);
    if (c >= kClassCount || t_pool.closed) {
        ::operator delete(block);
        return;
    }
    armReaper();
    auto *b = static_cast<FreeBlock *>(block);
    if (t_pool.count[c] < kMaxCached[c]) [[likely]] {
        b->next = t_pool.head[c];
        t_pool.head[c] = b;
        ++t_pool.count[c];
    } else if (t_pool.burstBytes + blockSize(c) <= kMaxBurstBytes) {
        b->next = t_pool.burstHead[c];
        t_pool.burstHead[c] = b;
        t_pool.burstBytes += blockSize(c);
    } else {
        ::operator delete(block);
        return;
    }
    // Under ASan a stale pointer into a recycled block is still reported as a use after free.
    ASAN_POISON_MEMORY_REGION(b, blockSize(c));
}

bool poolHoldsBurstCache() noexcept
{
    return t_pool.burstBytes != 0;
}

void poolReleaseBurstCache() noexcept
{
    for (std::size_t c = 0; c < kClassCount; ++c) {
        while (FreeBlock *b = t_pool.burstHead[c]) {
            ASAN_UNPOISON_MEMORY_REGION(b, blockSize(c));
            t_pool.burstHead[c] = b->next;
            ::operator delete(b);
        }
    }
    if (t_pool.spareBuffer) {
        ASAN_UNPOISON_MEMORY_REGION(t_pool.spareBuffer, t_pool.spareBytes);
        ::operator delete(std::exchange(t_pool.spareBuffer, nullptr));
    }
    t_pool.spareBytes = 0;
    t_pool.burstBytes = 0;
}

void *poolTakeBuffer(std::size_t minBytes, std::size_t &bytes) noexcept
{
    if (!t_pool.spareBuffer || t_pool.spareBytes < minBytes)
        return nullptr;
    bytes = std::exchange(t_pool.spareBytes, 0);
    t_pool.burstBytes -= bytes;
    ASAN_UNPOISON_MEMORY_REGION(t_pool.spareBuffer, bytes);
    return std::exchange(t_pool.spareBuffer, nullptr);
}

void poolStashBuffer(void *buffer, std::size_t bytes) noexcept
{
    if (t_pool.closed || bytes <= t_pool.spareBytes
        || t_pool.burstBytes - t_pool.spareBytes + bytes > kMaxBurstBytes) {
        ::operator delete(buffer);
        return;
    }
    armReaper();
    if (t_pool.spareBuffer) {
        ASAN_UNPOISON_MEMORY_REGION(t_pool.spareBuffer, t_pool.spareBytes);
        ::operator delete(t_pool.spareBuffer);
        t_pool.burstBytes -= t_pool.spareBytes;
    }
    t_pool.spareBuffer = buffer;
    t_pool.spareBytes = bytes;
    t_pool.burstBytes += bytes;
    ASAN_POISON_MEMORY_REGION(buffer, bytes);
}

// --- handles ------------------------------------------------------------------------------

namespace {
// post_burst's callback captures three references. Its handle fits a 72-byte block (size
// class 4); with the timer fields in every handle it took a 104-byte one, with the task id an
// 88-byte one, and a burst of a million callbacks is memory-bound. tst_alloc checks the same
// on the bench's own lambda.
struct ThreeReferences
{
    void *a, *b, *c;
    void operator()() const noexcept { }
};
static_assert(sizeof(CallbackHandle<ThreeReferences>) <= 72,
              "a callSoon handle with a 24-byte capture no longer fits a 72-byte pool block");
static_assert(sizeof(TaskBoundHandleBase) == sizeof(HandleBase) + 8,
              "the task id belongs in TaskBoundHandleBase only");
static_assert(sizeof(TimerHandleBase) == sizeof(HandleBase) + 16,
              "the timer fields belong in TimerHandleBase only");
} // namespace

std::string describeLocation(const SourceLocation &loc)
{
    std::string file = loc.fileName() ? loc.fileName() : "";
    const auto slash = file.find_last_of('/');
    if (slash != std::string::npos)
        file = file.substr(slash + 1);
    if (file.empty())
        return "unknown location";
    return file + ":" + std::to_string(loc.line());
}

std::string HandleBase::describe() const
{
    std::string s = "<Handle ";
    s += handleKindName(kind());
    if (m_cancelled)
        s += " cancelled";
    s += " created at ";
    s += describeLocation(m_location);
    s += ">";
    return s;
}

void HandleBase::releaseAfterRun() noexcept
{
    // A handle runs at most once: drop what the callable captured now rather than when the
    // last Handle copy goes away (a callback that holds its own handle would otherwise
    // keep itself alive forever).
    releaseCallback();
}

void HandleBase::cancel() noexcept
{
    if (m_cancelled)
        return;
    m_cancelled = true;
    cancelQueued();
    // A callback that cancels its own handle must not destroy the closure it runs in:
    // the loop releases it after run() returns instead.
    if (!m_running)
        releaseCallback();
}

void TimerHandleBase::cancelQueued() noexcept
{
    if (m_heapOwner)
        m_heapOwner->timerCancelled(*this);
}

} // namespace detail
} // namespace loopscope
