"""cslib: label-preserving code-switched corpora for cross-lingual NER.

The public API below is what notebooks, pipelines and `ner` use; everything else is internal.
"""

from .build import BuildConfig, build_codeswitch
from .command_line import (
    DATA_ROOT_OPTION,
    QUIET_OPTION,
    SEED_OPTION,
    OptionSpec,
    add_data_root,
    add_option,
    add_quiet,
    add_seed,
    conflict,
    format_default,
    given,
    parameter_defaults,
    run_cli,
    with_default,
)
from .corpora import load_parallel, load_split
from .environment import cache_root, package_versions
from .errors import CslibError, UserError
from .files import (
    atomic_directory,
    atomic_open,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    file_sha256,
)
from .hf import codeswitch_dataset, load_shards_dataset
from .inspection.report import examples, stats, validate_dir
from .inspection.view import ShardSet, ShardView, open_shards
from .iob import is_iob2, repair_iob2, spans
from .lexicons import Dictionary, build_dictionary, read_muse
from .readers import LabeledSentence, effective_limit, read_conll, read_labeled_file, read_panx, read_text
from .sentences import split_sentences
from .shards import SHARD_KINDS, iter_rows, read_table, schema_problem, shard_schema
from .substitute import CodeSwitcher, SwitchConfig
from .support import LanguageSupport, language_support
from .task_build import run_build
from .tasks import TaskOptions, TaskSpec, switch_batch
from .textio import MAX_LINE, check_encoding, iter_jsonl, iter_lines, read_text_file
from .tokenizers import segment, tokenize, word_tokenize
from .unlabeled import UnlabeledConfig, build_unlabeled
from .validate import row_problem

__version__ = "0.1.0"
__all__ = [
    "BuildConfig", "CodeSwitcher", "CslibError", "Dictionary", "LabeledSentence", "ShardSet", "ShardView",
    "SwitchConfig", "TaskOptions", "TaskSpec", "UnlabeledConfig", "build_codeswitch", "codeswitch_dataset",
    "load_shards_dataset", "run_build", "switch_batch", "build_dictionary", "build_unlabeled", "examples", "is_iob2",
    "iter_rows", "load_parallel", "load_split", "open_shards", "read_conll", "read_labeled_file", "read_muse",
    "read_panx",
    "MAX_LINE", "atomic_write_bytes", "check_encoding", "effective_limit", "file_sha256", "iter_lines",
    "read_text_file", "read_table", "read_text", "repair_iob2", "row_problem", "segment", "spans", "split_sentences",
    "stats", "tokenize", "validate_dir", "word_tokenize",
    # what en->L builds switch with, per PAN-X language (`cslib languages`)
    "LanguageSupport", "language_support",
    # the toolbox every layer writes and locates files with
    "SHARD_KINDS", "atomic_directory", "atomic_open", "atomic_path", "atomic_write_json", "atomic_write_text",
    "cache_root", "iter_jsonl", "package_versions", "schema_problem", "shard_schema",
    # the command-line convention of cslib, ner and pipelines (cslib.command_line)
    "DATA_ROOT_OPTION", "OptionSpec", "QUIET_OPTION", "SEED_OPTION", "UserError", "add_data_root", "add_option",
    "add_quiet", "add_seed", "conflict", "format_default", "given", "parameter_defaults", "run_cli",
    "with_default",
]
