"""`ner diagnose RUN --lang L ...`: the measurements that say what each part of mCL-NER does.

Writes ``OUT/diagnostics.json`` and PNGs (default ``OUT = RUN/diagnostics``):

* ``alignment``: Tatoeba retrieval P@1 (both directions), source vs code-switched sentence cosine and
  switched-entity word cosine, for the raw encoder and the trained model (`alignment.py`);
* ``relation_space``: silhouette of word-pair features by relation label, per view and pooled, the
  source/code-switched centroid cosine per label, and the floor of the relation contrastive loss
  at the run's batch size next to the loss it logged; ``relation_tsne.png`` (`relation_space.py`);
* ``dynamics``: per-term gradient norms on the encoder and the share of clipped steps, from the
  run's metrics.jsonl; ``dynamics.png`` (`dynamics.py`);
* ``self_training``: pseudo-label precision / recall / F1 over the confidence threshold against the
  unlabeled pool's gold tags (diagnosis only), and English dev F1 per round; ``pseudo_labels.png``
  (`pseudo_labels.py`).

Held-out pairs are code-switched pairs the run never trained on: the data order is a pure function
of the seed (`ner.data.sampling.epoch_batches`), so the pairs its steps consumed are known exactly.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch

from cslib import CslibError, load_parallel, load_split, tokenize
from ner.data.pseudo_labels import load_pseudo
from ner.data.sampling import batches_per_epoch, epoch_batches, pseudo_repeat
from ner.data.shards import load_pairs, open_shard_dirs
from ner.data.unlabeled import load_unlabeled
from ner.diagnostics import alignment, dynamics, pseudo_labels, relation_space
from ner.errors import NerError
from ner.inference.loading import load_model, resolve_model_dir
from ner.inference.precision import inference_amp, resolve_device
from ner.inference.tagging import predict_entities
from ner.model.encoder import WordEncoder
from ner.model.losses import sample_pairs
from ner.training.checkpoint import finished_steps
from ner.training.config import SelfTrainConfig, TrainConfig, from_dict, read_yaml

log = logging.getLogger("ner.diagnose")
CS_COLUMNS = ["id", "tgt_lang", "src_tokens", "src_tags", "cs_tokens", "cs_tags", "cs_langs", "cs_src_index"]


@dataclass
class DiagnoseConfig:
    """What `ner diagnose` measures, and on how much data."""

    run: str = ""  # a training run, or a self-training run (its final student is diagnosed)
    langs: list[str] = field(default_factory=list)  # target languages
    out: str | None = None  # default RUN/diagnostics
    data_root: str | None = None
    tatoeba: int = 1000  # Tatoeba pairs per language (retrieval)
    heldout: int = 300  # held-out code-switched pairs per language (cosines, relation space)
    tsne_points: int = 3000  # 0 = no t-SNE picture
    unlabeled: list[str] = field(default_factory=list)  # pool for the pseudo-label curve (default: the self-training run's)
    raw: bool = True  # also measure the pre-trained encoder
    batch_size: int = 32
    amp: str = "auto"
    device: str = "auto"
    seed: int = 0

    def validate(self) -> None:
        if not self.run:
            raise NerError("no run given (ner diagnose RUN --lang L ...)")
        if not self.langs:
            raise NerError("no language given (--lang L [L ...])")
        for lang in self.langs:
            try:
                tokenize("check", lang)  # an unknown language code fails here, in one line
            except CslibError as exc:
                raise NerError(str(exc)) from None
        for name in ("tatoeba", "heldout", "batch_size"):
            if getattr(self, name) < 1:
                raise NerError(f"{name} must be >= 1, got {getattr(self, name)}")


@dataclass
class RunInfo:
    """A run directory as diagnose sees it: the model's run, its config, and self-training context."""

    run: Path  # the training run whose model is diagnosed
    cfg: TrainConfig
    self_train: SelfTrainConfig | None = None
    self_train_dir: Path | None = None


