"""Light, dark or the system's colours (settings' "theme"), and what the app draws in them.

Qt 6.8+ can ask the platform for a colour scheme (`QStyleHints.setColorScheme`): Windows 11 and
macOS then draw their own dark or light widgets and title bars. Where the platform does not
follow (most Linux desktops without a platform theme, older Windows styles, the offscreen and
Xvfb platforms), the app switches to the Fusion style with a palette of its own, through
LegibleStyle, which rings radio buttons and tick boxes in the text colour where Fusion's own
ring would vanish into a dark window. "system" goes back to the style and palette the app
started with. Everything the app paints itself (the gallery delegate, the toolbar icons drawn by
`drawn_icon`, warning texts in `warning_colour`) reads the palette, so it follows either way;
`contrast_ratio` is the WCAG measure the tests hold icons and texts to.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QIcon,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleOption

THEMES = ("system", "light", "dark")

_started_with: dict[str, object] = {}  # the app's own style name and palette, before any change


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def relative_luminance(colour: QColor) -> float:
    """WCAG 2's relative luminance of an opaque colour (0 black to 1 white)."""
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG 2's contrast ratio, 1 (none) to 21 (black on white); 4.5 for text, 3 for icons."""
    light, dark = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def warning_colour(palette: QPalette) -> QColor:
    """Red for warning and error texts that stays readable on the palette's window: a dark red
    on a light window, a light one on a dark window (dark red on dark grey is unreadable)."""
    return QColor(255, 130, 130) if is_dark(palette) else QColor(176, 0, 0)


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
    native = str(_started_with["style"]).lower() != "fusion"
    if native and app.style().name() == _started_with["style"] and is_dark(app.palette()) == want_dark:
        return  # the platform's own style follows the scheme by itself (or already shows it)
    app.setStyle(LegibleStyle("Fusion"))
    app.setPalette(fusion_palette(want_dark))


class LegibleStyle(QProxyStyle):
    """Fusion, with radio buttons and tick boxes ringed in the text colour: Fusion draws their
    ring a shade darker than the window, which leaves an unticked radio button nearly invisible
    on a dark window and faint (contrast 2:1) on a light one."""

    def drawPrimitive(self, element, option: QStyleOption, painter: QPainter, widget=None) -> None:
        super().drawPrimitive(element, option, painter, widget)
        kinds = (QStyle.PrimitiveElement.PE_IndicatorRadioButton, QStyle.PrimitiveElement.PE_IndicatorCheckBox)
        if element not in kinds:
            return
        ring = QColor(option.palette.color(QPalette.ColorRole.Text))
        enabled = bool(option.state & QStyle.StateFlag.State_Enabled)
        ring.setAlpha((200 if is_dark(option.palette) else 150) if enabled else 80)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(ring, 1.2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        rect = QRectF(option.rect).adjusted(1.5, 1.5, -0.5, -0.5)
        if element == QStyle.PrimitiveElement.PE_IndicatorRadioButton:
            painter.drawEllipse(rect)
        else:
            painter.drawRoundedRect(rect, 2, 2)
        painter.restore()


DRAWN_ICONS = ("grid", "list", "play", "stop", "undo", "redo")


def drawn_icon(kind: str, palette: QPalette | None = None) -> QIcon:
    """A toolbar icon drawn in the palette's text colour, so it reads on a light and a dark
    toolbar alike (the style's own play, stop and arrow icons are black, invisible on dark
    grey): "grid" four tiles, "list" three rows of a small picture and a line of text (the
    style's file-dialog icons look like the other layout in some styles), "play" Caption All,
    "stop" Cancel, "undo" and "redo" curved arrows."""
    if kind not in DRAWN_ICONS:
        raise ValueError(f"icon must be one of {DRAWN_ICONS}, got {kind!r}")
    palette = palette or QApplication.palette()
    icon = QIcon()
    for side in (16, 24, 32, 48):
        for mode, group in ((QIcon.Mode.Normal, QPalette.ColorGroup.Active),
                            (QIcon.Mode.Disabled, QPalette.ColorGroup.Disabled)):
            pixmap = QPixmap(side, side)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            _draw(painter, kind, side / 16, palette.color(group, QPalette.ColorRole.WindowText))
            painter.end()
            icon.addPixmap(pixmap, mode)
    return icon


def _draw(painter: QPainter, kind: str, unit: float, colour: QColor) -> None:
    """Draw icon `kind` on a 16-unit square."""
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    if kind == "grid":
        for x, y in ((2, 2), (9, 2), (2, 9), (9, 9)):
            painter.drawRoundedRect(QRectF(x * unit, y * unit, 5 * unit, 5 * unit), unit, unit)
    elif kind == "list":
        for y in (2, 7, 12):
            painter.drawRect(QRectF(2 * unit, y * unit, 3 * unit, 3 * unit))
            painter.drawRect(QRectF(7 * unit, (y + 1) * unit, 7 * unit, 1.2 * unit))
    elif kind == "play":
        painter.drawPolygon(QPolygonF([QPointF(4 * unit, 2.5 * unit), QPointF(13.5 * unit, 8 * unit),
                                       QPointF(4 * unit, 13.5 * unit)]))
    elif kind == "stop":
        painter.drawRoundedRect(QRectF(3.5 * unit, 3.5 * unit, 9 * unit, 9 * unit), unit, unit)
    else:  # undo, redo: an arc ending in an arrow head, mirrored for redo
        if kind == "redo":
            painter.translate(16 * unit, 0)
            painter.scale(-1, 1)
        arc = QPainterPath()
        arc.moveTo(4.5 * unit, 6.5 * unit)
        arc.cubicTo(9 * unit, 2.5 * unit, 15 * unit, 4.5 * unit, 13.5 * unit, 9.5 * unit)
        arc.cubicTo(12.8 * unit, 12 * unit, 10.5 * unit, 13 * unit, 8.5 * unit, 13 * unit)
        painter.strokePath(arc, QPen(colour, 1.8 * unit, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawPolygon(QPolygonF([QPointF(1.5 * unit, 4 * unit), QPointF(7.5 * unit, 3 * unit),
                                       QPointF(5 * unit, 9.5 * unit)]))
