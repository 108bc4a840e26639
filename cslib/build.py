"""Code-switched (labeled) shard sets: the build config, what a build switches with, the NER build.

Work is split by shard: shard k always holds the same source sentences, and every variant of
every sentence draws from its own RNG seeded by (seed, sentence index, variant). The bytes
of a shard therefore depend only on the inputs and the seed, not on the number of worker
processes or on whether the build was interrupted and resumed. Every build of a switched kind
(NER here, the tasks in `cslib.task_build`, either engine) is written by `write_switched`:
the one fingerprint, shard runner and manifest.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from . import shards
from .corpora import has_muse, load_split
from .environment import package_versions
from .errors import CslibError
from .frames import FramePrefixer, text_frames
from .gcpause import collector_paused, loaded_frozen
from .languages import get_language
from .lexicons import (
    ZH_SCRIPTS,
    Dictionary,
    EntityLexicon,
    SenseConfig,
    Transliterator,
    build_dictionary,
    build_entity_lexicon,
    build_transliterator,
    dictionary_origins,
    has_text,
    read_entity_lexicon,
    resolved_mode,
)
from .manifests import resolve_file
from .readers import LabeledSentence, read_labeled_file
from .shard_runner import BUILD_PACKAGES, Compute, ShardPlan, ShardRun, local_shards, run_shards
from .substitute import CodeSwitcher, SwitchConfig, switch_method
from .tasks import TaskSpec
from .textio import check_encoding
from .validate import row_problem

log = logging.getLogger(__name__)
MODES = ("auto", "dict", "align", "dict+align", "induce")
EXTRA_PACKAGES = ("datasets", "ray")  # also recorded in task manifests


@dataclass
class BuildConfig:
    """Everything that determines a code-switched shard set (`cslib build`)."""

    src: str = "en"
    tgt: str = "ja"
    out: str | None = None  # default: data/cs/{src}-{tgt}
    data_root: str | None = None
    input: str | None = None  # a labeled PAN-X/CoNLL file instead of the PAN-X train split
    split: str = "train"
    mode: str = "auto"  # auto: dict when a MUSE dictionary (or --dictionary) exists, else align
    dictionary: str | None = None  # a MUSE-format file replacing the manifest's MUSE dictionary
    extra_dicts: list[str] | None = None  # "jmdict", "cedict"; None: every installed one for the pair
    entity_sources: list[str] | None = None  # "jmnedict", "cedict-names"; None: every installed one
    entity_lexicon: str | None = None  # TSV: source phrase, target text[, TYPE[, score]]
    transliterate: bool | None = None  # None: ja/zh, and targets without a dictionary (sources.transliterates_by_default)
    induce: bool | None = None  # lexicon induced with the encoder; None: targets without a dictionary
    induce_text: str | None = None  # target-language text (one sentence a line) for the induction, beside PAN-X's
    pivot_words: str | None = None  # a related language with MUSE: its words that occur in the target's text
    cldr: bool | None = None  # CLDR's names of territories, cities, languages, months; None: targets without a dictionary
    frames: bool | None = None  # prepend the target text's frames (cslib.frames); None: where PAN-X has its text
    senses: str = "freq"  # freq: weight translations by target frequency; uniform
    sense_min_ratio: float = 0.05  # drop translations rarer than this × the phrase's most frequent one
    zh_script: str = "both"  # simplified | traditional | both | keep (see cslib.lexicons.script)
    parallel: list[str] | None = None  # [src_file, tgt_file] instead of Tatoeba
    aligner: str = "eflomal"
    aligner_model: str | None = None  # local encoder dir, for simalign
    ratio: float = 0.8
    entity_ratio: float | None = None
    entity_mode: str = "unit"
    compose_entities: bool = True
    segment: str = "auto"
    variants: int = 1
    limit: int | None = None
    seed: int = 13
    shard_size: int = 5000
    workers: int = 1
    overwrite: bool = False
    encoding: str | None = None  # of input, dictionary and parallel files (None = UTF-8)

    def validate(self) -> None:
        check_encoding(self.encoding)
        get_language(self.src)
        get_language(self.tgt)
        if self.src == self.tgt:
            raise CslibError(f"--src and --tgt are both {self.src!r}")
        if self.mode not in MODES:
            raise CslibError(f"unknown mode {self.mode!r} (expected one of {', '.join(MODES)})")
        if self.variants < 1 or self.shard_size < 1:
            raise CslibError("--variants and --shard-size must be at least 1")
        if self.zh_script not in ZH_SCRIPTS:
            raise CslibError(f"unknown --zh-script {self.zh_script!r} (expected one of {', '.join(ZH_SCRIPTS)})")
        if self.entity_mode == "replace" and not self.entity_lexicon:
            raise CslibError("--entity-mode replace needs --entity-lexicon FILE (target entities with their types)")
        if self.pivot_words is not None:
            get_language(self.pivot_words)
            if self.pivot_words == self.tgt or self.src != "en" or not has_muse("en", self.pivot_words):
                raise CslibError(f"--pivot-words {self.pivot_words}: needs an en->X build and a language other than "
                                 f"the target with a MUSE en-{self.pivot_words} dictionary in the manifests")
        if self.induce_text and not Path(self.induce_text).is_file():
            raise CslibError(f"{self.induce_text}: --induce-text file not found")
        if self.entity_lexicon:  # fail before the slow dictionary loading, not after
            read_entity_lexicon(self.entity_lexicon)
        try:
            self.switch_config()
            SenseConfig(self.senses, self.sense_min_ratio)
        except ValueError as exc:
            raise CslibError(str(exc)) from None

    def resolved_mode(self) -> str:
        """`auto` → dict when there is a dictionary for the pair, else align (Tatoeba or --parallel)."""
        return resolved_mode(self)

    def switch_config(self) -> SwitchConfig:
        return SwitchConfig(self.ratio, self.entity_mode, self.entity_ratio, self.compose_entities, self.segment)

    def out_dir(self) -> Path:
        return Path(self.out or f"data/cs/{self.src}-{self.tgt}")

    def fingerprint(self) -> dict:
        """The part of the config that changes the output bytes."""
        skip = {"out", "data_root", "workers", "overwrite"}
        return {k: v for k, v in asdict(self).items() if k not in skip and not (k == "encoding" and v is None)}


def source_sentences(cfg: BuildConfig) -> tuple[list[LabeledSentence], list[dict]]:
    """The labeled sentences a NER build switches (--input, else PAN-X), and their file's digest."""
    if cfg.input:
        path = Path(cfg.input)
        sents = read_labeled_file(path, limit=cfg.limit, encoding=cfg.encoding)
        return sents, [shards.file_digest(path)]
    sents = load_split("panx", cfg.src, cfg.split, cfg.data_root, limit=cfg.limit)
    return sents, [shards.file_digest(resolve_file("panx", cfg.src, cfg.split, cfg.data_root))]


