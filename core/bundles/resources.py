"""Where packaged data files live, from a source tree, an installed wheel, or a PyInstaller build.

Every lookup of a shipped file goes through `resource_path`, so a frozen build only has to
place data files at the same relative paths under `sys._MEIPASS`.
"""

from __future__ import annotations

import sys
from pathlib import Path

DEMO_MODEL = "demo"  # the name `--model demo` resolves
# The public ViT-GPT2 COCO captioner on the Hugging Face hub, and the size of its download.
PUBLIC_COCO_CAPTIONER = "nlpconnect/vit-gpt2-image-captioning"
PUBLIC_COCO_CAPTIONER_SIZE = "about 1 GB"


def resource_root() -> Path:
    """The folder that holds the `core` package (or its data, when frozen)."""
    frozen = getattr(sys, "_MEIPASS", None)
    return Path(frozen) if frozen else Path(__file__).resolve().parents[2]  # core/bundles/resources.py


def resource_path(*parts: str) -> Path:
    return resource_root().joinpath(*parts)


def demo_bundle_path() -> Path | None:
    """The built-in demo bundle, or None if this installation ships without it."""
    path = resource_path("core", "assets", "demo")
    return path if (path / "manifest.json").is_file() else None


def resolve_model(model: str | Path) -> Path:
    """A bundle folder path, or "demo" for the built-in demo bundle."""
    if str(model) == DEMO_MODEL:
        demo = demo_bundle_path()
        if demo is None:
            raise FileNotFoundError("the built-in demo bundle is not part of this installation")
        return demo
    return Path(model)
