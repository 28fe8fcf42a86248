"""The gallery that fits the user (issue 11): thumbnail zoom, thumbnails that keep their aspect,
one-line names, the large preview, themes and the view-mode icons; driven by keys, wheel and
clicks as a user would."""

from __future__ import annotations

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import (
    QColor,
    QImage,
    QPainter,
    QPalette,
    QPixmap,
    QStandardItem,
    QStandardItemModel,
    QWheelEvent,
)
from PySide6.QtWidgets import QAbstractItemView, QApplication, QStyle, QStyleOptionViewItem

from tests.app.images import draw_scene
from tests.app.window_steps import focused, open_folder

CTRL = Qt.KeyboardModifier.ControlModifier


def wheel(widget, delta: int, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """One wheel event of `delta` (120 = one notch) at the widget's centre."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, delta),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def double_click(qtbot, widget, pos: QPoint) -> None:
    """What a mouse sends: a click, then the second press as a double-click."""
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(widget, Qt.MouseButton.LeftButton, pos=pos)


# --- thumbnail size ------------------------------------------------------------------------------


def test_ctrl_wheel_and_ctrl_plus_minus_zoom_and_are_remembered(qtbot, make_window, image_folder, settings):
    window = make_window()
    open_folder(qtbot, window, image_folder)
    view = window.gallery_view
    view.setFocus()
    first = view.model().index(0, 0)
    cell = view.visualRect(first).size()
    assert view.thumbnail_size == 128 and window.thumbnails.size == 128

    wheel(view.viewport(), 120, CTRL)  # one notch up with Ctrl: one step bigger
    assert view.thumbnail_size == 160
    assert settings.get("thumbnail_size") == 160
    assert window.thumbnails.size == 256  # decoded at the next decode size up, scaled on paint
    bigger = view.visualRect(first).size()
    assert bigger.width() > cell.width() and bigger.height() > cell.height()

    wheel(view.viewport(), 60, CTRL)  # half a notch (a touchpad): not yet a step
    assert view.thumbnail_size == 160
    wheel(view.viewport(), 60, CTRL)
    assert view.thumbnail_size == 192
    wheel(view.viewport(), -120)  # without Ctrl the wheel scrolls, the size stays
    assert view.thumbnail_size == 192

    qtbot.keyClick(view, Qt.Key.Key_Minus, CTRL)
    qtbot.keyClick(view, Qt.Key.Key_Minus, CTRL)
    qtbot.keyClick(view, Qt.Key.Key_Minus, CTRL)
    assert view.thumbnail_size == 96
    assert window.thumbnails.size == 128  # new ones decode small; the larger ones in memory stay in use
    qtbot.keyClick(view, Qt.Key.Key_Equal, CTRL)  # Ctrl+= is Ctrl+plus without Shift
    assert view.thumbnail_size == 128
    for _ in range(12):
        qtbot.keyClick(view, Qt.Key.Key_Plus, CTRL)
    assert view.thumbnail_size == 384  # stops at the largest
    qtbot.keyClick(view, Qt.Key.Key_0, CTRL)
    assert view.thumbnail_size == 128 and settings.get("thumbnail_size") == 128

    window.action_controller.zoom_in_action.trigger()  # View > Larger Thumbnails
    assert settings.get("thumbnail_size") == 160
    window.set_view_mode("list")
    row_160 = view.visualRect(first).height()
    qtbot.keyClick(view, Qt.Key.Key_Minus, CTRL)
    assert view.visualRect(first).height() < row_160  # list rows follow too
    window.close()

    again = make_window()
    assert again.gallery_view.thumbnail_size == 128 and again.settings.get("thumbnail_size") == 128
    again.gallery_view.set_thumbnail_size(256)
    again.close()
    assert make_window().gallery_view.thumbnail_size == 256


def test_smaller_size_reuses_a_larger_thumbnail_and_a_larger_size_shows_the_old_one_meanwhile(qtbot, tmp_path):
    from visioncap_desktop.workers.thumbnail_loader import ThumbnailLoader, decode_size_for

    assert [decode_size_for(s) for s in (64, 128, 160, 256, 320, 384, 768)] == [128, 128, 256, 256, 384, 384, 384]
    photo = tmp_path / "big.png"
    draw_scene(1, (800, 600)).save(photo)
    loader = ThumbnailLoader(size=256, cache_dir=tmp_path / "thumbs")
    try:
        assert loader.pixmap(str(photo)) is None
        qtbot.waitUntil(lambda: loader.is_cached(str(photo)), timeout=10000)
        assert loader.pixmap(str(photo)).width() == 256

        loader.set_size(128)
        assert loader.is_cached(str(photo)) and loader.pixmap(str(photo)).width() == 256
        assert loader.is_idle()  # nothing decoded again

        loader.set_size(384)
        assert not loader.is_cached(str(photo))
        assert loader.pixmap(str(photo)).width() == 256  # the old one meanwhile, and a request
        qtbot.waitUntil(lambda: loader.is_cached(str(photo)), timeout=10000)
        assert loader.pixmap(str(photo)).width() == 384
    finally:
        loader.shutdown()


# --- painting ------------------------------------------------------------------------------------


def paint_item(name: str, thumbnail: QPixmap, mode: str = "grid", state: str = "captioned",
               selected: bool = False) -> tuple[QImage, QRect, QRect]:
    """Paint one gallery item on white with red text (green when selected, on a blue highlight);
    returns (image, picture area, name line)."""
    from visioncap_desktop.gallery.item_model import ROLE_RECORD
    from visioncap_desktop.records import CaptionState, ImageRecord
    from visioncap_desktop.widgets.gallery_delegate import GalleryDelegate

    record = ImageRecord(path=f"/photos/{name}", name=name)
    record.caption, record.state = "a caption", CaptionState(state)
    item = QStandardItem()
    item.setData(record, ROLE_RECORD)
    item.setData(thumbnail, Qt.ItemDataRole.DecorationRole)
    model = QStandardItemModel()
    model.appendRow(item)
    delegate = GalleryDelegate()
    delegate.mode = mode
    option = QStyleOptionViewItem()
    option.font = QApplication.font()
    option.palette = QPalette(QApplication.palette())
    option.palette.setColor(QPalette.ColorRole.Text, QColor(255, 0, 0))
    option.palette.setColor(QPalette.ColorRole.Base, QColor(255, 255, 255))
    option.palette.setColor(QPalette.ColorRole.Highlight, QColor(42, 130, 218))
    option.palette.setColor(QPalette.ColorRole.HighlightedText, QColor(0, 255, 0))
    if selected:
        option.state |= QStyle.StateFlag.State_Selected
    size = delegate.sizeHint(option, model.index(0, 0))
    option.rect = QRect(0, 0, size.width(), size.height())
    image = QImage(size, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    delegate.paint(painter, option, model.index(0, 0))
    painter.end()
    metrics_height = option.fontMetrics.height()
    picture, name_line, _ = delegate._rects(option.rect, metrics_height)
    return image, picture, name_line


def pixels(image: QImage, test) -> list[tuple[int, int]]:
    return [(x, y) for y in range(image.height()) for x in range(image.width()) if test(image.pixelColor(x, y))]


def bounds(points) -> QRect:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return QRect(min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1)


@pytest.mark.parametrize("mode", ["grid", "list"])
def test_portrait_thumbnail_keeps_its_aspect_and_stays_clear_of_the_state_badge(qtbot, mode):
    portrait = QPixmap(64, 128)
    portrait.fill(QColor(0, 0, 255))
    image, area, _ = paint_item("portrait.jpg", portrait, mode)
    blue = bounds(pixels(image, lambda c: c.blue() > 200 and c.red() < 40 and c.green() < 40))
    assert area.contains(blue)
    assert abs(blue.height() - 2 * blue.width()) <= 2  # 1:2, as the photo
    badge = pixels(image, lambda c: (c.red(), c.green(), c.blue()) == (46, 139, 87))  # "captioned" green
    assert badge and not any(blue.contains(x, y) for x, y in badge)


def test_the_state_badge_of_a_selected_item_is_ringed_in_the_highlighted_text_colour(qtbot):
    """The edited badge's blue is close to a selection's blue: selected, the badge gets a ring."""
    square = QPixmap(128, 128)
    square.fill(QColor(0, 0, 255))
    for selected in (False, True):
        image, _, _ = paint_item("p.jpg", square, state="edited", selected=selected)
        badge = bounds(pixels(image, lambda c: (c.red(), c.green(), c.blue()) == (52, 101, 164)))
        ring = badge.adjusted(-2, -2, 2, 2)
        green = [(x, y) for x, y in pixels(image, lambda c: c.green() > 200 and c.red() < 80 and c.blue() < 80)
                 if ring.contains(x, y)]
        assert bool(green) == selected


def test_a_name_with_line_breaks_is_drawn_on_its_one_line(qtbot):
    from visioncap_desktop.widgets.gallery_delegate import one_line

    assert one_line("two\nlines\r\nand\u2028more\tparts") == "two lines and more parts"
    square = QPixmap(128, 128)
    square.fill(QColor(0, 0, 255))
    image, _, name_line = paint_item("first line\nsecond line\nthird line.jpg", square)
    red = pixels(image, lambda c: c.red() > 150 and c.green() < 100 and c.blue() < 100)
    name_reds = [(x, y) for x, y in red if y < name_line.bottom() + 2]
    assert name_reds, "the name was not drawn"
    assert all(name_line.top() - 1 <= y for _, y in name_reds)  # nothing above the line: over the picture


# --- the large preview ---------------------------------------------------------------------------


@pytest.fixture
def preview_folder(tmp_path):
    folder = tmp_path / "preview"
    folder.mkdir()
    draw_scene(1, (3000, 2000)).save(folder / "a_large.jpg", quality=80)
    for i, size in enumerate([(320, 240), (240, 320), (300, 300)], start=2):
        draw_scene(i, size).save(folder / f"b_{i}.png")
    return folder


def test_space_opens_the_preview_arrows_and_pages_move_wheel_and_keys_zoom(qtbot, make_window, preview_folder):
    window = make_window()
    assert open_folder(qtbot, window, preview_folder) == 4
    view = window.gallery_view
    view.setCurrentIndex(view.model().index(0, 0))
    focused(qtbot, window, view)  # Space previews only from the gallery (elsewhere it types a space)
    qtbot.keyClick(view, Qt.Key.Key_Space)
    preview = window.preview
    assert preview.isVisible() and preview.current_row() == 0
    assert view.state() != QAbstractItemView.State.EditingState
    qtbot.waitUntil(preview.canvas.has_picture, timeout=15000)
    decoded = preview.canvas.item.pixmap()
    assert max(decoded.width(), decoded.height()) == window.large_previews.size < 3000  # screen size, not full
    assert preview.canvas.fitting

    qtbot.keyClick(preview, Qt.Key.Key_1)  # 100%: one photo pixel per screen pixel
    assert preview.canvas.zoom == pytest.approx(1.0)
    assert preview.canvas.transform().m11() == pytest.approx(3000 / decoded.width(), rel=0.01)
    wheel(preview.canvas.viewport(), 120)
    assert preview.canvas.zoom == pytest.approx(1.25)
    qtbot.keyClick(preview, Qt.Key.Key_Minus, CTRL)
    qtbot.keyClick(preview, Qt.Key.Key_Minus, CTRL)
    assert preview.canvas.zoom == pytest.approx(0.8)
    qtbot.keyClick(preview, Qt.Key.Key_F)
    assert preview.canvas.fitting and "fit" in preview.zoom_label.text()

    qtbot.keyClick(preview, Qt.Key.Key_Right)
    assert preview.current_row() == 1 and view.currentIndex().row() == 1  # the gallery follows
    qtbot.keyClick(preview, Qt.Key.Key_PageDown)
    assert preview.current_row() == 2
    qtbot.keyClick(preview, Qt.Key.Key_End)
    qtbot.keyClick(preview, Qt.Key.Key_Right)  # stops at the last
    assert preview.current_row() == 3 and preview.position.text() == "4 of 4"
    qtbot.keyClick(preview, Qt.Key.Key_PageUp)
    qtbot.keyClick(preview, Qt.Key.Key_Left)
    assert preview.current_row() == 1 and view.currentIndex().row() == 1
    qtbot.waitUntil(preview.canvas.has_picture, timeout=15000)
    assert "b_2.png" in preview.windowTitle()
    qtbot.keyClick(preview, Qt.Key.Key_Escape)
    assert not preview.isVisible()


def test_double_click_on_the_picture_previews_and_on_the_caption_edits(qtbot, make_window, preview_folder):
    window = make_window()
    open_folder(qtbot, window, preview_folder)
    view = window.gallery_view
    index = view.model().index(2, 0)
    rect = view.visualRect(index)
    picture = view.delegate.picture_rect(rect, view.font())
    double_click(qtbot, view.viewport(), picture.center())
    assert window.preview.isVisible() and window.preview.current_row() == 2
    assert view.state() != QAbstractItemView.State.EditingState
    window.preview.close()

    below_picture = QPoint(rect.center().x(), rect.bottom() - 8)
    double_click(qtbot, view.viewport(), below_picture)
    assert view.state() == QAbstractItemView.State.EditingState
    assert not window.preview.isVisible()


def test_preview_shows_why_a_picture_cannot_be_shown(qtbot, make_window, tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a picture")
    Image.new("RGB", (40, 30), "red").save(folder / "fine.png")
    window = make_window()
    open_folder(qtbot, window, folder)
    window.gallery_view.setCurrentIndex(window.proxy_model.index(0, 0))
    window.action_controller.preview_action.trigger()
    qtbot.waitUntil(lambda: window.preview.status.text() not in ("", "Loading..."), timeout=15000)
    assert not window.preview.canvas.has_picture()


# --- themes and icons ----------------------------------------------------------------------------


def test_view_menu_and_settings_choose_the_theme_remembered_and_painted(qtbot, make_window, settings, theme_reset):
    from visioncap_desktop.dialogs.settings_dialog import SettingsDialog
    from visioncap_desktop.theme import drawn_icon, is_dark

    window = make_window()
    start = QApplication.palette().color(QPalette.ColorRole.Window)
    window.action_controller.theme_actions["dark"].trigger()  # View > Theme > Dark
    assert is_dark(QApplication.palette()) and settings.get("theme") == "dark"
    assert window.action_controller.theme_actions["dark"].isChecked()
    text = QApplication.palette().color(QPalette.ColorRole.WindowText)
    icon = window.action_controller.grid_action.icon().pixmap(16, 16).toImage()
    assert icon.pixelColor(3, 3).rgb() == text.rgb()  # the drawn icon follows the palette
    assert drawn_icon("grid").pixmap(16, 16).toImage().pixelColor(3, 3).rgb() == text.rgb()

    window.action_controller.theme_actions["light"].trigger()
    assert not is_dark(QApplication.palette()) and settings.get("theme") == "light"
    window.action_controller.theme_actions["dark"].trigger()
    window.close()
    again = make_window()  # remembered
    assert is_dark(QApplication.palette()) and again.action_controller.theme_actions["dark"].isChecked()

    dialog = SettingsDialog({}, "auto", 8, "model", theme="dark")
    assert dialog.theme_choice() == "dark"
    dialog.theme.setCurrentIndex(dialog.theme.findData("system"))
    assert dialog.theme_choice() == "system"
    again.action_controller.set_theme("system")
    assert QApplication.palette().color(QPalette.ColorRole.Window) == start


def test_grid_and_list_icons_show_their_layout(qtbot):
    from visioncap_desktop.theme import drawn_icon

    grid = drawn_icon("grid").pixmap(16, 16).toImage()
    rows = drawn_icon("list").pixmap(16, 16).toImage()
    # between the tiles' columns the grid is empty, where the list has a line of text
    assert grid.pixelColor(8, 3).alpha() == 0 and rows.pixelColor(8, 3).alpha() > 0
    # between two rows the list is empty, where the grid has a tile
    assert rows.pixelColor(3, 6).alpha() == 0 and grid.pixelColor(3, 6).alpha() > 0
