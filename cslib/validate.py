"""Label-consistency checks for code-switched rows: the guarantee every shard row must meet."""

from __future__ import annotations

from .iob import iob2_problem, spans


def row_problem(src_tokens: list[str], src_tags: list[str], cs_tokens: list[str], cs_tags: list[str],
                cs_src_index: list[int] | None = None, cs_langs: list[str] | None = None) -> str | None:
    """Describe the first violation in one row, or None when the row is consistent."""
    if len(src_tokens) != len(src_tags):
        return f"src_tokens has {len(src_tokens)} items but src_tags {len(src_tags)}"
    if len(cs_tokens) != len(cs_tags):
        return f"cs_tokens has {len(cs_tokens)} items but cs_tags {len(cs_tags)}"
    if not cs_tokens:
        return "empty code-switched sentence"
    for side, tags in (("src_tags", src_tags), ("cs_tags", cs_tags)):
        problem = iob2_problem(tags)
        if problem:
            return f"{side}: {problem}"
    src_spans, cs_spans = spans(src_tags), spans(cs_tags)
    if [s.type for s in src_spans] != [s.type for s in cs_spans]:
        return (f"entities differ: source {[s.type for s in src_spans]} vs "
                f"code-switched {[s.type for s in cs_spans]}")
    if cs_langs is not None and len(cs_langs) != len(cs_tokens):
        return f"cs_langs has {len(cs_langs)} items but cs_tokens {len(cs_tokens)}"
    if cs_src_index is not None:
        if len(cs_src_index) != len(cs_tokens):
            return f"cs_src_index has {len(cs_src_index)} items but cs_tokens {len(cs_tokens)}"
        if any(b < a for a, b in zip(cs_src_index, cs_src_index[1:], strict=False)):
            return "cs_src_index is not non-decreasing"
        if cs_src_index[0] < 0 or cs_src_index[-1] >= len(src_tokens):
            return "cs_src_index points outside the source sentence"
        for s, c in zip(src_spans, cs_spans, strict=True):
            idx = cs_src_index[c.start:c.end]
            if min(idx) < s.start or max(idx) >= s.end:
                return f"code-switched {c.type} entity at {c.start} does not map into source entity at {s.start}"
    return None
