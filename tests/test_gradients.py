"""Per-term gradient probes, the auxiliary-term balance, and the loss options they motivate."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ner.model.grid import RelationSchema, tags_to_grid
from ner.model.losses import grid_cross_entropy, sample_pairs
from ner.training.gradients import AuxBalance, ramp, term_gradients
from ner.training.loop import train
from tests.helpers import metrics, panx, tiny_config, write_cs_shards

SCHEMA = RelationSchema(("LOC", "PER"))


def test_per_sentence_grid_loss_weighs_sentences_equally() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 4, 3)
    gold = torch.randint(0, 3, (2, 4, 4))
    gold[1, 2:, :] = -100
    gold[1, :, 2:] = -100  # sentence 1 has 2 words: 4 cells, sentence 0 has 16
    cells0 = F.cross_entropy(logits[0].reshape(-1, 3), gold[0].reshape(-1))
    cells1 = F.cross_entropy(logits[1, :2, :2].reshape(-1, 3), gold[1, :2, :2].reshape(-1))
    assert torch.allclose(grid_cross_entropy(logits, gold, "sentence"), (cells0 + cells1) / 2)
    by_cell = (cells0 * 16 + cells1 * 4) / 20
    assert torch.allclose(grid_cross_entropy(logits, gold), by_cell)
    empty = torch.full_like(gold, -100)
    assert float(grid_cross_entropy(logits, empty, "sentence")) == 0.0


def test_equal_grid_loss_weighs_every_cell_the_same_across_lengths() -> None:
    """Two sentences of 2 and 3 words (4 and 9 cells) with uniform logits over 3 classes: every cell's cross
    entropy is log 3, so `equal` is (4 + 9) log 3 / (64 x 2), `cell` log 3, `sentence` log 3."""
    logits = torch.zeros(2, 3, 3, 3)
    gold = torch.zeros(2, 3, 3, dtype=torch.long)
    gold[0, 2, :] = -100
    gold[0, :, 2] = -100
    log3 = math.log(3)
    assert math.isclose(float(grid_cross_entropy(logits, gold, "equal")), 13 * log3 / 128, rel_tol=1e-6)
    assert math.isclose(float(grid_cross_entropy(logits, gold, "cell")), log3, rel_tol=1e-6)
    # With other logits, the long sentence's cells count as much as the short one's: the sum / (64 x 2).
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 3, 3)
    cells = F.cross_entropy(logits.reshape(-1, 3), gold.reshape(-1), ignore_index=-100, reduction="sum")
    assert torch.allclose(grid_cross_entropy(logits, gold, "equal"), cells / 128)
    # A padding-only row is not a sentence of the batch.
    padded = torch.cat([gold, torch.full((1, 3, 3), -100)])
    assert torch.allclose(grid_cross_entropy(torch.cat([logits, logits[:1]]), padded, "equal"), cells / 128)
    with pytest.raises(ValueError, match="unknown grid reduction"):
        grid_cross_entropy(logits, gold, "mean")


def test_balanced_none_sampling_matches_relation_cells() -> None:
    tags = [["B-PER", "I-PER", "O", "O", "O", "O", "O", "O"], ["O"] * 8]
    gold = torch.stack([torch.from_numpy(tags_to_grid(t, SCHEMA)) for t in tags])
    g = torch.Generator().manual_seed(0)
    b, i, j, lab = sample_pairs(gold, 32, g, balanced=True)
    # sentence 0: 2 relation cells (NNW, THW) -> 2 NONE cells; sentence 1: none -> at least 1 NONE.
    assert int(((b == 0) & (lab != 0)).sum()) == 2 and int(((b == 0) & (lab == 0)).sum()) == 2
    assert int(((b == 1) & (lab == 0)).sum()) == 1
    assert bool((gold[b, i, j] == lab).all())
    b2, _, _, lab2 = sample_pairs(gold, 32, torch.Generator().manual_seed(0))
    assert int(((b2 == 0) & (lab2 == 0)).sum()) == 32  # the plain cap


def test_term_gradients_equal_separate_backward_passes() -> None:
    torch.manual_seed(0)
    w = torch.nn.Linear(4, 3)
    x = torch.randn(5, 4)
    out = w(x)
    parts = {"ce_src": out.pow(2).mean(), "ce_cs": out.sum() * 0.1, "semantic": out[:, 0].exp().mean()}
    probe = term_gradients(parts, list(w.parameters()))
    grads = {}
    for name in parts:  # second method: one backward per term, read .grad
        w.zero_grad()
        out2 = w(x)
        {"ce_src": out2.pow(2).mean(), "ce_cs": out2.sum() * 0.1, "semantic": out2[:, 0].exp().mean()}[name].backward()
        grads[name] = torch.cat([p.grad.reshape(-1) for p in w.parameters()])
    for name, g in grads.items():
        assert probe[f"gn_{name}"] == pytest.approx(float(g.norm()), rel=1e-5)
    sup = grads["ce_src"] + grads["ce_cs"]
    assert probe["gn_supervised"] == pytest.approx(float(sup.norm()), rel=1e-5)
    assert probe["gcos_semantic"] == pytest.approx(float(F.cosine_similarity(grads["semantic"], sup, dim=0)), rel=1e-5)


def test_aux_balance_caps_dominating_terms_only() -> None:
    bal = AuxBalance(ratio=0.5)
    bal.update({"gn_supervised": 1.0, "gn_ce_src": 0.8, "gn_semantic": 5.0, "gn_relation": 0.2},
               {"semantic": 1.0, "relation": 1.0})
    assert bal.get("semantic") == pytest.approx(0.1) and bal.get("relation") == 1.0
    # The next probe sees the already-scaled term (0.5): its configured-weight norm is still 5.0.
    bal.update({"gn_supervised": 2.0, "gn_semantic": 0.5}, {"semantic": 0.1})
    assert bal.get("semantic") == pytest.approx(0.2)
    assert AuxBalance(None).get("semantic") == 1.0
    assert [ramp(s, 100, 0.1) for s in (0, 4, 9, 50)] == [0.1, 0.5, 1.0, 1.0]
    assert ramp(0, 100, 0) == 1.0 and ramp(2, 100, 4) == 0.75


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    sents = panx(data_root / "panx" / "train-en.tsv", 32)
    return write_cs_shards(tmp_path_factory.mktemp("shards") / "en-ja", sents, rows_per_shard=16)


def test_training_logs_gradient_probes_and_balances(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory, shards: Path,
                                                    tmp_path: Path) -> None:
    encoder = tiny_encoder
    cfg = tiny_config(encoder, shards, tmp_path / "run", max_steps=4, log_every=2, grad_norm_every=2,
                      aux_grad_ratio=0.01, contrastive_warmup=2, semantic_weight=0.5, relation_weight=0.5)
    rows = metrics(train(cfg))
    probes = [r for r in rows if r.get("type") == "grad_norms"]
    assert [p["step"] for p in probes] == [1, 3]
    for key in ("gn_ce_src", "gn_ce_cs", "gn_semantic", "gn_relation", "gn_supervised", "gcos_semantic"):
        assert key in probes[0]
    assert probes[0]["scale_semantic"] == pytest.approx(0.5)  # warm-up: step 1 of 2
    # The 0.01 ratio scaled every contrastive term down at the first probe; step 3 runs with that scale.
    expected = min(1.0, 0.01 * probes[0]["gn_supervised"] / probes[0]["gn_semantic"] * 0.5)
    assert probes[1]["scale_semantic"] == pytest.approx(expected, rel=1e-3)
    steps = [r for r in rows if "type" not in r]
    assert all(0.0 <= r["clipped"] <= 1.0 and r["grad_norm"] > 0 and r["n_steps"] == 2 for r in steps)


def write_text_pairs(directory: Path, sentences: list[list[str]], lang: str = "ja") -> Path:
    """A `--task text` shard set as docs/shards.md describes it: target sentences switched into English."""
    import hashlib
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from cslib import shard_schema

    directory.mkdir(parents=True, exist_ok=True)
    cs = [[("Tokyo" if k % 2 == 0 else t) for k, t in enumerate(s)] for s in sentences]
    n_sw = [sum(1 for a, b in zip(s, c, strict=True) if a != b) for s, c in zip(sentences, cs, strict=True)]
    table = pa.Table.from_pydict({
        "id": [f"{lang}-en:{i}:0" for i in range(len(sentences))], "src_lang": [lang] * len(sentences),
        "tgt_lang": ["en"] * len(sentences), "src_text": ["".join(s) for s in sentences],
        "cs_text": [" ".join(c) for c in cs], "src_tokens": sentences, "cs_tokens": cs,
        "cs_langs": [[("en" if a != b else lang) for a, b in zip(s, c, strict=True)]
                     for s, c in zip(sentences, cs, strict=True)],
        "cs_src_index": [list(range(len(c))) for c in cs], "method": ["dict"] * len(sentences),
        "n_switched": n_sw,
    }, schema=shard_schema("text"))
    pq.write_table(table, directory / "shard-00000.parquet")
    digest = hashlib.sha256((directory / "shard-00000.parquet").read_bytes()).hexdigest()
    (directory / "manifest.json").write_text(json.dumps({
        "format": "cslib-shards", "format_version": 1, "kind": "text", "src_lang": lang, "tgt_lang": "en",
        "shards": [{"file": "shard-00000.parquet", "rows": len(sentences), "sha256": digest}]}))
    return directory


def test_pair_batch_covers_every_pair_once_per_pass() -> None:
    from ner.data.sampling import pair_batch

    seen = [i for step in range(5) for i in pair_batch(20, 4, step, seed=3)]
    assert sorted(seen) == list(range(20))  # 5 steps x 4 = one pass
    assert pair_batch(20, 4, 7, seed=3) == pair_batch(20, 4, 7, seed=3) != pair_batch(20, 4, 7, seed=4)


def test_target_view_term_trains_and_resumes_exactly(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory, shards: Path,
                                                     data_root: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from ner.data.shards import load_text_pairs

    encoder = tiny_encoder
    ja = [t for t, _ in panx(data_root / "panx" / "train-ja.tsv", 12)] + [["Tokyo", "じ"]]
    pairs = write_text_pairs(tmp_path / "ja-en", ja)
    assert len(load_text_pairs([pairs])) == 12  # the last row is unchanged by the switch: no pair
    cfg = tiny_config(encoder, shards, tmp_path / "a", max_steps=4, save_every=2, target_pairs=[str(pairs)],
                      semantic_target_weight=0.3, semantic_weight=0, relation_weight=0)
    rows = [r for r in metrics(train(cfg)) if "type" not in r]
    assert all(r["semantic_target"] > 0 for r in rows)

    class Stop(Exception):
        pass

    def crash(step: int) -> None:
        if step == 3:
            raise Stop

    b = replace(cfg, out=str(tmp_path / "b"))
    with pytest.raises(Stop):
        train(b, on_step=crash)
    resumed = [r for r in metrics(train(b)) if "type" not in r]
    assert [r["semantic_target"] for r in resumed] == [r["semantic_target"] for r in rows]
