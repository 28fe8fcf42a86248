"""Tiny random Florence-2, BLIP and GIT checkpoints, as save_pretrained writes them, with
tokenizers trained here: no downloads, about a second for all three."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers
from PIL import Image
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

TEXTS = [
    "a large red circle to the left of a small blue square",
    "a small green triangle above a large yellow circle",
    "a dog runs on the beach with a ball",
    "two people riding bikes down a street",
    "a plate of food with broccoli and rice",
    "a photograph of a cat sitting on a sofa",
    "What does the image describe?",
    "Describe in detail what is shown in the image.",
    "Describe with a paragraph what is shown in the image.",
]
PROMPT = "a photograph of"


def _spread(model: torch.nn.Module, seed: int, std: float = 0.1) -> None:
    """Redraw every matrix with `std`, zero the biases and reset the norms, so that greedy decoding
    wanders through the vocabulary and each picture gets its own caption (with the default
    initialisation every row repeats one token)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            for name, p in module.named_parameters(recurse=False):
                if isinstance(module, torch.nn.LayerNorm):
                    p.fill_(1.0 if name == "weight" else 0.0)
                elif p.dim() >= 2:
                    p.normal_(0.0, std)
                else:
                    p.zero_()


def bart_tokenizer() -> transformers.PreTrainedTokenizerFast:
    """A byte-level BPE like Florence-2's (BART's), with its image token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(TEXTS * 4, trainer)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return transformers.BartTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
        mask_token="<mask>", extra_special_tokens={"image_token": "<image>"},
    )


def bert_tokenizer() -> transformers.PreTrainedTokenizerFast:
    """A WordPiece tokenizer like BLIP's and GIT's (BERT's)."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(TEXTS * 4, trainers.WordPieceTrainer(vocab_size=200, special_tokens=specials, show_progress=False))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    return transformers.BertTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]", cls_token="[CLS]",
        mask_token="[MASK]",
    )


def florence2(seed: int = 0):
    tokenizer = bart_tokenizer()
    vision = transformers.Florence2VisionConfig(
        depths=[1, 1, 1, 1], embed_dim=[8, 16, 16, 32], num_heads=[1, 1, 2, 2], num_groups=[1, 1, 2, 2],
        window_size=2, projection_dim=32, max_position_embeddings=8, max_temporal_embeddings=4, drop_path_rate=0.0,
    )
    text = transformers.BartConfig(
        vocab_size=len(tokenizer), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
        bos_token_id=0, pad_token_id=1, eos_token_id=2, decoder_start_token_id=2, forced_eos_token_id=2,
        tie_word_embeddings=False,
    )
    config = transformers.Florence2Config(
        vision_config=vision, text_config=text, image_token_id=tokenizer.image_token_id, tie_word_embeddings=False
    )
    model = transformers.Florence2ForConditionalGeneration(config).eval()
    _spread(model, seed)
    with torch.no_grad():  # words rather than single bytes: no control characters in captions
        model.lm_head.weight[5:261] = 0.0
    image_processor = transformers.CLIPImageProcessor(
        size={"height": 64, "width": 64}, crop_size={"height": 64, "width": 64}, do_center_crop=False,
        image_seq_length=5,  # (64 / 32) ** 2 spatial tokens + 1 pooled
    )
    return model, transformers.Florence2Processor(image_processor=image_processor, tokenizer=tokenizer)


def blip(seed: int = 0):
    tokenizer = bert_tokenizer()
    vision = transformers.BlipVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32, patch_size=8
    )
    text = transformers.BlipTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        encoder_hidden_size=32, max_position_embeddings=64, bos_token_id=2, sep_token_id=3, pad_token_id=0,
        eos_token_id=3, tie_word_embeddings=False,
    )
    config = transformers.BlipConfig(vision_config=vision.to_dict(), text_config=text.to_dict(), tie_word_embeddings=False)
    model = transformers.BlipForConditionalGeneration(config).eval()
    _spread(model, seed)
    image_processor = transformers.BlipImageProcessor(size={"height": 32, "width": 32})
    return model, transformers.BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)


def git(seed: int = 0):
    tokenizer = bert_tokenizer()
    config = transformers.GitConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=64, bos_token_id=2, eos_token_id=3, pad_token_id=0, tie_word_embeddings=False,
    )
    model = transformers.GitForCausalLM(config).eval()
    _spread(model, seed)
    image_processor = transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return model, transformers.GitProcessor(image_processor=image_processor, tokenizer=tokenizer)


BUILDERS = {"florence2": florence2, "blip": blip, "git": git}


def save_checkpoint(family: str, folder: Path, seed: int = 0):
    """Build a tiny `family` model and save it as save_pretrained does (safetensors); returns the
    model and processor."""
    model, processor = BUILDERS[family](seed)
    model.save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return model, processor


def pictures() -> list[Image.Image]:
    """Pictures different enough for a tiny model to caption differently."""
    import numpy as np

    noise = Image.fromarray((np.random.default_rng(1).random((50, 70, 3)) * 255).astype("uint8"))
    stripes = Image.fromarray(np.tile(np.array([[0], [255]], dtype="uint8"), (20, 60))).convert("RGB")
    return [Image.new("RGB", (40, 30), (255, 0, 0)), noise, Image.new("RGB", (30, 40), (0, 0, 255)), stripes,
            Image.new("RGB", (64, 64), (20, 200, 40))]
