import io

import numpy as np
import pytest
from PIL import Image

from core.errors import ImageError
from core.images import reading as images
from core.images.reading import (
    collect_images,
    image_to_array,
    iter_image_files,
    load_image,
    load_image_sized,
)
from tests.photo_files import save_png_claiming


def save(image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    path = save(image, tmp_path / "rot.jpg", exif=exif)
    assert load_image(path).size == (20, 40)


@pytest.mark.parametrize(
    ("mode", "make"),
    [
        ("P-transparent", lambda: Image.new("P", (8, 8), 0)),
        ("RGBA", lambda: Image.new("RGBA", (8, 8), (255, 0, 0, 0))),
        ("LA", lambda: Image.new("LA", (8, 8), (10, 0))),
        ("CMYK", lambda: Image.new("CMYK", (8, 8), (0, 255, 255, 0))),
        ("L", lambda: Image.new("L", (8, 8), 128)),
        ("1", lambda: Image.new("1", (8, 8), 1)),
        ("I;16", lambda: Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))),
        ("F", lambda: Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))),
    ],
)
def test_any_mode_becomes_rgb(mode, make):
    image = make()
    if mode == "P-transparent":
        image.info["transparency"] = 0
    rgb = load_image(image)
    assert rgb.mode == "RGB" and rgb.size == (8, 8)
    if mode in ("P-transparent", "RGBA", "LA"):
        assert rgb.getpixel((0, 0)) == (255, 255, 255)  # transparent shows as white
    if mode == "CMYK":
        assert rgb.getpixel((0, 0))[0] > 200 and rgb.getpixel((0, 0))[1] < 50
    if mode == "I;16":
        assert rgb.getpixel((0, 0)) == (255, 255, 255)


def test_16bit_midtones_are_scaled_not_clipped():
    image = Image.fromarray(np.full((4, 4), 32768, dtype=np.uint16))
    assert 120 <= load_image(image).getpixel((0, 0))[0] <= 135


def test_16bit_png_file(tmp_path):
    path = save(Image.fromarray(np.full((4, 4), 30000, dtype=np.uint16)), tmp_path / "deep.png")
    assert 100 < load_image(path).getpixel((0, 0))[0] < 130


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "empty file"), (b"this is not an image", "not an image"), (None, "truncated")],
)
def test_unreadable_files_have_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    if content is None:
        buffer = io.BytesIO()
        Image.effect_noise((256, 256), 50).convert("RGB").save(buffer, "JPEG")
        content = buffer.getvalue()[:2000]
    path.write_bytes(content)
    with pytest.raises(ImageError, match=reason):
        load_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "nope.png")


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    path = save_png_claiming(tmp_path / "bomb.png", 30000, 30000)  # 900 MP in a few hundred bytes
    assert path.stat().st_size < 1000
    with pytest.raises(ImageError, match=r"too many pixels: 30,000 x 30,000 \(900 MP\) in a PNG"):
        load_image(path, min_size=224)


def test_pillow_guard_stays_as_a_backstop(tmp_path, monkeypatch):
    assert Image.MAX_IMAGE_PIXELS >= images.JPEG_MAX_PIXELS  # raised only as far as JPEG goes
    path = save(Image.new("RGB", (100, 100)), tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageError, match="too many pixels"):
        load_image(path)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp"])
def test_full_size_formats_are_accepted_up_to_the_budget(tmp_path, suffix):
    path = save(Image.effect_noise((400, 300), 30).convert("RGB"), tmp_path / f"photo{suffix}")
    assert load_image(path, max_pixels=120_000).size == (400, 300)
    with pytest.raises(ImageError, match=r"400 x 300 .* decodes at full size; the limit is 0 MP"):
        load_image(path, max_pixels=119_999)


def test_jpeg_over_the_budget_decodes_at_reduced_scale(tmp_path):
    path = save(Image.effect_noise((800, 600), 30).convert("RGB"), tmp_path / "huge.jpg", quality=90)
    image, full = load_image_sized(path, max_pixels=100_000)  # 480,000 px: 1/4 scale fits
    assert image.size == (200, 150) and full == (800, 600)
    image, full = load_image_sized(path, min_size=50, max_pixels=100_000)
    assert image.size == (100, 75) and full == (800, 600)  # min_size may shrink it further
    assert load_image(path, min_size=100, max_pixels=100_000).size == (200, 150)  # not below it


