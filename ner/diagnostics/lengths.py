"""Where recall goes on long inputs: recall by sentence length and entity position, a controlled
embedding test, and inference-time interventions on the relation head and the encoder.

All on a trained model, without retraining:

* :func:`recall_tables`: entity recall (and precision) of labelled sentences by sentence length, by
  the entity's word offset from the sentence start, by its distance to the nearer sentence edge
  (``min(start, n - 1 - last)``) and by type x sentence length.
* :func:`embedding_test`: short labelled sentences tagged alone and embedded at chosen offsets in
  long inputs made of other sentences of the same data, so that only length and position change.
  Crossed conditions say which side of the model reacts to the context: the grid on the target's
  slice of the long input's word vectors, the target's word vectors from the sentence alone spliced
  into the long input, one path of the relation head (conv or biaffine) given those vectors, and the
  change common to the target's words removed. Also the cosine between the two vectors of every
  target word and the gold-vs-NONE logit margin at the target's gold cells (THW and NNW apart).
* Grid variants (:func:`grid_variant`): the relation head on the same word vectors, run on windows
  of the input (``window:SIZE[:STRIDE]``), with cells farther than ``k`` words from the diagonal
  treated as padding (``band:k``), or with the distance embeddings clamped to a bucket
  (``clamp:b``); and the encoder on overlapping word windows (:func:`encode_words_windowed`), the
  head as trained.

``python -m ner.diagnostics.lengths RUN --lang es --file F --format conll --out DIR`` writes
``DIR/lengths.json`` and ``DIR/lengths.png``. Gold entities of types the model does not know
(CoNLL's MISC against a PAN-X model) are counted as O, not as misses (``--keep-unknown`` keeps them).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from cslib import UserError, atomic_write_json, load_split, read_labeled_file, run_cli
from ner.inference.evaluate import LENGTH_BUCKETS, length_buckets, micro_scores
from ner.inference.loading import load_model
from ner.inference.precision import autocast, inference_amp, resolve_device
from ner.inference.tagging import length_batches
from ner.model.grid import DECODED_OFFSET, NONE_ID, Entity, entities_to_tags, tags_to_entities, tags_to_grid
from ner.model.heads.relation_layers import RelationNetwork
from ner.model.ner_model import NerModel, NerOutput

OFFSET_EDGES = (5, 10, 20, 30, 50)  # entity start offset buckets 0-4, 5-9, ..., >= 50
EDGE_EDGES = (1, 3, 6, 10, 20)  # distance to the nearer sentence edge: 0, 1-2, 3-5, 6-9, 10-19, >= 20
EMBED_LENGTHS = (16, 32, 64, 128)
EMBED_POSITIONS = ("start", "middle", "end")

Sentence = tuple[list[str], list[str]]  # (tokens, IOB2 tags)
GridVariant = Callable[[RelationNetwork, Tensor, Tensor], Tensor]  # (head, words, mask) -> logits [B, W, W, C]


# --- data --------------------------------------------------------------------------------------


def read_sentences(file: str | Path | None = None, lang: str | None = None, *, fmt: str = "auto",
                   encoding: str | None = None, split: str = "dev", limit: int | None = None,
                   data_root: str | None = None) -> list[Sentence]:
    """A labelled file, else PAN-X `split` of `lang`: (tokens, tags) per non-empty sentence."""
    if file is not None:
        sents = read_labeled_file(file, fmt=fmt, limit=limit, encoding=encoding)
    elif lang is not None:
        sents = load_split("panx", lang, split, data_root=data_root, limit=limit)
    else:
        raise UserError("lengths needs a labelled file (--file) or a language (--lang)")
    return [(list(s.tokens), list(s.tags)) for s in sents if s.tokens]


def keep_types(tags: Sequence[str], types: Sequence[str]) -> list[str]:
    """The tags with every entity of a type outside `types` turned into O (valid IOB2 stays valid)."""
    kept = [e for e in tags_to_entities(tags, strict=False) if e.type in set(types)]
    return entities_to_tags(kept, len(tags))


def bucket_labels(edges: Sequence[int], first: int = 0) -> list[str]:
    """Labels of the buckets ``[first, e0), [e0, e1), ..., [e_last, inf)``."""
    bounds = [first, *edges]
    labels = [f"{lo}" if hi - lo == 1 else f"{lo}-{hi - 1}" for lo, hi in zip(bounds, bounds[1:], strict=False)]
    return [*labels, f">={bounds[-1]}"]


def bucket_of(value: int, edges: Sequence[int]) -> int:
    """Index of `value`'s bucket among ``[.., e0), [e0, e1), ..., [e_last, inf)``."""
    return int(np.searchsorted(np.asarray(edges), value, side="right"))


# --- tables ------------------------------------------------------------------------------------


def _counts() -> dict[str, int]:
    return {"gold": 0, "predicted": 0, "tp": 0}


def _scored(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, **micro_scores(row["tp"], row["predicted"], row["gold"])}


