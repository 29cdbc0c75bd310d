#pragma once

#include <loopscope/loopscope.h>

#include <QMainWindow>
#include <QString>

#include <optional>

class QLabel;
class QPushButton;

namespace loopscope::ui {
class EventLogView;
}

/*!
 * The visualizer's main window. For now it runs the two asyncio examples the project starts
 * from (see docs/asyncio-mapping.md) on \a loop and logs every step.
 *
 * \a loop is the engine loop attached to the GUI thread: it runs inside app.exec(), so an
 * example only has to create its task and add a done-callback; no nested loop is started.
 * Tests pass a loop on a VirtualClock so the one-second sleep completes at once.
 */
class MainWindow : public QMainWindow
{
    Q_OBJECT

public:
    explicit MainWindow(loopscope::EventLoop *loop, QWidget *parent = nullptr);
    ~MainWindow() override;

    loopscope::ui::EventLogView *log() const { return m_log; }
    //! True while an example's task has not finished yet.
    bool isExampleRunning() const { return m_task.has_value(); }

public Q_SLOTS:
    //! Example 1: create_task, add_done_callback, run_until_complete.
    void runExample1();
    //! Example 2: create_task, add_done_callback, run_forever, stop() from the callback.
    void runExample2();

Q_SIGNALS:
    //! Emitted from the done-callback with what it printed ("Future is done!" or an error).
    void exampleFinished(const QString &outcome);

private:
    enum class Example { RunUntilComplete, RunForeverStop };

    void startExample(Example example);
    void onTaskDone(Example example, const QString &outcome);
    void setExampleRunning(bool running);

    loopscope::EventLoop *m_loop;
    loopscope::ui::EventLogView *m_log = nullptr;
    QPushButton *m_example1Button = nullptr;
    QPushButton *m_example2Button = nullptr;
    //! The example in flight; the window cancels it when it closes first.
    std::optional<loopscope::Task<QString>> m_task;
};
