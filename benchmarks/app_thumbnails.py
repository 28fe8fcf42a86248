"""Thumbnails with 10,000 images: time to the first thumbnails on screen, and memory.

    QT_QPA_PLATFORM=offscreen python benchmarks/app_thumbnails.py [--count 10000]

Generates COUNT small JPEGs in a temporary folder, opens the main window on it (offscreen by
default) and measures:
- time from open_folder() to the first thumbnail painted, and to every visible item painted,
  with a cold disk cache and again with a warm one (a new window, so the memory cache is empty);
- time until the background pass after the scan (fingerprints, re-attaching, reading the
  captions beside and inside the photos) has finished, while the first screen paints;
- resident memory after opening, after scrolling through the whole gallery, and the peak.
Everything (thumbnail cache, settings) lives under the temporary folder (VISIONCAP_HOME).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def rss_mb() -> float | None:
    """Current resident set size (Linux /proc; psutil elsewhere if installed)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, AttributeError):
        pass
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return None


def peak_rss_mb() -> float | None:
    try:
        import resource  # not on Windows
    except ImportError:
        try:
            import psutil

            return psutil.Process().memory_info().peak_wset / 2**20  # Windows only
        except (ImportError, AttributeError):
            return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB elsewhere


def fmt(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:,.1f} {unit}"


