"""`ner predict`: tag texts read from text, JSON lines or Parquet, and write the entities.

Inputs: raw text, one text a line (a file or stdin, any `--encoding`), or a column of a JSON-lines or
Parquet file (a string column is raw text, a list-of-strings column such as a shard's `tokens` is one
tokenized sentence used as it is). Raw text is split into sentences (`cslib.split_sentences`) and
each sentence tokenized like PAN-X (`cslib.tokenize`); a line (a record) stays one document whose
tokens are its sentences' tokens in order. `--keep-lines` (`split_sentences=False`) tags each line
as one sentence instead. A sentence longer than `--max-words` is tagged in overlapping windows
(`ner.inference.windows`).

Outputs, one record per input line or record, in the conventions other tools expect:

- `text`: one line per input line, entities tab-separated as `Barack Obama [PER]` (an empty line
  when there is none), so the output stays aligned with the input for `paste`.
- `json`: one object a line: text, tokens, entities with a token span `start`..`end` into the
  document's tokens and a character span `char_start`..`char_end` into the input text, both
  **end-exclusive** like spaCy and Hugging Face, a score and the index of the entity's sentence
  (plus the input's `id` when it has one, and the sentences' token and character spans).
- `conll`: `token<TAB>tag` (IOB2) a line, a blank line after each input line (seqeval, CoNLL tools):
  one block per document, so that block i is input line i; the JSON output has the sentence spans.
- `spacy`: spaCy's `Doc.to_json` objects, one a line (`Doc(vocab).from_json(obj)`), with the
  sentences as `sents`, written without spaCy; with `--out FILE.spacy` and spaCy installed, a
  `DocBin` instead.

With `--keep-lines` every format is the sentence-a-line output: no sentence index or spans. An
entity's `text` is the input's characters from `char_start` to `char_end`, or its tokens joined by
spaces where the tokenizer changed characters (then both offsets are null).

`predict_texts` is the library form: raw texts in, the `json` records out.
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
from cslib import split_sentences as sentence_spans
from ner.errors import NerError
from ner.inference.loading import load_model
from ner.inference.precision import amp_dtype, resolve_device
from ner.inference.windows import MAX_WORDS, WINDOW_OVERLAP, check_window, predict_windowed
from ner.model.grid import MAX_ENTITY_WORDS, Entity, entities_to_tags
from ner.model.ner_model import NerModel

log = logging.getLogger(__name__)
FORMATS = ("text", "json", "conll", "spacy")
INPUT_FORMATS = ("auto", "text", "jsonl", "parquet")
CHUNK = 256  # input records tagged together; keeps memory flat on large inputs


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
class Sentence:
    """One sentence of a document: its character span in the document's text and its token span in
    the document's tokens (both end-exclusive)."""

    char_start: int
    char_end: int
    start: int
    end: int


@dataclass
class Record:
    """One input line or record to tag: its text, its tokens, the input's id if it had one, and its
    sentences (None: the text is tagged as one sentence, `--keep-lines`)."""

    text: str
    tokens: list[str]
    id: str | None = None
    sentences: list[Sentence] | None = None


def document(text: str, lang: str, split: bool = True) -> Record:
    """A raw text as a record: split into sentences (`cslib.split_sentences`), each tokenized on its own,
    or, with `split` False, tokenized whole as one sentence."""
    if not split:
        return Record(text, tokenize(text, lang) if text.strip() else [])
    tokens: list[str] = []
    sentences = []
    for cs, ce in sentence_spans(text, lang):
        toks = tokenize(text[cs:ce], lang)
        if toks:
            sentences.append(Sentence(cs, ce, len(tokens), len(tokens) + len(toks)))
            tokens += toks
    return Record(text, tokens, sentences=sentences)


def _token_ranges(rec: Record) -> list[tuple[int, int]]:
    """Token span of each sentence of `rec` (the whole record when it is not split)."""
    if rec.sentences is None:
        return [(0, len(rec.tokens))]
    return [(s.start, s.end) for s in rec.sentences]


