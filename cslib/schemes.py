"""Tagging schemes (IOB1, IOB2, BIOES, BILOU, IO) converted to and from one span form.

The switcher works on IOB2 (`cslib.iob`); every other scheme is decoded strictly into spans,
switched as IOB2 and encoded back, so a tag that does not fit the declared scheme is an error
(naming the token) instead of a silently different entity. Types are free-form strings
(`PER`, `MISC`, `fromloc.city_name`, ...); only the one-letter prefix and the dash are fixed.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import UserError
from .iob import Span, span_tags

SCHEMES = ("iob1", "iob2", "bioes", "bilou", "io")
_PREFIXES = {"iob1": "BI", "iob2": "BI", "bioes": "BIES", "bilou": "BILU", "io": "I"}


class SchemeError(UserError, ValueError):
    """A tag sequence that does not fit its scheme; `token` is the offending position."""

    def __init__(self, token: int, problem: str) -> None:
        super().__init__(f"token {token}: {problem}")
        self.token = token
        self.problem = problem


def _split(tag: str, scheme: str, i: int) -> tuple[str, str | None]:
    if tag == "O":
        return "O", None
    if len(tag) > 2 and tag[1] == "-" and tag[0] in _PREFIXES[scheme]:
        return tag[0], tag[2:]
    allowed = ", ".join(f"{p}-TYPE" for p in _PREFIXES[scheme])
    raise SchemeError(i, f"tag {tag!r} does not fit {scheme.upper()} (expected O, {allowed})")


def decode(tags: list[str], scheme: str) -> list[Span]:
    """Entity spans of `tags` read strictly in `scheme`; raises SchemeError on a misfit."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r} (expected one of {', '.join(SCHEMES)})")
    if scheme in ("bioes", "bilou"):
        return _decode_bioes(tags, scheme)
    out: list[Span] = []
    start: int | None = None
    typ: str | None = None
    for i, tag in enumerate(tags):
        prefix, t = _split(tag, scheme, i)
        if scheme == "iob2" and prefix == "I" and typ != t:
            before = tags[i - 1] if i else "sentence start"
            raise SchemeError(i, f"{tag} follows {before} (IOB2 needs B-{t} first)")
        if scheme == "iob1" and prefix == "B" and typ != t:
            before = tags[i - 1] if i else "sentence start"
            raise SchemeError(i, f"{tag} follows {before} (IOB1 uses B- only right after a {t} entity)")
        new = prefix == "B" or (prefix == "I" and typ != t)
        if (prefix == "O" or new) and start is not None:
            out.append(Span(start, i, typ))  # type: ignore[arg-type]
            start = None
        if new:
            start = i
        typ = t
    if start is not None:
        out.append(Span(start, len(tags), typ))  # type: ignore[arg-type]
    return out


def _decode_bioes(tags: list[str], scheme: str) -> list[Span]:
    begin, inside, end, single = ("B", "I", "E", "S") if scheme == "bioes" else ("B", "I", "L", "U")
    name = scheme.upper()
    out: list[Span] = []
    start: int | None = None
    typ: str | None = None
    for i, tag in enumerate(tags):
        prefix, t = _split(tag, scheme, i)
        if start is not None and (prefix not in (inside, end) or t != typ):
            raise SchemeError(i, f"{tag} inside an open {typ} entity ({name} closes it with {end}-{typ})")
        if start is None and prefix in (inside, end):
            raise SchemeError(i, f"{tag} outside an entity ({name} opens one with {begin}-{t} or {single}-{t})")
        if prefix == single:
            out.append(Span(i, i + 1, t))  # type: ignore[arg-type]
        elif prefix == begin:
            start, typ = i, t
        elif prefix == end:
            out.append(Span(start, i + 1, t))  # type: ignore[arg-type]
            start = typ = None
    if start is not None:
        raise SchemeError(len(tags) - 1, f"{typ} entity opened at token {start} is never closed with {end}-{typ}")
    return out


def encode(ents: Iterable[Span], n: int, scheme: str) -> list[str]:
    """Tags for `n` tokens holding the (sorted, non-overlapping) spans `ents` in `scheme`.

    IO cannot tell two adjacent entities of one type apart: they become one, by definition.
    """
    tags = ["O"] * n
    prev: Span | None = None
    for s in ents:
        length = s.end - s.start
        if scheme == "iob2":
            tags[s.start:s.end] = span_tags(s.type, length)
        elif scheme in ("iob1", "io"):
            tags[s.start:s.end] = [f"I-{s.type}"] * length
            if scheme == "iob1" and prev is not None and prev.end == s.start and prev.type == s.type:
                tags[s.start] = f"B-{s.type}"
        elif scheme in ("bioes", "bilou"):
            b, i, e, u = ("B", "I", "E", "S") if scheme == "bioes" else ("B", "I", "L", "U")
            tags[s.start:s.end] = ([f"{u}-{s.type}"] if length == 1 else
                                   [f"{b}-{s.type}"] + [f"{i}-{s.type}"] * (length - 2) + [f"{e}-{s.type}"])
        else:
            raise ValueError(f"unknown tagging scheme {scheme!r}")
        prev = s
    return tags


def detect_scheme(tag_sequences: Iterable[list[str]]) -> str:
    """Best guess from the prefixes present: S/E → BIOES, U/L → BILOU, B → IOB2 unless only IOB1
    fits (so a broken file is reported against IOB2), only I → IO."""
    seqs = list(tag_sequences)
    prefixes = {t[0] for seq in seqs for t in seq if t != "O" and len(t) > 2 and t[1] == "-"}
    if prefixes & {"S", "E"}:
        return "bioes"
    if prefixes & {"U", "L"}:
        return "bilou"
    if "B" in prefixes:
        return "iob2" if _fits(seqs, "iob2") or not _fits(seqs, "iob1") else "iob1"
    return "io"


def _fits(seqs: list[list[str]], scheme: str) -> bool:
    try:
        for seq in seqs:
            decode(seq, scheme)
    except SchemeError:
        return False
    return True
