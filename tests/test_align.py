"""Alignment lexicon: real eflomal on a small en–de corpus, phrase extraction on hand-made links,
determinism, simalign on a tiny local model (and on the imported e5 encoder when present)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cslib.errors import CslibError
from cslib.lexicons.align import (
    AlignError,
    LexiconEntry,
    align_corpus,
    build_alignment_lexicon,
    extract_lexicon,
    grow_diag_final_and,
    phrase_pairs,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # simalign must never reach the hub

# (English, German, German definite article nominative, accusative, "my" nominative, "a" accusative)
NOUNS = [
    ("house", "Haus", "das", "das", "mein", "ein"),
    ("dog", "Hund", "der", "den", "mein", "einen"),
    ("cat", "Katze", "die", "die", "meine", "eine"),
    ("car", "Auto", "das", "das", "mein", "ein"),
    ("book", "Buch", "das", "das", "mein", "ein"),
    ("tree", "Baum", "der", "den", "mein", "einen"),
    ("garden", "Garten", "der", "den", "mein", "einen"),
    ("door", "Tür", "die", "die", "meine", "eine"),
    ("table", "Tisch", "der", "den", "mein", "einen"),
]
TEMPLATES = [
    ("The {n} is big .", "{Art} {N} ist groß ."),
    ("The {n} is small .", "{Art} {N} ist klein ."),
    ("I see the {n} .", "Ich sehe {acc} {N} ."),
    ("Where is the {n} ?", "Wo ist {art} {N} ?"),
    ("The {n} is here .", "{Art} {N} ist hier ."),
    ("We have a {n} .", "Wir haben {a} {N} ."),
    ("My {n} is new .", "{My} {N} ist neu ."),
    ("This is not my {n} .", "Das ist nicht {my} {N} ."),
]


def corpus() -> tuple[list[list[str]], list[list[str]]]:
    """72 tokenized en–de pairs: every noun in every frame, so nouns and frame words repeat."""
    src, tgt = [], []
    for en, de, art, acc, my, a in NOUNS:
        for e, g in TEMPLATES:
            src.append(e.format(n=en).split())
            tgt.append(g.format(N=de, art=art, Art=art.capitalize(), acc=acc, a=a, my=my,
                                My=my.capitalize()).split())
    return src, tgt


@pytest.fixture(scope="module")
def de_lexicon() -> list[LexiconEntry]:
    src, tgt = corpus()
    return build_alignment_lexicon(src, tgt, seed=0)


def best(lexicon: list[LexiconEntry], src: str) -> tuple[str, ...] | None:
    hits = [e for e in lexicon if e.src == tuple(src.split())]
    return hits[0].tgt if hits else None


def test_eflomal_lexicon_learns_nouns_and_frame_words(de_lexicon: list[LexiconEntry]) -> None:
    assert len(corpus()[0]) >= 60
    assert best(de_lexicon, "house") == ("Haus",)  # source lowercased, target keeps its capital
    for en, de, *_ in NOUNS:
        assert best(de_lexicon, en) == (de,), en
    assert best(de_lexicon, "big") == ("groß",)
    assert best(de_lexicon, "small") == ("klein",)
    house = next(e for e in de_lexicon if e.src == ("house",))
    assert house.count >= 6 and house.score >= 0.6


def test_eflomal_lexicon_is_sorted_and_meets_thresholds(de_lexicon: list[LexiconEntry]) -> None:
    assert de_lexicon == sorted(de_lexicon, key=lambda e: (e.src, -e.score, -e.count, e.tgt))
    assert all(e.count >= 2 and e.score >= 0.3 for e in de_lexicon)
    assert all(1 <= len(e.src) <= 3 and 1 <= len(e.tgt) <= 3 for e in de_lexicon)
    assert not any(e.src[-1] in ".?" or e.tgt[-1] in ".?" for e in de_lexicon)


def test_eflomal_is_deterministic_per_seed() -> None:
    src, tgt = corpus()
    first = align_corpus(src, tgt, seed=7)
    assert align_corpus(src, tgt, seed=7) == first
    assert all(all(0 <= i < len(s) and 0 <= j < len(t) for i, j in links)
               for s, t, links in zip(src, tgt, first, strict=True))
    assert first == [sorted(set(links)) for links in first]


def test_eflomal_handles_empty_sentences() -> None:
    src, tgt = corpus()
    src[3], tgt[5] = [], []
    links = align_corpus(src, tgt)
    assert links[3] == [] and links[5] == []
    assert links[0]


def test_phrase_pairs_are_tight_and_consistent() -> None:
    # he does not go / er geht nicht: "does" unaligned, "go"/"geht" crosses "not"/"nicht"
    src, tgt = ["he", "does", "not", "go"], ["er", "geht", "nicht"]
    links = [(0, 0), (2, 2), (3, 1)]
    assert set(phrase_pairs(src, tgt, links)) == {
        ((0, 1), (0, 1)),  # he / er
        ((2, 3), (2, 3)),  # not / nicht
        ((3, 4), (1, 2)),  # go / geht
        ((2, 4), (1, 3)),  # not go / geht nicht
    }  # no "he does not" (geht is linked outside), no "does not" (edge word unaligned)
    assert set(phrase_pairs(src, tgt, links, max_phrase_len=1)) == {
        ((0, 1), (0, 1)), ((2, 3), (2, 3)), ((3, 4), (1, 2))}
    # "a" is linked to x and z, so alone it would need y, which is linked to "b": only "a b" and "b" remain
    assert phrase_pairs(["a", "b"], ["x", "y", "z"], [(0, 0), (0, 2), (1, 1)]) == [((0, 2), (0, 3)), ((1, 2), (1, 2))]


def test_extract_lexicon_counts_scores_and_spelling() -> None:
    src = [["The", "house", "."], ["a", "house"], ["house"], ["house"]]
    tgt = [["Das", "Haus", "."], ["ein", "Haus"], ["Heim"], ["Haus"]]
    links = [[(0, 0), (1, 1), (2, 2)], [(0, 0), (1, 1)], [(0, 0)], [(0, 0)]]
    lex = extract_lexicon(src, tgt, links, min_count=1, min_score=0.0)
    house = [e for e in lex if e.src == ("house",)]
    assert house == [LexiconEntry(("house",), ("Haus",), 3, 0.75), LexiconEntry(("house",), ("Heim",), 1, 0.25)]
    assert next(e for e in lex if e.src == ("the",)).tgt == ("Das",)  # the only spelling seen
    assert not any(e.src[-1] == "." for e in lex)
    strict = extract_lexicon(src, tgt, links)  # min_count=2, min_score=0.3
    assert [(e.src, e.tgt) for e in strict] == [(("house",), ("Haus",))]
    cased = extract_lexicon(src, tgt, links, min_count=1, min_score=0.0, lowercase_src=False)
    assert any(e.src == ("The",) for e in cased)


def test_symmetrization_grows_from_intersection() -> None:
    # intersection {00, 11}; 21 is a neighbour covering unaligned source 2, then 22 covers target 2
    assert grow_diag_final_and({(0, 0), (1, 1), (2, 1)}, {(0, 0), (1, 1), (2, 2)}, 3, 3) == [
        (0, 0), (1, 1), (2, 1), (2, 2)]
    # 22 is no neighbour of 00; final-and adds it since both its words are unaligned
    assert grow_diag_final_and({(0, 0), (2, 2)}, {(0, 0)}, 3, 3) == [(0, 0), (2, 2)]
    # 02 is no neighbour and source 0 is aligned already: final-and leaves it out
    assert grow_diag_final_and({(0, 0), (0, 2)}, {(0, 0)}, 3, 3) == [(0, 0)]
    assert grow_diag_final_and(set(), {(0, 1)}, 2, 2) == [(0, 1)]


def test_errors_are_one_line_value_errors() -> None:
    src, tgt = corpus()
    cases = [
        (lambda: align_corpus(src, tgt[:-1]), "72 source sentences but 71 target sentences"),
        (lambda: align_corpus(src, tgt, method="giza"), "unknown alignment method 'giza'"),
        (lambda: align_corpus(src, tgt, method="simalign"), "simalign needs a local encoder directory"),
        (lambda: align_corpus(src, tgt, method="simalign", model_path="/nonexistent"), "not a local model"),
        (lambda: extract_lexicon(src, tgt, [[]] * 3), "3 alignments for 72 sentence pairs"),
        (lambda: extract_lexicon([["a"]], [["b"]], [[(0, 4)]]), "sentence pair 1: alignment link 0-4"),
        (lambda: extract_lexicon([["a"]], [["b"]], [[]], max_phrase_len=0), "max_phrase_len >= 1"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError) as info:
            call()
        assert isinstance(info.value, CslibError) and isinstance(info.value, AlignError)
        assert message in str(info.value) and "\n" not in str(info.value)


# ----------------------------------------------------------------------------- simalign


def tiny_bert(path: Path, words: list[str]) -> Path:
    """A random 2-layer BertModel with a word-level vocabulary: enough to run simalign offline."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    path.mkdir()
    (path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    BertTokenizerFast(vocab_file=str(path / "vocab.txt"), do_lower_case=True).save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words) + 5, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(path)
    return path


