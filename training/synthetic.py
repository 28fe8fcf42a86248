"""A synthetic captioning set of coloured shapes, to show on a CPU that the captioner learns.

Each image holds 1..max_shapes shapes that never overlap, on a light solid or gradient
background with mild pixel noise. Every word of a caption is decidable from the pixels:

    a large red circle
    a large red circle to the left of a small blue square
    a small green triangle above a large yellow circle
    from left to right, a small red circle, a small blue square and a large green triangle
    from top to bottom, a small purple square, a large orange circle and a small red triangle

A shape is "a {size} {colour} {kind}" (2 x 6 x 3 words). Shapes are named in order along one
axis: left to right ("to the left of") or top to bottom ("above"). Along that axis consecutive
centres are at least (size_a + size_b) / 2 + gap apart; across it, at most half that. So the
axis with the larger spread of centres is the one named, by a margin of two to one. No two
shapes in an image share kind, colour and size, so each phrase names one shape.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from training.annotations import CaptionRecord, split_by_image

logger = logging.getLogger(__name__)

KINDS = ("circle", "square", "triangle")
# Saturated colours, each with one channel <= 55, so none is near a background (all channels
# >= 205) or near another colour (each pair differs by >= 70 in some channel).
COLOURS = {
    "red": (215, 40, 40),
    "green": (40, 160, 60),
    "blue": (40, 80, 215),
    "yellow": (235, 205, 30),
    "orange": (240, 130, 20),
    "purple": (135, 55, 175),
}
SIZES = ("small", "large")
COLOUR_JITTER = 12  # per channel, uniform +-, so the model sees colours, not exact values
BACKGROUND_RANGE = (215, 250)  # light base level of a background colour
BACKGROUND_TINT = 10  # per-channel +- around the base: off-white, pale grey, faint tints
SUPERSAMPLE = 4  # draw at 4x and box-filter down, for anti-aliased edges


@dataclass
class SceneConfig:
    """Geometry and noise of the scenes. Sizes are sides of the shapes' bounding boxes, in px.

    `small_px`, `large_px`, `gap_px` and `margin_px` left at 0 scale with `image_size`:
    14, 24, 4 and 2 px at 64 px.
    """

    image_size: int = 64
    min_shapes: int = 1
    max_shapes: int = 2
    small_px: int = 0  # 7/32 of the image: 14 px at 64, enough to tell a circle from a square
    large_px: int = 0  # 3/8 of the image: 24 px at 64, 1.7x small
    gap_px: int = 0  # least space between two boxes along the naming axis
    margin_px: int = 0  # least space between a box and the image border
    noise_std: float = 4.0  # Gaussian pixel noise, in 0..255 units

    def __post_init__(self) -> None:
        size = self.image_size
        self.small_px = self.small_px or round(size * 7 / 32)
        self.large_px = self.large_px or round(size * 3 / 8)
        self.gap_px = self.gap_px or max(2, size // 16)
        self.margin_px = self.margin_px or max(1, size // 32)
        if not 1 <= self.min_shapes <= self.max_shapes <= 3:
            raise ValueError(
                f"need 1 <= min_shapes <= max_shapes <= 3, got {self.min_shapes}, {self.max_shapes}"
            )
        if self.large_px < 1.6 * self.small_px:
            raise ValueError(
                f"large_px {self.large_px} must be at least 1.6x small_px {self.small_px}"
            )
        if not _fits([self.small_px] * self.max_shapes, self):
            raise ValueError(
                f"{self.max_shapes} shapes of {self.small_px} px with {self.gap_px} px gaps do "
                f"not fit in a row of a {size} px image; use fewer shapes or a larger image"
            )
        if not _fits([self.large_px], self):
            raise ValueError(f"a {self.large_px} px shape does not fit a {size} px image")

    def pixels(self, size: str) -> int:
        return self.small_px if size == "small" else self.large_px


@dataclass(frozen=True)
class Shape:
    """One shape and its bounding box (top-left x0, y0 and side px, in image pixels)."""

    kind: str
    colour: str
    size: str
    x0: int
    y0: int
    px: int

    @property
    def centre(self) -> tuple[float, float]:
        return self.x0 + self.px / 2, self.y0 + self.px / 2

    def phrase(self) -> str:
        return f"a {self.size} {self.colour} {self.kind}"


@dataclass(frozen=True)
class SyntheticSample:
    image: Path  # relative to the dataset folder, as in the CSV files
    caption: str
    shapes: tuple[Shape, ...]


# --- scenes ---


def _fits(sizes: Sequence[int], config: SceneConfig) -> bool:
    room = config.image_size - 2 * config.margin_px
    return sum(sizes) + (len(sizes) - 1) * config.gap_px <= room


def sample_scene(rng: np.random.Generator, config: SceneConfig) -> tuple[Shape, ...]:
    """Draw 1..max_shapes shapes laid out along a random axis, in order along that axis."""
    count = int(rng.integers(config.min_shapes, config.max_shapes + 1))
    # Every size sequence that fits in a row, so the choice never has to be retried.
    layouts = [
        sizes
        for sizes in itertools.product(SIZES, repeat=count)
        if _fits([config.pixels(s) for s in sizes], config)
    ]
    sizes = layouts[int(rng.integers(len(layouts)))]
    sides = [config.pixels(s) for s in sizes]

    looks: list[tuple[str, str, str]] = []
    for size in sizes:
        free = [(k, c) for k in KINDS for c in COLOURS if (k, c, size) not in looks]
        kind, colour = free[int(rng.integers(len(free)))]
        looks.append((kind, colour, size))

    # Along the axis: the spare room split at random before, between and after the shapes.
    room = config.image_size - 2 * config.margin_px
    spare = room - sum(sides) - (count - 1) * config.gap_px
    cuts = np.sort(rng.integers(0, spare + 1, size=count))
    along = []
    start = config.margin_px
    for side, cut in zip(sides, cuts, strict=True):
        along.append(start + int(cut))
        start += side + config.gap_px

    # Across the axis: each centre within half the along-axis distance of the previous one.
    across = []
    high = config.image_size - config.margin_px
    for i, side in enumerate(sides):
        lo, hi = config.margin_px, high - side
        if i:
            reach = (along[i] + side / 2 - along[i - 1] - sides[i - 1] / 2) / 2
            previous = across[i - 1] + sides[i - 1] / 2
            lo = max(lo, math.ceil(previous - reach - side / 2))
            hi = min(hi, math.floor(previous + reach - side / 2))
        across.append(int(rng.integers(lo, hi + 1)))

    horizontal = bool(rng.integers(2))
    return tuple(
        Shape(kind, colour, size, *((a, c) if horizontal else (c, a)), side)
        for (kind, colour, size), a, c, side in zip(looks, along, across, sides, strict=True)
    )


def describe(shapes: Sequence[Shape]) -> str:
    """The caption, from the shapes' geometry alone (their order in `shapes` does not matter)."""
    xs = [shape.centre[0] for shape in shapes]
    ys = [shape.centre[1] for shape in shapes]
    horizontal = max(xs) - min(xs) > max(ys) - min(ys)
    ordered = sorted(shapes, key=lambda s: s.centre[0] if horizontal else s.centre[1])
    phrases = [shape.phrase() for shape in ordered]
    if len(phrases) == 1:
        return phrases[0]
    if len(phrases) == 2:
        return f"{phrases[0]} {'to the left of' if horizontal else 'above'} {phrases[1]}"
    listing = ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"from {'left to right' if horizontal else 'top to bottom'}, {listing}"


