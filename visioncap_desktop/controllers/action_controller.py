"""The window's commands: QActions with their shortcuts and icons, the menus and the toolbar that
show them, and which of them are enabled. The window connects each action's `triggered` to the
controller that does the work (MainWindow.connect_action_signals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QDesktopServices,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import QApplication, QMenu, QMenuBar, QStyle, QToolBar, QToolButton, QWidget

from visioncap_desktop import paths
from visioncap_desktop.settings import Settings
from visioncap_desktop.theme import apply_theme, drawn_icon


@dataclass(frozen=True)
class ActionState:
    """What decides which actions are enabled."""

    has_folder: bool
    has_records: bool
    has_selection: bool
    running: bool  # a captioning run, or a batch edit being applied
    writing: bool = False  # captions being written out to files (Cancel stops it too)


class ActionController(QObject):
    recent_folder_chosen = Signal(str)

    def __init__(self, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self._settings = settings
        sp = QStyle.StandardPixmap
        self.open_action = self._action("&Open Folder...", sp.SP_DirOpenIcon, QKeySequence.StandardKey.Open,
                                        "Open a folder of images")
        self.reload_action = self._action("&Reload Folder", sp.SP_BrowserReload, "F5", "Scan the folder again")
        self.subfolders_action = self._action("Include &Subfolders", sp.SP_DirLinkIcon, None,
                                              "Also show images in subfolders", checkable=True)
        self.subfolders_action.setChecked(settings.get("include_subfolders"))
        self.export_action = self._action("&Export CSV...", sp.SP_DialogSaveButton, "Ctrl+E",
                                          "Export captions to a CSV file")
        self.txt_action = self._action("Save Captions as .&txt Files...", sp.SP_FileIcon, None,
                                       "Write photo.txt next to photo.jpg for every captioned image")
        self.xmp_action = self._action("Write &XMP Sidecars...", None, None,
                                       "Write each caption into an XMP sidecar that photo managers read")
        self.embed_action = self._action("E&mbed Captions in Photos...", None, None,
                                         "Write each caption into the photo file's own metadata (asks first)")
        self.jsonl_action = self._action("Write metadata.&jsonl...", None, None,
                                         "Write a Hugging Face imagefolder metadata.jsonl (file_name, text)")
        self.import_action = self._action("&Import Captions from CSV / metadata.jsonl...", None, None,
                                          "Read captions for these images from a CSV or a metadata.jsonl")
        self.sidecar_actions = {naming: self._action(f"Sidecar Names: {naming}", None, None, tip, checkable=True)
                                for naming, tip in (("photo.jpg.xmp", "darktable, digiKam"),
                                                    ("photo.xmp", "Lightroom, Capture One"))}
        self.sidecar_group = QActionGroup(self)
        for naming, action in self.sidecar_actions.items():
            self.sidecar_group.addAction(action)
            action.setChecked(naming == settings.get("sidecar_naming"))
            action.toggled.connect(lambda on, n=naming: on and settings.set("sidecar_naming", n))
        self.quit_action = self._action("&Quit", None, QKeySequence.StandardKey.Quit)

        self.undo_action = self._action("&Undo", None, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action("&Redo", None, ["Ctrl+Y", "Ctrl+Shift+Z"])
        self.edit_action = self._action("&Edit Caption", None, "F2", "Edit the caption of the current image")
        self.find_action = self._action("&Find", None, QKeySequence.StandardKey.Find)
        self.batch_action = self._action("&Batch Edit...", None, "Ctrl+H",
                                         "Find and replace, add a prefix or suffix, tidy captions of many images")
        self.details_action = self._action(
            "Add &Keywords and Titles from Photos", None, None,
            "The keywords in the selected photos (all photos when one or none is selected) and their XMP sidecars "
            "become tags of their captions; a photo's title fills an empty Title. No photo is changed.")

        self.caption_all_action = self._action("Caption &All", None, None)
        self.caption_selected_action = self._action("Caption &Selected", None, "Ctrl+Shift+R",
                                                    "Caption the selected images")
        self.caption_missing_action = self._action("Caption &Uncaptioned", None, "Ctrl+R",
                                                   "Caption the images without a caption")
        self.overwrite_action = self._action("&Overwrite Edited Captions", None, None,
                                             "Let runs replace captions you edited", checkable=True)
        self.overwrite_action.toggled.connect(self._show_overwrite)
        self._show_overwrite(False)
        self.cancel_action = self._action("&Cancel Run", None, "Esc",
                                          "Stop the run after its current batch, or the writing of captions to files after its "
                                          "current image; what is done is kept")
        self.settings_action = self._action("&Settings...", sp.SP_FileDialogDetailedView,
                                            QKeySequence.StandardKey.Preferences,
                                            "Model, device and generation settings")
        self.model_action = self._action("Choose &Model...", sp.SP_ComputerIcon, None, "Choose the captioning model")

        self.grid_action = self._action("&Grid", None, None, "Show images as tiles", checkable=True)
        self.list_action = self._action("&List", None, None, "Show images as rows", checkable=True)
        self.update_icons()
        self.view_group = QActionGroup(self)
        self.view_group.addAction(self.grid_action)
        self.view_group.addAction(self.list_action)
        self.zoom_in_action = self._action("&Larger Thumbnails", None, [QKeySequence.StandardKey.ZoomIn, "Ctrl+="],
                                           "Larger thumbnails (also Ctrl+wheel)")
        self.zoom_out_action = self._action("S&maller Thumbnails", None, QKeySequence.StandardKey.ZoomOut,
                                            "Smaller thumbnails (also Ctrl+wheel)")
        self.zoom_reset_action = self._action("&Default Thumbnail Size", None, "Ctrl+0")
        self.preview_action = self._action("&Preview", None, "Space",
                                           "Show the current image large, with zoom (also: double-click it)")
        # only while the gallery has the focus (the window adds it there): Space types a space elsewhere
        self.preview_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.theme_group = QActionGroup(self)
        self.theme_actions = {key: self._action(label, None, None, checkable=True) for key, label in
                              (("system", "&System Colours"), ("light", "L&ight"), ("dark", "&Dark"))}
        for key, action in self.theme_actions.items():
            self.theme_group.addAction(action)
            action.triggered.connect(lambda _=False, k=key: self.set_theme(k))
        self.about_action = self._action("&About VisionCap", None)
        self.log_action = self._action("Open the &Log Folder", None, None,
                                       "Show the folder of visioncap.log, which records every problem and error")
        self.log_action.triggered.connect(self.open_log_folder)
        self.open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl  # tests pass their own
        self.recent_menu: QMenu | None = None
        self.view_menu: QMenu | None = None  # the window adds its panels' toggles

    def _action(self, text: str, icon: QStyle.StandardPixmap | None = None, shortcut=None, tip: str = "",
                checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if icon is not None:
            action.setIcon(QApplication.style().standardIcon(icon))
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.setCheckable(checkable)
        return action

    def fill_menu_bar(self, bar: QMenuBar) -> None:
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = QMenu("Open &Recent", bar)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        _add(file_menu, self.reload_action, self.subfolders_action, None, self.import_action, None, self.quit_action)
        _add(bar.addMenu("E&xport"), self.export_action, self.txt_action, None, self.xmp_action, self.embed_action,
             self.jsonl_action, None, *self.sidecar_actions.values())
        _add(bar.addMenu("&Edit"), self.undo_action, self.redo_action, None, self.edit_action, self.find_action,
             self.batch_action, self.details_action)
        _add(bar.addMenu("&Caption"), self.caption_all_action, self.caption_selected_action,
             self.caption_missing_action, None, self.overwrite_action, self.cancel_action, None, self.model_action,
             self.settings_action)
        self.view_menu = bar.addMenu("&View")
        _add(self.view_menu, self.grid_action, self.list_action, None, self.zoom_in_action, self.zoom_out_action,
             self.zoom_reset_action, None, self.preview_action, None)
        _add(self.view_menu.addMenu("&Theme"), *self.theme_actions.values())
        _add(bar.addMenu("&Help"), self.log_action, None, self.about_action)

    def fill_toolbar(self, toolbar: QToolBar, button_parent: QWidget) -> None:
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        _add(toolbar, self.open_action, self.subfolders_action, None)
        caption_button = QToolButton(button_parent)
        caption_button.setDefaultAction(self.caption_all_action)
        caption_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        run_menu = QMenu(caption_button)
        _add(run_menu, self.caption_all_action, self.caption_selected_action, self.caption_missing_action, None,
             self.overwrite_action)
        caption_button.setMenu(run_menu)
        caption_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        toolbar.addWidget(caption_button)
        _add(toolbar, self.cancel_action, None, self.undo_action, self.redo_action, None, self.export_action, None,
             self.grid_action, self.list_action, None, self.settings_action)

    def update_enabled(self, state: ActionState, undo_stack: QUndoStack) -> None:
        """Enable what can be done now."""
        idle_with_records = state.has_records and not state.running
        for action in (self.caption_all_action, self.caption_missing_action):
            action.setEnabled(idle_with_records)
        self.caption_selected_action.setEnabled(idle_with_records and state.has_selection)
        self.cancel_action.setEnabled(state.running or state.writing)
        self.undo_action.setEnabled(undo_stack.canUndo() and not state.running)
        self.redo_action.setEnabled(undo_stack.canRedo() and not state.running)
        self.undo_action.setText(f"&Undo {undo_stack.undoText()}".rstrip())
        self.redo_action.setText(f"&Redo {undo_stack.redoText()}".rstrip())
        self.undo_action.setIconText("Undo")  # the toolbar keeps the short label
        self.redo_action.setIconText("Redo")
        self.batch_action.setEnabled(idle_with_records)
        self.details_action.setEnabled(idle_with_records)
        self.export_action.setEnabled(state.has_records)
        for action in (self.txt_action, self.xmp_action, self.embed_action, self.jsonl_action, self.import_action):
            action.setEnabled(state.has_records and not state.writing)
        self.reload_action.setEnabled(state.has_folder)

    def open_log_folder(self) -> bool:
        """Show the log's folder in the file manager (made first if nothing was logged yet)."""
        folder = paths.log_file().parent
        folder.mkdir(parents=True, exist_ok=True)
        return self.open_url(QUrl.fromLocalFile(str(folder)))

    def _show_overwrite(self, overwrite: bool) -> None:
        """Say what runs do with edited captions, as the Overwrite action now says."""
        edited = "captions you edited are replaced" if overwrite else "captions you edited are kept"
        for action, text in ((self.caption_all_action, "Caption every image"),
                             (self.caption_selected_action, "Caption the selected images")):
            action.setStatusTip(f"{text} ({edited})")
            action.setToolTip(f"{text} ({edited})")

    def show_view_mode(self, mode: str) -> None:
        (self.grid_action if mode == "grid" else self.list_action).setChecked(True)

    def set_theme(self, theme: str) -> None:
        """Show the app in `theme` ("system", "light" or "dark": visioncap_desktop.theme),
        remembered, with the icons drawn in its colours."""
        apply_theme(theme)
        self.theme_actions[theme].setChecked(True)
        self.update_icons()
        self._settings.set("theme", theme)

    def update_icons(self) -> None:
        """The icons drawn in the palette's colours (after a theme change)."""
        for action, kind in ((self.grid_action, "grid"), (self.list_action, "list"),
                             (self.caption_all_action, "play"), (self.cancel_action, "stop"),
                             (self.undo_action, "undo"), (self.redo_action, "redo")):
            action.setIcon(drawn_icon(kind))

    def show_subfolders(self, checked: bool) -> None:
        """Show the setting without triggering a reload."""
        self.subfolders_action.blockSignals(True)
        self.subfolders_action.setChecked(checked)
        self.subfolders_action.blockSignals(False)

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = self._settings.get("recent_folders")
        for folder in recent:
            action = menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.recent_folder_chosen.emit(f))
        if recent:
            menu.addSeparator()
            menu.addAction("Clear Recent Folders", lambda: self._settings.set("recent_folders", []))
        else:
            menu.addAction("No recent folders").setEnabled(False)


def _add(target: QMenu | QToolBar, *actions: QAction | None) -> None:
    """Add actions in order; None adds a separator."""
    for action in actions:
        if action is None:
            target.addSeparator()
        else:
            target.addAction(action)
