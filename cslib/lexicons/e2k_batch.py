"""Many words through e2k's C2K model at once, with exactly the numbers of one-by-one calls.

e2k decodes one word per call in numpy, and Python's overhead per call, not arithmetic, is most
of its ~1 ms a word. Here words of the same encoded length go through the model together:
no padding, and every matrix product keeps e2k's shape per word (a `(1, D)` row times a weight
matrix, `np.matmul` looping over the stacked words), so each word meets the same BLAS routine
in the same order of operations as in `C2K.__call__`. The first use compares the logits of a
few probe words with e2k's own decoding, bit for bit; any difference (another e2k, numpy or
BLAS) turns batching off, and the words are transliterated one by one as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import numpy as np

log = logging.getLogger(__name__)

BATCH = 512
PROBE = ("knausgard", "washington", "obama", "x", "strzelecki", "mississippi", "thompson", "eyjafjallajokull")


def _encode(model, word: str) -> list[int]:
    """`C2K.__call__`'s input: lowercased, unknown characters dropped, between <sos> and <eos>."""
    s2s = model.s2s
    return [s2s.sos_idx, *(model.in_table[c] for c in word.lower() if c in model.in_table), s2s.eos_idx]


def _decode(model, ids: list[int]) -> str:
    out = ids[1:]
    if out and out[-1] == model.s2s.eos_idx:
        out = out[:-1]
    return "".join(model.out_table[i] for i in out)


def _rows(layer, x: np.ndarray) -> np.ndarray:
    """e2k's `Linear.forward` of each row alone: `(1, D) @ W.T + b`, stacked."""
    return np.matmul(x[:, None, :], layer.weight.T)[:, 0, :] + layer.bias


def _gru_step(cell, x: np.ndarray, h: np.ndarray) -> np.ndarray:
    rzn_ih = _rows(cell.ih, x)
    rzn_hh = _rows(cell.hh, h)
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


def _forward(s2s, src: np.ndarray, on_logits: Callable[[int, np.ndarray], None] | None = None) -> list[list[int]]:
    """Greedy decoding of words of one length (`src`: [B, T] ids); e2k's `S2S.forward`, per word."""
    e = s2s.e_emb.weight[src]
    enc = np.concatenate([_gru(s2s.encoder, e), _gru(s2s.encoder_reverse, e)], axis=-1)
    enc = np.tanh(np.matmul(enc, s2s.encoder_fc.weight.T) + s2s.encoder_fc.bias)
    attn = s2s.attn
    keys = np.transpose(_heads(attn, np.matmul(enc, attn.k_proj.weight.T) + attn.k_proj.bias), (0, 1, 3, 2))
    values = _heads(attn, np.matmul(enc, attn.v_proj.weight.T) + attn.v_proj.bias)
    n = src.shape[0]
    out = [[s2s.sos_idx] for _ in range(n)]
    alive = np.arange(n)
    last = np.full(n, s2s.sos_idx)
    h1 = np.zeros([n, s2s.pre_decoder.cell.hh.weight.shape[-1]], dtype=s2s.pre_decoder.cell.hh.weight.dtype)
    h2 = np.zeros([n, s2s.post_decoder.cell.hh.weight.shape[-1]], dtype=s2s.post_decoder.cell.hh.weight.dtype)
    for _ in range(s2s.max_len):
        h1 = _gru_step(s2s.pre_decoder.cell, s2s.k_emb.weight[last], h1)
        q = _heads(attn, _rows(attn.q_proj, h1)[:, None, :])
        a = np.exp(np.matmul(q, keys[alive]) / attn.scale)
        a = a / a.sum(axis=-1, keepdims=True)
        o = np.transpose(np.matmul(a, values[alive]), (0, 2, 1, 3)).reshape([len(alive), -1])
        x = np.concatenate([h1, _rows(attn.o_proj, o)], axis=-1)
        h2 = _gru_step(s2s.post_decoder.cell, x, h2)
        logits = _rows(s2s.fc, h2)
        nxt = np.argmax(logits, axis=-1)
        keep = []
        for j, row in enumerate(alive):
            if on_logits is not None:
                on_logits(int(row), logits[j])
            out[row].append(int(nxt[j]))
            if nxt[j] != s2s.eos_idx:
                keep.append(j)
        if not keep:
            break
        alive, last, h1, h2 = alive[keep], nxt[keep], h1[keep], h2[keep]
    return out


def transliterate_batch(model, words: Iterable[str], batch: int = BATCH) -> dict[str, str]:
    """`model(word)` for every word (a C2K model), computed in batches of words of one length."""
    by_len: dict[int, list[tuple[str, list[int]]]] = {}
    for w in dict.fromkeys(words):
        ids = _encode(model, w)
        by_len.setdefault(len(ids), []).append((w, ids))
    out: dict[str, str] = {}
    for group in by_len.values():
        for i in range(0, len(group), batch):
            part = group[i:i + batch]
            for (w, _), ids in zip(part, _forward(model.s2s, np.array([ids for _, ids in part])), strict=True):
                out[w] = _decode(model, ids)
    return out


def agrees(model) -> bool:
    """Whether batched decoding reproduces e2k's own logits bit for bit on the probe words."""
    try:
        for word in PROBE:
            own: list[np.ndarray] = []

            def record(x: np.ndarray, own: list = own) -> int:
                own.append(x.copy())
                return int(np.argmax(x, axis=-1))

            ids = model.s2s.forward(np.array(_encode(model, word)), record)
            mine: list[np.ndarray] = []
            got = _forward(model.s2s, np.array([_encode(model, word)]), lambda _, x, mine=mine: mine.append(x.copy()))
            if got[0] != ids or len(own) != len(mine) or not all(
                    a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(own, mine, strict=True)):
                log.info("e2k batching differs from e2k's own decoding on %r: words are transliterated one by one", word)
                return False
    except Exception as exc:  # noqa: BLE001  (another e2k's internals: fall back to its public call)
        log.info("e2k batching unavailable (%s: %s): words are transliterated one by one", type(exc).__name__, exc)
        return False
    return True
