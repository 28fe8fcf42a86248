"""Generated test pictures: colourful shapes on gradients, plus the broken files a real folder has.

Also used by benchmarks/app_gui_stall.py.
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

PALETTE = [
    (230, 57, 70), (241, 143, 1), (255, 209, 102), (6, 214, 160), (17, 138, 178),
    (7, 59, 76), (131, 56, 236), (255, 0, 110), (58, 134, 255), (141, 153, 174),
]


def draw_scene(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A vertical two-colour gradient with a few circles, rectangles and triangles."""
    rng = random.Random(seed)
    w, h = size
    top, bottom = rng.sample(PALETTE, 2)
    gradient = Image.linear_gradient("L").resize((w, h))
    image = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), gradient)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(2, 5)):
        colour = rng.choice(PALETTE)
        x, y = rng.randint(0, w - 1), rng.randint(0, h - 1)
        r = rng.randint(min(w, h) // 10, min(w, h) // 3)
        kind = rng.choice(("circle", "rect", "triangle"))
        if kind == "circle":
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline=(255, 255, 255), width=2)
        elif kind == "rect":
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=colour)
        else:
            draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=colour)
    return image


def make_images(folder: Path, count: int, size: tuple[int, int] = (320, 240), start: int = 0,
                suffixes: tuple[str, ...] = (".jpg", ".png")) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"img_{i:05d}{suffixes[i % len(suffixes)]}"
        draw_scene(i, size).save(path, quality=85) if path.suffix == ".jpg" else draw_scene(i, size).save(path)
        paths.append(path)
    return paths


def make_problem_folder(folder: Path, good: int = 6) -> dict[str, list[Path]]:
    """`good` readable images (one with a non-ASCII name and an upper-case extension), a
    corrupt JPEG, a zero-byte PNG and a text file that is not an image at all."""
    readable = make_images(folder, good - 1, size=(96, 72))
    accented = folder / "Café Ünïcödé 写真.PNG"
    draw_scene(99, (96, 72)).save(accented, format="PNG")
    readable.append(accented)
    corrupt = folder / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + b"this is not really a jpeg" * 10)
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    (folder / "notes.txt").write_text("not an image", encoding="utf-8")
    return {"readable": readable, "broken": [corrupt, empty]}
