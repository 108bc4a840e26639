"""Evaluation throughput (sentences per second) and F1 of each inference optimisation against today's fp32 path.

Paths, all on the same length-sorted batches (`ner.inference.tagging.length_batches`), timed interleaved per language in
this one process so that a shared machine's load hits them alike:

* today (fp32):     the whole W x W grid and the per-cell decode loop, fp32 (`tests.reference`, the plain path);
* fp32, fast:       decode-only half of the grid + vectorized decode, fp32, no span limit
                    (`ner evaluate --amp off --max-entity-words 0`);
* bf16, whole grid: today's path under bf16 autocast (the precision alone);
* bf16, decode-only: the decode-only half + vectorized decode + bf16, no span limit (`--max-entity-words 0`);
* all (now):        that, with spans of at most 32 words decoded, so that long sentences run the head on the
                    diagonal band (`ner.model.heads.relation_band`) (`ner evaluate` with no flags on a CPU with native bf16);
* int8 (--int8):    "all" with dynamic int8 quantization of the encoder's linear layers (measured only: not offered
  by `ner evaluate`, it costs more than 0.3 F1).

    python benchmarks/eval_throughput.py --model RUN --langs de es nl zh ja id ar hi ru fr --limit 1000
    python benchmarks/eval_throughput.py --head relation --langs de ja --limit 200   # untrained head: speed only
    python benchmarks/eval_throughput.py --model RUN --langs ja zh --profile          # + torch.profiler tops
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time

import ner  # noqa: F401  (before torch: OpenMP threads that sleep instead of spinning, see ner/__init__.py)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def quantize_int8(model):
    """Dynamic int8 quantization (per-channel weights) of the encoder's linear layers. Measured only:
    it is not offered by `ner evaluate` because it costs more than 0.3 dev F1."""
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.encoder.model = quantize_dynamic(model.encoder.model, {torch.nn.Linear: per_channel_dynamic_qconfig},
                                               dtype=torch.qint8)
    return model


def _key(entities) -> list[tuple]:
    return [(e.start, e.last, e.type, e.score) for e in entities]


def _span(entities) -> list[tuple]:
    return [(e.start, e.last, e.type) for e in entities]


def unlimited(model, sentences, batch_size: int, amp=None):
    """`predict_entities` with no span limit (`--max-entity-words 0`): every batch on the whole grid's
    decode-only half, as before the diagonal band."""
    from ner.inference.tagging import predict_entities

    keep, model.max_entity_words = model.max_entity_words, 0
    try:
        return predict_entities(model, sentences, batch_size, amp=amp)
    finally:
        model.max_entity_words = keep


def profile_tops(name: str, fn, sentences, rows: int = 15) -> None:
    """torch.profiler over one pass: the top operators by self CPU time, and encoder / head / decode shares."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn(sentences)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    print(f"  profile of {name}: {total / 1e6:.2f} s of operators")
    for e in sorted(events, key=lambda e: -e.self_cpu_time_total)[:rows]:
        print(f"    {e.key:<52}{e.self_cpu_time_total / 1e6:>8.3f} s {e.self_cpu_time_total / total:>5.0%}"
              f" {e.count:>7} calls")


