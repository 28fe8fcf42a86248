"""Caption records -> batches: tokenisation, image decoding, augmentation, dynamic padding.

Images are decoded with core.images.reading (`load_image` + `image_to_array`), exactly as the app does
at inference, and normalised with the model config's mean/std; training only adds random
augmentations on top. A caption becomes

    input_ids = BOS c1 c2 ... cn          labels = c1 c2 ... cn EOS

so the model learns the first word from BOS, as generation asks it to. Batches are padded to
their longest caption (pad id in the inputs, -100 in the labels). An image that cannot be read
makes `__getitem__` return a `BadImage`, which the collate function drops and counts: a bad
file never ends an epoch.
"""

from __future__ import annotations

import itertools
import logging
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from core.captioning.config import CaptionerConfig
from core.captioning.tokenizer import CaptionTokenizer
from core.errors import ImageError
from core.images.reading import image_to_array, load_image
from training.annotations import CaptionRecord, counted
from training.config import AugmentConfig

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100  # F.cross_entropy's ignore_index: no loss where there is no next token
_LEFT_RIGHT = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def encode_example(ids: Sequence[int], bos: int, eos: int, context_length: int) -> tuple[list[int], list[int]]:
    """Caption token ids -> (inputs, labels), shifted by one, at most `context_length` long.

    A caption cut short keeps its next real token as the last label (not a false EOS).
    """
    full = [bos, *ids, eos][: context_length + 1]
    return full[:-1], full[1:]


@dataclass(frozen=True)
class BadImage:
    """What a dataset item is when its image cannot be read."""

    path: str
    reason: str


@dataclass
class Batch:
    """Padded tensors of the readable items of one batch, plus what was dropped."""

    images: torch.Tensor  # (B, 3, H, W), normalised
    input_ids: torch.Tensor  # (B, T) long, pad id after each caption
    labels: torch.Tensor  # (B, T) long, -100 after each caption's EOS
    paths: list[str]
    bad: list[BadImage] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.input_ids.size(0)

    @property
    def num_tokens(self) -> int:
        return int((self.labels != IGNORE_INDEX).sum())

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        return Batch(
            self.images.to(device, non_blocking=non_blocking),
            self.input_ids.to(device, non_blocking=non_blocking),
            self.labels.to(device, non_blocking=non_blocking),
            self.paths,
            self.bad,
        )


class Collate:
    """Pads a list of items into a `Batch`; a picklable class so DataLoader workers can use it.

    Returns a Batch with zero rows when every image of the batch was bad.
    """

    def __init__(self, pad_id: int, image_shape: tuple[int, int, int]):
        self.pad_id = pad_id
        self.image_shape = image_shape

    def __call__(self, items: list) -> Batch:
        good = [item for item in items if not isinstance(item, BadImage)]
        bad = [item for item in items if isinstance(item, BadImage)]
        length = max((len(inputs) for _, inputs, _, _ in good), default=0)
        input_ids = torch.full((len(good), length), self.pad_id, dtype=torch.long)
        labels = torch.full((len(good), length), IGNORE_INDEX, dtype=torch.long)
        for row, (_, inputs, targets, _) in enumerate(good):
            input_ids[row, : len(inputs)] = torch.tensor(inputs)
            labels[row, : len(targets)] = torch.tensor(targets)
        images = (
            torch.stack([image for image, _, _, _ in good])
            if good
            else torch.empty((0, *self.image_shape))
        )
        return Batch(images, input_ids, labels, [path for _, _, _, path in good], bad)


def mentions_side(caption: str) -> bool:
    """Whether a caption says left or right (as words: "bright" does not)."""
    return _LEFT_RIGHT.search(caption) is not None


def flip_enabled(augment: AugmentConfig, captions: Sequence[str]) -> bool:
    """Whether the horizontal flip applies to any item. "on": every item; "auto": every item
    whose caption says neither left nor right (`Augmentation` decides per item), so off only
    when every caption says one; "off", or augmentation off: none."""
    if not augment.enabled or augment.hflip == "off" or augment.hflip_p <= 0:
        return False
    if augment.hflip == "on":
        return True
    sided = sum(map(mentions_side, captions))
    if sided and sided == len(captions):
        logger.info("horizontal flip off: every training caption mentions left or right")
        return False
    if sided:
        logger.info("horizontal flip on, except for the %s that mention left or right",
                    counted(sided, "training caption"))
    return True


