#include "loopscope/ui/eventlogview.h"

#include <loopscope/eventloop.h>

#include <QFontDatabase>

namespace loopscope::ui {

namespace {
// Enough for a long session; QPlainTextEdit drops the oldest block beyond this.
constexpr int DefaultMaximumLines = 10000;
} // namespace

EventLogView::EventLogView(QWidget *parent) : EventLogView(nullptr, parent) { }

EventLogView::EventLogView(const loopscope::EventLoop *loop, QWidget *parent)
    : QPlainTextEdit(parent), m_loop(loop)
{
    setReadOnly(true);
    setUndoRedoEnabled(false);
    setMaximumBlockCount(DefaultMaximumLines);
    setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    setPlaceholderText(tr("Loop events appear here."));
}

EventLogView::~EventLogView() = default;

void EventLogView::setLoop(const loopscope::EventLoop *loop)
{
    m_loop = loop;
}

QString EventLogView::formatLine(const QString &line) const
{
    if (!m_loop)
        return line;
    const QString stamp = QString::number(m_loop->timeSeconds(), 'f', 3);
    return QLatin1Char('[') + stamp.rightJustified(8) + QLatin1String(" s] ") + line;
}

void EventLogView::appendLine(const QString &line)
{
    appendPlainText(formatLine(line));
}

} // namespace loopscope::ui
