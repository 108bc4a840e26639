"""spaCy pipeline component `xner`: the toolkit's entities as `doc.ents`.

    nlp = spacy.blank("en")
    nlp.add_pipe("xner", config={"model": "models/st"})   # a run, model or `ner export` directory

The factory is registered through the `spacy_factories` entry point (`pip install 'xner[spacy]'`), and by
importing this module. Each Doc's text is tagged as `ner predict` tags an input line (`predict_texts`):
split into sentences, each tokenized the toolkit's way for the language (the pipeline's, or `lang`),
sentences longer than `max_words` in overlapping windows. The entities' character offsets then become
spans of the Doc's own tokens (`Doc.char_span(..., alignment_mode="expand")`: a span that starts or ends
inside a spaCy token takes the whole token); where widened spans overlap, the longer one is kept
(`spacy.util.filter_spans`), and an entity whose characters the word splitter changed (no offsets) is
left out. Each span's score is `span._.xner_score`. `nlp.pipe` tags `batch_size` Docs together.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import MISSING, dataclass, fields
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans, minibatch

from cslib import CslibError, tokenize
from ner.errors import NerError
from ner.inference.loading import load_model
from ner.inference.precision import resolve_device
from ner.inference.predict import predict_texts
from ner.inference.windows import MAX_WORDS, WINDOW_OVERLAP, check_window
from ner.model.grid import MAX_ENTITY_WORDS

FACTORY = "xner"
SCORE_ATTR = "xner_score"


@dataclass
class SpacySettings:
    """The component's config (`nlp.add_pipe("xner", config={...})`); defaults as in `ner predict`."""

    model: str  # run, model or export directory
    lang: str = ""  # language of the texts ("" = the pipeline's, nlp.lang)
    split_sentences: bool = True  # False: each Doc is one sentence (ner predict --keep-lines)
    max_words: int = MAX_WORDS  # longer sentences are tagged in windows (0 = never)
    window_overlap: int = WINDOW_OVERLAP
    max_entity_words: int = MAX_ENTITY_WORDS
    batch_size: int = 64  # sentences per forward pass
    device: str = "auto"
    overwrite_ents: bool = True  # False: keep the Doc's entities, add only the ones that do not overlap them


class XnerComponent:
    """Sets `doc.ents` from a trained model's predictions (see the module docstring)."""

    def __init__(self, nlp: Language, name: str, settings: SpacySettings) -> None:
        self.name = name
        self.settings = settings
        self.lang = settings.lang or nlp.lang
        try:
            tokenize("check", self.lang)
            check_window(settings.max_words, settings.window_overlap)
        except (CslibError, ValueError) as exc:
            raise NerError(f"spaCy component {name!r}: {exc}") from None
        self.model = load_model(settings.model, resolve_device(settings.device))
        self.model.max_entity_words = settings.max_entity_words
        if not Span.has_extension(SCORE_ATTR):
            Span.set_extension(SCORE_ATTR, default=None)

    def __call__(self, doc: Doc) -> Doc:
        return self._tag([doc])[0]

    def pipe(self, docs: Iterable[Doc], batch_size: int = 32) -> Iterator[Doc]:
        for chunk in minibatch(docs, size=batch_size):
            yield from self._tag(list(chunk))

    def _tag(self, docs: list[Doc]) -> list[Doc]:
        s = self.settings
        found = predict_texts(self.model, [d.text for d in docs], self.lang, s.batch_size,
                              split_sentences=s.split_sentences, max_words=s.max_words, overlap=s.window_overlap)
        for doc, rec in zip(docs, found, strict=True):
            set_entities(doc, rec["entities"], s.overwrite_ents)
        return docs


def set_entities(doc: Doc, entities: list[dict[str, Any]], overwrite: bool = True) -> list[Span]:
    """Set `doc.ents` from `ner predict` JSON entities (character offsets into `doc.text`); returns the
    spans set. Spans are widened to whole tokens, overlaps resolved longest first (`filter_spans`)."""
    spans = []
    for e in entities:
        if e["char_start"] is None:
            continue  # the word splitter changed this entity's characters: no place in the text
        span = doc.char_span(e["char_start"], e["char_end"], label=e["type"], alignment_mode="expand")
        if span is not None and len(span):
            span._.set(SCORE_ATTR, e["score"])
            spans.append(span)
    spans = filter_spans(spans)
    if not overwrite:
        taken = {i for ent in doc.ents for i in range(ent.start, ent.end)}
        spans = filter_spans([*doc.ents, *(sp for sp in spans if taken.isdisjoint(range(sp.start, sp.end)))])
    doc.ents = spans
    return spans


@Language.factory(FACTORY, default_config={f.name: f.default for f in fields(SpacySettings) if f.default is not MISSING})
def make_xner(nlp: Language, name: str, model: str, lang: str = "", split_sentences: bool = True,
              max_words: int = MAX_WORDS, window_overlap: int = WINDOW_OVERLAP,
              max_entity_words: int = MAX_ENTITY_WORDS, batch_size: int = 64, device: str = "auto",
              overwrite_ents: bool = True) -> XnerComponent:
    """The `xner` factory: `nlp.add_pipe("xner", config={"model": DIR, ...})` (fields of `SpacySettings`)."""
    return XnerComponent(nlp, name, SpacySettings(model, lang, split_sentences, max_words, window_overlap,
                                                  max_entity_words, batch_size, device, overwrite_ents))
