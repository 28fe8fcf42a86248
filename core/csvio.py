r"""The one CSV writer and reader for captions, shared by the headless CLI and the desktop app.

Two ways to write:
- `CsvRowWriter` streams rows and flushes after each batch, so a crash keeps finished rows;
- `write_csv_atomic` writes a whole table to a temporary file and renames it over the target,
  so an earlier file at that path survives a full disk or a cancelled export intact.
Both use the csv module (RFC 4180 quoting, CRLF line ends). Spreadsheet safety (a BOM so
Excel reads UTF-8, neutralised formulas) is opt-in for machine-readable output, on in the app.

Every cell is valid UTF-8, whatever the file names: a byte of a name that is not UTF-8 (Linux
allows any bytes; Python holds them as lone surrogates) is written `\xNN` (two lowercase hex
digits), any other lone surrogate `\uXXXX`, and a backslash that would read as such an escape
`\x5c`. `read_csv_rows` undoes exactly this, so a name read back opens the same file.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

from core.atomic import atomic_write
from core.errors import FileError

# Cells starting with these are run as formulas by Excel, LibreOffice and Google Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(cell: str) -> str:
    """Prefix a leading formula character with an apostrophe (OWASP's CSV-injection advice)."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


_NOT_UTF8 = re.compile(r"[\ud800-\udfff]|\\(?=x[0-9a-f]{2}|u[0-9a-f]{4})")
_ESCAPE = re.compile(r"\\x([0-9a-f]{2})|\\u(d[89a-f][0-9a-f]{2})")


def _escape_char(match: re.Match) -> str:
    code = ord(match.group())
    if code == 0x5C:  # a backslash that would read as an escape
        return "\\x5c"
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def escape_text(text: str) -> str:
    """Text -> text that encodes as UTF-8 (see the module docstring); usually unchanged."""
    return _NOT_UTF8.sub(_escape_char, text)


def _unescape_match(match: re.Match) -> str:
    byte, surrogate = match.groups()
    if surrogate:
        return chr(int(surrogate, 16))
    value = int(byte, 16)
    if value == 0x5C:
        return "\\"
    return chr(0xDC00 + value) if value >= 0x80 else match.group()


def unescape_text(text: str) -> str:
    """The inverse of `escape_text`."""
    return _ESCAPE.sub(_unescape_match, text) if "\\" in text else text


def _cell(value: object, guard_formulas: bool) -> str:
    if value is None:
        return ""
    text = ("true" if value else "false") if isinstance(value, bool) else escape_text(str(value))
    return neutralise_formula(text) if guard_formulas else text


class CsvRowWriter:
    """Write caption rows to an open text stream (opened with newline="")."""

    def __init__(self, stream: IO[str], columns: Sequence[str], guard_formulas: bool = False):
        self.columns = list(columns)
        self.guard_formulas = guard_formulas
        self._stream = stream
        self._writer = csv.writer(stream)

    def write_header(self) -> None:
        self._writer.writerow([escape_text(c) for c in self.columns])
        self._stream.flush()

    def write_rows(self, rows: Iterable[Mapping[str, object]]) -> None:
        """Write rows (missing keys become empty cells) and flush them to the OS."""
        for row in rows:
            self._writer.writerow([_cell(row.get(c), self.guard_formulas) for c in self.columns])
        self._stream.flush()


def write_csv_atomic(
    path: str | Path,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, object]],
    *,
    bom: bool = True,
    guard_formulas: bool = True,
) -> None:
    """Write a complete CSV to `path` atomically: temporary file, fsync, rename.

    On any error (full disk, read-only folder) the temporary file is removed, an earlier file
    at `path` is left as it was, and the OSError propagates with the path in its message.
    """

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as stream:
            writer = CsvRowWriter(stream, columns, guard_formulas)
            writer.write_header()
            writer.write_rows(rows)

    atomic_write(path, write)


def read_csv_rows(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    """Read a caption CSV (with or without a BOM) -> (columns, rows), cells unescaped.

    Line ends inside cells (a carriage return in a file name) are kept exactly. A last line cut
    off by a crash (no line end, or fewer cells than the header) is dropped. Raises FileError
    naming the file if it is not UTF-8 text.
    """
    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            text = stream.read()
    except UnicodeDecodeError as exc:
        raise FileError(path, f"not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})") from exc
    complete = text if text.endswith(("\n", "\r")) or not text else text[: text.rfind("\n") + 1]
    reader = csv.reader(io.StringIO(complete, newline=""))
    try:
        columns = [unescape_text(c) for c in next(reader)]
    except StopIteration:
        return [], []
    rows = []
    try:
        for cells in reader:
            if len(cells) == len(columns):
                rows.append(dict(zip(columns, map(unescape_text, cells))))
    except csv.Error:  # a quoted cell left open by the crash: everything before it stands
        pass
    return columns, rows
