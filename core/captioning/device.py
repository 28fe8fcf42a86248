"""Where the model computes and in what precision: the one vocabulary that captioning and training
share. Importable without torch (the CLI's --help lists PRECISIONS and DEVICE_KINDS); torch is
imported by the functions that need it.

The devices are PyTorch's: the CPU; "cuda", NVIDIA GPUs and also AMD GPUs through ROCm, which
PyTorch exposes under the same name with `torch.version.hip` set; "mps", Apple silicon; "xpu",
Intel GPUs. "auto" takes the accelerator PyTorch reports, else the CPU. docs/devices.md says which
of them have run on real hardware.

"auto" precision means something different when captioning and when training, so each has its
own named policy below; both read the same device and the same capabilities.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Captioning also takes int8 (on the CPU): torch's dynamic quantisation of the Linear layers,
# measured against fp32 on trained models (docs/performance.md); never picked by "auto"
CAPTION_PRECISIONS = (*PRECISIONS, "int8")
ACCELERATORS = ("cuda", "mps", "xpu")  # the torch device types VisionCap runs on besides the CPU
DEVICE_KINDS = ("cpu", *ACCELERATORS)
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N, mps, xpu or xpu:N"  # what --device takes, for messages
# The first PyTorch whose autocast takes MPS in fp16, in bf16 (which also needs macOS 14), and
# whose GradScaler works there (fp16 training). An older one only warns and disables autocast,
# which would leave fp16 weights facing fp32 activations.
MPS_FP16_AUTOCAST = "2.5"
MPS_BF16_AUTOCAST = "2.6"
MPS_GRAD_SCALER = "2.8"
# torch.backends.cpu.get_cpu_capability() -> the name people know the vector unit by
CPU_VECTOR_UNITS = {"AVX2": "AVX2", "AVX512": "AVX-512", "SVE256": "SVE", "VSX": "VSX", "Z VECTOR": "z/Arch vector"}
UNNAMED_GPUS = {"CUDA": "NVIDIA GPU", "ROCm": "AMD GPU", "MPS": "Apple GPU", "XPU": "Intel GPU"}


def backend(kind: str) -> str:
    """What people call a device type's backend: "CPU", "CUDA", "ROCm" (AMD's, "cuda" to
    PyTorch), "MPS", "XPU"."""
    import torch

    if kind == "cuda" and getattr(torch.version, "hip", None):
        return "ROCm"
    return kind.upper()


def is_available(kind: str) -> bool:
    """Whether this PyTorch build and this machine have a `kind` device (the CPU always)."""
    import torch

    if kind == "cpu":
        return True
    if kind == "mps":
        module = getattr(torch.backends, "mps", None)
    else:
        module = getattr(torch, kind, None) if kind in ACCELERATORS else None
    with contextlib.suppress(AttributeError, RuntimeError):  # a build without it, a broken driver
        return bool(module is not None and module.is_available())
    return False


def device_count(kind: str) -> int:
    """How many `kind` devices there are (MPS has one at most)."""
    import torch

    if not is_available(kind):
        return 0
    if kind in ("cpu", "mps"):
        return 1
    return int(getattr(torch, kind).device_count())


def _reported_accelerator() -> str | None:
    """The accelerator PyTorch reports present (torch.accelerator, PyTorch 2.6 and newer), else
    None; older builds have each backend VisionCap knows asked in turn."""
    import torch

    accelerator = getattr(torch, "accelerator", None)
    if accelerator is not None and hasattr(accelerator, "is_available") and hasattr(accelerator, "current_accelerator"):
        # current_accelerator() alone names the build's accelerator even without a device
        if not accelerator.is_available():
            return None
        current = accelerator.current_accelerator()
        return None if current is None else current.type
    return next((kind for kind in ACCELERATORS if is_available(kind)), None)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto": the accelerator PyTorch reports, when it is one VisionCap knows (ACCELERATORS),
    else the CPU. An explicit device must be one of DEVICE_KINDS, optionally with an index, and be
    present: otherwise a ValueError names it."""
    import torch

    if str(device) == "auto":
        kind = _reported_accelerator()
        return torch.device(kind if kind in ACCELERATORS else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}: use {DEVICE_CHOICES}") from None
    if device.type not in DEVICE_KINDS:
        raise ValueError(f"{device} is not a device VisionCap runs on: use {DEVICE_CHOICES}")
    if device.type == "cpu":
        return device
    name = backend(device.type)
    if not is_available(device.type):
        raise ValueError(f"{device} was requested but this PyTorch build or machine has no {name} device")
    count = device_count(device.type)
    if device.index is not None and device.index >= count:
        last = f"{device.type}:{count - 1}"
        raise ValueError(f"{device} was requested but this machine has {count} {name} device(s), the last {last}")
    return device