def char_spans(text: str, tokens: list[str], sentences: list[Sentence] | None = None) -> list[tuple[int, int] | None]:
    """Character span of each token in `text`, found sentence by sentence when `sentences` are given;
    None for the tokens of a sentence whose tokenizer changed characters."""
    parts = [(0, len(text), 0, len(tokens))] if sentences is None else \
        [(s.char_start, s.char_end, s.start, s.end) for s in sentences]
    out: list[tuple[int, int] | None] = [None] * len(tokens)
    for cs, ce, a, b in parts:
        found = token_spans(text[cs:ce], tokens[a:b])
        if found is not None:
            out[a:b] = [(cs + x, cs + y) for x, y in found]
    return out


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


def _tokens_of(value: Any, lang: str, where: str, split: bool) -> Record:
    if isinstance(value, str):
        return document(value, lang, split)
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        toks = [t for t in value if t.strip()]
        text = " ".join(toks)
        whole = [Sentence(0, len(text), 0, len(toks))] if toks else []
        return Record(text, toks, sentences=whole if split else None)  # one sentence, as given
    raise NerError(f"{where}: expected a string or a list of strings, got {type(value).__name__}")


def _text_records(path: str | None, lang: str, encoding: str | None, split: bool) -> Iterator[Record]:
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
            yield document(line, lang, split)
    except UnicodeDecodeError as exc:
        raise NerError(f"stdin: cannot decode input as {encoding or 'utf-8'} ({exc.reason}); use --encoding") from None
    except CslibError as exc:
        raise NerError(str(exc)) from None


def _jsonl_records(path: str, column: str | None, lang: str, encoding: str | None, split: bool) -> Iterator[Record]:
    col = column or "text"
    try:
        for lineno, row in iter_jsonl(path, encoding):
            if col not in row:
                raise NerError(f"{path}:{lineno}: no field {col!r} (choose one with --column)")
            rec = _tokens_of(row[col], lang, f"{path}:{lineno}: field {col!r}", split)
            rec.id = str(row["id"]) if "id" in row else None
            yield rec
    except CslibError as exc:
        raise NerError(str(exc)) from None


def _parquet_records(path: str, column: str | None, lang: str, split: bool) -> Iterator[Record]:
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
                rec = _tokens_of("" if v is None else v, lang, f"{f}: row {row} column {col!r}", split)
                rec.id = None if rid is None else str(rid)
                row += 1
                yield rec


def read_records(path: str | None, lang: str, fmt: str = "auto", column: str | None = None,
                 encoding: str | None = None, split: bool = True) -> Iterator[Record]:
    """Records to tag from a file (None or '-' = stdin), raw text split into sentences (unless `split`
    is False) and tokenized for `lang`."""
    if path not in (None, "-") and not Path(path).exists():
        raise NerError(f"{path}: input file not found")
    fmt = input_format(path, fmt)
    if fmt == "text":
        if column:
            raise NerError("--column needs a JSON-lines or Parquet input")
        return _text_records(path, lang, encoding, split)
    if path in (None, "-"):
        raise NerError(f"--input-format {fmt} needs --input FILE")
    if fmt == "jsonl":
        return _jsonl_records(path, column, lang, encoding, split)
    return _parquet_records(path, column, lang, split)


# --- predictions -------------------------------------------------------------------------------


def tag_records(model: NerModel, records: list[Record], batch_size: int = 64, max_words: int = MAX_WORDS,
                overlap: int = WINDOW_OVERLAP, amp: str = "auto") -> list[dict[str, Any]]:
    """Predictions for a chunk of records (text, tokens, end-exclusive entity spans, sentences, tags);
    the sentences of all records are tagged together, in windows where longer than `max_words`, under
    the autocast `amp` gives (`ner.inference.precision.amp_dtype`; "off": fp32)."""
    units, owner = [], []
    for k, rec in enumerate(records):
        for j, (a, b) in enumerate(_token_ranges(rec)):
            units.append(rec.tokens[a:b])
            owner.append((k, j, a))
    found = predict_windowed(model, units, batch_size, amp_dtype(amp, model.device), max_words, overlap)
    per_record: list[list[tuple[int, Entity]]] = [[] for _ in records]
    for (k, j, a), ents in zip(owner, found, strict=True):
        per_record[k] += [(j, Entity(e.start + a, e.last + a, e.type, e.score)) for e in ents]
    out = []
    for rec, ents in zip(records, per_record, strict=True):
        spans = char_spans(rec.text, rec.tokens, rec.sentences)
        items = []
        for j, e in ents:
            first, last = spans[e.start], spans[e.last]
            if first is not None and last is not None:
                cs, ce = first[0], last[1]
                text = rec.text[cs:ce]
            else:
                cs = ce = None
                text = " ".join(rec.tokens[e.start : e.last + 1])
            item = {"text": text, "type": e.type, "start": e.start, "end": e.last + 1, "char_start": cs,
                    "char_end": ce, "score": round(float(e.score), 4)}
            if rec.sentences is not None:
                item["sentence"] = j
            items.append(item)
        res: dict[str, Any] = {"text": rec.text, "tokens": rec.tokens, "entities": items}
        if rec.id is not None:
            res = {"id": rec.id, **res}
        if rec.sentences is not None:
            res["sentences"] = [{"start": s.start, "end": s.end, "char_start": s.char_start, "char_end": s.char_end}
                                for s in rec.sentences]
        res["tags"] = entities_to_tags([e for _, e in ents], len(rec.tokens))
        out.append(res)
    return out


