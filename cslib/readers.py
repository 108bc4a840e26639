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
from .textio import iter_lines

log = logging.getLogger(__name__)


@dataclass
class LabeledSentence:
    tokens: list[str]
    tags: list[str]
    line: int = 0  # first line of the sentence in its file, for error messages
    meta: dict = field(default_factory=dict)


def _sentences(path: Path, split_line, n_cols: set[int] | None,
               encoding: str | None = None) -> Iterator[tuple[int, list[tuple[str, ...]]]]:
    """Yield (first line number, rows) per blank-line separated block.

    Lines come from `textio.iter_lines` (encoding, BOM, CRLF, NUL bytes, over-long lines);
    columns are stripped, and an empty token or tag is an error rather than a silent "" word.
    """
    rows: list[tuple[str, ...]] = []
    first = 0
    for lineno, line in iter_lines(path, encoding):
        if not line.strip():
            if rows:
                yield first, rows
                rows = []
            continue
        cols = [c.strip() for c in split_line(line)]
        if cols[0] == "-DOCSTART-":
            continue
        if n_cols is not None and len(cols) not in n_cols:
            want = " or ".join(str(n) for n in sorted(n_cols))
            raise at(path, lineno, f"expected {want} columns, got {len(cols)}: {line[:60]!r}")
        if not all(cols):
            raise at(path, lineno, f"empty column (a token or tag that is only whitespace): {line[:60]!r}")
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


def read_panx(path: str | Path, on_invalid: str = "repair", limit: int | None = None,
              encoding: str | None = None) -> list[LabeledSentence]:
    """PAN-X / XTREME TSV: `token<TAB>tag` a line, blank line between sentences.

    A token may contain spaces (only the tab separates columns); surrounding spaces are dropped.
    """
    path, limit = Path(path), effective_limit(limit)
    out: list[LabeledSentence] = []
    for first, rows in _sentences(path, lambda s: s.split("\t"), {2}, encoding):
        out.append(_finish(path, first, [r[0] for r in rows], [r[1] for r in rows], on_invalid))
        if limit is not None and len(out) >= limit:
            break
    return _nonempty(path, out)


def read_conll(path: str | Path, on_invalid: str = "repair", limit: int | None = None,
               encoding: str | None = None) -> list[LabeledSentence]:
    """CoNLL: whitespace-separated columns, token first and tag last (2 or 4 columns).

    CoNLL-2003 is IOB1; the repair policy converts it to IOB2, so it is applied silently here
    unless `on_invalid="error"`. The original CoNLL-2002 files are Latin-1: `encoding="latin-1"`.
    """
    path, limit = Path(path), effective_limit(limit)
    out: list[LabeledSentence] = []
    for first, rows in _sentences(path, str.split, {2, 4}, encoding):
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


def detect_format(path: Path, encoding: str | None = None) -> str:
    """'panx' when the first non-blank line is tab-separated, else 'conll'."""
    for _, line in iter_lines(path, encoding):
        if line.strip() and not line.startswith("-DOCSTART-"):
            return "panx" if "\t" in line else "conll"
    raise at(path, None, "no sentences (empty file?)")


def read_labeled_file(path: str | Path, fmt: str = "auto", on_invalid: str = "repair",
                      limit: int | None = None, encoding: str | None = None) -> list[LabeledSentence]:
    """Read any supported labeled file; `fmt` is 'auto', 'panx' or 'conll'."""
    path = Path(path)
    if fmt == "auto":
        fmt = detect_format(path, encoding)
    if fmt == "panx":
        return read_panx(path, on_invalid, limit, encoding)
    if fmt == "conll":
        return read_conll(path, on_invalid, limit, encoding)
    raise CslibError(f"unknown labeled-file format {fmt!r} (expected auto, panx or conll)")


def read_text(path: str | Path, limit: int | None = None, encoding: str | None = None) -> list[str]:
    """Raw text: one sentence a line, blank lines skipped, surrounding whitespace dropped."""
    path, limit = Path(path), effective_limit(limit)
    out: list[str] = []
    for _, line in iter_lines(path, encoding):
        line = line.strip()
        if line:
            out.append(line)
            if limit is not None and len(out) >= limit:
                break
    if not out:
        raise at(path, None, "no text lines (empty file?)")
    return out
