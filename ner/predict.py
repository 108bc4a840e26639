"""Tag raw text: one sentence per line, tokenized like PAN-X (`cslib.tokenize`), entities out.

Text output is one line per input line, entities separated by tabs (`Barack Obama [PER]`, an
empty line when there is none), so the output stays aligned with the input for `paste`. With
`--json` each line is an object: text, tokens and entities (token span `start`..`end`
inclusive, character span `char_start`..`char_end` exclusive, score).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import NerError
from .evaluate import amp_dtype, load_model, predict_entities, resolve_device
from .model import NerModel

CHUNK = 256  # lines tokenized and tagged together; keeps memory flat on large inputs


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
            items.append({"text": text, "type": e.type, "start": e.start, "end": e.end,
                          "char_start": cs, "char_end": ce, "score": round(float(e.score), 4)})
        results.append({"text": line, "tokens": toks, "entities": items})
    return results


def _chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line.rstrip("\r\n"))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_predict(
    model_dir: str,
    lang: str,
    input: str | None = None,
    as_json: bool = False,
    batch_size: int = 64,
    device: str = "auto",
    out: IO[str] | None = None,
) -> int:
    """Read lines from `input` (a file; None or '-' = stdin), print predictions; returns the line count."""
    from cslib import tokenize

    out = out or sys.stdout
    tokenize("check", lang)  # an unknown language fails here, before the model is loaded
    if input not in (None, "-") and not Path(input).is_file():
        raise NerError(f"{input}: input file not found")
    model = load_model(model_dir, resolve_device(device))
    fh = sys.stdin if input in (None, "-") else open(input, encoding="utf-8")  # noqa: SIM115
    n = 0
    try:
        for chunk in _chunks(fh, CHUNK):
            for res in predict_lines(model, chunk, lang, batch_size):
                if as_json:
                    out.write(json.dumps(res, ensure_ascii=False) + "\n")
                else:
                    out.write("\t".join(f"{e['text']} [{e['type']}]" for e in res["entities"]) + "\n")
                n += 1
            out.flush()
    except UnicodeDecodeError as exc:
        raise NerError(f"{input or 'stdin'}: not UTF-8 text ({exc.reason})") from None
    finally:
        if fh is not sys.stdin:
            fh.close()
    return n
