"""Ray Data as the distributed engine of `cslib build --engine ray` (`pip install 'xner[ray]'`).

The driver stages the checked input rows of every shard still to build as Parquet under
`OUT/.ray/input`; Ray reads them (`ray.data.read_parquet`), runs `tasks.switch_batch` in a pool
of actors that each hold the dictionary once, and writes the rows partitioned by shard
(`Dataset.write_parquet(partition_cols=["_shard"])`). The driver then puts each shard's rows
back in input order and writes the canonical shard, so a Ray build is byte-identical to a
local one. On a cluster, OUT must be a path every node can read and write (a shared file
system), and every node needs xner installed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .dictionary import Dictionary
from .errors import CslibError
from .substitute import CodeSwitcher, SwitchConfig
from .tasks import TaskSpec, switch_batch

log = logging.getLogger(__name__)
ORDER, SHARD = "_order", "_shard"


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise CslibError("--engine ray needs Ray Data: pip install 'xner[ray]' (ray[data])") from None
    return ray


class _Switch:
    """A Ray actor: builds the switcher once, then switches Arrow batches."""

    def __init__(self, payload) -> None:
        import ray

        if isinstance(payload, ray.ObjectRef):
            payload = ray.get(payload)
        dictionary, switch_config, spec, per = payload
        self.switcher = CodeSwitcher(dictionary, switch_config)
        self.spec, self.per = spec, per

    def __call__(self, batch: pa.Table) -> pa.Table:
        order = batch.column(ORDER).to_pylist()
        out = switch_batch(batch.drop_columns([ORDER]), self.spec, self.switcher)
        v = self.spec.variants
        out = out.append_column(ORDER, pa.array([o * v + i for o in order for i in range(v)], pa.int64()))
        return out.append_column(SHARD, pa.array([o // self.per for o in order for _ in range(v)], pa.int64()))


def run_shards(table: pa.Table, todo: list[int], per: int, spec: TaskSpec, dictionary: Dictionary,
               switch_config: SwitchConfig, out: Path, address: str | None = None,
               workers: int = 0) -> Iterator[tuple[int, pa.Table]]:
    """Switch the rows of shards `todo` through Ray; yields (shard index, rows in input order).

    Uses the running Ray instance if there is one, else connects to `address` (or
    $RAY_ADDRESS), else starts a local one (shut down again at the end). `workers` > 1 caps the
    number of actors; otherwise every CPU of the cluster is used.
    """
    if not todo:
        return
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        kwargs = {"address": address} if address else {"num_cpus": workers if workers > 1 else None}
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
    stage = out.resolve() / ".ray"
    try:
        shutil.rmtree(stage, ignore_errors=True)
        files = []
        for k in todo:
            part = table.slice(k * per, per)
            part = part.append_column(ORDER, pa.array(range(k * per, k * per + part.num_rows), pa.int64()))
            path = stage / "input" / f"part-{k:05d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(part, path)
            files.append(str(path))
        n_actors = workers if workers > 1 else max(1, int(ray.cluster_resources().get("CPU", 1)))
        n_actors = min(n_actors, sum(min(per, table.num_rows - k * per) for k in todo))
        log.info("ray: %d shard(s), %d actor(s), cluster %s", len(todo), n_actors, ray.cluster_resources())
        payload = ray.put((dictionary, switch_config, spec, per))
        ds = ray.data.read_parquet(files)
        ds = ds.map_batches(_Switch, fn_constructor_kwargs={"payload": payload}, batch_format="pyarrow",
                            batch_size=min(per, 500), concurrency=n_actors)
        ds.write_parquet(str(stage / "output"), partition_cols=[SHARD])
        for k in todo:
            part = pq.read_table(stage / "output" / f"{SHARD}={k}")
            if SHARD in part.column_names:
                part = part.drop_columns([SHARD])
            yield k, part.sort_by(ORDER).drop_columns([ORDER])
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if started:
            ray.shutdown()
