"""The report of a recipe's studies: per study a curve of F1 against the swept value and a table of each value
against the default.

Per study and swept row, every value's target-average F1 and its average per language group (script and
family, `pipelines.benchmark.GROUPS`) are mean ± sd over the training seeds; each value is compared with the
default (the row without the study) by a paired bootstrap over the evaluation sentences (`pipelines.stats`).
With a recipe `split:`, the best value is chosen by mean F1 on the `choose` targets and measured against the
default on the `confirm` targets: a default changes only when both intervals lie above 0. Code-switching
studies add what their shard sets measure (shares of rows, tokens and entities switched, `cslib stats`) and
how well each measure ranks the values' F1; self-training studies add the kept pseudo-labels' precision and
recall per round against the pools' gold tags (diagnostic only, never a choice).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cslib import stats as shard_stats
from pipelines.benchmark import GROUPS
from pipelines.pseudo_quality import precision_recall
from pipelines.recipe import Recipe
from pipelines.report import _pct, _signed, load_counts
from pipelines.stats import mean_sd, paired_bootstrap
from pipelines.study import Study, settings_slug

SHARD_MEASURES = {"rows_switched_fraction": "rows switched", "switched_token_fraction": "tokens switched",
                  "entities_switched_overall": "entities switched"}


def groups(targets: list[str]) -> dict[str, list[str]]:
    """The benchmark's script and family groups among `targets`, in the benchmark's order; "other" for the rest."""
    out = {name: [t for t in langs if t in targets] for name, langs in GROUPS.items()}
    rest = [t for t in targets if not any(t in langs for langs in GROUPS.values())]
    return {name: langs for name, langs in {**out, "other": rest}.items() if langs}


def _stat(values: list[float]) -> dict[str, Any]:
    mean, sd = mean_sd(values)
    return {"mean": mean, "sd": sd, "per_seed": values}


def _spearman(xs: list[float], ys: list[float]) -> float | None:
    """Rank correlation (no tie correction needed for a description); None under 3 points or a constant."""
    if len(xs) < 3 or len(set(xs)) < 2 or len(set(ys)) < 2:
        return None
    rx, ry = np.argsort(np.argsort(xs)), np.argsort(np.argsort(ys))
    return float(np.corrcoef(rx, ry)[0, 1])


def _shard_measures(recipe: Recipe, study: Study, value: Any, records: dict[str, Any]) -> dict[str, float] | None:
    """Mean over the targets of each `cslib stats` share of the value's shard sets (a code-switching study)."""
    if study.section != "codeswitch":
        return None
    slug = "" if study.is_default(value) else settings_slug(recipe.spec(study.variant(study.rows[0], value))
                                                             .variant_codeswitch)
    values: dict[str, list[float]] = {k: [] for k in SHARD_MEASURES}
    for tgt in recipe.targets:
        rec = records.get(f"codeswitch/{tgt}/{slug}" if slug else f"codeswitch/{tgt}")
        directory = rec.result.get("dir") if rec is not None else None
        if not directory or not (Path(directory) / "manifest.json").is_file():
            continue
        st = shard_stats(directory)
        for key in SHARD_MEASURES:
            if st.get(key) is not None:
                values[key].append(float(st[key]))
    return {k: float(np.mean(v)) for k, v in values.items() if v} or None