class Augmentation:
    """The random transforms of one training item (3, H, W) in [0, 1]: the horizontal flip, then
    the rest. With `per_caption`, an item whose caption says left or right is never flipped (the
    flipped picture would make it false); its flip is drawn all the same, so that what is drawn
    after it does not depend on the caption. Swapping "left" and "right" in the caption instead
    would be wrong where the words mean something else ("has left the room", "right now")."""

    def __init__(self, flip_p: float, per_caption: bool, rest):
        self.flip_p = flip_p
        self.per_caption = per_caption
        self.rest = rest

    def may_flip(self, caption: str) -> bool:
        return not (self.per_caption and mentions_side(caption))

    def __call__(self, pixels: torch.Tensor, may_flip: bool = True) -> torch.Tensor:
        # v2.RandomHorizontalFlip's own draw: flip when a uniform draw is below p
        if self.flip_p > 0 and torch.rand(1).item() < self.flip_p and may_flip:
            pixels = pixels.flip(-1)  # (3, H, W): mirror the width
        return self.rest(pixels) if self.rest is not None else pixels


def build_augmentation(augment: AugmentConfig, flip: bool) -> Augmentation | None:
    """The training augmentations, or None if there are none. `flip` (from `flip_enabled`) adds
    the horizontal flip, per caption when hflip is "auto".

    The original's albumentations list (flip, brightness/contrast, colour jitter,
    shift-scale-rotate, hue/saturation) in torchvision transforms v2.
    """
    if not augment.enabled:
        return None
    from torchvision.transforms import v2

    steps = []
    if augment.brightness_contrast_p > 0:
        steps.append(
            v2.RandomApply([v2.ColorJitter(brightness=augment.brightness, contrast=augment.contrast)],
                           p=augment.brightness_contrast_p)
        )
    if augment.color_jitter_p > 0:
        brightness, contrast, saturation, hue = augment.color_jitter
        steps.append(
            v2.RandomApply([v2.ColorJitter(brightness, contrast, saturation, hue)], p=augment.color_jitter_p)
        )
    if augment.shift_scale_rotate_p > 0:
        affine = v2.RandomAffine(
            degrees=augment.rotate,
            translate=(augment.shift, augment.shift),
            scale=(1 - augment.scale, 1 + augment.scale),
            interpolation=v2.InterpolationMode.BILINEAR,
        )
        steps.append(v2.RandomApply([affine], p=augment.shift_scale_rotate_p))
    if augment.hue_saturation_p > 0:
        steps.append(
            v2.RandomApply([v2.ColorJitter(saturation=augment.saturation, hue=augment.hue)],
                           p=augment.hue_saturation_p)
        )
    flip_p = augment.hflip_p if flip else 0.0
    if not steps and not flip_p:
        return None
    return Augmentation(flip_p, augment.hflip == "auto", v2.Compose(steps) if steps else None)


