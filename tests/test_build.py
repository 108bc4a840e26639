from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cslib import BuildConfig, CslibError, UnlabeledConfig, build_codeswitch, build_unlabeled, read_table
from cslib import shards as shard_mod
from cslib.cli import main
from cslib.corpora import load_split
from cslib.inspection.report import stats, summary, validate_dir


def cfg(tmp_path, data_root, **kw) -> BuildConfig:
    # MUSE only: these tests are about the build machinery; the default sources (JMdict, names,
    # transliteration) are exercised by test_build_valid_on_real_data and tests/test_entities.py.
    base = dict(src="en", tgt="ja", out=str(tmp_path / "cs"), data_root=str(data_root), limit=400,
                shard_size=150, seed=3, extra_dicts=["none"], entity_sources=["none"], transliterate=False)
    base.update(kw)
    return BuildConfig(**base)


def shard_bytes(d):
    return {p.name: p.read_bytes() for p in sorted(d.glob("shard-*.parquet"))}


@pytest.mark.parametrize("tgt", ["ja", "zh", "de", "ar"])
def test_build_valid_on_real_data(tmp_path, data_root, tgt):
    out = build_codeswitch(cfg(tmp_path, data_root, tgt=tgt, variants=2, extra_dicts=None, entity_sources=None,
                               transliterate=None))  # every installed source, the CLI's default
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["rows"] == 800 and manifest["counts"]["sentences"] == 400
    assert len(manifest["shards"]) == 6  # 75 sentences x 2 variants per shard
    assert manifest["counts"]["switched_tokens"] > 0 and manifest["entity_types"] == ["LOC", "ORG", "PER"]
    n, problems = validate_dir(out)
    assert n == 800 and problems == []
    df = read_table(out).to_pandas()
    assert df["id"].is_unique and set(df["tgt_lang"]) == {tgt}
    switched = df[df.n_switched > 0]
    assert len(switched) > 50
    assert any(tgt in langs for langs in switched["cs_langs"])


def test_same_seed_identical_bytes_regardless_of_workers(tmp_path, data_root):
    a = build_codeswitch(cfg(tmp_path / "a", data_root, workers=1))
    b = build_codeswitch(cfg(tmp_path / "b", data_root, workers=2))
    c = build_codeswitch(cfg(tmp_path / "c", data_root, seed=4))
    assert shard_bytes(a) == shard_bytes(b)
    assert shard_bytes(a) != shard_bytes(c)


def test_interrupted_build_resumes_to_identical_output(tmp_path, data_root):
    out = build_codeswitch(cfg(tmp_path, data_root))
    full = shard_bytes(out)
    manifest = (out / "manifest.json").read_text()
    # Simulate an interruption: manifest not yet written, a shard missing, a temp file left over.
    (out / "manifest.json").unlink()
    (out / "shard-00001.parquet").unlink()
    (out / ".shard-00002.parquet.abc.tmp").write_bytes(b"partial")
    with pytest.raises(CslibError, match="not a finished shard set"):
        read_table(out)
    build_codeswitch(cfg(tmp_path, data_root))
    assert shard_bytes(out) == full and (out / "manifest.json").read_text() == manifest


def test_changed_config_needs_overwrite(tmp_path, data_root):
    build_codeswitch(cfg(tmp_path, data_root))
    with pytest.raises(CslibError, match="holds a different build"):
        build_codeswitch(cfg(tmp_path, data_root, ratio=0.3))
    out = build_codeswitch(cfg(tmp_path, data_root, ratio=0.3, overwrite=True))
    assert json.loads((out / "manifest.json").read_text())["config"]["ratio"] == 0.3


def test_wrong_schema_and_corrupt_rows_are_reported(tmp_path, data_root):
    out = build_codeswitch(cfg(tmp_path, data_root, limit=50, shard_size=100))
    path = out / "shard-00000.parquet"
    table = pq.read_table(path)
    # A row whose code-switched tags lost an entity: validate must catch it.
    rows = table.to_pylist()
    k = next(i for i, r in enumerate(rows) if any(t != "O" for t in r["cs_tags"]))
    rows[k]["cs_tags"] = ["O"] * len(rows[k]["cs_tags"])
    digest = shard_mod.write_table(path, pa.Table.from_pylist(rows, schema=table.schema))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"][0]["sha256"] = digest
    shard_mod.write_manifest(out, manifest)
    n, problems = validate_dir(out)
    assert len(problems) == 1 and "entities differ" in problems[0]
    assert main(["validate", str(out)]) == 1
    # A shard without a required column.
    pq.write_table(table.drop_columns(["cs_tags"]), path)
    with pytest.raises(CslibError, match=r"shard-00000.parquet: missing column 'cs_tags'"):
        read_table(out)
    pq.write_table(table.set_column(10, "n_switched", pa.array(["x"] * len(table))), path)
    with pytest.raises(CslibError, match="column 'n_switched' has type string"):
        read_table(out)


def test_unlabeled_from_panx_and_text(tmp_path, data_root):
    out = build_unlabeled(UnlabeledConfig(lang="ja", out=str(tmp_path / "u"), data_root=str(data_root),
                                          limit=120, shard_size=50))
    df = read_table(out).to_pandas()
    assert len(df) == 120 and len(list(out.glob("shard-*.parquet"))) == 3
    toks = [t for sent in df["tokens"] for t in sent]
    assert sum(len(t) == 1 for t in toks) > 0.95 * len(toks)  # PAN-X splits ja into characters
    txt = tmp_path / "raw.txt"
    txt.write_text("東京は日本の首都です。\n\n大阪にも行きました。\n", encoding="utf-8")
    out2 = build_unlabeled(UnlabeledConfig(lang="ja", out=str(tmp_path / "u2"), file=str(txt)))
    assert read_table(out2).to_pydict()["tokens"][0][:2] == ["東", "京"]


