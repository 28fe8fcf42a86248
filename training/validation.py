"""What a run validates, and which validation is the best.

A validation runs at every epoch's end and, with `eval_every_steps`, inside epochs; it scores the
weight average when there is one. Its token-weighted loss and perplexity are sums over all
processes; the greedy-caption scores (`val_generate`) are made on rank 0 and shared, so that
every process takes the same "best" decision (a best checkpoint is saved by all together).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from core.atomic import atomic_write_text
from core.bundles.bundle import load_bundle
from core.captioning.generation import GenerationSettings
from core.captioning.model import VisionGPT2
from core.captioning.tokenizer import CaptionTokenizer
from training.annotations import CaptionRecord
from training.config import LOWER_IS_BETTER, TrainConfig
from training.evaluate import score, teacher_forced_nll
from training.runtime import Precision, Processes, all_reduce_sum
from training.splits import SPLITS_DIR

logger = logging.getLogger(__name__)

VAL_METRICS_FILE = "val_metrics.json"  # the best bundle scored on splits/val.csv, beside bundle/


@dataclass
class Best:
    """The best validation so far by `metric` (val_loss and val_ppl fall, the others rise)."""

    metric: str
    value: float
    epoch: int
    step: int | None  # None: from a checkpoint before format 3, which kept only the epoch
    val_ppl: float

    def beaten_by(self, value: float) -> bool:
        return value < self.value if self.metric in LOWER_IS_BETTER else value > self.value

    def folder(self) -> str | None:
        """The name of the checkpoint folder saved at this validation's step."""
        return None if self.step is None else f"step-{self.step:08d}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_state(cls, state: dict) -> Best | None:
        """From a checkpoint's state; a format-2 checkpoint kept the best epoch by val perplexity."""
        if state.get("best"):
            return cls(**state["best"])
        if state.get("best_epoch") is None:
            return None
        ppl = state["best_val_ppl"]
        return cls("val_loss", math.log(ppl), state["best_epoch"], None, ppl)


def patience_spent(best: Best | None, last_epoch: int, patience: int, announce: bool) -> bool:
    """Early stopping: `patience` epochs done since the one of the best validation."""
    if not patience or best is None or last_epoch - best.epoch < patience:
        return False
    if announce:
        logger.info("stopping early after epoch %d: %s has not improved for %d epochs (best %.4f at epoch %d)",
                    last_epoch, best.metric, last_epoch - best.epoch, best.value, best.epoch)
    return True


def validate(model: VisionGPT2, loader, records: list[CaptionRecord], tokenizer: CaptionTokenizer,
             cfg: TrainConfig, precision: Precision, device: torch.device, processes: Processes,
             batch_size: int) -> dict:
    """{"nll", "tokens", "bad"} summed over all processes and, with `val_generate`, rank 0's
    "exact_match" and "bleu4" of greedy captions of the first `val_generate` images."""
    nll, tokens, bad = teacher_forced_nll(model, loader, precision, device)
    nll, tokens, bad = all_reduce_sum([nll, tokens, bad], processes, device)
    result = {"nll": nll, "tokens": tokens, "bad": int(bad)}
    if cfg.val_generate:
        generated = [0.0, 0.0]
        if processes.is_main:
            chosen = set(list(dict.fromkeys(r.image for r in records))[: cfg.val_generate])
            metrics, _, _ = score(
                model, tokenizer, [r for r in records if r.image in chosen],
                GenerationSettings(max_new_tokens=cfg.max_new_tokens), precision, device,
                batch_size=batch_size, meteor=False, with_perplexity=False,
            )
            generated = [metrics["exact_match"], metrics["bleu4"]]
        result["exact_match"], result["bleu4"] = all_reduce_sum(generated, processes, device)
    return result


def score_best_bundle(out: Path, records: list[CaptionRecord], best: Best, cfg: TrainConfig,
                      precision: Precision, device: torch.device, batch_size: int) -> dict:
    """Score the best bundle, as saved, on the val split; written to OUT/val_metrics.json."""
    bundle = load_bundle(out / "bundle", device=device)
    metrics, _, _ = score(
        bundle.model, bundle.tokenizer, records, GenerationSettings(max_new_tokens=cfg.max_new_tokens),
        precision, device, batch_size=batch_size, meteor=False,
    )
    metrics.update(epoch=best.epoch, step=best.step, captions_file=str(out / SPLITS_DIR / "val.csv"),
                   bundle=str(out / "bundle"))
    atomic_write_text(out / VAL_METRICS_FILE, json.dumps(metrics, indent=2) + "\n")
    logger.info("best bundle (epoch %d) on the val split: BLEU-4 %.4f, CIDEr %.3f, perplexity %.3f -> %s",
                best.epoch, metrics["bleu4"], metrics["cider"], metrics["perplexity"], out / VAL_METRICS_FILE)
    return metrics
