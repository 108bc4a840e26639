"""Training and self-training configuration: dataclasses, YAML files and CLI overrides.

One source of truth for every knob: the dataclasses below. A YAML file may set any field
(nested `model:` for the model, nested `train:` for a self-training run's student); command
line flags override it. Unknown YAML keys and wrongly typed values are errors that name the
file and the dotted key, because a silently ignored typo (`relaton_weight: 0`) would
invalidate an ablation.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cslib import CslibError, read_text_file
from ner.errors import NerError
from ner.model.config import ModelConfig
from ner.model.heads import HEADS, head_class
from ner.model.losses import GRID_REDUCTIONS
from ner.training.reporting import check_report_to


def pair_heads() -> list[str]:
    """The heads with word-pair representations (what the relation contrastive loss needs)."""
    return [name for name, cls in HEADS.items() if cls.has_pair_features]


@dataclass
class TrainConfig:
    """Everything `ner.training.loop.train` needs; saved as `config.yaml` in the run directory."""

    model: ModelConfig = field(default_factory=ModelConfig)
    shards: list[str] = field(default_factory=list)  # code-switched shard directories, combined
    pseudo: list[str] = field(default_factory=list)  # pseudo-label JSONL files (self-training)
    init_from: str | None = None  # model directory whose weights start training (student = teacher)
    # Pseudo-labeled rows are repeated until they are about this fraction of the training pool (at
    # most 20 copies each; None = each once): a few hundred kept target sentences next to tens of thousands
    # of pairs would otherwise be a sliver of the batches and the student would barely see the target language.
    pseudo_fraction: float | None = 0.3
    out: str = "runs/ner"
    seed: int = 13
    epochs: int = 3
    max_steps: int | None = None  # overrides epochs when set
    batch_size: int = 16
    lr: float = 1e-3  # head, projections
    encoder_lr: float = 3e-5
    weight_decay: float = 0.01
    warmup: float = 0.1  # fraction of the steps if < 1, else a number of steps
    grad_clip: float = 1.0  # 0 disables clipping
    # Sub-word embeddings frozen: the shared multilingual vocabulary stays aligned across languages
    # (fine-tuning moves only the English rows), and on CPU it skips a 96M-parameter update per step.
    freeze_embeddings: bool = True
    # Bottom K transformer layers (and the embedding block) frozen; see ner.training.optim.freeze.
    freeze_layers: int = 0
    # A fresh head's output bias starts at the log label prior of the training data. The relation
    # grid is nearly all NONE cells; from a zero bias AdamW spends its first steps learning just that, and
    # the grid predicts nothing meanwhile (ner.model.ner_model.NerModel.init_output_prior).
    prior_init: bool = True
    eval_every: int = 500  # steps between dev evaluations; 0 = end of every epoch
    save_every: int | None = None  # steps between checkpoints; None = with every evaluation
    eval_langs: list[str] | None = None  # None = the shards' source language (zero-shot); [] = no dev evaluation
    dev_limit: int | None = 1000  # dev sentences per language (None or <= 0 = all)
    eval_batch_size: int = 64
    data_root: str | None = None  # PAN-X mirror (else $CSLIB_DATA_ROOT)
    # losses (mCL-NER): CE(src) + CE(cs) + semantic_weight * L_sem + relation_weight * L_rel
    use_src: bool = True
    use_cs: bool = True
    # Defaults follow the evidence recipe (docs/ner.md, "What each part does (measured)"): the semantic term
    # cost F1 at every weight tried and is off; cross entropy + relation contrast 0.5 without it was the
    # best objective.
    semantic_weight: float = 0.0
    relation_weight: float | None = None  # None = 0.5 with the relation head, 0 with the token head
    # Target-language view of the semantic contrast: unlabeled target sentences and their versions
    # code-switched into the source language (`cslib build --task text --src XX --tgt en`).
    target_pairs: list[str] = field(default_factory=list)
    semantic_target_weight: float = 0.0
    tau_semantic: float = 0.1
    tau_relation: float = 0.1
    max_none_pairs: int = 32  # NONE cells sampled per sentence for the relation contrast
    # How the terms are weighed against each other (see ner.training.gradients and docs/ner.md):
    none_anchors: str = "cap"  # cap: max_none_pairs NONE cells per sentence; balanced: one per relation cell (capped)
    # cell: mean over all cells of the batch; sentence: mean of per-sentence means; equal: every cell weighs
    # 1 / (64 x sentences in the batch) whatever the sentence lengths (ner.model.losses.grid_cross_entropy)
    grid_loss: str = "cell"
    contrastive_warmup: float = 0.0  # contrastive weights ramp 0 -> full over this fraction (< 1) or number of steps
    aux_grad_ratio: float | None = None  # cap each contrastive term's encoder gradient at this x the supervised one
    grad_norm_every: int = 0  # every N steps log each term's gradient norm on the encoder (0 = never)
    limit: int | None = None  # use only the first N code-switched pairs (None or <= 0 = all)
    # Joined long inputs (ner.data.joining): this share of the training pool is made of 2..joined_max examples
    # joined by "." ("。" in zh / ja views), both views of a pair alike, each fitting one encoder row; 0 = off.
    # With grid_loss: equal it trains the relation head on long inputs (docs/results.md, "Long inputs").
    joined_inputs: float = 0.0
    joined_max: int = 12  # most examples in one joined input (>= 2)
    log_every: int = 10
    # Tools that receive the metrics.jsonl records as well (ner.training.reporting.REPORT_TO): tensorboard.
    report_to: list[str] = field(default_factory=list)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # auto: bf16 on CUDA (else fp16) and on CPUs with native bfloat16 (AVX512-BF16/AMX), fp32 elsewhere | bf16 |
    # fp16 (CUDA) | off (fp32). Autocast only: weights and optimizer state stay fp32 (ner.inference.precision.amp_dtype).
    amp: str = "auto"
    resume: bool = False  # require an existing checkpoint (resuming is automatic anyway)
    # --- speed ---
    # Length-bucketed batches: each (global) batch is cut from a pool of this many batches sorted by length, so
    # the encoder and the W^2 grid pay for less padding; every pair is still seen once per epoch, but batchmates
    # have similar lengths (ner.data.buckets says what that does to randomness). 0 = uniformly shuffled batches.
    bucket_batches: int = 32

    def _head_has_pairs(self) -> bool:
        try:
            return head_class(self.model.head).has_pair_features
        except ValueError as exc:
            raise NerError(f"model: {exc}") from None

    def effective_relation_weight(self) -> float:
        if self.relation_weight is None:
            return 0.5 if self._head_has_pairs() else 0.0
        return self.relation_weight

    def validate(self) -> None:
        """Fail early, before any data or model is loaded, on contradictory settings."""
        if not self.shards:
            raise NerError("no code-switched shards given (use --shards DIR [DIR ...] or `shards:` in the config)")
        try:
            self.model.__post_init__()  # re-check head / pooling after command-line overrides
        except ValueError as exc:
            raise NerError(f"model: {exc}") from None
        if self.relation_weight is not None and self.relation_weight > 0 and not self._head_has_pairs():
            raise NerError(
                f"the relation contrastive loss needs --head {' or '.join(pair_heads())} (word-pair "
                f"representations), not --head {self.model.head}; use --relation-weight 0 with it"
            )
        if not (self.use_src or self.use_cs or self.pseudo):
            raise NerError("no supervised loss left: --no-src and --no-cs together train nothing")
        if self.freeze_layers < 0:
            raise NerError(f"freeze_layers must be >= 0, got {self.freeze_layers}")
        if self.bucket_batches < 0:
            raise NerError(f"bucket_batches must be >= 0, got {self.bucket_batches}")
        for name in ("batch_size", "epochs", "log_every", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise NerError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise NerError(f"max_steps must be >= 1, got {self.max_steps}")
        for name in ("semantic_weight", "weight_decay", "grad_clip", "warmup", "eval_every"):
            if getattr(self, name) < 0:
                raise NerError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.effective_relation_weight() < 0:
            raise NerError(f"relation_weight must be >= 0, got {self.relation_weight}")
        if self.pseudo_fraction is not None and not 0.0 <= self.pseudo_fraction < 1.0:
            raise NerError(f"pseudo_fraction must be in [0, 1), got {self.pseudo_fraction}")
        if self.tau_semantic <= 0 or self.tau_relation <= 0:
            raise NerError("temperatures (tau_semantic, tau_relation) must be > 0")
        if self.semantic_target_weight < 0:
            raise NerError(f"semantic_target_weight must be >= 0, got {self.semantic_target_weight}")
        if self.semantic_target_weight > 0 and not self.target_pairs:
            raise NerError("semantic_target_weight > 0 needs --target-pairs DIR (text shards: target sentences "
                           "code-switched into the source language)")
        if self.none_anchors not in ("cap", "balanced"):
            raise NerError(f"unknown none_anchors {self.none_anchors!r} (use cap or balanced)")
        if self.grid_loss not in GRID_REDUCTIONS:
            raise NerError(f"unknown grid_loss {self.grid_loss!r} (use {', '.join(GRID_REDUCTIONS)})")
        if not 0.0 <= self.joined_inputs <= 1.0:
            raise NerError(f"joined_inputs must be in [0, 1] (the share of training examples made of joined "
                           f"inputs), got {self.joined_inputs}")
        if self.joined_max < 2:
            raise NerError(f"joined_max must be >= 2 (examples joined into one input), got {self.joined_max}")
        if self.contrastive_warmup < 0 or self.grad_norm_every < 0:
            raise NerError("contrastive_warmup and grad_norm_every must be >= 0")
        if self.aux_grad_ratio is not None and (self.aux_grad_ratio <= 0 or self.grad_norm_every < 1):
            raise NerError("aux_grad_ratio must be > 0 and needs grad_norm_every >= 1 (it is measured at those steps)")
        if self.amp not in ("auto", "bf16", "fp16", "off"):
            raise NerError(f"unknown amp mode {self.amp!r} (use auto, bf16, fp16 or off)")
        check_report_to(self.report_to)


@dataclass
class SelfTrainConfig:
    """Self-training (teacher -> pseudo-labels -> student), one or more rounds.

    Pseudo-label filter, per round (see ner.training.self_training for the why):
    1. a sentence is a candidate when every entity the teacher predicts in it has score >= threshold;
    2. for every entity type T, candidates containing T are ranked by their lowest entity score and
       the top `top_fraction` of them are selected for T; a sentence is kept when it is selected for
       every type it contains;
    3. sentences without any predicted entity are kept as negatives, sampled at random up to
       `negative_ratio` x (number of kept sentences with entities).
    """

    teacher: str = ""  # run directory (or model directory) of the first teacher
    unlabeled: list[str] = field(default_factory=list)  # unlabeled shard directories (target language)
    out: str = "runs/self-train"
    rounds: int = 1
    threshold: float = 0.9
    top_fraction: float = 0.5
    # Rank candidates within each (language, type) instead of each type. Off by default: on the quick
    # recipe it kept more of the weakest languages' pseudo-labels and lost F1 (docs/ner.md).
    per_language: bool = False
    negative_ratio: float = 0.2
    # A kept sentence's grid cells that the teacher labels NONE while giving at least this much
    # probability to a relation are left out of the student's loss instead of being taught as NONE:
    # they are where the teacher's misses (false negatives) live. None = every cell is trained.
    uncertain_cells: float | None = None
    max_unlabeled: int | None = None  # label at most this many unlabeled sentences per round
    label_batch_size: int = 64
    train: TrainConfig = field(default_factory=TrainConfig)  # student settings (shards, steps, losses...)

    def validate(self) -> None:
        if not self.teacher:
            raise NerError("no teacher given (use --model RUN)")
        if not self.unlabeled:
            raise NerError("no unlabeled shards given (use --unlabeled DIR [DIR ...])")
        if self.rounds < 1:
            raise NerError(f"rounds must be >= 1, got {self.rounds}")
        if not 0.0 <= self.threshold <= 1.0:
            raise NerError(f"threshold must be in [0, 1], got {self.threshold}")
        if not 0.0 < self.top_fraction <= 1.0:
            raise NerError(f"top_fraction must be in (0, 1], got {self.top_fraction}")
        if self.negative_ratio < 0:
            raise NerError(f"negative_ratio must be >= 0, got {self.negative_ratio}")
        if self.uncertain_cells is not None and not 0.0 < self.uncertain_cells < 1.0:
            raise NerError(f"uncertain_cells must be in (0, 1), got {self.uncertain_cells}")
        self.train.validate()


# --- dict <-> dataclass ------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check `value` against a field annotation (int, float, bool, str, list[...], X | None, dataclass)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key, where)
            except NerError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else NerError(f"{where}: {key!r} must be {_type_name(tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise NerError(f"{where}: {key!r} must be a mapping of {_type_name(tp)} fields, got {value!r}")
        return from_dict(tp, value, where, prefix=f"{key}.")
    if origin is tuple:  # tuple[int, ...]
        item = (typing.get_args(tp) or (Any,))[0]
        if not isinstance(value, list | tuple):
            value = [value]
        return tuple(_coerce(v, item, key, where) for v in value)
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            value = [value]  # `shards: data/cs/en-ja` means a list of one
        if not isinstance(value, list | tuple):
            raise NerError(f"{where}: {key!r} must be a list, got {value!r}")
        return [_coerce(v, item, key, where) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    elif tp is Any:
        return value
    else:
        return value
    hint = " (YAML reads a bare off/on/no/yes as a boolean: quote it, e.g. \"off\")" if tp is str and isinstance(value, bool) else ""
    raise NerError(f"{where}: {key!r} must be {_type_name(tp)}, got {value!r}{hint}")


def from_dict(cls: type, data: dict, where: str = "config", prefix: str = "") -> Any:
    """Build dataclass `cls` from a mapping; unknown keys and wrong types raise `NerError`."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in hints or key not in names:
            raise NerError(f"{where}: unknown key {prefix + str(key)!r} (known: {', '.join(names)})")
        kwargs[key] = _coerce(value, hints[key], prefix + key, where)
    try:
        return cls(**kwargs)
    except ValueError as exc:  # ModelConfig.__post_init__ checks head / pooling
        raise NerError(f"{where}: {prefix.rstrip('.') or cls.__name__}: {exc}") from None


