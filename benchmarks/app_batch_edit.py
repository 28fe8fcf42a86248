"""How long the GUI thread stalls during batch edits and tag counts over 100,000 captions.

    QT_QPA_PLATFORM=offscreen python benchmarks/app_batch_edit.py [--captions 100000]

The window holds N records with comma-separated captions (no image files: the gallery shows
placeholders). Measured with the 5 ms probe of app_gui_stall.py: the batch dialog's live count
while typing a find, a find/replace over every caption, its undo, the same under a search
filter (the proxy re-filters every changed row), the tag panel's count; and, for comparison,
the same find/replace applied in one pass (what a slice-free implementation would do).
Target: under 100 ms longest stall.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app_gui_stall import Probe, wait_for

WORDS = ("dog", "cat", "red car", "street", "night", "grass", "beach", "portrait", "city", "tree")


def caption(i: int) -> str:
    return ", ".join(WORDS[(i * k) % len(WORDS)] for k in (1, 3, 7)) + f", photo {i}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=100_000)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="visioncap-bench-batch-"))
    os.environ["VISIONCAP_HOME"] = str(work / "home")
    try:
        from PySide6.QtWidgets import QApplication

        from visioncap_desktop.batch_edit import BatchEdit
        from visioncap_desktop.gc_pauses import freeze_long_lived
        from visioncap_desktop.main_window import MainWindow
        from visioncap_desktop.records import CaptionState, ImageRecord, edited_snapshot
        from visioncap_desktop.settings import Settings

        app = QApplication(["bench"])
        window = MainWindow(Settings.load())
        window.resize(1280, 820)
        window.show()
        folder = work / "photos"
        window.gallery_model.add_records(
            ImageRecord(str(folder / f"img_{i:06d}.jpg"), f"img_{i:06d}.jpg", caption(i), CaptionState.CAPTIONED)
            for i in range(args.captions))
        freeze_long_lived("benchmark records")  # as FolderController does when a scan ends
        wait_for(app, lambda: not window.tag_controller.counting, 120)
        rows = []
        probe = Probe()

        def measure(name: str, start, done) -> None:
            probe.start()
            started = time.perf_counter()
            start()
            assert wait_for(app, done, 600), f"{name} did not finish"
            seconds = time.perf_counter() - started
            result = probe.stop()
            rows.append((name, f"{seconds * 1000:,.0f} ms", f"{result['max_ms']:.1f} ms",
                         f"{result['max_cpu_ms']:.1f} ms", f"{result['p99_ms']:.1f} ms"))

        batch = window.batch_edit_controller
        dialog = batch.open_dialog(window, "all")

        def type_find() -> None:
            dialog.find_edit.setText("dog")
            dialog.replace_edit.setText("puppy")
            dialog.recount_now()

        measure("live count (find \"dog\")", type_find, lambda: not dialog.counting)
        edit = BatchEdit("replace", find="dog", text="puppy")
        measure("find/replace, all captions", lambda: batch.apply_edit(edit, "all", False), lambda: not batch.busy)
        measure("undo of it", window.undo_stack.undo, lambda: not batch.busy)
        measure("redo of it", window.undo_stack.redo, lambda: not batch.busy)
        window.proxy_model.set_search_text("photo 1")
        app.processEvents()
        shown = window.proxy_model.rowCount()
        measure(f"find/replace under a filter ({shown:,} shown)",
                lambda: batch.apply_edit(BatchEdit("replace", find="puppy", text="dog"), "filtered", False),
                lambda: not batch.busy)
        window.proxy_model.set_search_text("")
        app.processEvents()
        measure("tag count, whole folder", window.tag_controller.count_now, lambda: not window.tag_controller.counting)

        def one_pass() -> None:  # the comparison: compute and apply everything in one call
            pattern = re.compile("street", re.IGNORECASE)
            model = window.gallery_model
            model.set_snapshots({r.path: edited_snapshot(r, pattern.sub("road", r.caption))
                                 for r in model.records() if pattern.search(r.caption)})

        measure("find/replace in one pass (no slices)", one_pass, lambda: True)
        window.close()

        header = ("measure", "duration", "longest stall", "of it on CPU", "99th pct gap")
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        print(f"{args.captions:,} captions")
        for row in [header, tuple("-" * w for w in widths), *rows]:
            print("  ".join(str(cell).ljust(w) if i == 0 else str(cell).rjust(w) for i, (cell, w) in
                            enumerate(zip(row, widths, strict=True))))
        load = os.getloadavg() if hasattr(os, "getloadavg") else None
        print(f"\n{os.cpu_count()} CPUs" + (f", load average {load[0]:.2f}" if load else ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
