"""Gallery thumbnails and the side panel's large preview (both `decode_thumbnail`) for HEIC,
AVIF, camera RAW and pictures larger than Qt will allocate."""

import pytest
from PIL import Image
from PySide6.QtGui import QImageReader

from tests.photo_files import save_avif, save_dng, save_heic
from visioncap_desktop.workers.thumbnail_loader import ThumbnailLoader, decode_thumbnail


def red_side(image):
    """'left' or 'top': where the red half of the generated pictures is in a QImage."""
    left = image.pixelColor(2, image.height() // 2)
    top = image.pixelColor(image.width() // 2, 2)
    right = image.pixelColor(image.width() - 3, image.height() // 2)
    if left.red() > 150 and right.blue() > 150:
        return "left"
    return "top" if top.red() > 150 and top.blue() < 100 else "other"


@pytest.mark.parametrize(
    ("name", "make", "full", "side"),
    [
        ("a.heic", save_heic, (96, 64), "left"),
        ("b.avif", lambda p: save_avif(p, orientation=6), (64, 96), "top"),
        ("c.dng", lambda p: save_dng(p, orientation=6, preview="jpeg"), (64, 96), "top"),
        ("d.NEF.dng", lambda p: save_dng(p, orientation=6), (64, 96), "top"),
    ],
)
def test_plugin_formats_decode_upright_with_their_full_size(tmp_path, name, make, full, side):
    path = make(tmp_path / name)
    image, original, error = decode_thumbnail(str(path), 24)
    assert error == ""
    assert (original.width(), original.height()) == full  # the sensor's size, not the preview's
    assert max(image.width(), image.height()) == 24
    assert red_side(image) == side


def test_a_raw_file_is_never_shown_as_its_tiff_thumbnail(tmp_path):
    path = save_dng(tmp_path / "e.dng", preview="bitmap")
    assert QImageReader(str(path)).canRead()  # Qt would read the preview IFD as a TIFF...
    _, original, _ = decode_thumbnail(str(path), 16)
    assert (original.width(), original.height()) == (96, 64)  # ...but the sensor size is shown


def test_picture_over_qts_allocation_limit_falls_back_to_core(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (6000, 4000), (200, 30, 30)).save(path, compress_level=1)
    limit = QImageReader.allocationLimit()
    QImageReader.setAllocationLimit(16)  # MB: 6000 x 4000 x 4 bytes is over it
    try:
        assert QImageReader(str(path)).read().isNull()  # Qt refuses it...
        image, original, error = decode_thumbnail(str(path), 64)  # ...core decodes it
    finally:
        QImageReader.setAllocationLimit(limit)
    assert error == "" and (original.width(), original.height()) == (6000, 4000)
    assert (image.width(), image.height()) == (64, 43)


def test_loader_delivers_a_heic_thumbnail(qtbot, tmp_path):
    path = save_heic(tmp_path / "IMG_0001.HEIC")
    loader = ThumbnailLoader(size=32, cache_dir=tmp_path / "thumbs")
    try:
        assert loader.pixmap(str(path)) is None
        with qtbot.waitSignal(loader.thumbnail_ready, timeout=10000) as ready:
            pass
        assert ready.args == [str(path), 96, 64] and loader.failure(str(path)) is None
        assert loader.pixmap(str(path)).width() == 32
    finally:
        loader.shutdown()
