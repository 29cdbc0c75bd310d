// Tests of TaskGroup / withTaskGroup(), against asyncio.TaskGroup as CPython's
// test_taskgroups.py checks it: every child is awaited, the first error cancels the siblings
// and the body, every error comes out in one ExceptionGroup, an outside cancellation stays a
// cancellation, the parent's cancelling() count is left as it was, no new child once the group
// shuts down, and TaskGroup.cancel() (Python 3.15) ends the group quietly.

#include <loopscope/loopscope.h>

#include <QStringList>
#include <QTest>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using loopscope::CancelledError;
using loopscope::Coro;
using loopscope::currentTask;
using loopscope::Duration;
using loopscope::EventLoop;
using loopscope::ExceptionContext;
using loopscope::ExceptionGroup;
using loopscope::Future;
using loopscope::RuntimeError;
using loopscope::Task;
using loopscope::TaskGroup;
using loopscope::TimePoint;
using loopscope::VirtualClock;
using loopscope::withTaskGroup;

namespace {

class MyError : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

//! A loop on a virtual clock whose exception handler records every report.
struct Fixture
{
    Fixture()
    {
        loop.setExceptionHandler([this](const ExceptionContext &c) { reports.push_back(c); });
    }

    std::vector<ExceptionContext> reports;
    std::shared_ptr<VirtualClock> clock = std::make_shared<VirtualClock>();
    EventLoop loop{ clock };
};

//! "Type:message" for an exception, groups as "ExceptionGroup(a, b)" in their order.
QString describe(const std::exception_ptr &e)
{
    try {
        std::rethrow_exception(e);
    } catch (const CancelledError &c) {
        return QStringLiteral("CancelledError:") + QString::fromStdString(c.message());
    } catch (const ExceptionGroup &g) {
        QStringList inner;
        for (const auto &x : g.exceptions())
            inner << describe(x);
        return QStringLiteral("ExceptionGroup(") + inner.join(QStringLiteral(", "))
                + QLatin1Char(')');
    } catch (const RuntimeError &r) {
        return QStringLiteral("RuntimeError:") + QString::fromUtf8(r.what());
    } catch (const MyError &m) {
        return QStringLiteral("MyError:") + QString::fromUtf8(m.what());
    } catch (...) {
        return QStringLiteral("unknown");
    }
}

//! How a task ended: "ok", or what awaiting it throws.
template <typename T>
QString outcomeOf(EventLoop &loop, Task<T> task)
{
    try {
        (void)loop.runUntilComplete(task);
        return QStringLiteral("ok");
    } catch (...) {
        return describe(std::current_exception());
    }
}

//! Runs \a coro outside of any task (as asyncio's await_without_task) and returns what it
//! threw. withTaskGroup() refuses to start there, so it ends without suspending.
std::exception_ptr runOutsideOfATask(Coro<void> coro)
{
    auto handle = coro.release();
    handle.resume();
    if (!handle.done())
        return nullptr; // suspended: leak the frame rather than destroy one still referenced
    std::exception_ptr error = handle.promise().exception();
    handle.destroy();
    return error;
}

Coro<int> answerAfter(Duration d, int value)
{
    co_await loopscope::sleep(d);
    co_return value;
}

Coro<void> failAfter(Duration d, std::string what)
{
    co_await loopscope::sleep(d);
    throw MyError(what);
}

//! Sleeps \a d; adds one to \a cancelled when a cancellation reaches it.
Coro<int> countCancel(Duration d, int &cancelled)
{
    try {
        co_await loopscope::sleep(d);
    } catch (const CancelledError &) {
        ++cancelled;
        throw;
    }
    co_return 1;
}

//! Turns a cancellation into MyError(\a what) (asyncio: `finally: raise MyExc`).
Coro<void> failOnCancel(Duration d, std::string what)
{
    try {
        co_await loopscope::sleep(d);
    } catch (const CancelledError &) {
        throw MyError(what);
    }
}

//! When cancelled, tries to add a child to \a group and records what that raised; then ends
//! normally (asyncio's test_taskgroup_no_create_task_after_failure).
Coro<void> spawnWhenCancelled(TaskGroup group, QString &error)
{
    bool cancelled = false;
    try {
        co_await loopscope::sleep(1s);
    } catch (const CancelledError &) {
        cancelled = true;
    }
    if (cancelled) {
        try {
            (void)group.createTask(answerAfter(0s, 0));
        } catch (const RuntimeError &e) {
            error = QString::fromUtf8(e.what());
        }
    }
}

Coro<void> cancelGroupAfter(TaskGroup group, Duration d)
{
    co_await loopscope::sleep(d);
    group.cancel();
}

//! asyncio's test_taskgroup_24: a child that adds children to its own group.
Coro<void> root(TaskGroup group)
{
    co_await loopscope::sleep(100ms);
    (void)group.createTask(answerAfter(100ms, 1));
    (void)group.createTask(answerAfter(200ms, 2));
}

//! asyncio's test_taskgroup_25: every hydra spawns two more.
Coro<void> hydra(TaskGroup group, int &count)
{
    ++count;
    co_await loopscope::sleep(10ms);
    // Never true here (hercules ends it at 10); without a path that does not call hydra()
    // clang warns "all paths through this function will call itself", although the call
    // only creates a lazy coroutine.
    if (count > 100000)
        co_return;
    (void)group.createTask(hydra(group, count));
    (void)group.createTask(hydra(group, count));
}

Coro<void> hercules(const int &count)
{
    while (count < 10)
        co_await loopscope::sleep(15ms);
    throw MyError("hercules");
}

Coro<QString> nameOfCurrentTask()
{
    co_await loopscope::sleep(0s);
    co_return currentTask().name();
}

} // namespace

