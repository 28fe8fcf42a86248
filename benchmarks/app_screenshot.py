"""Make docs/screenshot.png: the main window after captioning a folder of generated pictures.

    python benchmarks/app_screenshot.py [--out docs/screenshot.png] [--offscreen]

Draws a dozen colourful test pictures (plus one broken file, to show the error state) into a
temporary folder and runs `python -m visioncap_desktop --screenshot OUT FOLDER --model BUNDLE`
under Xvfb when `xvfb-run` is installed (real X11 fonts and styles), else on Qt's offscreen
platform. The model is the built-in demo bundle when core/assets/demo exists, else the tiny
random-weights test bundle (real model code; its captions are gibberish). Settings, caption
store and thumbnail cache go to a temporary VISIONCAP_HOME.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NAMES = ["beach_day", "city_lights", "red_balloon", "garden", "kite_festival", "harbour",
         "picnic", "mountain_lake", "street_market", "snow_field", "orchard", "night_sky"]


def make_pictures(folder: Path) -> None:
    from tests.app.images import draw_scene

    folder.mkdir(parents=True)
    for i, name in enumerate(NAMES):
        image = draw_scene(i * 7 + 3, (480, 360))
        if i % 3 == 2:
            image.save(folder / f"{name}.png")
        else:
            image.save(folder / f"{name}.jpg", quality=90)
    (folder / "scan_0042.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a photo")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    parser.add_argument("--offscreen", action="store_true", help="use Qt's offscreen platform even if Xvfb is there")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="visioncap-screenshot-"))
    try:
        folder = work / "Holiday photos"
        make_pictures(folder)
        demo = REPO / "core" / "assets" / "demo"
        if (demo / "manifest.json").is_file():
            bundle = demo
        else:
            from tests.tiny import make_tiny_bundle

            bundle = make_tiny_bundle(work / "tiny-bundle")
        env = {**os.environ, "VISIONCAP_HOME": str(work / "home")}
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
