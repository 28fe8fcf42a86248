"""Where and how a run computes: device, mixed precision, and torchrun's processes."""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from core.captioner import cpu_has_fast_bf16

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Precision:
    """Autocast dtype for the forward pass. Backward and the optimiser step run outside
    autocast; fp16 also scales the loss (GradScaler) so small gradients do not flush to zero."""

    name: str  # fp32 | fp16 | bf16
    device_type: str  # cuda | cpu

    @property
    def dtype(self) -> torch.dtype | None:
        return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.name)

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device_type, enabled=self.name == "fp16")


def resolve_precision(name: str, device: torch.device) -> Precision:
    """"auto": bf16 on CUDA devices that support it, else fp16 (with GradScaler, as the
    original); on the CPU bf16 where it has native bf16 (AVX512-BF16/AMX), else fp32."""
    if name == "auto":
        if device.type == "cuda":
            name = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            name = "bf16" if cpu_has_fast_bf16() else "fp32"
    if name not in ("fp32", "fp16", "bf16"):
        raise ValueError(f"precision must be auto, fp32, fp16 or bf16, got {name!r}")
    if name == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("bf16 was requested but this CUDA device does not support it")
    return Precision(name, device.type)


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


def resolve_device(device: str, processes: Processes) -> torch.device:
    """"auto": CUDA if available (one GPU per local rank), else the CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = torch.device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("CUDA was requested but this PyTorch build or machine has no CUDA device")
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
