"""An exponential moving average of the weights (as timm's ModelEma and many diffusion and
ViT recipes keep): validated, chosen as best and exported in place of the raw weights.

After every optimiser step, `shadow = d * shadow + (1 - d) * weight` for the trainable
parameters, with d = min(decay, (1 + n) / (10 + n)) after n updates, so that the average of a
short run is not dominated by the random initial weights (TensorFlow's num_updates rule). A
frozen parameter does not change, and neither does its average, so it is left out of the update.
The shadow weights are saved in every checkpoint ("ema.<name>"), so a resume stays bit-exact.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

PREFIX = "ema."


class WeightAverage:
    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.shadow = {name: p.detach().clone() for name, p in model.named_parameters()}

    def rate(self) -> float:
        """This update's decay: the warm-up rule, capped at `decay`."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        self.updates += 1
        weight = 1.0 - self.rate()
        pairs = [(self.shadow[name], p) for name, p in model.named_parameters() if p.requires_grad]
        if pairs:
            torch._foreach_lerp_([s for s, _ in pairs], [p.detach() for _, p in pairs], weight)

    @contextlib.contextmanager
    def applied(self, model: torch.nn.Module) -> Iterator[None]:
        """The model holds the averaged weights inside, its own again (bit for bit) after."""
        params = dict(model.named_parameters())
        with torch.no_grad():
            saved = {name: p.detach().clone() for name, p in params.items()}
            for name, p in params.items():
                p.copy_(self.shadow[name])
        try:
            yield
        finally:
            with torch.no_grad():
                for name, p in params.items():
                    p.copy_(saved[name])

    def tensors(self) -> dict[str, torch.Tensor]:
        return {PREFIX + name: t.detach().cpu().contiguous() for name, t in self.shadow.items()}

    def state(self) -> dict:
        return {"decay": self.decay, "updates": self.updates}

    def load(self, tensors: dict[str, torch.Tensor], state: dict) -> None:
        """From a checkpoint's "ema.<name>" tensors and its "ema" state; every name must be there."""
        missing = sorted(set(self.shadow) - set(tensors))
        if missing:
            raise ValueError(f"the checkpoint's weight average lacks {len(missing)} tensors, e.g. {missing[0]}")
        for name, tensor in self.shadow.items():
            tensor.copy_(tensors[name])
        self.updates = int(state["updates"])
