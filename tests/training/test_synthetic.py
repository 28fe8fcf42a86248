"""The synthetic shapes set: determinism, captions re-derived from the scenes, pixels, splits."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest
from PIL import Image

from training.annotations import read_captions
from training.synthetic import COLOURS, SceneConfig, generate_dataset, main, sample_scene

SPLITS = ("train", "val", "test")


def _expected_caption(shapes) -> str:
    """The grammar, written out again independently of `training.synthetic.describe`."""
    if len(shapes) == 1:
        (s,) = shapes
        return f"a {s.size} {s.colour} {s.kind}"
    centres = [(s.x0 + s.px / 2, s.y0 + s.px / 2) for s in shapes]
    dx = max(c[0] for c in centres) - min(c[0] for c in centres)
    dy = max(c[1] for c in centres) - min(c[1] for c in centres)
    axis = 0 if dx > dy else 1
    ordered = [s for _, s in sorted(zip(centres, shapes), key=lambda pair: pair[0][axis])]
    names = [f"a {s.size} {s.colour} {s.kind}" for s in ordered]
    if len(names) == 2:
        return f"{names[0]} {['to the left of', 'above'][axis]} {names[1]}"
    order = ["from left to right", "from top to bottom"][axis]
    return f"{order}, {names[0]}, {names[1]} and {names[2]}"


def _check_geometry(shapes, config: SceneConfig) -> None:
    size, gap = config.image_size, config.gap_px
    for s in shapes:
        assert s.px == (config.small_px if s.size == "small" else config.large_px)
        assert s.x0 >= 0 and s.y0 >= 0
        assert s.x0 + s.px <= size and s.y0 + s.px <= size
    looks = [(s.kind, s.colour, s.size) for s in shapes]
    assert len(set(looks)) == len(looks)
    for a, b in itertools.combinations(shapes, 2):
        # boxes apart by at least the gap along one axis: the shapes cannot overlap
        apart_x = max(a.x0 - (b.x0 + b.px), b.x0 - (a.x0 + a.px))
        apart_y = max(a.y0 - (b.y0 + b.px), b.y0 - (a.y0 + a.px))
        assert max(apart_x, apart_y) >= gap
    if len(shapes) > 1:
        # the named axis is clear: along it, consecutive centres are at least twice as far
        # apart as across it
        centres = [(s.x0 + s.px / 2, s.y0 + s.px / 2) for s in shapes]
        dx = max(c[0] for c in centres) - min(c[0] for c in centres)
        dy = max(c[1] for c in centres) - min(c[1] for c in centres)
        axis = 0 if dx > dy else 1
        ordered = sorted(centres, key=lambda c: c[axis])
        for first, second in itertools.pairwise(ordered):
            along = second[axis] - first[axis]
            across = abs(second[1 - axis] - first[1 - axis])
            assert along >= config.small_px + gap
            assert across <= along / 2


@pytest.mark.parametrize("max_shapes", [1, 2, 3])
def test_scenes_are_valid_for_many_seeds(max_shapes):
    config = SceneConfig(max_shapes=max_shapes)
    counts = set()
    for seed in range(1500):
        shapes = sample_scene(np.random.default_rng([seed, 0]), config)
        _check_geometry(shapes, config)
        counts.add(len(shapes))
    assert counts == set(range(1, max_shapes + 1))


def test_generated_dataset_captions_pixels_and_splits(tmp_path):
    samples = generate_dataset(tmp_path, 60, seed=5, max_shapes=3)
    assert [s.caption for s in samples] == [_expected_caption(s.shapes) for s in samples]
    assert any(" to the left of " in s.caption for s in samples)
    assert any(" above " in s.caption for s in samples)

    palette = {name: np.array(rgb, dtype=float) for name, rgb in COLOURS.items()}
    for sample in samples:
        image = np.asarray(Image.open(tmp_path / sample.image).convert("RGB"), dtype=float)
        assert image.shape == (64, 64, 3)
        for shape in sample.shapes:
            # the box centre lies inside every kind of shape, triangles included
            pixel = image[int(shape.y0 + shape.px / 2), int(shape.x0 + shape.px / 2)]
            nearest = min(palette, key=lambda name: np.abs(palette[name] - pixel).sum())
            assert nearest == shape.colour

    with (tmp_path / "captions.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["image", "caption"]
    assert rows[1:] == [[s.image.as_posix(), s.caption] for s in samples]

    records, stats = read_captions("csv", tmp_path / "captions.csv")
    assert len(records) == 60 and not stats.skipped
    splits = {name: read_captions("csv", tmp_path / f"{name}.csv")[0] for name in SPLITS}
    images = {name: {r.image for r in records} for name, records in splits.items()}
    assert [len(images[name]) for name in SPLITS] == [48, 6, 6]
    assert not images["train"] & images["val"]
    assert not images["train"] & images["test"]
    assert not images["val"] & images["test"]
    assert set().union(*images.values()) == {r.image for r in records}


def test_same_seed_gives_identical_files(tmp_path):
    first = generate_dataset(tmp_path / "a", 12, seed=3)
    second = generate_dataset(tmp_path / "b", 12, seed=3)
    other = generate_dataset(tmp_path / "c", 12, seed=4)
    assert first == second
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert len(files) == 12 + 4
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert [s.caption for s in first] != [s.caption for s in other]
    # image i depends on (seed, i) only, not on how many images were asked for
    shorter = generate_dataset(tmp_path / "d", 5, seed=3)
    assert (tmp_path / "d" / "images" / "000004.png").read_bytes() == (
        tmp_path / "a" / "images" / "000004.png"
    ).read_bytes()
    assert shorter == first[:5]


def test_impossible_geometry_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match=r"1\.6x"):
        SceneConfig(small_px=14, large_px=20)
    with pytest.raises(ValueError, match="do not fit"):
        SceneConfig(image_size=32, max_shapes=3, small_px=14, large_px=24)
    with pytest.raises(ValueError, match="max_shapes"):
        generate_dataset(tmp_path, 1, max_shapes=4)


def test_cli_writes_a_dataset(tmp_path, capsys):
    out = tmp_path / "synthetic"
    assert main(["--out", str(out), "--n", "10", "--seed", "1", "--image-size", "96"]) == 0
    assert "wrote 10 images" in capsys.readouterr().out
    with Image.open(out / "images" / "000000.png") as image:
        assert image.size == (96, 96)
    assert all((out / f"{name}.csv").is_file() for name in SPLITS)
    with pytest.raises(SystemExit):
        main(["--out", str(out), "--n", "10", "--max-shapes", "5"])
