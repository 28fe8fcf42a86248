"""Downloading and converting the public ViT-GPT2 COCO captioner in a worker thread.

core.bundles.hf_import (which imports torch and, for downloads, huggingface_hub) is imported here, in the
worker thread, and only when the user asks. The bundle is written to a sibling folder and renamed
into place at the end, so a failed or cancelled import never leaves a half-written bundle where
the app would look for one.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)


class ImportCancelled(Exception):
    """Raised from the progress callback to stop an import the user cancelled."""


class ModelImportWorker(QObject):
    progress = Signal(str)
    import_finished = Signal(str)  # bundle folder
    import_failed = Signal(str)  # message for the user

    def __init__(self, parent=None):
        super().__init__(parent)
        self._cancelled = False

    def cancel(self) -> None:
        """Stop at the importer's next progress report (safe from any thread)."""
        self._cancelled = True

    @Slot(str, str)
    def run(self, source: str, out_dir: str) -> None:
        self._cancelled = False
        target = Path(out_dir)
        partial = target.with_name(target.name + ".partial")

        def report(message: str) -> None:
            if self._cancelled:
                raise ImportCancelled
            self.progress.emit(message)

        try:
            from core.bundles.hf_import import import_hf
            from core.errors import VisionCapError
        except ImportError as exc:
            self.import_failed.emit(f"The model importer is not available in this installation: {exc}")
            return
        try:
            shutil.rmtree(partial, ignore_errors=True)
            partial.parent.mkdir(parents=True, exist_ok=True)
            import_hf(source, partial, progress=report)
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
        except ImportCancelled:
            shutil.rmtree(partial, ignore_errors=True)
            self.import_failed.emit("The download was cancelled.")
            return
        except (ImportError, VisionCapError, OSError) as exc:
            log.warning("importing %s failed: %s", source, exc)
            shutil.rmtree(partial, ignore_errors=True)
            self.import_failed.emit(str(exc))
            return
        except Exception as exc:  # a bug or an unexpected file: still a message, not a dead thread
            log.exception("importing %s failed", source)
            shutil.rmtree(partial, ignore_errors=True)
            self.import_failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.import_finished.emit(str(target))
