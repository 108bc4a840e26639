"""Choosing among a phrase's translations by how common each one is in the target language.

MUSE and JMdict list rare and off-sense translations next to the usual one ("in" → イン,
"December" → 師走); picking uniformly uses them as often as the good one. Word frequencies
from `wordfreq` (offline data in its wheel) weight the choice, and translations far rarer
than the best one of the same phrase are dropped. `--senses uniform` keeps the old choice.

wordfreq's own lookup needs MeCab for Japanese; whole words are looked up in its frequency
table instead, and words it does not list are split by the project's tokenizer (fugashi,
jieba) and combined as wordfreq does (1/f = Σ 1/f_i).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

from ..tokenizers import word_tokenize
from .dictionary import Dictionary, Translation
from .script import to_simplified

log = logging.getLogger(__name__)
SENSE_MODES = ("freq", "uniform")
FLOOR = 1e-9  # frequency of a word wordfreq does not know


@dataclass(frozen=True)
class SenseConfig:
    mode: str = "freq"  # freq: weight by target frequency and drop rare senses; uniform: all kept, alike
    min_ratio: float = 0.05  # drop translations rarer than min_ratio × the phrase's most frequent one
    # A very frequent source word (Zipf >= common_zipf: "in", "he", "after") is a function word;
    # a translation more than max_zipf_gap below it is a wrong sense even when it is the only one
    # (in → イン, he → 夫, his → 奥, after → アフター): it is dropped, and the word left unswitched.
    common_zipf: float = 5.0
    max_zipf_gap: float = 2.0

    def __post_init__(self) -> None:
        if self.mode not in SENSE_MODES:
            raise ValueError(f"unknown senses mode {self.mode!r} (expected freq or uniform)")
        if not 0.0 <= self.min_ratio <= 1.0:
            raise ValueError(f"--sense-min-ratio must be in [0, 1], got {self.min_ratio}")


@lru_cache(maxsize=8)
def frequency_table(lang: str) -> dict[str, float]:
    """wordfreq's word → frequency table for `lang`, or {} when wordfreq or the language is missing."""
    try:
        import wordfreq
    except ImportError:
        log.warning("wordfreq is not installed: translations are chosen uniformly (pip install wordfreq)")
        return {}
    if lang not in wordfreq.available_languages():
        return {}
    return wordfreq.get_frequency_dict(lang)


@lru_cache(maxsize=1_000_000)
def word_frequency(text: str, lang: str) -> float:
    """Frequency of `text` in `lang` (0 when wordfreq has no table for the language)."""
    table = frequency_table(lang)
    if not table:
        return 0.0
    probe = text.lower()
    if lang == "zh":
        try:  # wordfreq's Chinese table is Simplified
            probe = to_simplified(probe)
        except ImportError:
            pass
    if probe in table:
        return table[probe]
    parts = [p.lower() for p in word_tokenize(text, lang) if any(c.isalnum() for c in p)]
    if lang == "zh":
        parts = [to_simplified(p) for p in parts]
    if not parts or len(parts) == 1 and parts[0] == probe:
        return FLOOR
    return 1.0 / sum(1.0 / table.get(p, FLOOR) for p in parts)


def weigh_dictionary(d: Dictionary, cfg: SenseConfig, prior: dict[str, float] | None = None) -> dict[str, int]:
    """Set each translation's weight to its target frequency and drop the far rarer ones (in place).

    Returns counts for the manifest. Phrases with one translation are untouched but weighed,
    so a later uniform choice and a weighted one draw the same for them. `prior` (lowercased
    translation -> factor) scales a translation's weight before the comparison (`fanout_prior`).
    """
    dropped = weighed = 0
    if cfg.mode == "uniform" or not frequency_table(d.tgt_lang):
        return {"weighed": 0, "dropped": 0}  # every translation kept, chosen uniformly (as before senses)
    src_table = frequency_table(d.src_lang)
    freq: dict[str, float] = {}
    for words in list(d.entries):
        options = d.entries[words]
        for t in options:
            if t.text not in freq:
                freq[t.text] = word_frequency(t.text, d.tgt_lang)
        src_f = src_table.get(words[0], 0.0) if len(words) == 1 else 0.0
        floor = 0.0
        if src_f and math.log10(src_f) + 9 >= cfg.common_zipf:
            floor = src_f / 10 ** cfg.max_zipf_gap
        if len(options) < 2 and not floor:
            continue
        weight = {t.text: freq[t.text] * prior.get(t.text.lower(), 1.0) for t in options} if prior else freq
        best = max(weight[t.text] for t in options)
        kept: list[Translation] = []
        for t in options:
            f = weight[t.text]
            if (best > FLOOR and f < best * cfg.min_ratio) or freq[t.text] < floor:
                dropped += 1
                continue
            kept.append(Translation(t.text, t.origin, max(f, FLOOR) if cfg.mode == "freq" else 1.0))
            weighed += 1
        if kept:
            d.entries[words] = kept
        else:
            del d.entries[words]
    return {"weighed": weighed, "dropped": dropped}


def fanout_prior(d: Dictionary) -> dict[str, float]:
    """1 / the number of source phrases each translation serves (lowercased), for a dictionary
    read backwards: with p(x | e) uniform over the words e translates, p(e | x) ∝ p(x | e) p(e),
    so "Polen" is Poland (which means only Polen) more often than poles (Polen, Pole, Stangen)."""
    n: dict[str, int] = {}
    for options in d.entries.values():
        for t in options:
            k = t.text.lower()
            n[k] = n.get(k, 0) + 1
    return {k: 1.0 / v for k, v in n.items()}


def choose(options: list, rng) -> object:
    """Uniform choice when all weights are equal (same draws as before weights existed), else weighted."""
    if len(options) == 1:
        return options[0]
    w0 = options[0].weight
    if all(o.weight == w0 for o in options):
        return rng.choice(options)
    total = sum(o.weight for o in options)
    r = rng.random() * total
    for o in options:
        r -= o.weight
        if r < 0:
            return o
    return options[-1]
