"""Cross-lingual alignment of the encoder: does training pull languages together or apart?

Three measures, each for the raw (pre-trained) encoder and for the trained model, so the effect of
training is the difference:

* sentence retrieval on Tatoeba: P@1 of nearest-neighbour search en -> L and L -> en with the
  encoder's mean-pooled sentence vectors (the pooling e5 was pre-trained with);
* source vs code-switched sentence cosine on held-out shard pairs, next to the cosine of a source
  sentence with *another* pair's code-switched sentence (the gap is what a contrastive term could
  still widen; a gap near its maximum means the semantic view has nothing left to teach);
* word level: cosine of each switched entity word with the source word it replaced
  (`cs_src_index`), next to a random other word of the source sentence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ner.model.encoder import WordEncoder


@dataclass
class EncodedBatch:
    """Word vectors ``[W, H]`` and the sentence vector ``[H]`` of one sentence (float32, CPU)."""

    words: np.ndarray
    sentence: np.ndarray


@torch.inference_mode()
def encode(encoder: WordEncoder, sentences: Sequence[Sequence[str]], batch_size: int = 32,
           amp: torch.dtype | None = None) -> list[EncodedBatch]:
    """Word and sentence vectors of pre-tokenized sentences, in input order.

    Sentences are batched by length (a padded batch costs its longest row) and the encoder runs in
    eval mode; the result does not depend on the batching (padding is masked).
    """
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    out: list[EncodedBatch | None] = [None] * len(sentences)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = encoder.collate([list(sentences[i]) or [""] for i in idx])
        inputs = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            words, mask, sent = encoder(**inputs)
        words, sent = words.float().cpu(), sent.float().cpu()
        for row, i in enumerate(idx):
            n = int(mask[row].sum())
            out[i] = EncodedBatch(words[row, :n].numpy(), sent[row].numpy())
    encoder.train(was_training)
    return [o for o in out if o is not None]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def retrieval_p_at_1(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """P@1 of cosine nearest-neighbour retrieval between line-aligned ``a`` ``[N, H]`` and ``b``:
    (a -> b, b -> a). Row i of one side is correct when its nearest row of the other side is i."""
    if a.shape != b.shape or a.ndim != 2 or len(a) == 0:
        raise ValueError(f"expected two non-empty [N, H] arrays of equal shape, got {a.shape} and {b.shape}")
    sim = _unit(a) @ _unit(b).T
    gold = np.arange(len(a))
    return float((sim.argmax(1) == gold).mean()), float((sim.argmax(0) == gold).mean())


def paired_cosines(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Mean cosine of aligned rows (``paired``) and of each row of ``a`` with a random *other* row of
    ``b`` (``random``, a derangement drawn with ``seed``); ``gap`` = paired - random."""
    if a.shape != b.shape or len(a) < 2:
        raise ValueError(f"expected two [N, H] arrays of equal shape with N >= 2, got {a.shape} and {b.shape}")
    ua, ub = _unit(a), _unit(b)
    paired = float((ua * ub).sum(1).mean())
    rng = np.random.default_rng(seed)
    shift = rng.integers(1, len(a), size=len(a))  # never 0: always another row
    other = (np.arange(len(a)) + shift) % len(a)
    random = float((ua * ub[other]).sum(1).mean())
    return {"paired": paired, "random": random, "gap": paired - random, "n": len(a)}


def entity_word_cosines(src: Sequence[EncodedBatch], cs: Sequence[EncodedBatch], src_tags: Sequence[Sequence[str]],
                        cs_tags: Sequence[Sequence[str]], cs_src_index: Sequence[Sequence[int]],
                        cs_langs: Sequence[Sequence[str]], src_lang: str, seed: int = 0) -> dict[str, float]:
    """Cosine of every switched entity word of the code-switched view with the source word it came
    from, and of the same word with a random other word of the source sentence (the baseline).

    A word counts when its tag is not O, its language is not the source language (it was
    switched) and ``cs_src_index`` names its source word (-1 = inserted, no source).
    """
    rng = np.random.default_rng(seed)
    paired: list[float] = []
    random: list[float] = []
    hits: list[float] = []
    chance: list[float] = []
    for s, c, ctags, index, langs in zip(src, cs, cs_tags, cs_src_index, cs_langs, strict=True):
        n_src = s.words.shape[0]
        for k, (tag, j, lang) in enumerate(zip(ctags, index, langs, strict=True)):
            if tag == "O" or lang == src_lang or j < 0 or j >= n_src or k >= c.words.shape[0]:
                continue
            v = _unit(c.words[k])
            sims = _unit(s.words) @ v
            paired.append(float(sims[j]))
            if n_src > 1:
                other = int(rng.integers(0, n_src - 1))
                other += other >= j
                random.append(float(sims[other]))
                hits.append(float(int(sims.argmax()) == j))
                chance.append(1.0 / n_src)
    if not paired:
        return {"n": 0}
    return {"paired": float(np.mean(paired)), "random": float(np.mean(random)) if random else float("nan"),
            "gap": float(np.mean(paired) - np.mean(random)) if random else float("nan"), "n": len(paired),
            # Retrieval within the sentence: is the word's nearest source word the one it replaced? Unlike the
            # cosines this does not move with the anisotropy of the space (every word near every other).
            "p_at_1": float(np.mean(hits)) if hits else float("nan"),
            "chance": float(np.mean(chance)) if chance else float("nan")}


def sentence_matrix(encoded: Sequence[EncodedBatch]) -> np.ndarray:
    return np.stack([e.sentence for e in encoded])
