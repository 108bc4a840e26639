"""Run a recipe as a chain of cached steps: shards → unlabeled → one training per row → eval → report.

Each step has a fingerprint (its own config plus the fingerprints of the steps it reads). A step
whose marker `OUT/steps/NAME.json` holds the same fingerprint is skipped; a step that was started
but not finished is resumed by the library itself (`cslib build` keeps finished shards, `ner train`
restarts from its last checkpoint); a step whose fingerprint changed is redone from scratch, and so
is everything downstream of it, because their fingerprints include it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cslib import TaskOptions, atomic_write_bytes, build_codeswitch, build_unlabeled, run_build
from cslib.corpora import has_muse
from cslib.errors import CslibError
from cslib.lexicons import has_dictionary, has_parallel
from cslib.report import stats as shard_stats
from ner.diagnostics import diagnose
from ner.errors import NerError
from ner.inference.evaluate import evaluate_langs
from ner.inference.mine_entities import mine_entities
from ner.training.config import to_dict
from ner.training.loop import train
from ner.training.self_training import self_train
from pipelines.recipe import Recipe
from pipelines.report import write_report

log = logging.getLogger("pipelines")


# Settings added after run directories were cached, with the value that reproduces the old behaviour:
# left out of a step's fingerprint at that value (at any depth), so those caches stay valid.
_ADDED_SETTINGS = {"encoding": None, "subword_space": "word"}


def _without_added_settings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_added_settings(v) for k, v in value.items()
                if not (k in _ADDED_SETTINGS and v == _ADDED_SETTINGS[k])}
    return value


def _fingerprint_config(cfg: Any) -> dict[str, Any]:
    """A build config as a step fingerprint: no worker count, no settings at their pre-existing value."""
    return _without_added_settings({k: v for k, v in asdict(cfg).items() if k not in ("workers", "overwrite")})


def _train_fingerprint_config(cfg: Any) -> Any:
    """A training / self-training config as a step fingerprint."""
    return _without_added_settings(to_dict(cfg))


def fingerprint(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class StepRecord:
    name: str
    fingerprint: str
    seconds: float = 0.0
    cached: bool = False
    result: dict[str, Any] = field(default_factory=dict)


class Steps:
    """Markers under OUT/steps: `NAME.started.json` before the work, `NAME.json` after it."""

    def __init__(self, out: Path, force: set[str]) -> None:
        self.dir = out / "steps"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.force = force
        self.records: dict[str, StepRecord] = {}

    def _path(self, name: str, started: bool = False) -> Path:
        return self.dir / (name.replace("/", "__") + (".started.json" if started else ".json"))

    def run(self, name: str, config: Any, work: Callable[[bool], dict[str, Any]], output: Path | None = None) -> StepRecord:
        """`work(fresh)` does the step; `fresh` is True when its earlier output must be discarded."""
        fp = fingerprint(config)
        done = self._path(name)
        forced = any(name == f or name.startswith(f + "/") for f in self.force)
        if done.is_file() and not forced:
            rec = json.loads(done.read_text(encoding="utf-8"))
            if rec.get("fingerprint") == fp and (output is None or output.exists()):
                log.info("[cached] %s (%.0fs when it ran)", name, rec.get("seconds", 0.0))
                record = StepRecord(name, fp, rec.get("seconds", 0.0), True, rec.get("result", {}))
                self.records[name] = record
                return record
        started = self._path(name, started=True)
        fresh = True
        if not forced and started.is_file() and json.loads(started.read_text(encoding="utf-8")).get("fingerprint") == fp:
            fresh = False  # an interrupted run of this very step: let the library resume it
            log.info("[resume] %s", name)
        else:
            log.info("[run] %s", name)
        if fresh and output is not None and output.exists():
            shutil.rmtree(output) if output.is_dir() else output.unlink()
        done.unlink(missing_ok=True)
        _write_json(started, {"fingerprint": fp, "config": config})
        t0 = time.time()
        result = work(fresh)
        seconds = time.time() - t0
        _write_json(done, {"fingerprint": fp, "seconds": round(seconds, 1), "result": result, "config": config})
        log.info("[done] %s in %.0fs", name, seconds)
        record = StepRecord(name, fp, seconds, False, result)
        self.records[name] = record
        return record


def _write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode())


def switch_mode(src: str, tgt: str, requested: str | None) -> str | None:
    """The code-switching mode a target gets: the recipe's, else MUSE if it exists, else aligned Tatoeba.

    None means no bilingual resource at all: that target is evaluated but gets no code-switched data.
    """
    if requested:
        return requested
    pivot = src != "en" and tgt != "en" and has_muse("en", src) and has_muse("en", tgt)
    if has_dictionary(src, tgt) or pivot:  # en-X MUSE read either way, or composed through English
        return "dict"
    if has_parallel(src, tgt):
        return "align"
    return None


def _build_step(cfg: Any) -> Callable[[bool], dict[str, Any]]:
    def build(fresh: bool) -> dict[str, Any]:
        cfg.overwrite = fresh
        path = build_codeswitch(cfg)
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        result = {"dir": str(path), "rows": manifest["counts"]["rows"], "mode": cfg.mode,
                  "switched_fraction": manifest["counts"]["switched_fraction"]}
        if cfg.entity_mode == "replace":  # row 7: how much of the entity side the mined lexicon reached
            st = shard_stats(path)
            result.update({key: st[key] for key in ("entities_switched_overall", "entities_switched_fraction")})
            result["entities_replaced_by_mined"] = st.get("entity_switch_by_source", {}).get("replace", {})
        return result

    return build


def _unlabeled_step(ucfg: Any) -> Callable[[bool], dict[str, Any]]:
    def unl(fresh: bool) -> dict[str, Any]:
        ucfg.overwrite = fresh
        path = build_unlabeled(ucfg)
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        return {"dir": str(path), "rows": manifest["counts"]["rows"]}

    return unl


def _mined_shards(recipe: Recipe, steps: Steps, seed: int, models: dict[str, str], cs_dirs: dict[str, str],
                  modes: dict[str, str], unl_dirs: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Row 7's shards for one training seed: per target, the entities the teacher row's model finds in
    that target's unlabeled pool (`ner.inference.mine_entities`), then the target's build again with switched
    entities replaced by mined ones of the same type. A target where nothing passes the mining
    filters keeps its usual shards (logged)."""
    teacher = recipe.mine_teacher()
    mcfg = recipe.mine_config()
    dirs: list[str] = []
    fps: dict[str, str] = {}
    for tgt in [t for t in recipe.targets if t in cs_dirs]:
        lexicon = recipe.out_dir() / "data" / "mined" / f"seed-{seed}" / f"{tgt}.tsv"
        pool, pool_step = unl_dirs[tgt], f"unlabeled/{tgt}"
        ucfg = recipe.mine_unlabeled_config(tgt)
        if ucfg is not None:
            pool_step = f"unlabeled_mine/{tgt}"
            pool = steps.run(pool_step, _fingerprint_config(ucfg), _unlabeled_step(ucfg),
                             output=Path(ucfg.out)).result["dir"]

        def mine(fresh: bool, tgt=tgt, lexicon=lexicon, pool=pool) -> dict[str, Any]:
            try:
                mined = mine_entities(models[teacher], [pool], out=lexicon, cfg=mcfg)
            except NerError as exc:
                log.warning("%s: %s; row 7 keeps the usual shards for %s", tgt, exc, tgt)
                lexicon.parent.mkdir(parents=True, exist_ok=True)
                lexicon.write_text("", encoding="utf-8")  # the step's output: "mined, found nothing" stays cached
                return {"lexicon": None, "entities": 0}
            by_type: dict[str, int] = {}
            for m in mined:
                by_type[m.type] = by_type.get(m.type, 0) + 1
            log.info("mined %d %s entities (%s) with %s", len(mined), tgt,
                     ", ".join(f"{k} {v}" for k, v in sorted(by_type.items())), teacher)
            return {"lexicon": str(lexicon), "entities": len(mined), "by_type": by_type}

        config = {"teacher": steps.records[f"train/{teacher}/seed-{seed}"].fingerprint,
                  "unlabeled": steps.records[pool_step].fingerprint, "mine": asdict(mcfg)}
        rec = steps.run(f"mine/{tgt}/seed-{seed}", config, mine, output=lexicon)
        if not rec.result.get("lexicon"):
            dirs.append(cs_dirs[tgt])
            fps[tgt] = steps.records[f"codeswitch/{tgt}"].fingerprint
            continue
        cfg = recipe.mined_build_config(tgt, modes[tgt], str(lexicon), seed)
        brec = steps.run(f"codeswitch_mined/{tgt}/seed-{seed}", {"build": _fingerprint_config(cfg),
                         "lexicon": rec.fingerprint}, _build_step(cfg), output=Path(cfg.out))
        log.info("%s: %.1f%% of entities switched with the mined lexicon (seed %d)", tgt,
                 100 * brec.result.get("entities_switched_overall", 0.0), seed)
        dirs.append(brec.result["dir"])
        fps[tgt] = brec.fingerprint
    return dirs, fps


