"""Unlabeled target-language shards for self-training (`cslib unlabeled`).

Sentences come from a raw text file or from PAN-X train with its labels dropped; every
sentence of the language's PAN-X dev split (and of any `exclude` file) is left out, so that a
self-trained model is never scored on sentences it was trained on. Shards are written by the
one shard runner (`cslib.shard_runner`): resumable, byte-identical whatever the workers.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from . import shards
from .corpora import load_split
from .environment import package_versions
from .errors import CslibError
from .languages import get_language
from .manifests import resolve_file
from .readers import effective_limit, read_labeled_file, read_text
from .shard_runner import BUILD_PACKAGES, ShardPlan, local_shards, run_shards
from .tokenizers import tokenize

log = logging.getLogger(__name__)


@dataclass
class UnlabeledConfig:
    """Unlabeled target-language text for self-training (`cslib unlabeled`)."""

    lang: str = "ja"
    out: str | None = None  # default: data/unlabeled/{lang}
    data_root: str | None = None
    file: str | None = None  # raw text, one sentence a line; default: PAN-X train with labels dropped
    limit: int | None = None  # at most N sentences, counted after exclusion (0 = all)
    shard_size: int = 5000
    workers: int = 1
    overwrite: bool = False
    # Evaluation sentences must never reach self-training: PAN-X train and dev overlap (26% of
    # dev-id is in train-id), and a student trained on dev sentences with teacher labels is
    # scored on them. The language's PAN-X dev split is excluded by default, plus any `exclude` file.
    exclude_dev: bool = True
    exclude: list[str] = field(default_factory=list)  # labeled (PAN-X / CoNLL) or raw-text files
    encoding: str | None = None  # of `file` (None = UTF-8)

    def out_dir(self) -> Path:
        return Path(self.out or f"data/unlabeled/{self.lang}")


def sentence_key(tokens: Sequence[str]) -> str:
    """Whitespace-free text of a sentence: the same sentence matches whatever its tokenization."""
    return "".join("".join(t.split()) for t in tokens)


def _exclusion_keys(cfg: UnlabeledConfig) -> tuple[set[str], list[dict[str, Any]]]:
    """Keys of every sentence to keep out of the pool, and what each source contributed."""
    keys: set[str] = set()
    sources: list[dict[str, Any]] = []

    def add(name: str, path: Path | None, sentences: list[list[str]]) -> None:
        new = {sentence_key(s) for s in sentences} - {""}
        keys.update(new)
        entry: dict[str, Any] = {"source": name, "sentences": len(new)}
        if path is not None:
            entry.update(shards.file_digest(path))
        sources.append(entry)

    if cfg.exclude_dev:
        try:
            dev_path = resolve_file("panx", cfg.lang, "dev", cfg.data_root)
        except CslibError as exc:  # a language without a PAN-X dev split has nothing to leak
            log.info("no PAN-X dev split to exclude for %s (%s)", cfg.lang, exc)
        else:
            add(f"panx dev-{cfg.lang}", dev_path, [s.tokens for s in load_split("panx", cfg.lang, "dev", cfg.data_root)])
    for name in cfg.exclude:
        path = Path(name)
        add(str(path), path, _read_exclude_file(path))
    return keys, sources


def _read_exclude_file(path: Path) -> list[list[str]]:
    """A labeled file (PAN-X TSV / CoNLL) if it parses as one, else raw text, one sentence a line."""
    if not path.is_file():
        raise CslibError(f"{path}: exclude file not found")
    try:
        return [s.tokens for s in read_labeled_file(path)]
    except CslibError:
        return [line.split() for line in read_text(path)]


def build_unlabeled(cfg: UnlabeledConfig) -> Path:
    """Build (or resume) an unlabeled shard set; returns its directory."""
    get_language(cfg.lang)
    out = cfg.out_dir()
    if cfg.file:
        path = Path(cfg.file)
        texts = [tokenize(line, cfg.lang) for line in read_text(path, encoding=cfg.encoding)]
        texts = [t for t in texts if t]
        inputs = [shards.file_digest(path)]
    else:
        texts = [s.tokens for s in load_split("panx", cfg.lang, "train", cfg.data_root)]
        inputs = [shards.file_digest(resolve_file("panx", cfg.lang, "train", cfg.data_root))]
    keys, excluded_from = _exclusion_keys(cfg)
    kept = [t for t in texts if sentence_key(t) not in keys]
    n_excluded = len(texts) - len(kept)
    limit = effective_limit(cfg.limit)
    texts = kept[:limit] if limit is not None else kept
    if excluded_from:
        log.info("unlabeled %s: excluded %d sentence(s) that occur in %s", cfg.lang, n_excluded,
                 ", ".join(e["source"] for e in excluded_from))
    fingerprint = {"lang": cfg.lang, "limit": limit, "shard_size": cfg.shard_size,
                   "inputs": [i["sha256"] for i in inputs], "exclude": [e.get("sha256") for e in excluded_from]}
    plan = ShardPlan(out, "unlabeled", fingerprint, len(texts), cfg.shard_size, overwrite=cfg.overwrite,
                     desc=f"unlabeled {cfg.lang}")
    job = partial(_unlabeled_shard, cfg.lang, texts, cfg.shard_size)
    run = run_shards(plan, lambda todo: local_shards(job, todo, cfg.workers), _counts)
    shards.write_manifest(out, {
        "format": shards.FORMAT, "format_version": shards.FORMAT_VERSION, "kind": "unlabeled",
        "lang": cfg.lang, "config": asdict(cfg), "counts": {**dict(sorted(run.counts.items())), "excluded": n_excluded},
        "excluded_from": excluded_from, "shards": run.entries, "versions": package_versions(BUILD_PACKAGES),
        "inputs": inputs})
    return out


def _unlabeled_shard(lang: str, texts: list[list[str]], per: int, k: int) -> pa.Table:
    idx = range(k * per, min(len(texts), (k + 1) * per))
    return pa.table({"id": [f"{lang}:{i}" for i in idx], "lang": [lang] * len(idx), "tokens": [texts[i] for i in idx]},
                    schema=shards.SCHEMAS["unlabeled"])


def _counts(table: pa.Table) -> Counter:
    """What the manifest's `counts` add up per shard: rows (= sentences) and tokens."""
    tokens = pc.sum(pc.list_value_length(table.column("tokens"))).as_py() or 0
    return Counter(rows=table.num_rows, sentences=table.num_rows, tokens=tokens)
