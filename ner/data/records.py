"""The records `ner` trains and predicts on, read from shards and pseudo-label files."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Example:
    """One training item: a labeled source view and, for code-switched data, its partner view."""

    id: str
    src_tokens: list[str]
    src_tags: list[str]
    cs_tokens: list[str] | None = None
    cs_tags: list[str] | None = None
    lang: str = ""  # language of the second view (tgt_lang), or of the sentence for single views
    src_lang: str = ""  # language of the labeled source view (what zero-shot model selection may use)
    # Grid cells (i, j) of the source view left out of the loss: a pseudo-labeled sentence's cells
    # the teacher labeled NONE without being sure (`ner.training.self_training.uncertain_cells`).
    ignore: list[tuple[int, int]] | None = None

    @property
    def paired(self) -> bool:
        return self.cs_tokens is not None


@dataclass
class TextPair:
    """An unlabeled sentence (`lang`, e.g. a target-language sentence) and its code-switched version
    (e.g. switched into English): the two views of the target-language semantic contrast."""

    id: str
    lang: str
    tokens: list[str]
    cs_tokens: list[str]


@dataclass
class UnlabeledSentence:
    id: str
    lang: str
    tokens: list[str]
