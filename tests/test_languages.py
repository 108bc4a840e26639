"""`cslib languages`: every PAN-X language of the mirror with the sources a default en->L build uses, sized
from the real files; what a language without sources lacks; JSON that parses; and measured shares that are
those of `cslib stats` on the same build (real data, tiny builds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cslib.cli
from cslib import LanguageSupport, language_support
from cslib.support import diagnose, format_markdown, format_text


@pytest.fixture(scope="module")
def table(data_root: Path) -> list[LanguageSupport]:
    return language_support(data_root=str(data_root))


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cslib.cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_every_mirror_language_is_listed_once(table: list[LanguageSupport], data_root: Path) -> None:
    mirror = {p.stem.split("-", 1)[1] for p in (data_root / "panx").glob("train-*.tsv")}
    codes = [r.code for r in table]
    assert len(codes) == len(set(codes)) == len(mirror) == 39
    assert set(codes) == mirror and "th" not in codes
    assert [r.code for r in table if r.role == "source"] == ["en"]
    text = format_text(table).splitlines()
    assert len(text) == 1 + len(table)  # header + one line each, no measurement: no diagnosis
    assert all(any(line.startswith(f"{c} ") for line in text) for c in codes)


def test_muse_sizes_are_the_files_pairs(table: list[LanguageSupport], data_root: Path) -> None:
    seen = 0
    for row in table:
        muse = [s for s in row.words if s.name == "muse"]
        path = data_root / "muse" / f"en-{row.code}.txt"
        if row.role == "source":
            continue
        assert bool(muse) == path.exists(), row.code
        if muse:
            lines = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
            assert muse[0].size == lines and muse[0].used and row.mode == "dict", row.code
            assert 0 < muse[0].kept <= lines
            seen += 1
    assert seen == 27  # 38 targets, 11 without MUSE (data README)
    vi = next(r for r in table if r.code == "vi").words[0]
    assert vi.kept < vi.size / 2  # most of MUSE en-vi translates a word by itself


def test_sources_are_what_a_build_uses(table: list[LanguageSupport], data_root: Path) -> None:
    by = {r.code: r for r in table}
    kk = by["kk"]
    assert kk.mode == "align" and [s.name for s in kk.used("words")] == ["tatoeba", "cldr", "induced"]
    assert [s.name for s in kk.used("transliteration")] == ["by-sound"]  # no dictionary: names by sound
    ru = by["ru"]  # a dictionary target: by sound only with --transliterate
    assert [s.name for s in ru.entities] == ["by-sound"] and not ru.used("transliteration")
    pairs = (data_root / "tatoeba" / "tatoeba.kaz-eng.eng").read_text(encoding="utf-8").splitlines()
    assert kk.words[0].size == len(pairs)
    ja = by["ja"]
    assert [s.name for s in ja.used("words")] == ["muse", "jmdict"]
    assert [s.name for s in ja.used("names")] == ["jmnedict"] and ja.used("transliteration")
    assert ja.panx_by_character and ja.tokenizer == "fugashi"
    de = by["de"]  # Tatoeba exists but auto picks MUSE alone
    assert [s.name for s in de.words] == ["muse", "tatoeba"] and not de.words[1].used
    assert de.missing == ["names: no typed name source", "transliteration: none"]


def test_a_language_without_dictionary_or_parallel_text(table: list[LanguageSupport],
                                                         capsys: pytest.CaptureFixture[str], data_root: Path) -> None:
    yo = next(r for r in table if r.code == "yo")  # Latin script: names kept; words from CLDR and induced
    assert yo.mode == "induce" and [s.name for s in yo.used("words")] == ["cldr", "induced"]
    assert yo.missing[0] == ("words: no MUSE en-yo, no Tatoeba English-yo pairs, no packaged dictionary; "
                             "CLDR names and induced lexicon only")
    assert yo.words[0].size > 500 and yo.words[0].kept > 500
    my = next(r for r in table if r.code == "my")  # no dictionary: induced words, names in Burmese script
    assert my.mode == "induce" and [s.name for s in my.used("words")] == ["cldr", "induced"]
    assert [s.name for s in my.used("transliteration")] == ["by-sound"]
    code, out, _ = _cli(capsys, "languages", "--lang", "yo", "my", "--data-root", str(data_root))
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("my ") and " induce " in lines[1] and "Burmese by rule" in lines[1]
    assert lines[2].startswith("yo ") and "induced lexicon" in lines[2] and "kept as written" in lines[2]


def test_json_parses_and_markdown_has_one_row_each(capsys: pytest.CaptureFixture[str], data_root: Path) -> None:
    code, out, _ = _cli(capsys, "languages", "--lang", "kk", "de", "--json", "--data-root", str(data_root))
    assert code == 0
    rows = json.loads(out)
    assert [r["code"] for r in rows] == ["de", "kk"] and rows[1]["mode"] == "align" and rows[0]["measured"] is None
    code, out, _ = _cli(capsys, "languages", "--lang", "kk", "de", "--markdown", "--data-root", str(data_root))
    lines = out.strip().splitlines()
    assert len(lines) == 4 and lines[2].startswith("| de | German |")


def test_user_errors_are_one_line(capsys: pytest.CaptureFixture[str], data_root: Path) -> None:
    for argv, needle in ((["--lang", "th"], "--lang th: no PAN-X data"), (["--lang", "xx"], "unknown language code"),
                         (["--keep-builds", "x"], "--keep-builds cannot be used with --measure 0")):
        code, out, err = _cli(capsys, "languages", *argv, "--data-root", str(data_root))
        assert code == 2 and out == "" and err.count("\n") == 1 and needle in err, err


def test_measured_shares_are_those_of_cslib_stats(capsys: pytest.CaptureFixture[str], data_root: Path,
                                                  tmp_path: Path) -> None:
    code, out, _ = _cli(capsys, "languages", "--lang", "de", "kk", "yo", "--measure", "50", "--json",
                        "--keep-builds", str(tmp_path), "--data-root", str(data_root))
    assert code == 0
    rows = {r["code"]: r for r in json.loads(out)}
    for lang in ("de", "kk"):
        m = rows[lang]["measured"]
        build = tmp_path / f"en-{lang}"
        assert m["build"] == str(build) and m["sentences"] == 50
        assert cslib.cli.main(["stats", str(build), "--json"]) == 0
        st = json.loads(capsys.readouterr().out)
        assert (m["rows_switched"], m["tokens_switched"], m["entities_switched"], m["word_rows_switched"]) == (
            st["rows_switched_fraction"], st["switched_token_fraction"], st["entities_switched_overall"],
            st["rows_with_word_switched_fraction"])
        assert m["entity_only_rows"] == round(1 - st["rows_with_word"] / st["rows"], 4)
        reasons = st["unswitched_rows"]
        assert m["entity_only_unswitched"] == round(reasons.get("entity_only_no_entry", 0) / 50, 4)
        assert m["words_without_entry"] + m["entity_only_unswitched"] <= 1 - m["rows_switched"] + 1e-9
        shares = [m[k] for k in ("rows_switched", "tokens_switched", "entities_switched", "entity_only_rows",
                                 "entity_only_unswitched", "words_without_entry", "english_word_coverage",
                                 "panx_word_overlap", "panx_words_in_tatoeba", "multiword_translations")]
        assert all(0.0 <= x <= 1.0 for x in shares), shares
        assert m["rows_switched"] > 0 and m["english_word_coverage"] > 0
    assert set(rows["kk"]["measured"]["translations"]) == {"align", "cldr", "induced"}
    assert set(rows["yo"]["measured"]["translations"]) == {"cldr", "induced"}
    assert rows["yo"]["measured"]["panx_token_chars"] > 1 and rows["yo"]["measured"]["panx_words_in_tatoeba"] is None
    # the diagnosis explains every measured target under 25% of rows, and only those
    table = [LanguageSupport.from_dict(r) for r in rows.values()]
    low = {c for c, r in rows.items() if r["measured"]["rows_switched"] < 0.25}
    lines = diagnose(table)
    assert {line.split(" ", 1)[0] for line in lines} == low and "yo" in low
    assert format_markdown(table).count("\n- ") == len(lines)
