"""The rows of the mCL-NER comparison: each adds one ingredient to the row before it.

Every row trains on the same shards, encoder and steps budget; what differs is only what is listed
here (row 7, `mined_entities`, differs from row 5 only in its shards). English-only rows read the
source side of the same code-switched pairs (`use_cs: false`).
Loss weights and temperatures come from the recipe's `train:` section, else from `ner train`'s
defaults, so rows 5, 6 and 8 train the library's default objective (cross entropy on both views +
relation contrast, no semantic term). Row 4 measures the semantic term, which the defaults leave off
because it cost F1: it is the one ablation row, compared with row 3, and row 5 is compared with row 3
too (row 5 does not contain row 4's term). A recipe's `variants:` add rows of its own: a row of this table
with other training settings (`variant_row`), e.g. row 3 with joined long inputs next to row 3 itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Row:
    number: int
    label: str
    train_overrides: dict[str, Any] = field(default_factory=dict)
    # The row it is measured against in "what each row adds" (None: the row before it in the recipe).
    baseline: str | None = None
    # Settings beneath the recipe's `train:` section (the recipe wins; the row's overrides win over both).
    defaults: dict[str, Any] = field(default_factory=dict)
    # How the row's model is made: "train" (`ner train`), "self_train" (`ner self-train`: `teacher`'s model
    # labels the unlabeled pools, a student with `teacher`'s training settings learns from shards + labels)
    # or "continue" (`ner train` from `teacher`'s model with the self-training student's steps and
    # settings, shards only).
    method: str = "train"
    # The row this one learns from (self-training's teacher, the starting point of "continue", the miner
    # of "mined" shards when none of `mine_with` runs): it must be in the recipe, and runs first.
    teacher: str | None = None
    # "codeswitch": every target's usual shards; "mined": per target and seed, the usual build with
    # switched entities replaced by target entities mined from the unlabeled pool (`cslib build
    # --entity-mode replace`).
    shards: str = "codeswitch"
    # "mined" shards: the model that mines is the first of these rows in the recipe (`mine.teacher` wins).
    mine_with: tuple[str, ...] = ()
    # A recipe's variant of a row (`variants:`, `variant_row`): its `train` settings, over every other
    # setting of the row (for a self-training or continued row: over its student's settings).
    variant_train: dict[str, Any] = field(default_factory=dict)
    # A variant's `codeswitch`, `unlabeled` and `self_train` settings, over the recipe's sections: a row with
    # any of them reads shards / pools of its own (built once per distinct setting, shared by the rows that
    # name the same one) or self-trains with other filter settings.
    variant_codeswitch: dict[str, Any] = field(default_factory=dict)
    variant_unlabeled: dict[str, Any] = field(default_factory=dict)
    variant_self_train: dict[str, Any] = field(default_factory=dict)

    @property
    def reads_unlabeled(self) -> bool:
        """Whether the row needs every target's unlabeled pool (for pseudo-labels or mining)."""
        return self.method == "self_train" or self.shards == "mined"


_NO_CONTRAST = {"semantic_weight": 0.0, "relation_weight": 0.0, "semantic_target_weight": 0.0}

# Row 4's semantic weight where the recipe's `train:` section sets none: `ner train`'s default is 0 (the
# term cost F1 on the evidence recipe, docs/ner.md), so the row measures it at the weight that recipe
# used (its figures at this weight and at the paper's 0.5: docs/results.md).
SEMANTIC_ABLATION_WEIGHT = 0.1

ROWS: dict[str, Row] = {
    "zero_shot": Row(1, "zero-shot: token classification, English only",
                     {"model": {"head": "token"}, "use_cs": False, **_NO_CONTRAST}),
    "relation_en": Row(2, "relation head, English only",
                       {"model": {"head": "relation"}, "use_cs": False, **_NO_CONTRAST}),
    "codeswitch": Row(3, "+ code-switched data (CE only)",
                      {"model": {"head": "relation"}, "use_cs": True, **_NO_CONTRAST}),
    "semantic": Row(4, "+ semantic contrastive (ablation; off by default)",
                    {"model": {"head": "relation"}, "use_cs": True, "relation_weight": 0.0},
                    defaults={"semantic_weight": SEMANTIC_ABLATION_WEIGHT}),
    # Row 5 is the default objective: row 3 + relation contrast, measured against row 3.
    "relation_contrastive": Row(5, "+ relation contrastive (the default objective)",
                                {"model": {"head": "relation"}, "use_cs": True}, baseline="codeswitch"),
    # Row 6 is row 5's model as teacher, then a student on shards + filtered pseudo-labels.
    "self_training": Row(6, "+ self-training (full mCL-NER)", {"model": {"head": "relation"}, "use_cs": True},
                         method="self_train", teacher="relation_contrastive"),
    # Row 7 (opt-in): row 5's training on shards whose switched entities are target-language entities
    # mined by the best model so far (row 6's student, else row 5) from unlabeled target text, with
    # their predicted types (`cslib build --entity-mode replace`). Still zero-shot: no target labels.
    "mined_entities": Row(7, "row 5 on shards with mined target entities",
                          {"model": {"head": "relation"}, "use_cs": True}, baseline="relation_contrastive",
                          teacher="relation_contrastive", shards="mined",
                          mine_with=("self_training", "relation_contrastive")),
    # Row 8 (opt-in): the control of row 6 -- row 5's model trained for the student's steps with the
    # student's settings on the shards alone. Row 6 trains that many steps more than row 5; this row
    # says how much of row 6's difference is the extra steps and how much the pseudo-labels.
    "continued": Row(8, "row 5 + the student's steps, no pseudo-labels (control of row 6)",
                     {"model": {"head": "relation"}, "use_cs": True}, baseline="relation_contrastive",
                     method="continue", teacher="relation_contrastive"),
}

#: What a recipe's `variants:` entry may set.
VARIANT_KEYS = ("row", "label", "train", "teacher", "codeswitch", "unlabeled", "self_train")
#: The sections a variant may set, each over the recipe's section of the same name.
VARIANT_SECTIONS = ("train", "codeswitch", "unlabeled", "self_train")


def variant_row(name: str, settings: dict[str, Any]) -> Row:
    """The row a recipe's `variants: {NAME: {row: BASE, train: {...}, label: ..., teacher: ...}}` entry makes:
    BASE's row with the variant's training settings over its own, compared with BASE (where the recipe has it),
    learning from `teacher` (default BASE's; e.g. a self-training variant taught by a variant of row 5).
    Its number is BASE's; its label says what differs."""
    base = ROWS[settings["row"]]
    sections = {key: dict(settings.get(key) or {}) for key in VARIANT_SECTIONS}
    changes = [f"{k if key == 'train' else key + '.' + k} {v}" for key in VARIANT_SECTIONS
               for k, v in sections[key].items()]
    label = settings.get("label") or f"{base.label} [{', '.join(changes) or name}]"
    return replace(base, label=str(label), baseline=settings["row"], teacher=settings.get("teacher", base.teacher),
                   variant_train=sections["train"], variant_codeswitch=sections["codeswitch"],
                   variant_unlabeled=sections["unlabeled"], variant_self_train=sections["self_train"])


# What a recipe runs when it lists no `rows:` (the paper's ablation; row 7 costs a second shard build).
DEFAULT_ROWS: list[str] = ["zero_shot", "relation_en", "codeswitch", "semantic", "relation_contrastive",
                           "self_training"]
