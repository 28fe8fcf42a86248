"""Tokenisation (BOS/EOS/-100), dynamic padding, augmentation, preprocessing, bad images."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from PIL import Image

from core.captioning.tokenizer import CaptionTokenizer
from core.images.reading import image_to_array, load_image
from tests.tiny import tiny_config, train_tokenizer
from training.annotations import CaptionRecord
from training.batches import (
    IGNORE_INDEX,
    BadImage,
    CaptionDataset,
    build_augmentation,
    encode_example,
    flip_enabled,
    unique_images,
)
from training.config import AugmentConfig

BOS = EOS = 0


def test_inputs_start_with_bos_and_labels_end_with_eos():
    inputs, labels = encode_example([5, 6, 7], BOS, EOS, context_length=16)
    assert inputs == [BOS, 5, 6, 7]
    assert labels == [5, 6, 7, EOS]  # the first word is a label: it is learnt from BOS


def test_truncation_keeps_the_next_real_token_as_last_label():
    inputs, labels = encode_example([5, 6, 7, 8, 9], BOS, EOS, context_length=4)
    assert inputs == [BOS, 5, 6, 7]
    assert labels == [5, 6, 7, 8]


def _dataset(tmp_path, captions, augmentation=None, bad=()):
    records = []
    for i, caption in enumerate(captions):
        path = tmp_path / f"{i}.png"
        if i in bad:
            path.write_bytes(b"this is not a png")
        else:
            rng = np.random.default_rng(i)
            Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).save(path)
        records.append(CaptionRecord(path, caption))
    tokenizer = CaptionTokenizer(train_tokenizer())
    return CaptionDataset(records, tokenizer, tiny_config(), augmentation, seed=1), tokenizer


def test_collate_pads_per_batch_with_pad_ids_and_ignored_labels(tmp_path):
    captions = ["a dog", "a plate of food with broccoli and rice", "two people"]
    dataset, tokenizer = _dataset(tmp_path, captions)
    batch = dataset.collate()([dataset[i] for i in range(3)])
    longest = max(len(tokenizer.encode(c)) for c in captions) + 1
    assert batch.input_ids.shape == batch.labels.shape == (3, longest)  # the batch's longest, not 64
    assert batch.images.shape == (3, 3, 32, 32)
    for row, caption in enumerate(captions):
        ids = tokenizer.encode(caption)
        n = len(ids) + 1
        assert batch.input_ids[row, :n].tolist() == [BOS, *ids]
        assert batch.labels[row, :n].tolist() == [*ids, EOS]
        assert (batch.input_ids[row, n:] == dataset.config.pad_token_id).all()
        assert (batch.labels[row, n:] == IGNORE_INDEX).all()
    assert batch.num_tokens == sum(len(tokenizer.encode(c)) + 1 for c in captions)


def test_unreadable_images_are_dropped_and_counted(tmp_path):
    dataset, _ = _dataset(tmp_path, ["a dog", "a cat", "a cow"], bad={1})
    items = [dataset[i] for i in range(3)]
    assert isinstance(items[1], BadImage) and items[1].reason
    batch = dataset.collate()(items)
    assert batch.size == 2
    assert [b.path for b in batch.bad] == [str(tmp_path / "1.png")]
    empty = dataset.collate()([items[1]])
    assert empty.size == 0 and empty.images.shape == (0, 3, 32, 32) and len(empty.bad) == 1


def test_validation_preprocessing_is_the_apps(tmp_path):
    dataset, _ = _dataset(tmp_path, ["a dog"])
    cfg = dataset.config
    expected = image_to_array(load_image(tmp_path / "0.png"), cfg.image_size, cfg.resize_interpolation)
    expected = (torch.from_numpy(expected) - 0.5) / 0.5  # the config's mean/std
    assert torch.equal(dataset[0][0], expected)


def test_augmentation_depends_on_seed_epoch_and_index_only(tmp_path):
    augment = AugmentConfig(hflip="on", shift_scale_rotate_p=1.0, color_jitter_p=1.0)
    dataset, _ = _dataset(tmp_path, ["a dog", "a cat"], build_augmentation(augment, flip=True))
    first = dataset[0][0]
    torch.manual_seed(123)  # the global generator does not matter ...
    assert torch.equal(dataset[1][0], dataset[1][0])
    assert torch.equal(dataset[0][0], first)
    state = torch.get_rng_state()
    dataset[0]
    assert torch.equal(torch.get_rng_state(), state)  # ... and is left untouched (dropout)
    dataset.set_epoch(1)
    assert not torch.equal(dataset[0][0], first)  # a new epoch draws new augmentations


def test_flip_is_off_when_captions_say_left_or_right():
    augment = AugmentConfig()
    assert not flip_enabled(augment, ["a red circle to the left of a blue square"])
    assert not flip_enabled(augment, ["Right hand raised"])
    assert flip_enabled(augment, ["a dog on a beach", "bright lights"])  # "bright" is not "right"
    assert flip_enabled(AugmentConfig(hflip="on"), ["on the left"])
    assert not flip_enabled(AugmentConfig(hflip="off"), ["a dog"])
    assert not flip_enabled(AugmentConfig(enabled=False), ["a dog"])
    assert build_augmentation(AugmentConfig(enabled=False), flip=True) is None


def test_auto_flip_spares_only_the_captions_that_name_a_side(tmp_path, caplog):
    """hflip "auto" drops the flip per caption: COCO keeps flipping the many captions that say
    neither left nor right; a caption that says one is never flipped."""
    caplog.set_level("INFO", logger="training.batches")
    captions = ["a dog on the left of a cat", "a dog and a cat", "A man turns RIGHT", "bright lights"]
    augment = AugmentConfig(hflip_p=1.0, brightness_contrast_p=0, color_jitter_p=0, shift_scale_rotate_p=0,
                            hue_saturation_p=0)
    assert flip_enabled(augment, captions)
    assert "except for the 2 training captions that mention left or right" in caplog.text
    flipped, _ = _dataset(tmp_path, captions, build_augmentation(augment, flip=True))
    plain, _ = _dataset(tmp_path, captions)
    assert torch.equal(flipped[0][0], plain[0][0]) and torch.equal(flipped[2][0], plain[2][0])
    assert torch.equal(flipped[1][0], plain[1][0].flip(-1)) and torch.equal(flipped[3][0], plain[3][0].flip(-1))
    on, _ = _dataset(tmp_path, captions, build_augmentation(replace(augment, hflip="on"), True))
    assert all(torch.equal(on[i][0], plain[i][0].flip(-1)) for i in range(4))


def test_unique_images_groups_references_by_image(tmp_path):
    records = [CaptionRecord(tmp_path / "a.png", "one"), CaptionRecord(tmp_path / "b.png", "two"),
               CaptionRecord(tmp_path / "a.png", "three")]
    firsts, references = unique_images(records)
    assert [r.caption for r in firsts] == ["one", "two"]
    assert references == {str(tmp_path / "a.png"): ["one", "three"], str(tmp_path / "b.png"): ["two"]}
