"""What ML engineers expect of a trainer: AdamW, a cosine schedule with warm-up in steps,
validation every N steps, a kept best checkpoint, a weight average, W&B / MLflow on request."""

from __future__ import annotations

import csv
import importlib.abc
import itertools
import math
import sys
import types

import pytest
import torch
from safetensors.torch import load_file

from core.bundles.bundle import load_bundle
from tests.tiny import tiny_model
from tests.training.trainkit import final_weights, shapes_dataset, tiny_run
from training.checkpoint import load_checkpoint, resume_config
from training.config import TrainConfig
from training.optim import build_optimizer, build_schedule, cosine_factor
from training.trainer import train


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return shapes_dataset(tmp_path_factory.mktemp("shapes"), 60, seed=8)


def _rows(path):
    with path.open(encoding="utf-8", newline="") as stream:
        return list(csv.DictReader(stream))


# --- optimiser and schedule ---


def test_adamw_decays_matrices_decoupled_from_the_gradient_and_leaves_vectors_alone():
    model = tiny_model()
    cfg = TrainConfig(train="t.csv", optimizer="adamw", weight_decay=0.1, lr=0.01)
    optimizer = build_optimizer(model, cfg)
    assert isinstance(optimizer, torch.optim.AdamW)
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"]) and all(p.dim() < 2 for p in plain["params"])
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # no gradient: only the decay moves a weight
    optimizer.step()
    for name, p in model.named_parameters():
        expected = before[name] * (1 - 0.01 * 0.1) if p.dim() >= 2 else before[name]
        torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-7)
    adam = build_optimizer(model, TrainConfig(train="t.csv"))
    assert type(adam) is torch.optim.Adam and len(adam.param_groups) == 1  # the original's, the default


