"""A short markdown summary of `diagnostics.json` (printed by `ner diagnose`, put in pipeline reports)."""

from __future__ import annotations

from typing import Any


def _f(x: Any, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def alignment_rows(result: dict[str, Any]) -> list[str]:
    rows = ["| lang | Tatoeba P@1 en→L raw / trained | L→en raw / trained | cs sentence gap raw / trained "
            "| entity word P@1 in sentence raw / trained (chance) |", "|---|---|---|---|---|"]
    for lang, a in result.get("alignment", {}).items():
        tat, cs = a.get("tatoeba", {}), a.get("codeswitched", {})

        def pair(d: dict, key: str, sub: str | None = None) -> str:
            vals = []
            for enc in ("raw", "trained"):
                v = d.get(enc, {}).get(key)
                vals.append(_f(v.get(sub) if isinstance(v, dict) else v))
            return " / ".join(vals)

        chance = cs.get("trained", {}).get("entity_word_cosine", {}).get("chance")
        rows.append(f"| {lang} | {pair(tat, 'p_at_1_en_to_x')} | {pair(tat, 'p_at_1_x_to_en')} | "
                    f"{pair(cs, 'sentence_cosine', 'gap')} | {pair(cs, 'entity_word_cosine', 'p_at_1')} ({_f(chance)}) |")
    return rows


def summary_table(result: dict[str, Any]) -> str:
    """Alignment, relation space, gradient balance and pseudo-label quality in a few markdown tables."""
    out = [f"diagnostics of {result.get('run')}", "", *alignment_rows(result), ""]
    rel = result.get("relation_space")
    if rel and "silhouette" in rel:
        s = rel["silhouette"]
        out += ["| relation space | value |", "|---|---|",
                f"| silhouette by relation, src+cs pooled | {_f(s.get('pooled'), 3)} |",
                f"| silhouette without NONE | {_f(s.get('pooled_without_none'), 3)} |",
                f"| silhouette src / cs | {_f(s.get('src'), 3)} / {_f(s.get('cs'), 3)} |",
                f"| src–cs centroid cosine (min over labels) | {_f(min(rel['centroid_cosine'].values()) if rel.get('centroid_cosine') else None, 3)} |",
                f"| relation contrastive loss floor at the run's batch | {_f(rel.get('contrastive_floor'), 3)} |", ""]
    dyn = result.get("dynamics", {})
    if dyn.get("terms"):
        out += ["| term | grad norm on encoder (median) | ratio to supervised | cosine with supervised | loss first → last |",
                "|---|---|---|---|---|"]
        for term, t in dyn["terms"].items():
            out.append(f"| {term} | {_f(t['grad_norm_median'], 3)} | {_f(t['ratio_to_supervised_median'], 1)} | "
                       f"{_f(t.get('cosine_with_supervised_median'), 2)} | {_f(t['loss_first'], 3)} → {_f(t['loss_last'], 3)} |")
        if "clipped_share" in dyn:
            out.append(f"\nsteps whose update the clip shrank: {100 * dyn['clipped_share']:.0f}%")
        out.append("")
    st = result.get("self_training", {})
    if st.get("curves"):
        used = st.get("threshold_used")
        out += [f"| lang | pseudo-labels at threshold {used}: kept / pool | precision | recall | F1 | gold entities missed |",
                "|---|---|---|---|---|---|"]
        for lang, pts in st["curves"].items():
            p = min(pts, key=lambda q: abs(q["threshold"] - (used or 0.9)))
            out.append(f"| {lang} | {p['kept']} / {p['pool']} | {_f(p['precision'])} | {_f(p['recall'])} | "
                       f"{_f(p['f1'])} | {p['missed']} |")
        out.append("")
    return "\n".join(out)
