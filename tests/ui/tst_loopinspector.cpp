#include <loopscope/clock.h>
#include <loopscope/eventloop.h>
#include <loopscope/recorder.h>
#include <loopscope/sleep.h>
#include <loopscope/task.h>
#include <loopscope/tsan.h>
#include <loopscope/ui/warningsmodel.h>
#include <loopscope/ui/warningspanel.h>
#include <loopscope/ui/loopinspector.h>
#include <loopscope/ui/taskfilterproxymodel.h>
#include <loopscope/ui/tasktablemodel.h>
#include <loopscope/ui/timelinemodel.h>
#include <loopscope/ui/tracebatch.h>

#include <QAbstractItemModelTester>
#include <QComboBox>
#include <QElapsedTimer>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTableView>
#include <QTest>
#include <QThread>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

using loopscope::Coro;
using loopscope::EventLoop;
using loopscope::Future;
using loopscope::RecordedEvent;
using loopscope::StepKind;
using loopscope::Task;
using loopscope::TaskStats;
using loopscope::TraceEventKind;
using loopscope::TraceRecorder;
using loopscope::ui::LoopInspector;
using loopscope::ui::TaskTableModel;
using loopscope::ui::TraceBatch;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<loopscope::Clock> virtualClock()
{
    return std::make_shared<loopscope::VirtualClock>();
}

//! Waits on \a future for ever (until cancelled): a task that stays in the table.
Coro<void> waitOn(Future<void> future)
{
    co_await future;
}

//! Ticks \a count times, \a period apart (loop time).
Coro<void> periodic(int count, loopscope::Duration period)
{
    for (int i = 0; i < count; ++i)
        co_await loopscope::sleep(period);
}

//! The row of \a name in the inspector's task table, or -1.
int rowOf(const LoopInspector &inspector, const QString &name)
{
    const TaskTableModel *model = inspector.taskModel();
    for (int row = 0; row < model->rowCount(); ++row) {
        if (model->index(row, TaskTableModel::NameColumn).data().toString() == name)
            return row;
    }
    return -1;
}

TaskStats::State stateOf(const LoopInspector &inspector, const QString &name)
{
    const int row = rowOf(inspector, name);
    if (row < 0)
        return TaskStats::State::Created;
    return inspector.taskModel()->taskAt(row).state;
}

template <typename T>
T *child(const LoopInspector &inspector, const char *name)
{
    return inspector.findChild<T *>(QString::fromLatin1(name));
}

/*!
 * An EventLoop on a thread of its own (attached mode, QThread::exec()), the way a host app
 * might run one. run() executes code on that thread and waits for it.
 */
class LoopThread
{
public:
    LoopThread()
    {
        m_thread.setObjectName(QStringLiteral("tst-loop"));
        m_context.moveToThread(&m_thread);
        m_thread.start();
        run([this] { m_loop = std::make_unique<EventLoop>(virtualClock()); });
    }
    ~LoopThread()
    {
        destroyLoop();
        m_thread.quit();
        m_thread.wait();
    }

    void run(const std::function<void()> &fn)
    {
        // Qt's queue and the semaphore this blocks on are invisible to ThreadSanitizer:
        // HandOff orders what came before with fn, the release/acquire pair fn with what
        // follows here.
        QMetaObject::invokeMethod(&m_context, loopscope::HandOff([this, &fn] {
            fn();
            LOOPSCOPE_TSAN_RELEASE(this);
        }),
                                  Qt::BlockingQueuedConnection);
        LOOPSCOPE_TSAN_ACQUIRE(this);
    }
    EventLoop &loop() { return *m_loop; }
    bool hasLoop() const { return bool(m_loop); }
    //! Cancels what is left, lets it unwind, destroys the loop (on its thread).
    void destroyLoop()
    {
        run([this] {
            if (!m_loop)
                return;
            if (!m_loop->isClosed()) {
                m_loop->resume();
                for (loopscope::TaskRef task : m_loop->allTasks())
                    task.cancel();
                while (!m_loop->allTasks().empty()) {
                    m_loop->stop();
                    m_loop->runForever();
                }
            }
            m_tasks.clear();
            m_futures.clear();
            m_loop.reset();
        });
    }
    //! Keeps tasks created on the loop thread; they are dropped there.
    std::vector<Task<void>> &tasks() { return m_tasks; }
    std::vector<Future<void>> &futures() { return m_futures; }
    bool lastTaskDone()
    {
        bool done = false;
        run([&] { done = m_tasks.back().done(); });
        return done;
    }

private:
    QThread m_thread;
    QObject m_context; //!< lives in m_thread: run() posts to it
    std::unique_ptr<EventLoop> m_loop;
    std::vector<Task<void>> m_tasks;
    std::vector<Future<void>> m_futures;
};

