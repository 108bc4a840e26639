"""F1 on the dev sentences that open with one of the language's frames, and on the others.

A frame (`cslib.frames`: PAN-X's redirect titles, "تحويل X") opens up to three quarters of a
language's sentences; a model that tags it as part of the name scores near zero on those sentences
whatever it does elsewhere. This splits each evaluated row's per-sentence counts (`sentence_counts.json`,
seeds pooled) by whether the sentence opens with a frame mined from the language's *train* text, so a
benchmark shows how much of a language's figure that one pattern decides.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cslib import CslibError, load_split
from cslib.frames import text_frames
from pipelines.report import load_counts
from pipelines.stats import f1_from_counts

log = logging.getLogger(__name__)


def row_counts(run: Path, row: str, lang: str) -> list[np.ndarray]:
    """Per seed, the (tp, predicted, gold) of every evaluated sentence of `lang` in `row`."""
    per_seed = (load_counts(seed, [lang]) for seed in sorted((run / "eval" / row).glob("seed-*")))
    return [counts[lang] for counts in per_seed if counts is not None]


def _f1(counts: Sequence[np.ndarray]) -> float | None:
    """Micro F1 of the sentences' summed counts; None when they hold no entity at all."""
    sums = np.concatenate(counts).sum(0) if counts else np.zeros(3, dtype=np.int64)
    return None if sums[1] + sums[2] == 0 else float(f1_from_counts(sums))


def frame_sentences(run: str | Path, langs: Sequence[str], rows: Sequence[str],
                    data_root: str | None = None) -> dict[str, dict[str, Any]]:
    """Per language with frames: the frames, the share of its evaluated dev sentences opening with
    one, and each row's F1 on those sentences (`framed`) and on the others (`rest`). Languages whose
    text cannot be read are left out with a warning."""
    run = Path(run)
    out: dict[str, dict[str, Any]] = {}
    for lang in langs:
        per_row = {row: row_counts(run, row, lang) for row in rows}
        n = {len(c) for seeds in per_row.values() for c in seeds}
        if len(n) != 1:
            continue  # not evaluated in every row, or on different sentences
        try:
            frames = text_frames(lang, data_root)
            dev = load_split("panx", lang, "dev", data_root, limit=n.pop())
        except CslibError as exc:
            log.warning("frame sentences of %s left out: %s", lang, exc)
            continue
        if not frames:
            continue
        framed = [any(f.opens(s.tokens) for f in frames) for s in dev]
        entry: dict[str, Any] = {"frames": [f.to_dict() for f in frames],
                                 "share": sum(framed) / len(framed), "sentences": len(framed)}
        mask = np.asarray(framed)
        for row, seeds in per_row.items():
            entry[row] = {part: _f1([c[mask == want] for c in seeds]) for part, want in (("framed", True), ("rest", False))}
        out[lang] = entry
    return out


def markdown(table: dict[str, dict[str, Any]], rows: Sequence[str]) -> str:
    """One line per language with frames: the share of framed sentences and each row's F1 on both parts."""
    head = ["lang", "frames", "framed sentences", *(f"{r}: framed / rest" for r in rows)]
    out = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    for lang, e in table.items():
        frames = ", ".join(" ".join(f["tokens"]) for f in e["frames"])
        cells = [f"{pct(e[r]['framed'])} / {pct(e[r]['rest'])}" for r in rows]
        out.append(f"| {lang} | {frames} | {e['share']:.0%} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
