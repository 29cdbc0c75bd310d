#include "mainwindow.h"

#include <loopscope/loopscope.h>
#include <loopscope/ui/eventlogview.h>

#include <QPushButton>
#include <QSignalSpy>
#include <QTest>

#include <memory>

using namespace std::chrono_literals;

class tst_MainWindow : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();

    void example1ClickLogsTheResult();
    void example2ClickLogsTheResultAndStop();
    void buttonsAreDisabledWhileAnExampleRuns();
    void closingTheWindowMidExampleIsSafe();

private:
    // A virtual clock makes the examples' one-second sleep complete as soon as the loop is
    // idle, so nothing here waits on wall time.
    std::shared_ptr<loopscope::VirtualClock> m_clock;
    std::unique_ptr<loopscope::EventLoop> m_loop;
    std::unique_ptr<MainWindow> m_window;
};

void tst_MainWindow::init()
{
    m_clock = std::make_shared<loopscope::VirtualClock>();
    m_loop = std::make_unique<loopscope::EventLoop>(m_clock);
    m_window = std::make_unique<MainWindow>(m_loop.get());
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
}

void tst_MainWindow::cleanup()
{
    m_window.reset();
    m_loop.reset();
    m_clock.reset();
}

void tst_MainWindow::example1ClickLogsTheResult()
{
    QCOMPARE(m_window->windowTitle(), QStringLiteral("Loopscope"));
    auto *button = m_window->findChild<QPushButton *>(QStringLiteral("example1Button"));
    QVERIFY(button);
    QCOMPARE(button->text(), QStringLiteral("Example 1: run_until_complete"));

    QSignalSpy finished(m_window.get(), &MainWindow::exampleFinished);
    const double start = m_loop->timeSeconds();
    QTest::mouseClick(button, Qt::LeftButton);

    QTRY_COMPARE(finished.count(), 1);
    QCOMPARE(finished.at(0).at(0).toString(), QStringLiteral("Future is done!"));

    const QString log = m_window->log()->toPlainText();
    QVERIFY2(log.contains(QStringLiteral("task created")), qPrintable(log));
    QVERIFY2(log.contains(QStringLiteral("sleep(1 s)")), qPrintable(log));
    QVERIFY2(log.contains(QStringLiteral("fired: Future is done!")), qPrintable(log));
    // The done-callback ran after the sleep, on the loop's (virtual) clock.
    QVERIFY(m_loop->timeSeconds() - start >= 1.0);
    QVERIFY(!m_window->isExampleRunning());
}

void tst_MainWindow::example2ClickLogsTheResultAndStop()
{
    auto *button = m_window->findChild<QPushButton *>(QStringLiteral("example2Button"));
    QVERIFY(button);
    QCOMPARE(button->text(), QStringLiteral("Example 2: run_forever + stop"));

    QSignalSpy finished(m_window.get(), &MainWindow::exampleFinished);
    QTest::mouseClick(button, Qt::LeftButton);
    QTRY_COMPARE(finished.count(), 1);
    QCOMPARE(finished.at(0).at(0).toString(), QStringLiteral("Future is done!"));

    const QString log = m_window->log()->toPlainText();
    QVERIFY2(log.contains(QStringLiteral("fired: Future is done!")), qPrintable(log));
    QVERIFY2(log.contains(QStringLiteral("loop.stop()")), qPrintable(log));
}

void tst_MainWindow::buttonsAreDisabledWhileAnExampleRuns()
{
    // Without auto-advance the task stays asleep until the test moves time.
    m_clock->setAutoAdvance(false);
    auto *button1 = m_window->findChild<QPushButton *>(QStringLiteral("example1Button"));
    auto *button2 = m_window->findChild<QPushButton *>(QStringLiteral("example2Button"));
    QVERIFY(button1 && button2);

    QSignalSpy finished(m_window.get(), &MainWindow::exampleFinished);
    QTest::mouseClick(button1, Qt::LeftButton);
    QVERIFY(m_window->isExampleRunning());
    QVERIFY(!button1->isEnabled());
    QVERIFY(!button2->isEnabled());

    // Let the task reach its sleep, then check it is still waiting on the timer.
    QTRY_VERIFY(m_window->log()->toPlainText().contains(QStringLiteral("sleep(1 s)")));
    QCOMPARE(finished.count(), 0);

    m_clock->advance(1s);
    QTRY_COMPARE(finished.count(), 1);
    QVERIFY(button1->isEnabled());
    QVERIFY(button2->isEnabled());
}

void tst_MainWindow::closingTheWindowMidExampleIsSafe()
{
    // The task's done-callback and coroutine refer to the window; destroying the window while
    // the task sleeps must cancel it without touching freed memory (ASan run).
    m_clock->setAutoAdvance(false);
    auto *button = m_window->findChild<QPushButton *>(QStringLiteral("example1Button"));
    QVERIFY(button);
    QTest::mouseClick(button, Qt::LeftButton);
    QTRY_VERIFY(m_window->log()->toPlainText().contains(QStringLiteral("sleep(1 s)")));

    m_window.reset();
    m_clock->advance(1s);
    // Let the cancellation and the done-callback run with the window gone.
    for (int i = 0; i < 20; ++i)
        QCoreApplication::processEvents();
}

QTEST_MAIN(tst_MainWindow)
#include "tst_mainwindow.moc"
