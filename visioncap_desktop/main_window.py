"""The main window: owns the item models, the workers and their threads, and all the wiring.

Signals are connected in the connect_*_signals() methods, grouped by source. Workers get
snapshots (paths and settings) and answer with signals keyed by path; only this window changes
the gallery model, through GalleryModel's methods and setData.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import (
    QByteArray,
    QCoreApplication,
    QFileSystemWatcher,
    QMimeData,
    QModelIndex,
    Qt,
    QThread,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from visioncap_desktop import export, paths
from visioncap_desktop.dialogs.export_dialog import ExportDialog
from visioncap_desktop.dialogs.model_chooser import HUB_ID, ModelChooserDialog, is_bundle
from visioncap_desktop.dialogs.settings_dialog import SettingsDialog
from visioncap_desktop.gc_pauses import freeze_long_lived
from visioncap_desktop.models.gallery_model import ROLE_RECORD, GalleryModel
from visioncap_desktop.models.gallery_proxy import GalleryFilterProxy
from visioncap_desktop.models.records import CaptionSnapshot, CaptionState, ImageRecord
from visioncap_desktop.models.undo import CaptionRunCommand
from visioncap_desktop.resources import demo_bundle_path
from visioncap_desktop.settings import Settings
from visioncap_desktop.store import CaptionStore
from visioncap_desktop.widgets.gallery_view import GalleryView
from visioncap_desktop.widgets.run_progress import RunProgress, format_duration
from visioncap_desktop.widgets.side_panel import SidePanel
from visioncap_desktop.workers.caption_worker import CaptionWorker, RunRequest
from visioncap_desktop.workers.folder_scanner import FolderScanner, NameOrder
from visioncap_desktop.workers.model_import import ModelImportWorker
from visioncap_desktop.workers.thumbnail_loader import THUMBNAIL_SIZE, ThumbnailLoader

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 500  # captions reach the disk at most this long after a change
PREVIEW_SIZE = 768
DOWNLOAD_FOLDER = "vit-gpt2-coco"
SEARCH_DELAY_MS = 200  # filtering 100,000 rows per keystroke would make typing lag

STATE_FILTER_LABELS = {"all": "All images", "uncaptioned": "Without caption", "edited": "Edited", "errors": "Errors"}
SORT_LABELS = {"name": "Name A-Z", "name_desc": "Name Z-A", "state": "State", "caption": "Caption"}


@dataclass
class _ActiveRun:
    run_id: int
    total: int
    overwrite_edited: bool
    command: CaptionRunCommand
    started: float


class MainWindow(QMainWindow):
    folder_loaded = Signal(str, int)  # folder, number of images: the scan has finished
    run_completed = Signal(int, int, str)  # done, total, outcome ("completed", "cancelled", "failed")
    # requests to the workers (queued to their threads)
    scan_requested = Signal(int, str, bool, object)
    run_requested = Signal(object)
    model_load_requested = Signal(str, str)
    import_requested = Signal(str, str)

    def __init__(
        self,
        settings: Settings,
        *,
        model_override: str | None = None,
        captioner_factory=None,
        first_run_prompt: bool = False,
        parent: QWidget | None = None,
    ):
        """`model_override`: a bundle folder (or "demo") used instead of the saved choice, as
        `--model` does. `captioner_factory`: see CaptionWorker (tests pass fakes).
        `first_run_prompt`: ask for a model at start when none has been chosen yet."""
        super().__init__(parent)
        self.settings = settings
        self.model_override = model_override
        self.folder: Path | None = None
        self.messages: list[tuple[str, str, str]] = []  # (level, title, text) of everything reported
        self._store: CaptionStore | None = None
        self._stored: dict[str, CaptionSnapshot] = {}
        self._dirty = False
        self._last_save_error: str | None = None
        self._scan_id = 0
        self._scanning = False
        self._run: _ActiveRun | None = None
        self._run_counter = 0
        self._model_name = ""
        self._shut_down = False
        self._import_thread: QThread | None = None
        self._import_dialog: QProgressDialog | None = None

        self.setWindowTitle("VisionCap")
        self.setWindowIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DesktopIcon))
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.undo_stack = QUndoStack(self)
        self.thumbnails = ThumbnailLoader(THUMBNAIL_SIZE, paths.thumbnails_dir(), parent=self)
        self.previews = ThumbnailLoader(PREVIEW_SIZE, None, memory_items=16, max_threads=1, parent=self)
        self.gallery_model = GalleryModel(self.thumbnails, self)
        self.gallery_model.undo_stack = self.undo_stack
        self.proxy_model = GalleryFilterProxy(self)
        self.proxy_model.setSourceModel(self.gallery_model)

        self._build_central()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._start_workers(captioner_factory)
        self.watcher = QFileSystemWatcher(self)
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._counts_timer = QTimer(self, singleShot=True, interval=100)
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)

        self.connect_view_signals()
        self.connect_model_signals()
        self.connect_scanner_signals()
        self.connect_caption_signals()
        self.connect_action_signals()

        self._restore_window_state()
        self._update_actions()
        self._update_model_label()
        self._update_counts()
        if first_run_prompt and not model_override and not settings.get("model_source"):
            QTimer.singleShot(0, lambda: self.choose_model(first_run=True))
        QTimer.singleShot(0, self.preload_model)

    # --- building ---------------------------------------------------------------------------------

    def _build_central(self) -> None:
        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Search names and captions (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.filter_combo = QComboBox(self)
        for key, label in STATE_FILTER_LABELS.items():
            self.filter_combo.addItem(label, key)
        self.sort_combo = QComboBox(self)
        for key, label in SORT_LABELS.items():
            self.sort_combo.addItem(f"Sort: {label}", key)
        filter_bar = QHBoxLayout()
        filter_bar.setContentsMargins(0, 0, 0, 0)
        filter_bar.addWidget(self.search_edit, 1)
        filter_bar.addWidget(self.filter_combo)
        filter_bar.addWidget(self.sort_combo)

        self.gallery_view = GalleryView(self)
        self.gallery_view.setModel(self.proxy_model)
        self.empty_hint = QLabel(
            "Open a folder of photos (Ctrl+O) or drop one here.\n"
            "VisionCap writes a caption for each; correct them and export a CSV.", self)
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)

        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(6, 6, 0, 6)
        left_layout.addLayout(filter_bar)
        left_layout.addWidget(self.empty_hint, 1)
        left_layout.addWidget(self.gallery_view, 1)

        self.side_panel = SidePanel(self.previews, self)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.side_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([900, 380])
        self.setCentralWidget(self.splitter)

    def _action(self, text: str, icon: QStyle.StandardPixmap | None = None, shortcut=None, tip: str = "",
                checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.setCheckable(checkable)
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.open_action = self._action("&Open Folder...", sp.SP_DirOpenIcon, QKeySequence.StandardKey.Open,
                                        "Open a folder of images")
        self.reload_action = self._action("&Reload Folder", sp.SP_BrowserReload, "F5", "Scan the folder again")
        self.subfolders_action = self._action("Include &Subfolders", sp.SP_DirLinkIcon, None,
                                              "Also show images in subfolders", checkable=True)
        self.subfolders_action.setChecked(self.settings.get("include_subfolders"))
        self.export_action = self._action("&Export CSV...", sp.SP_DialogSaveButton, "Ctrl+E",
                                          "Export captions to a CSV file")
        self.txt_action = self._action("Save Captions as .&txt Files...", sp.SP_FileIcon, None,
                                       "Write photo.txt next to photo.jpg for every captioned image")
        self.quit_action = self._action("&Quit", None, QKeySequence.StandardKey.Quit)

        self.undo_action = self._action("&Undo", sp.SP_ArrowBack, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action("&Redo", sp.SP_ArrowForward, ["Ctrl+Y", "Ctrl+Shift+Z"])
        self.edit_action = self._action("&Edit Caption", None, "F2", "Edit the caption of the current image")
        self.find_action = self._action("&Find", None, QKeySequence.StandardKey.Find)

        self.caption_all_action = self._action("Caption &All", sp.SP_MediaPlay, None,
                                               "Caption every image (edited captions are kept)")
        self.caption_selected_action = self._action("Caption &Selected", None, "Ctrl+Shift+R",
                                                    "Caption the selected images")
        self.caption_missing_action = self._action("Caption &Uncaptioned", None, "Ctrl+R",
                                                   "Caption the images without a caption")
        self.overwrite_action = self._action("&Overwrite Edited Captions", None, None,
                                             "Let runs replace captions you edited", checkable=True)
        self.cancel_action = self._action("&Cancel Run", sp.SP_MediaStop, "Esc",
                                          "Stop after the current batch; captions made so far are kept")
        self.settings_action = self._action("&Settings...", sp.SP_FileDialogDetailedView, QKeySequence.StandardKey.Preferences,
                                            "Model, device and generation settings")
        self.model_action = self._action("Choose &Model...", sp.SP_ComputerIcon, None, "Choose the captioning model")

        self.grid_action = self._action("&Grid", sp.SP_FileDialogContentsView, None, "Show images as tiles", checkable=True)
        self.list_action = self._action("&List", sp.SP_FileDialogListView, None, "Show images as rows", checkable=True)
        self.view_group = QActionGroup(self)
        self.view_group.addAction(self.grid_action)
        self.view_group.addAction(self.list_action)
        self.about_action = self._action("&About VisionCap", None)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = QMenu("Open &Recent", self)
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(self.reload_action)
        file_menu.addAction(self.subfolders_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addAction(self.txt_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = bar.addMenu("&Edit")
        for action in (self.undo_action, self.redo_action, None, self.edit_action, self.find_action):
            edit_menu.addSeparator() if action is None else edit_menu.addAction(action)

        self.caption_menu = bar.addMenu("&Caption")
        for action in (self.caption_all_action, self.caption_selected_action, self.caption_missing_action, None,
                       self.overwrite_action, self.cancel_action, None, self.model_action, self.settings_action):
            self.caption_menu.addSeparator() if action is None else self.caption_menu.addAction(action)

        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.grid_action)
        view_menu.addAction(self.list_action)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.addAction(self.open_action)
        toolbar.addAction(self.subfolders_action)
        toolbar.addSeparator()
        caption_button = QToolButton(self)
        caption_button.setDefaultAction(self.caption_all_action)
        caption_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        run_menu = QMenu(caption_button)
        for action in (self.caption_all_action, self.caption_selected_action, self.caption_missing_action,
                       None, self.overwrite_action):
            run_menu.addSeparator() if action is None else run_menu.addAction(action)
        caption_button.setMenu(run_menu)
        caption_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        toolbar.addWidget(caption_button)
        toolbar.addAction(self.cancel_action)
        toolbar.addSeparator()
        toolbar.addAction(self.undo_action)
        toolbar.addAction(self.redo_action)
        toolbar.addSeparator()
        toolbar.addAction(self.export_action)
        toolbar.addSeparator()
        toolbar.addAction(self.grid_action)
        toolbar.addAction(self.list_action)
        toolbar.addSeparator()
        toolbar.addAction(self.settings_action)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.counts_label = QLabel(self)
        self.progress_widget = RunProgress(self)
        self.model_label = QLabel(self)
        status.addWidget(self.counts_label, 1)
        status.addPermanentWidget(self.progress_widget)
        status.addPermanentWidget(self.model_label)

    def _start_workers(self, captioner_factory) -> None:
        self.scanner_thread = QThread(self)
        self.scanner_thread.setObjectName("visioncap-scanner")
        self.scanner = FolderScanner()
        self.scanner.moveToThread(self.scanner_thread)
        self.scanner_thread.finished.connect(self.scanner.deleteLater)
        self.scanner_thread.start()

        self.caption_thread = QThread(self)
        self.caption_thread.setObjectName("visioncap-captioner")
        self.caption_worker = CaptionWorker(captioner_factory)
        self.caption_worker.moveToThread(self.caption_thread)
        self.caption_thread.finished.connect(self.caption_worker.deleteLater)
        self.caption_thread.start()

    # --- wiring -------------------------------------------------------------------------------------

    def connect_view_signals(self) -> None:
        self.gallery_view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.gallery_view.selectionModel().selectionChanged.connect(self._update_actions)
        self.side_panel.caption_committed.connect(self.on_caption_committed)
        self.search_edit.textChanged.connect(self._search_timer.start)
        self._search_timer.timeout.connect(lambda: self.proxy_model.set_search_text(self.search_edit.text()))
        self.filter_combo.currentIndexChanged.connect(
            lambda: self.proxy_model.set_state_filter(self.filter_combo.currentData()))
        self.sort_combo.currentIndexChanged.connect(
            lambda: self.gallery_model.sort_records(self.sort_combo.currentData()))
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.watcher.directoryChanged.connect(self._on_directory_changed)

    def connect_model_signals(self) -> None:
        self.gallery_model.records_changed.connect(self._schedule_save)
        # the large preview also tells the dimensions, when the gallery thumbnail has not yet
        self.previews.thumbnail_ready.connect(self.gallery_model.on_thumbnail_ready)
        self.gallery_model.dataChanged.connect(self._on_data_changed)
        self._save_timer.timeout.connect(self.save_now)
        self._counts_timer.timeout.connect(self._update_counts)
        for signal in (self.gallery_model.counts_changed, self.proxy_model.rowsInserted, self.proxy_model.rowsRemoved,
                       self.proxy_model.modelReset, self.proxy_model.layoutChanged):
            signal.connect(self._schedule_counts)
        self.undo_stack.canUndoChanged.connect(self._update_actions)
        self.undo_stack.canRedoChanged.connect(self._update_actions)
        self.undo_stack.indexChanged.connect(self._update_actions)

    def connect_scanner_signals(self) -> None:
        self.scan_requested.connect(self.scanner.scan)
        self.scanner.records_found.connect(self.on_records_found)
        self.scanner.scan_finished.connect(self.on_scan_finished)
        self.scanner.scan_failed.connect(self.on_scan_failed)

    def connect_caption_signals(self) -> None:
        worker = self.caption_worker
        self.run_requested.connect(worker.start_run)
        self.model_load_requested.connect(worker.load_model)
        worker.model_loading.connect(self.on_model_loading)
        worker.model_loaded.connect(self.on_model_loaded)
        worker.model_failed.connect(self.on_model_failed)
        worker.caption_ready.connect(self.on_caption_ready)
        worker.caption_failed.connect(self.on_caption_failed)
        worker.progress.connect(self.progress_widget.set_progress)
        worker.notice.connect(self.on_notice)
        worker.run_failed.connect(self.on_run_failed)
        worker.run_finished.connect(self.on_run_finished)
        self.progress_widget.cancel_requested.connect(self.cancel_run)

    def connect_action_signals(self) -> None:
        self.open_action.triggered.connect(self.open_folder_dialog)
        self.reload_action.triggered.connect(self.reload_folder)
        self.subfolders_action.toggled.connect(self._on_subfolders_toggled)
        self.export_action.triggered.connect(self.export_csv_dialog)
        self.txt_action.triggered.connect(self.save_txt_files)
        self.quit_action.triggered.connect(self.close)
        self.undo_action.triggered.connect(self.undo_stack.undo)
        self.redo_action.triggered.connect(self.undo_stack.redo)
        self.edit_action.triggered.connect(self.edit_current)
        self.find_action.triggered.connect(self.search_edit.setFocus)
        self.caption_all_action.triggered.connect(lambda: self.caption("all"))
        self.caption_selected_action.triggered.connect(lambda: self.caption("selected"))
        self.caption_missing_action.triggered.connect(lambda: self.caption("uncaptioned"))
        self.cancel_action.triggered.connect(self.cancel_run)
        self.settings_action.triggered.connect(self.open_settings)
        self.model_action.triggered.connect(self.choose_model)
        self.grid_action.triggered.connect(lambda: self.set_view_mode("grid"))
        self.list_action.triggered.connect(lambda: self.set_view_mode("list"))
        self.about_action.triggered.connect(self._show_about)

    def connect_import_signals(self, worker: ModelImportWorker) -> None:
        self.import_requested.connect(worker.run)
        worker.progress.connect(self.on_import_progress)
        worker.import_finished.connect(self.on_import_finished)
        worker.import_failed.connect(self.on_import_failed)

    # --- messages ------------------------------------------------------------------------------------

    def notify(self, level: str, title: str, text: str, details: str = "", popup: bool = True) -> None:
        """Tell the user: status bar, log, and (for warnings) a window-modal box that does not
        block the caller. Everything said is kept in `messages`."""
        self.messages.append((level, title, text))
        log.log(logging.WARNING if level == "warning" else logging.INFO, "%s: %s", title, text)
        self.statusBar().showMessage(text.splitlines()[0], 15000)
        if not popup:
            return
        icon = QMessageBox.Icon.Warning if level == "warning" else QMessageBox.Icon.Information
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def ask(self, title: str, text: str, buttons: QMessageBox.StandardButton,
            default: QMessageBox.StandardButton) -> QMessageBox.StandardButton:
        """A blocking question (tests replace this method)."""
        return QMessageBox.question(self, title, text, buttons, default)

    # --- folders -------------------------------------------------------------------------------------

    def open_folder_dialog(self) -> None:
        start = str(self.folder or self.settings.get("last_folder") or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
        if folder:
            self.open_folder(folder)

    def reload_folder(self) -> None:
        if self.folder is not None:
            self.open_folder(self.folder)

    def open_folder(self, folder: str | Path, include_subfolders: bool | None = None) -> bool:
        """Show the images of `folder` with their saved captions; the scan fills the gallery
        in the background. False (and a message) if the folder cannot be opened."""
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            self.notify("warning", "Cannot open folder", f"{folder} does not exist or is not a folder.")
            return False
        if include_subfolders is not None and include_subfolders != self.subfolders_action.isChecked():
            self.subfolders_action.blockSignals(True)
            self.subfolders_action.setChecked(include_subfolders)
            self.subfolders_action.blockSignals(False)
            self.settings.set("include_subfolders", include_subfolders)
        if self._run is not None:  # results for the old folder would have nowhere to go
            self.cancel_run()
            self._end_run("cancelled", len(self._run.command))
        self.side_panel.commit()
        self.save_now()

        folder = folder.resolve()
        store = CaptionStore(folder)
        loaded = store.load()
        if loaded.problem:
            self.notify("warning", "Saved captions could not be read", loaded.problem)
        self.folder, self._store, self._stored = folder, store, loaded.entries
        self._dirty = False
        self._last_save_error = None
        self.undo_stack.clear()
        self.side_panel.show_record(None)
        self.gallery_model.clear()
        self.thumbnails.forget_waiting()
        self.previews.forget_waiting()
        if self.watcher.directories():
            self.watcher.removePaths(self.watcher.directories())
        self.watcher.addPath(str(folder))
        self.settings.add_recent_folder(str(folder))
        self.setWindowTitle(f"{folder.name or folder} - VisionCap")

        self._scan_id += 1
        self._scanning = True
        self.scanner.supersede(self._scan_id)
        self.scan_requested.emit(self._scan_id, str(folder), self.subfolders_action.isChecked(), self._stored)
        self.statusBar().showMessage(f"Scanning {folder}...")
        self._update_actions()
        return True

    def on_records_found(self, scan_id: int, records: list[ImageRecord]) -> None:
        if scan_id != self._scan_id:
            return
        self.gallery_model.add_records(records)
        self.statusBar().showMessage(f"Scanning... {self.gallery_model.rowCount():,} images found")
        self._update_actions()

    def on_scan_finished(self, scan_id: int, count: int, order: NameOrder) -> None:
        if scan_id != self._scan_id:
            return
        self._scanning = False
        if not self.gallery_model.adopt_order(order.records, order.rows):
            self.gallery_model.sort_records()
        freeze_long_lived("folder scanned")  # the records live as long as the folder is open
        self.statusBar().showMessage(f"{count:,} images in {self.folder}", 5000)
        if not self.gallery_view.currentIndex().isValid() and self.proxy_model.rowCount():
            self.gallery_view.setCurrentIndex(self.proxy_model.index(0, 0))
        self._update_actions()
        self.folder_loaded.emit(str(self.folder), count)

    def on_scan_failed(self, scan_id: int, message: str) -> None:
        if scan_id != self._scan_id:
            return
        self._scanning = False
        self._update_actions()
        self.notify("warning", "Cannot read folder", message)

    def _on_directory_changed(self, path: str) -> None:
        if self.folder is not None and Path(path) == self.folder and not self.folder.exists():
            self.watcher.removePath(path)
            self.notify("warning", "Folder not available",
                        f"The folder {self.folder} has been moved, deleted or disconnected. Its captions "
                        "are saved; open it again when it is back.")

    def _on_subfolders_toggled(self, checked: bool) -> None:
        self.settings.set("include_subfolders", checked)
        self.reload_folder()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.get("recent_folders")
        for folder in recent:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.open_folder(f))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent Folders", lambda: self.settings.set("recent_folders", []))
        else:
            self.recent_menu.addAction("No recent folders").setEnabled(False)

    def _dropped_folder(self, mime: QMimeData) -> Path | None:
        for url in mime.urls():
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                if path.is_dir():
                    return path
                if path.is_file():
                    return path.parent
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_folder(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        folder = self._dropped_folder(event.mimeData())
        if folder is not None:
            event.acceptProposedAction()
            self.open_folder(folder)

    # --- selection and editing ---------------------------------------------------------------------

    def current_record(self) -> ImageRecord | None:
        index = self.gallery_view.currentIndex()
        return self.proxy_model.mapToSource(index).data(ROLE_RECORD) if index.isValid() else None

    def selected_records(self) -> list[ImageRecord]:
        return self.proxy_model.source_records(self.gallery_view.selectionModel().selectedIndexes())

    def edit_current(self) -> None:
        index = self.gallery_view.currentIndex()
        if index.isValid():
            self.gallery_view.edit(index)

    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self.side_panel.show_record(self.current_record())

    def _on_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles=()) -> None:
        record = self.side_panel.record
        if record is None:
            return
        index = self.gallery_model.index_for_path(record.path)
        if index.isValid() and top.row() <= index.row() <= bottom.row():
            self.side_panel.refresh()

    def on_caption_committed(self, path: str, caption: str) -> None:
        index = self.gallery_model.index_for_path(path)
        if index.isValid():
            self.gallery_model.setData(index, caption, Qt.ItemDataRole.EditRole)

    # --- captioning ----------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._run is not None

    def download_target(self) -> Path:
        return paths.models_dir() / DOWNLOAD_FOLDER

    def bundle_path(self) -> str | None:
        """The bundle folder to caption with, or None if no usable model is chosen."""
        if self.model_override:
            if self.model_override == "demo":
                demo = demo_bundle_path()
                return str(demo) if demo else None
            return self.model_override
        source = self.settings.get("model_source")
        if source == "demo":
            demo = demo_bundle_path()
            return str(demo) if demo else None
        if source == "folder":
            return self.settings.get("model_path") or None
        if source == "download":
            target = self.download_target()
            return str(target) if is_bundle(target) else None
        return None

    def preload_model(self) -> None:
        """Load the chosen model in the worker now, so the first run starts at once."""
        bundle = self.bundle_path()
        if bundle and not self._shut_down:
            self.model_load_requested.emit(bundle, self.settings.get("device"))

    def caption(self, scope: str) -> bool:
        """Start a run over "all", "selected" or "uncaptioned" images. Edited captions are left
        out unless "Overwrite edited captions" is checked. False if nothing was started."""
        if self._run is not None or scope not in ("all", "selected", "uncaptioned"):
            return False
        if scope == "selected":
            records = self.selected_records()
        else:
            records = self.gallery_model.records()
            if scope == "uncaptioned":
                records = [r for r in records if r.needs_caption]
        overwrite = self.overwrite_action.isChecked()
        if not overwrite:
            records = [r for r in records if not r.edited]
        if not records:
            self.statusBar().showMessage("Nothing to caption.", 5000)
            return False
        bundle = self.bundle_path()
        if bundle is None:
            if not self.choose_model():
                return False
            bundle = self.bundle_path()
            if bundle is None:
                return False
        self._run_counter += 1
        request = RunRequest(
            run_id=self._run_counter,
            paths=tuple(r.path for r in records),
            bundle=bundle,
            device=self.settings.get("device"),
            generation=self.settings.get("generation"),
            batch_size=self.settings.get("batch_size"),
        )
        self._run = _ActiveRun(request.run_id, len(records), overwrite, CaptionRunCommand(self.gallery_model),
                               time.monotonic())
        self.progress_widget.start(len(records))
        self._update_actions()
        self.run_requested.emit(request)
        return True

    def cancel_run(self) -> None:
        if self._run is not None:
            self.caption_worker.cancel(self._run.run_id)
            self.progress_widget.cancelling()
            self.statusBar().showMessage("Cancelling after the current batch...")

    def on_caption_ready(self, path: str, caption: str) -> None:
        run = self._run
        if run is None:
            return
        snapshot = CaptionSnapshot(caption, CaptionState.CAPTIONED, "", self._model_name)
        change = self.gallery_model.apply_result(path, snapshot, run.overwrite_edited)
        if change is not None:
            run.command.add(path, *change)

    def on_caption_failed(self, path: str, reason: str) -> None:
        run = self._run
        record = self.gallery_model.record_for_path(path)
        if run is None or record is None:
            return
        # an earlier caption stays visible next to the error; nothing the user had is lost
        snapshot = CaptionSnapshot(record.caption, CaptionState.ERROR, reason, record.model)
        change = self.gallery_model.apply_result(path, snapshot, run.overwrite_edited)
        if change is not None:
            run.command.add(path, *change)

    def on_run_finished(self, run_id: int, done: int, total: int, outcome: str) -> None:
        if self._run is None or run_id != self._run.run_id:
            return
        self._end_run(outcome, done)

    def _end_run(self, outcome: str, done: int) -> None:
        run, self._run = self._run, None
        if len(run.command):
            run.command.finish(f"Caption {len(run.command):,} image(s)")
            self.undo_stack.push(run.command)
        self.progress_widget.finish()
        elapsed = format_duration(time.monotonic() - run.started)
        text = {
            "completed": f"Captioned {done:,} image(s) in {elapsed}.",
            "cancelled": f"Cancelled after {done:,} of {run.total:,} image(s); the captions made are kept.",
        }.get(outcome, f"Captioning stopped after {done:,} of {run.total:,} image(s).")
        self.statusBar().showMessage(text, 15000)
        self._update_actions()
        self.run_completed.emit(done, run.total, outcome)

    def on_run_failed(self, message: str) -> None:
        self.notify("warning", "Captioning stopped", message)

    def on_notice(self, message: str) -> None:
        self.notify("info", "Captioning", message, popup=False)

    def on_model_loading(self, bundle: str) -> None:
        self.model_label.setText(f"Loading model {Path(bundle).name}...")

    def on_model_loaded(self, name: str, device: str) -> None:
        self._model_name = name
        self.model_label.setText(f"Model: {name}  |  Device: {device}")

    def on_model_failed(self, message: str) -> None:
        self._model_name = ""
        self.model_label.setText("Model: could not be loaded")
        self.notify("warning", "Could not load the model",
                    f"{message}\n\nChoose another model in Caption > Choose Model.")

    def _update_model_label(self) -> None:
        bundle = self.bundle_path()
        self.model_label.setText(f"Model: {Path(bundle).name} (not loaded yet)" if bundle else "Model: none chosen")

    # --- model choice --------------------------------------------------------------------------------

    def choose_model(self, first_run: bool = False) -> bool:
        """Ask which model to use; True when a usable model is now chosen."""
        dialog = ModelChooserDialog(self.settings.get("model_source"), self.settings.get("model_path"),
                                    demo_bundle_path(), self.download_target(), first_run, self)
        if not dialog.exec():
            return False
        source, path = dialog.choice()
        if source == "download" and not is_bundle(self.download_target()):
            answer = self.ask("Download the model?",
                              f"This downloads {HUB_ID} from the Hugging Face hub (about 1 GB) and converts it "
                              "for VisionCap. Continue?",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                              QMessageBox.StandardButton.Yes)
            if answer == QMessageBox.StandardButton.Yes:
                self.start_model_download()
            return False
        self.settings.set("model_source", source)
        self.settings.set("model_path", path if source == "folder" else "")
        self._update_model_label()
        self.preload_model()
        return True

    def start_model_download(self) -> None:
        if self._import_thread is None:
            self._import_thread = QThread(self)
            self._import_thread.setObjectName("visioncap-import")
            self.import_worker = ModelImportWorker()
            self.import_worker.moveToThread(self._import_thread)
            self._import_thread.finished.connect(self.import_worker.deleteLater)
            self.connect_import_signals(self.import_worker)
            self._import_thread.start()
        dialog = QProgressDialog("Connecting to the model hub...", "Cancel", 0, 0, self)
        dialog.setWindowTitle("Downloading the ViT-GPT2 COCO captioner")
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.canceled.connect(self.import_worker.cancel)
        dialog.show()
        self._import_dialog = dialog
        self.import_requested.emit(HUB_ID, str(self.download_target()))

    def on_import_progress(self, message: str) -> None:
        if self._import_dialog is not None:
            self._import_dialog.setLabelText(message)

    def _close_import_dialog(self) -> None:
        if self._import_dialog is not None:
            self._import_dialog.close()
            self._import_dialog.deleteLater()
            self._import_dialog = None

    def on_import_finished(self, bundle: str) -> None:
        self._close_import_dialog()
        self.settings.set("model_source", "download")
        self.settings.set("model_path", "")
        self._update_model_label()
        self.notify("info", "Model ready", f"The ViT-GPT2 COCO captioner is ready in {bundle}.", popup=False)
        self.preload_model()

    def on_import_failed(self, message: str) -> None:
        self._close_import_dialog()
        self.notify("warning", "Could not download the model",
                    f"{message}\n\nYou can use the built-in demo model or a bundle folder instead "
                    "(Caption > Choose Model).")

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings.get("generation"), self.settings.get("device"),
                                self.settings.get("batch_size"), self.model_label.text(), self)
        dialog.model_change_requested.connect(
            lambda: self.choose_model() and dialog.set_model_text(self.model_label.text()))
        if not dialog.exec():
            return
        self.settings.set("generation", dialog.generation())
        self.settings.set("batch_size", dialog.batch_size.value())
        if dialog.device_choice() != self.settings.get("device"):
            self.settings.set("device", dialog.device_choice())
            if self._run is None:
                self.preload_model()

    # --- persistence -------------------------------------------------------------------------------

    def _schedule_save(self) -> None:
        self._dirty = True
        # started once, not restarted: a long run saves every SAVE_DELAY_MS, not only at its end
        if not self._save_timer.isActive():
            self._save_timer.start()

    def save_now(self) -> bool:
        """Write the folder's captions now if anything changed. False if saving failed."""
        self._save_timer.stop()
        if self._store is None or not self._dirty:
            return True
        records = self.gallery_model.records()
        names = {r.name for r in records}
        # captions of files not listed now (a subfolder toggled off, a scan still running) stay
        entries = {name: s for name, s in self._stored.items() if name not in names}
        entries.update((r.name, r.snapshot()) for r in records if r.state is not CaptionState.PENDING)
        try:
            self._store.save(entries)
        except OSError as exc:
            message = f"Could not save the captions to {self._store.path}: {exc.strerror or exc}"
            if message != self._last_save_error:  # say it once, not every half second
                self._last_save_error = message
                self.notify("warning", "Captions not saved", message)
            return False
        self._dirty = False
        self._last_save_error = None
        return True

    def _restore_window_state(self) -> None:
        for key, restore in (("window_geometry", self.restoreGeometry), ("window_state", self.restoreState),
                             ("splitter_state", self.splitter.restoreState)):
            text = self.settings.get(key)
            if text:
                restore(QByteArray.fromBase64(text.encode("ascii")))
        self.set_view_mode(self.settings.get("view_mode"))

    def _save_window_state(self) -> None:
        for key, data in (("window_geometry", self.saveGeometry()), ("window_state", self.saveState()),
                          ("splitter_state", self.splitter.saveState())):
            self.settings.set(key, bytes(data.toBase64()).decode("ascii"))

    def set_view_mode(self, mode: str) -> None:
        self.gallery_view.set_mode(mode)
        (self.grid_action if mode == "grid" else self.list_action).setChecked(True)
        self.settings.set("view_mode", mode)

    # --- export ------------------------------------------------------------------------------------

    def export_csv_dialog(self) -> None:
        if self.folder is None or not self.gallery_model.rowCount():
            self.statusBar().showMessage("Open a folder with images first.", 5000)
            return
        dialog = ExportDialog(self.gallery_model.rowCount(), len(self.selected_records()),
                              self.settings.get("export_bom"), self.settings.get("export_guard_formulas"), self)
        if not dialog.exec():
            return
        selected_only, bom, guard = dialog.options()
        self.settings.set("export_bom", bom)
        self.settings.set("export_guard_formulas", guard)
        path, _ = QFileDialog.getSaveFileName(self, "Export captions", str(self.folder / "captions.csv"),
                                              "CSV files (*.csv);;All files (*)")
        if path:
            self.export_csv(path, selected_only=selected_only, bom=bom, guard_formulas=guard)

    def export_csv(self, path: str | Path, selected_only: bool = False, bom: bool = True,
                   guard_formulas: bool = True) -> bool:
        """Write the CSV of all (or the selected) images; a message on failure, in which case
        an earlier file at `path` is untouched."""
        if self.folder is None:
            return False
        self.side_panel.commit()
        records = self.selected_records() if selected_only else self.gallery_model.records()
        try:
            count = export.write_csv(path, records, self.folder, bom=bom, guard_formulas=guard_formulas)
        except OSError as exc:
            self.notify("warning", "Export failed",
                        f"Could not write {path}: {exc.strerror or exc}.\nAny earlier file there is unchanged.")
            return False
        self.statusBar().showMessage(f"Exported {count:,} image(s) to {path}", 10000)
        return True

    def save_txt_files(self, selected_only: bool = False) -> export.TxtReport | None:
        """Write photo.txt next to photo.jpg for each captioned image, asking before replacing
        existing files. Returns the report, or None if the user cancelled."""
        self.side_panel.commit()
        records = self.selected_records() if selected_only else self.gallery_model.records()
        records = [r for r in records if r.caption]
        if not records:
            self.statusBar().showMessage("No captions to save.", 5000)
            return None
        existing = export.existing_txt_files(records)
        overwrite = False
        if existing:
            buttons = (QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
                       | QMessageBox.StandardButton.Cancel)
            answer = self.ask("Replace text files?",
                              f"{len(existing):,} caption file(s) already exist, for example {existing[0]}.\n\n"
                              "Yes replaces them, No keeps them and writes only the new ones.",
                              buttons, QMessageBox.StandardButton.No)
            if answer == QMessageBox.StandardButton.Cancel:
                return None
            overwrite = answer == QMessageBox.StandardButton.Yes
        report = export.write_txt_captions(records, overwrite)
        summary = f"Wrote {len(report.written):,} text file(s)"
        if report.skipped:
            summary += f", kept {len(report.skipped):,} existing"
        if report.failed:
            details = "\n".join(f"{path}: {reason}" for path, reason in report.failed)
            self.notify("warning", "Some text files were not written",
                        f"{summary}; {len(report.failed):,} failed.", details=details)
        else:
            self.statusBar().showMessage(summary + ".", 10000)
        return report

    # --- state of the window ---------------------------------------------------------------------

    def _schedule_counts(self) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def _update_counts(self) -> None:
        total = self.gallery_model.rowCount()
        self.empty_hint.setVisible(total == 0 and not self._scanning)
        self.gallery_view.setVisible(total > 0 or self._scanning)
        if total == 0:
            self.counts_label.setText("No folder open" if self.folder is None else "No images")
            return
        counts = self.gallery_model.counts()
        shown = self.proxy_model.rowCount()
        text = f"{total:,} images" if shown == total else f"Showing {shown:,} of {total:,} images"
        text += (f"  |  {counts[CaptionState.CAPTIONED]:,} captioned, {counts[CaptionState.EDITED]:,} edited, "
                 f"{counts[CaptionState.ERROR]:,} errors, {counts[CaptionState.PENDING]:,} pending")
        self.counts_label.setText(text)

    def _update_actions(self) -> None:
        running = self._run is not None
        has_records = self.gallery_model.rowCount() > 0
        for action in (self.caption_all_action, self.caption_missing_action):
            action.setEnabled(has_records and not running)
        self.caption_selected_action.setEnabled(
            has_records and not running and self.gallery_view.selectionModel().hasSelection())
        self.cancel_action.setEnabled(running)
        self.undo_action.setEnabled(self.undo_stack.canUndo() and not running)
        self.redo_action.setEnabled(self.undo_stack.canRedo() and not running)
        self.undo_action.setText(f"&Undo {self.undo_stack.undoText()}".rstrip())
        self.redo_action.setText(f"&Redo {self.undo_stack.redoText()}".rstrip())
        self.undo_action.setIconText("Undo")  # the toolbar keeps the short label
        self.redo_action.setIconText("Redo")
        self.export_action.setEnabled(has_records)
        self.txt_action.setEnabled(has_records)
        self.reload_action.setEnabled(self.folder is not None)

    def _show_about(self) -> None:
        QMessageBox.about(self, "About VisionCap",
                          "VisionCap writes captions for folders of photos on your own computer.\n\n"
                          f"Captions are saved automatically in {paths.captions_dir()}.")

    # --- shutting down -----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the workers, keep every caption that arrived, save. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        self.side_panel.commit()
        if self._run is not None:
            self.caption_worker.cancel(self._run.run_id)
        self.scanner.supersede(-1)
        if self._import_thread is not None:
            self.import_worker.cancel()
        threads = [self.scanner_thread, self.caption_thread, self._import_thread]
        for thread in threads:
            if thread is not None:
                thread.quit()
        for thread in threads:
            if thread is not None:
                thread.wait()
        # deliver results the worker sent before it stopped, so the save below includes them
        QCoreApplication.sendPostedEvents(self)
        if self._run is not None:
            self._end_run("cancelled", len(self._run.command))
        self.save_now()
        self.thumbnails.shutdown()
        self.previews.shutdown()
        self._save_window_state()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
