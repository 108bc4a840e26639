"""ONNX Runtime against torch on the CPU: sentences/s and entity F1 of `ner predict`'s four ways to run a model.

    python benchmarks/onnx_inference.py MODEL [--export DIR] [--langs de ja zh] [--limit 1000] [--threads 2]

MODEL: a run, model or export directory. Unless it is an export with model.onnx and model.int8.onnx, it is
exported first (`ner export MODEL --out DIR --onnx --int8`; DIR from --export, else a temporary directory).
Paths, on the first `--limit` PAN-X dev sentences of each language, all through `ner predict`'s tagging
(`ner.inference.windows.predict_windowed`: length-sorted batches, windows of 128 words, the toolkit's decoding):

* PyTorch fp32:  the torch model, no autocast (`ner predict` on a CPU without native bf16);
* PyTorch bf16:  the same under bf16 autocast (`ner.inference.precision`; `ner predict` on a CPU with it);
* ONNX fp32:     `--backend onnx`: model.onnx in ONNX Runtime (CPU);
* ONNX int8:     `--backend onnx-int8`: model.int8.onnx (onnxruntime dynamic quantisation).

torch and ONNX Runtime get the same number of threads (`--threads`). The paths run interleaved per language,
`--rounds` times (the fastest round is reported: the machine may be shared); F1 is seqeval strict IOB2
(`ner.inference.evaluate.entity_scores`), "same" the share of sentences whose entities (spans and types) are
those of PyTorch fp32.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import ner  # noqa: F401  (before torch: OpenMP threads that sleep instead of spinning, see ner/__init__.py)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PATHS = ("PyTorch fp32", "PyTorch bf16", "ONNX fp32", "ONNX int8")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def onnx_export_dir(model: str, export: str | None) -> Path:
    """`model` itself when it is an export with both ONNX files, else a fresh `--onnx --int8` export of it."""
    from ner.inference.export import export_run
    from ner.inference.export_format import ONNX_FILE, ONNX_INT8_FILE

    if (Path(model) / ONNX_FILE).is_file() and (Path(model) / ONNX_INT8_FILE).is_file():
        return Path(model)
    out = Path(export) if export else Path(tempfile.mkdtemp(prefix="onnx-bench-")) / "export"
    t0 = time.perf_counter()
    export_run(model, out, overwrite=out.exists(), onnx=True, int8=True)
    print(f"exported {model} to {out} (--onnx --int8) in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def main() -> None:
    import onnxruntime
    import torch

    from cslib import load_split
    from ner.inference.evaluate import entity_scores
    from ner.inference.loading import load_model
    from ner.inference.precision import cpu_has_bf16
    from ner.inference.windows import predict_windowed
    from ner.model.grid import entities_to_tags

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="run, model or export directory (a trained model)")
    ap.add_argument("--export", metavar="DIR", help="where to export MODEL when it has no ONNX files (default: a temp dir)")
    ap.add_argument("--langs", nargs="+", default=["de", "ja", "zh"])
    ap.add_argument("--limit", type=int, default=1000, help="first N dev sentences per language")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2, help="torch threads and ONNX Runtime intra-op threads")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds per language (the fastest is reported)")
    ap.add_argument("--data-root", default=os.environ.get("CSLIB_DATA_ROOT"))
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    export = onnx_export_dir(args.model, args.export)
    torch_model = load_model(export)
    models = {"PyTorch fp32": (torch_model, None), "PyTorch bf16": (torch_model, torch.bfloat16),
              "ONNX fp32": (load_model(export, backend="onnx"), None),
              "ONNX int8": (load_model(export, backend="onnx-int8"), None)}
    ort_threads = {p: m.threads for p, (m, _) in models.items() if p.startswith("ONNX")}
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores, native bf16: {cpu_has_bf16()}; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), onnxruntime {onnxruntime.__version__} (intra-op threads "
          f"{sorted(set(ort_threads.values()))}), OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
          f"load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    data = {lang: load_split("panx", lang, "dev", args.data_root, limit=args.limit) for lang in args.langs}

    rows = []
    for lang, sents in data.items():
        tokens = [s.tokens for s in sents]
        gold = [s.tags for s in sents]
        for model, amp in models.values():  # warm-up: first shapes, oneDNN kernels
            predict_windowed(model, tokens[:32], args.batch_size, amp)
        best: dict[str, float] = {}
        found: dict[str, list] = {}
        for _ in range(args.rounds):
            for path, (model, amp) in models.items():
                t0 = time.perf_counter()
                found[path] = predict_windowed(model, tokens, args.batch_size, amp)
                best[path] = min(best.get(path, float("inf")), time.perf_counter() - t0)
        ref = [[(e.start, e.last, e.type) for e in ents] for ents in found[PATHS[0]]]
        f1 = {}
        for path in PATHS:
            tags = [entities_to_tags(e, len(t)) for e, t in zip(found[path], tokens, strict=True)]
            f1[path] = 100 * entity_scores(gold, tags)["f1"]
            same = sum([(e.start, e.last, e.type) for e in ents] == r for ents, r in zip(found[path], ref, strict=True))
            rows.append((lang, path, len(tokens) / best[path], f1[path], f1[path] - f1[PATHS[0]],
                         100 * same / len(tokens), best[path], len(tokens)))
        print(f"{lang}: " + "  ".join(f"{p} {len(tokens) / best[p]:.1f}/s F1 {f1[p]:.2f}" for p in PATHS), flush=True)

    print(f"\nload average {os.getloadavg()[0]:.1f} at the end; {args.limit} dev sentences per language, "
          f"best of {args.rounds} interleaved rounds, {args.threads} threads (torch and ONNX Runtime)\n")
    print("| lang | path | sentences/s | vs PyTorch fp32 | F1 | ΔF1 vs PyTorch fp32 | same entities as fp32 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    base = {r[0]: r[2] for r in rows if r[1] == PATHS[0]}
    for lang, path, rate, f1, diff, same, _, _ in rows:
        print(f"| {lang} | {path} | {rate:.1f} | {rate / base[lang]:.2f}x | {f1:.2f} | {diff:+.2f} | {same:.1f}% |")
    for path in PATHS:
        n = sum(r[7] for r in rows if r[1] == path)
        secs = sum(r[6] for r in rows if r[1] == path)
        ref_secs = sum(r[6] for r in rows if r[1] == PATHS[0])
        print(f"| all | {path} | {n / secs:.1f} | {ref_secs / secs:.2f}x | | | |")


if __name__ == "__main__":
    main()
