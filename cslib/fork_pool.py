"""A pool of forked worker processes that always die on SIGTERM.

Workers are forked so that closures over a build's inputs are never pickled. A fork inherits its
parent's Python signal handlers, and some parents catch SIGTERM (a training loop's graceful stop, Ray's
driver); `Pool.terminate` stops idle workers with SIGTERM while it holds their task queue's lock, so a
worker that survived the signal would wait on that lock for ever and the pool would never close.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from multiprocessing.pool import Pool


def _default_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def fork_pool(workers: int) -> Pool:
    """`workers` forked processes whose SIGTERM is the default (death)."""
    return mp.get_context("fork").Pool(workers, initializer=_default_sigterm)
