#pragma once

#include <QStyledItemDelegate>

#include <memory>

namespace loopscope::ui {

class StaticTextCache;

/*!
 * A QStyledItemDelegate for read-only tables of short text (the task table, the event list):
 * it paints a cell's background, icon and text itself, each cell's shaped (and elided) text
 * kept as a QStaticText, instead of going through the style's item-view element, which lays
 * the text out anew on every paint.
 *
 * With 10,000 live tasks and a table that changes on every 30 Hz tick, that layout was most
 * of the window's repaint. It reads only DisplayRole, DecorationRole (QIcon or QColor),
 * ForegroundRole (QColor or QBrush) and TextAlignmentRole (every role read is a call
 * through the sort/filter proxy); the font is the view's; selection, alternate rows and the
 * focus frame follow the view's palette and style. Editing and size hints are the base
 * class's.
 */
class TextCellDelegate : public QStyledItemDelegate
{
    Q_OBJECT
public:
    explicit TextCellDelegate(QObject *parent = nullptr);
    ~TextCellDelegate() override;

    void paint(QPainter *painter, const QStyleOptionViewItem &option,
               const QModelIndex &index) const override;

    //! Cell texts kept shaped (bounded; for tests).
    std::size_t cachedTexts() const;

private:
    std::unique_ptr<StaticTextCache> m_text;
};

} // namespace loopscope::ui
