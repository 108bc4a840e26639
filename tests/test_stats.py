"""pipelines.stats: mean ± sd and the paired bootstrap, against hand computations on toy cases."""

from __future__ import annotations

import numpy as np
import pytest

from ner.inference.evaluate import entity_scores, sentence_counts
from pipelines.stats import average_f1, f1_from_counts, mean_sd, paired_bootstrap


def test_mean_sd_is_the_sample_standard_deviation() -> None:
    assert mean_sd([0.5, 0.7, 0.6]) == pytest.approx((0.6, 0.1))
    assert mean_sd([0.4]) == (0.4, 0.0)


def test_sentence_counts_reproduce_seqeval_micro_f1() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG"], ["O"], ["B-LOC", "I-LOC"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "B-ORG"], ["B-PER"], ["B-LOC", "O"]]
    counts = np.asarray(sentence_counts(gold, pred))
    assert counts.tolist() == [[1, 2, 2], [1, 1, 1], [0, 1, 0], [0, 1, 1]]
    assert f1_from_counts(counts.sum(0)) == pytest.approx(entity_scores(gold, pred)["f1"])


def test_paired_bootstrap_matches_the_enumerated_distribution() -> None:
    # One language, two sentences. Row a finds both entities; row b misses the first.
    # Resamples (each of 4 orderings equally likely): {1,1} -> a 1, b 0 (diff 1, p=1/4);
    # {1,2} -> a 1, b 2*1/(1+2) = 2/3 (diff 1/3, p=1/2); {2,2} -> both 1 (diff 0, p=1/4).
    # So the 95% percentile interval is [0, 1], and the observed difference is 1/3.
    a = {13: {"xx": np.array([[1, 1, 1], [1, 1, 1]])}}
    b = {13: {"xx": np.array([[0, 0, 1], [1, 1, 1]])}}
    ci = paired_bootstrap(a, b, ["xx"], samples=4000, seed=1)
    assert ci.diff == pytest.approx(1 / 3)
    assert (ci.low, ci.high) == pytest.approx((0.0, 1.0))
    assert not ci.significant


def test_paired_bootstrap_pools_seeds_and_languages() -> None:
    rng = np.random.default_rng(0)
    gold = rng.integers(1, 3, size=(300, 1))
    better = {s: {lang: np.hstack([gold, gold, gold]) for lang in ("p", "q")} for s in (1, 2)}
    worse = {s: {lang: np.hstack([gold // 2, gold, gold]) for lang in ("p", "q")} for s in (1, 2)}
    ci = paired_bootstrap(better, worse, ["p", "q"], samples=500, seed=3)
    assert ci.diff == pytest.approx(average_f1(better, ["p", "q"]) - average_f1(worse, ["p", "q"]))
    assert ci.significant and ci.low > 0.2
    # identical rows: every resample gives exactly 0
    same = paired_bootstrap(better, better, ["p", "q"], samples=100)
    assert (same.low, same.high, same.significant) == (0.0, 0.0, False)
    with pytest.raises(ValueError, match="different sentence sets"):
        paired_bootstrap(better, {1: {"p": gold.repeat(3, 1)[:10], "q": gold.repeat(3, 1)}}, ["p", "q"])
