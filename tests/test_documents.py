"""`ner predict` on documents: paragraphs split into sentences, offsets into the input line, long
sentences tagged in windows, and `--keep-lines` (one line = one sentence)."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest

from cslib import read_panx, split_sentences, tokenize
from ner.cli import main
from ner.inference.loading import load_model
from ner.inference.precision import amp_dtype
from ner.inference.predict import char_spans, document, predict_texts
from ner.inference.tagging import predict_entities
from ner.inference.windows import merge_windows, predict_windowed, windows
from ner.model.grid import Entity
from tests.helpers import panx

# News paragraphs written for these tests: 200+ words (ja: characters) each, every sentence shorter than
# the default window.
EN = [
    "The European Commission said on Tuesday that it would open an investigation into the merger of two of "
    "Germany's largest steel makers, Thyssenkrupp and Salzgitter, after complaints from customers in Italy and "
    "Spain.",
    "Margrethe Vestager, the commissioner in charge of competition, told reporters in Brussels that the deal "
    "could raise prices for car makers such as Volkswagen, Fiat and Renault.",
    "Shares of Thyssenkrupp fell 3.5 percent in Frankfurt, while Salzgitter lost 2.1 percent.",
    "Mr. Heinrich Hiesinger, the chief executive of Thyssenkrupp, said the company would cooperate fully.",
    "\"We are confident that the merger will be approved,\" he said in a statement.",
    "The investigation is expected to last until March, according to officials in Brussels.",
    "Analysts at Deutsche Bank and Goldman Sachs said the approval was likely but could come with conditions, "
    "such as the sale of plants in Duisburg or Bremen.",
    "Trade unions in North Rhine-Westphalia, led by IG Metall, warned that thousands of jobs were at risk.",
    "The German economy minister, Peter Altmaier, declined to comment on the case.",
    "Meanwhile, Tata Steel of India, which had once discussed a merger with Thyssenkrupp, said it was watching "
    "the process closely.",
    "A decision from the commission on the U.S. part of the business is due later this year.",
]
DE = [
    "Die Europäische Kommission hat am Dienstag eine Untersuchung der geplanten Fusion von Thyssenkrupp und "
    "Salzgitter eingeleitet, nachdem Kunden aus Italien und Spanien Beschwerden eingereicht hatten.",
    "Wettbewerbskommissarin Margrethe Vestager sagte in Brüssel, die Übernahme könne die Preise für "
    "Autohersteller wie Volkswagen, Fiat und Renault erhöhen.",
    "Die Aktie von Thyssenkrupp fiel in Frankfurt um 3,5 Prozent, Salzgitter verlor 2,1 Prozent.",
    "Der Vorstandsvorsitzende Heinrich Hiesinger erklärte, das Unternehmen werde mit der Behörde zusammenarbeiten.",
    "„Wir sind zuversichtlich, dass die Fusion genehmigt wird“, sagte er am 3. Oktober in Essen.",
    "Die Prüfung soll nach Angaben von Beamten in Brüssel bis März dauern.",
    "Analysten der Deutschen Bank und von Goldman Sachs halten eine Genehmigung für wahrscheinlich, rechnen "
    "aber mit Auflagen wie dem Verkauf von Werken in Duisburg oder Bremen.",
    "Die IG Metall warnte in Nordrhein-Westfalen vor dem Verlust von Tausenden Arbeitsplätzen.",
    "Bundeswirtschaftsminister Peter Altmaier wollte sich zu dem Fall nicht äußern.",
    "Unterdessen erklärte Tata Steel aus Indien, das früher selbst über eine Fusion mit Thyssenkrupp verhandelt "
    "hatte, man beobachte das Verfahren genau.",
    "Der Konzern beschäftigt weltweit rund 160.000 Mitarbeiter, davon etwa die Hälfte in Deutschland.",
    "Die Gewerkschaften kündigten für den kommenden Montag Proteste vor der Zentrale in Essen an.",
    "Eine Entscheidung über das Geschäft in den USA wird z.B. für Ende des Jahres erwartet.",
]
JA = [
    "欧州委員会は火曜日、ドイツの鉄鋼大手ティッセンクルップとザルツギッターの合併について調査を始めると発表した。",
    "イタリアやスペインの顧客から苦情が寄せられたためだ。",
    "競争政策を担当するベステアー委員はブリュッセルで記者団に対し、「フォルクスワーゲンなど自動車メーカーの負担が増える恐れがある。」と述べた。",
    "フランクフルト市場でティッセンクルップの株価は３．５％下落した。",
    "同社のヒージンガー最高経営責任者は「当局に全面的に協力する」と語った。",
    "調査は３月まで続く見通しだ。",
    "ドイツ銀行の分析担当者は、承認される可能性は高いが、デュイスブルクの工場売却などの条件が付くかもしれないと指摘した。",
    "一方、インドのタタ製鉄は手続きを注視していると明らかにした。",
]
PARAGRAPHS = {"en": (EN, " "), "de": (DE, " "), "ja": (JA, "")}
JSON_KEYS = {"text", "type", "start", "end", "char_start", "char_end", "score"}


def _predict(run: Path, capsys, lang: str, *argv: str) -> str:
    assert main(["predict", "--model", str(run), "--lang", lang, *argv]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _words(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("lang", ["en", "de", "ja"])
def test_a_paragraph_finds_what_its_sentences_find(token_run: Path, tmp_path: Path, capsys, lang: str) -> None:
    """The issue's acceptance shape: `ner predict` on a paragraph of 200+ words gives, sentence by sentence,
    the entities (spans, types, scores) of its sentences given one a line."""
    sentences, sep = PARAGRAPHS[lang]
    paragraph = sep.join(sentences)
    assert len(tokenize(paragraph, lang) if lang == "ja" else paragraph.split()) >= 200
    assert [paragraph[a:b] for a, b in split_sentences(paragraph, lang)] == sentences
    (tmp_path / "p.txt").write_text(paragraph + "\n", encoding="utf-8")
    (tmp_path / "s.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
    doc = json.loads(_predict(token_run, capsys, lang, "--input", str(tmp_path / "p.txt"), "--json"))
    one_by_one = [json.loads(x) for x in _predict(token_run, capsys, lang, "--input", str(tmp_path / "s.txt"),
                                                  "--json", "--keep-lines").splitlines()]
    assert len(doc["sentences"]) == len(one_by_one) == len(sentences)
    assert doc["tokens"] == [t for r in one_by_one for t in r["tokens"]]
    for k, (sent, alone) in enumerate(zip(doc["sentences"], one_by_one, strict=True)):
        assert doc["text"][sent["char_start"] : sent["char_end"]] == alone["text"]
        assert doc["tokens"][sent["start"] : sent["end"]] == alone["tokens"]
        mine = [{**{key: e[key] for key in ("text", "type", "score")},
                 "start": e["start"] - sent["start"], "end": e["end"] - sent["start"],
                 "char_start": e["char_start"] - sent["char_start"], "char_end": e["char_end"] - sent["char_start"]}
                for e in doc["entities"] if e["sentence"] == k]
        assert mine == alone["entities"], k
    # offsets into the input line: the entity's text is the line's characters, its tokens without spaces
    for e in doc["entities"]:
        assert set(e) == JSON_KEYS | {"sentence"}
        assert doc["text"][e["char_start"] : e["char_end"]] == e["text"]
        assert _words(e["text"]) == "".join(doc["tokens"][e["start"] : e["end"]])
        sent = doc["sentences"][e["sentence"]]
        assert sent["start"] <= e["start"] < e["end"] <= sent["end"]
    # text: one output line for the one input line, the same entities
    text = _predict(token_run, capsys, lang, "--input", str(tmp_path / "p.txt"))
    assert text == "\t".join(f"{e['text']} [{e['type']}]" for e in doc["entities"]) + "\n"


def test_entities_are_found_and_every_format_keeps_the_document(token_run: Path, tmp_path: Path, capsys) -> None:
    lines = [" ".join(EN), "", "  " + "  ".join(EN[:3])]  # a paragraph, an empty line, odd spacing
    f = tmp_path / "in.txt"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = [json.loads(x) for x in _predict(token_run, capsys, "en", "--input", str(f), "--json").splitlines()]
    assert [r["text"] for r in rows] == lines and rows[1]["sentences"] == [] and rows[1]["entities"] == []
    assert len(rows[2]["sentences"]) == 3 and sum(len(r["entities"]) for r in rows) > 0
    for r in rows:
        spans = char_spans(r["text"], r["tokens"])
        assert all(r["text"][a:b] == t for (a, b), t in zip(spans, r["tokens"], strict=True))
        for e in r["entities"]:
            assert r["text"][e["char_start"] : e["char_end"]] == e["text"]
    # spaCy: the document's text (single spaces kept, others made one), ents and sents at the same words
    docs = [json.loads(x) for x in _predict(token_run, capsys, "en", "--input", str(f), "--format", "spacy").splitlines()]
    assert docs[0]["text"] == lines[0] and docs[2]["text"] == " ".join(EN[:3])
    assert [(e["start"], e["end"]) for e in docs[0]["ents"]] == [(e["char_start"], e["char_end"])
                                                                 for e in rows[0]["entities"]]
    for d, r in zip(docs, rows, strict=True):
        assert [d["text"][t["start"] : t["end"]] for t in d["tokens"]] == r["tokens"]
        assert [d["text"][e["start"] : e["end"]] for e in d["ents"]] == [" ".join(e["text"].split())
                                                                         for e in r["entities"]]
        assert [d["text"][s["start"] : s["end"]] for s in d["sents"]] == \
            [" ".join(r["text"][s["char_start"] : s["char_end"]].split()) for s in r["sentences"]]
    # CoNLL: one block per input line (the empty line has none), tokens of all its sentences
    conll = tmp_path / "out.tsv"
    conll.write_text(_predict(token_run, capsys, "en", "--input", str(f), "--format", "conll"), encoding="utf-8")
    back = read_panx(conll, on_invalid="error")
    assert [s.tokens for s in back] == [rows[0]["tokens"], rows[2]["tokens"]]
    assert [sum(t.startswith("B-") for t in s.tags) for s in back] == [len(rows[0]["entities"]),
                                                                       len(rows[2]["entities"])]


def test_line_breaks_inside_a_record_stay_in_its_output_line(token_run: Path, tmp_path: Path, capsys) -> None:
    """A JSON-lines text may hold line breaks (a blank line ends a sentence, a single one does not); the
    text format still writes one line per record."""
    records = [" ".join(EN[:3]).replace(" ", "\n"), "\n\n".join(EN[3:5]), EN[5]]
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(json.dumps({"text": t}) for t in records) + "\n", encoding="utf-8")
    rows = [json.loads(x) for x in _predict(token_run, capsys, "en", "--input", str(f), "--json").splitlines()]
    assert [len(r["sentences"]) for r in rows] == [3, 2, 1]
    assert any("\n" in e["text"] for e in rows[0]["entities"])  # entities of several words span line breaks
    text = _predict(token_run, capsys, "en", "--input", str(f)).split("\n")
    assert len(text) == len(records) + 1 and text[-1] == ""
    assert text[0] == "\t".join(f"{' '.join(e['text'].split())} [{e['type']}]" for e in rows[0]["entities"])


def test_keep_lines_is_the_sentence_a_line_output(token_run: Path, tmp_path: Path, capsys) -> None:
    """`--keep-lines` tags each line whole, as one sentence, and writes what `ner predict` wrote before
    sentence splitting: no sentence index, no sentence spans; the library agrees."""
    lines = [" ".join(EN[:2]), "", "  The United Nations met in New York ."]
    f = tmp_path / "in.txt"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = [json.loads(x) for x in _predict(token_run, capsys, "en", "--input", str(f), "--json",
                                            "--keep-lines").splitlines()]
    model = load_model(token_run)
    tokens = [tokenize(line, "en") if line.strip() else [] for line in lines]
    expected = predict_entities(model, tokens, amp=amp_dtype("auto", model.device))  # as `ner predict` tags
    for r, toks, ents in zip(rows, tokens, expected, strict=True):
        assert set(r) == {"text", "tokens", "entities"} and r["tokens"] == toks
        assert [(e["start"], e["end"] - 1, e["type"], e["score"]) for e in r["entities"]] == \
            [(e.start, e.last, e.type, round(float(e.score), 4)) for e in ents]
        assert all(set(e) == JSON_KEYS and r["text"][e["char_start"] : e["char_end"]] == e["text"]
                   for e in r["entities"])
    assert predict_texts(model, lines, "en", split_sentences=False) == rows
    assert predict_texts(model, lines, "en") == \
        [json.loads(x) for x in _predict(token_run, capsys, "en", "--input", str(f), "--json").splitlines()]
    docs = [json.loads(x) for x in _predict(token_run, capsys, "en", "--input", str(f), "--format", "spacy",
                                            "--keep-lines").splitlines()]
    assert all(set(d) == {"text", "ents", "tokens"} for d in docs)
    conll = _predict(token_run, capsys, "en", "--input", str(f), "--format", "conll", "--keep-lines")
    assert conll.split("\n\n")[0].splitlines() == [f"{t}\t{g}" for t, g in zip(
        tokens[0], _tags(rows[0]), strict=True)]
    # a line longer than --max-words: whole with --max-words 0
    long = " ".join(EN + EN)
    f.write_text(long + "\n", encoding="utf-8")
    row = json.loads(_predict(token_run, capsys, "en", "--input", str(f), "--json", "--keep-lines", "--max-words", "0"))
    toks = tokenize(long, "en")
    assert row["tokens"] == toks and len(toks) > 400
    assert [(e["start"], e["end"] - 1, e["type"]) for e in row["entities"]] == \
        [(e.start, e.last, e.type) for e in predict_entities(model, [toks], amp=amp_dtype("auto", model.device))[0]]


def _tags(row: dict) -> list[str]:
    tags = ["O"] * len(row["tokens"])
    for e in row["entities"]:
        tags[e["start"] : e["end"]] = [f"B-{e['type']}"] + [f"I-{e['type']}"] * (e["end"] - e["start"] - 1)
    return tags


# --- windows -----------------------------------------------------------------------------------------------


def test_windows_cover_the_sentence_with_the_overlap() -> None:
    assert windows(100, 128, 32) == [(0, 100)] and windows(128, 128, 32) == [(0, 128)] and windows(0) == [(0, 0)]
    assert windows(500, 0, 32) == [(0, 500)]  # 0: no limit
    for n, size, overlap in ((129, 128, 32), (300, 128, 32), (1000, 50, 10), (37, 8, 0)):
        spans = windows(n, size, overlap)
        assert spans[0][0] == 0 and spans[-1][1] == n and all(b - a == size for a, b in spans)
        assert all(a2 > a1 and b1 - a2 >= overlap for (a1, b1), (a2, _) in pairwise(spans))
    for size, overlap in ((8, 8), (8, 9), (-1, 0)):
        with pytest.raises(ValueError):
            windows(20, size, overlap)


def test_merge_keeps_the_entity_farthest_from_a_window_edge() -> None:
    def spans(ents: list[Entity]) -> list[tuple[int, int, str]]:
        return [(e.start, e.last, e.type) for e in ents]

    # windows [0, 10) and [6, 16) of a 16-word sentence; positions relative to each window
    first = [Entity(1, 2, "PER"), Entity(7, 9, "ORG")]  # ORG 7-9 touches the first window's right edge
    second = [Entity(1, 3, "ORG"), Entity(6, 6, "LOC")]  # = ORG 7-9 away from the edge; LOC 12
    merged = merge_windows([(0, 10, first), (6, 16, second)], 16)
    assert spans(merged) == [(1, 2, "PER"), (7, 9, "ORG"), (12, 12, "LOC")]
    # crossing spans: the one seen farther from an edge wins; a duplicate is kept once
    crossing = merge_windows([(0, 10, [Entity(8, 9, "ORG")]), (6, 16, [Entity(1, 3, "PER")])], 16)
    assert spans(crossing) == [(7, 9, "PER")]
    dup = merge_windows([(0, 10, [Entity(6, 7, "LOC")]), (6, 16, [Entity(0, 1, "LOC")])], 16)
    assert spans(dup) == [(6, 7, "LOC")]
    # a sentence's own ends are no window edge: its first word is as good as the middle
    ends = merge_windows([(0, 10, [Entity(0, 0, "PER")]), (6, 16, [Entity(9, 9, "LOC")])], 16)
    assert spans(ends) == [(0, 0, "PER"), (15, 15, "LOC")]
    one = [Entity(0, 5, "ORG"), Entity(3, 4, "PER")]
    assert merge_windows([(0, 16, one)], 16) == one  # one window: its entities as they are


def test_windowed_tagging_of_a_long_sentence(run: Path, data_root: Path) -> None:
    model = load_model(run)
    long = [t for s in panx(data_root / "panx" / "dev-en.tsv", 40) for t in s[0]][:300]
    short = panx(data_root / "panx" / "dev-en.tsv", 3)[2][0]
    whole = predict_entities(model, [long, short])
    # a window that covers the sentence: the whole-sentence spans
    assert predict_windowed(model, [long, short], max_words=300) == whole
    assert predict_windowed(model, [long, short], max_words=0) == whole
    # smaller windows: sorted, no crossing, each entity one of its window's, none dropped without a reason
    size, overlap = 40, 12
    merged, short_again = predict_windowed(model, [long, short], max_words=size, overlap=overlap)
    assert short_again == whole[1]
    spans = windows(len(long), size, overlap)
    per_window = predict_entities(model, [long[a:b] for a, b in spans])
    candidates = []
    for (a, b), ents in zip(spans, per_window, strict=True):
        for e in ents:
            edge = min(e.start if a else len(long), (b - a - 1 - e.last) if b < len(long) else len(long))
            candidates.append((e.start + a, e.last + a, e.type, edge))
    assert candidates and merged
    kept = [(e.start, e.last, e.type) for e in merged]
    assert kept == sorted(kept) and all(x[1] < y[0] for x, y in pairwise(kept))
    assert set(kept) <= {c[:3] for c in candidates}
    best = {c[:3]: max(d[3] for d in candidates if d[:3] == c[:3]) for c in candidates}
    for first, last, typ, edge in candidates:
        if (first, last, typ) not in kept:  # dropped: a kept entity overlaps it and was seen at least as far in
            assert any(k[0] <= last and first <= k[1] and best[k] >= edge for k in kept), (first, last, typ)


def test_window_options_on_the_command_line(token_run: Path, tmp_path: Path, data_root: Path, capsys) -> None:
    long = " ".join(t for s in panx(data_root / "panx" / "dev-en.tsv", 30) for t in s[0] if not set(t) & set(".!?"))
    f = tmp_path / "long.txt"
    f.write_text(long + "\n", encoding="utf-8")
    assert len(document(long, "en").sentences) == 1 and len(document(long, "en").tokens) > 200
    whole = json.loads(_predict(token_run, capsys, "en", "--input", str(f), "--json", "--max-words", "0"))
    assert json.loads(_predict(token_run, capsys, "en", "--input", str(f), "--json", "--max-words", "1000")) == whole
    windowed = json.loads(_predict(token_run, capsys, "en", "--input", str(f), "--json", "--max-words", "50",
                                   "--window-overlap", "10"))
    ends = [(e["start"], e["end"]) for e in windowed["entities"]]
    assert ends == sorted(ends) and all(a[1] <= b[0] for a, b in pairwise(ends))
    assert main(["predict", "--model", str(token_run), "--lang", "en", "--input", str(f), "--max-words", "16",
                 "--window-overlap", "16"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--window-overlap (16) must be smaller than --max-words (16)" in err