# --- pixels ---


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A light solid colour or a soft linear gradient between two: (size, size, 3) float32."""

    def light() -> np.ndarray:
        base = rng.integers(*BACKGROUND_RANGE, endpoint=True)
        return base + rng.integers(-BACKGROUND_TINT, BACKGROUND_TINT, size=3, endpoint=True)

    start = np.clip(light(), 0, 255).astype(np.float32)
    if rng.random() < 0.5:
        return np.broadcast_to(start, (size, size, 3))
    end = np.clip(light(), 0, 255).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    coords = np.arange(size, dtype=np.float32) / max(size - 1, 1)
    ramp = np.cos(angle) * coords[None, :] + np.sin(angle) * coords[:, None]  # (size, size)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    return start + (end - start) * ramp[..., None]


def render(shapes: Sequence[Shape], rng: np.random.Generator, config: SceneConfig) -> Image.Image:
    """Draw the scene: background, shapes in jittered colours, noise. Returns an RGB image."""
    size, ss = config.image_size, SUPERSAMPLE
    background = _background(rng, size)
    canvas = Image.fromarray(background.astype(np.uint8)).resize((size * ss, size * ss))
    draw = ImageDraw.Draw(canvas)
    for shape in shapes:
        jitter = rng.integers(-COLOUR_JITTER, COLOUR_JITTER, size=3, endpoint=True)
        fill = tuple(int(v) for v in np.clip(np.array(COLOURS[shape.colour]) + jitter, 0, 255))
        left, top = shape.x0 * ss, shape.y0 * ss
        right, bottom = left + shape.px * ss - 1, top + shape.px * ss - 1
        if shape.kind == "circle":
            draw.ellipse((left, top, right, bottom), fill=fill)
        elif shape.kind == "square":
            draw.rectangle((left, top, right, bottom), fill=fill)
        else:  # an upright isosceles triangle filling its box's width at the base
            draw.polygon([((left + right) / 2, top), (right, bottom), (left, bottom)], fill=fill)
    pixels = np.asarray(canvas.reduce(ss), dtype=np.float32)  # (size, size, 3)
    pixels = pixels + rng.normal(0.0, config.noise_std, pixels.shape)
    return Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))


# --- the dataset ---


def _write_csv(path: Path, records: Sequence[CaptionRecord]) -> None:
    # "\n" line ends, so the files are byte-identical on every platform.
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["image", "caption"])
        writer.writerows([record.image.as_posix(), record.caption] for record in records)


def generate_dataset(
    out_dir: str | Path,
    n: int,
    seed: int = 0,
    *,
    image_size: int = 64,
    min_shapes: int = 1,
    max_shapes: int = 2,
    small_px: int = 0,
    large_px: int = 0,
    noise_std: float = 4.0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> list[SyntheticSample]:
    """Write `n` images to out_dir/images/ and captions.csv, train.csv, val.csv, test.csv.

    CSV columns are image,caption; image paths are relative to out_dir with forward slashes.
    Splits are by image (one caption each). Image i depends only on (seed, i), and the same
    arguments give byte-identical files. Other files already in out_dir are left alone.
    Returns the samples in index order. Raises ValueError for an impossible geometry.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    config = SceneConfig(
        image_size=image_size,
        min_shapes=min_shapes,
        max_shapes=max_shapes,
        small_px=small_px,
        large_px=large_px,
        noise_std=noise_std,
    )
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    width = max(6, len(str(n - 1)))
    samples = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        shapes = sample_scene(rng, config)
        image = Path("images") / f"{i:0{width}d}.png"
        render(shapes, rng, config).save(out_dir / image)
        samples.append(SyntheticSample(image, describe(shapes), shapes))

    records = [CaptionRecord(sample.image, sample.caption) for sample in samples]
    _write_csv(out_dir / "captions.csv", records)
    splits = split_by_image(records, val_fraction, test_fraction, seed)
    for name, split in zip(("train", "val", "test"), splits, strict=True):
        _write_csv(out_dir / f"{name}.csv", split)
    logger.info("wrote %d synthetic images to %s", n, out_dir)
    return samples


def main(argv: list[str] | None = None) -> int:
    """`python -m training synthetic --out DIR --n N --seed S [--image-size 64] [--max-shapes 2]`."""
    parser = argparse.ArgumentParser(
        prog="python -m training synthetic",
        description="Write a synthetic shapes captioning dataset (images + CSV splits).",
    )
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    parser.add_argument("--n", type=int, default=10_000, help="number of images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--min-shapes", type=int, default=1)
    parser.add_argument("--max-shapes", type=int, default=2, help="at most 3")
    parser.add_argument("--small-px", type=int, default=0, help="0: scaled with the image")
    parser.add_argument("--large-px", type=int, default=0, help="0: scaled with the image")
    parser.add_argument("--noise-std", type=float, default=4.0)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        samples = generate_dataset(
            args.out,
            args.n,
            args.seed,
            image_size=args.image_size,
            min_shapes=args.min_shapes,
            max_shapes=args.max_shapes,
            small_px=args.small_px,
            large_px=args.large_px,
            noise_std=args.noise_std,
            val_fraction=args.val_fraction,
            test_fraction=args.test_fraction,
        )
    except ValueError as exc:
        parser.error(str(exc))
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    print(f"wrote {len(samples)} images and captions to {args.out} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
