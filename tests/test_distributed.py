"""Two processes on CPU: `torchrun --standalone --nproc_per_node 2 -m ner train` (gloo) with the tiny encoder.

Both ranks finish, rank 0 alone writes the run (one model), the log says `world 2`, and the model after N steps
has the loss that one process reaches at the same global batch, within a tolerance. It cannot be exact: DDP
averages the gradients of the two ranks' *mean* losses, while one process takes the mean over all the batch's
cells at once, so a rank whose sentences have fewer cells weighs more; the objective is CE only and dropout 0
(encoder included) so that nothing else differs (rank r draws from seed + r).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ner.data.shards import load_pairs
from ner.inference.loading import load_model
from ner.training.config import dump_yaml
from ner.training.loop import train
from ner.training.objective import collate_step
from tests.helpers import metrics, panx, tiny_config, write_cs_shards

REPO = Path(__file__).resolve().parents[1]
STEPS = 6
TOLERANCE = 0.01  # relative difference of the two models' training loss after STEPS steps (seen: 0.01%)


@pytest.fixture(scope="module")
def no_dropout_encoder(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny encoder with its own dropout off (attention and hidden states)."""
    src = tiny_encoder
    dst = tmp_path_factory.mktemp("tiny-no-dropout") / "encoder"
    shutil.copytree(src, dst)
    config = json.loads((dst / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (dst / "config.json").write_text(json.dumps(config))
    return dst


def _loss(run: Path, shards: Path) -> float:
    """CE (source + code-switched view) of a run's model over all training pairs, in eval mode, fp32."""
    model = load_model(run)
    examples, _ = load_pairs([shards])
    with torch.no_grad():
        src, cs, _ = collate_step(model, examples, True)
        out_src, out_cs = model(src), model(cs)
        return float(model.supervised_loss(out_src, src) + model.supervised_loss(out_cs, cs))


# Joined long inputs: every rank builds the same joined pool (seeded by the training seed, not the rank).
@pytest.mark.parametrize("options", [{}, {"joined_inputs": 0.5, "joined_max": 4, "grid_loss": "equal"}],
                         ids=["plain", "joined"])
def test_two_processes_match_one_at_the_same_global_batch(no_dropout_encoder: Path, data_root: Path,
                                                          tmp_path: Path, options: dict) -> None:
    shards = write_cs_shards(tmp_path / "en-ja", panx(data_root / "panx" / "train-en.tsv", 32), rows_per_shard=16)
    common = {"max_steps": STEPS, "semantic_weight": 0.0, "relation_weight": 0.0, "amp": "off", **options}
    one = tiny_config(no_dropout_encoder, shards, tmp_path / "one", batch_size=8, **common)
    one.model.dropout = 0.0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two ranks below: a tiny model gains nothing from a second thread
    try:
        train(one)
    finally:
        torch.set_num_threads(threads)
    two = tmp_path / "two"
    config = tmp_path / "two.yaml"
    dump_yaml(replace(one, out=str(two), batch_size=4), config)  # half the batch on each of two ranks
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "ner", "-q",
           "train", "--config", str(config)]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]  # both ranks finished
    log = (two / "train.log").read_text()
    assert "world 2" in log and "done: 6 steps" in log
    assert sorted(p.name for p in two.iterdir()) == ["config.yaml", "dev_metrics.json", "last", "metrics.jsonl",
                                                     "model", "train.log"]  # rank 0 alone writes: one model
    assert [m["step"] for m in metrics(two)] == list(range(1, STEPS + 1))
    a, b = _loss(tmp_path / "one", shards), _loss(two, shards)
    print(f"loss after {STEPS} steps: one process {a:.5f}, two processes {b:.5f} ({abs(a - b) / a:.2%})")
    assert abs(a - b) <= TOLERANCE * a, (a, b)

