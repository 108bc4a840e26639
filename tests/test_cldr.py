"""CLDR's names (babel) as a word source: what they hold, and where a default build uses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cslib import BuildConfig, iter_rows
from cslib.cli import main
from cslib.inspection.report import validate_dir
from cslib.iob import spans
from cslib.lexicons.cldr import cldr_pairs
from cslib.lexicons.sources import uses_cldr

pytest.importorskip("babel")


def test_cldr_pairs_name_countries_languages_months_in_the_target() -> None:
    yo = dict(cldr_pairs("yo"))
    assert yo["Germany"] == "Jámánì" and yo["Nigeria"] == "Nàìjíríà" and yo["France"] == "Faranse"
    assert yo["French"] == "Èdè Faransé"  # the language
    assert yo["January"] == "Oṣù Ṣẹ́rẹ́"
    kk = dict(cldr_pairs("kk"))
    assert kk["Moscow"] == "Мәскеу" and kk["London"] == "Лондон"  # cities of the time zones, named by zone id
    for lang in ("yo", "jv", "kk", "tl"):
        pairs = cldr_pairs(lang)
        assert len(pairs) > (100 if lang == "tl" else 300)  # Filipino writes most names as English does
        assert all(en.lower() != tgt.lower() for en, tgt in pairs)  # a name written the same switches nothing
        assert not any(c in en for en, _ in pairs for c in "()&,/")  # "Congo - Kinshasa", "Myanmar (Burma)" left out
    assert "Nigeria" not in dict(cldr_pairs("jv"))  # Javanese writes it as English does


def test_default_only_where_the_target_has_no_dictionary(data_root: Path) -> None:
    root = str(data_root)
    assert uses_cldr(BuildConfig(src="en", tgt="yo", data_root=root))
    assert uses_cldr(BuildConfig(src="en", tgt="kk", data_root=root))  # Tatoeba alignment only
    assert not uses_cldr(BuildConfig(src="en", tgt="de", data_root=root))  # MUSE
    assert uses_cldr(BuildConfig(src="en", tgt="de", data_root=root, cldr=True))
    assert not uses_cldr(BuildConfig(src="en", tgt="yo", data_root=root, cldr=False))


def test_a_yoruba_build_switches_countries_and_keeps_labels(tmp_path: Path, data_root: Path) -> None:
    out = tmp_path / "en-yo"
    argv = ["build", "--src", "en", "--tgt", "yo", "--data-root", str(data_root), "--limit", "400", "--ratio", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    n, problems = validate_dir(out)
    assert n == 400 and problems == []
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sources"]["dictionaries"]["cldr"] > 300
    yo = dict(cldr_pairs("yo"))
    countries = 0
    for r in iter_rows(out):
        assert [s.type for s in spans(r["cs_tags"])] == [s.type for s in spans(r["src_tags"])]
        for s in spans(r["cs_tags"]):
            words = " ".join(r["cs_tokens"][s.start:s.end])
            countries += any(name in words for en, name in yo.items() if en in ("Germany", "France", "England",
                                                                                 "Japan", "Canada", "Australia"))
    assert countries > 0
    off = tmp_path / "off"
    assert main([*argv, "--out", str(off), "--no-cldr"]) == 0
    manifest = json.loads((off / "manifest.json").read_text(encoding="utf-8"))
    assert "cldr" not in manifest["sources"]["dictionaries"]
    assert manifest["counts"]["rows_switched"] < json.loads((out / "manifest.json").read_text())["counts"]["rows_switched"]
