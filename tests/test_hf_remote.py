"""A relation-head export in transformers (`trust_remote_code`) and in spaCy: the entities of `ner predict`.

The model is a tiny random relation head (seed 0): its entities are noise, which is fine, since what is
asserted is that every way of serving it finds the same ones; the texts are chosen so that some have
entities and one has none. The transformers side runs in a fresh process that cannot import `ner` or
`cslib` (a `sys.meta_path` blocker), so the export's generated `modeling_xner.py` must do it all alone.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ner.cli import main
from ner.errors import NerError
from ner.inference.hf_remote import MODULE_FILE
from ner.inference.hf_remote_source import SHIPPED, modelling_source
from ner.inference.loading import load_model
from ner.inference.predict import predict_texts
from ner.model.ner_model import NerModel
from tests.helpers import export_tiny_relation_model

REPO = Path(__file__).resolve().parents[1]
_LONG_EN = " ".join(["Angela Merkel met Emmanuel Macron and the United Nations in Paris , then"] * 14) + " left ."
TEXTS: dict[str, list[str]] = {
    "en": ["Angela Merkel visited Paris on Monday. The United Nations met in New York.", "It rained.", "",
           _LONG_EN],
    "de": ["Angela Merkel besuchte am 3. Oktober Paris. Die Vereinten Nationen tagten in New York."],
    "ja": ["安倍晋三は東京で演説した。トヨタ自動車の本社は愛知県にある。", "京都大学の山中伸弥教授は" * 20 + "受賞した。"],
}
NO_ENTITIES = ("en", 1)  # "It rained." gets none from this model
OPTIONS = [{}, {"max_words": 12, "window_overlap": 3, "split_sentences": False}]  # default; small windows

_PIPELINE_SCRIPT = r"""
import importlib.abc, json, sys

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("ner", "cslib"):
            raise ImportError(f"{name} must not be imported by an export")

sys.meta_path.insert(0, Blocker())
from transformers import AutoModel, pipeline

spec = json.load(open(sys.argv[1], encoding="utf-8"))
out = {"found": []}
ner = pipeline("token-classification", model=spec["model"], trust_remote_code=True, device="cpu")
out["classes"] = [type(ner).__name__, type(ner.model).__name__]
for options in spec["options"]:
    out["found"].append({lang: [ner(t, lang=lang, **options) for t in texts] for lang, texts in spec["texts"].items()})
