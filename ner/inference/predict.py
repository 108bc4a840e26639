"""`ner predict`: tag sentences read from text, JSON lines or Parquet, and write the entities.

Inputs: raw text, one sentence a line (a file or stdin, any `--encoding`), tokenized like PAN-X
(`cslib.tokenize`), or a column of a JSON-lines or Parquet file (a string column is tokenized, a
list-of-strings column such as a shard's `tokens` is used as it is).

Outputs, in the conventions other tools expect:

- `text`: one line per input sentence, entities tab-separated as `Barack Obama [PER]` (an empty
  line when there is none), so the output stays aligned with the input for `paste`.
- `json`: one object per sentence: text, tokens, entities with a token span `start`..`end`
  and a character span `char_start`..`char_end`, both **end-exclusive** like spaCy and
  Hugging Face, and a score (plus the input's `id` when it has one).
- `conll`: `token<TAB>tag` (IOB2) a line, a blank line after each sentence (seqeval, CoNLL tools).
- `spacy`: spaCy's `Doc.to_json` objects, one a line (`Doc(vocab).from_json(obj)`), written
  without spaCy; with `--out FILE.spacy` and spaCy installed, a `DocBin` instead.

`predict_texts` is the library form: raw sentences in, the `json` records out.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from cslib import (
    MAX_LINE,
    CslibError,
    atomic_open,
    atomic_write_bytes,
    check_encoding,
    iter_jsonl,
    iter_lines,
    tokenize,
)
from ner.errors import NerError
from ner.inference.loading import load_model
from ner.inference.precision import amp_dtype, resolve_device
from ner.inference.tagging import predict_entities
from ner.model.grid import MAX_ENTITY_WORDS, entities_to_tags
from ner.model.ner_model import NerModel

log = logging.getLogger(__name__)
FORMATS = ("text", "json", "conll", "spacy")
INPUT_FORMATS = ("auto", "text", "jsonl", "parquet")
CHUNK = 256  # sentences tagged together; keeps memory flat on large inputs


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


@dataclass
class Record:
    """One sentence to tag: its text, its tokens, and the input's id if it had one."""

    text: str
    tokens: list[str]
    id: str | None = None


# --- inputs ------------------------------------------------------------------------------------


def input_format(path: str | None, fmt: str = "auto") -> str:
    if fmt != "auto":
        return fmt
    if path in (None, "-"):
        return "text"
    p = Path(path)
    if p.is_dir() or p.suffix == ".parquet":
        return "parquet"
    if p.suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "text"


def _tokens_of(value: Any, lang: str, where: str) -> Record:
    if isinstance(value, str):
        return Record(value, tokenize(value, lang) if value.strip() else [])
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        toks = [t for t in value if t.strip()]
        return Record(" ".join(toks), toks)
    raise NerError(f"{where}: expected a string or a list of strings, got {type(value).__name__}")


def _text_records(path: str | None, lang: str, encoding: str | None) -> Iterator[Record]:
    try:
        if path in (None, "-"):
            enc = check_encoding(encoding)
            stream = getattr(sys.stdin, "buffer", None)
            if stream is None:  # a text stream (tests, notebooks): already decoded
                lines: Iterable[tuple[int, str]] = enumerate((ln.rstrip("\r\n") for ln in sys.stdin), 1)
            else:
                lines = enumerate((ln.rstrip("\r\n") for ln in io.TextIOWrapper(stream, enc, newline=None)), 1)
            where = "stdin"
        else:
            lines, where = iter_lines(path, encoding), str(path)
        for lineno, line in lines:
            if len(line) > MAX_LINE:
                raise NerError(f"{where}:{lineno}: line longer than {MAX_LINE} characters (not one sentence a line?)")
            if "\x00" in line:
                raise NerError(f"{where}:{lineno}: NUL byte (a binary file? text in another --encoding?)")
            yield Record(line, tokenize(line, lang) if line.strip() else [])
    except UnicodeDecodeError as exc:
        raise NerError(f"stdin: cannot decode input as {encoding or 'utf-8'} ({exc.reason}); use --encoding") from None
    except CslibError as exc:
        raise NerError(str(exc)) from None


def _jsonl_records(path: str, column: str | None, lang: str, encoding: str | None) -> Iterator[Record]:
    col = column or "text"
    try:
        for lineno, row in iter_jsonl(path, encoding):
            if col not in row:
                raise NerError(f"{path}:{lineno}: no field {col!r} (choose one with --column)")
            rec = _tokens_of(row[col], lang, f"{path}:{lineno}: field {col!r}")
            rec.id = str(row["id"]) if "id" in row else None
            yield rec
    except CslibError as exc:
        raise NerError(str(exc)) from None


