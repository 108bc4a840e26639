"""Ray Data as the distributed engine of `cslib build --engine ray` (`pip install 'xner[ray]'`).

The driver stages the checked input rows of every shard still to build as Parquet under
`OUT/.ray/input`; Ray reads them (`ray.data.read_parquet`), runs `tasks.switch_batch` in Ray tasks
fused with the read (each worker process unpickles the dictionary once), and writes the rows partitioned by shard
(`Dataset.write_parquet(partition_cols=["_shard"])`). The driver then puts each shard's rows
back in input order and writes the canonical shard, so a Ray build is byte-identical to a
local one. On a cluster, OUT must be a path every node can read and write (a shared file
system), and every node needs xner installed.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import CslibError
from .lexicons import Dictionary, build_transliterator
from .substitute import CodeSwitcher, SwitchConfig
from .tasks import TaskSpec, switch_batch

log = logging.getLogger(__name__)
ORDER, SHARD = "_order", "_shard"
MIN_BLOCK, MAX_BLOCK = 500, 5000  # input rows per Ray block and batch
WAVE_ROWS = 200_000  # input rows per Ray job
LOCAL_OBJECT_STORE = 1 << 30  # a local Ray started here: 1 GiB of shared memory (spills to disk beyond)


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise CslibError("--engine ray needs Ray Data: pip install 'xner[ray]' (ray[data])") from None
    return ray


_CACHE: dict = {}  # per Ray worker process: the switcher of the current build, built once


def _switch(batch: pa.Table, payload: list) -> pa.Table:
    """Ray task body: `switch_batch` plus the shard and order columns the driver sorts by.

    Tasks (not actors) so that Ray fuses them with the Parquet read: an actor pool holding
    every CPU would starve the read tasks of a small cluster.
    """
    import ray

    from cslib import ray_engine  # the imported module: Ray may ship this function by value

    cache, ref = ray_engine._CACHE, payload[0]
    if ref.hex() not in cache:
        cache.clear()
        dictionary, switch_config, spec, per, extras = ray.get(ref)
        cache[ref.hex()] = (_switcher(dictionary, switch_config, extras), spec, per)
    switcher, spec, per = cache[ref.hex()]
    order = batch.column(ORDER).to_pylist()
    out = switch_batch(batch.drop_columns([ORDER]), spec, switcher)
    v = spec.variants
    out = out.append_column(ORDER, pa.array([o * v + i for o in order for i in range(v)], pa.int64()))
    return out.append_column(SHARD, pa.array([o // per for o in order for _ in range(v)], pa.int64()))


def _switcher(dictionary: Dictionary, switch_config: SwitchConfig, extras: dict | None) -> CodeSwitcher:
    """The worker's switcher: entity lexicon and zh script as shipped; the transliterator (a model,
    not worth pickling) rebuilt here from the build config."""
    if not extras:
        return CodeSwitcher(dictionary, switch_config)
    cfg = extras["config"]
    translit = build_transliterator(cfg) if extras.get("transliterate") else None
    return CodeSwitcher(dictionary, switch_config, entities=extras.get("entities"), transliterator=translit,
                        zh_script=cfg.zh_script, frames=extras.get("frames"))


def _wave(ray, table: pa.Table, todo: list[int], per: int, payload: list, n_tasks: int,
          stage: Path) -> Iterator[tuple[int, pa.Table]]:
    shutil.rmtree(stage, ignore_errors=True)
    files = []
    for k in todo:
        part = table.slice(k * per, per)
        part = part.append_column(ORDER, pa.array(range(k * per, k * per + part.num_rows), pa.int64()))
        path = stage / "input" / f"part-{k:05d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(part, path)
        files.append(str(path))
    t0 = time.perf_counter()
    # Streamed re-blocking (no shuffle), as the read alone may hand over a single block: about
    # 4 blocks per concurrent task, 500 to 5000 rows each (a Ray task costs ~0.1-0.3 s to schedule).
    n_rows = sum(min(per, table.num_rows - k * per) for k in todo)
    block = min(MAX_BLOCK, max(MIN_BLOCK, n_rows // (4 * n_tasks)))
    ds = ray.data.read_parquet(files).repartition(target_num_rows_per_block=block)
    ds = ds.map_batches(_switch, fn_kwargs={"payload": payload}, batch_format="pyarrow",
                        batch_size=block, compute=ray.data.TaskPoolStrategy(size=n_tasks))
    ds.write_parquet(str(stage / "output"), partition_cols=[SHARD])
    log.info("ray: switched %d input rows in %.1fs", n_rows, time.perf_counter() - t0)
    for k in todo:
        part = pq.read_table(stage / "output" / f"{SHARD}={k}")
        if SHARD in part.column_names:
            part = part.drop_columns([SHARD])
        yield k, part.sort_by(ORDER).drop_columns([ORDER])


def run_shards(table: pa.Table, todo: list[int], per: int, spec: TaskSpec, dictionary: Dictionary,
               switch_config: SwitchConfig, out: Path, address: str | None = None,
               workers: int = 0, extras: dict | None = None) -> Iterator[tuple[int, pa.Table]]:
    """Switch the rows of shards `todo` through Ray; yields (shard index, rows in input order).

    Uses the running Ray instance if there is one, else connects to `address` (or
    $RAY_ADDRESS), else starts a local one (shut down again at the end). `workers` > 1 caps the
    number of concurrent tasks; otherwise every CPU of the cluster is used.
    """
    if not todo:
        return
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        kwargs = {"address": address} if address else {"num_cpus": workers if workers > 1 else None,
                                                        "object_store_memory": LOCAL_OBJECT_STORE}
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
    stage = out.resolve() / ".ray"
    try:
        n_tasks = workers if workers > 1 else max(1, int(ray.cluster_resources().get("CPU", 1)))
        log.info("ray: %d shard(s), at most %d task(s) at once, cluster %s", len(todo), n_tasks,
                 ray.cluster_resources())
        payload = [ray.put((dictionary, switch_config, spec, per, extras))]  # in a list: passed as a reference
        # One Ray job per wave of shards, so an interrupted build keeps the waves already written.
        wave = max(1, WAVE_ROWS // per)
        for i in range(0, len(todo), wave):
            yield from _wave(ray, table, todo[i:i + wave], per, payload, n_tasks, stage)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if started:
            ray.shutdown()
