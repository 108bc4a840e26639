"""Where translations come from: dictionaries, typed names, transliteration, senses, alignment.

The rest of cslib reaches this part through the names below only. A build's options
(`cslib.BuildConfig`, read as `SourceOptions`) pick the sources; `build_dictionary`,
`build_entity_lexicon` and `build_transliterator` turn them into what `CodeSwitcher` uses.

Modules: `dictionary` (the Dictionary and MUSE files), `dictionary_sources` (JMdict,
CC-CEDICT), `entity_sources` (JMnedict, CC-CEDICT names, user lexicons), `transliterate` and
`kana_hanzi` (names by sound), `senses` (choice by target frequency), `script` (Chinese
script), `align` and `align_precision` (lexicons from word-aligned parallel text), `keys`
(phrases of zh/ja sources), `names_to_english` (typed names read into English), `routes`
(forward, inverse, pivot or direct) and `pivot` (two dictionaries composed through English),
`cache`, `c2k_cache` and `e2k_batch` (what is computed once per machine), `sources` (which of
them a build uses).
"""

from .align import AlignError, align_corpus, build_alignment_lexicon
from .dictionary import Dictionary, Translation, read_muse
from .dictionary_sources import MissingPackageError, available_sources, load_source
from .entity_sources import EntityLexicon, EntityTranslation, read_entity_lexicon, write_entity_lexicon
from .routes import DIRECTIONS, direction, has_dictionary, has_parallel, has_text, resolved_mode
from .script import ZH_SCRIPTS, to_simplified, to_traditional
from .senses import SenseConfig, choose
from .sources import (
    SourceOptions,
    build_dictionary,
    build_entity_lexicon,
    build_transliterator,
    dictionary_origins,
)
from .transliterate import Transliterator

__all__ = [
    "AlignError", "DIRECTIONS", "Dictionary", "EntityLexicon", "EntityTranslation", "MissingPackageError", "SenseConfig",
    "SourceOptions", "Translation", "Transliterator", "ZH_SCRIPTS", "align_corpus", "available_sources",
    "build_alignment_lexicon", "build_dictionary", "build_entity_lexicon", "build_transliterator", "choose",
    "dictionary_origins", "direction", "has_dictionary", "has_parallel", "has_text", "load_source", "read_entity_lexicon", "read_muse", "resolved_mode",
    "to_simplified", "to_traditional", "write_entity_lexicon",
]