def _parquet_records(path: str, column: str | None, lang: str) -> Iterator[Record]:
    p = Path(path)
    files = sorted(p.glob("*.parquet")) if p.is_dir() else [p]
    if not files:
        raise NerError(f"{p}: no *.parquet files")
    for f in files:
        try:
            pf = pq.ParquetFile(f)
        except (pa.ArrowException, OSError) as exc:
            raise NerError(f"{f}: not a readable Parquet file ({str(exc).splitlines()[0] if str(exc) else exc})") from None
        names = pf.schema_arrow.names
        col = column or next((c for c in ("text", "tokens", "src_tokens") if c in names), None)
        if col is None or col not in names:
            raise NerError(f"{f}: no column {column or 'text/tokens'!r} (has: {', '.join(names)}; use --column)")
        cols = [col] + (["id"] if "id" in names and col != "id" else [])
        row = 0
        for batch in pf.iter_batches(batch_size=1024, columns=cols):
            values = batch.column(0).to_pylist()
            ids = batch.column(1).to_pylist() if len(cols) > 1 else [None] * len(values)
            for v, rid in zip(values, ids, strict=True):
                rec = _tokens_of("" if v is None else v, lang, f"{f}: row {row} column {col!r}")
                rec.id = None if rid is None else str(rid)
                row += 1
                yield rec


def read_records(path: str | None, lang: str, fmt: str = "auto", column: str | None = None,
                 encoding: str | None = None) -> Iterator[Record]:
    """Sentences to tag from a file (None or '-' = stdin), tokenized for `lang`."""
    if path not in (None, "-") and not Path(path).exists():
        raise NerError(f"{path}: input file not found")
    fmt = input_format(path, fmt)
    if fmt == "text":
        if column:
            raise NerError("--column needs a JSON-lines or Parquet input")
        return _text_records(path, lang, encoding)
    if path in (None, "-"):
        raise NerError(f"--input-format {fmt} needs --input FILE")
    if fmt == "jsonl":
        return _jsonl_records(path, column, lang, encoding)
    return _parquet_records(path, column, lang)


# --- predictions -------------------------------------------------------------------------------


def tag_records(model: NerModel, records: list[Record], batch_size: int = 64) -> list[dict[str, Any]]:
    """Predictions for a chunk of records (text, tokens, tags, end-exclusive entity spans)."""
    ents = predict_entities(model, [r.tokens for r in records], batch_size, amp_dtype("auto", model.device))
    out = []
    for rec, found in zip(records, ents, strict=True):
        spans = token_spans(rec.text, rec.tokens)
        items = []
        for e in found:
            if spans is not None:
                cs, ce = spans[e.start][0], spans[e.last][1]
                text = rec.text[cs:ce]
            else:
                cs = ce = None
                text = " ".join(rec.tokens[e.start : e.last + 1])
            items.append({"text": text, "type": e.type, "start": e.start, "end": e.last + 1,
                          "char_start": cs, "char_end": ce, "score": round(float(e.score), 4)})
        res: dict[str, Any] = {"text": rec.text, "tokens": rec.tokens, "entities": items}
        if rec.id is not None:
            res = {"id": rec.id, **res}
        res["tags"] = entities_to_tags(found, len(rec.tokens))
        out.append(res)
    return out


def predict_texts(model: NerModel, texts: list[str], lang: str, batch_size: int = 64) -> list[dict[str, Any]]:
    """Entities for raw sentences (tokenized with `cslib.tokenize`): the library form of `ner predict`."""
    recs = [Record(t, tokenize(t, lang) if t.strip() else []) for t in texts]
    return [{k: v for k, v in r.items() if k != "tags"} for r in tag_records(model, recs, batch_size)]


# --- outputs -----------------------------------------------------------------------------------


def spacy_json(res: dict[str, Any]) -> dict[str, Any]:
    """spaCy's `Doc.to_json` layout (text, tokens with character offsets, ents), readable by
    `Doc(vocab).from_json`.

    spaCy's text is its tokens with at most one space after each, so the input's spacing is kept
    where it already is like that; other whitespace (leading, doubled, tabs) becomes one space,
    and a token the tokenizer changed is written as the token.
    """
    toks = res["tokens"]
    found = token_spans(res["text"], toks)
    parts, spans, pos, prev = [], [], 0, 0
    for i, tok in enumerate(toks):
        gap = res["text"][prev : found[i][0]] if found is not None else " "
        gap = "" if i == 0 else gap if gap in ("", " ") else " "
        parts += [gap, tok]
        pos += len(gap)
        spans.append((pos, pos + len(tok)))
        pos += len(tok)
        prev = found[i][1] if found is not None else 0
    text = "".join(parts)
    ents = [{"start": spans[e["start"]][0], "end": spans[e["end"] - 1][1], "label": e["type"]}
            for e in res["entities"]]
    return {"text": text, "ents": ents, "tokens": [{"id": i, "start": s, "end": t} for i, (s, t) in enumerate(spans)]}


