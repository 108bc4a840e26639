"""Entity-level evaluation (seqeval, strict IOB2): scores, per-sentence counts, tables and charts.

Scores are seqeval's strict mode with the IOB2 scheme: an entity counts only when its type and
both boundaries match exactly, which is the CoNLL / XTREME convention papers report. The model's
output is valid IOB2 by construction, so strict mode never silently drops predicted spans.
Loading models and batched prediction are `ner.inference`.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

from cslib import atomic_write_json, load_split, read_labeled_file
from ner.errors import NerError
from ner.inference.loading import load_model, resolve_model_dir
from ner.inference.precision import inference_amp, precision_name, resolve_device
from ner.inference.tagging import predict_tags
from ner.model.grid import MAX_ENTITY_WORDS, entities_to_tags, tags_to_entities
from ner.model.ner_model import NerModel

log = logging.getLogger(__name__)
_AVERAGES = ("micro avg", "macro avg", "weighted avg")
#: Sentence-length buckets of `metrics.json`'s `by_length`: their upper bounds in words (tokens, so
#: characters in zh and ja), each bucket starting after the one before; one more bucket holds the longer ones.
LENGTH_BUCKETS: tuple[int, ...] = (10, 25, 50)


# --- scores ------------------------------------------------------------------------------------


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Entity-level micro P/R/F1 and per-type scores (seqeval strict, IOB2)."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predictions")
    with warnings.catch_warnings():  # seqeval averages empty arrays when there are no entities at all
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(
            [list(g) for g in gold], [list(p) for p in pred], mode="strict", scheme=IOB2, output_dict=True,
            zero_division=0,
        )

    def row(r: dict) -> dict[str, float | int]:
        return {"precision": float(r["precision"]), "recall": float(r["recall"]),
                "f1": float(r["f1-score"]), "support": int(r["support"])}

    micro = row(report["micro avg"])
    per_type = {k: row(v) for k, v in sorted(report.items()) if k not in _AVERAGES}
    n_pred = sum(1 for p in pred for t in p if t.startswith("B-"))
    return {"precision": micro["precision"], "recall": micro["recall"], "f1": micro["f1"],
            "support": micro["support"], "n_predicted": n_pred, "per_type": per_type}


def sentence_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> list[list[int]]:
    """Per sentence [true positives, predicted entities, gold entities], strict matching (type and
    both boundaries): summed over any subset of sentences they give that subset's micro F1, which is
    what a bootstrap over evaluation sentences needs (F1 itself is not a mean over sentences)."""
    out = []
    for g, p in zip(gold, pred, strict=True):
        gs = {(e.start, e.last, e.type) for e in tags_to_entities(g, strict=False)}
        ps = {(e.start, e.last, e.type) for e in tags_to_entities(p, strict=False)}
        out.append([len(gs & ps), len(ps), len(gs)])
    return out


def micro_scores(tp: int, n_predicted: int, n_gold: int) -> dict[str, float]:
    """Micro precision, recall and F1 from entity counts (0 where a denominator is 0)."""
    p, r = tp / n_predicted if n_predicted else 0.0, tp / n_gold if n_gold else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def length_buckets(bounds: Sequence[int] = LENGTH_BUCKETS) -> list[str]:
    """Names of the length buckets, shortest first: `<=10`, `11-25`, `26-50`, `>50`."""
    names, low = [], 1
    for bound in bounds:
        names.append(f"<={bound}" if low == 1 else f"{low}-{bound}")
        low = bound + 1
    return [*names, f">{bounds[-1]}"]


def by_length(lengths: Sequence[int], counts: Sequence[Sequence[int]],
              bounds: Sequence[int] = LENGTH_BUCKETS) -> dict[str, dict[str, float | int]]:
    """Per length bucket (every bucket, empty ones too): sentences, true positives (`tp`), predicted and gold
    (`support`) entities and micro P/R/F1, from `sentence_counts`; the buckets' counts add up to the total."""
    names = length_buckets(bounds)
    sums = {name: [0, 0, 0, 0] for name in names}
    for n, (tp, n_pred, n_gold) in zip(lengths, counts, strict=True):
        name = names[next((k for k, bound in enumerate(bounds) if n <= bound), len(bounds))]
        for k, v in enumerate((1, tp, n_pred, n_gold)):
            sums[name][k] += v
    out: dict[str, dict[str, float | int]] = {}
    for name, (n, tp, n_pred, n_gold) in sums.items():
        out[name] = {"n_sentences": n, "tp": tp, "n_predicted": n_pred, "support": n_gold,
                     **micro_scores(tp, n_pred, n_gold)}
    return out