def cpu_has_fast_bf16() -> bool:
    """AVX512-BF16 or AMX: where bf16 matmuls beat fp32 on the CPU."""
    import torch

    with contextlib.suppress(AttributeError, RuntimeError):
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return False


def cpu_name() -> str:
    """"CPU (AVX2)", "CPU (AVX-512, bf16)": the vector unit PyTorch's kernels use, and whether
    bf16 is native (cpu_has_fast_bf16)."""
    import torch

    features = []
    with contextlib.suppress(AttributeError, RuntimeError):
        unit = CPU_VECTOR_UNITS.get(torch.backends.cpu.get_cpu_capability())
        if unit:
            features.append(unit)
    if cpu_has_fast_bf16():
        features.append("bf16")
    return f"CPU ({', '.join(features)})" if features else "CPU"


def _gpu_name(device: torch.device) -> str | None:
    """The name PyTorch gives the device, or None where it has no way to ask."""
    import torch

    if device.type in ("cuda", "xpu"):
        return getattr(torch, device.type).get_device_name(device)
    if device.type == "mps":
        # the Metal device's name, e.g. "Apple M2" (torch.backends.mps.get_name, newer PyTorch)
        get_name = getattr(torch.backends.mps, "get_name", None)
        name = get_name() if get_name is not None else ""
        return (name if name.endswith("GPU") else f"{name} GPU") if name else None
    return None


def device_name(device: str | torch.device) -> str:
    """What the UI and the CLI call `device`: "NVIDIA GeForce RTX 4070 (CUDA)", "AMD Radeon RX
    7900 XTX (ROCm)", "Apple M2 GPU (MPS)", "Intel(R) Arc(TM) A770 Graphics (XPU)", "CPU (AVX2)";
    the index too where there are several ("... (CUDA 1)"). Never raises: the name is only
    informative, so what PyTorch cannot tell falls back to the vendor ("NVIDIA GPU (CUDA)")."""
    import torch

    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        return str(device)
    if device.type == "cpu":
        return cpu_name()
    name = backend(device.type)
    try:
        gpu = _gpu_name(device) if is_available(device.type) else None
        several = device.index is not None and device_count(device.type) > 1
    except Exception:  # a driver that cannot answer
        gpu, several = None, False
    where = f"{name} {device.index}" if several else name
    return f"{gpu or UNNAMED_GPUS.get(name, device.type)} ({where})"


@dataclass(frozen=True)
class DeviceInventory:
    """What this computer offers, for a device chooser: each device kind present ("cpu" always)
    with its name, and the kind "auto" picks."""

    names: dict[str, str]
    auto: str


def device_inventory() -> DeviceInventory:
    """Asks each backend (initialising it: call it where a GPU may already be in use, not on a
    GUI thread)."""
    names = {kind: device_name(kind) for kind in DEVICE_KINDS if is_available(kind)}
    return DeviceInventory(names, resolve_device("auto").type)


def _check(precision: str, allowed: tuple[str, ...] = PRECISIONS) -> None:
    if precision not in allowed:
        raise ValueError(f"precision must be one of {allowed}, got {precision!r}")


def _torch_at_least(version: str) -> bool:
    import torch
    from torch.torch_version import TorchVersion

    return TorchVersion(torch.__version__) >= version