# `Switching.prefetch` looks at every PREFETCH_SAMPLE-th sentence first, in inputs of PREFETCH_MIN_ROWS or more.
PREFETCH_SAMPLE = 40
PREFETCH_MIN_ROWS = 2_000


@dataclass
class Switching:
    """What a build switches with, and what its manifest records about it."""

    dictionary: Dictionary
    switcher: CodeSwitcher
    entities: EntityLexicon | None
    entity_info: dict  # the manifest's entity entries under "sources"
    transliterator: Transliterator | None
    inputs: list[dict]  # digests of the dictionary and lexicon files

    @property
    def frames(self) -> FramePrefixer | None:
        """NER builds: the frames of the target's text the switcher prepends (cslib.frames)."""
        return self.switcher.frames

    def prefetch(self, sentences: Iterable[tuple[list[str], list[str]]], workers: int = 1) -> bool:
        """Transliterate, in batches and before switching, every entity word of (tokens, IOB2 tags)
        that switching may need: the rows are unchanged, the model runs once per new letter run
        (over `workers` processes), and forked shard workers inherit the results.

        Finding those words repeats the lookups switching makes (docs/benchmarks.md), which buys nothing
        once the cache holds them: when every `PREFETCH_SAMPLE`-th sentence's
        letter runs are all cached (a rebuild, another seed), the pass is skipped and a rare miss goes
        through the model alone while switching (the same string: `e2k_batch`). Returns whether it ran."""
        if self.transliterator is None:
            return False
        started = time.perf_counter()
        rows = sentences if isinstance(sentences, Sequence) else list(sentences)
        if len(rows) >= PREFETCH_MIN_ROWS:
            sample = [w for tokens, tags in rows[::PREFETCH_SAMPLE]
                      for w in self.switcher.transliteration_words(tokens, tags)]
            if sample and self.transliterator.all_cached(sample):
                log.info("transliteration: the %d entity words of every %dth sentence are cached: no prefetch (%.1fs)",
                         len(set(sample)), PREFETCH_SAMPLE, time.perf_counter() - started)
                return False
        words = [w for tokens, tags in rows for w in self.switcher.transliteration_words(tokens, tags)]
        n = self.transliterator.prefetch(words, workers)
        log.info("transliteration: %d entity words, %d new letter runs through the model (%.1fs)",
                 len(set(words)), n, time.perf_counter() - started)
        return True


