"""Human-readable views of shard sets: side-by-side examples, statistics and validation."""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path

from .. import shards
from ..iob import spans
from ..validate import row_problem
from . import task_report
from .rows import mark_entities, pick_rows


def _task_kind(directory: str | Path) -> bool:
    return shards.read_manifest(directory)["kind"] in task_report.KINDS


def format_example(row: dict) -> str:
    cs_join = " "
    return (f"{row['id']}  ({row['method']}, {row['n_switched']} switched)\n"
            f"  src: {mark_entities(row['src_tokens'], row['src_tags'])}\n"
            f"  cs : {mark_entities(row['cs_tokens'], row['cs_tags'], cs_join)}")


def examples(directory: str | Path, n: int = 10, switched_only: bool = True, offset: int = 0) -> list[str]:
    if _task_kind(directory):
        return task_report.examples(directory, n, switched_only, offset)
    return [format_example(row) for row in pick_rows(directory, n, offset, switched_only)]


def summary(directory: str | Path) -> dict:
    """`stats`' rows and switched fractions of a switched set, from its manifest alone: the counts a
    build summed over the rows it wrote (each checked by `row_problem` before writing), with
    `stats`' rounding, so that printing them after a build reads no shard back."""
    counts = shards.read_manifest(directory)["counts"]
    return {"rows": counts["rows"], "switched_token_fraction": counts.get("switched_fraction"),
            "rows_switched_fraction": round(counts["rows_switched"] / max(1, counts["rows"]), 4)}


def stats(directory: str | Path) -> dict:
    manifest, _ = shards.shard_paths(directory)
    if manifest["kind"] in task_report.KINDS:
        return task_report.stats(directory)
    if manifest["kind"] == "unlabeled":
        return {"kind": "unlabeled", "lang": manifest["lang"], **manifest["counts"]}
    c: Counter = Counter()
    src_types: Counter = Counter()
    switched_ents: Counter = Counter()
    by_source: Counter = Counter()  # (type, source) of switched entities
    token_sources: Counter = Counter()
    unswitched: Counter = Counter()
    for row in shards.iter_rows(directory):
        c.update(rows=1, src_tokens=len(row["src_tokens"]), cs_tokens=len(row["cs_tokens"]),
                 switched_tokens=row["n_switched"], rows_switched=int(row["n_switched"] > 0))
        sources = row.get("cs_sources")
        src_spans = spans(row["src_tags"])
        has_word = _has_non_entity_word(row["src_tokens"], src_spans)
        c.update(rows_with_word=int(has_word), rows_with_word_switched=int(has_word and row["n_switched"] > 0))
        for s in spans(row["cs_tags"]):
            src_types[s.type] += 1
            if row["cs_langs"][s.start] == row["tgt_lang"]:
                switched_ents[s.type] += 1
                if sources:  # a composed name counts for each source it drew on
                    by_source.update((s.type, part) for part in sources[s.start].split("+"))
        if sources:
            token_sources.update(part for x in sources if x for part in x.split("+"))
        if not row["n_switched"] and "n_translatable" in row:
            unswitched[_unswitched_reason(row, src_spans, has_word)] += 1
    n_ent = sum(src_types.values())
    extra = {}
    if by_source or unswitched:
        per_source: dict[str, dict[str, float]] = {}
        for (typ, src), n in sorted(by_source.items()):
            per_source.setdefault(src, {})[typ] = round(n / src_types[typ], 4)
        extra = {
            "entity_switch_by_source": per_source,
            "switched_tokens_by_source": dict(token_sources.most_common()),
            "unswitched_rows": dict(unswitched.most_common()),
        }
    return {
        "kind": "codeswitch", "pair": f"{manifest['src_lang']}-{manifest['tgt_lang']}", **dict(c),
        "switched_token_fraction": round(c["switched_tokens"] / max(1, c["src_tokens"]), 4),
        "rows_switched_fraction": round(c["rows_switched"] / max(1, c["rows"]), 4),
        "entities": dict(sorted(src_types.items())),
        "entities_switched_fraction": {t: round(switched_ents[t] / n, 4) for t, n in sorted(src_types.items())},
        "entities_switched_overall": round(sum(switched_ents.values()) / max(1, n_ent), 4),
        "rows_with_word_switched_fraction": round(c["rows_with_word_switched"] / max(1, c["rows_with_word"]), 4),
        **extra,
        "methods": manifest.get("methods", {}),
    }


def _has_non_entity_word(tokens: list[str], ents) -> bool:
    """Whether a row has a token outside its entities with a letter in it ("born", not "(" or "1968")."""
    inside = {i for s in ents for i in range(s.start, s.end)}
    return any(i not in inside and any(ch.isalpha() for ch in t) for i, t in enumerate(tokens))


def _unswitched_reason(row: dict, ents, has_word: bool) -> str:
    """Why nothing in a row was switched, for `cslib stats`."""
    if row["n_translatable"]:
        return "not_drawn"  # something had a translation; the --ratio draws all said no
    if ents and not has_word:
        return "entity_only_no_entry"  # "Atlantic City , New Jersey": only names, none known
    if ents:
        return "no_entry_for_words_or_entities"
    return "no_dictionary_hit"


def _codeswitch_problem(row: dict) -> str | None:
    return row_problem(row["src_tokens"], row["src_tags"], row["cs_tokens"], row["cs_tags"], row["cs_src_index"],
                       row["cs_langs"])


def validate_dir(directory: str | Path, max_report: int = 20) -> tuple[int, list[str]]:
    """Check every row and every checksum; returns (rows checked, problems)."""
    manifest, _ = shards.shard_paths(directory, verify_checksums=True)
    problems: list[str] = []
    n = 0
    if manifest["kind"] == "unlabeled":
        for row in shards.iter_rows(directory):
            n += 1
            if not row["tokens"]:
                problems.append(f"{row['id']}: empty sentence")
        return n, problems[:max_report]
    check = (partial(task_report.row_violation, manifest=manifest) if manifest["kind"] in task_report.KINDS
             else _codeswitch_problem)
    seen: set[str] = set()
    for row in shards.iter_rows(directory):
        n += 1
        problem = "duplicate id" if row["id"] in seen else check(row)
        seen.add(row["id"])
        if problem:
            problems.append(f"{row['id']}: {problem}")
    expected = sum(e.get("rows", 0) for e in manifest["shards"])
    if n != expected:
        problems.append(f"{directory}: {n} rows but the manifest lists {expected}")
    return n, problems[:max_report] + ([f"... and {len(problems) - max_report} more"]
                                       if len(problems) > max_report else [])
