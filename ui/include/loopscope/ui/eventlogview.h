#pragma once

#include <QPlainTextEdit>

namespace loopscope {
class EventLoop;
}

namespace loopscope::ui {

/*!
 * A read-only, append-only log of what happened on a loop. Every line is prefixed with the
 * loop's own clock (EventLoop::timeSeconds()), so on a slowed-down or virtual clock the
 * timestamps are the ones the tasks saw, not wall time.
 *
 * The log keeps at most maximumBlockCount() lines; older lines are dropped.
 */
class EventLogView : public QPlainTextEdit
{
    Q_OBJECT

public:
    explicit EventLogView(QWidget *parent = nullptr);
    //! \a loop must outlive this view, or be replaced with setLoop(nullptr) first.
    explicit EventLogView(const loopscope::EventLoop *loop, QWidget *parent = nullptr);
    ~EventLogView() override;

    const loopscope::EventLoop *loop() const { return m_loop; }
    //! The loop whose clock stamps new lines; nullptr appends lines without a timestamp.
    void setLoop(const loopscope::EventLoop *loop);

    //! The text a line gets in the log: "[   1.002 s] text".
    QString formatLine(const QString &line) const;

public Q_SLOTS:
    //! Appends \a line, stamped with the loop time, and scrolls to it.
    void appendLine(const QString &line);

private:
    const loopscope::EventLoop *m_loop = nullptr;
};

} // namespace loopscope::ui
