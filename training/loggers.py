"""Experiment trackers besides TensorBoard: Weights & Biases or MLflow, on request only.

`--tracker wandb` or `--tracker mlflow` sends the same scalars as TensorBoard (train/loss,
train/lr, train/samples_per_s every --log-every steps; val/* at every evaluation; epoch/* at
every epoch's end) and the training config. The package is imported only when its tracker is
asked for, and a missing one is an error before any training (pip install wandb / mlflow). The
tracker's run id is kept in every checkpoint, so a resumed run logs into the same tracker run.

W&B: project `--tracker-project`, the run named after OUT, its files in OUT/wandb (WANDB_MODE,
WANDB_API_KEY and the rest of W&B's environment apply). MLflow: experiment `--tracker-project`
under MLFLOW_TRACKING_URI (MLflow's default: ./mlruns).
"""

from __future__ import annotations

import importlib
from pathlib import Path

TRACKERS = ("wandb", "mlflow")
MLFLOW_PARAM_CHARS = 500  # MLflow refuses longer parameter values


def _import(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ValueError(f"--tracker {name}: the {name} package is not installed (pip install {name}); "
                         f"TensorBoard and steps.csv need no tracker") from exc


def _flat(data: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class WandbTracker:
    def __init__(self, config: dict, out: Path, project: str, run_id: str | None):
        wandb = _import("wandb")
        self.run = wandb.init(project=project, name=out.name, dir=str(out), config=config,
                              id=run_id, resume="allow" if run_id else None)
        self.run_id = str(self.run.id)

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(metrics, step=step)

    def close(self, outcome: str) -> None:
        """`outcome`: "finished", "stopped" (resumable: W&B shows it as preempted) or "failed"."""
        if outcome == "stopped" and hasattr(self.run, "mark_preempting"):
            self.run.mark_preempting()
        self.run.finish(exit_code=1 if outcome == "failed" else 0)


class MlflowTracker:
    def __init__(self, config: dict, out: Path, project: str, run_id: str | None):
        self.mlflow = _import("mlflow")
        self.mlflow.set_experiment(project)
        if run_id:
            run = self.mlflow.start_run(run_id=run_id)
        else:
            run = self.mlflow.start_run(run_name=out.name)
            self.mlflow.log_params({k: str(v)[:MLFLOW_PARAM_CHARS] for k, v in _flat(config).items()})
        self.run_id = str(run.info.run_id)

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.mlflow.log_metrics(metrics, step=step)

    def close(self, outcome: str) -> None:
        self.mlflow.end_run(status={"finished": "FINISHED", "stopped": "KILLED"}.get(outcome, "FAILED"))


def open_tracker(kind: str, config: dict, out: Path, project: str, run_id: str | None = None):
    """A WandbTracker or MlflowTracker (`run_id`: continue that tracker run)."""
    if kind not in TRACKERS:
        raise ValueError(f"tracker must be one of {TRACKERS}, got {kind!r}")
    tracker = WandbTracker if kind == "wandb" else MlflowTracker
    return tracker(config, out, project, run_id)


def check_installed(kind: str | None) -> None:
    """Fail now, not after the data and the model are ready, when the tracker's package is missing."""
    if kind:
        _import(kind)