//! Lets cancelled tasks of the test thread's loop unwind, then closes it.
void drainAndClose(EventLoop &loop)
{
    loop.resume();
    for (loopscope::TaskRef task : loop.allTasks())
        task.cancel();
    while (!loop.allTasks().empty()) {
        loop.stop();
        loop.runForever();
    }
    loop.close();
}

} // namespace

class tst_LoopInspector : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sameThreadRowsAppearAndFilter();
    void cancelButtonCancelsTheSelectedTask();
    void pauseThenStepRunsExactlyOneCallback();
    void stepIterationAndResume();
    void stepWhileRunningIsReportedNotThrown();
    void otherThreadAttachRowsCommandsDetach();
    void otherThreadPausedLoopAttachesOnceItResumes();
    void otherThreadLoopClosedBeforeTheAttachRequestRan();
    void sameThreadLoopClosedFirst();
    void sameThreadLoopDestroyedFirst();
    void otherThreadLoopDestroyedFirst();
    void inspectorDestroyedFirstSameThread();
    void inspectorDestroyedFirstOtherThread();
    void attachToAClosedLoop();
    void reattachStartsEmpty();
    void addTabAndBatchReady();
    void attachingCost();
};

void tst_LoopInspector::sameThreadRowsAppearAndFilter()
{
    EventLoop loop(virtualClock());
    LoopInspector inspector(loop);
    QCOMPARE(inspector.state(), LoopInspector::State::Attached);
    QAbstractItemModelTester tester(inspector.taskFilterModel(),
                                    QAbstractItemModelTester::FailureReportingMode::QtTest);
    Future<void> never = loop.createFuture();
    std::vector<Task<void>> tasks;
    tasks.push_back(loop.createTask(periodic(5, 10ms), QStringLiteral("ticker")));
    tasks.push_back(loop.createTask(waitOn(never), QStringLiteral("waiter-1")));
    tasks.push_back(loop.createTask(waitOn(never), QStringLiteral("waiter-2")));

    QTRY_COMPARE(stateOf(inspector, QStringLiteral("ticker")), TaskStats::State::Finished);
    QTRY_COMPARE(stateOf(inspector, QStringLiteral("waiter-1")), TaskStats::State::Waiting);
    QCOMPARE(stateOf(inspector, QStringLiteral("waiter-2")), TaskStats::State::Waiting);
    QCOMPARE(inspector.taskModel()->rowCount(), 3);
    // The timeline got lanes for them too.
    QVERIFY(inspector.timelineModel()->taskLaneCount() >= 3);

    // The text filter and the state filter, through their widgets.
    auto *filter = child<QLineEdit>(inspector, "taskFilter");
    QVERIFY(filter);
    QTest::keyClicks(filter, QStringLiteral("waiter"));
    QCOMPARE(inspector.taskFilterModel()->rowCount(), 2);
    filter->clear();
    auto *stateFilter = child<QComboBox>(inspector, "stateFilter");
    QVERIFY(stateFilter);
    stateFilter->setCurrentIndex(int(loopscope::ui::TaskFilterProxyModel::StateFilter::Finished));
    QCOMPARE(inspector.taskFilterModel()->rowCount(), 1);
    QCOMPARE(inspector.taskFilterModel()->index(0, TaskTableModel::NameColumn).data().toString(),
             QStringLiteral("ticker"));

    auto *status = child<QLabel>(inspector, "inspectorStatus");
    QVERIFY(status->text().contains(QStringLiteral("2 live task(s)")));
    drainAndClose(loop);
}

