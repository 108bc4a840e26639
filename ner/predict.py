"""Tag raw text: one sentence per line, tokenized like PAN-X (`cslib.tokenize`), entities out.

Text output is one line per input line, entities separated by tabs (`Barack Obama [PER]`, an
empty line when there is none), so the output stays aligned with the input for `paste`. With
`--json` each line is an object: text, tokens and entities (token span `start`..`end` and
character span `char_start`..`char_end`, both end-exclusive as in spaCy and Hugging Face, score).
Other inputs (JSON lines, Parquet columns) and outputs (CoNLL, spaCy) are in `predict_io`.
"""

from __future__ import annotations

from typing import IO, Any

from .evaluate import amp_dtype, predict_entities
from .model import NerModel


def token_spans(text: str, tokens: list[str]) -> list[tuple[int, int]] | None:
    """Character span of each token in `text`, or None when a tokenizer changed the characters."""
    spans, pos = [], 0
    for tok in tokens:
        i = text.find(tok, pos)
        if i < 0:
            return None
        spans.append((i, i + len(tok)))
        pos = i + len(tok)
    return spans


def predict_lines(model: NerModel, lines: list[str], lang: str, batch_size: int = 64) -> list[dict[str, Any]]:
    """Entities for each raw line (tokenized with `cslib.tokenize(line, lang)`)."""
    from cslib import tokenize

    tokens = [tokenize(line, lang) if line.strip() else [] for line in lines]
    amp = amp_dtype("auto", model.device)
    results = []
    for line, toks, ents in zip(lines, tokens, predict_entities(model, tokens, batch_size, amp), strict=True):
        spans = token_spans(line, toks)
        items = []
        for e in ents:
            if spans is not None:
                cs, ce = spans[e.start][0], spans[e.end][1]
                text = line[cs:ce]
            else:
                cs = ce = None
                text = " ".join(toks[e.start : e.end + 1])
            items.append({"text": text, "type": e.type, "start": e.start, "end": e.end + 1,
                          "char_start": cs, "char_end": ce, "score": round(float(e.score), 4)})
        results.append({"text": line, "tokens": toks, "entities": items})
    return results


def run_predict(
    model_dir: str,
    lang: str,
    input: str | None = None,
    as_json: bool = False,
    batch_size: int = 64,
    device: str = "auto",
    out: IO[str] | None = None,
) -> int:
    """Read lines from `input` (a file; None or '-' = stdin), print predictions; returns the line count.

    Kept for library callers; `predict_io.run` has every input and output format.
    """
    from .predict_io import run

    return run(model_dir, lang, input, "json" if as_json else "text", batch_size=batch_size, device=device,
               stdout=out)
