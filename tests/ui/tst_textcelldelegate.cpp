// TextCellDelegate: paints what the style's delegate painted (selection, alternate rows,
// alignment, foreground, icon, elision) from cached shaped text, and keeps the cache bounded.
#include <loopscope/ui/textcelldelegate.h>

#include <QHeaderView>
#include <QImage>
#include <QPainter>
#include <QStandardItemModel>
#include <QTableView>
#include <QTest>

using loopscope::ui::TextCellDelegate;

class tst_TextCellDelegate : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void backgroundsFollowSelectionAndAlternateRows();
    void textIsDrawnAlignedInItsColour();
    void longTextIsElidedNotSpilled();
    void iconIsDrawnBeforeTheText();
    void cacheStaysBounded();

private:
    QImage grab() const { return m_view->viewport()->grab().toImage(); }
    //! The rectangle of \a row, \a column in the viewport.
    QRect cell(int row, int column) const
    {
        return m_view->visualRect(m_model->index(row, column));
    }
    //! How many pixels of \a rect (in \a image) have \a colour (within a small tolerance).
    static int count(const QImage &image, const QRect &rect, const QColor &colour)
    {
        int n = 0;
        for (int y = rect.top(); y <= rect.bottom(); ++y)
            for (int x = rect.left(); x <= rect.right(); ++x) {
                const QColor c = image.pixelColor(x, y);
                if (std::abs(c.red() - colour.red()) < 40
                    && std::abs(c.green() - colour.green()) < 40
                    && std::abs(c.blue() - colour.blue()) < 40)
                    ++n;
            }
        return n;
    }

    std::unique_ptr<QTableView> m_view;
    QStandardItemModel *m_model = nullptr;
    TextCellDelegate *m_delegate = nullptr;
};

void tst_TextCellDelegate::init()
{
    m_view = std::make_unique<QTableView>();
    m_model = new QStandardItemModel(6, 2, m_view.get());
    for (int r = 0; r < 6; ++r) {
        m_model->setItem(r, 0, new QStandardItem(QStringLiteral("row %1").arg(r)));
        m_model->setItem(r, 1, new QStandardItem(QString::number(r * 1000)));
        m_model->item(r, 1)->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    }
    m_view->setModel(m_model);
    m_delegate = new TextCellDelegate(m_view.get());
    m_view->setItemDelegate(m_delegate);
    m_view->setAlternatingRowColors(true);
    m_view->setShowGrid(false);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->verticalHeader()->hide();
    m_view->setColumnWidth(0, 200);
    m_view->setColumnWidth(1, 200);
    m_view->resize(440, 260);
    QPalette palette = m_view->palette();
    palette.setColor(QPalette::Base, Qt::white);
    palette.setColor(QPalette::AlternateBase, QColor(0xe0, 0xe0, 0xff));
    palette.setColor(QPalette::Highlight, QColor(0x20, 0xa0, 0x20));
    palette.setColor(QPalette::HighlightedText, Qt::white);
    palette.setColor(QPalette::Text, Qt::black);
    m_view->setPalette(palette);
    m_view->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_view.get()));
}

void tst_TextCellDelegate::cleanup()
{
    m_view.reset();
}

void tst_TextCellDelegate::backgroundsFollowSelectionAndAlternateRows()
{
    m_view->selectRow(2);
    m_view->clearFocus();
    const QImage image = grab();
    // Right end of column 0: past the text, only background.
    const auto background = [&](int row) {
        return image.pixelColor(cell(row, 0).right() - 3, cell(row, 0).center().y());
    };
    QCOMPARE(background(0), QColor(Qt::white));
    QCOMPARE(background(1), QColor(0xe0, 0xe0, 0xff)); // alternate
    QCOMPARE(background(2), QColor(0x20, 0xa0, 0x20)); // selected
    QCOMPARE(background(4), QColor(Qt::white));
}

void tst_TextCellDelegate::textIsDrawnAlignedInItsColour()
{
    m_model->item(3, 0)->setForeground(QColor(0xd0, 0x10, 0x10));
    const QImage image = grab();
    // Column 0 left-aligned: ink in its left half, none in the right third.
    const QRect name = cell(0, 0);
    QVERIFY(count(image, name.adjusted(0, 0, -name.width() / 2, 0), Qt::black) > 10);
    QCOMPARE(count(image, name.adjusted(name.width() * 2 / 3, 0, 0, 0), Qt::black), 0);
    // Column 1 right-aligned: the reverse.
    const QRect number = cell(1, 1);
    QVERIFY(count(image, number.adjusted(number.width() / 2, 0, 0, 0), Qt::black) > 10);
    QCOMPARE(count(image, number.adjusted(0, 0, -number.width() * 2 / 3, 0), Qt::black), 0);
    // ForegroundRole colours the text.
    QVERIFY(count(image, cell(3, 0), QColor(0xd0, 0x10, 0x10)) > 10);
    QCOMPARE(count(image, cell(0, 0), QColor(0xd0, 0x10, 0x10)), 0);
}

void tst_TextCellDelegate::longTextIsElidedNotSpilled()
{
    m_model->item(0, 0)->setText(QString(200, QLatin1Char('W')));
    m_view->setColumnWidth(0, 120);
    const QImage image = grab();
    // Ink up to the end of its own cell, none beyond it in the next one (right-aligned
    // numbers leave its left part empty).
    const QRect own = cell(0, 0);
    QVERIFY(count(image, own.adjusted(own.width() / 2, 0, 0, 0), Qt::black) > 10);
    const QRect next = cell(0, 1);
    QCOMPARE(count(image, next.adjusted(0, 0, -next.width() / 2, 0), Qt::black), 0);
}

void tst_TextCellDelegate::iconIsDrawnBeforeTheText()
{
    QPixmap red(12, 12);
    red.fill(QColor(0xff, 0x00, 0x00));
    m_model->item(1, 0)->setIcon(QIcon(red));
    m_model->item(2, 0)->setData(QColor(0x00, 0x00, 0xff), Qt::DecorationRole);
    const QImage image = grab();
    const QRect withIcon = cell(1, 0);
    QVERIFY(count(image, withIcon.adjusted(0, 0, -withIcon.width() + 24, 0), QColor(0xff, 0, 0))
            > 20);
    const QRect withSwatch = cell(2, 0);
    QVERIFY(count(image, withSwatch.adjusted(0, 0, -withSwatch.width() + 24, 0), QColor(0, 0, 0xff))
            > 20);
    QCOMPARE(count(image, cell(0, 0), QColor(0xff, 0, 0)), 0);
}

void tst_TextCellDelegate::cacheStaysBounded()
{
    const std::size_t before = m_delegate->cachedTexts();
    QVERIFY(before > 0); // the first paint shaped the texts in view
    (void)grab();
    QCOMPARE(m_delegate->cachedTexts(), before); // the same texts: nothing new shaped
    // 6 new numbers a paint, 1,500 paints: more than the 8,192 the cache keeps.
    bool emptied = false;
    for (int round = 0; round < 1500; ++round) {
        for (int r = 0; r < 6; ++r)
            m_model->item(r, 1)->setText(QString::number(round * 10 + r));
        const std::size_t previous = m_delegate->cachedTexts();
        (void)grab();
        emptied = emptied || m_delegate->cachedTexts() < previous;
        QVERIFY(m_delegate->cachedTexts() <= 8192);
    }
    QVERIFY(emptied);
    QVERIFY(m_delegate->cachedTexts() > 0);
}

QTEST_MAIN(tst_TextCellDelegate)
#include "tst_textcelldelegate.moc"
