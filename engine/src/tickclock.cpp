#include "tickclock_p.h"

#include <algorithm>
#include <atomic>
#include <mutex>

#if defined(__x86_64__)
#  include <cpuid.h>
#  define LOOPSCOPE_HAVE_TSC 1
#else
#  define LOOPSCOPE_HAVE_TSC 0
#endif

namespace loopscope::detail {

namespace {

using steady = std::chrono::steady_clock;

#if LOOPSCOPE_HAVE_TSC
//! CPUID 0x80000007 EDX bit 8: the counter runs at one rate in every power state and core.
bool invariantCounter() noexcept
{
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    // static_cast: clang declares it int, g++ unsigned.
    if (static_cast<unsigned>(__get_cpuid_max(0x80000000u, nullptr)) < 0x80000007u)
        return false;
    __get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx);
    return (edx & (1u << 8)) != 0;
}
#else
bool invariantCounter() noexcept
{
    return false;
}
#endif

/*!
 * The process's calibration: the first anchor taken anywhere, and the scale from it to the
 * latest anchor that at least doubled the span the scale was computed over. Anchors are
 * per iteration of an observed loop, so this settles within seconds of tracing.
 */
class Calibration
{
public:
    static Calibration &instance() noexcept
    {
        static Calibration calibration;
        return calibration;
    }

    //! The ns per tick to use now (0: not calibrated yet or no counter); feeds it a pair
    //! read at one moment (\a tick 0: none).
    double update(std::uint64_t tick, steady::time_point real) noexcept
    {
        if (!m_counter || tick == 0) // no counter, or only asking
            return m_nsPerTick.load(std::memory_order_relaxed);
        const std::int64_t realNs = real.time_since_epoch().count();
        if (realNs >= m_nextSpanAt.load(std::memory_order_relaxed)) {
            std::lock_guard lock(m_mutex);
            if (m_firstTick == 0) {
                m_firstTick = tick;
                m_firstReal = realNs;
                m_nextSpanAt.store(realNs + kMinSpanNs, std::memory_order_relaxed);
            } else if (realNs >= m_nextSpanAt.load(std::memory_order_relaxed)
                       && tick > m_firstTick) {
                const std::int64_t span = realNs - m_firstReal;
                m_nsPerTick.store(double(span) / double(tick - m_firstTick),
                                  std::memory_order_relaxed);
                m_nextSpanAt.store(m_firstReal + 2 * span, std::memory_order_relaxed);
            }
        }
        return m_nsPerTick.load(std::memory_order_relaxed);
    }

private:
    static constexpr std::int64_t kMinSpanNs = 20'000'000;

    Calibration() noexcept : m_counter(invariantCounter()) { }

    const bool m_counter;
    std::mutex m_mutex;
    std::uint64_t m_firstTick = 0;
    std::int64_t m_firstReal = 0;
    std::atomic<std::int64_t> m_nextSpanAt{ 0 };
    std::atomic<double> m_nsPerTick{ 0 };
};

} // namespace

TickClock::TickClock() noexcept = default;

TickClock::time_point TickClock::realNow() noexcept
{
    const time_point real = std::max(steady::now(), m_last);
    m_last = real;
    return real;
}

TickClock::time_point TickClock::anchor() noexcept
{
    // A pair read with a preemption in between would skew the scale by the preemption over
    // the calibration's span: only a pair bracketed tightly by the counter calibrates.
    constexpr std::uint64_t kTightTicks = 20'000; // a few µs; a read takes about 100
    time_point real{};
    std::uint64_t tick = 0;
    bool tight = false;
    for (int attempt = 0; attempt < 3 && !tight; ++attempt) {
        const std::uint64_t before = counter();
        real = steady::now();
        const std::uint64_t after = counter();
        tick = before + (after - before) / 2;
        tight = after - before < kTightTicks;
    }
    m_nsPerTick = tight ? Calibration::instance().update(tick, real)
                        : Calibration::instance().update(0, time_point());
    m_anchorTicks = tick;
    m_anchorReal = std::max(real, m_last);
    m_last = m_anchorReal;
    // 2 ms of ticks: an iteration's budget and some; past that, real reads.
    m_maxTicks = m_nsPerTick > 0 ? std::uint64_t(2'000'000 / m_nsPerTick) : 0;
    return m_anchorReal;
}

TickClock::time_point TickClock::slowNow() noexcept
{
    if (m_nsPerTick <= 0)
        return realNow();
    return anchor();
}

} // namespace loopscope::detail
