#include "loopscope/handle.h"

#include "eventloop_p.h"

#include <sanitizer/asan_interface.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
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

// --- chunks: where the pool's blocks come from ---------------------------------------------
//
// A block the free lists cannot supply is carved from a 2 MiB chunk mapped for its size
// class, not malloc'd one by one. From a thread's second chunk of a class on, the chunk is
// advised onto a transparent huge page (MADV_HUGEPAGE): a burst of a million handles then
// spans 40 translations instead of 20,000. On this project's VMs the difference was most of
// post_burst's cost: once the kernel had taken pages back (malloc_trim, or glibc trimming
// its heap after a million Qt events), each 4 KiB page of the pool cost a translation fault
// of the hypervisor's, invisible to the process (no page fault counted), and a callback of
// a repeated burst went from 25 to 130-160 ns. A thread's first chunk of a class gets no
// advice: a small program keeps its small footprint (only the pages it touches).
//
// A block given back beyond the caches returns to its chunk, which is unmapped once all its
// blocks came back; the thread carving it holds a biased reference until it moves on to a
// new chunk (nothing to count per carved block). Until then the chunk lends the blocks given
// back to the next thread of its size class that runs out of carving, before a new chunk is
// mapped: one long-lived object must not strand the rest of its chunk. Chunks are per size
// class, so that one class's long-lived objects (sleeping frames) do not pin another's
// chunks (their first steps' handles).
//
// Under AddressSanitizer the blocks come from operator new as before: its redzones between
// heap blocks, and its leak check, see the pool's objects.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUseChunks = false;
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
constexpr bool kUseChunks = false;
#  else
constexpr bool kUseChunks = true;
#  endif
#else
constexpr bool kUseChunks = true;
#endif

constexpr std::size_t kChunkBytes = std::size_t(2) << 20;
//! What a block of size class \a c takes from a chunk: blocks are 16-byte aligned, as
//! operator new's are (a coroutine frame may hold 16-byte-aligned locals), so a 72-byte block
//! takes 80 bytes, which is also what malloc's chunk for it took.
constexpr std::size_t carveSize(std::size_t sizeClass) noexcept
{
    return blockSize(sizeClass) + 8;
}
constexpr std::size_t kChunkHeaderBytes = 64; // the header keeps a line of its own
// User-space addresses on x86-64 and AArch64 (the chunk map covers no more).
constexpr unsigned kAddressBits = 47;
constexpr std::uint64_t kChunkBias = std::uint64_t(1) << 40;

struct FreeBlock
{
    FreeBlock *next;
};

//! At the start of each chunk. All but sizeClass are under the class's lock (ClassChunks).
struct ChunkHeader
{
    //! kChunkBias while a thread carves it, minus what it did not carve when it moved on,
    //! minus the blocks given back and not taken again: 0 when the chunk is free.
    std::uint64_t refs = kChunkBias;
    //! Blocks given back, for the class's next carve to take before it maps a chunk: one
    //! long-lived object must not pin a chunk whose other blocks nobody could use again.
    FreeBlock *free = nullptr;
    std::uint64_t freeCount = 0;
    //! In the class's list of chunks with given-back blocks (ClassChunks::partial).
    ChunkHeader *prev = nullptr;
    ChunkHeader *next = nullptr;
    bool listed = false;
    std::uint32_t sizeClass = 0;
};
static_assert(sizeof(ChunkHeader) <= kChunkHeaderBytes);

//! A size class's chunks that hold given-back blocks, and the lock for every chunk's
//! bookkeeping of that class. Taken only off the fast paths: when a thread's caches are full
//! or given back, and when a carving chunk runs out.
struct ClassChunks
{
    std::mutex lock;
    ChunkHeader *partial = nullptr;

    void list(ChunkHeader *h) noexcept
    {
        h->prev = nullptr;
        h->next = partial;
        if (partial)
            partial->prev = h;
        partial = h;
        h->listed = true;
    }
    void unlist(ChunkHeader *h) noexcept
    {
        if (!h->listed)
            return;
        (h->prev ? h->prev->next : partial) = h->next;
        if (h->next)
            h->next->prev = h->prev;
        h->prev = h->next = nullptr;
        h->listed = false;
    }
};
ClassChunks g_classChunks[kClassCount]; // constant-initialized, trivially destroyed

