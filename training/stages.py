"""Stages at run time: which parameters a stage trains, and which stage an epoch is in."""

from __future__ import annotations

import fnmatch

import torch

from training.config import Stage


def trainable_names(model: torch.nn.Module, stage: Stage) -> list[str]:
    """Parameter names matching any of the stage's globs; ValueError for a glob matching none."""
    names = [name for name, _ in model.named_parameters()]
    for pattern in stage.trainable:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in names):
            raise ValueError(f"stage {stage.name!r}: pattern {pattern!r} matches no parameter")
    return [name for name in names if any(fnmatch.fnmatchcase(name, p) for p in stage.trainable)]


def apply_stage(model: torch.nn.Module, stage: Stage) -> int:
    """Set requires_grad for the stage; returns the number of trainable parameters."""
    chosen = set(trainable_names(model, stage))
    count = 0
    for name, param in model.named_parameters():
        param.requires_grad_(name in chosen)
        count += param.numel() if name in chosen else 0
    return count


def stage_at(stages: list[Stage], epoch: int) -> Stage:
    return [stage for stage in stages if stage.start_epoch <= epoch][-1]
