"""`cslib` command line: a thin layer over the library (cslib.build, cslib.report)."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .errors import CslibError

MODE_HELP = ("auto (default): dict when a MUSE dictionary exists for the pair, else align; "
             "dict: bilingual dictionaries (MUSE + --extra-dict); align: a lexicon extracted by word "
             "alignment of a parallel corpus (Tatoeba, or --parallel), for languages without MUSE; "
             "dict+align: both")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cslib", description="Build and inspect code-switched NER corpora.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("build", help="build a code-switched shard set from labeled source sentences",
                       description="Replace source words/phrases and whole entities by target-language "
                                   "translations, carrying IOB2 labels over, and write Parquet shards.")
    b.add_argument("--config", help="YAML file with build options (flags override it)")
    b.add_argument("--src", help="source language code (default en)")
    b.add_argument("--tgt", help="target language code, e.g. ja, zh, de (default ja)")
    b.add_argument("--data-root", help="local data mirror (else $CSLIB_DATA_ROOT, else download)")
    b.add_argument("--out", help="output directory (default data/cs/SRC-TGT)")
    b.add_argument("--input", help="labeled PAN-X TSV or CoNLL file instead of the PAN-X train split, or a "
                                   "task input (JSONL, CSV, Parquet, CoNLL in any scheme, text; see --task)")
    b.add_argument("--encoding", help="text encoding of --input, --dictionary and --parallel (default utf-8; "
                                      "CoNLL-2002 originals: latin-1)")
    b.add_argument("--mode", choices=["auto", "dict", "align", "dict+align"], help=MODE_HELP)
    b.add_argument("--dictionary", help="MUSE-format dictionary file (src<TAB>tgt) replacing MUSE")
    b.add_argument("--extra-dict", dest="extra_dicts", action="append",
                   help="packaged dictionaries: jmdict (ja), cedict (zh); repeatable; default: every "
                        "installed one for the pair; 'none' for MUSE only")
    b.add_argument("--entity-source", dest="entity_sources", action="append",
                   help="typed name sources: jmnedict (ja), cedict-names (zh); repeatable; default: every "
                        "installed one for the pair; 'none' to use none")
    b.add_argument("--entity-lexicon", help="TSV of entity translations: source phrase, target text, optional "
                                            "TYPE (PER/LOC/ORG; without it the entry serves every type), optional score")
    b.add_argument("--transliterate", action=argparse.BooleanOptionalAction, default=None,
                   help="transliterate names no dictionary knows (ja: e2k, katakana); default: on where installed")
    b.add_argument("--senses", choices=["freq", "uniform"],
                   help="choice among a phrase's translations: freq (weighted by target word frequency, "
                        "far rarer ones dropped; default) or uniform")
    b.add_argument("--sense-min-ratio", type=float,
                   help="with --senses freq, drop translations rarer than this x the most frequent one (0.05)")
    b.add_argument("--zh-script", choices=["simplified", "traditional", "both", "keep"],
                   help="script of switched Chinese (OpenCC); default both, as PAN-X zh mixes them (56/44)")
    b.add_argument("--parallel", nargs=2, metavar=("SRC_FILE", "TGT_FILE"),
                   help="line-aligned parallel corpus for --mode align (default: Tatoeba from the manifests)")
    b.add_argument("--aligner", choices=["eflomal", "simalign"], help="word aligner for align mode")
    b.add_argument("--aligner-model", help="local encoder directory for simalign")
    b.add_argument("--ratio", type=float, help="probability that a translatable word/phrase is switched (0.8)")
    b.add_argument("--entity-ratio", type=float, help="switch probability for entities (default: --ratio)")
    b.add_argument("--entity-mode", choices=["unit", "keep", "replace"],
                   help="unit: entities switched as a whole (default); keep: entities never switched; replace: "
                        "by a target entity of the same type from --entity-lexicon (e.g. mined by ner)")
    b.add_argument("--no-compose-entities", dest="compose_entities", action="store_const", const=False,
                   help="do not translate multi-word entities word by word when no phrase entry exists")
    b.add_argument("--segment", choices=["auto", "chars", "words"],
                   help="tokenization of inserted target text; auto = characters for zh/ja (as PAN-X)")
    b.add_argument("--variants", type=int, help="code-switched variants per sentence (1)")
    b.add_argument("--limit", type=int, help="use only the first N source sentences (0 = all)")
    b.add_argument("--seed", type=int, help="random seed (13); same seed and inputs give identical shards")
    b.add_argument("--shard-size", type=int, help="rows per shard (5000)")
    b.add_argument("--workers", type=int, help="worker processes (1; 0 = all cores); with --engine ray: "
                                                 "concurrent Ray tasks (0 or 1 = every CPU of the cluster)")
    b.add_argument("--overwrite", action="store_const", const=True, help="replace a different build in --out")
    b.add_argument("--examples", type=int, default=0, help="print N side-by-side examples when done")
    t = b.add_argument_group("tasks and engines (docs/shards.md: text, classification, tagging kinds)")
    t.add_argument("--task", choices=["auto", "ner", "text", "classification", "tagging"],
                   help="ner: PAN-X/CoNLL IOB2 NER shards (default without --input); text: sentences, no labels; "
                        "classification: records whose text fields are switched, other fields carried; "
                        "tagging: token labels in any scheme. auto (default): inferred from --input")
    t.add_argument("--text-field", dest="text_fields", action="append",
                   help="record field to switch (repeatable; default text, or premise+hypothesis, ...)")
    t.add_argument("--tokens-field", help="tagging records: token list field (default tokens/words)")
    t.add_argument("--tags-field", help="tagging records: tag list field (default tags/ner_tags/slot_tags/...)")
    t.add_argument("--label-field", dest="label_fields", action="append",
                   help="field every record must have, e.g. label (repeatable; missing = error)")
    t.add_argument("--id-field", help="unique record field used as the row key (default: the position)")
    t.add_argument("--scheme", choices=["auto", "iob1", "iob2", "bioes", "bilou", "io"],
                   help="tagging scheme of the input (auto: from the tags)")
    t.add_argument("--output-scheme", choices=["iob1", "iob2", "bioes", "bilou", "io"],
                   help="tagging scheme written (default: the input's)")
    t.add_argument("--input-format", choices=["auto", "jsonl", "csv", "parquet", "conll", "text"],
                   help="format of --input (auto: from the suffix, CoNLL columns, else text lines)")
    t.add_argument("--pretokenized", action="store_const", const=True,
                   help="text lines are whitespace-separated tokens")
    t.add_argument("--engine", choices=["local", "ray"],
                   help="local (default): this machine, --workers processes; ray: Ray Data (pip install "
                        "'xner[ray]'), same output bytes")
    t.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray)")

    u = sub.add_parser("unlabeled", help="build unlabeled target-language shards for self-training")
    u.add_argument("--lang", required=True, help="language code")
    u.add_argument("--file", help="raw text, one sentence a line (default: PAN-X train with labels dropped)")
    u.add_argument("--encoding", help="text encoding of --file (default utf-8)")
    u.add_argument("--data-root", help="local data mirror (else $CSLIB_DATA_ROOT)")
    u.add_argument("--out", help="output directory (default data/unlabeled/LANG)")
    u.add_argument("--limit", type=int, help="first N sentences only (0 = all)")
    u.add_argument("--exclude", nargs="+", metavar="FILE", default=None,
                   help="also leave out every sentence of these files (your evaluation sets: PAN-X TSV, CoNLL "
                        "or raw text); the language's PAN-X dev split is always left out")
    u.add_argument("--keep-dev", dest="exclude_dev", action="store_const", const=False,
                   help="do not leave out the PAN-X dev split (never for an evaluation you report)")
    u.add_argument("--shard-size", type=int)
    u.add_argument("--workers", type=int)
    u.add_argument("--overwrite", action="store_const", const=True)

    i = sub.add_parser("inspect", help="print source / code-switched pairs with entities marked")
    i.add_argument("dir")
    i.add_argument("-n", type=int, default=10, help="number of examples (10)")
    i.add_argument("--offset", type=int, default=0, help="skip the first N examples")
    i.add_argument("--all", action="store_true", help="include rows where nothing was switched")
    i.add_argument("--html", metavar="OUT.html", help="write an HTML page instead (entities coloured by type, "
                                                      "switched words marked, token language on hover)")
    i.add_argument("--method", help="only rows switched by this method (dict, align, dict+align)")
    i.add_argument("--type", dest="entity_type", help="only rows with a source entity of this type, e.g. PER")

    s = sub.add_parser("stats", help="statistics of a shard set")
    s.add_argument("dir")
    s.add_argument("--json", action="store_true")

    v = sub.add_parser("validate", help="check every row's labels and every checksum; non-zero on violation")
    v.add_argument("dir", nargs="+")

    m = sub.add_parser("manifests", help="list or verify the data manifests against a mirror")
    m.add_argument("action", choices=["list", "verify"])
    m.add_argument("--data-root", help="local data mirror (else $CSLIB_DATA_ROOT)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return _dispatch(args)
    except CslibError as exc:
        print(f"cslib: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cslib: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from . import report
    from .build import BuildConfig, UnlabeledConfig, build_unlabeled
    from .config import load_config

    if args.cmd == "build":
        from .task_build import run_build
        from .tasks import TaskOptions

        cfg = load_config(BuildConfig, args.config, vars(args))
        out = run_build(cfg, load_config(TaskOptions, None, vars(args)))
        st = report.stats(out)
        tok = st.get("switched_token_fraction")
        print(f"{out}: {st['rows']} rows, " + (f"{tok:.1%} of tokens switched, " if tok is not None else "")
              + f"{st['rows_switched_fraction']:.1%} of rows switched")
        for ex in report.examples(out, args.examples):
            print(ex)
        return 0
    if args.cmd == "unlabeled":
        cfg = load_config(UnlabeledConfig, None, vars(args))
        out = build_unlabeled(cfg)
        excluded = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["counts"].get("excluded", 0)
        print(f"{out}: {report.stats(out)['rows']} sentences ({excluded} left out: they occur in evaluation data)")
        return 0
    if args.cmd == "inspect" and (args.html or args.method or args.entity_type):
        from .shards import atomic_write_bytes
        from .view import html_page, open_shards

        sset = open_shards(args.dir)
        filters = {"offset": args.offset, "switched_only": not args.all, "method": args.method,
                   "entity_type": args.entity_type}
        if args.html:
            from pathlib import Path

            atomic_write_bytes(Path(args.html), html_page([sset], args.n, **filters).encode("utf-8"))
            Path(args.html).chmod(0o644)  # a page to share, not a private temp file
            print(args.html)
        else:
            from .report import format_example

            print("\n".join(format_example(r) for r in sset.rows(args.n, **filters)))
        return 0
    if args.cmd == "inspect":
        rows = report.examples(args.dir, args.n, switched_only=not args.all, offset=args.offset)
        print("\n".join(rows) if rows else f"{args.dir}: no switched rows")
        return 0
    if args.cmd == "stats":
        st = report.stats(args.dir)
        print(json.dumps(st, indent=2, ensure_ascii=False) if args.json else
              "\n".join(f"{k:28s} {v}" for k, v in st.items()))
        return 0
    if args.cmd == "validate":
        bad = 0
        for d in args.dir:
            n, problems = report.validate_dir(d)
            for pr in problems:
                print(f"{d}: {pr}", file=sys.stderr)
            print(f"{d}: {n} rows, {'OK' if not problems else f'{len(problems)} problem(s)'}")
            bad += bool(problems)
        return 1 if bad else 0
    if args.cmd == "manifests":
        from .manifests import all_manifests, resolve_file

        for m in all_manifests():
            if args.action == "list":
                print(f"{m.dataset:10s} {m.name:22s} {m.license:40s} {', '.join(m.files)}")
            else:
                for key in m.files:
                    resolve_file(m.dataset, m.name.split("-", 1)[1], key, args.data_root)
                print(f"ok {m.name}")
        return 0
    raise AssertionError(args.cmd)


if __name__ == "__main__":
    raise SystemExit(main())
