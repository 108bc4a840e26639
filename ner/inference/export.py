"""`ner export RUN --out DIR`: a self-contained model directory other people and tools can load.

A run directory needs this code base, the encoder it was trained from (by path or cache id) and
a pickled-state-dict format. An export needs none of that:

    DIR/
      encoder/                    the (fine-tuned) encoder + tokenizer, Hugging Face format
      head.safetensors            every non-encoder weight (head, projections), safetensors
      config.json                 model config (encoder = "encoder"), entity types, labels; for transformers
                                  also model_type, auto_map and custom_pipelines (ner.inference.hf_remote)
      modeling_xner.py            the transformers config, model and pipeline, generated from this toolkit's
                                  code (ner.inference.hf_remote_source): `pipeline("token-classification",
                                  model=DIR, trust_remote_code=True)` tags as `ner predict` does
      tag_schema.json             IOB2 tags, relation labels, entity types
      README.md                   model card: training data, recipe, dev/test figures, the ways to serve it
      token-classification/       (heads with a Hugging Face form: the token head) a standard AutoModelForTokenClassification
                                  directory: `transformers.pipeline("token-classification", DIR/...)`
      model.onnx                  (--onnx) encoder + head as one ONNX graph, sub-word ids in, head logits out
                                  (ner.inference.onnx_export), for `ner predict --backend onnx` (ONNX Runtime, CPU)
      model.int8.onnx             (--onnx --int8) the same graph, dynamically quantised to int8

`ner.inference.loading.load_model(DIR)` (and so `ner predict --model DIR`, `ner evaluate --model DIR`, and the
spaCy component `xner`) reads it; the format itself (and its loader) is `ner.inference.export_format`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import yaml
from safetensors.torch import save_file

from cslib import atomic_directory
from ner.data.shards import find_shard_dirs
from ner.errors import NerError
from ner.inference.export_format import (
    ENCODER_DIR,
    ENCODER_PREFIX,
    EXPORT_FORMAT,
    EXPORT_VERSION,
    HEAD_FILE,
    HF_DIR,
    ONNX_FILE,
    ONNX_INT8_FILE,
)
from ner.inference.hf_remote import MODULE_FILE, REMOTE_HEADS, remote_code_config
from ner.inference.hf_remote_source import modelling_source
from ner.inference.loading import load_model, resolve_model_dir
from ner.inference.onnx_export import OPSET, export_onnx, require_exporter
from ner.inference.windows import MAX_WORDS, WINDOW_OVERLAP
from ner.model.ner_model import CONFIG_FILE, NerModel

log = logging.getLogger(__name__)


def export_run(run: str | os.PathLike[str], out: str | os.PathLike[str], overwrite: bool = False,
               onnx: bool = False, int8: bool = False) -> Path:
    """Write the export of a run (or model) directory to `out` (atomically: temp dir + rename); with `onnx`
    also `model.onnx`, with `int8` too `model.int8.onnx` (`ner.inference.onnx_export`)."""
    run_dir = Path(run)
    model_dir = resolve_model_dir(run_dir)
    out = Path(out)
    if out.exists() and not overwrite:
        raise NerError(f"{out}: already exists (use --overwrite to replace it)")
    if int8 and not onnx:
        raise NerError("int8 quantises the ONNX graph: export with onnx too (--onnx --int8)")
    if onnx:
        require_exporter()
    model = load_model(run_dir)
    meta = json.loads((model_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    with atomic_directory(out, mode=0o755) as tmp:
        enc = model.encoder
        enc.model.save_pretrained(tmp / ENCODER_DIR, safe_serialization=True)
        enc.tokenizer.save_pretrained(tmp / ENCODER_DIR)
        head = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
                if not k.startswith(ENCODER_PREFIX)}
        save_file(head, str(tmp / HEAD_FILE), metadata={"format": EXPORT_FORMAT})
        config = {
            "format": EXPORT_FORMAT, "export_version": EXPORT_VERSION,
            "format_version": meta.get("format_version"),
            "model_config": {**model.cfg.to_dict(), "encoder": ENCODER_DIR},
            "trained_from_encoder": model.cfg.encoder,
            "entity_types": model.entity_types, "head": model.cfg.head, "labels": list(model.head.labels),
        }
        if model.cfg.head in REMOTE_HEADS:  # transformers loads it with trust_remote_code (ner.inference.hf_remote)
            config.update(remote_code_config())
            (tmp / MODULE_FILE).write_text(modelling_source(), encoding="utf-8")
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        schema = {"entity_types": model.entity_types, "iob2_tags": list(model.tag_schema.tags),
                  "relation_labels": list(model.relation_schema.labels), "head": model.cfg.head,
                  "head_labels": list(model.head.labels)}
        (tmp / "tag_schema.json").write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if model.head.hf_task:
            model.head.write_hf_model(model.encoder, tmp / HF_DIR)
        onnx_files = [p.name for p in export_onnx(model, tmp, int8)] if onnx else []
        (tmp / "README.md").write_text(model_card(run_dir, model, out.name, onnx_files), encoding="utf-8")
    log.info("exported %s to %s", model_dir, out)
    return out


# --- model card --------------------------------------------------------------------------------


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _training_data(run: Path) -> list[str]:
    try:
        cfg = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return ["(no config.yaml: exported from a bare model directory)"]
    lines = []
    for s in cfg.get("shards") or []:
        m = _json(Path(s) / "manifest.json") or {}
        sub = []
        if not m:
            try:
                sub = [p for p in find_shard_dirs(s) if p != Path(s)]
            except NerError:
                sub = []
        for d in sub or [Path(s)]:
            m = _json(Path(d) / "manifest.json") or {}
            if not m:
                lines.append(f"- `{d}` (its manifest is gone: moved or deleted since training)")
                continue
            counts = m.get("counts", {})
            inputs = ", ".join(f"{Path(i.get('path', '?')).name} (sha256 {str(i.get('sha256', ''))[:12]})"
                               for i in m.get("inputs", []) if isinstance(i, dict))
            lines.append(f"- `{d}`: {m.get('src_lang', '?')}→{m.get('tgt_lang', '?')} code-switched, "
                         f"{counts.get('rows', '?')} rows, mode {m.get('config', {}).get('mode', '?')}"
                         + (f"; inputs: {inputs}" if inputs else ""))
    for p in cfg.get("pseudo") or []:
        lines.append(f"- pseudo-labels `{p}`")
    return lines or ["(no shards recorded)"]


def _figures(run: Path) -> list[str]:
    rows = []
    dev = _json(run / "dev_metrics.json") or {}
    for lang, m in sorted((dev.get("best") or {}).items()):
        if isinstance(m, dict) and "f1" in m:
            rows.append(f"| dev (model selection) | {lang} | {m['f1']:.4f} | {m.get('precision', 0):.4f} | "
                        f"{m.get('recall', 0):.4f} |")
    for path in sorted((run / "eval").glob("**/metrics.json")) if (run / "eval").is_dir() else []:
        m = _json(path) or {}
        if "f1" in m:
            where = m.get("split") or m.get("file") or path.parent.name
            rows.append(f"| {where} ({path.parent.relative_to(run)}) | {m.get('lang', '?')} | {m['f1']:.4f} | "
                        f"{m.get('precision', 0):.4f} | {m.get('recall', 0):.4f} |")
    if not rows:
        return ["No dev or test figures were recorded in the run directory."]
    return ["| set | lang | F1 | precision | recall |", "|---|---|---|---|---|", *rows]


def _serving(model: NerModel, name: str, onnx_files: list[str]) -> list[str]:
    """The model card's "Use" section: each way this export serves the model, with one example each."""
    remote = model.cfg.head in REMOTE_HEADS
    task = model.head.hf_task
    ways = [("`ner predict` and Python (xner installed)", "yes"),
            (f"ONNX Runtime on the CPU: `ner predict --backend onnx` (`{ONNX_FILE}`; xner installed with its "
             "`onnx` extra)", "yes" if onnx_files else "no (export with `--onnx`)"),
            (f"transformers `pipeline(..., trust_remote_code=True)` on `{name}` (no xner needed)",
             "yes" if remote else "no"),
            ("spaCy pipeline component `xner` (xner installed with its `spacy` extra)", "yes"),
            (f"standard transformers model in `{name}/{HF_DIR}` (token head only)", "yes" if task else "no")]
    out = ["## Use", "",
           "Every way marked *yes* tags raw text as `ner predict` does: sentences split by xner's rules, words by "
           "Moses (characters in zh and ja), sub-words pooled and the output decoded by the same code, sentences "
           f"longer than {MAX_WORDS} words tagged in windows overlapping by {WINDOW_OVERLAP}.", "",
           "| way | supported |", "|---|---|", *(f"| {w} | {ok} |" for w, ok in ways), "",
           "### `ner predict`, Python", "",
           "```bash", f"echo \"Angela Merkel visited Paris.\" | ner predict --model {name} --lang en --json", "```", "",
           "```python",
           "from ner import load_model, predict_texts",
           f"model = load_model(\"{name}\")",
           "predict_texts(model, [\"Angela Merkel visited Paris.\"], lang=\"en\")",
           "# [{'text': ..., 'tokens': [...], 'entities': [{'text': 'Angela Merkel', 'type': 'PER', 'start': 0, "
           "'end': 2, 'char_start': 0, 'char_end': 13, ...}]}]",
           "```", ""]
    if onnx_files:
        int8 = ONNX_INT8_FILE in onnx_files
        out += ["### ONNX Runtime", "",
                f"`{ONNX_FILE}` is the encoder and head as one ONNX graph (opset {OPSET}): the sub-word ids, attention "
                "mask and word-pooling indices of `BaseWordEncoder.collate` in, the head's logits out. `--backend "
                "onnx` runs it with ONNX Runtime on the CPU; splitting, batching, windows and decoding are "
                "`ner predict`'s own" + (f"; `--backend onnx-int8` runs `{ONNX_INT8_FILE}`, its dynamically "
                                        "quantised int8 copy" if int8 else "") + ". On a CPU with native "
                "bf16, `ner predict` without `--backend` (bf16 autocast) is faster, and the int8 graph costs F1 "
                "(xner's docs/benchmarks.md).", "",
                "```bash",
                f"echo \"Angela Merkel visited Paris.\" | ner predict --model {name} --lang en --backend onnx",
                "```", "",
                "```python",
                "from ner import load_model, predict_texts",
                f"model = load_model(\"{name}\", backend=\"onnx\")",
                "predict_texts(model, [\"Angela Merkel visited Paris.\"], lang=\"en\")",
                "```", ""]
    if remote:
        out += ["### transformers", "",
                f"`{MODULE_FILE}` (generated from xner's code) holds the model and its pipeline; it needs torch, "
                "transformers, safetensors and sacremoses, not xner. `lang` picks the word splitter and the "
                "sentence rules; entities come with character offsets (end-exclusive).", "",
                "```python", "from transformers import pipeline",
                f"ner = pipeline(\"token-classification\", model=\"{name}\", trust_remote_code=True)",
                "ner(\"Angela Merkel visited Paris.\", lang=\"en\")",
                "# [{'entity_group': 'PER', 'score': 0.98, 'word': 'Angela Merkel', 'start': 0, 'end': 13}, ...]",
                "```", ""]
    out += ["### spaCy", "",
            "The `xner` component sets `doc.ents` (spans widened to whole spaCy tokens where the tokenizers differ; "
            "the entity's score in `span._.xner_score`); the language is the pipeline's unless `lang` is given.", "",
            "```python", "import spacy", "nlp = spacy.blank(\"en\")",
            f"nlp.add_pipe(\"xner\", config={{\"model\": \"{name}\"}})",
            "[(e.text, e.label_) for e in nlp(\"Angela Merkel visited Paris.\").ents]", "```", ""]
    if task:
        out += [f"### `{HF_DIR}/`", "",
                f"The {model.head.name} head is also a standard Hugging Face model (its words are the tokenizer's, "
                "not xner's, and it has no windows):", "",
                "```python", "from transformers import pipeline",
                f"ner = pipeline(\"{task}\", model=\"{name}/{HF_DIR}\", aggregation_strategy=\"first\")",
                "ner(\"Angela Merkel visited Paris.\")", "```", ""]
    return out