//! Which 2 MiB regions of the address space are chunks, a bit each: a block freed on any
//! thread, from either source, goes back where it came from. The map is a reservation the
//! kernel backs only where bits are set (8 MiB of addresses, a 4 KiB page per 64 GiB).
class ChunkMap
{
public:
    ChunkMap() noexcept
    {
        void *bits = ::mmap(nullptr, kWords * sizeof(Word), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        m_bits = bits == MAP_FAILED ? nullptr : static_cast<Word *>(bits);
    }
    bool usable() const noexcept { return m_bits != nullptr; }
    bool contains(const void *p) const noexcept
    {
        const auto address = reinterpret_cast<std::uintptr_t>(p);
        if (!m_bits || (address >> kAddressBits) != 0)
            return false;
        const std::uintptr_t region = address / kChunkBytes;
        return ((m_bits[region / 64].load(std::memory_order_acquire) >> (region % 64)) & 1) != 0;
    }
    //! False when \a chunk lies beyond the map (the caller then does not use it).
    bool mark(const void *chunk, bool isChunk) noexcept
    {
        const auto address = reinterpret_cast<std::uintptr_t>(chunk);
        if (!m_bits || (address >> kAddressBits) != 0)
            return false;
        const std::uintptr_t region = address / kChunkBytes;
        const Word::value_type bit = Word::value_type(1) << (region % 64);
        if (isChunk)
            m_bits[region / 64].fetch_or(bit, std::memory_order_release);
        else
            m_bits[region / 64].fetch_and(~bit, std::memory_order_release);
        return true;
    }

private:
    using Word = std::atomic<std::uint64_t>;
    static constexpr std::size_t kWords = ((std::size_t(1) << kAddressBits) / kChunkBytes) / 64;
    Word *m_bits = nullptr;
};

ChunkMap &chunkMap() noexcept
{
    static ChunkMap map; // never destroyed: blocks may be freed during static destruction
    return map;
}

std::atomic<std::uint64_t> g_chunkBytes{ 0 };
std::atomic<std::uint64_t> g_chunkCount{ 0 };
std::atomic<std::uint64_t> g_pooledBytes{ 0 };

//! A fresh chunk, 2 MiB-aligned, or null (no memory, or the map cannot cover it).
ChunkHeader *mapChunk(std::size_t sizeClass, bool huge) noexcept
{
    ChunkMap &map = chunkMap();
    if (!map.usable())
        return nullptr;
    // Twice the size, then trimmed to the aligned middle: mmap aligns to pages only.
    void *raw = ::mmap(nullptr, 2 * kChunkBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED)
        return nullptr;
    const auto start = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = (start + kChunkBytes - 1) & ~(kChunkBytes - 1);
    if (aligned > start)
        ::munmap(raw, aligned - start);
    if (const std::uintptr_t tail = start + 2 * kChunkBytes - (aligned + kChunkBytes))
        ::munmap(reinterpret_cast<void *>(aligned + kChunkBytes), tail);
    void *chunk = reinterpret_cast<void *>(aligned);
    if (!map.mark(chunk, true)) {
        ::munmap(chunk, kChunkBytes);
        return nullptr;
    }
    if (huge)
        (void)::madvise(chunk, kChunkBytes, MADV_HUGEPAGE); // a hint: fine if refused
    auto *header = new (chunk) ChunkHeader;
    header->sizeClass = std::uint32_t(sizeClass);
    g_chunkBytes.fetch_add(kChunkBytes, std::memory_order_relaxed);
    g_chunkCount.fetch_add(1, std::memory_order_relaxed);
    return header;
}

void unmapChunk(ChunkHeader *header) noexcept
{
    void *chunk = header;
    header->~ChunkHeader();
    chunkMap().mark(chunk, false);
    ::munmap(chunk, kChunkBytes);
    g_chunkBytes.fetch_sub(kChunkBytes, std::memory_order_relaxed);
    g_chunkCount.fetch_sub(1, std::memory_order_relaxed);
}

/*!
 * Drops \a count references to \a header's chunk, and gives it \a block back (null: none);
 * unmaps the chunk with its last reference.
 */
void unrefChunk(ChunkHeader *header, std::uint64_t count, FreeBlock *block) noexcept
{
    ClassChunks &chunks = g_classChunks[header->sizeClass];
    {
        std::lock_guard lock(chunks.lock);
        header->refs -= count;
        if (header->refs != 0) {
            if (block) {
                block->next = header->free;
                header->free = block;
                ++header->freeCount;
                if (!header->listed)
                    chunks.list(header);
            }
            return;
        }
        chunks.unlist(header);
    }
    unmapChunk(header);
}

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
    // The chunk each size class carves from (see the chunks), and how far.
    ChunkHeader *chunk[kClassCount];
    char *carveAt[kClassCount];
    char *carveEnd[kClassCount];
    std::uint64_t carved[kClassCount]; // blocks carved from chunk[c]
    std::uint32_t chunksMade[kClassCount];
    bool reaperArmed;
    bool closed;
};
thread_local ThreadPool t_pool{};

