"""Joined long inputs (`ner.data.joining`, `--joined-inputs`): both views, labels, budget, seed, training."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from cslib import row_problem
from ner.cli import main
from ner.data.joining import join_examples, joined
from ner.data.records import Example
from ner.data.shards import load_pairs
from ner.model.encoder import WordEncoder
from ner.model.grid import tags_to_entities
from ner.training.loop import train
from tests.helpers import metrics, panx, tiny_config, write_cs_shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    sents = panx(data_root / "panx" / "train-en.tsv", 40)
    return write_cs_shards(tmp_path_factory.mktemp("shards") / "en-ja", sents, rows_per_shard=20)


@pytest.fixture(scope="module")
def pool(shards: Path) -> list[Example]:
    return load_pairs([shards])[0]


def _types(tags: list[str]) -> list[str]:
    return [e.type for e in tags_to_entities(tags, strict=False)]


def test_joined_pairs_keep_both_views_valid_and_aligned(pool: list[Example]) -> None:
    out = join_examples(pool, 0.5, 6, seed=13)
    assert len(out) == len(pool)
    made = [(i, e) for i, e in enumerate(out) if e is not pool[i]]
    assert len(made) == 20
    by_id = {e.id: e for e in pool}
    for i, ex in made:
        parts = [by_id[k] for k in ex.id.split("+")]
        assert 2 <= len(parts) <= 6 and parts[0] is pool[i]  # the slot's own example comes first
        assert row_problem(ex.src_tokens, ex.src_tags, ex.cs_tokens, ex.cs_tags) is None
        assert ex.paired and ex.lang == "ja" and ex.src_lang == "en"
        # Both views: the members' views in the same order, "." in English, "。" in the ja view, tagged O.
        expect_src, expect_cs = list(parts[0].src_tokens), list(parts[0].cs_tokens or [])
        for p in parts[1:]:
            expect_src += [".", *p.src_tokens]
            expect_cs += ["。", *(p.cs_tokens or [])]
        assert ex.src_tokens == expect_src and ex.cs_tokens == expect_cs
        assert _types(ex.src_tags) == _types(ex.cs_tags) == [t for p in parts for t in _types(p.src_tags)]
        seps = [k for k, t in enumerate(ex.cs_tokens) if t == "。"]
        assert all(ex.cs_tags[k] == "O" for k in seps) and len(seps) == len(parts) - 1


def test_joining_is_deterministic_by_seed(pool: list[Example]) -> None:
    ids = [e.id for e in join_examples(pool, 0.5, 12, seed=13)]
    assert ids == [e.id for e in join_examples(pool, 0.5, 12, seed=13)]
    assert ids != [e.id for e in join_examples(pool, 0.5, 12, seed=14)]
    assert join_examples(pool, 0.0, 12, seed=13) == pool
    with pytest.raises(ValueError, match="max_sentences must be >= 2"):
        join_examples(pool, 0.5, 1, seed=13)


def test_joined_inputs_fit_one_encoder_row(pool: list[Example], tiny_encoder: Path) -> None:
    enc = WordEncoder(str(tiny_encoder), max_subwords=64)
    budget = enc.max_subwords - 2
    out = join_examples(pool, 1.0, 12, seed=13, measure=enc.subword_lengths, budget=budget)
    made = [e for i, e in enumerate(out) if e is not pool[i]]
    assert made and all(len(e.id.split("+")) >= 2 for e in made)
    fitted = [e for e in pool if max(enc.subword_lengths([e.src_tokens, e.cs_tokens or []])) <= budget]
    for ex in made:
        assert max(enc.subword_lengths([ex.src_tokens, ex.cs_tokens or []])) <= budget
    # Without the budget the same draw makes longer inputs: the budget really cut partners.
    free = [e for i, e in enumerate(join_examples(pool, 1.0, 12, seed=13)) if e is not pool[i]]
    assert max(len(e.src_tokens) for e in free) > max(len(e.src_tokens) for e in made)
    assert fitted  # the fixture has sentences that fit alone


def test_pseudo_labeled_examples_join_with_their_language_and_shift_ignored_cells() -> None:
    a = Example("ja0", ["東", "京"], ["B-LOC", "I-LOC"], lang="ja", ignore=[(0, 1)])
    b = Example("ja1", ["山", "田", "だ"], ["B-PER", "I-PER", "O"], lang="ja", ignore=[(2, 2)])
    ex = joined([a, b])
    assert not ex.paired and ex.src_tokens == ["東", "京", "。", "山", "田", "だ"]
    assert ex.src_tags == ["B-LOC", "I-LOC", "O", "B-PER", "I-PER", "O"]
    assert ex.ignore == [(0, 1), (5, 5)]
    de = [Example(f"de{i}", ["Berlin"], ["B-LOC"], lang="de") for i in range(3)]
    pair = Example("pp", ["Paris"], ["B-LOC"], ["パリ"], ["B-LOC"], "ja", "en")
    out = join_examples([a, b, *de, pair], 1.0, 12, seed=3)
    for ex in out:
        parts = ex.id.split("+")
        assert len({p[:2] for p in parts}) == 1  # never across languages, nor pairs with single views
    assert out[-1] is pair  # alone in its group: nothing to join with


class Crash(Exception):
    pass


def test_training_with_joined_inputs_and_equal_grid_loss_resumes_exactly(tiny_encoder: Path, shards: Path,
                                                                         tmp_path: Path) -> None:
    cfg = tiny_config(tiny_encoder, shards, tmp_path / "a", max_steps=4, save_every=2, joined_inputs=0.5,
                      joined_max=4, grid_loss="equal")
    full = train(cfg)
    log = (full / "train.log").read_text()
    # 20 slots drawn; an anchor that fits a 64-sub-word row with no partner stays as it is.
    assert re.search(r"joined long inputs: (1[5-9]|20) of the 40 training examples", log) and "grid loss equal" in log
    interrupted = replace(cfg, out=str(tmp_path / "b"))

    def crash(step: int) -> None:
        if step == 3:
            raise Crash

    with pytest.raises(Crash):
        train(interrupted, on_step=crash)
    resumed = train(interrupted)
    assert [m["loss"] for m in metrics(full)] == [m["loss"] for m in metrics(resumed)]
    a = torch.load(full / "last" / "model.pt", weights_only=True)
    b = torch.load(resumed / "last" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_joined_flags_and_their_errors(tiny_encoder: Path, shards: Path, tmp_path: Path, capsys) -> None:
    base = ["train", "--shards", str(shards), "--out", str(tmp_path / "x"), "--encoder", str(tiny_encoder)]
    assert main([*base, "--joined-inputs", "1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "joined_inputs must be in [0, 1]" in err and "1.5" in err
    assert main([*base, "--joined-max", "1"]) == 2
    assert "joined_max must be >= 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*base, "--grid-loss", "mean"])
    assert "invalid choice: 'mean'" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid_loss: mean\n")
    assert main(["train", "--config", str(bad), "--shards", str(shards)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown grid_loss 'mean' (use cell, sentence, equal)" in err
    good = tmp_path / "good.yaml"
    good.write_text("joined_inputs: 0.5\njoined_max: 3\ngrid_loss: equal\nmax_steps: 1\nbatch_size: 4\n"
                    "model:\n  max_subwords: 64\n  conv_hidden: 16\n  dilations: [1, 2]\n  biaffine_size: 32\n"
                    "  ffn_size: 32\n  proj_dim: 16\n")
    assert main(["-q", "train", "--config", str(good), *base[1:], "--joined-max", "5", "--eval-langs"]) == 0
    saved = json.dumps(metrics(tmp_path / "x"))
    config = (tmp_path / "x" / "config.yaml").read_text()
    assert "joined_inputs: 0.5" in config and "joined_max: 5" in config and "grid_loss: equal" in config
    assert "ce_src" in saved
