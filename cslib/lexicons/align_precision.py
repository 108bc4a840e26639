"""Precision filters for alignment lexicons from small parallel corpora.

Tatoeba gives 200-1,000 sentence pairs for the languages MUSE lacks; a lexicon from so little
text is noisy: with p(tgt | src) alone, "the" becomes سامي (a first name frequent in Tatoeba)
and "to" أن. The filters, each a field of `LexiconFilter`:

- both directions: a pair must be probable as p(tgt | src) *and* p(src | tgt) (the target
  word mostly aligns back to this source word), combined as their geometric mean with a
  threshold: "the" is aligned to everything, so no target aligns back to it;
- minimum counts, higher for single-word function words, which attract stray links;
- phrases that start or end with a function word ("is to" → "ni upande", "put the") need
  more support: they are mostly a content word plus a stray link;
- no names or numbers for function words: a target whose commonest English counterpart is a
  name (capitalised mid-sentence in the English side) or that holds a digit is refused for them;
  and a target phrase holding a name (سامي) needs that name in its source phrase ("his dog"
  is not "سامي كلبه", nor "sent layla" "أرسل سامي").
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from .align import Alignment, LexiconEntry, extract_lexicon

# English function words: closed-class words that alignment links to whatever is left over
FUNCTION_WORDS = frozenset("""
a an the this that these those of in on at by for from to with without into onto about over under
between through during after before since until than as and or but nor so if then because while
is are was were be been being am do does did have has had will would shall should can could may
might must it its he him his she her hers they them their we us our you your i me my not no
there here what which who whom whose when where why how all any some each every both either
neither one also very just only too
""".split())


@dataclass(frozen=True)
class LexiconFilter:
    min_count: int = 2  # sentence pairs supporting the pair
    min_count_function: int = 5  # ... when the source is a function word
    min_score: float = 0.3  # p(tgt | src)
    min_reverse: float = 0.2  # p(src | tgt)
    min_combined: float = 0.35  # sqrt(p(tgt | src) * p(src | tgt))
    min_combined_function: float = 0.5  # ... when the source is a function word
    min_count_dangling: int = 3  # a phrase that starts or ends with a function word ("is to", "put the")
    min_combined_dangling: float = 0.8


def _name_words(src_sents: list[list[str]]) -> set[str]:
    """English words seen capitalised mid-sentence more often than lowercase (Sami, Tom, Boston)."""
    cap: Counter[str] = Counter()
    low: Counter[str] = Counter()
    for sent in src_sents:
        for k, w in enumerate(sent):
            if not w[:1].isalpha():
                continue
            if w[:1].isupper() and k > 0 and w.lower() not in FUNCTION_WORDS and w != "I":
                cap[w.lower()] += 1
            elif w[:1].islower():
                low[w] += 1
    return {w for w, n in cap.items() if n > low[w]}


def precise_lexicon(src_sents: list[list[str]], tgt_sents: list[list[str]], alignments: list[Alignment],
                    flt: LexiconFilter | None = None, *, max_phrase_len: int = 3) -> list[LexiconEntry]:
    """Lexicon entries that pass `flt`; `score` is the combined two-direction score."""
    flt = flt or LexiconFilter()
    raw = extract_lexicon(src_sents, tgt_sents, alignments, max_phrase_len=max_phrase_len, min_count=1,
                          min_score=0.0)
    tgt_total: Counter[tuple[str, ...]] = Counter()
    best_src: dict[tuple[str, ...], tuple[int, tuple[str, ...]]] = {}
    for e in raw:
        t = tuple(w.lower() for w in e.tgt)
        tgt_total[t] += e.count
        if e.count > best_src.get(t, (0, ()))[0]:
            best_src[t] = (e.count, e.src)
    names = _name_words(src_sents)
    # target word -> the English name it translates (سامي -> sami)
    name_targets = {t[0]: src[0] for t, (_, src) in best_src.items() if len(t) == 1 and len(src) == 1
                    and src[0] in names}
    out: list[LexiconEntry] = []
    for e in raw:
        t = tuple(w.lower() for w in e.tgt)
        reverse = e.count / tgt_total[t]
        combined = math.sqrt(e.score * reverse)
        function = len(e.src) == 1 and e.src[0] in FUNCTION_WORDS
        if e.count < (flt.min_count_function if function else flt.min_count):
            continue
        dangling = len(e.src) > 1 and (e.src[0] in FUNCTION_WORDS or e.src[-1] in FUNCTION_WORDS)
        if dangling and (e.count < flt.min_count_dangling or combined < flt.min_combined_dangling):
            continue
        if e.score < flt.min_score or reverse < flt.min_reverse:
            continue
        if combined < (flt.min_combined_function if function else flt.min_combined):
            continue
        if function:
            counterpart = best_src[t][1]
            if any(c.isdigit() for w in e.tgt for c in w) or any(w in names for w in counterpart):
                continue
        if any(name_targets.get(w.lower(), e.src[0]) not in e.src for w in e.tgt):
            continue  # a name in the target that is not the translation of a name in the source
        out.append(LexiconEntry(e.src, e.tgt, e.count, round(combined, 4)))
    return out
