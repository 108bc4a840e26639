"""`--report-to tensorboard`: a tiny real run's event files, read back with TensorBoard's own reader."""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ner import cli
from ner.cli import main
from ner.cli import train as cli_train
from ner.errors import NerError
from ner.training.config import load_self_train_config, load_train_config
from ner.training.loop import train
from tests.helpers import metrics, panx, tiny_config, write_cs_shards
from tests.tiny_encoder import tiny_encoder_dir


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    sents = panx(data_root / "panx" / "train-en.tsv", 32)
    return write_cs_shards(tmp_path_factory.mktemp("shards") / "en-ja", sents, rows_per_shard=16)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_encoder_dir(tmp_path_factory.getbasetemp() / "tiny-encoder", seed=0)


def scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of RUN/tensorboard as (step, value) pairs, purges of resumed sessions applied."""
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def f32(x: float) -> float:
    return float(np.float32(x))


class Crash(Exception):
    pass


def test_tensorboard_events_match_metrics_jsonl_and_change_nothing(encoder: Path, shards: Path, tmp_path: Path,
                                                                    data_root: Path) -> None:
    # Both contrastive terms, gradient probes and dev F1 every 2 steps: every kind of record.
    cfg = tiny_config(encoder, shards, tmp_path / "plain", max_steps=4, eval_every=2, eval_langs=["en"],
                      dev_limit=10, data_root=str(data_root), semantic_weight=0.5, relation_weight=0.5,
                      grad_norm_every=2, encoder_lr=1e-3)
    plain = train(cfg)
    reported = train(replace(cfg, out=str(tmp_path / "tb"), report_to=["tensorboard"]))

    assert not (plain / "tensorboard").exists()
    a = torch.load(plain / "last" / "model.pt", weights_only=True)
    b = torch.load(reported / "last" / "model.pt", weights_only=True)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    lines = metrics(reported)
    strip = [{k: v for k, v in m.items() if k != "elapsed"} for m in lines]
    assert strip == [{k: v for k, v in m.items() if k != "elapsed"} for m in metrics(plain)]

    tags = scalars(reported)
    steps = [m for m in lines if "type" not in m]
    assert [m["step"] for m in steps] == list(range(1, 5))
    for key, tag in [("loss", "train/loss"), ("ce_src", "train/ce_src"), ("ce_cs", "train/ce_cs"),
                     ("semantic", "train/semantic"), ("relation", "train/relation"), ("lr", "train/lr"),
                     ("epoch", "train/epoch"), ("grad_norm", "grad/norm"), ("clipped", "grad/clipped")]:
        assert tags[tag] == [(m["step"], f32(m[key])) for m in steps], tag
    # Two parameter-group families; the jsonl `lr` is the encoder's (its groups come last).
    head, enc = tags["train/lr/head"], tags["train/lr/encoder"]
    assert [s for s, _ in head] == [s for s, _ in enc]
    assert [h for _, h in head] == pytest.approx([3 * e for _, e in enc], rel=1e-6)
    assert enc == tags["train/lr"]
    probes = [m for m in lines if m.get("type") == "grad_norms"]
    assert [m["step"] for m in probes] == [1, 3]
    for key, tag in [("gn_relation", "grad/encoder/relation"), ("gn_supervised", "grad/encoder/supervised"),
                     ("gcos_semantic", "grad/cos/semantic"), ("scale_relation", "grad/scale/relation")]:
        assert tags[tag] == [(m["step"], f32(m[key])) for m in probes], tag
    evals = [m for m in lines if m.get("type") == "eval"]
    assert [m["step"] for m in evals] == [2, 4]
    assert tags["dev/f1/en"] == [(m["step"], f32(m["dev"]["en"])) for m in evals]
    assert tags["dev/f1/mean"] == [(m["step"], f32(m["dev_f1"])) for m in evals]
    assert not [t for t in tags if t.endswith(("n_steps", "elapsed"))]


def test_resumed_run_keeps_one_curve(encoder: Path, shards: Path, tmp_path: Path) -> None:
    """Crash after step 3 with the checkpoint at 2: the resumed session's events replace step 3's."""
    cfg = tiny_config(encoder, shards, tmp_path / "run", max_steps=4, save_every=2, report_to=["tensorboard"])

    def crash(step: int) -> None:
        if step == 3:
            raise Crash

    with pytest.raises(Crash):
        train(cfg, on_step=crash)
    run = train(cfg)
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 2
    loss = scalars(run)["train/loss"]
    assert loss == [(m["step"], f32(m["loss"])) for m in metrics(run)]
    assert [s for s, _ in loss] == list(range(1, 5))
    # A fresh start in the same directory (no checkpoint) drops the earlier curves, as it drops metrics.jsonl.
    shutil.rmtree(run / "last")
    train(replace(cfg, max_steps=2, report_to=[]))
    assert not (run / "tensorboard").exists() and len(metrics(run)) == 2


def test_report_to_errors_are_one_line(shards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["train", "--shards", str(shards), "--out", str(tmp_path / "r")]
    assert main([*argv, "--report-to", "wandb"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--report-to" in err and "'wandb'" in err and "choices: tensorboard" in err
    # A package that is not installed: Python's import system treats a None entry in sys.modules as absent.
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    assert main([*argv, "--report-to", "tensorboard"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'xner[tensorboard]'" in err
    with pytest.raises(NerError, match="xner\\[tensorboard\\]"):
        tiny_config(tmp_path, shards, tmp_path / "s", report_to=["tensorboard"]).validate()
    assert not (tmp_path / "r").exists()


def test_flag_reaches_the_run_and_the_self_training_students(tmp_path: Path) -> None:
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--shards", "s", "--report-to", "tensorboard"])
    assert load_train_config(None, cli_train.overrides(args)).report_to == ["tensorboard"]
    args = parser.parse_args(["self-train", "--model", "t", "--unlabeled", "u", "--shards", "s", "--report-to",
                              "tensorboard"])
    assert load_self_train_config(None, cli_train.overrides(args)).train.report_to == ["tensorboard"]
    yaml_path = tmp_path / "train.yaml"
    yaml_path.write_text("report_to: tensorboard\n")
    assert load_train_config(yaml_path).report_to == ["tensorboard"]
    assert load_train_config(yaml_path, {"report_to": []}).report_to == []