void tst_LoopInspector::cancelButtonCancelsTheSelectedTask()
{
    EventLoop loop(virtualClock());
    LoopInspector inspector(loop);
    inspector.resize(900, 500);
    inspector.show();
    QVERIFY(QTest::qWaitForWindowExposed(&inspector));
    // One future each: cancelling a task cancels the future it awaits.
    Future<void> never1 = loop.createFuture();
    Future<void> never2 = loop.createFuture();
    Task<void> keep = loop.createTask(waitOn(never1), QStringLiteral("keep"));
    Task<void> victim = loop.createTask(waitOn(never2), QStringLiteral("victim"));
    QTRY_COMPARE(stateOf(inspector, QStringLiteral("victim")), TaskStats::State::Waiting);

    auto *cancel = child<QPushButton>(inspector, "cancelButton");
    QVERIFY(!cancel->isEnabled()); // nothing selected
    const int row = inspector.taskFilterModel()
                            ->mapFromSource(inspector.taskModel()->index(
                                    rowOf(inspector, QStringLiteral("victim")), 0))
                            .row();
    inspector.taskTable()->selectRow(row);
    QCOMPARE(inspector.selectedTaskIds(), std::vector<std::uint64_t>{ victim.taskId() });
    QVERIFY(cancel->isEnabled());
    QTest::mouseClick(cancel, Qt::LeftButton);

    QTRY_VERIFY(victim.done());
    QVERIFY(victim.cancelled());
    QVERIFY(!keep.done());
    QTRY_COMPARE(stateOf(inspector, QStringLiteral("victim")), TaskStats::State::Cancelled);
    QCOMPARE(inspector.taskModel()->taskAt(rowOf(inspector, QStringLiteral("victim"))).resultText,
             QStringLiteral("cancelled from the inspector"));
    QCOMPARE(stateOf(inspector, QStringLiteral("keep")), TaskStats::State::Waiting);

    // The Del key does the same for the keyboard.
    inspector.taskTable()->selectRow(inspector.taskFilterModel()
                                             ->mapFromSource(inspector.taskModel()->index(
                                                     rowOf(inspector, QStringLiteral("keep")), 0))
                                             .row());
    inspector.taskTable()->setFocus();
    QTest::keyClick(inspector.taskTable(), Qt::Key_Delete);
    QTRY_VERIFY(keep.cancelled());
    drainAndClose(loop);
}

void tst_LoopInspector::pauseThenStepRunsExactlyOneCallback()
{
    EventLoop loop(virtualClock());
    LoopInspector inspector(loop);
    auto *pause = child<QPushButton>(inspector, "pauseButton");
    auto *stepCallback = child<QPushButton>(inspector, "stepCallbackButton");
    QVERIFY(!stepCallback->isEnabled());
    // Paused before the loop ever ran: the three first steps wait in the ready queue.
    QTest::mouseClick(pause, Qt::LeftButton);
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 3; ++i)
        tasks.push_back(loop.createTask(periodic(3, 1s), QStringLiteral("p-%1").arg(i)));
    QTRY_VERIFY(inspector.lastBatch().stats.paused);
    QCOMPARE(pause->text(), QStringLiteral("Resume"));
    QVERIFY(stepCallback->isEnabled());
    const std::uint64_t before = inspector.lastBatch().stats.callbacks;
    const std::uint64_t pauses = inspector.lastBatch().stats.pauses;

    std::vector<RecordedEvent> events;
    connect(&inspector, &LoopInspector::batchReady, this, [&events](const TraceBatch &b) {
        events.insert(events.end(), b.events.begin(), b.events.end());
    });
    QTest::mouseClick(stepCallback, Qt::LeftButton);
    QTRY_VERIFY(inspector.lastBatch().stats.pauses > pauses);
    QVERIFY(inspector.lastBatch().stats.paused);
    QCOMPARE(inspector.lastBatch().stats.callbacks, before + 1);
    // Between the step and the pause that ends it: exactly one callback, one task step.
    std::size_t finished = 0;
    bool pausedAgain = false;
    for (const RecordedEvent &e : events) {
        if (e.kind == TraceEventKind::LoopPaused) {
            QCOMPARE(loopscope::PauseReason(e.aux), loopscope::PauseReason::StepDone);
            pausedAgain = true;
            break;
        }
        finished += e.kind == TraceEventKind::HandleFinished ? 1 : 0;
    }
    QVERIFY(pausedAgain);
    QCOMPARE(finished, std::size_t(1));
    auto *status = child<QLabel>(inspector, "inspectorStatus");
    QVERIFY2(status->text().startsWith(QStringLiteral("Paused after a step")),
             qPrintable(status->text()));
    drainAndClose(loop);
}

