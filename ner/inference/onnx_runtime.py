"""The ONNX Runtime backend: `ner predict --backend onnx` and `load_model(DIR, backend="onnx")`.

`OnnxNerModel` is the toolkit's `NerInference` (batching, decoding) whose forward pass is the export's ONNX
graph (`ner.inference.onnx_export`) run by ONNX Runtime on the CPU. Everything around it is `ner predict`'s
own code: sentence and word splitting, length-sorted batches (`ner.inference.tagging`), windows, collation
(`BaseWordEncoder.collate`) and decoding (`NerInference.decode`: the head's `sentence_probs` and `decode`).
No torch weights are loaded: the tokenizer and the encoder's config come from `DIR/encoder/`, the head's
labels and decoding from `config.json`.

ONNX Runtime uses `torch.get_num_threads()` threads (as many as torch would) and, like `import ner` does
for OpenMP, lets idle threads sleep instead of spinning, which a CPU shared with other jobs needs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from transformers import AutoConfig

from ner.errors import NerError
from ner.inference.export_format import ENCODER_DIR, ONNX_FILE, ONNX_INT8_FILE, is_export
from ner.inference.onnx_export import ONNX_INPUTS, ONNX_OUTPUT
from ner.model.config import ModelConfig
from ner.model.encoder import BaseWordEncoder, _tokenizer
from ner.model.grid import MAX_ENTITY_WORDS, RelationSchema
from ner.model.heads import Head, head_class
from ner.model.ner_model import CONFIG_FILE, NerInference, NerOutput

#: `--backend`: torch (the default), ONNX Runtime on the fp32 graph, ONNX Runtime on the int8 graph.
BACKENDS = ("torch", "onnx", "onnx-int8")
_FILES = {"onnx": ONNX_FILE, "onnx-int8": ONNX_INT8_FILE}


def onnx_runtime() -> Any:
    """The `onnxruntime` module, or a one-line NerError saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise NerError("the ONNX backend needs onnxruntime: pip install 'xner[onnx]'") from None
    return onnxruntime


class _ConfigOnly(nn.Module):
    """The encoder network's place in `BaseWordEncoder`: its config (sizes, position table), no weights."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the ONNX backend runs the encoder in ONNX Runtime")


class OnnxNerModel(NerInference):
    """An export served by ONNX Runtime: `collate`, `decode` and `decode_tags` as `NerModel`'s, a forward
    pass (`model(batch)`) that runs the ONNX graph on the CPU."""

    def __init__(self, path: Path, session: Any, encoder: BaseWordEncoder, head: Head, cfg: ModelConfig) -> None:
        self.path, self.session, self.encoder, self.head, self.cfg = path, session, encoder, head, cfg
        self.entity_types = list(head.schema.entity_types)
        self.max_entity_words = MAX_ENTITY_WORDS
        self._encoder_keys = frozenset(ONNX_INPUTS)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def threads(self) -> int:
        """ONNX Runtime's intra-op threads."""
        return int(self.session.get_session_options().intra_op_num_threads)

    def eval(self) -> OnnxNerModel:
        return self

    def forward(self, batch: dict[str, Tensor], decode_only: bool = True) -> NerOutput:
        """The head's logits for a collated batch (the decode-only grid for the relation head: the cells
        decoding reads, as `NerModel.forward(batch, decode_only=True)`)."""
        feed = {name: batch[name].numpy() for name in ONNX_INPUTS}
        logits = self.session.run([ONNX_OUTPUT], feed)[0]
        return NerOutput(torch.from_numpy(logits), batch["word_mask"].bool(), torch.empty(0), None)

    __call__ = forward


def load_onnx_model(path: str | os.PathLike[str], backend: str = "onnx", threads: int | None = None) -> OnnxNerModel:
    """An `ner export --onnx` directory served by ONNX Runtime (`backend` "onnx": `model.onnx`, "onnx-int8":
    `model.int8.onnx`) with `threads` intra-op threads (default: torch's)."""
    if backend not in _FILES:
        raise NerError(f"unknown ONNX backend {backend!r} (use {', '.join(_FILES)})")
    d = Path(path)
    file = d / _FILES[backend]
    if not file.is_file():
        flags = "--onnx --int8" if backend == "onnx-int8" else "--onnx"
        what = "" if is_export(d) else " (not an `ner export` directory)"
        raise NerError(f"{file}: not found{what}; export the model with `ner export RUN --out DIR {flags}`")
    ort = onnx_runtime()
    meta = json.loads((d / CONFIG_FILE).read_text(encoding="utf-8"))
    cfg = ModelConfig.from_dict({**meta["model_config"], "encoder": str((d / ENCODER_DIR).absolute())})
    tokenizer = _tokenizer(cfg.encoder)  # shared with a torch model of the same export, as WordEncoder shares it
    encoder = BaseWordEncoder(_ConfigOnly(AutoConfig.from_pretrained(cfg.encoder)), tokenizer, cfg.pooling,
                              cfg.max_subwords, cfg.subword_space, name=cfg.encoder)
    types = list(RelationSchema(tuple(meta["entity_types"])).entity_types)
    head = head_class(cfg.head).from_config(int(encoder.hidden_size), types, cfg).eval()  # decoding only
    if list(meta.get("labels", [])) != list(head.labels):
        raise NerError(f"{d / CONFIG_FILE}: labels {meta.get('labels')} do not match {list(head.labels)}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime's errors have no common base class
        raise NerError(f"{file}: ONNX Runtime cannot load it ({str(exc).splitlines()[0] if str(exc) else exc})") from None
    names = tuple(i.name for i in session.get_inputs())
    if sorted(names) != sorted(ONNX_INPUTS):
        raise NerError(f"{file}: inputs {list(names)}, expected {list(ONNX_INPUTS)} (re-export with --onnx)")
    cfg.encoder = meta.get("trained_from_encoder", cfg.encoder)
    return OnnxNerModel(file, session, encoder, head, cfg)


__all__ = ["BACKENDS", "OnnxNerModel", "load_onnx_model", "onnx_runtime"]
