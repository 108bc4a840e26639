"""`ner predict` inputs (text in any encoding, JSONL / Parquet columns) and outputs (JSON, CoNLL, spaCy)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cslib import read_panx
from ner.cli import main
from ner.inference.predict import spacy_json
from tests.helpers import panx, write_cs_shards

LINES = ["Angela Merkel visited Paris .", "", "  The United Nations met in New York .", "São Paulo ist groß ."]


def _predict(run: Path, capsys, *argv: str) -> tuple[str, str]:
    assert main(["predict", "--model", str(run), "--lang", "en", *argv]) == 0, capsys.readouterr().err
    cap = capsys.readouterr()
    return cap.out, cap.err


def test_json_conll_and_spacy_agree(token_run: Path, tmp_path: Path, capsys) -> None:
    f = tmp_path / "in.txt"
    f.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    out, err = _predict(token_run, capsys, "--input", str(f), "--format", "json")
    assert "sentences/s" in err
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["text"] for r in rows] == LINES
    n_ents = sum(len(r["entities"]) for r in rows)
    assert n_ents > 0  # the tiny model finds something, so the span checks below check something
    # CoNLL: token TAB tag, a blank line after each sentence; reads back as IOB2 with the same entities.
    out, _ = _predict(token_run, capsys, "--input", str(f), "--format", "conll")
    conll = tmp_path / "pred.tsv"
    conll.write_text(out)
    back = read_panx(conll, on_invalid="error")
    nonempty = [r for r in rows if r["tokens"]]
    assert [s.tokens for s in back] == [r["tokens"] for r in nonempty]
    for s, r in zip(back, nonempty, strict=True):
        tagged = {(e["start"], e["end"], e["type"]) for e in r["entities"]}
        starts = {(i, t[2:]) for i, t in enumerate(s.tags) if t.startswith("B-")}
        assert starts == {(a, t) for a, _, t in tagged}
    # spaCy JSON: one Doc.to_json object a line; offsets index its text.
    out, _ = _predict(token_run, capsys, "--input", str(f), "--format", "spacy")
    docs = [json.loads(x) for x in out.splitlines()]
    assert len(docs) == len(LINES) and docs[2]["text"] == LINES[2].strip()
    for d, r in zip(docs, rows, strict=True):
        assert [d["text"][t["start"] : t["end"]] for t in d["tokens"]] == r["tokens"]
        assert [d["text"][e["start"] : e["end"]] for e in d["ents"]] == [e["text"] for e in r["entities"]]


def test_spacy_reads_the_output(token_run: Path, tmp_path: Path, capsys) -> None:
    spacy = pytest.importorskip("spacy")
    from spacy.tokens import Doc, DocBin

    f = tmp_path / "in.txt"
    f.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    out, _ = _predict(token_run, capsys, "--input", str(f), "--json")
    rows = [json.loads(x) for x in out.splitlines()]
    vocab = spacy.blank("xx").vocab
    for r in rows:
        doc = Doc(vocab).from_json(spacy_json(r))
        assert [t.text for t in doc] == r["tokens"]
        assert [(e.text, e.label_) for e in doc.ents] == [(x["text"], x["type"]) for x in r["entities"]]
    _predict(token_run, capsys, "--input", str(f), "--format", "spacy", "--out", str(tmp_path / "p.spacy"))
    docs = list(DocBin().from_disk(tmp_path / "p.spacy").get_docs(vocab))
    assert [[e.label_ for e in d.ents] for d in docs] == [[x["type"] for x in r["entities"]] for r in rows]


def test_parquet_and_jsonl_columns(token_run: Path, tmp_path: Path, data_root: Path, capsys) -> None:
    sents = panx(data_root / "panx" / "dev-en.tsv", 30)
    shards = write_cs_shards(tmp_path / "en-ja", sents, rows_per_shard=8)  # 4 Parquet files
    out_file = tmp_path / "pred.jsonl"
    _, err = _predict(token_run, capsys, "--input", str(shards), "--column", "src_tokens", "--json", "--out", str(out_file))
    rows = [json.loads(x) for x in out_file.read_text().splitlines()]
    assert [r["tokens"] for r in rows] == [s[0] for s in sents]
    assert rows[3]["id"] == "en-ja:3:0" and "predicted 30 sentences" in err
    jl = tmp_path / "in.jsonl"
    jl.write_text("\n".join(json.dumps({"id": i, "text": t}) for i, t in enumerate(LINES)) + "\n")
    out, _ = _predict(token_run, capsys, "--input", str(jl), "--json")
    assert [json.loads(x)["id"] for x in out.splitlines()] == ["0", "1", "2", "3"]
    assert main(["predict", "--model", str(token_run), "--lang", "en", "--input", str(jl), "--column", "body"]) == 2
    assert "no field 'body'" in capsys.readouterr().err


def test_encodings_and_bad_input_are_one_line(token_run: Path, tmp_path: Path, capsys) -> None:
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("São Paulo ist groß .\n".encode("latin-1"))
    assert main(["predict", "--model", str(token_run), "--lang", "de", "--input", str(latin), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{latin}:1: cannot decode byte 0xe3 as utf-8" in err and "--encoding" in err
    out, _ = _predict(token_run, capsys, "--input", str(latin), "--encoding", "latin-1", "--json")
    assert json.loads(out)["text"] == "São Paulo ist groß ."
    crlf_bom = tmp_path / "bom.txt"
    crlf_bom.write_bytes(b"\xef\xbb\xbfParis is big .\r\nRome .\r\n")
    out, _ = _predict(token_run, capsys, "--input", str(crlf_bom), "--json")
    assert [json.loads(x)["text"] for x in out.splitlines()] == ["Paris is big .", "Rome ."]
    for name, data in (("nul.txt", b"a\x00b\n"), ("bin.parquet", b"PAR1 not really")):
        (tmp_path / name).write_bytes(data)
        assert main(["predict", "--model", str(token_run), "--lang", "en", "--input", str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and name in err, err
