"""Light, dark or the system's colours (settings' "theme").

Qt 6.8+ can ask the platform for a colour scheme (`QStyleHints.setColorScheme`): Windows 11 and
macOS then draw their own dark or light widgets and title bars. Where the platform does not
follow (most Linux desktops without a platform theme, older Windows styles, the offscreen and
Xvfb platforms), the app switches to the Fusion style with a palette of its own. "system" goes
back to the style and palette the app started with. Everything the app paints itself (the
gallery delegate, the view-mode icons) reads the palette, so it follows either way.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")

_started_with: dict[str, object] = {}  # the app's own style name and palette, before any change


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def fusion_palette(dark: bool) -> QPalette:
    """A complete palette for the Fusion style, dark or light."""
    if not dark:
        return QPalette(QColor(239, 239, 239))  # Qt derives every role from the window colour
    roles = QPalette.ColorRole
    palette = QPalette()
    colours = {
        roles.Window: QColor(45, 45, 48), roles.WindowText: QColor(230, 230, 230),
        roles.Base: QColor(30, 30, 32), roles.AlternateBase: QColor(56, 56, 60),
        roles.ToolTipBase: QColor(60, 60, 64), roles.ToolTipText: QColor(230, 230, 230),
        roles.PlaceholderText: QColor(150, 150, 150), roles.Text: QColor(230, 230, 230),
        roles.Button: QColor(53, 53, 56), roles.ButtonText: QColor(230, 230, 230),
        roles.BrightText: QColor(255, 90, 90), roles.Light: QColor(80, 80, 84),
        roles.Midlight: QColor(66, 66, 70), roles.Mid: QColor(40, 40, 42), roles.Dark: QColor(22, 22, 24),
        roles.Shadow: QColor(0, 0, 0), roles.Highlight: QColor(42, 110, 187),
        roles.HighlightedText: QColor(255, 255, 255), roles.Link: QColor(100, 160, 240),
        roles.LinkVisited: QColor(170, 130, 230),
    }
    for role, colour in colours.items():
        palette.setColor(role, colour)
    disabled = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        palette.setColor(disabled, role, QColor(120, 120, 120))
    palette.setColor(disabled, roles.Highlight, QColor(70, 70, 74))
    return palette


def _scheme_for(theme: str) -> Qt.ColorScheme:
    return {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}.get(theme, Qt.ColorScheme.Unknown)


def apply_theme(theme: str, app: QApplication | None = None) -> None:
    """Show the app in `theme` ("system", "light" or "dark"); safe to call again at any time."""
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {THEMES}, got {theme!r}")
    app = app or QApplication.instance()
    if not _started_with:
        _started_with.update(style=app.style().name(), palette=QPalette(app.palette()))
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "setColorScheme"):  # Qt 6.8+
        hints.setColorScheme(_scheme_for(theme))
    if theme == "system":
        if app.style().name() != _started_with["style"]:
            app.setStyle(_started_with["style"])
        app.setPalette(_started_with["palette"])
        return
    want_dark = theme == "dark"
    if app.style().name() == _started_with["style"] and is_dark(app.palette()) == want_dark:
        return  # the platform follows the scheme by itself (or already shows it)
    app.setStyle("Fusion")
    app.setPalette(fusion_palette(want_dark))


def view_mode_icon(mode: str, palette: QPalette | None = None) -> QIcon:
    """The toolbar icon of a gallery layout, in the palette's text colour: "grid" four tiles,
    "list" three rows of a small picture and a line of text. (The style's file-dialog icons
    look like the other layout in some styles.)"""
    palette = palette or QApplication.palette()
    icon = QIcon()
    for side in (16, 24, 32, 48):
        pixmap = QPixmap(side, side)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.WindowText))
        unit = side / 16
        if mode == "grid":
            for x, y in ((2, 2), (9, 2), (2, 9), (9, 9)):
                painter.drawRoundedRect(QRectF(x * unit, y * unit, 5 * unit, 5 * unit), unit, unit)
        else:
            for y in (2, 7, 12):
                painter.drawRect(QRectF(2 * unit, y * unit, 3 * unit, 3 * unit))
                painter.drawRect(QRectF(7 * unit, (y + 1) * unit, 7 * unit, 1.2 * unit))
        painter.end()
        icon.addPixmap(pixmap)
    return icon
