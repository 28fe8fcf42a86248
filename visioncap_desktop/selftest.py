"""`visioncap --self-test`: check an installation (a frozen build above all) without a window.

Checks the system libraries Qt needs, decodes the bundled sample images with Qt's image plugins,
loads the demo bundle (or --model) the way the app's caption worker does (core's
load_captioner), captions the samples, writes a CSV and reads it back, and
writes a caption into a copy of a sample photo and into an XMP sidecar and reads both back (the
metadata library's native code must work in a frozen build too). Prints
one line per step; exits 0, or non-zero with one `self-test FAILED at STEP: ...` line. Every error
inside a step, whatever its type (an ImportError from a missing library included), becomes that
line: the self-test never ends with a traceback.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from visioncap_desktop import export
from visioncap_desktop.records import CaptionState, ImageRecord
from visioncap_desktop.resources import demo_bundle_path, resource_path, sample_images
from visioncap_desktop.system_libraries import (
    MISSING_LIBRARIES_EXIT,
    TOO_OLD_EXIT,
    build_info,
    missing_libraries,
    system_report,
    too_old,
)

EXPECTED_CAPTIONS = "expected_demo_captions.csv"


class SelfTestError(Exception):
    def __init__(self, step: str, message: str, code: int):
        super().__init__(f"{step}: {message}")
        self.code = code


@contextmanager
def _step(name: str, code: int) -> Iterator[None]:
    """Any error raised inside becomes a SelfTestError for this step."""
    try:
        yield
    except SelfTestError:
        raise
    except Exception as exc:  # naming every failure, whatever its type, is this module's whole job
        raise SelfTestError(name, f"{type(exc).__name__}: {exc}", code) from exc


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _check_system_libraries() -> None:
    # the system's own version first (glibc for a frozen Linux build, macOS 14): the same line
    # as install.sh and --check-system
    info = build_info()
    problem = too_old(info)
    if problem:
        raise SelfTestError("system", problem, TOO_OLD_EXIT)
    if report := system_report(info):
        _say(report)
    # the self-test runs Qt without a window, so only what QtGui itself links is needed
    missing = missing_libraries(["offscreen"])
    if missing:
        lines = "\n  ".join(lib.advice() for lib in missing)
        raise SelfTestError("system libraries", f"{len(missing)} missing:\n  {lines}", MISSING_LIBRARIES_EXIT)


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


def check_expected(captions: dict[str, str], expected: dict[str, str]) -> None:
    """Every expected caption must match exactly: greedy decoding of the demo model is
    deterministic, so a single difference means a broken torch, preprocessing or bundle."""
    wrong = [name for name in sorted(expected) if captions.get(name) != expected[name]]
    _say(f"captions as expected for the demo model: {len(expected) - len(wrong)} of {len(expected)}")
    if wrong:
        details = "; ".join(f"{name}: got {captions.get(name)!r}, expected {expected[name]!r}" for name in wrong)
        raise SelfTestError("captioning", f"{len(wrong)} of {len(expected)} demo captions differ ({details})", 5)


def _caption_and_export(captioner, samples: list[Path], work: Path, expected: dict[str, str]) -> None:
    """Caption the samples, compare with `expected` (name -> caption) where given, export a CSV
    and read it back."""
    from core.csvio import read_csv_rows

    images = [Path(shutil.copy2(s, work / s.name)) for s in samples]
    records = []
    with _step("captioning", 5):
        for image, result in zip(images, captioner.caption(images)):
            if result.error:
                raise SelfTestError("captioning", f"{image.name}: {result.error}", 5)
            _say(f"  {image.name}: {result.caption}")
            records.append(ImageRecord(str(image), image.name, result.caption or "", CaptionState.CAPTIONED,
                                       model=captioner.name, style=getattr(captioner, "style", "") or ""))
    if expected:
        check_expected({r.name: r.caption for r in records}, expected)
    csv_path = work / "captions.csv"
    with _step("CSV", 6):
        export.write_csv(csv_path, records)
        columns, rows = read_csv_rows(csv_path)
    if tuple(columns) != export.CSV_COLUMNS or len(rows) != len(records):
        raise SelfTestError("CSV", f"{csv_path} reads back as {len(rows)} rows with columns {columns}", 6)
    _say(f"CSV: {len(rows)} rows written to {csv_path} and read back (the folder is then removed)")
    with _step("photo metadata", 7):
        _check_photo_metadata(records, work)


def _check_photo_metadata(records: list[ImageRecord], work: Path) -> None:
    """Embed the first JPEG copy's caption and write its sidecar, then read both back."""
    from core.metadata.photo_metadata import embed_description, read_embedded
    from core.metadata.sidecars import read_sidecar, write_sidecar

    record = next((r for r in records if r.name.lower().endswith((".jpg", ".jpeg"))), None)
    if record is None:
        _say("photo metadata: skipped (no JPEG sample)")
        return
    text = f"{record.caption} (VisionCap self-test: ü, “quotes”)"
    embed_description(record.path, text)
    found = read_embedded(record.path)
    [written] = write_sidecar(record.path, text)
    sidecar = written.path
    back = read_sidecar(sidecar)
    back = back.text if back else None
    if found is None or found.text != text or back != text:
        got = f"embedded {found.text if found else None!r}, sidecar {back!r}"
        raise SelfTestError("photo metadata", f"{record.path}: wrote {text!r}, read back {got}", 7)
    _say(f"photo metadata: caption embedded in a copy of {record.name} ({found.field}) and in "
         f"{sidecar.name}, read back")


def run_self_test(model: str | None = None) -> int:
    started = time.monotonic()
    try:
        _check_system_libraries()
        _say("system libraries: ok")
        samples = sample_images()
        if not samples:
            raise SelfTestError("sample images", f"none found in {resource_path('assets', 'samples')}", 2)
        _say(f"sample images: {len(samples)} in {samples[0].parent}")
        with _step("Qt image plugins", 3):
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
        with _step("model", 4):
            from core.captioning.device import device_name  # torch: only now
            from visioncap_desktop.model_choice import ModelSpec
            from visioncap_desktop.workers.caption_worker import load_captioner

            captioner = load_captioner(ModelSpec(model or "demo"), "auto")
        _say(f"model: {captioner.name} from {bundle} on {device_name(captioner.device)} in {captioner.precision}")

        with _step("temporary folder", 6), tempfile.TemporaryDirectory(prefix="visioncap-self-test-") as tmp:
            _caption_and_export(captioner, samples, Path(tmp), expected)
    except SelfTestError as exc:
        sys.stderr.write(f"self-test FAILED at {exc}\n")
        return exc.code
    _say(f"self-test passed in {time.monotonic() - started:.1f} s")
    return 0
