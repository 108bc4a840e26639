"""Human-readable views of shard sets: side-by-side examples, statistics and validation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from . import shards
from .iob import spans
from .validate import row_problem


def mark_entities(tokens: list[str], tags: list[str], joiner: str = " ") -> str:
    """`[Tokyo]LOC is big`: entities bracketed with their type."""
    out = list(tokens)
    for s in reversed(spans(tags)):
        out[s.start:s.end] = [f"[{joiner.join(tokens[s.start:s.end])}]{s.type}"]
    return joiner.join(out)


def format_example(row: dict) -> str:
    cs_join = " "
    return (f"{row['id']}  ({row['method']}, {row['n_switched']} switched)\n"
            f"  src: {mark_entities(row['src_tokens'], row['src_tags'])}\n"
            f"  cs : {mark_entities(row['cs_tokens'], row['cs_tags'], cs_join)}")


def examples(directory: str | Path, n: int = 10, switched_only: bool = True, offset: int = 0) -> list[str]:
    out = []
    for row in shards.iter_rows(directory):
        if switched_only and not row["n_switched"]:
            continue
        if offset:
            offset -= 1
            continue
        out.append(format_example(row))
        if len(out) >= n:
            break
    return out


def stats(directory: str | Path) -> dict:
    manifest, _ = shards.shard_paths(directory)
    if manifest["kind"] == "unlabeled":
        return {"kind": "unlabeled", "lang": manifest["lang"], **manifest["counts"]}
    c: Counter = Counter()
    src_types: Counter = Counter()
    switched_ents: Counter = Counter()
    for row in shards.iter_rows(directory):
        c.update(rows=1, src_tokens=len(row["src_tokens"]), cs_tokens=len(row["cs_tokens"]),
                 switched_tokens=row["n_switched"], rows_switched=int(row["n_switched"] > 0))
        for s in spans(row["cs_tags"]):
            src_types[s.type] += 1
            if row["cs_langs"][s.start] == row["tgt_lang"]:
                switched_ents[s.type] += 1
    return {
        "kind": "codeswitch", "pair": f"{manifest['src_lang']}-{manifest['tgt_lang']}", **dict(c),
        "switched_token_fraction": round(c["switched_tokens"] / max(1, c["src_tokens"]), 4),
        "rows_switched_fraction": round(c["rows_switched"] / max(1, c["rows"]), 4),
        "entities": dict(sorted(src_types.items())),
        "entities_switched_fraction": {t: round(switched_ents[t] / n, 4) for t, n in sorted(src_types.items())},
        "methods": manifest.get("methods", {}),
    }


def validate_dir(directory: str | Path, max_report: int = 20) -> tuple[int, list[str]]:
    """Check every row and every checksum; returns (rows checked, problems)."""
    manifest, paths = shards.shard_paths(directory, verify_checksums=True)
    problems: list[str] = []
    n = 0
    if manifest["kind"] == "unlabeled":
        for row in shards.iter_rows(directory):
            n += 1
            if not row["tokens"]:
                problems.append(f"{row['id']}: empty sentence")
        return n, problems[:max_report]
    seen: set[str] = set()
    for row in shards.iter_rows(directory):
        n += 1
        problem = row_problem(row["src_tokens"], row["src_tags"], row["cs_tokens"], row["cs_tags"],
                              row["cs_src_index"], row["cs_langs"])
        if row["id"] in seen:
            problem = "duplicate id"
        seen.add(row["id"])
        if problem:
            problems.append(f"{row['id']}: {problem}")
    expected = sum(e.get("rows", 0) for e in manifest["shards"])
    if n != expected:
        problems.append(f"{directory}: {n} rows but the manifest lists {expected}")
    return n, problems[:max_report] + ([f"... and {len(problems) - max_report} more"]
                                       if len(problems) > max_report else [])
