#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

namespace loopscope::detail {

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
        if (m_refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
            delete this;
    }
    std::uint32_t refCount() const noexcept { return m_refs.load(std::memory_order_relaxed); }

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
