"""A grid and a theme that can be read (issue 24): names elided at the end with their extension
kept, whole on hover and in the list view; toolbar icons and radio buttons measured against
their background in the light and the dark theme; the preview's Fit filling the view."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QRadioButton,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from tests.app.window_steps import open_folder
from visioncap_desktop.gallery.item_model import ROLE_RECORD
from visioncap_desktop.theme import contrast_ratio
from visioncap_desktop.widgets.gallery_delegate import elide_name, shown_name

ICON_CONTRAST = 3.0  # WCAG 2.1's minimum for graphical objects


def test_names_are_cut_at_the_end_keeping_the_extension(qapp):
    metrics = QFontMetrics(QFont())
    name = "Bythesea_at_sunset_2020.jpg"
    assert elide_name(name, metrics, metrics.horizontalAdvance(name)) == name
    room = metrics.horizontalAdvance("Bythesea_a…2020.jpg")
    short = elide_name(name, metrics, room)
    # the start, the series number and the extension: the four photos of a series stay apart
    assert short.startswith("Bythesea") and short.endswith("…2020.jpg") and len(short) < len(name)
    assert metrics.horizontalAdvance(short) <= room
    assert len({elide_name(f"Bythesea_at_sunset_202{i}.jpg", metrics, room) for i in range(4)}) == 4
    words = elide_name("holiday at the seaside.jpeg", metrics, metrics.horizontalAdvance("holiday a….jpeg"))
    assert words.startswith("holiday") and words.endswith("….jpeg")
    assert elide_name("no extension at all", metrics, 40).endswith("…")
    assert shown_name("trip2024/IMG_0001.jpg", "grid") == "IMG_0001.jpg"
    assert shown_name("trip2024/IMG_0001.jpg", "list") == "trip2024/IMG_0001.jpg"
    assert shown_name("line\nbreak.jpg", "grid") == "line break.jpg"


def test_full_names_on_hover_and_in_the_list(qtbot, make_window, tmp_path):
    folder = tmp_path / "photos"
    (folder / "trip2024").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (40, 30), (i * 60, 80, 80)).save(folder / "trip2024" / f"beach_holiday_{i:04d}.jpg")
    window = make_window()
    open_folder(qtbot, window, folder, include_subfolders=True)
    index = window.proxy_model.index(0, 0)
    record = index.data(ROLE_RECORD)
    assert record.name == "trip2024/beach_holiday_0000.jpg"
    assert window.proxy_model.index(0, 0).data(0x03).startswith("trip2024/beach_holiday_0000.jpg\n")  # ToolTipRole
    delegate = window.gallery_view.delegate
    window.set_view_mode("list")
    assert shown_name(record.name, delegate.mode) == record.name
    window.set_view_mode("grid")
    assert shown_name(record.name, delegate.mode) == "beach_holiday_0000.jpg"  # each tile names its photo


def ink_contrast(image, background: QColor) -> float:
    """The 90th percentile of the contrast between the icon's opaque pixels, composited on
    `background`, and the background: most of what is drawn, not its one darkest pixel."""
    ratios = []
    for y in range(image.height()):
        for x in range(image.width()):
            colour = image.pixelColor(x, y)
            if colour.alpha() > 128:
                a = colour.alphaF()
                mixed = QColor.fromRgbF(colour.redF() * a + background.redF() * (1 - a),
                                        colour.greenF() * a + background.greenF() * (1 - a),
                                        colour.blueF() * a + background.blueF() * (1 - a))
                ratios.append(contrast_ratio(mixed, background))
    ratios.sort()
    return ratios[int(len(ratios) * 0.9)] if ratios else 0.0


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_toolbar_icons_and_radio_buttons_stand_out_in_both_themes(qtbot, make_window, theme_reset, theme):
    window = make_window()
    window.action_controller.set_theme(theme)
    toolbar = window.findChild(QToolBar, "main_toolbar")
    window_colour = QApplication.palette().color(QPalette.ColorRole.Window)
    qtbot.waitUntil(lambda: toolbar.palette().color(QPalette.ColorRole.Window) == window_colour)  # posted
    background = toolbar.palette().color(QPalette.ColorRole.Window)
    icons = {}
    for action in toolbar.actions():
        if not action.isSeparator() and not action.icon().isNull():
            icons[action.iconText()] = action.icon()
    for button in toolbar.findChildren(QToolButton):  # Caption All's menu button
        if button.defaultAction() is not None:
            icons[button.defaultAction().iconText()] = button.defaultAction().icon()
    assert {"Caption All", "Undo", "Redo", "Cancel Run", "Grid", "List"} <= set(icons)
    low = {name: round(ink_contrast(icon.pixmap(24, 24).toImage(), background), 2) for name, icon in icons.items()}
    assert all(value >= ICON_CONTRAST for value in low.values()), low

    box = QWidget()
    qtbot.addWidget(box)
    layout = QVBoxLayout(box)
    radio, check = QRadioButton("radio", box), QCheckBox("tick", box)
    layout.addWidget(radio)
    layout.addWidget(check)
    box.show()
    for widget in (radio, check):  # the unticked indicator's ring, the left 20 pixels
        image = widget.grab().toImage()
        best = max(contrast_ratio(image.pixelColor(x, y), window_colour)
                   for y in range(image.height()) for x in range(min(20, image.width())))
        assert best >= ICON_CONTRAST, (theme, type(widget).__name__, best)


def test_preview_fit_fills_the_view(qtbot, make_window, tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    Image.new("RGB", (4000, 3000), (200, 100, 50)).save(folder / "wide.jpg")
    Image.new("RGB", (1200, 1600), (50, 100, 200)).save(folder / "tall.jpg")
    Image.new("RGB", (120, 90), (50, 200, 100)).save(folder / "small.jpg")
    window = make_window()
    open_folder(qtbot, window, folder)
    preview = window.preview
    for row in range(3):
        preview.show_row(row)
        qtbot.waitUntil(preview.canvas.has_picture)
        canvas = preview.canvas
        pixmap = canvas.item.pixmap()
        shown = (canvas.transform().m11() * pixmap.width(), canvas.transform().m22() * pixmap.height())
        area = canvas.viewport().size()
        name = preview.windowTitle()
        if "small" in name:  # never enlarged past 100% of the photo's pixels
            assert preview.canvas.zoom == pytest.approx(1.0) and shown[0] == pytest.approx(120)
        else:  # as large as the view allows: one side fills it
            assert max(shown[0] / area.width(), shown[1] / area.height()) == pytest.approx(1.0, abs=0.01), name
    preview.close()
