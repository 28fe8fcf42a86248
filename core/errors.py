"""Errors raised by `core`, each naming the file (or key) and the problem."""

from __future__ import annotations

from pathlib import Path


class VisionCapError(Exception):
    """Base class: anything `core` reports to a user as one line."""


class FileError(VisionCapError):
    """A file is missing, unreadable, unwritable, or does not hold what it should."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class MetadataError(FileError):
    """A caption could not be read from or written to a photo, sidecar or caption file; the
    file is left as it was. `reason` fits a table cell."""

    @property
    def reason(self) -> str:
        return self.problem


class KeptCaption(MetadataError):
    """The file already holds a different caption that a person or another program wrote, and
    replacing it was not asked for: it was kept, nothing written."""

    def __init__(self, path: str | Path, existing: str, where: str = ""):
        self.existing = existing
        short = existing if len(existing) <= 60 else existing[:57] + "..."
        where = f"{where}: " if where else ""
        super().__init__(path, f"already holds a different caption ({where}{short!r}); kept")


class BundleError(FileError):
    """A model bundle file is missing, truncated, corrupt or does not match the config."""


class ImportFormatError(VisionCapError):
    """A checkpoint to import does not have the expected keys or shapes."""


class ImageError(VisionCapError):
    """An image could not be read; `reason` is short enough for a table cell."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")
