"""ner.training.loop on a real (tiny, random) encoder and real Parquet shards built from PAN-X."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ner.cli import main
from ner.errors import NerError
from ner.training.config import load_train_config
from ner.training.loop import train
from tests.helpers import metrics, panx, tiny_config, write_cs_shards


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> Path:
    sents = panx(data_root / "panx" / "train-en.tsv", 32)
    return write_cs_shards(tmp_path_factory.mktemp("shards") / "en-ja", sents, rows_per_shard=16)


# Both contrastive terms on (the semantic term is off by default): the paper's objective.
FULL_OBJECTIVE = {"semantic_weight": 0.5, "relation_weight": 0.5}


def test_tiny_run_writes_run_dir_and_learns(tiny_encoder: Path, shards: Path, tmp_path: Path, data_root: Path) -> None:
    cfg = tiny_config(tiny_encoder, shards, tmp_path / "run", max_steps=20, eval_every=10, eval_langs=["en"],
                      dev_limit=20, data_root=str(data_root), prior_init=False, **FULL_OBJECTIVE)
    run = train(cfg)
    for name in ("config.yaml", "model/config.json", "model/model.pt", "last/trainer.pt", "train.log",
                 "metrics.jsonl", "dev_metrics.json"):
        assert (run / name).is_file(), name
    steps = [m for m in metrics(run) if m.get("type") != "eval"]
    assert [m["step"] for m in steps] == list(range(1, 21))
    assert {"loss", "ce_src", "ce_cs", "semantic", "relation", "lr"} <= set(steps[0])
    first = sum(m["loss"] for m in steps[:3]) / 3
    last = sum(m["loss"] for m in steps[-3:]) / 3
    assert last < 0.8 * first, (first, last)
    dev = json.loads((run / "dev_metrics.json").read_text())
    assert [h["step"] for h in dev["history"]] == [10, 20] and dev["best_step"] in (10, 20)
    assert set(dev["history"][0]["dev"]) == {"en"}
    saved = load_train_config(run / "config.yaml")
    assert saved.max_steps == 20 and saved.model.dilations == (1, 2)
    # Rerunning a finished run is a no-op that keeps the result.
    before = (run / "model" / "model.pt").stat().st_mtime_ns
    train(cfg)
    assert (run / "model" / "model.pt").stat().st_mtime_ns == before


class Crash(Exception):
    pass


def _crash_at(step: int):
    def hook(s: int) -> None:
        if s == step:
            raise Crash(f"simulated crash after step {s}")

    return hook


def test_resume_after_interruption_matches_uninterrupted_run(tiny_encoder: Path, shards: Path, tmp_path: Path) -> None:
    # 4 batches per epoch; checkpoint at step 3 (mid-epoch), crash after step 5, resume crosses the epoch end.
    cfg = tiny_config(tiny_encoder, shards, tmp_path / "a", max_steps=6, save_every=3, **FULL_OBJECTIVE)
    full = train(cfg)
    interrupted = replace(cfg, out=str(tmp_path / "b"))
    with pytest.raises(Crash):
        train(interrupted, on_step=_crash_at(5))
    trainer = torch.load(tmp_path / "b" / "last" / "trainer.pt", weights_only=False)
    assert trainer["state"]["step"] == 3
    resumed = train(interrupted)
    assert "resuming" in (resumed / "train.log").read_text() and "from step 3" in (resumed / "train.log").read_text()
    assert [m["step"] for m in metrics(resumed)] == list(range(1, 7))
    a = torch.load(full / "last" / "model.pt", weights_only=True)
    b = torch.load(resumed / "last" / "model.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [m["loss"] for m in metrics(full)] == [m["loss"] for m in metrics(resumed)]


def test_resume_flag_requires_checkpoint_and_same_model(tiny_encoder: Path, shards: Path, tmp_path: Path) -> None:
    cfg = tiny_config(tiny_encoder, shards, tmp_path / "r", max_steps=2, resume=True)
    with pytest.raises(NerError, match="no checkpoint"):
        train(cfg)
    train(replace(cfg, resume=False))
    other = replace(cfg, model=replace(cfg.model, proj_dim=8), max_steps=3)
    with pytest.raises(NerError, match="different 'model'"):
        train(other)


@pytest.mark.parametrize(
    ("flags", "terms"),
    [
        (["--no-cs", "--relation-weight", "0"], {"ce_src"}),
        (["--relation-weight", "0"], {"ce_src", "ce_cs"}),
        ([], {"ce_src", "ce_cs", "relation"}),  # the default objective: no semantic term
        (["--head", "token"], {"ce_src", "ce_cs"}),
        (["--head", "token", "--semantic-weight", "0.5"], {"ce_src", "ce_cs", "semantic"}),
        (["--semantic-weight", "0.5", "--relation-weight", "0.5"], {"ce_src", "ce_cs", "semantic", "relation"}),
    ],
)
def test_ablation_flags(tiny_encoder: Path, shards: Path, tmp_path: Path, flags: list[str], terms: set[str]) -> None:
    cfg = tiny_config(tiny_encoder, shards, tmp_path / "run")
    yaml_path = tmp_path / "train.yaml"
    yaml_path.write_text(
        "batch_size: 8\nlr: 0.003\nlog_every: 1\nmodel:\n  max_subwords: 64\n  conv_hidden: 16\n  dilations: [1, 2]\n"
        "  biaffine_size: 32\n  ffn_size: 32\n  proj_dim: 16\n"
    )
    argv = ["-q", "train", "--config", str(yaml_path), "--shards", str(shards), "--out", cfg.out, "--max-steps", "2",
            "--encoder", str(tiny_encoder), "--eval-langs", *flags]
    assert main(argv) == 0
    rows = metrics(Path(cfg.out))
    assert set(rows[0]) - {"step", "epoch", "loss", "lr", "elapsed", "n_steps", "grad_norm", "clipped"} == terms


def test_relation_contrastive_with_token_head_is_an_error(tiny_encoder: Path, shards: Path, tmp_path: Path, capsys) -> None:
    cfg = tiny_config(tiny_encoder, shards, tmp_path / "run", max_steps=2, relation_weight=0.5)
    cfg.model.head = "token"
    with pytest.raises(NerError, match="needs --head relation"):
        train(cfg)
    argv = ["train", "--shards", str(shards), "--head", "token", "--relation-weight", "0.3", "--out", str(tmp_path / "x")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ner: error: ") and "--head relation" in err[0]
    assert not (tmp_path / "x").exists()


def test_config_errors_are_one_line(tmp_path: Path, shards: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("relaton_weight: 0\n")
    assert main(["train", "--config", str(bad), "--shards", str(shards)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown key 'relaton_weight'" in err and str(bad) in err
    bad.write_text("model:\n  head: grid\n")
    assert main(["train", "--config", str(bad), "--shards", str(shards)]) == 2
    assert "head must be one of" in capsys.readouterr().err
    bad.write_text("lr: fast\n")
    assert main(["train", "--config", str(bad), "--shards", str(shards)]) == 2
    assert "'lr' must be float" in capsys.readouterr().err
    bad.write_text("amp: off\n")  # YAML 1.1: a bare off is the boolean false
    assert main(["train", "--config", str(bad), "--shards", str(shards)]) == 2
    assert "'amp' must be str, got False" in (err := capsys.readouterr().err) and 'quote it, e.g. "off"' in err
    assert main(["train", "--shards", str(tmp_path / "nope")]) == 2
    assert "shard directory not found" in capsys.readouterr().err
    assert main(["train", "--shards", str(shards), "--eval-langs", "xx", "--out", str(tmp_path / "o")]) == 2
    assert "unknown language code 'xx'" in capsys.readouterr().err


def test_sigint_stops_after_the_step_with_a_checkpoint(tiny_encoder: Path, shards: Path, tmp_path: Path) -> None:
    import os
    import signal

    from ner.training.loop import Interrupted

    cfg = tiny_config(tiny_encoder, shards, tmp_path / "run", max_steps=5, save_every=100)

    def interrupt(step: int) -> None:
        if step == 2:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN under nohup / `cmd &`
    with pytest.raises(Interrupted, match="stopped at step 3"):
        train(cfg, on_step=interrupt)
    assert json.loads((tmp_path / "run" / "last" / "progress.json").read_text())["step"] == 3
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handler is restored
    train(cfg)
    assert [m["step"] for m in metrics(tmp_path / "run")] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("freeze", [True, False])
def test_embeddings_frozen_by_default(tiny_encoder: Path, shards: Path, tmp_path: Path, freeze: bool) -> None:
    from transformers import AutoModel

    from ner.model.ner_model import NerModel

    run = train(tiny_config(tiny_encoder, shards, tmp_path / "run", max_steps=2, freeze_embeddings=freeze))
    before = AutoModel.from_pretrained(tiny_encoder).get_input_embeddings().weight
    after = NerModel.load(run / "model").encoder.model.get_input_embeddings().weight
    assert torch.equal(before, after) is freeze
    layer0 = "encoder.layer.0.attention.self.query.weight"  # the layers above always train
    assert not torch.equal(AutoModel.from_pretrained(tiny_encoder).state_dict()[layer0],
                           NerModel.load(run / "model").encoder.model.state_dict()[layer0])


def test_pseudo_rows_are_oversampled_to_their_fraction() -> None:
    from ner.training.loop import pseudo_repeat

    assert pseudo_repeat(15000, 388, 0.3) == 17  # 6,596 of 21,596 rows: 30.5%
    assert pseudo_repeat(15000, 388, None) == pseudo_repeat(15000, 0, 0.3) == 1
    assert pseudo_repeat(15000, 5, 0.3) == 20  # capped: five sentences are not repeated 1,286 times
    assert pseudo_repeat(100, 400, 0.3) == 1


def test_default_selection_is_the_source_language_and_is_recorded(tiny_encoder: Path, shards: Path, tmp_path: Path,
                                                                  data_root: Path) -> None:
    cfg = tiny_config(tiny_encoder, shards, tmp_path / "run", max_steps=2, eval_every=2, eval_langs=None,
                      dev_limit=8, data_root=str(data_root))
    run = train(cfg)
    dev = json.loads((run / "dev_metrics.json").read_text())
    assert set(dev["history"][0]["dev"]) == {"en"}  # the shards are en -> ja: ja gold labels are never read
    assert dev["selection"]["langs"] == ["en"] and dev["selection"]["zero_shot"]
    assert load_train_config(run / "config.yaml").eval_langs == ["en"]
    assert "zero-shot" in (run / "train.log").read_text()
    # naming a target language is allowed, and flagged everywhere it is recorded
    run2 = train(replace(cfg, out=str(tmp_path / "run2"), eval_langs=["ja"]))
    dev2 = json.loads((run2 / "dev_metrics.json").read_text())
    assert not dev2["selection"]["zero_shot"] and "NOT zero-shot" in dev2["selection"]["note"]
    assert "NOT zero-shot" in (run2 / "train.log").read_text()


def test_prior_init_starts_the_grid_at_the_label_balance(tiny_encoder: Path, shards: Path, tmp_path: Path) -> None:
    import math

    runs = {flag: train(tiny_config(tiny_encoder, shards, tmp_path / f"run-{flag}", max_steps=1, prior_init=flag,
                                    semantic_weight=0.0, relation_weight=0.0)) for flag in (False, True)}
    first = {flag: metrics(run)[0]["ce_src"] for flag, run in runs.items()}
    assert first[False] > 0.8 * math.log(5)  # zero bias: about uniform over NONE, NNW and 3 THW labels
    assert first[True] < 0.5 * first[False]  # prior bias: NONE cells (most of the grid) are cheap at once
    from ner.model.ner_model import NerModel

    bias = NerModel.load(runs[True] / "model").head.pair_out.bias
    assert int(bias.argmax()) == 0  # NONE is the most frequent label


def test_frozen_layers_build_no_autograd_graph(tiny_encoder: Path, shards: Path, tmp_path: Path) -> None:
    """--freeze-layers K: nothing below the first trainable layer is recorded for backward (no work there)."""
    from ner.data.shards import load_pairs
    from ner.model.ner_model import NerModel
    from ner.training.objective import collate_step
    from ner.training.optim import encoder_layers, param_groups

    cfg = tiny_config(tiny_encoder, shards, tmp_path / "run", freeze_layers=1)
    examples, types = load_pairs([shards])
    model = NerModel(cfg.model, types)
    param_groups(model, cfg)
    outputs: dict[str, torch.Tensor] = {}
    layers = encoder_layers(model.encoder.model)
    hooks = [module.register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o[0] if isinstance(o, tuple) else o))
             for name, module in (("embeddings", model.encoder.model.embeddings), ("frozen", layers[0]),
                                  ("trainable", layers[1]))]
    model.train()
    src, _, _ = collate_step(model, examples[:8], False)
    model.supervised_loss(model(src), src).backward()
    for hook in hooks:
        hook.remove()
    for name in ("embeddings", "frozen"):
        assert outputs[name].grad_fn is None and not outputs[name].requires_grad, name
    assert outputs["trainable"].grad_fn is not None
    assert all(p.grad is None for p in layers[0].parameters()) and all(p.grad is not None for p in layers[1].parameters())
