"""A pipeline recipe: one YAML file that fixes data, encoder, steps budget and rows of a comparison.

Sections pass straight through to the library configs (`codeswitch:` → `cslib.BuildConfig`,
`unlabeled:` → `cslib.UnlabeledConfig`, `train:` → `ner.training.config.TrainConfig`, `self_train:` →
`ner.training.config.SelfTrainConfig`, `mine:` → `ner.inference.mine_entities.MineConfig`), so a key means the same thing here as on the command line of
`cslib build` / `ner train`. Every key is checked when the recipe is loaded, not an hour into the
run: a typo in an ablation setting would silently change the experiment.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cslib import BuildConfig, UnlabeledConfig, UserError
from cslib.errors import CslibError
from cslib.languages import get_language
from ner.diagnostics import DiagnoseConfig
from ner.errors import NerError
from ner.inference.mine_entities import MineConfig
from ner.training.config import SelfTrainConfig, TrainConfig, from_dict, read_yaml
from pipelines.rows import DEFAULT_ROWS, ROWS, VARIANT_KEYS, VARIANT_SECTIONS, Row, variant_row
from pipelines.study import (
    SECTIONS,
    Split,
    Study,
    StudyError,
    get_path,
    parse_split,
    parse_study,
    row_takes,
    same_value,
    section_default,
    settings_slug,
)


class RecipeError(UserError):
    """A recipe that cannot run; the message is one line naming the file and key."""


#: Recipe fields the loader fills, never read from YAML.
NOT_YAML = frozenset({"path", "sweeps", "halves", "generated"})


# Keys a recipe may not set in a section because the pipeline owns them.
_OWNED = {
    "codeswitch": {"src", "tgt", "out", "data_root", "seed", "workers", "overwrite"},
    "unlabeled": {"lang", "out", "data_root", "workers", "overwrite", "file"},
    "train": {"shards", "out", "seed", "data_root", "pseudo", "init_from", "resume", "target_pairs"},
    "target_view": {"src", "tgt", "input", "out", "data_root", "seed", "workers", "overwrite"},
    "self_train": {"teacher", "unlabeled", "out"},
    "diagnose": {"run", "out", "data_root", "amp"},
}


@dataclass
class ExtraEval:
    """A labeled file every row and seed is also evaluated on (`eval.extra`), as `ner evaluate --file` does."""

    name: str  # how the report names it (and its folder under eval_extra/ROW/seed-S/)
    file: str  # path under the data root (e.g. conll2002/es.dev.txt)
    lang: str  # its language
    format: str = "auto"  # auto | panx | conll
    encoding: str | None = None  # default utf-8 (the mirror's CoNLL-2002 files are UTF-8)
    drop_types: list[str] = field(default_factory=list)  # gold types counted as O (MISC: PAN-X has none)
    limit: int | None = None  # first N sentences (None = all)


@dataclass
class EvalSettings:
    split: str = "dev"
    limit: int | None = None  # sentences per language (None or <= 0 = the whole split)
    batch_size: int = 64
    amp: str = "auto"  # inference precision (ner evaluate --amp); bf16 is faster on CPUs that have it
    bootstrap: int = 1000  # paired bootstrap resamples for the confidence intervals (0 = none)
    level: float = 0.95  # confidence level of the intervals
    extra: list[ExtraEval] = field(default_factory=list)  # labeled files evaluated besides PAN-X


@dataclass
class Recipe:
    name: str
    targets: list[str]
    src: str = "en"
    description: str = ""
    out: str | None = None  # default runs/NAME
    data_root: str | None = None  # default $CSLIB_DATA_ROOT, then the remote sources
    seed: int = 13  # code-switching seed, and the training seed when `seeds` is not given
    # Training seeds: every row is trained and evaluated once per seed, and the report gives
    # mean ± sd over them (one seed cannot separate an ingredient's effect from training noise).
    seeds: list[int] | None = None
    workers: int = 2  # processes for shard building
    rows: list[str] = field(default_factory=lambda: list(DEFAULT_ROWS))
    # Rows of this recipe only: NAME -> {row: BASE, train: {TrainConfig settings}, label, teacher}
    # (`pipelines.rows.variant_row`): BASE with other settings, listed in `rows:` by NAME.
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    codeswitch: dict[str, Any] = field(default_factory=dict)  # BuildConfig fields for every target
    codeswitch_by_lang: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-target extras
    unlabeled: dict[str, Any] = field(default_factory=dict)
    # BuildConfig fields of the target view's shards (`cslib build --task text --src XX --tgt SRC` over
    # each target's unlabeled pool); built when a row has `semantic_target_weight > 0`.
    target_view: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    self_train: dict[str, Any] = field(default_factory=dict)
    mine: dict[str, Any] = field(default_factory=dict)  # ner.inference.mine_entities.MineConfig fields (row 7)
    # `ner diagnose` of every row (ner.diagnostics.DiagnoseConfig fields, plus `seeds: first | all`);
    # `langs` defaults to ja and zh among the targets (else the first target); null turns it off.
    diagnose: dict[str, Any] | None = field(default_factory=dict)
    eval: EvalSettings = field(default_factory=EvalSettings)
    # Settings swept over values (`pipelines.study`): [{name, setting, values, rows, default, label}, ...]; each
    # value other than the default is a generated variant of every swept row.
    studies: list[dict[str, Any]] = field(default_factory=list)
    # Choose a study's best value on one half of the targets, confirm it on the other: {choose: [...], confirm: [...]}.
    split: dict[str, list[str]] | None = None
    path: str = ""  # where it was loaded from (not a YAML key)
    # Not YAML keys either: the parsed studies, the halves of `split`, and the variants the studies generate
    # (NAME -> variant settings, as `variants:` entries; their names are in `rows`).
    sweeps: list[Study] = field(default_factory=list)
    halves: Split | None = None
    generated: dict[str, dict[str, Any]] = field(default_factory=dict)

    def out_dir(self) -> Path:
        return Path(self.out or f"runs/{self.name}")

    def eval_langs(self) -> list[str]:
        return [self.src] + [t for t in self.targets if t != self.src]

    def training_seeds(self) -> list[int]:
        return list(self.seeds) if self.seeds else [self.seed]

    def spec(self, row: str) -> Row:
        """The row named `row`: one of `pipelines.rows.ROWS`, or one of this recipe's `variants`."""
        if row in ROWS:
            return ROWS[row]
        return variant_row(row, self.variants[row] if row in self.variants else self.generated[row])

    def is_variant(self, row: str) -> bool:
        """A row of this recipe only (`variants:`, or a study's value): compared with its base row."""
        return row in self.variants or row in self.generated

    def listed_rows(self) -> list[str]:
        """The rows as the recipe lists them (without the rows its studies generate)."""
        return [row for row in self.rows if row not in self.generated]

    def data_root_dir(self) -> Path | None:
        """The local mirror: `data_root`, else $CSLIB_DATA_ROOT (None: neither is set)."""
        root = self.data_root or os.environ.get("CSLIB_DATA_ROOT")
        return Path(root) if root else None

    def extra_eval_path(self, extra: ExtraEval) -> Path:
        root = self.data_root_dir()
        if root is None:
            raise RecipeError(f"{self.path}: eval.extra needs a local mirror (--data-root or $CSLIB_DATA_ROOT)")
        return root / extra.file

    # --- configs for the library ------------------------------------------------------------------

    def build_config(self, tgt: str, mode: str, extra: dict[str, Any] | None = None) -> BuildConfig:
        """`cslib build`'s config of `tgt`: the recipe's `codeswitch:`, the target's `codeswitch_by_lang:` and a
        variant's `codeswitch` settings (`extra`: shards of their own, in data/cs-variants/SETTINGS/)."""
        fields = {**self.codeswitch, **self.codeswitch_by_lang.get(tgt, {}), **(extra or {})}
        fields.setdefault("mode", mode)
        base = self.out_dir() / "data" / ("cs-variants/" + settings_slug(extra) if extra else "cs")
        return BuildConfig(src=self.src, tgt=tgt, out=str(base / f"{self.src}-{tgt}"),
                           data_root=self.data_root, seed=self.seed, workers=self.workers, **fields)

    def unlabeled_config(self, lang: str, extra: dict[str, Any] | None = None) -> UnlabeledConfig:
        """`cslib unlabeled`'s config: the recipe's `unlabeled:` and a variant's `unlabeled` settings (`extra`:
        a pool of its own, in data/unlabeled-variants/SETTINGS/)."""
        base = self.out_dir() / "data" / ("unlabeled-variants/" + settings_slug(extra) if extra else "unlabeled")
        return UnlabeledConfig(lang=lang, out=str(base / lang), data_root=self.data_root, workers=self.workers,
                               **{**self.unlabeled, **(extra or {})})

    def target_view_config(self, tgt: str, unlabeled_dir: str) -> BuildConfig:
        """The target view of `tgt`: its unlabeled pool code-switched into the source language."""
        return BuildConfig(src=tgt, tgt=self.src, input=unlabeled_dir, data_root=self.data_root, seed=self.seed,
                           workers=self.workers, out=str(self.out_dir() / "data" / "target_view" / f"{tgt}-{self.src}"),
                           **self.target_view)

    def uses_target_view(self) -> bool:
        return any(self.train_config(row, ["-"]).semantic_target_weight > 0 for row in self.rows)

    def train_config(self, row: str, shards: list[str], seed: int | None = None,
                     target_pairs: list[str] | None = None, extra: dict[str, Any] | None = None) -> TrainConfig:
        """`ner train`'s config of `row`: the row's defaults, the recipe's `train:`, the row's own settings, a
        variant's settings and `extra` (a self-training variant's, over its student's), each over the one before."""
        spec = self.spec(row)
        settings = _merge(_merge(_merge(spec.defaults, self.train), spec.train_overrides), spec.variant_train)
        settings = _merge(settings, extra or {})
        cfg = from_dict(TrainConfig, settings, self.path or "recipe", prefix="train.")
        cfg.seed = self.seed if seed is None else seed
        cfg.shards = shards
        if cfg.semantic_target_weight > 0:
            cfg.target_pairs = list(target_pairs or ["-"])
        cfg.out = str(self.out_dir() / "rows" / row / f"seed-{cfg.seed}")
        cfg.data_root = self.data_root
        if cfg.eval_langs is None:
            cfg.eval_langs = [self.src]  # model selection on source dev only: no target labels are used
        return cfg

    def diagnose_seeds(self) -> list[int]:
        """Training seeds whose models are diagnosed: the first one, or all with `diagnose.seeds: all`."""
        if self.diagnose is None:
            return []
        seeds = self.training_seeds()
        return seeds if self.diagnose.get("seeds", "first") == "all" else seeds[:1]

    def diagnose_config(self, run: str, row: str, seed: int) -> DiagnoseConfig:
        settings = {k: v for k, v in (self.diagnose or {}).items() if k != "seeds"}
        langs = settings.pop("langs", None) or ([t for t in ("ja", "zh") if t in self.targets] or self.targets[:1])
        out = str(self.out_dir() / "diagnostics" / row / f"seed-{seed}")
        return DiagnoseConfig(run=run, langs=list(langs), out=out, data_root=self.data_root,
                              amp=self.eval.amp, **settings)

    def mine_config(self) -> MineConfig:
        return MineConfig(**{k: v for k, v in self.mine.items() if k not in ("teacher", "limit")})

    def mine_unlabeled_config(self, lang: str) -> UnlabeledConfig | None:
        """`mine.limit`: mine a larger pool than self-training's (same source, dev sentences left out);
        None: mine the self-training pool. Few entities recur in a few hundred sentences."""
        if self.mine.get("limit") is None:
            return None
        cfg = self.unlabeled_config(lang)
        cfg.limit = self.mine["limit"]
        cfg.out = str(self.out_dir() / "data" / "unlabeled-mine" / lang)
        return cfg

    def mine_teacher(self, row: str | None = None) -> str:
        """The row whose model mines the entities of `row` (default: the row with mined shards):
        `mine.teacher`, else the first of the row's `mine_with` in this recipe, else its teacher."""
        spec = self.spec(row) if row else next(r for r in ROWS.values() if r.shards == "mined")
        return self.mine.get("teacher") or next((r for r in spec.mine_with if r in self.rows), spec.teacher or "")

    def mined_build_config(self, tgt: str, mode: str, lexicon: str, seed: int) -> BuildConfig:
        """Row 7's shards: the target's usual build, with switched entities replaced by mined ones."""
        cfg = self.build_config(tgt, mode)
        cfg.entity_lexicon, cfg.entity_mode = lexicon, "replace"
        cfg.out = str(self.out_dir() / "data" / "cs-mined" / f"seed-{seed}" / f"{self.src}-{tgt}")
        return cfg

    def model_config(self, row: str, shards: list[str], seed: int, target_pairs: list[str] | None = None,
                     teacher: str = "", unlabeled: list[str] | None = None) -> TrainConfig | SelfTrainConfig:
        """The library config that makes `row`'s model for `seed` (`ROWS[row].method`): `ner train`'s,
        or `ner self-train`'s with `teacher`'s model labelling `unlabeled` and a student with the settings
        of the teacher row, or `ner train`'s from `teacher`'s model with that student's steps and
        settings, shards only (row 8, the control of row 6: row 6 minus row 8 is what the pseudo-labels
        add, row 8 minus row 5 what the extra steps add)."""
        spec = self.spec(row)
        if spec.method == "train":
            return self.train_config(row, shards, seed, target_pairs)
        if spec.teacher is None or spec.method not in ("self_train", "continue"):
            raise RecipeError(f"rows: {row}: method {spec.method!r} needs a teacher row")
        student = self.train_config(spec.teacher, shards, seed, target_pairs, extra=spec.variant_train)
        cfg = self.self_train_config(teacher, list(unlabeled or []), student, spec.variant_self_train)
        cfg.out = str(self.out_dir() / "rows" / row / f"seed-{seed}")
        if spec.method == "self_train":
            return cfg
        return dataclasses.replace(cfg.train, init_from=teacher, pseudo=[], out=cfg.out)

    def self_train_config(self, teacher: str, unlabeled: list[str], student: TrainConfig,
                          extra: dict[str, Any] | None = None) -> SelfTrainConfig:
        """`ner self-train`'s config: the recipe's `self_train:` settings and a variant's (`extra`) around
        `student` (their nested `train:` settings win over the student's); `out` is the caller's."""
        settings = _merge(self.self_train, extra or {})
        student_overrides = settings.pop("train", {}) or {}
        cfg = from_dict(SelfTrainConfig, settings, self.path or "recipe", prefix="self_train.")
        cfg.teacher, cfg.unlabeled = teacher, unlabeled
        student_dict = _merge(dataclasses.asdict(student), student_overrides)
        cfg.train = from_dict(TrainConfig, student_dict, self.path or "recipe", prefix="self_train.train.")
        return cfg


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def mirror_languages(data_root: str | None) -> list[str]:
    """PAN-X languages with a dev split in the local mirror (for `targets: all`)."""
    root = data_root or os.environ.get("CSLIB_DATA_ROOT")
    if not root:
        raise RecipeError("targets: all needs a local mirror (--data-root or $CSLIB_DATA_ROOT)")
    return sorted(p.stem[4:] for p in (Path(root) / "panx").glob("dev-*.tsv"))


