"""NerModel on a tiny random BERT encoder: shapes, learning a toy set, save/load round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ner.model.config import ModelConfig
from ner.model.losses import relation_contrastive, semantic_contrastive
from ner.model.ner_model import NerModel

TOKENS = [
    ["Angela", "Merkel", "visited", "Paris", "."],
    ["The", "United", "Nations", "met", "in", "New", "York", "City", "."],
    ["Tokyo", "Tokyo", "and", "Bob", "."],
    ["Nothing", "to", "see", "here"],
]
TAGS = [
    ["B-PER", "I-PER", "O", "B-LOC", "O"],
    ["O", "B-ORG", "I-ORG", "O", "O", "B-LOC", "I-LOC", "I-LOC", "O"],
    ["B-LOC", "B-LOC", "O", "B-PER", "O"],
    ["O", "O", "O", "O"],
]
TYPES = ["PER", "ORG", "LOC"]


@pytest.fixture(scope="module")
def encoder_dir(tiny_encoder: Path) -> Path:
    return tiny_encoder


def small_config(encoder_dir: Path, head: str, dropout: float = 0.1) -> ModelConfig:
    return ModelConfig(
        encoder=str(encoder_dir),
        head=head,
        max_subwords=64,
        dropout=dropout,
        dist_emb=8,
        region_emb=8,
        conv_hidden=16,
        dilations=(1, 2),
        biaffine_size=32,
        ffn_size=32,
        proj_dim=16,
    )


@pytest.fixture(scope="module", params=["relation", "token"])
def model(request: pytest.FixtureRequest, encoder_dir: Path) -> NerModel:
    """One model per head, shared by the shape and save/load tests (building one takes ~1 s)."""
    torch.manual_seed(0)
    return NerModel(small_config(encoder_dir, request.param), TYPES)


def test_forward_shapes(model: NerModel) -> None:
    head = model.cfg.head
    model.train()
    batch = model.collate(TOKENS, TAGS)
    out = model(batch)
    b, w = len(TOKENS), max(len(t) for t in TOKENS)
    hidden = model.encoder.hidden_size
    assert out.word_mask.shape == (b, w) and out.word_mask.sum(1).tolist() == [len(t) for t in TOKENS]
    assert out.sentence.shape == (b, hidden)
    assert model.project_sentence(out.sentence).shape == (b, 16)
    if head == "relation":
        assert out.logits.shape == (b, w, w, 5) and batch["gold"].shape == (b, w, w)
        assert out.pair_repr is not None and out.pair_repr.shape == (b, w, w, 32)
        dense = out.pair_repr.dense()
        assert dense.shape == (b, w, w, 32) and model.project_pairs(dense).shape == (b, w, w, 16)
        # The contrastive views plug into the model's outputs (packed or dense) and projectors.
        gold = batch["gold"]
        def rel_loss(pair: object) -> torch.Tensor:
            return relation_contrastive(pair, gold, dense.flip(0), gold.flip(0), tau=0.1, project=model.project_pairs,
                                        generator=torch.Generator().manual_seed(0))

        rel = rel_loss(out.pair_repr)
        assert torch.allclose(rel, rel_loss(dense))
        z = model.project_sentence(out.sentence)
        (rel + semantic_contrastive(z, z.flip(0), tau=0.1)).backward(retain_graph=True)
        assert model.pair_projector is not None
        assert all(p.grad is not None for p in model.pair_projector.parameters())
    else:
        assert out.logits.shape == (b, w, 7) and batch["gold"].shape == (b, w)
        assert out.pair_repr is None
        with pytest.raises(ValueError, match="token head"):
            model.project_pairs(out.sentence)
    assert int((batch["gold"] != -100).sum()) == sum(
        len(t) ** (2 if head == "relation" else 1) for t in TOKENS
    )
    loss = model.supervised_loss(out, batch)
    loss.backward()
    assert torch.isfinite(loss)
    assert [len(t) for t in model.decode_tags(out)] == [len(t) for t in TOKENS]
    assert model.collate(TOKENS).get("gold") is None
    # Empty sentences survive collate, forward, loss and decoding.
    empty = model.collate([[], ["Paris"]], [[], ["B-LOC"]])
    out = model(empty)
    assert torch.isfinite(model.supervised_loss(out, empty))
    assert [len(t) for t in model.decode_tags(out, lengths=[0, 3])] == [0, 3]


@pytest.mark.parametrize("head", ["relation", "token"])
def test_learns_toy_set(encoder_dir: Path, head: str) -> None:
    torch.manual_seed(0)
    model = NerModel(small_config(encoder_dir, head, dropout=0.0), TYPES)
    batch = model.collate(TOKENS, TAGS)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, fused=True)  # fused: ~3x cheaper on CPU
    losses = []
    for _ in range(40):
        loss = model.supervised_loss(model(batch), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    model.eval()
    with torch.no_grad():
        out = model(batch)
    assert model.decode_tags(out) == TAGS
    entities = model.decode(out)
    assert [(e.start, e.last, e.type) for e in entities[1]] == [(1, 2, "ORG"), (5, 7, "LOC")]
    assert all(0.0 < e.score <= 1.0 for ents in entities for e in ents)


def test_save_load_round_trip(model: NerModel, tmp_path: Path) -> None:
    with torch.no_grad():  # move weights away from their initialisation so the check means something
        for p in model.head.parameters():
            p.add_(0.01 * torch.randn_like(p))
    model.eval()
    model.save(tmp_path / "ckpt")
    assert {p.name for p in (tmp_path / "ckpt").iterdir()} == {"config.json", "model.pt"}
    loaded = NerModel.load(tmp_path / "ckpt")
    assert not loaded.training and loaded.cfg == model.cfg and loaded.entity_types == ["LOC", "ORG", "PER"]
    batch = model.collate(TOKENS)
    with torch.no_grad():
        a, b = model(batch), loaded(batch)
    assert torch.equal(a.logits, b.logits)
    assert torch.equal(a.sentence, b.sentence)
    assert model.decode_tags(a) == loaded.decode_tags(b)


def test_saved_configs_without_subword_space_keep_the_old_input() -> None:
    data = ModelConfig(subword_space="script").to_dict()
    assert ModelConfig.from_dict(data).subword_space == "script"
    del data["subword_space"]  # a model saved before the setting existed
    assert ModelConfig.from_dict(data).subword_space == "word"
