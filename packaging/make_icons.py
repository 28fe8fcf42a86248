"""Draw VisionCap's application icon with Pillow and write it in the three formats installers use.

    python packaging/make_icons.py   # packaging/icons/visioncap.{ico,icns}, visioncap_desktop/assets/visioncap.png

The icon is a photo frame (a sun over two hills) with a caption bar under it: what the app does.
It is drawn at 1024 px and downsampled, so every size is antialiased. The files are committed;
run this again only after changing the drawing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

ICON_DIR = Path(__file__).resolve().parent / "icons"
PNG_PATH = Path(__file__).resolve().parent.parent / "visioncap_desktop" / "assets" / "visioncap.png"  # window icon
MASTER = 1024  # drawing size; every output is a downsample of it
PNG_SIZE = 256  # the .png that Linux (.desktop) and the app use
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]
ICNS_SIZES = [16, 32, 64, 128, 256, 512, 1024]  # Pillow writes each as its own ICNS entry

BACKGROUND = (32, 60, 110, 255)
FRAME = (245, 246, 250, 255)
SKY = (128, 186, 240, 255)
SUN = (255, 204, 64, 255)
HILL_NEAR = (58, 150, 90, 255)
HILL_FAR = (96, 180, 120, 255)
CAPTION = (255, 255, 255, 255)


def draw_icon(size: int = MASTER) -> Image.Image:
    """The icon as an RGBA image of `size` x `size` (drawn at MASTER, then resized)."""
    image = Image.new("RGBA", (MASTER, MASTER), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    s = MASTER / 1024  # all coordinates below are on a 1024 grid
    draw.rounded_rectangle((40 * s, 40 * s, 984 * s, 984 * s), radius=200 * s, fill=BACKGROUND)

    # the photo: white frame, sky, sun, two hills
    photo = (170 * s, 150 * s, 854 * s, 650 * s)
    draw.rounded_rectangle(photo, radius=36 * s, fill=FRAME)
    inner = (200 * s, 180 * s, 824 * s, 620 * s)
    scene = Image.new("RGBA", image.size, SKY)
    scene_draw = ImageDraw.Draw(scene)
    scene_draw.ellipse((600 * s, 220 * s, 730 * s, 350 * s), fill=SUN)
    scene_draw.ellipse((80 * s, 430 * s, 620 * s, 900 * s), fill=HILL_FAR)
    scene_draw.ellipse((420 * s, 470 * s, 1000 * s, 960 * s), fill=HILL_NEAR)
    box = tuple(round(v) for v in inner)
    image.alpha_composite(scene.crop(box), dest=box[:2])  # the crop clips the hills to the photo

    # the caption: two text-like bars under the photo
    draw.rounded_rectangle((170 * s, 720 * s, 854 * s, 780 * s), radius=30 * s, fill=CAPTION)
    draw.rounded_rectangle((170 * s, 820 * s, 640 * s, 880 * s), radius=30 * s, fill=CAPTION)
    return image if size == MASTER else image.resize((size, size), Image.Resampling.LANCZOS)


def write_icons(out_dir: Path = ICON_DIR, png: Path = PNG_PATH) -> list[Path]:
    """Write visioncap.ico (16-256 px) and .icns (16-1024 px) into `out_dir`, and the 256 px
    .png that the app shows and Linux menus use to `png`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    master = draw_icon()
    master.resize((PNG_SIZE, PNG_SIZE), Image.Resampling.LANCZOS).save(png, optimize=True)
    ico = out_dir / "visioncap.ico"
    master.save(ico, sizes=ICO_SIZES)
    icns = out_dir / "visioncap.icns"
    master.resize((512, 512), Image.Resampling.LANCZOS).save(
        icns, append_images=[master.resize((n, n), Image.Resampling.LANCZOS) for n in ICNS_SIZES]
    )
    return [png, ico, icns]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ICON_DIR, help=f"folder to write (default {ICON_DIR})")
    args = parser.parse_args(argv)
    for path in write_icons(args.out):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
