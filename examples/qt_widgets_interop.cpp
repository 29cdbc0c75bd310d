// Qt Widgets and the engine in one window. The event loop is attached to the GUI thread and
// runs inside app.exec(). "Start" creates an engine task, bound to the window, that
//
//   1. waits for the "Continue" button (loopscope::waitForSignal, with a 30 s timeout),
//   2. counts primes on a worker thread (QtConcurrent::run through loopscope::toFuture),
//   3. sleeps 1 s on the loop (loopscope::sleep),
//
// logging each step. "Cancel" cancels the task; the log shows its CancelledError handler.
//
//   qt_widgets_interop                    interactive
//   qt_widgets_interop --autotest         drives one complete and one cancelled run by
//                                         itself, checks the log, prints "...: ok"
//   qt_widgets_interop --screenshot FILE  the same, then saves a picture of the window

#include <loopscope/loopscope.h>
#include <loopscope/qtinterop.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QVBoxLayout>
#include <QWidget>
#include <QtConcurrent>

#include <chrono>
#include <cstdio>
#include <optional>

using namespace std::chrono_literals;
using loopscope::Coro;

namespace {

//! Deliberately naive, so that it takes a moment on the worker thread.
int countPrimesBelow(int limit)
{
    int count = 0;
    for (int n = 2; n < limit; ++n) {
        bool prime = true;
        for (int d = 2; d * d <= n; ++d) {
            if (n % d == 0) {
                prime = false;
                break;
            }
        }
        count += prime ? 1 : 0;
    }
    return count;
}

class InteropWindow : public QWidget
{
public:
    explicit InteropWindow(loopscope::EventLoop &loop) : m_loop(loop)
    {
        setWindowTitle(QStringLiteral("Loopscope: Qt interop"));
        m_start = new QPushButton(QStringLiteral("Start"), this);
        m_continue = new QPushButton(QStringLiteral("Continue"), this);
        m_cancel = new QPushButton(QStringLiteral("Cancel"), this);
        m_state = new QLabel(this);
        m_log = new QPlainTextEdit(this);
        m_log->setReadOnly(true);

        auto *buttons = new QHBoxLayout;
        buttons->addWidget(m_start);
        buttons->addWidget(m_continue);
        buttons->addWidget(m_cancel);
        buttons->addStretch();
        buttons->addWidget(m_state);
        auto *layout = new QVBoxLayout(this);
        layout->addLayout(buttons);
        layout->addWidget(m_log);
        // No size constraints on the window itself (the offscreen platform used by the
        // autotest warns about them); a fixed starting size instead.
        layout->setSizeConstraint(QLayout::SetNoConstraint);
        resize(760, 360);

        connect(m_start, &QPushButton::clicked, this, [this] { start(); });
        connect(m_cancel, &QPushButton::clicked, this, [this] {
            if (m_task && !m_task->done())
                m_task->cancel("the Cancel button was clicked");
        });
        updateButtons();
    }

    QPushButton *startButton() const { return m_start; }
    QPushButton *continueButton() const { return m_continue; }
    QPushButton *cancelButton() const { return m_cancel; }
    QString logText() const { return m_log->toPlainText(); }
    std::optional<loopscope::Task<void>> task() const { return m_task; }

private:
    void start()
    {
        if (m_task && !m_task->done())
            return;
        // Bound to the window: if the window is destroyed first, the task is cancelled and
        // never resumes into it.
        m_task = loopscope::createTaskFor(m_loop, this, demo(),
                                          QStringLiteral("demo-%1").arg(++m_runs));
        m_task->addDoneCallback([self = QPointer<InteropWindow>(this)](loopscope::Task<void> t) {
            InteropWindow *window = self.data(); // a plain pointer: checked once, then used
            if (!window)
                return;
            window->log(t.cancelled() ? QStringLiteral("%1 ended: cancelled").arg(t.name())
                                      : QStringLiteral("%1 ended: finished").arg(t.name()));
            window->updateButtons();
        });
        updateButtons();
    }

