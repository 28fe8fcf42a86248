"""Start-up time and memory of `visioncap caption one.jpg --model demo`, beside a bare
`python -c "import torch"` measured in the same run (interleaved; medians), plus where the time
and the memory go.

    python benchmarks/startup.py            # the README figures
    python benchmarks/startup.py --repeats 1

Peak RSS comes from the operating system's account of each finished child (`os.wait4`), so the
figures need a Unix; the stages' memory comes from /proc (Linux).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

STAGES = """
import time, sys
t0 = time.perf_counter()
def report(stage):
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    mb = lambda key: int(status[key].split()[0]) // 1024
    print(f"| {stage} | {time.perf_counter() - t0:.2f} | {mb('VmRSS')} | {mb('VmHWM')} |", flush=True)
import core
import torch
report("import torch")
from core.captioning.captioner import Captioner
from core.bundles.resources import resolve_model
report("import core.captioning.captioner")
captioner = Captioner.load(resolve_model("demo"), device="cpu")
report("load the demo bundle")
captioner.caption([sys.argv[1]])
report("first caption")
"""


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a child process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{args} exited with {proc.returncode}")
    return seconds, usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def import_breakdown() -> list[tuple[str, float]]:
    """Import time of the caption path per top-level package (each module's own time, summed),
    from `python -X importtime`."""
    code = "import core.cli.main, core.captioning.captioner"
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
    totals: dict[str, float] = defaultdict(float)
    for line in out.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", line)
        if match:
            totals[match.group(2).split(".")[0]] += int(match.group(1)) / 1e6
    return sorted(totals.items(), key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "one.jpg"
        Image.effect_mandelbrot((3000, 2000), (-2.0, -1.2, 1.0, 1.2), 64).convert("RGB").save(photo, quality=90)
        commands = {
            'python -c "import torch"': [sys.executable, "-c", "import torch"],
            "visioncap caption one.jpg --model demo": [sys.executable, "-m", "visioncap_desktop.launcher",
                                                        "caption", str(photo), "--model", "demo"],
        }
        times: dict[str, list[float]] = defaultdict(list)
        peaks: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.repeats):
            for name, command in commands.items():
                seconds, peak = run(command)
                times[name].append(seconds)
                peaks[name].append(peak)
        load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "n/a"
        print(f"median of {args.repeats}, interleaved; load average at the end {load}\n")
        print("| command | wall s | peak RSS MB |")
        print("|---|---|---|")
        for name in commands:
            print(f"| {name} | {statistics.median(times[name]):.2f} | {statistics.median(peaks[name]):.0f} |")
        torch_s, cli_s = (statistics.median(times[name]) for name in commands)
        print(f"\nthe CLI takes {cli_s / torch_s:.2f}x a bare import of torch")

        breakdown = import_breakdown()
        print(f"\nimport time of `core.cli.main` and `core.captioning.captioner`: {sum(t for _, t in breakdown):.2f} s "
              "(python -X importtime, each module's own time summed per top-level package)\n")
        print("| package | s |")
        print("|---|---|")
        for package, seconds in breakdown[:8]:
            print(f"| {package} | {seconds:.2f} |")

        if sys.platform.startswith("linux"):
            print("\nstages of one process (cumulative):\n")
            print("| after | s | RSS MB | peak RSS MB |")
            print("|---|---|---|---|")
            out = subprocess.run([sys.executable, "-c", STAGES, str(photo)], cwd=ROOT, capture_output=True, text=True,
                                 env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True)
            print(out.stdout.strip())


if __name__ == "__main__":
    main()