class tst_TaskGroup : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void childrenAreAllAwaited();
    void childAddedLaterIsAwaited();
    void cancelledChildIsNotAnError();
    void childFailureCancelsSiblingsAndBody();
    void errorsOfSeveralChildrenAreAllCollected();
    void bodyErrorCancelsTheChildren();
    void bodyErrorWithoutSuspendingCancelsTheChildren();
    void bodyErrorAndChildErrorAreBothCollected();
    void outerCancellationPropagatesAndCancelsChildren();
    void outerCancellationWhileTheBodyWaits();
    void outerCancellationBeforeChildrenFailStaysCancelled();
    void bodyTurningTheCancellationIntoAnError();
    void childCrashDuringCleanupAfterOuterCancel();
    void nestedInnerChildFailure();
    void nestedOuterChildFailure();
    void nestedGroupsCancelledFromOutside();
    void nestedGroupsBothFailingRestoreCancelling();
    void parentCancellingIsRestoredAfterErrors();
    void errorAndOutsideCancelKeepTheCancellation();
    void createTaskAfterTheGroupFinishedRaises();
    void createTaskWhileShuttingDownRaises();
    void groupCancelEndsTheGroupWithoutCancelledError();
    void groupCancelFromTheBodyWithoutSuspending();
    void groupCancelIsIdempotentAndHarmlessAfterExit();
    void withTaskGroupOutsideATaskRaises();
    void childrenCanAddChildren();
    void sizeCountsPendingChildren();
    void childrenSpawningUntilASiblingFails();
    void childNamesAndCurrentTask();
    void exceptionGroupMessageCountsItsErrors();
};

void tst_TaskGroup::childrenAreAllAwaited()
{
    // asyncio's test_taskgroup_01.
    Fixture f;
    std::optional<Task<int>> t1, t2;
    TimePoint groupEnded;
    auto main = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            t1.emplace(g.createTask(answerAfter(1s, 42)));
            t2.emplace(g.createTask(answerAfter(2s, 11)));
            co_return;
        });
        groupEnded = f.loop.time();
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(groupEnded, TimePoint(2s));
    QCOMPARE(t1->result(), 42);
    QCOMPARE(t2->result(), 11);
    QVERIFY(f.loop.allTasks().empty());
}

