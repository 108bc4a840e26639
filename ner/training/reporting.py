"""Where a run's metric records go: `RUN/metrics.jsonl` always, and the tools named by `--report-to`.

Every sink receives the same records, the ones metrics.jsonl holds: a step line (the means of the loss
terms, gradient norm and clip share since the previous line, `lr`, `epoch`), a `"type": "grad_norms"`
line (gradient probes, `--grad-norm-every`) and a `"type": "eval"` line (dev F1 per language and their
mean). A sink only reads numbers the loop has already computed, so reporting never changes training.
Only rank 0 reports (`ner.training.loop` builds a `Reporter` there alone).

TensorBoard (`--report-to tensorboard`) writes event files to `RUN/tensorboard/` with these tags:

    train/<term>          each number of a step line (loss, ce_src, ce_cs, semantic, relation, ...), epoch, lr
    train/lr/<group>      learning rate of the encoder's and of the head's parameter groups
    grad/norm             gradient norm before clipping; grad/clipped: share of steps the clip shrank
    grad/encoder/<term>   gradient probes: each term's gradient norm on the encoder (gn_<term>),
    grad/cos/<term>       its cosine with the supervised gradient (gcos_<term>),
    grad/scale/<term>     the multiplier in force (scale_<term>)
    dev/f1/<lang>         dev F1 per language at each evaluation; dev/f1/mean: their mean (model selection)
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from ner.errors import NerError

#: The values `--report-to` (TrainConfig.report_to) accepts.
REPORT_TO = ("tensorboard",)
TENSORBOARD_DIR = "tensorboard"
_INSTALL = "pip install 'xner[tensorboard]'"


def check_report_to(names: list[str]) -> None:
    """Fail before any data is loaded on an unknown `--report-to` value or a tool that is not installed."""
    for name in names:
        if name not in REPORT_TO:
            raise NerError(f"--report-to: unknown value {name!r} (choices: {', '.join(REPORT_TO)})")
    if "tensorboard" in names and importlib.util.find_spec("tensorboard") is None:
        raise NerError(f"--report-to tensorboard needs the tensorboard package: {_INSTALL}")


class MetricSink(Protocol):
    """One destination of metric records."""

    def write(self, record: dict[str, Any], lrs: Mapping[str, float] | None = None) -> None:
        """A metrics.jsonl record; `lrs` (step lines only): the learning rate of the encoder and of the head."""

    def close(self) -> None:
        """Flush and release the destination (also after an interruption)."""


class JsonlSink:
    """RUN/metrics.jsonl, through `ner.training.checkpoint.metrics_writer` (it has only `lr`, not `lrs`)."""

    def __init__(self, write: Callable[[dict[str, Any]], None]) -> None:
        self._write = write

    def write(self, record: dict[str, Any], lrs: Mapping[str, float] | None = None) -> None:
        self._write(record)

    def close(self) -> None:
        pass


_NOT_PLOTTED = {"step", "type", "n_steps", "elapsed"}  # TensorBoard keeps its own step and wall time
_STEP_TAGS = {"grad_norm": "grad/norm", "clipped": "grad/clipped"}
_PROBE_PREFIXES = (("gn_", "grad/encoder/"), ("gcos_", "grad/cos/"), ("scale_", "grad/scale/"))


def tensorboard_tags(record: dict[str, Any], lrs: Mapping[str, float] | None = None) -> dict[str, float]:
    """The scalars (tag -> value) that TensorBoard shows for one metrics record, at `record["step"]`."""
    kind = record.get("type")
    if kind == "eval":
        tags = {f"dev/f1/{lang}": f1 for lang, f1 in record["dev"].items()}
        tags["dev/f1/mean"] = record["dev_f1"]
        return tags
    tags = {}
    for key, value in record.items():
        if key in _NOT_PLOTTED or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        if kind == "grad_norms":
            tag = next((group + key[len(prefix):] for prefix, group in _PROBE_PREFIXES if key.startswith(prefix)),
                       f"grad/{key}")
        elif kind is None:
            tag = _STEP_TAGS.get(key, f"train/{key}")
        else:
            tag = f"{kind}/{key}"
        tags[tag] = value
    for group, lr in (lrs or {}).items():
        tags[f"train/lr/{group}"] = lr
    return tags


class TensorBoardSink:
    """Scalars in `RUN/tensorboard/` (torch.utils.tensorboard.SummaryWriter), tagged by `tensorboard_tags`.

    A resumed run adds an event file whose `purge_step` makes TensorBoard drop what the interrupted session
    logged after the checkpoint (it is logged again).
    """

    def __init__(self, run: Path, resume_step: int | None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise NerError(f"--report-to tensorboard: {str(exc).splitlines()[0]} ({_INSTALL})") from None
        self.writer = SummaryWriter(str(run / TENSORBOARD_DIR),
                                    purge_step=None if resume_step is None else resume_step + 1)

    def write(self, record: dict[str, Any], lrs: Mapping[str, float] | None = None) -> None:
        step = record["step"]
        for tag, value in tensorboard_tags(record, lrs).items():
            self.writer.add_scalar(tag, value, step)
        if record.get("type") == "eval":
            self.writer.flush()  # evaluations are rare: show them at once

    def close(self) -> None:
        self.writer.close()


class Reporter:
    """Every sink of a run: `write` hands each record to all of them, `close` closes them."""

    def __init__(self, sinks: list[MetricSink]) -> None:
        self.sinks = sinks

    def write(self, record: dict[str, Any], lrs: Mapping[str, float] | None = None) -> None:
        for sink in self.sinks:
            sink.write(record, lrs)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def open_reporter(run: Path, report_to: list[str], metrics: Callable[[dict[str, Any]], None],
                  resume_step: int | None) -> Reporter:
    """metrics.jsonl (`metrics`, the writer of `ner.training.checkpoint.metrics_writer`) and the `report_to` tools;
    `resume_step`: the checkpoint's step when the run resumes, else None (a fresh run: an earlier attempt's
    RUN/tensorboard/ is removed, as its metrics.jsonl is)."""
    check_report_to(report_to)
    if resume_step is None:
        shutil.rmtree(run / TENSORBOARD_DIR, ignore_errors=True)
    sinks: list[MetricSink] = [JsonlSink(metrics)]
    if "tensorboard" in report_to:
        sinks.append(TensorBoardSink(run, resume_step))
    return Reporter(sinks)
