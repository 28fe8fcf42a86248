"""How long the GUI thread stalls while the app works: during a captioning run, and while a
folder of 100,000 files is scanned into the gallery.

    QT_QPA_PLATFORM=offscreen python benchmarks/app_gui_stall.py [--images 300] [--model BUNDLE]
                                                                 [--scan-files 100000]

A QTimer probe fires every 5 ms in the GUI thread; the longest gap between two probes (or
between the start of the phase and the first probe) is the longest time the window could not
repaint or react. Target: under 100 ms. Without --model, a tiny random-weights bundle from
tests/tiny.py is used (real model code, gibberish captions). Everything lives in a temporary
folder (VISIONCAP_HOME).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

PROBE_MS = 5


class Probe:
    """Timestamps of a 5 ms QTimer in the GUI thread, with the GUI thread's CPU time, so a
    stall can be told apart from the thread not being scheduled (2 busy cores) or waiting for
    the GIL."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.ticks: list[tuple[float, float]] = []
        self.timer = QTimer(interval=PROBE_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks.append((time.perf_counter(), time.thread_time()))

    def start(self) -> None:
        self.ticks = []
        self._tick()
        self.timer.start()

    def stop(self) -> dict[str, float]:
        self.timer.stop()
        self._tick()
        gaps = sorted(((b[0] - a[0]) * 1000, (b[1] - a[1]) * 1000) for a, b in itertools.pairwise(self.ticks))
        walls = [wall for wall, _ in gaps]
        return {
            "probes": len(gaps),
            "max_ms": walls[-1],
            "max_cpu_ms": gaps[-1][1],
            "p99_ms": walls[min(len(walls) - 1, int(len(walls) * 0.99))],
            "median_ms": statistics.median(walls),
        }


def wait_for(app, condition, timeout_s: float) -> bool:
    """Run the event loop, as app.exec() would, until `condition()` or the timeout."""
    from PySide6.QtCore import QEventLoop, QTimer

    if condition():
        return True
    loop = QEventLoop()
    poll = QTimer(interval=10)
    poll.timeout.connect(lambda: condition() and loop.quit())
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    poll.start()
    loop.exec()
    poll.stop()
    return condition()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300, help="images to caption (default 300)")
    parser.add_argument("--model", help="bundle folder (default: a tiny random bundle)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--scan-files", type=int, default=100_000, help="files in the scan test (0: skip)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="visioncap-bench-stall-"))
    os.environ["VISIONCAP_HOME"] = str(work / "home")
    try:
        from tests.app.images import make_images

        photos = work / "photos"
        make_images(photos, args.images, size=(320, 240))
        bundle = args.model
        if bundle is None:
            from tests.tiny import make_tiny_bundle

            bundle = str(make_tiny_bundle(work / "tiny-bundle"))

        from PySide6.QtWidgets import QApplication

        from visioncap_desktop.main_window import MainWindow
        from visioncap_desktop.settings import Settings

        app = QApplication(["bench"])
        settings = Settings.load()
        settings.set("batch_size", args.batch_size)
        window = MainWindow(settings, model_override=bundle)
        window.resize(1280, 820)
        window.show()
        events: dict[str, object] = {}
        window.folder_loaded.connect(lambda folder, n: events.setdefault("loaded", n))
        window.run_completed.connect(lambda done, total, outcome: events.setdefault("run", (done, total, outcome)))
        window.open_folder(photos)
        assert wait_for(app, lambda: "loaded" in events, 60), "scan did not finish"
        assert wait_for(app, lambda: window.model_label.text().startswith("Model: ") and "Device" in window.model_label.text(), 120), \
            f"model did not load: {window.messages}"
        device = window.model_label.text()

        probe = Probe()
        probe.start()
        started = time.perf_counter()
        assert window.caption("all")
        assert wait_for(app, lambda: "run" in events, 1800), "run did not finish"
        run_s = time.perf_counter() - started
        run = probe.stop()
        done = events["run"][0]

        rows = [
            ("captioning run", f"{done} images in {run_s:.1f} s ({done / run_s:.1f} images/s), {device}"),
            ("  probes (5 ms timer)", f"{run['probes']:,}"),
            ("  longest GUI stall", f"{run['max_ms']:.1f} ms (GUI thread on CPU {run['max_cpu_ms']:.1f} ms of it)"),
            ("  99th percentile gap", f"{run['p99_ms']:.1f} ms"),
            ("  median gap", f"{run['median_ms']:.1f} ms"),
        ]

        if args.scan_files:
            many = work / "many"
            many.mkdir()
            for i in range(args.scan_files):
                (many / f"file_{i:06d}.jpg").touch()  # names are all the scanner looks at
            events.pop("loaded", None)
            probe.start()
            started = time.perf_counter()
            window.open_folder(many)
            assert wait_for(app, lambda: "loaded" in events, 600), "big scan did not finish"
            scan_s = time.perf_counter() - started
            scan = probe.stop()
            rows += [
                ("folder scan", f"{events['loaded']:,} files in {scan_s:.1f} s"),
                ("  longest GUI stall", f"{scan['max_ms']:.1f} ms (GUI thread on CPU {scan['max_cpu_ms']:.1f} ms of it)"),
                ("  99th percentile gap", f"{scan['p99_ms']:.1f} ms"),
            ]
        window.close()

        width = max(len(name) for name, _ in rows)
        print(f"{'measure':<{width}}  value")
        print(f"{'-' * width}  {'-' * 40}")
        for name, value in rows:
            print(f"{name:<{width}}  {value}")
        load = os.getloadavg() if hasattr(os, "getloadavg") else None
        print(f"\n{os.cpu_count()} CPUs" + (f", load average {load[0]:.2f} during the run" if load else ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
