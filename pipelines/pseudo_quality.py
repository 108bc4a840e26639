"""How good were a self-training run's pseudo-labels, round by round? (diagnostic only)

The unlabeled pools are PAN-X train text with the labels dropped, so each kept pseudo-labeled sentence
(`OUT/round-R/pseudo.jsonl`) can be found again by its tokens in the language's labeled train split and
scored: entity-level true positives, predicted and gold entities (`ner.diagnostics.pseudo_labels.score_kept`),
per language and round. Precision is over the kept pseudo-labels, recall over the gold entities of the kept
sentences (what the student is taught as NONE when missed). These figures use target-language gold labels:
they describe a run and never choose anything.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from cslib import load_split
from ner.data.pseudo_labels import load_pseudo
from ner.diagnostics.pseudo_labels import score_kept


@lru_cache(maxsize=64)
def _gold_index(lang: str, data_root: str | None) -> dict[tuple[str, ...], list[str]]:
    index: dict[tuple[str, ...], list[str]] = {}
    for row in load_split("panx", lang, "train", data_root=data_root):
        index.setdefault(tuple(row.tokens), list(row.tags))
    return index


def score_rounds(run_dir: str | Path, langs: list[str], data_root: str | None) -> dict[str, Any]:
    """Per round of the self-training run in `run_dir`: kept sentences and (tp, predicted, gold, missed)
    entities per language; sentences not found in the labeled split are counted as `unknown`."""
    rounds = []
    paths = sorted(Path(run_dir).glob("round-*/pseudo.jsonl"), key=lambda p: int(re.sub(r"\D", "", p.parent.name)))
    for path in paths:
        by_lang: dict[str, dict[str, Any]] = {}
        grouped: dict[str, tuple[list[list[str]], list[list[str]]]] = {}
        unknown: dict[str, int] = {}
        for ex in load_pseudo(path):
            if ex.lang not in langs:
                continue
            gold = _gold_index(ex.lang, data_root).get(tuple(ex.src_tokens))
            if gold is None:
                unknown[ex.lang] = unknown.get(ex.lang, 0) + 1
                continue
            pred, gl = grouped.setdefault(ex.lang, ([], []))
            pred.append(ex.src_tags)
            gl.append(gold)
        for lang, (pred, gl) in grouped.items():
            s = score_kept(pred, gl)
            by_lang[lang] = {"kept": len(pred), **{k: s[k] for k in ("tp", "predicted", "gold", "missed")}}
        stats_path = path.parent / "pseudo_stats.json"
        stats = json.loads(stats_path.read_text(encoding="utf-8")) if stats_path.is_file() else {}
        rounds.append({"round": int(re.sub(r"\D", "", path.parent.name)), "pool": stats.get("sentences"),
                       "kept": stats.get("kept"), "languages": by_lang, "unknown": unknown})
    return {"rounds": rounds}


def precision_recall(counts: list[dict[str, Any]]) -> tuple[float | None, float | None]:
    """Micro precision and recall of summed (tp, predicted, gold) counts; None where undefined."""
    tp = sum(c["tp"] for c in counts)
    pred = sum(c["predicted"] for c in counts)
    gold = sum(c["gold"] for c in counts)
    return (tp / pred if pred else None), (tp / gold if gold else None)
