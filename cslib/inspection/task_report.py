"""Examples, statistics and validation of the task shard kinds (text, classification, tagging).

Tagging invariants are those of the NER shards, checked in the set's own scheme: both tag
sequences must decode strictly in it, and after conversion to IOB2 `validate.row_problem`
must pass (entities correspond one-to-one, in order, with the same types, and map into their
source entities). Text rows: lists of equal length, `cs_src_index` non-decreasing and inside
the source. Classification rows: every text field and its `src_` copy present, and a row
with nothing switched carries its text unchanged.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .. import shards
from ..schemes import SchemeError, decode, encode
from ..validate import row_problem
from .rows import mark_entities, pick_rows

KINDS = ("text", "classification", "tagging")


def _iob2(tags: list[str], scheme: str) -> list[str]:
    return encode(decode(tags, scheme), len(tags), "iob2")


def stats(directory: str | Path) -> dict:
    manifest, _ = shards.shard_paths(directory)
    counts = manifest["counts"]
    out = {"kind": manifest["kind"], "pair": f"{manifest['src_lang']}-{manifest['tgt_lang']}", **counts,
           "rows_switched_fraction": round(counts["rows_switched"] / max(1, counts["rows"]), 4),
           "switched_token_fraction": counts.get("switched_fraction"), "task": manifest.get("task", {}),
           "methods": manifest.get("methods", {})}
    if manifest["kind"] == "tagging":
        scheme = manifest["task"]["scheme"]
        ents: Counter = Counter()
        switched: Counter = Counter()
        for row in shards.iter_rows(directory):
            for s in decode(row["cs_tags"], scheme):
                ents[s.type] += 1
                switched[s.type] += row["cs_langs"][s.start] == row["tgt_lang"]
        out["entities"] = dict(sorted(ents.items()))
        out["entities_switched_fraction"] = {t: round(switched[t] / n, 4) for t, n in sorted(ents.items())}
    return out


def format_example(row: dict, manifest: dict) -> str:
    head = f"{row['id']}  ({row['method']}, {row['n_switched']} switched)"
    kind, task = manifest["kind"], manifest.get("task", {})
    if kind == "tagging":
        s = task["scheme"]
        return (f"{head}\n  src: {mark_entities(row['src_tokens'], _iob2(row['src_tags'], s))}\n"
                f"  cs : {mark_entities(row['cs_tokens'], _iob2(row['cs_tags'], s))}")
    if kind == "text":
        return f"{head}\n  src: {row['src_text']}\n  cs : {row['cs_text']}"
    lines = [head]
    for f in task["text_fields"]:
        src, cs = row[f"src_{f}"], row[f]
        lines += [f"  {f} src: {' '.join(src) if isinstance(src, list) else src}",
                  f"  {f} cs : {' '.join(cs) if isinstance(cs, list) else cs}"]
    carried = ", ".join(f"{c}={row[c]!r}" for c in task["carried"][:6])
    return "\n".join(lines + ([f"  {carried}"] if carried else []))


def examples(directory: str | Path, n: int = 10, switched_only: bool = True, offset: int = 0) -> list[str]:
    manifest = shards.read_manifest(directory)
    return [format_example(row, manifest) for row in pick_rows(directory, n, offset, switched_only)]


def row_violation(row: dict, manifest: dict) -> str | None:
    """The first broken invariant of one row, or None."""
    kind, task = manifest["kind"], manifest.get("task", {})
    if kind == "tagging":
        scheme = task["scheme"]
        try:
            src = _iob2(row["src_tags"], scheme) if len(row["src_tags"]) == len(row["src_tokens"]) else None
            cs = _iob2(row["cs_tags"], scheme) if len(row["cs_tags"]) == len(row["cs_tokens"]) else None
        except SchemeError as exc:
            return f"tags do not fit {scheme.upper()}: {exc}"
        return row_problem(row["src_tokens"], src if src is not None else row["src_tags"], row["cs_tokens"],
                           cs if cs is not None else row["cs_tags"], row["cs_src_index"], row["cs_langs"])
    if kind == "text":
        if not row["src_tokens"]:
            return None if not row["cs_tokens"] else "code-switched tokens for an empty source"
        problem = row_problem(row["src_tokens"], ["O"] * len(row["src_tokens"]), row["cs_tokens"],
                              ["O"] * len(row["cs_tokens"]), row["cs_src_index"], row["cs_langs"])
        if problem is None and not row["n_switched"] and row["cs_text"] != row["src_text"]:
            return "nothing switched but cs_text differs from src_text"
        return problem
    for f in task.get("text_fields", []):
        if f not in row or f"src_{f}" not in row:
            return f"text field {f!r} or its source copy src_{f} is missing"
        if row[f] is None:
            return f"text field {f!r} is empty"
        if not row["n_switched"] and row[f] != row[f"src_{f}"]:
            return f"nothing switched but {f!r} differs from src_{f}"
    if row["n_switched"] is None or row["n_switched"] < 0:
        return "n_switched is negative"
    return None