def run_recipe(recipe: Recipe, force: set[str] | None = None) -> Path:
    """Run every step of `recipe` that is not cached; returns the report path."""
    out = recipe.out_dir()
    out.mkdir(parents=True, exist_ok=True)
    steps = Steps(out, force or set())
    t_start = time.time()

    # 1. code-switched shards, one set per target that has a dictionary or parallel text
    cs_dirs: dict[str, str] = {}
    modes: dict[str, str] = {}
    skipped: list[str] = []
    for tgt in recipe.targets:
        mode = switch_mode(recipe.src, tgt, (recipe.codeswitch_by_lang.get(tgt, {}) or {}).get("mode")
                           or recipe.codeswitch.get("mode"))
        if mode is None:
            skipped.append(tgt)
            log.warning("%s: no MUSE dictionary and no parallel text; evaluated without code-switched data", tgt)
            continue
        cfg = recipe.build_config(tgt, mode)
        rec = steps.run(f"codeswitch/{tgt}", _fingerprint_config(cfg), _build_step(cfg), output=Path(cfg.out))
        cs_dirs[tgt] = rec.result["dir"]
        modes[tgt] = mode
    if not cs_dirs:
        raise CslibError("no target has a dictionary or parallel text: nothing to code-switch")
    cs_fp = {t: steps.records[f"codeswitch/{t}"].fingerprint for t in cs_dirs}

    # 2. unlabeled target text for self-training, and the target view built from it
    unl_dirs: dict[str, str] = {}
    target_view = recipe.uses_target_view()
    if "self_training" in recipe.rows or "mined_entities" in recipe.rows or target_view:
        for tgt in recipe.targets:
            ucfg = recipe.unlabeled_config(tgt)
            rec = steps.run(f"unlabeled/{tgt}", _fingerprint_config(ucfg), _unlabeled_step(ucfg), output=Path(ucfg.out))
            unl_dirs[tgt] = rec.result["dir"]
    tv_dirs: list[str] = []
    tv_fp: dict[str, str] = {}
    for tgt in recipe.targets if target_view else []:
        vcfg = recipe.target_view_config(tgt, unl_dirs[tgt])
        conf = {"build": _fingerprint_config(vcfg) | {"input": None},
                "unlabeled": steps.records[f"unlabeled/{tgt}"].fingerprint}

        def view(fresh: bool, vcfg=vcfg) -> dict[str, Any]:
            return {"dir": str(run_build(vcfg, TaskOptions(task="text", text_fields=["tokens"])))}

        try:
            rec = steps.run(f"target_view/{tgt}", conf, view, output=Path(vcfg.out))
        except CslibError as exc:  # no dictionary into the source language: this target has no view
            log.warning("%s: no target view (%s)", tgt, exc)
            continue
        tv_dirs.append(rec.result["dir"])
        tv_fp[tgt] = rec.fingerprint

    # 3. one training per row and seed, 4. its evaluation
    shards = [cs_dirs[t] for t in recipe.targets if t in cs_dirs]
    results: dict[str, dict[int, dict[str, Any]]] = {}
    for seed in recipe.training_seeds():
        models: dict[str, str] = {}
        for row in recipe.rows:
            tag = f"{row}/seed-{seed}"
            if row == "self_training":
                teacher = models["relation_contrastive"]
                student = recipe.train_config("relation_contrastive", shards, seed, tv_dirs)
                scfg = recipe.self_train_config(teacher, list(unl_dirs.values()), student)
                config = {"self_train": _train_fingerprint_config(scfg), "target_view": tv_fp,
                          "teacher": steps.records[f"train/relation_contrastive/seed-{seed}"].fingerprint,
                          "unlabeled": [steps.records[f"unlabeled/{t}"].fingerprint for t in recipe.targets]}

                def work(fresh: bool, scfg=scfg) -> dict[str, Any]:
                    return {"model": str(self_train(scfg))}

                rec = steps.run(f"train/{tag}", config, work, output=Path(scfg.out))
            elif row == "continued":
                tcfg = recipe.continued_config(models["relation_contrastive"], shards, seed, tv_dirs)
                config = {"train": _train_fingerprint_config(tcfg), "shards": cs_fp, "target_view": tv_fp,
                          "teacher": steps.records[f"train/relation_contrastive/seed-{seed}"].fingerprint}

                def work(fresh: bool, tcfg=tcfg) -> dict[str, Any]:
                    return {"model": str(train(tcfg))}

                rec = steps.run(f"train/{tag}", config, work, output=Path(tcfg.out))
            else:
                row_shards, row_fp = shards, cs_fp
                if row == "mined_entities":
                    row_shards, row_fp = _mined_shards(recipe, steps, seed, models, cs_dirs, modes, unl_dirs)
                tcfg = recipe.train_config(row, row_shards, seed, tv_dirs)
                config = {"train": _train_fingerprint_config(tcfg), "shards": row_fp}
                if tcfg.target_pairs:
                    config["target_view"] = tv_fp

                def work(fresh: bool, tcfg=tcfg) -> dict[str, Any]:
                    return {"model": str(train(tcfg))}

                rec = steps.run(f"train/{tag}", config, work, output=Path(tcfg.out))
            models[row] = rec.result["model"]
            ev = recipe.eval
            eval_out = out / "eval" / row / f"seed-{seed}"

            def evaluate(fresh: bool, model=models[row], eval_out=eval_out, ev=ev) -> dict[str, Any]:
                summary = evaluate_langs(model, recipe.eval_langs(), split=ev.split, data_root=recipe.data_root,
                                         limit=ev.limit, out=eval_out, batch_size=ev.batch_size, echo=False,
                                         amp=ev.amp)
                return {"languages": {k: v["f1"] for k, v in summary["languages"].items()}, "dir": str(eval_out),
                        "sentences_per_second": summary.get("sentences_per_second")}

            eval_cfg = {k: v for k, v in asdict(ev).items() if k not in ("bootstrap", "level")}
            erec = steps.run(f"eval/{tag}", {"model": rec.fingerprint, "eval": eval_cfg, "langs": recipe.eval_langs()},
                             evaluate, output=eval_out)
            results.setdefault(row, {})[seed] = erec.result
            log.info("row %s seed %d: %s", row, seed,
                     " ".join(f"{k}={100 * v:.1f}" for k, v in erec.result["languages"].items()))
            if seed in recipe.diagnose_seeds():
                dcfg = recipe.diagnose_config(models[row], row, seed)  # row 6: its student, in its self-training run

                def diag(fresh: bool, dcfg=dcfg) -> dict[str, Any]:
                    return {"dir": dcfg.out, "diagnostics": diagnose(dcfg)}

                dconf = {k: v for k, v in asdict(dcfg).items() if k not in ("run", "out", "data_root")}
                steps.run(f"diagnose/{tag}", {"model": rec.fingerprint, "diagnose": dconf}, diag, output=Path(dcfg.out))

    # 5. the report (always rewritten: it is cheap and reflects every step's record)
    return write_report(recipe, results, steps.records, skipped, time.time() - t_start)
