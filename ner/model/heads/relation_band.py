"""The relation head on a diagonal band of the word-pair grid, for inference on long sentences.

Decoding reads the cells ``min_offset <= j - i <= max_offset``: the super-diagonal (NNW) and, below the
diagonal, THW cells of spans up to ``max_entity_words`` long. PAN-X writes Chinese and Japanese one
character per word, so a few long sentences (W of 100-430) hold most of the grid: in 1,000 ja dev
sentences, the 43 with W > 128 are 72% of all cells, while no entity is longer than 22 characters.
The full-grid head costs W^2 cells per sentence; here it costs W x K, K = the band plus the conv stack's
reach on both sides, so its outputs at the wanted cells are those of the full grid (the same function,
summed in another order: equal up to rounding).

The grid is stored in diagonal coordinates ``D[b, i, k] = G[b, i, i + lo + k]``. A 3x3 conv of dilation
r over ``(i, j)`` reads ``(i + a r, j + c r)``, which is ``(i + a r, k + (c - a) r)`` here: the same conv
with a sheared 3x5 kernel (:func:`sheared_kernel`). Cells whose column lies outside the sentence are
zeroed between layers, as the full grid zeroes padding; the band's own edges read zeros where the
full grid has values, which reaches only the outer ``reach`` offsets, never the wanted ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ner.model.heads.relation_layers import NUM_REGIONS, RelationNetwork, autocast_dtype, offset_buckets
from ner.model.pair_features import PairFeatures, take_rows


def band_width(head: RelationNetwork, min_offset: int, max_offset: int) -> int:
    """Diagonals the band computes: the wanted ones plus the conv stack's reach on either side."""
    return max_offset - min_offset + 1 + 2 * head.reach


def band_pays(head: RelationNetwork, num_words: int, min_offset: int, max_offset: int) -> bool:
    """Whether a batch of width ``num_words`` is cheaper on the band than on the whole grid (W x K cells
    with a 3x5 conv against W^2 with a 3x3 one: the band wins once W exceeds K by a third)."""
    return 3 * num_words > 4 * band_width(head, min_offset, max_offset)


def sheared_kernel(conv: nn.Conv2d) -> Tensor:
    """``[C, 1, 3, 5]`` depthwise kernel over ``(i, k)`` equal to ``conv``'s 3x3 kernel over ``(i, j)``."""
    w3 = conv.weight
    w5 = w3.new_zeros(w3.shape[0], w3.shape[1], 3, 5)
    for p in range(3):
        for q in range(3):
            w5[:, :, p, q - p + 2] = w3[:, :, p, q]
    return w5


@torch.inference_mode()
def band_forward(head: RelationNetwork, words: Tensor, word_mask: Tensor, min_offset: int,
                 max_offset: int) -> tuple[Tensor, PairFeatures]:
    """:meth:`RelationNetwork.forward` (eval mode) for the cells ``min_offset <= j - i <= max_offset``:
    ``[B, W, W, C]`` logits, zero elsewhere, and those cells' :class:`PairFeatures`."""
    batch, num_words, hidden = words.shape
    device = words.device
    word_mask = word_mask.bool()
    lo, hi = min_offset - head.reach, max_offset + head.reach
    width = hi - lo + 1
    rows = torch.arange(num_words, device=device)
    offsets = torch.arange(lo, hi + 1, device=device)
    cols = rows[:, None] + offsets[None, :]  # [W, K]: column j of band cell (i, k)
    valid = word_mask[:, :, None] & ((cols >= 0) & (cols < num_words))[None] & word_mask[:, cols.clamp(0, num_words - 1)]

    # 1x1 projection of [dist; region; gamma_i * norm(h_j) + beta_i], factored as in RelationHead.project_cells
    proj = head.conv.proj
    n_dist, n_region = head.dist_emb.embedding_dim, head.region_emb.embedding_dim
    w_dist, w_region, w_cln = proj.weight.split([n_dist, n_region, hidden], dim=1)
    gamma, beta, normed = head.cln.factors(words, words)
    low = autocast_dtype(device)
    if low is not None:
        gamma, normed = gamma.to(low), normed.to(low)
    padded = F.pad(normed, (0, 0, -lo, hi))  # [B, W + K - 1, H]: row i + k of it is word i + lo + k
    s = padded.stride()
    windows = padded.as_strided((batch, num_words, width, hidden), (s[0], s[1], s[1], s[2]))  # a view
    out = F.linear(gamma[:, :, None, :] * windows, w_cln) + F.linear(beta, w_cln, proj.bias)[:, :, None, :]
    table = F.linear(head.dist_emb.weight, w_dist)[:, None] + F.linear(head.region_emb.weight, w_region)[None]
    region = torch.where(offsets > 0, 1, 2)[None, None, :] * valid  # 1 above the diagonal, 2 on/below, 0 pad
    key = offset_buckets(-offsets)[None, None, :] * NUM_REGIONS + region
    keep = valid[..., None]
    h = F.gelu(out + table.reshape(-1, table.shape[-1])[key]) * keep

    wanted = valid & ((offsets >= min_offset) & (offsets <= max_offset))[None, None, :]
    band_rows = wanted.reshape(-1).nonzero(as_tuple=True)[0]  # flat (b * W + i) * K + k
    bi, k = band_rows // width, band_rows % width
    i = bi % num_words
    cells = bi * num_words + i + lo + k  # the same cells, flat (b * W + i) * W + j

    channels = h.shape[-1]
    parts = []
    convs = head.conv.convs
    for n, conv in enumerate(convs):
        r = conv.dilation[0]
        bias = conv.bias.to(h.dtype) if conv.bias is not None else None
        y = F.conv2d(h.permute(0, 3, 1, 2), sheared_kernel(conv).to(h.dtype), bias, padding=(r, 2 * r),
                     dilation=(r, r), groups=channels)
        h = F.gelu(y.permute(0, 2, 3, 1))  # elementwise on the contiguous layout: twice as fast on CPU
        if n + 1 < len(convs):
            h = h * keep
        parts.append(take_rows(h.reshape(-1, channels), band_rows))

    return head.outputs_at(words, parts, cells)
