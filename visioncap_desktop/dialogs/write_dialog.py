"""The dialog before captions are written out (XMP sidecars, embedded in the photos, .txt files,
metadata.jsonl): which images (the selection, those the filter shows, or all), whether captions
someone else wrote in those files may be replaced, and a dry run that lists every file and what
writing would do to it. The writing itself is the export controller's (`write_requested`,
`dry_run_requested`); the dialog only asks and shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QRadioButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.metadata.caption_writes import (
    KEPT,
    NOT_WRITTEN,
    SIDECAR_INSTEAD,
    UNCHANGED,
    WRITTEN,
    WriteReport,
)
from visioncap_desktop.wording import plural, verb

TITLES = {"xmp": "Write XMP sidecars", "embed": "Embed captions in photos", "txt": "Save captions as .txt files",
          "jsonl": "Write metadata.jsonl"}
INTROS = {
    "xmp": "Each caption goes into an XMP sidecar beside its photo (photo.jpg.xmp or photo.xmp, as the Export "
           "menu names them), which photo managers read. The photos are not touched.",
    "embed": "This modifies the photo files: the caption is written into each photo's XMP description, EXIF "
             "ImageDescription and (where present) IPTC Caption-Abstract. The pixels and every other field stay "
             "as they were; each photo is written to a copy that is checked and then replaces the original. "
             "Formats that cannot hold a caption (HEIC, AVIF, camera RAW) and photos whose metadata VisionCap "
             "cannot fully read get an XMP sidecar instead. A photo changed since VisionCap read it is left "
             "as it is and listed.",
    "txt": "Each caption goes into photo.txt beside photo.jpg, the file dataset tools read.",
    "jsonl": "The captions go into metadata.jsonl (file_name, text), the file Hugging Face's imagefolder reads, "
             "merged with the rows already there.",
}
SCOPE_LABELS = {"selected": "Selected images", "filtered": "Images shown by the filter", "all": "All images"}
# what a dry run's outcome means for the file: in the list, and (verb, rest) in the summary
PLANNED = {WRITTEN: "will be written", UNCHANGED: "already holds the caption", KEPT: "kept: someone else's caption",
           NOT_WRITTEN: "cannot be written", SIDECAR_INSTEAD: "a sidecar instead"}
SUMMARY = {WRITTEN: ("will", "be written"), UNCHANGED: ("holds", "the caption already"),
           KEPT: ("holds", "someone else's caption, kept"), NOT_WRITTEN: ("cannot", "be written"),
           SIDECAR_INSTEAD: ("gets", "a sidecar instead")}
MAX_PLAN_ROWS = 5000  # a dry run over 100,000 photos lists the first ones; the counts cover all


class WriteOutDialog(QDialog):
    write_requested = Signal()
    dry_run_requested = Signal()

    def __init__(self, way: str, sizes: Mapping[str, tuple[int, int]], existing: Mapping[str, int],
                 keep_mtime: bool, parent: QWidget | None = None):
        """`sizes`: scope -> (images, of them with a caption); `existing`: scope -> files
        there already (the .txt files that would be replaced)."""
        super().__init__(parent)
        self.way = way
        self._existing = existing
        self.setWindowTitle(TITLES[way])
        self.setMinimumWidth(620)
        intro = QLabel(INTROS[way], self)
        intro.setWordWrap(True)

        self.scope_group = QButtonGroup(self)
        self.scope_radios: dict[str, QRadioButton] = {}
        scope_row = QHBoxLayout()
        for scope, label in SCOPE_LABELS.items():
            images, captioned = sizes.get(scope, (0, 0))
            radio = QRadioButton(f"{label} ({captioned:,} with captions)" if captioned != images
                                 else f"{label} ({images:,})", self)
            radio.setEnabled(captioned > 0)
            self.scope_group.addButton(radio)
            self.scope_radios[scope] = radio
            scope_row.addWidget(radio)
        scope_row.addStretch(1)
        chosen = next((s for s in ("selected", "filtered") if sizes.get(s, (0, 0))[1] and sizes[s][0] not in
                       (0, 1, sizes.get("all", (0, 0))[0])), "all")
        self.scope_radios[chosen].setChecked(True)
        self.replace_check = QCheckBox("Replace captions someone else wrote in these files (otherwise they are "
                                       "kept, and listed in Problems)", self)
        self.keep_mtime_check = QCheckBox("Keep each photo's modification time (photo managers sort by it)", self)
        self.keep_mtime_check.setChecked(keep_mtime)
        self.keep_mtime_check.setVisible(way == "embed")
        self.keywords_check = QCheckBox("Also write the caption's tags as keywords (XMP dc:subject and, where "
                                        "the photo has IPTC, Keywords; added beside its own, none removed)", self)
        self.keywords_check.setVisible(way in ("embed", "xmp"))
        self.existing_label = QLabel(self)

        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.plan = QTreeWidget(self)
        self.plan.setColumnCount(3)
        self.plan.setHeaderLabels(["File", "What writing does", "Why"])
        self.plan.setRootIsDecorated(False)
        self.plan.setUniformRowHeights(True)
        self.plan.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.plan.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 240)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.plan.setMinimumHeight(self.plan.fontMetrics().lineSpacing() * 12)
        self.plan.hide()

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        self.dry_run_button = QPushButton("&Dry Run", self)
        self.dry_run_button.setToolTip("List every file and what writing would do to it; nothing is written")
        self.write_button = QPushButton("Modify Photos" if way == "embed" else "&Write", self)
        buttons.addButton(self.dry_run_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.write_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.write_button.setDefault(way != "embed")  # changing photos takes a deliberate click
        self.dry_run_button.clicked.connect(self.dry_run_requested)
        self.write_button.clicked.connect(self.write_requested)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(QLabel("Write the captions of:", self))
        layout.addLayout(scope_row)
        layout.addWidget(self.existing_label)
        layout.addWidget(self.replace_check)
        layout.addWidget(self.keep_mtime_check)
        layout.addWidget(self.keywords_check)
        layout.addWidget(self.summary)
        layout.addWidget(self.plan, 1)
        layout.addWidget(buttons)
        self.scope_group.buttonToggled.connect(self._scope_changed)
        self._scope_changed()

    def scope(self) -> str:
        return next(scope for scope, radio in self.scope_radios.items() if radio.isChecked())

    def existing(self) -> str:
        """core.metadata.caption_writes' `existing`: "replace" or "keep"."""
        return "replace" if self.replace_check.isChecked() else "keep"

    def keywords(self) -> bool:
        """Whether the captions' tags go into the photos' keywords too."""
        return self.keywords_check.isVisible() and self.keywords_check.isChecked()

    def keep_mtime(self) -> bool:
        return self.keep_mtime_check.isChecked()

    def set_busy(self, text: str) -> None:
        """A dry run is going: say so, and wait for it."""
        self.summary.setText(text)
        self.dry_run_button.setEnabled(False)

    def show_plan(self, report: WriteReport, name_of: Callable[[Path], str], exact: bool) -> None:
        """List the outcomes of a dry run (`exact` False: core cannot dry-run, the list says
        which files would be written to, and the rest is decided when writing)."""
        self.dry_run_button.setEnabled(True)
        counts: dict[str, int] = {}
        items = []
        for outcome in report.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            if len(items) < MAX_PLAN_ROWS:
                target = outcome.target
                shown = name_of(outcome.image) if target == outcome.image else target.name
                item = QTreeWidgetItem([shown, PLANNED.get(outcome.status, outcome.status), outcome.reason])
                item.setToolTip(0, str(target))
                item.setToolTip(2, outcome.reason)
                items.append(item)
        self.plan.clear()
        self.plan.addTopLevelItems(items)
        self.plan.show()
        parts = []
        for status, n in sorted(counts.items(), key=lambda item: list(SUMMARY).index(item[0])
                                if item[0] in SUMMARY else len(SUMMARY)):
            said, rest = SUMMARY.get(status, ("is", status))
            parts.append(f"{plural(n, 'file')} {verb(n, said)} {rest}")
        text = "Dry run, nothing written: " + ("; ".join(parts) + "." if parts else "no caption to write.")
        if len(report.outcomes) > MAX_PLAN_ROWS:
            text += f" The first {MAX_PLAN_ROWS:,} are listed."
        if not exact:
            text += (" (This VisionCap's core cannot dry-run yet: whether an existing file is replaced or kept "
                     "is decided when writing.)")
        self.summary.setText(text)
        self.adjustSize()  # room for the list

    def _scope_changed(self) -> None:
        self.plan.hide()
        self.plan.clear()
        self.summary.clear()
        count = self._existing.get(self.scope(), 0) if self.way == "txt" else 0
        self.existing_label.setText(f"{plural(count, '.txt file')} of these images already "
                                    f"{'exists' if count == 1 else 'exist'}." if count else "")
        self.existing_label.setVisible(bool(count))