def main() -> None:
    import torch

    from cslib import load_split
    from ner.inference.evaluate import entity_scores
    from ner.inference.loading import load_model
    from ner.inference.tagging import predict_entities
    from ner.model.config import ModelConfig
    from ner.model.grid import entities_to_tags
    from ner.model.ner_model import NerModel
    from tests.reference import predict_entities_reference

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", nargs="*", default=[], help="run or model directories (trained heads)")
    ap.add_argument("--head", nargs="*", default=[], choices=["token", "relation"],
                    help="untrained heads on the default encoder (throughput only; F1 is meaningless)")
    ap.add_argument("--langs", nargs="+", default=["de", "ja", "zh"])
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--paths", nargs="+", help="only these paths (names as printed; default all)")
    ap.add_argument("--int8", action="store_true", help="also time dynamic int8 quantization")
    ap.add_argument("--profile", action="store_true", help="torch.profiler tops of today's path and of 'all'")
    ap.add_argument("--data-root", default=os.environ.get("CSLIB_DATA_ROOT"))
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    models = [(m, load_model(m)) for m in args.model]
    models += [(f"untrained {h}", NerModel(ModelConfig(head=h), ["LOC", "ORG", "PER"]).eval()) for h in args.head]
    data = {lang: load_split("panx", lang, "dev", args.data_root, limit=args.limit) for lang in args.langs}
    bf16 = torch.bfloat16
    print(f"{args.threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
          f"load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    results = []
    for name, model in models:
        paths = {"today (fp32)": lambda s, m=model: predict_entities_reference(m, s, args.batch_size),
                 "fp32, fast": lambda s, m=model: unlimited(m, s, args.batch_size),
                 "bf16, whole grid": lambda s, m=model: predict_entities_reference(m, s, args.batch_size, amp=bf16),
                 "bf16, decode-only": lambda s, m=model: unlimited(m, s, args.batch_size, amp=bf16),
                 "all (now)": lambda s, m=model: predict_entities(m, s, args.batch_size, amp=bf16)}
        if args.int8:
            q = quantize_int8(copy.deepcopy(model))
            paths["int8"] = lambda s, m=q: predict_entities(m, s, args.batch_size, amp=bf16)
        if args.paths:
            paths = {k: v for k, v in paths.items() if k in args.paths}
        total = {p: [0, 0.0] for p in paths}
        rates: dict[str, list[float]] = {p: [] for p in paths}
        for lang, sents in data.items():
            tokens = [s.tokens for s in sents]
            predict_entities(model, tokens[:32])  # warm-up
            row = {"model": name, "head": model.cfg.head, "lang": lang, "n": len(tokens)}
            found = {}
            for path, fn in paths.items():
                t0 = time.perf_counter()
                ents = found[path] = fn(tokens)
                dt = time.perf_counter() - t0
                tags = [entities_to_tags(e, len(t)) for e, t in zip(ents, tokens, strict=True)]
                row[path] = {"sent_per_s": round(len(tokens) / dt, 1),
                             "f1": round(100 * entity_scores([s.tags for s in sents], tags)["f1"], 2)}
                total[path][0] += len(tokens)
                total[path][1] += dt
                rates[path].append(len(tokens) / dt)
            # the decode-only paths must find exactly what the old ones find at the same precision (scores
            # included); the diagonal band sums in another order, so its scores may differ in the last bits
            for old, new in (("today (fp32)", "fp32, fast"), ("bf16, whole grid", "bf16, decode-only"),
                             ("bf16, decode-only", "all (now)")):
                if old in found and new in found:
                    pairs = list(zip(found[old], found[new], strict=True))
                    differ = sum(_key(a) != _key(b) for a, b in pairs)
                    spans = sum(_span(a) != _span(b) for a, b in pairs)
                    gap = max((abs(x.score - y.score) for a, b in pairs if _span(a) == _span(b)
                               for x, y in zip(a, b, strict=True)), default=0.0)
                    row[f"{new} differs from {old}"] = {"sentences": differ, "spans": spans, "max_score_gap": gap}
                    print(f"  {lang}: {new} vs {old}: " + ("identical entities and scores" if not differ else
                          f"{spans} sentences with other entities, scores within {gap:.1e} elsewhere"))
            results.append(row)
            first = next(iter(paths))
            print(f"{name} [{model.cfg.head}] {lang} n={len(tokens)}: " + "  ".join(
                f"{p} {row[p]['sent_per_s']:.0f}/s ({row[p]['sent_per_s'] / row[first]['sent_per_s']:.2f}x) "
                f"F1 {row[p]['f1']:.2f}" for p in paths), flush=True)
            if args.profile and lang in ("ja", "zh"):
                for path in (first, list(paths)[-1]):
                    profile_tops(f"{path}, {lang}", paths[path], tokens)
        first = next(iter(paths))
        base = statistics.mean(rates[first])
        print(f"{name} [{model.cfg.head}] mean over {len(data)} languages of sentences/s (ratio to {first}): " +
              "  ".join(f"{p} {statistics.mean(r):.0f} ({statistics.mean(r) / base:.2f}x)" for p, r in rates.items()))
        print(f"{name} [{model.cfg.head}] all sentences / all seconds: " +
              "  ".join(f"{p} {n / max(t, 1e-9):.0f}" for p, (n, t) in total.items()), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
