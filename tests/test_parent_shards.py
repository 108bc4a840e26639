"""`--shards DIR` / `--unlabeled DIR` naming a parent folder of shard sets (data/cs/ holding en-ja/, en-zh/)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cslib.cli import main as cslib_main
from ner.cli import main as ner_main
from ner.data.shards import find_shard_dirs, load_pairs
from ner.data.unlabeled import load_unlabeled
from ner.errors import NerError
from tests.helpers import panx, write_cs_shards


@pytest.fixture(scope="module")
def parent(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    root = tmp_path_factory.mktemp("cs")
    sents = panx(data_root / "panx" / "train-en.tsv", 12)
    write_cs_shards(root / "en-ja", sents[:5], tgt="ja")
    write_cs_shards(root / "en-zh", sents[5:], tgt="zh", rows_per_shard=3)
    return root


def test_parent_directory_combines_every_set(parent: Path, caplog) -> None:
    assert find_shard_dirs(parent) == [parent / "en-ja", parent / "en-zh"]
    assert find_shard_dirs(parent / "en-ja") == [parent / "en-ja"]
    with caplog.at_level("INFO", logger="ner"):
        examples, _ = load_pairs([parent])
    assert [e.lang for e in examples] == ["ja"] * 5 + ["zh"] * 7
    assert "2 codeswitch shard set(s): en-ja, en-zh" in caplog.text
    # Same rows as naming both sets; naming a set twice (directly and through its parent) is an error.
    assert [e.id for e in examples] == [e.id for e in load_pairs([parent / "en-ja", parent / "en-zh"])[0]]
    with pytest.raises(NerError, match="given twice"):
        load_pairs([parent, parent / "en-ja"])


def test_incomplete_or_foreign_folder_is_named(parent: Path, tmp_path: Path, data_root: Path) -> None:
    import shutil

    root = tmp_path / "cs"
    shutil.copytree(parent, root)
    (root / ".tmp-build").mkdir()  # hidden folders (temp files) are ignored
    assert len(load_pairs([root])[0]) == 12
    (root / "en-de").mkdir()
    (root / "en-de" / "shard-00000.parquet").write_bytes(b"")  # an interrupted build: no manifest yet
    with pytest.raises(NerError, match=r"en-de: no manifest.json under .*unfinished build"):
        load_pairs([root])
    (root / "en-de" / "shard-00000.parquet").unlink()
    (root / "en-de").rmdir()
    assert cslib_main(["unlabeled", "--lang", "ja", "--limit", "5", "--data-root", str(data_root),
                       "--out", str(root / "ja")]) == 0
    with pytest.raises(NerError, match=r"/ja: holds 'unlabeled' shards, but 'codeswitch'"):
        load_pairs([root])
    assert [s.lang for s in load_unlabeled([root / "ja"])] == ["ja"] * 5
    unl = tmp_path / "unlabeled"
    assert cslib_main(["unlabeled", "--lang", "zh", "--limit", "3", "--data-root", str(data_root),
                       "--out", str(unl / "zh")]) == 0
    (root / "ja").rename(unl / "ja")
    assert [s.lang for s in load_unlabeled([unl])] == ["ja"] * 5 + ["zh"] * 3  # --unlabeled data/unlabeled/
    (tmp_path / "other" / "notes").mkdir(parents=True)
    (tmp_path / "other" / "notes" / "README.txt").write_text("not shards")
    with pytest.raises(NerError, match=r"other/notes: no manifest.json under"):
        load_pairs([tmp_path / "other"])
    with pytest.raises(NerError, match=r"notes: no manifest.json \(not a cslib shard directory"):
        load_pairs([tmp_path / "other" / "notes"])


def test_cslib_build_twice_then_train_on_the_parent(tiny_encoder: Path, tmp_path: Path, data_root: Path, tmp_path_factory) -> None:
    """The README's path: build en-ja and en-zh, then `ner train --shards data/cs/` trains on both."""
    cs = tmp_path / "data" / "cs"
    for tgt in ("ja", "zh"):
        assert cslib_main(["build", "--src", "en", "--tgt", tgt, "--limit", "12", "--data-root", str(data_root),
                           "--out", str(cs / f"en-{tgt}")]) == 0
    encoder = tiny_encoder
    model = {"encoder": str(encoder), "max_subwords": 64, "dist_emb": 8, "region_emb": 8, "conv_hidden": 16,
             "dilations": [1], "biaffine_size": 16, "ffn_size": 16, "proj_dim": 8}
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({"model": model, "batch_size": 8, "eval_langs": []}))
    run = tmp_path / "run"
    assert ner_main(["train", "--config", str(cfg), "--shards", str(cs) + "/", "--max-steps", "2",
                     "--out", str(run)]) == 0
    log = (run / "train.log").read_text()
    assert "24 pairs" in log and (run / "model" / "model.pt").is_file()
