"""The app's captioning rate against the CLI's, side by side on the same folder of large JPEGs.

    QT_QPA_PLATFORM=offscreen python benchmarks/app_vs_cli.py [--folder F] [--photos 40]
        [--size 4000x3000] [--model demo] [--repeats 2] [--batch-size 8] [--threads N] [--page-ms 500]

Without --folder, PHOTOS JPEGs of SIZE pixels are made from generated scenes in a temporary
folder (deleted afterwards). Each repeat runs three measurements, each in a fresh process, the
order rotating from one repeat to the next:
- the CLI: `core.cli.main(["caption", FOLDER, "--model", MODEL, "--out", CSV, ...])`, the code
  `visioncap caption` runs, with its model load timed apart (by wrapping the function that loads
  it), so "caption s" is from the model loaded to the CSV written;
- the app, twice: the real MainWindow, shown offscreen (1280x820, default thumbnail size) with a
  fresh VISIONCAP_HOME (cold thumbnail cache); once the model is loaded it opens the folder and
  asks to caption everything at once, as a user would; "caption s" is from the run's start to
  its last caption. "Gallery still": the first screen of thumbnails decodes while the run
  starts; "paging": during the run the user pages down through the gallery every PAGE_MS, so
  the thumbnails of the rows coming into view decode beside the model.
All use the same batch size and CPU threads (the thread policy's automatic count unless
--threads). The ratio app/CLI is of photos/s (target >= 0.80). The CPU seconds each process
used during its run (on Linux also those of the app's GUI thread and of its Qt thread pools,
where thumbnails decode) show where the app's extra time goes. Then what one photo costs each
on one thread, and what the model's input costs when it takes the decode a thumbnail left (the
app's gallery and model share JPEG decodes: core.images.reading.SharedDecodes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_photos(folder: Path, count: int, size: tuple[int, int]) -> None:
    """Textured scenes, upscaled, with fine grain: they compress like photos (about 3 MB at
    12 MP), which matters because decoding time follows the compressed size."""
    from PIL import Image

    from tests.app.images import draw_scene

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        small = Image.blend(draw_scene(i, (800, 600)), Image.effect_noise((800, 600), 50).convert("RGB"), 0.25)
        big = small.resize(size, Image.Resampling.BICUBIC)
        Image.blend(big, Image.effect_noise(size, 24).convert("RGB"), 0.2).save(folder / f"photo_{i:03d}.jpg",
                                                                                quality=90)


def load_average() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def cpu_seconds() -> dict[str, float]:
    """CPU time used so far: the whole process ("all"), and on Linux per thread name ("main"
    for the main thread; "Thread (pooled)" for QThreadPool threads); threads that have ended
    count only in "all"."""
    times = os.times()
    used = {"all": times.user + times.system}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    tasks = Path("/proc/self/task")
    for task in tasks.iterdir() if tasks.is_dir() else ():
        try:
            name = "main" if task.name == str(os.getpid()) else (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return used


def cpu_during(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in after}


# ---------------------------------------------------------------- the two children


def child_cli(folder: str, model: str, batch_size: int, threads: int, work: Path, _page_ms: int) -> dict:
    from core.cli import main as cli

    times = {}
    load = cli._load_captioner

    def timed_load(args):
        started = time.perf_counter()
        captioner = load(args)
        times["load_s"] = time.perf_counter() - started
        times["loaded"] = time.perf_counter()
        times["cpu"] = cpu_seconds()
        return captioner

    cli._load_captioner = timed_load
    code = cli.main(["caption", folder, "--model", model, "--out", str(work / "cli.csv"),
                     "--batch-size", str(batch_size)] + (["--threads", str(threads)] if threads else []))
    ended = time.perf_counter()
    return {"exit": code, "load_s": times["load_s"], "caption_s": ended - times["loaded"], "loadavg": load_average(),
            "cpu": cpu_during(times["cpu"], cpu_seconds())}


def child_app(folder: str, model: str, batch_size: int, threads: int, work: Path, page_ms: int) -> dict:
    os.environ["VISIONCAP_HOME"] = str(work / "home")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from benchmarks.app_gui_stall import wait_for
    from visioncap_desktop.main_window import MainWindow
    from visioncap_desktop.settings import Settings

    app = QApplication(["bench"])
    settings = Settings.load()
    settings.set("batch_size", batch_size)
    settings.set("cpu_threads", threads)
    window = MainWindow(settings, model_override=model)
    window.resize(1280, 820)
    window.show()
    started = time.perf_counter()
    assert wait_for(app, lambda: "Device" in window.model_label.text(), 300), f"model did not load: {window.messages}"
    load_s = time.perf_counter() - started

    events: dict[str, object] = {}
    thumbnails: list[float] = []
    pool_threads: list[int] = []
    run = window.run_controller
    window.thumbnails.thumbnail_ready.connect(lambda *_: thumbnails.append(time.perf_counter()))

    def caption_everything(*_) -> None:  # as soon as the folder is in the gallery
        events["asked"] = time.perf_counter()
        assert window.caption("all")

    window.folder_loaded.connect(caption_everything)
    # "paging": during the run the user looks through the gallery, a page down every page_ms,
    # so the thumbnails of the rows coming into view decode beside the model
    scroll_bar = window.gallery_view.verticalScrollBar()
    scroller = QTimer(interval=max(1, page_ms))
    scroller.timeout.connect(lambda: scroll_bar.setValue(scroll_bar.value() + scroll_bar.pageStep()))

    def run_started(_count: int) -> None:
        events["start"] = time.perf_counter()
        events["cpu"] = cpu_seconds()
        if page_ms:
            scroller.start()

    run.run_started.connect(run_started)
    run.running_changed.connect(lambda: pool_threads.append(window.thumbnails.max_threads()))
    window.run_completed.connect(lambda *args: events.setdefault("end", (time.perf_counter(), args)))
    window.run_completed.connect(lambda *_: events.setdefault("cpu_end", cpu_seconds()))
    window.run_completed.connect(scroller.stop)
    window.open_folder(folder)
    assert wait_for(app, lambda: "end" in events, 3600), "the run did not finish"
    end, (done, _total, outcome) = events["end"]
    start = events["start"]
    result = {
        "load_s": load_s,
        "caption_s": end - start,
        "wait_s": start - events["asked"],  # the captions already in the files are read first
        "done": done,
        "outcome": outcome,
        "thumbs_before": sum(t < start for t in thumbnails),
        "thumbs_during": sum(start <= t <= end for t in thumbnails),
        "pool_threads": pool_threads,
        "loadavg": load_average(),
        "cpu": cpu_during(events["cpu"], events["cpu_end"]),
    }
    window.close()
    return result


def run_child(kind: str, args, folder: Path, work: Path) -> dict:
    """Run one measurement ("cli", "still" or "paging") in a fresh Python process; returns what
    it printed (JSON)."""
    sub = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=work))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    page_ms = args.page_ms if kind == "paging" else 0
    started = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", "cli" if kind == "cli" else "app",
                          "--folder", str(folder), "--model", args.model, "--batch-size", str(args.batch_size),
                          "--threads", str(args.threads), "--page-ms", str(page_ms), "--work", str(sub)],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        sys.exit(f"the {kind} run failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


# ---------------------------------------------------------------- decoding cost per photo


def decode_costs(paths: list[Path], model: str) -> list[tuple[str, float]]:
    """Milliseconds per photo on this thread: the gallery's thumbnail (128 px) as Qt reads it and
    as core reads it (what the gallery does for JPEGs, to share the decode), the model's input
    (core: a DCT-scaled decode to at least the model's size, then the resize), and the model's
    input when it takes the decode a thumbnail left (`SharedDecodes`)."""
    from PySide6.QtGui import QGuiApplication

    from core.bundles.bundle import read_config
    from core.bundles.resources import resolve_model
    from core.images.reading import SharedDecodes, image_to_array, load_image
    from visioncap_desktop.workers.thumbnail_loader import decode_thumbnail

    _app = QGuiApplication.instance() or QGuiApplication(["bench"])
    config = read_config(resolve_model(model))
    shared = SharedDecodes(max_bytes=1 << 30)

    def model_input(path: Path, shared: SharedDecodes | None = None):
        image = load_image(path, min_size=config.image_size, shared=shared)
        return image_to_array(image, config.image_size, config.resize_interpolation)

    rows = []
    for name, decode in (
        ("thumbnail (128 px, Qt)", lambda p: decode_thumbnail(str(p), 128)),
        ("thumbnail (128 px, core, leaving its decode for the model)", lambda p: decode_thumbnail(str(p), 128, shared)),
        (f"model input ({config.image_size} px, core)", model_input),
        ("model input, taking the thumbnail's decode", lambda p: model_input(p, shared)),
    ):
        started = time.perf_counter()
        for path in paths:
            decode(path)
        rows.append((name, (time.perf_counter() - started) / len(paths) * 1000))
    return rows


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, help="photos to caption (default: generated large JPEGs)")
    parser.add_argument("--photos", type=int, default=40, help="how many to generate (default 40)")
    parser.add_argument("--size", default="4000x3000", help="their size (default 4000x3000)")
    parser.add_argument("--model", default="demo", help='bundle folder or "demo" (default)')
    parser.add_argument("--repeats", type=int, default=2, help="runs of each, the order rotating (default 2)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="the model's CPU threads in both (default 0: automatic)")
    parser.add_argument("--page-ms", type=int, default=500,
                        help="the paging app run: a page down this often during the run (default 500)")
    parser.add_argument("--child", choices=("cli", "app"), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        child = child_cli if args.child == "cli" else child_app
        print(json.dumps(child(str(args.folder), args.model, args.batch_size, args.threads, args.work, args.page_ms)))
        return 0

    work = Path(tempfile.mkdtemp(prefix="visioncap-bench-app-cli-"))
    try:
        folder = args.folder
        if folder is None:
            folder = work / "photos"
            width, height = (int(v) for v in args.size.lower().split("x"))
            started = time.perf_counter()
            make_photos(folder, args.photos, (width, height))
            print(f"made {args.photos} JPEGs of {width}x{height} in {time.perf_counter() - started:.0f} s")
        from core.images.reading import collect_images

        photos = [Path(p) for p, _ in collect_images([folder])]
        megabytes = sum(p.stat().st_size for p in photos) / 2**20
        print(f"{len(photos)} photos, {megabytes:.0f} MB, model {args.model}, batch size {args.batch_size}, "
              f"CPU threads {args.threads or 'automatic'}, {os.cpu_count()} CPUs\n")

        kinds = ("cli", "still", "paging")
        results: dict[str, list[dict]] = {kind: [] for kind in kinds}
        for repeat in range(args.repeats):
            order = kinds[repeat % 3:] + kinds[:repeat % 3]  # each goes first in turn
            for kind in order:
                result = run_child(kind, args, folder, work)
                if kind == "cli":
                    assert result["exit"] == 0, f"the CLI exited with {result['exit']}"
                else:
                    assert result["outcome"] == "completed" and result["done"] == len(photos), result
                result["rate"] = len(photos) / result["caption_s"]
                result["order"] = order.index(kind) + 1
                results[kind].append(result)

        print("| run | repeat (order) | process s | model load s | wait s | caption s | photos/s | vs CLI "
              "| CPU s in the run: process (GUI thread, Qt pools) "
              "| thumbnails decoded in the run | thumbnail threads (run, after) | load average |")
        print("|" + "---|" * 12)
        names = {"cli": "CLI", "still": "app, gallery still", "paging": f"app, a page down every {args.page_ms} ms"}
        ratios: dict[str, list[float]] = {"still": [], "paging": []}
        for kind in kinds:
            for repeat, result in enumerate(results[kind]):
                ratio = result["rate"] / results["cli"][repeat]["rate"]
                cells = [names[kind], f"{repeat + 1} ({result['order']})", f"{result['wall_s']:.1f}",
                         f"{result['load_s']:.1f}", "", f"{result['caption_s']:.2f}", f"{result['rate']:.1f}",
                         f"{ratio:.2f}", f"{result['cpu']['all']:.2f}", "", "", f"{result['loadavg']:.2f}"]
                if kind != "cli":
                    ratios[kind].append(ratio)
                    cpu = result["cpu"]
                    if "main" in cpu:
                        cells[8] += f" ({cpu['main']:.2f}, {cpu.get('Thread (pooled)', 0.0):.2f})"
                    cells[4] = f"{result['wait_s']:.1f}"
                    cells[9] = f"{result['thumbs_during']} (before it: {result['thumbs_before']})"
                    cells[10] = ", ".join(map(str, result["pool_threads"]))
                print("| " + " | ".join(cells) + " |")
        for kind, values in ratios.items():
            print(f"\n{names[kind]} / CLI photos/s: median {statistics.median(values):.2f}, "
                  f"worst {min(values):.2f} (target >= 0.80)", end="")
        print("\n\n'wait s': from asking to caption to the run's start (the captions already in the files are "
              "read first); 'caption s': model loaded (CLI) or run start (app) to the last caption.")

        print("\n| decode, one thread | ms per photo |\n|---|---|")
        for name, ms in decode_costs(photos[:10], args.model):
            print(f"| {name} | {ms:.0f} |")
        if os.path.exists("/proc/loadavg"):
            print(f"\nload average now (1, 5, 15 min): {Path('/proc/loadavg').read_text().split()[:3]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