void tst_LoopInspector::stepIterationAndResume()
{
    EventLoop loop(virtualClock());
    LoopInspector inspector(loop);
    inspector.pause();
    std::vector<Task<void>> tasks;
    for (int i = 0; i < 3; ++i)
        tasks.push_back(loop.createTask(periodic(2, 1s), QStringLiteral("p-%1").arg(i)));
    QTRY_VERIFY(inspector.lastBatch().stats.paused);
    const std::uint64_t iterations = inspector.lastBatch().stats.iterations;
    const std::uint64_t pauses = inspector.lastBatch().stats.pauses;

    QTest::mouseClick(child<QPushButton>(inspector, "stepIterationButton"), Qt::LeftButton);
    QTRY_VERIFY(inspector.lastBatch().stats.pauses > pauses);
    QCOMPARE(inspector.lastBatch().stats.iterations, iterations + 1);
    // The whole ready snapshot ran: the three first steps.
    QCOMPARE(inspector.lastBatch().stats.taskSteps, std::uint64_t(3));

    QTest::mouseClick(child<QPushButton>(inspector, "pauseButton"), Qt::LeftButton); // Resume
    QTRY_VERIFY(tasks[0].done() && tasks[1].done() && tasks[2].done());
    QTRY_VERIFY(!inspector.lastBatch().stats.paused);
    QCOMPARE(child<QPushButton>(inspector, "pauseButton")->text(), QStringLiteral("Pause"));
    loop.close();
}

void tst_LoopInspector::stepWhileRunningIsReportedNotThrown()
{
    EventLoop loop(virtualClock());
    LoopInspector inspector(loop);
    QSignalSpy messages(&inspector, &LoopInspector::messageLogged);
    inspector.step(StepKind::Callback);
    QCOMPARE(messages.count(), 1);
    QVERIFY2(messages.at(0).at(0).toString().contains(QStringLiteral("not paused")),
             qPrintable(messages.at(0).at(0).toString()));
    QVERIFY(child<QLabel>(inspector, "inspectorStatus")
                    ->text()
                    .contains(QStringLiteral("not paused")));
    loop.close();
}

void tst_LoopInspector::otherThreadAttachRowsCommandsDetach()
{
    LoopThread host;
    host.run([&] {
        host.futures().push_back(host.loop().createFuture());
        host.tasks().push_back(
                host.loop().createTask(waitOn(host.futures()[0]), QStringLiteral("far-1")));
        host.tasks().push_back(
                host.loop().createTask(waitOn(host.futures()[0]), QStringLiteral("far-2")));
    });
    std::weak_ptr<const TraceRecorder> recorder;
    {
        LoopInspector inspector(host.loop());
        recorder = inspector.recorder();
        // The observer is installed by the loop's thread, not here (maybe done already).
        QVERIFY(inspector.state() == LoopInspector::State::Attaching
                || inspector.state() == LoopInspector::State::Attached);
        QTRY_COMPARE(inspector.state(), LoopInspector::State::Attached);
        // Tasks created before attaching are not in the trace (see the report) …
        inspector.tick();
        QCOMPARE(inspector.taskModel()->rowCount(), 0);
        host.run([&] {
            host.tasks().push_back(host.loop().createTask(periodic(3, 1s), QStringLiteral("t")));
            // Its own future: cancelling a task cancels the future it awaits.
            host.futures().push_back(host.loop().createFuture());
            host.tasks().push_back(
                    host.loop().createTask(waitOn(host.futures()[1]), QStringLiteral("w")));
        });
        QTRY_COMPARE(stateOf(inspector, QStringLiteral("t")), TaskStats::State::Finished);
        QTRY_COMPARE(stateOf(inspector, QStringLiteral("w")), TaskStats::State::Waiting);

        // Pause and resume travel to the loop's thread as Qt events.
        QTest::mouseClick(child<QPushButton>(inspector, "pauseButton"), Qt::LeftButton);
        QTRY_VERIFY(inspector.lastBatch().stats.paused);
        bool paused = false;
        host.run([&] { paused = host.loop().isPaused(); });
        QVERIFY(paused);
        // A step reaches a paused loop (its inbox is not drained while paused).
        const std::uint64_t pauses = inspector.lastBatch().stats.pauses;
        host.run([&] {
            host.tasks().push_back(
                    host.loop().createTask(periodic(1, 1s), QStringLiteral("stepped")));
        });
        inspector.step(StepKind::Callback);
        QTRY_VERIFY(inspector.lastBatch().stats.pauses > pauses);
        QTest::mouseClick(child<QPushButton>(inspector, "pauseButton"), Qt::LeftButton);
        QTRY_VERIFY(!inspector.lastBatch().stats.paused);
        QTRY_COMPARE(stateOf(inspector, QStringLiteral("stepped")), TaskStats::State::Finished);

        // Cancel from the table, on the other thread.
        inspector.taskTable()->selectRow(inspector.taskFilterModel()
                                                 ->mapFromSource(inspector.taskModel()->index(
                                                         rowOf(inspector, QStringLiteral("w")), 0))
                                                 .row());
        QTest::mouseClick(child<QPushButton>(inspector, "cancelButton"), Qt::LeftButton);
        QTRY_COMPARE(stateOf(inspector, QStringLiteral("w")), TaskStats::State::Cancelled);
        bool farCancelled = true;
        host.run([&] { farCancelled = host.tasks()[0].done(); });
        QVERIFY(!farCancelled);

        inspector.detach();
        QCOMPARE(inspector.state(), LoopInspector::State::Detached);
        QVERIFY(!child<QPushButton>(inspector, "pauseButton")->isEnabled());
        QVERIFY(inspector.taskModel()->rowCount() > 0); // the views keep what they showed
    }
    // The agent removed the observer and deleted itself on the loop's thread: the recorder,
    // which it shared, is gone.
    QTRY_VERIFY(recorder.expired());
    // The loop goes on without it.
    host.run([&] {
        host.tasks().push_back(host.loop().createTask(periodic(2, 1s), QStringLiteral("after")));
    });
    QTRY_VERIFY(host.lastTaskDone());
}

