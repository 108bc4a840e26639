"""The W2NER word-pair network (Li et al., AAAI 2022) of the relation head, as used by mCL-NER.

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

How it is computed (same function, cheaper): every per-cell layer -- the 1x1 projection of
``[dist; region; CLN]``, the co-predictor MLP and the output sum -- runs on the real cells of the
padded batch only (a padded grid is often half padding), and the projection is taken in factored
form (:meth:`RelationNetwork.project_cells`) so the ``[B, W, W, H + 40]`` input tensor is never
built.  Only the convolutions see the dense grid.  The conv outputs of the real cells are returned
packed as :class:`PairFeatures` for the relation-level contrastive loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ner.model.pair_features import PairFeatures, cell_index, take_rows

NUM_DISTANCE_BUCKETS = 20
NUM_REGIONS = 3  # 0 pad, 1 upper triangle (i < j), 2 lower triangle incl. diagonal (i >= j)


def distance_buckets(num_words: int, device: torch.device | None = None) -> Tensor:
    """``[W, W]`` bucket ids of the signed offset ``d = i - j``.

    ``|d|`` maps to ``1 + floor(log2 |d|)`` capped at 9 (1, 2-3, 4-7, ..., >= 256); positive
    offsets use ids 1..9, negative ones 10..18, and ``d = 0`` gets 19 -- W2NER's scheme.
    """
    idx = torch.arange(num_words, device=device)
    return offset_buckets(idx[:, None] - idx[None, :])


def offset_buckets(d: Tensor) -> Tensor:
    """Bucket ids (:func:`distance_buckets`) of signed offsets ``d = i - j`` of any shape."""
    mag = d.abs().clamp(min=1).float().log2().floor().long().add(1).clamp(max=9)
    return torch.where(d > 0, mag, torch.where(d < 0, mag + 9, torch.full_like(d, 19)))


def region_ids(word_mask: Tensor) -> Tensor:
    """``[B, W, W]`` region ids: 0 when either word is padding, 1 above the diagonal, 2 on/below."""
    mask2d = word_mask[:, :, None] & word_mask[:, None, :]
    n = word_mask.shape[1]
    lower = torch.ones(n, n, dtype=torch.bool, device=word_mask.device).tril()
    return (1 + lower.long())[None] * mask2d.long()


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The lower-precision dtype autocast is running in on `device`, or None outside autocast."""
    if not torch.is_autocast_enabled(device.type):
        return None
    return torch.get_autocast_dtype(device.type)


class FastDropout(nn.Module):
    """Inverted element dropout with a cheaper mask on CPU.

    torch's CPU Bernoulli sampler costs about 8 ns per element; on the grid's cell features it was
    the largest single cost of the head.  One 64-bit draw of the (seeded) default
    generator gives four 16-bit uniforms, so the rate is quantised to 1/65536 -- otherwise this is
    plain inverted dropout.  Other devices use ``F.dropout``.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, True)
        dropped = round(self.p * 65536)
        n = x.numel()
        bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(2**63), 2**63 - 1)
        uniform16 = bits.view(torch.int16)[:n].view(x.shape)
        mask = (uniform16 >= dropped - 32768).to(x.dtype).mul_(65536 / (65536 - dropped))
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"


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

    def factors(self, cond: Tensor, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(gamma, beta, norm(x))``, each ``[B, W, H]``: the pair value is ``gamma_i * norm(x_j) + beta_i``."""
        normed = F.layer_norm(x, x.shape[-1:], eps=self.eps)
        return self.weight + self.gain(cond), self.bias + self.shift(cond), normed

    def forward(self, cond: Tensor, x: Tensor) -> Tensor:
        """``cond`` ``[B, W, H]`` (rows ``i``), ``x`` ``[B, W, H]`` (columns ``j``) -> ``[B, W, W, H]``."""
        gamma, beta, normed = self.factors(cond, x)
        return gamma[:, :, None, :] * normed[:, None, :, :] + beta[:, :, None, :]