def test_full_size_is_reported_upright_when_decoded_smaller(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save(Image.effect_noise((1600, 800), 30).convert("RGB"), tmp_path / "turned.jpg", exif=exif)
    image, full = load_image_sized(path, min_size=100)
    assert full == (800, 1600) and image.height > image.width and image.width < 800


def test_large_full_size_decodes_are_shrunk_at_once(tmp_path, monkeypatch):
    path = save(Image.new("RGBA", (1000, 600), (255, 0, 0, 255)), tmp_path / "large.png")
    monkeypatch.setattr(images, "REDUCE_ABOVE", 500_000)
    assert load_image(path, min_size=100).size == (167, 100)  # reduced by 6, never below 100
    assert load_image(path).size == (1000, 600)  # no min_size: the whole picture


def test_jpeg_draft_decodes_large_photos_smaller_but_not_below_the_model_size(tmp_path):
    path = save(Image.effect_noise((2000, 1500), 30).convert("RGB"), tmp_path / "big.jpg")
    image = load_image(path, min_size=224)
    assert 224 <= min(image.size) < 1500


def test_image_to_array_range_and_shape():
    array = image_to_array(Image.new("RGB", (50, 30), (255, 0, 128)), 32)
    assert array.shape == (3, 32, 32) and array.dtype == np.float32
    assert np.allclose(array[:, 0, 0], [1.0, 0.0, 128 / 255])


def test_scanning_matches_extensions_in_any_case_and_recurses_on_request(tmp_path):
    for name in ["a.JPG", "b.jpeg", "c.PnG", "d.webp", "e.bmp", "f.GIF", "g.tif", "h.TIFF", "notes.txt", ".hidden.jpg"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.png").write_bytes(b"x")
    flat = {p.name for p in iter_image_files(tmp_path)}
    assert flat == {"a.JPG", "b.jpeg", "c.PnG", "d.webp", "e.bmp", "f.GIF", "g.tif", "h.TIFF"}
    names = [name for _, name in collect_images([tmp_path], recursive=True)]
    assert "sub/deep.png" in names and names == sorted(names)


def test_collect_images_reports_a_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        collect_images([tmp_path / "nope"])


# --- decodes shared between two readers (the app's thumbnails and its model) ---------------------


def big_jpeg(path, size=(1600, 1200), seed=0, **kwargs):
    """A JPEG large enough that a 32 px and a 128 px reader both decode it at 1/8 scale."""
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 255, (size[1] // 40, size[0] // 40, 3), dtype=np.uint8))
    return save(small.resize(size, Image.Resampling.BICUBIC), path, quality=90, **kwargs)


def test_a_shared_decode_is_handed_to_the_other_reader_with_the_same_pixels(tmp_path):
    path = big_jpeg(tmp_path / "photo.jpg")
    shared = images.SharedDecodes()
    thumbnail_read = load_image(path, min_size=128, shared=shared)  # decodes, leaves it there
    assert len(shared) == 1 and shared.hits == 0
    model_read = load_image(path, min_size=32, shared=shared)  # takes it: same 1/8 scale decode
    assert shared.hits == 1 and len(shared) == 0  # handed on once
    alone = load_image(path, min_size=32)
    assert model_read.size == alone.size == thumbnail_read.size == (200, 150)
    assert np.array_equal(np.asarray(model_read), np.asarray(alone))
    assert np.array_equal(image_to_array(model_read, 32), image_to_array(alone, 32))


def test_a_shared_decode_is_taken_only_for_the_same_file_and_scale(tmp_path):
    path = big_jpeg(tmp_path / "photo.jpg")
    shared = images.SharedDecodes()
    load_image(path, min_size=32, shared=shared)
    load_image(path, min_size=400, shared=shared)  # 1/2 scale (800 x 600): another decode
    assert shared.hits == 0 and len(shared) == 2
    big_jpeg(path, seed=1)  # the file changed: its old decodes are never handed out
    changed = load_image(path, min_size=32, shared=shared)
    assert shared.hits == 0
    assert np.array_equal(np.asarray(changed), np.asarray(load_image(path, min_size=32)))
    png = save(Image.new("RGB", (1600, 1200), "red"), tmp_path / "photo.png")
    load_image(png, min_size=32, shared=shared)  # only JPEGs, which decode small, are shared
    assert len(shared) == 3


def test_a_shared_decode_keeps_the_orientation_and_full_size(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    path = big_jpeg(tmp_path / "rot.jpg", exif=exif)
    shared = images.SharedDecodes()
    first = load_image_sized(path, min_size=128, shared=shared)
    second = load_image_sized(path, min_size=32, shared=shared)
    assert shared.hits == 1
    assert first[1] == second[1] == (1200, 1600)  # full size, upright
    assert second[0].size == (150, 200)
    first[0].thumbnail((20, 20))  # a reader changing its own picture ...
    assert second[0].size == (150, 200)  # ... changes nobody else's


def test_shared_decodes_stay_under_their_byte_limit(tmp_path):
    shared = images.SharedDecodes(max_bytes=4 * 200 * 150 * 3)  # room for four 200 x 150 decodes
    paths = [big_jpeg(tmp_path / f"p{i}.jpg", seed=i) for i in range(5)]
    for path in paths:
        load_image(path, min_size=32, shared=shared)
    assert len(shared) == 4  # the oldest went
    load_image(paths[0], min_size=32, shared=shared)
    assert shared.hits == 0
    load_image(paths[4], min_size=32, shared=shared)
    assert shared.hits == 1
    one_big = images.SharedDecodes(max_bytes=3 * 800 * 600 * 3)
    load_image(paths[0], min_size=400, shared=one_big)
    assert len(one_big) == 0  # over a quarter of the limit: it would push out everything else
