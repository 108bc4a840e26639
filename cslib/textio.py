"""Reading user text files line by line without ever raising anything but `CslibError`.

Every reader of user files (PAN-X, CoNLL, MUSE, raw text, JSON lines) goes through
`iter_lines` (JSON lines through `iter_jsonl`), so one place decides what a line is:

- UTF-8 by default; any Python codec by name (`--encoding latin-1` for the original
  CoNLL-2002 files). A leading BOM is dropped (UTF-8, UTF-16 and UTF-32 BOMs).
- `\\n`, `\\r\\n` and a lone `\\r` end a line; the end is not part of the line.
- Undecodable bytes, NUL bytes (a binary file, or UTF-16 read as UTF-8) and lines longer
  than `MAX_LINE` characters are one-line errors naming the file and line, with what to do.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Iterator
from pathlib import Path

from .errors import CslibError, at

#: Longest accepted line, in characters. Real sentences are far shorter; a longer "line" is a
#: file without line breaks (minified JSON, a binary) and would only exhaust memory downstream.
MAX_LINE = 1 << 20
_CHUNK = 1 << 16
_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_BOM_CODECS = {codecs.BOM_UTF8: "utf-8", codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be",
               codecs.BOM_UTF32_LE: "utf-32-le", codecs.BOM_UTF32_BE: "utf-32-be"}
DEFAULT_ENCODING = "utf-8"


def check_encoding(encoding: str | None) -> str:
    """The codec's canonical name; an unknown one is a CslibError (so `--encoding` fails early)."""
    name = encoding or DEFAULT_ENCODING
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise CslibError(f"unknown encoding {name!r} (e.g. utf-8, latin-1, cp1252, utf-16)") from None


def _bom_codec(head: bytes, encoding: str) -> tuple[str, int]:
    """(codec, BOM length): a BOM decides the codec for the UTF family, and is skipped."""
    for bom in _BOMS:
        if head.startswith(bom):
            codec = _BOM_CODECS[bom]
            if encoding.startswith("utf"):
                return codec, len(bom)
            return encoding, 0  # latin-1 etc.: those bytes are characters, not a BOM
    if encoding in ("utf-16", "utf-32"):  # no BOM: Python would assume the platform's order
        return encoding + "-le", 0
    return encoding, 0


def iter_lines(path: str | os.PathLike[str], encoding: str | None = None,
               max_line: int = MAX_LINE) -> Iterator[tuple[int, str]]:
    """(line number from 1, line without its end) for each line of a text file."""
    path = Path(path)
    enc = check_encoding(encoding)
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise CslibError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CslibError(f"{path}: is a directory, expected a text file") from None
    except OSError as exc:
        raise CslibError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with fh:
        try:
            head = fh.read(4)
        except OSError as exc:
            raise CslibError(f"{path}: cannot read ({exc.strerror or exc})") from None
        codec, skip = _bom_codec(head, enc)
        fh.seek(skip)
        decoder = codecs.getincrementaldecoder(codec)("strict")
        lineno, pending, offset = 1, "", skip  # offset: bytes consumed, for error positions
        pending_cr = False
        while True:
            try:
                data = fh.read(_CHUNK)
            except OSError as exc:
                raise CslibError(f"{path}: cannot read ({exc.strerror or exc})") from None
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                done = pending + exc.object[: exc.start].decode(codec, "replace")
                if "\x00" in done:  # a binary file: say so rather than name the first bad byte
                    done = done[: done.index("\x00")]
                    _check(path, lineno + _line_breaks(done), "\x00", max_line)
                bad_line = lineno + _line_breaks(done)
                raise at(path, bad_line, f"cannot decode byte 0x{exc.object[exc.start]:02x} as {enc} "
                                         f"({exc.reason}); give the file's encoding with --encoding, "
                                         f"e.g. --encoding latin-1") from None
            offset += len(data)
            if pending_cr and text.startswith("\n"):
                text = text[1:]
            pending_cr = False
            pending += text
            # split on \r\n, \r and \n (not on the other Unicode line separators str.splitlines knows)
            pending = pending.replace("\r\n", "\n")
            if pending.endswith("\r") and data:
                pending, pending_cr = pending[:-1] + "\n", True
            parts = pending.replace("\r", "\n").split("\n")
            pending = parts.pop()
            for line in parts:
                yield lineno, _check(path, lineno, line, max_line)
                lineno += 1
            if len(pending) > max_line:
                _check(path, lineno, pending, max_line)
            if not data:
                break
        if pending:
            yield lineno, _check(path, lineno, pending, max_line)


def _line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _check(path: Path, lineno: int, line: str, max_line: int) -> str:
    if "\x00" in line:
        raise at(path, lineno, "NUL byte: a binary file, or text in another encoding "
                               "(UTF-16 without BOM? give --encoding utf-16)")
    if len(line) > max_line:
        raise at(path, lineno, f"line longer than {max_line} characters (not a line-based text file?)")
    return line


def iter_jsonl(path: str | os.PathLike[str], encoding: str | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSON-lines file; a line that is not a JSON
    object is a one-line `CslibError` naming the file and line."""
    for lineno, line in iter_lines(path, encoding):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise at(path, lineno, f"malformed JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise at(path, lineno, f"expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


def read_lines(path: str | os.PathLike[str], encoding: str | None = None) -> list[str]:
    """All lines of a text file (see `iter_lines`)."""
    return [line for _, line in iter_lines(path, encoding)]


def read_text_file(path: str | os.PathLike[str], encoding: str | None = None) -> str:
    """A whole small text file (JSON, YAML) as one string, with the same checks as `iter_lines`."""
    return "\n".join(read_lines(path, encoding))
