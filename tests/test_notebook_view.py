"""The inspection notebook runs on a small build, and the HTML views show what they promise."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

import cslib
from cslib.cli import main as cslib_main
from cslib.inspection.view import open_shards, row_html

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, data_root: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("nb") / "cs"
    out = {}
    for tgt in ("ja", "zh"):
        out[tgt] = root / f"en-{tgt}"
        assert cslib_main(["build", "--tgt", tgt, "--limit", "40", "--data-root", str(data_root),
                           "--out", str(out[tgt])]) == 0
    return out


def test_row_html_marks_entities_switches_and_languages(built: dict[str, Path]) -> None:
    s = open_shards(built["ja"])
    row = next(r for r in s.iter_rows() if r["n_switched"] and any(t != "O" for t in r["cs_tags"]))
    page = row_html(row)
    # every token appears once per side, escaped; each carries its language and tag on hover
    titles = re.findall(r'title="([^"]*)"', page)
    assert len(titles) == len(row["src_tokens"]) + len(row["cs_tokens"])
    cs_titles = titles[len(row["src_tokens"]):]
    assert [t.split(" · ")[:2] for t in cs_titles] == [[lang, tag] for lang, tag in zip(row["cs_langs"], row["cs_tags"], strict=True)]
    assert page.count("cs-sw") == sum(lang != "en" for lang in row["cs_langs"]) + sum(
        "switched" in t for t in titles[: len(row["src_tokens"])])
    n_ents = len(cslib.spans(row["src_tags"])) + len(cslib.spans(row["cs_tags"]))
    assert page.count('class="cs-type"') == n_ents
    assert html.escape(row["cs_tokens"][0]) in page
    assert "<script" not in row_html({**row, "src_tokens": ["<script>"] + row["src_tokens"][1:]})


def test_inspect_html_page_and_filters(built: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "page.html"
    assert cslib_main(["inspect", str(built["ja"]), "-n", "5", "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and page.count('class="cs-row"') == 5 and "en → ja" in page
    assert cslib_main(["inspect", str(built["ja"]), "-n", "50", "--type", "PER"]) == 0
    text = capsys.readouterr().out
    assert text and all("PER" in block for block in text.split("\n\n") if block)
    rows = open_shards(built["ja"]).rows(50, entity_type="ORG", method="dict")
    assert rows and all("B-ORG" in r["src_tags"] and r["method"] == "dict" for r in rows)
    assert rows._repr_html_().count('class="cs-row"') == len(rows)


def test_notebook_runs(built: dict[str, Path], monkeypatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("CS_DIR", str(built["ja"]))
    monkeypatch.setenv("CS_DIR_2", str(built["zh"]))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(REPO / "examples" / "inspect_shards.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(REPO / "examples")}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    htmls = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert all('class="cs-row"' in h and "cs-sw" in h for h in htmls if "cs-set" in h)  # rich rendering, not a dict
    assert sum('class="cs-row"' in h for h in htmls) == 3  # the set, the filtered rows, the zh rows
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2  # switch-rate plots
