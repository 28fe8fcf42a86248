"""The watch on the open folder: its folders (the subfolders shown too) and the caption files in
them, through one QFileSystemWatcher, in the GUI thread.

A change is not acted on at once: folders that changed are collected until QUIET_MS passes
without another change, or MAX_WAIT_MS after the first (a program writing 1,000 .txt files gives
one `folders_changed`, not 1,000). What changed in them is the caption reader's work (see
visioncap_desktop.watching). Folders are watched for files added, removed or renamed (an editor
that saves by renaming); the caption files themselves, up to FILE_LIMIT, for changes in place.
Operating systems limit watches, hence the limits; beyond them F5 reads the folder again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal

QUIET_MS = 300
MAX_WAIT_MS = 1500
# inotify's watches are shared by every program of the user (8,192 on many systems): leave them room
FOLDER_LIMIT = 500
FILE_LIMIT = 1000


class FolderWatch(QObject):
    folders_changed = Signal(list)  # folders whose files changed (after the quiet time)
    folder_vanished = Signal(str)  # the open folder was moved, deleted or disconnected

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.watcher = QFileSystemWatcher(self)
        self.folder: str | None = None
        self._pending: set[str] = set()
        self._quiet = QTimer(self, singleShot=True, interval=QUIET_MS)
        self._max_wait = QTimer(self, singleShot=True, interval=MAX_WAIT_MS)
        for timer in (self._quiet, self._max_wait):
            timer.timeout.connect(self.flush)
        self.watcher.directoryChanged.connect(self._on_directory_changed)
        self.watcher.fileChanged.connect(lambda path: self._changed(os.path.dirname(path)))

    def watch(self, folder: str | Path) -> None:
        """Watch `folder` (and nothing else: the previous folder's watches end)."""
        self.stop()
        self.folder = str(folder)
        self.watcher.addPath(self.folder)

    def add_folders(self, folders: Iterable[str]) -> None:
        """Also watch these folders (subfolders with photos), up to FOLDER_LIMIT in all."""
        self._add(folders, set(self.watcher.directories()), FOLDER_LIMIT)

    def add_files(self, files: Iterable[str]) -> None:
        """Also watch these caption files for changes in place, up to FILE_LIMIT in all."""
        self._add(files, set(self.watcher.files()), FILE_LIMIT)

    def _add(self, paths: Iterable[str], watched: set[str], limit: int) -> None:
        room = limit - len(watched)
        new = [p for p in dict.fromkeys(paths) if p not in watched][:max(0, room)]
        if new:
            self.watcher.addPaths(new)

    def stop(self) -> None:
        self._quiet.stop()
        self._max_wait.stop()
        self._pending.clear()
        for paths in (self.watcher.directories(), self.watcher.files()):
            if paths:
                self.watcher.removePaths(paths)
        self.folder = None

    @property
    def pending(self) -> bool:
        return bool(self._pending) or self._quiet.isActive()

    def flush(self) -> None:
        """Report the folders changed so far now."""
        self._quiet.stop()
        self._max_wait.stop()
        if self._pending:
            folders, self._pending = sorted(self._pending), set()
            self.folders_changed.emit(folders)

    def _on_directory_changed(self, path: str) -> None:
        if path == self.folder and not os.path.isdir(path):
            self.watcher.removePath(path)
            self.folder_vanished.emit(path)
            return
        self._changed(path)

    def _changed(self, folder: str) -> None:
        if self.folder is None:
            return
        self._pending.add(folder)
        self._quiet.start()  # restarted by every change...
        if not self._max_wait.isActive():  # ...but never later than this after the first
            self._max_wait.start()