void tst_LoopInspector::otherThreadPausedLoopAttachesOnceItResumes()
{
    LoopThread host;
    host.run([&] { host.loop().pause(); });
    LoopInspector inspector(host.loop());
    QCOMPARE(inspector.state(), LoopInspector::State::Attaching);
    QVERIFY(!child<QPushButton>(inspector, "pauseButton")->isEnabled());
    QVERIFY(child<QLabel>(inspector, "inspectorStatus")
                    ->text()
                    .contains(QStringLiteral("Attaching")));
    host.run([&] { host.loop().resume(); });
    QTRY_COMPARE(inspector.state(), LoopInspector::State::Attached);
    QVERIFY(child<QPushButton>(inspector, "pauseButton")->isEnabled());
}

void tst_LoopInspector::otherThreadLoopClosedBeforeTheAttachRequestRan()
{
    LoopThread host;
    host.run([&] { host.loop().pause(); }); // the request waits in the inbox
    LoopInspector inspector(host.loop());
    QSignalSpy states(&inspector, &LoopInspector::stateChanged);
    QCOMPARE(inspector.state(), LoopInspector::State::Attaching);
    host.destroyLoop(); // drops the request unrun
    QTRY_COMPARE(inspector.state(), LoopInspector::State::LoopClosed);
    QCOMPARE(states.count(), 1);
    QVERIFY(!child<QPushButton>(inspector, "pauseButton")->isEnabled());
}

void tst_LoopInspector::sameThreadLoopClosedFirst()
{
    EventLoop loop(virtualClock());
    LoopInspector inspector(loop);
    Future<void> never = loop.createFuture();
    Task<void> pending = loop.createTask(waitOn(never), QStringLiteral("pending"));
    QTRY_COMPARE(stateOf(inspector, QStringLiteral("pending")), TaskStats::State::Waiting);
    // Closing with a task still pending: the trace's LoopClosed (and the task destroyed).
    QTest::ignoreMessage(QtWarningMsg,
                         QRegularExpression(QStringLiteral("destroyed but it is pending")));
    loop.close();
    QCOMPARE(inspector.state(), LoopInspector::State::Attached); // noticed on the next tick
    inspector.tick();
    QCOMPARE(inspector.state(), LoopInspector::State::LoopClosed);
    QCOMPARE(stateOf(inspector, QStringLiteral("pending")), TaskStats::State::Destroyed);
    QVERIFY(child<QLabel>(inspector, "inspectorStatus")
                    ->text()
                    .contains(QStringLiteral("Loop closed")));
    QVERIFY(!child<QPushButton>(inspector, "pauseButton")->isEnabled());
    inspector.pause(); // ignored, not a crash
    inspector.cancelTasks({ pending.taskId() });
}