void tst_TaskGroup::childAddedLaterIsAwaited()
{
    // asyncio's test_taskgroup_02.
    Fixture f;
    std::optional<Task<int>> t1, t2;
    auto main = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            t1.emplace(g.createTask(answerAfter(1s, 42)));
            co_await loopscope::sleep(1500ms);
            t2.emplace(g.createTask(answerAfter(2s, 11)));
        });
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(f.loop.time(), TimePoint(3500ms));
    QCOMPARE(t1->result(), 42);
    QCOMPARE(t2->result(), 11);
}

void tst_TaskGroup::cancelledChildIsNotAnError()
{
    // asyncio's test_taskgroup_03.
    Fixture f;
    std::optional<Task<int>> t1, t2;
    auto main = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            t1.emplace(g.createTask(answerAfter(10s, 42)));
            co_await loopscope::sleep(1500ms);
            t1->cancel();
            t2.emplace(g.createTask(answerAfter(2s, 11)));
        });
    };
    auto task = f.loop.createTask(main());
    QCOMPARE(outcomeOf(f.loop, task), QStringLiteral("ok"));
    QVERIFY(t1->cancelled());
    QCOMPARE(t2->result(), 11);
    QCOMPARE(f.loop.time(), TimePoint(3500ms));
}

void tst_TaskGroup::childFailureCancelsSiblingsAndBody()
{
    // asyncio's test_cancel_children_on_child_error and test_taskgroup_04.
    Fixture f;
    int siblingCancelled = 0;
    bool bodyCancelled = false, afterGroup = false;
    std::optional<Task<int>> sibling;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            for (int i = 0; i < 3; ++i)
                (void)g.createTask(failAfter(1s, "zero"));
            sibling.emplace(g.createTask(countCancel(5s, siblingCancelled)));
            try {
                co_await loopscope::sleep(10s);
            } catch (const CancelledError &) {
                bodyCancelled = true;
                throw;
            }
        });
        afterGroup = true;
    };
    auto task = f.loop.createTask(runner());
    QCOMPARE(outcomeOf(f.loop, task),
             QStringLiteral("ExceptionGroup(MyError:zero, MyError:zero, MyError:zero)"));
    QVERIFY(!afterGroup);
    QVERIFY(bodyCancelled);
    QCOMPARE(siblingCancelled, 1);
    QVERIFY(sibling->cancelled());
    QVERIFY(!task.cancelled()); // it failed with the group, it was not cancelled
    QCOMPARE(task.cancelling(), 0);
    QCOMPARE(f.loop.time(), TimePoint(1s));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_TaskGroup::errorsOfSeveralChildrenAreAllCollected()
{
    // The second child fails *because* it is cancelled: both errors, in the order they
    // happened.
    Fixture f;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            (void)g.createTask(failOnCancel(10s, "second"));
            (void)g.createTask(failAfter(1s, "first"));
            co_return;
        });
    };
    QCOMPARE(outcomeOf(f.loop, f.loop.createTask(runner())),
             QStringLiteral("ExceptionGroup(MyError:first, MyError:second)"));
    QCOMPARE(f.loop.time(), TimePoint(1s));
}

void tst_TaskGroup::bodyErrorCancelsTheChildren()
{
    // asyncio's test_taskgroup_09.
    Fixture f;
    std::optional<Task<int>> t1, t2;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            t1.emplace(g.createTask(answerAfter(1s, 42)));
            t2.emplace(g.createTask(answerAfter(2s, 11)));
            co_await loopscope::sleep(100ms);
            throw MyError("body");
        });
    };
    QCOMPARE(outcomeOf(f.loop, f.loop.createTask(runner())),
             QStringLiteral("ExceptionGroup(MyError:body)"));
    QVERIFY(t1->cancelled());
    QVERIFY(t2->cancelled());
    QCOMPARE(f.loop.time(), TimePoint(100ms));
}

