#include "statictextcache.h"

#include <QFontMetrics>
#include <QPainter>

#include <algorithm>
#include <utility>

namespace loopscope::ui {

const QStaticText &StaticTextCache::get(const QString &text, int width, const QFont &font,
                                        Qt::TextElideMode mode)
{
    // Compared as fonts: QFont::key() would format a string for every cell of every paint.
    const auto known = std::find(m_fonts.begin(), m_fonts.end(), font);
    const int fontIndex = int(known - m_fonts.begin());
    if (known == m_fonts.end())
        m_fonts.push_back(font);
    Key key{ text, width, fontIndex, mode };
    if (const auto hit = m_entries.find(key); hit != m_entries.end())
        return hit->second;
    if (m_entries.size() >= kMaxEntries)
        m_entries.clear();
    const QFontMetrics metrics(font);
    QStaticText shaped(metrics.horizontalAdvance(text) <= width
                               ? text
                               : metrics.elidedText(text, mode, std::max(0, width)));
    shaped.setTextFormat(Qt::PlainText);
    shaped.setPerformanceHint(QStaticText::AggressiveCaching);
    shaped.prepare(QTransform(), font);
    return m_entries.emplace(std::move(key), std::move(shaped)).first->second;
}

void StaticTextCache::draw(QPainter &painter, const QRectF &rect, Qt::Alignment alignment,
                           const QString &text, Qt::TextElideMode mode)
{
    if (text.isEmpty() || rect.width() <= 0)
        return;
    const QStaticText &shaped = get(text, int(rect.width()), painter.font(), mode);
    const QSizeF size = shaped.size();
    qreal x = rect.left();
    if (alignment & Qt::AlignRight)
        x = rect.right() - size.width();
    else if (alignment & Qt::AlignHCenter)
        x = rect.left() + (rect.width() - size.width()) / 2;
    qreal y = rect.top() + (rect.height() - size.height()) / 2;
    if (alignment & Qt::AlignTop)
        y = rect.top();
    else if (alignment & Qt::AlignBottom)
        y = rect.bottom() - size.height();
    painter.drawStaticText(QPointF(x, y), shaped);
}

} // namespace loopscope::ui
