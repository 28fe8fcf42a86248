"""Training checkpoints without pickle: tensors in safetensors, everything else in JSON.

    OUT/checkpoints/step-00001234/     (optimiser steps done; at an epoch's end or part-way)
        tensors.safetensors   model.<name> (the state dict), optim.<index>.<key> (Adam's
                              per-parameter state, index as in the optimiser's param list) and,
                              with a weight average on, ema.<name>
        tokenizer.json
        state.json            configs, epochs done, the position in an unfinished epoch and
                              its running sums, step, stage, optimiser param groups, scheduler,
                              grad scaler, every process's RNG states, the data's fingerprint,
                              metrics history, best epoch, the commands that ran
    OUT/checkpoints/latest    the name of the newest complete checkpoint folder
    OUT/checkpoints/best      with --keep-best-checkpoint, the folder of the best evaluation,
                              kept beside the newest --keep-checkpoints ones

Each file is written atomically and `latest` last, so a crash mid-save leaves the previous
checkpoint in charge. Loading never unpickles: `torch.load` is not used anywhere.

A resume compares values, not flags: an option given again with the value the run already has
is no change. Only a real change of a field outside RESUME_FIELDS is refused, each named with its
old and new value.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from core.atomic import atomic_write, atomic_write_text
from training.config import TrainConfig
from training.ema import PREFIX as EMA_PREFIX
from training.splits import absolute_paths

logger = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 2: step-named folders, epoch_progress, data, commands; 3: ema, best, evals
TENSORS_FILE = "tensors.safetensors"
STATE_FILE = "state.json"
TOKENIZER_FILE = "tokenizer.json"
LATEST_FILE = "latest"
BEST_FILE = "best"
MODEL_PREFIX = "model."
OPTIM_PREFIX = "optim."

# Fields a resumed run may change: they do not alter what is computed (evaluations neither draw
# random numbers nor touch the weights, so eval_every_steps may change too).
RUNTIME_FIELDS = frozenset({
    "device", "workers", "threads", "val_generate", "keep_checkpoints", "out",
    "export_bundle", "bundle_name", "bundle_description", "bundle_licence", "bundle_dtype",
    "checkpoint_every_steps", "checkpoint_every_minutes", "log_every", "tensorboard", "plot", "patience",
    "eval_every_steps", "keep_best_checkpoint", "tracker", "tracker_project",
})
# Of those, the ones after whose change the run goes on correctly but not bit-exactly: another
# CPU thread count splits reductions differently, another device runs other kernels.
NOT_BIT_EXACT = frozenset({"threads", "device"})
# A resume may also extend (or shorten) the run: the schedule is rebuilt for it.
RESUME_FIELDS = RUNTIME_FIELDS | {"epochs"}


class CheckpointError(Exception):
    """A checkpoint folder is missing, incomplete or not in this format."""


# --- RNG states as plain data ---


def _b64(tensor: torch.Tensor) -> str:
    return base64.b64encode(tensor.cpu().numpy().tobytes()).decode("ascii")


def _from_b64(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8).clone()


def rng_state() -> dict:
    """Python, NumPy, torch CPU and every CUDA device's generator states, as JSON data."""
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": _b64(torch.get_rng_state()),
        "cuda": [_b64(s) for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(_from_b64(state["torch"]))
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_from_b64(s) for s in state["cuda"]])


# --- optimiser state: tensors by name, the rest as JSON ---


def optimizer_tensors(state_dict: dict) -> dict[str, torch.Tensor]:
    """Adam's per-parameter tensors -> {"optim.<index>.<key>": tensor}."""
    tensors = {}
    for index, values in state_dict["state"].items():
        for key, value in values.items():
            if not isinstance(value, torch.Tensor):
                raise CheckpointError(f"optimiser state {index}.{key} is not a tensor ({type(value).__name__})")
            tensors[f"{OPTIM_PREFIX}{index}.{key}"] = value.detach().cpu().contiguous()
    return tensors


