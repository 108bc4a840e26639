"""A recipe as a plan: every step it takes, with its config, the steps it reads and its fingerprint,
before anything runs.

Step names say what a step makes: `codeswitch/TGT`, `unlabeled/TGT`, `target_view/TGT`,
`unlabeled_mine/TGT`, `mine/TGT/seed-S`, `codeswitch_mined/TGT/seed-S`, `train/ROW/seed-S`,
`eval/ROW/seed-S`, `eval_extra/ROW/seed-S`, `diagnose/ROW/seed-S` and `report`. A step's config holds the names of the steps
whose products it takes (shards, pools, models) in the fields listed in `inputs`; the runner puts
those products there when the step runs. Its fingerprint hashes its kind, that kind's
`FINGERPRINT_VERSIONS` entry, its config (without the settings that do not change results) and the
fingerprints of the steps it depends on, so a changed setting changes the fingerprint of its step
and of every step downstream of it, and nothing else.

What differs between rows is data on the rows (`pipelines.rows.Row`: method, teacher, shards,
mine_with), never a row name here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cslib.build import BuildConfig
from cslib.corpora import has_muse
from cslib.errors import CslibError
from cslib.lexicons import has_dictionary, has_parallel, resolved_mode
from ner.training.config import SelfTrainConfig, TrainConfig
from pipelines.recipe import Recipe, RecipeError
from pipelines.study import settings_slug

log = logging.getLogger("pipelines")

# One version per step kind, part of every fingerprint of that kind: raise a kind's number when the same
# config starts to give other results (a new setting whose default differs from what ran before, a
# change of what the step writes), and the steps of that kind -- and everything downstream -- are redone.
FINGERPRINT_VERSIONS: dict[str, int] = {
    "build": 4,  # cslib build: a target's code-switched shards (2: frames of the target text; 3: one word; 4: CLDR names)
    "unlabeled": 1,  # cslib unlabeled: a target's unlabeled pool
    "target_view": 1,  # cslib build --task text: a target's pool code-switched into the source language
    "mine": 1,  # ner mine-entities: a target's entity lexicon, mined by a trained model
    "build_mined": 4,  # cslib build --entity-mode replace with the mined lexicon (or the usual shards)
    "train": 1,  # ner train (from scratch, or from a teacher's model)
    "self_train": 1,  # ner self-train
    "evaluate": 1,  # ner evaluate on every language's split
    "evaluate_extra": 1,  # ner evaluate --file on the recipe's extra labeled files (eval.extra)
    "diagnose": 1,  # ner diagnose
    "pseudo_quality": 1,  # a self-training run's kept pseudo-labels scored against the pool's gold (diagnostic)
    "report": 1,  # report.md / report.json (rewritten at every run)
}

# Settings that change how a step runs, never what it produces: left out of fingerprints at any depth.
NOT_FINGERPRINTED = frozenset({"workers", "overwrite", "report_to"})

# The key of a step's result that holds its product (what a config field naming that step receives).
PRODUCTS: dict[str, str] = {"build": "dir", "unlabeled": "dir", "target_view": "dir", "mine": "lexicon",
                            "build_mined": "dir", "train": "model", "self_train": "model",
                            "evaluate": "dir", "evaluate_extra": "dir", "diagnose": "dir",
                            "pseudo_quality": "file"}


@dataclass
class Step:
    """One step of a plan."""

    name: str
    kind: str  # a key of FINGERPRINT_VERSIONS
    config: Any  # the library config (or a dict of settings), with step names in its `inputs` fields
    deps: list[str]  # the steps it reads, in plan order before it
    output: str | None = None  # what it writes (removed before a fresh run; a cache holds while it exists)
    inputs: tuple[str, ...] = ()  # dotted config fields whose values name steps (a name, or a list of names)
    cached: bool = True  # False: run at every invocation (the report)
    fingerprint: str = ""
    hashed: dict[str, Any] = field(default_factory=dict, repr=False)  # what the fingerprint hashes


def fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def settings(value: Any) -> Any:
    """A config as the plain data a fingerprint hashes: dataclasses as dicts, tuples as lists, and the
    keys of NOT_FINGERPRINTED left out at any depth."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: settings(v) for k, v in value.items() if k not in NOT_FINGERPRINTED}
    if isinstance(value, list | tuple):
        return [settings(v) for v in value]
    return value