void tst_TaskGroup::bodyErrorWithoutSuspendingCancelsTheChildren()
{
    // asyncio's test_taskgroup_10.
    Fixture f;
    std::optional<Task<int>> t1, t2;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            t1.emplace(g.createTask(answerAfter(1s, 42)));
            t2.emplace(g.createTask(answerAfter(2s, 11)));
            throw MyError("body");
            co_return;
        });
    };
    QCOMPARE(outcomeOf(f.loop, f.loop.createTask(runner())),
             QStringLiteral("ExceptionGroup(MyError:body)"));
    QVERIFY(t1->cancelled());
    QVERIFY(t2->cancelled());
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_TaskGroup::bodyErrorAndChildErrorAreBothCollected()
{
    // asyncio's test_taskgroup_19 and test_taskgroup_context_manager_exit_raises: the child's
    // error cancels the body, which raises an error of its own; both are in the group (the
    // children's first), and the parent's cancelling() count is back to 0.
    Fixture f;
    int cancellingAfter = -1;
    QString outcome;
    auto runner = [&]() -> Coro<void> {
        std::exception_ptr error;
        try {
            co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
                (void)g.createTask(failAfter(100ms, "crash"));
                co_await failOnCancel(10s, "nested");
            });
        } catch (...) {
            error = std::current_exception();
        }
        outcome = describe(error);
        cancellingAfter = currentTask().cancelling();
    };
    f.loop.runUntilComplete(runner());
    QCOMPARE(outcome, QStringLiteral("ExceptionGroup(MyError:crash, MyError:nested)"));
    QCOMPARE(cancellingAfter, 0);
    QCOMPARE(f.loop.time(), TimePoint(100ms));
}

void tst_TaskGroup::outerCancellationPropagatesAndCancelsChildren()
{
    // asyncio's test_cancellation: the message reaches the caller unchanged.
    Fixture f;
    int cancelled = 0;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            for (int i = 0; i < 5; ++i)
                (void)g.createTask(countCancel(5s, cancelled));
            co_return;
        });
    };
    auto task = f.loop.createTask(runner());
    f.loop.callLater(100ms, [&] { task.cancel("test"); });
    QCOMPARE(outcomeOf(f.loop, task), QStringLiteral("CancelledError:test"));
    QVERIFY(task.cancelled());
    QCOMPARE(cancelled, 5);
    QCOMPARE(f.loop.time(), TimePoint(100ms));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_TaskGroup::outerCancellationWhileTheBodyWaits()
{
    // asyncio's test_taskgroup_07.
    Fixture f;
    int num = 0;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            for (int i = 0; i < 5; ++i)
                (void)g.createTask(countCancel(5s, num));
            try {
                co_await loopscope::sleep(10s);
            } catch (const CancelledError &) {
                num += 10;
                throw;
            }
        });
    };
    auto task = f.loop.createTask(runner());
    f.loop.callLater(100ms, [&] { task.cancel(); });
    QCOMPARE(outcomeOf(f.loop, task), QStringLiteral("CancelledError:"));
    QCOMPARE(num, 15);
}

void tst_TaskGroup::outerCancellationBeforeChildrenFailStaysCancelled()
{
    // asyncio's test_cancellation_in_body: the children are cancelled before they can fail,
    // so there is no error to report, only the cancellation.
    Fixture f;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            for (int i = 0; i < 5; ++i)
                (void)g.createTask(failAfter(1s, "too late"));
            co_await loopscope::sleep(10s);
        });
    };
    auto task = f.loop.createTask(runner());
    f.loop.callLater(500ms, [&] { task.cancel("test"); });
    QCOMPARE(outcomeOf(f.loop, task), QStringLiteral("CancelledError:test"));
    QCOMPARE(f.loop.time(), TimePoint(500ms));
    QVERIFY(f.reports.empty());
}

void tst_TaskGroup::bodyTurningTheCancellationIntoAnError()
{
    // asyncio's test_taskgroup_18: "This isn't a good idea, but we have to support this weird
    // case."
    Fixture f;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup(
                [&](TaskGroup &) -> Coro<void> { co_await failOnCancel(10s, "instead"); });
    };
    auto task = f.loop.createTask(runner());
    f.loop.callLater(100ms, [&] { task.cancel(); });
    QCOMPARE(outcomeOf(f.loop, task), QStringLiteral("ExceptionGroup(MyError:instead)"));
    QVERIFY(!task.cancelled());
}

