"""Fuzz every reader of user files: the only exception ever raised is the toolkit's own error type.

Inputs are bytes mixing the things real files get wrong (other encodings, BOMs, CRLF and lone CR,
NUL bytes, tabs and spaces inside tokens, broken IOB, truncated JSON/YAML, binary noise), read
with a valid, a wrong or an unknown `encoding`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cslib import CslibError
from cslib.build import BuildConfig
from cslib.config import load_config
from cslib.lexicons.dictionary import read_muse
from cslib.readers import read_conll, read_labeled_file, read_panx, read_text
from cslib.shards import shard_paths
from cslib.textio import iter_lines
from ner.data.pseudo_labels import load_pseudo
from ner.data.shards import open_shard_dir
from ner.errors import NerError
from ner.inference.predict import read_records
from ner.training.config import load_train_config

FRAGMENTS = ["Paris", "New York", "東京", "São", "\t", " ", "  ", "\n", "\n\n", "\r\n", "\r", "\x00", "\ufeff",
             "B-PER", "I-PER", "B-LOC", "I-", "O", "B-", "X", "-DOCSTART- -X- -X- O", "NNP", "{", "}", "[",
             '"tokens"', '"tags"', '"text"', ":", ",", '["a"]', "null", "1", "tgt: ja", "model:", "- x", "\\",
             "#", '"format": "cslib-shards"', '"kind": "codeswitch"', '"shards"', '"file"', "shard-00000.parquet",
             "\u2028", "\x85", "é" * 3]
ENCODINGS = [None, "utf-8", "latin-1", "utf-16", "cp1252", "no-such-codec"]


@st.composite
def file_bytes(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    text = "".join(draw(st.lists(st.sampled_from(FRAGMENTS), max_size=40)))
    enc = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "utf-16-le", "cp1252"]))
    data = text.encode(enc, errors="replace")
    if draw(st.booleans()):  # corrupt a few bytes
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=4)) + data[cut:]
    return data


def _manifest_dir(tmp: Path, data: bytes) -> Path:
    d = tmp / "shards"
    d.mkdir(exist_ok=True)
    (d / "manifest.json").write_bytes(data)
    return d


def _consume(it) -> None:
    for _ in it:
        pass


READERS: dict[str, Callable[[Path, bytes, str | None], object]] = {
    "iter_lines": lambda p, b, e: _consume(iter_lines(p, e)),
    "read_panx": lambda p, b, e: read_panx(p, encoding=e),
    "read_conll": lambda p, b, e: read_conll(p, on_invalid="error", encoding=e),
    "read_labeled_file": lambda p, b, e: read_labeled_file(p, encoding=e),
    "read_text": lambda p, b, e: read_text(p, encoding=e),
    "read_muse": lambda p, b, e: read_muse(p, e),
    "cslib_yaml_config": lambda p, b, e: load_config(BuildConfig, p, {}),
    "ner_yaml_config": lambda p, b, e: load_train_config(p),
    "pseudo_jsonl": lambda p, b, e: load_pseudo(p),
    "cslib_manifest": lambda p, b, e: shard_paths(_manifest_dir(p.parent, b)),
    "ner_manifest": lambda p, b, e: open_shard_dir(_manifest_dir(p.parent, b)),
    "predict_text": lambda p, b, e: _consume(read_records(str(p), "en", "text", encoding=e)),
    "predict_jsonl": lambda p, b, e: _consume(read_records(str(p), "en", "jsonl", encoding=e)),
    "predict_parquet": lambda p, b, e: _consume(read_records(str(p), "en", "parquet")),
}


@pytest.mark.parametrize("reader", sorted(READERS))
def test_readers_raise_only_toolkit_errors(reader: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp(reader)
    path = tmp / "input.txt"

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=file_bytes(), encoding=st.sampled_from(ENCODINGS))
    def check(data: bytes, encoding: str | None) -> None:
        path.write_bytes(data)
        try:
            READERS[reader](path, data, encoding)
        except (CslibError, NerError) as exc:
            msg = str(exc)
            assert msg and "\n" not in msg.strip(), msg  # one line
            assert "Traceback" not in msg

    check()


def test_known_bad_inputs_give_file_and_line(tmp_path: Path) -> None:
    """Inputs that once crashed a reader with a traceback: each now gives a one-line error."""
    cases = {
        "latin1.tsv": ("São\tB-LOC\nPaulo\tI-LOC\n".encode("latin-1"), ":1: cannot decode byte 0xe3 as utf-8"),
        "binary.tsv": (bytes(range(256)) * 4, ":1: NUL byte"),
        "nul.tsv": (b"x\tO\n\nPar\x00is\tB-LOC\n", ":3: NUL byte"),
        "long.tsv": (b"a" * (1 << 21) + b"\tO\n", ":1: line longer than"),
        "empty_token.tsv": (b"x\tO\n \tB-PER\n", ":2: empty column"),
    }
    for name, (data, want) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(CslibError, match=f"{name}{want}"):
            read_labeled_file(tmp_path / name)
    # The same file read with the right encoding, and BOM + CRLF handled, not merely rejected.
    assert read_panx(tmp_path / "latin1.tsv", encoding="latin-1")[0].tokens == ["São", "Paulo"]
    (tmp_path / "bom.conll").write_bytes(b"\xef\xbb\xbf-DOCSTART- -X- -X- O\r\n\r\nEU NNP B-NP B-ORG\r\nrejects VBZ B-VP O\r\n")
    s = read_conll(tmp_path / "bom.conll")
    assert s[0].tokens == ["EU", "rejects"] and s[0].tags == ["B-ORG", "O"] and s[0].line == 3
    (tmp_path / "u16.txt").write_bytes("Tōkyō\r\nParis\rRome\n".encode("utf-16"))
    assert read_text(tmp_path / "u16.txt", encoding="utf-16") == ["Tōkyō", "Paris", "Rome"]
    assert read_text(tmp_path / "u16.txt") == ["Tōkyō", "Paris", "Rome"]  # the BOM says UTF-16
    (tmp_path / "spaces.tsv").write_bytes(b"New York \tB-LOC\n")
    assert read_panx(tmp_path / "spaces.tsv")[0].tokens == ["New York"]  # only the tab separates columns
    with pytest.raises(CslibError, match="unknown encoding 'latin-9x'"):
        read_text(tmp_path / "u16.txt", encoding="latin-9x")
    (tmp_path / "m").mkdir()
    for data, want in ((b"[1, 2]", "a JSON list"), (json.dumps({"format": "cslib-shards", "kind": "codeswitch"}).encode(),
                                                    "'shards' must be a list")):
        (tmp_path / "m" / "manifest.json").write_bytes(data)
        with pytest.raises(CslibError, match=want):
            shard_paths(tmp_path / "m")
