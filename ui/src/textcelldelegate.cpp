#include <loopscope/ui/textcelldelegate.h>

#include "statictextcache.h"

#include <QAbstractItemView>
#include <QApplication>
#include <QIcon>
#include <QPainter>
#include <QStyle>
#include <QStyleOption>

#include <algorithm>

namespace loopscope::ui {

TextCellDelegate::TextCellDelegate(QObject *parent)
    : QStyledItemDelegate(parent), m_text(std::make_unique<StaticTextCache>())
{
}

TextCellDelegate::~TextCellDelegate() = default;

std::size_t TextCellDelegate::cachedTexts() const
{
    return m_text->size();
}

void TextCellDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option,
                             const QModelIndex &index) const
{
    const QWidget *widget = option.widget;
    const QPalette &palette = option.palette;
    const bool selected = option.state & QStyle::State_Selected;
    const QPalette::ColorGroup group = !(option.state & QStyle::State_Enabled)
            ? QPalette::Disabled
            : ((option.state & QStyle::State_Active) ? QPalette::Active : QPalette::Inactive);

    // Background: selection, else the alternate rows (the view filled the rest).
    if (selected)
        painter->fillRect(option.rect, palette.brush(group, QPalette::Highlight));
    else if (option.features & QStyleOptionViewItem::Alternate)
        painter->fillRect(option.rect, palette.brush(group, QPalette::AlternateBase));

    QRect textRect = option.rect.adjusted(4, 0, -4, 0);

    // Icon (or colour swatch) on the left.
    const QVariant decoration = index.data(Qt::DecorationRole);
    if (decoration.isValid()) {
        const int side = std::min(option.decorationSize.height(), option.rect.height() - 4);
        const QRect iconRect(textRect.left(), option.rect.top() + (option.rect.height() - side) / 2,
                             side, side);
        if (decoration.userType() == QMetaType::QIcon) {
            decoration.value<QIcon>().paint(painter, iconRect, Qt::AlignCenter,
                                            selected ? QIcon::Selected : QIcon::Normal);
        } else if (decoration.userType() == QMetaType::QColor) {
            painter->fillRect(iconRect.adjusted(2, 2, -2, -2), decoration.value<QColor>());
        }
        textRect.setLeft(iconRect.right() + 5);
    }

    // Text.
    const QString text = index.data(Qt::DisplayRole).toString();
    if (!text.isEmpty() && textRect.width() > 0) {
        const QFont &font = option.font;
        QColor color = palette.color(group, selected ? QPalette::HighlightedText : QPalette::Text);
        if (!selected) {
            const QVariant foreground = index.data(Qt::ForegroundRole);
            if (foreground.userType() == QMetaType::QColor)
                color = foreground.value<QColor>();
            else if (foreground.userType() == QMetaType::QBrush)
                color = foreground.value<QBrush>().color();
        }
        const QVariant alignmentData = index.data(Qt::TextAlignmentRole);
        const Qt::Alignment alignment = alignmentData.isValid()
                ? Qt::Alignment(alignmentData.toInt())
                : Qt::Alignment(Qt::AlignLeft | Qt::AlignVCenter);
        painter->save();
        painter->setFont(font);
        painter->setPen(color);
        m_text->draw(*painter, textRect, alignment, text);
        painter->restore();
    }

    if (option.state & QStyle::State_HasFocus) {
        QStyleOptionFocusRect focus;
        focus.QStyleOption::operator=(option);
        focus.backgroundColor =
                palette.color(group, selected ? QPalette::Highlight : QPalette::Window);
        QStyle *style = widget ? widget->style() : QApplication::style();
        style->drawPrimitive(QStyle::PE_FrameFocusRect, &focus, painter, widget);
    }
}

} // namespace loopscope::ui
