"""Alignment lexicons for languages without MUSE: precision filters and the automatic align mode."""

from __future__ import annotations

import json

from cslib.cli import main
from cslib.corpora import load_parallel
from cslib.lexicons.align import align_corpus, extract_lexicon
from cslib.lexicons.align_precision import FUNCTION_WORDS, LexiconFilter, precise_lexicon
from cslib.tokenizers import word_tokenize


def test_precise_lexicon_drops_names_for_function_words(data_root) -> None:
    src, tgt = load_parallel("ar", data_root)
    s = [word_tokenize(x, "en") for x in src]
    t = [word_tokenize(x, "ar") for x in tgt]
    al = align_corpus(s, t, "eflomal", seed=13)
    raw = {(e.src, e.tgt) for e in extract_lexicon(s, t, al)}
    noise = {p for p in raw if len(p[0]) == 1 and p[0][0] in FUNCTION_WORDS and "سامي" in p[1]}
    assert noise  # the noise the filters are for: his → سامي (Sami)
    kept = precise_lexicon(s, t, al)
    pairs = {(e.src, e.tgt) for e in kept}
    assert len(kept) < len(raw) and (("sami",), ("سامي",)) in pairs and (("in",), ("في",)) in pairs
    for e in kept:
        if len(e.src) == 1 and e.src[0] in FUNCTION_WORDS:
            assert "سامي" not in e.tgt and "ليلى" not in e.tgt and e.count >= LexiconFilter().min_count_function
        assert not ("سامي" in e.tgt and "sami" not in e.src)  # a name only for the same name
        assert 0 < e.score <= 1


def test_build_without_muse_aligns_tatoeba_with_no_flags(tmp_path, data_root, capsys) -> None:
    out = tmp_path / "sw"
    assert main(["build", "--tgt", "sw", "--data-root", str(data_root), "--out", str(out), "--limit", "300"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sources"]["mode"] == "align" and set(manifest["sources"]["dictionaries"]) == {"align", "cldr", "induced"}
    assert manifest["counts"]["switched_tokens"] > 0
    assert main(["validate", str(out)]) == 0