    Coro<void> demo()
    {
        // `this` may die while we are suspended; the code after a co_await never runs then
        // (the task is cancelled), but the catch handler does, so it checks first.
        QPointer<InteropWindow> self(this);
        const QString name = loopscope::currentTask().name();
        log(QStringLiteral("%1 started: waiting for Continue (waitForSignal, 30 s timeout)")
                    .arg(name));
        try {
            co_await loopscope::waitForSignal(m_continue, &QPushButton::clicked, 30s);
            log(QStringLiteral("Continue clicked: counting primes on a worker thread "
                               "(QtConcurrent::run)"));
            const int primes =
                    co_await loopscope::toFuture(QtConcurrent::run(countPrimesBelow, 150000));
            log(QStringLiteral("%1 primes below 150000; resumed in task %2")
                        .arg(primes)
                        .arg(loopscope::currentTask().name()));
            log(QStringLiteral("sleeping 1 s on the loop (loopscope::sleep)"));
            co_await loopscope::sleep(1s);
            log(QStringLiteral("done"));
        } catch (const loopscope::TimeoutError &) {
            log(QStringLiteral("TimeoutError: nobody clicked Continue within 30 s"));
        } catch (const loopscope::CancelledError &e) {
            if (self)
                self->log(QStringLiteral("CancelledError caught (%1): cleaning up, re-raising")
                                  .arg(QString::fromStdString(e.message())));
            throw;
        }
    }

    void log(const QString &line)
    {
        m_log->appendPlainText(
                QStringLiteral("[%1 s] %2").arg(m_loop.timeSeconds(), 6, 'f', 3).arg(line));
    }

    void updateButtons()
    {
        const bool running = m_task && !m_task->done();
        m_start->setEnabled(!running);
        m_continue->setEnabled(running);
        m_cancel->setEnabled(running);
        m_state->setText(running ? QStringLiteral("task running") : QStringLiteral("idle"));
    }

    loopscope::EventLoop &m_loop;
    QPushButton *m_start;
    QPushButton *m_continue;
    QPushButton *m_cancel;
    QLabel *m_state;
    QPlainTextEdit *m_log;
    std::optional<loopscope::Task<void>> m_task;
    int m_runs = 0;
};

//! Waits for the window's current task, whatever its outcome.
Coro<void> settled(InteropWindow &window)
{
    try {
        co_await *window.task();
    } catch (const loopscope::CancelledError &) {
    }
}

//! Plays a user: one run to the end, one run cancelled while it sleeps.
Coro<bool> script(InteropWindow &window, QString screenshot)
{
    window.startButton()->click();
    co_await loopscope::sleep(200ms);
    window.continueButton()->click();
    co_await settled(window);

    window.startButton()->click();
    co_await loopscope::sleep(100ms);
    window.continueButton()->click();
    co_await loopscope::sleep(300ms); // past the computation, into the 1 s sleep
    window.cancelButton()->click();
    co_await settled(window);
    co_await loopscope::sleep(50ms); // let the window repaint

    if (!screenshot.isEmpty() && !window.grab().save(screenshot))
        co_return false;
    const QString text = window.logText();
    co_return text.contains(QStringLiteral("demo-1 ended: finished"))
            && text.contains(QStringLiteral("13848 primes below 150000; resumed in task demo-1"))
            && text.contains(QStringLiteral(
                    "CancelledError caught (the Cancel button was clicked): cleaning up"))
            && text.contains(QStringLiteral("demo-2 ended: cancelled"));
}

} // namespace

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    QCommandLineOption autotest(QStringLiteral("autotest"),
                                QStringLiteral("Run a scripted session and check the log."));
    QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                  QStringLiteral("Run the scripted session, save a picture."),
                                  QStringLiteral("file"));
    parser.addOption(autotest);
    parser.addOption(screenshot);
    parser.process(app);

    loopscope::EventLoop loop; // attached: runs inside app.exec(), no call of its own
    InteropWindow window(loop);
    window.show();

    int exitCode = 0;
    std::optional<loopscope::Task<bool>> scripted;
    if (parser.isSet(autotest) || parser.isSet(screenshot)) {
        scripted =
                loop.createTask(script(window, parser.value(screenshot)), QStringLiteral("script"));
        scripted->addDoneCallback([&exitCode](loopscope::Task<bool> t) {
            exitCode = !t.cancelled() && !t.exception() && t.result() ? 0 : 1;
            QCoreApplication::exit(exitCode);
        });
    }
    const int rc = app.exec();

    // The window was closed with its task still running: let it see its cancellation before
    // the loop closes (a pending task at close() is reported as destroyed while pending).
    if (auto task = window.task(); task && !task->done()) {
        task->cancel("the window was closed");
        try {
            loop.runUntilComplete(*task);
        } catch (const loopscope::CancelledError &) {
        }
    }
    if (scripted) {
        std::printf("qt_widgets_interop: %s\n", exitCode == 0 ? "ok" : "FAILED");
        return exitCode;
    }
    return rc;
}