void tst_LoopInspector::sameThreadLoopDestroyedFirst()
{
    auto loop = std::make_unique<EventLoop>(virtualClock());
    LoopInspector inspector(*loop);
    {
        Task<void> t = loop->createTask(periodic(2, 1s), QStringLiteral("short"));
        QTRY_COMPARE(stateOf(inspector, QStringLiteral("short")), TaskStats::State::Finished);
    }
    loop.reset();
    QTRY_COMPARE(inspector.state(), LoopInspector::State::LoopClosed);
    inspector.step(StepKind::Callback); // ignored
    inspector.detach(); // nothing left to detach from
}

void tst_LoopInspector::otherThreadLoopDestroyedFirst()
{
    LoopThread host;
    std::weak_ptr<const TraceRecorder> recorder;
    auto inspector = std::make_unique<LoopInspector>(host.loop());
    recorder = inspector->recorder();
    QTRY_COMPARE(inspector->state(), LoopInspector::State::Attached);
    host.run([&] {
        host.tasks().push_back(host.loop().createTask(periodic(2, 1s), QStringLiteral("x")));
    });
    QTRY_COMPARE(stateOf(*inspector, QStringLiteral("x")), TaskStats::State::Finished);
    host.destroyLoop();
    QTRY_COMPARE(inspector->state(), LoopInspector::State::LoopClosed);
    inspector->pause(); // ignored
    inspector.reset();
    // The agent deleted itself on the loop's thread once the loop closed.
    QTRY_VERIFY(recorder.expired());
}

void tst_LoopInspector::inspectorDestroyedFirstSameThread()
{
    EventLoop loop(virtualClock());
    std::weak_ptr<const TraceRecorder> recorder;
    Task<void> t = loop.createTask(periodic(50, 1s), QStringLiteral("long"));
    {
        LoopInspector inspector(loop);
        recorder = inspector.recorder();
        QTRY_VERIFY(inspector.lastBatch().stats.callbacks > 0);
    }
    QVERIFY(recorder.expired()); // removed and gone at once on this thread
    // The loop runs on; a dangling observer would be called here (AddressSanitizer).
    Task<void> more = loop.createTask(periodic(3, 1s), QStringLiteral("more"));
    QTRY_VERIFY(t.done() && more.done());
    loop.close();
}

void tst_LoopInspector::inspectorDestroyedFirstOtherThread()
{
    LoopThread host;
    std::weak_ptr<const TraceRecorder> recorder;
    {
        LoopInspector inspector(host.loop());
        recorder = inspector.recorder();
        QTRY_COMPARE(inspector.state(), LoopInspector::State::Attached);
        // Busy for far longer than the test: the inspector goes while the loop works.
        host.run([&] {
            host.tasks().push_back(
                    host.loop().createTask(periodic(100000000, 1s), QStringLiteral("busy")));
        });
        QTRY_VERIFY(inspector.lastBatch().stats.callbacks > 10);
    }
    QTRY_VERIFY(recorder.expired());
    host.run([&] { host.tasks().back().cancel(); });
    QTRY_VERIFY(host.lastTaskDone());
}

void tst_LoopInspector::attachToAClosedLoop()
{
    EventLoop loop(virtualClock());
    loop.close();
    LoopInspector inspector(loop);
    QCOMPARE(inspector.state(), LoopInspector::State::LoopClosed);
    QVERIFY(!child<QPushButton>(inspector, "pauseButton")->isEnabled());

    LoopInspector idle;
    QCOMPARE(idle.state(), LoopInspector::State::Detached);
    idle.pause(); // nothing to pause
    idle.tick();
    QVERIFY(child<QLabel>(idle, "inspectorStatus")
                    ->text()
                    .contains(QStringLiteral("Not attached")));
}

