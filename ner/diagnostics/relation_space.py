"""The word-pair (relation) space: are pairs with the same relation close, across languages?

The relation head classifies word pairs from their conv features; the relation contrastive loss
pulls pairs with the same gold relation together (source and code-switched pooled). Two numbers
say whether that space is organised by relation and shared by the languages:

* the silhouette score of the sampled pairs' features by relation label (cosine distance), for
  source and code-switched pairs pooled and for each view alone;
* the cosine between the source and the code-switched centroid of each label (1 = the two views
  put a relation in the same place).

And one picture: a 2-D t-SNE of the sampled pairs, coloured by label, marked by view.

Also here: the floor of the supervised contrastive loss. With ``P(a)`` positives for anchor
``a``, the loss cannot go below ``mean_a log |P(a)|`` even when every class has collapsed to a
point, so a loss "stuck at 3" may be a loss at its floor, not one that is not learning.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ner.model.grid import RelationSchema
from ner.model.losses import sample_pairs
from ner.model.ner_model import NerModel


@torch.inference_mode()
def pair_samples(model: NerModel, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]],
                 max_none: int, generator: torch.Generator, batch_size: int = 16,
                 projected: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Features ``[N, D]`` and relation label ids ``[N]`` of the pairs the relation contrastive loss
    would sample from these sentences (every relation cell, at most ``max_none`` NONE cells each).

    ``projected``: the contrastive projection's space instead of the classifier's input features.
    """
    if not model.head.has_pair_features:
        raise ValueError(f"the relation space needs a head with word-pair features, not the {model.head.name} head")
    model.eval()
    feats, labels = [], []
    for start in range(0, len(tokens), batch_size):
        batch = model.collate([list(t) for t in tokens[start:start + batch_size]],
                              [list(t) for t in tags[start:start + batch_size]])
        out = model(batch)
        assert out.pair_repr is not None
        b, i, j, lab = sample_pairs(batch["gold"], max_none, generator)
        x = out.pair_repr.at(b.to(out.pair_repr.index.device), i, j)
        if projected:
            x = model.project_pairs(x)
        feats.append(x.float().cpu().numpy())
        labels.append(lab.cpu().numpy())
    if not feats:
        return np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return np.concatenate(feats), np.concatenate(labels)


def silhouette(features: np.ndarray, labels: np.ndarray) -> float | None:
    """Mean silhouette (cosine distance) by label; None with fewer than 2 labels or 3 points."""
    from sklearn.metrics import silhouette_score

    finite = np.isfinite(features).all(1)
    features, labels = features[finite], labels[finite]
    if len(features) < 3 or len(set(labels.tolist())) < 2 or len(set(labels.tolist())) >= len(features):
        return None
    return float(silhouette_score(features, labels, metric="cosine"))


def centroid_cosines(src: np.ndarray, src_labels: np.ndarray, cs: np.ndarray, cs_labels: np.ndarray,
                     names: Sequence[str]) -> dict[str, float]:
    """Per label present in both views: cosine of the source centroid with the code-switched one."""
    out = {}
    for k, name in enumerate(names):
        a, b = src[src_labels == k], cs[cs_labels == k]
        if len(a) and len(b):
            ca, cb = a.mean(0), b.mean(0)
            out[name] = float(ca @ cb / max(np.linalg.norm(ca) * np.linalg.norm(cb), 1e-12))
    return out


def supcon_floor(labels: Sequence[int]) -> float:
    """Lowest value of the supervised contrastive loss over these anchors' labels (anchors with no
    positive are skipped, as in `ner.model.losses.supervised_contrastive`): ``mean log |P(a)|``."""
    counts = Counter(labels)
    logs = [np.log(counts[y] - 1) for y in labels if counts[y] > 1]
    return float(np.mean(logs)) if logs else 0.0


def tsne_png(features: np.ndarray, labels: np.ndarray, views: np.ndarray, schema: RelationSchema, path: Path,
             title: str, seed: int = 0) -> None:
    """2-D t-SNE of the pairs (scikit-learn), colour = relation label, marker = view (o src, x cs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    finite = np.isfinite(features).all(1)
    features, labels, views = features[finite], labels[finite], views[finite]
    perplexity = float(min(30, max(2, (len(features) - 1) // 3)))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
              metric="cosine").fit_transform(features)
    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab10")
    for k, name in enumerate(schema.labels):
        for view, marker in (("src", "o"), ("cs", "x")):
            sel = (labels == k) & (views == view)
            if sel.any():
                ax.scatter(xy[sel, 0], xy[sel, 1], s=8 if name == "NONE" else 14, marker=marker,
                           color=cmap(k % 10), alpha=0.35 if name == "NONE" else 0.8,
                           label=f"{name} ({view})")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, markerscale=1.5, loc="best", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