def recall_tables(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[Entity]], *,
                  length_edges: Sequence[int] = LENGTH_BUCKETS, offset_edges: Sequence[int] = OFFSET_EDGES,
                  edge_edges: Sequence[int] = EDGE_EDGES) -> dict[str, Any]:
    """Strict entity counts (type and both boundaries) overall and by sentence length, by entity start
    offset, by distance to the nearer sentence edge and by type x sentence length; each row with
    precision, recall and F1.

    A gold entity falls in the offset / edge bucket of its own position, a predicted one in that of its
    own, so the rows' gold, predicted and tp add up to the overall counts."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predictions")
    overall = {"n_sentences": len(gold), "words": 0, **_counts()}
    by_length = [{"bucket": b, "n_sentences": 0, "words": 0, **_counts()} for b in length_buckets(length_edges)]
    by_offset = [{"bucket": b, **_counts()} for b in bucket_labels(offset_edges)]
    by_edge = [{"bucket": b, **_counts()} for b in bucket_labels(edge_edges)]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for tags, pred in zip(gold, predicted, strict=True):
        n = len(tags)
        gs = {(e.start, e.last, e.type) for e in tags_to_entities(tags, strict=False)}
        ps = {(e.start, e.last, e.type) for e in pred}
        row = by_length[bucket_of(n - 1, length_edges)]  # n <= e0 -> bucket 0
        for counts in (overall, row):
            counts["words"] += n
            counts["gold"] += len(gs)
            counts["predicted"] += len(ps)
            counts["tp"] += len(gs & ps)
        row["n_sentences"] += 1
        for spans, key in ((gs, "gold"), (ps, "predicted"), (gs & ps, "tp")):
            for _, _, etype in spans:
                if etype not in by_type:
                    by_type[etype] = [{"bucket": b, **_counts()} for b in length_buckets(length_edges)]
                by_type[etype][bucket_of(n - 1, length_edges)][key] += 1
        for spans, key in ((gs, "gold"), (ps, "predicted"), (gs & ps, "tp")):
            for start, last, _ in spans:
                by_offset[bucket_of(start, offset_edges)][key] += 1
                by_edge[bucket_of(min(start, n - 1 - last), edge_edges)][key] += 1
    return {"overall": _scored(overall), "by_length": [_scored(r) for r in by_length],
            "by_offset": [_scored(r) for r in by_offset], "by_edge_distance": [_scored(r) for r in by_edge],
            "by_type_length": {t: [_scored(r) for r in rows] for t, rows in sorted(by_type.items())}}


# --- running the model in two halves -----------------------------------------------------------


@torch.inference_mode()
def encode_words(model: NerModel, sentences: Sequence[Sequence[str]], batch_size: int = 64,
                 amp: torch.dtype | None = None, max_subwords: int = 4096) -> list[Tensor]:
    """The encoder's word vectors ``[n, H]`` (fp32, CPU) of every sentence, batched as tagging batches them."""
    model.eval()
    out: list[Tensor] = [torch.zeros(0, model.encoder.hidden_size) for _ in sentences]
    todo = [i for i, s in enumerate(sentences) if len(s)]
    subwords = model.encoder.subword_lengths([list(sentences[i]) for i in todo]) if todo else []
    for chunk in length_batches([len(sentences[i]) for i in todo], batch_size, 2**30, subwords, max_subwords):
        idx = [todo[k] for k in chunk]
        batch = model.encoder.collate([list(sentences[i]) for i in idx])
        with autocast(model.device, amp):
            words, mask, _ = model.encoder(**{k: v.to(model.device) for k, v in batch.items()})
        for b, i in enumerate(idx):
            out[i] = words[b, : int(mask[b].sum())].float().cpu()
    return out


