"""The fast inference paths give what the straightforward ones give: vectorized decode_grid vs its loop
(random grids with ties and overlaps), and the relation head's decode-only band vs the full grid (logits of
every decoded cell, entities and scores, on real PAN-X ja/zh sentences with the tiny encoder, fp32 and
bf16; `ner.reference` keeps the old path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ner.grid import DECODED_OFFSET, NNW_ID, THW_OFFSET, RelationSchema, decode_grid
from ner.inference import predict_entities
from ner.model import ModelConfig, NerModel
from ner.reference import decode_grid_loop, predict_entities_reference
from ner.testing import tiny_encoder_dir
from tests.helpers import panx

SCHEMA = RelationSchema(("LOC", "ORG", "PER"))


def _key(entities) -> list[tuple[int, int, str, float]]:
    return [(e.start, e.last, e.type, e.score) for e in entities]


@settings(max_examples=400, deadline=None)
@given(n=st.integers(0, 14), seed=st.integers(0, 2**32 - 1), levels=st.sampled_from([3, 8, 0]))
def test_vectorized_decode_equals_the_loop(n: int, seed: int, levels: int) -> None:
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
    assert _key(decode_grid(probs, SCHEMA)) == _key(decode_grid_loop(probs, SCHEMA))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> NerModel:
    torch.manual_seed(0)
    encoder = tiny_encoder_dir(tmp_path_factory.getbasetemp() / "tiny-encoder", seed=0)
    cfg = ModelConfig(encoder=str(encoder), max_subwords=64, dist_emb=8, region_emb=8, conv_hidden=16,
                      biaffine_size=32, ffn_size=32, proj_dim=16)
    model = NerModel(cfg, ["LOC", "ORG", "PER"]).eval()
    with torch.no_grad():  # a random head predicts nothing; a strong NNW/THW bias makes it predict many spans
        model.head.pair_out.bias.copy_(torch.tensor([0.0, 0.6, 0.4, 0.4, 0.4]))
    return model


@pytest.mark.parametrize("lang", ["ja", "zh"])
@pytest.mark.parametrize("amp", [None, torch.bfloat16])
def test_decode_only_band_equals_the_full_grid(tiny_model: NerModel, data_root: Path, lang: str,
                                               amp: torch.dtype | None) -> None:
    sents = [s[0] for s in panx(data_root / "panx" / f"dev-{lang}.tsv", 32)]
    batch = tiny_model.collate(sents)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp is not None):
        full, band = tiny_model(batch), tiny_model(batch, decode_only=True)
    width = full.logits.shape[1]
    i = torch.arange(width)
    decoded = full.word_mask[:, :, None] & full.word_mask[:, None, :] & (i[None, :] - i[:, None] <= DECODED_OFFSET)
    assert torch.equal(full.logits[decoded], band.logits[decoded])  # bitwise: the same arithmetic per cell
    # the old path: full grid, each sentence's cells gathered and decoded by the loop
    probs = full.logits.float().softmax(-1)
    old = [decode_grid_loop(probs[b, :n, :n].numpy(), tiny_model.relation_schema)
           for b, n in enumerate(full.word_mask.sum(1).tolist())]
    assert sum(map(len, old)) > len(sents)  # the biased head predicts spans to compare
    assert [_key(e) for e in tiny_model.decode(band)] == [_key(e) for e in old]
    # The production path against the path before the band (same length batches, full grid, loop decode)
    new = predict_entities(tiny_model, sents, amp=amp)
    assert [_key(e) for e in new] == [_key(e) for e in predict_entities_reference(tiny_model, sents, amp=amp)]
