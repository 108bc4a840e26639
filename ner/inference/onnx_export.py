"""`ner export --onnx [--int8]`: the encoder and head as one ONNX graph, sub-word ids in, head logits out.

The graph takes what `BaseWordEncoder.collate` returns (`ONNX_INPUTS`: sub-word ids and attention mask of
the rows, each row's sentence, and the word-pooling indices: flat row position, flat word slot and weight
of every pooled sub-word, and the word mask) and returns the head's logits (`logits`): the word-pair grid
`[B, W, W, L]` of the relation head, decode-only (the cells `j - i <= 1` that decoding reads; the others
are 0, as in `ner predict`), or the tag logits `[B, W, T]` of the token head. Batch, rows, sub-words,
words and pooled sub-words are dynamic axes. Decoding stays in Python (`ner.inference.onnx_runtime`),
the toolkit's own.

Exporter: torch.export-based (`torch.onnx.export(dynamo=True)`, the default of torch >= 2.9; it needs
onnxscript), opset `OPSET`. The legacy TorchScript exporter fails on the relation head (a split by sizes
it traces as tensors). `--int8` adds `ONNX_INT8_FILE`, onnxruntime's dynamic quantisation of the
transformer's matrix products and embedding table (int8 weights per output channel, activations quantised
per batch); word pooling and the head stay fp32: quantising them too cost speed (many small products)
without saving F1 (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ner.errors import NerError
from ner.inference.export_format import ONNX_FILE, ONNX_INT8_FILE
from ner.model.grid import DECODED_OFFSET
from ner.model.heads.relation_layers import RelationNetwork
from ner.model.ner_model import NerModel

log = logging.getLogger(__name__)

OPSET = 20
ONNX_INPUTS = ("input_ids", "attention_mask", "row_sentence", "sub_pos", "sub_word", "sub_weight", "word_mask")
ONNX_OUTPUT = "logits"
# Two batches of different shapes: the first is traced, the second checks the dynamic axes.
_EXAMPLES = (
    [["Angela", "Merkel", "visited", "Paris", "on", "Monday", "."], ["It", "rained", "."],
     ["東", "京", "都", "に", "住", "む"]],
    [["Die", "Vereinten", "Nationen", "tagten", "in", "New", "York", "."] * 3, ["Bonn"]],
)
_ENCODER_SCOPE = "/encoder.model: "  # the transformer's nodes, in the exporter's `namespace` metadata
_TOLERANCE = 1e-3  # fp32 ONNX Runtime against torch, largest absolute logit difference


def decode_only_grid(head: RelationNetwork, words: Tensor, word_mask: Tensor) -> Tensor:
    """`RelationNetwork.forward(words, word_mask, DECODED_OFFSET)`'s logits without its branch for batches
    of empty sentences (which prediction never sends: `ner.inference.tagging` skips them), a branch on a
    data-dependent size that torch.export cannot trace."""
    batch, num_words, _ = words.shape
    word_mask = word_mask.bool()
    mask2d = word_mask[:, :, None] & word_mask[:, None, :]
    offset = torch.arange(num_words, device=words.device)
    offset = offset[None, :] - offset[:, None]  # [W, W]: j - i
    cells = (mask2d & (offset <= DECODED_OFFSET + head.reach)).reshape(-1).nonzero(as_tuple=True)[0]
    out_cells = (mask2d & (offset <= DECODED_OFFSET)).reshape(-1).nonzero(as_tuple=True)[0]
    act = F.gelu(head.project_cells(words, word_mask, cells))
    grid = act.new_zeros(batch * num_words * num_words, act.shape[-1]).index_copy(0, cells, act)
    parts = head.conv(grid.view(batch, num_words, num_words, -1), mask2d, out_cells)
    return head.outputs_at(words, parts, out_cells)[0]


class LogitsGraph(nn.Module):
    """What the ONNX graph computes: `NerModel.forward(batch, decode_only=True).logits` (eval mode, no
    span limit), from the tensors of `ONNX_INPUTS`."""

    def __init__(self, model: NerModel) -> None:
        super().__init__()
        self.encoder = model.encoder
        self.head = model.head

    def forward(self, input_ids: Tensor, attention_mask: Tensor, row_sentence: Tensor, sub_pos: Tensor,
                sub_word: Tensor, sub_weight: Tensor, word_mask: Tensor) -> Tensor:
        words, mask, _ = self.encoder(input_ids, attention_mask, row_sentence, sub_pos, sub_word, sub_weight,
                                      word_mask)
        if isinstance(self.head, RelationNetwork):
            return decode_only_grid(self.head, words, mask)
        return self.head.run(words, mask, True, 0)[0]


def _remainder(self: Any, other: Any) -> Any:
    """aten.remainder.Scalar with a symbolic divisor (`cells % num_words`), which onnxscript's own
    translation cannot take; ONNX Mod (fmod=0) has Python's sign rule."""
    from onnxscript import opset18 as op

    return op.Mod(self, op.CastLike(other, self))


