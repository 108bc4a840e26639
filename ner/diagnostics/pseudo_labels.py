"""How good are the teacher's pseudo-labels, and what does the filter trade?

For diagnosis only: the unlabeled pool is PAN-X train text with its labels dropped, so its gold
tags can be looked up again (by the sentence's tokens) to score the pseudo-labels. Nothing here may
feed back into filtering or model selection -- that would use target-language gold labels.

For each confidence threshold, the self-training filter (`ner.training.self_training.select_pseudo_labels`,
the same function a round uses) is applied to the teacher's scored predictions and the kept
sentences are scored against gold: precision, recall, F1 over their entities, plus the number of
gold entities inside kept sentences that the pseudo-labels miss. Those misses are what the student
is taught as NONE (false negatives), the hypothesis this curve tests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ner.data.records import UnlabeledSentence
from ner.inference.evaluate import micro_scores
from ner.model.grid import Entity, tags_to_entities
from ner.training.self_training import select_pseudo_labels

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98)


def _spans(tags: Sequence[str]) -> set[tuple[int, int, str]]:
    return {(e.start, e.last, e.type) for e in tags_to_entities(tags, strict=False)}


def score_kept(kept_tags: Sequence[Sequence[str]], gold_tags: Sequence[Sequence[str]]) -> dict[str, float]:
    """Entity-level micro precision / recall / F1 of pseudo tags against gold, sentence by sentence."""
    tp = n_pred = n_gold = 0
    for pred, gold in zip(kept_tags, gold_tags, strict=True):
        p, g = _spans(pred), _spans(gold)
        tp += len(p & g)
        n_pred += len(p)
        n_gold += len(g)
    return {**micro_scores(tp, n_pred, n_gold), "tp": tp, "predicted": n_pred, "gold": n_gold,
            "missed": n_gold - tp}


def threshold_curve(sentences: Sequence[UnlabeledSentence], entities: Sequence[Sequence[Entity]],
                    gold: Sequence[Sequence[str] | None], top_fraction: float, negative_ratio: float,
                    seed: int = 0, thresholds: Sequence[float] = THRESHOLDS,
                    per_language: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Per language: one point per threshold (kept sentences, P/R/F1 of their pseudo-labels).

    Sentences whose gold is unknown (``None``: not found in the labeled split) are left out.
    """
    known = [k for k, g in enumerate(gold) if g is not None]
    sents = [sentences[k] for k in known]
    ents = [entities[k] for k in known]
    golds = [gold[k] for k in known]
    pos = {s.id: k for k, s in enumerate(sents)}
    curves: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in thresholds:
        kept, _ = select_pseudo_labels(sents, ents, t, top_fraction, negative_ratio, seed=seed,
                                       per_language=per_language)
        by_lang: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
        for ex in kept:
            pred, gl = by_lang[ex.lang]
            pred.append(ex.src_tags)
            gl.append(golds[pos[ex.id]])
        pool = defaultdict(int)
        for s in sents:
            pool[s.lang] += 1
        for lang in sorted(pool):
            pred, gl = by_lang.get(lang, ([], []))
            curves[lang].append({"threshold": t, "kept": len(pred), "pool": pool[lang], **score_kept(pred, gl)})
    return dict(curves)


def gold_lookup(sentences: Sequence[UnlabeledSentence], labeled: dict[str, list[Any]]) -> list[list[str] | None]:
    """Gold tags of each unlabeled sentence, found by its tokens in the language's labeled split."""
    index: dict[str, dict[tuple[str, ...], list[str]]] = {}
    for lang, rows in labeled.items():
        table: dict[tuple[str, ...], list[str]] = {}
        for row in rows:
            table.setdefault(tuple(row.tokens), list(row.tags))
        index[lang] = table
    return [index.get(s.lang, {}).get(tuple(s.tokens)) for s in sentences]
