"""A checkpoint's weights, read without running anything it holds: safetensors files (or their
shards), and PyTorch pickles only through torch.load's weights-only unpickler, which builds
tensors and plain containers and refuses any other object before anything in the file runs.
Whatever is read this way is written out as safetensors at once (core/bundles/hf_import.py):
nothing else in VisionCap unpickles.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from core.bundles.weights import read_safetensors
from core.errors import ImportFormatError

# The first release whose torch.load defaults to weights_only=True, with the fix for
# CVE-2025-32434 (code execution through the weights-only unpickler of 2.5.1 and older).
SAFE_TORCH_LOAD = (2, 6)


def read_checkpoint_weights(folder: Path) -> dict[str, torch.Tensor]:
    """The folder's safetensors weights, or else its pytorch_model.bin (or shards of it)."""
    if (folder / "model.safetensors").is_file() or any(folder.glob("model-*-of-*.safetensors")):
        return read_safetensors(folder)
    single = folder / "pytorch_model.bin"
    pickled = [single] if single.is_file() else sorted(folder.glob("pytorch_model-*-of-*.bin"))
    return read_pickled_weights(pickled) if pickled else read_safetensors(folder)


def read_pickled_weights(files: list[Path]) -> dict[str, torch.Tensor]:
    """Tensors from PyTorch pickle files, through torch.load's weights-only unpickler: it builds
    tensors and plain containers only and refuses any other object (a pickle that would run code
    is refused before anything in it runs)."""
    if tuple(int(part) for part in torch.__version__.split(".")[:2]) < SAFE_TORCH_LOAD:
        raise ImportFormatError(
            f"{files[0]}: reading pickled weights safely needs PyTorch 2.6 or newer (this is {torch.__version__})"
        )
    state: dict[str, torch.Tensor] = {}
    for file in files:
        try:
            loaded = torch.load(file, weights_only=True, map_location="cpu")
        except pickle.UnpicklingError as exc:
            reason = next((line.strip() for line in str(exc).splitlines() if "Unsupported" in line), "")
            raise ImportFormatError(
                f"{file}: refused: it holds objects other than tensors, which could run code when "
                f"loaded{f' ({reason})' if reason else ''}"
            ) from exc
        except Exception as exc:  # torch raises RuntimeError, EOFError, zipfile or OS errors
            raise ImportFormatError(f"{file}: not a readable PyTorch weights file ({exc})") from exc
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in loaded.items()
        ):
            raise ImportFormatError(f"{file}: not a state dict of named tensors")
        state.update(loaded)
    return state


def read_safetensors_header(path: Path) -> list[str]:
    """The tensor names of a safetensors file; ImportFormatError naming it when it is not one."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return list(f.keys())
    except Exception as exc:  # safetensors raises its own error type
        raise ImportFormatError(f"{path}: not a readable safetensors file ({exc})") from exc


def distinct_storage(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Tensors that share memory (tied weights in a pickle) copied apart: safetensors stores
    each tensor on its own, and transformers ties them again when it loads."""
    seen: set[int] = set()
    out = {}
    for key, tensor in state.items():
        pointer = tensor.untyped_storage().data_ptr()
        out[key] = tensor.clone().contiguous() if pointer in seen else tensor.contiguous()
        seen.add(pointer)
    return out
