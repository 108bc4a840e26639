"""Many words through e2k's C2K model at once, as one matrix product per layer and step.

e2k decodes one word per call in numpy; Python's overhead per call, not arithmetic, was most of
its ~1 ms a word, and a row-by-row product (`(1, D) @ W.T` per word, e2k's own shape) still
cost 0.35 ms. Here words of the same encoded length go through the model `BATCH` at a time as
real matrix products (~0.1 ms a word on one core, where the arithmetic itself is the floor).
A product over many rows may round the last bits of a logit differently from e2k's one-row
product; what must not differ is the decoded string, so:
- every product has the same shape whatever the words: a batch is padded to `BATCH` rows and
  the decoder steps all of them until the last word ends, so a word's katakana never depends
  on which other words (or how many) share its batch, a cache or a worker;
- the first use decodes the probe words both ways and compares the strings; any difference
  (another e2k, numpy or BLAS) turns batching off, and words go through e2k's own call;
- all 20,675 letter runs of the default 20,000-sentence ja and zh builds decode to e2k's own
  strings (checked when batching replaced the row-by-row product, docs/benchmarks.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext

import numpy as np

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # without it, BLAS picks its own number of threads
    threadpool_limits = None

log = logging.getLogger(__name__)

BATCH = 64  # rows of every product (the fastest of 32-256 here)
PROBE = ("knausgard", "washington", "obama", "x", "strzelecki", "mississippi", "thompson", "eyjafjallajokull",
         "tchaikovsky", "mcdonald", "liszt", "agoult", "cosima", "zzzzqx", "aa", "brien", "saunders", "lawrence")


def _encode(model, word: str) -> list[int]:
    """`C2K.__call__`'s input: lowercased, unknown characters dropped, between <sos> and <eos>."""
    s2s = model.s2s
    return [s2s.sos_idx, *(model.in_table[c] for c in word.lower() if c in model.in_table), s2s.eos_idx]


def _decode(model, ids: list[int]) -> str:
    out = ids[1:]
    if out and out[-1] == model.s2s.eos_idx:
        out = out[:-1]
    return "".join(model.out_table[i] for i in out)


def _linear(layer, x: np.ndarray) -> np.ndarray:
    """e2k's `Linear.forward` over all rows at once: `(B, D) @ W.T + b`."""
    return np.ascontiguousarray(x) @ layer.weight.T + layer.bias


