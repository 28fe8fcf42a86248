"""The training loop: one loop over epochs, stages as data, exact resume, DDP, best-epoch export.

Shape (after nanoGPT's train.py): config -> processes and device -> data -> model and tokenizer
-> optimiser, OneCycle schedule, grad scaler -> (resume) -> for each epoch: stage, train,
validate, record, checkpoint, export the best bundle.

The loss of an optimiser step is the summed token NLL of all its micro-batches on all processes
divided by their token count, so gradient accumulation and DDP give the gradient of one big
batch (DDP averages over processes, hence the `world_size` factor below).
"""

from __future__ import annotations

import contextlib
import fnmatch
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
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from core.bundle import save_bundle
from core.config import CaptionerConfig
from core.generation import GenerationSettings
from core.model import VisionGPT2
from core.tokenizer import CaptionTokenizer
from training import checkpoint as ckpt
from training.annotations import CaptionRecord, read_captions, split_by_image
from training.batches import (
    IGNORE_INDEX,
    Batch,
    CaptionDataset,
    ShardSampler,
    build_augmentation,
    flip_enabled,
    make_loader,
)
from training.config import Stage, TrainConfig
from training.evaluate import batch_nll, score, teacher_forced_nll
from training.model_init import initial_model
from training.report import write_metrics_csv, write_plot
from training.runtime import (
    Precision,
    Processes,
    all_reduce_sum,
    close_processes,
    init_processes,
    resolve_device,
    resolve_precision,
)

logger = logging.getLogger(__name__)

# Fields a resumed run may change: they do not alter what is computed.
RUNTIME_FIELDS = frozenset({
    "device", "workers", "threads", "val_generate", "keep_checkpoints", "out",
    "export_bundle", "bundle_name", "bundle_description", "bundle_licence", "bundle_dtype",
})
MAX_BAD_IMAGE_WARNINGS = 5  # per epoch; all are counted
PROGRESS_EVERY = 10  # steps between progress-bar loss updates


@dataclass
class TrainResult:
    out: Path
    history: list[dict]
    best_epoch: int | None
    best_val_ppl: float
    bundle: Path | None
    model: VisionGPT2


# --- stages ---


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


def _exp(loss: float) -> float:
    """Perplexity from a mean token NLL, capped where exp would overflow (an untrained model)."""
    return math.exp(min(loss, 700.0))


def stage_at(stages: list[Stage], epoch: int) -> Stage:
    return [stage for stage in stages if stage.start_epoch <= epoch][-1]


# --- data ---


def read_splits(cfg: TrainConfig) -> tuple[list[CaptionRecord], list[CaptionRecord]]:
    """(train, val) records; val is split off by image when there is no validation file."""
    records, _ = read_captions(
        cfg.kind, cfg.train, cfg.images_dir, split=cfg.split, fraction=cfg.fraction, limit=cfg.limit, seed=cfg.seed
    )
    if cfg.val:
        train = records
        val, _ = read_captions(cfg.kind, cfg.val, cfg.val_images_dir, split=cfg.val_split, limit=cfg.val_limit,
                               seed=cfg.seed)
    else:
        train, val, _ = split_by_image(records, cfg.val_fraction, 0.0, cfg.seed)
        if cfg.val_limit is not None:
            val = val[: cfg.val_limit]
    if not train or not val:
        raise ValueError(f"need training and validation captions, got {len(train)} and {len(val)}")
    logger.info("%d training captions of %d images, %d validation captions of %d images",
                len(train), len({r.image for r in train}), len(val), len({r.image for r in val}))
    return train, val


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


# --- resume ---


def resume_config(path: str | Path, overrides: dict | None = None) -> TrainConfig:
    """The checkpoint's training config with runtime fields (RUNTIME_FIELDS) replaced."""
    saved = ckpt.load_checkpoint(path).state["train_config"]
    bad = sorted(set(overrides or {}) - RUNTIME_FIELDS)
    if bad:
        raise ValueError(f"a resumed run cannot change {', '.join(bad)}; only {', '.join(sorted(RUNTIME_FIELDS))}")
    return TrainConfig.from_dict({**saved, **(overrides or {})})


def _check_resumable(cfg: TrainConfig, saved: dict) -> None:
    current = cfg.to_dict()
    changed = sorted(k for k in current if k not in RUNTIME_FIELDS and current[k] != saved.get(k))
    if changed:
        raise ValueError(f"the checkpoint was trained with different {', '.join(changed)}; resume with its config")