def _bf16_supported(kind: str) -> bool:
    """bf16 on an accelerator, as PyTorch reports it (always on ROCm); on MPS, from PyTorch's
    bf16 autocast and macOS 14."""
    import torch

    if kind == "mps":
        newer_than = getattr(torch.backends.mps, "is_macos_or_newer", None)
        return _torch_at_least(MPS_BF16_AUTOCAST) and newer_than is not None and bool(newer_than(14, 0))
    supported = getattr(getattr(torch, kind, None), "is_bf16_supported", None)
    with contextlib.suppress(AttributeError, RuntimeError):
        return bool(supported is not None and supported())
    return False


def _unsupported(precision: str, device: torch.device, training: bool) -> str | None:
    """Why `precision` cannot run on `device`, or None when it can. fp32 runs everywhere; the
    CPU runs all three (fp16 slowly)."""
    kind, name = device.type, backend(device.type)
    if kind == "cpu" or precision == "fp32":
        return None
    if precision == "bf16" and not _bf16_supported(kind):
        if kind == "mps":
            return f"bf16 on MPS needs PyTorch {MPS_BF16_AUTOCAST} or newer and macOS 14 or newer"
        return f"this {name} device does not support bf16"
    if kind == "mps" and precision == "fp16":
        if not _torch_at_least(MPS_FP16_AUTOCAST):
            return f"fp16 on MPS needs PyTorch {MPS_FP16_AUTOCAST} or newer (autocast)"
        if training and not _torch_at_least(MPS_GRAD_SCALER):
            return f"fp16 training on MPS needs PyTorch {MPS_GRAD_SCALER} or newer (its GradScaler)"
    return None


def _checked(precision: str, device: torch.device, training: bool) -> str:
    problem = _unsupported(precision, device, training)
    if problem:
        raise ValueError(f"{precision} was requested on {device}, but {problem}")
    return precision


def resolve_precision(precision: str, device: torch.device) -> str:
    """Captioning's "auto": fp16 on CUDA and ROCm; fp16 on MPS where PyTorch autocasts it (bf16
    is emulated on M1 and M2, and newer only where macOS and PyTorch allow it); on XPU bf16
    where the device has it, else fp16; on the CPU bf16 where it is native (see
    benchmarks/generate.py), else fp32. "int8" (dynamic quantisation) runs on the CPU only. An
    explicit precision the device cannot run is a ValueError."""
    _check(precision, CAPTION_PRECISIONS)
    if precision == "int8":
        if device.type != "cpu":
            raise ValueError(f"int8 was requested on {device}, but int8 captioning runs on the CPU only")
        from core.captioning.quantized import AVAILABLE

        if not AVAILABLE:
            raise ValueError("int8 was requested, but this PyTorch has no dynamic quantisation (torch.ao.quantization)")
        return precision
    if precision != "auto":
        return _checked(precision, device, training=False)
    kind = device.type
    if kind == "cuda":
        return "fp16"
    if kind == "mps":
        return "fp16" if _unsupported("fp16", device, training=False) is None else "fp32"
    if kind == "xpu":
        return "bf16" if _bf16_supported(kind) else "fp16"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


def resolve_training_precision(precision: str, device: torch.device) -> str:
    """Training's "auto": bf16 on CUDA, ROCm and XPU devices that support it, else fp16 (trained
    with a GradScaler, as the original); on MPS fp32 (mixed-precision training there has not
    been tried; an explicit fp16 or bf16 is allowed where PyTorch supports it); on the CPU
    bf16 where it is native, else fp32. An explicit precision the device cannot run is a
    ValueError."""
    _check(precision)
    if precision != "auto":
        return _checked(precision, device, training=True)
    kind = device.type
    if kind in ("cuda", "xpu"):
        return "bf16" if _bf16_supported(kind) else "fp16"
    if kind == "mps":
        return "fp32"
    return "bf16" if cpu_has_fast_bf16() else "fp32"
