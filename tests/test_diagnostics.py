"""`ner diagnose`: each measurement against a value computed by hand or by a second method."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ner.data.records import UnlabeledSentence
from ner.diagnostics import alignment, dynamics, pseudo_labels, relation_space
from ner.diagnostics.run import consumed_indices
from ner.model.grid import Entity
from ner.model.losses import supervised_contrastive


def test_retrieval_p_at_1_hand_case() -> None:
    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # b: row 0 matches a0, row 1 is closest to a0 too (wrong for a1), row 2 matches a2.
    b = np.array([[2.0, 0.1], [1.0, 0.2], [1.0, 1.1]])
    a_to_b, b_to_a = alignment.retrieval_p_at_1(a, b)
    # a0 -> nearest of b is b0 or b1? cos(a0,b0)=0.9988, cos(a0,b1)=0.9806 -> b0 (right);
    # a1 -> b2 (cos 0.74) (wrong); a2 -> b2 (right)  => 2/3.
    assert a_to_b == pytest.approx(2 / 3)
    # b0 -> a0 (right); b1 -> a0 (wrong); b2 -> a2 (right) => 2/3.
    assert b_to_a == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        alignment.retrieval_p_at_1(a, b[:2])


def test_paired_cosines_gap() -> None:
    a = np.eye(4)
    same = alignment.paired_cosines(a, a.copy(), seed=1)
    assert same["paired"] == pytest.approx(1.0) and same["random"] == pytest.approx(0.0)
    assert same["gap"] == pytest.approx(1.0) and same["n"] == 4


def test_entity_word_cosines_uses_switched_entity_words_only() -> None:
    src = [alignment.EncodedBatch(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.zeros(2))]
    # cs: word 0 copies src 0 (en, not switched), word 1 is the switched entity from src 1 at 60 degrees.
    v = np.array([math.cos(math.pi / 3), math.sin(math.pi / 3)])
    cs = [alignment.EncodedBatch(np.array([[1.0, 0.0], v, [0.0, 1.0]]), np.zeros(2))]
    res = alignment.entity_word_cosines(src, cs, [["O", "B-PER", "O"]], [["O", "B-PER", "O"]], [[0, 1, 2]],
                                        [["en", "ja", "ja"]], "en", seed=0)
    assert res["n"] == 1  # word 2 is switched but O; word 0 is an entity of no one
    assert res["paired"] == pytest.approx(math.sin(math.pi / 3))
    # Its nearest source word is word 2 ((1, 1)/sqrt 2: cos 0.97), not word 1 (0.87): a miss; chance 1/3.
    assert res["p_at_1"] == 0.0 and res["chance"] == pytest.approx(1 / 3)


def test_supcon_floor_is_the_loss_of_collapsed_classes() -> None:
    # Second method: features where every class sits on its own orthogonal point give the lowest
    # supervised contrastive loss as tau -> 0; it must equal the closed form mean log |P(a)|.
    labels = [0] * 12 + [1] * 3 + [2] * 2 + [3]  # class 3 has no positive: skipped
    feats = torch.stack([torch.nn.functional.one_hot(torch.tensor(y), 4).float() for y in labels])
    loss = supervised_contrastive(feats, torch.tensor(labels), tau=0.01)
    assert float(loss) == pytest.approx(relation_space.supcon_floor(labels), abs=1e-4)
    by_hand = (12 * math.log(11) + 3 * math.log(2) + 2 * math.log(1)) / 17
    assert relation_space.supcon_floor(labels) == pytest.approx(by_hand)


def test_silhouette_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.2, (6, 3)) + [3, 0, 0], rng.normal(0, 0.2, (5, 3)) + [0, 3, 0]])
    y = np.array([0] * 6 + [1] * 5)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    dist = 1 - u @ u.T
    s = []
    for i in range(len(x)):
        same = (y == y[i]) & (np.arange(len(x)) != i)
        a = dist[i, same].mean()
        b = dist[i, y != y[i]].mean()
        s.append((b - a) / max(a, b))
    assert relation_space.silhouette(x, y) == pytest.approx(float(np.mean(s)))
    assert relation_space.silhouette(x, np.zeros(len(x), dtype=int)) is None


def test_threshold_curve_scores_kept_pseudo_labels() -> None:
    sents = [UnlabeledSentence(f"ja:{i}", "ja", list("abcd")) for i in range(3)]
    ents = [[Entity(0, 1, "PER", 0.95)],  # right, confident
            [Entity(2, 2, "LOC", 0.75)],  # wrong type, doubtful
            [Entity(0, 0, "ORG", 0.99)]]  # right, but the gold has a second entity (a miss)
    gold = [["B-PER", "I-PER", "O", "O"], ["O", "O", "B-ORG", "O"], ["B-ORG", "O", "O", "B-LOC"]]
    curve = pseudo_labels.threshold_curve(sents, ents, gold, top_fraction=1.0, negative_ratio=0.0,
                                          thresholds=(0.7, 0.9))["ja"]
    low, high = curve
    # t=0.7: all three kept. tp 2 (PER, ORG), predicted 3, gold 4 -> P 2/3, R 1/2; missed 2.
    assert (low["kept"], low["tp"], low["predicted"], low["gold"], low["missed"]) == (3, 2, 3, 4, 2)
    assert low["precision"] == pytest.approx(2 / 3) and low["recall"] == pytest.approx(0.5)
    # t=0.9: sentence 1 dropped. tp 2, predicted 2, gold 3 -> P 1, R 2/3.
    assert (high["kept"], high["precision"], high["recall"]) == (2, 1.0, pytest.approx(2 / 3))


def test_gold_lookup_by_tokens() -> None:
    class Row:
        def __init__(self, tokens: list[str], tags: list[str]) -> None:
            self.tokens, self.tags = tokens, tags

    sents = [UnlabeledSentence("ja:0", "ja", ["東", "京"]), UnlabeledSentence("ja:1", "ja", ["x"])]
    gold = pseudo_labels.gold_lookup(sents, {"ja": [Row(["東", "京"], ["B-LOC", "I-LOC"])]})
    assert gold == [["B-LOC", "I-LOC"], None]


def test_consumed_indices_are_the_trained_batches() -> None:
    from ner.data.sampling import epoch_batches

    used = consumed_indices(20, 4, seed=3, steps=7)  # epoch 0 has 5 batches, epoch 1 contributes 2
    expected = {i for b in epoch_batches(20, 4, 0, 3) for i in b} | {i for b in epoch_batches(20, 4, 1, 3)[:2] for i in b}
    assert used == expected and len(used) == 20
    assert consumed_indices(20, 4, seed=3, steps=2) == {i for b in epoch_batches(20, 4, 0, 3)[:2] for i in b}


def test_dynamics_summary_ratios_and_clipped_share() -> None:
    records = [
        {"step": 10, "loss": 1.0, "ce_src": 0.5, "semantic": 0.5, "clipped": 1.0, "n_steps": 10},
        {"step": 20, "loss": 0.8, "ce_src": 0.4, "semantic": 0.4, "clipped": 0.5, "n_steps": 10},
        {"step": 20, "gn_ce_src": 0.3, "gn_ce_cs": 0.4, "gn_semantic": 5.0, "grad_norm": 5.1},
        {"step": 20, "type": "eval", "dev_f1": 0.5},
    ]
    s = dynamics.summarize(records)
    assert s["terms"]["semantic"]["ratio_to_supervised_median"] == pytest.approx(5.0 / 0.5)
    assert s["terms"]["semantic"]["loss_first"] == 0.5 and s["terms"]["semantic"]["loss_last"] == 0.4
    assert s["clipped_share"] == pytest.approx(0.75)


# --- the command on a real (tiny) run -----------------------------------------------------------


@pytest.fixture(scope="module")
def runs(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> dict[str, Path]:
    """A tiny relation-head run (gradient probes on) and a one-round self-training run on ja text."""
    from ner.training.config import SelfTrainConfig
    from ner.training.loop import train
    from ner.training.self_training import self_train
    from tests.helpers import panx, tiny_config, write_cs_shards, write_unlabeled_shards

    base = tmp_path_factory.mktemp("diag")
    encoder = tiny_encoder
    shards = write_cs_shards(base / "en-ja", panx(data_root / "panx" / "train-en.tsv", 48), rows_per_shard=16)
    cfg = tiny_config(encoder, shards, base / "run", max_steps=4, grad_norm_every=2, semantic_weight=0.5,
                      relation_weight=0.5)
    run = train(cfg)
    unl = write_unlabeled_shards(base / "unl-ja", [t for t, _ in panx(data_root / "panx" / "train-ja.tsv", 30)])
    st = SelfTrainConfig(teacher=str(run), unlabeled=[str(unl)], out=str(base / "st"), threshold=0.0,
                         train=tiny_config(encoder, shards, base / "unused", max_steps=2))
    self_train(st)
    return {"run": run, "st": base / "st", "shards": shards}


def test_diagnose_writes_every_measurement(runs: dict[str, Path], data_root: Path, tmp_path: Path, capsys) -> None:
    import json

    from ner.cli import main

    out = tmp_path / "diag"
    argv = ["diagnose", str(runs["run"]), "--lang", "ja", "--out", str(out), "--data-root", str(data_root),
            "--tatoeba", "40", "--heldout", "16", "--tsne-points", "200"]
    assert main(argv) == 0
    d = json.loads((out / "diagnostics.json").read_text())
    tat = d["alignment"]["ja"]["tatoeba"]
    assert tat["pairs"] == 40 and 0.0 <= tat["raw"]["p_at_1_en_to_x"] <= 1.0 and "trained" in tat
    cs = d["alignment"]["ja"]["codeswitched"]
    assert cs["pairs"] == 16 and -1 <= cs["trained"]["sentence_cosine"]["paired"] <= 1
    # Held-out pairs are the ones the 4 steps of 8 never consumed: 48 - 32 = 16.
    assert d["heldout_pairs"] == {"ja": 16}
    rel = d["relation_space"]
    assert rel["pairs"]["src"] > 0 and rel["silhouette"]["pooled"] is not None and rel["contrastive_floor"] > 0
    assert (out / "relation_tsne.png").stat().st_size > 1000 and (out / "alignment.png").is_file()
    terms = d["dynamics"]["terms"]
    assert {"ce_src", "ce_cs", "semantic", "relation"} <= set(terms) and d["dynamics"]["probes"] == 2
    assert d["self_training"]["skipped"].startswith("not a self-training run")
    printed = capsys.readouterr().out
    assert "Tatoeba P@1" in printed and "silhouette" in printed


def test_diagnose_self_training_curve(runs: dict[str, Path], data_root: Path, tmp_path: Path) -> None:
    import json

    from ner.cli import main

    out = tmp_path / "diag"
    argv = ["diagnose", str(runs["st"]), "--lang", "ja", "--out", str(out), "--data-root", str(data_root),
            "--tatoeba", "20", "--heldout", "8", "--tsne-points", "0", "--no-raw"]
    assert main(argv) == 0
    st = json.loads((out / "diagnostics.json").read_text())["self_training"]
    assert st["pool"] == 30 and st["gold_found"] == 30  # every pool sentence found in PAN-X train-ja
    pts = st["curves"]["ja"]
    assert [p["threshold"] for p in pts] == sorted(p["threshold"] for p in pts)
    assert all(p["kept"] <= p["pool"] == 30 for p in pts)
    assert [r["round"] for r in st["rounds"]] == [0, 1] and (out / "pseudo_labels.png").is_file()


def test_diagnose_bad_input_is_one_line(runs: dict[str, Path], data_root: Path, tmp_path: Path, capsys) -> None:
    from ner.cli import main

    assert main(["diagnose", str(tmp_path), "--lang", "ja"]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["diagnose", str(runs["run"]), "--lang", "xx"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "xx" in err
    # A language without Tatoeba pairs (yo): retrieval skipped and said so, the rest still runs.
    out = tmp_path / "yo"
    assert main(["diagnose", str(runs["run"]), "--lang", "yo", "--out", str(out), "--data-root", str(data_root),
                 "--tsne-points", "0", "--no-raw"]) == 0
    import json

    d = json.loads((out / "diagnostics.json").read_text())
    assert "skipped" in d["alignment"]["yo"]["tatoeba"]
