#pragma once

#include <loopscope/observer.h>
#include <loopscope/scenario.h>

#include <QString>

#include <cstdint>
#include <unordered_map>
#include <vector>

/*!
 * The per-task table `loopscope --headless --summary` prints: a LoopObserver that follows
 * every task of the loop from TaskCreated to TaskDone (state, steps, parent, error or cancel
 * message). Unlike a bounded trace recorder it keeps every task of the run, which is what a
 * summary needs; it is meant for one headless run, not for hours of recording.
 */
class TaskSummary final : public loopscope::LoopObserver
{
public:
    enum class State { Pending, Running, Waiting, Ready, Finished, Cancelled, Failed, Abandoned };

    struct Row
    {
        std::uint64_t id = 0;
        std::uint64_t parent = 0;
        QString name;
        State state = State::Pending;
        std::uint64_t steps = 0;
        QString text; //!< error or cancel message (from TaskDone), or the result
    };

    void onEvent(const loopscope::TraceEvent &event) override;

    //! Every task seen, in creation order.
    const std::vector<Row> &rows() const { return m_rows; }
    //! Adds the results the scenario run collected (the trace carries errors, not values),
    //! and the run's summary line to the row of its own task \a runTaskId.
    void applyOutcome(const loopscope::ScenarioOutcome &outcome, std::uint64_t runTaskId);
    //! The table, one line per task, with a header line.
    QString format() const;

    static const char *stateName(State state);

private:
    Row *row(std::uint64_t id);

    std::vector<Row> m_rows;
    std::unordered_map<std::uint64_t, std::size_t> m_index;
};
