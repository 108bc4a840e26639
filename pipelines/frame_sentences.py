"""F1 on the dev sentences that open with one of the language's frames, and on the others.

A frame (`cslib.frames`: PAN-X's redirect titles, "تحويل X") opens up to three quarters of a
language's sentences; a model that tags it as part of the name scores near zero on those sentences
whatever it does elsewhere. This splits each evaluated row's per-sentence counts (`sentence_counts.json`,
seeds pooled) by whether the sentence opens with a frame mined from the language's *train* text, so a
benchmark shows how much of a language's figure that one pattern decides.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cslib import CslibError, load_split
from cslib.frames import FrameConfig, mine_frames

log = logging.getLogger(__name__)

FRAME_TEXT = 20_000  # train sentences the frames are mined from (as `cslib build` does)


def _counts(run: Path, row: str, lang: str) -> list[list[list[int]]]:
    """Per seed, the (tp, predicted, gold) of every evaluated sentence of `lang` in `row`."""
    return [json.loads(p.read_text(encoding="utf-8"))["counts"]
            for p in sorted((run / "eval" / row).glob(f"seed-*/{lang}/sentence_counts.json"))]


def _f1(counts: Sequence[Sequence[int]]) -> float | None:
    tp, pred, gold = (sum(c[i] for c in counts) for i in range(3))
    return None if pred + gold == 0 else 2 * tp / (pred + gold)


def frame_sentences(run: str | Path, langs: Sequence[str], rows: Sequence[str],
                    data_root: str | None = None) -> dict[str, dict[str, Any]]:
    """Per language with frames: the frames, the share of its evaluated dev sentences opening with
    one, and each row's F1 on those sentences (`framed`) and on the others (`rest`). Languages whose
    text cannot be read are left out with a warning."""
    run = Path(run)
    out: dict[str, dict[str, Any]] = {}
    for lang in langs:
        per_row = {row: _counts(run, row, lang) for row in rows}
        n = {len(c) for seeds in per_row.values() for c in seeds}
        if len(n) != 1:
            continue  # not evaluated in every row, or on different sentences
        try:
            text = [s.tokens for s in load_split("panx", lang, "train", data_root, limit=FRAME_TEXT)]
            frames = mine_frames(text, FrameConfig.for_language(lang))
            dev = load_split("panx", lang, "dev", data_root, limit=n.pop())
        except CslibError as exc:
            log.warning("frame sentences of %s left out: %s", lang, exc)
            continue
        if not frames:
            continue
        framed = [any(tuple(s.tokens[:len(f.tokens)]) == f.tokens and len(s.tokens) > len(f.tokens)
                      for f in frames) for s in dev]
        entry: dict[str, Any] = {"frames": [f.to_dict() for f in frames],
                                 "share": sum(framed) / len(framed), "sentences": len(framed)}
        for row, seeds in per_row.items():
            entry[row] = {part: _f1([c[i] for c in seeds for i in range(len(c)) if framed[i] == want])
                          for part, want in (("framed", True), ("rest", False))}
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
