"""Hugging Face `datasets`: codeswitch_dataset equals `cslib build`; shard sets load with load_dataset."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # offline: nothing may come from the hub

import pytest  # noqa: E402

datasets = pytest.importorskip("datasets")  # the hub extra, installed by `make setup`

from cslib import BuildConfig, CslibError, Dictionary, TaskOptions, codeswitch_dataset, read_muse, run_build  # noqa: E402
from cslib.schemes import decode  # noqa: E402
from cslib.task_inputs import read_tagged  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "tasks"
DICT = FIX / "en-de.dict"


@pytest.fixture(scope="module")
def dictionary() -> Dictionary:
    d = Dictionary("en", "de")
    d.add_pairs(read_muse(DICT), "custom")
    return d


def test_classification_dataset_equals_cli_build(tmp_path, dictionary):
    rows = [json.loads(line) for line in (FIX / "nli.jsonl").read_text().splitlines()]
    names = ["entailment", "neutral", "contradiction"]
    ds = datasets.Dataset.from_dict(
        {"premise": [r["premise"] for r in rows], "hypothesis": [r["hypothesis"] for r in rows],
         "label": [names.index(r["label"]) for r in rows]},
        features=datasets.Features({"premise": datasets.Value("string"), "hypothesis": datasets.Value("string"),
                                    "label": datasets.ClassLabel(names=names)}))
    cfg = BuildConfig(seed=5, ratio=0.9, variants=2)
    out = codeswitch_dataset(ds, "de", ["premise", "hypothesis"], dictionary=dictionary, config=cfg,
                             num_proc=2, batch_size=2)
    assert isinstance(out, datasets.Dataset) and out.num_rows == 12
    assert out.features["label"] == ds.features["label"]  # ClassLabel carried as it was
    assert out["label"] == [x for x in ds["label"] for _ in range(2)]
    # The same records through the CLI path give the same rows (key = row position, same seed); the
    # dictionary file is used as given there too (no frequency filtering of its senses).
    built = run_build(BuildConfig(input=str(FIX / "nli.jsonl"), tgt="de", dictionary=str(DICT), seed=5, ratio=0.9,
                                  variants=2, out=str(tmp_path / "nli"), senses="uniform"), TaskOptions())
    files = sorted(str(p) for p in built.glob("shard-*.parquet"))
    ref = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(tmp_path / "hf"))
    for col in ("id", "premise", "hypothesis", "src_premise", "n_switched", "method"):
        assert out[col] == ref[col], col
    assert [names[i] for i in out["label"]] == ref["label"]
    # Batch size and process count do not change anything.
    again = codeswitch_dataset(ds, "de", ["premise", "hypothesis"], dictionary=dictionary, config=cfg,
                               batch_size=5)
    assert again["premise"] == out["premise"]
    # Keyed by an id column instead of the position: rows follow their id, wherever they are.
    ids = ds.add_column("id", [f"p{i}" for i in range(ds.num_rows)])
    by_id = codeswitch_dataset(ids, "de", ["premise", "hypothesis"], dictionary=dictionary, config=cfg,
                               id_column="id")
    shuffled = codeswitch_dataset(ids.select(list(reversed(range(ids.num_rows)))), "de",
                                  ["premise", "hypothesis"], dictionary=dictionary, config=cfg, id_column="id")
    assert by_id[0]["id"] == "en-de:p0:0" and by_id.column_names.count("id") == 1
    assert dict(zip(by_id["id"], by_id["premise"], strict=True)) == dict(zip(shuffled["id"], shuffled["premise"],
                                                                            strict=True))
    # A column named id keys the rows without id_column; one named like a written column is carried as input_NAME.
    plain = codeswitch_dataset(ids.add_column("method", ["web"] * ids.num_rows), "de", ["premise", "hypothesis"],
                               dictionary=dictionary, config=cfg)
    assert plain["id"] == by_id["id"] and plain["premise"] == by_id["premise"]
    assert plain["input_method"] == ["web"] * plain.num_rows and plain.features["label"] == ds.features["label"]


def test_tagging_dataset_with_classlabel_tags(dictionary):
    rec = read_tagged(FIX / "slots.bioes")
    names = sorted({t for r in rec.rows for t in r["tags"]})
    feats = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                               "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))})
    ds = datasets.Dataset.from_dict({"tokens": [r["tokens"] for r in rec.rows],
                                     "ner_tags": [[names.index(t) for t in r["tags"]] for r in rec.rows]},
                                    features=feats)
    cfg = BuildConfig(ratio=1.0)
    out = codeswitch_dataset(ds, "de", "tokens", "ner_tags", dictionary=dictionary, config=cfg)
    assert out.features["cs_tags"].feature.names == names  # same scheme: ids back, same label space
    for row in out:
        src = decode([names[i] for i in row["src_tags"]], "bioes")
        cs = decode([names[i] for i in row["cs_tags"]], "bioes")
        assert [s.type for s in src] == [s.type for s in cs]
    assert any("München" in t for t in out["cs_tokens"])
    iob2 = codeswitch_dataset(ds, "de", "tokens", "ner_tags", dictionary=dictionary, config=cfg,
                              output_scheme="iob2")
    assert iob2[0]["src_tags"][4:6] == ["B-fromloc.city_name", "I-fromloc.city_name"]
    with pytest.raises(CslibError, match="no tokens field"):
        codeswitch_dataset(ds.rename_column("tokens", "x"), "de", tags_column="ner_tags", dictionary=dictionary)
