"""It learns: a few hundred steps of a tiny model halve the loss, and the first word of a
caption (which depends on the image) is predicted from BOS alone, the thing the original
VisionGPT2 never trained because its captions had no BOS."""

from __future__ import annotations

import torch
from torch.utils.data import SequentialSampler

from tests.training.trainkit import colour_first_dataset, tiny_run
from training.batches import make_loader
from training.evaluate import teacher_forced_nll
from training.trainer import Trainer


def test_a_tiny_model_learns_the_first_word_from_bos(tmp_path):
    data = colour_first_dataset(tmp_path / "data", 240, seed=7)
    cfg = tiny_run(data, tmp_path / "run", epochs=20, batch_size=16, lr=3e-3, precision="fp32")
    trainer = Trainer(cfg, progress=False)
    assert trainer.steps_per_epoch * cfg.epochs >= 250
    train_loader = make_loader(trainer.train_set, 64, SequentialSampler(trainer.train_set), 0, False)

    def train_loss() -> float:
        nll, tokens, _ = teacher_forced_nll(trainer.model, train_loader, trainer.precision, trainer.device)
        return nll / tokens

    before = train_loss()
    trainer.run()
    after = train_loss()
    assert after <= before / 2, (before, after)

    model = trainer.model.eval()
    hits = total = 0
    with torch.no_grad():
        for batch in train_loader:
            logits = model(batch.images, batch.input_ids[:, :1])  # BOS only: (B, 1, V)
            hits += (logits[:, 0].argmax(-1) == batch.labels[:, 0]).sum().item()
            total += batch.size
    assert hits / total >= 0.8, f"first word right for {hits} of {total} training images"
