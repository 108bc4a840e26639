"""Studies: one setting swept over values, each value a generated row variant of the recipe.

A recipe's `studies:` names a setting by its path in the recipe's sections (`codeswitch.ratio`,
`unlabeled.limit`, `train.max_steps`, `self_train.threshold`, ...), its values and the rows it
varies. Every value other than the default becomes, for every swept row, a variant of that row
(`pipelines.rows.variant_row`) with the value in the variant's section of the same name; the default
is the row itself. Everything else follows from the plan's fingerprints: a `train.*` value trains on
the usual shards, a `codeswitch.*` value builds shards of its own (shared by the rows of that value), an
`unlabeled.*` value builds pools of its own, and the steps that do not read them stay cached.

    studies:
      - {name: ratio, setting: codeswitch.ratio, values: [0.1, 0.3, 0.5, 0.8, 0.9], rows: [relation_contrastive]}
    split: {choose: [de, ru, zh], confirm: [es, ar, ja]}   # choose the best value on one half, confirm on the other
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from cslib import BuildConfig, UnlabeledConfig
from ner.training.config import SelfTrainConfig, TrainConfig
from pipelines.rows import Row

#: The recipe sections a study may sweep, and the library config each one fills.
SECTIONS: dict[str, type] = {"codeswitch": BuildConfig, "unlabeled": UnlabeledConfig, "train": TrainConfig,
                             "self_train": SelfTrainConfig}
STUDY_KEYS = ("name", "setting", "values", "rows", "default", "label")
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


class StudyError(ValueError):
    """A bad `studies:` or `split:` entry; the recipe loader prefixes the file name."""


@dataclass(frozen=True)
class Study:
    """One setting swept over `values` for `rows`; `default` is the value the rows have without the study."""

    name: str
    setting: str  # SECTION.KEY[.KEY]: codeswitch.ratio, train.model.dropout, self_train.threshold
    values: list[Any]
    rows: list[str]
    default: Any
    label: str = ""  # the curve's x axis (default: the setting)

    @property
    def section(self) -> str:
        return self.setting.split(".", 1)[0]

    @property
    def key(self) -> str:
        """The setting's path inside its section (`ratio`, `model.dropout`)."""
        return self.setting.split(".", 1)[1]

    def overrides(self, value: Any) -> dict[str, Any]:
        """The section settings that give `value`: {"ratio": 0.1}, {"model": {"dropout": 0.2}}."""
        out: Any = value
        for part in reversed(self.key.split(".")):
            out = {part: out}
        return out

    def is_default(self, value: Any) -> bool:
        return same_value(value, self.default)

    def variant(self, row: str, value: Any) -> str:
        """The row that trains `row` with `value` (the row itself for the default)."""
        return row if self.is_default(value) else f"{row}.{self.name}-{value_slug(value).lower()}"

    def numeric(self) -> bool:
        """Whether the values can be an x axis of numbers (else: categories in the order given)."""
        return all(isinstance(v, int | float) and not isinstance(v, bool) for v in self.values)


@dataclass(frozen=True)
class Split:
    """Choose a study's best value on `choose`, measure it against the default on `confirm` (disjoint targets)."""

    choose: list[str] = field(default_factory=list)
    confirm: list[str] = field(default_factory=list)


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return a == b


def value_slug(value: Any) -> str:
    """A value as part of a step, row or folder name: 0.1, 1000, dict+align, null, true, none (an empty list)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, list | tuple):
        return "_".join(value_slug(v) for v in value) or "none"
    if isinstance(value, dict):
        return "_".join(f"{k}-{value_slug(v)}" for k, v in sorted(value.items())) or "none"
    return re.sub(r"[^A-Za-z0-9.+-]", "_", str(value))


def settings_slug(section: dict[str, Any]) -> str:
    """A variant's section settings as a folder name: `ratio-0.1`, `limit-4000`, `mode-dict+align_ratio-0.5`."""
    flat: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for k, v in sorted(value.items()):
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            flat.append(f"{prefix}-{value_slug(value)}")

    walk("", section)
    return "_".join(flat)


def _field_default(cls: type, name: str) -> Any:
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]


