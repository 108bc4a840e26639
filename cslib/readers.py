"""Readers for labeled NER files (PAN-X TSV, CoNLL) and raw text.

Policy for broken BIO (documented in docs/cslib.md): with `on_invalid="repair"` (default) an
I-X that does not continue an X entity becomes B-X (which is also IOB1→IOB2) and the count is
reported; with `on_invalid="error"` the first such tag is an error naming file and line.
Anything else malformed (wrong column count, illegal tag, empty file) is always an error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CslibError, at
from .iob import repair_iob2, split_tag

log = logging.getLogger(__name__)


@dataclass
class LabeledSentence:
    tokens: list[str]
    tags: list[str]
    line: int = 0  # first line of the sentence in its file, for error messages
    meta: dict = field(default_factory=dict)


def _sentences(path: Path, split_line, n_cols: set[int] | None) -> Iterator[tuple[int, list[tuple[str, ...]]]]:
    """Yield (first line number, rows) per blank-line separated block."""
    rows: list[tuple[str, ...]] = []
    first = 0
    try:
        fh = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise CslibError(f"{path}: file not found") from None
    with fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                if rows:
                    yield first, rows
                    rows = []
                continue
            cols = split_line(line)
            if cols[0] == "-DOCSTART-":
                continue
            if n_cols is not None and len(cols) not in n_cols:
                want = " or ".join(str(n) for n in sorted(n_cols))
                raise at(path, lineno, f"expected {want} columns, got {len(cols)}: {line[:60]!r}")
            if not rows:
                first = lineno
            rows.append(tuple(cols))
        if rows:
            yield first, rows


def _finish(path: Path, first: int, tokens: list[str], tags: list[str], on_invalid: str) -> LabeledSentence:
    for k, tag in enumerate(tags):
        try:
            split_tag(tag)
        except ValueError as exc:
            raise at(path, first + k, str(exc)) from None
    fixed, changed = repair_iob2(tags)
    if changed and on_invalid == "error":
        k = next(i for i, (a, b) in enumerate(zip(tags, fixed, strict=True)) if a != b)
        prev = tags[k - 1] if k else "sentence start"
        raise at(path, first + k, f"{tags[k]} follows {prev} (not IOB2)")
    return LabeledSentence(tokens, fixed, first, {"repaired": changed} if changed else {})


def effective_limit(limit: int | None) -> int | None:
    """The one `limit` rule of the toolkit: None, 0 or a negative number all mean "no limit"."""
    return limit if limit is not None and limit > 0 else None


def read_panx(path: str | Path, on_invalid: str = "repair", limit: int | None = None) -> list[LabeledSentence]:
    """PAN-X / XTREME TSV: `token<TAB>tag` a line, blank line between sentences."""
    path, limit = Path(path), effective_limit(limit)
    out: list[LabeledSentence] = []
    for first, rows in _sentences(path, lambda s: s.split("\t"), {2}):
        out.append(_finish(path, first, [r[0] for r in rows], [r[1] for r in rows], on_invalid))
        if limit is not None and len(out) >= limit:
            break
    return _nonempty(path, out)


def read_conll(path: str | Path, on_invalid: str = "repair", limit: int | None = None) -> list[LabeledSentence]:
    """CoNLL: whitespace-separated columns, token first and tag last (2 or 4 columns).

    CoNLL-2003 is IOB1; the repair policy converts it to IOB2, so it is applied silently here
    unless `on_invalid="error"`.
    """
    path, limit = Path(path), effective_limit(limit)
    out: list[LabeledSentence] = []
    for first, rows in _sentences(path, str.split, {2, 4}):
        out.append(_finish(path, first, [r[0] for r in rows], [r[-1] for r in rows], on_invalid))
        if limit is not None and len(out) >= limit:
            break
    return _nonempty(path, out)


def _nonempty(path: Path, out: list[LabeledSentence]) -> list[LabeledSentence]:
    if not out:
        raise at(path, None, "no sentences (empty file?)")
    repaired = sum(s.meta.get("repaired", 0) for s in out)
    if repaired:
        log.info("%s: repaired %d tags to IOB2 (I- without a matching B-)", path, repaired)
    return out


def detect_format(path: Path) -> str:
    """'panx' when the first non-blank line is tab-separated, else 'conll'."""
    try:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip() and not line.startswith("-DOCSTART-"):
                    return "panx" if "\t" in line else "conll"
    except FileNotFoundError:
        raise CslibError(f"{path}: file not found") from None
    raise at(path, None, "no sentences (empty file?)")


def read_labeled_file(path: str | Path, fmt: str = "auto", on_invalid: str = "repair",
                      limit: int | None = None) -> list[LabeledSentence]:
    """Read any supported labeled file; `fmt` is 'auto', 'panx' or 'conll'."""
    path = Path(path)
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "panx":
        return read_panx(path, on_invalid, limit)
    if fmt == "conll":
        return read_conll(path, on_invalid, limit)
    raise CslibError(f"unknown labeled-file format {fmt!r} (expected auto, panx or conll)")


def read_text(path: str | Path, limit: int | None = None) -> list[str]:
    """Raw text: one sentence a line, blank lines skipped."""
    path = Path(path)
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    except FileNotFoundError:
        raise CslibError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise at(path, None, f"not UTF-8 text ({exc.reason})") from None
    out = [ln for ln in lines if ln]
    if not out:
        raise at(path, None, "no text lines (empty file?)")
    limit = effective_limit(limit)
    return out[:limit] if limit is not None else out
