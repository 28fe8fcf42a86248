"""The optimiser and the learning-rate schedule a run steps with.

Optimisers: "adam", the original VisionGPT2 recipe's (weight decay as an L2 term added to the
gradient, so Adam's per-parameter scaling shrinks it), and "adamw" (decay decoupled from the
gradient, Loshchilov & Hutter; applied to matrices only, not to biases and norm weights, as
nanoGPT and Hugging Face's Trainer do). Adam stays the default: it reproduces the original.

Schedules: "onecycle", the original's (cosine warm-up from lr/div_factor to lr over pct_start of
the steps, then cosine annealing to lr/div_factor/final_div_factor; momentum cycled too), and
"cosine" (linear warm-up over `warmup_steps` optimiser steps, then cosine to lr * min_lr_ratio at
the run's last step), the common recipe of timm, nanoGPT and Hugging Face. Both are stepped
once per optimiser step and are pure functions of the step, so a resume continues them exactly.
"""

from __future__ import annotations

import functools
import math

import torch

from training.config import TrainConfig


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Over all the model's parameters (a stage freezes some; those get no gradient and are
    skipped by the step)."""
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    matrices = [p for p in model.parameters() if p.dim() >= 2]  # weights and embeddings
    vectors = [p for p in model.parameters() if p.dim() < 2]  # biases, norm weights
    return torch.optim.AdamW(
        [{"params": matrices, "weight_decay": cfg.weight_decay}, {"params": vectors, "weight_decay": 0.0}],
        lr=cfg.lr,
    )


def cosine_factor(step: int, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """The multiple of the peak lr at optimiser step `step` (0-based): (step + 1) / (warmup + 1)
    while warming up (never 0, so no step is wasted), then a half cosine from 1 down to
    `min_lr_ratio` at `total_steps`."""
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int,
                   last_step: int = -1) -> torch.optim.lr_scheduler.LRScheduler:
    """The schedule over `total_steps`; `last_step` >= 0 continues a run at that step (the
    optimiser's param groups must then hold the schedule's `initial_lr` and the like)."""
    if cfg.schedule == "cosine":
        factor = functools.partial(cosine_factor, warmup_steps=cfg.warmup_steps, total_steps=total_steps,
                                   min_lr_ratio=cfg.min_lr_ratio)
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor, last_epoch=last_step)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=cfg.lr,
        total_steps=total_steps,
        pct_start=cfg.pct_start,
        div_factor=cfg.div_factor,
        final_div_factor=cfg.final_div_factor,
        last_epoch=last_step,
    )
