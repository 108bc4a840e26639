"""Batched prediction: sentences grouped by length, tagged with a loaded model.

Everything that tags sentences goes through here -- evaluation, dev scoring during training,
self-training's teacher, `ner predict`, `ner mine-entities` -- so sentences are batched the same way
everywhere. Loading lives in `ner.inference.loading`, precision in `ner.inference.precision`, scoring in
`ner.inference.evaluate`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import torch

from ner.inference.precision import autocast
from ner.model.grid import Entity, entities_to_tags
from ner.model.ner_model import NerModel

log = logging.getLogger(__name__)


def length_batches(lengths: Sequence[int], batch_size: int, max_cells: int,
                   subwords: Sequence[int] | None = None, max_subwords: int = 4096) -> Iterator[list[int]]:
    """Indices grouped by similar length, at most `batch_size` sentences, about `max_cells` padded
    word pairs (batch x longest^2) and, when `subwords` are given, about `max_subwords` padded
    sub-words (batch x longest row) per batch.

    Sorting by sub-word count is what makes inference fast: a padded encoder batch costs its longest
    row times its size, and PAN-X mixes 3-word titles with 60-word sentences. The word-pair cap keeps
    the relation head's quadratic grid in check (zh/ja are tokenized into characters), so one
    250-character sentence never pads a whole batch.
    """
    key = subwords if subwords is not None else lengths
    order = sorted(range(len(lengths)), key=lambda i: (key[i], lengths[i]))
    batch: list[int] = []
    longest_w = longest_s = 0
    for i in order:
        w = max(longest_w, lengths[i])
        sw = max(longest_s, key[i] + 2)
        full = len(batch) >= batch_size or (len(batch) + 1) * w ** 2 > max_cells
        if subwords is not None:
            full = full or (len(batch) + 1) * sw > max_subwords
        if batch and full:
            yield batch
            batch, w, sw = [], lengths[i], key[i] + 2
        batch.append(i)
        longest_w, longest_s = w, sw
    if batch:
        yield batch


@torch.inference_mode()
def predict_entities(
    model: NerModel,
    sentences: Sequence[Sequence[str]],
    batch_size: int = 64,
    amp: torch.dtype | None = None,
    max_cells: int = 2**18,
    max_subwords: int = 4096,
) -> list[list[Entity]]:
    """Scored entities for pre-tokenized sentences, in input order (model left in eval mode)."""
    model.eval()
    device = model.device
    result: list[list[Entity]] = [[] for _ in sentences]
    todo = [i for i, s in enumerate(sentences) if len(s)]
    subwords = model.encoder.subword_lengths([list(sentences[i]) for i in todo]) if todo else []
    for chunk in length_batches([len(sentences[i]) for i in todo], batch_size, max_cells, subwords, max_subwords):
        idx = [todo[k] for k in chunk]
        batch = model.collate([list(sentences[i]) for i in idx])
        with autocast(device, amp):
            out = model(batch, decode_only=True)
        for i, ents in zip(idx, model.decode(out), strict=True):
            result[i] = ents
    return result


def predict_tags(
    model: NerModel, sentences: Sequence[Sequence[str]], batch_size: int = 64, amp: torch.dtype | None = None
) -> list[list[str]]:
    """IOB2 tags, one per input token (words lost to truncation are tagged O)."""
    ents = predict_entities(model, sentences, batch_size, amp)
    return [entities_to_tags(e, len(s)) for e, s in zip(ents, sentences, strict=True)]


__all__ = ["length_batches", "predict_entities", "predict_tags"]
