"""The fast inference paths give what the straightforward ones give: vectorized decode_grid vs its loop
(random grids with ties and overlaps, with and without a span limit), the relation head's decode-only band
vs the full grid (logits of every decoded cell, entities and scores, on real PAN-X ja/zh sentences with the
tiny encoder, fp32 and bf16), and long sentences on the diagonal band (`ner.model.heads.relation_band`) vs the full
grid; `tests.reference` keeps the plain path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ner.inference.tagging import predict_entities
from ner.model.config import ModelConfig
from ner.model.grid import DECODED_OFFSET, NNW_ID, THW_OFFSET, RelationSchema, decode_grid
from ner.model.heads.relation_band import band_forward, band_pays
from ner.model.ner_model import NerModel
from tests.helpers import panx
from tests.reference import decode_grid_loop, predict_entities_reference

SCHEMA = RelationSchema(("LOC", "ORG", "PER"))


def _key(entities) -> list[tuple[int, int, str, float]]:
    return [(e.start, e.last, e.type, e.score) for e in entities]


@settings(max_examples=400, deadline=None)
@given(n=st.integers(0, 14), seed=st.integers(0, 2**32 - 1), levels=st.sampled_from([3, 8, 0]),
       max_words=st.sampled_from([None, 0, 1, 3, 6]))
def test_vectorized_decode_equals_the_loop(n: int, seed: int, levels: int, max_words: int | None) -> None:
    """Grids dense in THW and NNW cells make many overlapping candidates; `levels` quantizes the
    probabilities so that scores tie (0 = continuous)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, n, SCHEMA.num_labels))
    logits[..., NNW_ID] += np.where(rng.random((n, n)) < 0.6, 3.0, 0.0)
    logits[..., THW_OFFSET:] += np.where(rng.random((n, n, 1)) < 0.4, 3.0, 0.0)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    if levels:
        probs = np.round(probs * levels) / levels
    probs = probs.astype(rng.choice([np.float32, np.float64]))
    fast = decode_grid(probs, SCHEMA, max_words)
    assert _key(fast) == _key(decode_grid_loop(probs, SCHEMA, max_words))
    if max_words:
        assert all(e.last - e.start < max_words for e in fast)


@pytest.fixture(scope="module")
def tiny_model(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> NerModel:
    torch.manual_seed(0)
    encoder = tiny_encoder
    cfg = ModelConfig(encoder=str(encoder), max_subwords=64, dist_emb=8, region_emb=8, conv_hidden=16,
                      biaffine_size=32, ffn_size=32, proj_dim=16)
    model = NerModel(cfg, ["LOC", "ORG", "PER"]).eval()
    with torch.no_grad():  # a random head predicts nothing; a strong NNW/THW bias makes it predict many spans
        model.head.pair_out.bias.copy_(torch.tensor([0.0, 0.6, 0.4, 0.4, 0.4]))
    return model


@pytest.mark.parametrize("lang", ["ja", "zh"])
@pytest.mark.parametrize("amp", [None, torch.bfloat16])
def test_decode_only_band_equals_the_full_grid(tiny_model: NerModel, data_root: Path, lang: str,
                                               amp: torch.dtype | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiny_model, "max_entity_words", 0)  # the whole grid, no diagonal band: bitwise
    sents = [s[0] for s in panx(data_root / "panx" / f"dev-{lang}.tsv", 32)]
    batch = tiny_model.collate(sents)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp is not None):
        full, band = tiny_model(batch), tiny_model(batch, decode_only=True)
    width = full.logits.shape[1]
    i = torch.arange(width)
    decoded = full.word_mask[:, :, None] & full.word_mask[:, None, :] & (i[None, :] - i[:, None] <= DECODED_OFFSET)
    assert torch.equal(full.logits[decoded], band.logits[decoded])  # bitwise: the same arithmetic per cell
    # the plain path: full grid, each sentence's cells gathered and decoded by the loop
    probs = full.logits.float().softmax(-1)
    old = [decode_grid_loop(probs[b, :n, :n].numpy(), tiny_model.relation_schema)
           for b, n in enumerate(full.word_mask.sum(1).tolist())]
    assert sum(map(len, old)) > len(sents)  # the biased head predicts spans to compare
    assert [_key(e) for e in tiny_model.decode(band)] == [_key(e) for e in old]
    # The production path against the path before the band (same length batches, full grid, loop decode)
    new = predict_entities(tiny_model, sents, amp=amp)
    assert [_key(e) for e in new] == [_key(e) for e in predict_entities_reference(tiny_model, sents, amp=amp)]


