// A host application with its own engine tasks, and loopscope::ui::LoopInspector in a dock.
//
// The event loop is attached to the GUI thread and runs inside app.exec(). The window runs
// a few periodic tasks (a heartbeat, a poller, an autosave), a producer and a consumer joined
// by a bounded Queue (the consumer is slower, so the producer ends up waiting for room), and a
// button that spawns 100 short jobs. The dock on the right watches that loop: the task table,
// the timeline and the loop diagram, with pause, step and cancel.
//
//   inspector_embed                      interactive
//   inspector_embed --quit-after MS      quits after MS milliseconds (spawning 100 jobs once
//                                        on the way), checks that the inspector saw the tasks
//                                        and prints "inspector_embed: ok"
//   inspector_embed --screenshot FILE    with --quit-after: saves a picture of the window
//                                        just before quitting

#include <loopscope/loopscope.h>
#include <loopscope/ui/loopinspector.h>
#include <loopscope/ui/tasktablemodel.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QDockWidget>
#include <QLabel>
#include <QMainWindow>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRandomGenerator>
#include <QTimer>
#include <QVBoxLayout>

#include <chrono>
#include <cstdio>
#include <vector>

using namespace std::chrono_literals;
using loopscope::Coro;

namespace {

class HostWindow : public QMainWindow
{
public:
    explicit HostWindow(loopscope::EventLoop &loop) : m_loop(loop), m_queue(5)
    {
        setWindowTitle(QStringLiteral("Loopscope: an app with the inspector docked"));

        auto *intro = new QLabel(QStringLiteral(
                "<b>This window is the host application.</b> Its engine tasks run on the GUI "
                "thread's event loop, inside <tt>app.exec()</tt>. The dock on the right is "
                "<tt>loopscope::ui::LoopInspector</tt>, attached to that same loop: select a "
                "task and press Del to cancel it, or pause the loop and step it one callback "
                "at a time (this window keeps repainting; only the tasks stand still)."));
        intro->setWordWrap(true);
        m_counters = new QLabel;
        m_counters->setTextFormat(Qt::RichText);
        m_spawn = new QPushButton(QStringLiteral("Spawn 100 tasks"));
        m_spawn->setToolTip(QStringLiteral("100 jobs that sleep 0.5–3 s each, then finish"));
        connect(m_spawn, &QPushButton::clicked, this, [this] { spawnJobs(100); });
        m_log = new QPlainTextEdit;
        m_log->setReadOnly(true);
        m_log->setMaximumBlockCount(500);

        auto *central = new QWidget;
        auto *layout = new QVBoxLayout(central);
        layout->addWidget(intro);
        layout->addWidget(m_counters);
        layout->addWidget(m_spawn, 0, Qt::AlignLeft);
        layout->addWidget(m_log, 1);
        setCentralWidget(central);

        // Attached before the tasks start, so that the inspector sees them being created.
        m_inspector = new loopscope::ui::LoopInspector(loop);
        auto *dock = new QDockWidget(QStringLiteral("Loop inspector"), this);
        dock->setObjectName(QStringLiteral("inspectorDock"));
        dock->setWidget(m_inspector);
        addDockWidget(Qt::RightDockWidgetArea, dock);
        // No size constraints on the window itself (the offscreen platform the test runs on
        // warns about them); a fixed starting size instead.
        QMainWindow::layout()->setSizeConstraint(QLayout::SetNoConstraint);
        resize(1500, 860);
        resizeDocks({ dock }, { 1000 }, Qt::Horizontal);

        m_tasks.push_back(m_loop.createTask(periodic(QStringLiteral("heartbeat"), 500ms, &m_beats),
                                            QStringLiteral("heartbeat")));
        m_tasks.push_back(m_loop.createTask(periodic(QStringLiteral("poller"), 250ms, &m_polls),
                                            QStringLiteral("poller")));
        m_tasks.push_back(m_loop.createTask(periodic(QStringLiteral("autosave"), 2s, &m_saves),
                                            QStringLiteral("autosave")));
        m_tasks.push_back(m_loop.createTask(producer(), QStringLiteral("producer")));
        m_tasks.push_back(m_loop.createTask(consumer(), QStringLiteral("consumer")));
        updateCounters();
    }

    loopscope::ui::LoopInspector *inspector() const { return m_inspector; }
    void spawnJobs(int count)
    {
        for (int i = 0; i < count; ++i) {
            const auto delay =
                    std::chrono::milliseconds(500 + QRandomGenerator::global()->bounded(2500));
            // The loop keeps a pending task alive; the handle is not needed.
            static_cast<void>(
                    m_loop.createTask(job(delay), QStringLiteral("job-%1").arg(++m_spawned)));
        }
        log(QStringLiteral("spawned %1 jobs").arg(count));
    }
    int tasksStarted() const { return int(m_tasks.size()) + m_spawned; }

private:
    Coro<void> periodic(QString name, loopscope::Duration period, int *counter)
    {
        for (;;) {
            co_await loopscope::sleep(period);
            ++*counter;
            updateCounters();
            if (name == QLatin1String("autosave"))
                log(QStringLiteral("autosave #%1").arg(*counter));
        }
    }

