"""Uncertainty of a comparison: mean ± sd over seeds and paired bootstrap intervals over sentences.

Why a paired bootstrap: two rows are scored on the *same* evaluation sentences, so most of the
sampling noise of a small dev set is shared; resampling sentences once and scoring both rows on
that resample (Koehn 2004; Berg-Kirkpatrick et al. 2012) measures the noise of the *difference*,
which is much smaller than the noise of either score. Seeds are pooled: every resample scores each
row as the mean over its seeds, so the interval covers training noise the way the reported means do.

Entity-level micro F1 is not a mean over sentences, so a resample is scored from summed counts:
per sentence (true positives, predicted entities, gold entities), F1 = 2 TP / (pred + gold).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: counts[seed][lang] = array [n_sentences, 3] of (tp, n_pred, n_gold)
Counts = Mapping[int, Mapping[str, np.ndarray]]


def f1_from_counts(sums: np.ndarray) -> np.ndarray:
    """Micro F1 from summed (tp, pred, gold) on the last axis; 0 where there is nothing at all."""
    tp, pred, gold = sums[..., 0], sums[..., 1], sums[..., 2]
    denom = pred + gold
    return np.where(denom > 0, 2.0 * tp / np.maximum(denom, 1), 0.0)


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


@dataclass
class Interval:
    diff: float  # observed difference of the seed-mean average F1 (row a - row b)
    low: float
    high: float
    samples: int

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, float | int | bool]:
        return {"diff": self.diff, "ci_low": self.low, "ci_high": self.high, "significant": self.significant,
                "bootstrap_samples": self.samples}


def _check(a: Counts, b: Counts, langs: Sequence[str]) -> None:
    for counts in (a, b):
        for seed, per_lang in counts.items():
            for lang in langs:
                if lang not in per_lang:
                    raise ValueError(f"seed {seed}: no counts for {lang}")
    for lang in langs:
        sizes = {len(c[lang]) for counts in (a, b) for c in counts.values()}
        if len(sizes) != 1:
            raise ValueError(f"{lang}: rows or seeds were scored on different sentence sets ({sorted(sizes)})")


def average_f1(counts: Counts, langs: Sequence[str]) -> float:
    """Mean over seeds of the mean over languages of micro F1: the number the report shows."""
    return float(np.mean([np.mean([f1_from_counts(c[lang].sum(0)) for lang in langs]) for c in counts.values()]))


def paired_bootstrap(a: Counts, b: Counts, langs: Sequence[str], samples: int = 1000, seed: int = 0,
                     level: float = 0.95) -> Interval:
    """Percentile interval of avg-F1(a) - avg-F1(b) under resampling of evaluation sentences.

    Sentences are resampled within each language (languages keep their sizes), and the same
    resample is applied to both rows and to every seed of each row.
    """
    _check(a, b, langs)
    rng = np.random.default_rng(seed)
    stacks = {lang: (np.stack([c[lang] for c in a.values()]).astype(float),
                     np.stack([c[lang] for c in b.values()]).astype(float)) for lang in langs}
    diffs = np.zeros(samples)
    for lang in langs:
        ca, cb = stacks[lang]
        n = ca.shape[1]
        # weights[s, i] = how often sentence i is drawn in resample s (a multinomial draw of n)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=samples).astype(float)
        fa = f1_from_counts(np.einsum("bn,knc->bkc", weights, ca)).mean(1)  # mean over seeds
        fb = f1_from_counts(np.einsum("bn,knc->bkc", weights, cb)).mean(1)
        diffs += (fa - fb) / len(langs)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return Interval(average_f1(a, langs) - average_f1(b, langs), float(low), float(high), samples)
