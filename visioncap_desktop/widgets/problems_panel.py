"""The Problems panel: every file the app could not read, caption, write or import, and every
conflict between a caption in a file and VisionCap's, one row each with the file and the reason.

Activating a row (double-click, Enter) asks for its image in the gallery (`jump_requested`); a
row about a file that is no image (a table row, a folder the scan left out) has nothing to show.
The newest rows are on top. They belong to the open folder: the window clears them when another
folder opens. The panel keeps the newest MAX_ROWS; the log keeps everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from visioncap_desktop.problems import KINDS, STAGES, Problem
from visioncap_desktop.wording import plural

MAX_ROWS = 50_000
COLUMNS = ("What", "File", "Reason")
ROLE_PROBLEM = Qt.ItemDataRole.UserRole + 1
ROLE_STAGE = Qt.ItemDataRole.UserRole + 2
STAGE_LABELS = {"scanning": "Scanning", "reading": "Reading", "importing": "Importing",
                "captioning": "Captioning", "writing": "Writing"}


class ProblemModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[Problem] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        problem = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            column = index.column()
            if column == 0:
                return f"{STAGE_LABELS.get(problem.stage, problem.stage)}: {KINDS.get(problem.kind, problem.kind)}"
            return problem.where if column == 1 else problem.reason
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [problem.path or problem.file, problem.reason]
            if problem.file and problem.path and problem.file != problem.path:
                lines.insert(1, problem.file)
            return "\n".join(lines)
        if role == ROLE_PROBLEM:
            return problem
        if role == ROLE_STAGE:
            return problem.stage
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def add(self, problems: Iterable[Problem]) -> None:
        """Put `problems` on top, in their order: the newest are seen first (an import can
        leave a thousand rows below)."""
        new = list(problems)[:MAX_ROWS]
        if not new:
            return
        keep = MAX_ROWS - len(new)
        if len(self._rows) > keep:  # the oldest go (the log has them)
            self.beginRemoveRows(QModelIndex(), keep, len(self._rows) - 1)
            del self._rows[keep:]
            self.endRemoveRows()
        self.beginInsertRows(QModelIndex(), 0, len(new) - 1)
        self._rows[0:0] = new
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows = []
        self.endResetModel()

    def problems(self) -> list[Problem]:
        return list(self._rows)


class ProblemsPanel(QWidget):
    jump_requested = Signal(str)  # the image path of an activated row
    count_changed = Signal(int)  # rows held

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = ProblemModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterRole(ROLE_STAGE)
        self.stage = QComboBox(self)
        self.stage.addItem("Everything", "")
        for stage in STAGES:
            self.stage.addItem(STAGE_LABELS[stage], stage)
        self.stage.currentIndexChanged.connect(self._filter)
        self.count_label = QLabel(self)
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.clicked.connect(self.clear)

        self.table = QTableView(self)
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 6)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a path's both ends matter
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, 220)
        header.setStretchLastSection(True)
        self.table.activated.connect(self._on_activated)

        top = QHBoxLayout()
        top.addWidget(self.stage)
        top.addWidget(self.count_label, 1)
        top.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._count)
        self._count()

    def add(self, problems: list[Problem]) -> None:
        self.model.add(problems)

    def clear(self) -> None:
        self.model.clear()

    def _filter(self) -> None:
        stage = self.stage.currentData()
        self.proxy.setFilterRegularExpression(f"^{stage}$" if stage else "")

    def _count(self) -> None:
        count = self.model.rowCount()
        self.count_label.setText(plural(count, "problem") if count else "No problems")
        self.clear_button.setEnabled(count > 0)
        self.count_changed.emit(count)

    def _on_activated(self, index: QModelIndex) -> None:
        problem: Problem = self.proxy.mapToSource(index).data(ROLE_PROBLEM)
        if problem is not None and problem.path:
            self.jump_requested.emit(problem.path)


def problems_button(panel: ProblemsPanel, dock: QDockWidget, parent: QWidget) -> QToolButton:
    """The status bar's "3 problems" button, shown while the panel holds any: it shows the
    panel, wherever the messages say "see Problems"."""
    button = QToolButton(parent)
    button.setAutoRaise(True)
    button.setToolTip("Show the Problems panel (View > Problems, Ctrl+Shift+P)")

    def show_count(count: int) -> None:
        button.setText(f"\u26a0 {plural(count, 'problem')}")
        button.setVisible(count > 0)

    def show_panel() -> None:
        dock.show()
        dock.raise_()
        panel.table.setFocus()

    panel.count_changed.connect(show_count)
    button.clicked.connect(show_panel)
    show_count(panel.model.rowCount())
    return button
