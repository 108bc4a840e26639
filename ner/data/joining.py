"""Joined long inputs: a share of the training pool made of 2..N examples joined into one input.

Why: fine-tuned on short PAN-X sentences, the relation head reads the change a long input makes to
every word vector as NONE and loses recall on long inputs (docs/results.md, "Long inputs: where the
relation head loses recall"); training on joined inputs, with a grid loss under which their cells
count (`grid_loss: equal`), removed that loss in the diagnosis.

How (`join_examples`, a pure function of the pool, the seed and the sub-word counts):

* `round(share x n)` slots of the pool of n examples, drawn with the seed, are replaced by a joined
  example: the slot's own example (the anchor) followed by k - 1 partners, k uniform in 2..`max_sentences`,
  partners drawn without repetition from the anchor's group. The pool keeps its size (so steps per epoch,
  the run's length, DDP's slices and resumption are those of the unjoined pool) and is the same every
  epoch; the anchors are still seen, inside their joined input.
* A group is the examples that can share an input: code-switched pairs of one (source language, target
  language), or single-view (pseudo-labeled) examples of one language. Both views of a pair are joined
  member by member in the same order (the source view with the members' source views, the code-switched
  view with their code-switched views), so a joined pair is still a sentence and its code-switched
  version: the semantic contrast pairs them as before, and the relation contrast, which samples cells
  of each view's grid by their gold labels, needs no word alignment between the views. A pseudo-labeled
  example's ignored cells are shifted to its place in the joined input.
* Members are separated by one separator token tagged O: "。" in a view whose language PAN-X writes one
  character a token (`CHAR_LANGS`: zh, ja), "." otherwise; a view's language is its example's `src_lang`
  (source view) or `lang` (code-switched view, and the single view of a pseudo-labeled example). Every
  member is valid IOB2 and ends before an O, so the joined tags are valid IOB2 with the members' entities
  in order, on both views.
* With a sub-word `budget` (the encoder's row, `max_subwords` - 2), trailing partners are dropped until
  both views fit into one encoder row, so a joined input is never split into encoder chunks; an anchor
  that fits with no partner stays as it is. Examples already longer than the row are left alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from ner.data.records import Example

#: Languages PAN-X writes one character a token (as XTREME does): their separator is "。".
CHAR_LANGS = frozenset({"zh", "ja"})
#: Counts sub-words per sentence (`ner.model.encoder.WordEncoder.subword_lengths`).
Measure = Callable[[list[list[str]]], list[int]]


def separator(lang: str) -> str:
    """The token that ends a member of a joined input in a view of language `lang`."""
    return "。" if lang in CHAR_LANGS else "."


def view_langs(ex: Example) -> tuple[str, str]:
    """(language of the source view, language of the code-switched view) of an example; a single-view
    (pseudo-labeled) example's one view is in `lang`."""
    return (ex.src_lang or ex.lang, ex.lang) if ex.paired else (ex.lang, ex.lang)


def _group(ex: Example) -> tuple[str, str, bool]:
    return (*view_langs(ex), ex.paired)


def join_examples(pool: Sequence[Example], share: float, max_sentences: int, seed: int,
                  measure: Measure | None = None, budget: int = 0) -> list[Example]:
    """The pool with `round(share x len(pool))` slots replaced by joined inputs (module docstring).

    `measure` and `budget` > 0: joined inputs keep at most `budget` sub-words per view (trailing partners
    dropped). Deterministic in (pool, share, max_sentences, seed, measure)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share}")
    if max_sentences < 2:
        raise ValueError(f"max_sentences must be >= 2, got {max_sentences}")
    base = list(pool)
    out = list(pool)
    n_joined = round(share * len(out))
    if n_joined == 0:
        return out
    rng = random.Random(seed * 7919 + 17)
    members: dict[tuple[str, str, bool], list[int]] = {}  # group -> pool indices of its distinct examples
    seen: set[tuple[tuple[str, str, bool], str]] = set()
    for i, ex in enumerate(base):
        key = _group(ex)
        if (key, ex.id) not in seen:
            seen.add((key, ex.id))
            members.setdefault(key, []).append(i)
    plans: list[list[int]] = []
    for anchor in sorted(rng.sample(range(len(base)), n_joined)):
        group = members[_group(base[anchor])]
        k = rng.randint(2, max_sentences)
        drawn = rng.sample(group, min(k, len(group)))
        partners = [i for i in drawn if base[i].id != base[anchor].id][: k - 1]
        plans.append([anchor, *partners])
    if measure is not None and budget > 0:
        plans = _fit(base, plans, measure, budget)
    for plan in plans:
        if len(plan) >= 2:  # members come from the pool as given, never from an input joined before
            out[plan[0]] = joined([base[i] for i in plan])
    return out


def _fit(pool: list[Example], plans: list[list[int]], measure: Measure, budget: int) -> list[list[int]]:
    """The plans with trailing partners dropped until both views fit into `budget` sub-words."""
    needed = sorted({i for plan in plans if len(plan) >= 2 for i in plan})
    sizes: dict[int, tuple[int, int]] = {}
    for start in range(0, len(needed), 512):
        chunk = needed[start:start + 512]
        src = measure([list(pool[i].src_tokens) for i in chunk])
        cs = measure([list(pool[i].cs_tokens or []) for i in chunk])
        sizes.update(zip(chunk, zip(src, cs, strict=True), strict=True))
    seps = {sep: n for sep, n in zip(("。", "."), measure([["。"], ["."]]), strict=True)}
    fitted = []
    for plan in plans:
        src_sep, cs_sep = (seps[separator(lang)] for lang in view_langs(pool[plan[0]]))
        kept = list(plan)
        while len(kept) >= 2:
            src_total = sum(sizes[i][0] for i in kept) + src_sep * (len(kept) - 1)
            cs_total = sum(sizes[i][1] for i in kept) + (cs_sep * (len(kept) - 1) if pool[plan[0]].paired else 0)
            if src_total <= budget and cs_total <= budget:
                break
            kept.pop()
        fitted.append(kept)
    return fitted


def joined(parts: Sequence[Example]) -> Example:
    """One example made of `parts` (same group) joined by their separators, tags and ignored cells carried."""
    first = parts[0]
    src_sep, cs_sep = (separator(lang) for lang in view_langs(first))
    src_tokens: list[str] = []
    src_tags: list[str] = []
    cs_tokens: list[str] = []
    cs_tags: list[str] = []
    ignore: list[tuple[int, int]] = []
    for k, ex in enumerate(parts):
        if k:
            src_tokens.append(src_sep)
            src_tags.append("O")
            if first.paired:
                cs_tokens.append(cs_sep)
                cs_tags.append("O")
        offset = len(src_tokens)
        ignore += [(i + offset, j + offset) for i, j in ex.ignore or ()]
        src_tokens += ex.src_tokens
        src_tags += ex.src_tags
        if first.paired:
            cs_tokens += ex.cs_tokens or []
            cs_tags += ex.cs_tags or []
    return Example("+".join(ex.id for ex in parts), src_tokens, src_tags,
                   cs_tokens if first.paired else None, cs_tags if first.paired else None,
                   first.lang, first.src_lang, ignore or None)
