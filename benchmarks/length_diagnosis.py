"""The measurements behind docs/results.md "Long inputs: where the relation head loses recall".

Runs `ner.diagnostics.lengths` on the rows of a `make demo` run (`runs/panx_quick/rows/<row>/seed-13`):
recall by sentence length / entity offset on CoNLL-2002 es and nl dev under grid variants and encoder
windows, and the embedding test on PAN-X dev. One JSON per (row, data) under --out; `--tables` prints
the markdown tables the docs section quotes.

    python benchmarks/length_diagnosis.py conll --rows-dir ../democlone/runs/panx_quick/rows --out runs/lengths
    python benchmarks/length_diagnosis.py embed --rows-dir ... --out runs/lengths --langs es en
    python benchmarks/length_diagnosis.py pretrained --out runs/lengths   # the un-fine-tuned encoder's cosines
    python benchmarks/length_diagnosis.py tables --out runs/lengths
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from cslib import atomic_write_json
from ner.diagnostics import lengths as L
from ner.inference.loading import load_model
from ner.model.ner_model import NerModel

ROWS = {"zero_shot": 1, "relation_en": 2, "codeswitch": 3, "relation_contrastive": 5, "self_training": 6}
CONLL = os.environ.get("CONLL2002", "/work/shared/data/conll2002")
GRID_VARIANTS = ["model", "window:8", "window:16", "band:3", "band:6", "clamp:3"]


def row_model(args: argparse.Namespace, row: str) -> NerModel:
    """The row's model; a self-training row's is its last round's student."""
    run = Path(args.rows_dir) / row / f"seed-{args.seed}"
    students = sorted(run.glob("round-*/student"), key=lambda p: int(p.parent.name.split("-")[1]))
    return load_model(students[-1] if students else run)


def conll(args: argparse.Namespace) -> None:
    for row in args.rows:
        model = row_model(args, row)
        variants = GRID_VARIANTS if model.head.name == "relation" else ["model"]
        for lang in args.langs:
            path = Path(args.out) / f"{row}-conll-{lang}.json"
            if path.exists():
                continue
            t0 = time.perf_counter()
            sents = L.read_sentences(Path(CONLL) / f"{lang}.dev.txt", fmt="conll")
            report = L.length_report(model, sents, variants=variants, encoder_windows=args.encoder_windows)
            atomic_write_json(path, {"row": row, "data": f"conll2002 {lang} dev", **report,
                                     "seconds": round(time.perf_counter() - t0, 1)})
            print(f"{row} {lang}: {time.perf_counter() - t0:.0f}s", flush=True)


def embed(args: argparse.Namespace) -> None:
    for row in args.rows:
        model = row_model(args, row)
        variants = ["window:8", "band:3", "band:6"] if model.head.name == "relation" else []
        for lang in args.langs:
            path = Path(args.out) / f"{row}-panx-{lang}.json"
            if path.exists():
                continue
            t0 = time.perf_counter()
            sents = L.read_sentences(lang=lang, limit=args.limit)
            report = L.length_report(model, sents, variants=["model", *variants], encoder_windows=args.encoder_windows,
                                     embed=args.targets, embed_lengths=args.lengths)
            atomic_write_json(path, {"row": row, "data": f"panx {lang} dev[:{args.limit}]", **report,
                                     "seconds": round(time.perf_counter() - t0, 1)})
            print(f"{row} {lang}: {time.perf_counter() - t0:.0f}s", flush=True)


@torch.inference_mode()
def pretrained(args: argparse.Namespace) -> None:
    """Cosines of word vectors alone vs embedded for the pre-trained encoder (no fine-tuning), same cases."""
    from ner.model.config import ModelConfig

    model = NerModel(ModelConfig(), ["LOC", "ORG", "PER"]).eval()
    for lang in args.langs:
        path = Path(args.out) / f"pretrained-panx-{lang}.json"
        if path.exists():
            continue
        sents = L.read_sentences(lang=lang, limit=args.limit)
        short = [k for k, (t, g) in enumerate(sents) if len(t) <= 12 and any(x != "O" for x in g)][: args.targets]
        chosen = set(short)
        fillers = [p for k, p in enumerate(sents) if k not in chosen]
        targets = [sents[k] for k in short]
        cases = L.embedding_cases(targets, fillers, lengths=args.lengths)
        alone = L.encode_words(model, [t for t, _ in targets])
        emb = L.encode_words(model, [c.tokens for c in cases])
        rows: dict[tuple[int, str], list[float]] = {}
        for c, v in zip(cases, emb, strict=True):
            cos = torch.nn.functional.cosine_similarity(v[c.start:c.start + c.size], alone[c.target], dim=-1).mean()
            rows.setdefault((c.total, c.position), []).append(float(cos))
        atomic_write_json(path, {"encoder": model.cfg.encoder, "cosine": [
            {"total": t, "position": p, "cosine": sum(v) / len(v)} for (t, p), v in sorted(rows.items())]})


