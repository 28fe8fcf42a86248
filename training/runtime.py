"""Where and how a run computes: device, mixed precision, and torchrun's processes.

Precision on CPUs (`training_precision`): fp16 training is refused on a CPU without fp16
hardware (AMX-FP16): there is no fast fp16 matmul to gain, and the GradScaler's bookkeeping is
pure cost; bf16 on a CPU without AVX512-BF16 or AMX runs, but emulated, slower than fp32, with a
warning. docs/training-runs.md has the measurements.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

import core.captioning.device
from core.captioning.device import cpu_name, resolve_device, resolve_training_precision
from training.config import ATTENTION_BACKENDS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Precision:
    """How forward passes compute: the autocast dtype and, optionally, the attention kernel.

    Backward and the optimiser step run outside autocast; fp16 also scales the loss
    (GradScaler) so small gradients do not flush to zero. `attention` restricts
    scaled_dot_product_attention to one backend ("auto": PyTorch chooses). On CPUs, for short
    sequences such as a 64-patch ViT, "math" trains faster than the fused kernel
    PyTorch picks, whose backward pass is slow there.
    """

    name: str  # fp32 | fp16 | bf16
    device_type: str  # cuda | cpu
    attention: str = "auto"

    @property
    def dtype(self) -> torch.dtype | None:
        return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.name)

    def forward(self) -> contextlib.AbstractContextManager:
        """The context for a forward pass (the backward of what ran inside follows its kernels)."""
        stack = contextlib.ExitStack()
        if self.attention != "auto":
            from torch.nn.attention import SDPBackend, sdpa_kernel

            backend = {
                "math": SDPBackend.MATH,
                "flash": SDPBackend.FLASH_ATTENTION,
                "efficient": SDPBackend.EFFICIENT_ATTENTION,
                "cudnn": SDPBackend.CUDNN_ATTENTION,
            }[self.attention]
            stack.enter_context(sdpa_kernel(backend))
        if self.dtype is not None:
            stack.enter_context(torch.autocast(self.device_type, dtype=self.dtype))
        return stack

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device_type, enabled=self.name == "fp16")

    @classmethod
    def of(cls, name: str, device: torch.device, attention: str = "auto") -> Precision:
        """The precision a run trains in: `name` ("auto" included) as
        core.captioning.device.resolve_training_precision decides it, and the attention backend checked."""
        if attention not in ATTENTION_BACKENDS:
            raise ValueError(f"attention must be one of {ATTENTION_BACKENDS}, got {attention!r}")
        return cls(resolve_training_precision(name, device), device.type, attention)


def cpu_has_fast_fp16() -> bool:
    """AMX-FP16 (Granite Rapids and newer): the only CPUs where fp16 matmuls are not emulated."""
    check = getattr(torch.cpu, "_is_amx_fp16_supported", None)
    try:
        return bool(check is not None and check())
    except RuntimeError:
        return False


def training_precision(name: str, device: torch.device, attention: str = "auto", warn: bool = True) -> Precision:
    """Precision.of, with the CPU policy: fp16 refused without fp16 hardware, an explicit bf16
    without native bf16 warned about (`warn`: log it; rank 0 only under DDP)."""
    precision = Precision.of(name, device, attention)
    if device.type != "cpu":
        return precision
    if precision.name == "fp16" and not cpu_has_fast_fp16():
        raise ValueError(
            f"fp16 training on this {cpu_name()} is refused: without fp16 hardware (AMX-FP16) every fp16 "
            "matmul is emulated and the loss scaling adds work; it measured many times slower than fp32 "
            "(docs/training-runs.md). Use --precision fp32, or auto (bf16 where the CPU has it natively)"
        )
    if precision.name == "bf16" and not core.captioning.device.cpu_has_fast_bf16() and warn:
        logger.warning(
            "bf16 on this %s is emulated (no AVX512-BF16 or AMX): it trains slower than fp32, many times so in "
            "the measurements of docs/training-runs.md; --precision auto picks fp32 here", cpu_name())
    return precision


@dataclass(frozen=True)
class Processes:
    """This process's place among torchrun's; a single process is rank 0 of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def process_device(device: str, processes: Processes) -> torch.device:
    """core.captioning.device.resolve_device, then one GPU per local rank: this process's device."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        if processes.distributed or resolved.index is None:
            resolved = torch.device("cuda", processes.local_rank)
        torch.cuda.set_device(resolved)
    return resolved


def init_processes(device_type: str) -> Processes:
    """Join torchrun's process group when launched by it (WORLD_SIZE > 1): NCCL on GPUs, gloo
    on the CPU. Without torchrun, one process and no group."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Processes()
    processes = Processes(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
        logger.info("rank %d of %d joined the %s process group", processes.rank, world_size, backend)
    return processes


def close_processes(processes: Processes) -> None:
    if processes.distributed and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], processes: Processes, device: torch.device) -> list[float]:
    """Element-wise sum over all processes (the values themselves in a single process)."""
    if not processes.distributed:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()