def test_cosine_schedule_warms_up_linearly_in_steps_then_falls_to_its_floor():
    factors = [cosine_factor(step, warmup_steps=4, total_steps=20, min_lr_ratio=0.1) for step in range(21)]
    assert factors[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert all(a >= b for a, b in itertools.pairwise(factors[4:]))
    assert factors[12] == pytest.approx(0.1 + 0.9 * 0.5) and factors[20] == pytest.approx(0.1)

    model = tiny_model()
    cfg = TrainConfig(train="t.csv", schedule="cosine", warmup_steps=4, min_lr_ratio=0.1, lr=1e-3)
    optimizer = build_optimizer(model, cfg)
    schedule = build_schedule(optimizer, cfg, total_steps=20)
    lrs = []
    for _ in range(20):
        lrs.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    assert lrs == pytest.approx([1e-3 * f for f in factors[:20]])
    again = build_schedule(build_optimizer(model, cfg), cfg, total_steps=20)  # continued from a state
    again.load_state_dict(schedule.state_dict())
    assert again.get_last_lr() == schedule.get_last_lr()


def test_adamw_cosine_and_a_weight_average_resume_bit_exactly_and_evaluations_change_no_weight(shapes, tmp_path):
    habits = dict(optimizer="adamw", weight_decay=0.05, schedule="cosine", warmup_steps=3, ema_decay=0.9)
    whole = train(tiny_run(shapes, tmp_path / "whole", log_every=1, eval_every_steps=2, **habits), progress=False)
    steps = whole.history[-1]["steps"]
    lrs = [float(r["lr"]) for r in _rows(tmp_path / "whole" / "steps.csv")]
    assert lrs[0] < lrs[1] < lrs[2] and max(lrs) == pytest.approx(3e-3) and lrs[-1] < lrs[3]

    parted = tmp_path / "parted"  # no evaluations inside epochs, stopped at step 3, then resumed
    train(tiny_run(shapes, parted, **habits), stop_after_step=3, progress=False)
    train(resume_config(parted), resume=parted, progress=False)
    a, b = load_file(str(_latest(tmp_path / "whole") / "tensors.safetensors")), \
        load_file(str(_latest(parted) / "tensors.safetensors"))
    assert a.keys() == b.keys() and any(k.startswith("ema.") for k in a)
    for name in a:
        assert torch.equal(a[name], b[name]), name  # weights, AdamW's moments, the average: bit for bit
    assert load_checkpoint(parted).state["step"] == steps

    evals = _rows(tmp_path / "whole" / "evals.csv")
    per_epoch = steps // 2
    inside = sorted({s for s in range(2, steps, 2) if s % per_epoch})
    assert [int(r["step"]) for r in evals] == sorted([*inside, per_epoch, steps])
    assert all(float(r["val_loss"]) > 0 for r in evals)


def _latest(out):
    return out / "checkpoints" / (out / "checkpoints" / "latest").read_text().strip()


# --- evaluation, the best checkpoint and the weight average ---


def test_the_best_checkpoint_is_kept_beside_the_newest(shapes, tmp_path):
    out = tmp_path / "run"
    # lr 0: no later validation beats the first one (at step 1), whose checkpoint must survive
    result = train(tiny_run(shapes, out, lr=0.0, eval_every_steps=1, keep_best_checkpoint=True,
                            keep_checkpoints=1, checkpoint_every_steps=1), progress=False)
    folders = sorted(p.name for p in (out / "checkpoints").glob("step-*"))
    last = result.history[-1]["steps"]
    assert folders == ["step-00000001", f"step-{last:08d}"]
    assert (out / "checkpoints" / "best").read_text().strip() == "step-00000001"
    best = load_checkpoint(out / "checkpoints" / "step-00000001").state
    assert best["best"]["step"] == 1 and best["best"]["metric"] == "val_loss"
    assert result.best_epoch == 0
    assert load_bundle(out / "bundle").manifest.provenance["step"] == 1
    rows = _rows(out / "evals.csv")
    assert [r["best"] for r in rows][:2] == ["True", "False"]


def test_the_weight_average_is_validated_and_exported(shapes, tmp_path):
    out = tmp_path / "run"
    train(tiny_run(shapes, out, epochs=1, ema_decay=0.5, lr=1e-2), progress=False)
    tensors = load_file(str(_latest(out) / "tensors.safetensors"))
    bundle = load_bundle(out / "bundle")
    exported = bundle.model.state_dict()
    averaged = {k[len("ema."):]: v for k, v in tensors.items() if k.startswith("ema.")}
    assert averaged and all(torch.equal(exported[name], value) for name, value in averaged.items())
    assert any(not torch.equal(tensors[f"model.{name}"], value) for name, value in averaged.items())
    assert bundle.manifest.provenance["weights"] == "average (ema_decay 0.5)"


def test_best_by_a_caption_score_needs_captions_and_works_with_them(shapes, tmp_path):
    result = train(tiny_run(shapes, tmp_path / "run", epochs=2, val_generate=4, max_new_tokens=6,
                            best_metric="val_exact_match"), progress=False)
    assert result.best_epoch in (0, 1)
    scores = [r["val_exact_match"] for r in result.history]
    assert result.best_epoch == scores.index(max(scores))  # the first of the highest


# --- W&B and MLflow: on request, only when installed, never imported otherwise ---


class _FakeWandb(types.ModuleType):
    def __init__(self):
        super().__init__("wandb")
        self.calls: list = []
        fake = self

        class Run:
            id = "run-1"

            def log(self, metrics, step):
                fake.calls.append(("log", dict(metrics), step))

            def finish(self, exit_code):
                fake.calls.append(("finish", exit_code))

            def mark_preempting(self):
                fake.calls.append(("preempting",))

        self._run = Run()

    def init(self, **kwargs):
        self.calls.append(("init", kwargs))
        return self._run


class _FakeMlflow(types.ModuleType):
    def __init__(self):
        super().__init__("mlflow")
        self.calls: list = []

    def set_experiment(self, name):
        self.calls.append(("experiment", name))

    def start_run(self, **kwargs):
        self.calls.append(("start", kwargs))
        return types.SimpleNamespace(info=types.SimpleNamespace(run_id=kwargs.get("run_id") or "ml-7"))

    def log_params(self, params):
        self.calls.append(("params", params))

    def log_metrics(self, metrics, step):
        self.calls.append(("metrics", dict(metrics), step))

    def end_run(self, status):
        self.calls.append(("end", status))


def test_wandb_gets_the_scalars_and_a_resume_continues_its_run(shapes, tmp_path, monkeypatch):
    fake = _FakeWandb()
    monkeypatch.setitem(sys.modules, "wandb", fake)
    out = tmp_path / "run"
    train(tiny_run(shapes, out, tracker="wandb", tracker_project="caps", log_every=1), stop_after_epoch=1,
          progress=False)
    (kind, init), *logged, preempting, finish = fake.calls
    assert kind == "init" and init["project"] == "caps" and init["id"] is None and init["config"]["lr"] == 3e-3
    assert (preempting, finish) == (("preempting",), ("finish", 0))  # stopped before its end, resumable
    keys = {key for call in logged for key in call[1]}
    assert {"train/loss", "train/lr", "val/loss", "val/ppl", "epoch/train_loss"} <= keys
    assert load_checkpoint(out).state["tracker"] == {"wandb": "run-1"}

    fake.calls.clear()
    train(resume_config(out), resume=out, progress=False)
    assert fake.calls[0][1]["id"] == "run-1" and fake.calls[0][1]["resume"] == "allow"
    assert fake.calls[-1] == ("finish", 0)


def test_mlflow_gets_the_params_and_scalars(shapes, tmp_path, monkeypatch):
    fake = _FakeMlflow()
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    train(tiny_run(shapes, tmp_path / "run", epochs=1, tracker="mlflow"), progress=False)
    names = [call[0] for call in fake.calls]
    assert names[:3] == ["experiment", "start", "params"] and names[-1] == "end"
    assert fake.calls[0] == ("experiment", "visioncap") and fake.calls[-1] == ("end", "FINISHED")
    params = fake.calls[2][1]
    assert params["lr"] == "0.003" and params["augment.enabled"] == "False"
    metrics = [call for call in fake.calls if call[0] == "metrics"]
    assert any("val/loss" in call[1] for call in metrics) and all(isinstance(call[2], int) for call in metrics)


def test_a_tracker_that_is_not_installed_fails_before_training(shapes, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb -> ImportError
    with pytest.raises(ValueError, match=r"the wandb package is not installed \(pip install wandb\)"):
        train(tiny_run(shapes, tmp_path / "run", tracker="wandb"), progress=False)
    assert not (tmp_path / "run" / "splits").exists()


def test_without_a_tracker_neither_package_is_imported(shapes, tmp_path, monkeypatch):
    looked_up = []

    class Watch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("wandb", "mlflow"):
                looked_up.append(name)
            return None

    monkeypatch.delitem(sys.modules, "wandb", raising=False)
    monkeypatch.delitem(sys.modules, "mlflow", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Watch(), *sys.meta_path])
    train(tiny_run(shapes, tmp_path / "run", epochs=1, tensorboard=True), progress=False)
    assert looked_up == []
    assert not math.isnan(final_weights(tmp_path / "run")["model.decoder.wte.weight"].sum().item())
