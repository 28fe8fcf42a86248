"""A run's state in a checkpoint: what the trainer writes at a checkpoint and puts back on a resume.

training.checkpoint owns the format (safetensors + JSON, `latest`, pruning) and the resume rules;
this module says which of the trainer's parts go in and how they come back: the step and the
position in an unfinished epoch with every process's running sums, the schedule, the grad
scaler, every process's RNG states, the weight average, the history of epochs and validations,
the best validation, the tracker's run id and the commands run so far.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import torch.distributed as dist

from training import checkpoint as ckpt
from training.config import Stage
from training.optim import build_schedule
from training.runtime import Processes
from training.validation import Best

if TYPE_CHECKING:
    from training.trainer import Trainer

logger = logging.getLogger(__name__)

SUMS = ("nll", "tokens", "samples", "bad")  # an unfinished epoch's running sums, per process


def save_run(trainer: Trainer, epochs_done: int, stage: Stage, progress: dict | None = None,
             sums: dict | None = None) -> Path | None:
    """At an epoch's end (`progress` None) or part-way through epoch `epochs_done`, where
    `progress` says how far and `sums` holds this process's running epoch sums. Every process
    takes part (their RNG states and sums are gathered); rank 0 writes, and returns the folder."""
    t, cfg = trainer, trainer.cfg
    mine = {"rng": ckpt.rng_state(), "sums": sums}
    gathered = [mine]
    if t.processes.distributed:
        gathered = [None] * t.processes.world_size
        dist.all_gather_object(gathered, mine)
    t.saved_step = t.step
    t.saved_where = (f"epoch {epochs_done}, {progress['steps']} of {t.steps_per_epoch} steps done" if progress
                     else f"the end of epoch {epochs_done - 1}")
    if not t.processes.is_main:
        return None
    if progress is not None:
        progress = {**progress, "ranks": [g["sums"] for g in gathered]}
    document = {
        "epochs_done": epochs_done,
        "epoch_progress": progress,
        "step": t.step,
        "stage": stage.to_dict(),
        "train_config": cfg.to_dict(),
        "model_config": t.model.config.to_dict(),
        "precision": t.precision.name,
        "scheduler": t.scheduler.state_dict(),
        "scaler": t.scaler.state_dict(),
        "rng": [g["rng"] for g in gathered],
        # The data order is a pure function of these: the sampler's (seed, epoch)
        # permutation from the position reached, and augmentations seeded by (seed, epoch, index).
        "data_order": {"sampler": "ResumableSampler", "seed": cfg.seed, "world_size": t.processes.world_size,
                       "epoch": epochs_done,
                       "position": progress["steps"] * cfg.grad_accum * t.micro_batch if progress else 0},
        "data": t.data,
        "history": t.history,
        "evals": t.evals,
        "best": t.best.to_dict() if t.best else None,
        # format 2's names, for tools that read them
        "best_epoch": t.best.epoch if t.best else None,
        "best_val_ppl": t.best.val_ppl if t.best else None,
        "ema": t.ema.state() if t.ema is not None else None,
        "tracker": {cfg.tracker: t.tracker_run_id} if cfg.tracker and t.tracker_run_id else {},
        "provenance": t.provenance,
        "commands": t.commands,
    }
    best = t.best.folder() if cfg.keep_best_checkpoint and t.best else None
    return ckpt.save_checkpoint(t.out / "checkpoints", document, t.model, t.optimizer, t.tokenizer_file,
                                keep=cfg.keep_checkpoints, best=best,
                                extra_tensors=t.ema.tensors() if t.ema is not None else None)


def restore_run(trainer: Trainer, checkpoint: ckpt.Checkpoint) -> None:
    """Put the trainer where the checkpoint left its run (the model is already loaded)."""
    t, state, cfg, main = trainer, checkpoint.state, trainer.cfg, trainer.processes.is_main
    t.optimizer.load_state_dict(checkpoint.optimizer)
    t.step = state["step"]
    t.start_epoch = state["epochs_done"]
    t.epoch_progress = state.get("epoch_progress")
    saved_epochs = state["train_config"]["epochs"]
    if cfg.epochs == saved_epochs:
        t.scheduler.load_state_dict(state["scheduler"])
    else:
        begun = t.start_epoch + (t.epoch_progress is not None)
        if cfg.epochs < begun:
            raise ValueError(f"epochs {cfg.epochs}: the checkpoint has already begun epoch {begun - 1}; "
                             f"resume with at least {begun} epochs")
        before = t.optimizer.param_groups[0]["lr"]
        t.scheduler = build_schedule(t.optimizer, cfg, cfg.epochs * t.steps_per_epoch, t.step - 1)
        if main:
            logger.warning(
                "epochs %d -> %d: the %s schedule is rebuilt for %d steps as if planned so from the start, and "
                "continues at step %d (learning rate %.3g -> %.3g)", saved_epochs, cfg.epochs,
                "OneCycle" if cfg.schedule == "onecycle" else cfg.schedule, cfg.epochs * t.steps_per_epoch,
                t.step, before, t.scheduler.get_last_lr()[0])
    if state["scaler"]:
        t.scaler.load_state_dict(state["scaler"])
    rng = state["rng"]
    if len(rng) != t.processes.world_size and main:
        logger.warning("checkpoint has RNG states of %d processes, this run has %d: dropout will differ, and the "
                       "run is no longer bit-exact", len(rng), t.processes.world_size)
    ckpt.set_rng_state(rng[min(t.processes.rank, len(rng) - 1)])
    if state.get("precision", t.precision.name) != t.precision.name and main:
        logger.warning("the checkpoint trained in %s, this run trains in %s (--precision %s decides per machine): "
                       "not bit-exact", state["precision"], t.precision.name, cfg.precision)
    if t.ema is not None:
        t.ema.load(checkpoint.ema, state["ema"])
    t.history = state["history"]
    t.evals = state.get("evals", [])
    t.best = Best.from_state(state)
    t.commands = list(state.get("commands", []))
    t.tracker_run_id = (state.get("tracker") or {}).get(cfg.tracker or "")
    t.saved_step = t.step
    where = (f"step {t.epoch_progress['steps']} of epoch {t.start_epoch}" if t.epoch_progress
             else f"the end of epoch {t.start_epoch - 1}")
    logger.info("resumed from %s at %s (step %d)", checkpoint.path, where, t.step)


def resumed_sums(progress: dict | None, processes: Processes) -> dict:
    """This process's running sums of the epoch a step checkpoint interrupted (`progress`: its
    epoch_progress). With another number of processes than the checkpoint's, rank 0 carries all
    their totals: an epoch's metrics are sums over processes, so they stay exact."""
    if not progress:
        return {}
    ranks = progress["ranks"]
    if len(ranks) == processes.world_size:
        return ranks[processes.rank]
    if processes.is_main:
        logger.info("the interrupted epoch's sums come from %d process(es), this run has %d: rank 0 carries "
                    "their totals", len(ranks), processes.world_size)
        return {key: sum(r.get(key, 0) for r in ranks) for key in SUMS}
    return {}
