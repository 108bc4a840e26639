from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cslib.iob import Span, is_iob2
from cslib.schemes import SCHEMES, SchemeError, decode, detect_scheme, encode

TYPES = ["PER", "LOC", "MISC", "fromloc.city_name"]


@st.composite
def spans_of(draw):
    """Non-overlapping, sorted spans over n tokens, adjacent same-type spans included."""
    n = draw(st.integers(0, 16))
    out, i = [], 0
    while i < n:
        if draw(st.booleans()):
            length = draw(st.integers(1, min(4, n - i)))
            out.append(Span(i, i + length, draw(st.sampled_from(TYPES))))
            i += length
        else:
            i += 1
    return out, n


def merge_adjacent(spans):
    out = []
    for s in spans:
        if out and out[-1].end == s.start and out[-1].type == s.type:
            out[-1] = Span(out[-1].start, s.end, s.type)
        else:
            out.append(s)
    return out


@settings(max_examples=300, deadline=None)
@given(spans_of(), st.sampled_from(SCHEMES))
def test_encode_decode_round_trip_in_every_scheme(sp, scheme):
    spans, n = sp
    tags = encode(spans, n, scheme)
    assert len(tags) == n
    # IO cannot separate two adjacent entities of one type: they become one, by definition.
    assert decode(tags, scheme) == (merge_adjacent(spans) if scheme == "io" else spans)
    iob2 = encode(decode(tags, scheme), n, "iob2")  # how readers and reports convert to IOB2
    assert is_iob2(iob2) and encode(decode(iob2, "iob2"), n, scheme) == tags


def test_known_encodings():
    spans = [Span(0, 2, "PER"), Span(2, 3, "PER"), Span(4, 5, "LOC")]
    assert encode(spans, 5, "iob2") == ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    assert encode(spans, 5, "iob1") == ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]
    assert encode(spans, 5, "bioes") == ["B-PER", "E-PER", "S-PER", "O", "S-LOC"]
    assert encode(spans, 5, "bilou") == ["B-PER", "L-PER", "U-PER", "O", "U-LOC"]
    assert encode(spans, 5, "io") == ["I-PER", "I-PER", "I-PER", "O", "I-LOC"]
    assert encode([Span(0, 3, "X")], 3, "bioes") == ["B-X", "I-X", "E-X"]


@pytest.mark.parametrize("tags,scheme,token,needle", [
    (["O", "I-PER"], "iob2", 1, "IOB2 needs B-PER"),
    (["B-PER", "I-LOC"], "iob2", 1, "IOB2 needs B-LOC"),
    (["B-PER"], "iob1", 0, "IOB1 uses B- only right after a PER entity"),
    (["I-PER", "E-PER"], "bioes", 0, "outside an entity"),
    (["B-PER", "O"], "bioes", 1, "inside an open PER entity"),
    (["B-PER", "I-PER"], "bioes", 1, "never closed with E-PER"),
    (["B-PER", "E-LOC"], "bioes", 1, "inside an open PER entity"),
    (["S-PER"], "iob2", 0, "does not fit IOB2"),
    (["B-PER"], "io", 0, "does not fit IO"),
    (["U-PER", "L-PER"], "bilou", 1, "outside an entity"),
    (["PER"], "bioes", 0, "does not fit BIOES"),
])
def test_misfits_name_the_token(tags, scheme, token, needle):
    with pytest.raises(SchemeError) as exc:
        decode(tags, scheme)
    assert exc.value.token == token and needle in str(exc.value)


def test_detect_scheme():
    assert detect_scheme([["B-X", "E-X", "S-Y"]]) == "bioes"
    assert detect_scheme([["U-X", "O"]]) == "bilou"
    assert detect_scheme([["B-X", "I-X"], ["O", "B-Y"]]) == "iob2"
    assert detect_scheme([["I-X", "I-X", "B-X"]]) == "iob1"
    assert detect_scheme([["I-X", "O"]]) == "io"
    assert detect_scheme([["O", "I-X", "B-Y"]]) == "iob2"  # fits neither: reported against IOB2