def predict_texts(model: NerModel, texts: list[str], lang: str, batch_size: int = 64, *,
                  split_sentences: bool = True, max_words: int = MAX_WORDS,
                  overlap: int = WINDOW_OVERLAP, amp: str = "auto") -> list[dict[str, Any]]:
    """Entities for raw texts, the library form of `ner predict`: each text split into sentences
    (`cslib.split_sentences`; `split_sentences=False`: the text is one sentence), tokenized with
    `cslib.tokenize`, sentences longer than `max_words` tagged in windows overlapping by `overlap` words
    (`max_words=0`: never); one `json` record per text. `amp`: "auto" as `ner predict` (bf16 on CPUs
    with native bf16), "off" for fp32 (`ner.inference.precision.amp_dtype`)."""
    check_window(max_words, overlap)
    recs = [document(t, lang, split_sentences) for t in texts]
    return [{k: v for k, v in r.items() if k != "tags"}
            for r in tag_records(model, recs, batch_size, max_words, overlap, amp)]


# --- outputs -----------------------------------------------------------------------------------


def spacy_json(res: dict[str, Any]) -> dict[str, Any]:
    """spaCy's `Doc.to_json` layout (text, tokens with character offsets, ents, and sents when the record
    has sentences), readable by `Doc(vocab).from_json`.

    spaCy's text is its tokens with at most one space after each, so the input's spacing is kept
    where it already is like that (there the offsets are the input's); other whitespace (leading,
    doubled, tabs, line breaks) becomes one space, and a token the tokenizer changed is written as the token.
    """
    toks = res["tokens"]
    sentences = res.get("sentences")
    found = char_spans(res["text"], toks, None if sentences is None else
                       [Sentence(s["char_start"], s["char_end"], s["start"], s["end"]) for s in sentences])
    parts, spans, pos = [], [], 0
    prev: int | None = None
    for i, tok in enumerate(toks):
        here = found[i]
        gap = res["text"][prev : here[0]] if here is not None and prev is not None else " "
        gap = "" if i == 0 else gap if gap in ("", " ") else " "
        parts += [gap, tok]
        pos += len(gap)
        spans.append((pos, pos + len(tok)))
        pos += len(tok)
        prev = here[1] if here is not None else None
    text = "".join(parts)
    ents = [{"start": spans[e["start"]][0], "end": spans[e["end"] - 1][1], "label": e["type"]}
            for e in res["entities"]]
    out: dict[str, Any] = {"text": text, "ents": ents,
                           "tokens": [{"id": i, "start": s, "end": t} for i, (s, t) in enumerate(spans)]}
    if sentences is not None:
        out["sents"] = [{"start": spans[s["start"]][0], "end": spans[s["end"] - 1][1]} for s in sentences]
    return out


def _one_column(token: str) -> str:
    """A pre-tokenized input may carry tabs or line breaks inside a token, a text record inside an entity;
    CoNLL and the text format cannot."""
    return " ".join(token.split()) if any(c in token for c in "\t\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029") else token