bare = pipeline(model=spec["model"], trust_remote_code=True, device="cpu", lang="en")  # the task from config.json
out["bare"] = bare(spec["texts"]["en"])
out["auto_model"] = type(AutoModel.from_pretrained(spec["model"], trust_remote_code=True)).__name__
out["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("ner", "cslib"))
print(json.dumps(out, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def relation_export(tiny_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random relation-head model (seed 0), exported with `ner export`."""
    return export_tiny_relation_model(tiny_encoder, tmp_path_factory.mktemp("relation-export"))


def _run_pipeline(export: Path, texts: dict[str, list[str]], options: list[dict], tmp_path: Path) -> dict:
    """`_PIPELINE_SCRIPT`'s findings, in a fresh process that cannot import the toolkit."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"model": str(export), "texts": texts, "options": options}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_MODULES_CACHE=str(tmp_path / "hf-modules"))
    res = subprocess.run([sys.executable, "-c", _PIPELINE_SCRIPT, str(spec)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.splitlines()[-1])


def _ours(model: NerModel, text: str, lang: str, options: dict) -> list[tuple]:
    """`ner predict`'s entities (the library form: one text = one input line) as comparable tuples."""
    kw = {"max_words": options.get("max_words", 128), "overlap": options.get("window_overlap", 32),
          "split_sentences": options.get("split_sentences", True)}
    return [(e["type"], e["text"], e["char_start"], e["char_end"], e["score"])
            for e in predict_texts(model, [text], lang, **kw)[0]["entities"]]


def test_generated_code_is_self_contained_and_checked() -> None:
    source = modelling_source()
    internal = [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))
                and ((n.module or "") if isinstance(n, ast.ImportFrom) else n.names[0].name).split(".")[0]
                in ("ner", "cslib")]
    assert not internal and "class XnerPipeline(Pipeline)" in source and "def decode_grid(" in source
    # A definition the list stops shipping is caught when the file is generated, not in a user's pipeline.
    without = [(m, tuple(n for n in names if n != "char_spans") if names else names) for m, names in SHIPPED]
    with pytest.raises(NerError, match="undefined names: char_spans"):
        modelling_source(without)


def test_transformers_pipeline_equals_ner_predict(relation_export: Path, tmp_path: Path) -> None:
    out = relation_export
    config = json.loads((out / "config.json").read_text())
    assert config["auto_map"]["AutoModelForTokenClassification"] == "modeling_xner.XnerModel"
    assert (out / MODULE_FILE).read_text() == modelling_source()
    card = (out / "README.md").read_text()
    assert 'pipeline("token-classification", model=' in card and 'nlp.add_pipe("xner"' in card

    got = _run_pipeline(out, TEXTS, OPTIONS, tmp_path)
    assert got["classes"] == ["XnerPipeline", "XnerModel"] and got["auto_model"] == "XnerModel"
    assert got["modules"] == []  # neither the toolkit nor cslib was imported

    model = load_model(out)
    total = 0
    for options, found in zip(OPTIONS, got["found"], strict=True):
        for lang, texts in TEXTS.items():
            for text, ents in zip(texts, found[lang], strict=True):
                theirs = [(e["entity_group"], e["word"], e["start"], e["end"], e["score"]) for e in ents]
                assert theirs == _ours(model, text, lang, options), (lang, text[:40], options)
                total += len(theirs)
    assert total > 20  # not vacuous: the model finds entities ...
    lang, k = NO_ENTITIES
    assert got["found"][0][lang][k] == [] and got["found"][0]["en"][0]  # ... and none in one sentence
    assert len(TEXTS["en"][3].split()) > 128 and len(TEXTS["ja"][1]) > 128  # windows and encoder rows both used
    assert [[e["word"] for e in r] for r in got["bare"]] == [[e["word"] for e in r] for r in got["found"][0]["en"]]


def test_token_head_export_serves_the_same_way(token_run: Path, tmp_path: Path) -> None:
    """The token head's code is shipped too: the export directory itself is a pipeline (its
    token-classification/ folder stays the standard-class alternative)."""
    assert main(["export", str(token_run), "--out", str(tmp_path / "tok")]) == 0
    texts = {"en": TEXTS["en"][:2] + [_LONG_EN]}
    got = _run_pipeline(tmp_path / "tok", texts, [{}], tmp_path)
    assert got["modules"] == []
    model = load_model(tmp_path / "tok")
    found = [[(e["entity_group"], e["word"], e["start"], e["end"], e["score"]) for e in r] for r in got["found"][0]["en"]]
    assert found == [_ours(model, t, "en", {}) for t in texts["en"]] and any(found)


def test_ner_predict_command_agrees(relation_export: Path, tmp_path: Path, capsys) -> None:
    """`ner predict` itself, a text a line: the same entities as the library form the pipeline is checked against."""
    model = load_model(relation_export)
    for lang, texts in TEXTS.items():
        f = tmp_path / f"{lang}.txt"
        f.write_text("\n".join(texts) + "\n", encoding="utf-8")
        capsys.readouterr()
        assert main(["predict", "--model", str(relation_export), "--lang", lang, "--input", str(f), "--json"]) == 0
        rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        for text, row in zip(texts, rows, strict=True):
            spans = [(e["type"], e["text"], e["char_start"], e["char_end"]) for e in row["entities"]]
            assert spans == [x[:4] for x in _ours(model, text, lang, {})]


def test_export_help_names_the_ways_to_serve(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = capsys.readouterr().out
    assert "trust_remote_code" in text and "spaCy" in text and "ner predict --model DIR" in text


# --- spaCy -------------------------------------------------------------------------------------------


def _spacy_pipeline(lang: str, export: Path, **config):
    spacy = pytest.importorskip("spacy")
    import ner.integrations.spacy_component  # noqa: F401  (registers the factory, as the entry point does)

    # Japanese: spaCy's blank "ja" needs SudachiPy; blank "zh" splits into characters without any dependency,
    # and the component is told the language.
    nlp = spacy.blank({"ja": "zh"}.get(lang, lang))
    nlp.add_pipe("xner", config={"model": str(export), **({"lang": lang} if lang == "ja" else {}), **config})
    return nlp


def test_spacy_component_sets_the_predicted_entities(relation_export: Path) -> None:
    model = load_model(relation_export)
    total = 0
    for lang, texts in TEXTS.items():
        nlp = _spacy_pipeline(lang, relation_export)
        for text in texts:
            doc = nlp(text)
            got = [(e.label_, e.text, e.start_char, e.end_char, e._.xner_score) for e in doc.ents]
            assert got == _ours(model, text, lang, {}), (lang, text[:40])
            total += len(got)
        docs = list(nlp.pipe(texts, batch_size=8))  # several Docs tagged together, as `ner predict` tags lines
        assert [[(e.label_, e.start_char, e.end_char) for e in d.ents] for d in docs] == [
            [(e["type"], e["char_start"], e["char_end"]) for e in r["entities"]] for r in predict_texts(model, texts, lang)]
    assert total > 20 and not list(_spacy_pipeline("en", relation_export)(TEXTS["en"][1]).ents)


def test_spacy_component_aligns_to_coarser_tokens(relation_export: Path) -> None:
    spacy = pytest.importorskip("spacy")
    text = TEXTS["ja"][0].split("。")[0]  # one sentence, no punctuation
    nlp = _spacy_pipeline("ja", relation_export)
    assert len(nlp(text).ents) > 1
    # spaCy's multi-language tokenizer keeps a Japanese sentence as one token: every entity widens to it,
    # and of the overlapping spans one is kept.
    coarse = spacy.blank("xx")
    coarse.add_pipe("xner", config={"model": str(relation_export), "lang": "ja"})
    doc = coarse(text)
    assert [(e.start, e.end) for e in doc.ents] == [(0, len(doc))]
    # overwrite_ents=False keeps entities set before and adds only those that do not overlap them.
    keep = _spacy_pipeline("en", relation_export, overwrite_ents=False)
    doc = keep.make_doc(TEXTS["en"][0])
    doc.ents = [doc.char_span(0, 6, label="MISC")]
    ents = keep.get_pipe("xner")(doc).ents
    assert ents[0].label_ == "MISC" and len(ents) > 1 and all(e.start >= 1 for e in ents[1:])


def test_spacy_entry_point_is_the_factory() -> None:
    spacy = pytest.importorskip("spacy")
    from ner.integrations import spacy_component

    points = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["spacy_factories"]
    module, attr = points["xner"].split(":")
    assert getattr(__import__(module, fromlist=[attr]), attr) is spacy_component.make_xner
    assert spacy.Language.has_factory("xner")
    with pytest.raises(NerError, match="unknown language code 'qq'"):
        spacy.blank("en").add_pipe("xner", config={"model": "unused", "lang": "qq"})