def _one_column(token: str) -> str:
    """A pre-tokenized input may carry tabs or line breaks inside a token; CoNLL cannot."""
    return " ".join(token.split()) if any(c in token for c in "\t\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029") else token


def format_record(res: dict[str, Any], fmt: str) -> str:
    """One output block for one sentence, newline-terminated."""
    if fmt == "json":
        return json.dumps({k: v for k, v in res.items() if k != "tags"}, ensure_ascii=False) + "\n"
    if fmt == "conll":
        return "".join(f"{_one_column(t)}\t{g}\n" for t, g in zip(res["tokens"], res["tags"], strict=True)) + "\n"
    if fmt == "spacy":
        return json.dumps(spacy_json(res), ensure_ascii=False) + "\n"
    return "\t".join(f"{e['text']} [{e['type']}]" for e in res["entities"]) + "\n"


class _DocBinWriter:
    """Collects spaCy Docs and writes one DocBin file (spaCy is optional: imported only here)."""

    def __init__(self, path: Path, lang: str) -> None:
        try:
            import spacy
            from spacy.tokens import DocBin
        except ImportError:
            raise NerError(f"{path}: writing a .spacy DocBin needs spaCy (pip install spacy), or write "
                           f"--format spacy as JSON lines (any other file name) that spaCy reads with "
                           f"Doc(nlp.vocab).from_json") from None
        self.path, self.vocab = path, spacy.blank("xx").vocab
        self.bin = DocBin(store_user_data=False)
        from spacy.tokens import Doc

        self._doc = Doc

    def add(self, res: dict[str, Any]) -> None:
        self.bin.add(self._doc(self.vocab).from_json(spacy_json(res)))

    def close(self) -> None:
        atomic_write_bytes(self.path, self.bin.to_bytes())


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for rec in records:
        chunk.append(rec)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def predict_to(model: NerModel, records: Iterable[Record], out: IO[str] | None = None, fmt: str = "text",
               batch_size: int = 64, docbin: Any = None, progress: bool | None = None,
               total: int | None = None) -> tuple[int, float]:
    """Tag `records` chunk by chunk, writing each result; returns (sentences, seconds)."""
    if fmt not in FORMATS:
        raise NerError(f"unknown output format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    n, t0 = 0, time.perf_counter()
    disable = {None: None, False: True, True: False}[progress]  # None: only on a terminal
    with tqdm(total=total, unit="sent", desc="predict", disable=disable, leave=False, dynamic_ncols=True) as bar:
        for chunk in _chunks(records, CHUNK):
            for res in tag_records(model, chunk, batch_size):
                if docbin is not None:
                    docbin.add(res)
                else:
                    assert out is not None
                    out.write(format_record(res, fmt))
            if out is not None:
                out.flush()
            n += len(chunk)
            bar.update(len(chunk))
    return n, time.perf_counter() - t0


def run(model_dir: str, lang: str, input: str | None = None, fmt: str = "text", out: str | None = None,
        input_format_: str = "auto", column: str | None = None, encoding: str | None = None,
        batch_size: int = 64, device: str = "auto", stdout: IO[str] | None = None,
        max_entity_words: int = MAX_ENTITY_WORDS) -> int:
    """`ner predict`: read, tag, write; logs the throughput (sentences/s). Returns the count."""
    tokenize("check", lang)  # an unknown language fails here, before the model is loaded
    records = read_records(input, lang, input_format_, column, encoding)
    total = _count_hint(input, input_format_)
    model = load_model(model_dir, resolve_device(device))
    model.max_entity_words = max_entity_words
    docbin = None
    if fmt == "spacy" and out and out.endswith(".spacy"):
        docbin = _DocBinWriter(Path(out), lang)
    if docbin is not None:
        n, secs = predict_to(model, records, None, fmt, batch_size, docbin, total=total)
        docbin.close()
    elif out and out != "-":
        with atomic_open(out, "w") as fh:
            n, secs = predict_to(model, records, fh, fmt, batch_size, total=total)
    else:
        n, secs = predict_to(model, records, stdout or sys.stdout, fmt, batch_size, total=total)
    log.info("predicted %d sentences in %.2fs (%.1f sentences/s, device %s)", n, secs, n / max(secs, 1e-9),
             model.device)
    return n


def _count_hint(path: str | None, fmt: str) -> int | None:
    """Number of sentences for the progress bar, when it is cheap to know (Parquet metadata)."""
    if path in (None, "-") or input_format(path, fmt) != "parquet":
        return None
    p = Path(path)
    try:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in (sorted(p.glob("*.parquet")) if p.is_dir() else [p]))
    except Exception:  # noqa: BLE001 - only a hint; the reader reports real problems
        return None