def prepare_switching(cfg: BuildConfig, entities: bool = True, ner: bool = True) -> Switching:
    """The dictionary and switcher of a build: one place, so that every engine and task switches
    with the same sources. `entities=False` (tasks without labeled entities) skips typed names
    and transliteration; `ner` (a PAN-X-style NER build) adds the target text's frames."""
    dictionary, inputs = build_dictionary(cfg)
    lexicon, info, translit = None, {}, None
    if entities:
        lexicon, info = build_entity_lexicon(cfg)
        translit = build_transliterator(cfg)
        inputs += info.pop("inputs", [])
    frames = None
    if entities and ner:
        frames, frame_inputs = target_frames(cfg)
        inputs += frame_inputs
    switcher = CodeSwitcher(dictionary, cfg.switch_config(), entities=lexicon, transliterator=translit,
                            zh_script=cfg.zh_script, frames=frames)
    return Switching(dictionary, switcher, lexicon, info, translit, inputs)


def target_frames(cfg: BuildConfig) -> tuple[FramePrefixer | None, list[dict]]:
    """The frames of the target's unlabeled PAN-X text (`cslib.frames`) and that file's digest.

    `cfg.frames` None mines them where the manifests list the text and warns (building without
    frames) when it cannot be read; True makes both an error."""
    if cfg.frames is False:
        return None, []
    if not has_text(cfg.tgt):
        if cfg.frames:
            raise CslibError(f"--frames: the manifests hold no unlabeled {cfg.tgt} text (PAN-X train) to mine "
                             "frames from")
        return None, []
    try:
        frames = text_frames(cfg.tgt, cfg.data_root)
        digest = shards.file_digest(resolve_file("panx", cfg.tgt, "train", cfg.data_root))
    except CslibError as exc:
        if cfg.frames:
            raise
        log.warning("frames: %s; building without frames (--no-frames silences this)", exc)
        return None, []
    log.info("frames of the %s text: %s", cfg.tgt,
             ", ".join(f"{' '.join(f.tokens)!r} {f.share:.0%}" for f in frames) or "none")
    return FramePrefixer(frames, cfg.tgt), [digest]


def _total(values: pa.ChunkedArray | pa.Array) -> int:
    return pc.sum(values).as_py() or 0


def switched_counts(table: pa.Table, variants: int) -> Counter:
    """One shard's contribution to the manifest's `counts`, `methods`, `rows_with_source` and
    `entity_types` (keys `method:X`, `source:X`, `type:X`), for every switched kind."""
    n_switched = table.column("n_switched")
    c: Counter = Counter(rows=table.num_rows, sentences=table.num_rows // variants,
                         switched_tokens=_total(n_switched),
                         rows_switched=_total(pc.cast(pc.greater(n_switched, 0), pa.int64())))
    for side in ("src_tokens", "cs_tokens"):
        if side in table.column_names:
            c[side] = _total(pc.list_value_length(table.column(side)))
    for item in pc.value_counts(table.column("method")).to_pylist():
        c[f"method:{item['values']}"] += item["counts"]
    if "cs_sources" in table.column_names:
        for row in table.column("cs_sources").to_pylist():
            for src in set(row) - {""}:
                c[f"source:{src}"] += 1
    if "src_tags" in table.column_names:  # types of the tags of strictly decoded spans: TYPE of P-TYPE
        for tag in pc.unique(pc.list_flatten(table.column("src_tags"))).to_pylist():
            if tag != "O":
                c[f"type:{tag[2:]}"] += 1
    return c


def _prefixed(counts: Counter, prefix: str) -> dict[str, int]:
    return {k[len(prefix):]: v for k, v in sorted(counts.items()) if k.startswith(prefix)}