void tst_LoopInspector::reattachStartsEmpty()
{
    EventLoop first(virtualClock());
    LoopInspector inspector(first);
    Task<void> a = first.createTask(periodic(1, 1s), QStringLiteral("first-task"));
    QTRY_COMPARE(stateOf(inspector, QStringLiteral("first-task")), TaskStats::State::Finished);
    first.close();

    EventLoop second(virtualClock());
    // Not this thread's current loop (the first one is): attached through its inbox.
    inspector.attach(second);
    QCOMPARE(inspector.state(), LoopInspector::State::Attaching);
    QCOMPARE(inspector.taskModel()->rowCount(), 0);
    QTRY_COMPARE(inspector.state(), LoopInspector::State::Attached);
    Task<void> b = second.createTask(periodic(1, 1s), QStringLiteral("second-task"));
    QTRY_COMPARE(stateOf(inspector, QStringLiteral("second-task")), TaskStats::State::Finished);
    QCOMPARE(rowOf(inspector, QStringLiteral("first-task")), -1);
    inspector.detach();
    second.close();
}

void tst_LoopInspector::addTabAndBatchReady()
{
    EventLoop loop(virtualClock());
    LoopInspector inspector(loop);
    QSignalSpy batches(&inspector, &LoopInspector::batchReady);
    // Its own pages: Tasks, Timeline, Loop, Warnings; then the host's.
    QCOMPARE(inspector.tabs()->count(), 4);
    QCOMPARE(inspector.tabs()->tabText(3), QStringLiteral("Warnings"));
    QVERIFY(inspector.warnings());
    auto *page = new QLabel(QStringLiteral("the host's own page"));
    const int index = inspector.addTab(page, QStringLiteral("Extra"));
    QCOMPARE(index, 4);
    QCOMPARE(inspector.tabs()->tabText(index), QStringLiteral("Extra"));
    QCOMPARE(page->window(), &inspector);
    QTRY_VERIFY(batches.count() >= 2);
    QCOMPARE(inspector.tickInterval(), std::chrono::milliseconds(33));
    // A callback that blocks the loop 150 ms (real time) is a SlowCallback warning.
    loop.callSoon([] { QThread::msleep(150); });
    QTRY_VERIFY(inspector.warnings()->model()->countOf(loopscope::LintKind::SlowCallback) >= 1);
    loop.close();
}

void tst_LoopInspector::attachingCost()
{
    // What attaching costs the host loop: 200,000 callbacks rescheduling one another, on the
    // real clock: bare, with a recorder alone, and with an inspector ticking on the same
    // thread. The figures are printed; the check is that the inspector saw every event.
    constexpr int Hops = 200000;
    struct Chain
    {
        EventLoop &loop;
        Future<void> done;
        int remaining = Hops;
        void hop()
        {
            if (--remaining == 0)
                done.setResult();
            else
                loop.callSoon([this] { hop(); });
        }
    };
    auto chain = [](EventLoop &loop) {
        Chain c{ loop, loop.createFuture() };
        loop.callSoon([&c] { c.hop(); });
        QElapsedTimer elapsed;
        elapsed.start();
        loop.runUntilComplete(c.done);
        return double(elapsed.nsecsElapsed()) / Hops;
    };
    double bare = 0;
    double recorded = 0;
    double watched = 0;
    std::uint64_t produced = 0;
    {
        EventLoop loop;
        bare = chain(loop);
        loop.close();
    }
    {
        // The recorder alone, nobody draining it: the part the loop's thread pays.
        EventLoop loop;
        TraceRecorder recorder;
        loop.addObserver(&recorder);
        recorded = chain(loop);
        loop.close();
        loop.removeObserver(&recorder);
    }
    {
        EventLoop loop;
        LoopInspector inspector(loop);
        watched = chain(loop);
        inspector.tick();
        produced = inspector.recorder()->producedEvents();
        // The hops and runUntilComplete()'s own done-callback.
        QVERIFY(inspector.lastBatch().stats.callbacks >= std::uint64_t(Hops));
        loop.close();
    }
    // HandleScheduled, HandleStarted and HandleFinished per hop, at least.
    QVERIFY(produced >= std::uint64_t(3) * Hops);
    qInfo("attaching cost: %.0f ns per callback bare, %.0f ns with a TraceRecorder (%.2fx), "
          "%.0f ns with the inspector draining it on the same thread (%.2fx)",
          bare, recorded, recorded / bare, watched, watched / bare);
}

QTEST_MAIN(tst_LoopInspector)
#include "tst_loopinspector.moc"
