"""Compare one row of two runs: same recipe, different data or code (e.g. code-switching settings).

A recipe's report compares rows *within* a run. A question like "do the new code-switched shards
beat the old ones?" is two runs of one recipe that differ in their data, so it needs the same
statistics *across* runs: mean ± sd over the common seeds, and a paired bootstrap over the
evaluation sentences both runs scored. Pairing is only valid on identical sentence sets, which is
checked (sizes per language), not assumed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cslib import UserError
from pipelines.report import _pct, _signed, load_counts
from pipelines.stats import Interval, f1_from_counts, mean_sd, paired_bootstrap


class CompareError(UserError, ValueError):
    """A comparison that cannot be made; the message is one line for the CLI."""


@dataclass
class RunRow:
    """`RUN[:ROW]` on the command line: a run directory and one of its rows (default: its last row)."""

    run: Path
    row: str

    @classmethod
    def parse(cls, spec: str) -> RunRow:
        path, _, row = spec.partition(":")
        run = Path(path)
        if not (run / "eval").is_dir():
            raise CompareError(f"{run}: not a pipelines run directory (no eval/ inside)")
        if not row:
            report = run / "report.json"
            rows = list(json.loads(report.read_text(encoding="utf-8"))["rows"]) if report.is_file() else []
            if not rows:
                raise CompareError(f"{run}: no report.json with rows; name the row as {run}:ROW")
            row = rows[-1]
        if not (run / "eval" / row).is_dir():
            known = ", ".join(sorted(p.name for p in (run / "eval").iterdir() if p.is_dir())) or "none"
            raise CompareError(f"{run}: row {row!r} was not evaluated (evaluated rows: {known})")
        return cls(run, row)

    @property
    def label(self) -> str:
        return f"{self.run}:{self.row}"

    def seeds(self) -> list[int]:
        found = []
        for path in (self.run / "eval" / self.row).glob("seed-*"):
            if (path / "summary.json").is_file() and path.name[5:].isdigit():
                found.append(int(path.name[5:]))
        return sorted(found)

    def targets(self) -> list[str]:
        report = self.run / "report.json"
        if report.is_file():
            return list(json.loads(report.read_text(encoding="utf-8"))["targets"])
        recipe = self.run / "recipe.yaml"
        if recipe.is_file():
            import yaml

            data = yaml.safe_load(recipe.read_text(encoding="utf-8")) or {}
            return [t for t in data.get("targets", []) if t != data.get("src", "en")]
        raise CompareError(f"{self.run}: no report.json or recipe.yaml to read the targets from; pass --langs")


@dataclass
class Comparison:
    a: str
    b: str
    seeds: list[int]
    langs: list[str]
    sentences: dict[str, int]
    f1_a: dict[str, tuple[float, float]]  # lang -> (mean, sd) over seeds, in [0, 1]
    f1_b: dict[str, tuple[float, float]]
    intervals: dict[str, Interval]  # lang -> interval of a - b; "avg" for the mean over langs
    level: float = 0.95
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "seeds": self.seeds, "langs": self.langs, "sentences": self.sentences,
                "level": self.level, "notes": self.notes,
                "f1_a": {k: {"mean": m, "sd": s} for k, (m, s) in self.f1_a.items()},
                "f1_b": {k: {"mean": m, "sd": s} for k, (m, s) in self.f1_b.items()},
                "difference": {k: v.to_dict() for k, v in self.intervals.items()}}

    def markdown(self) -> str:
        level = round(self.level * 100)
        lines = [f"A = {self.a}, B = {self.b}; seeds {', '.join(map(str, self.seeds))}; F1 % mean ± sd over "
                 f"seeds; Δ = A − B with a {level}% paired bootstrap interval over sentences "
                 f"({next(iter(self.intervals.values())).samples} resamples, seeds pooled); * = excludes 0.", "",
                 f"| lang | sentences | A | B | Δ [{level}% CI] |", "|---|---:|---:|---:|---:|"]
        for key in [*self.langs, "avg"]:
            if key not in self.intervals:
                continue
            ci = self.intervals[key]
            a, b = self.f1_a[key], self.f1_b[key]
            n = self.sentences.get(key, sum(self.sentences.values()))
            star = " *" if ci.significant else ""
            lines.append(f"| {key} | {n:,} | {_pct(a[0])} ± {_pct(a[1])} | {_pct(b[0])} ± {_pct(b[1])} "
                         f"| {_signed(ci.diff)} [{_signed(ci.low)}, {_signed(ci.high)}]{star} |")
        lines.extend(f"- {note}" for note in self.notes)
        return "\n".join(lines) + "\n"


def _counts(rr: RunRow, seeds: list[int], langs: list[str]) -> dict[int, dict[str, np.ndarray]]:
    out = {}
    for seed in seeds:
        counts = load_counts(rr.run / "eval" / rr.row / f"seed-{seed}", langs)
        if counts is None:
            missing = [lang for lang in langs
                       if not (rr.run / "eval" / rr.row / f"seed-{seed}" / lang / "sentence_counts.json").is_file()]
            raise CompareError(f"{rr.label} seed {seed}: no per-sentence counts for {', '.join(missing)}")
        out[seed] = counts
    return out


def compare_runs(a: str | RunRow, b: str | RunRow, langs: list[str] | None = None, samples: int = 1000,
                 seed: int = 0, level: float = 0.95, groups: dict[str, list[str]] | None = None) -> Comparison:
    """F1 of row A and row B (mean ± sd over their common seeds) and the paired bootstrap interval of
    A − B per language, for the mean over `langs` (default: A's targets) and for the mean over each
    of `groups` (name → languages among `langs`), all from the same counts read once."""
    ra = a if isinstance(a, RunRow) else RunRow.parse(a)
    rb = b if isinstance(b, RunRow) else RunRow.parse(b)
    sa, sb = ra.seeds(), rb.seeds()
    seeds = sorted(set(sa) & set(sb))
    if not seeds:
        raise CompareError(f"no seed evaluated in both runs ({ra.label}: {sa or 'none'}; {rb.label}: {sb or 'none'})")
    notes = []
    if sa != sb:
        notes.append(f"seeds in only one run left out: {sorted(set(sa) ^ set(sb))}")
    langs = list(langs or ra.targets())
    if not langs:
        raise CompareError("no languages to compare")
    ca, cb = _counts(ra, seeds, langs), _counts(rb, seeds, langs)
    sentences = {}
    for lang in langs:
        sizes = {len(c[lang]) for counts in (ca, cb) for c in counts.values()}
        if len(sizes) != 1:
            raise CompareError(f"{lang}: the runs scored different sentence sets (sizes {sorted(sizes)}); "
                               "paired intervals need the same evaluation sentences")
        sentences[lang] = sizes.pop()

    def seed_f1(counts: dict[int, dict[str, np.ndarray]], group: list[str]) -> tuple[float, float]:
        """Mean ± sd over seeds of the mean over `group` of micro F1 (one language or all)."""
        return mean_sd([float(np.mean([f1_from_counts(counts[s][lang].sum(0)) for lang in group])) for s in seeds])

    unknown = sorted({lang for members in (groups or {}).values() for lang in members} - set(langs))
    if unknown:
        raise CompareError(f"groups name languages not compared: {', '.join(unknown)}")
    groups = {lang: [lang] for lang in langs} | ({"avg": langs} if len(langs) > 1 else {}) | (groups or {})
    f1_a = {key: seed_f1(ca, group) for key, group in groups.items()}
    f1_b = {key: seed_f1(cb, group) for key, group in groups.items()}
    intervals = {key: paired_bootstrap(ca, cb, group, samples, seed=seed, level=level) for key, group in groups.items()}
    return Comparison(ra.label, rb.label, seeds, langs, sentences, f1_a, f1_b, intervals, level, notes)
