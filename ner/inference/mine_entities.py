"""Target-language entities mined by a trained model: a typed lexicon for `cslib build`.

A model trained on English and code-switched data tags unlabeled target text (zero-shot: no
target labels are used); the entities it finds often and confidently, with their types, are
written as an entity lexicon (TSV: phrase, target text, TYPE, score) that
`cslib build --entity-lexicon FILE --entity-mode replace` uses to put native-script entities
of the same type into code-switched sentences. The phrase column repeats the target text: a
mined entity has no English side.

Kept: surface forms seen at least `min_count` times whose mean score is at least `min_score`
and whose commonest type has at least `min_type_share` of their predictions (an entity the
model calls PER half the time and ORG the other half is dropped); then the best `per_type`
of each type by count × mean score, so no type crowds the others out.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from cslib import atomic_open
from ner.data.unlabeled import load_unlabeled
from ner.errors import NerError
from ner.inference.loading import load_model
from ner.inference.precision import amp_dtype, resolve_device
from ner.inference.tagging import predict_entities
from ner.model.grid import Entity

CHAR_LANGS = frozenset({"zh", "ja"})  # PAN-X splits them into characters: entity text is joined without spaces


@dataclass(frozen=True)
class MineConfig:
    min_score: float = 0.9
    min_count: int = 2
    min_type_share: float = 0.8
    per_type: int = 500


@dataclass(frozen=True)
class MinedEntity:
    text: str
    type: str
    count: int
    score: float  # mean confidence


def aggregate(sentences: Sequence[Sequence[str]], entities: Sequence[Sequence[Entity]], langs: Sequence[str],
              cfg: MineConfig | None = None) -> list[MinedEntity]:
    """Most confident typed entities from per-sentence predictions (see the module docstring)."""
    cfg = cfg or MineConfig()
    by_text: dict[str, Counter[str]] = defaultdict(Counter)
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    for toks, ents, lang in zip(sentences, entities, langs, strict=True):
        joiner = "" if lang in CHAR_LANGS else " "
        for e in ents:
            text = joiner.join(toks[e.start:e.last + 1]).strip()
            if not text or not any(c.isalpha() for c in text):
                continue
            by_text[text][e.type] += 1
            scores[text, e.type].append(float(e.score))
    kept: dict[str, list[MinedEntity]] = defaultdict(list)
    for text, types in by_text.items():
        typ, n = types.most_common(1)[0]
        total = sum(types.values())
        mean = sum(scores[text, typ]) / n
        if n >= cfg.min_count and mean >= cfg.min_score and n / total >= cfg.min_type_share:
            kept[typ].append(MinedEntity(text, typ, n, round(mean, 4)))
    out: list[MinedEntity] = []
    for typ in sorted(kept):
        ranked = sorted(kept[typ], key=lambda m: (-m.count * m.score, m.text))
        out.extend(ranked[:cfg.per_type])
    return out


def write_lexicon(path: str | os.PathLike[str], mined: Sequence[MinedEntity]) -> int:
    """The TSV `cslib build --entity-lexicon` reads, written atomically."""
    with atomic_open(path, "w") as fh:
        fh.write("# phrase\ttarget\ttype\tscore (mined by ner mine-entities)\n")
        for m in mined:
            fh.write(f"{m.text}\t{m.text}\t{m.type}\t{m.score:.4f}\n")
    return len(mined)


def mine_entities(model_path: str | os.PathLike[str], unlabeled: Sequence[str | os.PathLike[str]],
                  out: str | os.PathLike[str] | None = None, cfg: MineConfig | None = None,
                  limit: int | None = None, batch_size: int = 64, device: str = "auto") -> list[MinedEntity]:
    """Tag unlabeled shards with a trained model and return (and write, with `out`) the mined lexicon."""
    sents = load_unlabeled(list(unlabeled), limit)
    model = load_model(model_path, resolve_device(device))
    tokens = [s.tokens for s in sents]
    preds = predict_entities(model, tokens, batch_size, amp_dtype("auto", model.device))
    mined = aggregate(tokens, preds, [s.lang for s in sents], cfg)
    if not mined:
        raise NerError(f"{model_path}: no entity passed the filters on {len(sents)} sentences "
                       f"(lower --min-score or --min-count)")
    if out is not None:
        write_lexicon(out, mined)
    return mined
