"""The batch edit dialog: what to change (find and replace, a prefix or suffix with its
separator, whitespace, tag order, duplicate tags, the first N tags), where (the selection, the
current filter, every image), whether captions the user edited are left alone, and a live count
of what would change with the first changes shown before and after. Non-modal: the gallery stays
usable, and the count follows the selection and the filter.

The count is taken in slices (visioncap_desktop.sliced), COUNT_DELAY_MS after the last change,
so typing stays fluid over 100,000 captions. Applying is the controller's job (apply_requested).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from visioncap_desktop.batch_edit import (
    PREVIEW_ROWS,
    SCOPES,
    BatchEdit,
    BatchEditError,
    MatchCount,
    count_steps,
)
from visioncap_desktop.records import ImageRecord
from visioncap_desktop.sliced import SlicedJob
from visioncap_desktop.theme import warning_colour
from visioncap_desktop.wording import plural

OPERATION_LABELS = {
    "replace": "Find and replace",
    "prefix": "Add a prefix (a trigger word)",
    "suffix": "Add a suffix",
    "whitespace": "Tidy whitespace (one space between words, none at the ends)",
    "sort_tags": "Sort tags alphabetically (comma-separated captions)",
    "dedupe_tags": "Remove duplicate tags (the first stays; letter case ignored)",
    "keep_first": "Keep only the first tags",
}
SCOPE_LABELS = {"selected": "Selected images", "filtered": "Images shown by the filter", "all": "All images"}
COUNT_DELAY_MS = 150


class BatchEditDialog(QDialog):
    apply_requested = Signal(object, str, bool)  # BatchEdit, scope, leave edited captions alone

    def __init__(self, scope_records: Callable[[str], list[ImageRecord]], scope_sizes: Callable[[], dict[str, int]],
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Batch edit captions")
        self.setMinimumWidth(520)
        self._scope_records = scope_records
        self._scope_sizes = scope_sizes
        self._count_job: SlicedJob | None = None

        self.operation = QComboBox(self)
        for key, label in OPERATION_LABELS.items():
            self.operation.addItem(label, key)
        self.find_edit = QLineEdit(self)
        self.find_edit.setPlaceholderText("text, or a regular expression")
        self.replace_edit = QLineEdit(self)
        self.replace_edit.setPlaceholderText("empty: delete what was found; \\1 or \\g<name> for groups")
        self.regex_check = QCheckBox("Regular expression", self)
        self.case_check = QCheckBox("Match case", self)
        self.add_edit = QLineEdit(self)
        self.add_edit.setPlaceholderText("for example: ohwx")
        self.separator_edit = QLineEdit(", ", self)
        self.separator_edit.setToolTip("Put between the text added and the caption (“, ” makes it a tag of its "
                                       "own; empty glues them together)")
        self.count_spin = QSpinBox(self)
        self.count_spin.setRange(1, 999)
        self.count_spin.setValue(10)
        self.count_spin.setSuffix(" tags")
        options = QHBoxLayout()
        options.addWidget(self.regex_check)
        options.addWidget(self.case_check)
        options.addStretch(1)
        form = QFormLayout()
        form.addRow("&Change:", self.operation)
        form.addRow("&Find:", self.find_edit)
        form.addRow("Replace &with:", self.replace_edit)
        form.addRow("", options)
        form.addRow("&Text to add:", self.add_edit)
        form.addRow("&Separator:", self.separator_edit)
        form.addRow("&Keep the first:", self.count_spin)
        self._form = form

        self.scope_group = QButtonGroup(self)
        self.scope_radios: dict[str, QRadioButton] = {}
        scope_row = QHBoxLayout()
        for scope in SCOPES:
            radio = QRadioButton(SCOPE_LABELS[scope], self)
            self.scope_group.addButton(radio)
            self.scope_radios[scope] = radio
            scope_row.addWidget(radio)
        scope_row.addStretch(1)
        self.scope_radios["all"].setChecked(True)
        self.protect_check = QCheckBox("Leave captions I edited unchanged", self)
        self.protect_check.setToolTip("Off: the batch changes every caption in the scope, edited ones included.")

        self.count_label = QLabel(self)
        self.error_label = QLabel(self)
        self.error_label.setWordWrap(True)
        self._colour_error()
        self.preview = QTreeWidget(self)  # the first captions that change, before and after
        self.preview.setColumnCount(2)
        self.preview.setHeaderLabels(["Before", "After"])
        self.preview.setRootIsDecorated(False)
        self.preview.setWordWrap(True)
        self.preview.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.preview.header().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        rows = self.preview.fontMetrics().lineSpacing() * (PREVIEW_ROWS + 2)  # the rows and the header
        self.preview.setMinimumHeight(rows)
        self.preview.setMaximumHeight(rows + 40)
        self.preview.hide()

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Apply | QDialogButtonBox.StandardButton.Close, self)
        self.apply_button = buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_button.setDefault(True)
        self.apply_button.clicked.connect(self._apply)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Apply to:", self))
        layout.addLayout(scope_row)
        layout.addWidget(self.protect_check)
        layout.addWidget(self.count_label)
        layout.addWidget(self.preview)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)

        self._count_timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self.recount_now)
        for edit in (self.find_edit, self.replace_edit, self.add_edit, self.separator_edit):
            edit.textChanged.connect(self.recount)
        self.count_spin.valueChanged.connect(self.recount)
        for check in (self.regex_check, self.case_check, self.protect_check):
            check.toggled.connect(self.recount)
        self.scope_group.buttonToggled.connect(self.recount)
        self.operation.currentIndexChanged.connect(self._show_fields)
        self._show_fields()

    # --- what the user chose ------------------------------------------------------------------

    def edit(self) -> BatchEdit:
        operation = self.operation.currentData()
        text = self.replace_edit.text() if operation == "replace" else self.add_edit.text()
        return BatchEdit(operation, self.find_edit.text(), text, self.regex_check.isChecked(),
                         self.case_check.isChecked(), self.separator_edit.text(), self.count_spin.value())

    def scope(self) -> str:
        return next(scope for scope, radio in self.scope_radios.items() if radio.isChecked())

    def show_for(self, scope: str | None) -> None:
        """Show (or raise) the dialog, on `scope` if given, else the selection when there is one."""
        sizes = self._scope_sizes()
        self._label_scopes(sizes)
        scope = scope or ("selected" if sizes.get("selected", 0) > 1 else "all")
        self.scope_radios[scope].setChecked(True)
        self.show()
        self.raise_()
        self.activateWindow()
        (self.find_edit if self.operation.currentData() == "replace" else self.add_edit).setFocus()
        self.recount()

    # --- the live count ------------------------------------------------------------------------

    def recount(self) -> None:
        self._count_timer.start()

    def recount_now(self) -> None:
        """Count what the edit would change, in slices; the label says so when done."""
        self._count_timer.stop()
        if self._count_job is not None:
            self._count_job.cancel()
            self._count_job.deleteLater()
            self._count_job = None
        self._label_scopes(self._scope_sizes())
        edit = self.edit()
        records = self._scope_records(self.scope())
        protect = self.protect_check.isChecked()
        try:
            steps = count_steps(edit, (r.caption for r in records if not (protect and r.edited)))
        except BatchEditError as exc:
            self._show_count(None, str(exc))
            return
        self.count_label.setText("Counting...")
        self.error_label.clear()
        self.apply_button.setEnabled(False)
        self._count_job = SlicedJob(steps, self)
        self._count_job.finished.connect(lambda count: self._show_count(count, ""))
        self._count_job.start()

    @property
    def counting(self) -> bool:
        return self._count_timer.isActive() or (self._count_job is not None and self._count_job.running)

    def _show_count(self, count: MatchCount | None, error: str) -> None:
        self.error_label.setText(error)
        self.preview.clear()
        will = f"{plural(count.captions, 'caption')} will change" if count is not None else ""
        if count is None:
            self.count_label.clear()
        elif self.operation.currentData() == "replace":
            self.count_label.setText(f"{plural(count.matches, 'match')}; {will}.")
        else:
            self.count_label.setText(f"{will}.")
        if count is not None and count.examples:
            self.count_label.setText(self.count_label.text() + (" The first ones:" if count.captions > 1 else ""))
            self.preview.addTopLevelItems([QTreeWidgetItem([before, after]) for before, after in count.examples])
        self.preview.setVisible(count is not None and bool(count.examples))
        self.apply_button.setEnabled(count is not None and count.captions > 0)

    def _colour_error(self) -> None:
        self.error_label.setStyleSheet(f"color: {warning_colour(self.palette()).name()}")

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # the theme changed: a red readable on it
            self._colour_error()

    def _label_scopes(self, sizes: dict[str, int]) -> None:
        for scope, radio in self.scope_radios.items():
            size = sizes.get(scope, 0)
            radio.setText(f"{SCOPE_LABELS[scope]} ({size:,})")
            radio.setEnabled(size > 0 or scope == "all")

    def _show_fields(self) -> None:
        operation = self.operation.currentData()
        replace, adds = operation == "replace", operation in ("prefix", "suffix")
        for row, shown in ((1, replace), (2, replace), (3, replace), (4, adds), (5, adds),
                           (6, operation == "keep_first")):  # rows of the form
            self._form.setRowVisible(row, shown)
        self.recount()

    def _apply(self) -> None:
        if self.counting:  # the count shown would be for an older state of the fields
            return
        self.apply_button.setEnabled(False)
        self.apply_requested.emit(self.edit(), self.scope(), self.protect_check.isChecked())
