"""Options of a CSV export: which images, and the spreadsheet-safety options."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QRadioButton, QVBoxLayout


class ExportDialog(QDialog):
    def __init__(self, total: int, selected: int, bom: bool, guard_formulas: bool, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export captions to CSV")
        self.all_radio = QRadioButton(f"All images ({total:,})", self)
        self.selected_radio = QRadioButton(f"Selected images ({selected:,})", self)
        self.selected_radio.setEnabled(selected > 0)
        (self.selected_radio if selected > 1 else self.all_radio).setChecked(True)
        self.bom = QCheckBox("Start with a UTF-8 byte order mark (so Excel reads accents correctly)", self)
        self.bom.setChecked(bom)
        self.guard = QCheckBox("Neutralise cells starting with = + - @ (protects against formula injection)", self)
        self.guard.setChecked(guard_formulas)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export...")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.all_radio, self.selected_radio, self.bom, self.guard, buttons):
            layout.addWidget(widget)

    def options(self) -> tuple[bool, bool, bool]:
        """(selected only, BOM, guard formulas)."""
        return self.selected_radio.isChecked(), self.bom.isChecked(), self.guard.isChecked()
