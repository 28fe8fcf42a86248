"""The confirmation before captions are written into the photos themselves."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget


def confirm_embed(parent: QWidget | None, count: int, keep_mtime: bool) -> tuple[bool, bool]:
    """Ask before modifying `count` photos: (go ahead, keep modification times)."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Embed captions in photos",
                      f"This will modify {count:,} photo file(s): the caption is written into each "
                      "photo's XMP description, EXIF ImageDescription and (where present) IPTC "
                      "Caption-Abstract.\n\nThe pixels and every other field stay as they were; each "
                      "photo is written to a copy that is checked and then replaces the original. "
                      "Formats that cannot hold a caption (HEIC, AVIF, camera RAW) and photos whose "
                      "metadata VisionCap cannot fully read get an XMP sidecar instead. A photo "
                      "changed since VisionCap read it, or holding a caption someone else wrote since, "
                      "is left as it is and listed.", QMessageBox.StandardButton.Cancel, parent)
    modify = box.addButton("Modify Photos", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    keep = QCheckBox("Keep each photo's modification time (photo managers sort by it)")
    keep.setChecked(keep_mtime)
    box.setCheckBox(keep)
    box.exec()
    return box.clickedButton() is modify, keep.isChecked()