def load_recipe(path: str | os.PathLike[str], **overrides: Any) -> Recipe:
    """Read and check a recipe; `overrides` (out, data_root, ...) replace top-level keys."""
    p = Path(path)
    try:
        data = read_yaml(p)
    except NerError as exc:
        raise RecipeError(str(exc).replace("config file", "recipe")) from None
    data.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(Recipe)} - NOT_YAML
    for key in data:
        if key not in known:
            raise RecipeError(f"{p}: unknown key {key!r} (known: {', '.join(sorted(known))})")
    for key in ("name", "targets"):
        if key not in data:
            raise RecipeError(f"{p}: missing required key {key!r}")
    ev = data.pop("eval", None) or {}
    try:
        extra = [_extra_eval(e, k) for k, e in enumerate(ev.pop("extra", None) or [])]
        recipe = Recipe(**data, eval=EvalSettings(**ev, extra=extra), path=str(p))
    except TypeError as exc:
        raise RecipeError(f"{p}: eval: {str(exc).split('__init__() ')[-1]}") from None
    seeds = recipe.seeds
    if seeds is not None and (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
                              or not all(isinstance(x, int) and not isinstance(x, bool) for x in seeds)):
        raise RecipeError(f"{p}: seeds must be a non-empty list of distinct integers, got {seeds!r}")
    if not isinstance(recipe.eval.bootstrap, int) or recipe.eval.bootstrap < 0:
        raise RecipeError(f"{p}: eval.bootstrap must be an integer >= 0, got {recipe.eval.bootstrap!r}")
    if not 0 < recipe.eval.level < 1:
        raise RecipeError(f"{p}: eval.level must be in (0, 1), got {recipe.eval.level!r}")
    if recipe.targets == "all":
        recipe.targets = [lang for lang in mirror_languages(recipe.data_root) if lang != recipe.src]
    if not isinstance(recipe.targets, list) or not recipe.targets:
        raise RecipeError(f"{p}: targets must be a non-empty list of language codes or 'all'")
    try:
        for lang in [recipe.src, *recipe.targets, *recipe.codeswitch_by_lang]:
            get_language(lang)
    except CslibError as exc:
        raise RecipeError(f"{p}: {exc}") from None
    _check_variants(recipe, p)
    for row in recipe.rows:
        if row not in ROWS and row not in recipe.variants:
            raise RecipeError(f"{p}: rows: unknown row {row!r} (known: {', '.join([*ROWS, *recipe.variants])})")
    for row in recipe.rows:
        teacher = recipe.spec(row).teacher
        if teacher is not None and teacher not in recipe.rows:
            raise RecipeError(f"{p}: rows: {row} needs {teacher} (its teacher)")
    for section, owned in _OWNED.items():
        for key in getattr(recipe, section) or {}:
            if key in owned:
                raise RecipeError(f"{p}: {section}.{key} is set by the pipeline, not the recipe")
    _add_studies(recipe, p)
    recipe.rows = sorted(recipe.rows, key=lambda r: recipe.spec(r).number)  # a row's teacher always runs first
    _check_sections(recipe, p)
    return recipe


