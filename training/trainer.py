"""The training loop: one loop over epochs, stages as data, exact resume, DDP, best export.

Shape (after nanoGPT's train.py): config -> processes and device -> data (checked against the
checkpoint's record on a resume) -> model and tokenizer -> optimiser, schedule, grad scaler,
weight average -> (resume) -> for each epoch: stage, train (with step checkpoints, evaluations
and a stop at a signal), validate, record, checkpoint, export the best bundle, stop early ->
score the best bundle on the val split.

The loss of an optimiser step is the summed token NLL of all its micro-batches on all processes
divided by their token count, so gradient accumulation and DDP give the gradient of one big
batch (DDP averages over processes, hence the `world_size` factor below). What is logged is
global too: the processes' NLL and token sums are added before a loss is reported.
"""

from __future__ import annotations

import contextlib
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

from core.bundles.bundle import save_bundle
from core.captioning.config import CaptionerConfig
from core.captioning.model import VisionGPT2
from core.captioning.tokenizer import CaptionTokenizer
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
from training.ema import WeightAverage
from training.evaluate import batch_nll
from training.loggers import check_installed, open_tracker
from training.model_init import initial_model
from training.optim import build_optimizer, build_schedule
from training.preemption import SignalStop, resume_command
from training.provenance import portable_provenance
from training.report import RunClock, StepLog, clock, write_evals_csv, write_metrics_csv, write_plot
from training.run_state import restore_run, resumed_sums, save_run
from training.runtime import (
    Precision,
    Processes,
    all_reduce_sum,
    close_processes,
    init_processes,
    process_device,
    training_precision,
)
from training.splits import (
    absolute_paths,
    check_same_data,
    data_record,
    read_splits,
    write_splits,
)
from training.stages import apply_stage, stage_at, trainable_names
from training.validation import Best, patience_spent, score_best_bundle, validate

logger = logging.getLogger(__name__)

MAX_BAD_IMAGE_WARNINGS = 5  # per epoch; all are counted
EVALS_FILE = "evals.csv"


