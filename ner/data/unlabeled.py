"""Unlabeled target-language sentences from shard sets of kind `unlabeled` (self-training's pool)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from cslib import effective_limit
from ner.data.records import UnlabeledSentence
from ner.data.shards import open_shard_dirs, read_shard_table
from ner.errors import NerError


def iter_unlabeled(dirs: Sequence[str | os.PathLike[str]]) -> Iterator[UnlabeledSentence]:
    """Stream sentences from unlabeled shard directories (kind "unlabeled"), shard by shard."""
    if not dirs:
        raise NerError("no unlabeled shard directories given (use --unlabeled DIR [DIR ...])")
    sets = open_shard_dirs(dirs, "unlabeled")
    for s in sets:
        for path in s.files:
            table = read_shard_table(path, "unlabeled")
            ids, langs, toks = (table.column(c).to_pylist() for c in ("id", "lang", "tokens"))
            for rid, lang, tokens in zip(ids, langs, toks, strict=True):
                if tokens:
                    yield UnlabeledSentence(rid, lang, tokens)


def load_unlabeled(dirs: Sequence[str | os.PathLike[str]], limit: int | None = None) -> list[UnlabeledSentence]:
    limit = effective_limit(limit)
    out: list[UnlabeledSentence] = []
    for sent in iter_unlabeled(dirs):
        out.append(sent)
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise NerError(f"{', '.join(str(d) for d in dirs)}: empty shard set (no sentences)")
    return out