def _extra_eval(entry: Any, k: int) -> ExtraEval:
    if not isinstance(entry, dict):
        raise TypeError(f"extra[{k}] must be a mapping (name, file, lang, format, encoding, drop_types, limit)")
    try:
        return ExtraEval(**entry)
    except TypeError as exc:
        raise TypeError(f"extra[{k}]: {str(exc).split('__init__() ')[-1]}") from None


_NAME = re.compile(r"[a-z][a-z0-9_.-]*\Z")


def _check_variants(recipe: Recipe, p: Path) -> None:
    """`variants:` names a new row each, from a known row, with known keys and a teacher before it."""
    if not isinstance(recipe.variants, dict):
        raise RecipeError(f"{p}: variants must be a mapping NAME: {{row: ROW, train: {{...}}, label: ..., teacher: ...}}")
    for name, v in recipe.variants.items():
        where = f"{p}: variants.{name}"
        if not isinstance(name, str) or not _NAME.match(name) or name in ROWS:
            raise RecipeError(f"{where}: a variant needs a new lowercase name (letters, digits, _ . -), not a row's")
        if not isinstance(v, dict) or v.get("row") not in ROWS:
            raise RecipeError(f"{where}: needs row: one of {', '.join(ROWS)}")
        unknown = sorted(set(v) - set(VARIANT_KEYS))
        if unknown:
            raise RecipeError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(VARIANT_KEYS)})")
        for section in VARIANT_SECTIONS:
            if not isinstance(v.get(section) or {}, dict):
                raise RecipeError(f"{where}.{section} must be a mapping of {SECTIONS[section].__name__} settings")
            for key in v.get(section) or {}:
                if key in _OWNED[section]:
                    raise RecipeError(f"{where}.{section}.{key} is set by the pipeline, not the recipe")
                if not row_takes(ROWS[v["row"]], section, key):
                    raise RecipeError(f"{where}.{section}.{key}: row {v['row']} does not read it")
    for name, v in recipe.variants.items():
        where = f"{p}: variants.{name}"
        teacher = v.get("teacher")
        if teacher is not None:
            if ROWS[v["row"]].teacher is None:
                raise RecipeError(f"{where}: teacher: row {v['row']} has no teacher to replace")
            if teacher not in ROWS and teacher not in recipe.variants:
                raise RecipeError(f"{where}: teacher: unknown row {teacher!r}")
            if recipe.spec(teacher).number >= ROWS[v["row"]].number:
                raise RecipeError(f"{where}: teacher {teacher!r} is not a row before {v['row']}")


