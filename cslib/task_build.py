"""`cslib build` for every task and engine: resolve the input, run `tasks.switch_batch` over
shards (locally or through Ray Data), write shards and the manifest.

Shard k always holds input rows [k*per, (k+1)*per) in input order, whichever engine computed
it, and is written through `shards.write_table`, so the engines produce identical bytes and an
interrupted build is resumed by either of them (same `.build.json` protocol as `build.py`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from . import shards
from .build import (
    BUILD_STATE,
    BuildConfig,
    _file_digest,
    build_codeswitch,
    build_dictionary,
    make_switcher,
    source_sentences,
)
from .build import versions as package_versions
from .errors import CslibError
from .records import detect_format, read_records
from .schemes import decode, detect_scheme
from .substitute import CodeSwitcher
from .tasks import KEY, TaskOptions, TaskSpec, input_table, output_schema, resolve, switch_batch

log = logging.getLogger(__name__)
EXTRA_PACKAGES = ("datasets", "ray")


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
    return spec, input_table(records, spec, opts.id_field), [_file_digest(path)]


def run_build(cfg: BuildConfig, opts: TaskOptions) -> Path:
    """Build (or resume) the shard set `cfg` + `opts` describe; returns its directory."""
    cfg.validate()
    opts.validate()
    if opts.engine == "local" and decide_task(cfg, opts) == "ner":
        return build_codeswitch(cfg)  # the NER path as it always was
    t0 = time.time()
    spec, table, inputs = prepare(cfg, opts)
    out = Path(cfg.out) if cfg.out else (cfg.out_dir() if spec.task == "ner" else
                                         Path(f"data/{spec.kind}/{cfg.src}-{cfg.tgt}"))
    dictionary, dict_inputs = build_dictionary(cfg)
    # typed names and transliteration serve labeled entities only
    switcher, entities, entity_info, translit = make_switcher(cfg, dictionary, spec.kind in ("codeswitch", "tagging"))
    dict_inputs += entity_info.pop("inputs", [])
    fingerprint = {"config": cfg.fingerprint(), "inputs": [i["sha256"] for i in inputs + dict_inputs],
                   "dictionary_entries": len(dictionary)}
    if spec.task == "ner":  # build.py's fingerprint, so either engine resumes the other's build
        fingerprint["entity_entries"] = len(entities) if entities else 0
    else:
        fingerprint["task"] = spec.to_dict()
    per = max(1, cfg.shard_size // cfg.variants)
    n_shards = max(1, -(-table.num_rows // per))
    resumed = _prepare_out(out, spec.kind, fingerprint, cfg.overwrite)
    todo = [k for k in range(n_shards) if not (out / shards.shard_name(k)).exists()]
    if resumed and len(todo) < n_shards:
        log.info("resuming: %d of %d shards already written", n_shards - len(todo), n_shards)
    schema = output_schema(spec, table.schema)
    if opts.engine == "ray":
        from .ray_engine import run_shards

        extras = {"config": cfg, "entities": entities, "transliterate": translit is not None}
        results = run_shards(table, todo, per, spec, dictionary, cfg.switch_config(), out, opts.address,
                             cfg.workers, extras)
    else:
        results = _local_shards(table, todo, per, spec, switcher, cfg.workers)
    bar = tqdm(total=table.num_rows, desc=f"{spec.task} {cfg.src}->{cfg.tgt}", unit="sent", disable=None)
    bar.update(min(table.num_rows, (n_shards - len(todo)) * per))
    for k, part in results:
        shards.write_table(out / shards.shard_name(k), part.select(schema.names).cast(schema))
        bar.update(part.num_rows // cfg.variants)
    bar.close()
    manifest = _manifest(cfg, spec, out, n_shards, inputs + dict_inputs, len(dictionary))
    if spec.task == "ner":  # what build.py records, so that both engines write the same manifest
        from .build import _dictionary_origins

        rows_with = manifest["counts"].pop("_sources", {})
        manifest = {**{k: v for k, v in manifest.items() if k not in ("versions", "inputs")},
                    "sources": {"mode": cfg.resolved_mode(), "dictionaries": _dictionary_origins(dictionary),
                                **entity_info, "transliteration": translit.origin if translit else None,
                                "rows_with_source": rows_with},
                    "versions": manifest["versions"], "inputs": manifest["inputs"]}
    else:
        manifest["counts"].pop("_sources", None)
    shards.write_manifest(out, manifest)
    log.info("wrote %d rows in %d shards to %s in %.1fs (%s engine%s)", manifest["counts"]["rows"], n_shards,
             out, time.time() - t0, opts.engine, ", resumed" if resumed else "")
    return out


def _prepare_out(out: Path, kind: str, fingerprint: dict, overwrite: bool) -> bool:
    """Start or resume a build in `out` (as build.py does); True when resuming."""
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
    shards.atomic_write_bytes(state_path, json.dumps(state, sort_keys=True).encode())
    return False


_STATE: dict = {}  # set before forking workers; read-only in them


def _shard_job(k: int) -> tuple[int, pa.Table]:
    table, per, spec, switcher = _STATE["table"], _STATE["per"], _STATE["spec"], _STATE["switcher"]
    return k, switch_batch(table.slice(k * per, per), spec, switcher)


def _local_shards(table: pa.Table, todo: list[int], per: int, spec: TaskSpec, switcher: CodeSwitcher,
                  workers: int) -> Iterator[tuple[int, pa.Table]]:
    _STATE.clear()
    _STATE.update(table=table, per=per, spec=spec, switcher=switcher)
    workers = max(1, min(workers if workers > 0 else mp.cpu_count(), len(todo) or 1))
    if workers == 1:
        for k in todo:
            yield _shard_job(k)
        return
    with mp.get_context("fork").Pool(workers) as pool:
        yield from pool.imap_unordered(_shard_job, todo)


def table_counts(table: pa.Table, variants: int) -> Counter:
    """Row/token counts of one shard table (what the manifest's `counts` add up)."""
    c: Counter = Counter(rows=table.num_rows, sentences=table.num_rows // variants)
    n_sw = table.column("n_switched").to_pylist()
    c["switched_tokens"] = sum(n_sw)
    c["rows_switched"] = sum(1 for n in n_sw if n)
    for side in ("src_tokens", "cs_tokens"):
        if side in table.column_names:
            c[side] = sum(len(t) for t in table.column(side).to_pylist())
    for m in table.column("method").to_pylist():
        c[f"method:{m}"] += 1
    if "cs_sources" in table.column_names:
        for row in table.column("cs_sources").to_pylist():
            for src in set(row) - {""}:
                c[f"source:{src}"] += 1
    return c


def _manifest(cfg: BuildConfig, spec: TaskSpec, out: Path, n_shards: int, inputs: list[dict],
              dictionary_entries: int) -> dict:
    entries = []
    stats: Counter = Counter()
    types: set[str] = set()
    for k in range(n_shards):
        path = out / shards.shard_name(k)
        data = path.read_bytes()
        table = pq.read_table(pa.BufferReader(data))
        entries.append({"file": path.name, "rows": table.num_rows, "sha256": hashlib.sha256(data).hexdigest()})
        stats.update(table_counts(table, cfg.variants))
        if "src_tags" in table.column_names:
            scheme = spec.output_scheme if spec.task != "ner" else "iob2"
            types |= {s.type for tags in table.column("src_tags").to_pylist() for s in decode(tags, scheme)}
    counts: dict = {k: v for k, v in sorted(stats.items()) if not k.startswith(("method:", "source:"))}
    counts["_sources"] = {k[7:]: v for k, v in sorted(stats.items()) if k.startswith("source:")}
    if "src_tokens" in counts:
        counts["switched_fraction"] = round(stats["switched_tokens"] / max(1, stats["src_tokens"]), 4)
    manifest = {
        "format": shards.FORMAT, "format_version": shards.FORMAT_VERSION, "kind": spec.kind,
        "src_lang": cfg.src, "tgt_lang": cfg.tgt, "config": asdict(cfg), "seed": cfg.seed,
        "counts": counts, "methods": {k[7:]: v for k, v in sorted(stats.items()) if k.startswith("method:")},
        "dictionary_entries": dictionary_entries,
    }
    if spec.kind in ("codeswitch", "tagging"):
        manifest["entity_types"] = sorted(types)
    manifest["shards"] = entries
    if spec.task != "ner":
        manifest["task"] = {"task": spec.task, "text_fields": spec.text_fields, "text_types": spec.text_types,
                            "carried": spec.carried}
        if spec.kind == "tagging":
            manifest["task"].update(scheme=spec.output_scheme, input_scheme=spec.scheme,
                                    tags_field=spec.tags_field)
    manifest["versions"] = package_versions() if spec.task == "ner" else {
        **package_versions(), **package_versions(EXTRA_PACKAGES)}
    manifest["inputs"] = inputs
    return manifest
