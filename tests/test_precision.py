"""Mixed precision: which dtype `amp` picks where, and that the losses stay fp32 inside a bf16 region."""

from __future__ import annotations

import logging

import pytest
import torch

from ner.inference import precision
from ner.inference.precision import amp_dtype, precision_name
from ner.model.losses import grid_cross_entropy, semantic_contrastive, supervised_contrastive

CPU = torch.device("cpu")


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bf16_exactly_on_cpus_with_native_bf16(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: native)
    assert amp_dtype("auto", CPU) == (torch.bfloat16 if native else None)
    assert amp_dtype("off", CPU) is None  # fp32 stays one flag away
    assert amp_dtype("bf16", CPU) == torch.bfloat16  # explicit: honoured (emulated where not native)


def test_fp16_is_ignored_on_cpu_and_bad_modes_fail(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ner.inference"):
        assert amp_dtype("fp16", CPU) is None
    assert "fp16 ignored on cpu" in caplog.text
    with pytest.raises(Exception, match="unknown amp mode"):
        amp_dtype("bf17", CPU)
    assert [precision_name(d) for d in (None, torch.bfloat16, torch.float16)] == ["fp32", "bf16", "fp16"]


def test_losses_are_fp32_inside_a_bf16_autocast_region() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 5, 4)
    gold = torch.randint(0, 4, (2, 5, 5))
    za, zb = torch.randn(6, 16), torch.randn(6, 16)
    feats, labels = torch.randn(12, 16), torch.randint(0, 3, (12,))
    ref = [grid_cross_entropy(logits, gold), semantic_contrastive(za, zb, 0.1), supervised_contrastive(feats, labels, 0.1)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = [grid_cross_entropy(logits, gold), semantic_contrastive(za, zb, 0.1),
               supervised_contrastive(feats, labels, 0.1)]
    for r, g in zip(ref, got, strict=True):
        assert g.dtype == torch.float32 and torch.equal(r, g)  # same fp32 computation, not a bf16 approximation


def test_relation_head_trains_deterministically_under_cpu_bf16() -> None:
    """oneDNN's bf16 depthwise-conv backward is nondeterministic (and now and then NaN) on grids this
    size; the head keeps its convolutions in fp32 when training, so gradients repeat exactly."""
    from ner.model.heads.relation_layers import RelationNetwork

    torch.manual_seed(0)
    head = RelationNetwork(32, 5, conv_hidden=16, dilations=(1, 2, 3), biaffine_size=16, ffn_size=16, dropout=0.0)
    words = torch.randn(8, 36, 32)
    mask = torch.ones(8, 36, dtype=torch.bool)
    mask[4:, 20:] = False
    grads = []
    for _ in range(4):
        head.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits, _ = head(words, mask)
        logits.float().square().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in head.parameters() if p.grad is not None]))
    assert all(torch.isfinite(g).all() and torch.equal(g, grads[0]) for g in grads)


def test_importing_ner_makes_openmp_threads_sleep_unless_told_otherwise() -> None:
    """Not precision, but the other CPU setting that decides speed here (see ner/__init__.py)."""
    import os
    import subprocess
    import sys

    code = "import os, ner; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "ACTIVE"
