#pragma once

#include <QFont>
#include <QHashFunctions>
#include <QRectF>
#include <QStaticText>
#include <QString>

#include <cstddef>
#include <unordered_map>
#include <vector>

class QPainter;

namespace loopscope::ui {

/*!
 * Shaped text kept for the next paint. QPainter::drawText() and QFontMetrics::elidedText()
 * shape their string anew on every call; the views repaint at 30 Hz with mostly the same
 * labels, so a label is shaped (and elided) once and drawn from its QStaticText after that.
 * Entries are keyed by text, width, font and elide mode; the cache empties itself when it reaches
 * kMaxEntries (what is on screen comes back within one paint). One per view, GUI thread.
 */
class StaticTextCache
{
public:
    static constexpr std::size_t kMaxEntries = 8192;

    //! \a text in \a font, elided (\a mode) to \a width pixels.
    const QStaticText &get(const QString &text, int width, const QFont &font,
                           Qt::TextElideMode mode = Qt::ElideRight);
    //! Draws \a text in the painter's font and pen, elided to \a rect's width, placed in
    //! \a rect by \a alignment (left/right/h-centre, top/bottom/v-centre).
    void draw(QPainter &painter, const QRectF &rect, Qt::Alignment alignment, const QString &text,
              Qt::TextElideMode mode = Qt::ElideRight);

    std::size_t size() const noexcept { return m_entries.size(); }

private:
    struct Key
    {
        QString text;
        int width;
        int font; //!< index into m_fonts
        Qt::TextElideMode mode;
        bool operator==(const Key &o) const noexcept
        {
            return width == o.width && font == o.font && mode == o.mode && text == o.text;
        }
    };
    struct KeyHash
    {
        std::size_t operator()(const Key &k) const noexcept
        {
            return qHashMulti(0, k.text, k.width, k.font, int(k.mode));
        }
    };

    std::unordered_map<Key, QStaticText, KeyHash> m_entries;
    std::vector<QFont> m_fonts; //!< each font seen (a handful)
};

} // namespace loopscope::ui
