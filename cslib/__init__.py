"""cslib: label-preserving code-switched corpora for cross-lingual NER.

The public API below is what notebooks, pipelines and `ner` use; everything else is internal.
"""

from .build import BuildConfig, UnlabeledConfig, build_codeswitch, build_dictionary, build_unlabeled
from .datasets import load_parallel, load_split
from .dictionary import Dictionary, read_muse
from .errors import CslibError
from .iob import is_iob2, repair_iob2, spans
from .readers import LabeledSentence, read_conll, read_labeled_file, read_panx, read_text
from .report import examples, stats, validate_dir
from .shards import iter_rows, read_table
from .substitute import CodeSwitcher, SwitchConfig
from .tokenizers import segment, tokenize, word_tokenize
from .validate import row_problem
from .view import ShardSet, open_shards

__version__ = "0.1.0"
__all__ = [
    "BuildConfig", "CodeSwitcher", "CslibError", "Dictionary", "LabeledSentence", "ShardSet", "SwitchConfig",
    "UnlabeledConfig", "build_codeswitch", "build_dictionary", "build_unlabeled", "examples", "is_iob2",
    "iter_rows", "load_parallel", "load_split", "open_shards", "read_conll", "read_labeled_file", "read_muse", "read_panx",
    "read_table", "read_text", "repair_iob2", "row_problem", "segment", "spans", "stats", "tokenize",
    "validate_dir", "word_tokenize",
]