def _dynamic_shapes() -> dict[str, dict[int, Any]]:
    from torch.export import Dim

    rows, subwords, batch, words, pooled = (Dim(n) for n in ("rows", "subwords", "batch", "words", "pooled"))
    return {"input_ids": {0: rows, 1: subwords}, "attention_mask": {0: rows, 1: subwords}, "row_sentence": {0: rows},
            "sub_pos": {0: pooled}, "sub_word": {0: pooled}, "sub_weight": {0: pooled},
            "word_mask": {0: batch, 1: words}}


def require_exporter() -> None:
    """A one-line NerError unless onnx, onnxscript and onnxruntime are installed."""
    for name, why in (("onnx", "to write ONNX"), ("onnxscript", "for torch's ONNX exporter"),
                      ("onnxruntime", "to check and quantise the graph")):
        try:
            __import__(name)
        except ImportError:
            raise NerError(f"ner export --onnx needs {name} ({why}): pip install 'xner[onnx]'") from None


def _check(path: Path, graph: LogitsGraph, batches: list[dict[str, Tensor]]) -> None:
    """ONNX Runtime on `batches` against torch: NerError naming `path` when the logits differ."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in batches:
        got = session.run([ONNX_OUTPUT], {n: batch[n].numpy() for n in ONNX_INPUTS})[0]
        with torch.inference_mode():
            want = graph(*(batch[n] for n in ONNX_INPUTS)).numpy()
        diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
        if not diff <= _TOLERANCE:
            raise NerError(f"{path}: ONNX Runtime's logits differ from torch's (shape {got.shape} vs {want.shape}, "
                           f"max difference {diff:.2g})")


def outside_encoder(path: Path) -> list[str]:
    """Names of the graph's nodes outside the transformer (`encoder.model`: word pooling and head), by the
    module path torch's exporter records in each node's `namespace`; none if it records none."""
    import onnx

    nodes = onnx.load(str(path), load_external_data=False).graph.node
    scope = {n.name: next((p.value for p in n.metadata_props if p.key == "namespace"), "") for n in nodes}
    inside = {name for name, ns in scope.items() if _ENCODER_SCOPE in ns}
    return [name for name in scope if name not in inside] if inside else []


def export_onnx(model: NerModel, directory: Path, int8: bool = False) -> list[Path]:
    """Write `directory/ONNX_FILE` (and with `int8`, `directory/ONNX_INT8_FILE`); return the files written.
    The fp32 graph is checked against torch on two batches of different shapes."""
    require_exporter()
    graph = LogitsGraph(model).eval()
    batches = [model.collate(sents) for sents in _EXAMPLES]
    path = directory / ONNX_FILE
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # it warns about the torchvision ops it cannot register
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # and prints its progress
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, tuple(batches[0][n] for n in ONNX_INPUTS), str(path), dynamo=True,
                              opset_version=OPSET, input_names=list(ONNX_INPUTS), output_names=[ONNX_OUTPUT],
                              dynamic_shapes=_dynamic_shapes(), external_data=False,
                              custom_translation_table={torch.ops.aten.remainder.Scalar: _remainder})
    finally:
        exporter_log.setLevel(level)
    _check(path, graph, batches)
    written = [path]
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        logging.disable(logging.WARNING)  # the quantiser logs every tensor it leaves in fp32 to the root logger
        try:
            quantize_dynamic(path, directory / ONNX_INT8_FILE, weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=outside_encoder(path))
        finally:
            logging.disable(logging.NOTSET)
        written.append(directory / ONNX_INT8_FILE)
    log.info("wrote %s", ", ".join(str(p) for p in written))
    return written


__all__ = ["ONNX_INPUTS", "ONNX_OUTPUT", "OPSET", "LogitsGraph", "decode_only_grid", "export_onnx", "require_exporter"]
