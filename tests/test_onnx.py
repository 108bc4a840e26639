"""`ner export --onnx [--int8]` and `ner predict --backend onnx`: ONNX Runtime finds the entities torch finds.

Two real tiny models: a random relation head (seed 0, as tests/test_hf_remote.py builds it) and the session's
trained token-head run. Each is exported with `--onnx`, and the ONNX backend must find exactly the entities
(spans, types, character offsets) of the torch fp32 path on en/de/ja texts -- with a text that has none and
one longer than the window -- scores within rounding.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from ner.cli import main
from ner.errors import NerError
from ner.inference.loading import load_model
from ner.inference.predict import predict_texts
from tests.helpers import export_tiny_relation_model

pytest.importorskip("onnxruntime")

_LONG = " ".join(["Angela Merkel met Emmanuel Macron and the United Nations in Paris , then"] * 12) + " left ."
TEXTS: dict[str, list[str]] = {
    "en": ["Angela Merkel visited Paris on Monday. The United Nations met in New York.", "It rained.", "Yes.", "",
           _LONG],
    "de": ["Angela Merkel besuchte am 3. Oktober Paris. Die Vereinten Nationen tagten in New York.", "Es regnete."],
    "ja": ["安倍晋三は東京で演説した。トヨタ自動車の本社は愛知県にある。", "京都大学の山中伸弥教授は" * 14 + "受賞した。"],
}
WINDOWS = [{}, {"max_words": 12, "overlap": 3}]  # the default (the long texts exceed it) and small windows
SCORE_TOLERANCE = 2e-3


@pytest.fixture(scope="module")
def relation_onnx(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random relation-head model (seed 0) exported with `--onnx --int8`."""
    return export_tiny_relation_model(tiny_encoder, tmp_path_factory.mktemp("relation-onnx"), "--onnx", "--int8")


@pytest.fixture(scope="module")
def token_onnx(token_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's tiny trained token-head run, exported with `--onnx`."""
    out = tmp_path_factory.mktemp("token-onnx") / "export"
    assert main(["export", str(token_run), "--out", str(out), "--onnx"]) == 0
    return out


def _entities(model, texts: list[str], lang: str, window: dict) -> list[list[tuple]]:
    return [[(e["type"], e["start"], e["end"], e["char_start"], e["char_end"], e["score"]) for e in r["entities"]]
            for r in predict_texts(model, texts, lang, amp="off", **window)]


@pytest.mark.parametrize("head", ["relation", "token"])
def test_onnx_backend_finds_the_entities_of_torch_fp32(head: str, request: pytest.FixtureRequest) -> None:
    export = request.getfixturevalue(f"{head}_onnx")
    torch_model, onnx_model = load_model(export), load_model(export, backend="onnx")
    found = empty = 0
    for lang, texts in TEXTS.items():
        for window in WINDOWS:
            want, got = _entities(torch_model, texts, lang, window), _entities(onnx_model, texts, lang, window)
            assert [[e[:5] for e in t] for t in got] == [[e[:5] for e in t] for t in want], (lang, window)
            for g, w in zip(got, want, strict=True):
                assert all(abs(a[5] - b[5]) <= SCORE_TOLERANCE for a, b in zip(g, w, strict=True))
            found += sum(map(len, want))
            empty += sum(not t for t, text in zip(want, texts, strict=True) if text)
    assert found > 0 and empty > 0  # not vacuous: entities found, and a non-empty text with none


def test_int8_graph_loads_and_tags(relation_onnx: Path) -> None:
    model = load_model(relation_onnx, backend="onnx-int8")
    got = predict_texts(model, TEXTS["en"], "en")
    assert len(got) == len(TEXTS["en"]) and sum(len(r["entities"]) for r in got) > 0


def test_cli_backend_onnx_and_the_model_card(relation_onnx: Path, capsys, monkeypatch) -> None:
    text = TEXTS["en"][0]
    monkeypatch.setattr(sys, "stdin", io.StringIO(text + "\n"))
    assert main(["predict", "--model", str(relation_onnx), "--lang", "en", "--json", "--backend", "onnx"]) == 0
    row = json.loads(capsys.readouterr().out)
    want = predict_texts(load_model(relation_onnx, backend="onnx"), [text], "en")[0]
    assert row["entities"] == want["entities"] and row["entities"]
    card = (relation_onnx / "README.md").read_text()
    assert "### ONNX Runtime" in card and "--backend onnx" in card and "model.int8.onnx" in card
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "--onnx" in capsys.readouterr().out


def test_missing_graph_is_a_one_line_error(relation_onnx: Path, token_onnx: Path, capsys) -> None:
    plain = relation_onnx.parent / "model"
    with pytest.raises(NerError, match=r"model\.onnx: not found .*ner export RUN --out DIR --onnx`"):
        load_model(plain, backend="onnx")
    assert main(["predict", "--model", str(token_onnx), "--lang", "en", "--backend", "onnx-int8"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.endswith("model.int8.onnx: not found; export the model with `ner export RUN --out DIR --onnx --int8`")
    assert main(["export", str(plain), "--out", str(plain.parent / "x"), "--int8"]) != 0
    assert capsys.readouterr().err.strip().endswith("--int8 quantises the ONNX graph: give --onnx too")
