"""Shard sets for people: pandas access, filters, and an HTML rendering (Jupyter or a file).

`open_shards(dir)` gives a `ShardView`; in Jupyter it and its rows display as HTML (`_repr_html_`):
source and code-switched sentence side by side, entities coloured by type, switched words
marked, each token's language and tag on hover. `cslib inspect DIR --html OUT.html` writes
the same rendering as a standalone page.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from .. import shards
from ..errors import CslibError
from ..files import atomic_write_bytes
from ..frames import FRAME_SOURCE
from ..iob import spans
from .report import stats
from .rows import pick_rows

#: Colour per entity type (PAN-X types first; others cycle through the rest).
PALETTE = {"PER": "#ffd6a5", "LOC": "#bde0fe", "ORG": "#caffbf", "MISC": "#e2c2ff"}
_EXTRA = ["#fdffb6", "#ffc6ff", "#9bf6ff", "#ffadad", "#d0f4de", "#fcf6bd"]

CSS = """
.cs-set{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK JP",sans-serif;font-size:14px}
.cs-set h3{margin:.2em 0}.cs-meta{color:#555;margin-bottom:.4em}
.cs-row{border:1px solid #ddd;border-radius:6px;padding:6px 10px;margin:6px 0;max-width:1300px}
.cs-head{color:#666;font-size:12px;margin-bottom:2px}
.cs-side{display:grid;grid-template-columns:3.2em 1fr;gap:2px 6px;align-items:baseline}
.cs-lab{color:#888;font-size:12px;text-align:right}
.cs-tok{padding:1px 2px;margin:0 1px;border-radius:3px;line-height:1.9;display:inline-block}
.cs-ent{border:1px solid rgba(0,0,0,.15)}
.cs-type{font-size:10px;font-weight:600;color:#333;margin-left:2px;vertical-align:super}
.cs-sw{border-bottom:3px solid #e63946;font-weight:600}
.cs-legend span{margin-right:8px}
"""


def type_colours(types: list[str]) -> dict[str, str]:
    out, extra = {}, iter(_EXTRA * 4)
    for t in sorted(types):
        out[t] = PALETTE.get(t) or next(extra, "#eeeeee")
    return out


def _side(tokens: list[str], tags: list[str], langs: list[str], switched: list[bool], colours: dict[str, str]) -> str:
    ends = {}
    for s in spans(tags):
        ends[s.end - 1] = s.type
    parts = []
    for i, tok in enumerate(tokens):
        tag = tags[i] if i < len(tags) else "O"
        typ = tag[2:] if tag != "O" else ""
        cls = "cs-tok" + (" cs-ent" if typ else "") + (" cs-sw" if switched[i] else "")
        style = f' style="background:{colours.get(typ, "#eee")}"' if typ else ""
        title = html.escape(f"{langs[i]} · {tag}" + (" · switched" if switched[i] else ""), quote=True)
        label = f'<span class="cs-type">{html.escape(ends[i])}</span>' if i in ends else ""
        parts.append(f'<span class="{cls}"{style} title="{title}">{html.escape(tok)}{label}</span>')
    return "".join(parts)


def row_html(row: dict[str, Any], colours: dict[str, str] | None = None) -> str:
    """One code-switched row: source above, code-switched below, aligned by label."""
    types = sorted({t[2:] for t in row["src_tags"] + row["cs_tags"] if t != "O"})
    colours = colours or type_colours(types)
    src_lang, tgt = row["src_lang"], row["tgt_lang"]
    cs_sw = [lang != src_lang for lang in row["cs_langs"]]
    sources = row.get("cs_sources") or [""] * len(cs_sw)
    replaced = {j for j, sw, source in zip(row["cs_src_index"], cs_sw, sources, strict=True)
                if sw and source != FRAME_SOURCE}  # a frame is inserted, it replaces no source word
    src_sw = [i in replaced for i in range(len(row["src_tokens"]))]
    src = _side(row["src_tokens"], row["src_tags"], [src_lang] * len(row["src_tokens"]), src_sw, colours)
    cs = _side(row["cs_tokens"], row["cs_tags"], row["cs_langs"], cs_sw, colours)
    head = html.escape(f"{row['id']} · {row['method']} · {row['n_switched']} switched")
    return (f'<div class="cs-row"><div class="cs-head">{head}</div><div class="cs-side">'
            f'<span class="cs-lab">{html.escape(src_lang)}</span><span>{src}</span>'
            f'<span class="cs-lab">{html.escape(src_lang)}→{html.escape(tgt)}</span><span>{cs}</span></div></div>')


def legend(colours: dict[str, str]) -> str:
    items = "".join(f'<span class="cs-tok cs-ent" style="background:{c}">{html.escape(t)}</span>'
                    for t, c in colours.items())
    return (f'<div class="cs-legend">{items}<span class="cs-tok cs-sw">switched word</span>'
            f'<span style="color:#777">(hover a word: language · tag)</span></div>')


def _wrap(body: str) -> str:
    return f'<div class="cs-set"><style>{CSS}</style>{body}</div>'


class Row(dict):
    """A shard row (a plain dict) that renders as HTML in Jupyter."""

    def _repr_html_(self) -> str:
        return _wrap(row_html(self))


class Rows(list):
    """A list of rows that renders as HTML in Jupyter."""

    def _repr_html_(self) -> str:
        types = sorted({t[2:] for r in self for t in r["src_tags"] if t != "O"})
        colours = type_colours(types)
        return _wrap(legend(colours) + "".join(row_html(r, colours) for r in self))


class ShardView:
    """A finished code-switched shard set, for notebooks: `len`, `rows()`, `to_pandas()`, HTML.

    (`cslib.ShardSet` is the same class under its former name; `ner` has its own, unrelated ShardSet.)
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.manifest, self.paths = shards.shard_paths(self.directory)
        if self.manifest["kind"] != "codeswitch":
            raise CslibError(f"{self.directory}: holds {self.manifest['kind']!r} shards; the viewer shows "
                             f"code-switched sets")

    def __len__(self) -> int:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self.paths)

    def __repr__(self) -> str:
        m = self.manifest
        return f"ShardView({str(self.directory)!r}, {m['src_lang']}→{m['tgt_lang']}, {len(self)} rows)"

    @property
    def entity_types(self) -> list[str]:
        return list(self.manifest.get("entity_types") or [])

    def iter_rows(self) -> Iterator[Row]:
        for row in shards.iter_rows(self.directory):
            yield Row(row)

    def rows(self, n: int = 10, offset: int = 0, switched_only: bool = False, method: str | None = None,
             entity_type: str | None = None) -> Rows:
        """The first `n` rows (after `offset`) passing the filters: something switched, a switch
        method, a source entity of `entity_type`."""
        return Rows(Row(r) for r in pick_rows(self.directory, n, offset, switched_only, method, entity_type))

    def to_pandas(self):
        """All rows as a DataFrame (list columns stay Python lists / arrays)."""
        return shards.read_table(self.directory).to_pandas()

    def summary_html(self) -> str:
        m, st = self.manifest, stats(self.directory)
        rates = ", ".join(f"{t} {r:.0%}" for t, r in st.get("entities_switched_fraction", {}).items())
        return (f"<h3>{html.escape(str(self.directory))}: {html.escape(m['src_lang'])} → "
                f"{html.escape(m['tgt_lang'])}</h3><div class=\"cs-meta\">{st['rows']} rows · "
                f"{st['switched_token_fraction']:.1%} of tokens switched · {st['rows_switched_fraction']:.1%} of "
                f"rows switched · mode {html.escape(str(m.get('config', {}).get('mode', '?')))}"
                + (f" · entities switched: {html.escape(rates)}" if rates else "") + "</div>")

    def to_html(self, n: int = 20, **filters: Any) -> str:
        rows = self.rows(n, **filters)
        colours = type_colours(self.entity_types or sorted({t[2:] for r in rows for t in r["src_tags"] if t != "O"}))
        return _wrap(self.summary_html() + legend(colours) + "".join(row_html(r, colours) for r in rows))

    def _repr_html_(self) -> str:
        return self.to_html(n=5, switched_only=True)


ShardSet = ShardView  # the name before ShardView, kept for `cslib.ShardSet`


def open_shards(directory: str | Path) -> ShardView:
    """A code-switched shard set for notebooks (see `ShardView`)."""
    return ShardView(directory)


def html_page(sets: list[ShardView], n: int = 20, **filters: Any) -> str:
    """A standalone HTML page with each set's summary and `n` rows."""
    body = "".join(s.to_html(n, **filters) for s in sets)
    title = html.escape(", ".join(str(s.directory) for s in sets))
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>cslib inspect: {title}</title></head>'
            f'<body style="margin:16px">{body}</body></html>\n')


def write_html_page(path: Path, sets: list[ShardView], n: int = 20, **filters: Any) -> None:
    """`html_page` written atomically to `path`, readable by others (a page to share, not a private temp file)."""
    atomic_write_bytes(path, html_page(sets, n, **filters).encode("utf-8"))
    path.chmod(0o644)