class DilatedConv(nn.Module):
    """1x1 projection followed by a stack of depthwise dilated 3x3 convs; outputs concatenated.

    The 1x1 projection (:attr:`proj`, over ``[dist; region; CLN]`` channels, with channel dropout
    on its input as W2NER's Dropout2d) is applied by :meth:`RelationNetwork.project_cells`, which
    computes it in factored form on real cells only; this module runs the convolutions.
    """

    def __init__(self, in_channels: int, channels: int, dilations: Sequence[int], dropout: float) -> None:
        super().__init__()
        self.dropout = dropout
        self.proj = nn.Linear(in_channels, channels)
        self.convs = nn.ModuleList(
            nn.Conv2d(channels, channels, kernel_size=3, groups=channels, dilation=d, padding=d)
            for d in dilations
        )

    def forward(self, h: Tensor, mask2d: Tensor, cells: Tensor) -> tuple[Tensor, ...]:
        """Dense ``[B, W, W, channels]`` (zero on padding), pad mask ``[B, W, W]`` and flat indices
        of the real cells ``[N]`` -> each layer's output at the real cells, ``[N, channels]``.

        Padding cells are zeroed between layers (biases and GELU would otherwise make them
        non-zero), so a sentence's output does not depend on how much it was padded in a batch.
        Channels-last throughout: the permutes are views, not copies.

        Trained on CPU under autocast, the convolutions run in fp32: oneDNN's bf16 depthwise-conv backward
        (torch 2.13) is nondeterministic and now and then returns NaN weight gradients, and for dilated
        kernels fp32 is also the faster backward. Inference keeps the (deterministic) bf16 forward.
        """
        if h.device.type == "cpu" and torch.is_grad_enabled() and autocast_dtype(h.device) is not None:
            with torch.autocast("cpu", enabled=False):
                return self._layers(h.float(), mask2d, cells)
        return self._layers(h, mask2d, cells)

    def _layers(self, h: Tensor, mask2d: Tensor, cells: Tensor) -> tuple[Tensor, ...]:
        keep = mask2d[:, None].to(h.dtype)
        h = h.permute(0, 3, 1, 2)
        channels = h.shape[1]
        outs = []
        for k, conv in enumerate(self.convs):
            h = F.gelu(conv(h))
            if k + 1 < len(self.convs):  # the last layer's padding is never read
                h = h * keep
            outs.append(take_rows(h.permute(0, 2, 3, 1).reshape(-1, channels), cells))
        return tuple(outs)


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


