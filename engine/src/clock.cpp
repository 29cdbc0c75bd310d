#include "loopscope/clock.h"

#include "loopscope/errors.h"

#include <algorithm>
#include <cmath>
#include <string>

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

TimePoint Clock::at(std::chrono::steady_clock::time_point) const
{
    return now();
}

SteadyClock::SteadyClock() : m_origin(std::chrono::steady_clock::now()) { }

TimePoint SteadyClock::now() const
{
    return at(std::chrono::steady_clock::now());
}

TimePoint SteadyClock::at(std::chrono::steady_clock::time_point real) const
{
    return TimePoint(std::chrono::duration_cast<Duration>(real - m_origin));
}

Duration SteadyClock::realTimeUntil(TimePoint deadline) const
{
    const Duration left = deadline - now();
    return left < Duration::zero() ? Duration::zero() : left;
}

namespace {
void checkFactor(double factor)
{
    if (!(factor >= ScaledClock::kMinFactor && factor <= ScaledClock::kMaxFactor))
        throw ValueError("ScaledClock: the factor must be between 0.1 and 10, got "
                         + (std::isnan(factor) ? std::string("NaN") : std::to_string(factor)));
}
} // namespace

ScaledClock::ScaledClock(double factor)
    : m_anchorReal(std::chrono::steady_clock::now()), m_factor((checkFactor(factor), factor))
{
}

TimePoint ScaledClock::now() const
{
    return at(std::chrono::steady_clock::now());
}

TimePoint ScaledClock::at(std::chrono::steady_clock::time_point real) const
{
    if (m_paused)
        return m_anchorScaled;
    // Never before the anchor: an instant read before the last speed change maps to it.
    const auto since = std::max(real - m_anchorReal, std::chrono::steady_clock::duration::zero());
    return m_anchorScaled
            + std::chrono::duration_cast<Duration>(
                    std::chrono::duration<double, std::nano>(double(since.count()) * m_factor));
}

Duration ScaledClock::realTimeUntil(TimePoint deadline) const
{
    if (m_paused)
        return Duration(-1);
    const Duration left = deadline - now();
    if (left <= Duration::zero())
        return Duration::zero();
    // Round up so a timer never fires before its scaled deadline.
    return Duration(static_cast<Duration::rep>(std::ceil(double(left.count()) / m_factor)));
}

void ScaledClock::setFactor(double factor)
{
    checkFactor(factor);
    // Re-anchor at the current scaled time: the new speed applies from now, no jump.
    m_anchorScaled = now();
    m_anchorReal = std::chrono::steady_clock::now();
    m_factor = factor;
    notifyAdvanced(); // the loop re-arms its Qt timer for the new real wait
}

void ScaledClock::pause()
{
    if (m_paused)
        return;
    m_anchorScaled = now();
    m_paused = true;
}

void ScaledClock::resume()
{
    if (!m_paused)
        return;
    m_anchorReal = std::chrono::steady_clock::now();
    m_paused = false;
    notifyAdvanced();
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

void VirtualClock::setForeignWaitLimit(std::optional<Duration> limit)
{
    if (limit && *limit < Duration::zero())
        limit = Duration::zero();
    m_foreignWaitLimit = limit;
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
