#pragma once

//! \file theme.h The window's light/dark palette: follow the system, or force one.

#include <QPalette>
#include <QString>

namespace theme {

enum class Mode {
    System, //!< the platform's palette as the program found it at start-up
    Light,
    Dark,
};

//! "system", "light", "dark" (QSettings values); modeFromName() reads them back, System for
//! anything else.
QString modeName(Mode mode);
Mode modeFromName(const QString &name);

//! The Fusion palettes used for the forced modes.
QPalette lightPalette();
QPalette darkPalette();
//! True when \a palette has light text on a dark window.
bool isDark(const QPalette &palette);

/*!
 * Applies \a mode to the whole application (Fusion style, so the palette is honoured on every
 * platform). The first call remembers the platform's palette, so System brings it back after
 * a forced mode. Needs a QApplication.
 */
void apply(Mode mode);
//! The mode last applied (System before any call).
Mode current();

} // namespace theme
