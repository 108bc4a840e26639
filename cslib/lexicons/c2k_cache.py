"""The e2k model's katakana for each letter run, computed once per machine.

Transliteration was 70% of a default `cslib build --tgt ja` (20,000 sentences: 16,000 distinct
letter runs at ~1 ms each). Here each run goes through the model once: a memo in the process,
shared by ja and zh (both read the same C2K model), a JSON file in the cache folder
(`cslib.lexicons.cache`) that later builds read instead of the model, and batched model calls
(`e2k_batch`) for the runs a build announces in advance. The file is named by the e2k version
and model variant, so another model never reads it; an unreadable one is ignored and rewritten.
Whatever path a run takes, its katakana is the string e2k's own call returns (batching is used
only where `e2k_batch.agrees` finds the same strings).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import multiprocessing as mp
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from ..environment import package_versions
from ..fork_pool import fork_pool
from . import e2k_batch
from .cache import cache_file, write_bytes
from .dictionary_sources import MissingPackageError

log = logging.getLogger(__name__)
# of the JSON file: {"format", "e2k", "model", "pieces": {letter run: model output}}; 2: batches are
# real matrix products (`e2k_batch`), so files of the row-by-row version are not mixed with them
FORMAT = 2


def _e2k_version() -> str:
    return package_versions(["e2k"]).get("e2k", "absent")


def require_e2k() -> bool:
    """True, or a one-line error saying how to install e2k."""
    if importlib.util.find_spec("e2k") is None:
        raise MissingPackageError("transliteration needs the Python package 'e2k', which is not installed: "
                                  "pip install e2k")
    return True


def load_c2k(model: str):
    """e2k's C2K model (a one-line error when e2k is not installed)."""
    require_e2k()
    from e2k import C2K  # 0.1 s and a model file: only when a letter run is not in the cache

    return C2K(model=model)


class C2KCache:
    """`cache(piece)` is `C2K(model)(piece)`, computed at most once per machine."""

    def __init__(self, model: str = "turbo", persistent: bool = True) -> None:
        self.model = model
        self.memo: dict[str, str] = {}
        self._new: set[str] = set()
        self._c2k = None
        self._batch: bool | None = None  # whether batched decoding agrees with e2k here (probed on first use)
        version = _e2k_version()
        self.path: Path | None = (cache_file(f"translit-c2k-{model}", f"{FORMAT}:e2k={version}:{model}", "json")
                                  if persistent else None)
        self._meta = {"format": FORMAT, "e2k": version, "model": model}
        if self.path is not None:
            self.memo.update(self._read())

    def _read(self) -> dict[str, str]:
        """The pieces in the cache file, or {} when it is missing or not one of ours."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))  # type: ignore[union-attr]
        except (OSError, ValueError):
            return {}
        pieces = data.get("pieces") if isinstance(data, dict) else None
        if not isinstance(pieces, dict) or any(data.get(k) != v for k, v in self._meta.items()):
            return {}
        return {k: v for k, v in pieces.items() if isinstance(k, str) and isinstance(v, str)}

    def _model(self):
        if self._c2k is None:
            self._c2k = load_c2k(self.model)
        return self._c2k

    def __call__(self, piece: str) -> str:
        out = self.memo.get(piece)
        if out is None:
            out = self.memo[piece] = self._model()(piece)
            self._new.add(piece)
        return out

    def fill(self, pieces: Iterable[str], workers: int = 1) -> int:
        """Compute the pieces not known yet, in batches where e2k allows (split over `workers`
        forked processes, 0: every core), then save them; returns how many."""
        todo = sorted(set(pieces) - self.memo.keys())
        if not todo:
            return 0
        model = self._model()
        if self._batch is None:
            self._batch = e2k_batch.agrees(model)
        workers = min(workers if workers > 0 else mp.cpu_count(), len(todo) // e2k_batch.BATCH)
        if not self._batch:
            self.memo.update({p: model(p) for p in todo})
        elif workers > 1:
            _MODEL[:] = [model]  # inherited by the forked workers, never pickled
            try:
                with fork_pool(workers) as pool:
                    for part in pool.map(_batch_part, [todo[k::workers] for k in range(workers)]):
                        self.memo.update(part)
            finally:
                _MODEL.clear()
        else:
            self.memo.update(e2k_batch.transliterate_batch(model, todo))
        self._new.update(todo)
        self.flush()
        return len(todo)

    def flush(self) -> None:
        """Add this process's new pieces to the cache file (merged with what others wrote meanwhile)."""
        if self.path is None or not self._new:
            return
        merged = {**self._read(), **{p: self.memo[p] for p in self._new}}
        data = {**self._meta, "pieces": dict(sorted(merged.items()))}
        write_bytes(self.path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        self._new.clear()


_MODEL: list = []  # the model of a `fill` running in forked workers


def _batch_part(pieces: list[str]) -> dict[str, str]:
    return e2k_batch.transliterate_batch(_MODEL[0], pieces)


@lru_cache(maxsize=4)
def shared(model: str = "turbo") -> C2KCache:
    """One cache per model and process, shared by the ja and zh transliterators."""
    return C2KCache(model)