def tables(args: argparse.Namespace) -> None:
    out = Path(args.out)

    def pct(x: float) -> str:
        return f"{100 * x:.1f}"

    print("### CoNLL-2002 dev, recall by sentence length\n")
    print("| row | data | n | P | R | F1 | R <=10 | R 11-25 | R 26-50 | R >50 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for lang in ("es", "nl"):
        for row, num in ROWS.items():
            f = out / f"{row}-conll-{lang}.json"
            if not f.exists():
                continue
            r = json.loads(f.read_text())
            for spec, t in r["variants"].items():
                if spec != "model":
                    continue
                o = t["overall"]
                cells = " | ".join(f"{pct(b['recall'])} ({b['gold']})" for b in t["by_length"])
                print(f"| {num} | {lang} dev | {r['n_sentences']} | {pct(o['precision'])} | {pct(o['recall'])} | "
                      f"{pct(o['f1'])} | {cells} |")
    for key, title in (("by_offset", "entity start offset"), ("by_edge_distance", "distance to the nearer edge")):
        print(f"\n### CoNLL-2002 dev, recall by {title}\n")
        first = None
        for lang in ("es", "nl"):
            for row, num in ROWS.items():
                f = out / f"{row}-conll-{lang}.json"
                if not f.exists():
                    continue
                t = json.loads(f.read_text())["variants"]["model"]
                if first is None:
                    first = [b["bucket"] for b in t[key]]
                    print("| row | data | " + " | ".join(first) + " |")
                    print("|---|---|" + "---:|" * len(first))
                print(f"| {num} | {lang} | " + " | ".join(f"{pct(b['recall'])} ({b['gold']})" for b in t[key]) + " |")
    print("\n### CoNLL-2002 dev, interventions (P / R / F1; R >50 words)\n")
    for lang in ("es", "nl"):
        for row, num in ROWS.items():
            f = out / f"{row}-conll-{lang}.json"
            if not f.exists():
                continue
            r = json.loads(f.read_text())
            cells = []
            for spec, t in r["variants"].items():
                o = t["overall"]
                cells.append(f"{spec} {pct(o['precision'])}/{pct(o['recall'])}/{pct(o['f1'])} "
                             f"(R>50 {pct(t['by_length'][-1]['recall'])})")
            print(f"- row {num} {lang}: " + "; ".join(cells))
    print("\n### Embedding test (PAN-X dev targets)\n")
    for lang in ("es", "en"):
        for row, num in ROWS.items():
            f = out / f"{row}-panx-{lang}.json"
            if not f.exists():
                continue
            r = json.loads(f.read_text())
            e = r["embedding"]
            conds = e["conditions"]
            print(f"\nrow {num}, {lang}: {e['targets']} targets, {e['cases']} cases; PAN-X dev recall by variant: "
                  + ", ".join(f"{s} {pct(t['overall']['recall'])} (P {pct(t['overall']['precision'])})"
                              for s, t in r["variants"].items()) + "\n")
            print("| total | position | " + " | ".join(conds) + " | cosine | margin alone / embedded |")
            print("|---:|---|" + "---:|" * (len(conds) + 2))
            for b in e["tables"]["by_total_position"]:
                margin = (f"{b['margin_alone']:.2f} / {b['margin_embedded']:.2f}" if "margin_alone" in b else "")
                for part in ("thw", "nnw", "biaffine"):
                    if f"{part}_margin_alone" in b:
                        margin += f"; {part} {b[f'{part}_margin_alone']:.2f} / {b[f'{part}_margin_embedded']:.2f}"
                print(f"| {b['total']} | {b['position']} | " + " | ".join(pct(b[f"recall_{c}"]) for c in conds)
                      + f" | {b['cosine']:.3f} | {margin} |")
    for lang in ("es", "en"):
        f = out / f"pretrained-panx-{lang}.json"
        if f.exists():
            r = json.loads(f.read_text())
            print(f"\npre-trained encoder cosines ({lang}): "
                  + ", ".join(f"{c['total']}/{c['position']} {c['cosine']:.3f}" for c in r["cosine"]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=("conll", "embed", "pretrained", "tables"))
    p.add_argument("--rows-dir", default="../democlone/runs/panx_quick/rows")
    p.add_argument("--rows", nargs="+", default=list(ROWS))
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--langs", nargs="+", default=None)
    p.add_argument("--limit", type=int, default=1000, help="PAN-X dev sentences (embed)")
    p.add_argument("--targets", type=int, default=100, help="embedding-test targets")
    p.add_argument("--lengths", type=int, nargs="+", default=[16, 32, 64, 128])
    p.add_argument("--encoder-windows", type=int, nargs="+", default=[])
    p.add_argument("--out", default="runs/lengths")
    args = p.parse_args()
    args.langs = args.langs or (["es", "nl"] if args.what == "conll" else ["es", "en"])
    Path(args.out).mkdir(parents=True, exist_ok=True)
    {"conll": conll, "embed": embed, "pretrained": pretrained, "tables": tables}[args.what](args)


if __name__ == "__main__":
    main()