def _pseudo(row: str, seeds: list[int], records: dict[str, Any], grouped: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Per round: kept sentences and pseudo-label precision / recall over all targets and per group, mean over seeds."""
    runs = [records[f"pseudo_quality/{row}/seed-{s}"].result for s in seeds if f"pseudo_quality/{row}/seed-{s}" in records]
    if not runs:
        return []
    out = []
    for r in sorted({rd["round"] for run in runs for rd in run.get("rounds", [])}):
        rounds = [rd for run in runs for rd in run["rounds"] if rd["round"] == r]
        entry: dict[str, Any] = {"round": r, "kept": float(np.mean([rd.get("kept") or 0 for rd in rounds])),
                                 "pool": rounds[0].get("pool")}
        for name, langs in {"all": [x for ls in grouped.values() for x in ls], **grouped}.items():
            prs = [precision_recall([rd["languages"][x] for x in langs if x in rd["languages"]]) for rd in rounds]
            ps = [p for p, _ in prs if p is not None]
            rs = [q for _, q in prs if q is not None]
            entry[name] = {"precision": float(np.mean(ps)) if ps else None, "recall": float(np.mean(rs)) if rs else None}
        out.append(entry)
    return out


def summarize_study(recipe: Recipe, study: Study, results: dict[str, dict[int, dict[str, Any]]],
                    records: dict[str, Any]) -> dict[str, Any]:
    """The study's numbers (module docstring) per swept row."""
    targets = [t for t in recipe.targets if t != recipe.src]
    seeds = recipe.training_seeds()
    grouped = groups(targets)
    halves = recipe.halves
    ev = recipe.eval
    out: dict[str, Any] = {"name": study.name, "setting": study.setting, "values": study.values,
                           "default": study.default, "rows": {}, "groups": grouped,
                           "split": {"choose": halves.choose, "confirm": halves.confirm} if halves else None}
    for row in study.rows:
        points: list[dict[str, Any]] = []
        counts: dict[str, Any] = {}
        for value in study.values:
            name = study.variant(row, value)
            per_seed = results.get(name, {})
            point: dict[str, Any] = {"value": value, "row": name, "default": study.is_default(value)}
            if not per_seed or any(s not in per_seed for s in seeds):
                points.append({**point, "missing": True})
                continue
            f1 = {s: per_seed[s]["languages"] for s in seeds}

            def avg(langs: list[str], f1: dict = f1) -> dict[str, Any]:
                return _stat([float(np.mean([f1[s][t] for t in langs if t in f1[s]])) for s in seeds])

            point["f1"] = avg(targets)
            point["groups"] = {g: avg(langs) for g, langs in grouped.items()}
            if halves:
                point["choose"], point["confirm"] = avg(halves.choose), avg(halves.confirm)
            row_counts = {s: load_counts(per_seed[s]["dir"], targets) for s in seeds} if "dir" in per_seed[seeds[0]] else {}
            counts[name] = row_counts if row_counts and all(c is not None for c in row_counts.values()) else None
            measures = _shard_measures(recipe, study, value, records)
            if measures:
                point["shards"] = measures
            pseudo = _pseudo(name, seeds, records, grouped)
            if pseudo:
                point["pseudo_labels"] = pseudo
            points.append(point)
        default_row = study.variant(row, study.default)
        for point in points:
            if point.get("missing") or point["default"] or not ev.bootstrap:
                continue
            a, b = counts.get(point["row"]), counts.get(default_row)
            if a is None or b is None:
                continue
            point["vs_default"] = paired_bootstrap(a, b, targets, ev.bootstrap, seed=recipe.seed, level=ev.level).to_dict()
            if halves:
                for half in ("choose", "confirm"):
                    langs = getattr(halves, half)
                    point[f"vs_default_{half}"] = paired_bootstrap(a, b, langs, ev.bootstrap, seed=recipe.seed,
                                                                   level=ev.level).to_dict()
        entry: dict[str, Any] = {"points": points}
        done = [p for p in points if not p.get("missing")]
        key = "choose" if halves else "f1"
        if done:
            best = max(done, key=lambda p: (p[key]["mean"], p["default"]))  # a tie keeps the default
            entry["best"] = {"value": best["value"], "on": "the choose half" if halves else "all targets",
                             "is_default": best["default"]}
            if not best["default"]:
                chosen = best.get("vs_default_choose") if halves else best.get("vs_default")
                confirm = best.get("vs_default_confirm")
                entry["best"]["confirmed"] = bool(halves and chosen and confirm and chosen["ci_low"] > 0
                                                  and confirm["ci_low"] > 0)
        with_shards = [p for p in done if "shards" in p]
        if len(with_shards) >= 3:
            entry["shard_measures_vs_f1"] = {k: _spearman([p["shards"][k] for p in with_shards if k in p["shards"]],
                                                          [p["f1"]["mean"] for p in with_shards if k in p["shards"]])
                                             for k in SHARD_MEASURES}
        out["rows"][row] = entry
    return out


def summarize_studies(recipe: Recipe, results: dict[str, dict[int, dict[str, Any]]],
                      records: dict[str, Any]) -> dict[str, Any]:
    return {study.name: summarize_study(recipe, study, results, records) for study in recipe.sweeps}


# --- markdown ---------------------------------------------------------------------------------------------------

def _ms(stat: dict[str, Any] | None) -> str:
    if not stat:
        return "-"
    return _pct(stat["mean"]) + (f" ± {_pct(stat['sd'])}" if len(stat["per_seed"]) > 1 else "")


def _ci(ci: dict[str, Any] | None) -> str:
    if not ci:
        return ""
    return f"{_signed(ci['diff'])} [{_signed(ci['ci_low'])}, {_signed(ci['ci_high'])}]" + (" *" if ci["significant"] else "")


def show(value: Any) -> str:
    """A value as the recipe writes it: 0.8, 1000, dict+align, null, [] ."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(show, value)) + "]"
    return str(value)


def _value(value: Any, default: bool) -> str:
    return f"**{show(value)}** (default)" if default else show(value)


def _share(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def markdown(recipe: Recipe, studies: dict[str, Any]) -> list[str]:
    """The report's "Studies" section: per study and swept row, the table and the choice, then the picture."""
    if not studies:
        return []
    level = f"{100 * recipe.eval.level:.0f}%"
    seeds = recipe.training_seeds()
    lines = ["", "## Studies", "",
             f"Per study and swept row: F1 (%) averaged over the targets and per language group, mean ± sd over "
             f"{len(seeds)} training seed{'s' if len(seeds) > 1 else ''}; Δ vs default = the value's row minus the row "
             f"without the study, with its {level} paired bootstrap interval over the evaluation sentences (seeds "
             "pooled); * = the interval excludes 0."]
    halves = recipe.halves
    if halves:
        lines += ["", f"Choose / confirm: the best value is chosen by mean F1 on {', '.join(halves.choose)} and "
                  f"measured against the default on {', '.join(halves.confirm)}; a default changes only when the best "
                  "value's interval lies above 0 on both halves."]
    for name, s in studies.items():
        for row, entry in s["rows"].items():
            grouped = list(s["groups"])
            lines += ["", f"### {name}: `{s['setting']}` on row {row}", ""]
            head = ["value", "avg F1", f"Δ vs default [{level} CI]", *grouped]
            if halves:
                head += ["choose F1", "Δ choose [CI]", "Δ confirm [CI]"]
            measures = any("shards" in p for p in entry["points"])
            if measures:
                head += [v + " %" for v in SHARD_MEASURES.values()]
            lines += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
            for p in entry["points"]:
                if p.get("missing"):
                    lines.append(f"| {_value(p['value'], p['default'])} | not run yet |" + " |" * (len(head) - 2))
                    continue
                cells = [_value(p["value"], p["default"]), _ms(p["f1"]), _ci(p.get("vs_default")),
                         *(_ms(p["groups"].get(g)) for g in grouped)]
                if halves:
                    cells += [_ms(p.get("choose")), _ci(p.get("vs_default_choose")), _ci(p.get("vs_default_confirm"))]
                if measures:
                    cells += [_share(p.get("shards", {}).get(k)) for k in SHARD_MEASURES]
                lines.append("| " + " | ".join(cells) + " |")
            lines += [""] + _verdict(entry, halves is not None)
            corr = entry.get("shard_measures_vs_f1")
            if corr:
                lines += ["", "How well each shard measure ranks the values' avg F1 (Spearman ρ over "
                          f"{sum('shards' in p for p in entry['points'])} values): "
                          + ", ".join(f"{SHARD_MEASURES[k]} {'–' if v is None else f'{v:+.2f}'}" for k, v in corr.items())
                          + "."]
            lines += _pseudo_table(entry, grouped)
        lines += ["", f"![{name}](study_{name}.png)"]
    return lines


def _verdict(entry: dict[str, Any], split: bool) -> list[str]:
    best = entry.get("best")
    if not best:
        return ["No value has been evaluated on every seed yet."]
    if best["is_default"]:
        return [f"Best value on {best['on']}: the default ({show(best['value'])}): keep it."]
    text = f"Best value on {best['on']}: {show(best['value'])}."
    if not split:
        return [text + " No `split:` in the recipe, so it is not confirmed on held-out targets: the default stays."]
    return [text + (" Its intervals lie above 0 on both halves: **confirmed**, a candidate for the new default."
                    if best.get("confirmed") else " Not confirmed (an interval reaches 0 or below): the default stays.")]


def _pseudo_table(entry: dict[str, Any], grouped: list[str]) -> list[str]:
    rows = [p for p in entry["points"] if p.get("pseudo_labels")]
    if not rows:
        return []
    lines = ["", "Kept pseudo-labels per round against the pools' gold tags (precision / recall, %; mean over seeds; "
             "diagnostic only, never used for a choice):", "",
             "| value | round | kept / pool | all | " + " | ".join(grouped) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(grouped)]
    for p in rows:
        for rd in p["pseudo_labels"]:
            def pr(x: dict[str, Any] | None) -> str:
                return "–" if not x else f"{_share(x['precision'])} / {_share(x['recall'])}"

            lines.append(f"| {_value(p['value'], p['default'])} | {rd['round']} | {rd['kept']:.0f} / {rd['pool'] or '?'} | "
                         f"{pr(rd.get('all'))} | " + " | ".join(pr(rd.get(g)) for g in grouped) + " |")
    return lines


# --- pictures ---------------------------------------------------------------------------------------------------

def _positions(study: Study) -> tuple[list[float], bool, bool]:
    """x of each value (its number, or its index), whether the axis is numeric and whether it is logarithmic."""
    if study.numeric():
        xs = [float(v) for v in study.values]
        log = min(xs) > 0 and max(xs) / min(xs) >= 8
        return xs, True, log
    return [float(k) for k in range(len(study.values))], False, False


def chart(recipe: Recipe, study: Study, summary: dict[str, Any], path: Path) -> None:
    """One picture per study: per swept row, F1 against the value (avg over targets and per group, mean ± sd),
    the default marked; self-training studies get the last round's pseudo-label precision and recall below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(summary["rows"].items())
    pseudo = any(p.get("pseudo_labels") for _, e in rows for p in e["points"])
    fig, axes = plt.subplots(2 if pseudo else 1, len(rows), figsize=(6.4 * len(rows), 8.4 if pseudo else 4.8),
                             squeeze=False)
    xs, numeric, log = _positions(study)
    order = sorted(range(len(xs)), key=lambda k: xs[k]) if numeric else list(range(len(xs)))
    colours = dict(zip(summary["groups"], plt.cm.tab10.colors, strict=False))
    n_seeds = len(recipe.training_seeds())
    for col, (row, entry) in enumerate(rows):
        ax = axes[0][col]
        pts = entry["points"]
        done = [k for k in order if not pts[k].get("missing")]
        for g, langs in summary["groups"].items():
            ys = [100 * pts[k]["groups"][g]["mean"] for k in done]
            ax.plot([xs[k] for k in done], ys, "-o", color=colours[g], lw=1, ms=3, alpha=0.8,
                    label=f"{g} ({', '.join(langs)})")
        ys = [100 * pts[k]["f1"]["mean"] for k in done]
        err = [100 * pts[k]["f1"]["sd"] for k in done]
        ax.errorbar([xs[k] for k in done], ys, yerr=err if any(err) else None, fmt="-o", color="black", lw=2.2,
                    capsize=3, label="all targets (mean ± sd)" if n_seeds > 1 else "all targets")
        for k in done:
            if pts[k]["default"]:
                ax.axvline(xs[k], color="grey", ls="--", lw=1)
                ax.plot([xs[k]], [100 * pts[k]["f1"]["mean"]], "*", color="red", ms=14, zorder=5,
                        label=f"default ({show(pts[k]['value'])})")
        best = entry.get("best")
        if best and not best["is_default"]:
            k = next(i for i, p in enumerate(pts) if p["value"] == best["value"] and not p.get("missing"))
            ax.annotate(f"best on {best['on']}" + (" (confirmed)" if best.get("confirmed") else ""),
                        (xs[k], 100 * pts[k]["f1"]["mean"]), xytext=(0, 12), textcoords="offset points",
                        ha="center", fontsize=8)
        if log:
            ax.set_xscale("log")
        ax.set_xticks(xs, [show(v) for v in study.values], fontsize=8)
        ax.minorticks_off()
        top = max([100 * pts[k]["f1"]["mean"] + 100 * pts[k]["f1"]["sd"] for k in done]
                  + [100 * p["mean"] for k in done for p in pts[k]["groups"].values()] + [0.0])
        ax.set_ylim(0, max(10.0, top + 8))
        ax.set_xlabel(study.label or study.setting)
        ax.set_ylabel(f"entity F1 (%), {'mean ± sd over ' + str(n_seeds) + ' seeds' if n_seeds > 1 else 'one seed'}")
        ax.set_title(f"{recipe.name}: {study.name}, row {row}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
        if pseudo:
            bx = axes[1][col]
            with_pl = [k for k in done if pts[k].get("pseudo_labels")]
            for group, colour, lw in [("all", "black", 2.0), *((g, colours[g], 0.9) for g in summary["groups"])]:
                for key, style in (("precision", "-o"), ("recall", "--s")):
                    vals = [(pts[k]["pseudo_labels"][-1].get(group) or {}).get(key) for k in with_pl]
                    bx.plot([xs[k] for k, v in zip(with_pl, vals, strict=True) if v is not None],
                            [100 * v for v in vals if v is not None], style, color=colour, lw=lw, ms=3,
                            label=f"{key} ({'all targets' if group == 'all' else group})")
            bx.set_ylim(0, 100)
            if log:
                bx.set_xscale("log")
            bx.set_xticks(xs, [show(v) for v in study.values], fontsize=8)
            bx.minorticks_off()
            bx.set_xlabel(study.label or study.setting)
            bx.set_ylabel("kept pseudo-labels vs gold (%), last round")
            bx.set_title("pseudo-label quality (diagnostic only)", fontsize=9)
            bx.grid(alpha=0.3)
            bx.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_study_charts(recipe: Recipe, studies: dict[str, Any], out: Path) -> list[Path]:
    paths = []
    for study in recipe.sweeps:
        path = out / f"study_{study.name}.png"
        chart(recipe, study, studies[study.name], path)
        paths.append(path)
    return paths
