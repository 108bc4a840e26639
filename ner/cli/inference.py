"""The `ner` commands that run a trained model: `evaluate`, `predict`, `mine-entities`, `export`.

Defaults in help texts are the library functions' (`cslib.parameter_defaults`). Options that
only apply with another one (`evaluate --format` with `--file`, ...) have the argparse default None,
so that giving them where they do not apply is refused with a one-line error instead of ignored.
"""

from __future__ import annotations

import argparse

from cslib import add_data_root, conflict, given, parameter_defaults, tokenize
from ner.cli.options import add_model_run_options, non_negative
from ner.errors import NerError
from ner.inference.evaluate import evaluate, evaluate_langs
from ner.inference.export import export_run
from ner.inference.mine_entities import MineConfig, mine_entities
from ner.inference.onnx_runtime import BACKENDS
from ner.inference.predict import input_format
from ner.inference.predict import run as run_predict

EVALUATE = parameter_defaults(evaluate)
PREDICT = parameter_defaults(run_predict)
MINE = parameter_defaults(mine_entities)
FILE_FORMATS = ["auto", "panx", "conll"]
OUTPUT_FORMATS = ["text", "json", "conll", "spacy"]


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="entity-level P/R/F1 (seqeval strict, IOB2)",
                       description="Evaluate on PAN-X splits (--lang L [L ...] --split dev) or on a labeled file "
                                   "(--file PATH --lang L). Writes metrics.json per language; with several languages "
                                   "also table.md and f1.png.")
    p.add_argument("--model", required=True, metavar="RUN", help="run directory (uses RUN/model) or model directory")
    p.add_argument("--lang", nargs="+", required=True, metavar="L", help="language code(s)")
    p.add_argument("--split", help=f"PAN-X split (default {EVALUATE.split}); not with --file")
    add_data_root(p)
    p.add_argument("--file", metavar="PATH", help="labeled file (PAN-X TSV or CoNLL) instead of a PAN-X split")
    p.add_argument("--format", choices=FILE_FORMATS, help=f"format of --file (default {EVALUATE.fmt})")
    p.add_argument("--encoding", metavar="CODEC", help="text encoding of --file (default utf-8; CoNLL-2002: latin-1)")
    p.add_argument("--limit", type=int, metavar="N", help="first N sentences only (0 = all)")
    p.add_argument("--drop-types", nargs="+", metavar="TYPE", default=[],
                   help="count gold and predicted entities of these types as O (e.g. MISC in CoNLL-2002, which "
                        "PAN-X models do not have; default: none)")
    p.add_argument("--out", metavar="DIR", help="output directory (default RUN/eval/...)")
    add_model_run_options(p, EVALUATE)
    p.set_defaults(func=_cmd_evaluate)


