"""Dictionary-mode build throughput on one core (sentences/s); target >= 5,000 for de/es/ja/zh.

    python benchmarks/build_throughput.py [--data-root DIR] [--langs de es ja zh] [--limit N]

Two numbers per language: the code-switching step alone (switch + label check), and the
whole `build_codeswitch` with one worker (reading, dictionary loading, Parquet writing,
manifest), both over the full PAN-X train-en (20k sentences) by default.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

from cslib import BuildConfig, CodeSwitcher, build_codeswitch, build_dictionary, load_split, row_problem


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=os.environ.get("CSLIB_DATA_ROOT", "../shared/data"))
    ap.add_argument("--langs", nargs="+", default=["de", "es", "ja", "zh"])
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    sents = load_split("panx", "en", "train", args.data_root, limit=args.limit)
    print(f"{len(sents)} source sentences, 1 process")
    print(f"{'pair':8s} {'segment':8s} {'switch sent/s':>14s} {'build sent/s':>13s} {'tokens switched':>16s}")
    for tgt in args.langs:
        for seg in (["chars", "words"] if tgt in ("ja", "zh") else ["auto"]):
            cfg = BuildConfig(tgt=tgt, data_root=args.data_root, segment=seg, limit=args.limit, workers=1)
            d, _ = build_dictionary(cfg)
            sw = CodeSwitcher(d, cfg.switch_config())
            t = time.perf_counter()
            switched = total = 0
            for i, s in enumerate(sents):
                r = sw.switch(s.tokens, s.tags, random.Random(f"{cfg.seed}:{i}:0"))
                assert row_problem(s.tokens, s.tags, r.tokens, r.tags, r.src_index, r.langs) is None
                switched += r.n_switched
                total += len(s.tokens)
            sw_rate = len(sents) / (time.perf_counter() - t)
            with tempfile.TemporaryDirectory() as tmp:
                cfg.out = tmp
                t = time.perf_counter()
                build_codeswitch(cfg)
                build_rate = len(sents) / (time.perf_counter() - t)
            print(f"en-{tgt:5s} {seg:8s} {sw_rate:14,.0f} {build_rate:13,.0f} {switched / total:16.1%}")


if __name__ == "__main__":
    main()
