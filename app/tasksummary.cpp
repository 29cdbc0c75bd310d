#include "tasksummary.h"

#include <QStringList>

#include <algorithm>

using loopscope::DoneStatus;
using loopscope::TraceEvent;
using loopscope::TraceEventKind;

const char *TaskSummary::stateName(State state)
{
    switch (state) {
    case State::Pending:
        return "pending";
    case State::Running:
        return "running";
    case State::Waiting:
        return "waiting";
    case State::Ready:
        return "ready";
    case State::Finished:
        return "finished";
    case State::Cancelled:
        return "cancelled";
    case State::Failed:
        return "failed";
    case State::Abandoned:
        return "abandoned";
    }
    return "?";
}

TaskSummary::Row *TaskSummary::row(std::uint64_t id)
{
    const auto it = m_index.find(id);
    return it == m_index.end() ? nullptr : &m_rows[it->second];
}

void TaskSummary::onEvent(const TraceEvent &event)
{
    switch (event.kind) {
    case TraceEventKind::TaskCreated: {
        m_index.emplace(event.id, m_rows.size());
        Row r;
        r.id = event.id;
        r.parent = event.parent;
        r.name = event.text;
        m_rows.push_back(std::move(r));
        break;
    }
    case TraceEventKind::TaskStepBegin:
        if (Row *r = row(event.id)) {
            r->state = State::Running;
            r->steps = event.count;
        }
        break;
    case TraceEventKind::TaskStepEnd:
        if (Row *r = row(event.id); r && r->state == State::Running)
            r->state = event.related != 0 ? State::Waiting : State::Ready;
        break;
    case TraceEventKind::TaskDone:
        if (Row *r = row(event.id)) {
            switch (event.status) {
            case DoneStatus::Finished:
                r->state = State::Finished;
                break;
            case DoneStatus::Cancelled:
                r->state = State::Cancelled;
                break;
            case DoneStatus::Failed:
                r->state = State::Failed;
                break;
            case DoneStatus::Abandoned:
                r->state = State::Abandoned;
                break;
            }
            r->text = event.text;
        }
        break;
    default:
        break;
    }
}

void TaskSummary::applyOutcome(const loopscope::ScenarioOutcome &outcome, std::uint64_t runTaskId)
{
    for (const auto *results : { &outcome.tasks, &outcome.children }) {
        for (const loopscope::ScenarioTaskResult &result : *results) {
            if (Row *r = row(result.taskId); r && result.status == DoneStatus::Finished)
                r->text = result.text;
        }
    }
    if (Row *r = row(runTaskId); r && r->state == State::Finished)
        r->text = outcome.summaryLine();
}

namespace {

//! One line of a cell: an ExceptionGroup's description spans several.
QString oneLine(QString text, qsizetype width)
{
    text.replace(QLatin1Char('\n'), QLatin1Char(' '));
    text = text.simplified();
    if (text.size() > width)
        text = text.left(width - 3) + QStringLiteral("...");
    return text;
}

} // namespace

QString TaskSummary::format() const
{
    constexpr qsizetype MaxName = 40;
    constexpr qsizetype MaxText = 100;
    qsizetype idWidth = 2;
    qsizetype nameWidth = 4;
    for (const Row &r : m_rows) {
        idWidth = std::max(idWidth, QString::number(r.id).size());
        nameWidth = std::max(nameWidth, std::min(MaxName, r.name.size()));
    }
    QStringList lines;
    // Concatenated rather than QString::arg()ed: an error text may itself contain "%1".
    auto line = [&](const QString &id, const QString &parent, const QString &name,
                    const QString &state, const QString &steps, const QString &text) {
        const QString gap = QStringLiteral("  ");
        QString l = id.rightJustified(idWidth) + gap
                + parent.rightJustified(std::max<qsizetype>(idWidth, 6)) + gap
                + name.leftJustified(nameWidth) + gap + state.leftJustified(9) + gap
                + steps.rightJustified(5) + gap + text;
        while (l.endsWith(QLatin1Char(' ')))
            l.chop(1);
        lines.append(l);
    };
    line(QStringLiteral("id"), QStringLiteral("parent"), QStringLiteral("name"),
         QStringLiteral("state"), QStringLiteral("steps"), QStringLiteral("result / error"));
    for (const Row &r : m_rows) {
        QString text = r.text;
        if (r.state == State::Cancelled)
            text = text.isEmpty() ? QStringLiteral("CancelledError")
                                  : QStringLiteral("CancelledError: ") + text;
        line(QString::number(r.id), r.parent ? QString::number(r.parent) : QStringLiteral("-"),
             oneLine(r.name, MaxName), QString::fromLatin1(stateName(r.state)),
             QString::number(r.steps), oneLine(text, MaxText));
    }
    return lines.join(QLatin1Char('\n'));
}
