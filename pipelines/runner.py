"""Run a recipe's plan (`pipelines.plan`) step by step, each step cached by its fingerprint.

A step whose marker `OUT/steps/NAME.json` holds the same fingerprint, and whose output is still
there, is skipped; a step that was started but not finished is resumed by the library itself
(`cslib build` keeps finished shards, `ner train` restarts from its last checkpoint); a step whose
fingerprint changed is redone from scratch, and so is everything downstream of it, because their
fingerprints include it. The runner knows step kinds, one executor each, and nothing of rows.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cslib import TaskOptions, atomic_write_bytes, build_codeswitch, build_unlabeled, run_build
from cslib import stats as shard_stats
from cslib.errors import CslibError
from ner.diagnostics import diagnose
from ner.errors import NerError
from ner.inference.evaluate import evaluate, evaluate_langs
from ner.inference.loading import load_model
from ner.inference.mine_entities import MineConfig, mine_entities
from ner.inference.precision import resolve_device
from ner.training.loop import train
from ner.training.self_training import self_train
from pipelines.plan import PRODUCTS, Step, get_field, plan_recipe, set_field
from pipelines.pseudo_quality import score_rounds
from pipelines.recipe import Recipe
from pipelines.report import write_report
from pipelines.study_report import markdown as studies_markdown
from pipelines.study_report import summarize_studies, write_study_charts

log = logging.getLogger("pipelines")


@dataclass
class StepRecord:
    name: str
    fingerprint: str
    seconds: float = 0.0
    cached: bool = False
    result: dict[str, Any] = field(default_factory=dict)


class Steps:
    """Markers under OUT/steps: `NAME.started.json` before the work, `NAME.json` after it."""

    def __init__(self, out: Path, force: set[str] | None = None) -> None:
        self.dir = out / "steps"
        self.force = force or set()
        self.records: dict[str, StepRecord] = {}

    def _path(self, name: str, started: bool = False) -> Path:
        return self.dir / (name.replace("/", "__") + (".started.json" if started else ".json"))

    def _marker(self, name: str, started: bool = False) -> dict[str, Any] | None:
        path = self._path(name, started)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def status(self, step: Step) -> str:
        """`cached` (same fingerprint, output still there), `stale` (a marker of another fingerprint),
        `not cached`, or `always` for a step that runs at every invocation."""
        if not step.cached:
            return "always"
        done = self._marker(step.name)
        if done is None:
            return "not cached"
        if done.get("fingerprint") != step.fingerprint:
            return "stale"
        output = done.get("output")
        return "cached" if output is None or Path(output).exists() else "not cached"

    def resumes(self, step: Step) -> bool:
        """Whether running `step` continues an interrupted run of the same fingerprint."""
        started = self._marker(step.name, started=True)
        return step.cached and started is not None and started.get("fingerprint") == step.fingerprint

    def forced(self, step: Step) -> bool:
        return any(step.name == f or step.name.startswith(f + "/") for f in self.force)

    def run(self, step: Step, work: Callable[[bool], dict[str, Any]]) -> StepRecord:
        """`work(fresh)` does the step; `fresh` is True when its earlier output must be discarded."""
        if not step.cached:
            return StepRecord(step.name, step.fingerprint, 0.0, False, work(True))
        forced = self.forced(step)
        if not forced and self.status(step) == "cached":
            rec = self._marker(step.name) or {}
            log.info("[cached] %s (%.0fs when it ran)", step.name, rec.get("seconds", 0.0))
            return self._keep(StepRecord(step.name, step.fingerprint, rec.get("seconds", 0.0), True,
                                         rec.get("result", {})))
        fresh = forced or not self.resumes(step)
        log.info("[run] %s" if fresh else "[resume] %s", step.name)  # resume: the library picks up its work
        output = Path(step.output) if step.output else None
        if fresh and output is not None and output.exists():
            shutil.rmtree(output) if output.is_dir() else output.unlink()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._path(step.name).unlink(missing_ok=True)
        _write_json(self._path(step.name, started=True), {"fingerprint": step.fingerprint, "config": step.hashed})
        t0 = time.time()
        result = work(fresh)
        seconds = time.time() - t0
        _write_json(self._path(step.name), {"fingerprint": step.fingerprint, "seconds": round(seconds, 1),
                                            "result": result, "config": step.hashed,
                                            "output": str(output) if output is not None and output.exists() else None})
        log.info("[done] %s in %.0fs", step.name, seconds)
        return self._keep(StepRecord(step.name, step.fingerprint, seconds, False, result))

    def _keep(self, record: StepRecord) -> StepRecord:
        self.records[record.name] = record
        return record


def _write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode())


@dataclass
class Run:
    """What executors share: the recipe, the records of the steps run so far, their kinds, the start."""

    recipe: Recipe
    records: dict[str, StepRecord]
    kinds: dict[str, str]
    started: float

    def product(self, name: str) -> Any:
        return self.records[name].result.get(PRODUCTS[self.kinds[name]])

    def resolve(self, step: Step) -> Any:
        """A copy of `step.config` with the products of the steps its `inputs` fields name (a list
        leaves out the steps that produced nothing)."""
        config = copy.deepcopy(step.config)
        for path in step.inputs:
            value = get_field(config, path)
            if isinstance(value, str):
                set_field(config, path, self.product(value))
            else:
                set_field(config, path, [p for p in map(self.product, value) if p is not None])
        return config


# --- one executor per step kind: (step, its resolved config, fresh, run) -> the step's result --------------------

def _build(step: Step, cfg: Any, fresh: bool, run: Run) -> dict[str, Any]:
    cfg.overwrite = fresh
    path = build_codeswitch(cfg)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    result = {"dir": str(path), "rows": manifest["counts"]["rows"], "mode": cfg.mode,
              "switched_fraction": manifest["counts"]["switched_fraction"]}
    if cfg.entity_mode == "replace":  # how much of the entity side the mined lexicon reached
        st = shard_stats(path)
        result.update({key: st[key] for key in ("entities_switched_overall", "entities_switched_fraction")})
        result["entities_replaced_by_mined"] = st.get("entity_switch_by_source", {}).get("replace", {})
    return result


def _build_mined(step: Step, cfg: dict[str, Any], fresh: bool, run: Run) -> dict[str, Any]:
    """The target's build with the mined lexicon; the usual shards where nothing was mined."""
    if not cfg["build"].entity_lexicon:
        log.info("%s: nothing mined, the usual shards", step.name)
        return {"dir": cfg["usual"], "mined": False}
    result = _build(step, cfg["build"], fresh, run)
    log.info("%s: %.1f%% of entities switched with the mined lexicon", step.name,
             100 * result.get("entities_switched_overall", 0.0))
    return result


