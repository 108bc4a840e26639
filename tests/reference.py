"""Straightforward implementations that the fast paths of `ner` must equal, kept as their specification.

Tests check the fast paths against these (identical outputs), and benchmarks/ time them as "today's path".
Nothing else imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ner.inference.precision import autocast
from ner.inference.tagging import length_batches
from ner.model.grid import THW_OFFSET, Entity, RelationSchema, thw_cells
from ner.model.heads.token import decode_tag_probs
from ner.model.ner_model import NerModel, NerOutput


def decode_grid_loop(probs: np.ndarray, schema: RelationSchema, max_words: int | None = None) -> list[Entity]:
    """`ner.model.grid.decode_grid` written as its definition reads: a loop over candidate cells, then the
    greedy overlap resolution (see there for the rules)."""
    pred, broken, nnw_mass, ends, starts = thw_cells(probs, schema, max_words)
    n = probs.shape[0]
    candidates: list[Entity] = []
    for e, s in zip(ends.tolist(), starts.tolist(), strict=True):
        if broken[e] - broken[s] != 0:
            continue
        label = int(pred[e, s])
        score = (float(probs[e, s, label]) + float(nnw_mass[e] - nnw_mass[s])) / (e - s + 1)
        candidates.append(Entity(s, e, schema.entity_types[label - THW_OFFSET], score))
    candidates.sort(key=lambda c: (-c.score, c.start, c.last))
    taken = np.zeros(n, dtype=bool)
    kept: list[Entity] = []
    for cand in candidates:
        if not taken[cand.start : cand.last + 1].any():
            taken[cand.start : cand.last + 1] = True
            kept.append(cand)
    kept.sort(key=lambda c: c.start)
    return kept


def decode_reference(model: NerModel, out: NerOutput, max_words: int | None = None) -> list[list[Entity]]:
    """`NerModel.decode` written plainly: every sentence's cells gathered out of the softmaxed grid, then the loop
    (`max_words`: the same length limit as `NerModel.max_entity_words`; None = none, as before)."""
    probs = out.logits.float().softmax(-1).cpu()
    mask = out.word_mask.bool().cpu()
    result: list[list[Entity]] = []
    for b in range(probs.shape[0]):
        idx = mask[b].nonzero(as_tuple=True)[0]
        if model.cfg.head == "relation":
            result.append(decode_grid_loop(probs[b][idx][:, idx].numpy(), model.relation_schema, max_words))
        else:
            result.append(decode_tag_probs(probs[b][idx].numpy(), model.tag_schema)[1])
    return result


@torch.inference_mode()
def predict_entities_reference(model: NerModel, sentences: Sequence[Sequence[str]], batch_size: int = 64,
                               amp: torch.dtype | None = None, max_cells: int = 2**18,
                               max_subwords: int = 4096, max_words: int | None = None) -> list[list[Entity]]:
    """`ner.inference.tagging.predict_entities` on the whole grid (no decode-only band) with `decode_reference`:
    the plain evaluation path, in the same batches (`max_words`: see `decode_reference`)."""
    model.eval()
    result: list[list[Entity]] = [[] for _ in sentences]
    todo = [i for i, s in enumerate(sentences) if len(s)]
    subwords = model.encoder.subword_lengths([list(sentences[i]) for i in todo]) if todo else []
    for chunk in length_batches([len(sentences[i]) for i in todo], batch_size, max_cells, subwords, max_subwords):
        idx = [todo[k] for k in chunk]
        with autocast(model.device, amp):
            out = model(model.collate([list(sentences[i]) for i in idx]))
        for i, ents in zip(idx, decode_reference(model, out, max_words), strict=True):
            result[i] = ents
    return result