def resolve_setting(setting: Any, owned: dict[str, set[str]]) -> None:
    """Check that `setting` names a field of a section's library config (nested configs by dots), not one
    the pipeline owns; raises StudyError naming what is wrong."""
    if not isinstance(setting, str) or "." not in setting:
        raise StudyError(f"setting {setting!r} must be SECTION.KEY with SECTION one of {', '.join(SECTIONS)}")
    section, *keys = setting.split(".")
    if section not in SECTIONS:
        raise StudyError(f"unknown setting {setting!r}: section {section!r} is not one of {', '.join(SECTIONS)}")
    if keys[0] in owned.get(section, set()):
        raise StudyError(f"setting {setting!r} is set by the pipeline, not a study")
    cls: Any = SECTIONS[section]
    for depth, key in enumerate(keys):
        names = {f.name: f for f in dataclasses.fields(cls)}
        if key not in names:
            raise StudyError(f"unknown setting {setting!r}: {'.'.join([section, *keys[:depth + 1]])} is not a "
                             f"{cls.__name__} field")
        factory = names[key].default_factory
        nested = factory if dataclasses.is_dataclass(factory) else None
        if depth < len(keys) - 1:
            if nested is None:
                raise StudyError(f"unknown setting {setting!r}: {key} has no fields of its own")
            cls = nested
        elif nested is not None:
            raise StudyError(f"setting {setting!r} is a whole config; name one of its fields ({setting}.KEY)")


def section_default(section: dict[str, Any], cls: type, key: str) -> Any:
    """The value of `key` (dotted) in a recipe section, else the library config's default."""
    value: Any = section
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            break
        value = value[part]
    else:
        return value
    *parents, last = key.split(".")
    for part in parents:
        cls = next(f for f in dataclasses.fields(cls) if f.name == part).default_factory  # type: ignore[assignment]
    return _field_default(cls, last)


def parse_study(entry: Any, k: int, rows: list[str], owned: dict[str, set[str]]) -> Study:
    """A `studies:` entry, checked for its keys, setting path and values; `default` is filled by the loader."""
    if not isinstance(entry, dict):
        raise StudyError(f"studies[{k}] must be a mapping ({', '.join(STUDY_KEYS)})")
    name = entry.get("name")
    where = f"studies.{name}" if isinstance(name, str) else f"studies[{k}]"
    unknown = sorted(set(entry) - set(STUDY_KEYS))
    if unknown:
        raise StudyError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(STUDY_KEYS)})")
    if not isinstance(name, str) or not _NAME.match(name):
        raise StudyError(f"{where}: name must be lowercase letters, digits and _ (e.g. ratio)")
    try:
        resolve_setting(entry.get("setting"), owned)
    except StudyError as exc:
        raise StudyError(f"{where}: {exc}") from None
    values = entry.get("values")
    if not isinstance(values, list) or len(values) < 2:
        raise StudyError(f"{where}: values must be a list of at least two values")
    slugs = [value_slug(v).lower() for v in values]
    if len(set(slugs)) != len(slugs):
        dup = next(v for v, s in zip(values, slugs, strict=True) if slugs.count(s) > 1)
        raise StudyError(f"{where}: value {dup!r} is listed twice (or names the same folder as another)")
    swept = entry.get("rows", rows[-1:])
    if not isinstance(swept, list) or not swept:
        raise StudyError(f"{where}: rows must be a non-empty list of the recipe's rows")
    for row in swept:
        if row not in rows:
            raise StudyError(f"{where}: row {row!r} is not one of the recipe's rows ({', '.join(rows)})")
    return Study(name, entry["setting"], list(values), list(swept), entry.get("default"), str(entry.get("label") or ""))


def parse_split(data: Any, targets: list[str]) -> Split | None:
    if data is None:
        return None
    if not isinstance(data, dict) or set(data) != {"choose", "confirm"}:
        raise StudyError("split must be a mapping {choose: [TARGET, ...], confirm: [TARGET, ...]}")
    for key in ("choose", "confirm"):
        langs = data[key]
        if not isinstance(langs, list) or not langs:
            raise StudyError(f"split.{key} must be a non-empty list of targets")
        for lang in langs:
            if lang not in targets:
                raise StudyError(f"split.{key}: {lang!r} is not one of the targets")
    both = sorted(set(data["choose"]) & set(data["confirm"]))
    if both:
        raise StudyError(f"split: {both[0]!r} is in both choose and confirm (the halves must be disjoint)")
    return Split(list(data["choose"]), list(data["confirm"]))


def get_path(config: Any, dotted: str) -> Any:
    """A dotted field of a config (dataclasses or dicts)."""
    for key in dotted.split("."):
        config = config[key] if isinstance(config, dict) else getattr(config, key)
    return config


def row_takes(row: Row, section: str, key: str) -> bool:
    """Whether a setting of `section` (its `key`, dotted) changes what `row` trains: shards for rows that read the
    usual code-switched shards, pools and filter settings for self-training rows, the student's settings for
    self-training and continued rows, training settings for every row."""
    if section == "codeswitch":
        return row.shards == "codeswitch"
    if section == "unlabeled":
        return row.method == "self_train"
    if section == "self_train":
        student = key == "train" or key.startswith("train.")
        return row.method in ("self_train", "continue") if student else row.method == "self_train"
    return True
