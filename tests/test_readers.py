from __future__ import annotations

import pytest

from cslib import CslibError, read_conll, read_labeled_file, read_panx, read_text
from cslib.iob import is_iob2, repair_iob2, spans


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_panx_reader(tmp_path):
    p = write(tmp_path, "a.tsv", "Karl\tB-PER\nOve\tI-PER\nborn\tO\n\nAtlantic\tB-LOC\nCity\tI-LOC\n")
    sents = read_panx(p)
    assert [s.tokens for s in sents] == [["Karl", "Ove", "born"], ["Atlantic", "City"]]
    assert sents[1].tags == ["B-LOC", "I-LOC"]
    assert sents[1].line == 5


def test_conll_two_and_four_columns_iob1_to_iob2_and_docstart(tmp_path):
    p = write(tmp_path, "c.txt", "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n"
                                 "German JJ I-NP I-MISC\n\nPeter B-PER\nBlackburn I-PER\n")
    sents = read_conll(p)
    assert sents[0].tags == ["B-ORG", "O", "B-MISC"]  # IOB1 converted
    assert sents[1].tags == ["B-PER", "I-PER"]
    assert all(is_iob2(s.tags) for s in sents)
    assert read_labeled_file(p)[0].tokens == ["EU", "rejects", "German"]


@pytest.mark.parametrize("text,fmt,line,needle", [
    ("a\tO\nb\tO\tX\n", "panx", 2, "expected 2 columns, got 3"),
    ("a\tO\nb\tB-\n", "panx", 2, "illegal tag"),
    ("a\tO\nb\tX-PER\n", "panx", 2, "illegal tag"),
    ("a O\nb c d\n", "conll", 2, "expected 2 or 4 columns, got 3"),
])
def test_malformed_input_names_file_and_line(tmp_path, text, fmt, line, needle):
    p = write(tmp_path, "bad.txt", text)
    with pytest.raises(CslibError) as exc:
        read_labeled_file(p, fmt)
    msg = str(exc.value)
    assert msg.startswith(f"{p}:{line}:") and needle in msg and "\n" not in msg


def test_i_after_o_repaired_or_reported(tmp_path):
    p = write(tmp_path, "r.tsv", "x\tO\ny\tI-LOC\nz\tI-LOC\n")
    assert read_panx(p)[0].tags == ["O", "B-LOC", "I-LOC"]
    with pytest.raises(CslibError, match=rf"^{p}:2: I-LOC follows O"):
        read_panx(p, on_invalid="error")


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(CslibError, match="no sentences"):
        read_panx(write(tmp_path, "e.tsv", "\n\n"))
    with pytest.raises(CslibError, match="file not found"):
        read_panx(tmp_path / "nope.tsv")
    with pytest.raises(CslibError, match="no text lines"):
        read_text(write(tmp_path, "e.txt", ""))


def test_iob_helpers():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC"]
    assert [(s.start, s.end, s.type) for s in spans(tags)] == [(0, 2, "PER"), (3, 4, "LOC"), (4, 6, "LOC")]
    assert repair_iob2(["I-ORG", "I-PER", "O"]) == (["B-ORG", "B-PER", "O"], 2)


def test_real_panx_and_conll_mirror(data_root):
    en = read_panx(data_root / "panx" / "dev-en.tsv", on_invalid="error")
    assert len(en) == 10000 and all(is_iob2(s.tags) for s in en)
    es = read_conll(data_root / "conll2002" / "es.dev.txt")
    assert len(es) > 1000 and {t for s in es for t in s.tags} >= {"B-MISC", "I-ORG"}