def add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="tag raw text (one text, e.g. a paragraph, per line) or a JSONL/Parquet column",
                       description="Split each input text into sentences (cslib.split_sentences), tokenize them with "
                                   "cslib.tokenize and write the entities, one record per input line: `text [TYPE]` "
                                   "(tab-separated, one output line per input line), JSON lines (end-exclusive "
                                   "token and character spans into the input line, sentence index), CoNLL (token "
                                   "TAB tag, one block per input line) or spaCy. Prints sentences/s at the end.")
    p.add_argument("--model", required=True, metavar="RUN", help="run directory, model directory or `ner export` dir")
    p.add_argument("--lang", required=True, metavar="L", help="language of the text (sentence splitting, tokenization)")
    p.add_argument("--input", metavar="FILE", help="input file (default stdin): text, .jsonl or .parquet (or a "
                                                   "folder of .parquet files, e.g. a shard set)")
    p.add_argument("--input-format", default=PREDICT.input_format_, choices=["auto", "text", "jsonl", "parquet"],
                   help="input kind (default: from the file name; stdin is text)")
    p.add_argument("--column", metavar="NAME", help="JSONL field / Parquet column to tag: a string (raw text, split "
                                                    "and tokenized) or a list of tokens (one sentence) (default text, "
                                                    "then tokens, src_tokens)")
    p.add_argument("--encoding", metavar="CODEC", help="text encoding of a text/JSONL input (default utf-8)")
    p.add_argument("--format", choices=OUTPUT_FORMATS,
                   help=f"output: text, json (JSON lines, end-exclusive spans), conll (token TAB tag), spacy "
                        f"(Doc.to_json lines, or a DocBin with --out FILE.spacy) (default {PREDICT.fmt})")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")
    p.add_argument("--keep-lines", action="store_true",
                   help="tag each input line as one sentence (no sentence splitting; no sentence index in the output)")
    p.add_argument("--max-words", type=non_negative, default=PREDICT.max_words, metavar="N",
                   help=f"a sentence longer than N words (zh, ja: characters) is tagged in overlapping windows of N "
                        f"words and the entities merged (default {PREDICT.max_words}; 0 = never)")
    p.add_argument("--window-overlap", type=non_negative, default=PREDICT.overlap, metavar="N",
                   help=f"words shared by consecutive windows, less than --max-words (default {PREDICT.overlap})")
    p.add_argument("--backend", choices=BACKENDS, default=PREDICT.backend,
                   help="torch, or ONNX Runtime on the CPU with the export's model.onnx (onnx) or model.int8.onnx "
                        "(onnx-int8), written by `ner export --onnx [--int8]` (pip install 'xner[onnx]'); "
                        f"tagging and decoding are the same (default {PREDICT.backend})")
    add_model_run_options(p, PREDICT, amp=False)
    p.set_defaults(func=_cmd_predict)


def add_mine_entities(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mine-entities", help="write a typed target-entity lexicon mined from unlabeled text",
                       description="Tag unlabeled target shards with a trained model and write its most frequent, "
                                   "confident entities as a TSV for cslib build --entity-lexicon FILE "
                                   "--entity-mode replace (see ner/inference/mine_entities.py).")
    p.add_argument("--model", required=True, metavar="RUN", help="run directory or model directory")
    p.add_argument("--unlabeled", required=True, nargs="+", metavar="DIR", help="unlabeled shard directories")
    p.add_argument("--out", required=True, metavar="FILE", help="lexicon TSV to write")
    p.add_argument("--min-score", type=float, default=MineConfig.min_score,
                   help=f"minimum mean confidence (default {MineConfig.min_score})")
    p.add_argument("--min-count", type=int, default=MineConfig.min_count,
                   help=f"minimum occurrences (default {MineConfig.min_count})")
    p.add_argument("--per-type", type=int, default=MineConfig.per_type,
                   help=f"at most N entities per type (default {MineConfig.per_type})")
    p.add_argument("--limit", type=int, help="first N unlabeled sentences only")
    add_model_run_options(p, MINE, amp=False, max_entity_words=False)
    p.set_defaults(func=_cmd_mine)


