#pragma once

//! \file countingnew.h Replaces the global operator new and delete of the test executable
//! that includes it, to count the allocations a thread makes while counting is on
//! (AllocationCounter, or t_counting by hand). Include it in exactly one source file of an
//! executable: the replacements are ordinary (not inline) definitions.

#include <cstdint>
#include <cstdlib>
#include <new>

namespace loopscope::testsupport {

//! Counting is per thread: the loop's allocations are the subject, not Qt's other threads'.
inline thread_local bool t_counting = false;
inline thread_local std::uint64_t t_allocations = 0;

inline void *countedAllocate(std::size_t size)
{
    if (t_counting)
        ++t_allocations;
    if (void *p = std::malloc(size ? size : 1))
        return p;
    throw std::bad_alloc();
}

//! Counts the allocations made on this thread while it lives.
class AllocationCounter
{
public:
    AllocationCounter() : m_start(t_allocations) { t_counting = true; }
    ~AllocationCounter() { t_counting = false; }
    AllocationCounter(const AllocationCounter &) = delete;
    AllocationCounter &operator=(const AllocationCounter &) = delete;
    std::uint64_t count() const { return t_allocations - m_start; }

private:
    std::uint64_t m_start;
};

} // namespace loopscope::testsupport

void *operator new(std::size_t size)
{
    return loopscope::testsupport::countedAllocate(size);
}
void *operator new[](std::size_t size)
{
    return loopscope::testsupport::countedAllocate(size);
}
void operator delete(void *p) noexcept
{
    std::free(p);
}
void operator delete[](void *p) noexcept
{
    std::free(p);
}
void operator delete(void *p, std::size_t) noexcept
{
    std::free(p);
}
void operator delete[](void *p, std::size_t) noexcept
{
    std::free(p);
}
