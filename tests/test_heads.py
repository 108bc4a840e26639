"""The head interface: both heads implement it, `NerModel` never asks which head it has, and a third head
written against the interface alone trains, decodes, saves and loads through `NerModel`."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from ner.model.grid import Entity
from ner.model.heads import HEADS, Head, head_class
from ner.model.heads.token import TagSchema, decode_tag_probs
from ner.model.losses import IGNORE_INDEX, token_cross_entropy
from ner.model.ner_model import NerModel
from ner.model.pair_features import PairFeatures
from tests.test_model import TAGS, TOKENS, TYPES, small_config

REPO = Path(__file__).resolve().parents[1]
INTERFACE = ["labels", "output_layer", "run", "encode_gold", "label_ids", "loss", "sentence_probs", "decode"]


class MlpTagHead(Head):
    """A third head, written only against `Head`: IOB2 tags from a two-layer MLP."""

    name = "mlp-tags"

    def __init__(self, hidden: int, entity_types: Sequence[str], *, dropout: float = 0.2) -> None:
        super().__init__()
        self.schema = TagSchema(tuple(entity_types))
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, 24), nn.GELU())
        self.out = nn.Linear(24, self.schema.num_tags)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.schema.tags

    @property
    def output_layer(self) -> nn.Linear:
        return self.out

    def run(self, words: Tensor, word_mask: Tensor, decode_only: bool,
            max_entity_words: int) -> tuple[Tensor, PairFeatures | None]:
        return self.out(self.mlp(words)).masked_fill(~word_mask.unsqueeze(-1), 0.0), None

    def encode_gold(self, tags, kept, width, ignore=None) -> Tensor:
        gold = torch.full((len(tags), width), IGNORE_INDEX, dtype=torch.long)
        for b, (seq, n) in enumerate(zip(tags, kept, strict=True)):
            gold[b, :n] = torch.tensor(self.schema.encode(seq[:n]))
        return gold

    def label_ids(self, tags: Sequence[str]) -> np.ndarray:
        return np.asarray(self.schema.encode(tags))

    def loss(self, logits: Tensor, gold: Tensor, reduction: str = "cell") -> Tensor:
        return token_cross_entropy(logits, gold)

    def sentence_probs(self, probs: np.ndarray, kept: slice | np.ndarray) -> np.ndarray:
        return probs[kept]

    def decode(self, probs: np.ndarray, max_entity_words: int) -> list[Entity]:
        return decode_tag_probs(probs, self.schema)[1]


def test_ner_model_never_asks_which_head_it_has() -> None:
    source = (REPO / "ner" / "model" / "ner_model.py").read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):  # e.g. `cfg.head == "relation"`
            names = {n.value for n in ast.walk(node) if isinstance(n, ast.Constant)}
            assert not names & set(HEADS), f"ner_model.py:{node.lineno} compares the head with a head name"
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
            assert "Head" not in ast.unparse(node), f"ner_model.py:{node.lineno} asks the head's type"


@pytest.mark.parametrize("name", sorted(HEADS))
def test_every_head_implements_the_interface(name: str) -> None:
    cls = head_class(name)
    assert cls.name == name
    missing = [m for m in INTERFACE if getattr(cls, m) is getattr(Head, m)]
    assert not missing, f"{cls.__name__} does not implement {missing}"


def test_unknown_head_names_the_choices() -> None:
    with pytest.raises(ValueError, match="relation.*token"):
        head_class("crf")


def test_a_third_head_trains_decodes_saves_and_loads(monkeypatch: pytest.MonkeyPatch, tiny_encoder: Path,
                                                     tmp_path: Path) -> None:
    monkeypatch.setitem(HEADS, MlpTagHead.name, MlpTagHead)
    torch.manual_seed(0)
    model = NerModel(small_config(tiny_encoder, MlpTagHead.name, dropout=0.0), TYPES)
    assert isinstance(model.head, MlpTagHead) and model.pair_projector is None
    model.init_output_prior(model.label_counts(TAGS))
    assert int(model.head.out.bias.argmax()) == model.head.labels.index("O")
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    batch = model.collate(TOKENS, TAGS)
    assert batch["gold"].shape == batch["word_mask"].shape
    model.train()
    losses = []
    for _ in range(40):
        loss = model.supervised_loss(model(batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.2 * losses[0]
    model.eval()
    with torch.no_grad():
        predicted = model.decode_tags(model(model.collate(TOKENS), decode_only=True))
    assert predicted == TAGS
    model.save(tmp_path / "m")
    again = NerModel.load(tmp_path / "m")
    assert isinstance(again.head, MlpTagHead)
    with torch.no_grad():
        assert again.decode_tags(again(again.collate(TOKENS), decode_only=True)) == TAGS
