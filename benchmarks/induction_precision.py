"""Precision of the encoder-induced lexicon (`cslib.lexicons.induce`) against MUSE, per language.

For every language with a MUSE en-X dictionary, the induced pairs whose English word MUSE lists with
a translation that occurs in the target's text are checked: precision = the share whose induced
translation is one of MUSE's. (MUSE lists base forms; an induced inflected form, died → öldü, counts
as a miss, so this is a lower bound.) `--target-sentences N` induces from only the first N PAN-X
sentences of the target, to see what a language with little text (jv, my, yo: 100) can expect. For
languages without MUSE, the reference is the Tatoeba alignment lexicon (small, and imperfect itself).

    python benchmarks/induction_precision.py --langs tr ta et tl --rank-weights 0 0.1 --min-scores 0 0.1 0.2
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import replace

from cslib import BuildConfig
from cslib.corpora import has_muse, muse_path
from cslib.lexicons import build_dictionary
from cslib.lexicons.dictionary import read_muse
from cslib.lexicons.induce import InduceConfig, embed, induce, induction_inputs
from cslib.lexicons.routes import has_parallel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--langs", nargs="+", required=True)
    ap.add_argument("--min-scores", nargs="+", type=float, default=[0.0, 0.1, 0.2])
    ap.add_argument("--rank-weights", nargs="+", type=float, default=[InduceConfig.rank_weight])
    ap.add_argument("--target-sentences", type=int, default=None)
    ap.add_argument("--entity-types", nargs="*", default=list(InduceConfig.entity_types),
                    help="English words inside these entity types are induced too (none: outside entities only)")
    ap.add_argument("--data-root")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    rows = []
    for lang in args.langs:
        base = InduceConfig(entity_types=tuple(args.entity_types))
        inp = induction_inputs("en", lang, base, args.data_root, args.target_sentences)
        gold: dict[str, set[str]] = defaultdict(set)
        reference = "MUSE"
        if has_muse("en", lang):
            for e, t in read_muse(muse_path("en", lang, args.data_root)):
                gold[e.lower()].add(t.lower())
        elif has_parallel("en", lang):  # the Tatoeba alignment lexicon, itself imperfect
            reference = "Tatoeba alignment"
            aligned, _ = build_dictionary(BuildConfig(src="en", tgt=lang, mode="align", induce=False,
                                                      data_root=args.data_root))
            for key, options in aligned.entries.items():
                gold[" ".join(key)].update(o.text.lower() for o in options)
        vocab = set(inp.tgt_words)
        rank = {w: i for i, w in enumerate(inp.src_words)}
        src_vecs, tgt_vecs = embed(inp.src_words, "en"), embed(inp.tgt_words, lang)
        for weight in args.rank_weights:
            cfg = replace(base, min_score=-10.0, rank_weight=weight)
            pairs = induce(inp.src_words, inp.tgt_words, src_vecs, tgt_vecs, cfg, inp.english)
            print(lang, weight, "induced", len(pairs))
            for th in args.min_scores:
                kept = [(e, t) for e, t, s in pairs if s >= th]
                ev = [(e, t) for e, t in kept if gold.get(e, set()) & vocab]
                top = [(e, t) for e, t in ev if rank[e] < 500]
                row = {"lang": lang, "reference": reference, "entity_types": args.entity_types, "rank_weight": weight, "min_score": th,
                       "target_sentences": inp.n_target_sentences, "target_words": len(vocab - inp.english),
                       "pairs": len(kept), "pairs_top500": sum(rank[e] < 500 for e, _ in kept), "evaluable": len(ev),
                       "precision": _precision(ev, gold), "evaluable_top500": len(top),
                       "precision_top500": _precision(top, gold)}
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False))
            print(lang, weight, "examples:", ", ".join(f"{e}→{t}" for e, t, _ in pairs[:30]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, ensure_ascii=False, indent=1)


def _precision(pairs: list[tuple[str, str]], gold: dict[str, set[str]]) -> float | None:
    return round(sum(t in gold[e] for e, t in pairs) / len(pairs), 3) if pairs else None


if __name__ == "__main__":
    main()
