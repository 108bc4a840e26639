"""IOB2 tag sequences: validation, repair and entity spans.

Every other module relies on these few functions, so label rules live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # exclusive
    type: str


def split_tag(tag: str) -> tuple[str, str | None]:
    """Return (prefix, type); raises ValueError on anything that is not O, B-X or I-X."""
    if tag == "O":
        return "O", None
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BI":
        return tag[0], tag[2:]
    raise ValueError(f"illegal tag {tag!r} (expected O, B-TYPE or I-TYPE)")


def iob2_problem(tags: list[str]) -> str | None:
    """Describe the first IOB2 violation, or None when the sequence is valid."""
    prev_type: str | None = None
    for i, tag in enumerate(tags):
        if tag == "O":
            prev_type = None
            continue
        try:
            prefix, typ = split_tag(tag)
        except ValueError as exc:
            return f"token {i}: {exc}"
        if prefix == "I" and prev_type != typ:
            before = tags[i - 1] if i else "sentence start"
            return f"token {i}: {tag} follows {before} (IOB2 needs B-{typ} first)"
        prev_type = typ
    return None


def is_iob2(tags: list[str]) -> bool:
    return iob2_problem(tags) is None


def repair_iob2(tags: list[str]) -> tuple[list[str], int]:
    """Turn IOB1 / broken IOB2 into IOB2: an I-X that does not continue an X entity becomes B-X.

    Returns the repaired tags and how many were changed. This is also the IOB1→IOB2 conversion.
    """
    out: list[str] = []
    changed = 0
    prev_type: str | None = None
    for tag in tags:
        prefix, typ = split_tag(tag)
        if prefix == "I" and prev_type != typ:
            tag = f"B-{typ}"
            changed += 1
        out.append(tag)
        prev_type = typ
    return out, changed


def spans(tags: list[str]) -> list[Span]:
    """Entity spans of a valid IOB2 sequence."""
    result: list[Span] = []
    start: int | None = None
    typ: str | None = None
    for i, tag in enumerate(tags):
        if tag == "O":  # most tags: split_tag's answer without the call
            if start is not None:
                result.append(Span(start, i, typ))  # type: ignore[arg-type]
                start = None
            continue
        prefix, t = split_tag(tag)
        if prefix != "I" and start is not None:
            result.append(Span(start, i, typ))  # type: ignore[arg-type]
            start = None
        if prefix == "B":
            start, typ = i, t
    if start is not None:
        result.append(Span(start, len(tags), typ))  # type: ignore[arg-type]
    return result


def span_tags(typ: str | None, n: int) -> list[str]:
    """Tags for n tokens that form one entity of `typ` (or n O tags when typ is None)."""
    if typ is None:
        return ["O"] * n
    return [f"B-{typ}"] + [f"I-{typ}"] * (n - 1) if n else []


def entity_types(tags: list[str]) -> list[str]:
    return [s.type for s in spans(tags)]
