"""Keep Python's cyclic garbage collector off the sources a build loads.

A default `cslib build --tgt ja` holds millions of small containers that live for the whole
build (JMnedict's 400k names, the dictionaries, the sentences). The collector re-scans all of
them again and again, first while they are being built and then on every full collection
while the shards are switched: 2 of the 7 CPU seconds of a warm 20,000-sentence build. None of
them is garbage and refcounting frees everything else, so loading runs with the collector
paused and switching with the loaded objects frozen (gc's permanent generation; a forked
worker then also leaves their pages unshared less often). Frozen objects are unfrozen when the
build ends, so a process that builds many times still collects its cycles.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic collection inside (objects are still freed by refcounting); the collector's previous state after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def loaded_frozen() -> Iterator[None]:
    """Everything allocated so far is left out of collections inside; collectable again after."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
