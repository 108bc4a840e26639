"""Self-training on unlabeled target-language text (the last stage of mCL-NER).

Each round: the teacher labels the unlabeled shards, a filter keeps the pseudo-labels it is
most sure of, and a student initialised from the teacher is trained on source + code-switched
pairs + the kept pseudo-labeled sentences. The next round's teacher is this round's student.

Filter (why each step):

1. *Threshold*: a sentence is a candidate only if **every** entity predicted in it has score
   >= `threshold`. One doubtful span makes the whole sentence's tags doubtful, including its
   O tags, which are also training signal.
2. *Top fraction per type* (and per language with `per_language`): the candidates containing
   type T are ranked by their lowest entity score and the best `top_fraction` are selected for
   T; a sentence is kept when it is selected for every type it contains. A single global cut
   would keep mostly the easiest type (PER in PAN-X) and starve the others. Ranking per
   language too forces every language in, including those whose pseudo-labels are worst.
3. *Negatives*: sentences with no predicted entity teach the model what is not an entity, but
   most sentences look like that and a low-recall teacher would flood the student with false
   negatives, so they are kept at random, at most `negative_ratio` x the kept positives.

Layout: OUT/round-R/pseudo.jsonl, OUT/round-R/pseudo_stats.json, OUT/round-R/student/ (a run
directory), OUT/self_training.json. Rerunning resumes: finished pseudo-label files are reused
and student runs resume from their checkpoints.
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from ner.data.pseudo_labels import write_pseudo
from ner.data.records import Example, UnlabeledSentence
from ner.data.unlabeled import load_unlabeled
from ner.errors import NerError
from ner.inference.loading import load_model, resolve_model_dir
from ner.inference.precision import amp_dtype, autocast, resolve_device
from ner.inference.tagging import predict_entities
from ner.model.config import ModelConfig
from ner.model.grid import Entity, entities_to_tags
from ner.model.ner_model import CONFIG_FILE, NerModel
from ner.training.config import SelfTrainConfig, dump_yaml
from ner.training.distributed import close_distributed, init_distributed, world
from ner.training.loop import train

log = logging.getLogger("ner.training.self_training")


def select_pseudo_labels(
    sentences: Sequence[UnlabeledSentence],
    entities: Sequence[Sequence[Entity]],
    threshold: float,
    top_fraction: float,
    negative_ratio: float,
    seed: int = 0,
    per_language: bool = False,
) -> tuple[list[Example], dict[str, Any]]:
    """Apply the documented filter; returns kept examples (input order) and per-type statistics.

    `per_language`: rank within each (language, type) rather than each type, so that every language
    contributes; a global ranking instead favours the languages the teacher is most sure of.
    """
    candidates: list[tuple[int, float, set[str]]] = []
    negatives: list[int] = []
    predicted: Counter[str] = Counter()
    for i, ents in enumerate(entities):
        predicted.update(e.type for e in ents)
        if not ents:
            negatives.append(i)
        elif min(e.score for e in ents) >= threshold:
            candidates.append((i, min(e.score for e in ents), {e.type for e in ents}))
    types = sorted({t for _, _, ts in candidates for t in ts})

    def group(i: int) -> str:
        return (sentences[i].lang or "") if per_language else ""

    selected: dict[tuple[str, str], set[int]] = {}
    n_candidates: Counter[str] = Counter()
    for key in sorted({(group(i), t) for i, _, ts in candidates for t in ts}):
        ranked = sorted((c for c in candidates if key[1] in c[2] and group(c[0]) == key[0]), key=lambda c: (-c[1], c[0]))
        n_candidates[key[1]] += len(ranked)
        selected[key] = {c[0] for c in ranked[: math.ceil(top_fraction * len(ranked))]}
    kept_pos = [i for i, _, ts in candidates if all(i in selected[(group(i), t)] for t in ts)]
    n_neg = min(len(negatives), math.floor(negative_ratio * len(kept_pos)))
    kept_neg = random.Random(seed).sample(negatives, n_neg)
    keep = sorted(kept_pos + kept_neg)
    examples = []
    for i in keep:
        s = sentences[i]
        examples.append(Example(s.id, list(s.tokens), entities_to_tags(entities[i], len(s.tokens)), lang=s.lang))
    kept_entities: Counter[str] = Counter(e.type for i in kept_pos for e in entities[i])
    kept_sentences: Counter[str] = Counter(t for i in kept_pos for t in {e.type for e in entities[i]})
    per_type = {
        t: {"predicted_entities": predicted[t], "candidate_sentences": n_candidates.get(t, 0),
            "kept_sentences": kept_sentences[t], "kept_entities": kept_entities[t]}
        for t in sorted(set(predicted) | set(types))
    }
    stats = {
        "sentences": len(sentences), "with_entities": len(sentences) - len(negatives),
        "passed_threshold": len(candidates), "kept_with_entities": len(kept_pos),
        "kept_negatives": n_neg, "kept": len(keep), "per_type": per_type,
        "kept_per_language": dict(sorted(Counter(sentences[i].lang or "" for i in kept_pos).items())),
        "filter": {"threshold": threshold, "top_fraction": top_fraction, "negative_ratio": negative_ratio,
                   "per_language": per_language},
    }
    return examples, stats


@torch.inference_mode()
def uncertain_cells(model: NerModel, examples: Sequence[Example], threshold: float, batch_size: int = 32,
                    amp: torch.dtype | None = None) -> list[list[tuple[int, int]]]:
    """Per example: the positions its pseudo-labels make 'no entity' although the teacher gives an entity
    class at least `threshold` probability (`Head.doubtful_cells`; empty lists for heads that cannot leave
    positions out of the loss).

    A teacher that missed an entity usually still gave its cells some relation probability; labeling
    those cells NONE would teach the student the teacher's miss as a fact.
    """
    out: list[list[tuple[int, int]]] = [[] for _ in examples]
    if not model.head.ignores_cells:
        return out
    model.eval()
    order = sorted(range(len(examples)), key=lambda k: len(examples[k].src_tokens))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = model.collate([examples[k].src_tokens for k in idx], [examples[k].src_tags for k in idx])
        with autocast(model.device, amp):
            logits = model(batch).logits
        for k, cells in zip(idx, model.head.doubtful_cells(logits, batch["gold"], threshold), strict=True):
            out[k] = cells
    return out


def _model_config(model_dir: Path) -> ModelConfig:
    meta = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    return ModelConfig.from_dict(meta["model_config"])


def _label_round(cfg: SelfTrainConfig, teacher: Path, unlabeled: list[UnlabeledSentence], rdir: Path,
                 round_no: int) -> dict[str, Any]:
    device = resolve_device(cfg.train.device)
    model = load_model(teacher, device)
    log.info("round %d: teacher %s labels %d sentences", round_no, teacher, len(unlabeled))
    amp = amp_dtype(cfg.train.amp, device)
    ents = predict_entities(model, [u.tokens for u in unlabeled], cfg.label_batch_size, amp)
    examples, stats = select_pseudo_labels(unlabeled, ents, cfg.threshold, cfg.top_fraction, cfg.negative_ratio,
                                           seed=cfg.train.seed + round_no, per_language=cfg.per_language)
    if cfg.uncertain_cells is not None:
        cells = uncertain_cells(model, examples, cfg.uncertain_cells, cfg.label_batch_size // 2, amp)
        for ex, ignore in zip(examples, cells, strict=True):
            ex.ignore = ignore or None
        stats["uncertain_cells"] = {"threshold": cfg.uncertain_cells, "cells": sum(map(len, cells)),
                                    "sentences_with_any": sum(1 for c in cells if c)}
    del model
    stats.update({"round": round_no, "teacher": str(teacher)})
    rdir.mkdir(parents=True, exist_ok=True)
    write_pseudo(rdir / "pseudo.jsonl", examples)
    (rdir / "pseudo_stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return stats


def _log_stats(round_no: int, stats: dict[str, Any]) -> None:
    log.info("round %d: kept %d of %d sentences (%d with entities passed threshold %.2f, %d kept; %d negatives)",
             round_no, stats["kept"], stats["sentences"], stats["passed_threshold"], stats["filter"]["threshold"],
             stats["kept_with_entities"], stats["kept_negatives"])
    for t, s in stats["per_type"].items():
        log.info("round %d: %-6s kept %d entities in %d sentences (predicted %d entities, %d candidate sentences)",
                 round_no, t, s["kept_entities"], s["kept_sentences"], s["predicted_entities"], s["candidate_sentences"])


def self_train(cfg: SelfTrainConfig) -> Path:
    """Run `cfg.rounds` rounds of self-training; returns the final student's run directory."""
    cfg.validate()
    created = init_distributed()
    run = _self_train(cfg)
    close_distributed(created)
    return run