void tst_TaskGroup::childCrashDuringCleanupAfterOuterCancel()
{
    // asyncio's test_taskgroup_15 (3.13+): the body cleans up after an outside cancel, a
    // child crashes meanwhile; the error has priority over the cancellation.
    Fixture f;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            (void)g.createTask(failAfter(300ms, "crash"));
            bool cancelled = false;
            try {
                co_await loopscope::sleep(10s);
            } catch (const CancelledError &) {
                cancelled = true;
            }
            if (cancelled) {
                co_await loopscope::sleep(500ms); // the crash cancels this cleanup too
                throw CancelledError();
            }
        });
    };
    auto task = f.loop.createTask(runner());
    f.loop.callLater(100ms, [&] { task.cancel(); });
    QCOMPARE(outcomeOf(f.loop, task), QStringLiteral("ExceptionGroup(MyError:crash)"));
    QCOMPARE(f.loop.time(), TimePoint(300ms));
}

void tst_TaskGroup::nestedInnerChildFailure()
{
    // asyncio's test_taskgroup_14: the inner group's ExceptionGroup becomes the body error of
    // the outer group.
    Fixture f;
    std::optional<Task<void>> outerChild;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g1) -> Coro<void> {
            outerChild.emplace(g1.createTask(failAfter(10s, "outer")));
            co_await withTaskGroup([&](TaskGroup &g2) -> Coro<void> {
                (void)g2.createTask(failAfter(100ms, "inner"));
                co_return;
            });
        });
    };
    QCOMPARE(outcomeOf(f.loop, f.loop.createTask(runner())),
             QStringLiteral("ExceptionGroup(ExceptionGroup(MyError:inner))"));
    QVERIFY(outerChild->cancelled());
    QCOMPARE(f.loop.time(), TimePoint(100ms));
}

void tst_TaskGroup::nestedOuterChildFailure()
{
    // asyncio's test_taskgroup_13: the outer child's error cancels the body, so the inner
    // group is cancelled (its child too) and only the outer error is reported.
    Fixture f;
    std::optional<Task<void>> innerChild;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g1) -> Coro<void> {
            (void)g1.createTask(failAfter(100ms, "outer"));
            co_await withTaskGroup([&](TaskGroup &g2) -> Coro<void> {
                innerChild.emplace(g2.createTask(failAfter(10s, "inner")));
                co_return;
            });
        });
    };
    QCOMPARE(outcomeOf(f.loop, f.loop.createTask(runner())),
             QStringLiteral("ExceptionGroup(MyError:outer)"));
    QVERIFY(innerChild->cancelled());
    QCOMPARE(f.loop.time(), TimePoint(100ms));
}

void tst_TaskGroup::nestedGroupsCancelledFromOutside()
{
    // asyncio's test_taskgroup_11 and _12.
    Fixture f;
    int cancelled = 0;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g1) -> Coro<void> {
            (void)g1.createTask(countCancel(10s, cancelled));
            co_await withTaskGroup([&](TaskGroup &g2) -> Coro<void> {
                for (int i = 0; i < 5; ++i)
                    (void)g2.createTask(failAfter(1s, "later"));
                co_await loopscope::sleep(10s);
            });
        });
    };
    auto task = f.loop.createTask(runner());
    f.loop.callLater(100ms, [&] { task.cancel(); });
    QCOMPARE(outcomeOf(f.loop, task), QStringLiteral("CancelledError:"));
    QCOMPARE(cancelled, 1);
    QCOMPARE(f.loop.time(), TimePoint(100ms));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_TaskGroup::nestedGroupsBothFailingRestoreCancelling()
{
    // asyncio's test_nested_groups_both_cancelled: both groups cancel the parent; after the
    // inner one one request (the outer group's) is still pending, after the outer none.
    Fixture f;
    std::vector<int> cancelling;
    QStringList errors;
    auto raiseAfterYield = [](std::string what) -> Coro<void> {
        co_await loopscope::sleep(0s);
        throw MyError(what);
    };
    auto main = [&]() -> Coro<void> {
        std::exception_ptr outerError;
        try {
            co_await withTaskGroup([&](TaskGroup &outer) -> Coro<void> {
                std::exception_ptr innerError;
                try {
                    co_await withTaskGroup([&](TaskGroup &inner) -> Coro<void> {
                        (void)inner.createTask(raiseAfterYield("inner"));
                        (void)outer.createTask(raiseAfterYield("outer"));
                        co_return;
                    });
                } catch (...) {
                    innerError = std::current_exception();
                }
                errors << describe(innerError);
                cancelling.push_back(currentTask().cancelling());
            });
        } catch (...) {
            outerError = std::current_exception();
        }
        errors << describe(outerError);
        cancelling.push_back(currentTask().cancelling());
        co_await loopscope::sleep(0s); // a leftover cancel request would hit here
    };
    auto task = f.loop.createTask(main());
    QCOMPARE(outcomeOf(f.loop, task), QStringLiteral("ok"));
    QCOMPARE(errors,
             (QStringList{ QStringLiteral("ExceptionGroup(MyError:inner)"),
                           QStringLiteral("ExceptionGroup(MyError:outer)") }));
    QCOMPARE(cancelling, (std::vector<int>{ 1, 0 }));
}

