"""Which photos a change in their folder concerns: the caption files beside them (.txt,
.caption, XMP sidecars, Google Takeout JSON) listed with their sizes and modification times,
compared with the listing before, and mapped back to the photos they belong to. Plain Python,
run in the caption reader's thread (see workers/caption_reader.py and FolderController's watch).

A listing holds only caption-like files, so a folder of 100,000 photos and their .txt files is
listed with one stat per .txt, never one per photo.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import PurePath

CAPTION_LIKE = (".txt", ".caption", ".xmp", ".json")

Listing = dict[str, tuple[int, int]]  # file name -> (size, modification time in ns)


def caption_listing(folder: str) -> Listing:
    """The caption-like files directly in `folder` ({} if it cannot be listed)."""
    listing: Listing = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.lower().endswith(CAPTION_LIKE):
                    try:
                        st = entry.stat()
                    except OSError:
                        continue
                    listing[entry.name] = (st.st_size, st.st_mtime_ns)
    except OSError:
        return {}
    return listing


def changed_files(before: Mapping[str, tuple[int, int]], now: Mapping[str, tuple[int, int]]) -> list[str]:
    """Files new in `now` or different from `before` (removed files change no caption)."""
    return sorted(name for name, state in now.items() if before.get(name) != state)


class FolderPhotos:
    """The photos of one folder by file name and by stem, to find whose caption file changed."""

    def __init__(self, photos: Iterable[tuple[str, str]]):
        """`photos`: (absolute path, name relative to the opened folder) of the folder's photos."""
        self.by_file: dict[str, tuple[str, str]] = {}
        self.by_stem: dict[str, list[str]] = {}
        for path, name in photos:
            file = PurePath(path).name
            self.by_file[file] = (path, name)
            self.by_stem.setdefault(PurePath(file).stem, []).append(file)

    def owners(self, caption_file: str) -> list[tuple[str, str]]:
        """The photos `caption_file` may hold the caption of: photo.txt, photo.caption and
        photo.xmp belong to the photos named photo.*; photo.jpg.xmp, photo.jpg.json and
        photo.jpg.supplemental-metadata.json (cut anywhere) to photo.jpg."""
        files = set(self.by_stem.get(caption_file.rsplit(".", 1)[0], ()))
        parts = caption_file.split(".")
        for end in range(1, len(parts)):
            prefix = ".".join(parts[:end])
            if prefix in self.by_file:
                files.add(prefix)
        return [self.by_file[f] for f in sorted(files) if f != caption_file]
