"""What a long run needs around its loop: console and file logging that keep tqdm bars intact, and a clean stop
on signals."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import transformers
from tqdm import tqdm

from ner.errors import NerError

log = logging.getLogger("ner.training.loop")


class TqdmHandler(logging.Handler):
    """Log records through tqdm.write so they do not break the progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=sys.stderr)  # stdout is for results (predict)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def setup_console_logging(quiet: bool) -> None:
    """The `ner` command's console: `ner` and `cslib` records through tqdm on stderr (INFO, or WARNING when
    `quiet`), transformers' own logging and progress bars silenced."""
    handler = TqdmHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    for name in ("ner", "cslib"):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, TqdmHandler)] + [handler]
        logger.setLevel(logging.WARNING if quiet else logging.INFO)
        logger.propagate = False
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


@contextmanager
def log_to(path: Path | None) -> Iterator[None]:
    """Attach a file handler for train.log to the `ner` logger for the duration of a run."""
    if path is None:
        yield
        return
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("ner")
    logger.addHandler(handler)
    old_level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        handler.close()


class StopRequest:
    """First SIGINT/SIGTERM asks the loop to stop after the current step and checkpoint;
    a second SIGINT aborts at once (KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("signal %d: stopping after this step and saving a checkpoint (Ctrl-C again to abort)", signum)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class Interrupted(NerError):
    """Training stopped on request; the checkpoint is saved and rerunning resumes.

    The command line prints `ner: MESSAGE` (no `error:`) and exits with 130, the status of Ctrl-C."""

    exit_code = 130
    heading = None