def format_table(metrics: dict[str, Any], title: str = "") -> str:
    lines = [title] if title else []
    lines.append(f"{'type':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for t, r in metrics["per_type"].items():
        lines.append(f"{t:<10}{r['precision']:>10.4f}{r['recall']:>10.4f}{r['f1']:>10.4f}{r['support']:>10d}")
    lines.append(
        f"{'overall':<10}{metrics['precision']:>10.4f}{metrics['recall']:>10.4f}{metrics['f1']:>10.4f}"
        f"{metrics['support']:>10d}"
    )
    return "\n".join(lines)


def drop_types(tags: Sequence[str], types: Sequence[str]) -> list[str]:
    """The tags with every entity of one of `types` turned into O (valid IOB2 stays valid)."""
    if not types or not any(t != "O" and t[2:] in types for t in tags):
        return list(tags)
    kept = [e for e in tags_to_entities(tags, strict=False) if e.type not in types]
    return entities_to_tags(kept, len(tags))


# --- evaluate ----------------------------------------------------------------------------------


def evaluate(
    model_dir: str | os.PathLike[str],
    lang: str | None = None,
    file: str | os.PathLike[str] | None = None,
    *,
    split: str = "dev",
    data_root: str | None = None,
    limit: int | None = None,
    fmt: str = "auto",
    out: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    device: str = "auto",
    model: NerModel | None = None,
    echo: bool = True,
    amp: str = "auto",
    encoding: str | None = None,
    max_entity_words: int = MAX_ENTITY_WORDS,
    dropped_types: Sequence[str] = (),
) -> dict[str, Any]:
    """Score a model on PAN-X `split` of `lang` (via cslib.load_split) or on a labeled `file`.

    `dropped_types`: gold and predicted entities of these types count as O (e.g. CoNLL-2002's MISC, a type
    PAN-X models do not have, which would otherwise count as missed).

    Writes `metrics.json` (f1, precision, recall, per_type, lang, n_sentences, ..., and `by_length`: the
    same scores per sentence-length bucket, `LENGTH_BUCKETS`) and `sentence_counts.json` into `out`
    (default: RUN/eval/LANG-SPLIT or RUN/eval/FILE-STEM) and prints the table when `echo`.
    """
    if lang is None and file is None:
        raise NerError("evaluate needs a language (--lang) or a labeled file (--file)")
    resolve_model_dir(model_dir)  # a wrong --model fails before any data is read
    if file is not None:
        sents = read_labeled_file(file, fmt=fmt, limit=limit, encoding=encoding)
        source = {"file": str(file)}
        name = Path(file).stem
    else:
        assert lang is not None
        sents = load_split("panx", lang, split, data_root=data_root, limit=limit)
        source = {"dataset": "panx", "split": split}
        name = f"{lang}-{split}"
    if not sents:
        raise NerError(f"{file or lang}: no sentences to evaluate")
    dev = resolve_device(device)
    if model is None:
        model = load_model(model_dir, dev)
    model.max_entity_words = max_entity_words
    amp_type = inference_amp(amp, model.device)
    tokens = [s.tokens for s in sents]
    t0 = time.perf_counter()
    pred = [drop_types(p, dropped_types) for p in predict_tags(model, tokens, batch_size, amp_type)]
    seconds = time.perf_counter() - t0
    gold = [drop_types(s.tags, dropped_types) for s in sents]
    metrics = entity_scores(gold, pred)
    unknown = sorted({t[2:] for g in gold for t in g if t != "O"} - set(model.entity_types))
    if unknown:
        log.warning("gold types %s are unknown to the model (always counted as missed)", unknown)
    result = {
        "f1": metrics["f1"], "precision": metrics["precision"], "recall": metrics["recall"],
        "per_type": metrics["per_type"], "lang": lang, "n_sentences": len(sents),
        "support": metrics["support"], "n_predicted": metrics["n_predicted"],
        "model": str(resolve_model_dir(model_dir)), "predict_seconds": round(seconds, 3), "amp": str(amp_type),
        "compute_precision": precision_name(amp_type),  # bf16 | fp16 | fp32: what the forward passes ran in
        "max_entity_words": model.max_entity_words,  # longest span decoded (0 = any)
        "sentences_per_second": round(len(sents) / max(seconds, 1e-9), 1), **source,
    }
    if dropped_types:
        result["dropped_types"] = sorted(dropped_types)
    counts = sentence_counts(gold, pred)
    result["by_length"] = by_length([len(t) for t in tokens], counts)
    out_dir = Path(out) if out is not None else Path(model_dir) / "eval" / name
    atomic_write_json(out_dir / "sentence_counts.json", {"columns": ["tp", "predicted", "gold"], "counts": counts},
                      indent=None)
    atomic_write_json(out_dir / "metrics.json", result)
    if echo:
        title = f"{lang or ''} {file or split}: {len(sents)} sentences".strip()
        print(format_table(metrics, title), flush=True)
        print(f"wrote {out_dir / 'metrics.json'}", flush=True)
    return result


def evaluate_langs(
    model_dir: str | os.PathLike[str],
    langs: Sequence[str],
    *,
    split: str = "dev",
    data_root: str | None = None,
    limit: int | None = None,
    out: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    device: str = "auto",
    echo: bool = True,
    amp: str = "auto",
    max_entity_words: int = MAX_ENTITY_WORDS,
    dropped_types: Sequence[str] = (),
) -> dict[str, Any]:
    """Evaluate on several languages: OUT/LANG/metrics.json each, plus OUT/summary.json, OUT/table.md and
    OUT/f1.png (default OUT: RUN/eval/SPLIT). Returns the summary."""
    out_dir = Path(out) if out is not None else Path(model_dir) / "eval" / split
    model = load_model(model_dir, resolve_device(device))
    per_lang: dict[str, dict[str, Any]] = {}
    for lang in langs:
        per_lang[lang] = evaluate(
            model_dir, lang, split=split, data_root=data_root, limit=limit, out=out_dir / lang,
            batch_size=batch_size, model=model, echo=echo, amp=amp, max_entity_words=max_entity_words,
            dropped_types=dropped_types,
        )
    f1s = [m["f1"] for m in per_lang.values()]
    n_sents = sum(m["n_sentences"] for m in per_lang.values())
    seconds = sum(m["predict_seconds"] for m in per_lang.values())
    summary = {
        "split": split, "model": str(resolve_model_dir(model_dir)), "mean_f1": sum(f1s) / len(f1s),
        "sentences_per_second": round(n_sents / max(seconds, 1e-9), 1),
        "languages": {lang: {k: m[k] for k in ("f1", "precision", "recall", "n_sentences")}
                      for lang, m in per_lang.items()},
    }
    atomic_write_json(out_dir / "summary.json", summary)
    (out_dir / "table.md").write_text(markdown_table(per_lang, summary["mean_f1"]), encoding="utf-8")
    if len(per_lang) > 1:
        bar_chart(per_lang, out_dir / "f1.png", title=f"entity F1 by language ({split})")
    if echo:
        print(f"\nmean F1 over {len(per_lang)} language(s): {summary['mean_f1']:.4f} "
              f"({n_sents} sentences, {summary['sentences_per_second']:.0f} sentences/s)")
        print(f"wrote {out_dir / 'table.md'}" + (f" and {out_dir / 'f1.png'}" if len(per_lang) > 1 else ""))
    return summary


def markdown_table(per_lang: dict[str, dict[str, Any]], mean_f1: float) -> str:
    types = sorted({t for m in per_lang.values() for t in m["per_type"]})
    head = ["lang", "n", "precision", "recall", "F1", *(f"F1 {t}" for t in types)]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for lang, m in per_lang.items():
        cells = [lang, str(m["n_sentences"]), *(f"{100 * m[k]:.1f}" for k in ("precision", "recall", "f1"))]
        cells += [f"{100 * m['per_type'][t]['f1']:.1f}" if t in m["per_type"] else "-" for t in types]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"| **mean** | | | | **{100 * mean_f1:.1f}** |" + " |" * len(types))
    lines += length_table(per_lang)
    return "\n".join(lines) + "\n"