def model_card(run: Path, model: NerModel, name: str, onnx_files: list[str] | None = None) -> str:
    """README.md of an export: what it is, what it was trained on and how, how well, how to serve it."""
    recipe = (run / "config.yaml").read_text(encoding="utf-8").rstrip() if (run / "config.yaml").is_file() else "(none)"
    dev = _json(run / "dev_metrics.json") or {}
    return "\n".join([
        f"# {name}: cross-lingual NER ({model.cfg.head} head)", "",
        f"Entity types: {', '.join(model.entity_types)}. Encoder: `{model.cfg.encoder}` "
        f"(fine-tuned copy in `{ENCODER_DIR}/`), pooling `{model.cfg.pooling}`, sub-word spacing "
        f"`{model.cfg.subword_space}`. Exported from `{run}` "
        f"by `ner export` (xner).", "",
        *_serving(model, name, onnx_files or []),
        "## Training data", "", *_training_data(run), "",
        "## Results", "", *_figures(run), "",
        f"Best step: {dev.get('best_step', '?')}.", "",
        "## Recipe (config.yaml of the run)", "", "```yaml", recipe, "```", "",
        "## Files", "",
        f"`config.json` (model config, labels), `tag_schema.json` (IOB2 tags, relation labels), `{HEAD_FILE}` "
        f"(head and projection weights), `{ENCODER_DIR}/` (Hugging Face encoder + tokenizer)"
        + (f", `{MODULE_FILE}` (the transformers model and pipeline, generated)" if model.cfg.head in REMOTE_HEADS
           else "")
        + "".join(f", `{f}` (ONNX graph{', int8' if f == ONNX_INT8_FILE else ''})" for f in onnx_files or [])
        + ".", "",
    ])
