"""App preferences: one table of defaults, stored as JSON in the user config folder.

Qt-free so it can be tested on its own. A value of the wrong type (a hand-edited file, a file from
another version) falls back to its default instead of reaching the UI.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path

from core.atomic import atomic_write_text
from core.captioning.catalogue import CATALOGUE
from core.captioning.device import DEVICE_KINDS
from core.captioning.generation_settings import GenerationSettings
from core.captioning.threads import usable_cpus
from visioncap_desktop import paths
from visioncap_desktop.model_choice import ModelChoice

log = logging.getLogger(__name__)

MAX_RECENT_FOLDERS = 10
DEVICES = ("auto", *DEVICE_KINDS)  # auto, cpu, cuda (NVIDIA or AMD ROCm), mps (Apple), xpu (Intel)
MODEL_SOURCES = ("", "demo", "folder", "download")  # "": not chosen yet (first run); download: a catalogue model
THUMBNAIL_SIZES = (64, 96, 128, 160, 192, 256, 320, 384)  # the gallery's zoom steps, in pixels
THEMES = ("system", "light", "dark")
# The generation options the app exposes, with core's defaults (core.captioning.generation_settings
# imports no torch, which the GUI thread must not load).
GENERATION_KEYS = ("strategy", "max_new_tokens", "temperature", "top_k", "top_p", "num_beams")
GENERATION_DEFAULTS: dict[str, object] = {key: getattr(GenerationSettings(), key) for key in GENERATION_KEYS}

DEFAULTS: dict[str, object] = {
    "last_folder": "",
    "recent_folders": [],
    "include_subfolders": False,
    "model_source": "",
    "model_path": "",  # the bundle folder when model_source is "folder"
    "model_name": "vit-gpt2-coco",  # the catalogue model (core.captioning.catalogue) when model_source is "download"
    "model_style": "",  # its caption style ("" its default): Florence-2's caption, detailed, more-detailed
    "model_prompt": "",  # text the caption continues, for BLIP and GIT ("" none)
    # folders that use their own model: resolved folder path -> model_choice.ModelChoice.to_json()
    "folder_models": {},
    "device": "auto",
    "batch_size": 8,
    "cpu_threads": 0,  # the model's CPU threads: 0 automatic (core.captioning.threads.ThreadPolicy), else 1..usable_cpus()
    "generation": GENERATION_DEFAULTS,
    "export_bom": True,
    "export_guard_formulas": True,
    "export_folder": "",  # where the last CSV export went: the next one starts there
    "sidecar_naming": "photo.jpg.xmp",  # or "photo.xmp" (Lightroom): XMP sidecars the app writes
    "embed_keep_mtime": True,  # embedding a caption gives the photo back its modification time
    "view_mode": "grid",  # grid | list
    "thumbnail_size": 128,  # one of THUMBNAIL_SIZES (Ctrl+wheel, Ctrl+plus/minus)
    "theme": "system",  # system | light | dark
    "window_geometry": "",  # base64 of QWidget.saveGeometry()
    "window_state": "",  # base64 of QMainWindow.saveState()
    "splitter_state": "",
}

CHOICES: dict[str, tuple] = {
    "device": DEVICES,
    "model_source": MODEL_SOURCES,
    "model_name": tuple(m.name for m in CATALOGUE),
    "view_mode": ("grid", "list"),
    "thumbnail_size": THUMBNAIL_SIZES,
    "theme": THEMES,
    "sidecar_naming": ("photo.jpg.xmp", "photo.xmp"),
}


def _same_type(value: object, default: object) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _clean(key: str, value: object) -> object:
    """`value` if it fits `key`'s default, else the default."""
    default = DEFAULTS[key]
    if not _same_type(value, default) or (key in CHOICES and value not in CHOICES[key]):
        return copy.deepcopy(default)
    if key == "generation":
        return clean_generation(value)
    if key == "recent_folders":
        return [v for v in value if isinstance(v, str)][:MAX_RECENT_FOLDERS]
    if key == "folder_models":
        return {k: choice.to_json() for k, v in value.items()
                if isinstance(k, str) and (choice := ModelChoice.from_json(v)) is not None}
    if key == "batch_size":
        return max(1, value)
    if key == "cpu_threads" and not 0 <= value <= usable_cpus():  # e.g. a file from a larger computer
        return copy.deepcopy(default)
    return value


def clean_generation(values: dict) -> dict:
    """Known generation keys with a valid value, the rest from GENERATION_DEFAULTS. The app's
    generation settings enter here (the settings file, the dialog) and are checked here once,
    by building a GenerationSettings, which validates itself."""
    out = dict(GENERATION_DEFAULTS)
    for key, default in GENERATION_DEFAULTS.items():
        value = values.get(key)
        if value is None or not _same_type(value, default):
            continue
        value = float(value) if isinstance(default, float) else value
        try:
            GenerationSettings(**{**GENERATION_DEFAULTS, key: value})
        except ValueError:
            continue
        out[key] = value
    return out


class Settings:
    """Preferences backed by a JSON file; every `set` is written through atomically.

    Most settings are read when they are used; one that must reach work already running (the
    CPU threads of a captioning run) is followed with `add_listener`."""

    def __init__(self, path: Path | None, values: dict | None = None):
        self.path = path
        self._listeners: list[Callable[[str, object], None]] = []
        self._values = {key: copy.deepcopy(default) for key, default in DEFAULTS.items()}
        for key, value in (values or {}).items():
            if key in DEFAULTS:
                self._values[key] = _clean(key, value)

    @classmethod
    def default_path(cls) -> Path:
        return paths.user_config_dir() / "settings.json"

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """Read the settings file; a missing or unreadable one gives the defaults."""
        path = path or cls.default_path()
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            values = {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable settings file %s: %s", path, exc)
            values = {}
        return cls(path, values if isinstance(values, dict) else {})

    def get(self, key: str):
        return copy.deepcopy(self._values[key])

    def set(self, key: str, value: object) -> None:
        if key not in DEFAULTS:
            raise KeyError(f"unknown setting {key!r}")
        cleaned = _clean(key, value)
        if cleaned != value and key not in ("generation", "recent_folders", "folder_models"):
            raise ValueError(f"invalid value for setting {key!r}: {value!r}")
        if self._values[key] == cleaned:
            return
        self._values[key] = cleaned
        self.save()
        for listener in list(self._listeners):
            listener(key, copy.deepcopy(cleaned))

    def add_listener(self, listener: Callable[[str, object], None]) -> None:
        """Call `listener(key, value)` after each change of a setting."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[str, object], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add_recent_folder(self, folder: str) -> None:
        """Move `folder` to the top of the recent list and make it the last folder."""
        recent = [f for f in self._values["recent_folders"] if f != folder]
        self.set("recent_folders", [folder, *recent][:MAX_RECENT_FOLDERS])
        self.set("last_folder", folder)

    def save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(self._values, indent=2, ensure_ascii=False) + "\n")
        except OSError as exc:  # preferences are not worth interrupting anyone for
            log.warning("could not save settings to %s: %s", self.path, exc)
