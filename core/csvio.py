"""The one CSV writer and reader for captions, shared by the headless CLI and the desktop app.

Two ways to write:
- `CsvRowWriter` streams rows and flushes after each batch, so a crash keeps finished rows;
- `write_csv_atomic` writes a whole table to a temporary file and renames it over the target,
  so an earlier file at that path survives a full disk or a cancelled export intact.
Both use the csv module (RFC 4180 quoting, CRLF line ends). Spreadsheet safety (a BOM so
Excel reads UTF-8, neutralised formulas) is opt-in for machine-readable output, on in the app.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO

from core.atomic import atomic_write

# Cells starting with these are run as formulas by Excel, LibreOffice and Google Sheets.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(cell: str) -> str:
    """Prefix a leading formula character with an apostrophe (OWASP's CSV-injection advice)."""
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def _cell(value: object, guard_formulas: bool) -> str:
    if value is None:
        return ""
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return neutralise_formula(text) if guard_formulas else text


class CsvRowWriter:
    """Write caption rows to an open text stream (opened with newline="")."""

    def __init__(self, stream: IO[str], columns: Sequence[str], guard_formulas: bool = False):
        self.columns = list(columns)
        self.guard_formulas = guard_formulas
        self._stream = stream
        self._writer = csv.writer(stream)

    def write_header(self) -> None:
        self._writer.writerow(self.columns)
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
    """Read a caption CSV (with or without a BOM) -> (columns, rows).

    A last line cut off by a crash (no line end, or fewer cells than the header) is dropped.
    """
    text = Path(path).read_text(encoding="utf-8-sig")
    complete = text if text.endswith(("\n", "\r")) or not text else text[: text.rfind("\n") + 1]
    reader = csv.reader(io.StringIO(complete, newline=""))
    try:
        columns = next(reader)
    except StopIteration:
        return [], []
    rows = []
    try:
        for cells in reader:
            if len(cells) == len(columns):
                rows.append(dict(zip(columns, cells)))
    except csv.Error:  # a quoted cell left open by the crash: everything before it stands
        pass
    return columns, rows
