"""How often a name written by sound (`cslib.lexicons.by_sound`) is spelled the way the target's own text
spells it: for every target with a by-sound writer, the entity words of the first N English PAN-X train
sentences are transliterated, and the share of those (distinct, lowercased) found among the word tokens
of the target's PAN-X train text is printed, beside the share of the English words themselves found
there (names the target writes in Latin letters). No labels of the target are read: only its text.

    python benchmarks/name_transliteration.py --sentences 2000
"""

from __future__ import annotations

import argparse
import json

from cslib.corpora import load_split
from cslib.iob import spans
from cslib.lexicons.by_sound import SOUND_LANGS, SoundTransliterator, available


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=2000)
    ap.add_argument("--langs", nargs="+", default=list(SOUND_LANGS))
    ap.add_argument("--data-root")
    args = ap.parse_args()
    english = load_split("panx", "en", "train", args.data_root, limit=args.sentences)
    words = sorted({w for s in english for sp in spans(s.tags) for w in s.tokens[sp.start:sp.end]
                    if any(c.isalpha() for c in w)})
    for lang in args.langs:
        if not available(lang):
            print(json.dumps({"lang": lang, "error": "not installed"}))
            continue
        vocab = {t.lower() for s in load_split("panx", lang, "train", args.data_root) for t in s.tokens}
        t = SoundTransliterator(lang)
        written = {w: t.word(w) for w in words}
        done = [w for w, x in written.items() if x]
        hits = sum(written[w].lower() in vocab for w in done)
        as_is = sum(w.lower() in vocab for w in words)
        print(json.dumps({"lang": lang, "entity_words": len(words), "written": len(done),
                          "found_in_target_text": round(hits / max(1, len(done)), 4),
                          "english_form_found": round(as_is / max(1, len(words)), 4),
                          "examples": [f"{w}→{written[w]}" for w in done if written[w].lower() in vocab][:8]},
                         ensure_ascii=False))


if __name__ == "__main__":
    main()