void tst_TaskGroup::parentCancellingIsRestoredAfterErrors()
{
    // asyncio's test_cancelling_level_preserved and
    // test_cancellation_does_not_leak_out_of_tg: the group cancelled its parent to stop the
    // body, and takes that request back.
    Fixture f;
    int cancellingAfter = -1;
    QString outcome;
    TimePoint afterSleep;
    auto main = [&]() -> Coro<void> {
        std::exception_ptr error;
        try {
            co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
                (void)g.createTask(failAfter(0s, "error"));
                co_await loopscope::sleep(5s);
            });
        } catch (...) {
            error = std::current_exception();
        }
        outcome = describe(error);
        cancellingAfter = currentTask().cancelling();
        co_await loopscope::sleep(0s);
        co_await loopscope::sleep(1s);
        afterSleep = f.loop.time();
    };
    auto task = f.loop.createTask(main());
    QCOMPARE(outcomeOf(f.loop, task), QStringLiteral("ok"));
    QCOMPARE(outcome, QStringLiteral("ExceptionGroup(MyError:error)"));
    QCOMPARE(cancellingAfter, 0);
    QCOMPARE(afterSleep, TimePoint(1s));
}

void tst_TaskGroup::errorAndOutsideCancelKeepTheCancellation()
{
    // asyncio's test_error_and_cancel: an outside cancel arrives while a child fails. The
    // group raises its errors but keeps the outside request: cancelling() stays 1 and the
    // next await after the group is cancelled.
    Fixture f;
    Future<void> started(f.loop);
    std::vector<int> cancelling;
    QString groupError;
    bool sleptAfterGroup = false;
    auto raiseError = [&]() -> Coro<void> {
        started.setResult();
        co_await loopscope::sleep(0s);
        throw MyError("child");
    };
    auto inner = [&]() -> Coro<void> {
        std::exception_ptr error;
        try {
            co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
                (void)g.createTask(raiseError());
                co_await loopscope::sleep(1s);
            });
        } catch (...) {
            error = std::current_exception();
        }
        groupError = describe(error);
        cancelling.push_back(currentTask().cancelling());
        co_await loopscope::sleep(1s);
        sleptAfterGroup = true;
    };
    auto t = f.loop.createTask(inner());
    auto outer = [&]() -> Coro<void> {
        co_await started;
        cancelling.push_back(t.cancelling());
        t.cancel();
        cancelling.push_back(t.cancelling());
    };
    f.loop.runUntilComplete(outer());
    QCOMPARE(outcomeOf(f.loop, t), QStringLiteral("CancelledError:"));
    QVERIFY(t.cancelled());
    QCOMPARE(groupError, QStringLiteral("ExceptionGroup(MyError:child)"));
    QCOMPARE(cancelling, (std::vector<int>{ 0, 1, 1 }));
    QVERIFY(!sleptAfterGroup);
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_TaskGroup::createTaskAfterTheGroupFinishedRaises()
{
    // asyncio's test_taskgroup_finished.
    Fixture f;
    std::optional<TaskGroup> saved;
    auto main = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            saved = g;
            co_return;
        });
    };
    f.loop.runUntilComplete(main());
    try {
        (void)saved->createTask(answerAfter(0s, 1));
        QFAIL("expected RuntimeError");
    } catch (const RuntimeError &e) {
        QVERIFY2(QByteArray(e.what()).contains("is finished"), e.what());
    }
    QVERIFY(f.loop.allTasks().empty());
    QCOMPARE(saved->size(), 0u);
}

