"""Caption metrics: BLEU-1..4, ROUGE-L, CIDEr-D, exact match, and METEOR when Java is present.

BLEU, ROUGE-L and CIDEr-D are pure-Python reimplementations of pycocoevalcap's `Bleu`, `Rouge`
and `Cider` and agree with them to 1e-6 on the same tokens (tests/training/test_metrics.py);
the quirks that agreement needs are kept on purpose and commented. Tokenisation is ours
(lowercase, punctuation removed), not Java's PTBTokenizer, so scores are close to but not equal
to published COCO numbers. METEOR runs pycocoevalcap's Java jar, so it is reported only where
`java` is on PATH and pycocoevalcap is importable.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import re
import shutil
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

logger = logging.getLogger(__name__)

NGRAMS = 4
ROUGE_BETA = 1.2  # pycocoevalcap's weight of recall over precision
CIDER_SIGMA = 6.0  # std of CIDEr-D's Gaussian length penalty, in tokens

# Apostrophes are dropped ("man's" -> "mans"); any other punctuation separates words.
_APOSTROPHES = re.compile(r"['\u2019]")
_PUNCTUATION = re.compile(r"[^\w\s]|_")

Tokens = list[str]


def tokenize(text: str) -> Tokens:
    """Lowercase, drop apostrophes, turn other punctuation into spaces, split on whitespace."""
    return _PUNCTUATION.sub(" ", _APOSTROPHES.sub("", text.lower())).split()


def normalize_for_match(text: str) -> str:
    """The form compared by exact match: tokens joined by single spaces."""
    return " ".join(tokenize(text))


def _ngrams(tokens: Tokens, n: int = NGRAMS) -> Counter[tuple[str, ...]]:
    """Counts of every 1..n-gram."""
    return Counter(
        tuple(tokens[i : i + k]) for k in range(1, n + 1) for i in range(len(tokens) - k + 1)
    )


# --- BLEU ---


def bleu(hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> list[float]:
    """Corpus BLEU-1..4 as pycocoevalcap's Bleu: clipped n-gram counts summed over the corpus,
    brevity penalty from the sum of each hypothesis's closest reference length."""
    # pycocoevalcap's smoothing constants: BLEU-n is not 0 when no hypothesis has n tokens
    # (1e-15 / 1e-9 = 1e-6 becomes that precision), and we must agree with it there too.
    tiny, small = 1e-15, 1e-9
    correct = [0] * NGRAMS
    guess = [0] * NGRAMS
    hyp_len = ref_len = 0
    for hyp, refs in zip(hypotheses, references, strict=True):
        max_ref_counts: Counter[tuple[str, ...]] = Counter()
        for ref in refs:
            max_ref_counts |= _ngrams(ref)  # | keeps the larger count of each n-gram
        for ngram, count in _ngrams(hyp).items():
            correct[len(ngram) - 1] += min(count, max_ref_counts[ngram])
        for k in range(NGRAMS):
            guess[k] += max(0, len(hyp) - k)
        hyp_len += len(hyp)
        # The closest reference length; a tie goes to the shorter reference.
        ref_len += min((abs(len(ref) - len(hyp)), len(ref)) for ref in refs)[1]

    ratio = (hyp_len + tiny) / (ref_len + small)
    brevity = math.exp(1 - 1 / ratio) if ratio < 1 else 1.0
    scores = []
    product = 1.0
    for k in range(NGRAMS):
        product *= (correct[k] + tiny) / (guess[k] + small)
        scores.append(product ** (1 / (k + 1)) * brevity)
    return scores


# --- ROUGE-L ---