def make_folder(folder: Path, count: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    for i in range(count):
        # a gradient in a colour of its own: cheap to make, not trivially compressible
        hue = Image.linear_gradient("L").resize((160, 120))
        Image.merge("RGB", (hue, hue.point(lambda v, i=i: (v + i * 7) % 256), hue.point(lambda v, i=i: (i * 13) % 256))
                    ).save(folder / f"photo_{i:05d}.jpg", quality=80)


def visible_paths(window) -> list[str]:
    view = window.gallery_view
    viewport = view.viewport().rect()
    first = view.indexAt(viewport.topLeft() + viewport.topLeft().__class__(8, 8))
    paths = []
    row = max(first.row(), 0)
    proxy = window.proxy_model
    while row < proxy.rowCount():
        index = proxy.index(row, 0)
        rect = view.visualRect(index)
        if rect.top() > viewport.bottom():
            break
        if rect.intersects(viewport):
            paths.append(proxy.mapToSource(index).data(0x0100 + 2))  # ROLE_PATH
        row += 1
    return paths


def open_and_time(app, window, folder: Path, first_paint: list[float]) -> dict[str, float]:
    done: dict[str, float] = {}
    window.folder_loaded.connect(lambda *_: done.setdefault("scan", time.perf_counter()))
    window.folder_controller.reading_ended.connect(lambda: done.setdefault("read", time.perf_counter()))
    first_paint.clear()
    start = time.perf_counter()
    window.open_folder(folder)
    deadline = start + 120
    while time.perf_counter() < deadline:
        app.processEvents()
        if "scan" in done and "first" not in done and first_paint:
            done["first"] = first_paint[0]
        if "scan" in done:
            paths = visible_paths(window)
            if paths and all(window.thumbnails.is_cached(p) for p in paths):
                app.processEvents()  # paint them
                done["visible"] = time.perf_counter()
                done["visible_count"] = len(paths)
                break
        time.sleep(0.001)
    if first_paint and "first" not in done:
        done["first"] = first_paint[0]
    while "read" not in done and time.perf_counter() < start + 600:
        app.processEvents()
        time.sleep(0.001)
    return {k: (v - start if k != "visible_count" else v) for k, v in done.items()}


def scroll_through(app, window) -> tuple[float, int]:
    """Page down to the end, waiting at each page for its thumbnails; returns (seconds,
    thumbnails decoded)."""
    decoded = []
    window.thumbnails.thumbnail_ready.connect(lambda path, w, h: decoded.append(path))
    bar = window.gallery_view.verticalScrollBar()
    start = time.perf_counter()
    value = 0
    while value < bar.maximum():
        value = min(bar.maximum(), value + bar.pageStep())
        bar.setValue(value)
        app.processEvents()  # paint: the page's thumbnails are requested
        t = time.perf_counter()
        while time.perf_counter() - t < 10:
            paths = visible_paths(window)
            if paths and all(window.thumbnails.is_cached(p) or window.thumbnails.failure(p) for p in paths):
                break
            app.processEvents()
            time.sleep(0.001)
        app.processEvents()
    return time.perf_counter() - start, len(set(decoded))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--no-scroll", action="store_true", help="skip scrolling through every image")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="visioncap-bench-thumbs-"))
    os.environ["VISIONCAP_HOME"] = str(work / "home")
    try:
        t = time.perf_counter()
        folder = work / "photos"
        make_folder(folder, args.count)
        made = time.perf_counter() - t

        from PySide6.QtGui import QPixmap
        from PySide6.QtWidgets import QApplication

        from visioncap_desktop.main_window import MainWindow
        from visioncap_desktop.settings import Settings
        from visioncap_desktop.widgets.gallery_delegate import GalleryDelegate

        app = QApplication(["bench"])
        first_paint: list[float] = []
        paint = GalleryDelegate._paint_thumbnail

        def timed_paint(self, painter, rect, pixmap, palette):
            if not first_paint and isinstance(pixmap, QPixmap) and not pixmap.isNull():
                first_paint.append(time.perf_counter())
            paint(self, painter, rect, pixmap, palette)

        GalleryDelegate._paint_thumbnail = timed_paint
        rows = []
        rss_start = rss_mb()

        window = MainWindow(Settings.load())
        window.resize(1280, 820)
        window.show()
        app.processEvents()
        cold = open_and_time(app, window, folder, first_paint)
        rss_open = rss_mb()
        scrolled, decoded = (None, 0) if args.no_scroll else scroll_through(app, window)
        rss_scrolled = rss_mb()
        in_memory = window.thumbnails.cached_count()
        window.close()

        warm_window = MainWindow(Settings.load())
        warm_window.resize(1280, 820)
        warm_window.show()
        app.processEvents()
        warm = open_and_time(app, warm_window, folder, first_paint)
        warm_window.close()

        rows += [
            ("images", f"{args.count:,} JPEG 160x120 (made in {made:.1f} s)"),
            ("scan finished (cold)", fmt(cold.get("scan", 0) * 1000, "ms")),
            ("first thumbnail painted (cold cache)", fmt(cold.get("first", float("nan")) * 1000, "ms")),
            (f"all {cold.get('visible_count', 0)} visible painted (cold cache)", fmt(cold.get("visible", float("nan")) * 1000, "ms")),
            ("fingerprints and captions in files read (cold)", fmt(cold.get("read", float("nan")) * 1000, "ms")),
            ("fingerprints and captions in files read (warm)", fmt(warm.get("read", float("nan")) * 1000, "ms")),
            ("first thumbnail painted (warm disk cache)", fmt(warm.get("first", float("nan")) * 1000, "ms")),
            (f"all {warm.get('visible_count', 0)} visible painted (warm disk cache)", fmt(warm.get("visible", float("nan")) * 1000, "ms")),
            ("scroll through every image", "skipped" if scrolled is None
             else f"{scrolled:.1f} s, {decoded:,} thumbnails decoded on the way"),
            ("thumbnails held in memory after scrolling", f"{in_memory:,} (LRU bound {window.thumbnails.memory_items:,})"),
            ("RSS before opening", fmt(rss_start, "MiB")),
            ("RSS after first screen", fmt(rss_open, "MiB")),
            ("RSS after scrolling through all", fmt(rss_scrolled, "MiB")),
            ("peak RSS", fmt(peak_rss_mb(), "MiB")),
        ]
        width = max(len(name) for name, _ in rows)
        print(f"{'measure':<{width}}  value")
        print(f"{'-' * width}  {'-' * 30}")
        for name, value in rows:
            print(f"{name:<{width}}  {value}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
