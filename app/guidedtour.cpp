#include "guidedtour.h"

#include <QDialogButtonBox>
#include <QFont>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QTextBrowser>
#include <QVBoxLayout>

namespace {

QString code(const char *text)
{
    return QStringLiteral("<pre style=\"background:palette(alternate-base);padding:6px\">%1</pre>")
            .arg(QString::fromUtf8(text).toHtmlEscaped());
}

std::vector<GuidedTour::Page> makePages()
{
    using Action = GuidedTour::Action;
    std::vector<GuidedTour::Page> p;
    p.push_back(
            { QStringLiteral("The program"),
              QStringLiteral("<p>The classic first asyncio program, in Loopscope's C++:</p>")
                      + code("Coro<QString> slowOperation()\n"
                             "{\n"
                             "    co_await sleep(1s);           // suspends; the loop is free\n"
                             "    co_return \"Future is done!\";\n"
                             "}\n\n"
                             "auto task = loop.createTask(slowOperation());\n"
                             "task.addDoneCallback(gotResult); // prints the result\n"
                             "loop.runUntilComplete(task);     // runs the loop until it is done")
                      + QStringLiteral(
                              "<p>A <b>coroutine</b> is a function that can stop half-way and "
                              "carry on later. A <b>Task</b> drives one, step by step, on the "
                              "loop; it is also a <b>Future</b>: a result that arrives later. "
                              "The loop itself runs <i>one callback at a time</i>, in order, "
                              "from its <b>ready queue</b>.</p><p>Load the example: it starts "
                              "<b>paused</b>, before the loop has run anything.</p>"),
              Action::LoadSeedUntilComplete, QStringLiteral("Load the example, paused") });
    p.push_back(
            { QStringLiteral("Paused before the first callback"),
              QStringLiteral("<p>The loop is paused before it ran anything. Its <b>ready "
                             "queue</b> (the Loop view on the right) holds one box: the "
                             "<i>scenario:seed_run_until_complete</i> task. It stands in for the "
                             "program's own code above: when it runs it calls "
                             "<code>createTask(slowOperation())</code> and "
                             "<code>addDoneCallback(gotResult)</code>.</p><p>Run exactly one "
                             "callback.</p>"),
              Action::StepCallback, QStringLiteral("Step one callback (F10)") });
    p.push_back(
            { QStringLiteral("createTask() only schedules"),
              QStringLiteral("<p>Now the ready queue holds <i>slowOperation</i>. createTask() did "
                             "not run the coroutine: it put the task's first <b>step</b> in the "
                             "ready queue (asyncio: <code>loop.call_soon(task.__step)</code>). "
                             "The task table shows it <b>scheduled</b>, with no step run yet."
                             "</p><p>Run the next callback: that step.</p>"),
              Action::StepCallback, QStringLiteral("Step one callback (F10)") });
    p.push_back({ QStringLiteral("The step runs until the first co_await"),
                  QStringLiteral(
                          "<p>The step ran the coroutine up to <code>co_await sleep(1s)</code>. "
                          "sleep() armed a <b>timer</b> one second ahead (see the timer heap, with "
                          "its countdown bar) and the task suspended on the timer's future: it is "
                          "now <b>awaiting</b>, and nothing is left in the ready queue.</p><p>"
                          "The loop is idle, not stuck: with nothing ready it sleeps in Qt's own "
                          "event loop until the earliest timer is due, so the window and any other "
                          "Qt work keep running.</p>"),
                  Action::StepCallback, QStringLiteral("Step to the timer (F10)") });
    p.push_back(
            { QStringLiteral("The timer fires and wakes the task"),
              QStringLiteral(
                      "<p>After a second the timer's callback ran: it set the sleep future's "
                      "result. A future does not call its waiters inline: it <b>schedules</b> "
                      "them, so the task's wake-up went into the ready queue (the arrow from the "
                      "timers to the task). Step again to run it.</p>"),
              Action::StepCallback, QStringLiteral("Step the wake-up (F10)") });
    p.push_back(
            { QStringLiteral("The task returns; its done-callback is scheduled"),
              QStringLiteral("<p>The task's second step resumed the coroutine after its "
                             "co_await; it returned \"Future is done!\", so the task is "
                             "<b>finished</b>. Its done-callback <i>gotResult</i> was not called "
                             "inline either: it sits in the ready queue as a callback of its "
                             "own. One more step prints the result (see the event log), and "
                             "runUntilComplete() returns because its task is done.</p>"),
              Action::StepCallback, QStringLiteral("Step the done-callback (F10)") });
    p.push_back({ QStringLiteral("The timeline tells the same story"),
                  QStringLiteral(
                          "<p>Open the <b>Timeline</b> tab at the bottom: the task's lane shows a "
                          "short <b>running</b> step, a long <b>awaiting</b> span (the sleep), a "
                          "second short step, and the finish marker. Hover a segment for its "
                          "times; drag with Shift to measure a range; the wheel zooms.</p>"
                          "<p>Everything you stepped through is also in the <b>Event log</b>, "
                          "one line per event the loop reported.</p>"),
                  Action::None, QString() });
    p.push_back({ QStringLiteral("Example 2: runForever() and stop()"),
                  QStringLiteral("<p>The second seed example runs the loop <i>forever</i>, and the "
                                 "done-callback ends it:</p>")
                          + code("void gotResult(Future<QString> &f)\n"
                                 "{\n"
                                 "    print(f.result());\n"
                                 "    loop.stop();   // ends runForever() after this iteration\n"
                                 "}\n\n"
                                 "loop.runForever();")
                          + QStringLiteral(
                                  "<p>stop() does not end the loop at once: the current iteration "
                                  "finishes first. Load it paused and press <b>F11</b> to step "
                                  "whole iterations, or <b>Space</b> to let it run.</p>"),
                  Action::LoadSeedRunForever, QStringLiteral("Load example 2, paused") });
    p.push_back(
            { QStringLiteral("Your turn"),
              QStringLiteral("<p>Spawn tasks from the panel on the left (fan-outs, timeouts, "
                             "producer/consumer queues, executor jobs, a callback that blocks the "
                             "loop…), cancel them with <b>Del</b>, pause with <b>Space</b>, step "
                             "with <b>F10</b>/<b>F11</b>, and slow time down with the slider. The "
                             "scenario picker in the toolbar has ready-made ones; "
                             "<b>Export trace</b> saves what happened for chrome://tracing or "
                             "Perfetto, and <b>File ▸ Open trace</b> replays it here, backwards "
                             "too.</p>"),
              Action::Run, QStringLiteral("Run (Space)") });
    return p;
}

} // namespace

