"""`visioncap --self-test`: check an installation (a frozen build above all) without a window.

Decodes the bundled sample images with Qt's image plugins, loads the demo bundle (or --model),
captions the samples, writes a CSV and reads it back. Prints one line per step; exits 0, or
non-zero with a line naming what failed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from visioncap_desktop import export
from visioncap_desktop.records import CaptionState, ImageRecord
from visioncap_desktop.resources import demo_bundle_path, resource_path, sample_images

EXPECTED_CAPTIONS = "expected_demo_captions.csv"


class SelfTestError(Exception):
    def __init__(self, step: str, message: str, code: int):
        super().__init__(f"{step}: {message}")
        self.code = code


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _check_qt_images(samples: list[Path]) -> None:
    from PySide6.QtCore import QCoreApplication

    from visioncap_desktop.workers.thumbnail_loader import decode_thumbnail

    if QCoreApplication.instance() is None:
        QCoreApplication(["visioncap-self-test"])
    for sample in samples:
        image, _, error = decode_thumbnail(str(sample), 64)
        if image.isNull():
            raise SelfTestError("Qt image plugins", f"cannot decode {sample.name}: {error}", 3)


def _expected_demo_captions() -> dict[str, str]:
    """What the built-in demo model writes for the sample images (they come from its
    synthetic shapes set)."""
    import csv

    path = resource_path("assets", "samples", EXPECTED_CAPTIONS)
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as f:
        return {row["image"]: row["caption"] for row in csv.DictReader(f)}


def _caption_and_export(captioner, samples: list[Path], work: Path, expected: dict[str, str]) -> None:
    """Caption the samples, compare with `expected` (name -> caption) where given, export a CSV
    and read it back."""
    from core.csvio import read_csv_rows

    images = [Path(shutil.copy2(s, work / s.name)) for s in samples]
    records = []
    for image, result in zip(images, captioner.caption(images)):
        if result.error:
            raise SelfTestError("captioning", f"{image.name}: {result.error}", 5)
        _say(f"  {image.name}: {result.caption}")
        records.append(ImageRecord(str(image), image.name, result.caption or "", CaptionState.CAPTIONED,
                                   model=captioner.name))
    if expected:
        right = sum(expected.get(r.name) == r.caption for r in records)
        _say(f"captions as expected for the demo model: {right} of {len(expected)}")
        if not right:  # a broken torch or preprocessing; a rounding difference would miss one
            raise SelfTestError("captioning", "the demo model got none of the sample captions right", 5)
    csv_path = work / "captions.csv"
    export.write_csv(csv_path, records)
    columns, rows = read_csv_rows(csv_path)
    if tuple(columns) != export.CSV_COLUMNS or len(rows) != len(records):
        raise SelfTestError("CSV", f"{csv_path} reads back as {len(rows)} rows with columns {columns}", 6)
    _say(f"CSV: {len(rows)} rows written to {csv_path} and read back (the folder is then removed)")


def run_self_test(model: str | None = None) -> int:
    started = time.monotonic()
    try:
        samples = sample_images()
        if not samples:
            raise SelfTestError("sample images", f"none found in {resource_path('assets', 'samples')}", 2)
        _say(f"sample images: {len(samples)} in {samples[0].parent}")
        _check_qt_images(samples)
        _say("Qt image plugins: ok")

        expected: dict[str, str] = {}
        if model in (None, "demo"):
            bundle = demo_bundle_path()
            if bundle is None:
                raise SelfTestError("model", "the built-in demo bundle is not installed; pass --model BUNDLE", 2)
            expected = _expected_demo_captions()
        else:
            bundle = Path(model)
        from core.captioner import Captioner  # torch: only now
        from core.errors import VisionCapError

        try:
            captioner = Captioner.load(bundle)
        except (VisionCapError, ValueError, OSError) as exc:
            raise SelfTestError("model", str(exc), 4) from exc
        _say(f"model: {captioner.name} from {bundle} on {captioner.device}")

        with tempfile.TemporaryDirectory(prefix="visioncap-self-test-") as tmp:
            _caption_and_export(captioner, samples, Path(tmp), expected)
    except SelfTestError as exc:
        sys.stderr.write(f"self-test FAILED at {exc}\n")
        return exc.code
    _say(f"self-test passed in {time.monotonic() - started:.1f} s")
    return 0
