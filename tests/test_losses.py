"""Losses: supervised CE with padding, InfoNCE, pair sampling bounds, SupCon over pairs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ner.model.grid import RelationSchema, tags_to_grid
from ner.model.heads.relation_layers import FastDropout, RelationNetwork, distance_buckets, region_ids
from ner.model.heads.token import TokenHead
from ner.model.losses import (
    PairProjector,
    grid_cross_entropy,
    relation_contrastive,
    sample_pairs,
    semantic_contrastive,
    supervised_contrastive,
    token_cross_entropy,
)

SCHEMA = RelationSchema(("LOC", "PER"))


def padded_gold(tag_seqs: list[list[str]]) -> torch.Tensor:
    width = max(len(t) for t in tag_seqs)
    gold = torch.full((len(tag_seqs), width, width), -100, dtype=torch.long)
    for b, tags in enumerate(tag_seqs):
        n = len(tags)
        gold[b, :n, :n] = torch.from_numpy(tags_to_grid(tags, SCHEMA))
    return gold


def test_cross_entropies_ignore_padding() -> None:
    logits = torch.randn(2, 3, 3, 4, requires_grad=True)
    gold = torch.randint(0, 4, (2, 3, 3))
    gold[1, 2, :] = -100
    expected = F.cross_entropy(logits[gold != -100], gold[gold != -100])
    assert torch.allclose(grid_cross_entropy(logits, gold), expected)
    tok_logits = torch.randn(2, 3, 5)
    tok_gold = torch.tensor([[1, 2, -100], [0, -100, -100]])
    expected = F.cross_entropy(tok_logits[tok_gold != -100], tok_gold[tok_gold != -100])
    assert torch.allclose(token_cross_entropy(tok_logits, tok_gold), expected)
    empty = grid_cross_entropy(logits, torch.full((2, 3, 3), -100))
    assert empty.item() == 0.0
    empty.backward()
    assert logits.grad is not None
    with pytest.raises(ValueError, match="do not match"):
        grid_cross_entropy(logits, gold[:, :2])


def test_infonce_prefers_aligned_pairs() -> None:
    g = torch.Generator().manual_seed(0)
    z_a = torch.randn(16, 32, generator=g)
    z_b = z_a + 0.1 * torch.randn(16, 32, generator=g)
    aligned = semantic_contrastive(z_a, z_b, tau=0.1)
    shuffled = semantic_contrastive(z_a, z_b[torch.randperm(16, generator=g)], tau=0.1)
    assert aligned < 0.1 < shuffled
    # Symmetric in its two views.
    assert torch.allclose(semantic_contrastive(z_b, z_a, 0.1), aligned)


def test_sample_pairs_bound_and_keeps_entities() -> None:
    tag_seqs = [
        ["B-PER", "I-PER", "O", "B-LOC", "O", "O", "O", "O", "O", "O"],
        ["O", "B-LOC", "I-LOC", "I-LOC", "O", "O"],
        ["O", "O"],
    ]
    gold = padded_gold(tag_seqs)
    cap = 5
    b, i, j, labels = sample_pairs(gold, cap, torch.Generator().manual_seed(1))
    assert torch.equal(labels, gold[b, i, j])
    assert bool((labels != -100).all())
    for s in range(len(tag_seqs)):
        rel = (gold[s] > 0).nonzero().tolist()
        picked = [[x, y] for bb, x, y in zip(b.tolist(), i.tolist(), j.tolist(), strict=True) if bb == s]
        assert all(cell in picked for cell in rel)  # every entity pair kept
        none_picked = sum(1 for x, y in picked if gold[s, x, y] == 0)
        assert none_picked == min(cap, int((gold[s] == 0).sum()))
    assert len(labels) <= int((gold > 0).sum()) + cap * len(tag_seqs)
    # Deterministic under a seeded generator; zero cap keeps only relation cells.
    again = sample_pairs(gold, cap, torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(again, (b, i, j, labels), strict=True))
    assert bool((sample_pairs(gold, 0)[3] > 0).all())


def test_supcon_lower_when_same_labels_cluster() -> None:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(4).repeat_interleave(6)
    centers = torch.randn(4, 16, generator=g) * 3
    clustered = centers[labels] + 0.1 * torch.randn(24, 16, generator=g)
    scattered = torch.randn(24, 16, generator=g)
    assert supervised_contrastive(clustered, labels, 0.2) < supervised_contrastive(scattered, labels, 0.2)


def test_supcon_equals_the_per_anchor_definition() -> None:
    """Khosla et al.'s L_out written anchor by anchor; anchors without a positive are skipped."""
    g = torch.Generator().manual_seed(2)
    feats = torch.randn(9, 5, generator=g)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 0, 3, 1])  # label 2 and 3 anchors have no positive
    tau = 0.3
    z = F.normalize(feats, dim=-1)
    terms = []
    for a in range(9):
        others = [k for k in range(9) if k != a]
        pos = [k for k in others if labels[k] == labels[a]]
        if not pos:
            continue
        denom = torch.logsumexp(torch.stack([z[a] @ z[k] / tau for k in others]), 0)
        terms.append(-torch.stack([z[a] @ z[p] / tau - denom for p in pos]).mean())
    assert torch.allclose(supervised_contrastive(feats, labels, tau), torch.stack(terms).mean(), atol=1e-5)


