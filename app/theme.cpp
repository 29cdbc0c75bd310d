#include "theme.h"

#include <QApplication>
#include <QStyle>
#include <QStyleFactory>

#include <optional>

namespace theme {

namespace {
Mode g_mode = Mode::System;
std::optional<QPalette> g_systemPalette;
} // namespace

QString modeName(Mode mode)
{
    switch (mode) {
    case Mode::Light:
        return QStringLiteral("light");
    case Mode::Dark:
        return QStringLiteral("dark");
    case Mode::System:
        break;
    }
    return QStringLiteral("system");
}

Mode modeFromName(const QString &name)
{
    if (name == QLatin1String("light"))
        return Mode::Light;
    if (name == QLatin1String("dark"))
        return Mode::Dark;
    return Mode::System;
}

QPalette lightPalette()
{
    QStyle *fusion = QStyleFactory::create(QStringLiteral("Fusion"));
    QPalette p = fusion ? fusion->standardPalette() : QPalette();
    delete fusion;
    return p;
}

QPalette darkPalette()
{
    // Slate tones: readable text, the views' state colours keep their contrast.
    const QColor window(0x1f, 0x29, 0x37);
    const QColor base(0x11, 0x18, 0x27);
    const QColor alternate(0x1a, 0x23, 0x33);
    const QColor text(0xe5, 0xe7, 0xeb);
    const QColor disabled(0x6b, 0x72, 0x80);
    const QColor highlight(0x25, 0x63, 0xeb);
    QPalette p;
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, base);
    p.setColor(QPalette::AlternateBase, alternate);
    p.setColor(QPalette::ToolTipBase, window);
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, disabled);
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, window);
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(0xf8, 0x71, 0x71));
    p.setColor(QPalette::Light, QColor(0x37, 0x41, 0x51));
    p.setColor(QPalette::Midlight, QColor(0x2b, 0x35, 0x45));
    p.setColor(QPalette::Mid, QColor(0x4b, 0x55, 0x63));
    p.setColor(QPalette::Dark, QColor(0x0b, 0x10, 0x1a));
    p.setColor(QPalette::Shadow, Qt::black);
    p.setColor(QPalette::Highlight, highlight);
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, QColor(0x60, 0xa5, 0xfa));
    p.setColor(QPalette::LinkVisited, QColor(0xa7, 0x8b, 0xfa));
    for (const QPalette::ColorRole role :
         { QPalette::WindowText, QPalette::Text, QPalette::ButtonText }) {
        p.setColor(QPalette::Disabled, role, disabled);
    }
    p.setColor(QPalette::Disabled, QPalette::Highlight, QColor(0x37, 0x41, 0x51));
    return p;
}

bool isDark(const QPalette &palette)
{
    return palette.color(QPalette::Window).lightness()
            < palette.color(QPalette::WindowText).lightness();
}

void apply(Mode mode)
{
    if (!g_systemPalette)
        g_systemPalette = QApplication::palette();
    if (QApplication::style()->name().compare(QLatin1String("fusion"), Qt::CaseInsensitive) != 0)
        QApplication::setStyle(QStringLiteral("Fusion"));
    switch (mode) {
    case Mode::System:
        QApplication::setPalette(*g_systemPalette);
        break;
    case Mode::Light:
        QApplication::setPalette(lightPalette());
        break;
    case Mode::Dark:
        QApplication::setPalette(darkPalette());
        break;
    }
    g_mode = mode;
}

Mode current()
{
    return g_mode;
}

} // namespace theme