    Coro<void> producer()
    {
        for (int item = 1;; ++item) {
            co_await loopscope::sleep(300ms);
            co_await m_queue.put(item); // waits while the queue holds 5 items
            ++m_produced;
            updateCounters();
        }
    }

    Coro<void> consumer()
    {
        for (;;) {
            const int item = co_await m_queue.get();
            co_await loopscope::sleep(450ms); // slower than the producer
            m_queue.taskDone();
            ++m_consumed;
            if (item % 10 == 0)
                log(QStringLiteral("consumed item %1").arg(item));
            updateCounters();
        }
    }

    Coro<void> job(std::chrono::milliseconds delay)
    {
        co_await loopscope::sleep(delay);
        ++m_jobsDone;
        updateCounters();
    }

    void updateCounters()
    {
        m_counters->setText(
                QStringLiteral("heartbeats <b>%1</b> · polls <b>%2</b> · autosaves <b>%3</b> · "
                               "produced <b>%4</b> · consumed <b>%5</b> · queue <b>%6</b>/5 · "
                               "jobs done <b>%7</b>/%8")
                        .arg(m_beats)
                        .arg(m_polls)
                        .arg(m_saves)
                        .arg(m_produced)
                        .arg(m_consumed)
                        .arg(m_queue.qsize())
                        .arg(m_jobsDone)
                        .arg(m_spawned));
    }

    void log(const QString &line)
    {
        m_log->appendPlainText(
                QStringLiteral("[%1 s] %2").arg(m_loop.timeSeconds(), 7, 'f', 3).arg(line));
    }

    loopscope::EventLoop &m_loop;
    loopscope::Queue<int> m_queue;
    std::vector<loopscope::Task<void>> m_tasks;
    loopscope::ui::LoopInspector *m_inspector;
    QLabel *m_counters;
    QPushButton *m_spawn;
    QPlainTextEdit *m_log;
    int m_beats = 0;
    int m_polls = 0;
    int m_saves = 0;
    int m_produced = 0;
    int m_consumed = 0;
    int m_spawned = 0;
    int m_jobsDone = 0;
};

//! Cancels every task still pending and lets them unwind, so that none is destroyed pending.
void cancelAll(loopscope::EventLoop &loop)
{
    loop.resume(); // the inspector may have left it paused
    for (loopscope::TaskRef task : loop.allTasks())
        task.cancel("the application quits");
    while (!loop.allTasks().empty()) {
        loop.stop();
        loop.runForever();
    }
}

} // namespace

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    QCommandLineParser parser;
    parser.addHelpOption();
    QCommandLineOption quitAfter(QStringLiteral("quit-after"),
                                 QStringLiteral("Quit after <ms> milliseconds and check the "
                                                "inspector saw the tasks."),
                                 QStringLiteral("ms"));
    QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                  QStringLiteral("With --quit-after: save a picture first."),
                                  QStringLiteral("file"));
    parser.addOption(quitAfter);
    parser.addOption(screenshot);
    parser.process(app);
    bool validDelay = true;
    const int quitMs = parser.isSet(quitAfter) ? parser.value(quitAfter).toInt(&validDelay) : -1;
    if (!validDelay || (parser.isSet(quitAfter) && quitMs < 0)) {
        std::fprintf(stderr, "inspector_embed: --quit-after wants milliseconds, got '%s'\n",
                     qPrintable(parser.value(quitAfter)));
        return 2;
    }

    loopscope::EventLoop loop; // attached: runs inside app.exec(), no call of its own
    HostWindow window(loop);
    window.show();

    bool ok = true;
    if (quitMs >= 0) {
        // Half way, what the button does; then check what the inspector shows and quit.
        QTimer::singleShot(quitMs / 2, &window, [&window] { window.spawnJobs(100); });
        QTimer::singleShot(quitMs, &window, [&] {
            loopscope::ui::LoopInspector *inspector = window.inspector();
            inspector->tick();
            const int rows = inspector->taskModel()->rowCount();
            ok = inspector->state() == loopscope::ui::LoopInspector::State::Attached
                    && rows == window.tasksStarted();
            if (!ok)
                std::fprintf(stderr, "inspector_embed: the inspector shows %d of %d tasks (%s)\n",
                             rows, window.tasksStarted(), qPrintable(inspector->stateText()));
            if (parser.isSet(screenshot) && !window.grab().save(parser.value(screenshot))) {
                std::fprintf(stderr, "inspector_embed: cannot save %s\n",
                             qPrintable(parser.value(screenshot)));
                ok = false;
            }
            QCoreApplication::quit();
        });
    }
    const int rc = app.exec();

    // The host quits with the inspector open: the tasks end first (the inspector watches them
    // go), then the window and its inspector, then the loop.
    cancelAll(loop);
    if (quitMs >= 0) {
        std::printf("inspector_embed: %s\n", ok ? "ok" : "FAILED");
        return ok ? 0 : 1;
    }
    return rc;
}
