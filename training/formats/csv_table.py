"""A plain CSV of `image,caption` rows (image paths relative to the CSV), and the CSV parser that
Kaggle's Flickr `captions.txt` shares with it."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from training.formats.base import DatasetError, ReadStats, Row, read_text, shorten

CSV_NAME = "captions.csv"  # the file looked for when the csv kind is given a folder


def parse_csv(path: Path, text: str, stats: ReadStats) -> list[Row]:
    """CSV with a header naming `image` and `caption` columns (any case, any order, extras ok).

    When `caption` is the last column, extra cells in a row are an unquoted comma in the caption
    (Kaggle's Flickr captions.txt), so they are joined back.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except StopIteration:
        raise DatasetError(path, "empty file, expected a header row with image,caption") from None
    except csv.Error as exc:
        raise DatasetError(path, f"not a readable CSV header: {exc}") from exc
    if "image" not in header or "caption" not in header:
        if text.lstrip().startswith(("{", "[")):
            raise DatasetError(
                path, "is JSON, not CSV (COCO or Karpathy JSON, or a metadata.jsonl? use kind auto)"
            )
        raise DatasetError(path, f"needs columns 'image' and 'caption', found {shorten(str(header))}")
    image_col, caption_col = header.index("image"), header.index("caption")
    caption_is_last = caption_col == len(header) - 1

    rows = []
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a NUL byte; the reader resumes on the next line
            stats.rows += 1
            stats.skip(f"{path.name}:{reader.line_num}", "unreadable CSV row", str(exc))
            continue
        if not cells:
            continue
        stats.rows += 1
        where = f"{path.name}:{reader.line_num}"
        if len(cells) > len(header) and caption_is_last:
            cells = [*cells[:caption_col], ",".join(cells[caption_col:])]
        if len(cells) != len(header):
            stats.skip(where, "wrong number of cells", cells)
        else:
            rows.append((where, cells[image_col].strip(), cells[caption_col]))
    return rows


def read_csv(path: Path, split: str, images_dir: Path | None, stats: ReadStats) -> tuple[list[Row], Path]:
    """A CSV file, or a folder holding captions.csv; images relative to the CSV's folder."""
    if path.is_dir():
        if not (path / CSV_NAME).is_file():
            raise DatasetError(path, f"no {CSV_NAME} in this folder")
        path = path / CSV_NAME
    stats.source = path
    return parse_csv(path, read_text(path), stats), images_dir or path.parent
