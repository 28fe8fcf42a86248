"""Reading the small JSON files of bundles and checkpoints, with errors that name the file."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import FileError


def read_json_object(path: Path, error: type[FileError] = FileError) -> dict:
    """The JSON object in `path`; raises `error(path, problem)` if it is missing, not UTF-8,
    not JSON, unreadable, or not an object."""
    if not path.is_file():
        raise error(path, "missing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise error(path, f"not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise error(path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    except OSError as exc:
        raise error(path, f"unreadable ({exc.strerror or exc})") from exc
    if not isinstance(data, dict):
        raise error(path, "expected a JSON object")
    return data
