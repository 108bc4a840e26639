"""`ner train` and `ner self-train`: their flags are tables of (flag, config key, argparse kwargs).

Only the flags given reach the config (argparse.SUPPRESS keeps the others out), so a YAML `--config`
keeps its values unless a flag overrides them, and `{default}` in a help text is the config
dataclass's default.
"""

from __future__ import annotations

import argparse
from typing import Any

from cslib import DATA_ROOT_OPTION, SEED_OPTION, conflict, format_default
from ner.cli.options import AMP, DEVICE
from ner.model.encoder import POOLINGS, SUBWORD_SPACES
from ner.model.heads import HEADS
from ner.model.losses import GRID_REDUCTIONS
from ner.training.config import SelfTrainConfig, TrainConfig, load_self_train_config, load_train_config
from ner.training.loop import train
from ner.training.self_training import self_train

#: (flag, config key, argparse kwargs) of every TrainConfig / ModelConfig setting on the command line.
#: `{default}` in a help text is the dataclass default (see `_add_flags`), so the two cannot drift apart.
TRAIN_FLAGS: list[tuple[str, str, dict[str, Any]]] = [
    ("--shards", "shards", {"nargs": "+", "metavar": "DIR", "help": "code-switched shard directories, or parents of them such as data/cs/ (all combined)"}),
    ("--out", "out", {"metavar": "RUN", "help": "run directory (default {default}); rerunning resumes it"}),
    ("--max-steps", "max_steps", {"type": int, "metavar": "N", "help": "optimizer steps, instead of --epochs (and of epochs in --config)"}),
    ("--epochs", "epochs", {"type": int, "metavar": "E", "help": "epochs over the shards (default {default})"}),
    ("--seed", "seed", SEED_OPTION),
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
    ("--data-root", "data_root", DATA_ROOT_OPTION),
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
    ("--grid-loss", "grid_loss", {"choices": list(GRID_REDUCTIONS),
                                  "help": "grid cross entropy: cell = mean over the batch's cells; sentence = per "
                                          "sentence first (every sentence weighs the same); equal = every cell "
                                          "weighs 1 / (64 x sentences in the batch), whatever the lengths "
                                          "(default {default})"}),
    ("--contrastive-warmup", "contrastive_warmup", {"type": float, "metavar": "F",
                                                    "help": "contrastive weights ramp from 0 over this fraction (< 1) "
                                                            "or number of steps (default {default})"}),
    ("--aux-grad-ratio", "aux_grad_ratio", {"type": float, "metavar": "R",
                                            "help": "scale a contrastive term down when its encoder gradient exceeds R x "
                                                    "the supervised one, measured every --grad-norm-every steps (default off)"}),
    ("--grad-norm-every", "grad_norm_every", {"type": int, "metavar": "N",
                                              "help": "log each loss term's gradient norm on the encoder every N steps "
                                                      "to metrics.jsonl, 0 = never (default {default})"}),
    ("--joined-inputs", "joined_inputs", {"type": float, "metavar": "SHARE",
                                          "help": "make this share of the training examples joined long inputs: "
                                                  "2..--joined-max examples joined by '.' ('。' for zh, ja), both "
                                                  "views alike, each within one encoder row; 0 = off (default "
                                                  "{default}); see docs/ner.md"}),
    ("--joined-max", "joined_max", {"type": int, "metavar": "N",
                                    "help": "most examples in one joined input (default {default})"}),
    ("--pseudo", "pseudo", {"nargs": "+", "metavar": "FILE", "help": "extra pseudo-labeled JSONL files"}),
    ("--init-from", "init_from", {"metavar": "DIR", "help": "start from the weights of this run / model directory"}),
    ("--log-every", "log_every", {"type": int, "metavar": "N", "help": "metrics line every N steps (default {default})"}),
    ("--device", "device", DEVICE),
    ("--amp", "amp", AMP),
    ("--resume", "resume", {"action": "store_true", "help": "require a checkpoint to resume (resuming is automatic anyway)"}),
    ("--bucket-batches", "bucket_batches", {"type": int, "metavar": "N",
                                            "help": "cut batches from pools of N batches sorted by length (less padding; "
                                                    "0 = uniformly shuffled batches; default {default})"}),
    ("--report-to", "report_to", {"nargs": "*", "metavar": "TOOL",
                                  "help": "also send the metrics lines to: tensorboard (RUN/tensorboard/; "
                                          "pip install 'xner[tensorboard]'); default none"}),
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


def config_default(config: Any, dotted: str) -> Any:
    """The value of the dotted key `dotted` (e.g. `model.head`) in the config instance `config`."""
    for part in dotted.split("."):
        config = getattr(config, part)
    return config


def add_flags(container: argparse._ActionsContainer, flags: list[tuple[str, str, dict[str, Any]]], defaults: Any,
              prefix: str = "", skip: frozenset[str] | set[str] = frozenset()) -> None:
    """Flags that set dotted config keys (`dest="cfg:KEY"`); only the ones given reach the config (SUPPRESS),
    and `{default}` in a help text is filled in from `defaults`, an instance of the config dataclass."""
    for flag, key, kwargs in flags:
        if key in skip:
            continue
        if "action" not in kwargs and "choices" not in kwargs:
            kwargs = {"metavar": key.split(".")[-1].upper(), **kwargs}
        kwargs = {**kwargs, "help": kwargs["help"].format(default=format_default(config_default(defaults, key)))}
        container.add_argument(flag, dest=f"cfg:{prefix}{key}", default=argparse.SUPPRESS, **kwargs)


def _add_train_flags(parser: argparse.ArgumentParser, prefix: str = "", skip: frozenset[str] | set[str] = frozenset()) -> None:
    group = parser.add_argument_group("training" if not prefix else "student training")
    add_flags(group, TRAIN_FLAGS, TrainConfig(), prefix, skip)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Only the flags the user gave (argparse.SUPPRESS keeps the others out of the namespace)."""
    out = {}
    for dest, value in vars(args).items():
        if dest.startswith("cfg:"):
            key = dest[4:]
            out[key] = value
    return out


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model on code-switched shards",
                       description="Train (or resume) a run: CE(src) + CE(cs) + semantic and relation contrastive losses. "
                                   "Writes RUN/{config.yaml,model/,last/,train.log,metrics.jsonl,dev_metrics.json}; "
                                   "rerunning the same command resumes from RUN/last.")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML file with TrainConfig keys (nested `model:`); flags override it")
    _add_train_flags(p)
    p.set_defaults(func=_cmd_train)


def add_self_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("self-train", help="self-train on unlabeled target-language shards",
                       description="Teacher labels the unlabeled shards, confident pseudo-labels are kept (all entity "
                                   "scores >= --threshold, top --top-fraction per type, negatives at --negative-ratio), "
                                   "a student initialised from the teacher trains on shards + pseudo-labels; repeat.")
    p.add_argument("--config", metavar="FILE.yaml", help="YAML with SelfTrainConfig keys (nested `train:`); flags override it")
    add_flags(p, SELF_TRAIN_FLAGS, SelfTrainConfig())
    _add_train_flags(p, "train.", _NOT_IN_SELF_TRAIN)
    p.set_defaults(func=_cmd_self_train)


def _check(given: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The flags given, refused when two of them contradict each other."""
    if f"{prefix}max_steps" in given and f"{prefix}epochs" in given:
        raise conflict("--max-steps", "--epochs", "give one: the run's length in optimizer steps or in epochs")
    return given


def _cmd_train(args: argparse.Namespace) -> int:
    run = train(load_train_config(args.config, _check(overrides(args))))
    print(run)
    return 0


def _cmd_self_train(args: argparse.Namespace) -> int:
    student = self_train(load_self_train_config(args.config, _check(overrides(args), "train.")))
    print(student)
    return 0