void tst_TaskGroup::createTaskWhileShuttingDownRaises()
{
    // asyncio's test_taskgroup_no_create_task_after_failure.
    Fixture f;
    QString error;
    auto runner = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            (void)g.createTask(failAfter(1ms, "zero"));
            (void)g.createTask(spawnWhenCancelled(g, error));
            co_return;
        });
    };
    QCOMPARE(outcomeOf(f.loop, f.loop.createTask(runner())),
             QStringLiteral("ExceptionGroup(MyError:zero)"));
    QVERIFY2(error.contains(QStringLiteral("is shutting down")), qPrintable(error));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_TaskGroup::groupCancelEndsTheGroupWithoutCancelledError()
{
    // TaskGroup.cancel() (Python 3.15): every child and the body are cancelled, and the group
    // ends quietly; the parent's cancelling() count is back to 0 and it can go on awaiting.
    Fixture f;
    int childrenCancelled = 0;
    bool bodyCancelled = false;
    TimePoint groupEnded, afterSleep;
    int cancellingAfter = -1;
    auto main = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            (void)g.createTask(countCancel(10s, childrenCancelled));
            (void)g.createTask(countCancel(20s, childrenCancelled));
            (void)g.createTask(cancelGroupAfter(g, 1s));
            try {
                co_await loopscope::sleep(30s);
            } catch (const CancelledError &) {
                bodyCancelled = true;
                throw;
            }
        });
        groupEnded = f.loop.time();
        cancellingAfter = currentTask().cancelling();
        co_await loopscope::sleep(1s);
        afterSleep = f.loop.time();
    };
    auto task = f.loop.createTask(main());
    QCOMPARE(outcomeOf(f.loop, task), QStringLiteral("ok"));
    QCOMPARE(childrenCancelled, 2);
    QVERIFY(bodyCancelled);
    QCOMPARE(groupEnded, TimePoint(1s));
    QCOMPARE(cancellingAfter, 0);
    QCOMPARE(afterSleep, TimePoint(2s));
}

void tst_TaskGroup::groupCancelFromTheBodyWithoutSuspending()
{
    Fixture f;
    std::optional<Task<int>> t1, t2;
    bool afterGroup = false;
    auto main = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            t1.emplace(g.createTask(answerAfter(1s, 1)));
            t2.emplace(g.createTask(answerAfter(2s, 2)));
            g.cancel();
            co_return;
        });
        afterGroup = true;
    };
    auto task = f.loop.createTask(main());
    QCOMPARE(outcomeOf(f.loop, task), QStringLiteral("ok"));
    QVERIFY(afterGroup);
    QVERIFY(t1->cancelled());
    QVERIFY(t2->cancelled());
    QCOMPARE(task.cancelling(), 0);
    QCOMPARE(f.loop.time(), TimePoint(0s));
}

void tst_TaskGroup::groupCancelIsIdempotentAndHarmlessAfterExit()
{
    Fixture f;
    std::optional<TaskGroup> saved;
    int cancelled = 0;
    TimePoint afterSleep;
    std::vector<int> cancelling;
    auto main = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            saved = g;
            (void)g.createTask(countCancel(10s, cancelled));
            co_await loopscope::sleep(1s);
            g.cancel();
            g.cancel(); // idempotent: one cancel request on the parent, not two
            cancelling.push_back(currentTask().cancelling());
            co_await loopscope::sleep(1s);
        });
        saved->cancel(); // after exit: nothing happens
        cancelling.push_back(currentTask().cancelling());
        co_await loopscope::sleep(1s);
        afterSleep = f.loop.time();
    };
    QCOMPARE(outcomeOf(f.loop, f.loop.createTask(main())), QStringLiteral("ok"));
    QCOMPARE(cancelled, 1);
    QCOMPARE(cancelling, (std::vector<int>{ 1, 0 }));
    QCOMPARE(afterSleep, TimePoint(2s));
}

