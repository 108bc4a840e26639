"""The `ner` command line: help texts that state the config dataclasses' defaults, and its offline default."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from ner import cli
from ner.training.config import SelfTrainConfig, TrainConfig


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--help"])
    assert exc.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_help_states_the_dataclass_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = TrainConfig()
    text = _help(capsys, "train")
    for expected in (f"random seed (default {cfg.seed})", f"(default {cfg.model.pooling})", "(default 1e-3)",
                     "(default 3e-5)", f"gradient norm clip, 0 = off (default {cfg.grad_clip})",
                     f"encoder: {cfg.model.encoder} (default)", f"(default {cfg.model.head})"):
        assert expected in text
    st = SelfTrainConfig()
    text = _help(capsys, "self-train")
    assert f"rounds (default {st.rounds})" in text and f"(default {st.threshold})" in text
    assert f"random seed (default {st.train.seed})" in text  # the student's flags


def test_help_follows_a_changed_default(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "TrainConfig", lambda: replace(TrainConfig(), seed=99, lr=2e-4))
    text = _help(capsys, "train")
    assert "random seed (default 99)" in text and "(default 2e-4)" in text


def test_switches_agree_with_the_defaults() -> None:
    """A `--no-x` flag (store_false) only makes sense when x defaults to True, and a store_true flag when False."""
    for flags, defaults in ((cli.TRAIN_FLAGS, TrainConfig()), (cli.SELF_TRAIN_FLAGS, SelfTrainConfig())):
        for flag, key, kwargs in flags:
            value = cli._default(defaults, key)
            if kwargs.get("action") == "store_false":
                assert value is True, flag
            elif kwargs.get("action") == "store_true":
                assert value is False, flag


def test_importing_the_cli_sets_the_offline_default_before_transformers_loads() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    code = "import ner.cli, huggingface_hub.constants as c; print(c.HF_HUB_OFFLINE)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert res.stdout.strip() == "True"
