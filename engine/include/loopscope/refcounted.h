#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace loopscope::detail {

/*!
 * Storage for the engine's small objects that come and go at the loop's pace: handles,
 * futures and coroutine frames. Blocks up to 512 bytes are recycled through per-thread free
 * lists (one per 16-byte size class, each kept to a bounded length), so a warm loop
 * allocates nothing per callSoon, task step or sleep; new ones are carved from chunks the
 * pool maps itself (see PoolMemory); larger blocks go to the global heap.
 * A block may be freed on another thread than the one that allocated it (a
 * callSoonThreadsafe handle is made on the caller's thread and dies on the loop's): it then
 * joins the freeing thread's list. Definitions in handle.cpp.
 */
void *poolAllocate(std::size_t size);
//! Gives back a block of \a size bytes from poolAllocate() (the same size).
void poolFree(void *block, std::size_t size) noexcept;

/*!
 * Beyond the bounded free lists, the blocks of a burst (a million callbacks queued at once)
 * are kept in a per-thread burst cache, up to 256 MiB, so that the next burst neither
 * mallocs nor page-faults them again; likewise the largest ready-queue buffer let go of
 * (poolTakeBuffer/poolStashBuffer). Like an allocator's decay, a loop that has been idle
 * for a second gives the cache back (poolReleaseBurstCache(), also public as
 * loopscope::releaseThreadCache()); a thread's caches are given back when it ends.
 */
bool poolHoldsBurstCache() noexcept;

/*!
 * What the pool holds, for all threads: blocks up to 512 bytes are carved from 2 MiB chunks
 * the pool maps itself (huge pages from a thread's second chunk of a size class on), not
 * malloc'd one by one, so malloc's statistics (mallinfo2) do not see them. Under
 * AddressSanitizer the pool mallocs each block instead (\a chunked false, all figures 0).
 */
struct PoolMemory
{
    //! Bytes in blocks carved and not given back: live objects and the blocks the threads'
    //! free lists and burst caches keep (what mallinfo2's uordblks counts for malloc).
    std::uint64_t blockBytes = 0;
    std::uint64_t chunkBytes = 0; //!< mapped in chunks
    std::uint64_t chunks = 0;
    bool chunked = false;
};
PoolMemory poolMemory() noexcept;
void poolReleaseBurstCache() noexcept;
//! The thread's cached buffer if it has at least \a minBytes (its size in \a bytes), or null.
void *poolTakeBuffer(std::size_t minBytes, std::size_t &bytes) noexcept;
//! Keeps \a buffer (from ::operator new, \a bytes long) for poolTakeBuffer(), or frees it.
void poolStashBuffer(void *buffer, std::size_t bytes) noexcept;

//! A standard allocator on poolAllocate(), for the small containers of short-lived objects
//! (a future's done-callbacks).
template <typename T>
struct PoolAllocator
{
    using value_type = T;
    PoolAllocator() noexcept = default;
    template <typename U>
    PoolAllocator(const PoolAllocator<U> &) noexcept
    {
    }
    T *allocate(std::size_t n) { return static_cast<T *>(poolAllocate(n * sizeof(T))); }
    void deallocate(T *p, std::size_t n) noexcept { poolFree(p, n * sizeof(T)); }
    friend bool operator==(const PoolAllocator &, const PoolAllocator &) noexcept { return true; }
};

/*!
 * Intrusive reference count shared by handles, futures and the loop core. Atomic because
 * a reference may travel to another thread (callSoonThreadsafe, executor jobs), although
 * the objects themselves are only ever used from their loop's thread.
 */
class RefCounted
{
public:
    RefCounted() = default;
    RefCounted(const RefCounted &) = delete;
    RefCounted &operator=(const RefCounted &) = delete;

    void ref() const noexcept { m_refs.fetch_add(1, std::memory_order_relaxed); }
    void deref() const noexcept
    {
        // acq_rel: every write made through other references happens-before the delete.
        // The last reference needs no atomic read-modify-write: holding it, nobody else can
        // make another (the acquire load still orders their writes before the delete). It
        // spares a locked instruction for every handle that dies after its run.
        if (m_refs.load(std::memory_order_acquire) == 1
            || m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }
    std::uint32_t refCount() const noexcept { return m_refs.load(std::memory_order_relaxed); }
    /*!
     * Gives a new object, not yet seen by anyone, its first \a refs references with a plain
     * store instead of one atomic increment each (callSoon hands out two at once). The
     * caller adopts them (Ref::adopt).
     */
    void setUnsharedRefs(std::uint32_t refs) const noexcept
    {
        m_refs.store(refs, std::memory_order_relaxed);
    }

protected:
    virtual ~RefCounted() = default;

private:
    mutable std::atomic<std::uint32_t> m_refs{ 0 };
};

//! Owning intrusive pointer to a RefCounted object.
template <typename T>
class Ref
{
public:
    Ref() noexcept = default;
    Ref(std::nullptr_t) noexcept { }
    explicit Ref(T *p) noexcept : m_p(p)
    {
        if (m_p)
            m_p->ref();
    }
    Ref(const Ref &o) noexcept : Ref(o.m_p) { }
    Ref(Ref &&o) noexcept : m_p(std::exchange(o.m_p, nullptr)) { }
    template <typename U>
    Ref(const Ref<U> &o) noexcept : Ref(static_cast<T *>(o.get()))
    {
    }
    //! Moves a reference to a derived object (a timer handle into the ready queue) without
    //! the atomic increment and decrement of a copy.
    template <typename U>
    requires std::is_convertible_v<U *, T *> Ref(Ref<U> &&o)
    noexcept : m_p(o.release()) { }
    ~Ref()
    {
        if (m_p)
            m_p->deref();
    }
    Ref &operator=(Ref o) noexcept
    {
        std::swap(m_p, o.m_p);
        return *this;
    }

    T *get() const noexcept { return m_p; }
    T *operator->() const noexcept { return m_p; }
    T &operator*() const noexcept { return *m_p; }
    explicit operator bool() const noexcept { return m_p != nullptr; }
    void reset() noexcept { Ref().swap(*this); }
    void swap(Ref &o) noexcept { std::swap(m_p, o.m_p); }

    //! Gives up ownership without dereferencing; the caller must deref() later.
    T *release() noexcept { return std::exchange(m_p, nullptr); }
    //! Takes over a reference previously given up with release().
    static Ref adopt(T *p) noexcept
    {
        Ref r;
        r.m_p = p;
        return r;
    }

    friend bool operator==(const Ref &a, const Ref &b) noexcept { return a.m_p == b.m_p; }

private:
    T *m_p = nullptr;
};

template <typename T, typename... Args>
Ref<T> makeRef(Args &&...args)
{
    return Ref<T>(new T(std::forward<Args>(args)...));
}

} // namespace loopscope::detail
