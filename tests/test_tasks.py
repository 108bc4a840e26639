"""Task-generic switching: classification, sentence pairs, slot filling in BIOES, text; CLI and library."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cslib import BuildConfig, CodeSwitcher, CslibError, Dictionary, TaskOptions, read_muse, run_build
from cslib import shards as shard_mod
from cslib.cli import main
from cslib.inspection.report import stats, validate_dir
from cslib.schemes import decode
from cslib.tasks import KEY, TaskSpec, switch_batch

FIX = Path(__file__).parent / "fixtures" / "tasks"
DICT = str(FIX / "en-de.dict")


def build(tmp_path, name, opts=None, **kw) -> Path:
    # senses="uniform": the fixture dictionary is used as written (the frequency floor has its own tests)
    base = dict(src="en", tgt="de", dictionary=DICT, out=str(tmp_path / name), seed=5, ratio=0.9, senses="uniform")
    base.update(kw)
    return run_build(BuildConfig(**base), opts or TaskOptions())


def shard_df(out: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted(out.glob("shard-*.parquet"))], ignore_index=True)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_classification_jsonl_from_cli_read_back_with_pandas_and_datasets(tmp_path, capsys):
    out = tmp_path / "cls"
    assert main(["build", "--input", str(FIX / "reviews.jsonl"), "--tgt", "de", "--dictionary", DICT,
                 "--out", str(out), "--label-field", "label", "--shard-size", "3", "--examples", "1"]) == 0
    assert "8 rows" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "classification" and len(manifest["shards"]) == 3
    assert manifest["task"]["text_fields"] == ["text"] and manifest["task"]["carried"] == ["label", "source"]
    src = jsonl(FIX / "reviews.jsonl")
    df = shard_df(out)
    assert df["label"].tolist() == [r["label"] for r in src]  # labels intact, in input order
    assert df["source"].tolist() == [r["source"] for r in src]
    assert df["src_text"].tolist() == [r["text"] for r in src]
    switched = df[df.n_switched > 0]
    assert len(switched) >= 5 and (switched["text"] != switched["src_text"]).all()
    assert df.loc[7, "text"] == src[7]["text"]  # nothing translatable: carried byte for byte
    assert main(["validate", str(out)]) == 0

    from cslib import load_shards_dataset

    ds = load_shards_dataset(out, cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == 8 and ds["label"] == df["label"].tolist() and ds["text"] == df["text"].tolist()


def test_nli_pairs_from_library_both_fields_switched(tmp_path):
    out = build(tmp_path, "nli", input=str(FIX / "nli.jsonl"), ratio=1.0)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["task"]["text_fields"] == ["premise", "hypothesis"]
    df = shard_df(out)
    src = jsonl(FIX / "nli.jsonl")
    assert list(df.columns[:5]) == ["id", "src_lang", "tgt_lang", "method", "n_switched"]
    assert df["label"].tolist() == [r["label"] for r in src]
    assert df["src_premise"].tolist() == [r["premise"] for r in src]
    assert (df["premise"] != df["src_premise"]).all() and (df["hypothesis"] != df["src_hypothesis"]).all()
    assert "Gitarre" in df.loc[0, "premise"] and "Musik" in df.loc[0, "hypothesis"]
    assert validate_dir(out) == (6, [])


@pytest.mark.parametrize("out_scheme", [None, "iob1", "iob2", "bilou", "io"])
def test_bioes_slot_filling_switched_with_labels_intact(tmp_path, out_scheme):
    opts = TaskOptions(output_scheme=out_scheme)
    out = build(tmp_path, f"slots-{out_scheme}", opts, input=str(FIX / "slots.bioes"), ratio=1.0, variants=2)
    manifest = json.loads((out / "manifest.json").read_text())
    scheme = out_scheme or "bioes"
    assert manifest["kind"] == "tagging" and manifest["task"]["scheme"] == scheme
    assert manifest["task"]["input_scheme"] == "bioes"
    assert "toloc.city_name" in manifest["entity_types"] and manifest["counts"]["rows"] == 8
    df = shard_df(out)
    for row in df.itertuples():
        src, cs = decode(list(row.src_tags), scheme), decode(list(row.cs_tags), scheme)
        assert [s.type for s in src] == [s.type for s in cs]
    if scheme == "bioes":
        assert list(df.loc[0, "src_tags"])[4:6] == ["B-fromloc.city_name", "E-fromloc.city_name"]
    switched_cities = sum("München" in list(t) for t in df["cs_tokens"])
    assert switched_cities >= 1  # entities are switched too, as units
    assert validate_dir(out) == (8, [])
    assert stats(out)["entities"]["toloc.city_name"] == 8


def test_bioes_from_cli_and_validate_catches_a_broken_row(tmp_path, capsys):
    out = tmp_path / "slots"
    assert main(["build", "--input", str(FIX / "slots.bioes"), "--tgt", "de", "--dictionary", DICT,
                 "--out", str(out), "--task", "tagging", "--examples", "2"]) == 0
    text = capsys.readouterr().out
    assert "[berlin]toloc.city_name" in text or "[Berlin]toloc.city_name" in text
    path = out / "shard-00000.parquet"
    rows = pq.read_table(path).to_pylist()
    rows[1]["cs_tags"] = ["I-X" if t.startswith("S-") else t for t in rows[1]["cs_tags"]]
    table = pa.Table.from_pylist(rows, schema=pq.read_schema(path))
    digest = shard_mod.write_table(path, table)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][0]["sha256"] = digest
    shard_mod.write_manifest(out, manifest)
    n, problems = validate_dir(out)
    assert n == 4 and len(problems) == 1 and "do not fit BIOES" in problems[0]
    assert main(["validate", str(out)]) == 1


def test_text_raw_pretokenized_and_csv(tmp_path):
    out = build(tmp_path, "text", input=str(FIX / "sentences.txt"), ratio=1.0)
    df = shard_df(out)
    assert json.loads((out / "manifest.json").read_text())["kind"] == "text"
    assert len(df) == 4 and df.loc[0, "src_text"] == "The man is playing the guitar in the city."
    assert "Gitarre" in df.loc[0, "cs_text"] and "Gitarre" in list(df.loc[0, "cs_tokens"])
    assert set(df.loc[0, "cs_langs"]) == {"en", "de"}
    assert validate_dir(out) == (4, [])
    pre = build(tmp_path, "pre", TaskOptions(pretokenized=True), input=str(FIX / "sentences.txt"), ratio=1.0)
    assert list(shard_df(pre).loc[3, "src_tokens"]) == ["Flights", "from", "Berlin", "to", "Munich."]
    csv_out = build(tmp_path, "csv", input=str(FIX / "reviews.csv"), ratio=1.0)
    cdf = shard_df(csv_out)
    assert cdf["label"].tolist() == ["pos", "neg", "pos"] and cdf.loc[2, "src_text"] == 'The dog is "good".'
    assert cdf.loc[0, "text"].endswith("Film ist großartig, really.")


def test_ja_target_with_real_muse(tmp_path, data_root):
    out = tmp_path / "ja"
    assert main(["build", "--input", str(FIX / "reviews.jsonl"), "--tgt", "ja", "--data-root", str(data_root),
                 "--out", str(out), "--ratio", "1", "--seed", "1"]) == 0
    df = shard_df(out)
    assert any(any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in t) for t in df["text"])
    assert df["label"].tolist() == [r["label"] for r in jsonl(FIX / "reviews.jsonl")]


def test_deterministic_across_workers_and_resumable(tmp_path):
    opts = TaskOptions()
    a = build(tmp_path, "a", opts, input=str(FIX / "nli.jsonl"), shard_size=2, workers=1)
    b = build(tmp_path, "b", opts, input=str(FIX / "nli.jsonl"), shard_size=2, workers=2)
    files = sorted(p.name for p in a.glob("shard-*.parquet"))
    assert len(files) == 3
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    full = {f: (a / f).read_bytes() for f in files}
    manifest = (a / "manifest.json").read_text()
    (a / "manifest.json").unlink()
    (a / files[1]).unlink()
    build(tmp_path, "a", opts, input=str(FIX / "nli.jsonl"), shard_size=2)
    assert {f: (a / f).read_bytes() for f in files} == full and (a / "manifest.json").read_text() == manifest
    with pytest.raises(CslibError, match="holds a different build"):
        build(tmp_path, "a", opts, input=str(FIX / "nli.jsonl"), shard_size=2, seed=6)


def test_switch_batch_does_not_depend_on_partitioning():
    d = Dictionary("en", "de")
    d.add_pairs(read_muse(DICT), "test")
    sw = CodeSwitcher(d)
    rows = jsonl(FIX / "nli.jsonl") * 3
    table = pa.table({KEY: [str(i) for i in range(len(rows))], "premise": [r["premise"] for r in rows],
                      "hypothesis": [r["hypothesis"] for r in rows], "label": [r["label"] for r in rows]})
    spec = TaskSpec("classification", "en", "de", seed=3, variants=2, text_fields=["premise", "hypothesis"],
                    text_types={"premise": "text", "hypothesis": "text"}, carried=["label"],
                    columns=["premise", "hypothesis", "label"])
    whole = switch_batch(table, spec, sw)
    rng = random.Random(0)
    for _ in range(3):
        cuts = sorted(rng.sample(range(1, len(rows)), 4))
        parts = [switch_batch(table.slice(a, b - a), spec, sw) for a, b in zip([0, *cuts], [*cuts, len(rows)],
                                                                                 strict=True)]
        assert pa.concat_tables(parts).equals(whole)
    assert whole.num_rows == 2 * len(rows) and len(set(whole.column("premise").to_pylist())) > 6


def write(tmp_path, name, text) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


@pytest.mark.parametrize("name,text,extra,needle", [
    ("bad.jsonl", '{"text": "ok", "label": 1}\n{"text": "bad"\n', [], "bad.jsonl:2: malformed JSON"),
    ("bad.jsonl", '{"text": "ok", "label": 1}\n[1, 2]\n', [], "bad.jsonl:2: expected a JSON object"),
    ("bad.jsonl", '{"text": "ok", "label": 1}\n\n{"txt": "x", "label": 0}\n', [],
     "bad.jsonl:3: missing text field 'text'"),
    ("bad.jsonl", '{"text": "ok", "label": 1}\n{"text": "x"}\n', ["--label-field", "label"],
     "bad.jsonl:2: missing label field 'label'"),
    ("bad.jsonl", '{"sentence": "ok"}\n', ["--text-field", "text"], "bad.jsonl:1: missing text field 'text'"),
    ("bad.jsonl", '{"text": "ok", "id": 1}\n{"text": "no id"}\n', [], "bad.jsonl:2: missing id field 'id'"),
    ("bad.jsonl", '{"text": "a", "id": 1}\n{"text": "b", "id": 1}\n', [], "bad.jsonl:2: duplicate id '1'"),
    ("bad.jsonl", '{"text": "ok", "n": 1}\n{"text": "ok", "n": "x"}\n', [], "bad.jsonl:2: field 'n' is str"),
    ("bad.csv", "text,label\nhello,1\nworld\n", [], "bad.csv:3: fewer values than the 2 columns"),
    ("bad.csv", "sentence,stars\nhello,1\n", ["--text-field", "text"], "bad.csv:2: missing text field 'text'"),
    ("bad.csv", "text,stars\nhello,1\n", ["--label-field", "label"], "bad.csv:2: missing label field 'label'"),
    ("bad.conll", "a\tO\nb\tB-X\nc\tE-X\n\nd\tO\ne\tI-X\n", [], "bad.conll:6: I-X outside an entity"),
    ("bad.conll", "a\tO\nb\tS-X\n", ["--scheme", "iob2"], "bad.conll:2: tag 'S-X' does not fit IOB2"),
    ("bad.conll", "a\tO\nb\n", ["--task", "tagging"], "bad.conll:2: expected 'token ... tag' columns"),
    ("bad.jsonl", '{"tokens": ["a", "b"], "tags": ["O"]}\n', [], "bad.jsonl:1: 2 tokens but 1 tags"),
    ("bad.jsonl", '{"tokens": ["a"], "tags": ["S-X"]}\n{"tokens": ["a", "b"], "tags": ["O", "E-X"]}\n',
     ["--scheme", "bioes"], "bad.jsonl:2: tags: token 1: E-X outside an entity"),
    ("empty.jsonl", "\n\n", [], "empty.jsonl: no records"),
])
def test_bad_input_is_one_line_naming_file_and_line(tmp_path, capsys, name, text, extra, needle):
    path = write(tmp_path, name, text)
    rc = main(["build", "--input", path, "--tgt", "de", "--dictionary", DICT, "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("cslib: error: ") and needle in err[-1], err
    assert not any("Traceback" in line for line in err)


def test_parquet_input_and_tagging_jsonl_with_carried_intent(tmp_path):
    rows = [{"words": ["show", "me", "flights", "to", "berlin"], "slots": ["O", "O", "O", "O", "U-city"],
             "intent": "flight"}, {"words": ["a", "good", "book"], "slots": ["O", "O", "O"], "intent": "other"}]
    path = tmp_path / "atis.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    out = build(tmp_path, "pq", TaskOptions(tags_field="slots"), input=str(path), ratio=1.0)
    df = shard_df(out)
    assert json.loads((out / "manifest.json").read_text())["task"]["scheme"] == "bilou"
    assert df["intent"].tolist() == ["flight", "other"] and list(df.loc[0, "cs_tags"])[-1] == "U-city"
    assert list(df.loc[0, "cs_tokens"])[:3] == ["zeige", "mir", "Flüge"]
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([{"text": "ok"}, {"text": None}]), bad)
    with pytest.raises(CslibError, match=r"bad.parquet:row 2: missing text field 'text'"):
        build(tmp_path, "bad", input=str(bad))


def test_multilabel_list_is_classification_and_id_field_keys_rows(tmp_path):
    path = write(tmp_path, "ml.jsonl", '{"id": "a7", "text": "The dog is good.", "labels": ["pets", "pos"]}\n'
                                       '{"id": "b2", "text": "A boring book.", "labels": ["neg"]}\n')
    out = build(tmp_path, "ml", TaskOptions(id_field="id"), input=path, ratio=1.0)
    df = shard_df(out)
    assert json.loads((out / "manifest.json").read_text())["kind"] == "classification"
    assert df["id"].tolist() == ["en-de:a7:0", "en-de:b2:0"] and "Hund" in df.loc[0, "text"]
    assert [list(x) for x in df["labels"]] == [["pets", "pos"], ["neg"]]
    dup = write(tmp_path, "dup.jsonl", '{"id": 1, "text": "a"}\n{"id": 1, "text": "b"}\n')
    with pytest.raises(CslibError, match=r"dup.jsonl:2: duplicate id '1'"):
        build(tmp_path, "dup", TaskOptions(id_field="id"), input=dup)


def test_id_field_is_the_row_key_without_flags(tmp_path, capsys):
    path = write(tmp_path, "ids.jsonl", '{"id": "a7", "text": "The dog is good.", "label": 1}\n'
                                        '{"id": "b2", "text": "A boring book.", "label": 0}\n')
    out = tmp_path / "ids"
    assert main(["build", "--input", path, "--task", "classification", "--tgt", "de", "--dictionary", DICT,
                 "--out", str(out)]) == 0
    df = shard_df(out)
    assert df["id"].tolist() == ["en-de:a7:0", "en-de:b2:0"] and df["label"].tolist() == [1, 0]
    task = json.loads((out / "manifest.json").read_text())["task"]
    assert task["carried"] == ["label"] and "renamed" not in task
    # the same rows as with the flag given explicitly
    flagged = build(tmp_path, "flagged", TaskOptions(task="classification", id_field="id"), input=path)
    plain = build(tmp_path, "plain", TaskOptions(task="classification"), input=path)
    assert (flagged / "shard-00000.parquet").read_bytes() == (plain / "shard-00000.parquet").read_bytes()


def test_fields_named_like_written_columns_are_kept_as_input_columns(tmp_path):
    path = write(tmp_path, "clash.jsonl",
                 '{"text": "The dog is good.", "tgt_lang": "fr", "method": "survey", "input_method": "x", "_key": 3}\n'
                 '{"text": "A boring book.", "tgt_lang": "it", "method": "web", "input_method": "y", "_key": 4}\n')
    out = build(tmp_path, "clash", TaskOptions(task="classification"), input=path, ratio=1.0)
    df = shard_df(out)
    assert list(df.columns) == ["id", "src_lang", "tgt_lang", "method", "n_switched", "text", "src_text",
                                "input_tgt_lang", "input_input_method", "input_method", "input__key"]
    assert df["tgt_lang"].tolist() == ["de", "de"] and df["input_tgt_lang"].tolist() == ["fr", "it"]
    assert df["input_input_method"].tolist() == ["survey", "web"] and df["input_method"].tolist() == ["x", "y"]
    assert df["input__key"].tolist() == [3, 4] and df["id"].tolist() == ["en-de:0:0", "en-de:1:0"]
    task = json.loads((out / "manifest.json").read_text())["task"]
    assert task["carried"] == ["input_tgt_lang", "input_input_method", "input_method", "input__key"]
    assert task["renamed"] == {"input_tgt_lang": "tgt_lang", "input_input_method": "method", "input__key": "_key"}
    assert validate_dir(out) == (2, [])
    # another key field: a field named id is then carried, as input_id
    uid = write(tmp_path, "uid.jsonl", '{"uid": "u1", "id": 7, "text": "good"}\n{"uid": "u2", "id": 8, "text": "bad"}\n')
    df = shard_df(build(tmp_path, "uid", TaskOptions(id_field="uid"), input=uid))
    assert df["id"].tolist() == ["en-de:u1:0", "en-de:u2:0"] and df["input_id"].tolist() == [7, 8]

