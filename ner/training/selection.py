"""Dev evaluation during training and the choice of the model that `RUN/model/` keeps.

Zero-shot honesty lives here. By default the best checkpoint is chosen on the dev split of the
shards' *source* language (English): choosing it on a target language's gold dev labels uses
exactly the labels a zero-shot method claims not to have, and flatters every row that does it.
`eval_langs` can still name target languages (e.g. to study an upper bound); the run then says
"not zero-shot" in its log, `dev_metrics.json` and every report that reads it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from cslib import load_split
from ner.data.records import Example
from ner.inference.evaluate import entity_scores
from ner.inference.precision import precision_name
from ner.inference.tagging import predict_tags
from ner.model.ner_model import NerModel
from ner.training.config import TrainConfig

log = logging.getLogger("ner.training.loop")


@dataclass
class Selection:
    """Which dev languages pick the best checkpoint, and whether that keeps the run zero-shot."""

    langs: list[str]
    source_langs: list[str]
    explicit: bool  # set by the user (--eval-langs) rather than the default

    @property
    def target_langs(self) -> list[str]:
        return [lang for lang in self.langs if lang not in self.source_langs]

    @property
    def zero_shot(self) -> bool:
        return not self.target_langs

    def describe(self) -> str:
        if not self.langs:
            return "no dev evaluation: the last step's model is kept"
        where = ", ".join(self.langs)
        if self.zero_shot:
            return f"model selection on {where} dev (source language: zero-shot, no target-language labels)"
        return (f"model selection on {where} dev: uses gold labels of target language(s) "
                f"{', '.join(self.target_langs)}, NOT zero-shot")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "zero_shot": self.zero_shot, "note": self.describe()}


def selection_for(cfg: TrainConfig, examples: Sequence[Example]) -> Selection:
    """`cfg.eval_langs` if given, else the source language(s) of the code-switched pairs."""
    sources = sorted({e.src_lang for e in examples if e.paired and e.src_lang})
    if cfg.eval_langs is not None:
        return Selection(list(cfg.eval_langs), sources, explicit=True)
    return Selection(sources, sources, explicit=False)


def load_dev(cfg: TrainConfig, langs: Sequence[str]) -> dict[str, list[Any]]:
    """PAN-X dev sentences of each selection language (`dev_limit` each)."""
    return {lang: load_split("panx", lang, "dev", data_root=cfg.data_root, limit=cfg.dev_limit) for lang in langs}


def evaluate_dev(model: NerModel, dev: dict[str, list[Any]], batch_size: int, amp: torch.dtype | None) -> dict[str, dict]:
    scores = {}
    for lang, sents in dev.items():
        pred = predict_tags(model, [s.tokens for s in sents], batch_size, amp)
        scores[lang] = entity_scores([s.tags for s in sents], pred)
    return scores


class ModelSelector:
    """Evaluates on dev, appends to the run's history and saves `RUN/model/` when the mean F1 improves.

    `state` is the trainer's TrainState (step, best_f1, best_step, history): it is checkpointed with
    the optimizer, so a resumed run keeps comparing against the same best.
    """

    def __init__(self, run: Path, selection: Selection, dev: dict[str, list[Any]], batch_size: int,
                 amp: torch.dtype | None, write_metrics: Callable[[dict[str, Any]], None] | None) -> None:
        self.run, self.selection, self.dev = run, selection, dev
        self.batch_size, self.amp, self.write_metrics = batch_size, amp, write_metrics

    def save_best(self, model: NerModel, state: Any, scores: dict[str, dict] | None) -> None:
        model.save(self.run / "model")
        log.info("saved best model (step %d%s) to %s", state.step,
                 f", dev F1 {state.best_f1:.4f}" if scores else "", self.run / "model")

    def evaluate(self, model: NerModel, state: Any) -> None:
        scores = evaluate_dev(model, self.dev, self.batch_size, self.amp)
        mean = sum(s["f1"] for s in scores.values()) / len(scores)
        record = {"step": state.step, "dev_f1": mean, "dev": {k: round(v["f1"], 6) for k, v in scores.items()}}
        state.history.append(record)
        if self.write_metrics is not None:
            self.write_metrics({"step": state.step, "type": "eval", **record})
        log.info("step %d dev F1 %.4f (%s)", state.step, mean,
                 " ".join(f"{k} {v['f1']:.4f}" for k, v in scores.items()))
        if mean > state.best_f1:
            state.best_f1, state.best_step = mean, state.step
            self.save_best(model, state, scores)
            best = {k: {m: v[m] for m in ("f1", "precision", "recall", "per_type")} for k, v in scores.items()}
            (self.run / "best_dev.json").write_text(json.dumps(best, indent=2) + "\n")
        self.write(state)

    def write(self, state: Any) -> None:
        """RUN/dev_metrics.json: history, best step, and what the selection used."""
        best = None
        if (self.run / "best_dev.json").is_file() and state.history:
            best = json.loads((self.run / "best_dev.json").read_text())
        data = {"best_step": state.best_step, "best_f1": state.best_f1 if state.history else None, "best": best,
                "last": state.history[-1] if state.history else None, "history": state.history,
                "selection": self.selection.to_dict(), "compute_precision": precision_name(self.amp)}
        (self.run / "dev_metrics.json").write_text(json.dumps(data, indent=2) + "\n")
