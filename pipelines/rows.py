"""The rows of the mCL-NER comparison: each adds one ingredient to the row before it.

Every row trains on the same shards, encoder and steps budget; what differs is only what is listed
here. English-only rows read the source side of the same code-switched pairs (`use_cs: false`).
Loss weights and temperatures of rows 4-6 come from the recipe's `train:` section (defaults of
`ner.config.TrainConfig` otherwise); the rows only switch losses off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Row:
    number: int
    label: str
    train_overrides: dict[str, Any] = field(default_factory=dict)


_NO_CONTRAST = {"semantic_weight": 0.0, "relation_weight": 0.0}

ROWS: dict[str, Row] = {
    "zero_shot": Row(1, "zero-shot: token classification, English only",
                     {"model": {"head": "token"}, "use_cs": False, **_NO_CONTRAST}),
    "relation_en": Row(2, "relation head, English only",
                       {"model": {"head": "relation"}, "use_cs": False, **_NO_CONTRAST}),
    "codeswitch": Row(3, "+ code-switched data (CE only)",
                      {"model": {"head": "relation"}, "use_cs": True, **_NO_CONTRAST}),
    "semantic": Row(4, "+ semantic contrastive",
                    {"model": {"head": "relation"}, "use_cs": True, "relation_weight": 0.0}),
    "relation_contrastive": Row(5, "+ relation contrastive (full multi-view)",
                                {"model": {"head": "relation"}, "use_cs": True}),
    # Row 6 is row 5's model as teacher, then a student on shards + filtered pseudo-labels.
    "self_training": Row(6, "+ self-training (full mCL-NER)", {"model": {"head": "relation"}, "use_cs": True}),
}
