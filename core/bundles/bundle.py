"""Model bundles: self-contained folders that hold everything needed to caption.

    config.json        CaptionerConfig (architecture, special tokens, preprocessing settings)
    model.safetensors  the weights (safetensors: loading never unpickles anything)
    tokenizer.json     the `tokenizers` tokenizer
    manifest.json      name, description, provenance, licence, and each file's size and SHA-256

Loading checks every file and raises one `BundleError` naming the file and the problem; each
file's SHA-256 is checked the first time it is loaded (core/bundles/verification.py remembers it).
The model is built on the meta device and the loaded tensors are assigned, so no time is
spent on a random initialisation that would be overwritten.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from core.atomic import atomic_write, atomic_write_text
from core.bundles.jsonfile import read_json_object
from core.bundles.verification import check_files, file_entries
from core.captioning.config import CaptionerConfig
from core.captioning.model import VisionGPT2
from core.captioning.tokenizer import CaptionTokenizer
from core.errors import BundleError

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "manifest.json"


@dataclass
class Manifest:
    name: str
    description: str = ""
    licence: str = "unknown"
    provenance: dict = field(default_factory=dict)  # where the weights came from, how made
    format_version: int = FORMAT_VERSION
    created: str = ""
    files: dict = field(default_factory=dict)  # file name -> {"bytes": int, "sha256": str}

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, ensure_ascii=False) + "\n"


@dataclass
class Bundle:
    path: Path
    config: CaptionerConfig
    model: VisionGPT2
    tokenizer: CaptionTokenizer
    manifest: Manifest


BUNDLE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def state_dict_for_saving(model: VisionGPT2, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """CPU tensors, floating ones in `dtype` (loading turns them back into float32)."""
    return {
        k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().to("cpu")).contiguous()
        for k, v in model.state_dict().items()
    }


def save_bundle(
    out_dir: str | Path,
    model: VisionGPT2,
    tokenizer: CaptionTokenizer,
    *,
    name: str,
    description: str = "",
    licence: str = "unknown",
    provenance: dict | None = None,
    dtype: str = "float32",
) -> Path:
    """Write a bundle folder (created if needed); each file is written atomically.

    `dtype` "float16" or "bfloat16" halves the weights file; loading restores float32, with the
    weights rounded accordingly.
    """
    if dtype not in BUNDLE_DTYPES:
        raise ValueError(f"dtype must be one of {sorted(BUNDLE_DTYPES)}, got {dtype!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.config.validate()
    if tokenizer.vocab_size > model.config.vocab_size:
        raise ValueError(
            f"tokenizer has {tokenizer.vocab_size} tokens, the model's vocabulary only {model.config.vocab_size}"
        )
    atomic_write(out / CONFIG_FILE, lambda p: model.config.save(p))
    atomic_write(
        out / WEIGHTS_FILE,
        lambda p: save_file(state_dict_for_saving(model, BUNDLE_DTYPES[dtype]), str(p), metadata={"format": "pt"}),
    )
    atomic_write(out / TOKENIZER_FILE, lambda p: tokenizer.save(p))
    manifest = Manifest(
        name=name,
        description=description,
        licence=licence,
        provenance=provenance or {},
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        files=file_entries(out, (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE)),
    )
    atomic_write_text(out / MANIFEST_FILE, manifest.to_json())
    return out


def read_manifest(bundle_dir: str | Path) -> Manifest:
    path = Path(bundle_dir) / MANIFEST_FILE
    data = read_json_object(path, BundleError)
    try:
        manifest = Manifest(**data)
    except TypeError as exc:
        raise BundleError(path, f"unexpected fields ({exc})") from exc
    if manifest.format_version > FORMAT_VERSION:
        raise BundleError(
            path,
            f"bundle format {manifest.format_version} is newer than this VisionCap understands "
            f"({FORMAT_VERSION}); update VisionCap",
        )
    return manifest


def read_config(bundle_dir: str | Path) -> CaptionerConfig:
    path = Path(bundle_dir) / CONFIG_FILE
    try:
        return CaptionerConfig.from_dict(read_json_object(path, BundleError))
    except (TypeError, ValueError) as exc:
        raise BundleError(path, f"invalid config: {exc}") from exc


def _load_weights(path: Path, model: VisionGPT2, device: torch.device) -> dict[str, torch.Tensor]:
    """Read the safetensors file, checking key set and shapes against the model before loading."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    try:
        with safe_open(str(path), framework="pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(path, f"not a readable safetensors file ({exc})") from exc
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected tensors {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        raise BundleError(path, "does not match config.json: " + "; ".join(parts))
    for key, shape in expected.items():
        if found[key] != shape:
            raise BundleError(path, f"tensor {key} has shape {list(found[key])}, config.json implies {list(shape)}")
    try:
        state = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise BundleError(path, f"corrupt tensor data ({exc})") from exc
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def load_bundle(bundle_dir: str | Path, device: str | torch.device = "cpu", verify_hashes: bool = True) -> Bundle:
    """Load and check a bundle. Raises BundleError naming the file and the problem.

    `verify_hashes` checks each file's SHA-256 against the manifest the first time this file (by
    path, size and modification time) is loaded; False checks sizes only.
    """
    bundle = Path(bundle_dir)
    if not bundle.is_dir():
        raise BundleError(bundle, "not a model bundle folder (it does not exist or is not a folder)")
    manifest = read_manifest(bundle)
    check_files(bundle, manifest.files, verify_hashes, "after the bundle was written")
    config = read_config(bundle)
    tokenizer_path = bundle / TOKENIZER_FILE
    if not tokenizer_path.is_file():
        raise BundleError(tokenizer_path, "missing")
    try:
        tokenizer = CaptionTokenizer.from_file(tokenizer_path)
    except Exception as exc:  # tokenizers raises plain Exception subclasses for bad files
        raise BundleError(tokenizer_path, f"not a valid tokenizer file ({exc})") from exc
    if tokenizer.vocab_size > config.vocab_size:
        raise BundleError(
            tokenizer_path,
            f"has {tokenizer.vocab_size} tokens but config.json's vocabulary holds {config.vocab_size}",
        )
    device = torch.device(device)
    with torch.device("meta"):
        model = VisionGPT2(config)
    state = _load_weights(bundle / WEIGHTS_FILE, model, device)
    model.load_state_dict(state, strict=True, assign=True)
    model.eval()
    return Bundle(path=bundle, config=config, model=model, tokenizer=tokenizer, manifest=manifest)