const std::vector<GuidedTour::Page> &GuidedTour::pages()
{
    static const std::vector<Page> all = makePages();
    return all;
}

GuidedTour::GuidedTour(QWidget *parent) : QDialog(parent)
{
    setObjectName(QStringLiteral("guidedTour"));
    setWindowTitle(tr("Guided tour: what happens when runUntilComplete runs this task"));
    setModal(false);
    resize(560, 440);

    m_title = new QLabel(this);
    QFont big = m_title->font();
    big.setPointSizeF(big.pointSizeF() * 1.3);
    big.setBold(true);
    m_title->setFont(big);
    m_title->setWordWrap(true);
    m_position = new QLabel(this);
    m_position->setObjectName(QStringLiteral("tourPosition"));
    m_text = new QTextBrowser(this);
    m_text->setObjectName(QStringLiteral("tourText"));
    m_text->setOpenLinks(false);

    m_action = new QPushButton(this);
    m_action->setObjectName(QStringLiteral("tourAction"));
    m_back = new QPushButton(tr("◀ Back"), this);
    m_back->setObjectName(QStringLiteral("tourBack"));
    m_next = new QPushButton(tr("Next ▶"), this);
    m_next->setObjectName(QStringLiteral("tourNext"));
    m_next->setDefault(true);
    auto *close = new QPushButton(tr("Close"), this);

    auto *header = new QHBoxLayout;
    header->addWidget(m_title, 1);
    header->addWidget(m_position);
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_action);
    buttons->addStretch(1);
    buttons->addWidget(m_back);
    buttons->addWidget(m_next);
    buttons->addWidget(close);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(header);
    layout->addWidget(m_text, 1);
    layout->addLayout(buttons);

    connect(m_back, &QPushButton::clicked, this, [this] { setPage(m_page - 1); });
    connect(m_next, &QPushButton::clicked, this, [this] { setPage(m_page + 1); });
    connect(close, &QPushButton::clicked, this, &QDialog::close);
    connect(m_action, &QPushButton::clicked, this, [this] {
        const Page &page = pages()[std::size_t(m_page)];
        Q_EMIT actionRequested(page.action);
        // Acting on a page moves the tour on: the next page explains what just happened.
        if (page.action != Action::Run && m_page + 1 < pageCount())
            setPage(m_page + 1);
    });
    setPage(0);
}

void GuidedTour::setPage(int index)
{
    m_page = std::clamp(index, 0, pageCount() - 1);
    const Page &page = pages()[std::size_t(m_page)];
    m_title->setText(page.title);
    m_position->setText(tr("%1 / %2").arg(m_page + 1).arg(pageCount()));
    m_text->setHtml(page.html);
    m_action->setVisible(page.action != Action::None);
    m_action->setText(page.actionLabel);
    m_back->setEnabled(m_page > 0);
    m_next->setEnabled(m_page + 1 < pageCount());
}
