"""Mining typed target entities with a trained model, and using them in `cslib build --entity-mode replace`."""

from __future__ import annotations

from pathlib import Path

from cslib import UnlabeledConfig, build_unlabeled
from cslib.cli import main as cslib_main
from cslib.lexicons.entity_sources import read_entity_lexicon
from ner.cli import main as ner_main
from ner.inference.mine_entities import MineConfig, aggregate
from ner.model.grid import Entity


def test_aggregate_keeps_frequent_confident_single_typed_entities() -> None:
    sents = [list("安倍晋三は東京へ"), list("東京に安倍晋三"), list("東京タワー")]
    preds = [
        [Entity(0, 3, "PER", 0.97), Entity(5, 6, "LOC", 0.95)],
        [Entity(0, 1, "LOC", 0.93), Entity(3, 6, "PER", 0.6)],  # PER seen twice but its mean score is 0.785
        [Entity(0, 1, "ORG", 0.99), Entity(0, 4, "LOC", 0.99)],  # 東京 as ORG once: 2 of 3 LOC < 0.8 share
    ]
    langs = ["ja"] * 3
    mined = aggregate(sents, preds, langs, MineConfig(min_score=0.9, min_count=2, min_type_share=0.6))
    assert [(m.text, m.type, m.count) for m in mined] == [("東京", "LOC", 2)]
    assert aggregate(sents, preds, langs, MineConfig(min_score=0.9, min_count=2, min_type_share=0.8)) == []
    loose = aggregate(sents, preds, langs, MineConfig(min_score=0.5, min_count=1, min_type_share=0.5))
    assert {(m.text, m.type) for m in loose} >= {("安倍晋三", "PER"), ("東京", "LOC"), ("東京タワー", "LOC")}


def test_mine_then_replace_round_trip(run: Path, data_root: Path, tmp_path: Path, capsys) -> None:
    unl = build_unlabeled(UnlabeledConfig(lang="en", out=str(tmp_path / "unl"), data_root=str(data_root), limit=60))
    lex = tmp_path / "mined.tsv"
    assert ner_main(["mine-entities", "--model", str(run), "--unlabeled", str(unl), "--out", str(lex),
                     "--min-score", "0", "--min-count", "1", "--device", "cpu"]) == 0
    assert "entities" in capsys.readouterr().out
    mined = read_entity_lexicon(lex, origin="replace")
    pool = mined.by_type()
    assert pool and set(pool) <= {"PER", "LOC", "ORG"}
    out = tmp_path / "cs"
    assert cslib_main(["build", "--tgt", "de", "--data-root", str(data_root), "--out", str(out), "--limit", "80",
                       "--entity-lexicon", str(lex), "--entity-mode", "replace", "--ratio", "1"]) == 0
    assert cslib_main(["validate", str(out)]) == 0
    from cslib import read_table
    from cslib.iob import spans

    targets = {t: {e.text.replace(" ", "") for e in es} for t, es in pool.items()}  # as re-tokenized
    replaced = 0
    for row in read_table(out).to_pylist():
        for s in spans(row["cs_tags"]):
            if row["cs_sources"][s.start] == "replace":
                replaced += 1
                assert "".join(row["cs_tokens"][s.start:s.end]) in targets[s.type]  # same type, lexicon text
    assert replaced > 0
