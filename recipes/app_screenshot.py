"""Make docs/screenshot.png: the main window after captioning a folder of generated pictures.

    python recipes/app_screenshot.py [--out docs/screenshot.png] [--offscreen] [--theme dark]

Writes a dozen pictures from the synthetic shapes set (drawn at 192 px, seed 11: what the
built-in demo model was trained to describe) plus one broken file, to show the error state, into
a temporary folder. Half of the pictures get a `.txt` file of comma-separated tags beside them
(as a tagging tool would leave them), which the app reads as imported captions and counts in its
tag panel; the model captions the rest. Then it runs `python -m visioncap_desktop --screenshot OUT FOLDER --model BUNDLE`
under Xvfb when `xvfb-run` is installed (real X11 fonts and styles), else on Qt's offscreen
platform. The model is the built-in demo bundle (core/assets/demo). Settings, caption store and
thumbnail cache go to a temporary VISIONCAP_HOME; `--theme` is written to its settings first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PICTURES = 12
TAGGED = range(0, PICTURES, 2)  # the pictures that come with a tags .txt


def tags(shapes) -> str:
    """Comma-separated tags for a picture: each shape as "colour kind", its size, how many."""
    words = [f"{s.colour} {s.kind}" for s in shapes]
    words += sorted({s.size for s in shapes})
    words.append("one shape" if len(shapes) == 1 else f"{len(shapes)} shapes")
    return ", ".join(words)


def make_pictures(folder: Path) -> None:
    from training.synthetic import generate_dataset

    samples = generate_dataset(folder / "set", PICTURES, seed=11, image_size=192, val_fraction=0.0,
                               test_fraction=0.0)
    for i, sample in enumerate(samples):
        image = folder / f"shapes_{i + 1:02d}.png"
        (folder / "set" / sample.image).rename(image)
        if i in TAGGED:
            image.with_suffix(".txt").write_text(tags(sample.shapes) + "\n", encoding="utf-8")
    shutil.rmtree(folder / "set")
    (folder / "unreadable_scan.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a picture")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    parser.add_argument("--offscreen", action="store_true", help="use Qt's offscreen platform even if Xvfb is there")
    parser.add_argument("--theme", choices=("system", "light", "dark"), default="dark",
                        help="the app's theme in the picture (default: dark)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="visioncap-screenshot-"))
    try:
        folder = work / "Shapes"
        make_pictures(folder)
        bundle = REPO / "core" / "assets" / "demo"
        env = {**os.environ, "VISIONCAP_HOME": str(work / "home")}
        config = work / "home" / "config"
        config.mkdir(parents=True)
        (config / "settings.json").write_text(json.dumps({"theme": args.theme}), encoding="utf-8")
        command = [sys.executable, "-m", "visioncap_desktop", "--screenshot", str(args.out.resolve()),
                   str(folder), "--model", str(bundle)]
        xvfb = shutil.which("xvfb-run")
        if xvfb and not args.offscreen:
            env.pop("QT_QPA_PLATFORM", None)
            command = [xvfb, "-a", "-s", "-screen 0 1600x1000x24", *command]
        else:
            env["QT_QPA_PLATFORM"] = "offscreen"
        print("running:", " ".join(command))
        return subprocess.run(command, cwd=REPO, env=env, timeout=600).returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