def _long_sentences(data_root: Path, lang: str, count: int, words: int) -> list[list[str]]:
    """PAN-X sentences joined end to end into `count` sentences of about `words` characters."""
    pool = [t for s in panx(data_root / "panx" / f"dev-{lang}.tsv", 400) for t in s[0]]
    assert len(pool) >= count * words
    return [pool[k * words : (k + 1) * words - 7 * k] for k in range(count)]  # unequal lengths: padding


@pytest.mark.parametrize("lang", ["ja", "zh"])
def test_long_sentences_run_on_the_diagonal_band(tiny_model: NerModel, data_root: Path, lang: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """fp32: the band's logits and pair features at every cell decoding reads equal the full grid's up to
    rounding; entities equal the plain path's with the same span limit; the limit is what changes output.
    A limit of 4 words: the biased tiny head predicts longer spans (5-10 words), which it drops."""
    monkeypatch.setattr(tiny_model, "max_entity_words", 4)
    sents = _long_sentences(data_root, lang, 4, 150)
    batch = tiny_model.collate(sents)
    lowest = 1 - tiny_model.max_entity_words
    with torch.inference_mode():
        full = tiny_model(batch)
        words, mask, _ = tiny_model.encoder(**{k: v for k, v in batch.items() if k != "gold"})
        assert band_pays(tiny_model.head, words.shape[1], lowest, DECODED_OFFSET)
        logits, feats = band_forward(tiny_model.head, words, mask.bool(), lowest, DECODED_OFFSET)
        fast = tiny_model(batch, decode_only=True)
    assert torch.equal(fast.logits, logits)  # decode_only took the band
    width = full.logits.shape[1]
    i = torch.arange(width)
    offset = i[None, :] - i[:, None]
    real = full.word_mask[:, :, None] & full.word_mask[:, None, :]
    read = real & (offset <= DECODED_OFFSET) & (offset >= lowest)
    assert int(read.sum()) < int(real.sum()) / 2  # the band is a small part of these grids
    torch.testing.assert_close(logits[read], full.logits[read], rtol=1e-4, atol=1e-5)
    assert not logits[~read].any()
    b, r, c = read.nonzero(as_tuple=True)
    torch.testing.assert_close(feats.at(b, r, c), full.pair_repr.at(b, r, c), rtol=1e-4, atol=1e-5)
    assert bool((feats.index[~read] < 0).all())

    new = predict_entities(tiny_model, sents)
    old = predict_entities_reference(tiny_model, sents, max_words=tiny_model.max_entity_words)
    assert [[(e.start, e.last, e.type) for e in es] for es in new] == [[(e.start, e.last, e.type) for e in es] for es in old]
    assert [e.score for es in new for e in es] == pytest.approx([e.score for es in old for e in es], abs=1e-5)
    assert sum(map(len, new)) > len(sents)
    unlimited = predict_entities_reference(tiny_model, sents)
    assert max(e.last - e.start + 1 for es in unlimited for e in es) > 4
    assert max(e.last - e.start + 1 for es in new for e in es) <= 4
    monkeypatch.setattr(tiny_model, "max_entity_words", 0)
    assert [_key(e) for e in predict_entities(tiny_model, sents)] == [_key(e) for e in unlimited]
