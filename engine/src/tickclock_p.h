#pragma once

#include <chrono>
#include <cstdint>

namespace loopscope::detail {

/*!
 * The steady clock, read cheaply: what an observed loop stamps its events with.
 *
 * steady_clock::now() (clock_gettime through the vDSO) cost about 30 ns on the reference
 * machine, a sixth of a traced task switch, where the CPU's time-stamp counter reads in
 * about 11 ns. So, where the counter is invariant (x86-64 with CPUID's invariant-TSC bit),
 * now() is the steady time of the last anchor() plus the counter's ticks since, scaled.
 * The loop anchors once per iteration (one real read), so the scale's error only ever
 * spans one iteration: a few ns over a 1 ms budget. Results never go backwards, across
 * anchors included. The scale is calibrated per process from anchors at least 20 ms apart
 * and refined as their span grows; until then, and where there is no invariant counter,
 * now() is steady_clock::now(). One object per loop, used on the loop's thread only.
 */
class TickClock
{
public:
    using time_point = std::chrono::steady_clock::time_point;

    TickClock() noexcept;

    //! One real clock read; later now() calls count from it.
    time_point anchor() noexcept;

    //! The steady clock's time now, to within a few ns of a real read. Inline: a call was
    //! a twentieth of a recorded task switch.
    time_point now() noexcept
    {
        if (m_nsPerTick > 0) [[likely]] {
            const std::uint64_t elapsed = counter() - m_anchorTicks;
            if (elapsed <= m_maxTicks) [[likely]] {
                const time_point t = m_anchorReal
                        + std::chrono::nanoseconds(std::int64_t(double(elapsed) * m_nsPerTick));
                if (t > m_last)
                    m_last = t;
                return m_last;
            }
        }
        // Not calibrated, no counter, past the window, or a counter that went backwards.
        return slowNow();
    }

    //! The time-stamp counter (0 where there is none).
    static std::uint64_t counter() noexcept
    {
#if defined(__x86_64__)
        return __builtin_ia32_rdtsc();
#else
        return 0;
#endif
    }

    //! Whether now() uses the counter (for tests and benches; false until calibrated).
    bool usesCounter() const noexcept
    {
        return m_nsPerTick > 0;
    }

private:
    time_point slowNow() noexcept;
    time_point realNow() noexcept;

    double m_nsPerTick = 0; //!< 0: no (calibrated) counter, now() reads the clock
    std::uint64_t m_anchorTicks = 0;
    time_point m_anchorReal{};
    time_point m_last{}; //!< the latest time handed out: nothing earlier is handed out again
    //! Ticks after which now() reads the real clock: the scale's error is kept to an
    //! iteration's worth, even for an iteration that blocks.
    std::uint64_t m_maxTicks = 0;
};

} // namespace loopscope::detail