def _gru_step(cell, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    rzn_ih = _linear(cell.ih, x)
    rzn_hh = _linear(cell.hh, h)
    k = rzn_ih.shape[-1] * 2 // 3
    rz = 1 / (1 + np.exp(-(rzn_ih[:, :k] + rzn_hh[:, :k])))
    r, z = np.split(rz, 2, axis=-1)
    n = np.tanh(rzn_ih[:, k:] + r * rzn_hh[:, k:])
    return (1 - z) * n + z * h


def _gru(gru, x: np.ndarray) -> np.ndarray:
    """[B, T, D] -> [B, T, H], one time step at a time as e2k's GRU."""
    if gru.reverse:
        x = np.flip(x, axis=1)
    h = np.zeros([x.shape[0], gru.cell.hh.weight.shape[-1]], dtype=gru.cell.hh.weight.dtype)
    outs = []
    for t in range(x.shape[1]):
        h = _gru_step(gru.cell, x[:, t], h)
        outs.append(h)
    out = np.stack(outs, axis=1)
    return np.flip(out, axis=1) if gru.reverse else out


def _heads(attn, x: np.ndarray) -> np.ndarray:
    """[B, T, D] -> [B, H, T, D/H]: e2k's `split_heads` per word."""
    return np.stack(np.split(x, attn.num_heads, axis=-1), axis=1)


def _flat(layer, x: np.ndarray) -> np.ndarray:
    """`_linear` over [B, T, D] as one [B*T, D] product."""
    b, t, _ = x.shape
    return _linear(layer, x.reshape(b * t, -1)).reshape(b, t, -1)


def _forward(s2s, src: np.ndarray) -> list[list[int]]:
    """Greedy decoding of words of one length (`src`: [B, T] ids), e2k's `S2S.forward` for every
    row; each returned id list is what e2k's own call returns (<sos> ... <eos>, or max_len ids)."""
    e = s2s.e_emb.weight[src]
    enc = np.tanh(_flat(s2s.encoder_fc, np.concatenate([_gru(s2s.encoder, e), _gru(s2s.encoder_reverse, e)], axis=-1)))
    attn = s2s.attn
    keys = np.transpose(_heads(attn, _flat(attn.k_proj, enc)), (0, 1, 3, 2))
    values = _heads(attn, _flat(attn.v_proj, enc))
    n = src.shape[0]
    out = [[s2s.sos_idx] for _ in range(n)]
    running = set(range(n))
    last = np.full(n, s2s.sos_idx)
    h1 = np.zeros([n, s2s.pre_decoder.cell.hh.weight.shape[-1]], dtype=s2s.pre_decoder.cell.hh.weight.dtype)
    h2 = np.zeros([n, s2s.post_decoder.cell.hh.weight.shape[-1]], dtype=s2s.post_decoder.cell.hh.weight.dtype)
    for _ in range(s2s.max_len):  # every row steps until the last one ends: the shapes never change
        h1 = _gru_step(s2s.pre_decoder.cell, s2s.k_emb.weight[last], h1)
        q = _heads(attn, _linear(attn.q_proj, h1)[:, None, :])
        a = np.exp(np.matmul(q, keys) / attn.scale)
        a = a / a.sum(axis=-1, keepdims=True)
        o = np.transpose(np.matmul(a, values), (0, 2, 1, 3)).reshape([n, -1])
        x = np.concatenate([h1, _linear(attn.o_proj, o)], axis=-1)
        h2 = _gru_step(s2s.post_decoder.cell, x, h2)
        last = np.argmax(_linear(s2s.fc, h2), axis=-1)
        for row in list(running):
            out[row].append(int(last[row]))
            if last[row] == s2s.eos_idx:
                running.discard(row)
        if not running:
            break
    return out


def transliterate_batch(model, words: Iterable[str], batch: int = BATCH) -> dict[str, str]:
    """`model(word)` for every word (a C2K model), computed `batch` words of one length at a time
    (a last, smaller group padded with copies of its first word)."""
    by_len: dict[int, list[tuple[str, list[int]]]] = {}
    for w in dict.fromkeys(words):
        ids = _encode(model, w)
        by_len.setdefault(len(ids), []).append((w, ids))
    out: dict[str, str] = {}
    with _one_blas_thread():
        for group in by_len.values():
            for i in range(0, len(group), batch):
                part = group[i:i + batch]
                src = np.array([ids for _, ids in part] + [part[0][1]] * (batch - len(part)))
                for (w, _), ids in zip(part, _forward(model.s2s, src), strict=False):
                    out[w] = _decode(model, ids)
    return out


def _one_blas_thread() -> AbstractContextManager:
    """BLAS on this thread only: the products are small, and a second BLAS thread spinning for
    them made a cold build minutes long on a machine whose other core was busy."""
    return threadpool_limits(limits=1, user_api="blas") if threadpool_limits is not None else nullcontext()


def agrees(model) -> bool:
    """Whether batched decoding (padded batches, as in a build) gives e2k's own strings for the probe words."""
    try:
        got = transliterate_batch(model, PROBE)
        for word in PROBE:
            if got[word] != model(word):
                log.info("e2k batching differs from e2k's own decoding on %r: words are transliterated one by one", word)
                return False
    except Exception as exc:  # noqa: BLE001  (another e2k's internals: fall back to its public call)
        log.info("e2k batching unavailable (%s: %s): words are transliterated one by one", type(exc).__name__, exc)
        return False
    return True
