#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>

namespace loopscope {

//! Durations on the loop's clock. Any std::chrono duration converts to it implicitly.
using Duration = std::chrono::nanoseconds;

//! The tag clock of loop time points: time since the loop clock's own epoch.
struct LoopClock
{
    using rep = Duration::rep;
    using period = Duration::period;
    using duration = Duration;
    using time_point = std::chrono::time_point<LoopClock, Duration>;
    static constexpr bool is_steady = true;
};

//! A point in time on a loop's clock (Python: the float returned by loop.time()).
using TimePoint = LoopClock::time_point;

//! Seconds as a double, for display and for asyncio-style arithmetic.
inline double toSeconds(Duration d)
{
    return std::chrono::duration<double>(d).count();
}
inline double toSeconds(TimePoint t)
{
    return toSeconds(t.time_since_epoch());
}

/*!
 * The source of a loop's time. The loop reads now() at the start of every iteration and
 * asks realTimeUntil() how long to let Qt wait for the next timer.
 *
 * Clocks are read from the loop's thread; VirtualClock may also be advanced from it.
 */
class Clock
{
public:
    virtual ~Clock();

    //! The current time on this clock. Never goes backwards.
    virtual TimePoint now() const = 0;
    /*!
     * The clock's time at the real instant \a real, a recent std::chrono::steady_clock
     * reading: lets the loop time a callback and stamp its trace events with one clock read.
     * The default ignores \a real and returns now().
     */
    virtual TimePoint at(std::chrono::steady_clock::time_point real) const;

    /*!
     * How long, in real (wall) time, until \a deadline is reached on this clock, or a
     * negative duration when this clock does not advance by itself (virtual clock): then
     * the loop never arms a Qt timer and relies on advance() or auto-advance instead.
     */
    virtual Duration realTimeUntil(TimePoint deadline) const = 0;

    //! True for clocks whose time moves only when asked (VirtualClock).
    virtual bool isVirtual() const { return false; }

    //! Virtual clocks only: jump to \a deadline (never backwards) because the loop is idle.
    //! Returns false when this clock does not auto-advance.
    virtual bool autoAdvanceTo(TimePoint deadline);
    //! True when autoAdvanceTo() would move time (a virtual clock in auto mode).
    virtual bool canAutoAdvance() const { return false; }
    /*!
     * How long (in real time) an auto-advancing clock lets pending Qt operations hold time
     * back before it jumps anyway; std::nullopt waits for them however long they take.
     */
    virtual std::optional<Duration> foreignWaitLimit() const { return std::nullopt; }

    //! Called by the loop that uses this clock: \a listener runs (in the loop's thread)
    //! whenever the clock's time is moved by hand, so the loop can wake up and fire timers.
    void setAdvanceListener(std::function<void()> listener);

protected:
    void notifyAdvanced() const;

private:
    std::function<void()> m_advanceListener;
};

//! Real time: std::chrono::steady_clock, relative to when the clock was created.
class SteadyClock final : public Clock
{
public:
    SteadyClock();
    TimePoint now() const override;
    TimePoint at(std::chrono::steady_clock::time_point real) const override;
    Duration realTimeUntil(TimePoint deadline) const override;

private:
    std::chrono::steady_clock::time_point m_origin;
};

/*!
 * Real time slowed down or sped up (0.1x ... 10x), for watching a loop in slow motion. The
 * factor can change while the loop runs and the clock can be paused; time never jumps or
 * goes backwards across either. Loop thread only (post changes with callSoonThreadsafe).
 */
class ScaledClock final : public Clock
{
public:
    static constexpr double kMinFactor = 0.1;
    static constexpr double kMaxFactor = 10.0;

    //! Throws ValueError unless \a factor is within [kMinFactor, kMaxFactor].
    explicit ScaledClock(double factor = 1.0);

    TimePoint now() const override;
    TimePoint at(std::chrono::steady_clock::time_point real) const override;
    //! Real time to wait: (deadline - now) / factor; negative (no timer) while paused.
    Duration realTimeUntil(TimePoint deadline) const override;

    double factor() const { return m_factor; }
    //! Changes the speed from now on; throws ValueError outside [0.1, 10] (NaN included).
    void setFactor(double factor);
    //! Stops time (the loop's timers wait) until resume().
    void pause();
    void resume();
    bool isPaused() const { return m_paused; }

private:
    std::chrono::steady_clock::time_point m_anchorReal;
    TimePoint m_anchorScaled{};
    double m_factor;
    bool m_paused = false;
};

/*!
 * Deterministic time for tests and step-by-step teaching: time stands still until advance()
 * is called, or (with autoAdvance, the default) jumps straight to the next timer deadline
 * whenever the loop has nothing ready to run, no executor job in flight and no Qt operation
 * pending (a toFuture() of a QFuture or QCoro task, a waitForSignal(), a QTimer or QProcess
 * wait). A one-second sleep therefore completes instantly, in exactly the asyncio order,
 * while `waitFor(toFuture(QtConcurrent::run(work)), 1s)` still gives the work its second.
 *
 * Pending Qt operations hold time back for at most foreignWaitLimit() of real time (50 ms
 * by default; like Trio's MockClock autojump threshold): a Qt operation may itself wait for
 * a loop timer (a signal the loop emits one virtual second later), so time cannot wait for
 * it for ever by default. std::nullopt waits however long the operations take; 0 jumps as
 * soon as Qt has nothing queued for the loop any more.
 */
class VirtualClock final : public Clock
{
public:
    explicit VirtualClock(bool autoAdvance = true);

    TimePoint now() const override;
    Duration realTimeUntil(TimePoint deadline) const override;
    bool isVirtual() const override { return true; }
    bool autoAdvanceTo(TimePoint deadline) override;

    //! Moves time forward by \a delta (negative values are ignored) and wakes the loop.
    void advance(Duration delta);
    //! Moves time to \a when if it is later than now, and wakes the loop.
    void advanceTo(TimePoint when);

    bool canAutoAdvance() const override { return m_autoAdvance; }
    bool autoAdvance() const { return m_autoAdvance; }
    //! Switching auto-advance on wakes the loop, which may then jump to its next timer.
    void setAutoAdvance(bool enabled);

    std::optional<Duration> foreignWaitLimit() const override { return m_foreignWaitLimit; }
    //! See the class description (default 50 ms); negative limits count as 0. Wakes the loop.
    void setForeignWaitLimit(std::optional<Duration> limit);

private:
    TimePoint m_now{};
    std::optional<Duration> m_foreignWaitLimit = std::chrono::milliseconds(50);
    bool m_autoAdvance;
};

} // namespace loopscope
