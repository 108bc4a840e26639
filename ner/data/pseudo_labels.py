"""Pseudo-label files: self-training's labeled target sentences as JSON lines (id, lang, tokens, tags, ignore)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from cslib import CslibError, atomic_open, iter_jsonl
from ner.data.records import Example
from ner.errors import NerError


def write_pseudo(path: str | os.PathLike[str], examples: Iterable[Example]) -> int:
    """Write pseudo-labeled sentences as JSON lines (id, lang, tokens, tags); returns the count.

    JSON lines rather than Parquet because these files are small, per-run artefacts that people
    want to read; they are not part of the cslib shard contract.
    """
    n = 0
    with atomic_open(path, "w") as fh:
        for ex in examples:
            row = {"id": ex.id, "lang": ex.lang, "tokens": ex.src_tokens, "tags": ex.src_tags}
            if ex.ignore:
                row["ignore"] = [list(c) for c in ex.ignore]
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def load_pseudo(path: str | os.PathLike[str]) -> list[Example]:
    """Read a pseudo-label file written by `write_pseudo` as single-view examples."""
    p = Path(path)
    if not p.is_file():
        raise NerError(f"{p}: pseudo-label file not found")
    out: list[Example] = []
    try:
        for lineno, row in iter_jsonl(p):
            missing = [key for key in ("tokens", "tags") if key not in row]
            if missing:
                raise NerError(f"{p}:{lineno}: bad pseudo-label line (no {missing[0]!r} field)")
            tokens, tags = row["tokens"], row["tags"]
            if not (isinstance(tokens, list) and isinstance(tags, list)
                    and all(isinstance(t, str) and t for t in tokens + tags)):
                raise NerError(f"{p}:{lineno}: 'tokens' and 'tags' must be lists of non-empty strings")
            if len(tokens) != len(tags) or not tokens:
                raise NerError(f"{p}:{lineno}: tokens and tags differ in length or are empty")
            bad = [t for t in tags if t != "O" and (len(t) < 3 or t[:2] not in ("B-", "I-"))]
            if bad:
                raise NerError(f"{p}:{lineno}: tag {bad[0]!r} is not IOB2 (O, B-TYPE or I-TYPE)")
            ignore = row.get("ignore")
            if ignore is not None:
                if not (isinstance(ignore, list) and all(
                        isinstance(c, list) and len(c) == 2 and all(isinstance(k, int) and 0 <= k < len(tokens) for k in c)
                        for c in ignore)):
                    raise NerError(f"{p}:{lineno}: 'ignore' must be a list of [i, j] word-index pairs inside the sentence")
                ignore = [(c[0], c[1]) for c in ignore]
            out.append(Example(str(row.get("id", f"{p.name}:{lineno}")), tokens, tags, lang=str(row.get("lang", "")),
                               ignore=ignore or None))
    except CslibError as exc:
        raise NerError(str(exc)) from None
    return out