def test_relation_contrastive_clustered_vs_random_and_grad() -> None:
    g = torch.Generator().manual_seed(0)
    gold_src = padded_gold([["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-LOC", "I-LOC", "O"]])
    gold_cs = padded_gold([["B-PER", "I-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "I-LOC", "O"]])
    centers = torch.randn(SCHEMA.num_labels, 24, generator=g) * 3

    def clustered(gold: torch.Tensor) -> torch.Tensor:
        return centers[gold.clamp(min=0)] + 0.1 * torch.randn(*gold.shape, 24, generator=g)

    src = clustered(gold_src).requires_grad_(True)
    cs = clustered(gold_cs).requires_grad_(True)
    rnd_src = torch.randn(*gold_src.shape, 24, generator=g)
    rnd_cs = torch.randn(*gold_cs.shape, 24, generator=g)
    low = relation_contrastive(
        src, gold_src, cs, gold_cs, tau=0.2, generator=torch.Generator().manual_seed(3)
    )
    high = relation_contrastive(
        rnd_src, gold_src, rnd_cs, gold_cs, tau=0.2, generator=torch.Generator().manual_seed(3)
    )
    assert low < high
    low.backward()
    assert src.grad is not None and src.grad.abs().sum() > 0
    assert cs.grad is not None and cs.grad.abs().sum() > 0

    # A projector passed as `project` receives gradients too.
    proj = PairProjector(24, 8)
    loss = relation_contrastive(rnd_src, gold_src, rnd_cs, gold_cs, tau=0.2, project=proj)
    loss.backward()
    assert all(p.grad is not None for p in proj.parameters())


def test_relation_contrastive_nothing_to_contrast() -> None:
    pair_src = torch.randn(1, 1, 1, 8, requires_grad=True)
    pair_cs = torch.randn(1, 1, 1, 8, requires_grad=True)
    pad = torch.full((1, 1, 1), -100)
    loss = relation_contrastive(pair_src, pad, pair_cs, pad, tau=0.1)
    assert loss.item() == 0.0
    loss.backward()
    assert pair_src.grad is not None and pair_cs.grad is not None
    # Two samples with different labels: no anchor has a positive -> connected zero.
    one = torch.zeros(1, 1, 1, dtype=torch.long)
    two = torch.ones(1, 1, 1, dtype=torch.long)
    loss = relation_contrastive(pair_src, one, pair_cs, two, tau=0.1)
    assert loss.item() == 0.0 and loss.requires_grad


def test_heads_shapes_masking_and_grad() -> None:
    torch.manual_seed(0)
    head = RelationNetwork(16, SCHEMA.num_labels, conv_hidden=8, dilations=(1, 2), biaffine_size=12, ffn_size=10)
    words = torch.randn(2, 5, 16, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool)
    logits, pair = head(words, mask)
    assert head.pair_dim == 16
    assert logits.shape == (2, 5, 5, SCHEMA.num_labels) and pair.shape == (2, 5, 5, 16)
    assert pair.values.shape == (25 + 9, 16) and int((pair.index < 0).sum()) == 16
    dense = pair.dense()
    assert bool((logits[1, 3:] == 0).all()) and bool((dense[1, :, 3:] == 0).all())
    b, i, j = torch.tensor([0, 1, 1]), torch.tensor([4, 0, 2]), torch.tensor([1, 2, 2])
    assert torch.equal(pair.at(b, i, j), dense[b, i, j])
    assert torch.equal(pair.rows(slice(1, 2)).dense(), dense[1:2])
    with pytest.raises((IndexError, RuntimeError)):
        pair.at(torch.tensor([1]), torch.tensor([4]), torch.tensor([0]))  # a padding cell
    (logits.sum() + pair.values.sum()).backward()
    assert words.grad is not None and all(p.grad is not None for p in head.parameters())
    # The real words of sentence 1 do not see its padding.
    head.eval()
    with torch.no_grad():
        full, _ = head(words[1:, :3], mask[1:, :3])
        padded, _ = head(words[1:], mask[1:])
    assert torch.allclose(full, padded[:, :3, :3], atol=1e-5)
    tok = TokenHead(16, ["LOC", "PER"])
    assert tok(words, mask).shape == (2, 5, 5)


def literal_w2ner(head: RelationNetwork, words: torch.Tensor, mask: torch.Tensor, channel_keep: torch.Tensor | None):
    """The head written as W2NER describes it: build the dense ``[B, W, W, dist+region+H]`` grid
    (CLN of every pair, distance and region embeddings), channel dropout, 1x1 projection, convs,
    co-predictor over every cell.  The real head must compute the same function."""
    n = words.shape[1]
    mask2d = mask[:, :, None] & mask[:, None, :]
    dist = head.dist_emb(distance_buckets(n)).expand(words.shape[0], -1, -1, -1)
    grid = torch.cat([dist, head.region_emb(region_ids(mask)), head.cln(words, words)], dim=-1)
    if channel_keep is not None:
        grid = grid * channel_keep[:, None, None, :]
    keep = mask2d[:, None].float()
    h = F.gelu(head.conv.proj(grid)).permute(0, 3, 1, 2) * keep
    outs = []
    for conv in head.conv.convs:
        h = F.gelu(conv(h)) * keep
        outs.append(h)
    pair = torch.cat(outs, 1).permute(0, 2, 3, 1)
    logits = head.biaffine(head.head_mlp(words), head.tail_mlp(words)) + head.pair_out(head.pair_mlp(pair))
    return logits * mask2d[..., None], pair


@pytest.mark.parametrize("training", [False, True])
def test_relation_head_equals_the_literal_w2ner_computation(training: bool) -> None:
    torch.manual_seed(1)
    head = RelationNetwork(16, SCHEMA.num_labels, conv_hidden=8, dilations=(1, 2, 3), biaffine_size=12, ffn_size=10)
    for p in head.parameters():  # CLN's conditional projections start at zero; make them matter
        torch.nn.init.normal_(p, std=0.3)
    words = torch.randn(3, 7, 16)
    mask = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 6 + [0]], dtype=torch.bool)
    head.train(training)
    keep = None
    if training:
        # Element dropouts off; the channel dropout of the projection's input stays on: it is
        # what the factored projection folds into gamma, beta and the embedding tables.
        for m in head.modules():
            if isinstance(m, FastDropout):
                m.p = 0.0
        head.conv.dropout = 0.5
        torch.manual_seed(7)  # the head draws its [B, channels] mask first, like this
        keep = torch.empty(3, 20 + 20 + 16).bernoulli_(0.5).div_(0.5)

    def run_head() -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(7)
        logits, pair = head(words, mask)
        return logits, pair.dense()

    for fn in (run_head, lambda: literal_w2ner(head, words, mask, keep)):
        head.zero_grad()
        logits, pair = fn()
        g = torch.Generator().manual_seed(0)
        (logits * torch.randn(logits.shape, generator=g)).sum().backward()
        grads = {name: p.grad.clone() for name, p in head.named_parameters()}
        if fn is run_head:
            got = (logits.detach(), pair.detach(), grads)
    assert torch.allclose(got[0], logits.detach(), atol=1e-4)
    assert torch.allclose(got[1], pair.detach(), atol=1e-5)
    for name, grad in grads.items():  # the factored projection gets the same gradients
        assert torch.allclose(got[2][name], grad, atol=1e-3, rtol=1e-3), name


def test_relation_head_under_bf16_autocast() -> None:
    """The mixed-precision path of a GPU run, exercised with CPU autocast: dtypes line up."""
    torch.manual_seed(0)
    head = RelationNetwork(16, SCHEMA.num_labels, conv_hidden=8, dilations=(1, 2), biaffine_size=12, ffn_size=10)
    words = torch.randn(2, 6, 16, requires_grad=True)
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3], dtype=torch.bool)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, pair = head(words, mask)
        loss = logits.float().sum() + pair.at(torch.tensor([0, 1]), torch.tensor([5, 2]), torch.tensor([0, 2])).sum()
    loss.backward()
    assert torch.isfinite(loss) and words.grad is not None and torch.isfinite(words.grad).all()


def test_fast_dropout_rate_scale_and_seed() -> None:
    drop = FastDropout(0.3)
    x = torch.ones(200_000)
    torch.manual_seed(0)
    y = drop(x)
    assert abs(float((y == 0).float().mean()) - 0.3) < 0.005
    assert abs(float(y.mean()) - 1.0) < 0.01  # inverted dropout keeps the expectation
    kept = y[y != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.7), rtol=1e-4)
    torch.manual_seed(0)
    assert torch.equal(drop(x), y)  # the default generator's seed decides the mask
    drop.eval()
    assert drop(x) is x
    with pytest.raises(ValueError):
        FastDropout(1.0)


def test_distance_and_region_ids() -> None:
    d = distance_buckets(300)
    assert d[0, 0] == 19 and d[1, 0] == 1 and d[3, 0] == 2 and d[4, 0] == 3 and d[299, 0] == 9
    assert d[0, 1] == 10 and d[0, 299] == 18 and int(d.max()) == 19
    r = region_ids(torch.tensor([[True, True, False]]))
    assert r[0].tolist() == [[2, 1, 0], [2, 2, 0], [0, 0, 0]]
