"""Build throughput on one core (sentences/s): the path users run (every default source) next to the
dictionary-only one; target >= 5,000 for de/es/ja/zh once the caches are warm.

    python benchmarks/build_throughput.py [--data-root DIR] [--langs de es ja zh] [--limit N]
                                          [--repeat R] [--cache-dir DIR]

Sources per language: `dict` (MUSE only: --extra-dict none --entity-source none
--no-transliterate), `no-translit` (the defaults without transliteration; ja and zh only) and
`default` (`cslib build` with no source flags: JMdict / CC-CEDICT, typed names, e2k for ja and zh).
Two measures over PAN-X train-en (20k sentences by default):

- switch sent/s: in this process, once the sources are loaded: switching and the label check of
  every sentence, the part that grows with the corpus;
- `cslib build` in a fresh process with one worker (everything: imports, reading, loading the
  sources, switching, Parquet, manifest), wall and CPU seconds (CPU: user + sys of the process,
  steadier than wall time on a shared machine). `cold`: the transliteration cache is empty (the
  other caches, typed names and finished dictionaries, are warm, as for the dictionary-only
  build); `warm`: every cache is warm.

The caches live in --cache-dir (default: a fresh temporary folder, filled by an untimed small build
first: JMnedict alone takes ~20 s to build). Runs are interleaved over --repeat rounds and the
median kept; the load average is printed, since other jobs share the cores.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cslib import BuildConfig, load_split, row_problem
from cslib.build import prepare_switching

# name: (BuildConfig options, the same as `cslib build` flags)
SOURCES = {
    "dict": ({"extra_dicts": ["none"], "entity_sources": ["none"], "transliterate": False},
             ["--extra-dict", "none", "--entity-source", "none", "--no-transliterate"]),
    "no-translit": ({"transliterate": False}, ["--no-transliterate"]),
    "default": ({}, []),
}
TRANSLIT = ("ja", "zh")


def switch_rate(sents, tgt: str, options: dict, data_root: str, limit: int | None) -> float:
    """Sentences/s of switching + label check, sources loaded (as a build's shards do it)."""
    cfg = BuildConfig(tgt=tgt, data_root=data_root, limit=limit, workers=1, **options)
    sw = prepare_switching(cfg)
    sw.prefetch((s.tokens, s.tags) for s in sents)
    t = time.perf_counter()
    for i, s in enumerate(sents):
        r = sw.switcher.switch(s.tokens, s.tags, random.Random(f"{cfg.seed}:{i}:0"))
        assert row_problem(s.tokens, s.tags, r.tokens, r.tags, r.src_index, r.langs) is None
    return len(sents) / (time.perf_counter() - t)


def build_once(tgt: str, flags: list[str], data_root: str, limit: int | None, cache: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `cslib build` in a fresh process."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "cslib", "build", "--src", "en", "--tgt", tgt, "--data-root", data_root,
               "--out", out, "--workers", "1", *flags, *(["--limit", str(limit)] if limit else [])]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "XNER_CACHE_DIR": str(cache)})
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def forget_transliterations(cache: Path) -> None:
    for p in (cache / "cslib").glob("translit-*.json"):
        p.unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=os.environ.get("CSLIB_DATA_ROOT", "../shared/data"))
    ap.add_argument("--langs", nargs="+", default=["de", "es", "ja", "zh"])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--cache-dir", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache_dir or Path(tmp)
        os.environ["XNER_CACHE_DIR"] = str(cache)
        sents = load_split("panx", "en", "train", args.data_root, limit=args.limit)
        print(f"{len(sents)} source sentences, 1 process; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores; caches in {cache}")
        runs = [(tgt, name) for tgt in args.langs for name in SOURCES if name != "no-translit" or tgt in TRANSLIT]
        for tgt in args.langs:  # fill the caches once, untimed
            build_once(tgt, [], args.data_root, 50, cache)
        times: dict[tuple, list[tuple[float, float]]] = {}
        for _ in range(args.repeat):
            for tgt, name in runs:
                states = ("cold", "warm") if name == "default" and tgt in TRANSLIT else ("warm",)
                for state in states:
                    if state == "cold":
                        forget_transliterations(cache)
                    times.setdefault((tgt, name, state), []).append(
                        build_once(tgt, SOURCES[name][1], args.data_root, args.limit, cache))
        print(f"{'pair':6s} {'sources':12s} {'switch sent/s':>14s} {'build':6s} {'wall s':>7s} {'cpu s':>6s} "
              f"{'sent/s (cpu)':>13s}")
        for tgt, name in runs:
            rate = switch_rate(sents, tgt, SOURCES[name][0], args.data_root, args.limit)
            for (t, n, state), vals in times.items():
                if (t, n) != (tgt, name):
                    continue
                wall = statistics.median(v[0] for v in vals)
                cpu = statistics.median(v[1] for v in vals)
                print(f"en-{tgt:3s} {name:12s} {rate:14,.0f} {state:6s} {wall:7.1f} {cpu:6.1f} {len(sents) / cpu:13,.0f}")
        print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
