"""A run's results shaped like the PAN-X benchmark: one line per language, grouped by script and family.

For two rows of one run (default: row 1, zero-shot, and row 6, the full recipe), every language gets
its F1 in each evaluated row (mean over seeds), the difference last − first with a paired bootstrap
interval over its sentences (`pipelines.compare`), the code-switched share of its rows (the run's own
shards, `cslib stats`) and, as a reference only, XLM-R base's zero-shot F1 as reported elsewhere
(`REFERENCE`: a larger encoder, the test split, not comparable number for number). Groups and the two
averages of the benchmark (all evaluated languages, English included, as XTREME counts; the targets)
get the same interval over their languages. `chart` draws each target's gain against its switched
share and its zero-shot F1. A second table splits each language's F1 by whether a dev sentence opens with
one of its frames (`pipelines.frame_sentences`). Last, every target whose difference is not significantly
above 0 gets one line: its evidence (dev sentences, switched share, the code-switched row against the
first, both rows' precision and recall, the framed sentences) and the cause found by a diagnosis where `pipelines/findings/diagnoses.yaml` has one.

    python -m pipelines benchmark runs/panx_xtreme_quick            # writes benchmark.md/.json/.png there
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cslib import atomic_write_json, atomic_write_text, stats
from pipelines.compare import CompareError, RunRow, compare_runs
from pipelines.frame_sentences import frame_sentences, row_counts
from pipelines.frame_sentences import markdown as frames_markdown
from pipelines.report import _pct, _signed
from pipelines.rows import ROWS

# Script and family, in the order of the table (XTREME's 40 languages less Thai, which the mirror lacks).
GROUPS: dict[str, list[str]] = {
    "Latin-script European": ["en", "af", "de", "nl", "es", "fr", "it", "pt", "et", "fi", "hu", "eu", "tr"],
    "Cyrillic": ["ru", "bg", "kk"],
    "Greek, Georgian, Hebrew": ["el", "ka", "he"],
    "Arabic script": ["ar", "fa", "ur"],
    "Indic": ["hi", "mr", "bn", "ta", "te", "ml"],
    "CJK and Korean": ["zh", "ja", "ko"],
    "Southeast Asian": ["id", "ms", "jv", "tl", "vi", "my"],
    "African": ["sw", "yo"],
}

# XLM-R base, zero-shot from English, WikiANN (Rahimi et al.) test, as reported in the XLM-V paper's
# Table 10 (Liang et al. 2023) and collected in the public repository stefan-it/xlm-v-experiments (README,
# "XLM-R (Paper)"). A reference for the reader, never an input of any choice.
REFERENCE_SOURCE = ("XLM-R base (270M parameters, fine-tuned fully), zero-shot from English, WikiANN test; "
                    "reported in the XLM-V paper, Table 10, as collected in stefan-it/xlm-v-experiments")
REFERENCE: dict[str, float] = {
    "en": 83.0, "af": 75.8, "ar": 43.8, "bg": 76.1, "bn": 69.0, "de": 74.4, "el": 73.8, "es": 70.2, "et": 71.2,
    "eu": 57.2, "fa": 44.6, "fi": 74.4, "fr": 76.5, "he": 53.2, "hi": 67.2, "hu": 75.8, "id": 48.6, "it": 76.9,
    "ja": 21.0, "jv": 59.4, "ka": 65.4, "kk": 42.2, "ko": 49.4, "ml": 61.9, "mr": 61.5, "ms": 68.3, "my": 48.9,
    "nl": 80.0, "pt": 77.0, "ru": 63.1, "sw": 66.3, "ta": 56.3, "te": 49.2, "tl": 69.8, "tr": 75.4, "ur": 51.4,
    "vi": 67.7, "yo": 33.6, "zh": 25.3,
}


DIAGNOSES = Path(__file__).parent / "findings" / "diagnoses.yaml"  # language: the cause a diagnosis found, with its source
SMALL_DEV = 300  # fewer dev sentences: the interval is wide whatever the model does
LOW_SWITCHED = 0.25  # a smaller switched share of rows: little code-switched signal (docs/languages.md)


def _row_f1(run: Path, row: str) -> dict[str, float]:
    """Mean F1 over the row's evaluated seeds, per language."""
    per_seed = [json.loads(p.read_text(encoding="utf-8"))["languages"]
                for p in sorted((run / "eval" / row).glob("seed-*/summary.json"))]
    if not per_seed:
        raise CompareError(f"{run}: row {row!r} has no evaluated seed")
    langs = set.intersection(*(set(s) for s in per_seed))
    return {lang: sum(s[lang]["f1"] for s in per_seed) / len(per_seed) for lang in langs}


