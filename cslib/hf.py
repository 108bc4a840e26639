"""Hugging Face `datasets` integration: code-switch a `datasets.Dataset`, load shard sets as one.

`codeswitch_dataset` runs the same `tasks.switch_batch` as `cslib build` through a batched
`Dataset.map` on Arrow batches, keyed by row index, so its rows equal those of a build of the
same records with the same seed, whatever `batch_size` and `num_proc`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from . import shards
from .build import BuildConfig
from .errors import CslibError
from .lexicons import Dictionary, build_dictionary
from .substitute import CodeSwitcher, SwitchConfig
from .task_inputs import Records
from .tasks import KEY, TaskOptions, TaskSpec, as_written, output_schema, resolve, switch_batch

if TYPE_CHECKING:
    import datasets

SAMPLE = 1000  # rows read to infer the task, fields and tagging scheme


class _Switch:
    """The picklable batch function handed to `Dataset.map` (the switcher is rebuilt per process)."""

    def __init__(self, spec: TaskSpec, dictionary: Dictionary, switch_config: SwitchConfig,
                 tag_names: list[str] | None, int_tags: bool) -> None:
        self.spec, self.dictionary, self.switch_config = spec, dictionary, switch_config
        self.tag_names, self.int_tags = tag_names, int_tags
        self._switcher: CodeSwitcher | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_switcher": None}

    def __call__(self, batch: pa.Table, indices: list[int]) -> pa.Table:
        if self._switcher is None:
            self._switcher = CodeSwitcher(self.dictionary, self.switch_config)
        keys = batch.column(self.spec.id_field).to_pylist() if self.spec.id_field else indices
        table = as_written(batch, self.spec).append_column(KEY, pa.array([str(k) for k in keys], pa.string()))
        tags = self.spec.tags_field
        if self.tag_names:
            names = self.tag_names
            col = [[names[t] for t in seq] for seq in table.column(tags).to_pylist()]
            table = table.set_column(table.schema.get_field_index(tags), tags, pa.array(col, pa.list_(pa.string())))
        out = switch_batch(table, self.spec, self._switcher)
        if self.int_tags:
            ids = {n: i for i, n in enumerate(self.tag_names or [])}
            for side in ("src_tags", "cs_tags"):
                col = [[ids[t] for t in seq] for seq in out.column(side).to_pylist()]
                out = out.set_column(out.schema.get_field_index(side), side, pa.array(col, pa.list_(pa.int64())))
        return out


def codeswitch_dataset(ds: datasets.Dataset, tgt: str, text_columns: str | list[str] | None = None,
                       tags_column: str | None = None, *, src: str = "en", task: str = "auto",
                       label_columns: list[str] | None = None, scheme: str = "auto",
                       output_scheme: str | None = None, dictionary: Dictionary | None = None,
                       config: BuildConfig | None = None, seed: int | None = None, variants: int | None = None,
                       num_proc: int | None = None, batch_size: int = 1000, id_column: str | None = None,
                       data_root: str | None = None) -> datasets.Dataset:
    """Code-switch `ds` into `tgt`; returns a new `datasets.Dataset` with the columns of the
    matching shard kind (docs/shards.md): text fields switched and other columns carried for
    classification, `src_tokens/src_tags/cs_tokens/cs_tags/...` for tagging.

    `text_columns`: the columns to switch (inferred as for `cslib build` when None); with
    `tags_column` the first one is the token list. Tags may be strings or `ClassLabel` ids
    (ids come back as ids when the scheme is unchanged). The dictionary is `dictionary`, or
    the one `config` (default `BuildConfig(src, tgt)`) builds; switching options come from
    `config`, `seed` and `variants` override it. Rows are keyed by their index, or by the
    (unique) values of `id_column`, by default the column named `id` if there is one (its
    value lives on inside the output `id`). A carried column named like one cslib writes is
    renamed `input_NAME` (docs/shards.md).
    """

    cfg = replace(config, tgt=tgt) if config else BuildConfig(src=src, tgt=tgt, data_root=data_root)
    seed = cfg.seed if seed is None else seed
    variants = cfg.variants if variants is None else variants
    if isinstance(text_columns, str):
        text_columns = [text_columns]
    if len(ds) == 0:
        raise CslibError("codeswitch_dataset: the dataset has no rows")
    tag_names = _class_names(ds.features.get(tags_column)) if tags_column else None
    sample = ds.select(range(min(SAMPLE, len(ds)))).to_list()
    if tag_names:
        for row in sample:
            row[tags_column] = [tag_names[t] for t in row[tags_column]]
    opts = TaskOptions(task=task, text_fields=None if tags_column else text_columns,
                       tokens_field=text_columns[0] if tags_column and text_columns else None,
                       tags_field=tags_column, label_fields=label_columns, scheme=scheme,
                       output_scheme=output_scheme, id_field=id_column)
    records = Records(Path("dataset"), "hf", sample, [f"row {i}" for i in range(len(sample))])
    spec = resolve(records, opts, cfg.src, cfg.tgt, seed, variants)
    missing = [c for c in [*spec.text_fields, *([spec.tags_field] if spec.tags_field else [])]
               if c not in ds.column_names]
    if missing:
        raise CslibError(f"dataset has no column {missing[0]!r} (columns: {', '.join(ds.column_names)})")
    if dictionary is None:
        dictionary, _ = build_dictionary(cfg)
    int_tags = bool(tag_names) and spec.output_scheme == spec.scheme
    fn = _Switch(spec, dictionary, cfg.switch_config(), tag_names, int_tags)
    features = _features(ds, spec, tag_names if int_tags else None)
    out = ds.with_format("arrow").map(
        fn, batched=True, with_indices=True, batch_size=batch_size, num_proc=num_proc,
        remove_columns=ds.column_names, features=features,
        new_fingerprint=_fingerprint(ds, spec, dictionary, cfg.switch_config()),
        desc=f"code-switching {cfg.src}->{cfg.tgt}")
    return out.with_format(None)


def _class_names(feature: Any) -> list[str] | None:
    import datasets

    inner = getattr(feature, "feature", None)
    if isinstance(feature, list) and feature:
        inner = feature[0]
    return list(inner.names) if isinstance(inner, datasets.ClassLabel) else None


def _features(ds: datasets.Dataset, spec: TaskSpec, tag_names: list[str] | None) -> datasets.Features:
    import datasets

    inp = as_written(ds.with_format("arrow")[:1], spec)
    schema = output_schema(spec, inp.append_column(KEY, pa.array(["0"], pa.string())).schema)
    feats = datasets.Features.from_arrow_schema(schema)
    for c in spec.carried:
        feats[c] = ds.features[spec.field_of(c)]
    if tag_names:
        for side in ("src_tags", "cs_tags"):
            feats[side] = datasets.Sequence(datasets.ClassLabel(names=tag_names))
    return feats


def _fingerprint(ds: datasets.Dataset, spec: TaskSpec, dictionary: Dictionary, sc: SwitchConfig) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([ds._fingerprint, spec.to_dict(), asdict(sc)], sort_keys=True, default=str).encode())
    for words, trs in dictionary.entries.items():
        h.update(("\t".join(words) + "\x00" + "\x00".join(t.text for t in trs) + "\n").encode())
    return h.hexdigest()[:32]


def load_shards_dataset(directory: str | Path, **kwargs: Any) -> datasets.Dataset:
    """A finished shard set (any kind) as one `datasets.Dataset`, in shard order, through
    `datasets.load_dataset("parquet", data_files=...)` (extra kwargs go to it, e.g. cache_dir)."""
    try:
        import datasets
    except ImportError:
        raise CslibError("load_shards_dataset needs the 'datasets' package: pip install 'xner[hub]'") from None

    _, paths = shards.shard_paths(directory)
    return datasets.load_dataset("parquet", data_files=[str(p) for p in paths], split="train", **kwargs)