def test_simalign_with_tiny_local_model(tmp_path: Path) -> None:
    src, tgt = corpus()
    src, tgt = src[:6], tgt[:6]
    words = sorted({w.lower() for s in src + tgt for w in s})
    model = tiny_bert(tmp_path / "tiny", words)
    first = align_corpus(src, tgt, "simalign", model_path=str(model), layer=2)
    assert first == align_corpus(src, tgt, "simalign", model_path=str(model), layer=2)
    for s, t, links in zip(src, tgt, first, strict=True):
        assert links and all(0 <= i < len(s) and 0 <= j < len(t) for i, j in links)
    with pytest.raises(AlignError, match="layer 8 does not exist"):
        align_corpus(src, tgt, "simalign", model_path=str(model))
    with pytest.raises(AlignError, match="unknown simalign matching"):
        align_corpus(src, tgt, "simalign", model_path=str(model), layer=2, matching="x")


def test_simalign_smoke_on_imported_e5(e5_dir: Path) -> None:
    src = [["He", "writes", "a", "letter", "."], ["I", "like", "cats", "."], ["The", "water", "is", "cold", "."],
           ["Where", "is", "the", "station", "?"], ["We", "can", "not", "learn", "Japanese", "without", "Kanji", "."]]
    tgt = [["彼", "は", "手紙", "を", "書く", "。"], ["私", "は", "猫", "が", "好き", "です", "。"],
           ["水", "は", "冷たい", "。"], ["駅", "は", "どこ", "です", "か", "？"],
           ["漢字", "を", "学ば", "ない", "で", "日本", "語", "は", "学べ", "ない", "。"]]
    links = align_corpus(src, tgt, "simalign", model_path=str(e5_dir))
    pairs = {(src[k][i], tgt[k][j]) for k, sent in enumerate(links) for i, j in sent}
    expected = {("letter", "手紙"), ("cats", "猫"), ("water", "水"), ("station", "駅"), ("Where", "どこ"),
                ("cold", "冷たい")}
    assert len(expected & pairs) >= 4, sorted(pairs)