void tst_TaskGroup::withTaskGroupOutsideATaskRaises()
{
    // asyncio's test_taskgroup_without_parent_task.
    Fixture f;
    const QString error = describe(
            runOutsideOfATask(withTaskGroup([](TaskGroup &) -> Coro<void> { co_return; })));
    QVERIFY2(error.startsWith(QStringLiteral("RuntimeError:")), qPrintable(error));
    QVERIFY2(error.contains(QStringLiteral("cannot determine the parent task")), qPrintable(error));
}

void tst_TaskGroup::childrenCanAddChildren()
{
    // asyncio's test_taskgroup_24.
    Fixture f;
    auto main = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            (void)g.createTask(root(g));
            co_return;
        });
    };
    QCOMPARE(outcomeOf(f.loop, f.loop.createTask(main())), QStringLiteral("ok"));
    QCOMPARE(f.loop.time(), TimePoint(300ms));
    QVERIFY(f.loop.allTasks().empty());
}

void tst_TaskGroup::sizeCountsPendingChildren()
{
    // asyncio's test_taskgroup_23: finished children leave the group.
    Fixture f;
    std::vector<std::size_t> sizes;
    auto main = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            for (int count = 0; count < 10; ++count) {
                co_await loopscope::sleep(100ms);
                (void)g.createTask(answerAfter(300ms, count));
                if (count == 5)
                    sizes.push_back(g.size());
            }
            co_await loopscope::sleep(1350ms);
            sizes.push_back(g.size());
        });
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(sizes.size(), 2u);
    QVERIFY(sizes[0] < 5u);
    QCOMPARE(sizes[1], 0u);
}

void tst_TaskGroup::childrenSpawningUntilASiblingFails()
{
    // asyncio's test_taskgroup_25: hydras keep adding children until hercules fails; the
    // group then stops them all and reports the one error.
    Fixture f;
    int hydras = 0;
    auto main = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            (void)g.createTask(hydra(g, hydras));
            (void)g.createTask(hercules(hydras));
            co_return;
        });
    };
    QCOMPARE(outcomeOf(f.loop, f.loop.createTask(main())),
             QStringLiteral("ExceptionGroup(MyError:hercules)"));
    QVERIFY(hydras >= 10);
    QVERIFY(f.loop.allTasks().empty());
}

void tst_TaskGroup::childNamesAndCurrentTask()
{
    // asyncio's test_taskgroup_task_name and test_name.
    Fixture f;
    QString nameOfHandle;
    std::optional<Task<QString>> child;
    auto main = [&]() -> Coro<void> {
        co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
            child.emplace(g.createTask(nameOfCurrentTask(), QStringLiteral("example name")));
            nameOfHandle = child->name();
            co_return;
        });
    };
    f.loop.runUntilComplete(main());
    QCOMPARE(nameOfHandle, QStringLiteral("example name"));
    QCOMPARE(child->result(), QStringLiteral("example name"));
}

void tst_TaskGroup::exceptionGroupMessageCountsItsErrors()
{
    Fixture f;
    std::string what, message;
    std::size_t count = 0;
    auto runner = [&]() -> Coro<void> {
        try {
            co_await withTaskGroup([&](TaskGroup &g) -> Coro<void> {
                (void)g.createTask(failAfter(1s, "a"));
                (void)g.createTask(failAfter(1s, "b"));
                co_return;
            });
        } catch (const ExceptionGroup &e) {
            what = e.what();
            message = e.message();
            count = e.exceptions().size();
        }
    };
    f.loop.runUntilComplete(runner());
    QCOMPARE(count, 2u);
    QCOMPARE(message, std::string("unhandled errors in a TaskGroup"));
    QCOMPARE(what, std::string("unhandled errors in a TaskGroup (2 sub-exceptions)"));
}

QTEST_GUILESS_MAIN(tst_TaskGroup)
#include "tst_taskgroup.moc"
