"""Self-training: the pseudo-label filter on hand-made predictions, and whole rounds on real shards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ner.cli import main
from ner.data.pseudo_labels import load_pseudo, write_pseudo
from ner.data.records import Example, UnlabeledSentence
from ner.errors import NerError
from ner.model.grid import Entity
from ner.training.config import SelfTrainConfig
from ner.training.loop import train
from ner.training.self_training import select_pseudo_labels, self_train
from tests.helpers import metrics, panx, tiny_config, write_cs_shards, write_unlabeled_shards


def sent(i: int, n: int = 6) -> UnlabeledSentence:
    return UnlabeledSentence(f"ja:{i}", "ja", [f"w{i}_{k}" for k in range(n)])


def test_filter_threshold_top_fraction_and_negatives() -> None:
    sents = [sent(i) for i in range(10)]
    ents = [
        [Entity(0, 1, "PER", 0.99)],                              # 0 PER, best
        [Entity(0, 0, "PER", 0.95)],                              # 1 PER
        [Entity(2, 2, "PER", 0.92)],                              # 2 PER, below the PER top half
        [Entity(0, 0, "PER", 0.97), Entity(3, 4, "LOC", 0.5)],    # 3 one doubtful entity -> dropped
        [Entity(1, 2, "LOC", 0.96)],                              # 4 LOC, best LOC
        [Entity(0, 0, "LOC", 0.91), Entity(3, 3, "PER", 0.98)],   # 5 LOC+PER, lowest LOC -> dropped
        [], [], [], [],                                           # 6-9 negatives
    ]
    kept, stats = select_pseudo_labels(sents, ents, threshold=0.9, top_fraction=0.5, negative_ratio=0.5, seed=1)
    positives = [e for e in kept if any(t != "O" for t in e.src_tags)]
    assert [e.id for e in positives] == ["ja:0", "ja:1", "ja:4"]
    assert positives[0].src_tags == ["B-PER", "I-PER", "O", "O", "O", "O"] and positives[0].lang == "ja"
    negatives = [e for e in kept if all(t == "O" for t in e.src_tags)]
    assert len(negatives) == 1 and negatives[0].id in {"ja:6", "ja:7", "ja:8", "ja:9"}  # floor(0.5 * 3)
    assert stats["passed_threshold"] == 5 and stats["kept"] == 4 and stats["kept_negatives"] == 1
    assert stats["per_type"]["PER"] == {"predicted_entities": 5, "candidate_sentences": 4, "kept_sentences": 2,
                                        "kept_entities": 2}
    assert stats["per_type"]["LOC"]["candidate_sentences"] == 2 and stats["per_type"]["LOC"]["kept_entities"] == 1
    # Deterministic for a seed; everything kept with a permissive filter.
    assert select_pseudo_labels(sents, ents, 0.9, 0.5, 0.5, seed=1)[0] == kept
    assert len(select_pseudo_labels(sents, ents, 0.0, 1.0, 10.0)[0]) == 10


def test_ranking_per_language_on_request() -> None:
    # An over-confident language (ja) would take the whole PER quota under one global ranking.
    sents = [UnlabeledSentence(f"{lang}:{i}", lang, ["a", "b", "c"]) for lang in ("ja", "de") for i in range(4)]
    ents = [[Entity(0, 0, "PER", 0.99 - i / 100)] for i in range(4)] + [[Entity(0, 0, "PER", 0.95 - i / 100)] for i in range(4)]
    per_lang, stats = select_pseudo_labels(sents, ents, 0.9, 0.5, 0.0, per_language=True)
    assert [e.id for e in per_lang] == ["ja:0", "ja:1", "de:0", "de:1"]
    assert stats["kept_per_language"] == {"de": 2, "ja": 2} and stats["filter"]["per_language"]
    global_, _ = select_pseudo_labels(sents, ents, 0.9, 0.5, 0.0)
    assert [e.id for e in global_] == ["ja:0", "ja:1", "ja:2", "ja:3"]


@pytest.fixture(scope="module")
def setup(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("st")
    encoder = tiny_encoder
    shards = write_cs_shards(base / "en-ja", panx(data_root / "panx" / "train-en.tsv", 32), rows_per_shard=16)
    # English unlabeled text: a 12-step tiny teacher finds entities there, so pseudo-labels are not empty.
    unlabeled = write_unlabeled_shards(base / "unlabeled", [t for t, _ in panx(data_root / "panx" / "dev-en.tsv", 24)],
                                       lang="en")
    cfg = tiny_config(encoder, shards, base / "teacher", max_steps=12, lr=1e-2, encoder_lr=1e-2, semantic_weight=0)
    cfg.model.head = "token"
    return {"teacher": train(cfg), "shards": shards, "unlabeled": unlabeled, "encoder": encoder, "base": base}


def test_two_rounds_of_self_training(setup: dict[str, Path], tmp_path: Path) -> None:
    train_cfg = tiny_config(setup["encoder"], setup["shards"], tmp_path / "unused", max_steps=3)
    cfg = SelfTrainConfig(teacher=str(setup["teacher"]), unlabeled=[str(setup["unlabeled"])], out=str(tmp_path / "st"),
                          rounds=2, threshold=0.2, top_fraction=0.8, negative_ratio=0.5, train=train_cfg)
    final = self_train(cfg)
    out = tmp_path / "st"
    assert final == out / "round-2" / "student" and (final / "model" / "model.pt").is_file()
    summary = json.loads((out / "self_training.json").read_text())
    assert [r["round"] for r in summary["rounds"]] == [1, 2]
    assert summary["rounds"][1]["teacher"] == str(out / "round-1" / "student" / "model")
    stats = json.loads((out / "round-1" / "pseudo_stats.json").read_text())
    pseudo = load_pseudo(out / "round-1" / "pseudo.jsonl")
    assert stats["kept"] == len(pseudo) > 0 and stats["sentences"] == 24
    assert sum(s["kept_entities"] for s in stats["per_type"].values()) > 0
    n_round2 = len(load_pseudo(out / "round-2" / "pseudo.jsonl"))
    assert f"32 pairs + {n_round2} pseudo-labeled" in (final / "train.log").read_text()
    student_cfg = (out / "round-1" / "student" / "config.yaml").read_text()
    assert "head: token" in student_cfg and "init_from:" in student_cfg
    # Rerunning reuses pseudo-labels and finished students.
    before = (out / "round-1" / "pseudo.jsonl").stat().st_mtime_ns
    assert self_train(cfg) == final
    assert (out / "round-1" / "pseudo.jsonl").stat().st_mtime_ns == before


def test_pseudo_labels_train_as_single_view_examples(setup: dict[str, Path], tmp_path: Path) -> None:
    pseudo = tmp_path / "pseudo.jsonl"
    write_pseudo(pseudo, [Example(f"ja:{i}", list("東京タワーへ行く"), ["B-LOC", "I-LOC", "I-LOC", "I-LOC", "I-LOC", "O", "O", "O"],
                                  lang="ja") for i in range(6)])
    cfg = tiny_config(setup["encoder"], setup["shards"], tmp_path / "run", max_steps=3, pseudo=[str(pseudo)],
                      use_src=False, batch_size=16)
    run = train(cfg)
    rows = metrics(run)
    assert all("ce_cs" in r and "ce_src" not in r for r in rows) and any("ce_pseudo" in r for r in rows)
    assert "32 pairs + 6 pseudo-labeled (x2)" in (run / "train.log").read_text()  # oversampled to ~30%


def test_cli_self_train_errors(setup: dict[str, Path], tmp_path: Path, capsys) -> None:
    argv = ["self-train", "--model", str(setup["teacher"]), "--unlabeled", str(setup["shards"]),
            "--shards", str(setup["shards"]), "--out", str(tmp_path / "st")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'codeswitch' shards, but 'unlabeled' shards are needed" in err
    argv[2] = str(tmp_path / "missing")
    assert main(argv) == 2
    assert "model or run directory not found" in capsys.readouterr().err
    assert main(["self-train", "--model", str(setup["teacher"]), "--shards", str(setup["shards"])]) == 2
    assert "no unlabeled shards" in capsys.readouterr().err


def test_uncertain_cells_are_left_out_of_the_students_loss(setup: dict[str, Path], tmp_path: Path) -> None:
    from ner.inference.loading import load_model
    from ner.model.grid import NONE_ID
    from ner.model.ner_model import NerModel
    from ner.training.self_training import uncertain_cells

    assert uncertain_cells(load_model(setup["teacher"]), [], 0.5) == []  # token head: nothing to leave out
    cfg = tiny_config(setup["encoder"], setup["shards"], tmp_path / "unused")
    teacher = NerModel(cfg.model, ["LOC", "ORG", "PER"]).eval()
    ex = [Example("ja:0", ["a", "b", "c", "d"], ["B-PER", "O", "O", "O"]), Example("ja:1", ["x", "y"], ["O", "O"])]
    cells = uncertain_cells(teacher, ex, threshold=0.0)  # every NONE cell is "uncertain" at 0
    assert len(cells[0]) == 16 - 1 and len(cells[1]) == 4  # the THW-PER cell (0, 0) is not NONE
    strict = uncertain_cells(teacher, ex, threshold=0.999999)
    assert all(len(c) <= len(a) for c, a in zip(strict, cells, strict=True))
    # What the student's collate does with them: gold -100 exactly there, NONE elsewhere.
    ex[0].ignore = [(0, 1), (2, 3)]
    batch = teacher.collate([e.src_tokens for e in ex], [e.src_tags for e in ex], [e.ignore for e in ex])
    gold = batch["gold"]
    assert int(gold[0, 0, 1]) == -100 and int(gold[0, 2, 3]) == -100 and int(gold[0, 1, 2]) == NONE_ID
    assert int((gold[1, :2, :2] == NONE_ID).sum()) == 4
    # And the pseudo-label file round-trips them.
    write_pseudo(tmp_path / "p.jsonl", ex)
    back = load_pseudo(tmp_path / "p.jsonl")
    assert back[0].ignore == [(0, 1), (2, 3)] and back[1].ignore is None
    (tmp_path / "bad.jsonl").write_text('{"tokens": ["a"], "tags": ["O"], "ignore": [[0, 5]]}\n')
    with pytest.raises(NerError, match="bad.jsonl:1: 'ignore'"):
        load_pseudo(tmp_path / "bad.jsonl")