def _self_train(cfg: SelfTrainConfig) -> Path:
    rank, _ = world()
    out = Path(cfg.out)
    teacher = resolve_model_dir(cfg.teacher)
    unlabeled = load_unlabeled(cfg.unlabeled, limit=cfg.max_unlabeled)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        dump_yaml(cfg, out / "config.yaml")
    rounds: list[dict[str, Any]] = []
    student = out
    for r in range(1, cfg.rounds + 1):
        rdir = out / f"round-{r}"
        stats_path = rdir / "pseudo_stats.json"
        done = stats_path.is_file() and (rdir / "pseudo.jsonl").is_file()
        if done and json.loads(stats_path.read_text(encoding="utf-8")).get("teacher") != str(teacher):
            raise NerError(f"{rdir}: pseudo-labels were made by another teacher; use another --out")
        if rank == 0 and not done:
            _label_round(cfg, teacher, unlabeled, rdir, r)
        if dist.is_available() and dist.is_initialized():
            dist.barrier()
        stats = json.loads(stats_path.read_text(encoding="utf-8"))
        if rank == 0:
            _log_stats(r, stats)
        student = rdir / "student"
        student_cfg = replace(cfg.train, out=str(student), init_from=str(teacher), pseudo=[str(rdir / "pseudo.jsonl")],
                              model=_model_config(teacher))
        train(student_cfg)
        rounds.append({"round": r, "teacher": str(teacher), "student": str(student),
                       "kept": stats["kept"], "per_type": stats["per_type"]})
        teacher = resolve_model_dir(student)
    if rank == 0:
        (out / "self_training.json").write_text(json.dumps({"rounds": rounds, "final": str(student)}, indent=2) + "\n")
        log.info("self-training done: final student %s", student)
    return student
