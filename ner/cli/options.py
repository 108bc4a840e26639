"""Options that several `ner` commands share, each with one help text.

A spec is argparse keyword arguments whose help holds `{default}`; `cslib.add_option` fills it in
from the default the command passes (a config dataclass field or the library function's parameter),
and the training tables (`ner.cli.train`) use the same specs. The generic options (data root, seed,
quiet) are cslib's (`cslib.DATA_ROOT_OPTION`, ...).
"""

from __future__ import annotations

import argparse

from cslib import OptionSpec, add_option
from ner.inference.precision import AMP_MODES
from ner.model.grid import MAX_ENTITY_WORDS


def non_negative(value: str) -> int:
    """argparse type: an integer >= 0 (argparse turns the error into a one-line usage error)."""
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return n


def positive(value: str) -> int:
    """argparse type: an integer >= 1."""
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return n


DEVICE: OptionSpec = {"metavar": "DEVICE",
                "help": "auto (the local GPU if there is one, else the CPU), cpu, cuda or cuda:N (default {default})"}
AMP: OptionSpec = {"choices": list(AMP_MODES),
             "help": "mixed precision: auto = bf16 on CUDA (fp16 where the GPU lacks bf16) and on CPUs with native "
                     "bfloat16 (AVX512-BF16/AMX), fp32 elsewhere; bf16 or fp16 = that one; off = fp32; weights stay "
                     "fp32 (default {default}; docs/benchmarks.md: speed and F1)"}
BATCH_SIZE: OptionSpec = {"type": positive, "metavar": "B", "help": "sentences per batch (default {default})"}
MAX_ENTITY_WORDS_OPTION: OptionSpec = {
    "type": non_negative, "metavar": "N",
    "help": "relation head: longest entity decoded, in words (default {default}; 0 = any length). Long sentences "
            "then run the head on a band of the grid instead of all of it"}


def add_device(container: argparse._ActionsContainer, default: str) -> argparse.Action:
    """`--device`: auto, cpu, cuda or cuda:N."""
    return add_option(container, "--device", DEVICE, default)


def add_amp(container: argparse._ActionsContainer, default: str) -> argparse.Action:
    """`--amp`: one of `ner.inference.precision.AMP_MODES`."""
    return add_option(container, "--amp", AMP, default)


def add_batch_size(container: argparse._ActionsContainer, default: int) -> argparse.Action:
    """`--batch-size`: sentences per batch (inference)."""
    return add_option(container, "--batch-size", BATCH_SIZE, default)


def add_max_entity_words(container: argparse._ActionsContainer) -> argparse.Action:
    """`--max-entity-words`, the relation head's longest decoded entity (evaluate, predict)."""
    return add_option(container, "--max-entity-words", MAX_ENTITY_WORDS_OPTION, MAX_ENTITY_WORDS)


def add_model_run_options(container: argparse._ActionsContainer, defaults: object, *, amp: bool = True,
                          max_entity_words: bool = True) -> None:
    """What every command that runs a model takes: `--batch-size` and `--device` (defaults from
    `defaults.batch_size` / `.device`), `--amp` (`.amp`) and `--max-entity-words` where asked."""
    add_batch_size(container, defaults.batch_size)  # type: ignore[attr-defined]
    add_device(container, defaults.device)  # type: ignore[attr-defined]
    if amp:
        add_amp(container, defaults.amp)  # type: ignore[attr-defined]
    if max_entity_words:
        add_max_entity_words(container)
