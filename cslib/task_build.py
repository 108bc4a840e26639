"""`cslib build` for every task and engine: resolve the input, then switch its shards with
`tasks.switch_batch`, locally or through Ray Data, and write them with `build.write_switched`.

Shard k always holds input rows [k*per, (k+1)*per) in input order, whichever engine computed
it, and every engine's rows go through the one shard runner, so the engines produce identical
bytes and an interrupted build is resumed by either of them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict
from functools import partial
from pathlib import Path

import pyarrow as pa

from . import ray_engine
from .build import (
    BuildConfig,
    Switching,
    build_codeswitch,
    prepare_switching,
    source_sentences,
    write_switched,
)
from .errors import CslibError
from .gcpause import collector_paused, loaded_frozen
from .schemes import detect_scheme
from .shard_runner import local_shards
from .substitute import CodeSwitcher
from .task_inputs import detect_format, input_digest, read_records
from .tasks import KEY, TaskOptions, TaskSpec, input_table, output_schema, resolve, switch_batch, tagged_rows


def decide_task(cfg: BuildConfig, opts: TaskOptions) -> str:
    """`opts.task`, or inferred: no --input → ner (PAN-X); a CoNLL/TSV file in IOB1/IOB2 with no
    scheme options → ner (the NER shards `ner` trains on); anything else → text/classification/tagging."""
    if opts.task != "auto":
        return opts.task
    if not cfg.input:
        return "ner"
    path = Path(cfg.input)
    fmt = opts.input_format if opts.input_format != "auto" else detect_format(path)
    if fmt == "conll" and opts.scheme == "auto" and not opts.output_scheme and not opts.tags_field:
        rec = read_records(path, "conll", limit=2000)
        if detect_scheme(r["tags"] for r in rec.rows) in ("iob1", "iob2"):
            return "ner"
    return "auto"  # resolved from the records by tasks.resolve


def _ner_input(cfg: BuildConfig) -> tuple[TaskSpec, pa.Table, list[dict]]:
    sents, inputs = source_sentences(cfg)
    table = pa.table({KEY: [str(i) for i in range(len(sents))], "tokens": [s.tokens for s in sents],
                      "tags": [s.tags for s in sents]})
    spec = TaskSpec("ner", cfg.src, cfg.tgt, cfg.seed, cfg.variants, text_fields=["tokens"],
                    text_types={"tokens": "tokens"}, tags_field="tags", columns=["tokens", "tags"])
    return spec, table, inputs


def prepare(cfg: BuildConfig, opts: TaskOptions) -> tuple[TaskSpec, pa.Table, list[dict]]:
    """The resolved task, its input table and the digests of the input files."""
    task = decide_task(cfg, opts)
    if task == "ner":
        return _ner_input(cfg)
    if not cfg.input:
        raise CslibError(f"--task {task} needs --input FILE (JSONL, CSV, Parquet, CoNLL or text)")
    path = Path(cfg.input)
    fmt = opts.input_format
    if task == "tagging" and fmt == "auto" and detect_format(path) == "text":
        fmt = "conll"  # a tagged file with a malformed line: let the CoNLL reader name it
    records = read_records(path, fmt, cfg.limit, opts.pretokenized)
    opts_task = TaskOptions(**{**asdict(opts), "task": task})
    spec = resolve(records, opts_task, cfg.src, cfg.tgt, cfg.seed, cfg.variants)
    return spec, input_table(records, spec), [input_digest(path)]


def run_build(cfg: BuildConfig, opts: TaskOptions) -> Path:
    """Build (or resume) the shard set `cfg` + `opts` describe; returns its directory."""
    cfg.validate()
    opts.validate()
    if opts.engine == "local" and decide_task(cfg, opts) == "ner":
        return build_codeswitch(cfg)  # the NER path as it always was
    started = time.time()
    with collector_paused():  # long-lived, acyclic: see cslib.gcpause
        spec, table, inputs = prepare(cfg, opts)
        # typed names and transliteration serve labeled entities only
        sw = prepare_switching(cfg, spec.kind in ("codeswitch", "tagging"), ner=spec.task == "ner")
        if spec.kind in ("codeswitch", "tagging"):
            sw.prefetch(tagged_rows(table, spec), cfg.workers if opts.engine == "local" else 1)
    out = Path(cfg.out) if cfg.out else (cfg.out_dir() if spec.task == "ner" else
                                         Path(f"data/{spec.kind}/{cfg.src}-{cfg.tgt}"))
    per = max(1, cfg.shard_size // cfg.variants)
    if opts.engine == "ray":
        compute = partial(_ray_shards, cfg, opts, table, per, spec, sw, out)
    else:
        job = partial(_switch_shard, table, per, spec, sw.switcher)
        compute = partial(local_shards, job, workers=cfg.workers)
    with loaded_frozen():
        return write_switched(cfg, out, spec.kind, table.num_rows, inputs, sw, compute,
                              task=spec if spec.task != "ner" else None, engine=opts.engine, started=started)


def _switch_shard(table: pa.Table, per: int, spec: TaskSpec, switcher: CodeSwitcher, k: int) -> pa.Table:
    return switch_batch(table.slice(k * per, per), spec, switcher)


def _ray_shards(cfg: BuildConfig, opts: TaskOptions, table: pa.Table, per: int, spec: TaskSpec, sw: Switching,
                out: Path, todo: list[int]) -> Iterator[tuple[int, pa.Table]]:
    """Ray's rows of each shard, in the canonical column order and types of a local build."""
    schema = output_schema(spec, table.schema)
    extras = {"config": cfg, "entities": sw.entities, "transliterate": sw.transliterator is not None,
              "frames": sw.frames}
    for k, part in ray_engine.run_shards(table, todo, per, spec, sw.dictionary, cfg.switch_config(), out,
                                         opts.address, cfg.workers, extras):
        yield k, part.select(schema.names).cast(schema)