def format_record(res: dict[str, Any], fmt: str) -> str:
    """One output block for one input line or record, newline-terminated."""
    if fmt == "json":
        return json.dumps({k: v for k, v in res.items() if k != "tags"}, ensure_ascii=False) + "\n"
    if fmt == "conll":
        return "".join(f"{_one_column(t)}\t{g}\n" for t, g in zip(res["tokens"], res["tags"], strict=True)) + "\n"
    if fmt == "spacy":
        return json.dumps(spacy_json(res), ensure_ascii=False) + "\n"
    return "\t".join(f"{_one_column(e['text'])} [{e['type']}]" for e in res["entities"]) + "\n"  # one line


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
               total: int | None = None, max_words: int = MAX_WORDS,
               overlap: int = WINDOW_OVERLAP) -> tuple[int, int, float]:
    """Tag `records` chunk by chunk, writing each result; returns (records, sentences, seconds)."""
    if fmt not in FORMATS:
        raise NerError(f"unknown output format {fmt!r} (expected one of: {', '.join(FORMATS)})")
    n = n_sents = 0
    t0 = time.perf_counter()
    disable = {None: None, False: True, True: False}[progress]  # None: only on a terminal
    with tqdm(total=total, unit="rec", desc="predict", disable=disable, leave=False, dynamic_ncols=True) as bar:
        for chunk in _chunks(records, CHUNK):
            for res in tag_records(model, chunk, batch_size, max_words, overlap):
                if docbin is not None:
                    docbin.add(res)
                else:
                    assert out is not None
                    out.write(format_record(res, fmt))
            if out is not None:
                out.flush()
            n += len(chunk)
            n_sents += sum(len(_token_ranges(rec)) for rec in chunk)
            bar.update(len(chunk))
    return n, n_sents, time.perf_counter() - t0


def run(model_dir: str, lang: str, input: str | None = None, fmt: str = "text", out: str | None = None,
        input_format_: str = "auto", column: str | None = None, encoding: str | None = None,
        batch_size: int = 64, device: str = "auto", stdout: IO[str] | None = None,
        max_entity_words: int = MAX_ENTITY_WORDS, keep_lines: bool = False, max_words: int = MAX_WORDS,
        overlap: int = WINDOW_OVERLAP, backend: str = "torch") -> int:
    """`ner predict`: read, tag, write; logs the throughput (sentences/s). Returns the number of records.
    `backend` "onnx" / "onnx-int8": the export's ONNX graph run by ONNX Runtime on the CPU
    (`ner.inference.onnx_runtime`), everything else the same."""
    tokenize("check", lang)  # an unknown language fails here, before the model is loaded
    try:
        check_window(max_words, overlap)
    except ValueError as exc:
        raise NerError(str(exc)) from None
    records = read_records(input, lang, input_format_, column, encoding, split=not keep_lines)
    total = _count_hint(input, input_format_)
    onnx = backend != "torch"
    model = load_model(model_dir, "cpu" if onnx and device == "auto" else resolve_device(device), backend)
    model.max_entity_words = max_entity_words
    docbin = None
    if fmt == "spacy" and out and out.endswith(".spacy"):
        docbin = _DocBinWriter(Path(out), lang)
    window = {"max_words": max_words, "overlap": overlap}
    if docbin is not None:
        n, n_sents, secs = predict_to(model, records, None, fmt, batch_size, docbin, total=total, **window)
        docbin.close()
    elif out and out != "-":
        with atomic_open(out, "w") as fh:
            n, n_sents, secs = predict_to(model, records, fh, fmt, batch_size, total=total, **window)
    else:
        n, n_sents, secs = predict_to(model, records, stdout or sys.stdout, fmt, batch_size, total=total, **window)
    log.info("predicted %d sentences (%d input records) in %.2fs (%.1f sentences/s, device %s%s)", n_sents, n, secs,
             n_sents / max(secs, 1e-9), model.device, f", {backend}" if onnx else "")
    return n


def _count_hint(path: str | None, fmt: str) -> int | None:
    """Number of records for the progress bar, when it is cheap to know (Parquet metadata)."""
    if path in (None, "-") or input_format(path, fmt) != "parquet":
        return None
    p = Path(path)
    try:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in (sorted(p.glob("*.parquet")) if p.is_dir() else [p]))
    except Exception:  # noqa: BLE001 - only a hint; the reader reports real problems
        return None
