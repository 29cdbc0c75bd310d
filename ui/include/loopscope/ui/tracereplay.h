#pragma once

//! \file tracereplay.h A saved trace as a source of TraceBatches: the same views that watch a
//! live loop scrub through a trace file, forwards and backwards.

#include <QObject>
#include <QString>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

// moc (Qt 6.4) cannot parse the C++20 concepts the engine's loop headers bring in (see
// loophost.h).
#ifndef Q_MOC_RUN
#  include <loopscope/tracefile.h>
#  include <loopscope/ui/tracebatch.h>
#endif

namespace loopscope {
class TraceRecorder;
struct TraceFile;
} // namespace loopscope

namespace loopscope::ui {

struct TraceBatch;

/*!
 * Replays a trace loaded with loopscope::loadTraceFile(): a cursor over its events and the
 * TraceBatch that describes the loop with the events before the cursor applied, exactly as
 * LoopHost::batchReady() would have described it then. Read-only: nothing runs.
 *
 * position() counts the events applied, from 0 (none) to eventCount() (all). Moving forward
 * applies the events in between and emits one batch with them, of the current generation.
 * Moving backward starts again from the first event with a new generation, and the batch
 * carries every event up to the cursor: views clear what they kept of the old generation and
 * take the new picture in one go (the aggregates are rebuilt by feeding the events to a fresh
 * TraceRecorder, so task states, times and lints are the recorder's own).
 *
 * Stepping by callback lands just after the next (or previous) callback finished
 * (HandleFinished), by iteration just after an iteration ended (IterationEnd); back past
 * the first of them is the start, forward past the last stays put.
 */
class TraceReplay : public QObject
{
    Q_OBJECT

public:
    //! How far one step goes.
    enum class Unit { Event, Callback, Iteration };
    Q_ENUM(Unit)

    explicit TraceReplay(QObject *parent = nullptr);
    ~TraceReplay() override;

    /*!
     * Loads the trace file \a path and moves to its start (one batch). On failure returns
     * false, sets \a error to loadTraceFile()'s message and keeps the trace it had.
     */
    bool open(const QString &path, QString *error = nullptr);
    //! Replays \a trace (named \a fileName in messages), from its start (one batch).
    void setTrace(loopscope::TraceFile trace, const QString &fileName = {});
    //! Forgets the trace.
    void close();

    bool isOpen() const { return m_open; }
    QString fileName() const { return m_fileName; }
    const loopscope::TraceFile &trace() const { return *m_trace; }
    std::size_t eventCount() const;

    //! Events applied: 0 … eventCount().
    std::size_t position() const { return m_position; }
    //! Counts rebuilds: +1 on each setTrace() and each move backwards.
    int generation() const { return m_generation; }
    //! Loop time of the last applied event, relative to the trace's first event (0 at
    //! position 0).
    std::int64_t elapsedNs(std::size_t position) const;
    //! "event 1,234 / 50,000 · 1.234 s" for position().
    QString positionText() const;

    //! Where a step of \a unit forward or back from position() lands (position() itself when
    //! there is nowhere to go).
    std::size_t nextPosition(Unit unit) const;
    std::size_t previousPosition(Unit unit) const;

    //! The last batch emitted (its tasks: only those that changed, but for a rebuild's).
    const TraceBatch &lastBatch() const { return *m_batch; }
    //! Every task the trace shows up to position(), as TraceRecorder::tasks() lists them.
    std::vector<TaskStats> tasks() const;
    //! Real time the last move took: feeding the recorder and everything connected to
    //! batchReady().
    std::chrono::nanoseconds lastMoveDuration() const { return m_lastMove; }

public Q_SLOTS:
    //! Moves the cursor to \a position (clamped) and emits the batch; nothing when it is
    //! already there.
    void seek(qsizetype position);
    void stepForward(loopscope::ui::TraceReplay::Unit unit = Unit::Event);
    void stepBack(loopscope::ui::TraceReplay::Unit unit = Unit::Event);
    void toStart() { seek(0); }
    void toEnd() { seek(qsizetype(eventCount())); }

Q_SIGNALS:
    //! After every move, with the events applied by it (all of them after a rebuild).
    void batchReady(const loopscope::ui::TraceBatch &batch);
    void positionChanged(qsizetype position);
    //! A trace was opened (or set) or closed.
    void traceChanged();

private:
    void rebuild(std::size_t position);
    void advance(std::size_t position);
    void feed(std::size_t from, std::size_t to);
    void publish(std::size_t from, std::size_t to);
    static std::size_t after(const std::vector<std::size_t> &marks, std::size_t position);
    static std::size_t before(const std::vector<std::size_t> &marks, std::size_t position);

    std::unique_ptr<loopscope::TraceFile> m_trace;
    std::unique_ptr<loopscope::TraceRecorder> m_recorder;
    std::unique_ptr<TraceBatch> m_batch;
    QString m_fileName;
    bool m_open = false;
    std::size_t m_position = 0;
    int m_generation = 0;
    std::uint64_t m_dropped = 0; //!< sequence gaps among the applied events
    int m_tasksGeneration = -1; //!< the generation batch.tasksVersion counts in
    std::size_t m_taskCount = 0; //!< TaskCreated events in the trace
    //! Positions just after each HandleFinished / IterationEnd, ascending.
    std::vector<std::size_t> m_callbackEnds;
    std::vector<std::size_t> m_iterationEnds;
    std::chrono::nanoseconds m_lastMove{ 0 };
};

} // namespace loopscope::ui
