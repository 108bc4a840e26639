"""The measurements behind docs/results.md "Long inputs: where the relation head loses recall".

Runs `ner.diagnostics.lengths` on the rows of a `make demo` run (`runs/panx_quick/rows/<row>/seed-13`):
recall by sentence length / entity offset on CoNLL-2002 es and nl dev under grid variants and encoder
windows, and the embedding test on PAN-X dev. One JSON per (row, data) under --out; `tables` prints
the markdown tables the docs section quotes.

    python benchmarks/length_diagnosis.py conll --rows-dir ../democlone/runs/panx_quick/rows --out runs/lengths
    python benchmarks/length_diagnosis.py embed --rows-dir ... --out runs/lengths --langs es en
    python benchmarks/length_diagnosis.py pretrained --out runs/lengths   # the un-fine-tuned encoder's cosines
    python benchmarks/length_diagnosis.py train --rows-dir ... --out runs/lengths  # row 2 retrained on long inputs
    python benchmarks/length_diagnosis.py fit --out runs/lengths --variants single mixed mixed-sum
    python benchmarks/length_diagnosis.py tables --out runs/lengths
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from cslib import atomic_write_json
from ner.diagnostics import lengths as L
from ner.inference.loading import load_model
from ner.model.ner_model import NerModel

ROWS = {"zero_shot": 1, "relation_en": 2, "codeswitch": 3, "relation_contrastive": 5, "self_training": 6}
# The retrained row-2 models of `train`, as `tables` labels them.
LABELS: dict[str, int | str] = {**ROWS, "single": "2 single", "mixed": "2 mixed", "single-sum": "2 single-sum",
                                "mixed-sum": "2 mixed-sum"}
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


@contextlib.contextmanager
def cell_sum_loss() -> Iterator[None]:
    """Within the block the relation head's grid loss weighs every cell 1 / (64 x sentences in the batch)
    instead of 1 / (cells in the batch): a cell of a long sentence counts as much as one of a short
    sentence (64: the cells of an 8-word grid, PAN-X's mean length, so short batches train as before)."""
    import torch.nn.functional as F

    from ner.model.heads import relation
    from ner.model.losses import IGNORE_INDEX

    def loss(logits: torch.Tensor, gold: torch.Tensor, per_sentence: bool = False) -> torch.Tensor:
        flat = logits.reshape(-1, logits.shape[-1]).float()
        cells = F.cross_entropy(flat, gold.reshape(-1).to(logits.device), ignore_index=IGNORE_INDEX, reduction="sum")
        return cells / (64 * gold.shape[0])

    saved = relation.grid_cross_entropy
    relation.grid_cross_entropy = loss
    try:
        yield
    finally:
        relation.grid_cross_entropy = saved


def train_lengths(args: argparse.Namespace) -> None:
    """Retrain row 2 (relation head, English only, the quick recipe's settings) on the same 1,500 English
    sentences, once as they are (`single`) and once with half of the training examples made of 2-12 of
    them joined by "." (`mixed`, 8 to ~100 words), to see whether long training inputs remove the loss;
    `single-sum`, `mixed-sum`: the same with the grid loss of :func:`cell_sum_loss`.
    Models land in OUT/train/<variant>/seed-SEED, so `conll` / `embed` read them with
    `--rows-dir OUT/train --rows single mixed`."""
    import random

    import pyarrow.parquet as pq

    from ner.training.config import load_train_config
    from ner.training.loop import train
    from tests.helpers import write_cs_shards

    base = Path(args.base_run or Path(args.rows_dir) / "relation_en" / f"seed-{args.seed}")
    src = Path(args.sentences or Path(args.rows_dir).parents[0] / "data" / "cs" / "en-es")
    pairs = []
    for shard in sorted(src.glob("shard-*.parquet")):
        table = pq.read_table(shard, columns=["src_tokens", "src_tags"])
        pairs += zip(table.column("src_tokens").to_pylist(), table.column("src_tags").to_pylist(), strict=True)
    for variant in args.variants:
        if variant not in ("single", "mixed", "single-sum", "mixed-sum"):
            raise SystemExit(f"unknown training variant {variant!r} (single, mixed, single-sum, mixed-sum)")
        run = Path(args.out) / "train" / variant / f"seed-{args.seed}"
        if (run / "model").exists():
            continue
        rng = random.Random(args.seed)
        data = []
        for tokens, tags in pairs:
            data.append((list(tokens), list(tags)))
            if variant.startswith("mixed"):
                toks, tgs = list(tokens), list(tags)
                for _ in range(rng.randint(1, 11)):
                    t, g = pairs[rng.randrange(len(pairs))]
                    toks += [".", *t]
                    tgs += ["O", *g]
                data.append((toks, tgs))
        if variant.startswith("mixed"):  # as many examples as `single`: half single sentences, half joined
            rng.shuffle(data)
            data = data[: len(pairs)]
        shards = write_cs_shards(Path(args.out) / "train" / f"shards-{variant}", data, tgt="es")
        cfg = load_train_config(base / "config.yaml", {"shards": [str(shards)], "out": str(run)})
        t0 = time.perf_counter()
        if variant.endswith("-sum"):
            with cell_sum_loss():
                train(cfg)
        else:
            train(cfg)
        print(f"trained {variant} ({len(data)} examples, mean {sum(len(t) for t, _ in data) / len(data):.1f} "
              f"words) in {time.perf_counter() - t0:.0f}s", flush=True)


def fit(args: argparse.Namespace) -> None:
    """Recall of the retrained models (`train`) on the `mixed` training examples by length: did they
    learn their own long inputs?"""
    import pyarrow.parquet as pq

    data = []
    for shard in sorted((Path(args.out) / "train" / "shards-mixed").glob("shard-*.parquet")):
        table = pq.read_table(shard, columns=["src_tokens", "src_tags"])
        data += zip(table.column("src_tokens").to_pylist(), table.column("src_tags").to_pylist(), strict=True)
    out = {}
    for variant in args.variants:
        model = load_model(Path(args.out) / "train" / variant / f"seed-{args.seed}")
        pred = L.head_entities(model, L.encode_words(model, [t for t, _ in data]))
        out[variant] = L.recall_tables([g for _, g in data], pred, length_edges=(10, 25, 50, 75))
        print(variant, " ".join(f"{b['bucket']}: R {100 * b['recall']:.1f} P {100 * b['precision']:.1f} ({b['gold']})"
                                for b in out[variant]["by_length"]), flush=True)
    atomic_write_json(Path(args.out) / "train" / "fit.json", out)


def conll_results(out: Path) -> Iterator[tuple[str, int | str, dict[str, Any]]]:
    """(language, row number, result) of every CoNLL measurement written under `out`, es then nl."""
    for lang in ("es", "nl"):
        for row, num in LABELS.items():
            f = out / f"{row}-conll-{lang}.json"
            if f.exists():
                yield lang, num, json.loads(f.read_text())


def tables(args: argparse.Namespace) -> None:
    out = Path(args.out)

    def pct(x: float) -> str:
        return f"{100 * x:.1f}"

    print("### CoNLL-2002 dev, recall by sentence length\n")
    print("| row | data | n | P | R | F1 | R <=10 | R 11-25 | R 26-50 | R >50 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for lang, num, r in conll_results(out):
        t = r["variants"].get("model")
        if t is None:
            continue
        o = t["overall"]
        cells = " | ".join(f"{pct(b['recall'])} ({b['gold']})" for b in t["by_length"])
        print(f"| {num} | {lang} dev | {r['n_sentences']} | {pct(o['precision'])} | {pct(o['recall'])} | "
              f"{pct(o['f1'])} | {cells} |")
    for key, title in (("by_offset", "entity start offset"), ("by_edge_distance", "distance to the nearer edge")):
        print(f"\n### CoNLL-2002 dev, recall by {title}\n")
        first = None
        for lang, num, r in conll_results(out):
            t = r["variants"]["model"]
            if first is None:
                first = [b["bucket"] for b in t[key]]
                print("| row | data | " + " | ".join(first) + " |")
                print("|---|---|" + "---:|" * len(first))
            print(f"| {num} | {lang} | " + " | ".join(f"{pct(b['recall'])} ({b['gold']})" for b in t[key]) + " |")
    print("\n### CoNLL-2002 dev, interventions (P / R / F1; R >50 words)\n")
    for lang, num, r in conll_results(out):
        cells = []
        for spec, t in r["variants"].items():
            o = t["overall"]
            cells.append(f"{spec} {pct(o['precision'])}/{pct(o['recall'])}/{pct(o['f1'])} "
                         f"(R>50 {pct(t['by_length'][-1]['recall'])})")
        print(f"- row {num} {lang}: " + "; ".join(cells))
    print("\n### Embedding test (PAN-X dev targets)\n")
    for lang in ("es", "en"):
        for row, num in LABELS.items():
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
    p.add_argument("what", choices=("conll", "embed", "pretrained", "train", "fit", "tables"))
    p.add_argument("--variants", nargs="+", default=["single", "mixed"],
                   help="train / fit: the training sets (single, mixed, single-sum, mixed-sum)")
    p.add_argument("--base-run", help="train: the run whose config.yaml is copied (default: row 2's)")
    p.add_argument("--sentences", help="train: shard set whose src_tokens/src_tags are the sentences "
                                       "(default: the recipe's en-es shards)")
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
    commands = {"conll": conll, "embed": embed, "pretrained": pretrained, "train": train_lengths, "fit": fit,
                "tables": tables}
    commands[args.what](args)


if __name__ == "__main__":
    main()