def _effective(recipe: Recipe, row: str, section: str) -> Any:
    """The library config whose field a `train` or `self_train` study sets in `row`: the row's `ner train`
    config, or for a self-training / continued row its `ner self-train` config (the student's in `.train`)."""
    spec = recipe.spec(row)
    if spec.method == "train":
        return recipe.train_config(row, ["-"])
    student = recipe.train_config(spec.teacher or row, ["-"], extra=spec.variant_train)
    cfg = recipe.self_train_config("-", ["-"], student, spec.variant_self_train)
    return cfg.train if section == "train" else cfg


def _study_value(recipe: Recipe, study: Study, row: str) -> Any:
    """The value `study`'s setting has in `row` (the variant of a value, or the row itself: its default)."""
    if study.section in ("codeswitch", "unlabeled"):
        spec = recipe.spec(row)
        section = spec.variant_codeswitch if study.section == "codeswitch" else spec.variant_unlabeled
        return section_default(_merge(getattr(recipe, study.section), section), SECTIONS[study.section], study.key)
    return get_path(_effective(recipe, row, study.section), study.key)


def _add_studies(recipe: Recipe, p: Path) -> None:
    """Parse `studies:` and `split:`, and add every study's values as generated variants of its rows."""
    if not isinstance(recipe.studies, list):
        raise RecipeError(f"{p}: studies must be a list of {{name, setting, values, rows, default, label}}")
    try:
        recipe.halves = parse_split(recipe.split, recipe.targets)
        studies = [parse_study(entry, k, recipe.rows, _OWNED) for k, entry in enumerate(recipe.studies)]
    except StudyError as exc:
        raise RecipeError(f"{p}: {exc}") from None
    if recipe.halves and not studies:
        raise RecipeError(f"{p}: split needs studies (it chooses a study's value on one half of the targets)")
    names = [s.name for s in studies]
    for study in studies:
        where = f"{p}: studies.{study.name}"
        if names.count(study.name) > 1:
            raise RecipeError(f"{where}: two studies have this name")
        for row in study.rows:
            if not row_takes(recipe.spec(row), study.section, study.key):
                raise RecipeError(f"{where}: row {row} does not read {study.setting} (it changes "
                                  + {"codeswitch": "rows that read the usual shards",
                                     "unlabeled": "self-training rows"}.get(study.section, "self-training rows") + ")")
        try:
            defaults = {row: _study_value(recipe, study, row) for row in study.rows}
        except NerError as exc:
            raise RecipeError(f"{where}: {exc}") from None
        default = defaults[study.rows[0]]
        if any(not same_value(v, default) for v in defaults.values()):
            raise RecipeError(f"{where}: its rows differ in {study.setting} ("
                              + ", ".join(f"{r} {v!r}" for r, v in defaults.items()) + "); sweep them in two studies")
        given = recipe.studies[names.index(study.name)].get("default", default)
        if not same_value(given, default):
            raise RecipeError(f"{where}: default {given!r} is not what the rows have ({study.setting} {default!r}); "
                              f"set {study.setting} in the recipe to change it")
        study = dataclasses.replace(study, default=default)
        if not any(study.is_default(v) for v in study.values):
            raise RecipeError(f"{where}: values {study.values!r} do not include the default {default!r}")
        recipe.sweeps.append(study)
        for value in study.values:
            for row in study.rows:
                name = study.variant(row, value)
                if name == row:
                    continue
                if name in recipe.rows or name in recipe.generated:
                    raise RecipeError(f"{where}: row name {name!r} is taken")
                base = copy.deepcopy(recipe.variants.get(row) or {"row": row})
                base[study.section] = _merge(base.get(study.section) or {}, study.overrides(value))
                teacher = recipe.spec(row).teacher
                if teacher in study.rows:  # the value's teacher, when the study sweeps the teacher too
                    base["teacher"] = study.variant(teacher, value)
                base["label"] = f"{recipe.spec(row).label}; {study.setting} {value}"
                recipe.generated[name] = base
                recipe.rows.append(name)
                try:
                    got = _study_value(recipe, study, name)
                    if study.section == "codeswitch":
                        recipe.build_config(recipe.targets[0], "dict", recipe.spec(name).variant_codeswitch).validate()
                    elif study.section == "unlabeled":
                        recipe.unlabeled_config(recipe.targets[0], recipe.spec(name).variant_unlabeled)
                    else:
                        cfg = _effective(recipe, name, study.section)
                        (cfg if study.section == "self_train" or recipe.spec(name).method == "train"
                         else _effective(recipe, name, "self_train")).validate()
                except (TypeError, NerError, CslibError) as exc:
                    raise RecipeError(f"{where}: value {value!r}: {str(exc).split('__init__() ')[-1]}") from None
                if not same_value(got, value):
                    raise RecipeError(f"{where}: value {value!r} does not reach row {row} ({study.setting} stays "
                                      f"{got!r}: another section of the recipe sets it for that row)")