# --- the loop ---


class Trainer:
    """Holds the state of one run; `run()` trains from `start_epoch` to the end (or a stop)."""

    def __init__(self, cfg: TrainConfig, resume: str | Path | None = None, progress: bool = True,
                 command: str | None = None):
        self.cfg = cfg
        self.progress = progress
        self.command = command
        self.out = Path(cfg.out)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        wants_cuda = cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available())
        self.processes: Processes = init_processes("cuda" if wants_cuda else "cpu")
        self.device = resolve_device(cfg.device, self.processes)
        self.precision: Precision = resolve_precision(cfg.precision, self.device, cfg.attention)
        self.stages = cfg.resolved_stages()

        if resume is None and (self.out / "checkpoints" / ckpt.LATEST_FILE).exists():
            raise ValueError(f"{self.out} already holds a run; resume it (--resume) or train into another --out")
        checkpoint = ckpt.load_checkpoint(resume) if resume is not None else None
        if checkpoint is not None:
            _check_resumable(cfg, checkpoint.state["train_config"])
        # Each process its own dropout stream; rank 0's equals a single process's.
        rank = self.processes.rank
        random.seed(cfg.seed + rank)
        np.random.seed(cfg.seed + rank)
        torch.manual_seed(cfg.seed + rank)

        train_records, val_records = read_splits(cfg)
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
        for stage in self.stages:  # a typo in a late stage fails now, not hours later
            trainable_names(self.model, stage)

        self._build_data(train_records, val_records)

        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer,
            max_lr=cfg.lr,
            total_steps=cfg.epochs * self.steps_per_epoch,
            pct_start=cfg.pct_start,
            div_factor=cfg.div_factor,
            final_div_factor=cfg.final_div_factor,
        )
        self.scaler = self.precision.grad_scaler()
        self.start_epoch = 0
        self.step = 0
        self.history: list[dict] = []
        self.best_epoch: int | None = None
        self.best_val_ppl = math.inf
        if checkpoint is not None:
            self._restore(checkpoint)

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
        self.train_sampler = DistributedSampler(
            self.train_set, num_replicas=processes.world_size, rank=processes.rank, shuffle=True, seed=cfg.seed
        )
        pin = self.device.type == "cuda"
        self.train_loader = make_loader(self.train_set, self.micro_batch, self.train_sampler, cfg.workers, pin)
        val_sampler = ShardSampler(len(self.val_set), processes.world_size, processes.rank)
        self.val_loader = make_loader(self.val_set, self.micro_batch, val_sampler, cfg.workers, pin)
        micro_batches = math.ceil(len(self.train_sampler) / self.micro_batch)
        self.steps_per_epoch = math.ceil(micro_batches / cfg.grad_accum)

    def _restore(self, checkpoint: ckpt.Checkpoint) -> None:
        state = checkpoint.state
        self.optimizer.load_state_dict(checkpoint.optimizer)
        self.scheduler.load_state_dict(state["scheduler"])
        if state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        rng = state["rng"]
        if len(rng) != self.processes.world_size:
            logger.warning("checkpoint has RNG states of %d processes, this run has %d: dropout will differ",
                           len(rng), self.processes.world_size)
        ckpt.set_rng_state(rng[min(self.processes.rank, len(rng) - 1)])
        self.start_epoch = state["epochs_done"]
        self.step = state["step"]
        self.history = state["history"]
        self.best_epoch = state["best_epoch"]
        self.best_val_ppl = math.inf if state["best_val_ppl"] is None else state["best_val_ppl"]
        logger.info("resumed from %s after epoch %d (step %d)", checkpoint.path, self.start_epoch - 1, self.step)

    # --- one epoch ---

    def _wrap(self) -> torch.nn.Module:
        """The module to train: the model, or a DDP wrapper built for the current trainable set
        (DDP registers its gradient hooks per parameter, so a new stage needs a new wrapper)."""
        if not self.processes.distributed:
            return self.model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=device_ids)

    def _train_epoch(self, net: torch.nn.Module, epoch: int) -> dict:
        cfg, processes = self.cfg, self.processes
        self.train_sampler.set_epoch(epoch)
        self.train_set.set_epoch(epoch)
        self.model.train()
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        # The NLL sum stays on the device: reading it every step would stall a GPU's queue.
        nll_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        tokens_total, samples, bad, done = 0, 0, 0, 0
        bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {epoch}", unit="step",
                   disable=not (self.progress and processes.is_main), leave=False, dynamic_ncols=True)
        log_every = 0 if self.progress else max(1, self.steps_per_epoch // 10)  # log lines instead of a bar
        for group in _step_batches(self.train_loader, cfg.grad_accum):
            for item in (item for batch in group for item in batch.bad):
                if bad < MAX_BAD_IMAGE_WARNINGS:
                    logger.warning("skipped unreadable image %s: %s", item.path, item.reason)
                bad += 1
            local_tokens = sum(batch.num_tokens for batch in group)
            (global_tokens,) = all_reduce_sum([local_tokens], processes, self.device)
            if global_tokens == 0:  # every image of the step was unreadable, on every process
                self.scheduler.step()
                done += 1
                bar.update()
                continue
            for i, batch in enumerate(group):
                batch = batch.to(self.device, non_blocking=True)
                last = i == len(group) - 1
                sync = net.no_sync() if processes.distributed and not last else contextlib.nullcontext()
                with sync:
                    if batch.size:
                        nll = batch_nll(net, batch, self.precision, cfg.label_smoothing)
                        loss = nll * (processes.world_size / global_tokens)
                        nll_sum += nll.detach()
                        tokens_total += batch.num_tokens
                        samples += batch.size
                    else:
                        # Every image of this micro-batch was bad, yet DDP needs this process
                        # to run forward and backward too: a placeholder row that adds nothing.
                        loss = batch_nll(net, self._placeholder_batch(), self.precision) * 0.0
                    self.scaler.scale(loss).backward()  # outside autocast
            self.scaler.unscale_(self.optimizer)
            if cfg.clip_grad > 0:
                torch.nn.utils.clip_grad_norm_(trainable, cfg.clip_grad)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self.scheduler.step()
            self.step += 1
            bar.update()
            done += 1
            if log_every and done % log_every == 0 and tokens_total:
                logger.info("epoch %d: step %d/%d, loss %.4f", epoch, done, self.steps_per_epoch,
                            nll_sum.item() / tokens_total)
            if bar.n % PROGRESS_EVERY == 0 and tokens_total and not bar.disable:
                bar.set_postfix(loss=f"{nll_sum.item() / tokens_total:.3f}",
                                lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
        bar.close()
        nll_total, tokens_total, samples, bad = all_reduce_sum(
            [nll_sum.item(), tokens_total, samples, bad], processes, self.device
        )
        return {"nll": nll_total, "tokens": tokens_total, "samples": int(samples), "bad": int(bad)}

    def _placeholder_batch(self) -> Batch:
        """One grey image and a BOS input with no label: zero loss, zero gradients."""
        cfg = self.model.config
        return Batch(
            torch.zeros((1, cfg.in_chans, cfg.image_size, cfg.image_size), device=self.device),
            torch.full((1, 1), cfg.bos_token_id, dtype=torch.long, device=self.device),
            torch.full((1, 1), IGNORE_INDEX, dtype=torch.long, device=self.device),
            [],
        )

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

    # --- recording ---

    def _export_best(self, epoch: int, val_ppl: float) -> None:
        cfg = self.cfg
        provenance = {
            **self.provenance,
            "trained_with": "python -m training train",
            "command": self.command,
            "data": {"kind": cfg.kind, "train": cfg.train, "val": cfg.val, "fraction": cfg.fraction,
                     "limit": cfg.limit, "train_captions": len(self.train_set)},
            "epoch": epoch,
            "val_perplexity": val_ppl,
            "train_config": cfg.to_dict(),
        }
        save_bundle(self.out / "bundle", self.model, self.tokenizer, name=cfg.bundle_name,
                    description=cfg.bundle_description, licence=cfg.bundle_licence, provenance=provenance,
                    dtype=cfg.bundle_dtype)

    def _save_checkpoint(self, epoch: int, stage: Stage) -> None:
        state = ckpt.rng_state()
        states = [state]
        if self.processes.distributed:
            states = [None] * self.processes.world_size
            dist.all_gather_object(states, state)
        if not self.processes.is_main:
            return
        document = {
            "epochs_done": epoch + 1,
            "step": self.step,
            "stage": stage.to_dict(),
            "train_config": self.cfg.to_dict(),
            "model_config": self.model.config.to_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": states,
            # The data order is a pure function of these: DistributedSampler's (seed, epoch)
            # permutation, and augmentations seeded by (seed, epoch, index).
            "data_order": {"sampler": "DistributedSampler", "seed": self.cfg.seed,
                           "world_size": self.processes.world_size, "next_epoch": epoch + 1},
            "history": self.history,
            "best_epoch": self.best_epoch,
            "best_val_ppl": None if math.isinf(self.best_val_ppl) else self.best_val_ppl,
            "provenance": self.provenance,
        }
        ckpt.save_checkpoint(self.out / "checkpoints", document, self.model, self.optimizer, self.tokenizer_file,
                             keep=self.cfg.keep_checkpoints)

    def run(self, stop_after_epoch: int | None = None) -> TrainResult:
        """Train the remaining epochs; with `stop_after_epoch` K, stop once K epochs are done
        (as if interrupted: resuming continues exactly)."""
        cfg = self.cfg
        logger.info("training on %s (%s), %d process(es), micro-batch %d, %d steps/epoch, epochs %d..%d",
                    self.device, self.precision.name, self.processes.world_size, self.micro_batch,
                    self.steps_per_epoch, self.start_epoch, cfg.epochs - 1)
        stage, net = None, None
        for epoch in range(self.start_epoch, cfg.epochs):
            if stop_after_epoch is not None and epoch >= stop_after_epoch:
                break
            if stage_at(self.stages, epoch) is not stage:
                stage = stage_at(self.stages, epoch)
                count = apply_stage(self.model, stage)
                net = self._wrap()
                logger.info("epoch %d: stage %r, %s trainable parameters", epoch, stage.name, f"{count:,}")
            started = time.perf_counter()
            train = self._train_epoch(net, epoch)
            train_seconds = time.perf_counter() - started
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
                "seconds": round(time.perf_counter() - started, 2),
                "samples_per_s": round(train["samples"] / train_seconds, 2),
                "steps": self.step,
                "bad_images": train["bad"] + val["bad"],
                "val_exact_match": val.get("exact_match"),
                "val_bleu4": val.get("bleu4"),
            }
            self.history.append(row)
            extra = (f", val exact match {row['val_exact_match']:.3f}, BLEU-4 {row['val_bleu4']:.3f}"
                     if row["val_exact_match"] is not None else "")
            logger.info("epoch %d (%s): train loss %.4f (ppl %.2f), val loss %.4f (ppl %.2f), %.0f samples/s, "
                        "%d bad images%s", epoch, stage.name, train_loss, row["train_ppl"], val_loss,
                        row["val_ppl"], row["samples_per_s"], row["bad_images"], extra)
            if row["val_ppl"] < self.best_val_ppl:
                self.best_val_ppl, self.best_epoch = row["val_ppl"], epoch
                if self.processes.is_main:
                    self._export_best(epoch, row["val_ppl"])
            if self.processes.is_main:
                write_metrics_csv(self.out / "metrics.csv", self.history)
            self._save_checkpoint(epoch, stage)
        if self.processes.is_main and self.history:
            write_plot(self.out / "metrics.png", self.history)  # once: matplotlib takes a second
        bundle = self.out / "bundle" if self.best_epoch is not None else None
        if self.processes.is_main and bundle is not None and cfg.export_bundle and len(self.history) == cfg.epochs:
            shutil.copytree(bundle, cfg.export_bundle, dirs_exist_ok=True)
            logger.info("best epoch %d exported to %s", self.best_epoch, cfg.export_bundle)
        if self.processes.distributed:
            dist.barrier()
        return TrainResult(self.out, self.history, self.best_epoch, self.best_val_ppl, bundle, self.model)

    def close(self) -> None:
        close_processes(self.processes)


def train(cfg: TrainConfig, *, resume: str | Path | None = None, stop_after_epoch: int | None = None,
          progress: bool = True, command: str | None = None) -> TrainResult:
    """Run (or resume) training as configured; see `Trainer`."""
    trainer = Trainer(cfg, resume=resume, progress=progress, command=command)
    try:
        return trainer.run(stop_after_epoch)
    finally:
        trainer.close()

