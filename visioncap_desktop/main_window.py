"""The main window: the layout of its widgets, and the wiring of the controllers that do the work.

Each controller owns one concern (visioncap_desktop.controllers) and reports by signals; the
window connects them in the connect_*_signals() methods, grouped by concern, and is the only
place that knows more than one of them. The item models live here because views and
controllers share them; changes to captions go through GalleryModel's methods and setData.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStyle,
    QWidget,
)

from core.images.reading import SharedDecodes
from visioncap_desktop import paths
from visioncap_desktop.controllers.action_controller import ActionController, ActionState
from visioncap_desktop.controllers.batch_edit_controller import BatchEditController
from visioncap_desktop.controllers.decisions import (
    CAPTION_SCOPES,
    about_text,
    app_version,
    counts_text,
    folder_of_drop,
    nothing_to_caption,
    records_to_caption,
    subfolder_question,
)
from visioncap_desktop.controllers.details_controller import DetailsController
from visioncap_desktop.controllers.edit_controller import EditController
from visioncap_desktop.controllers.export_controller import ExportController
from visioncap_desktop.controllers.folder_controller import FolderController
from visioncap_desktop.controllers.message import Message
from visioncap_desktop.controllers.model_controller import ModelController
from visioncap_desktop.controllers.run_controller import RunController
from visioncap_desktop.controllers.tag_controller import TagController
from visioncap_desktop.dialogs.prompts import Prompts
from visioncap_desktop.gallery.filter_proxy import GalleryFilterProxy
from visioncap_desktop.gallery.item_model import ROLE_RECORD, GalleryModel
from visioncap_desktop.records import ImageRecord
from visioncap_desktop.settings import Settings
from visioncap_desktop.widgets.caption_edit import HistoryKeysToWindow
from visioncap_desktop.widgets.gallery_pane import GalleryPane
from visioncap_desktop.widgets.preview import PreviewDialog, preview_decode_size
from visioncap_desktop.widgets.problems_panel import ProblemsPanel, problems_button
from visioncap_desktop.widgets.run_progress import RunProgress
from visioncap_desktop.widgets.side_panel import SidePanel
from visioncap_desktop.widgets.tag_panel import TagPanel
from visioncap_desktop.workers.thumbnail_loader import (
    THUMBNAIL_SIZE,
    ThumbnailLoader,
    decode_size_for,
)

log = logging.getLogger(__name__)

PREVIEW_SIZE = 768


class MainWindow(QMainWindow):
    folder_loaded = Signal(str, int)  # folder, number of images: the scan has finished
    run_completed = Signal(int, int, str)  # done, total, outcome ("completed", "cancelled", "failed")

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
        self.messages: list[tuple[str, str, str]] = []  # (level, title, text) of everything reported
        self._shut_down = False

        self.setWindowTitle("VisionCap")
        self.setWindowIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DesktopIcon))
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.undo_stack = QUndoStack(self)
        self.thumbnails = ThumbnailLoader(THUMBNAIL_SIZE, paths.thumbnails_dir(), shared_decodes=SharedDecodes(),
                                          parent=self)  # the gallery shares its JPEG decodes with the model
        self.previews = ThumbnailLoader(PREVIEW_SIZE, None, memory_items=16, max_threads=1, parent=self)
        self.large_previews = ThumbnailLoader(preview_decode_size(self), None, memory_items=4, max_threads=1,
                                              parent=self)
        self.gallery_model = GalleryModel(self.thumbnails, self, undo_stack=self.undo_stack)
        self.proxy_model = GalleryFilterProxy(self)
        self.proxy_model.setSourceModel(self.gallery_model)

        self.prompts = Prompts(self)
        self.action_controller = ActionController(settings, self)
        self.folder_controller = FolderController(self.gallery_model, settings, self)
        self.run_controller = RunController(self.gallery_model, self.undo_stack, settings, captioner_factory, self,
                                            shared_decodes=self.thumbnails.shared_decodes)
        self.model_controller = ModelController(settings, self.prompts, model_override, self)
        self.edit_controller = EditController(self.gallery_model, self.undo_stack, self.prompts, self)
        self.export_controller = ExportController(settings, self.prompts, self.records_in_scope, self)
        self.batch_edit_controller = BatchEditController(self.gallery_model, self.undo_stack,
                                                         self.records_in_scope, self.scope_sizes, self)
        self.tag_controller = TagController(self.gallery_model, self.records_in_scope, self)
        self.details_controller = DetailsController(self.batch_edit_controller.change_records, self.records_in_scope,
                                                    self)

        self._build_central()
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self._counts_timer = QTimer(self, singleShot=True, interval=100)

        self.connect_view_signals()
        self.connect_gallery_model_signals()
        self.connect_folder_signals()
        self.connect_run_signals()
        self.connect_model_controller_signals()
        self.connect_action_signals()
        self.connect_message_signals()
        self.connect_tag_signals()
        self.connect_problem_signals()

        self._restore_window_state()
        self._update_actions()
        self.model_controller.show_chosen()
        self._update_counts()
        if first_run_prompt and not model_override and not settings.get("model_source"):
            QTimer.singleShot(0, lambda: self.model_controller.choose_model(first_run=True))
        QTimer.singleShot(0, self.model_controller.preload)

    # --- building ---------------------------------------------------------------------------------

    def _build_central(self) -> None:
        self.pane = GalleryPane(self.proxy_model, self.gallery_model, self)
        self.search_edit, self.filter_combo = self.pane.search_edit, self.pane.filter_combo
        self.gallery_view, self.filter_hint = self.pane.gallery_view, self.pane.filter_hint

        self.side_panel = SidePanel(self.previews, self)
        self.preview = PreviewDialog(self.proxy_model, self.large_previews, self)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.pane)
        self.splitter.addWidget(self.side_panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([900, 380])
        self.setCentralWidget(self.splitter)

        self.tag_panel = TagPanel(self)
        self.tag_dock = self._dock("Tags", "tags_dock", self.tag_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.problems = ProblemsPanel(self)
        self.problems_dock = self._dock("Problems", "problems_dock", self.problems,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)
        self.problems_dock.hide()  # until there is something to show, or the user asks
        history_keys = HistoryKeysToWindow(self)  # Ctrl+Z in the search boxes is the window's Undo too
        for box in (self.search_edit, self.tag_panel.search):
            box.installEventFilter(history_keys)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState/restoreState key
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_menus_and_toolbar(self) -> None:
        self.action_controller.fill_menu_bar(self.menuBar())
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        self.action_controller.fill_toolbar(toolbar, self)
        for dock, key in ((self.tag_dock, "Ctrl+T"), (self.problems_dock, "Ctrl+Shift+P")):
            toggle = dock.toggleViewAction()
            toggle.setShortcut(key)
            self.action_controller.view_menu.addAction(toggle)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.counts_label = QLabel(self)
        self.progress_widget = RunProgress(self)
        self.model_label = QLabel(self)
        self.problems_button = problems_button(self.problems, self.problems_dock, self)
        status.addWidget(self.counts_label, 1)
        status.addPermanentWidget(self.problems_button)
        status.addPermanentWidget(self.progress_widget)
        status.addPermanentWidget(self.model_label)

    # --- wiring -------------------------------------------------------------------------------------

    def connect_view_signals(self) -> None:
        selection = self.gallery_view.selectionModel()
        selection.currentChanged.connect(self._on_current_changed)
        selection.selectionChanged.connect(self._update_actions)
        self.side_panel.caption_committed.connect(self.edit_controller.commit_caption)
        self.side_panel.title_committed.connect(self.edit_controller.commit_title)
        self.side_panel.draft_changed.connect(self.edit_controller.set_draft)
        self.side_panel.step_requested.connect(self.gallery_view.step_current)
        self.gallery_view.delegate.draft_changed.connect(self.edit_controller.set_draft)
        self.edit_controller.typing_to_finish.connect(self.side_panel.commit)
        self.edit_controller.typing_to_finish.connect(self.gallery_view.commit_editor)
        self.gallery_view.thumbnail_size_changed.connect(self._on_thumbnail_size_changed)
        self.gallery_view.preview_requested.connect(lambda index: self.preview.show_row(index.row()))
        self.preview.row_changed.connect(lambda row: self.gallery_view.setCurrentIndex(self.proxy_model.index(row, 0)))

    def connect_gallery_model_signals(self) -> None:
        # the large preview also tells the dimensions, when the gallery thumbnail has not yet
        self.previews.thumbnail_ready.connect(self.gallery_model.on_thumbnail_ready)
        self.large_previews.thumbnail_ready.connect(self.gallery_model.on_thumbnail_ready)
        self.gallery_model.dataChanged.connect(self._on_data_changed)
        self._counts_timer.timeout.connect(self._update_counts)
        for signal in (self.gallery_model.counts_changed, self.proxy_model.rowsInserted, self.proxy_model.rowsRemoved,
                       self.proxy_model.modelReset, self.proxy_model.layoutChanged):
            signal.connect(self._schedule_counts)
        self.edit_controller.history_changed.connect(self._update_actions)

    def connect_folder_signals(self) -> None:
        folder = self.folder_controller
        # finish what belongs to the folder being closed, so its save includes it
        folder.folder_closing.connect(self.run_controller.abandon)
        folder.folder_closing.connect(self.side_panel.commit)
        folder.folder_closing.connect(self.gallery_view.commit_editor)
        folder.folder_opened.connect(self._on_folder_opened)
        folder.records_added.connect(self._update_actions)
        folder.scan_ended.connect(self._update_actions)
        folder.folder_loaded.connect(self._on_folder_loaded)
        folder.folder_loaded.connect(self.edit_controller.offer_drafts)
        folder.folder_loaded.connect(self.folder_loaded)
        folder.subfolder_images_found.connect(self._offer_subfolders)
        folder.status_tip.connect(lambda tip: self.statusBar().setToolTip(tip))
        self.export_controller.files_written.connect(folder.record_written)
        self.export_controller.import_requested.connect(folder.import_table)
        self.export_controller.writing_changed.connect(self._update_actions)
        self.export_controller.typing_to_finish.connect(self.side_panel.commit)
        self.export_controller.typing_to_finish.connect(self.gallery_view.commit_editor)

    def connect_run_signals(self) -> None:
        run = self.run_controller
        run.run_started.connect(self.progress_widget.start)
        run.progress.connect(self.progress_widget.set_progress)
        run.run_cancelling.connect(self.progress_widget.cancelling)
        run.running_changed.connect(self._update_actions)
        run.running_changed.connect(lambda: self.edit_controller.set_locked(run.is_running))
        run.running_changed.connect(lambda: self.thumbnails.set_captioning(run.is_running))
        run.run_completed.connect(self.progress_widget.finish)
        run.run_completed.connect(self.run_completed)
        self.progress_widget.cancel_requested.connect(run.cancel)

    def connect_model_controller_signals(self) -> None:
        model, run = self.model_controller, self.run_controller
        model.load_requested.connect(run.load_model)
        model.model_text_changed.connect(self.model_label.setText)
        self.folder_controller.folder_opened.connect(model.set_folder)  # a folder may have its own model
        run.model_loading.connect(model.on_model_loading)
        run.model_loaded.connect(model.on_model_loaded)
        run.model_failed.connect(model.on_model_failed)
        run.devices_found.connect(model.on_devices_found)

    def connect_action_signals(self) -> None:
        a, folder, export = self.action_controller, self.folder_controller, self.export_controller
        a.open_action.triggered.connect(self.open_folder_dialog)
        a.recent_folder_chosen.connect(self.open_folder)
        a.reload_action.triggered.connect(lambda: folder.reload())
        a.subfolders_action.toggled.connect(folder.reload)
        a.export_action.triggered.connect(lambda: export.export_csv_dialog(folder.folder))
        for action, way in ((a.txt_action, "txt"), (a.xmp_action, "xmp"), (a.embed_action, "embed"),
                            (a.jsonl_action, "jsonl")):
            action.triggered.connect(lambda _=False, w=way: export.open_write_dialog(w, folder.folder))
        a.import_action.triggered.connect(lambda: export.ask_import_file(folder.folder))
        a.quit_action.triggered.connect(self.close)
        a.undo_action.triggered.connect(self.edit_controller.undo)
        a.redo_action.triggered.connect(self.edit_controller.redo)
        a.edit_action.triggered.connect(self.edit_current)
        a.find_action.triggered.connect(self.search_edit.setFocus)
        a.caption_all_action.triggered.connect(lambda: self.caption("all"))
        a.caption_selected_action.triggered.connect(lambda: self.caption("selected"))
        a.caption_missing_action.triggered.connect(lambda: self.caption("uncaptioned"))
        a.cancel_action.triggered.connect(self.cancel)
        a.settings_action.triggered.connect(self.model_controller.open_settings)
        a.model_action.triggered.connect(lambda: self.model_controller.choose_model())
        a.grid_action.triggered.connect(lambda: self.set_view_mode("grid"))
        a.list_action.triggered.connect(lambda: self.set_view_mode("list"))
        a.zoom_in_action.triggered.connect(self.gallery_view.zoom_in)
        a.zoom_out_action.triggered.connect(self.gallery_view.zoom_out)
        a.zoom_reset_action.triggered.connect(lambda: self.gallery_view.set_thumbnail_size(THUMBNAIL_SIZE))
        self.gallery_view.addAction(a.preview_action)
        a.preview_action.triggered.connect(self.preview_current)
        self.model_controller.theme_chosen.connect(a.set_theme)
        a.about_action.triggered.connect(self._show_about)
        a.batch_action.triggered.connect(lambda: self.batch_edit_controller.open_dialog(self))
        a.details_action.triggered.connect(self.details_controller.read_from_photos)

    def connect_message_signals(self) -> None:
        for controller in (self.folder_controller, self.run_controller, self.model_controller,
                           self.export_controller, self.edit_controller, self.batch_edit_controller):
            controller.message.connect(self.notify)
        for controller in (self.folder_controller, self.run_controller, self.export_controller,
                           self.batch_edit_controller, self.tag_controller, self.details_controller):
            controller.status.connect(self.show_status)

    def connect_problem_signals(self) -> None:
        for controller in (self.folder_controller, self.run_controller, self.export_controller, self.details_controller):
            controller.problems_found.connect(self.problems.add)
        self.folder_controller.folder_opened.connect(self.problems.clear)  # the rows name the previous folder's files
        self.problems.jump_requested.connect(self.show_image)

    def connect_tag_signals(self) -> None:
        tags, panel = self.tag_controller, self.tag_panel
        tags.counts_changed.connect(panel.set_counts)
        tags.known_tags_changed.connect(self._pass_known_tags)
        tags.edit_requested.connect(lambda change, text: self.batch_edit_controller.change_captions(
            self.gallery_model.records(), change, text))
        panel.tag_chosen.connect(self.proxy_model.set_tag)
        panel.scope_changed.connect(tags.set_scope)
        panel.rename_requested.connect(tags.rename_tag)
        panel.delete_requested.connect(tags.delete_tag)
        panel.front_requested.connect(tags.move_tag_to_front)
        for signal in (self.proxy_model.layoutChanged, self.proxy_model.modelReset, self.proxy_model.rowsInserted,
                       self.proxy_model.rowsRemoved):
            signal.connect(tags.on_filter_changed)
        self.batch_edit_controller.busy_changed.connect(self._update_actions)
        self.folder_controller.folder_closing.connect(self.batch_edit_controller.finish_now)
        self.folder_controller.folder_closing.connect(self.details_controller.cancel)

    # --- what the app, the screenshot tool and the tests call --------------------------------------

    def open_folder(self, folder: str | Path, include_subfolders: bool | None = None) -> bool:
        """Show the images of `folder` with their saved captions (see FolderController.open)."""
        return self.folder_controller.open(folder, include_subfolders)

    def caption(self, scope: str) -> bool:
        """Start a run over "all", "selected" or "uncaptioned" images (see records_to_caption),
        asking for a model first when none is chosen. While the captions already in the files are
        being read, the run starts when that is done. False if nothing was started."""
        if self.run_controller.is_running or scope not in CAPTION_SCOPES:
            return False
        if self.folder_controller.reading:  # captions already in the files come first: runs must not race them
            self.show_status("Reading the captions already in the files first...", 0)
            self.folder_controller.reading_ended.connect(lambda: self.caption(scope),
                                                         Qt.ConnectionType.SingleShotConnection)
            return True
        overwrite = self.action_controller.overwrite_action.isChecked()
        records = records_to_caption(scope, self.gallery_model.records(), self.selected_records(), overwrite)
        if not records:
            self.show_status(nothing_to_caption(scope, self.gallery_model.records(), self.selected_records(),
                                                overwrite), 10000)
            return False
        bundle = self.model_controller.ensure_bundle()
        return bundle is not None and self.run_controller.start(records, bundle, overwrite)

    def cancel(self) -> None:
        """Esc / Cancel: stop the captioning run, else the captions being written to files."""
        if self.run_controller.is_running:
            self.run_controller.cancel()
        else:
            self.export_controller.cancel_writing()

    def write_files(self, way: str, scope: str = "all", existing: str = "keep", keep_mtime: bool | None = None):
        """Write the captions of `scope` out ("xmp", "embed", "txt", "jsonl") in the background,
        without the dialog the Export menu shows (see ExportController.write_files)."""
        self.side_panel.commit()  # a caption being typed is part of what is written
        return self.export_controller.write_files(way, self.records_in_scope(scope), self.folder_controller.folder,
                                                  existing=existing, keep_mtime=keep_mtime)

    # --- messages ------------------------------------------------------------------------------------

    def notify(self, message: Message) -> None:
        """Tell the user: status bar, log, and (for warnings) a window-modal box that does not
        block the caller. Everything said is kept in `messages`."""
        self.messages.append((message.level, message.title, message.text))
        log.log(logging.WARNING if message.level == "warning" else logging.INFO, "%s: %s", message.title,
                message.text)
        self.show_status(message.text.splitlines()[0], 15000)
        if message.popup:
            icon = QMessageBox.Icon.Warning if message.level == "warning" else QMessageBox.Icon.Information
            self.prompts.show(icon, message.title, message.text, message.details)

    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        self.statusBar().setToolTip("")  # a detail tip belongs to the line it came with
        self.statusBar().showMessage(text, timeout_ms)

    # --- folders -------------------------------------------------------------------------------------

    def open_folder_dialog(self) -> None:
        start = str(self.folder_controller.folder or self.settings.get("last_folder") or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
        if folder:
            self.open_folder(folder)

    def _on_folder_opened(self, folder: str) -> None:
        self.edit_controller.open_folder(folder)
        self.side_panel.show_record(None)
        self.thumbnails.forget_waiting()
        self.previews.forget_waiting()
        self.action_controller.show_subfolders(self.folder_controller.include_subfolders)
        self.setWindowTitle(f"{Path(folder).name or folder} - VisionCap")
        self._update_actions()

    def _on_folder_loaded(self, folder: str, count: int) -> None:
        if not self.gallery_view.currentIndex().isValid() and self.proxy_model.rowCount():
            self.gallery_view.setCurrentIndex(self.proxy_model.index(0, 0))
        self._update_actions()

    def _offer_subfolders(self, count: int) -> None:
        self.prompts.show(QMessageBox.Icon.Question, "No images here", subfolder_question(count),
                          on_yes=lambda: self.folder_controller.reload(True))
        self.counts_label.setText(subfolder_question(count))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_folder(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        folder = self._dropped_folder(event)
        if folder is not None:
            event.acceptProposedAction()
            self.open_folder(folder)

    @staticmethod
    def _dropped_folder(event: QDragEnterEvent | QDropEvent) -> Path | None:
        return folder_of_drop(Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile())

    # --- selection and editing ---------------------------------------------------------------------

    def current_record(self) -> ImageRecord | None:
        index = self.gallery_view.currentIndex()
        return self.proxy_model.mapToSource(index).data(ROLE_RECORD) if index.isValid() else None

    def selected_records(self) -> list[ImageRecord]:
        return self.proxy_model.source_records(self.gallery_view.selectionModel().selectedIndexes())

    def records_in_scope(self, scope: str) -> list[ImageRecord]:
        """The records of "selected", "filtered" (those shown) or "all", in row order."""
        if scope == "selected":
            return self.selected_records()
        if scope == "filtered" and self.proxy_model.rowCount() != self.gallery_model.rowCount():
            return self.proxy_model.source_records()
        return self.gallery_model.records()

    def scope_sizes(self) -> dict[str, int]:
        return {"selected": len(self.gallery_view.selectionModel().selectedIndexes()),
                "filtered": self.proxy_model.rowCount(), "all": self.gallery_model.rowCount()}

    def _pass_known_tags(self, tags: list[str]) -> None:
        for editor in (self.side_panel, self.gallery_view):
            editor.set_known_tags(tags)

    def edit_current(self) -> None:
        index = self.gallery_view.currentIndex()
        if index.isValid():
            self.gallery_view.edit(index)

    def preview_current(self) -> None:
        index = self.gallery_view.currentIndex()
        if index.isValid():
            self.preview.show_row(index.row())

    def show_image(self, path: str) -> bool:
        """Make the image at `path` the current and only selected one, in sight (a Problems row
        was activated); the search, state and tag filters are cleared when they hide it."""
        source = self.gallery_model.index_for_path(path)
        if not source.isValid():
            self.show_status("That image is not in the gallery any more.", 5000)
            return False
        if not self.proxy_model.mapFromSource(source).isValid():
            self.pane.clear_filters()
            if self.tag_panel.active_tag:
                self.tag_panel.choose("")
        index = self.proxy_model.mapFromSource(source)
        self.gallery_view.setCurrentIndex(index)
        self.gallery_view.scrollTo(index)
        return True

    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self.side_panel.show_record(self.current_record())

    def _on_data_changed(self, top: QModelIndex, bottom: QModelIndex, roles=()) -> None:
        record = self.side_panel.record
        if record is None:
            return
        index = self.gallery_model.index_for_path(record.path)
        if index.isValid() and top.row() <= index.row() <= bottom.row():
            self.side_panel.refresh()

    # --- state of the window ---------------------------------------------------------------------

    def _schedule_counts(self) -> None:
        if not self._counts_timer.isActive():
            self._counts_timer.start()

    def _update_counts(self) -> None:
        total = self.gallery_model.rowCount()
        scanning = self.folder_controller.scanning
        self.pane.show_counts(total, scanning)
        if total == 0:
            self.counts_label.setText("No folder open" if self.folder_controller.folder is None else "No images")
        else:
            self.counts_label.setText(counts_text(total, self.proxy_model.rowCount(), self.gallery_model.counts()))

    def _update_actions(self) -> None:
        state = ActionState(
            has_folder=self.folder_controller.folder is not None,
            has_records=self.gallery_model.rowCount() > 0,
            has_selection=self.gallery_view.selectionModel().hasSelection(),
            running=self.run_controller.is_running or self.batch_edit_controller.busy,
            writing=self.export_controller.writing,
        )
        self.action_controller.update_enabled(state, self.undo_stack)

    def set_view_mode(self, mode: str) -> None:
        self.gallery_view.set_mode(mode)
        self.action_controller.show_view_mode(mode)
        self.settings.set("view_mode", mode)

    def _on_thumbnail_size_changed(self, size: int) -> None:
        self.thumbnails.set_size(decode_size_for(round(size * self.devicePixelRatioF())))
        self.settings.set("thumbnail_size", size)

    def _restore_window_state(self) -> None:
        for key, restore in (("window_geometry", self.restoreGeometry), ("window_state", self.restoreState),
                             ("splitter_state", self.splitter.restoreState)):
            text = self.settings.get(key)
            if text:
                restore(QByteArray.fromBase64(text.encode("ascii")))
        self.set_view_mode(self.settings.get("view_mode"))
        self.gallery_view.set_thumbnail_size(self.settings.get("thumbnail_size"))
        self._on_thumbnail_size_changed(self.gallery_view.thumbnail_size)  # the decode size, also when unchanged
        self.action_controller.set_theme(self.settings.get("theme"))

    def _save_window_state(self) -> None:
        for key, data in (("window_geometry", self.saveGeometry()), ("window_state", self.saveState()),
                          ("splitter_state", self.splitter.saveState())):
            self.settings.set(key, bytes(data.toBase64()).decode("ascii"))

    def _show_about(self) -> None:
        QMessageBox.about(self, "About VisionCap",
                          about_text(app_version(), self.model_controller.model_text, str(paths.captions_dir())))

    # --- shutting down -----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the workers, keep every caption that arrived, save. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        self.side_panel.commit()
        self.side_panel.commit_title()
        self.gallery_view.commit_editor()
        self.details_controller.shutdown()  # before the batch: a reading that ends applies its change
        self.batch_edit_controller.finish_now()  # a batch still applying is part of what is saved
        self.tag_controller.stop()
        self.run_controller.shutdown()  # before the save: the run's last results go in
        self.export_controller.shutdown()  # before the save: what was written is recorded as seen
        self.folder_controller.shutdown()
        self.edit_controller.shutdown()  # after the save: drafts that became captions go
        self.model_controller.shutdown()
        self.thumbnails.shutdown()
        self.previews.shutdown()
        self.large_previews.shutdown()
        self._save_window_state()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
