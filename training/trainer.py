"""The training loop: one loop over epochs, stages as data, exact resume, DDP, best-epoch export.

Shape (after nanoGPT's train.py): config -> processes and device -> data (checked against the
checkpoint's record on a resume) -> model and tokenizer -> optimiser, OneCycle schedule, grad
scaler -> (resume) -> for each epoch: stage, train (with step checkpoints), validate, record,
checkpoint, export the best bundle, stop early -> score the best bundle on the val split.

The loss of an optimiser step is the summed token NLL of all its micro-batches on all processes
divided by their token count, so gradient accumulation and DDP give the gradient of one big
batch (DDP averages over processes, hence the `world_size` factor below).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from core.atomic import atomic_write_text
from core.bundle import load_bundle, save_bundle
from core.config import CaptionerConfig
from core.generation import GenerationSettings
from core.model import VisionGPT2
from core.tokenizer import CaptionTokenizer
from training import checkpoint as ckpt
from training.annotations import CaptionRecord
from training.batches import (
    Batch,
    CaptionDataset,
    ResumableSampler,
    ShardSampler,
    build_augmentation,
    flip_enabled,
    make_loader,
    placeholder_batch,
)
from training.config import Stage, TrainConfig
from training.evaluate import batch_nll, score, teacher_forced_nll
from training.model_init import initial_model
from training.report import RunClock, StepLog, clock, write_metrics_csv, write_plot
from training.runtime import (
    Precision,
    Processes,
    all_reduce_sum,
    close_processes,
    init_processes,
    process_device,
)
from training.splits import (
    SPLITS_DIR,
    absolute_paths,
    check_same_data,
    data_record,
    read_splits,
    write_splits,
)
from training.stages import apply_stage, stage_at, trainable_names

logger = logging.getLogger(__name__)

MAX_BAD_IMAGE_WARNINGS = 5  # per epoch; all are counted
VAL_METRICS_FILE = "val_metrics.json"  # the best bundle scored on splits/val.csv, beside bundle/


@dataclass
class TrainResult:
    out: Path
    history: list[dict]
    best_epoch: int | None
    best_val_ppl: float
    bundle: Path | None
    model: VisionGPT2
    val_metrics: dict | None = None


def _exp(loss: float) -> float:
    """Perplexity from a mean token NLL, capped where exp would overflow (an untrained model)."""
    return math.exp(min(loss, 700.0))


def _step_batches(loader, accum: int):
    """Group a loader's micro-batches into the lists that make one optimiser step each."""
    group = []
    for batch in loader:
        group.append(batch)
        if len(group) == accum:
            yield group
            group = []
    if group:
        yield group


# --- the loop ---


