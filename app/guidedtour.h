#pragma once

//! \file guidedtour.h Help ▸ Guided tour: the seed examples explained one callback at a time,
//! with buttons that drive the window (load the example paused, step, run).

#include <QDialog>
#include <QString>

#include <vector>

QT_BEGIN_NAMESPACE
class QLabel;
class QPushButton;
class QTextBrowser;
QT_END_NAMESPACE

/*!
 * A short tour of "what happens when runUntilComplete runs this task": one page per thing
 * the loop does with the first seed example, then the second one (runForever + stop()).
 * Non-modal, so the window stays usable: each page may offer one action (emitted as
 * actionRequested()) that the main window carries out, so the reader sees it happen.
 */
class GuidedTour : public QDialog
{
    Q_OBJECT

public:
    enum class Action {
        None,
        LoadSeedUntilComplete, //!< start seed_run_until_complete, paused before its first callback
        LoadSeedRunForever, //!< the same with seed_run_forever
        StepCallback, //!< run exactly one callback (F10)
        StepIteration, //!< run one loop iteration (F11)
        Run, //!< resume the loop (Space)
    };
    Q_ENUM(Action)

    struct Page
    {
        QString title;
        QString html;
        Action action = Action::None;
        QString actionLabel;
    };

    explicit GuidedTour(QWidget *parent = nullptr);

    static const std::vector<Page> &pages();
    int pageCount() const { return int(pages().size()); }
    int currentPage() const { return m_page; }
    void setPage(int index);

    QPushButton *backButton() const { return m_back; }
    QPushButton *nextButton() const { return m_next; }
    QPushButton *actionButton() const { return m_action; }
    QTextBrowser *text() const { return m_text; }

Q_SIGNALS:
    void actionRequested(GuidedTour::Action action);

private:
    int m_page = 0;
    QLabel *m_title = nullptr;
    QLabel *m_position = nullptr;
    QTextBrowser *m_text = nullptr;
    QPushButton *m_back = nullptr;
    QPushButton *m_next = nullptr;
    QPushButton *m_action = nullptr;
};