def length_table(per_lang: dict[str, dict[str, Any]]) -> list[str]:
    """table.md's section by sentence length: F1 / recall (sentences) per language and bucket."""
    if not all("by_length" in m for m in per_lang.values()):
        return []
    names = length_buckets()
    lines = ["", "## By sentence length (words; zh, ja: characters)", "",
             "F1 / recall (sentences) per bucket; `-` where the bucket has no entity, gold or predicted.", "",
             "| lang | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for lang, m in per_lang.items():
        cells = []
        for name in names:
            b = m["by_length"][name]
            score = f"{100 * b['f1']:.1f} / {100 * b['recall']:.1f}" if b["support"] or b["n_predicted"] else "-"
            cells.append(f"{score} ({b['n_sentences']})")
        lines.append(f"| {lang} | " + " | ".join(cells) + " |")
    return lines


def bar_chart(per_lang: dict[str, dict[str, Any]], path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on training machines
    import matplotlib.pyplot as plt

    langs = list(per_lang)
    f1 = [100 * per_lang[lang]["f1"] for lang in langs]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(langs) + 1.5), 3.2))
    ax.bar(langs, f1, color="#4C72B0")
    mean = sum(f1) / len(f1)
    ax.axhline(mean, color="#C44E52", linestyle="--", linewidth=1, label=f"mean {mean:.1f}")
    ax.set_ylabel("entity F1 (%)")
    ax.set_ylim(0, max(100.0, math.ceil(max(f1, default=0))))
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
