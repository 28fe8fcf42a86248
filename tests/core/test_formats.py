"""HEIC, AVIF and camera RAW through their plug-ins, and what happens when a plug-in is missing."""

import sys

import pytest
from PIL import Image

from core.errors import ImageError
from core.images import plugins as decoders
from core.images.reading import load_image, load_image_sized
from tests.photo_files import halves, save_avif, save_dng, save_heic

RED_TOP = "red on top"


def looks(image):
    """Where the red half of `halves()` ended up: the side whose outer quarter is all red."""
    from PIL import ImageStat

    w, h = image.size
    strips = {"red on the left": (0, 0, w // 4, h), "red on top": (0, 0, w, h // 4),
              "red on the right": (w - w // 4, 0, w, h), "red at the bottom": (0, h - h // 4, w, h)}
    red = [side for side, box in strips.items()
           if (mean := ImageStat.Stat(image.crop(box)).mean)[0] > 150 and mean[2] < 100]
    assert len(red) == 1, f"no single red side in {image.size}: {red}"
    return red[0]


@pytest.fixture
def no_plugin(monkeypatch):
    """Make `import pillow_heif` and `import rawpy` fail, as when their native libraries are missing."""
    for cached in (decoders.heif_problem, decoders.raw_problem):
        cached.cache_clear()
    monkeypatch.setitem(sys.modules, "pillow_heif", None)
    monkeypatch.setitem(sys.modules, "rawpy", None)
    yield
    for cached in (decoders.heif_problem, decoders.raw_problem):
        cached.cache_clear()


def test_heic_is_decoded(tmp_path):
    image, full = load_image_sized(save_heic(tmp_path / "IMG_0001.HEIC"), min_size=16)
    assert image.mode == "RGB" and image.size == full == (96, 64)
    assert looks(image) == "red on the left"


def test_heic_content_under_a_jpg_name_is_still_read(tmp_path):
    path = tmp_path / "renamed.jpg"
    save_heic(tmp_path / "x.heic").rename(path)
    assert looks(load_image(path)) == "red on the left"


def test_avif_is_decoded_upright(tmp_path):
    image, full = load_image_sized(save_avif(tmp_path / "photo.avif", orientation=6))
    assert image.size == full == (64, 96)
    assert looks(image) == RED_TOP  # turned 90° clockwise, as orientation 6 asks


@pytest.mark.parametrize("preview", [None, "jpeg", "bitmap"])
@pytest.mark.parametrize(("orientation", "expected"), [(1, "red on the left"), (6, "red on top"), (8, "red at the bottom")])
def test_dng_preview_or_demosaic_comes_out_upright(tmp_path, preview, orientation, expected):
    path = save_dng(tmp_path / "raw.dng", orientation=orientation, preview=preview)
    image, full = load_image_sized(path, min_size=16)
    turned = orientation != 1
    assert full == ((64, 96) if turned else (96, 64))
    assert looks(image) == expected
    assert (image.height > image.width) == turned
    assert min(image.size) >= 16


def test_raw_preview_smaller_than_asked_falls_back_to_demosaic(tmp_path):
    path = save_dng(tmp_path / "raw.dng", preview="jpeg")  # preview 48x32, half-size demosaic 48x32
    assert load_image(path, min_size=16).size == (24, 16)  # the preview, at reduced scale
    assert load_image(path, min_size=40).size == (48, 32)  # too small a preview: the sensor data


def test_not_a_raw_file_has_a_reason(tmp_path):
    path = tmp_path / "DSC_0001.NEF"
    path.write_bytes(b"not a raw file at all" * 50)
    with pytest.raises(ImageError, match="not a camera RAW file"):
        load_image(path)
    with pytest.raises(ImageError, match="file not found"):
        load_image(tmp_path / "missing.cr2")


def test_multi_frame_gif_gives_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (20, 10), colour) for colour in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    assert load_image(tmp_path / "anim.gif").getpixel((5, 5))[0] > 200


def test_a_plugin_that_fails_to_load_is_named(tmp_path, request):
    heic = save_heic(tmp_path / "a.heic")
    dng = save_dng(tmp_path / "a.dng")
    request.getfixturevalue("no_plugin")
    with pytest.raises(ImageError, match="needs pillow-heif"):
        load_image(heic)
    with pytest.raises(ImageError, match="needs rawpy"):
        load_image(dng)
    assert decoders.format_problem(".jpg") is None


def test_avif_falls_back_to_pillow_heif_when_pillow_lacks_it(monkeypatch):
    from PIL import features

    class OldPillowHeif:
        registered = False

        @classmethod
        def register_avif_opener(cls):
            cls.registered = True

    decoders.avif_problem.cache_clear()
    monkeypatch.setattr(features, "check", lambda name: False)
    monkeypatch.setitem(sys.modules, "pillow_heif", OldPillowHeif)
    try:
        assert decoders.avif_problem() is None and OldPillowHeif.registered
        decoders.avif_problem.cache_clear()
        monkeypatch.setitem(sys.modules, "pillow_heif", None)
        assert "AVIF needs" in decoders.avif_problem()
    finally:
        decoders.avif_problem.cache_clear()


def test_plugins_are_not_imported_at_start_up():
    import subprocess

    code = "import core.images.reading, sys; print('pillow_heif' in sys.modules, 'rawpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_halves_helper_is_red_on_the_left():
    assert looks(halves()) == "red on the left"
