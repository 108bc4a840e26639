"""Packed word-pair features: the representations of a batch's real grid cells, without the padding.

Produced by heads with word-pair features (the relation head), read by the relation contrastive loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def cell_index(batch: int, num_words: int, cells: Tensor) -> Tensor:
    """``[B, W, W]``: the position in ``cells`` (flat ``(b * W + i) * W + j``) of each cell, -1 elsewhere
    (:attr:`PairFeatures.index`)."""
    index = torch.full((batch * num_words * num_words,), -1, dtype=torch.long, device=cells.device)
    index = index.index_copy_(0, cells, torch.arange(cells.shape[0], device=cells.device))
    return index.view(batch, num_words, num_words)


def take_rows(x: Tensor, index: Tensor) -> Tensor:
    """``x[index]`` for a 2-D ``x`` and 1-D ``index``: ``gather`` backpropagates faster than
    ``index_select`` (and than boolean masks) on CPU for the cell tensors of the grid."""
    return x.gather(0, index[:, None].expand(-1, x.shape[1]))


@dataclass(frozen=True)
class PairFeatures:
    """Word-pair representations of the real cells of a padded batch, stored packed.

    Row ``index[b, i, j]`` of the feature matrix (the conv layers' outputs side by side, kept as
    separate ``parts`` so no ``[N, D]`` concatenation is paid unless asked for) represents cell
    ``(i, j)`` of sentence ``b``; ``index`` is ``-1`` on padding, which :meth:`at` refuses.
    Packed because only real cells are ever read and a padded grid is often mostly padding.
    """

    parts: tuple[Tensor, ...]  # each [N, D_k]
    index: Tensor  # [B, W, W] long

    @classmethod
    def from_dense(cls, grid: Tensor) -> PairFeatures:
        """Wrap a dense ``[B, W, W, D]`` grid (every cell counts as real)."""
        b, w, _, d = grid.shape
        index = torch.arange(b * w * w, device=grid.device).view(b, w, w)
        return cls((grid.reshape(-1, d),), index)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(B, W, W, D)``, the shape of the equivalent dense grid."""
        b, w, _ = self.index.shape
        return b, w, w, sum(p.shape[-1] for p in self.parts)

    @property
    def values(self) -> Tensor:
        """All real cells' features ``[N, D]``."""
        return torch.cat(self.parts, dim=-1)

    def at(self, b: Tensor, i: Tensor, j: Tensor) -> Tensor:
        """Representations of cells ``(b, i, j)`` (1-D index tensors) -> ``[len(b), D]``."""
        rows = self.index[b, i, j]
        if bool((rows < 0).any()):
            raise IndexError("PairFeatures.at: a requested cell is padding")
        return torch.cat([take_rows(p, rows) for p in self.parts], dim=-1)

    def rows(self, rows: slice) -> PairFeatures:
        """The same features restricted to sentences ``rows`` of the batch."""
        return PairFeatures(self.parts, self.index[rows])

    def dense(self) -> Tensor:
        """``[B, W, W, D]`` with zeros on padding (for inspection; training never needs it)."""
        flat = self.index.reshape(-1)
        real = (flat >= 0).nonzero(as_tuple=True)[0]
        values = self.values
        out = values.new_zeros(flat.shape[0], values.shape[-1])
        return out.index_copy(0, real, values.index_select(0, flat[real])).view(self.shape)
