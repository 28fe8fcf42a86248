"""Caption metrics: parity with pycocoevalcap's scorers, known values, exact match, METEOR."""

from __future__ import annotations

import random
import shutil

import pytest

from training import metrics
from training.metrics import bleu, cider_d, compute_metrics, normalize_for_match, rouge_l, tokenize

WORDS = ["a", "the", "red", "blue", "man", "dog", "on", "of", "with", "two", "in", "grass"]
HAND_MADE = [
    # (hypotheses, references per image)
    (["a dog on the grass"], [["a dog on the grass", "a brown dog lies on grass"]]),
    (
        ["a man riding a horse", "two cats", "a red bus on a street"],
        [
            ["a man rides a horse on a beach", "a person on a horse"],
            ["two cats sleeping on a sofa", "cats on a couch", "two kittens"],
            ["a red double decker bus", "a bus driving down a city street"],
        ],
    ),
    # hypotheses shorter than 4 tokens: BLEU-4 rests on pycocoevalcap's smoothing constants
    (["a dog", "cat"], [["a dog running"], ["a cat", "the cat sat"]]),
    # an empty hypothesis and repeated words (clipped counts)
    (["", "the the the the"], [["a man"], ["the cat on the mat", "a cat"]]),
]


def _random_set(rng: random.Random) -> tuple[list[str], list[list[str]]]:
    n = rng.randint(1, 8)
    hypotheses = [" ".join(rng.choices(WORDS, k=rng.randint(0, 10))) for _ in range(n)]
    references = [
        [" ".join(rng.choices(WORDS, k=rng.randint(1, 12))) for _ in range(rng.randint(1, 5))]
        for _ in range(n)
    ]
    return hypotheses, references


CASES = HAND_MADE + [_random_set(random.Random(seed)) for seed in range(30)]


@pytest.mark.parametrize(("hypotheses", "references"), CASES)
def test_parity_with_pycocoevalcap(hypotheses, references):
    Bleu = pytest.importorskip("pycocoevalcap.bleu.bleu").Bleu
    Rouge = pytest.importorskip("pycocoevalcap.rouge.rouge").Rouge
    Cider = pytest.importorskip("pycocoevalcap.cider.cider").Cider
    # pycocoevalcap scores pre-tokenised strings; give it exactly our tokens.
    hyp_tokens = [tokenize(h) for h in hypotheses]
    ref_tokens = [[tokenize(r) for r in refs] for refs in references]
    res = {i: [" ".join(tokens)] for i, tokens in enumerate(hyp_tokens)}
    gts = {i: [" ".join(tokens) for tokens in refs] for i, refs in enumerate(ref_tokens)}

    expected_bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    expected_rouge, _ = Rouge().compute_score(gts, res)
    expected_cider, _ = Cider().compute_score(gts, res)

    assert bleu(hyp_tokens, ref_tokens) == pytest.approx(expected_bleu, abs=1e-6)
    assert rouge_l(hyp_tokens, ref_tokens) == pytest.approx(float(expected_rouge), abs=1e-6)
    assert cider_d(hyp_tokens, ref_tokens) == pytest.approx(float(expected_cider), abs=1e-6)


def test_tokenize_lowercases_and_strips_punctuation():
    assert tokenize("A Man's hat, on  the T-shirt!\n") == [
        "a",
        "mans",
        "hat",
        "on",
        "the",
        "t",
        "shirt",
    ]
    assert normalize_for_match("  Two DOGS... running. ") == "two dogs running"


def test_perfect_predictions():
    references = {
        "a": ["a large red circle", "a big red circle"],
        "b": ["a small blue square above a large green triangle"],
        "c": ["two dogs play on the grass in a park"],
    }
    predictions = {key: refs[0] for key, refs in references.items()}
    scores = compute_metrics(predictions, references, meteor=False)
    for k in range(1, 5):
        assert scores[f"bleu{k}"] == pytest.approx(1.0, abs=1e-6)
    assert scores["rouge_l"] == pytest.approx(1.0)
    assert scores["cider"] > 1.0
    assert scores["exact_match"] == 1.0
    assert set(scores) == {"bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider", "exact_match"}


def test_wrong_predictions_score_low():
    references = {1: ["a large red circle"], 2: ["a small blue square"]}
    scores = compute_metrics({1: "two dogs", 2: "on grass"}, references, meteor=False)
    assert scores["bleu1"] < 1e-6
    assert scores["rouge_l"] == 0.0
    assert scores["cider"] == 0.0
    assert scores["exact_match"] == 0.0


def test_exact_match_ignores_case_punctuation_and_spacing():
    references = {
        1: ["A large red circle.", "a red ball"],
        2: ["a small blue square"],
        3: ["a dog"],
        4: ["a cat"],
    }
    predictions = {1: "a  LARGE red circle", 2: "A small, blue square!", 3: "a dog running", 4: ""}
    assert compute_metrics(predictions, references, meteor=False)["exact_match"] == 0.5


def test_extra_reference_keys_are_ignored():
    references = {1: ["a red circle"], 2: ["a blue square"], 3: ["a green triangle"]}
    with_extra = compute_metrics({1: "a red circle", 2: "a blue circle"}, references, meteor=False)
    without = compute_metrics(
        {1: "a red circle", 2: "a blue circle"}, {k: references[k] for k in (1, 2)}, meteor=False
    )
    assert with_extra == without


def test_bad_inputs_raise_value_error():
    with pytest.raises(ValueError, match="no predictions"):
        compute_metrics({}, {1: ["a"]}, meteor=False)
    with pytest.raises(ValueError, match="have no references"):
        compute_metrics({1: "a dog", 2: "a cat"}, {1: ["a dog"]}, meteor=False)
    with pytest.raises(ValueError, match="no non-empty reference"):
        compute_metrics({1: "a dog"}, {1: ["", "..."]}, meteor=False)


def test_meteor_is_omitted_without_java(monkeypatch):
    monkeypatch.setattr(metrics.shutil, "which", lambda name: None)
    scores = compute_metrics({1: "a dog"}, {1: ["a dog"]})
    assert "meteor" not in scores


def test_meteor_failure_is_omitted_not_raised(monkeypatch):
    meteor_module = pytest.importorskip("pycocoevalcap.meteor.meteor")

    class BrokenMeteor:
        def __init__(self):
            raise OSError("java exploded")

    monkeypatch.setattr(metrics.shutil, "which", lambda name: "/usr/bin/java")
    monkeypatch.setattr(meteor_module, "Meteor", BrokenMeteor)
    scores = compute_metrics({1: "a dog"}, {1: ["a dog"]})
    assert "meteor" not in scores
    assert scores["exact_match"] == 1.0


@pytest.mark.slow  # starts a JVM: about 6 s
@pytest.mark.skipif(shutil.which("java") is None, reason="METEOR needs java on PATH")
def test_meteor_with_java():
    pytest.importorskip("pycocoevalcap")
    scores = compute_metrics(
        {1: "a large red circle", 2: "a dog"}, {1: ["a large red circle"], 2: ["a cat on a mat"]}
    )
    assert 0.0 < scores["meteor"] < 1.0
