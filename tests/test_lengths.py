"""ner.diagnostics.lengths: the tables add up, the embedding cases are what they claim, and the grid
variants are the full grid where they should be (tiny real models, real PAN-X sentences)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ner.diagnostics import lengths as L
from ner.inference.loading import load_model
from ner.inference.tagging import predict_entities
from ner.model.config import ModelConfig
from ner.model.grid import tags_to_entities
from ner.model.ner_model import NerModel


@pytest.fixture(scope="module")
def sentences(data_root: Path) -> list[L.Sentence]:
    return L.read_sentences(data_root / "panx" / "dev-en.tsv", limit=120)


@pytest.fixture(scope="module")
def relation_model(tiny_encoder: Path) -> NerModel:
    torch.manual_seed(0)
    cfg = ModelConfig(encoder=str(tiny_encoder), max_subwords=64, dist_emb=8, region_emb=8, conv_hidden=16,
                      biaffine_size=32, ffn_size=32, proj_dim=16)
    model = NerModel(cfg, ["LOC", "ORG", "PER"]).eval()
    with torch.no_grad():  # a random head predicts nothing; this bias makes it predict many spans
        model.head.pair_out.bias.copy_(torch.tensor([0.0, 0.6, 0.4, 0.4, 0.4]))
    return model


def test_tables_add_up_and_match_prediction(token_run: Path, sentences: list[L.Sentence]) -> None:
    model = load_model(token_run)
    tokens = [t for t, _ in sentences]
    pred = L.head_entities(model, L.encode_words(model, tokens))
    assert pred == predict_entities(model, tokens)  # the two halves are the tagging path
    assert sum(map(len, pred)) > 0
    tables = L.recall_tables([g for _, g in sentences], pred)
    overall = tables["overall"]
    assert overall["n_sentences"] == len(sentences)
    assert overall["gold"] == sum(len(tags_to_entities(g)) for _, g in sentences)
    assert [r["bucket"] for r in tables["by_length"]] == ["<=10", "11-25", "26-50", ">50"]
    assert [r["bucket"] for r in tables["by_edge_distance"]] == ["0", "1-2", "3-5", "6-9", "10-19", ">=20"]
    assert sum(r["n_sentences"] for r in tables["by_length"]) == len(sentences)
    assert sum(r["words"] for r in tables["by_length"]) == sum(len(t) for t in tokens)
    for key in ("by_length", "by_offset", "by_edge_distance"):
        for count in ("gold", "predicted", "tp"):
            assert sum(r[count] for r in tables[key]) == overall[count], (key, count)
    for count in ("gold", "predicted", "tp"):
        for k, row in enumerate(tables["by_length"]):
            assert sum(t[k][count] for t in tables["by_type_length"].values()) == row[count]
    short = [s for s in sentences if len(s[0]) <= 10]
    assert tables["by_length"][0]["n_sentences"] == len(short)


def test_encoder_windows(token_run: Path, sentences: list[L.Sentence]) -> None:
    model = load_model(token_run)
    tokens = [t for t, _ in sentences[:30]]
    whole = L.encode_words(model, tokens)
    same = L.encode_words_windowed(model, tokens, max(map(len, tokens)))
    assert all(torch.equal(a, b) for a, b in zip(whole, same, strict=True))
    small = L.encode_words_windowed(model, tokens, 4)
    assert [len(v) for v in small] == [len(t) for t in tokens]
    long = next(k for k, t in enumerate(tokens) if len(t) > 6)
    assert torch.allclose(small[long][:2], L.encode_words(model, [tokens[long][:4]])[0][:2], atol=1e-5)
    assert not torch.allclose(small[long], whole[long], atol=1e-3)


def test_keep_types_makes_unknown_types_o() -> None:
    tags = ["B-MISC", "I-MISC", "O", "B-PER", "I-PER", "B-MISC"]
    assert L.keep_types(tags, ["LOC", "ORG", "PER"]) == ["O", "O", "O", "B-PER", "I-PER", "O"]


def test_embedding_cases_place_the_target(sentences: list[L.Sentence]) -> None:
    targets = [s for s in sentences if len(s[0]) <= 8][:5]
    cases = L.embedding_cases(targets, sentences, lengths=(16, 40), positions=("start", "middle", "end", "7"))
    assert len(cases) == len(targets) * 2 * 4
    for c in cases:
        tokens, tags = targets[c.target]
        assert c.total == len(c.tags) and c.total in (16, 40)
        assert c.tokens[c.start:c.start + c.size] == tokens and c.tags[c.start:c.start + c.size] == tags
        assert c.start == {"start": 0, "middle": (c.total - c.size) // 2, "end": c.total - c.size, "7": 7}[c.position]
        tags_to_entities(c.tags, strict=True)  # cut fillers stay valid IOB2


def test_grid_variants_equal_the_full_grid_where_they_must(relation_model: NerModel,
                                                           sentences: list[L.Sentence]) -> None:
    model = relation_model
    vectors = L.encode_words(model, [t for t, _ in sentences[:40]])
    full = L.head_entities(model, vectors, L.grid_variant("full", model))
    assert sum(map(len, full)) > 0
    widest = max(len(v) for v in vectors)
    assert L.head_entities(model, vectors, L.grid_variant("model", model)) == full
    assert L.head_entities(model, vectors, L.windowed(widest)) == full
    assert L.head_entities(model, vectors, L.band(widest)) == full
    assert L.head_entities(model, vectors, L.clamped(9)) == full
    weight = model.head.dist_emb.weight.detach().clone()
    assert L.head_entities(model, vectors, L.clamped(2)) != full
    assert torch.equal(model.head.dist_emb.weight, weight)  # restored
    assert L.head_entities(model, vectors, L.windowed(4)) != full

    # keeping every cell is the head's own full grid
    words, mask = L._padded(vectors[:8], model.device)
    with torch.inference_mode():
        kept = L.masked_grid(model.head, words, mask, torch.ones(words.shape[1], words.shape[1], dtype=torch.bool))
        torch.testing.assert_close(kept, model.head(words, mask)[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(L.path_logits(model.head, words, words, mask), kept, atol=1e-5, rtol=1e-5)


def test_embedding_test_conditions(relation_model: NerModel, sentences: list[L.Sentence]) -> None:
    targets = [s for s in sentences if len(s[0]) <= 8 and any(t != "O" for t in s[1])][:6]
    cases = L.embedding_cases(targets, sentences, lengths=(24,), positions=("start", "end"))
    result = L.embedding_test(relation_model, targets, cases, variants={"window:8": L.windowed(8)})
    assert result["conditions"] == ["alone", "embedded", "encoder_alone", "mean_restored", "global_restored",
                                    "global_added", "grid_alone", "conv_alone", "biaffine_alone", "window:8"]
    assert [(r["total"], r["position"]) for r in result["shift"]] == [(24, "end"), (24, "start")]
    assert all(0 <= r["common_share"] <= 1 + 1e-6 and r["word_shift"] > 0 for r in result["shift"])
    rows = result["tables"]["by_total_position"]
    assert sum(r["cases"] for r in rows) == len(cases)
    assert sum(r["gold"] for r in rows) == sum(len(tags_to_entities(targets[c.target][1])) for c in cases)
    for rec in result["records"]:
        assert 0 <= rec["tp_embedded"] <= rec["gold"]
        assert -1.0 <= rec["cosine"] <= 1.0 + 1e-6
        assert {"margin_alone", "margin_embedded", "biaffine_margin_alone", "biaffine_margin_embedded"} <= set(rec)


def test_cli_writes_json_and_png(token_run: Path, data_root: Path, tmp_path: Path) -> None:
    rc = L.main([str(token_run), "--file", str(data_root / "panx" / "dev-en.tsv"), "--limit", "60",
                 "--out", str(tmp_path), "--embed", "4", "--embed-lengths", "16", "32"])
    assert rc == 0
    report = json.loads((tmp_path / "lengths.json").read_text())
    assert report["n_sentences"] == 60 and report["head"] == "token"
    assert report["embedding"]["targets"] == 4
    assert (tmp_path / "lengths.png").stat().st_size > 1000
    assert L.main([str(token_run), "--lang", "en", "--limit", "5", "--out", str(tmp_path), "--variants", "window:8"]) == 2
