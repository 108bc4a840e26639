"""Evaluation / prediction throughput (sentences per second) per head, before and after the fast path.

"before" is the previous inference path: batches sorted by *word* count under `torch.no_grad`;
"after" is `ner.inference.predict_entities`: batches sorted by *sub-word* count with a padded-token
budget, under `torch.inference_mode`; "bf16" adds CPU autocast to bfloat16 (`ner evaluate --amp bf16`);
"int8" adds dynamic int8 quantization of the encoder's linear
layers (measured here only: it is not offered by `ner evaluate`, see `quantize_int8`). Timings of the three paths are interleaved per language so that a
shared machine's load hits them alike, and F1 is reported for each, so the cost of int8 is visible.

    python benchmarks/eval_throughput.py --model runs/mcl --langs de ja zh --limit 1000
    python benchmarks/eval_throughput.py --head token relation   # untrained heads on the default encoder
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from collections.abc import Iterator, Sequence

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _old_batches(lengths: Sequence[int], batch_size: int, max_cells: int) -> Iterator[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) >= batch_size or (len(batch) + 1) * lengths[i] ** 2 > max_cells):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


@torch.no_grad()
def predict_before(model, sentences, batch_size: int = 64, max_cells: int = 2**18):
    model.eval()
    result = [[] for _ in sentences]
    for chunk in _old_batches([len(s) for s in sentences], batch_size, max_cells):
        out = model(model.collate([list(sentences[i]) for i in chunk]))
        for i, ents in zip(chunk, model.decode(out), strict=True):
            result[i] = ents
    return result


def quantize_int8(model):
    """Dynamic int8 quantization (per-channel weights) of the encoder's linear layers. Measured only:
    it is not offered by `ner evaluate` because it costs more than 0.3 dev F1 (see docs/benchmarks.md)."""
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.encoder.model = quantize_dynamic(model.encoder.model, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                               dtype=torch.qint8)
    return model


def main() -> None:
    from cslib import load_split
    from ner.evaluate import entity_scores
    from ner.grid import entities_to_tags
    from ner.inference import load_model, predict_entities
    from ner.model import ModelConfig, NerModel

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", nargs="*", default=[], help="run or model directories (trained heads)")
    ap.add_argument("--head", nargs="*", default=[], choices=["token", "relation"],
                    help="untrained heads on the default encoder (throughput only; F1 is meaningless)")
    ap.add_argument("--langs", nargs="+", default=["de", "ja", "zh"])
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-root", default=os.environ.get("CSLIB_DATA_ROOT"))
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    models = [(m, load_model(m)) for m in args.model]
    models += [(f"untrained {h}", NerModel(ModelConfig(head=h), ["LOC", "ORG", "PER"]).eval()) for h in args.head]
    data = {lang: load_split("panx", lang, "dev", args.data_root, limit=args.limit) for lang in args.langs}
    results = []
    for name, model in models:
        q = quantize_int8(copy.deepcopy(model))
        paths = {"before": lambda s, m=model: predict_before(m, s, args.batch_size),
                 "after": lambda s, m=model: predict_entities(m, s, args.batch_size),
                 "bf16": lambda s, m=model: predict_entities(m, s, args.batch_size, amp=torch.bfloat16),
                 "int8": lambda s, m=q: predict_entities(m, s, args.batch_size)}
        total = {p: [0, 0.0] for p in paths}
        for lang, sents in data.items():
            tokens = [s.tokens for s in sents]
            predict_entities(model, tokens[:32])  # warm-up
            row = {"model": name, "head": model.cfg.head, "lang": lang, "n": len(tokens)}
            for path, fn in paths.items():
                t0 = time.perf_counter()
                ents = fn(tokens)
                dt = time.perf_counter() - t0
                tags = [entities_to_tags(e, len(t)) for e, t in zip(ents, tokens, strict=True)]
                row[path] = {"sent_per_s": round(len(tokens) / dt, 1),
                             "f1": round(100 * entity_scores([s.tags for s in sents], tags)["f1"], 2)}
                total[path][0] += len(tokens)
                total[path][1] += dt
            results.append(row)
            print(f"{name} [{model.cfg.head}] {lang} n={len(tokens)}: " + "  ".join(
                f"{p} {row[p]['sent_per_s']:.0f}/s F1 {row[p]['f1']:.2f}" for p in paths), flush=True)
        print(f"{name} [{model.cfg.head}] all: " + "  ".join(
            f"{p} {n / max(t, 1e-9):.0f} sent/s" for p, (n, t) in total.items()), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