def optimizer_state_dict(tensors: dict[str, torch.Tensor], param_groups: list[dict]) -> dict:
    """The inverse of `optimizer_tensors` plus the JSON param groups (tuples restored)."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        if name.startswith(OPTIM_PREFIX):
            index, key = name[len(OPTIM_PREFIX):].split(".", 1)
            state.setdefault(int(index), {})[key] = tensor
    groups = [{k: tuple(v) if k == "betas" else v for k, v in group.items()} for group in param_groups]
    return {"state": state, "param_groups": groups}


# --- saving and loading ---


@dataclass
class Checkpoint:
    path: Path
    state: dict  # the JSON document
    model: dict[str, torch.Tensor]
    optimizer: dict  # an optimiser state_dict
    ema: dict[str, torch.Tensor]  # the weight average by parameter name; empty when off

    @property
    def epochs_done(self) -> int:
        return self.state["epochs_done"]


def save_checkpoint(
    folder: Path,
    state: dict,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    tokenizer_file: Path,
    keep: int = 2,
    extra_tensors: dict[str, torch.Tensor] | None = None,
    best: str | None = None,
) -> Path:
    """Write OUT/checkpoints/step-NNNNNNNN (optimiser steps done), point `latest` at it, and
    keep only the newest `keep` checkpoint folders and `best` (a folder name, named in the
    `best` file). `state` must be JSON data; `extra_tensors` go in with their names as given."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"step-{state['step']:08d}"
    target.mkdir(exist_ok=True)
    optim = optimizer.state_dict()
    tensors = {MODEL_PREFIX + k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors.update(optimizer_tensors(optim))
    tensors.update(extra_tensors or {})
    document = {
        "format_version": FORMAT_VERSION,
        **state,
        "optimizer_param_groups": optim["param_groups"],
    }
    text = json.dumps(document, indent=1) + "\n"  # fails here, before any file, if not JSON data
    atomic_write(target / TENSORS_FILE, lambda p: save_file(tensors, str(p)))
    atomic_write(target / TOKENIZER_FILE, lambda p: shutil.copyfile(tokenizer_file, p))
    atomic_write_text(target / STATE_FILE, text)
    atomic_write_text(folder / LATEST_FILE, target.name + "\n")
    if best is not None and (folder / best / STATE_FILE).is_file():
        atomic_write_text(folder / BEST_FILE, best + "\n")
    else:
        best = None
        (folder / BEST_FILE).unlink(missing_ok=True)
    others = sorted(p for p in folder.glob("step-*") if p.is_dir() and p != target and p.name != best)
    older = [p for p in others if p.name < target.name]
    # Newer ones exist only when a run was resumed from an older checkpoint: an abandoned future.
    for stale in older[: max(0, len(older) - (keep - 1))] + [p for p in others if p.name > target.name]:
        shutil.rmtree(stale, ignore_errors=True)
    return target


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder itself, a checkpoints/ folder, or a run's OUT folder -> the folder."""
    path = Path(path)
    if (path / STATE_FILE).is_file():
        return path
    for folder in (path / "checkpoints", path):
        latest = folder / LATEST_FILE
        if latest.is_file():
            target = folder / latest.read_text(encoding="utf-8").strip()
            if (target / STATE_FILE).is_file():
                return target
            raise CheckpointError(f"{latest} names {target.name}, which has no {STATE_FILE}")
    raise CheckpointError(f"{path}: no checkpoint here (no {STATE_FILE} and no checkpoints/{LATEST_FILE})")


def load_state(path: str | Path) -> tuple[Path, dict]:
    """(the checkpoint folder, its state.json document), without reading the tensors."""
    folder = find_checkpoint(path)
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{folder / STATE_FILE}: unreadable ({exc})") from exc
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{folder}: checkpoint format {state['format_version']} is newer than this code")
    return folder, state


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    folder, state = load_state(path)
    try:
        tensors = load_file(str(folder / TENSORS_FILE), device=str(device))
    except Exception as exc:  # safetensors raises its own error types; name the file
        raise CheckpointError(f"{folder / TENSORS_FILE}: unreadable ({exc})") from exc
    model = {k[len(MODEL_PREFIX):]: v for k, v in tensors.items() if k.startswith(MODEL_PREFIX)}
    ema = {k[len(EMA_PREFIX):]: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}
    optimizer = optimizer_state_dict(tensors, state.pop("optimizer_param_groups"))
    return Checkpoint(folder, state, model, optimizer, ema)


# --- resume ---


def _comparable(cfg: TrainConfig) -> dict:
    """The config as values: paths absolute, the stages as resolved (no --stages and
    --stages backbones are the same stages for a run from backbones)."""
    data = absolute_paths(cfg).to_dict()
    data["stages"] = [stage.to_dict() for stage in cfg.resolved_stages()]
    return data


def _shown(key: str, value) -> str:
    if key == "stages":
        return json.dumps(";".join(f"{s['start_epoch']}:{s['name']}:{','.join(s['trainable'])}" for s in value))
    return json.dumps(value)


def config_changes(saved: TrainConfig, current: TrainConfig) -> list[tuple[str, object, object]]:
    """(field, saved value, current value) for every field whose value differs."""
    old, new = _comparable(saved), _comparable(current)
    return [(key, old.get(key), new[key]) for key in new if old.get(key) != new[key]]


def _listed(changes: list[tuple[str, object, object]]) -> str:
    return ", ".join(f"{key} {_shown(key, old)} -> {_shown(key, new)}" for key, old, new in changes)


def refuse_changes(changes: list[tuple[str, object, object]]) -> None:
    """ValueError naming each change outside RESUME_FIELDS with its old and new value."""
    refused = [change for change in changes if change[0] not in RESUME_FIELDS]
    if refused:
        raise ValueError(
            f"a resumed run cannot change {_listed(refused)}: that changes what is computed (start a new run; "
            f"--init-bundle OUT/bundle fine-tunes this one). A resume may change {', '.join(sorted(RESUME_FIELDS))}"
        )


def resume_config(path: str | Path, requested: dict | None = None) -> TrainConfig:
    """The checkpoint's training config with `requested` values (fields as in TrainConfig;
    `augment` partial) laid over it. A value equal to the stored one is no change; a real change
    is refused unless the field is in RESUME_FIELDS."""
    folder, state = load_state(path)
    saved = TrainConfig.from_dict(state["train_config"], source=str(folder / STATE_FILE))
    values = saved.to_dict()
    requested = dict(requested or {})
    if "augment" in requested:
        values["augment"] = {**values["augment"], **requested.pop("augment")}
    cfg = TrainConfig.from_dict({**values, **requested})
    refuse_changes(config_changes(saved, cfg))
    if cfg.resolved_stages() == saved.resolved_stages():
        cfg.stages = saved.stages  # the same stages, kept in the form the run stored
    return cfg


def check_resumable(cfg: TrainConfig, saved: TrainConfig) -> list[str]:
    """Refuse what resume_config refuses; the notes to log about allowed changes that end
    bit-exactness (NOT_BIT_EXACT)."""
    changes = config_changes(saved, cfg)
    refuse_changes(changes)
    inexact = [change for change in changes if change[0] in NOT_BIT_EXACT]
    if not inexact:
        return []
    return [f"{_listed(inexact)} on resume: the run goes on correctly but is no longer bit-exact "
            "(resume with the stored values for that)"]