def _unlabeled(step: Step, cfg: Any, fresh: bool, run: Run) -> dict[str, Any]:
    cfg.overwrite = fresh
    path = build_unlabeled(cfg)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    return {"dir": str(path), "rows": manifest["counts"]["rows"]}


def _target_view(step: Step, cfg: Any, fresh: bool, run: Run) -> dict[str, Any]:
    """The unlabeled pool code-switched into the source language; none (cached as such) for a target
    without a dictionary into the source language."""
    try:
        return {"dir": str(run_build(cfg, TaskOptions(task="text", text_fields=["tokens"])))}
    except CslibError as exc:
        log.warning("%s: no target view (%s)", step.name, exc)
        return {"dir": None, "error": str(exc)}


def _mine(step: Step, cfg: dict[str, Any], fresh: bool, run: Run) -> dict[str, Any]:
    """A target's entity lexicon from its unlabeled pool; an empty file when nothing passes the filters."""
    lexicon = Path(cfg["out"])
    try:
        mined = mine_entities(cfg["model"], [cfg["pool"]], out=lexicon, cfg=MineConfig(**cfg["mine"]))
    except NerError as exc:
        log.warning("%s: %s; the usual shards stay", step.name, exc)
        lexicon.parent.mkdir(parents=True, exist_ok=True)
        lexicon.write_text("", encoding="utf-8")  # the step's output: "mined, found nothing" stays cached
        return {"lexicon": None, "entities": 0}
    by_type: dict[str, int] = {}
    for m in mined:
        by_type[m.type] = by_type.get(m.type, 0) + 1
    log.info("%s: mined %d entities (%s) with %s", step.name, len(mined),
             ", ".join(f"{k} {v}" for k, v in sorted(by_type.items())), step.config["model"])
    return {"lexicon": str(lexicon), "entities": len(mined), "by_type": by_type}


def _train(step: Step, cfg: Any, fresh: bool, run: Run) -> dict[str, Any]:
    return {"model": str(train(cfg))}


def _self_train(step: Step, cfg: Any, fresh: bool, run: Run) -> dict[str, Any]:
    return {"model": str(self_train(cfg))}


def _evaluate(step: Step, cfg: dict[str, Any], fresh: bool, run: Run) -> dict[str, Any]:
    summary = evaluate_langs(cfg["model"], cfg["langs"], split=cfg["split"], data_root=cfg["data_root"],
                             limit=cfg["limit"], out=Path(cfg["out"]), batch_size=cfg["batch_size"], echo=False,
                             amp=cfg["amp"])
    result = {"languages": {k: v["f1"] for k, v in summary["languages"].items()}, "dir": cfg["out"],
              "sentences_per_second": summary.get("sentences_per_second")}
    log.info("%s: %s", step.name, " ".join(f"{k}={100 * v:.1f}" for k, v in result["languages"].items()))
    return result


def _evaluate_extra(step: Step, cfg: dict[str, Any], fresh: bool, run: Run) -> dict[str, Any]:
    """The recipe's extra labeled files (`eval.extra`), each as `ner evaluate --file` into OUT/NAME/."""
    model = load_model(cfg["model"], resolve_device("auto"))
    sets = {}
    for x in cfg["sets"]:
        m = evaluate(cfg["model"], x["lang"], file=x["path"], fmt=x["format"], encoding=x["encoding"], limit=x["limit"],
                     out=Path(cfg["out"]) / x["name"], batch_size=cfg["batch_size"], model=model, echo=False,
                     amp=cfg["amp"], dropped_types=x["drop_types"])
        sets[x["name"]] = {k: m[k] for k in ("f1", "precision", "recall", "n_sentences")}
    log.info("%s: %s", step.name, " ".join(f"{k}={100 * v['f1']:.1f}" for k, v in sets.items()))
    return {"sets": sets, "dir": cfg["out"]}