class RelationNetwork(nn.Module):
    """Word vectors ``[B, W, H]`` -> (grid logits ``[B, W, W, C]``, :class:`PairFeatures`).

    ``D = conv_hidden * len(dilations)`` (exposed as :attr:`pair_dim`) is the pair feature size.
    Padding cells of the logits are zero; the loss ignores them through the ``-100`` gold.
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
        self.dropout = FastDropout(dropout)
        self.cln = ConditionalLayerNorm(hidden)
        self.dist_emb = nn.Embedding(NUM_DISTANCE_BUCKETS, dist_emb)
        self.region_emb = nn.Embedding(NUM_REGIONS, region_emb)
        self.conv = DilatedConv(hidden + dist_emb + region_emb, conv_hidden, dilations, dropout)
        self.head_mlp = nn.Sequential(nn.Linear(hidden, biaffine_size), nn.GELU(), FastDropout(dropout))
        self.tail_mlp = nn.Sequential(nn.Linear(hidden, biaffine_size), nn.GELU(), FastDropout(dropout))
        self.biaffine = Biaffine(biaffine_size, num_labels)
        self.pair_mlp = nn.Sequential(nn.Linear(self.pair_dim, ffn_size), nn.GELU(), FastDropout(dropout))
        self.pair_out = nn.Linear(ffn_size, num_labels)

    @property
    def reach(self) -> int:
        """How far the conv stack reads across diagonals: a 3x3 conv of dilation d sees cells whose
        offset ``j - i`` differs by up to ``2d``, so an output at offset k depends on inputs up to
        ``k + reach``."""
        return 2 * sum(conv.dilation[0] for conv in self.conv.convs)

    def forward(self, words: Tensor, word_mask: Tensor, max_offset: int | None = None) -> tuple[Tensor, PairFeatures]:
        """``max_offset`` k: only cells with ``j - i <= k`` are wanted (decoding reads ``k = 1``: the
        lower triangle and the super-diagonal). Their logits and features are exactly those of the
        full grid; the other cells' logits are zero and their features absent. The per-cell layers then
        run on about half the cells and the projection on the band ``j - i <= k + reach``."""
        batch, num_words, _ = words.shape
        word_mask = word_mask.bool()
        mask2d = word_mask[:, :, None] & word_mask[:, None, :]
        cells = out_cells = mask2d.reshape(-1).nonzero(as_tuple=True)[0]  # flat (b * W + i) * W + j of real cells
        if max_offset is not None:
            offset = torch.arange(num_words, device=words.device)
            offset = offset[None, :] - offset[:, None]  # [W, W]: j - i
            cells = (mask2d & (offset <= max_offset + self.reach)).reshape(-1).nonzero(as_tuple=True)[0]
            out_cells = (mask2d & (offset <= max_offset)).reshape(-1).nonzero(as_tuple=True)[0]
        if cells.shape[0] == 0:  # only empty sentences; convs cannot run on a 0x0 grid
            connected = words.sum() * 0.0
            logits = words.new_zeros(batch, num_words, num_words, self.num_labels) + connected
            index = cell_index(batch, num_words, out_cells)
            return logits, PairFeatures((words.new_zeros(0, self.pair_dim) + connected,), index)

        words = self.dropout(words)
        act = F.gelu(self.project_cells(words, word_mask, cells))
        grid = act.new_zeros(batch * num_words * num_words, act.shape[-1]).index_copy(0, cells, act)
        parts = self.conv(grid.view(batch, num_words, num_words, -1), mask2d, out_cells)
        return self.outputs_at(words, parts, out_cells)

    def outputs_at(self, words: Tensor, parts: Sequence[Tensor], cells: Tensor) -> tuple[Tensor, PairFeatures]:
        """The co-predictor at the flat cells ``cells`` (``(b * W + i) * W + j``) whose conv outputs are
        ``parts`` (one ``[N, conv_hidden]`` per layer, rows in the order of ``cells``): logits
        ``[B, W, W, C]``, zero at the other cells, and those cells' :class:`PairFeatures`."""
        batch, num_words, _ = words.shape
        biaffine = self.biaffine(self.head_mlp(words), self.tail_mlp(words)).reshape(-1, self.num_labels)
        cell_logits = take_rows(biaffine, cells) + self.pair_out(self.pair_mlp_cells(parts))
        logits = cell_logits.new_zeros(batch * num_words * num_words, self.num_labels)
        logits = logits.index_copy(0, cells, cell_logits)
        return (logits.view(batch, num_words, num_words, self.num_labels),
                PairFeatures(tuple(parts), cell_index(batch, num_words, cells)))

    def pair_mlp_cells(self, parts: Sequence[Tensor]) -> Tensor:
        """``pair_mlp(cat(parts))`` without the concatenation: the first linear layer is split by
        input block (a concatenated copy would cost as much as the layer on CPU)."""
        linear, *rest = self.pair_mlp
        blocks = linear.weight.split([p.shape[-1] for p in parts], dim=1)
        h = F.linear(parts[0], blocks[0], linear.bias)
        for part, block in zip(parts[1:], blocks[1:], strict=True):
            h = h.addmm_(part.to(h.dtype), block.t().to(h.dtype))  # in place: no copy of the sum
        for layer in rest:
            h = layer(h)
        return h

    def project_cells(self, words: Tensor, word_mask: Tensor, cells: Tensor) -> Tensor:
        """Pre-activation of the 1x1 projection at the flat cell indices ``cells`` (``(b * W + i) * W + j``):
        ``[N, conv_hidden]``.

        Equal to ``proj(dropout2d([dist_ij; region_ij; gamma_i * norm(h_j) + beta_i]))`` but never
        builds that ``[B, W, W, H + dist + region]`` tensor: the projection is linear, so
        ``beta_i``, the distance and the region embeddings are projected once per word / per
        table row, and the channel-dropout mask (one per sentence and channel, Dropout2d) is
        folded into ``gamma``, ``beta`` and the tables.  Only ``gamma_i * norm(h_j)`` is formed
        per cell, which is what makes the grid cheap enough to train next to the encoder.
        """
        batch, num_words, hidden = words.shape
        proj = self.conv.proj
        n_dist, n_region = self.dist_emb.embedding_dim, self.region_emb.embedding_dim
        w_dist, w_region, w_cln = proj.weight.split([n_dist, n_region, hidden], dim=1)
        gamma, beta, normed = self.cln.factors(words, words)
        dist_table = self.dist_emb.weight.expand(batch, -1, -1)
        region_table = self.region_emb.weight.expand(batch, -1, -1)
        if self.training and self.conv.dropout > 0:
            rate = self.conv.dropout
            keep = torch.empty(batch, n_dist + n_region + hidden, device=words.device, dtype=words.dtype)
            keep = keep.bernoulli_(1 - rate).div_(1 - rate)
            keep_dist, keep_region, keep_cln = keep.split([n_dist, n_region, hidden], dim=1)
            dist_table = dist_table * keep_dist[:, None]
            region_table = region_table * keep_region[:, None]
            gamma = gamma * keep_cln[:, None]
            beta = beta * keep_cln[:, None]
        rows, j = cells // num_words, cells % num_words
        b = rows // num_words
        low = autocast_dtype(words.device)
        if low is not None:  # the [N, H] cell product is the head's largest tensor: form it in the autocast dtype
            gamma, normed = gamma.to(low), normed.to(low)
        x = take_rows(gamma.reshape(-1, hidden), rows) * take_rows(normed.reshape(-1, hidden), b * num_words + j)
        out = F.linear(x, w_cln)
        channels = out.shape[-1]
        out = out + take_rows(F.linear(beta, w_cln, proj.bias).reshape(-1, channels), rows)
        # One table per sentence of every (distance bucket, region) combination, projected.
        table = F.linear(dist_table, w_dist)[:, :, None] + F.linear(region_table, w_region)[:, None]
        dist_ids = distance_buckets(num_words, words.device).reshape(-1).index_select(0, cells % num_words**2)
        region = region_ids(word_mask).reshape(-1).index_select(0, cells)
        key = (b * NUM_DISTANCE_BUCKETS + dist_ids) * NUM_REGIONS + region
        return out + take_rows(table.reshape(-1, channels), key)