def _switched(run: Path, lang: str) -> float | None:
    """The share of rows the run's code-switched shards of `lang` switch (None: no shards)."""
    path = run / "data" / "cs" / f"en-{lang}"
    return stats(path)["rows_switched_fraction"] if (path / "manifest.json").is_file() else None


def _precision_recall(run: Path, row: str, lang: str) -> dict[str, float] | None:
    """Micro precision and recall of `row` on `lang`, the seeds' sentence counts pooled."""
    per_seed = row_counts(run, row, lang)
    tp, predicted, gold = np.concatenate(per_seed).sum(0) if per_seed else (0, 0, 0)
    return None if not predicted or not gold else {"precision": tp / predicted, "recall": tp / gold}


def benchmark(run: str | Path, first: str = "zero_shot", last: str = "self_training", samples: int = 1000,
              level: float = 0.95, data_root: str | None = None) -> dict[str, Any]:
    """The table's numbers (module docstring) for `last` against `first` of the run in `run`."""
    run = Path(run)
    a, b = RunRow.parse(f"{run}:{last}"), RunRow.parse(f"{run}:{first}")
    rows = sorted((p.name for p in (run / "eval").iterdir() if p.is_dir() and any(p.glob("seed-*/summary.json"))),
                  key=lambda r: (ROWS[r].number if r in ROWS else 99, r))
    f1 = {row: _row_f1(run, row) for row in rows}
    langs = [lang for group in GROUPS.values() for lang in group if lang in f1[first] and lang in f1[last]]
    targets = [lang for lang in langs if lang != "en"]
    sets = {"all": langs, "targets": targets, **{g: [x for x in ls if x in langs] for g, ls in GROUPS.items()}}
    sets = {name: members for name, members in sets.items() if members}
    per_lang = compare_runs(a, b, langs, samples=samples, level=level,
                            groups={f"group:{name}": members for name, members in sets.items()})
    averages = {}
    for name, members in sets.items():
        ci = per_lang.intervals[f"group:{name}"]
        averages[name] = {"langs": members, **{row: sum(f1[row][x] for x in members) / len(members) for row in rows},
                          "difference": ci.to_dict(),
                          "reference": sum(REFERENCE[x] for x in members) / len(members) / 100}
    table = {"run": str(run), "first": first, "last": last, "rows": rows, "seeds": per_lang.seeds,
            "level": level, "samples": samples, "reference_source": REFERENCE_SOURCE,
            "languages": {lang: {"group": next(g for g, ls in GROUPS.items() if lang in ls),
                                 **{row: f1[row][lang] for row in rows},
                                 "difference": per_lang.intervals[lang].to_dict(),
                                 "sentences": per_lang.sentences.get(lang),
                                 "rows_switched": None if lang == "en" else _switched(run, lang),
                                 "precision_recall": {row: _precision_recall(run, row, lang) for row in (first, last)},
                                 "reference": REFERENCE[lang] / 100} for lang in langs},
            "averages": averages, "frame_sentences": frame_sentences(run, targets, [first, last], data_root)}
    table["not_above"] = not_above(table)
    return table


def not_above(table: dict[str, Any], diagnoses: Path = DIAGNOSES) -> dict[str, dict[str, Any]]:
    """Per target whose difference is not significantly above 0: its evidence and, where
    `diagnoses` (YAML, language: text) has one, the cause a diagnosis found."""
    found = yaml.safe_load(diagnoses.read_text(encoding="utf-8")) if diagnoses.is_file() else {}
    first = table["first"]
    middle = next((r for r in table["rows"] if r == "codeswitch"), None)
    out: dict[str, dict[str, Any]] = {}
    for lang, e in table["languages"].items():
        d = e["difference"]
        if lang == "en" or (d["significant"] and d["diff"] > 0):
            continue
        evidence = []
        if e["sentences"] is not None and e["sentences"] < SMALL_DEV:
            evidence.append(f"only {e['sentences']:,} dev sentences")
        if e["rows_switched"] is not None and e["rows_switched"] < LOW_SWITCHED:
            evidence.append(f"{e['rows_switched']:.0%} of its rows switched")
        if middle is not None and middle in e:
            evidence.append(f"{middle} − {first} {_signed(e[middle] - e[first])}")
        pr = e.get("precision_recall") or {}
        a, b = pr.get(first), pr.get(table["last"])
        if a and b:
            evidence.append(f"P {_pct(a['precision'])} → {_pct(b['precision'])}, R {_pct(a['recall'])} → "
                            f"{_pct(b['recall'])}")
        framed = table.get("frame_sentences", {}).get(lang)
        if framed:
            a, b = framed[first], framed[table["last"]]
            def pct(x: float | None) -> str:
                return "-" if x is None else _pct(x)

            evidence.append(f"{framed['share']:.0%} of sentences framed: {pct(a['framed'])} → {pct(b['framed'])}, "
                            f"the rest {pct(a['rest'])} → {pct(b['rest'])}")
        out[lang] = {"difference": d, "evidence": evidence, "cause": (found or {}).get(lang)}
    return out