@dataclass
class TrainResult:
    out: Path
    history: list[dict]
    best_epoch: int | None
    best_val_ppl: float  # the val perplexity of the best evaluation
    bundle: Path | None
    model: VisionGPT2
    val_metrics: dict | None = None
    stopped: str | None = None  # why it stopped before its end ("SIGTERM", "--stop-after-step 5")
    preempted: bool = False  # stopped by a signal, with a checkpoint to resume from
    checkpoint: Path | None = None  # the newest checkpoint


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
    """Holds the state of one run; `run()` trains from where it stands to the end (or a stop).

    Constructing reads the data and builds the model, optimiser and loaders (or restores them
    from the checkpoint to resume) and writes nothing; `run()` first writes the run's setup into
    OUT (`write_setup`), then trains."""

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
        main = self.processes.is_main
        self.precision: Precision = training_precision(cfg.precision, self.device, cfg.attention, warn=main)
        check_installed(cfg.tracker)
        self.stages = cfg.resolved_stages()

        if resume is None and (self.out / "checkpoints" / ckpt.LATEST_FILE).exists():
            raise ValueError(f"{self.out} already holds a run; resume it (--resume) or train into another --out")
        checkpoint = ckpt.load_checkpoint(resume) if resume is not None else None
        if checkpoint is not None:
            # absolute_paths: checkpoints before format 2 stored paths as typed
            saved = absolute_paths(TrainConfig.from_dict(checkpoint.state["train_config"]))
            for note in ckpt.check_resumable(cfg, saved):
                if main:
                    logger.warning("%s", note)
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
        self.ema = WeightAverage(self.model, cfg.ema_decay) if cfg.ema_decay else None
        self.tokenizer = tokenizer
        self.tokenizer_file = self.out / "tokenizer.json"
        self.train_records = train_records
        for stage in self.stages:  # a typo in a late stage fails now, not hours later
            trainable_names(self.model, stage)

        self._build_data(train_records, val_records)

        self.optimizer = build_optimizer(self.model, cfg)
        self.scheduler = build_schedule(self.optimizer, cfg, cfg.epochs * self.steps_per_epoch)
        self.scaler = self.precision.grad_scaler()
        self.start_epoch = 0
        self.step = 0
        self.epoch_progress: dict | None = None  # where an unfinished epoch stands (a step checkpoint)
        self.history: list[dict] = []  # one row per epoch (metrics.csv)
        self.evals: list[dict] = []  # one row per validation (evals.csv)
        self.best: Best | None = None
        self.commands: list[str] = []
        self.tracker_run_id: str | None = None
        self.saved_step: int | None = None  # the step of the newest checkpoint
        self.saved_where = ""
        self.stopped: str | None = None
        self.preempted = False
        if checkpoint is not None:
            restore_run(self, checkpoint)
        self.resumed_at = self.step if checkpoint is not None else None
        if command:
            self.commands.append(command)

    def write_setup(self) -> None:
        """Rank 0 writes what the run starts from into OUT: tokenizer.json (which checkpoints
        copy), train_config.json and the two splits. A resume writes them again."""
        if not self.processes.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        self.tokenizer.save(self.tokenizer_file)
        (self.out / "train_config.json").write_text(self.cfg.to_json(), encoding="utf-8")
        write_splits(self.out, self.train_records, self.val_records)

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

    # --- one epoch ---

    def _wrap(self) -> torch.nn.Module:
        """The module to train: the model, or a DDP wrapper built for the current trainable set
        (DDP registers its gradient hooks per parameter, so a new stage needs a new wrapper)."""
        if not self.processes.distributed:
            return self.model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=device_ids)

    def _global(self, values: list[float]) -> list[float]:
        return all_reduce_sum(values, self.processes, self.device)

    def _train_epoch(self, net: torch.nn.Module, epoch: int, stage: Stage, run: RunClock,
                     stop_after_step: int | None, signals: SignalStop | None) -> dict | None:
        """Train one epoch (or its rest, after a step checkpoint); None when stopped part-way."""
        cfg, processes = self.cfg, self.processes
        resumed = self.epoch_progress if self.epoch_progress and self.epoch_progress["epoch"] == epoch else None
        self.epoch_progress = None
        mine = resumed_sums(resumed, self.processes)
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
        run.mark(*self._global([nll_sum.item(), tokens_total, samples]))

        def save() -> None:
            """A step checkpoint where the epoch stands now."""
            seconds = seconds_before + time.perf_counter() - started
            sums = {"nll": nll_sum.item(), "tokens": tokens_total, "samples": samples, "bad": bad}
            self._save_checkpoint(epoch, stage, run, {"epoch": epoch, "steps": done, "seconds": seconds}, sums)

        for group in _step_batches(self.train_loader, cfg.grad_accum):
            for item in (item for batch in group for item in batch.bad):
                if bad < MAX_BAD_IMAGE_WARNINGS:
                    logger.warning("skipped unreadable image %s: %s", item.path, item.reason)
                bad += 1
            local_tokens = sum(batch.num_tokens for batch in group)
            # Rank 0's clock decides a timed checkpoint, any process's signal a stop: the sum
            # tells every process at once, at the same step.
            timed = processes.is_main and run.checkpoint_due()
            signalled = signals is not None and signals.requested is not None
            global_tokens, timed, signalled = self._global([local_tokens, float(timed), float(signalled)])
            if signalled:
                self._signal_stop(signals)
                if self.saved_step != self.step:
                    save()
                return None
            if global_tokens > 0:
                nll_sum += self._optimizer_step(net, group, global_tokens, trainable)
                tokens_total += local_tokens
                samples += sum(batch.size for batch in group)
            self.scheduler.step()  # also for a step whose images were all unreadable
            self.step += 1
            done += 1
            run.bar.update()
            if self.step % cfg.log_every == 0:
                line = self.step % max(1, self.steps_per_epoch // 10) < cfg.log_every  # ~10 per epoch
                nll, tokens, count = self._global([nll_sum.item(), tokens_total, samples])
                run.log_step(self.step, epoch, nll, int(tokens), int(count), self.scheduler.get_last_lr()[0], line)
            inside = done < self.steps_per_epoch  # the epoch's last step is validated and saved at its end
            if inside and cfg.eval_every_steps and self.step % cfg.eval_every_steps == 0:
                _, best = self._evaluate(epoch, run)
                if best and cfg.keep_best_checkpoint:
                    save()
            stopping = stop_after_step is not None and self.step >= stop_after_step
            every = cfg.checkpoint_every_steps
            if inside and self.saved_step != self.step and (stopping or timed or (every and self.step % every == 0)):
                save()
            if stopping and inside:
                self.stopped = f"--stop-after-step {stop_after_step}"
                return None
        if bad > MAX_BAD_IMAGE_WARNINGS:
            logger.warning("epoch %d: %d more unreadable images not named above", epoch, bad - MAX_BAD_IMAGE_WARNINGS)
        seconds = seconds_before + time.perf_counter() - started
        nll_total, tokens_total, samples, bad = self._global([nll_sum.item(), tokens_total, samples, bad])
        return {"nll": nll_total, "tokens": tokens_total, "samples": int(samples), "bad": int(bad),
                "seconds": seconds}

    def _optimizer_step(self, net: torch.nn.Module, group: list[Batch], global_tokens: float,
                        trainable: list[torch.nn.Parameter]) -> torch.Tensor:
        """Forward and backward over the step's micro-batches, clip, step, average; returns this
        process's summed NLL of the step (a device tensor: reading it would stall a GPU)."""
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
        if self.ema is not None:
            self.ema.update(self.model)
        return step_nll

    def _averaged(self) -> contextlib.AbstractContextManager:
        """The weights to validate and export: the weight average when there is one."""
        return self.ema.applied(self.model) if self.ema is not None else contextlib.nullcontext()

    def _evaluate(self, epoch: int, run: RunClock) -> tuple[dict, bool]:
        """Validate, record the row (evals.csv, the step log) and export the bundle when it is
        the best so far by `best_metric`; (the row, whether it is the best)."""
        cfg = self.cfg
        with self._averaged():
            val = validate(self.model, self.val_loader, self.val_records, self.tokenizer, cfg, self.precision,
                           self.device, self.processes, self.micro_batch * 2)
        loss = val["nll"] / max(val["tokens"], 1)
        row = {"step": self.step, "epoch": epoch, "val_loss": loss, "val_ppl": _exp(loss),
               "val_exact_match": val.get("exact_match"), "val_bleu4": val.get("bleu4"), "bad": val["bad"]}
        value = row[cfg.best_metric]
        best = self.best is None or self.best.beaten_by(value)
        row["best"] = best
        self.evals.append(row)
        if best:
            self.best = Best(cfg.best_metric, value, epoch, self.step, row["val_ppl"])
        if self.processes.is_main:
            if best:
                self._export_best(row)
            write_evals_csv(self.out / EVALS_FILE, self.evals)
            run.log.evaluation(row)
        return row, best

    # --- recording ---

    def _export_best(self, row: dict) -> None:
        """The bundle of the best evaluation so far, its paths portable (training.provenance)."""
        cfg = self.cfg
        provenance = {
            **self.provenance,
            "trained_with": "python -m training train",
            "command": self.commands[0] if self.commands else None,
            "resume_commands": self.commands[1:],
            "data": {"kind": self.data["kind"], "train": cfg.train, "val": cfg.val, "fraction": cfg.fraction,
                     "limit": cfg.limit, "train_captions": len(self.train_set),
                     "splits": {"train": self.data["train"], "val": self.data["val"]}},
            "epoch": row["epoch"],
            "step": row["step"],
            "val_perplexity": row["val_ppl"],
            "best_metric": {cfg.best_metric: row[cfg.best_metric]},
            "weights": f"average (ema_decay {cfg.ema_decay})" if self.ema is not None else "trained",
            "train_config": cfg.to_dict(),
        }
        provenance = portable_provenance(provenance, self.out)
        with self._averaged():
            save_bundle(self.out / "bundle", self.model, self.tokenizer, name=cfg.bundle_name,
                        description=cfg.bundle_description, licence=cfg.bundle_licence, provenance=provenance,
                        dtype=cfg.bundle_dtype)

    def _save_checkpoint(self, epochs_done: int, stage: Stage, run: RunClock, progress: dict | None = None,
                         sums: dict | None = None) -> None:
        """At an epoch's end, or part-way through one (training.run_state.save_run)."""
        run.checkpointed()
        path = save_run(self, epochs_done, stage, progress, sums)
        if path is not None and progress is not None:
            logger.info("step checkpoint %s (epoch %d, step %d of %d)", path.name, epochs_done, progress["steps"],
                        self.steps_per_epoch)

    # --- the run ---

    def _signal_stop(self, signals: SignalStop | None) -> None:
        self.stopped = (signals.name if signals is not None else None) or "a stop signal to another process"
        self.preempted = True

    def _signalled(self, signals: SignalStop | None) -> bool:
        """Whether any process has received a stop signal (all processes take part)."""
        (count,) = self._global([float(signals is not None and signals.requested is not None)])
        if count:
            self._signal_stop(signals)
        return bool(count)

    def run(self, stop_after_epoch: int | None = None, stop_after_step: int | None = None,
            signals: SignalStop | None = None) -> TrainResult:
        """Train the remaining epochs. `stop_after_epoch` K: stop once K epochs are done;
        `stop_after_step` S: stop after optimiser step S with a checkpoint there (part-way
        through an epoch, as a step checkpoint); `signals` (entered by the caller): its first
        signal stops at the next step boundary with a checkpoint. Each is an interruption:
        resuming continues exactly, and the final evaluation and --export-bundle wait for the end."""
        cfg, main = self.cfg, self.processes.is_main
        self.write_setup()
        if stop_after_step is not None and self.step >= stop_after_step:
            if main:
                logger.warning("already at step %d, at or past --stop-after-step %d: nothing to train", self.step,
                               stop_after_step)
            self.stopped = f"--stop-after-step {stop_after_step}"
            return self._result(None)
        tracker = None
        if main and cfg.tracker:
            tracker = open_tracker(cfg.tracker, cfg.to_dict(), self.out, cfg.tracker_project, self.tracker_run_id)
            self.tracker_run_id = tracker.run_id
        log = StepLog(self.out, self.resumed_at or 0, cfg.tensorboard, tracker) if main else None
        if main:
            write_evals_csv(self.out / EVALS_FILE, self.evals)  # without rows past the checkpoint
        run = RunClock(cfg.epochs * self.steps_per_epoch, self.step, cfg.checkpoint_every_minutes, log,
                       progress=self.progress and main)
        logger.info("training on %s (%s), %d process(es), micro-batch %d, %d steps/epoch, epochs %d..%d",
                    self.device, self.precision.name, self.processes.world_size, self.micro_batch,
                    self.steps_per_epoch, self.start_epoch, cfg.epochs - 1)
        outcome = "failed"  # unless the loop returns
        try:
            with signals.deferred() if signals is not None else contextlib.nullcontext():
                outcome = "finished" if self._epochs(run, stop_after_epoch, stop_after_step, signals) else "stopped"
        finally:
            run.close()
            if tracker is not None:
                tracker.close(outcome)
        finished = outcome == "finished"
        val_metrics = None
        if main and self.best is not None and finished:
            val_metrics = score_best_bundle(self.out, self.val_records, self.best, cfg, self.precision, self.device,
                                            self.micro_batch * 2)
            if cfg.export_bundle:
                shutil.copytree(self.out / "bundle", cfg.export_bundle, dirs_exist_ok=True)
                logger.info("best epoch %d exported to %s", self.best.epoch, cfg.export_bundle)
        if self.processes.distributed:
            dist.barrier()  # no process leaves while rank 0 still writes
        return self._result(val_metrics)

    def _epochs(self, run: RunClock, stop_after_epoch: int | None, stop_after_step: int | None,
                signals: SignalStop | None) -> bool:
        """The epochs from where the run stands; True when the run reached its end (an early
        stop included), False when it was stopped."""
        cfg = self.cfg
        stage, net = None, None
        for epoch in range(self.start_epoch, cfg.epochs):
            if patience_spent(self.best, epoch - 1, cfg.patience, self.processes.is_main):
                return True
            if stop_after_epoch is not None and epoch >= stop_after_epoch:
                self.stopped = f"--stop-after-epoch {stop_after_epoch}"
                return False
            if stage_at(self.stages, epoch) is not stage:
                stage = stage_at(self.stages, epoch)
                count = apply_stage(self.model, stage)
                net = self._wrap()
                logger.info("epoch %d: stage %r, %s trainable parameters", epoch, stage.name, f"{count:,}")
            run.bar.set_description(f"epoch {epoch + 1}/{cfg.epochs}")
            train = self._train_epoch(net, epoch, stage, run, stop_after_step, signals)
            if train is None:
                return False
            self._end_epoch(epoch, stage, train, run)
            if signals is not None and self._signalled(signals):
                return False
            if stop_after_step is not None and self.step >= stop_after_step:
                self.stopped = f"--stop-after-step {stop_after_step}"
                return False
        return True

    def _result(self, val_metrics: dict | None) -> TrainResult:
        """The run's result; for a stopped run, also where its checkpoint is and the command
        that resumes it (logged on rank 0)."""
        folder = self.out / "checkpoints" / f"step-{self.saved_step:08d}" if self.saved_step is not None else None
        if self.stopped and self.processes.is_main:
            level = logging.WARNING if self.preempted else logging.INFO
            logger.log(level, "stopped by %s at step %d (%s); checkpoint %s", self.stopped, self.step,
                       self.saved_where or "where the checkpoint left it", folder)
            logger.log(level, "resume with: %s", resume_command(self.out, self.processes.world_size))
        best = self.best
        return TrainResult(self.out, self.history, best.epoch if best else None, best.val_ppl if best else math.inf,
                           self.out / "bundle" if best else None, self.model, val_metrics, self.stopped,
                           self.preempted, folder)

    def _end_epoch(self, epoch: int, stage: Stage, train: dict, run: RunClock) -> None:
        """Validate, record, export a new best, checkpoint."""
        started = time.perf_counter()
        val, _ = self._evaluate(epoch, run)
        train_loss = train["nll"] / max(train["tokens"], 1)
        row = {
            "epoch": epoch,
            "stage": stage.name,
            "train_loss": train_loss,
            "train_ppl": _exp(train_loss),
            "val_loss": val["val_loss"],
            "val_ppl": val["val_ppl"],
            "lr": self.scheduler.get_last_lr()[0],
            "seconds": round(train["seconds"] + time.perf_counter() - started, 2),
            "samples_per_s": round(train["samples"] / max(train["seconds"], 1e-9), 2),
            "steps": self.step,
            "bad_images": train["bad"] + val["bad"],
            "val_exact_match": val["val_exact_match"],
            "val_bleu4": val["val_bleu4"],
        }
        self.history.append(row)
        extra = (f", val exact match {row['val_exact_match']:.3f}, BLEU-4 {row['val_bleu4']:.3f}"
                 if row["val_exact_match"] is not None else "")
        logger.info("epoch %d (%s): train loss %.4f (ppl %.2f), val loss %.4f (ppl %.2f), %.0f samples/s, "
                    "%d bad images%s; run ETA %s", epoch, stage.name, train_loss, row["train_ppl"], row["val_loss"],
                    row["val_ppl"], row["samples_per_s"], row["bad_images"], extra, clock(run.eta(self.step)))
        if self.processes.is_main:
            write_metrics_csv(self.out / "metrics.csv", self.history)
            if self.cfg.plot:
                write_plot(self.out / "metrics.png", self.history)
            run.log.epoch(row)
        self._save_checkpoint(epoch + 1, stage, run)

    def close(self) -> None:
        close_processes(self.processes)


def train(cfg: TrainConfig, *, resume: str | Path | None = None, stop_after_epoch: int | None = None,
          stop_after_step: int | None = None, progress: bool = True, command: str | None = None,
          signals: SignalStop | None = None) -> TrainResult:
    """Run (or resume) training as configured; see `Trainer` and `Trainer.run`."""
    trainer = Trainer(cfg, resume=resume, progress=progress, command=command)
    try:
        return trainer.run(stop_after_epoch, stop_after_step, signals)
    finally:
        trainer.close()