def _diagnose(step: Step, cfg: Any, fresh: bool, run: Run) -> dict[str, Any]:
    return {"dir": cfg.out, "diagnostics": diagnose(cfg)}


def _pseudo_quality(step: Step, cfg: dict[str, Any], fresh: bool, run: Run) -> dict[str, Any]:
    """A self-training run's kept pseudo-labels per round against the pools' gold tags (diagnostic only)."""
    scores = score_rounds(cfg["dir"], cfg["langs"], cfg["data_root"])
    _write_json(Path(cfg["out"]), scores)
    return {"file": cfg["out"], **scores}


def _report(step: Step, cfg: dict[str, Any], fresh: bool, run: Run) -> dict[str, Any]:
    results = {row: {seed: run.records[name].result for seed, name in by_seed.items()}
               for row, by_seed in cfg["evaluations"].items()}
    extra = {row: {seed: run.records[name].result for seed, name in by_seed.items()}
             for row, by_seed in cfg.get("extra", {}).items()}
    studies = summarize_studies(run.recipe, results, run.records)
    path = write_report(run.recipe, results, run.records, cfg["skipped"], time.time() - run.started, extra,
                        studies, studies_markdown(run.recipe, studies))
    write_study_charts(run.recipe, studies, run.recipe.out_dir())
    return {"report": str(path)}


EXECUTORS: dict[str, Callable[[Step, Any, bool, Run], dict[str, Any]]] = {
    "build": _build, "build_mined": _build_mined, "unlabeled": _unlabeled,
    "target_view": _target_view, "mine": _mine, "train": _train, "self_train": _self_train,
    "evaluate": _evaluate, "evaluate_extra": _evaluate_extra, "diagnose": _diagnose,
    "pseudo_quality": _pseudo_quality, "report": _report,
}


def run_plan(recipe: Recipe, plan: list[Step], force: set[str] | None = None) -> Path:
    """Run every step of `plan` that is not cached, in order; returns the report path."""
    out = recipe.out_dir()
    out.mkdir(parents=True, exist_ok=True)
    steps = Steps(out, force)
    run = Run(recipe, steps.records, {s.name: s.kind for s in plan}, time.time())
    report = None
    for step in plan:
        rec = steps.run(step, lambda fresh, step=step: EXECUTORS[step.kind](step, run.resolve(step), fresh, run))
        if step.kind == "report":
            report = rec.result["report"]
    if report is None:
        raise ValueError("the plan has no report step")
    return Path(report)


def run_recipe(recipe: Recipe, force: set[str] | None = None, report_to: list[str] | None = None) -> Path:
    """Plan `recipe`, then run every step that is not cached; returns the report path."""
    return run_plan(recipe, plan_recipe(recipe, report_to), force)


def plan_status(recipe: Recipe, plan: list[Step]) -> dict[str, str]:
    """Per step of `plan`: `cached`, `stale`, `not cached` or `always`, relative to OUT/steps (reads only)."""
    steps = Steps(recipe.out_dir())
    return {step.name: steps.status(step) for step in plan}


def _brief(names: list[str]) -> str:
    """Step names, those differing only in their second part (the target) folded: `codeswitch/{de,ja}`."""
    groups: list[tuple[list[str], list[str]]] = []
    for name in names:
        parts = name.split("/")
        last = groups[-1][0] if groups else []
        if len(parts) > 1 and len(last) == len(parts) and last[:1] + last[2:] == parts[:1] + parts[2:]:
            groups[-1][1].append(parts[1])
        else:
            groups.append((parts, parts[1:2]))
    return ", ".join("/".join([p[0], f"{{{','.join(v)}}}", *p[2:]]) if len(v) > 1 else "/".join(p)
                     for p, v in groups) or "-"


def describe_plan(recipe: Recipe, plan: list[Step]) -> str:
    """The plan as a table: status, fingerprint, kind, step and the steps it depends on."""
    steps = Steps(recipe.out_dir())
    status = plan_status(recipe, plan)
    counts = {s: sum(v == s for v in status.values()) for s in ("cached", "stale", "not cached")}
    width = max([38, *(len(s.name) for s in plan)])
    lines = [f"{recipe.name}: {len(plan)} steps in {recipe.out_dir()} "
             f"({', '.join(f'{n} {s}' for s, n in counts.items())})",
             f"{'status':<20}  {'fingerprint':<16}  {'kind':<16}  {'step':<{width}}  depends on"]
    before: list[str] = []
    for step in plan:
        note = status[step.name] + (" (resumes)" if status[step.name] != "cached" and steps.resumes(step) else "")
        deps = "every step above" if before and step.deps == before else _brief(step.deps)
        lines.append(f"{note:<20}  {step.fingerprint:<16}  {step.kind:<16}  {step.name:<{width}}  {deps}")
        before.append(step.name)
    return "\n".join(lines)
