"""`ner export`: a self-contained directory that `ner predict`, a Python snippet and transformers load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ner.cli import main
from ner.errors import NerError
from ner.inference.export import export_run
from ner.inference.export_format import load_export
from ner.inference.loading import load_model
from ner.inference.predict import predict_texts
from ner.inference.tagging import predict_tags
from ner.model.ner_model import NerModel
from tests.helpers import tiny_config

SENTS = ["Angela Merkel visited Paris .", "The United Nations met in New York on Monday ."]


def _export(run: Path, out: Path) -> Path:
    assert main(["export", str(run), "--out", str(out)]) == 0
    # The export must not depend on the encoder it was trained from: point that at nothing.
    cfg = json.loads((out / "config.json").read_text())
    cfg["trained_from_encoder"] = str(out.parent / "gone")
    (out / "config.json").write_text(json.dumps(cfg))
    return out


@pytest.mark.filterwarnings("ignore:Tokenizer does not support real words")
def test_token_head_export(token_run: Path, tmp_path: Path, capsys) -> None:
    out = _export(token_run, tmp_path / "exported")
    capsys.readouterr()
    for name in ("encoder/config.json", "encoder/model.safetensors", "encoder/tokenizer.json", "head.safetensors",
                 "tag_schema.json", "README.md", "token-classification/config.json"):
        assert (out / name).is_file(), name
    card = (out / "README.md").read_text()
    assert "## Training data" in card and "en-ja" in card and "max_steps: 12" in card
    schema = json.loads((out / "tag_schema.json").read_text())
    assert schema["iob2_tags"] == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    # Same predictions from the run and from the export (library snippet of the model card).
    words = [s.split() for s in SENTS]
    orig, exported = load_model(token_run), load_export(out)
    assert predict_tags(exported, words) == predict_tags(orig, words)
    got = predict_texts(exported, SENTS, "en")
    assert [r["tokens"] for r in got] == words
    # A fresh process loads it for `ner predict` (no run directory involved).
    f = tmp_path / "in.txt"
    f.write_text("\n".join(SENTS) + "\n")
    res = subprocess.run([sys.executable, "-m", "ner", "predict", "--model", str(out), "--lang", "en", "--input",
                          str(f), "--json"], capture_output=True, text=True, check=True)
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["entities"] for r in rows] == [r["entities"] for r in got]

    # The token head as a standard transformers model: same logits on each word's first sub-word ...
    from transformers import AutoModelForTokenClassification, pipeline

    hf_dir = out / "token-classification"
    ner = pipeline("token-classification", model=str(hf_dir), aggregation_strategy="first", device="cpu")
    hf, tok = ner.model.eval(), ner.tokenizer
    assert type(hf).__name__ == "BertForTokenClassification"  # what AutoModelForTokenClassification gives
    assert type(AutoModelForTokenClassification.from_config(hf.config)) is type(hf)
    enc = tok(words[1], is_split_into_words=True, return_tensors="pt")
    first = [enc.word_ids().index(i) for i in range(len(words[1]))]
    with torch.no_grad():
        hf_logits = hf(**enc).logits[0, first]
        ours = orig(orig.collate([words[1]])).logits[0, : len(words[1])]
    torch.testing.assert_close(hf_logits, ours, atol=1e-4, rtol=1e-4)
    assert hf.config.id2label[0] == "O" and set(hf.config.label2id) == set(schema["iob2_tags"])
    # ... and pipeline("token-classification") runs it offline.
    found = ner(SENTS[0])
    assert isinstance(found, list)
    assert all(e["entity_group"] in {"LOC", "ORG", "PER"} and e["end"] > e["start"] for e in found)


def test_relation_head_export_and_errors(tiny_encoder: Path, tmp_path: Path, tmp_path_factory) -> None:
    encoder = tiny_encoder
    cfg = tiny_config(encoder, tmp_path, tmp_path / "unused").model
    torch.manual_seed(0)
    NerModel(cfg, ["LOC", "ORG", "PER"]).save(tmp_path / "model")  # a bare model directory (no run)
    out = _export(tmp_path / "model", tmp_path / "rel")
    assert not (out / "token-classification").exists()  # only the token head maps onto a standard HF class
    assert "no config.yaml" in (out / "README.md").read_text()
    words = [s.split() for s in SENTS]
    model, orig = load_export(out), load_model(tmp_path / "model")
    assert model.cfg.head == "relation"
    torch.testing.assert_close(model(model.collate(words)).logits, orig(orig.collate(words)).logits)
    with pytest.raises(NerError, match="already exists"):
        export_run(tmp_path / "model", out)
    assert main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    # Why exports exist: a run whose encoder directory is gone cannot load (one line, not an HF traceback).
    meta = json.loads((tmp_path / "model" / "config.json").read_text())
    meta["model_config"]["encoder"] = str(tmp_path / "gone")
    (tmp_path / "model" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(NerError, match="gone: encoder directory not found"):
        load_model(tmp_path / "model")
    assert load_export(out).cfg.head == "relation"  # the export still loads
