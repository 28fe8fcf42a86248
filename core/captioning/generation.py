"""Decoding strategies over one decode step.

A *decoder* (the `Decoder` protocol) turns the newest token of every row into next-token logits
and can drop or reorder rows. `CachedDecoder` is the fast one: the encoder and every layer's
cross-attention keys/values run once per image, self-attention keeps a KV cache and only the
newest position reaches the vocabulary head. `RecomputeDecoder` is the original VisionGPT2 loop
(the whole model over the whole sequence for every token), kept as the reference the fast path
is tested against. Greedy, sampling and beam search are written once, over either decoder.

Rows and images: a decoder holds `num_images` images and `num_rows` token rows; beam search keeps
`num_beams` rows per image (rows of one image are adjacent), the other strategies one.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Protocol

import torch

from core.captioning.generation_settings import STRATEGIES, GenerationSettings
from core.captioning.model import KVCache, VisionGPT2

__all__ = ["STRATEGIES", "CachedDecoder", "Decoder", "GenerationSettings", "RecomputeDecoder", "generate"]


class Decoder(Protocol):
    """What the strategies drive: one decode step over `num_images` images and their token rows."""

    num_images: int  # images still decoded; their rows are adjacent, the same number per image
    device: torch.device  # where the token rows live: the model's

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """The newest token of every row (rows,) -> next-token logits (rows, V) in float32."""
        ...

    def select(self, rows: torch.Tensor, images: torch.Tensor | None = None) -> None:
        """Keep token rows `rows` (in that order) and, if given, images `images`."""
        ...


class CachedDecoder:
    """Encoder once, cross-attention K/V once per image, KV-cached self-attention."""

    def __init__(self, model: VisionGPT2, images: torch.Tensor, max_new_tokens: int):
        self.model = model
        self.cross = model.cross_kv(images)  # per layer: k, v (num_images, nh, S, hs)
        self.cache = KVCache(model.config.gpt_depth, max_len=max_new_tokens)
        self.num_images = images.size(0)
        self.device = model.decoder.wte.weight.device

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        logits = self.model.decoder(tokens[:, None], self.cross, self.cache, last_only=True)
        return logits.float().contiguous()  # row-major for argmax, softmax and top-k

    def select(self, rows: torch.Tensor, images: torch.Tensor | None = None) -> None:
        self.cache.select(rows)
        if images is not None:
            self.cross = [(k.index_select(0, images), v.index_select(0, images)) for k, v in self.cross]
            self.num_images = images.numel()


class RecomputeDecoder:
    """The reference: every step runs the whole model on the images and all tokens so far."""

    def __init__(self, model: VisionGPT2, images: torch.Tensor, max_new_tokens: int):
        self.model = model
        self.images = images
        self.tokens: torch.Tensor | None = None  # (rows, t)
        self.num_images = images.size(0)
        self.device = model.decoder.wte.weight.device

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        new = tokens[:, None]
        self.tokens = new if self.tokens is None else torch.cat((self.tokens, new), dim=1)
        return self.model(self.images, self.tokens)[:, -1].float()

    def select(self, rows: torch.Tensor, images: torch.Tensor | None = None) -> None:
        if self.tokens is not None:
            self.tokens = self.tokens.index_select(0, rows)
        if images is not None:
            self.images = self.images.index_select(0, images)
            self.num_images = images.numel()


def _banned_ngram_tokens(row: list[int], n: int) -> list[int]:
    """Tokens that would repeat an n-gram already in `row`."""
    if len(row) < n - 1 or n < 1:
        return []
    prefix = tuple(row[len(row) - n + 1 :]) if n > 1 else ()
    return [
        row[i + n - 1]
        for i in range(len(row) - n + 1)
        if tuple(row[i : i + n - 1]) == prefix
    ]


def process_logits(
    logits: torch.Tensor,
    generated: torch.Tensor,
    settings: GenerationSettings,
    eos_token_id: int,
) -> torch.Tensor:
    """Rules every strategy obeys, applied to raw logits (rows, V) given the tokens generated
    so far (rows, t), BOS excluded: repetition penalty, no-repeat n-grams, minimum length."""
    step = generated.size(1)
    if settings.repetition_penalty != 1.0 and step:
        seen = logits.gather(1, generated)
        seen = torch.where(seen > 0, seen / settings.repetition_penalty, seen * settings.repetition_penalty)
        logits = logits.scatter(1, generated, seen)
    n = settings.no_repeat_ngram_size
    if n and step >= n - 1:
        logits = logits.clone()
        for r, row in enumerate(generated.tolist()):
            banned = _banned_ngram_tokens(row, n)
            if banned:
                logits[r, banned] = -math.inf
    if step < settings.min_new_tokens:
        logits = logits.clone()
        logits[:, eos_token_id] = -math.inf
    return logits


def _sample(logits: torch.Tensor, settings: GenerationSettings, generator: torch.Generator | None) -> torch.Tensor:
    """Temperature, then top-k, then top-p (nucleus), then a multinomial draw -> (rows,)."""
    logits = logits / settings.temperature
    if settings.top_k and settings.top_k < logits.size(-1):
        kth = logits.topk(settings.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if settings.top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        # drop a token once the tokens before it already cover top_p; the first always stays
        drop = probs.cumsum(dim=-1) - probs >= settings.top_p
        logits = logits.masked_fill(drop.scatter(1, order, drop), -math.inf)
    probs = logits.softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def _greedy_or_sample(
    decoder: Decoder, settings: GenerationSettings, bos: int, eos: int, generator: torch.Generator | None
) -> list[list[int]]:
    n, device = decoder.num_images, decoder.device
    alive = torch.arange(n)  # original row of each decoder row
    generated = torch.empty((n, 0), dtype=torch.long, device=device)
    last = torch.full((n,), bos, dtype=torch.long, device=device)
    results: list[list[int] | None] = [None] * n
    for _ in range(settings.max_new_tokens):
        logits = process_logits(decoder.step(last), generated, settings, eos)
        if settings.strategy == "sample":
            last = _sample(logits, settings, generator)
        else:
            last = logits.argmax(dim=-1)
        generated = torch.cat((generated, last[:, None]), dim=1)
        finished = last == eos
        if finished.any():
            for r in finished.nonzero().flatten().tolist():
                results[alive[r]] = generated[r, :-1].tolist()
            keep = (~finished).nonzero().flatten()
            if keep.numel() == 0:
                break
            decoder.select(keep, keep)  # finished rows stop costing anything
            alive, generated, last = alive[keep.cpu()], generated[keep], last[keep]
    running = dict(zip(alive.tolist(), generated.tolist()))  # rows out of tokens: all they have
    return [tokens if tokens is not None else running[i] for i, tokens in enumerate(results)]


class _Hypotheses:
    """The best `size` finished beams of one image."""

    def __init__(self, size: int, length_penalty: float):
        self.size = size
        self.length_penalty = length_penalty
        self.items: list[tuple[float, list[int]]] = []

    def add(self, tokens: list[int], sum_logprobs: float, length: int) -> None:
        score = sum_logprobs / (max(length, 1) ** self.length_penalty)
        self.items.append((score, tokens))
        if len(self.items) > self.size:
            self.items.remove(min(self.items, key=lambda item: item[0]))

    def is_done(self, best_running: float, length: int, early_stopping: bool) -> bool:
        if len(self.items) < self.size:
            return False
        if early_stopping:
            return True
        worst = min(score for score, _ in self.items)
        return worst >= best_running / (max(length, 1) ** self.length_penalty)

    def best(self) -> list[int]:
        return max(self.items, key=lambda item: item[0])[1]


def _beam_search(decoder: Decoder, settings: GenerationSettings, bos: int, eos: int) -> list[list[int]]:
    n, K, device = decoder.num_images, settings.num_beams, decoder.device
    decoder.select(torch.arange(n, device=device).repeat_interleave(K))
    images = list(range(n))  # original index of each live image
    hyps = [_Hypotheses(K, settings.length_penalty) for _ in range(n)]
    scores = torch.full((n, K), -math.inf, device=device)
    scores[:, 0] = 0.0  # all beams start identical: let only the first expand
    generated = torch.empty((n * K, 0), dtype=torch.long, device=device)
    last = torch.full((n * K,), bos, dtype=torch.long, device=device)
    for step in range(settings.max_new_tokens):
        length = step + 1
        logits = process_logits(decoder.step(last), generated, settings, eos)
        logprobs = logits.log_softmax(dim=-1)  # (live*K, V)
        V = logprobs.size(-1)
        candidates = (scores.view(-1, 1) + logprobs).view(len(images), K * V)
        top = candidates.topk(min(2 * K, K * V), dim=1)  # (live, 2K)
        top_scores, top_ids = top.values.tolist(), top.indices.tolist()
        keep_images, rows, tokens, new_scores = [], [], [], []
        for b, image in enumerate(images):
            chosen = []
            for rank, (score, idx) in enumerate(zip(top_scores[b], top_ids[b])):
                row, token = b * K + idx // V, idx % V
                if token == eos:
                    if rank < K and score > -math.inf:
                        hyps[image].add(generated[row].tolist(), score, length)
                elif score > -math.inf:
                    chosen.append((row, token, score))
                if len(chosen) == K:
                    break
            best_running = max((s for _, _, s in chosen), default=-math.inf)
            if not chosen or hyps[image].is_done(best_running, length, settings.early_stopping):
                continue
            while len(chosen) < K:  # only with a vocabulary smaller than 2K: pad with dead beams
                chosen.append((chosen[0][0], chosen[0][1], -math.inf))
            keep_images.append(b)
            for row, token, score in chosen:
                rows.append(row)
                tokens.append(token)
                new_scores.append(score)
        if not keep_images:
            images = []
            break
        rows_t = torch.tensor(rows, device=device)
        decoder.select(rows_t, torch.tensor(keep_images, device=device) if len(keep_images) < len(images) else None)
        images = [images[b] for b in keep_images]
        last = torch.tensor(tokens, device=device)
        generated = torch.cat((generated.index_select(0, rows_t), last[:, None]), dim=1)
        scores = torch.tensor(new_scores, device=device).view(len(images), K)
    # out of tokens: running beams count as hypotheses
    for b, image in enumerate(images):
        for k in range(K):
            score = scores[b, k].item()
            if score > -math.inf:
                hyps[image].add(generated[b * K + k].tolist(), score, generated.size(1))
    return [h.best() if h.items else [] for h in hyps]


@torch.no_grad()
def generate(
    model: VisionGPT2,
    images: torch.Tensor,
    settings: GenerationSettings | None = None,
    cached: bool = True,
) -> list[list[int]]:
    """Caption a batch of preprocessed images (B, 3, H, W) with `model` (in eval mode).

    Returns, per image, the generated token ids without BOS and without the final EOS.
    `cached=False` runs the reference recompute loop instead of the fast cached one; both
    produce the same tokens.
    """
    settings = settings or GenerationSettings()
    cfg = model.config
    max_new_tokens = min(settings.max_new_tokens, cfg.context_length)
    settings = dataclasses.replace(settings, max_new_tokens=max_new_tokens,
                                   min_new_tokens=min(settings.min_new_tokens, max_new_tokens))
    decoder_cls = CachedDecoder if cached else RecomputeDecoder
    decoder: Decoder = decoder_cls(model, images, settings.max_new_tokens)
    if settings.strategy == "beam":
        return _beam_search(decoder, settings, cfg.bos_token_id, cfg.eos_token_id)
    generator = None
    if settings.strategy == "sample" and settings.seed is not None:
        generator = torch.Generator(device=images.device).manual_seed(settings.seed)
    return _greedy_or_sample(decoder, settings, cfg.bos_token_id, cfg.eos_token_id, generator)
