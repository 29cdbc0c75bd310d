#include "mainwindow.h"

#include <loopscope/ui/eventlogview.h>

#include <QHBoxLayout>
#include <QLabel>
#include <QPointer>
#include <QPushButton>
#include <QStatusBar>
#include <QVBoxLayout>
#include <QWidget>

#include <chrono>
#include <exception>

using namespace std::chrono_literals;
using loopscope::ui::EventLogView;

namespace {

const QString FutureIsDone = QStringLiteral("Future is done!");

/*
 * slow_operation() of both seed examples, narrating itself. The log is held through a
 * QPointer because the task can outlive the window (it is cancelled, and the cancellation
 * resumes the coroutine once more, after the window is gone).
 */
loopscope::Coro<QString> slowOperation(QPointer<EventLogView> log)
{
    if (log)
        log->appendLine(QStringLiteral("slowOperation: co_await sleep(1 s): task suspended, "
                                       "the loop is free"));
    co_await loopscope::sleep(1s);
    if (log)
        log->appendLine(QStringLiteral("slowOperation: woke up, co_return the result"));
    co_return FutureIsDone;
}

} // namespace

MainWindow::MainWindow(loopscope::EventLoop *loop, QWidget *parent)
    : QMainWindow(parent), m_loop(loop)
{
    setWindowTitle(tr("Loopscope"));

    auto *header = new QLabel(
            tr("<b>Loopscope</b> runs Python asyncio's event loop inside Qt's own event loop. "
               "Each example creates a task from the coroutine <code>slowOperation()</code>, "
               "which sleeps for one second and returns \"Future is done!\"; a done-callback "
               "prints the result. While the task sleeps the loop is free, so the window "
               "stays responsive."));
    header->setWordWrap(true);
    header->setTextFormat(Qt::RichText);

    m_example1Button = new QPushButton(tr("Example 1: run_until_complete"));
    m_example1Button->setObjectName(QStringLiteral("example1Button"));
    m_example1Button->setToolTip(tr("create_task + add_done_callback + run_until_complete"));
    connect(m_example1Button, &QPushButton::clicked, this, &MainWindow::runExample1);

    m_example2Button = new QPushButton(tr("Example 2: run_forever + stop"));
    m_example2Button->setObjectName(QStringLiteral("example2Button"));
    m_example2Button->setToolTip(tr("create_task + add_done_callback + run_forever; the "
                                    "callback calls stop()"));
    connect(m_example2Button, &QPushButton::clicked, this, &MainWindow::runExample2);

    m_log = new EventLogView(m_loop);
    m_log->setObjectName(QStringLiteral("eventLog"));

    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_example1Button);
    buttons->addWidget(m_example2Button);
    buttons->addStretch();

    auto *central = new QWidget;
    auto *layout = new QVBoxLayout(central);
    layout->addWidget(header);
    layout->addLayout(buttons);
    layout->addWidget(m_log, 1);
    setCentralWidget(central);

    statusBar()->showMessage(tr("Ready: pick an example."));
    resize(820, 460);
}

MainWindow::~MainWindow()
{
    // The done-callback only holds a QPointer to us, so it is safe to let it run later.
    if (m_task)
        m_task->cancel();
}

void MainWindow::runExample1()
{
    startExample(Example::RunUntilComplete);
}

void MainWindow::runExample2()
{
    startExample(Example::RunForeverStop);
}

void MainWindow::startExample(Example example)
{
    if (m_task)
        return; // the buttons are disabled meanwhile; a queued click may still get here

    const bool first = example == Example::RunUntilComplete;
    m_log->appendLine(first ? QStringLiteral("=== Example 1: create_task, add_done_callback, "
                                             "run_until_complete ===")
                            : QStringLiteral("=== Example 2: create_task, add_done_callback, "
                                             "run_forever, stop() from the callback ==="));

    m_task = m_loop->createTask(slowOperation(m_log), QStringLiteral("slowOperation"));
    m_log->appendLine(QStringLiteral("loop.createTask(slowOperation()): task created, first "
                                     "step scheduled with callSoon"));

    QPointer<MainWindow> self(this);
    m_task->addDoneCallback([self, example](loopscope::Future<QString> future) {
        QString outcome;
        try {
            outcome = future.result();
        } catch (const loopscope::CancelledError &) {
            outcome = QStringLiteral("cancelled");
        } catch (const std::exception &error) {
            outcome = QStringLiteral("error: ") + QString::fromUtf8(error.what());
        }
        if (self)
            self->onTaskDone(example, outcome);
    });
    m_log->appendLine(QStringLiteral("task.addDoneCallback(gotResult)"));

    if (first) {
        m_log->appendLine(QStringLiteral("loop.runUntilComplete(task): the loop already runs "
                                         "in app.exec(), so just wait"));
    } else {
        m_log->appendLine(QStringLiteral("loop.runForever(): the loop already runs in "
                                         "app.exec(), so just wait"));
    }

    setExampleRunning(true);
    statusBar()->showMessage(first ? tr("Example 1 running: the task sleeps for 1 s…")
                                   : tr("Example 2 running: the task sleeps for 1 s…"));
}

void MainWindow::onTaskDone(Example example, const QString &outcome)
{
    m_log->appendLine(QStringLiteral("done-callback gotResult(future) fired: ") + outcome);
    if (example == Example::RunForeverStop) {
        // Calling stop() here would be wrong: with no runForever() active, asyncio's stop()
        // makes the *next* runForever() return after one iteration.
        m_log->appendLine(QStringLiteral("gotResult: loop.stop() ends runForever() in a "
                                         "program; this loop stays attached to Qt"));
    }
    m_task.reset();
    setExampleRunning(false);
    statusBar()->showMessage(tr("Example %1 finished: %2")
                                     .arg(example == Example::RunUntilComplete ? 1 : 2)
                                     .arg(outcome));
    Q_EMIT exampleFinished(outcome);
}

void MainWindow::setExampleRunning(bool running)
{
    m_example1Button->setEnabled(!running);
    m_example2Button->setEnabled(!running);
}