def markdown(table: dict[str, Any]) -> str:
    """The table: groups in order, each language, then the group's average; the two benchmark averages."""
    rows, level = table["rows"], round(table["level"] * 100)
    head = ["lang", "sentences", *rows, f"Δ {table['last']} − {table['first']} [{level}% CI]", "rows switched",
            "XLM-R base (reported)"]
    out = [f"F1 % (mean over seeds {', '.join(map(str, table['seeds']))}); Δ with a {level}% paired bootstrap interval "
           f"over sentences ({table['samples']} resamples, seeds pooled), * = excludes 0. Rows switched: the share "
           f"of the run's code-switched rows of that target. Last column: {table['reference_source']}; a "
           f"reference, not comparable number for number.", "",
           "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]

    def cells(name: str, entry: dict[str, Any], n: str, switched: str) -> str:
        d = entry["difference"]
        star = " *" if d["significant"] else ""
        return (f"| {name} | {n} | " + " | ".join(_pct(entry[r]) for r in rows)
                + f" | {_signed(d['diff'])} [{_signed(d['ci_low'])}, {_signed(d['ci_high'])}]{star} | {switched} | "
                + f"{_pct(entry['reference'])} |")

    for group in GROUPS:
        if group not in table["averages"]:
            continue
        for lang in table["averages"][group]["langs"]:
            e = table["languages"][lang]
            sw = "-" if e["rows_switched"] is None else f"{e['rows_switched']:.0%}"
            out.append(cells(lang, e, f"{e['sentences']:,}", sw))
        out.append(cells(f"**{group}**", table["averages"][group], str(len(table["averages"][group]["langs"])), ""))
    for name, label in (("targets", "**avg, targets**"), ("all", "**avg, all (en included)**")):
        if name in table["averages"]:
            out.append(cells(label, table["averages"][name], str(len(table["averages"][name]["langs"])), ""))
    if table.get("frame_sentences"):
        out += ["", "F1 % on the dev sentences that open with one of the language's frames (word sequences "
                "mined from its train text, `cslib.frames`: mostly redirect titles) and on the others, seeds pooled.",
                "", frames_markdown(table["frame_sentences"], [table["first"], table["last"]]).rstrip("\n")]
    if table.get("not_above"):
        out += ["", f"Targets where {table['last']} is not significantly above {table['first']}: the evidence, and the "
                "cause where a diagnosis found one (`pipelines/findings/diagnoses.yaml`).", ""]
        for lang, m in table["not_above"].items():
            d = m["difference"]
            cause = m["cause"] or "no diagnosis yet"
            out.append(f"- **{lang}** {_signed(d['diff'])} [{_signed(d['ci_low'])}, {_signed(d['ci_high'])}]: "
                       + "; ".join(m["evidence"]) + f". Cause: {cause}")
    return "\n".join(out) + "\n"


def chart(table: dict[str, Any], path: Path) -> None:
    """Each target's gain (last − first) against its switched share of rows and its zero-shot F1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), sharey=True)
    colours = dict(zip(GROUPS, plt.cm.tab10.colors, strict=False))
    for lang, e in table["languages"].items():
        if lang == "en":
            continue
        gain = 100 * e["difference"]["diff"]
        for ax, x in ((axes[0], e["rows_switched"]), (axes[1], e[table["first"]])):
            if x is None:
                continue
            ax.scatter(100 * x, gain, color=colours[e["group"]], s=18)
            ax.annotate(lang, (100 * x, gain), fontsize=8, xytext=(2, 2), textcoords="offset points")
    for ax, label in ((axes[0], "code-switched rows of the target (%)"), (axes[1], f"{table['first']} F1 (%)")):
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel(label)
    axes[0].set_ylabel(f"F1 gain, {table['last']} − {table['first']} (points)")
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=g) for g, c in colours.items()]
    axes[1].legend(handles=handles, fontsize=7, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_benchmark(run: str | Path, first: str = "zero_shot", last: str = "self_training",
                    samples: int = 1000, data_root: str | None = None) -> Path:
    """benchmark.json, benchmark.md and benchmark.png in the run directory; returns the .md."""
    run = Path(run)
    table = benchmark(run, first, last, samples, data_root=data_root)
    atomic_write_json(run / "benchmark.json", table)
    atomic_write_text(run / "benchmark.md", markdown(table))
    chart(table, run / "benchmark.png")
    return run / "benchmark.md"
