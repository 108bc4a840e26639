"""Grid encoding/decoding: exact round trip, error reporting, overlap resolution, tag schema."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ner.model.grid import (
    NNW_ID,
    NONE_ID,
    Entity,
    RelationSchema,
    decode_grid,
    entities_to_tags,
    tags_to_entities,
    tags_to_grid,
)
from ner.model.heads.token import TagSchema, decode_tag_probs, repair_iob2

TYPES = ("LOC", "ORG", "PER")
SCHEMA = RelationSchema(TYPES)


@st.composite
def iob2_sequences(draw: st.DrawFn) -> list[str]:
    """Valid IOB2 sequences (including empty and adjacent same-type entities)."""
    n = draw(st.integers(0, 24))
    tags: list[str] = []
    for _ in range(n):
        prev_type = tags[-1][2:] if tags and tags[-1] != "O" else None
        options = ["O", *(f"B-{t}" for t in TYPES)]
        if prev_type is not None:
            options.append(f"I-{prev_type}")
        tags.append(draw(st.sampled_from(options)))
    return tags


def one_hot(grid: np.ndarray, num_labels: int) -> np.ndarray:
    return np.eye(num_labels, dtype=np.float32)[grid]


@settings(max_examples=300, deadline=None)
@given(iob2_sequences())
def test_encode_decode_identity(tags: list[str]) -> None:
    grid = tags_to_grid(tags, SCHEMA)
    assert grid.shape == (len(tags), len(tags)) and grid.dtype == np.int64
    entities = decode_grid(one_hot(grid, SCHEMA.num_labels), SCHEMA)
    assert entities_to_tags(entities, len(tags)) == tags
    assert [(e.start, e.last, e.type) for e in entities] == [
        (e.start, e.last, e.type) for e in tags_to_entities(tags)
    ]
    assert all(e.score == pytest.approx(1.0) for e in entities)


def test_grid_layout() -> None:
    tags = ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "B-LOC"]
    grid = tags_to_grid(tags, SCHEMA)
    expected = np.zeros((6, 6), dtype=np.int64)
    expected[0, 1] = expected[1, 2] = NNW_ID
    expected[2, 0] = SCHEMA.label_to_id["THW-PER"]
    expected[4, 4] = expected[5, 5] = SCHEMA.label_to_id["THW-LOC"]
    np.testing.assert_array_equal(grid, expected)


def test_schema() -> None:
    schema = RelationSchema.from_tags([["B-PER", "O"], ["B-LOC", "I-LOC", "B-ORG"]])
    assert schema.labels == ("NONE", "NNW", "THW-LOC", "THW-ORG", "THW-PER")
    assert schema.num_labels == 5 and schema.label_to_id["THW-ORG"] == 3
    assert RelationSchema(("PER", "LOC", "ORG", "PER")) == schema
    assert RelationSchema.from_dict(schema.to_dict()) == schema
    with pytest.raises(ValueError, match="does not match"):
        RelationSchema.from_dict({"entity_types": ["PER"], "labels": ["NONE", "NNW"]})


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["I-PER"], "follows '<start>'"),
        (["B-PER", "I-LOC"], "'I-LOC' at position 1 follows 'B-PER'"),
        (["O", "I-PER"], "follows 'O'"),
        (["B-"], "invalid IOB2 tag"),
        (["X-PER"], "invalid IOB2 tag"),
        (["B-MISC"], "unknown entity type 'MISC'"),
    ],
)
def test_malformed_input(tags: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        tags_to_grid(tags, SCHEMA)
    assert "\n" not in str(info.value)


def test_entities_to_tags_rejects_overlap_and_range() -> None:
    with pytest.raises(ValueError, match="overlaps"):
        entities_to_tags([Entity(0, 2, "PER"), Entity(2, 3, "LOC")], 4)
    with pytest.raises(ValueError, match="out of range"):
        entities_to_tags([Entity(3, 4, "PER")], 4)


def test_decode_resolves_overlaps_by_score() -> None:
    n, c = 5, SCHEMA.num_labels
    probs = np.zeros((n, n, c), dtype=np.float32)
    probs[..., NONE_ID] = 1.0

    def put(i: int, j: int, label: int, p: float) -> None:
        probs[i, j] = (1.0 - p) / (c - 1)
        probs[i, j, label] = p

    per, loc = SCHEMA.label_to_id["THW-PER"], SCHEMA.label_to_id["THW-LOC"]
    # Candidate A: PER 0..2 (score (0.9 + 0.9 + 0.9) / 3 = 0.9).
    put(0, 1, NNW_ID, 0.9)
    put(1, 2, NNW_ID, 0.9)
    put(2, 0, per, 0.9)
    # Candidate B: LOC 2..3 overlaps A on word 2 with a lower score ((0.6 + 0.6) / 2).
    put(2, 3, NNW_ID, 0.6)
    put(3, 2, loc, 0.6)
    # Candidate C: LOC 4..4, disjoint.
    put(4, 4, loc, 0.7)
    # THW above the diagonal and a THW with a broken chain are not candidates.
    put(1, 3, per, 0.99)
    put(4, 0, per, 0.99)
    entities = decode_grid(probs, SCHEMA)
    assert [(e.start, e.last, e.type) for e in entities] == [(0, 2, "PER"), (4, 4, "LOC")]
    assert entities[0].score == pytest.approx(0.9)
    assert entities[1].score == pytest.approx(0.7)
    # Raise B above A: now B wins and A is dropped, output stays flat.
    put(2, 3, NNW_ID, 0.99)
    put(3, 2, loc, 0.99)
    entities = decode_grid(probs, SCHEMA)
    assert [(e.start, e.last, e.type) for e in entities] == [(2, 3, "LOC"), (4, 4, "LOC")]
    assert entities_to_tags(entities, n) == ["O", "O", "B-LOC", "I-LOC", "B-LOC"]


def test_decode_shape_errors() -> None:
    with pytest.raises(ValueError, match="labels"):
        decode_grid(np.zeros((3, 3, 2)), SCHEMA)
    assert decode_grid(np.zeros((0, 0, SCHEMA.num_labels)), SCHEMA) == []


def test_tag_schema_and_repair() -> None:
    schema = TagSchema(("PER", "LOC"))
    assert schema.tags == ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
    assert TagSchema.from_dict(schema.to_dict()) == schema
    assert schema.encode(["B-PER", "I-PER", "O"]) == [3, 4, 0]
    with pytest.raises(ValueError, match="unknown tag 'B-ORG'"):
        schema.encode(["B-ORG"])
    assert repair_iob2(["I-PER", "I-PER", "I-LOC", "O", "I-LOC"]) == ["B-PER", "I-PER", "B-LOC", "O", "B-LOC"]
    probs = np.full((3, 5), 0.05, dtype=np.float32)
    probs[0, 4], probs[1, 4], probs[2, 0] = 0.8, 0.6, 0.8  # I-PER I-PER O
    tags, entities = decode_tag_probs(probs, schema)
    assert tags == ["B-PER", "I-PER", "O"]
    assert [(e.start, e.last, e.type) for e in entities] == [(0, 1, "PER")]
    assert entities[0].score == pytest.approx(0.7)