def _check_extra_eval(recipe: Recipe, p: Path) -> None:
    """Every `eval.extra` file exists under the data root, with a known language, format and a unique name."""
    seen: set[str] = set()
    for k, extra in enumerate(recipe.eval.extra):
        where = f"{p}: eval.extra[{k}]"
        if not isinstance(extra.name, str) or not _NAME.match(extra.name) or extra.name in seen:
            raise RecipeError(f"{where}: name {extra.name!r} must be a new lowercase name (letters, digits, _ . -)")
        seen.add(extra.name)
        if extra.format not in ("auto", "panx", "conll"):
            raise RecipeError(f"{where}: format {extra.format!r} (use auto, panx or conll)")
        if not isinstance(extra.drop_types, list) or not all(isinstance(t, str) for t in extra.drop_types):
            raise RecipeError(f"{where}: drop_types must be a list of entity types, e.g. [MISC]")
        try:
            get_language(extra.lang)
        except CslibError as exc:
            raise RecipeError(f"{where}: {exc}") from None
        path = recipe.extra_eval_path(extra)
        if not path.is_file():
            raise RecipeError(f"{where}: {extra.file}: file not found under {recipe.data_root_dir()}")


def _check_sections(recipe: Recipe, p: Path) -> None:
    """Build every library config once so that a bad key fails now, naming the section."""
    for section, make in (("codeswitch", lambda: recipe.build_config(recipe.targets[0], "dict")),
                          ("unlabeled", lambda: recipe.unlabeled_config(recipe.targets[0]))):
        try:
            make()
        except TypeError as exc:
            raise RecipeError(f"{p}: {section}: {str(exc).split('__init__() ')[-1]}") from None
    if recipe.target_view:
        try:
            recipe.target_view_config(recipe.targets[0], "-")
        except TypeError as exc:
            raise RecipeError(f"{p}: target_view: {str(exc).split('__init__() ')[-1]}") from None
    for lang in recipe.codeswitch_by_lang:
        try:
            recipe.build_config(lang, "dict")
        except TypeError as exc:
            raise RecipeError(f"{p}: codeswitch_by_lang.{lang}: {str(exc).split('__init__() ')[-1]}") from None
    for name in recipe.variants:
        spec = recipe.spec(name)
        try:
            if spec.variant_codeswitch:
                recipe.build_config(recipe.targets[0], "dict", spec.variant_codeswitch)
            if spec.variant_unlabeled:
                recipe.unlabeled_config(recipe.targets[0], spec.variant_unlabeled)
        except TypeError as exc:
            raise RecipeError(f"{p}: variants.{name}: {str(exc).split('__init__() ')[-1]}") from None
    _check_extra_eval(recipe, p)
    try:
        for row in [*recipe.rows, *(v for v in recipe.variants if v not in recipe.rows)]:
            cfg = recipe.train_config(row, ["-"])
            cfg.validate()
            spec = recipe.spec(row)
            if spec.method != "train":  # self-training, or its student's settings without it
                student = recipe.train_config(spec.teacher or row, ["-"], extra=spec.variant_train)
                recipe.self_train_config("-", ["-"], student, spec.variant_self_train).validate()
    except NerError as exc:
        raise RecipeError(str(exc) if str(exc).startswith(str(p)) else f"{p}: {exc}") from None
    if recipe.diagnose is not None:
        if not isinstance(recipe.diagnose, dict) or recipe.diagnose.get("seeds", "first") not in ("first", "all"):
            raise RecipeError(f"{p}: diagnose must be a mapping of ner diagnose settings (seeds: first or all) or null")
        try:
            recipe.diagnose_config("-", recipe.rows[0], recipe.training_seeds()[0]).validate()
        except TypeError as exc:
            raise RecipeError(f"{p}: diagnose: {str(exc).split('__init__() ')[-1]}") from None
        except NerError as exc:
            raise RecipeError(f"{p}: diagnose: {exc}") from None
    if not isinstance(recipe.mine, dict):
        raise RecipeError(f"{p}: mine must be a mapping of ner.inference.mine_entities.MineConfig fields")
    try:
        recipe.mine_config()
    except TypeError as exc:
        raise RecipeError(f"{p}: mine: {str(exc).split('__init__() ')[-1]}") from None
    for row in (r for r in recipe.rows if recipe.spec(r).shards == "mined"):
        teacher = recipe.mine_teacher(row)
        if teacher not in recipe.rows or recipe.spec(teacher).number >= recipe.spec(row).number:
            raise RecipeError(f"{p}: mine.teacher {teacher!r} is not one of this recipe's rows before {row}")
