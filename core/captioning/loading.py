"""One entry point for every captioner VisionCap runs: `load_captioner(model)` where `model` is
"demo", a name from core.captioning.catalogue (installed under its models folder), or a model
folder. A folder's manifest says what it holds: a VisionGPT2 bundle (no `kind`, or "visiongpt2")
loads as core.captioning.captioner.Captioner, a transformers model folder ("transformers") as
core.captioning.hf_captioner.TransformersCaptioner. Both have the same surface.

Importing this module imports no torch (the CLI checks its arguments first).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from core.bundles.resources import DEMO_MODEL, resolve_model
from core.bundles.transformers_folder import KIND, MANIFEST_FILE, manifest_kind
from core.captioning.catalogue import CATALOGUE, installed_dir, model_info
from core.errors import BundleError

if TYPE_CHECKING:
    import torch

    from core.captioning.captioner import Captioner
    from core.captioning.hf_captioner import TransformersCaptioner


def model_folder(model: str | Path) -> Path:
    """The folder `model` names: the demo bundle, an installed catalogue model, or the path.
    Raises BundleError saying how to install a catalogue model that is not installed, or that
    a path is neither a folder nor a known name."""
    text = str(model)
    if text == DEMO_MODEL:
        return resolve_model(DEMO_MODEL)
    info = model_info(text)
    if info is not None and not Path(text).is_dir():
        folder = installed_dir(info.name)
        if not (folder / MANIFEST_FILE).is_file():
            raise BundleError(folder, f"{info.title} is not installed; install it with: visioncap import-hf {info.name}")
        return folder
    folder = Path(model)
    if not folder.is_dir():
        names = ", ".join(m.name for m in CATALOGUE)
        raise BundleError(folder, f"not a model folder, nor a model VisionCap knows ({DEMO_MODEL}, {names})")
    return folder


def load_captioner(
    model: str | Path,
    device: str | torch.device = "auto",
    precision: str = "auto",
    style: str | None = None,
    prompt: str | None = None,
    verify_hashes: bool = True,
) -> Captioner | TransformersCaptioner:
    """Load the captioner `model` names (see model_folder) onto `device`. A style or prompt the
    model does not take is a ValueError that says what it takes; a broken folder a BundleError
    naming the file."""
    folder = model_folder(model)
    if manifest_kind(folder) == KIND:
        from core.captioning.hf_captioner import TransformersCaptioner

        return TransformersCaptioner.load(folder, device, precision, verify_hashes, style=style, prompt=prompt)
    from core.captioning.captioner import Captioner

    if style:
        raise ValueError(f"VisionGPT2 models have no caption styles (asked for {style!r})")
    if prompt:
        raise ValueError(f"VisionGPT2 models take no prompt (asked for {prompt!r})")
    return Captioner.load(folder, device=device, precision=precision, verify_hashes=verify_hashes)