def locate_run(path: str | os.PathLike[str]) -> RunInfo:
    """A training run (config.yaml + model/), or a self-training run (self_training.json), whose
    final student is the model diagnosed. Anything else is a one-line error."""
    p = Path(path)
    if not p.is_dir():
        raise NerError(f"{p}: run directory not found")
    st_dir = None
    if (p / "self_training.json").is_file():
        st_dir = p
        final = json.loads((p / "self_training.json").read_text(encoding="utf-8")).get("final")
        p = Path(final) if final else p
    elif (p.parent.parent / "self_training.json").is_file() and p.parent.name.startswith("round-"):
        st_dir = p.parent.parent
    cfg_path = p / "config.yaml"
    if not cfg_path.is_file() or not (p / "model").is_dir():
        raise NerError(f"{path}: not a run directory (needs config.yaml and model/, as `ner train` writes)")
    try:
        cfg = from_dict(TrainConfig, read_yaml(cfg_path), str(cfg_path))
    except NerError as exc:
        raise NerError(f"{cfg_path}: not a training run's config ({exc})") from None
    st = None
    if st_dir is not None:
        st = from_dict(SelfTrainConfig, read_yaml(st_dir / "config.yaml"), str(st_dir / "config.yaml"))
    return RunInfo(p, cfg, st, st_dir)


def consumed_indices(n: int, batch_size: int, seed: int, steps: int, world_size: int = 1) -> set[int]:
    """Indices of the training pool that `steps` optimizer steps consumed (single process order)."""
    per_epoch = batches_per_epoch(n, batch_size * world_size)
    used: set[int] = set()
    for epoch in range(math.ceil(steps / per_epoch)):
        batches = epoch_batches(n, batch_size * world_size, epoch, seed)
        for b in batches[: steps - epoch * per_epoch]:
            used.update(b)
    return used


def heldout_rows(info: RunInfo, langs: list[str], per_lang: int, seed: int) -> dict[str, list[dict[str, Any]]]:
    """Up to `per_lang` code-switched rows per target language that the run never trained on."""
    cfg = info.cfg
    examples, _ = load_pairs(cfg.shards, limit=cfg.limit)
    n_pseudo = sum(len(load_pseudo(p)) for p in cfg.pseudo)
    n_pool = len(examples) + n_pseudo * pseudo_repeat(len(examples), n_pseudo, cfg.pseudo_fraction)
    steps = finished_steps(info.run) or (cfg.max_steps or 0)
    used_ids = {examples[i].id for i in consumed_indices(n_pool, cfg.batch_size, cfg.seed, steps) if i < len(examples)}
    rows: dict[str, list[dict[str, Any]]] = {lang: [] for lang in langs}
    for shard_set in open_shard_dirs(cfg.shards, "codeswitch"):
        for path in shard_set.files:
            table = pq.read_table(path, columns=CS_COLUMNS).to_pylist()
            for row in table:
                lang = row["tgt_lang"]
                if lang in rows and row["id"] not in used_ids:
                    rows[lang].append(row)
    rng = np.random.default_rng(seed)
    out = {}
    for lang, found in rows.items():
        if len(found) > per_lang:
            pick = sorted(rng.choice(len(found), per_lang, replace=False).tolist())
            found = [found[k] for k in pick]
        out[lang] = found
    return out


