"""Which captioner writes a folder's captions: the app-wide choice or the folder's own, as saved in
the settings, and what the worker is asked to load for it. Plain Python, no Qt and no torch (the
catalogue imports neither).

A choice names a model the way the first-run dialog offers it: the built-in demo, a bundle folder,
or a catalogue model (core.captioning.catalogue) downloaded once by name into the user data
folder; with the caption style (Florence-2's caption / detailed / more detailed) or, for BLIP and
GIT, a prompt the caption continues.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from core.captioning.catalogue import CATALOGUE, ModelInfo, installed_dir, model_info
from visioncap_desktop.controllers.decisions import chosen_bundle

DEFAULT_CATALOGUE_MODEL = "vit-gpt2-coco"  # what the app downloaded before there was a catalogue
CATALOGUE_NAMES = tuple(m.name for m in CATALOGUE)


@dataclass(frozen=True)
class ModelSpec:
    """What the caption worker loads: core.captioning.loading.load_captioner's `model` ("demo",
    a catalogue name or a bundle folder), `style` and `prompt` ("" for the model's default)."""

    model: str
    style: str = ""
    prompt: str = ""


@dataclass(frozen=True)
class ModelChoice:
    """A saved choice of model, app-wide (settings' model_* keys) or for one folder."""

    source: str = ""  # "" not chosen yet, "demo", "folder" (`path`), "download" (the catalogue's `name`)
    path: str = ""
    name: str = DEFAULT_CATALOGUE_MODEL
    style: str = ""  # one of the model's styles; "" its default
    prompt: str = ""  # for a model that continues a prompt (BLIP, GIT)

    @property
    def info(self) -> ModelInfo | None:
        """The catalogue entry of a catalogue model, else None."""
        return model_info(self.name) if self.source == "download" else None

    def cleaned(self) -> ModelChoice:
        """The same choice with a style and prompt the model has: a model with styles names one
        (its default for "" or a style left from another model), a model without has none, and a
        prompt stays only for a model that takes one."""
        info = self.info
        style = ""
        if info is not None and info.styles:
            style = self.style if any(s.name == self.style for s in info.styles) else info.default_style
        prompt = self.prompt.strip() if info is None or info.prompt_prefix else ""
        return ModelChoice(self.source, self.path if self.source == "folder" else "", self.name, style, prompt)

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> ModelChoice | None:
        """A choice saved by `to_json`; None for anything else (a hand-edited file)."""
        if not isinstance(data, Mapping) or not all(isinstance(data.get(k, ""), str) for k in asdict(cls())):
            return None
        choice = cls(**{k: data[k] for k in asdict(cls()) if k in data})
        if choice.source not in ("demo", "folder", "download") or choice.name not in CATALOGUE_NAMES:
            return None
        return choice.cleaned()


def is_installed(name: str) -> bool:
    """Whether the catalogue model `name` has been downloaded completely (its manifest is
    written last)."""
    return (installed_dir(name) / "manifest.json").is_file()


def folder_key(folder: str | Path) -> str:
    """How a folder is named in the settings' folder_models table."""
    return str(Path(folder).resolve())


def model_spec(choice: ModelChoice, override: str | None, demo: Path | None) -> ModelSpec | None:
    """What to load for `choice`, or None when it names no usable model (nothing chosen, a
    catalogue model not downloaded yet, a build without the demo). `override`: `--model`, which
    wins, without a style."""
    if override:
        bundle = chosen_bundle(override, "", "", demo, None)
        return ModelSpec(bundle) if bundle else None
    installed = choice.name if choice.source == "download" and is_installed(choice.name) else None
    bundle = chosen_bundle(None, choice.source, choice.path, demo, installed)
    if bundle is None:
        return None
    choice = choice.cleaned()
    return ModelSpec(bundle, choice.style, choice.prompt)


def size_text(size: int) -> str:
    """A download size for people: "464 MB", "1.5 GB"."""
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{round(size / 1e6):,} MB"


def style_label(info: ModelInfo | None, style: str) -> str:
    """The label of `style` ("" the default) of a model that has styles, else ""."""
    if info is None or not info.styles:
        return ""
    chosen = info.style(style) if any(s.name == style for s in info.styles) else info.styles[0]
    return chosen.label if chosen else ""


def choice_label(choice: ModelChoice, loaded_name: str = "") -> str:
    """The model and style for the status bar and Settings: "Florence-2 base, Detailed caption",
    "BLIP base (captioning), prompt “a photograph of”", a bundle folder's name, "the demo model".
    `loaded_name`: the name the loaded model gave itself, for a folder or the demo."""
    info = choice.info
    if info is not None:
        text = info.title
    elif choice.source == "demo":
        text = loaded_name or "the demo model"
    elif choice.source == "folder":
        text = loaded_name or Path(choice.path).name or choice.path
    else:
        return "none chosen"
    style = style_label(info, choice.style)
    if style:
        text += f", {style}"
    if choice.prompt:
        text += f", prompt “{choice.prompt}”"
    return text


def as_spec(model: ModelSpec | str) -> ModelSpec:
    """`model` as a ModelSpec: a bare string is that model in its default style."""
    return model if isinstance(model, ModelSpec) else ModelSpec(model)