def get_field(config: Any, path: str) -> Any:
    for key in path.split("."):
        config = config[key] if isinstance(config, dict) else getattr(config, key)
    return config


def set_field(config: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for key in parents:
        config = config[key] if isinstance(config, dict) else getattr(config, key)
    if isinstance(config, dict):
        config[last] = value
    else:
        setattr(config, last, value)


def switch_mode(src: str, tgt: str, requested: str | None) -> str | None:
    """The code-switching mode a target gets: the recipe's, else what `cslib build` picks (MUSE if it
    exists, else aligned Tatoeba, else for en→X a lexicon induced from X's unlabeled text).

    None means no source at all, or the recipe's `mode: none`: that target is evaluated but gets no
    code-switched data.
    """
    if requested == "none":
        return None
    if requested:
        return requested
    pivot = src != "en" and tgt != "en" and has_muse("en", src) and has_muse("en", tgt)
    if has_dictionary(src, tgt) or pivot:  # en-X MUSE read either way, or composed through English
        return "dict"
    if has_parallel(src, tgt):
        return "align"
    if src == "en" and resolved_mode(BuildConfig(src=src, tgt=tgt)) == "induce":
        return "induce"
    return None


def check_report_to(report_to: list[str]) -> None:
    """`--report-to` needs `ner.training.config.TrainConfig.report_to`; its values are checked by it."""
    if "report_to" not in {f.name for f in dataclasses.fields(TrainConfig)}:
        raise RecipeError("--report-to needs ner.training.config.TrainConfig.report_to, which this ner does not have")
    dataclasses.replace(TrainConfig(shards=["-"]), report_to=list(report_to)).validate()


class _Plan:
    def __init__(self) -> None:
        self.steps: dict[str, Step] = {}

    def add(self, name: str, kind: str, config: Any, output: str | Path | None = None,
            inputs: tuple[str, ...] = (), deps: list[str] | None = None, cached: bool = True) -> str:
        if deps is None:
            deps = []
            for path in inputs:
                value = get_field(config, path)
                deps += [value] if isinstance(value, str) else list(value)
        deps = list(dict.fromkeys(deps))
        step = Step(name, kind, config, deps, None if output is None else str(output), inputs, cached)
        step.hashed = {"kind": kind, "version": FINGERPRINT_VERSIONS[kind], "config": settings(config),
                       "deps": {d: self.steps[d].fingerprint for d in deps}}
        step.fingerprint = fingerprint(step.hashed)
        self.steps[name] = step
        return name


def plan_recipe(recipe: Recipe, report_to: list[str] | None = None) -> list[Step]:
    """Every step of `recipe` in the order the runner takes them (a step after the steps it reads).

    `report_to` (e.g. ["tensorboard"]) is set on every training config; it is not fingerprinted.
    """
    if report_to:
        check_report_to(report_to)
    plan = _Plan()
    out = recipe.out_dir()

    # 1. code-switched shards, one set per target that has a dictionary or parallel text
    shards: dict[str, str] = {}
    modes: dict[str, str] = {}
    skipped: list[str] = []
    for tgt in recipe.targets:
        mode = switch_mode(recipe.src, tgt, (recipe.codeswitch_by_lang.get(tgt, {}) or {}).get("mode")
                           or recipe.codeswitch.get("mode"))
        if mode is None:
            skipped.append(tgt)
            log.warning("%s: no code-switched data (recipe mode none, or no dictionary, parallel text or unlabeled "
                        "text); evaluated only", tgt)
            continue
        cfg = recipe.build_config(tgt, mode)
        shards[tgt] = plan.add(f"codeswitch/{tgt}", "build", cfg, output=cfg.out)
        modes[tgt] = mode
    if not shards:
        raise CslibError("no target has a dictionary or parallel text: nothing to code-switch")
    usual = [shards[t] for t in recipe.targets if t in shards]
    specs = [recipe.spec(row) for row in recipe.rows]
    # a variant's own codeswitch settings (a study's value): shards of their own, one set per distinct setting
    own_shards: dict[str, list[str]] = {}
    for spec in specs:
        extra = spec.variant_codeswitch
        if not extra or settings_slug(extra) in own_shards:
            continue
        slug = settings_slug(extra)
        own_shards[slug] = []
        for tgt in recipe.targets:
            mode = switch_mode(recipe.src, tgt, extra.get("mode") or (recipe.codeswitch_by_lang.get(tgt, {}) or {})
                               .get("mode") or recipe.codeswitch.get("mode"))
            if mode is not None:
                cfg = recipe.build_config(tgt, mode, extra)
                own_shards[slug].append(plan.add(f"codeswitch/{tgt}/{slug}", "build", cfg, output=cfg.out))

    # 2. unlabeled target text (self-training, mining, the target view) and the target view built from it
    target_view = recipe.uses_target_view()
    pools: dict[str, str] = {}
    if target_view or any(spec.reads_unlabeled and not spec.variant_unlabeled for spec in specs):
        for tgt in recipe.targets:
            ucfg = recipe.unlabeled_config(tgt)
            pools[tgt] = plan.add(f"unlabeled/{tgt}", "unlabeled", ucfg, output=ucfg.out)
    own_pools: dict[str, list[str]] = {}  # a variant's own unlabeled settings (a study's value): its own pools
    for spec in specs:
        slug = settings_slug(spec.variant_unlabeled) if spec.variant_unlabeled else ""
        if slug and slug not in own_pools:
            cfgs = [recipe.unlabeled_config(tgt, spec.variant_unlabeled) for tgt in recipe.targets]
            own_pools[slug] = [plan.add(f"unlabeled/{c.lang}/{slug}", "unlabeled", c, output=c.out) for c in cfgs]
    views = []
    for tgt in recipe.targets if target_view else []:
        vcfg = recipe.target_view_config(tgt, pools[tgt])
        views.append(plan.add(f"target_view/{tgt}", "target_view", vcfg, output=vcfg.out, inputs=("input",)))

    # 3. one model per row and seed, 4. its evaluation and diagnosis
    evaluations: dict[str, dict[int, str]] = {}
    extra: dict[str, dict[int, str]] = {}
    for seed in recipe.training_seeds():
        models: dict[str, str] = {}
        for row, spec in zip(recipe.rows, specs, strict=True):
            row_shards = own_shards[settings_slug(spec.variant_codeswitch)] if spec.variant_codeswitch else usual
            if spec.shards == "mined":
                row_shards = _mined_shards(plan, recipe, row, seed, models, shards, modes, pools)
            row_pools: list[str] = []
            if spec.method == "self_train":
                row_pools = (own_pools[settings_slug(spec.variant_unlabeled)] if spec.variant_unlabeled
                             else [pools[t] for t in recipe.targets])
            cfg = recipe.model_config(row, row_shards, seed, views, teacher=models.get(spec.teacher or "", ""),
                                      unlabeled=row_pools)
            trained = cfg.train if isinstance(cfg, SelfTrainConfig) else cfg
            inputs = ["shards"] + (["target_pairs"] if trained.target_pairs else [])
            if isinstance(cfg, SelfTrainConfig):
                inputs = ["teacher", "unlabeled", *(f"train.{f}" for f in inputs)]
            elif spec.method == "continue":
                inputs.append("init_from")
            if report_to:
                for c in (cfg, trained):
                    if "report_to" in {f.name for f in dataclasses.fields(c)}:
                        c.report_to = list(report_to)  # type: ignore[union-attr]
            kind = "self_train" if isinstance(cfg, SelfTrainConfig) else "train"
            models[row] = plan.add(f"train/{row}/seed-{seed}", kind, cfg, output=cfg.out, inputs=tuple(inputs))
            ev = recipe.eval
            eval_out = out / "eval" / row / f"seed-{seed}"
            econf = {"model": models[row], "langs": recipe.eval_langs(), "split": ev.split, "limit": ev.limit,
                     "batch_size": ev.batch_size, "amp": ev.amp, "data_root": recipe.data_root, "out": str(eval_out)}
            evaluations.setdefault(row, {})[seed] = plan.add(f"eval/{row}/seed-{seed}", "evaluate", econf,
                                                             output=eval_out, inputs=("model",))
            if ev.extra:
                extra_out = out / "eval_extra" / row / f"seed-{seed}"
                xconf = {"model": models[row], "batch_size": ev.batch_size, "amp": ev.amp, "out": str(extra_out),
                         "sets": [{**dataclasses.asdict(x), "path": str(recipe.extra_eval_path(x))} for x in ev.extra]}
                extra.setdefault(row, {})[seed] = plan.add(f"eval_extra/{row}/seed-{seed}", "evaluate_extra", xconf,
                                                           output=extra_out, inputs=("model",))
            if seed in recipe.diagnose_seeds():
                dcfg = recipe.diagnose_config(models[row], row, seed)  # a self-training run: its student
                plan.add(f"diagnose/{row}/seed-{seed}", "diagnose", dcfg, output=dcfg.out, inputs=("run",))
            if kind == "self_train" and any(row in (study.variant(r, v) for r in study.rows for v in study.values)
                                            for study in recipe.sweeps):
                qfile = out / "pseudo_quality" / row / f"seed-{seed}.json"
                qconf = {"run": models[row], "dir": cfg.out, "langs": [t for t in recipe.targets if t != recipe.src],
                         "data_root": recipe.data_root, "out": str(qfile)}
                plan.add(f"pseudo_quality/{row}/seed-{seed}", "pseudo_quality", qconf, output=qfile, inputs=("run",))

    # 5. the report: every step's record, rewritten at every run
    plan.add("report", "report", {"evaluations": evaluations, "extra": extra, "skipped": skipped},
             deps=list(plan.steps), cached=False)
    return list(plan.steps.values())


def _mined_shards(plan: _Plan, recipe: Recipe, row: str, seed: int, models: dict[str, str], shards: dict[str, str],
                  modes: dict[str, str], pools: dict[str, str]) -> list[str]:
    """The shards of a row with mined entities, for one training seed: per target, the entities the
    mining row's model finds in that target's unlabeled pool (`ner mine-entities`), then the target's
    build again with switched entities replaced by mined ones of the same type. A target where
    nothing passes the mining filters keeps its usual shards."""
    miner = models[recipe.mine_teacher(row)]
    mine = dataclasses.asdict(recipe.mine_config())
    names = []
    for tgt in [t for t in recipe.targets if t in shards]:
        pool = pools[tgt]
        ucfg = recipe.mine_unlabeled_config(tgt)
        if ucfg is not None:
            pool = f"unlabeled_mine/{tgt}"
            if pool not in plan.steps:
                plan.add(pool, "unlabeled", ucfg, output=ucfg.out)
        lexicon = recipe.out_dir() / "data" / "mined" / f"seed-{seed}" / f"{tgt}.tsv"
        mined = plan.add(f"mine/{tgt}/seed-{seed}", "mine", {"model": miner, "pool": pool, "out": str(lexicon),
                                                             "mine": mine}, output=lexicon, inputs=("model", "pool"))
        cfg = recipe.mined_build_config(tgt, modes[tgt], mined, seed)
        names.append(plan.add(f"codeswitch_mined/{tgt}/seed-{seed}", "build_mined",
                              {"build": cfg, "usual": shards[tgt]}, output=cfg.out,
                              inputs=("build.entity_lexicon", "usual")))
    return names
