"""W2NER-style word-pair relation head (Li et al., AAAI 2022), as used by mCL-NER.

Pipeline over word vectors ``h`` (``[B, W, H]``):

1. Conditional layer norm builds a directed pair tensor ``V[i, j] = LN_{h_i}(h_j)``: word ``i``
   generates the gain and bias used to normalise word ``j``, so ``V[i, j] != V[j, i]``, which
   the grid needs (NNW lives above the diagonal, THW below it).
2. Distance embeddings (``i - j`` bucketed by powers of two, sign kept, so nearby pairs are
   resolved finely and far pairs share buckets) and region embeddings (upper triangle /
   lower triangle incl. diagonal / padding) tell the conv where each cell lies.
3. A 1x1 projection then a stack of depthwise dilated 3x3 convolutions mixes neighbouring
   cells at several ranges; the concatenated stack outputs are the pair representation.
4. Co-predictor: a biaffine scorer on head/tail MLPs of the words plus an MLP on the conv
   features; their logits are summed.

The conv output (``[B, W, W, conv_hidden * len(dilations)]``) is returned as ``pair_repr`` for
the relation-level contrastive loss.  Memory is dominated by the ``[B, W, W, H]`` CLN tensor
(32 x 64 x 64 x 384 floats = 200 MB), which is materialised once and not kept for backward.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

NUM_DISTANCE_BUCKETS = 20
NUM_REGIONS = 3  # 0 pad, 1 upper triangle (i < j), 2 lower triangle incl. diagonal (i >= j)


def distance_buckets(num_words: int, device: torch.device | None = None) -> Tensor:
    """``[W, W]`` bucket ids of the signed offset ``d = i - j``.

    ``|d|`` maps to ``1 + floor(log2 |d|)`` capped at 9 (1, 2-3, 4-7, ..., >= 256); positive
    offsets use ids 1..9, negative ones 10..18, and ``d = 0`` gets 19 -- W2NER's scheme.
    """
    idx = torch.arange(num_words, device=device)
    d = idx[:, None] - idx[None, :]
    mag = d.abs().clamp(min=1).float().log2().floor().long().add(1).clamp(max=9)
    return torch.where(d > 0, mag, torch.where(d < 0, mag + 9, torch.full_like(d, 19)))


def region_ids(word_mask: Tensor) -> Tensor:
    """``[B, W, W]`` region ids: 0 when either word is padding, 1 above the diagonal, 2 on/below."""
    mask2d = word_mask[:, :, None] & word_mask[:, None, :]
    n = word_mask.shape[1]
    lower = torch.ones(n, n, dtype=torch.bool, device=word_mask.device).tril()
    return (1 + lower.long())[None] * mask2d.long()


class ConditionalLayerNorm(nn.Module):
    """Layer norm of ``x_j`` whose gain and bias are shifted by linear functions of ``cond_i``.

    The conditional projections start at zero, so at initialisation this is a plain layer norm
    broadcast over the pair grid and training decides how much the pairing matters.
    """

    def __init__(self, hidden: int, eps: float = 1e-12) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden))
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.gain = nn.Linear(hidden, hidden, bias=False)
        self.shift = nn.Linear(hidden, hidden, bias=False)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.shift.weight)

    def forward(self, cond: Tensor, x: Tensor) -> Tensor:
        """``cond`` ``[B, W, H]`` (rows ``i``), ``x`` ``[B, W, H]`` (columns ``j``) -> ``[B, W, W, H]``."""
        normed = F.layer_norm(x, x.shape[-1:], eps=self.eps)
        gamma = self.weight + self.gain(cond)
        beta = self.bias + self.shift(cond)
        return gamma[:, :, None, :] * normed[:, None, :, :] + beta[:, :, None, :]


class DilatedConv(nn.Module):
    """1x1 projection followed by a stack of depthwise dilated 3x3 convs; outputs concatenated."""

    def __init__(self, in_channels: int, channels: int, dilations: Sequence[int], dropout: float) -> None:
        super().__init__()
        self.dropout = dropout
        # A 1x1 conv is a per-cell linear map; doing it channels-last avoids a [B, C, W, W] copy.
        self.proj = nn.Linear(in_channels, channels)
        self.convs = nn.ModuleList(
            nn.Conv2d(channels, channels, kernel_size=3, groups=channels, dilation=d, padding=d)
            for d in dilations
        )

    def forward(self, x: Tensor, mask2d: Tensor) -> Tensor:
        """``[B, W, W, C_in]`` and pad mask ``[B, W, W]`` -> ``[B, W, W, channels * len(dilations)]``.

        Padding cells are zeroed after every layer (biases and GELU would otherwise make them
        non-zero), so a sentence's output does not depend on how much it was padded in a batch.
        """
        keep = mask2d[:, None].to(x.dtype)
        # Channel dropout (Dropout2d) as in W2NER; the permutes are views.
        x = F.dropout2d(x.permute(0, 3, 1, 2), self.dropout, self.training).permute(0, 2, 3, 1)
        h = F.gelu(self.proj(x)).permute(0, 3, 1, 2) * keep
        outs = []
        for conv in self.convs:
            h = F.gelu(conv(h)) * keep
            outs.append(h)
        return torch.cat(outs, dim=1).permute(0, 2, 3, 1)


class Biaffine(nn.Module):
    """``s[b, i, j, c] = [x_i; 1]^T U_c [y_j; 1]``."""

    def __init__(self, size: int, num_labels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_labels, size + 1, size + 1))
        nn.init.xavier_normal_(self.weight)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        x = torch.cat([x, torch.ones_like(x[..., :1])], dim=-1)
        y = torch.cat([y, torch.ones_like(y[..., :1])], dim=-1)
        return torch.einsum("bxi,cij,byj->bxyc", x, self.weight, y)


class RelationHead(nn.Module):
    """Word vectors ``[B, W, H]`` -> (grid logits ``[B, W, W, C]``, pair repr ``[B, W, W, D]``).

    ``D = conv_hidden * len(dilations)`` (exposed as :attr:`pair_dim`).  Padding cells of both
    outputs are zero; the loss ignores them through the ``-100`` gold.
    """

    def __init__(
        self,
        hidden: int,
        num_labels: int,
        *,
        dist_emb: int = 20,
        region_emb: int = 20,
        conv_hidden: int = 96,
        dilations: Sequence[int] = (1, 2, 3),
        biaffine_size: int = 256,
        ffn_size: int = 192,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if not dilations:
            raise ValueError("dilations must not be empty")
        self.num_labels = num_labels
        self.pair_dim = conv_hidden * len(dilations)
        self.dropout = nn.Dropout(dropout)
        self.cln = ConditionalLayerNorm(hidden)
        self.dist_emb = nn.Embedding(NUM_DISTANCE_BUCKETS, dist_emb)
        self.region_emb = nn.Embedding(NUM_REGIONS, region_emb)
        self.conv = DilatedConv(hidden + dist_emb + region_emb, conv_hidden, dilations, dropout)
        self.head_mlp = nn.Sequential(nn.Linear(hidden, biaffine_size), nn.GELU(), nn.Dropout(dropout))
        self.tail_mlp = nn.Sequential(nn.Linear(hidden, biaffine_size), nn.GELU(), nn.Dropout(dropout))
        self.biaffine = Biaffine(biaffine_size, num_labels)
        self.pair_mlp = nn.Sequential(nn.Linear(self.pair_dim, ffn_size), nn.GELU(), nn.Dropout(dropout))
        self.pair_out = nn.Linear(ffn_size, num_labels)

    def forward(self, words: Tensor, word_mask: Tensor) -> tuple[Tensor, Tensor]:
        batch, num_words, _ = words.shape
        if num_words == 0:  # a batch of empty sentences; convs cannot run on a 0x0 grid
            connected = words.sum() * 0.0
            return (
                words.new_zeros(batch, 0, 0, self.num_labels) + connected,
                words.new_zeros(batch, 0, 0, self.pair_dim) + connected,
            )
        word_mask = word_mask.bool()
        mask2d = (word_mask[:, :, None] & word_mask[:, None, :]).unsqueeze(-1)
        words = self.dropout(words)

        dist = self.dist_emb(distance_buckets(num_words, words.device))
        region = self.region_emb(region_ids(word_mask))
        grid = torch.cat([dist.expand(batch, -1, -1, -1), region, self.cln(words, words)], dim=-1)
        grid.masked_fill_(~mask2d, 0.0)  # in place: the concatenation is not saved for backward
        pair_repr = self.conv(grid, mask2d.squeeze(-1))

        logits = self.biaffine(self.head_mlp(words), self.tail_mlp(words))
        logits = logits + self.pair_out(self.pair_mlp(pair_repr))
        return logits.masked_fill(~mask2d, 0.0), pair_repr