class Trainer:
    """Holds the state of one run; `run()` trains from where it stands to the end (or a stop)."""

    def __init__(self, cfg: TrainConfig, resume: str | Path | None = None, progress: bool = True,
                 command: str | None = None):
        cfg = absolute_paths(cfg)
        self.cfg = cfg
        self.progress = progress
        self.out = Path(cfg.out)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        wants_cuda = cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available())
        self.processes: Processes = init_processes("cuda" if wants_cuda else "cpu")
        self.device = process_device(cfg.device, self.processes)
        self.precision: Precision = Precision.of(cfg.precision, self.device, cfg.attention)
        self.stages = cfg.resolved_stages()

        if resume is None and (self.out / "checkpoints" / ckpt.LATEST_FILE).exists():
            raise ValueError(f"{self.out} already holds a run; resume it (--resume) or train into another --out")
        checkpoint = ckpt.load_checkpoint(resume) if resume is not None else None
        if checkpoint is not None:
            # absolute_paths: checkpoints before format 2 stored paths as typed
            saved = absolute_paths(TrainConfig.from_dict(checkpoint.state["train_config"]))
            ckpt.check_resumable(cfg, saved.to_dict())
        # Each process its own dropout stream; rank 0's equals a single process's.
        rank = self.processes.rank
        random.seed(cfg.seed + rank)
        np.random.seed(cfg.seed + rank)
        torch.manual_seed(cfg.seed + rank)

        train_records, val_records, kind = read_splits(cfg)
        self.data = data_record(kind, train_records, val_records)
        if checkpoint is not None:
            check_same_data(checkpoint.state.get("data"), self.data)
        self.provenance: dict = {}
        if checkpoint is None:
            model, tokenizer, self.provenance = initial_model(cfg, [r.caption for r in train_records])
        else:
            model = VisionGPT2(CaptionerConfig.from_dict(checkpoint.state["model_config"]))
            model.load_state_dict(checkpoint.model, strict=True)
            tokenizer = CaptionTokenizer.from_file(checkpoint.path / ckpt.TOKENIZER_FILE)
            self.provenance = checkpoint.state.get("provenance", {})
        self.model = model.to(self.device).train()
        self.tokenizer = tokenizer
        self.tokenizer_file = self.out / "tokenizer.json"
        if self.processes.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            tokenizer.save(self.tokenizer_file)
            (self.out / "train_config.json").write_text(cfg.to_json(), encoding="utf-8")
            write_splits(self.out, train_records, val_records)
        for stage in self.stages:  # a typo in a late stage fails now, not hours later
            trainable_names(self.model, stage)

        self._build_data(train_records, val_records)

        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = self._schedule()
        self.scaler = self.precision.grad_scaler()
        self.start_epoch = 0
        self.step = 0
        self.epoch_progress: dict | None = None  # where an unfinished epoch stands (a step checkpoint)
        self.history: list[dict] = []
        self.best_epoch: int | None = None
        self.best_val_ppl = math.inf
        self.commands: list[str] = []
        if checkpoint is not None:
            self._restore(checkpoint)
        self.resumed_at = self.step if checkpoint is not None else None
        if command:
            self.commands.append(command)

    def _build_data(self, train_records: list[CaptionRecord], val_records: list[CaptionRecord]) -> None:
        cfg, processes = self.cfg, self.processes
        per_process = processes.world_size * cfg.grad_accum
        if cfg.batch_size % per_process:
            raise ValueError(
                f"batch_size {cfg.batch_size} is not divisible by processes x grad_accum = {per_process}"
            )
        self.micro_batch = cfg.batch_size // per_process
        flip = flip_enabled(cfg.augment, [r.caption for r in train_records])
        augmentation = build_augmentation(cfg.augment, flip)
        model_cfg = self.model.config
        self.train_set = CaptionDataset(train_records, self.tokenizer, model_cfg, augmentation, seed=cfg.seed)
        self.val_set = CaptionDataset(val_records, self.tokenizer, model_cfg)
        self.val_records = val_records
        # One sampler for one or many processes: the global batch is the same block of the
        # (seed, epoch) permutation either way, which makes DDP match a single process.
        self.train_sampler = ResumableSampler(
            self.train_set, num_replicas=processes.world_size, rank=processes.rank, shuffle=True, seed=cfg.seed
        )
        pin = self.device.type == "cuda"
        self.train_loader = make_loader(self.train_set, self.micro_batch, self.train_sampler, cfg.workers, pin)
        val_sampler = ShardSampler(len(self.val_set), processes.world_size, processes.rank)
        self.val_loader = make_loader(self.val_set, self.micro_batch, val_sampler, cfg.workers, pin)
        micro_batches = math.ceil(self.train_sampler.num_samples / self.micro_batch)
        self.steps_per_epoch = math.ceil(micro_batches / cfg.grad_accum)

    def _schedule(self, last_step: int = -1) -> torch.optim.lr_scheduler.OneCycleLR:
        """OneCycle over all the run's steps; `last_step` >= 0 continues a run at that step
        (the optimiser's param groups must then hold the schedule's initial/max/min lr)."""
        cfg = self.cfg
        return torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer,
            max_lr=cfg.lr,
            total_steps=cfg.epochs * self.steps_per_epoch,
            pct_start=cfg.pct_start,
            div_factor=cfg.div_factor,
            final_div_factor=cfg.final_div_factor,
            last_epoch=last_step,
        )

    def _restore(self, checkpoint: ckpt.Checkpoint) -> None:
        state, cfg = checkpoint.state, self.cfg
        self.optimizer.load_state_dict(checkpoint.optimizer)
        self.step = state["step"]
        self.start_epoch = state["epochs_done"]
        self.epoch_progress = state.get("epoch_progress")
        saved_epochs = state["train_config"]["epochs"]
        if cfg.epochs == saved_epochs:
            self.scheduler.load_state_dict(state["scheduler"])
        else:
            begun = self.start_epoch + (self.epoch_progress is not None)
            if cfg.epochs < begun:
                raise ValueError(f"epochs {cfg.epochs}: the checkpoint has already begun epoch {begun - 1}; "
                                 f"resume with at least {begun} epochs")
            before = self.optimizer.param_groups[0]["lr"]
            self.scheduler = self._schedule(last_step=self.step - 1)
            logger.warning(
                "epochs %d -> %d: the OneCycle schedule is rebuilt for %d steps as if planned so from the "
                "start, and continues at step %d (learning rate %.3g -> %.3g)", saved_epochs, cfg.epochs,
                cfg.epochs * self.steps_per_epoch, self.step, before, self.scheduler.get_last_lr()[0])
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        rng = state["rng"]
        if len(rng) != self.processes.world_size:
            logger.warning("checkpoint has RNG states of %d processes, this run has %d: dropout will differ",
                           len(rng), self.processes.world_size)
        ckpt.set_rng_state(rng[min(self.processes.rank, len(rng) - 1)])
        self.history = state["history"]
        self.best_epoch = state["best_epoch"]
        self.best_val_ppl = math.inf if state["best_val_ppl"] is None else state["best_val_ppl"]
        self.commands = list(state.get("commands", []))
        where = (f"step {self.epoch_progress['steps']} of epoch {self.start_epoch}" if self.epoch_progress
                 else f"the end of epoch {self.start_epoch - 1}")
        logger.info("resumed from %s at %s (step %d)", checkpoint.path, where, self.step)

    # --- one epoch ---

    def _wrap(self) -> torch.nn.Module:
        """The module to train: the model, or a DDP wrapper built for the current trainable set
        (DDP registers its gradient hooks per parameter, so a new stage needs a new wrapper)."""
        if not self.processes.distributed:
            return self.model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=device_ids)

    def _train_epoch(self, net: torch.nn.Module, epoch: int, stage: Stage, run: RunClock,
                     stop_after_step: int | None) -> dict | None:
        """Train one epoch (or its rest, after a step checkpoint); None when stopped part-way."""
        cfg, processes = self.cfg, self.processes
        resumed = self.epoch_progress if self.epoch_progress and self.epoch_progress["epoch"] == epoch else None
        self.epoch_progress = None
        mine = resumed["ranks"][min(processes.rank, len(resumed["ranks"]) - 1)] if resumed else {}
        done = resumed["steps"] if resumed else 0
        self.train_sampler.set_epoch(epoch, start=done * cfg.grad_accum * self.micro_batch)
        self.train_set.set_epoch(epoch)
        self.model.train()
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        # The NLL sum stays on the device: reading it every step would stall a GPU's queue.
        nll_sum = torch.tensor(mine.get("nll", 0.0), dtype=torch.float64, device=self.device)
        tokens_total, samples, bad = mine.get("tokens", 0), mine.get("samples", 0), mine.get("bad", 0)
        seconds_before = resumed["seconds"] if resumed else 0.0
        started = time.perf_counter()
        run.mark(nll_sum.item(), tokens_total, samples * processes.world_size)
        for group in _step_batches(self.train_loader, cfg.grad_accum):
            for item in (item for batch in group for item in batch.bad):
                if bad < MAX_BAD_IMAGE_WARNINGS:
                    logger.warning("skipped unreadable image %s: %s", item.path, item.reason)
                bad += 1
            local_tokens = sum(batch.num_tokens for batch in group)
            # Rank 0's clock decides a timed checkpoint; the sum tells every process at once.
            timed = processes.is_main and run.checkpoint_due()
            global_tokens, timed = all_reduce_sum([local_tokens, float(timed)], processes, self.device)
            if global_tokens > 0:
                self._optimizer_step(net, group, global_tokens, trainable)
                tokens_total += local_tokens
                samples += sum(batch.size for batch in group)
                nll_sum += self._last_nll
            self.scheduler.step()  # also for a step whose images were all unreadable
            self.step += 1
            done += 1
            run.bar.update()
            if self.step % cfg.log_every == 0:
                line = self.step % max(1, self.steps_per_epoch // 10) < cfg.log_every  # ~10 per epoch
                run.log_step(self.step, epoch, nll_sum.item(), tokens_total, samples * processes.world_size,
                             self.scheduler.get_last_lr()[0], line)
            stopping = stop_after_step is not None and self.step >= stop_after_step
            every = cfg.checkpoint_every_steps
            if done < self.steps_per_epoch and (stopping or timed or (every and self.step % every == 0)):
                seconds = seconds_before + time.perf_counter() - started
                sums = {"nll": nll_sum.item(), "tokens": tokens_total, "samples": samples, "bad": bad}
                self._save_checkpoint(epoch, stage, run, {"epoch": epoch, "steps": done, "seconds": seconds},
                                      sums)
            if stopping and done < self.steps_per_epoch:
                return None
        if bad > MAX_BAD_IMAGE_WARNINGS:
            logger.warning("epoch %d: %d more unreadable images not named above", epoch, bad - MAX_BAD_IMAGE_WARNINGS)
        seconds = seconds_before + time.perf_counter() - started
        nll_total, tokens_total, samples, bad = all_reduce_sum(
            [nll_sum.item(), tokens_total, samples, bad], processes, self.device
        )
        return {"nll": nll_total, "tokens": tokens_total, "samples": int(samples), "bad": int(bad),
                "seconds": seconds}

    def _optimizer_step(self, net: torch.nn.Module, group: list[Batch], global_tokens: float,
                        trainable: list[torch.nn.Parameter]) -> None:
        """Forward and backward over the step's micro-batches, clip, step; `_last_nll` holds
        this process's summed NLL (a device tensor)."""
        cfg, processes = self.cfg, self.processes
        step_nll = torch.zeros((), dtype=torch.float64, device=self.device)
        for i, batch in enumerate(group):
            batch = batch.to(self.device, non_blocking=True)
            last = i == len(group) - 1
            sync = net.no_sync() if processes.distributed and not last else contextlib.nullcontext()
            with sync:
                if batch.size:
                    nll = batch_nll(net, batch, self.precision, cfg.label_smoothing)
                    loss = nll * (processes.world_size / global_tokens)
                    step_nll += nll.detach()
                else:
                    # Every image of this micro-batch was bad, yet DDP needs this process
                    # to run forward and backward too: a placeholder row that adds nothing.
                    loss = batch_nll(net, placeholder_batch(self.model.config, self.device), self.precision) * 0.0
                self.scaler.scale(loss).backward()  # outside autocast
        self.scaler.unscale_(self.optimizer)
        if cfg.clip_grad > 0:
            torch.nn.utils.clip_grad_norm_(trainable, cfg.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self._last_nll = step_nll

    def _validate(self) -> dict:
        nll, tokens, bad = teacher_forced_nll(self.model, self.val_loader, self.precision, self.device)
        nll, tokens, bad = all_reduce_sum([nll, tokens, bad], self.processes, self.device)
        result = {"nll": nll, "tokens": tokens, "bad": int(bad)}
        if self.cfg.val_generate and self.processes.is_main:
            images = list(dict.fromkeys(r.image for r in self.val_records))[: self.cfg.val_generate]
            chosen = set(images)
            records = [r for r in self.val_records if r.image in chosen]
            metrics, _, _ = score(
                self.model, self.tokenizer, records, GenerationSettings(max_new_tokens=self.cfg.max_new_tokens),
                self.precision, self.device, batch_size=self.micro_batch * 2, meteor=False, with_perplexity=False,
            )
            result.update(exact_match=metrics["exact_match"], bleu4=metrics["bleu4"])
        return result

    def _patience_spent(self, last_epoch: int) -> bool:
        """Early stopping: `patience` epochs done since the best one."""
        cfg = self.cfg
        if not cfg.patience or self.best_epoch is None or last_epoch - self.best_epoch < cfg.patience:
            return False
        logger.info("stopping early after epoch %d: val perplexity has not improved for %d epochs "
                    "(best %.4f at epoch %d)", last_epoch, last_epoch - self.best_epoch, self.best_val_ppl,
                    self.best_epoch)
        return True

    # --- recording ---

    def _export_best(self, epoch: int, val_ppl: float) -> None:
        cfg = self.cfg
        provenance = {
            **self.provenance,
            "trained_with": "python -m training train",
            "command": self.commands[0] if self.commands else None,
            "resume_commands": self.commands[1:],
            "data": {"kind": self.data["kind"], "train": cfg.train, "val": cfg.val, "fraction": cfg.fraction,
                     "limit": cfg.limit, "train_captions": len(self.train_set),
                     "splits": {"train": self.data["train"], "val": self.data["val"]}},
            "epoch": epoch,
            "val_perplexity": val_ppl,
            "train_config": cfg.to_dict(),
        }
        save_bundle(self.out / "bundle", self.model, self.tokenizer, name=cfg.bundle_name,
                    description=cfg.bundle_description, licence=cfg.bundle_licence, provenance=provenance,
                    dtype=cfg.bundle_dtype)

    def _save_checkpoint(self, epochs_done: int, stage: Stage, run: RunClock, progress: dict | None = None,
                         sums: dict | None = None) -> None:
        """At an epoch's end (`progress` None) or part-way through epoch `epochs_done`, where
        `progress` says how far and `sums` holds this process's running epoch sums."""
        mine = {"rng": ckpt.rng_state(), "sums": sums}
        gathered = [mine]
        if self.processes.distributed:
            gathered = [None] * self.processes.world_size
            dist.all_gather_object(gathered, mine)
        run.checkpointed()
        if not self.processes.is_main:
            return
        if progress is not None:
            progress = {**progress, "ranks": [g["sums"] for g in gathered]}
        document = {
            "epochs_done": epochs_done,
            "epoch_progress": progress,
            "step": self.step,
            "stage": stage.to_dict(),
            "train_config": self.cfg.to_dict(),
            "model_config": self.model.config.to_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": [g["rng"] for g in gathered],
            # The data order is a pure function of these: the sampler's (seed, epoch)
            # permutation from the position reached, and augmentations seeded by (seed, epoch, index).
            "data_order": {"sampler": "ResumableSampler", "seed": self.cfg.seed,
                           "world_size": self.processes.world_size, "epoch": epochs_done,
                           "position": progress["steps"] * self.cfg.grad_accum * self.micro_batch if progress else 0},
            "data": self.data,
            "history": self.history,
            "best_epoch": self.best_epoch,
            "best_val_ppl": None if math.isinf(self.best_val_ppl) else self.best_val_ppl,
            "provenance": self.provenance,
            "commands": self.commands,
        }
        path = ckpt.save_checkpoint(self.out / "checkpoints", document, self.model, self.optimizer,
                                    self.tokenizer_file, keep=self.cfg.keep_checkpoints)
        if progress is not None:
            logger.info("step checkpoint %s (epoch %d, step %d of %d)", path.name, epochs_done, progress["steps"],
                        self.steps_per_epoch)

    def _evaluate_best(self) -> dict:
        """Score the best bundle, as saved, on the val split; written to OUT/val_metrics.json."""
        bundle = load_bundle(self.out / "bundle", device=self.device)
        metrics, _, _ = score(
            bundle.model, bundle.tokenizer, self.val_records, GenerationSettings(max_new_tokens=self.cfg.max_new_tokens),
            self.precision, self.device, batch_size=self.micro_batch * 2, meteor=False,
        )
        metrics.update(epoch=self.best_epoch, captions_file=str(self.out / SPLITS_DIR / "val.csv"),
                       bundle=str(self.out / "bundle"))
        atomic_write_text(self.out / VAL_METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
        logger.info("best bundle (epoch %d) on the val split: BLEU-4 %.4f, CIDEr %.3f, perplexity %.3f -> %s",
                    self.best_epoch, metrics["bleu4"], metrics["cider"], metrics["perplexity"],
                    self.out / VAL_METRICS_FILE)
        return metrics

    def run(self, stop_after_epoch: int | None = None, stop_after_step: int | None = None) -> TrainResult:
        """Train the remaining epochs. `stop_after_epoch` K: stop once K epochs are done;
        `stop_after_step` S: stop after optimiser step S with a checkpoint there (part-way
        through an epoch, as a step checkpoint). Either is an interruption: resuming continues
        exactly, and the final evaluation and --export-bundle wait for the real end."""
        cfg = self.cfg
        log = StepLog(self.out, self.resumed_at or 0, cfg.tensorboard) if self.processes.is_main else None
        run = RunClock(cfg.epochs * self.steps_per_epoch, self.step, cfg.checkpoint_every_minutes, log,
                       progress=self.progress and self.processes.is_main)
        logger.info("training on %s (%s), %d process(es), micro-batch %d, %d steps/epoch, epochs %d..%d",
                    self.device, self.precision.name, self.processes.world_size, self.micro_batch,
                    self.steps_per_epoch, self.start_epoch, cfg.epochs - 1)
        stage, net = None, None
        finished = True
        try:
            for epoch in range(self.start_epoch, cfg.epochs):
                if self._patience_spent(epoch - 1):
                    break
                if stop_after_epoch is not None and epoch >= stop_after_epoch:
                    finished = False
                    break
                if stage_at(self.stages, epoch) is not stage:
                    stage = stage_at(self.stages, epoch)
                    count = apply_stage(self.model, stage)
                    net = self._wrap()
                    logger.info("epoch %d: stage %r, %s trainable parameters", epoch, stage.name, f"{count:,}")
                run.bar.set_description(f"epoch {epoch}/{cfg.epochs - 1}")
                train = self._train_epoch(net, epoch, stage, run, stop_after_step)
                if train is None:
                    finished = False
                    break
                self._end_epoch(epoch, stage, train, run)
                if stop_after_step is not None and self.step >= stop_after_step:
                    finished = False
                    break
        finally:
            run.close()
        bundle = self.out / "bundle" if self.best_epoch is not None else None
        val_metrics = None
        if self.processes.is_main and bundle is not None and finished:
            val_metrics = self._evaluate_best()
            if cfg.export_bundle:
                shutil.copytree(bundle, cfg.export_bundle, dirs_exist_ok=True)
                logger.info("best epoch %d exported to %s", self.best_epoch, cfg.export_bundle)
        if self.processes.distributed:
            dist.barrier()
        return TrainResult(self.out, self.history, self.best_epoch, self.best_val_ppl, bundle, self.model,
                           val_metrics)

    def _end_epoch(self, epoch: int, stage: Stage, train: dict, run: RunClock) -> None:
        """Validate, record, export a new best, checkpoint."""
        started = time.perf_counter()
        val = self._validate()
        train_loss = train["nll"] / max(train["tokens"], 1)
        val_loss = val["nll"] / max(val["tokens"], 1)
        row = {
            "epoch": epoch,
            "stage": stage.name,
            "train_loss": train_loss,
            "train_ppl": _exp(train_loss),
            "val_loss": val_loss,
            "val_ppl": _exp(val_loss),
            "lr": self.scheduler.get_last_lr()[0],
            "seconds": round(train["seconds"] + time.perf_counter() - started, 2),
            "samples_per_s": round(train["samples"] / max(train["seconds"], 1e-9), 2),
            "steps": self.step,
            "bad_images": train["bad"] + val["bad"],
            "val_exact_match": val.get("exact_match"),
            "val_bleu4": val.get("bleu4"),
        }
        self.history.append(row)
        extra = (f", val exact match {row['val_exact_match']:.3f}, BLEU-4 {row['val_bleu4']:.3f}"
                 if row["val_exact_match"] is not None else "")
        logger.info("epoch %d (%s): train loss %.4f (ppl %.2f), val loss %.4f (ppl %.2f), %.0f samples/s, "
                    "%d bad images%s; run ETA %s", epoch, stage.name, train_loss, row["train_ppl"], val_loss,
                    row["val_ppl"], row["samples_per_s"], row["bad_images"], extra, clock(run.eta(self.step)))
        if row["val_ppl"] < self.best_val_ppl:
            self.best_val_ppl, self.best_epoch = row["val_ppl"], epoch
            if self.processes.is_main:
                self._export_best(epoch, row["val_ppl"])
        if self.processes.is_main:
            write_metrics_csv(self.out / "metrics.csv", self.history)
            if self.cfg.plot:
                write_plot(self.out / "metrics.png", self.history)
            run.log.epoch(row)
        self._save_checkpoint(epoch + 1, stage, run)

    def close(self) -> None:
        close_processes(self.processes)


def train(cfg: TrainConfig, *, resume: str | Path | None = None, stop_after_epoch: int | None = None,
          stop_after_step: int | None = None, progress: bool = True, command: str | None = None) -> TrainResult:
    """Run (or resume) training as configured; see `Trainer` and `Trainer.run`."""
    trainer = Trainer(cfg, resume=resume, progress=progress, command=command)
    try:
        return trainer.run(stop_after_epoch, stop_after_step)
    finally:
        trainer.close()