def encode_words_windowed(model: NerModel, sentences: Sequence[Sequence[str]], size: int, stride: int | None = None,
                          batch_size: int = 64, amp: torch.dtype | None = None) -> list[Tensor]:
    """:func:`encode_words` with the encoder reading overlapping windows of at most `size` words (every
    `stride`, default ``size // 2``) instead of whole sentences; each word keeps its vector from the window
    in which it lies farthest from an edge. Sentences of at most `size` words are read whole."""
    step = stride or max(1, size // 2)
    pieces: list[list[str]] = []
    plan: list[list[tuple[int, int]]] = []  # per sentence: (piece index, first word) of its windows
    for words in sentences:
        n = len(words)
        starts = [0] if n <= size else [*range(0, n - size, step), n - size]
        plan.append([(len(pieces) + k, a) for k, a in enumerate(starts)])
        pieces += [list(words[a:a + size]) for a in starts]
    encoded = encode_words(model, pieces, batch_size, amp)
    out = []
    for words, windows in zip(sentences, plan, strict=True):
        n = len(words)
        vec = torch.zeros(n, model.encoder.hidden_size)
        best = torch.full((n,), -1)
        for piece, a in windows:
            m = len(pieces[piece])
            local = torch.arange(m)
            depth = torch.minimum(local, m - 1 - local)
            better = depth > best[a:a + m]
            vec[a:a + m][better] = encoded[piece][better]
            best[a:a + m] = torch.where(better, depth, best[a:a + m])
        out.append(vec)
    return out


def as_trained(model: NerModel) -> GridVariant:
    """The head as `predict_entities` runs it (on a band for long batches)."""
    return lambda head, words, mask: head.run(words, mask, True, model.max_entity_words)[0]


def masked_grid(head: RelationNetwork, words: Tensor, word_mask: Tensor, keep: Tensor) -> Tensor:
    """Grid logits with every cell outside ``keep`` (``[W, W]`` or ``[B, W, W]`` bool) treated as padding:
    never computed, zero between conv layers, zero logits (decoded as NONE)."""
    batch, num_words, _ = words.shape
    mask2d = word_mask[:, :, None] & word_mask[:, None, :] & keep.to(words.device)
    cells = mask2d.reshape(-1).nonzero(as_tuple=True)[0]
    if cells.shape[0] == 0:
        return words.new_zeros(batch, num_words, num_words, head.num_labels)
    act = F.gelu(head.project_cells(words, word_mask, cells))
    grid = act.new_zeros(batch * num_words * num_words, act.shape[-1]).index_copy(0, cells, act)
    parts = head.conv(grid.view(batch, num_words, num_words, -1), mask2d, cells)
    return head.outputs_at(words, parts, cells)[0]


def band(k: int) -> GridVariant:
    """Cells with ``|i - j| > k`` are padding: the conv never reads far-from-diagonal cells."""
    def run(head: RelationNetwork, words: Tensor, mask: Tensor) -> Tensor:
        idx = torch.arange(words.shape[1], device=words.device)
        return masked_grid(head, words, mask, (idx[:, None] - idx[None, :]).abs() <= k)
    return run


def windowed(size: int, stride: int | None = None) -> GridVariant:
    """The grid of overlapping windows of ``size`` words (every ``stride``, default ``size // 2``) of the
    word vectors; each cell takes its logits from the window in which it lies farthest from an edge.
    Cells further than ``size - 1`` from the diagonal get none (NONE)."""
    step = stride or max(1, size // 2)

    def run(head: RelationNetwork, words: Tensor, mask: Tensor) -> Tensor:
        batch, num_words, _ = words.shape
        if num_words <= size:
            return head(words, mask, DECODED_OFFSET)[0]
        logits = words.new_zeros(batch, num_words, num_words, head.num_labels)
        best = torch.full((num_words, num_words), -1, dtype=torch.long)
        local = torch.arange(size)
        depth = torch.minimum(local, size - 1 - local)
        depth = torch.minimum(depth[:, None], depth[None, :])  # how far a cell is from the window's edge
        for a in [*range(0, num_words - size, step), num_words - size]:
            win = head(words[:, a:a + size], mask[:, a:a + size], DECODED_OFFSET)[0]
            better = depth > best[a:a + size, a:a + size]
            logits[:, a:a + size, a:a + size][:, better] = win[:, better]
            best[a:a + size, a:a + size] = torch.where(better, depth, best[a:a + size, a:a + size])
        return logits
    return run


@contextlib.contextmanager
def clamped_distances(head: RelationNetwork, cap: int) -> Iterator[None]:
    """Within the block every offset ``|i - j| >= 2**(cap - 1)`` uses the distance embedding of bucket
    ``cap`` (sign kept), as if no pair were farther apart than that bucket."""
    weight = head.dist_emb.weight
    saved = weight.detach().clone()
    with torch.no_grad():
        for b in range(cap + 1, 10):
            weight[b] = saved[cap]
            weight[b + 9] = saved[cap + 9]
    try:
        yield
    finally:
        with torch.no_grad():
            weight.copy_(saved)


def clamped(cap: int, inner: GridVariant | None = None) -> GridVariant:
    """`inner` (default: the full grid) with the distance embeddings clamped at bucket `cap`."""
    def run(head: RelationNetwork, words: Tensor, mask: Tensor) -> Tensor:
        with clamped_distances(head, cap):
            return inner(head, words, mask) if inner else head(words, mask, DECODED_OFFSET)[0]
    return run


def grid_variant(spec: str, model: NerModel) -> GridVariant:
    """``model`` (as trained), ``full``, ``window:SIZE[:STRIDE]``, ``band:K`` or ``clamp:B``."""
    m = re.fullmatch(r"(model|full)|window:(\d+)(?::(\d+))?|band:(\d+)|clamp:([1-9])", spec)
    if m is None:
        raise UserError(f"--variants: unknown grid variant {spec!r} (model, full, window:SIZE[:STRIDE], band:K, clamp:B)")
    if spec == "model":
        return as_trained(model)
    if model.head.name != "relation":
        raise UserError(f"--variants {spec}: grid variants need a relation-head model, not the {model.head.name} head")
    if spec == "full":
        return lambda head, words, mask: head(words, mask, DECODED_OFFSET)[0]
    if m.group(2):
        return windowed(int(m.group(2)), int(m.group(3)) if m.group(3) else None)
    if m.group(4):
        return band(int(m.group(4)))
    return clamped(int(m.group(5)))


def _padded(vectors: Sequence[Tensor], device: torch.device) -> tuple[Tensor, Tensor]:
    width = max(len(v) for v in vectors)
    words = torch.zeros(len(vectors), width, vectors[0].shape[-1])
    mask = torch.zeros(len(vectors), width, dtype=torch.bool)
    for b, v in enumerate(vectors):
        words[b, : len(v)] = v
        mask[b, : len(v)] = True
    return words.to(device), mask.to(device)


@torch.inference_mode()
def head_logits(model: NerModel, vectors: Sequence[Tensor], variant: GridVariant | None = None,
                batch_size: int = 64, max_cells: int = 2**18) -> Iterator[tuple[list[int], Tensor, Tensor]]:
    """``(indices, logits, word_mask)`` per batch of word vectors, the head run as `variant` says
    (default: as trained). Empty sentences are skipped."""
    variant = variant or as_trained(model)
    todo = [i for i, v in enumerate(vectors) if len(v)]
    for chunk in length_batches([len(vectors[i]) for i in todo], batch_size, max_cells):
        idx = [todo[k] for k in chunk]
        words, mask = _padded([vectors[i] for i in idx], model.device)
        yield idx, variant(model.head, words, mask), mask


def head_entities(model: NerModel, vectors: Sequence[Tensor], variant: GridVariant | None = None,
                  batch_size: int = 64) -> list[list[Entity]]:
    """Decoded entities of every sentence from its word vectors, the head run as `variant` says."""
    result: list[list[Entity]] = [[] for _ in vectors]
    for idx, logits, mask in head_logits(model, vectors, variant, batch_size):
        for i, ents in zip(idx, model.decode(NerOutput(logits, mask, logits.new_zeros(0), None)), strict=True):
            result[i] = ents
    return result


def gold_margins(model: NerModel, logits: Tensor, tags: Sequence[str], offset: int = 0,
                 kind: str = "all") -> list[float]:
    """``logit(gold) - logit(no entity)`` at the gold positions of `tags` placed at word `offset` of one
    sentence's logits: the NNW and THW cells of a relation grid ``[W, W, C]`` (against NONE; `kind`
    ``nnw`` or ``thw``: those cells only), the entity words of a token head's ``[W, T]`` (against O)."""
    if model.head.name == "relation":
        grid = tags_to_grid(tags, model.relation_schema)
        rows, cols = np.nonzero(grid != NONE_ID)
        if kind != "all":
            keep = rows >= cols if kind == "thw" else rows < cols
            rows, cols = rows[keep], cols[keep]
        if not len(rows):
            return []
        cells = logits[torch.as_tensor(rows) + offset, torch.as_tensor(cols) + offset].float().cpu()
        gold = torch.as_tensor(grid[rows, cols])
    else:
        ids = model.tag_schema.tag_to_id
        words = [k for k, t in enumerate(tags) if t != "O"]
        if not words:
            return []
        cells = logits[torch.as_tensor(words) + offset].float().cpu()
        gold = torch.as_tensor([ids[tags[k]] for k in words])
    return (cells.gather(1, gold[:, None])[:, 0] - cells[:, 0]).tolist()


def path_logits(head: RelationNetwork, conv_words: Tensor, biaffine_words: Tensor, mask: Tensor) -> Tensor:
    """Full-grid logits whose conv path (CLN, distance and region embeddings, convs, co-predictor MLP)
    reads `conv_words` and whose biaffine path reads `biaffine_words`; equal to the head's
    logits when both are the same."""
    batch, num_words, _ = conv_words.shape
    mask2d = mask[:, :, None] & mask[:, None, :]
    cells = mask2d.reshape(-1).nonzero(as_tuple=True)[0]
    act = F.gelu(head.project_cells(conv_words, mask, cells))
    grid = act.new_zeros(batch * num_words * num_words, act.shape[-1]).index_copy(0, cells, act)
    parts = head.conv(grid.view(batch, num_words, num_words, -1), mask2d, cells)
    return head.outputs_at(biaffine_words, parts, cells)[0]


def biaffine_logits(head: RelationNetwork, words: Tensor) -> Tensor:
    """The biaffine path's share of the logits ``[B, W, W, C]`` (the rest is the conv path's)."""
    return head.biaffine(head.head_mlp(words), head.tail_mlp(words))


def _paired(conv_side: bool) -> GridVariant:
    """For words ``[B, W, 2H]`` (two sets of vectors side by side): the conv path reads one half (the first
    when `conv_side`), the biaffine path the other."""
    def run(head: RelationNetwork, words: Tensor, mask: Tensor) -> Tensor:
        a, b = words.chunk(2, dim=-1)
        return path_logits(head, a, b, mask) if conv_side else path_logits(head, b, a, mask)
    return run


# --- the embedding test ------------------------------------------------------------------------


@dataclass
class Case:
    """One target sentence inside a long input: words ``start .. start + size - 1`` of `tokens`."""

    tokens: list[str]
    tags: list[str]
    target: int
    start: int
    size: int
    position: str

    @property
    def total(self) -> int:
        return len(self.tokens)


def _stream(pool: Sequence[Sentence], need: int, rng: random.Random, separator: str | None,
            lead: bool) -> tuple[list[str], list[str]]:
    """At least `need` words of whole pool sentences (a separator between them, and before the first one
    when `lead`)."""
    toks: list[str] = []
    tags: list[str] = []
    while len(toks) < need:
        t, g = pool[rng.randrange(len(pool))]
        if separator is not None and (toks or lead):
            toks.append(separator)
            tags.append("O")
        toks += t
        tags += g
    return toks, tags


def embedding_cases(targets: Sequence[Sentence], fillers: Sequence[Sentence], *,
                    lengths: Sequence[int] = EMBED_LENGTHS, positions: Sequence[str] = EMBED_POSITIONS,
                    seed: int = 0, separator: str | None = ".") -> list[Case]:
    """Every target at every (length, position) it fits: ``start`` (offset 0), ``middle`` or ``end``, or
    an offset given as digits; the rest of the input is filler sentences (joined by `separator`) cut to size.
    Cut fillers keep valid IOB2 (an entity cut in two keeps its inside part)."""
    if not fillers:
        raise ValueError("the embedding test needs filler sentences")
    rng = random.Random(seed)
    cases = []
    for k, (tokens, tags) in enumerate(targets):
        n = len(tokens)
        for total in lengths:
            for pos in positions:
                if n > total:
                    continue
                start = {"start": 0, "middle": (total - n) // 2, "end": total - n}.get(pos)
                if start is None:
                    if not pos.isdigit():
                        raise ValueError(f"position {pos!r}: start, middle, end or an offset")
                    start = int(pos)
                    if start + n > total:
                        continue
                pre_t, pre_g = _stream(fillers, start, rng, separator, lead=False)
                post_t, post_g = _stream(fillers, total - start - n, rng, separator, lead=True)
                if separator is not None and start:
                    pre_t, pre_g = [*pre_t, separator], [*pre_g, "O"]
                pre_t, pre_g = pre_t[len(pre_t) - start:], pre_g[len(pre_g) - start:]
                after = total - start - n
                words = [*pre_t, *tokens, *post_t[:after]]
                gold = [*pre_g, *tags, *post_g[:after]]
                gold = entities_to_tags(tags_to_entities(gold, strict=False), len(gold))
                cases.append(Case(words, gold, k, start, n, pos))
    return cases


def _inside(ents: Sequence[Entity], start: int, size: int) -> set[tuple[int, int, str]]:
    return {(e.start - start, e.last - start, e.type) for e in ents if e.start >= start and e.last < start + size}


def embedding_test(model: NerModel, targets: Sequence[Sentence], cases: Sequence[Case], *,
                   variants: Mapping[str, GridVariant] | None = None, batch_size: int = 64,
                   amp: torch.dtype | None = None) -> dict[str, Any]:
    """Recall of the targets' entities alone and in `cases` under these conditions, all from one
    encoder pass over the targets alone and one over the cases:

    * ``alone``, ``embedded``: the model as it runs, on the target alone and on the long input;
    * ``encoder_alone``: the long input, the target's word vectors replaced by those it has alone;
    * ``mean_restored``: the long input, the target's word vectors shifted by one vector, the difference
      of their means alone and embedded (what is left of the shift is word by word);
    * ``global_restored`` / ``global_added``: the long input minus / the target alone plus the shift
      common to all targets at that length and position (:func:`common_shifts`, cross-fitted);
    * relation head: ``grid_alone`` (the head on the target's slice of the long input's vectors),
      ``conv_alone`` / ``biaffine_alone`` (one path of the head reads the spliced vectors of
      ``encoder_alone``, the other the long input's), and `variants` (grid variants on the long input).

    Per case records (``tp_<condition>``, the cosine of the target's word vectors alone and embedded,
    the mean logit margin at its gold positions) and :func:`embedding_tables`."""
    relation = model.head.name == "relation"
    alone = encode_words(model, [t for t, _ in targets], batch_size, amp)
    embedded = encode_words(model, [c.tokens for c in cases], batch_size, amp)
    sliced = [v[c.start:c.start + c.size] for v, c in zip(embedded, cases, strict=True)]
    spliced = [torch.cat([v[:c.start], alone[c.target], v[c.start + c.size:]])
               for v, c in zip(embedded, cases, strict=True)]
    restored = [torch.cat([v[:c.start], s + (alone[c.target].mean(0) - s.mean(0)), v[c.start + c.size:]])
                for v, s, c in zip(embedded, sliced, cases, strict=True)]
    shift, shift_stats = common_shifts(cases, alone, sliced)
    gold = [{(e.start, e.last, e.type) for e in tags_to_entities(g, strict=False)} for _, g in targets]
    alone_pred = head_entities(model, alone, batch_size=batch_size)
    runs: dict[str, tuple[Sequence[Tensor], GridVariant | None, bool]] = {
        "embedded": (embedded, None, True), "encoder_alone": (spliced, None, True),
        "mean_restored": (restored, None, True),
        "global_restored": ([v - d for v, d in zip(embedded, shift, strict=True)], None, True),
        "global_added": ([alone[c.target] + d for c, d in zip(cases, shift, strict=True)], None, False)}
    if relation:
        both = [torch.cat([a, b], -1) for a, b in zip(spliced, embedded, strict=True)]
        runs.update({"grid_alone": (sliced, None, False), "conv_alone": (both, _paired(True), True),
                     "biaffine_alone": (both, _paired(False), True)})
    for name, variant in (variants or {}).items():
        runs[name] = (embedded, variant, True)
    records: list[dict[str, Any]] = [
        {"target": c.target, "total": c.total, "start": c.start, "size": c.size, "position": c.position,
         "gold": len(gold[c.target]), "tp_alone": len(gold[c.target] & _inside(alone_pred[c.target], 0, c.size)),
         "cosine": float(F.cosine_similarity(s, alone[c.target], dim=-1).mean())}
        for c, s in zip(cases, sliced, strict=True)]
    for name, (vectors, variant, offset_in_case) in runs.items():
        pred = head_entities(model, vectors, variant, batch_size)
        for rec, c, ents in zip(records, cases, pred, strict=True):
            rec[f"tp_{name}"] = len(gold[c.target] & _inside(ents, c.start if offset_in_case else 0, c.size))
    _add_margins(model, targets, cases, records, alone, embedded, batch_size)
    return {"conditions": ["alone", *runs], "tables": embedding_tables(records, ["alone", *runs]),
            "shift": shift_stats, "records": records}


def common_shifts(cases: Sequence[Case], alone: Sequence[Tensor],
                  sliced: Sequence[Tensor]) -> tuple[list[Tensor], list[dict[str, Any]]]:
    """The shift common to all embedded word vectors: per (total length, position), the mean over cases
    and words of ``h_embedded - h_alone``, estimated on the other half of the targets (even / odd target
    index: cross-fitted, so no case is corrected with its own shift). Returns that shift per case and,
    per (total, position), ``norm_alone`` (mean |h| alone), ``word_shift`` (mean |h_emb - h_alone|),
    ``common_shift`` (|mean shift|) and ``common_share`` (``common_shift^2 / mean |h_emb - h_alone|^2``:
    how much of the change one vector explains)."""
    sums: dict[tuple[int, str, int], list[Any]] = {}
    for c, s in zip(cases, sliced, strict=True):
        acc = sums.setdefault((c.total, c.position, c.target % 2), [0.0, 0])
        acc[0] = acc[0] + (s - alone[c.target]).sum(0)
        acc[1] += len(s)
    shifts = []
    for c in cases:
        other = sums.get((c.total, c.position, 1 - c.target % 2)) or sums[(c.total, c.position, c.target % 2)]
        shifts.append(other[0] / other[1])
    stats = []
    for total, pos in sorted({(c.total, c.position) for c in cases}):
        diffs = torch.cat([s - alone[c.target] for c, s in zip(cases, sliced, strict=True)
                           if (c.total, c.position) == (total, pos)])
        norms = torch.cat([alone[c.target] for c in cases if (c.total, c.position) == (total, pos)]).norm(dim=-1)
        common = diffs.mean(0)
        stats.append({"total": total, "position": pos, "norm_alone": float(norms.mean()),
                      "word_shift": float(diffs.norm(dim=-1).mean()), "common_shift": float(common.norm()),
                      "common_share": float(common.pow(2).sum() / diffs.pow(2).sum(-1).mean())})
    return shifts, stats


def _margins(model: NerModel, vectors: Sequence[Tensor], tags: Callable[[int], Sequence[str]],
             offset: Callable[[int], int], batch_size: int) -> dict[int, dict[str, float]]:
    """Per sentence index: the mean gold margin (:func:`gold_margins`) and, relation head, its biaffine
    share, of the full-grid logits."""
    relation = model.head.name == "relation"
    variant = grid_variant("full", model) if relation else None
    out: dict[int, dict[str, float]] = {}
    for idx, logits, _ in head_logits(model, vectors, variant, batch_size):
        if relation:
            words, _ = _padded([vectors[i] for i in idx], model.device)
            with torch.inference_mode():
                share = biaffine_logits(model.head, words)
        for b, i in enumerate(idx):
            m = gold_margins(model, logits[b], tags(i), offset(i))
            if m:
                out[i] = {"margin": float(np.mean(m))}
                if relation:
                    out[i]["biaffine"] = float(np.mean(gold_margins(model, share[b], tags(i), offset(i))))
                    for kind in ("thw", "nnw"):
                        part = gold_margins(model, logits[b], tags(i), offset(i), kind)
                        if part:
                            out[i][kind] = float(np.mean(part))
    return out


def _add_margins(model: NerModel, targets: Sequence[Sentence], cases: Sequence[Case],
                 records: list[dict[str, Any]], alone: Sequence[Tensor], embedded: Sequence[Tensor],
                 batch_size: int) -> None:
    """Each record's mean gold margin alone and embedded (``margin_*``; relation head: the biaffine path's
    share, ``biaffine_margin_*``, and the THW and NNW cells apart, ``thw_margin_*``, ``nnw_margin_*``)."""
    first = _margins(model, alone, lambda i: targets[i][1], lambda i: 0, batch_size)
    second = _margins(model, embedded, lambda i: targets[cases[i].target][1], lambda i: cases[i].start, batch_size)
    for i, rec in enumerate(records):
        a, e = first.get(rec["target"]), second.get(i)
        if a is None or e is None:
            continue
        rec["margin_alone"], rec["margin_embedded"] = a["margin"], e["margin"]
        for key in ("biaffine", "thw", "nnw"):
            if key in a and key in e:
                rec[f"{key}_margin_alone"], rec[f"{key}_margin_embedded"] = a[key], e[key]


def embedding_tables(records: Sequence[Mapping[str, Any]], conditions: Sequence[str],
                     offset_edges: Sequence[int] = OFFSET_EDGES) -> dict[str, list[dict[str, Any]]]:
    """Target recall under every condition by (total length, position) and by target offset bucket,
    with the mean word-vector cosine and (relation head) the mean margins of those cases."""
    def row(key: dict[str, Any], recs: list[Mapping[str, Any]]) -> dict[str, Any]:
        g = sum(r["gold"] for r in recs)
        out = {**key, "cases": len(recs), "gold": g}
        for c in conditions:
            out[f"recall_{c}"] = sum(r[f"tp_{c}"] for r in recs) / g if g else 0.0
        out["cosine"] = float(np.mean([r["cosine"] for r in recs]))
        for m in [f"{p}margin_{w}" for p in ("", "biaffine_", "thw_", "nnw_") for w in ("alone", "embedded")]:
            vals = [r[m] for r in recs if r.get(m) is not None]
            if vals:
                out[m] = float(np.mean(vals))
        return out

    by_total: dict[tuple[int, str], list[Mapping[str, Any]]] = {}
    by_offset: dict[int, list[Mapping[str, Any]]] = {}
    for r in records:
        by_total.setdefault((r["total"], r["position"]), []).append(r)
        by_offset.setdefault(bucket_of(r["start"], offset_edges), []).append(r)
    labels = bucket_labels(offset_edges)
    return {"by_total_position": [row({"total": t, "position": p}, v) for (t, p), v in sorted(by_total.items())],
            "by_offset": [row({"bucket": labels[k]}, v) for k, v in sorted(by_offset.items())]}


# --- the report --------------------------------------------------------------------------------


def length_report(model: NerModel, sentences: Sequence[Sentence], *, variants: Sequence[str] = ("model",),
                  encoder_windows: Sequence[int] = (), keep_unknown: bool = False, batch_size: int = 64,
                  amp: torch.dtype | None = None,
                  embed: int = 0, embed_lengths: Sequence[int] = EMBED_LENGTHS, embed_max_words: int = 12,
                  seed: int = 0) -> dict[str, Any]:
    """Recall tables under every grid variant (encoder run once) and with the encoder on windows of each of
    `encoder_windows` words (:func:`encode_words_windowed`); with `embed` > 0, the embedding test
    on the first `embed` sentences of at most `embed_max_words` words with an entity (fillers: the others)."""
    dropped: dict[str, int] = {}
    gold = []
    for _, tags in sentences:
        kept = list(tags) if keep_unknown else keep_types(tags, model.entity_types)
        for e in tags_to_entities(tags, strict=False):
            if e.type not in model.entity_types and not keep_unknown:
                dropped[e.type] = dropped.get(e.type, 0) + 1
        gold.append(kept)
    runs = {spec: grid_variant(spec, model) for spec in variants}  # a wrong spec fails before any work
    vectors = encode_words(model, [t for t, _ in sentences], batch_size, amp)
    tables = {spec: recall_tables(gold, head_entities(model, vectors, run, batch_size)) for spec, run in runs.items()}
    for size in encoder_windows:  # the encoder on windows, the head as trained
        windowed_vectors = encode_words_windowed(model, [t for t, _ in sentences], size, batch_size=batch_size, amp=amp)
        tables[f"encoder-window:{size}"] = recall_tables(gold, head_entities(model, windowed_vectors, None, batch_size))
    report: dict[str, Any] = {"head": model.head.name, "n_sentences": len(sentences),
                              "mean_words": float(np.mean([len(t) for t, _ in sentences])),
                              "types_counted_as_o": dropped, "variants": tables}
    if embed:
        pairs = list(zip([t for t, _ in sentences], gold, strict=True))
        short = [k for k, (t, g) in enumerate(pairs) if len(t) <= embed_max_words and any(x != "O" for x in g)][:embed]
        chosen = set(short)
        fillers = [p for k, p in enumerate(pairs) if k not in chosen] or pairs
        targets = [pairs[k] for k in short]
        cases = embedding_cases(targets, fillers, lengths=embed_lengths, seed=seed)
        extra = {spec: run for spec, run in runs.items() if spec not in ("model", "full")}
        report["embedding"] = {"targets": len(targets), "cases": len(cases),
                               **embedding_test(model, targets, cases, variants=extra, batch_size=batch_size, amp=amp)}
        report["embedding"].pop("records")
    return report


def plot_report(report: Mapping[str, Any], path: Path, title: str = "") -> None:
    """Recall by sentence length, by entity offset and by edge distance (a line per grid variant), and the
    embedding test's target recall by input length (a line per condition) when there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("by_length", "sentence length (words)"), ("by_offset", "entity start offset (words)"),
              ("by_edge_distance", "distance to nearer sentence edge (words)")]
    embed = report.get("embedding")
    fig, axes = plt.subplots(1, len(panels) + bool(embed), figsize=(4.4 * (len(panels) + bool(embed)), 4.0))
    for ax, (key, label) in zip(axes, panels, strict=False):
        for spec, tables in report["variants"].items():
            rows = tables[key]
            ax.plot([r["bucket"] for r in rows], [100 * r["recall"] if r["gold"] else float("nan") for r in rows],
                    marker="o", label=spec)  # a bucket without gold entities has no recall: a gap
        ax.set_xlabel(label)
        ax.set_ylabel("entity recall (%)")
        ax.set_ylim(0, 100)
        ax.tick_params(axis="x", labelsize=7)
    axes[0].legend(fontsize=7)
    if embed:
        ax = axes[-1]
        rows = embed["tables"]["by_total_position"]
        totals = sorted({r["total"] for r in rows})
        for cond in embed["conditions"]:
            pooled = []
            for t in totals:
                sel = [r for r in rows if r["total"] == t]
                gold = sum(r["gold"] for r in sel)
                pooled.append(100 * sum(r[f"recall_{cond}"] * r["gold"] for r in sel) / gold if gold else 0.0)
            ax.plot(totals, pooled, marker=".", label=cond, linestyle="--" if cond == "alone" else "-")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("input length, target embedded (words; positions pooled)")
        ax.set_ylabel("target entity recall (%)")
        ax.set_ylim(0, 100)
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ner.diagnostics.lengths",
                                description="Entity recall by sentence length and position, and where it goes.")
    p.add_argument("model", help="run, model or export directory")
    p.add_argument("--lang", help="PAN-X language (its --split is read unless --file is given)")
    p.add_argument("--file", help="labelled file (PAN-X TSV or CoNLL)")
    p.add_argument("--format", default="auto", choices=("auto", "panx", "conll"))
    p.add_argument("--encoding", default=None, help="of --file (default utf-8)")
    p.add_argument("--split", default="dev")
    p.add_argument("--limit", type=int, default=None, help="first N sentences")
    p.add_argument("--out", required=True, help="directory for lengths.json and lengths.png")
    p.add_argument("--variants", nargs="+", default=["model"],
                   help="grid variants: model, full, window:SIZE[:STRIDE], band:K, clamp:B (default: model)")
    p.add_argument("--encoder-windows", type=int, nargs="+", default=[],
                   help="also run the encoder on overlapping windows of N words (the head as trained)")
    p.add_argument("--embed", type=int, default=0, help="embedding test on N short sentences (0: off)")
    p.add_argument("--embed-lengths", type=int, nargs="+", default=list(EMBED_LENGTHS))
    p.add_argument("--keep-unknown", action="store_true",
                   help="count gold entities of types the model lacks as misses instead of O")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--amp", default="off", choices=("auto", "off", "bf16", "fp16"))
    p.add_argument("--device", default="auto")
    p.add_argument("--data-root", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_main)
    return p


def _main(args: argparse.Namespace) -> int:
    sentences = read_sentences(args.file, args.lang, fmt=args.format, encoding=args.encoding, split=args.split,
                               limit=args.limit, data_root=args.data_root)
    model = load_model(args.model, resolve_device(args.device))
    amp = inference_amp(args.amp, model.device)
    report = length_report(model, sentences, variants=args.variants, encoder_windows=args.encoder_windows,
                           keep_unknown=args.keep_unknown,
                           batch_size=args.batch_size, amp=amp, embed=args.embed, embed_lengths=args.embed_lengths,
                           seed=args.seed)
    report = {"model": str(args.model), "lang": args.lang, "file": args.file, **report}
    out = Path(args.out)
    atomic_write_json(out / "lengths.json", report)
    plot_report(report, out / "lengths.png", title=f"{args.model}: {args.file or args.lang}")
    for spec, tables in report["variants"].items():
        cells = "  ".join(f"{r['bucket']}: {100 * r['recall']:.1f} ({r['gold']})" for r in tables["by_length"])
        print(f"{spec:<12} recall {100 * tables['overall']['recall']:.1f}  by length  {cells}")
    print(f"wrote {out / 'lengths.json'} and {out / 'lengths.png'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["Case", "as_trained", "band", "biaffine_logits", "bucket_labels", "bucket_of", "clamped",
           "clamped_distances", "common_shifts", "embedding_cases", "embedding_tables", "embedding_test",
           "encode_words", "encode_words_windowed", "gold_margins", "grid_variant", "head_entities", "head_logits",
           "keep_types", "length_report", "masked_grid", "path_logits", "plot_report",
           "read_sentences", "recall_tables", "windowed"]