class CaptionDataset(Dataset):
    """(image, caption) records -> (normalised image, input ids, labels, path) or BadImage.

    Captions are tokenised once, up front. Augmentation randomness is drawn from a generator
    seeded by (seed, epoch, index), so an item is the same whichever worker, process or resumed
    run loads it; call `set_epoch` before each epoch.
    """

    def __init__(
        self,
        records: Sequence[CaptionRecord],
        tokenizer: CaptionTokenizer,
        config: CaptionerConfig,
        augmentation: Augmentation | None = None,
        seed: int = 0,
    ):
        self.paths = [str(record.image) for record in records]
        self.examples = [
            encode_example(ids, config.bos_token_id, config.eos_token_id, config.context_length)
            for ids in tokenizer.encode_batch([record.caption for record in records])
        ]
        self.config = config
        self.augmentation = augmentation
        # per item: whether the flip may apply (hflip "auto" spares captions that say left/right)
        self.may_flip = (
            [augmentation.may_flip(r.caption) for r in records]
            if augmentation is not None and augmentation.per_caption else None
        )
        self.seed = seed
        self.epoch = 0
        self.mean = torch.tensor(config.image_mean).view(-1, 1, 1)
        self.std = torch.tensor(config.image_std).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def image(self, index: int) -> torch.Tensor:
        """The normalised image (3, H, W); raises ImageError."""
        cfg = self.config
        picture = load_image(self.paths[index], min_size=cfg.image_size)
        pixels = torch.from_numpy(image_to_array(picture, cfg.image_size, cfg.resize_interpolation))
        if self.augmentation is not None:
            seed = int(np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0])
            # torchvision draws from the global generator: fork it so that neither the
            # caller's random state (dropout) nor the order of items changes what is drawn.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                may_flip = self.may_flip is None or self.may_flip[index]
                pixels = self.augmentation(pixels, may_flip).clamp_(0.0, 1.0)
        return (pixels - self.mean) / self.std

    def __getitem__(self, index: int):
        try:
            image = self.image(index)
        except ImageError as exc:
            return BadImage(self.paths[index], exc.reason)
        inputs, labels = self.examples[index]
        return image, inputs, labels, self.paths[index]

    def collate(self) -> Collate:
        cfg = self.config
        return Collate(cfg.pad_token_id, (cfg.in_chans, cfg.image_size, cfg.image_size))


class ResumableSampler(DistributedSampler):
    """DistributedSampler that can begin an epoch part-way: `set_epoch(epoch, start)` skips the
    first `start` indices of this process's share of the (seed, epoch) permutation, so a resumed
    run sees exactly the items the interrupted one had not reached (none of the skipped ones is
    loaded)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        super().set_epoch(epoch)
        self.start = start

    def __iter__(self):
        return itertools.islice(super().__iter__(), self.start, None)

    def __len__(self) -> int:
        return self.num_samples - self.start


def placeholder_batch(config: CaptionerConfig, device: torch.device) -> Batch:
    """One grey image and a BOS input with no label: zero loss, zero gradients. DDP needs every
    process to run forward and backward, also one whose micro-batch had only bad images."""
    return Batch(
        torch.zeros((1, config.in_chans, config.image_size, config.image_size), device=device),
        torch.full((1, 1), config.bos_token_id, dtype=torch.long, device=device),
        torch.full((1, 1), IGNORE_INDEX, dtype=torch.long, device=device),
        [],
    )


class ShardSampler(Sampler[int]):
    """Every `num_replicas`-th index from `rank`, in order, without padding: each evaluation
    item is seen once over all processes."""

    def __init__(self, length: int, num_replicas: int = 1, rank: int = 0):
        self.indices = list(range(rank, length, num_replicas))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def make_loader(
    dataset: CaptionDataset,
    batch_size: int,
    sampler: Sampler,
    workers: int,
    pin_memory: bool,
    seed: int = 0,
) -> DataLoader:
    """A loader of `Batch`es. It draws its worker seeds from its own generator, so iterating
    it never advances the global torch generator (whose state a checkpoint restores). Its
    workers ignore the stop signals: SLURM signals every process of a job step and a terminal's
    Ctrl-C the whole process group, and the main process decides when the workers end
    (training/preemption.py)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=dataset.collate(),
        pin_memory=pin_memory,
        drop_last=False,
        generator=torch.Generator().manual_seed(seed),
        worker_init_fn=ignore_stop_signals if workers else None,
    )


def ignore_stop_signals(worker_id: int) -> None:
    """In a DataLoader worker: leave the stop signals to the main process."""
    from training.preemption import STOP_SIGNALS

    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def unique_images(records: Sequence[CaptionRecord]) -> tuple[list[CaptionRecord], dict[str, list[str]]]:
    """One record per image (its first caption) in first-seen order, and every image's captions."""
    references: dict[str, list[str]] = {}
    firsts = []
    for record in records:
        key = str(record.image)
        if key not in references:
            references[key] = []
            firsts.append(record)
        references[key].append(record.caption)
    return firsts, references

