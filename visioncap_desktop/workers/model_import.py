"""Downloading a catalogue model (core.captioning.catalogue) in a worker thread.

core's installer (core.bundles.hf_import.install_model, which imports torch and huggingface_hub)
is imported here, in the worker thread, and only when the user asks. It downloads the model from
the hub, converts what needs converting, and writes it into a temporary folder that is renamed to
core.captioning.catalogue.installed_dir(name) once complete, so a failed or cancelled download
never leaves half a model where the app would look for one. Cancelling raises from the progress
callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)

Installer = Callable[..., Path]  # installer(name, progress=callback) -> the installed folder


class ImportCancelled(Exception):
    """Raised from the progress callback to stop a download the user cancelled."""


def install_model(name: str, progress: Callable[[str], None] | None = None) -> Path:
    """core's installer (imported in the worker thread, when asked)."""
    from core.bundles.hf_import import install_model as install

    return install(name, progress=progress)


class ModelImportWorker(QObject):
    progress = Signal(str)
    import_finished = Signal(str, str)  # the model's name, its folder
    import_failed = Signal(str)  # message for the user

    def __init__(self, parent=None, installer: Installer | None = None):
        """`installer(name, progress=...)`: core's install_model, or a test's fake."""
        super().__init__(parent)
        self._installer = installer or install_model
        self._cancelled = False

    def cancel(self) -> None:
        """Stop at the installer's next progress report (safe from any thread)."""
        self._cancelled = True

    @Slot(str)
    def run(self, name: str) -> None:
        self._cancelled = False

        def report(message: str) -> None:
            if self._cancelled:
                raise ImportCancelled
            self.progress.emit(message)

        try:
            from core.errors import VisionCapError

            folder = self._installer(name, progress=report)
        except ImportCancelled:
            self.import_failed.emit("The download was cancelled.")
            return
        except ImportError as exc:
            self.import_failed.emit(f"The model installer is not available in this installation: {exc}")
            return
        except (VisionCapError, OSError, ValueError) as exc:
            log.warning("installing %s failed: %s", name, exc)
            self.import_failed.emit(str(exc))
            return
        except Exception as exc:  # a bug or an unexpected file: still a message, not a dead thread
            log.exception("installing %s failed", name)
            self.import_failed.emit(f"{type(exc).__name__}: {exc}")
            return
        self.import_finished.emit(name, str(folder))
