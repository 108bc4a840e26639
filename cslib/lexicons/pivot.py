"""A dictionary between two languages that are not English, composed through English.

MUSE pairs every language with English only. For X→Y (German labels, Spanish target) each X
phrase is translated into English (MUSE en-X inverted: the first leg), and each English
translation into Y (MUSE en-Y: the second leg). Within a leg, a phrase's translations carry
weights (target frequency, `senses`); normalised to probabilities, the composed chance of a
Y word is the sum over English words e of p(e | x) · p(y | e).

An English pivot whose translations are several different words is an ambiguous word ("mine":
mío, mina; "appeal": apelación, atractivo, recurso), and only one sense of it is x's: composing
through it spreads x's probability over unrelated words. Such a pivot (more than
`MAX_SENSES` different words among its translations, inflections aside: `senses`) is left out
when x has another pivot; composed translations far rarer than x's best (below `MIN_RATIO` of
it) are dropped, and at most `MAX_TARGETS` kept (without the cap a German word reaches up to
20 Spanish ones). Measured on MUSE de→en→es: the rule drops 238 pivots and changes the
translations of 207 of 24,830 German words; of 15 of them checked by hand, 5 got better
(Bergwerk: mío, mía → minas; ihrer: no tu), 3 worse (Verzögerung, Ärger, Schalen), 7 alike.
Of 30 German words drawn at random, 24 have fitting Spanish translations first; the misses are
English words of two parts of speech (Töne → suena through "sounds", träumt → sueños through
"dreams"), an English sense the German lacks (Staffeln → estaciones, "seasons") and slips of
MUSE de-en itself (schaltete → corrió through "ran").
"""

from __future__ import annotations

from collections import Counter

from .dictionary import Dictionary, Translation

MAX_SENSES = 3
MIN_RATIO = 0.05
MAX_TARGETS = 4


def senses(options: list[Translation]) -> int:
    """How many different words a pivot's translations are, inflections aside: their distinct
    4-letter beginnings (hermoso/hermosa/hermosos are one; apelación/atractivo/recurso three)."""
    return len({t.text.lower()[:4] for t in options})


def compose(first: Dictionary, second: Dictionary, *, max_senses: int = MAX_SENSES, min_ratio: float = MIN_RATIO,
            max_targets: int = MAX_TARGETS) -> tuple[Dictionary, dict[str, int]]:
    """`first` (X→en) then `second` (en→Y) as one X→Y dictionary, and counts for the manifest.

    A composed translation's origin is `A>B` (its likeliest path: A the first leg's source, B
    the second's); its weight is its probability given the X phrase.
    """
    if first.tgt_lang != second.src_lang:
        raise ValueError(f"cannot compose {first.src_lang}->{first.tgt_lang} with {second.src_lang}->{second.tgt_lang}")
    out = Dictionary(first.src_lang, second.tgt_lang)
    stats: Counter = Counter()
    for words, options in first.entries.items():
        paths = [(o, second.lookup(o.text.split())) for o in options]
        paths = [(o, nxt) for o, nxt in paths if nxt]
        stats["phrases"] += 1
        if not paths:
            stats["no_pivot_translation"] += 1
            continue
        narrow = [(o, nxt) for o, nxt in paths if senses(nxt) <= max_senses]
        if narrow and len(narrow) < len(paths):
            stats["ambiguous_pivots_dropped"] += len(paths) - len(narrow)
            paths = narrow
        total1 = sum(o.weight for o, _ in paths)
        score: dict[str, list] = {}  # target -> [probability, best path probability, its origin]
        for o, nxt in paths:
            total2 = sum(t.weight for t in nxt)
            for t in nxt:
                p = (o.weight / total1) * (t.weight / total2)
                cur = score.setdefault(t.text, [0.0, 0.0, ""])
                cur[0] += p
                if p > cur[1]:
                    cur[1], cur[2] = p, f"{o.origin}>{t.origin}"
        source = words[0] if first.joined else " ".join(words)
        best = max(v[0] for v in score.values())
        kept = sorted(((text, v[0], v[2]) for text, v in score.items()
                       if v[0] >= best * min_ratio and text.lower() != source), key=lambda x: (-x[1], x[0]))
        stats["dropped_rare"] += len(score) - len(kept)
        kept = kept[:max_targets]
        if kept:
            out.set_translations(words, [Translation(text, origin, p) for text, p, origin in kept])
            stats["composed"] += 1
    return out, dict(sorted(stats.items()))