//! The thread stops carving from size class \a c's chunk (its reference goes).
void retireChunk(std::size_t c) noexcept
{
    if (ChunkHeader *header = std::exchange(t_pool.chunk[c], nullptr)) {
        t_pool.carveAt[c] = t_pool.carveEnd[c] = nullptr;
        unrefChunk(header, kChunkBias - std::exchange(t_pool.carved[c], 0), nullptr);
    }
}

//! Gives back a block that no cache keeps: to its chunk, or to the heap it came from.
void releaseBlock(void *block, std::size_t sizeClass) noexcept
{
    if (kUseChunks && chunkMap().contains(block)) {
        g_pooledBytes.fetch_sub(carveSize(sizeClass), std::memory_order_relaxed);
        const auto base = reinterpret_cast<std::uintptr_t>(block) & ~(kChunkBytes - 1);
        unrefChunk(reinterpret_cast<ChunkHeader *>(base), 1, static_cast<FreeBlock *>(block));
        return;
    }
    ::operator delete(block);
}

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
                releaseBlock(b, c);
            }
            t_pool.count[c] = 0;
            retireChunk(c);
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

/*!
 * Takes every block given back to one chunk of size class \a c (see ChunkHeader::free):
 * returns one, the rest join the thread's burst list. Null when no chunk has any.
 */
void *reuseGivenBack(std::size_t c) noexcept
{
    FreeBlock *blocks = nullptr;
    std::uint64_t count = 0;
    {
        ClassChunks &chunks = g_classChunks[c];
        std::lock_guard lock(chunks.lock);
        ChunkHeader *header = chunks.partial;
        if (!header)
            return nullptr;
        chunks.unlist(header);
        blocks = std::exchange(header->free, nullptr);
        count = std::exchange(header->freeCount, 0);
        header->refs += count;
    }
    g_pooledBytes.fetch_add(count * carveSize(c), std::memory_order_relaxed);
    armReaper(); // the burst list goes back when the thread ends
    FreeBlock *first = blocks;
    for (FreeBlock *b = first->next; b;) {
        FreeBlock *next = b->next;
        b->next = t_pool.burstHead[c];
        t_pool.burstHead[c] = b;
        t_pool.burstBytes += blockSize(c);
        b = next;
    }
    return first;
}

//! A new block of size class \a c from the class's chunk, or null when no chunk can be had.
void *carve(std::size_t c) noexcept
{
    const std::size_t bytes = carveSize(c);
    if (std::size_t(t_pool.carveEnd[c] - t_pool.carveAt[c]) < bytes) [[unlikely]] {
        retireChunk(c);
        if (void *b = reuseGivenBack(c))
            return b;
        ChunkHeader *header = mapChunk(c, t_pool.chunksMade[c] > 0);
        if (!header)
            return nullptr;
        armReaper(); // retires the chunk when the thread ends
        ++t_pool.chunksMade[c];
        t_pool.chunk[c] = header;
        t_pool.carveAt[c] = reinterpret_cast<char *>(header) + kChunkHeaderBytes;
        t_pool.carveEnd[c] = reinterpret_cast<char *>(header) + kChunkBytes;
    }
    void *b = t_pool.carveAt[c];
    t_pool.carveAt[c] += bytes;
    ++t_pool.carved[c];
    g_pooledBytes.fetch_add(bytes, std::memory_order_relaxed);
    return b;
}

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
    if (kUseChunks && !t_pool.closed) [[likely]] {
        if (void *b = carve(c))
            return b;
    }
    return ::operator new(blockSize(c));
}

void poolFree(void *block, std::size_t size) noexcept
{
    const std::size_t c = sizeClassOf(size);
    if (c >= kClassCount) {
        ::operator delete(block);
        return;
    }
    if (t_pool.closed) {
        releaseBlock(block, c);
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
        releaseBlock(block, c);
        return;
    }
    // Under ASan a stale pointer into a recycled block is still reported as a use after free.
    ASAN_POISON_MEMORY_REGION(b, blockSize(c));
}

PoolMemory poolMemory() noexcept
{
    return PoolMemory{ g_pooledBytes.load(std::memory_order_relaxed),
                       g_chunkBytes.load(std::memory_order_relaxed),
                       g_chunkCount.load(std::memory_order_relaxed), kUseChunks };
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
            releaseBlock(b, c);
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
