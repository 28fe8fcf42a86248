"""Embedded captions on real photos, checked by exiftool: is every other tag kept, and how fast?

    python benchmarks/metadata_check.py FOLDER [--caption TEXT] [--limit N] [--keep-temp]
                                               [--exiftool-per-file N] [--validate]

Needs exiftool on the PATH (Debian/Ubuntu: `apt-get install libimage-exiftool-perl`; macOS:
`brew install exiftool`); it is the independent reader, never VisionCap's own code.

Copies every image under FOLDER (recursively, by extension, any case) into a temporary folder
twice: one copy for VisionCap, one for exiftool. For each VisionCap copy:
- reads every tag with exiftool before and after (`-j -a -G1 -n -u -b`: duplicates kept, family-1
  group names so the same tag in EXIF, XMP and IPTC stays apart, raw numeric values, unknown tags
  too, binary values as base64, compared by SHA-256), and decodes the pixels with Pillow
  (pillow-heif registered; camera RAW also through rawpy's raw data when installed);
- calls `core.metadata.photo_metadata.embed_description(copy, caption)` and classifies the photo:
  `written`: every tag present before is there after with the same value, except the ones listed
  in ALLOWED below (printed per photo), pixels identical, no new exiftool Warning/Error;
  `left unchanged (reason)`: it raised CannotEmbed/MetadataError (or returned written=False) and
  the file is byte-identical; `DAMAGED (what)`: anything else; `FAILED`: it raised something that
  is not a MetadataError (a bug; the detail says whether the file was left byte-identical).
  Besides ALLOWED: positions (POSITION_TAGS, whose data is compared), mirrors that held the old
  caption (MIRRORS: the old caption is any of the three description fields' values, or the
  caption VisionCap's reader showed for the photo before the write, which follows README's
  documented fallbacks: UserComment, Windows' XP fields), WebP's EXIF/XMP presence bits, and an IPTC block exiftool only shows raw
  (compared record by record). Tags a write adds are listed, not counted as damage.
  Limit: exiftool's JSON drops NUL bytes inside text values, so a change in NULs alone is missed.
Timing: VisionCap's embed_description per photo against exiftool writing the same three fields
(`exiftool -overwrite_original -P -EXIF:ImageDescription=... -XMP-dc:Description=...
-IPTC:Caption-Abstract=... FILES`) in one process over all the exiftool copies (time per photo =
total / N), and again over fresh copies of just the photos VisionCap wrote (the ratio that the
1.5x target is about); plus one exiftool process per photo for the first --exiftool-per-file
photos, for comparison. Prints one Markdown table row per photo, then a summary with the CPU.
Exits 1 if any photo is DAMAGED or FAILED, 2 if exiftool is missing or FOLDER holds no images.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXTENSIONS = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff",
        ".heic", ".heif", ".hif", ".avif",
        ".3fr", ".arw", ".cr2", ".cr3", ".crw", ".dcr", ".dng", ".erf", ".iiq", ".k25", ".kdc",
        ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef", ".raf", ".raw", ".rw2", ".rwl",
        ".sr2", ".srf", ".srw", ".x3f",
    }
)
RAW_EXTENSIONS = EXTENSIONS - {
    ".jpg", ".jpeg", ".jpe", ".jfif", ".mpo", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff",
    ".heic", ".heif", ".hif", ".avif",
}
DEFAULT_CAPTION = 'VisionCap check: a red kayak on a lake at dawn, "quoted", naïve café ü ✓'

EXIFTOOL_READ = ["-j", "-a", "-G1", "-n", "-u", "-b", "-api", "LargeFileSupport=1"]

# ---- what a write may change ------------------------------------------------------------------
# Tags (family-1 group:name as exiftool prints them) that may differ after a write:
ALLOWED = {
    # the file system's view of the file, which any rewrite changes
    "System:FileSize", "System:FileModifyDate", "System:FileAccessDate",
    "System:FileInodeChangeDate", "System:FilePermissions",
    # the three description fields VisionCap writes (XMP-dc:Description is the x-default entry;
    # other languages, Description-de and so on, must be kept)
    "IFD0:ImageDescription", "XMP-dc:Description", "IPTC:Caption-Abstract",
    # the IPTC digest Photoshop stores (updated with the IPTC) and exiftool's digest of the IPTC now
    "Photoshop:IPTCDigest", "File:CurrentIPTCDigest",
    # the XMP packet's writer stamp (x:xmptk): every XMP writer puts its own (exiftool does too)
    "XMP-x:XMPToolkit",
}
# Positions of data inside the file, which move when a block in front of them grows; what they
# point to is compared as data (ThumbnailImage, PreviewImage, MPImage2... and the pixels).
POSITION_TAGS = {
    "ThumbnailOffset", "PreviewImageStart", "JpgFromRawStart", "OtherImageStart", "StripOffsets",
    "TileOffsets", "MPImageStart",
}
# Mirrors of the description: they may change only where they held the previous caption (one of
# the three fields' old values, or the caption VisionCap showed), and then only to the new caption.
MIRRORS = {
    "ExifIFD:UserComment", "IFD0:XPTitle", "IFD0:XPSubject", "IFD0:XPComment",
    "XMP-exif:UserComment", "XMP-tiff:ImageDescription", "XMP-dc:Title", "File:Comment", "PNG:Description",
}
MIRROR_PATTERN = re.compile(r"IPTC\d+:Caption-Abstract")  # a second IPTC block's copy (TIFF)
# WebP's VP8X header flags say which chunks follow: adding EXIF (0x08) or XMP (0x04) sets a bit.
WEBP_FLAGS, WEBP_METADATA_BITS = "RIFF:WebP_Flags", 0x08 | 0x04
# The MPF (multi-picture) entry of the primary image: its length must grow or shrink with it,
# by as much as the file did (the other images follow it unchanged).
PRIMARY_LENGTH = "MPImage1:MPImageLength"
# Any property VisionCap adds to mark its own caption (visioncap:DescriptionDigest and the like).
ADDED_GROUP_PREFIX = "XMP-visioncap"
WARNING_TAGS = ("ExifTool:Warning", "ExifTool:Error")
# An IPTC block exiftool does not decode (shown with -u as the raw Photoshop resource 0x0404):
# compared record by record, where the caption (2:120) may change and the character set (1:90)
# may be added, unless other records hold bytes that are not UTF-8.
RAW_IPTC = "Photoshop:Photoshop_Unknown_0x0404"


# ---- exiftool ---------------------------------------------------------------------------------


class ExifTool:
    """One exiftool process kept open (-stay_open), so reading a photo costs no Perl start-up."""

    def __init__(self, exe: str, log):
        self._proc = subprocess.Popen(
            [exe, "-stay_open", "True", "-@", "-"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log,
        )
        self._n = 0

    def run(self, args: list[str]) -> bytes:
        self._n += 1
        lines = "".join(f"{a}\n" for a in args) + f"-execute{self._n}\n"
        self._proc.stdin.write(lines.encode("utf-8", "surrogateescape"))
        self._proc.stdin.flush()
        marker = f"{{ready{self._n}}}".encode()
        out = bytearray()
        while True:
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError("exiftool stopped")
            out += line
            if out.rstrip(b"\r\n").endswith(marker):  # after -b output it shares the line
                return bytes(out.rstrip(b"\r\n")[: -len(marker)])

    def read(self, path: Path, validate: bool) -> dict[str, list]:
        raw = self.run([*EXIFTOOL_READ, *(["-api", "Validate=1"] if validate else []), str(path)])
        text = raw.decode("utf-8", "surrogateescape").strip()
        if not text:
            return {}
        # with -a a JSON object can hold the same key twice: keep every value
        try:
            records = json.loads(text, object_pairs_hook=lambda pairs: pairs)
        except ValueError as exc:
            return {"ExifTool:Error": [f"exiftool's JSON did not parse: {exc}"]}
        tags: dict[str, list] = {}
        for key, value in records[0]:
            if key != "SourceFile":
                tags.setdefault(key, []).append(canonical(value))
        if len(tags.get(RAW_IPTC, [])) == 1:
            # JSON strings lose NUL bytes (IIM lengths hold them): read this one value raw
            tags[RAW_IPTC] = [self.run(["-b", "-u", f"-{RAW_IPTC}", str(path)])]
        return tags

    def close(self) -> None:
        try:
            self._proc.stdin.write(b"-stay_open\nFalse\n")
            self._proc.stdin.flush()
            self._proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()


def canonical(value):
    """Binary values (base64 from -b) become their length and SHA-256; the rest stays as is."""
    if isinstance(value, str) and value.startswith("base64:"):
        data = base64.b64decode(value[7:])
        return f"<{len(data)} bytes sha256:{hashlib.sha256(data).hexdigest()[:16]}>"
    if isinstance(value, list):
        return tuple(canonical(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, canonical(v)) for k, v in value.items()))
    return value


def printable(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def short(value, width: int = 40, start: int = 0) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = printable(text[start:])
    text = ("…" if start else "") + text
    return text if len(text) <= width else text[: width - 1] + "…"


def change(key: str, old, new, why: str = "") -> str:
    """'changed KEY: old -> new', both shown from a little before their first difference."""
    start = 0
    if isinstance(old, str) and isinstance(new, str):
        while start < min(len(old), len(new)) and old[start] == new[start]:
            start += 1
        start = max(0, start - 10) if start > 30 else 0
    return f"changed {key}{why}: {short(old, 40, start)} -> {short(new, 40, start)}"


def same_text(a, b) -> bool:
    norm = lambda v: str(v).replace("\x00", "").strip()  # noqa: E731
    return norm(a) == norm(b)


# ---- pixels -----------------------------------------------------------------------------------


def pixel_digest(path: Path) -> str:
    """SHA-256 of every frame Pillow decodes (mode, size, bytes), plus rawpy's raw data for camera
    RAW; or the reason nothing could be decoded, so that 'undecodable both times' compares equal."""
    from PIL import Image, ImageSequence

    parts = []
    try:
        with Image.open(path) as image:
            digest = hashlib.sha256()
            for frame in ImageSequence.Iterator(image):
                frame.load()
                digest.update(f"{frame.mode} {frame.size}".encode())
                digest.update(frame.tobytes())
            parts.append("pillow:" + digest.hexdigest()[:16])
    except Exception as exc:  # any decoder failure is a result here
        parts.append(f"pillow: {type(exc).__name__}: {str(exc)[:60]}")
    if path.suffix.lower() in RAW_EXTENSIONS:
        try:
            import rawpy

            with rawpy.imread(str(path)) as raw:
                parts.append("rawpy:" + hashlib.sha256(raw.raw_image.tobytes()).hexdigest()[:16])
        except ImportError:
            pass
        except Exception as exc:
            parts.append(f"rawpy: {type(exc).__name__}")
    return " ".join(parts)


# ---- comparing --------------------------------------------------------------------------------


def iim_records(data: bytes) -> list[tuple[int, int, bytes]] | None:
    """IPTC IIM datasets (record, dataset, value), or None where the bytes are not IIM."""
    records, i = [], 0
    while i < len(data) and data[i] == 0x1C:
        if i + 5 > len(data):
            return None
        rec, ds, size = data[i + 1], data[i + 2], int.from_bytes(data[i + 3:i + 5], "big")
        i += 5
        if size & 0x8000:  # extended dataset: the next (size & 0x7FFF) bytes hold the length
            n = size & 0x7FFF
            size, i = int.from_bytes(data[i:i + n], "big"), i + n
        records.append((rec, ds, data[i:i + size]))
        i += size
    return records if not data[i:].strip(b"\0") else None


def raw_iptc_change(old: bytes, new: bytes) -> str | None:
    """None where only the caption changed (and UTF-8 was declared safely); else what changed."""
    before, after = iim_records(old), iim_records(new)
    if before is None or after is None:
        return "not IPTC records"
    keep = lambda recs: [r for r in recs if r[:2] not in ((2, 120), (1, 90))]  # noqa: E731
    if keep(before) != keep(after):
        lost = [f"{r}:{d}" for r, d, v in keep(before) if (r, d, v) not in keep(after)]
        return "records changed: " + (", ".join(lost) or "order or additions")
    charset = lambda recs: [v for r, d, v in recs if (r, d) == (1, 90)]  # noqa: E731
    if charset(before) != charset(after):
        if charset(before) or charset(after) != [b"\x1b%G"]:
            return f"character set {charset(before)} -> {charset(after)}"
        for _, _, value in keep(before):
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                return "UTF-8 declared over records that are not UTF-8"
    return None


def webp_bits_added(old, new) -> bool:
    """Only the EXIF/XMP presence bits were set, none cleared."""
    try:
        old, new = int(old), int(new)
    except (TypeError, ValueError):
        return False
    return old & ~new == 0 and (new & ~old) & ~WEBP_METADATA_BITS == 0


def delta(after: dict, before: dict, key: str) -> int | None:
    try:
        return int(after[key][0]) - int(before[key][0])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def compare(before: dict, after: dict, caption: str, shown: str | None = None) -> tuple[list[str], list[str], list[str]]:
    """(damage, allowed changes, added tags). `shown`: the caption VisionCap's reader gave the
    photo before the write (a mirror holding it may follow the new caption)."""
    damage, allowed, added = [], [], []
    old_captions = [
        v for key in ("IFD0:ImageDescription", "XMP-dc:Description", "IPTC:Caption-Abstract")
        for v in before.get(key, [])
    ] + ([shown] if shown else [])
    for key, values in before.items():
        if key in WARNING_TAGS or key == "ExifTool:Validate":  # counts of the warnings compared
            continue
        new = after.get(key)
        if new is not None and Counter(map(repr, new)) == Counter(map(repr, values)):
            continue
        name = key.split(":", 1)[-1]
        if key in ALLOWED or name in POSITION_TAGS or key.startswith(ADDED_GROUP_PREFIX):
            allowed.append(key)
        elif key in MIRRORS or MIRROR_PATTERN.fullmatch(key):
            held = all(any(same_text(v, c) for c in old_captions) for v in values)
            if held and all(same_text(v, caption) for v in (new or [])):
                allowed.append(f"{key} (mirror)")
            elif new is None:
                damage.append(f"removed {key}={short(values[0])} (a mirror field)")
            else:
                why = " (a mirror field that did not hold the previous caption)" if not held else ""
                damage.append(change(key, values[0], new[0], why))
        elif key == RAW_IPTC and new and len(values) == len(new) == 1 \
                and raw_iptc_change(values[0], new[0]) is None:
            allowed.append(f"{key} (IPTC block exiftool does not decode: caption only)")
        elif key == RAW_IPTC and new and len(values) == len(new) == 1:
            damage.append(f"changed {key} (IPTC block): {raw_iptc_change(values[0], new[0])}")
        elif key == PRIMARY_LENGTH and new and len(values) == len(new) == 1:
            grown = delta(after, before, "System:FileSize")
            size = "?" if grown is None else f"{grown:+d}"
            if grown is not None and delta(after, before, key) == grown:
                allowed.append(f"{key} (follows the primary image, {size} bytes)")
            else:
                damage.append(change(key, values[0], new[0], f" (the file changed {size} bytes)"))
        elif key == WEBP_FLAGS and new and webp_bits_added(values[0], new[0]):
            allowed.append(f"{key} (EXIF/XMP bit set)")
        elif new is None:
            damage.append(f"removed {key}={short(values[0])}")
        else:
            damage.append(change(key, values[0], new[0]))
    for key in after:
        if key not in before and key not in WARNING_TAGS and key != "ExifTool:Validate":
            added.append(key)
    for key in WARNING_TAGS:
        old = Counter(map(repr, before.get(key, [])))
        for value in after.get(key, []):
            if old[repr(value)]:
                old[repr(value)] -= 1
            else:
                damage.append(f"new exiftool {key.split(':')[1]}: {short(value, 70)}")
    return damage, allowed, added


# ---- one photo --------------------------------------------------------------------------------


def check_photo(path: Path, original: Path, caption: str, tool: ExifTool, validate: bool, mark=None):
    """Returns (format, result, detail, seconds in embed_description, written)."""
    from core.errors import MetadataError

    before = tool.read(path, validate)
    fmt = str((before.get("File:FileType") or ["?"])[0])
    pixels_before = pixel_digest(path)
    original_bytes = original.read_bytes()
    from core.metadata.photo_metadata import embed_description, read_embedded

    try:
        shown = read_embedded(path)
    except MetadataError:
        shown = None
    start = time.perf_counter()
    try:
        outcome = embed_description(path, caption, mark=mark)
        seconds = time.perf_counter() - start
        refused = None if getattr(outcome, "written", True) else \
            "returned written=False: " + "; ".join(getattr(outcome, "notes", ()) or ("no notes",))
    except MetadataError as exc:
        seconds = time.perf_counter() - start
        refused = f"{type(exc).__name__}: {exc.reason}"
    except Exception as exc:  # a bug in the code under test: reported
        seconds = time.perf_counter() - start
        same = path.read_bytes() == original_bytes
        state = "file byte-identical" if same else "FILE CHANGED"
        return fmt, "FAILED", f"raised {type(exc).__name__}: {short(str(exc), 80)}; {state}", \
            seconds, False
    if refused is not None:
        if path.read_bytes() == original_bytes:
            return fmt, "left unchanged", short(refused, 120), seconds, False
        return fmt, "DAMAGED", f"{short(refused, 60)} but the file changed", seconds, False

    after = tool.read(path, validate)
    damage, allowed, added = compare(before, after, caption, shown.text if shown else None)
    pixels_after = pixel_digest(path)
    if pixels_after != pixels_before:
        damage.insert(0, f"pixels: {pixels_before} -> {pixels_after}")
    if damage:
        more = f" (+{len(damage) - 4} more)" if len(damage) > 4 else ""
        return fmt, "DAMAGED", "; ".join(damage[:4]) + more, seconds, True
    kept = len(before) - len(allowed)
    detail = f"kept {kept} tags; changed as allowed: {', '.join(allowed) or 'none'}"
    if added:
        detail += f"; added: {', '.join(added[:6])}" + (" …" if len(added) > 6 else "")
    return fmt, "written", detail, seconds, True


# ---- timing exiftool --------------------------------------------------------------------------


def exiftool_write(exe: str, files: list[Path], caption: str) -> tuple[float, str]:
    args = [
        exe, "-overwrite_original", "-P", f"-EXIF:ImageDescription={caption}",
        f"-XMP-dc:Description={caption}", f"-IPTC:Caption-Abstract={caption}",
        *map(str, files),
    ]
    start = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True, errors="replace")
    seconds = time.perf_counter() - start
    summary = " / ".join(
        line.strip() for line in out.stdout.splitlines() if re.search(r"\bfiles?\b", line)
    )
    if not summary:
        summary = (out.stderr.strip().splitlines() or ["no output"])[-1]
    return seconds, summary


def cpu_lines() -> tuple[str, str]:
    model, flags = "unknown", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                flags.update(re.findall(r"avx512[a-z_0-9]*", line))
    except OSError:
        pass
    return model, " ".join(sorted(flags)) or "none"


def cell(text) -> str:
    return printable(str(text).replace("\n", " ")).replace("|", "\\|")


def copy_fresh(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o644)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--caption", default=DEFAULT_CAPTION)
    parser.add_argument("--model", default="", metavar="NAME[:STYLE]",
                        help="write the caption as this model's (XMP visioncap:Model and Style beside the digest)")
    parser.add_argument("--limit", type=int, help="check only the first N images (sorted by path)")
    parser.add_argument("--keep-temp", action="store_true", help="keep the copies and print where")
    parser.add_argument("--exiftool-per-file", type=int, default=20, metavar="N",
                        help="also time one exiftool process per photo on the first N (0: off)")
    parser.add_argument("--validate", action="store_true",
                        help="read with exiftool -api Validate=1 (more warnings, compared alike)")
    args = parser.parse_args()

    exe = shutil.which("exiftool")
    if exe is None:
        print("exiftool is not installed (or not on PATH): this check needs it as the independent "
              "reader.\nInstall it: apt-get install libimage-exiftool-perl (Debian/Ubuntu), "
              "brew install exiftool (macOS), or https://exiftool.org.", file=sys.stderr)
        return 2
    version = subprocess.run([exe, "-ver"], capture_output=True, text=True).stdout.strip()
    files = sorted(p for p in args.folder.rglob("*")
                   if p.is_file() and not p.is_symlink() and p.suffix.lower() in EXTENSIONS)
    if args.limit:
        files = files[: args.limit]
    if not files:
        print(f"no images under {args.folder}", file=sys.stderr)
        return 2

    try:
        import core.metadata.photo_metadata  # noqa: F401 - imported before any timing
    except Exception as exc:  # the module under test may be mid-rewrite
        print(f"could not import core.metadata.photo_metadata: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2

    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:
        print("pillow-heif is not installed: HEIC pixels are not compared", file=sys.stderr)
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # the corpus is trusted; phones make 200 MP photos

    from core.metadata.photo_edit import Mark

    name, _, style = args.model.partition(":")
    mark = Mark(name, style) if name else None
    work = Path(tempfile.mkdtemp(prefix="visioncap-metadata-check-"))
    rows, timings = [], []
    try:
        rel = [p.relative_to(args.folder) for p in files]
        for r, p in zip(rel, files):
            copy_fresh(p, work / "visioncap" / r)
            copy_fresh(p, work / "exiftool" / r)
        with open(work / "exiftool-stderr.log", "ab") as log:
            tool = ExifTool(exe, log)
            try:
                print(f"exiftool {version}; {len(files)} images under {args.folder}; "
                      f"caption {args.caption!r}\n", flush=True)
                print("| file | format | result | detail |")
                print("| --- | --- | --- | --- |")
                for r, p in zip(rel, files):
                    fmt, result, detail, seconds, written = check_photo(
                        work / "visioncap" / r, p, args.caption, tool, args.validate, mark)
                    rows.append((fmt, result, detail))
                    timings.append((r, seconds, written))
                    print(f"| {cell(r)} | {cell(fmt)} | {result} | {cell(detail)} |", flush=True)
            finally:
                tool.close()

        n = len(files)
        vc_all = sum(s for _, s, _ in timings)
        written = [r for r, _, w in timings if w]
        vc_written = sum(s for _, s, w in timings if w)
        et_all, et_all_summary = exiftool_write(exe, [work / "exiftool" / r for r in rel],
                                                args.caption)
        et_written = et_written_summary = None
        if written:
            for r in written:
                copy_fresh(args.folder / r, work / "exiftool-written" / r)
            et_written, et_written_summary = exiftool_write(
                exe, [work / "exiftool-written" / r for r in written], args.caption)
        per_file = []
        for r in rel[: args.exiftool_per_file]:
            copy_fresh(args.folder / r, work / "exiftool-per-file" / r)
            seconds, _ = exiftool_write(exe, [work / "exiftool-per-file" / r], args.caption)
            per_file.append(seconds)
    finally:
        if args.keep_temp:
            print(f"\ncopies kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    counts = Counter(result for _, result, _ in rows)
    model, avx512 = cpu_lines()
    ms = lambda seconds, count: seconds / max(count, 1) * 1e3  # noqa: E731
    print("\n## Summary\n")
    print(f"- photos: {n}; written {counts['written']}, left unchanged {counts['left unchanged']}, "
          f"DAMAGED {counts['DAMAGED']}, FAILED {counts['FAILED']}")
    print(f"- allowed to change: {', '.join(sorted(ALLOWED))}; positions "
          f"({', '.join(sorted(POSITION_TAGS))}); mirrors holding the old caption "
          f"({', '.join(sorted(MIRRORS))}); {ADDED_GROUP_PREFIX}:*")
    formats = sorted(Counter(fmt for fmt, _, _ in rows).items(), key=lambda kv: -kv[1])
    print("\n| format | photos | written | left unchanged | DAMAGED | FAILED |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for fmt, total in formats:
        by = Counter(result for f, result, _ in rows if f == fmt)
        print(f"| {cell(fmt)} | {total} | {by['written']} | {by['left unchanged']} | "
              f"{by['DAMAGED']} | {by['FAILED']} |")
    reasons = Counter(detail.split(":")[0] for _, result, detail in rows
                      if result == "left unchanged")
    if reasons:
        print("\nleft unchanged, by exception: "
              + ", ".join(f"{name} {count}" for name, count in reasons.most_common()))
    print("\n| what | photos | total s | ms per photo |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| VisionCap embed_description, all photos | {n} | {vc_all:.2f} | {ms(vc_all, n):.1f} |")
    print(f"| exiftool, one process, all photos ({et_all_summary}) | {n} | {et_all:.2f} | "
          f"{ms(et_all, n):.1f} |")
    if written:
        print(f"| VisionCap embed_description, photos it wrote | {len(written)} | "
              f"{vc_written:.2f} | {ms(vc_written, len(written)):.1f} |")
        print(f"| exiftool, one process, the same photos ({et_written_summary}) | {len(written)} "
              f"| {et_written:.2f} | {ms(et_written, len(written)):.1f} |")
    if per_file:
        print(f"| exiftool, one process per photo (first {len(per_file)}) | {len(per_file)} | "
              f"{sum(per_file):.2f} | {ms(sum(per_file), len(per_file)):.1f} |")
    print(f"\n- ratio VisionCap / exiftool per photo, all photos: "
          f"{ms(vc_all, n) / max(ms(et_all, n), 1e-9):.2f}x")
    if written:
        ratio = ms(vc_written, len(written)) / max(ms(et_written, len(written)), 1e-9)
        verdict = "meets" if ratio <= 1.5 else "misses"
        print(f"- ratio on the photos VisionCap wrote: {ratio:.2f}x ({verdict} the 1.5x target)")
    print(f"- CPU: {model}\n- AVX-512: {avx512}")
    return 1 if counts["DAMAGED"] or counts["FAILED"] else 0


if __name__ == "__main__":
    sys.exit(main())