def test_unlabeled_pool_never_contains_dev_sentences(tmp_path, data_root, capsys):
    from cslib.unlabeled import sentence_key

    dev = {sentence_key(s.tokens) for s in load_split("panx", "id", "dev", str(data_root))}
    out = build_unlabeled(UnlabeledConfig(lang="id", out=str(tmp_path / "u"), data_root=str(data_root), limit=3000))
    rows = read_table(out).to_pydict()["tokens"]
    assert len(rows) == 3000 and not any(sentence_key(t) in dev for t in rows)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["excluded"] > 0 and manifest["excluded_from"][0]["source"] == "panx dev-id"
    # the same pool without the exclusion does contain dev sentences (the overlap is real)
    leaky = build_unlabeled(UnlabeledConfig(lang="id", out=str(tmp_path / "v"), data_root=str(data_root),
                                            limit=3000, exclude_dev=False))
    assert sum(sentence_key(t) in dev for t in read_table(leaky).to_pydict()["tokens"]) > 300
    # a user's own evaluation file (raw text, other tokenization) is left out too
    own = tmp_path / "my-eval.txt"
    own.write_text(" ".join(rows[0]) + "\n" + "".join(rows[1]) + "\n", encoding="utf-8")
    assert main(["unlabeled", "--lang", "id", "--data-root", str(data_root), "--out", str(tmp_path / "w"),
                 "--limit", "3000", "--exclude", str(own)]) == 0
    kept = {sentence_key(t) for t in read_table(tmp_path / "w").to_pydict()["tokens"]}
    assert sentence_key(rows[0]) not in kept and sentence_key(rows[1]) not in kept
    assert "left out" in capsys.readouterr().out


def test_limit_zero_or_negative_means_all(tmp_path, data_root):
    from cslib.readers import read_panx, read_text

    path = tmp_path / "t.tsv"
    path.write_text("a\tO\n\nb\tB-PER\n\nc\tO\n", encoding="utf-8")
    assert [len(read_panx(path, limit=n)) for n in (None, 0, -1, 2)] == [3, 3, 3, 2]
    txt = tmp_path / "t.txt"
    txt.write_text("x\ny\nz\n", encoding="utf-8")
    assert [len(read_text(txt, limit=n)) for n in (None, 0, -5, 1)] == [3, 3, 3, 1]
    assert len(load_split("panx", "hi", "dev", str(data_root), limit=0)) == len(load_split("panx", "hi", "dev", str(data_root)))


def test_summary_is_stats_without_reading_the_shards(tmp_path, data_root):
    out = build_codeswitch(BuildConfig(tgt="ja", data_root=str(data_root), out=str(tmp_path / "cs"), limit=120,
                                       shard_size=50, extra_dicts=["none"], entity_sources=["none"],
                                       transliterate=False))
    st = stats(out)
    assert summary(out) == {k: st[k] for k in ("rows", "switched_token_fraction", "rows_switched_fraction")}


def test_cli_build_inspect_stats_validate(tmp_path, data_root, capsys):
    out = tmp_path / "cli"
    assert main(["build", "--tgt", "zh", "--data-root", str(data_root), "--out", str(out), "--limit", "200",
                 "--examples", "2"]) == 0
    text = capsys.readouterr().out
    assert "200 rows" in text and text.count("src: ") == 2 and text.count("cs : ") == 2
    assert main(["build", "--tgt", "zh", "--data-root", str(data_root), "--out", str(tmp_path / "quiet"),
                 "--limit", "50"]) == 0
    text = capsys.readouterr().out
    assert "50 rows" in text and "src: " not in text  # --examples defaults to 0: none printed
    assert main(["inspect", str(out), "-n", "3"]) == 0
    assert capsys.readouterr().out.count("src: ") == 3
    assert main(["stats", str(out), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["rows"] == 200 and 0 < st["switched_token_fraction"] < 1
    assert main(["validate", str(out)]) == 0


@pytest.mark.parametrize("argv,needle", [
    (["build", "--tgt", "xx"], "unknown language code 'xx'"),
    (["build", "--tgt", "yo", "--mode", "dict"], "no MUSE dictionary for en-yo"),
    (["build", "--tgt", "yo", "--no-induce", "--no-cldr"], "nothing to switch with"),
    (["build", "--src", "de", "--tgt", "yo", "--cldr"], "--cldr: CLDR names are read from English"),
    (["build", "--tgt", "ja", "--input", "/nonexistent.tsv"], "/nonexistent.tsv: file not found"),
    (["build", "--tgt", "ja", "--dictionary", "/nonexistent.txt", "--limit", "5"], "dictionary file not found"),
    (["inspect", "/nonexistent"], "no such shard directory"),
])
def test_cli_errors_are_one_line(tmp_path, data_root, capsys, argv, needle):
    assert main(argv + (["--data-root", str(data_root)] if argv[0] == "build" else [])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("cslib: error: ") and needle in err[-1]
    assert not any("Traceback" in line for line in err)