def _alignment(lang: str, encoders: dict[str, WordEncoder], held: list[dict[str, Any]], dcfg: DiagnoseConfig,
               amp: torch.dtype | None, src_lang: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    try:
        eng, other = load_parallel(lang, dcfg.data_root)
    except CslibError as exc:
        log.warning("%s: no Tatoeba pairs (%s); retrieval skipped", lang, exc)
        result["tatoeba"] = {"skipped": str(exc)}
        eng = other = []
    pairs = [(e, o) for e, o in zip(eng, other, strict=True) if e.strip() and o.strip()][: dcfg.tatoeba]
    if pairs:
        en_tok = [tokenize(e, src_lang) for e, _ in pairs]
        xx_tok = [tokenize(o, lang) for _, o in pairs]
        result["tatoeba"] = {"pairs": len(pairs)}
        for name, enc in encoders.items():
            a = alignment.sentence_matrix(alignment.encode(enc, en_tok, dcfg.batch_size, amp))
            b = alignment.sentence_matrix(alignment.encode(enc, xx_tok, dcfg.batch_size, amp))
            en_x, x_en = alignment.retrieval_p_at_1(a, b)
            result["tatoeba"][name] = {"p_at_1_en_to_x": en_x, "p_at_1_x_to_en": x_en}
    if len(held) >= 2:
        result["codeswitched"] = {"pairs": len(held)}
        for name, enc in encoders.items():
            src = alignment.encode(enc, [r["src_tokens"] for r in held], dcfg.batch_size, amp)
            cs = alignment.encode(enc, [r["cs_tokens"] for r in held], dcfg.batch_size, amp)
            result["codeswitched"][name] = {
                "sentence_cosine": alignment.paired_cosines(alignment.sentence_matrix(src),
                                                            alignment.sentence_matrix(cs), dcfg.seed),
                "entity_word_cosine": alignment.entity_word_cosines(
                    src, cs, [r["src_tags"] for r in held], [r["cs_tags"] for r in held],
                    [r["cs_src_index"] for r in held], [r["cs_langs"] for r in held], src_lang, dcfg.seed),
            }
    return result


def _relation(model, held: dict[str, list[dict[str, Any]]], cfg: TrainConfig, dcfg: DiagnoseConfig,
              out: Path) -> dict[str, Any]:
    rows = [r for lang in held for r in held[lang]]
    if not rows:
        return {"skipped": "no held-out code-switched pairs"}
    gen = torch.Generator().manual_seed(dcfg.seed)
    src_x, src_y = relation_space.pair_samples(model, [r["src_tokens"] for r in rows], [r["src_tags"] for r in rows],
                                               cfg.max_none_pairs, gen, dcfg.batch_size)
    cs_x, cs_y = relation_space.pair_samples(model, [r["cs_tokens"] for r in rows], [r["cs_tags"] for r in rows],
                                             cfg.max_none_pairs, gen, dcfg.batch_size)
    names = list(model.relation_schema.labels)
    x, y = np.concatenate([src_x, cs_x]), np.concatenate([src_y, cs_y])
    views = np.array(["src"] * len(src_y) + ["cs"] * len(cs_y))
    finite = np.isfinite(x).all(1)
    if not finite.all():  # a diverged model: measure what is left, and say how much was not
        log.warning("relation space: %d of %d pair features are not finite and are left out", (~finite).sum(), len(x))
        x, y, views = x[finite], y[finite], views[finite]
        src_ok, cs_ok = np.isfinite(src_x).all(1), np.isfinite(cs_x).all(1)
        src_x, src_y, cs_x, cs_y = src_x[src_ok], src_y[src_ok], cs_x[cs_ok], cs_y[cs_ok]
    sample = _stratified(y, limit=dcfg.tsne_points or 4000, seed=dcfg.seed)
    result: dict[str, Any] = {
        "pairs": {"src": int(len(src_y)), "cs": int(len(cs_y))}, "non_finite_pairs": int((~finite).sum()),
        "label_counts": {names[k]: int((y == k).sum()) for k in range(len(names))},
        "silhouette": {"pooled": relation_space.silhouette(x[sample], y[sample]),
                       "pooled_without_none": _silhouette_without(x, y, 0, dcfg.seed),
                       "src": relation_space.silhouette(src_x, src_y), "cs": relation_space.silhouette(cs_x, cs_y)},
        "centroid_cosine": relation_space.centroid_cosines(src_x, src_y, cs_x, cs_y, names),
    }
    # The relation contrastive loss's floor at the run's batch size, from the same sampling it uses.
    floors = []
    gold_gen = torch.Generator().manual_seed(dcfg.seed)
    for start in range(0, len(rows) - cfg.batch_size + 1, cfg.batch_size):
        chunk = rows[start:start + cfg.batch_size]
        labels = []
        for view in ("src", "cs"):
            batch = model.collate([r[f"{view}_tokens"] for r in chunk], [r[f"{view}_tags"] for r in chunk])
            labels += sample_pairs(batch["gold"], cfg.max_none_pairs, gold_gen)[3].tolist()
        floors.append(relation_space.supcon_floor(labels))
    if floors:
        result["contrastive_floor"] = float(np.mean(floors))
    if dcfg.tsne_points and len(sample) >= 10:
        relation_space.tsne_png(x[sample], y[sample], views[sample], model.relation_schema, out / "relation_tsne.png",
                                f"word-pair features by relation ({', '.join(held)})", dcfg.seed)
        result["tsne"] = "relation_tsne.png"
    return result


def _stratified(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Indices of at most `limit` points in which NONE (label 0) is at most half."""
    rng = np.random.default_rng(seed)
    rel = np.flatnonzero(labels != 0)
    none = np.flatnonzero(labels == 0)
    rel = rng.permutation(rel)[: limit // 2]
    none = rng.permutation(none)[: max(len(rel), limit - len(rel)) if len(rel) < limit // 2 else len(rel)]
    return np.sort(np.concatenate([rel, none[: limit - len(rel)]]))


def _silhouette_without(x: np.ndarray, y: np.ndarray, label: int, seed: int) -> float | None:
    keep = y != label
    return relation_space.silhouette(x[keep], y[keep])


def _self_training(info: RunInfo, dcfg: DiagnoseConfig, device: torch.device, amp: torch.dtype | None,
                   langs: list[str], out: Path) -> dict[str, Any]:
    st = info.self_train
    pools = dcfg.unlabeled or (st.unlabeled if st else [])
    if not pools:
        return {"skipped": "not a self-training run and no --unlabeled pool given"}
    teacher_dir = resolve_model_dir(st.teacher) if st else info.run
    sentences = [s for s in load_unlabeled(pools, limit=st.max_unlabeled if st else None) if s.lang in langs]
    if not sentences:
        return {"skipped": f"the unlabeled pool has no sentences in {', '.join(langs)}"}
    labeled = {lang: load_split("panx", lang, "train", data_root=dcfg.data_root) for lang in langs}
    gold = pseudo_labels.gold_lookup(sentences, labeled)
    teacher = load_model(teacher_dir, device)
    ents = predict_entities(teacher, [s.tokens for s in sentences], dcfg.batch_size * 2, amp)
    del teacher
    top, neg = (st.top_fraction, st.negative_ratio) if st else (0.5, 0.2)
    seed = (st.train.seed + 1) if st else 0
    curves = pseudo_labels.threshold_curve(sentences, ents, gold, top, neg, seed=seed,
                                           per_language=bool(st and st.per_language))
    result: dict[str, Any] = {"teacher": str(teacher_dir), "pool": len(sentences),
                              "gold_found": sum(g is not None for g in gold), "curves": curves,
                              "threshold_used": st.threshold if st else None}
    rounds = []
    if info.self_train_dir is not None:
        summary = json.loads((info.self_train_dir / "self_training.json").read_text(encoding="utf-8"))
        for r in summary.get("rounds", []):
            dm = Path(r["student"]) / "dev_metrics.json"
            best = json.loads(dm.read_text(encoding="utf-8")).get("best_f1") if dm.is_file() else None
            rounds.append({"round": r["round"], "student": r["student"], "src_dev_f1": best})
        teacher_dm = teacher_dir.parent / "dev_metrics.json"
        if teacher_dm.is_file():
            rounds.insert(0, {"round": 0, "student": str(teacher_dir.parent),
                              "src_dev_f1": json.loads(teacher_dm.read_text(encoding="utf-8")).get("best_f1")})
    result["rounds"] = rounds
    _plot_curves(curves, out / "pseudo_labels.png", st.threshold if st else None)
    result["plot"] = "pseudo_labels.png"
    return result


def _plot_curves(curves: dict[str, list[dict[str, Any]]], path: Path, used: float | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for lang, pts in curves.items():
        t = [p["threshold"] for p in pts]
        line = axes[0].plot(t, [p["precision"] for p in pts], marker="o", ms=3, label=f"{lang} precision")[0]
        axes[0].plot(t, [p["recall"] for p in pts], ls="--", color=line.get_color(), label=f"{lang} recall")
        axes[1].plot(t, [p["kept"] / max(p["pool"], 1) for p in pts], marker="o", ms=3, label=lang)
    for ax in axes:
        ax.set_xlabel("confidence threshold")
        if used is not None:
            ax.axvline(used, color="grey", lw=0.8)
    axes[0].set_title("pseudo-labels vs gold (kept sentences)")
    axes[1].set_title("share of the pool kept")
    axes[0].legend(fontsize=7, ncol=2)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_alignment(per_lang: dict[str, Any], path: Path) -> bool:
    langs = [lang for lang, r in per_lang.items() if "raw" in r.get("tatoeba", {}) or "trained" in r.get("tatoeba", {})]
    if not langs:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(langs) + 2), 3.5))
    width = 0.2
    for k, (enc, direction) in enumerate([(e, d) for e in ("raw", "trained") for d in ("en_to_x", "x_to_en")]):
        vals = [per_lang[lang]["tatoeba"].get(enc, {}).get(f"p_at_1_{direction}", np.nan) for lang in langs]
        ax.bar(np.arange(len(langs)) + (k - 1.5) * width, vals, width, label=f"{enc} {direction.replace('_', ' ')}")
    ax.set_xticks(np.arange(len(langs)), langs)
    ax.set_ylim(0, 1)
    ax.set_ylabel("Tatoeba P@1")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def diagnose(dcfg: DiagnoseConfig) -> dict[str, Any]:
    """Run every diagnostic; returns what it writes to OUT/diagnostics.json."""
    dcfg.validate()
    t0 = time.perf_counter()
    info = locate_run(dcfg.run)
    out = Path(dcfg.out or (Path(dcfg.run) / "diagnostics"))
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(dcfg.device)
    amp = inference_amp(dcfg.amp, device)
    model = load_model(info.run, device)
    src_lang = "en"
    examples, _ = load_pairs(info.cfg.shards, limit=1)
    if examples and examples[0].src_lang:
        src_lang = examples[0].src_lang
    encoders: dict[str, WordEncoder] = {"trained": model.encoder}
    if dcfg.raw:
        raw = WordEncoder(info.cfg.model.encoder, pooling=info.cfg.model.pooling,
                          max_subwords=info.cfg.model.max_subwords,
                          subword_space=model.cfg.subword_space).to(device)
        encoders = {"raw": raw, "trained": model.encoder}
    log.info("diagnose %s: languages %s", info.run, ", ".join(dcfg.langs))
    held = heldout_rows(info, dcfg.langs, dcfg.heldout, dcfg.seed)
    result: dict[str, Any] = {"run": str(info.run), "config": asdict(dcfg), "source_lang": src_lang,
                              "heldout_pairs": {k: len(v) for k, v in held.items()}, "alignment": {}}
    for lang in dcfg.langs:
        result["alignment"][lang] = _alignment(lang, encoders, held[lang], dcfg, amp, src_lang)
        log.info("alignment %s: %s", lang, json.dumps(result["alignment"][lang].get("tatoeba", {})))
    if _plot_alignment(result["alignment"], out / "alignment.png"):
        result["alignment_plot"] = "alignment.png"
    if model.head.has_pair_features:
        result["relation_space"] = _relation(model, held, info.cfg, dcfg, out)
    records = dynamics.read_metrics(info.run / "metrics.jsonl")
    result["dynamics"] = dynamics.summarize(records)
    if dynamics.plot(records, out / "dynamics.png", f"training dynamics: {info.run}"):
        result["dynamics"]["plot"] = "dynamics.png"
    del encoders, model
    result["self_training"] = _self_training(info, dcfg, device, amp, dcfg.langs, out)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    (out / "diagnostics.json").write_text(json.dumps(result, indent=2, ensure_ascii=False, default=float) + "\n",
                                          encoding="utf-8")
    log.info("wrote %s in %.0fs", out / "diagnostics.json", result["seconds"])
    return result