EXPORT_EXAMPLES = """serving an export DIR:
  echo "Angela Merkel visited Paris." | ner predict --model DIR --lang en --json
  python -c 'from transformers import pipeline; ner = pipeline("token-classification", model="DIR",
             trust_remote_code=True); print(ner("Angela Merkel visited Paris.", lang="en"))'
  python -c 'import spacy; nlp = spacy.blank("en"); nlp.add_pipe("xner", config={"model": "DIR"});
             print(nlp("Angela Merkel visited Paris.").ents)'
  ner export RUN --out DIR --onnx --int8           # + DIR/model.onnx, DIR/model.int8.onnx (pip install 'xner[onnx]')
  echo "Angela Merkel visited Paris." | ner predict --model DIR --lang en --backend onnx
"""


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a self-contained model directory (HF encoder, safetensors head, card)",
                       description="Export a run's model: encoder/ (Hugging Face), head.safetensors, config.json, "
                                   "tag_schema.json, README.md (training data, recipe, dev/test figures, how to "
                                   "serve it) and modeling_xner.py (generated from this toolkit's code). The "
                                   "directory serves a model three ways, each tagging as `ner predict` does: "
                                   "`ner predict --model DIR` (and load_model in Python); transformers, with "
                                   "trust_remote_code and no toolkit installed; spaCy, as the `xner` pipeline "
                                   "component (pip install 'xner[spacy]'). A token-head model is also written "
                                   "as token-classification/, a standard AutoModelForTokenClassification. "
                                   "--onnx adds model.onnx, the encoder and head as one ONNX graph (sub-word ids "
                                   "in, head logits out) that `ner predict --backend onnx` runs with ONNX Runtime "
                                   "on the CPU; --int8 also its dynamically quantised int8 copy, model.int8.onnx.",
                       epilog=EXPORT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", metavar="RUN", help="run directory (uses RUN/model) or model directory")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    p.add_argument("--onnx", action="store_true",
                   help="also write model.onnx (encoder + head; decoding stays in Python) for --backend onnx")
    p.add_argument("--int8", action="store_true", help="with --onnx: also write model.int8.onnx (onnxruntime dynamic "
                                                       "quantisation) for --backend onnx-int8")
    p.set_defaults(func=_cmd_export)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    common = {"limit": args.limit, "out": args.out, "batch_size": args.batch_size, "device": args.device,
              "amp": args.amp, "max_entity_words": args.max_entity_words, "dropped_types": args.drop_types}
    if args.file:
        if given(args, "split"):
            raise conflict("--split", "--file", "--file is evaluated instead of a PAN-X split")
        if given(args, "data_root"):
            raise conflict("--data-root", "--file", "--file is evaluated instead of a PAN-X split of the mirror")
        if len(args.lang) != 1:
            raise NerError("--file takes exactly one --lang")
        tokenize("check", args.lang[0])  # unknown language code -> CslibError
        evaluate(args.model, args.lang[0], file=args.file, fmt=args.format or EVALUATE.fmt, encoding=args.encoding,
                 **common)
        return 0
    for flag in ("format", "encoding"):
        if given(args, flag):
            raise NerError(f"--{flag} needs --file: it describes the labeled file (a PAN-X split has its own)")
    split = args.split or EVALUATE.split
    if len(args.lang) == 1:
        evaluate(args.model, args.lang[0], split=split, data_root=args.data_root, **common)
    else:
        evaluate_langs(args.model, args.lang, split=split, data_root=args.data_root, **common)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    if args.json and args.format not in (None, "json"):
        raise conflict("--json", f"--format {args.format}", "--json is --format json")
    if given(args, "encoding") and input_format(args.input, args.input_format) == "parquet":
        raise conflict("--encoding", "a Parquet input", "Parquet stores its text as UTF-8")
    if args.max_words and args.window_overlap >= args.max_words:
        raise NerError(f"--window-overlap ({args.window_overlap}) must be smaller than --max-words ({args.max_words})")
    fmt = "json" if args.json else args.format or PREDICT.fmt
    run_predict(args.model, args.lang, args.input, fmt, args.out, args.input_format, args.column, args.encoding,
                args.batch_size, args.device, max_entity_words=args.max_entity_words, keep_lines=args.keep_lines,
                max_words=args.max_words, overlap=args.window_overlap, backend=args.backend)
    return 0


def _cmd_mine(args: argparse.Namespace) -> int:
    cfg = MineConfig(min_score=args.min_score, min_count=args.min_count, per_type=args.per_type)
    mined = mine_entities(args.model, args.unlabeled, args.out, cfg, limit=args.limit, batch_size=args.batch_size,
                          device=args.device)
    by_type: dict[str, int] = {}
    for m in mined:
        by_type[m.type] = by_type.get(m.type, 0) + 1
    print(f"{args.out}: {len(mined)} entities ({', '.join(f'{t} {n}' for t, n in sorted(by_type.items()))})")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    if args.int8 and not args.onnx:
        raise NerError("--int8 quantises the ONNX graph: give --onnx too")
    print(export_run(args.run, args.out, args.overwrite, onnx=args.onnx, int8=args.int8))
    return 0