def _lcs(a: Tokens, b: Tokens) -> int:
    """Length of the longest common subsequence, one DP row at a time."""
    previous = [0] * (len(b) + 1)
    for token in a:
        current = [0]
        for j, other in enumerate(b):
            current.append(previous[j] + 1 if token == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> float:
    """Mean over images of pycocoevalcap's ROUGE-L: an F-measure (beta 1.2) of the best
    precision and the best recall over the references (maxima taken separately)."""
    total = 0.0
    for hyp, refs in zip(hypotheses, references, strict=True):
        lcs = [_lcs(ref, hyp) for ref in refs]
        precision = max(lcs) / len(hyp) if hyp else 0.0
        recall = max(n / len(ref) for n, ref in zip(lcs, refs, strict=True))
        if precision and recall:
            beta2 = ROUGE_BETA**2
            total += (1 + beta2) * precision * recall / (recall + beta2 * precision)
    return total / len(hypotheses)


# --- CIDEr-D ---


def cider_d(hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> float:
    """pycocoevalcap's Cider (CIDEr-D): TF-IDF n-gram vectors with document frequencies from
    the references of this set, clipped cosine similarity per n, a Gaussian length penalty,
    averaged over n and references, times 10; then the mean over images."""
    ref_counts = [[_ngrams(ref) for ref in refs] for refs in references]
    document_frequency: Counter[tuple[str, ...]] = Counter()
    for counts in ref_counts:
        document_frequency.update(set().union(*counts))  # once per image, not per reference
    log_images = math.log(len(references))

    def vectorise(counts: Counter) -> tuple[list[dict], list[float], int]:
        vectors: list[dict] = [{} for _ in range(NGRAMS)]
        for ngram, tf in counts.items():
            idf = log_images - math.log(max(1.0, document_frequency[ngram]))
            vectors[len(ngram) - 1][ngram] = tf * idf
        norms = [math.sqrt(sum(w * w for w in vec.values())) for vec in vectors]
        # pycocoevalcap's "length" counts bigrams, not words (its `n == 1` is 0-based); kept
        # so the length penalty matches. It differs from the word count only for empty captions.
        length = sum(tf for ngram, tf in counts.items() if len(ngram) == 2)
        return vectors, norms, length

    total = 0.0
    for hyp, counts in zip(hypotheses, ref_counts, strict=True):
        hyp_vec, hyp_norm, hyp_len = vectorise(_ngrams(hyp))
        per_n = [0.0] * NGRAMS
        for ref in counts:
            ref_vec, ref_norm, ref_len = vectorise(ref)
            penalty = math.exp(-((hyp_len - ref_len) ** 2) / (2 * CIDER_SIGMA**2))
            for n in range(NGRAMS):
                # Clipped: a hypothesis n-gram counts at most as much as the reference has it.
                dot = sum(
                    min(w, ref_vec[n].get(g, 0.0)) * ref_vec[n].get(g, 0.0)
                    for g, w in hyp_vec[n].items()
                )
                if hyp_norm[n] and ref_norm[n]:
                    dot /= hyp_norm[n] * ref_norm[n]
                per_n[n] += dot * penalty
        total += sum(per_n) / NGRAMS / len(counts) * 10.0
    return total / len(hypotheses)


# --- METEOR (optional, Java) ---


def meteor_available() -> bool:
    """True when `java` is on PATH and pycocoevalcap is importable."""
    return (
        shutil.which("java") is not None and importlib.util.find_spec("pycocoevalcap") is not None
    )


def _meteor(hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]]) -> float | None:
    """pycocoevalcap's METEOR 1.5, or None (logged) if its Java process fails in any way."""
    from pycocoevalcap.meteor.meteor import Meteor

    res = {i: [" ".join(hyp)] for i, hyp in enumerate(hypotheses)}
    gts = {i: [" ".join(ref) for ref in refs] for i, refs in enumerate(references)}
    scorer = None
    try:
        scorer = Meteor()  # starts a JVM, which takes seconds, before any caption is scored
        score, _ = scorer.compute_score(gts, res)
        return float(score)
    except Exception as exc:  # the contract is to omit METEOR, never to fail the evaluation
        logger.warning("METEOR skipped: %s: %s", type(exc).__name__, exc)
        return None
    finally:
        if scorer is not None and scorer.lock.locked():
            # A failed compute_score leaves its lock held, and Meteor.__del__ waits on it.
            scorer.lock.release()
        del scorer  # its __del__ ends the Java process now, not at interpreter exit


# --- the entry point ---


def compute_metrics(
    predictions: Mapping[Hashable, str],
    references: Mapping[Hashable, Sequence[str]],
    *,
    meteor: bool = True,
) -> dict[str, float]:
    """Score one caption per key against that key's references.

    Returns bleu1..bleu4, rouge_l, cider (CIDEr-D) and exact_match (the share of predictions
    equal to any reference after `normalize_for_match`), all in [0, 1] except cider (0..10),
    plus meteor when `meteor` is True and `meteor_available()` and the Java run succeeds.
    Keys of `references` that are not predicted are ignored; they do not enter CIDEr's
    document frequencies. References that are empty after tokenisation are dropped.
    Raises ValueError for no predictions, or a predicted key with no non-empty reference.
    """
    if not predictions:
        raise ValueError("no predictions to score")
    missing = [key for key in predictions if key not in references]
    if missing:
        raise ValueError(f"{len(missing)} predicted keys have no references, e.g. {missing[:5]}")
    keys = list(predictions)
    hypotheses = [tokenize(predictions[key]) for key in keys]
    refs = []
    for key in keys:
        tokens = [t for t in (tokenize(ref) for ref in references[key]) if t]
        if not tokens:
            raise ValueError(f"key {key!r} has no non-empty reference")
        refs.append(tokens)

    results = {f"bleu{k + 1}": score for k, score in enumerate(bleu(hypotheses, refs))}
    results["rouge_l"] = rouge_l(hypotheses, refs)
    results["cider"] = cider_d(hypotheses, refs)
    matches = sum(hyp in ref for hyp, ref in zip(hypotheses, refs, strict=True))
    results["exact_match"] = matches / len(keys)
    if meteor and meteor_available():
        score = _meteor(hypotheses, refs)
        if score is not None:
            results["meteor"] = score
    return results