def _plain(value: Any) -> Any:
    """Tuples (ModelConfig.dilations) become lists so that yaml.safe_dump can write them."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_dict(cfg: Any) -> dict:
    return _plain(asdict(cfg))


def read_yaml(path: str | Path) -> dict:
    p = Path(path)
    try:
        data = yaml.safe_load(read_text_file(p))
    except CslibError as exc:
        raise NerError(str(exc).replace("file not found", "config file not found")) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise NerError(f"{p}{line}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise NerError(f"{p}: expected a mapping of settings at the top level")
    return data


def apply_overrides(cfg: Any, overrides: dict[str, Any], where: str = "command line") -> Any:
    """Set dotted keys (`model.head`, `train.max_steps`) on a dataclass tree, with type checks."""
    for dotted, value in overrides.items():
        target = cfg
        *parents, last = dotted.split(".")
        for part in parents:
            target = getattr(target, part)
        hints = typing.get_type_hints(type(target))
        if last not in hints:
            raise NerError(f"{where}: unknown setting {dotted!r}")
        setattr(target, last, _coerce(value, hints[last], dotted, where))
    return cfg


def load_train_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """YAML file (optional) then overrides (flags win)."""
    cfg = from_dict(TrainConfig, read_yaml(path), str(path)) if path else TrainConfig()
    return apply_overrides(cfg, overrides or {})


def load_self_train_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> SelfTrainConfig:
    cfg = from_dict(SelfTrainConfig, read_yaml(path), str(path)) if path else SelfTrainConfig()
    return apply_overrides(cfg, overrides or {})


def dump_yaml(cfg: Any, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True), encoding="utf-8")