def write_switched(cfg: BuildConfig, out: Path, kind: str, n_items: int, inputs: list[dict], sw: Switching,
                   compute: Compute, task: TaskSpec | None = None, engine: str = "local",
                   started: float | None = None) -> Path:
    """Run the shards of a switched kind (NER when `task` is None) and write their manifest."""
    started = time.time() if started is None else started
    fingerprint = {"config": cfg.fingerprint(), "inputs": [i["sha256"] for i in inputs + sw.inputs],
                   "dictionary_entries": len(sw.dictionary)}
    if task is None:
        fingerprint["entity_entries"] = len(sw.entities) if sw.entities else 0
    else:
        fingerprint["task"] = task.to_dict()
    per = max(1, cfg.shard_size // cfg.variants)
    desc = f"{'cs' if task is None else task.task} {cfg.src}->{cfg.tgt}"
    plan = ShardPlan(out, kind, fingerprint, n_items, per, cfg.variants, cfg.overwrite, desc)
    run = run_shards(plan, compute, partial(switched_counts, variants=cfg.variants))
    if sw.transliterator is not None:
        sw.transliterator.flush()  # letter runs met one by one (not announced by `prefetch`)
    shards.write_manifest(out, _manifest(cfg, kind, run, sw, inputs, task))
    log.info("wrote %d rows in %d shards to %s in %.1fs (%s engine%s)", run.counts["rows"], len(run.entries), out,
             time.time() - started, engine, ", resumed" if run.resumed else "")
    return out


def _manifest(cfg: BuildConfig, kind: str, run: ShardRun, sw: Switching, inputs: list[dict],
              task: TaskSpec | None) -> dict:
    counts: dict = {k: v for k, v in sorted(run.counts.items()) if ":" not in k}
    if "src_tokens" in counts:
        counts["switched_fraction"] = round(counts["switched_tokens"] / max(1, counts["src_tokens"]), 4)
    manifest = {
        "format": shards.FORMAT, "format_version": shards.FORMAT_VERSION, "kind": kind,
        "src_lang": cfg.src, "tgt_lang": cfg.tgt, "config": asdict(cfg), "seed": cfg.seed,
        "counts": counts, "methods": _prefixed(run.counts, "method:"), "dictionary_entries": len(sw.dictionary),
    }
    if kind in ("codeswitch", "tagging"):
        manifest["entity_types"] = sorted(_prefixed(run.counts, "type:"))
    manifest["shards"] = run.entries
    sources = {"mode": cfg.resolved_mode(), **sw.dictionary.info, "dictionaries": dictionary_origins(sw.dictionary)}
    if cfg.src != "en" and kind in ("codeswitch", "tagging"):  # CodeSwitcher: persons by typed names only
        sources["person_names"] = "typed name sources only" if sw.entities is not None else "kept"
    if task is None:
        manifest["sources"] = {**sources, **sw.entity_info,
                               "transliteration": sw.transliterator.origin if sw.transliterator else None,
                               "frames": [f.to_dict() for f in sw.frames.frames] if sw.frames else [],
                               "rows_with_source": _prefixed(run.counts, "source:")}
        manifest["versions"] = package_versions(BUILD_PACKAGES)
    else:
        manifest["sources"] = sources
        manifest["task"] = {"task": task.task, "text_fields": task.text_fields, "text_types": task.text_types,
                            "carried": task.carried}
        if kind == "tagging":
            manifest["task"].update(scheme=task.output_scheme, input_scheme=task.scheme, tags_field=task.tags_field)
        if task.renamed:
            manifest["task"]["renamed"] = task.renamed
        manifest["versions"] = package_versions(BUILD_PACKAGES + EXTRA_PACKAGES)
    manifest["inputs"] = inputs + sw.inputs
    return manifest


def build_codeswitch(cfg: BuildConfig) -> Path:
    """Build (or resume) a code-switched NER shard set on this machine; returns its directory."""
    cfg.validate()
    started = time.time()
    with collector_paused():  # long-lived, acyclic: see cslib.gcpause
        sents, inputs = source_sentences(cfg)
        sw = prepare_switching(cfg)
        sw.prefetch(((s.tokens, s.tags) for s in sents), cfg.workers)
    job = partial(_codeswitch_shard, cfg, sents, sw.switcher, max(1, cfg.shard_size // cfg.variants))
    with loaded_frozen():
        return write_switched(cfg, cfg.out_dir(), "codeswitch", len(sents), inputs, sw,
                              partial(local_shards, job, workers=cfg.workers), started=started)


def _codeswitch_shard(cfg: BuildConfig, sents: list[LabeledSentence], switcher: CodeSwitcher, per: int,
                      k: int) -> pa.Table:
    schema = shards.write_schema("codeswitch")
    rows: dict[str, list] = {f.name: [] for f in schema}
    for idx in range(k * per, min(len(sents), (k + 1) * per)):
        s = sents[idx]
        for v in range(cfg.variants):
            r = switcher.switch(s.tokens, s.tags, random.Random(f"{cfg.seed}:{idx}:{v}"))
            problem = row_problem(s.tokens, s.tags, r.tokens, r.tags, r.src_index, r.langs)
            if problem:  # a bug, never user error: refuse to write a wrong label
                raise RuntimeError(f"label check failed for sentence {idx} variant {v}: {problem}")
            for key, val in (("id", f"{cfg.src}-{cfg.tgt}:{idx}:{v}"), ("src_lang", cfg.src),
                             ("tgt_lang", cfg.tgt), ("src_tokens", s.tokens), ("src_tags", s.tags),
                             ("cs_tokens", r.tokens), ("cs_tags", r.tags), ("cs_langs", r.langs),
                             ("cs_src_index", r.src_index), ("method", switch_method(r.origins)),
                             ("n_switched", r.n_switched), ("cs_sources", r.sources),
                             ("n_translatable", r.n_translatable)):
                rows[key].append(val)
    return pa.Table.from_pydict(rows, schema=schema)
