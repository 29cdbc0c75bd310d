#include "loopscope/clock.h"

namespace loopscope {

Clock::~Clock() = default;

bool Clock::autoAdvanceTo(TimePoint)
{
    return false;
}

void Clock::setAdvanceListener(std::function<void()> listener)
{
    m_advanceListener = std::move(listener);
}

void Clock::notifyAdvanced() const
{
    if (m_advanceListener)
        m_advanceListener();
}

SteadyClock::SteadyClock() : m_origin(std::chrono::steady_clock::now()) { }

TimePoint SteadyClock::now() const
{
    return TimePoint(
            std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - m_origin));
}

Duration SteadyClock::realTimeUntil(TimePoint deadline) const
{
    const Duration left = deadline - now();
    return left < Duration::zero() ? Duration::zero() : left;
}

VirtualClock::VirtualClock(bool autoAdvance) : m_autoAdvance(autoAdvance) { }

TimePoint VirtualClock::now() const
{
    return m_now;
}

Duration VirtualClock::realTimeUntil(TimePoint) const
{
    return Duration(-1);
}

bool VirtualClock::autoAdvanceTo(TimePoint deadline)
{
    if (!m_autoAdvance)
        return false;
    if (deadline > m_now)
        m_now = deadline;
    return true;
}

void VirtualClock::setAutoAdvance(bool enabled)
{
    m_autoAdvance = enabled;
    if (enabled)
        notifyAdvanced();
}

void VirtualClock::advance(Duration delta)
{
    if (delta > Duration::zero())
        m_now += delta;
    notifyAdvanced();
}

void VirtualClock::advanceTo(TimePoint when)
{
    if (when > m_now)
        m_now = when;
    notifyAdvanced();
}

} // namespace loopscope
