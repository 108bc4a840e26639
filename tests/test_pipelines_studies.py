"""pipelines: studies (`studies:`, `split:`): values as generated variants, what their steps share, the one-line
errors, and the report's curve and table on a real run (tiny encoder, real shards)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines import RecipeError, load_recipe, run_recipe
from pipelines.plan import plan_recipe
from tests.test_pipelines import write_recipe
from tests.tiny_encoder import tiny_encoder_dir

ROWS = ["relation_contrastive", "self_training"]
RATIO = {"name": "ratio", "setting": "codeswitch.ratio", "values": [0.3, 0.8], "rows": ["relation_contrastive"]}
THRESHOLD = {"name": "threshold", "setting": "self_train.threshold", "values": [0.0, 0.5], "rows": ["self_training"]}


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_encoder_dir(tmp_path_factory.getbasetemp() / "tiny-encoder-studies", seed=0)


def _plan(tmp_path: Path, encoder: Path, data_root: Path, studies: list[dict], **extra) -> dict[str, str]:
    path = write_recipe(tmp_path / "r.yaml", encoder, data_root, rows=ROWS, diagnose=None, studies=studies, **extra)
    return {s.name: s.fingerprint for s in plan_recipe(load_recipe(path))}


def test_values_are_variants_and_share_every_step_they_do_not_change(tiny_encoder: Path, data_root: Path,
                                                                      tmp_path: Path) -> None:
    steps = {"name": "steps", "setting": "train.max_steps", "values": [2, 3], "rows": ["relation_contrastive"]}
    pool = {"name": "pool", "setting": "unlabeled.limit", "values": [6, 12], "rows": ["self_training"]}
    path = write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, rows=ROWS, diagnose=None,
                        studies=[RATIO, THRESHOLD, steps, pool])
    recipe = load_recipe(path)
    assert recipe.listed_rows() == ROWS and [s.default for s in recipe.sweeps] == [0.8, 0.0, 2, 12]
    plan = {s.name: s for s in plan_recipe(recipe)}
    # the default is the row itself; every other value a variant with the value in its section
    assert plan["train/relation_contrastive.ratio-0.3/seed-13"].deps == ["codeswitch/ja/ratio-0.3", "codeswitch/de/ratio-0.3"]
    assert plan["codeswitch/ja/ratio-0.3"].config.ratio == 0.3 and plan["codeswitch/ja"].config.ratio == 0.8
    assert "cs-variants/ratio-0.3/en-ja" in plan["codeswitch/ja/ratio-0.3"].config.out
    assert plan["train/relation_contrastive.steps-3/seed-13"].config.max_steps == 3
    assert plan["train/relation_contrastive.steps-3/seed-13"].deps == ["codeswitch/ja", "codeswitch/de"]
    student = plan["train/self_training.threshold-0.5/seed-13"]
    assert student.config.threshold == 0.5 and student.config.teacher == "train/relation_contrastive/seed-13"
    assert plan["train/self_training.pool-6/seed-13"].config.unlabeled == ["unlabeled/ja/limit-6", "unlabeled/de/limit-6"]
    assert plan["unlabeled/ja/limit-6"].config.limit == 6 and "pseudo_quality/self_training.pool-6/seed-13" in plan
    assert recipe.spec("self_training.threshold-0.5").label.endswith("self_train.threshold 0.5")

    base = {k: s.fingerprint for k, s in plan.items()}
    # a changed train value: its own training and evaluation, nothing else (no shards, pools, other rows)
    other = _plan(tmp_path, tiny_encoder, data_root, [RATIO, THRESHOLD, {**steps, "values": [2, 4]}, pool])
    assert set(other) - set(base) == {"train/relation_contrastive.steps-4/seed-13", "eval/relation_contrastive.steps-4/seed-13"}
    assert {k for k in other if k in base and other[k] != base[k]} == {"report"}
    # a changed code-switching value: its shards and what reads them
    other = _plan(tmp_path, tiny_encoder, data_root, [{**RATIO, "values": [0.5, 0.8]}, THRESHOLD, steps, pool])
    assert set(other) - set(base) == {"codeswitch/ja/ratio-0.5", "codeswitch/de/ratio-0.5",
                                      "train/relation_contrastive.ratio-0.5/seed-13",
                                      "eval/relation_contrastive.ratio-0.5/seed-13"}
    assert {k for k in other if k in base and other[k] != base[k]} == {"report"}
    # a study that sweeps a teacher and its student: the value's student learns from the value's teacher
    both = _plan(tmp_path, tiny_encoder, data_root, [{**RATIO, "rows": ROWS}])
    assert "train/self_training.ratio-0.3/seed-13" in both
    recipe = load_recipe(tmp_path / "r.yaml")
    student = {s.name: s for s in plan_recipe(recipe)}["train/self_training.ratio-0.3/seed-13"]
    assert student.config.teacher == "train/relation_contrastive.ratio-0.3/seed-13"
    assert student.config.train.shards == ["codeswitch/ja/ratio-0.3", "codeswitch/de/ratio-0.3"]


@pytest.mark.parametrize(("studies", "extra", "message"), [
    ([{**RATIO, "setting": "codeswitch.ratoi"}], {}, "studies.ratio: unknown setting 'codeswitch.ratoi': codeswitch.ratoi is not"),
    ([{**RATIO, "setting": "eval.limit"}], {}, "studies.ratio: unknown setting 'eval.limit': section 'eval' is not one of"),
    ([{**RATIO, "setting": "train.model.nope"}], {}, "unknown setting 'train.model.nope': train.model.nope is not a ModelConfig"),
    ([{**RATIO, "setting": "train.model"}], {}, "is a whole config; name one of its fields"),
    ([{**RATIO, "setting": "codeswitch.seed"}], {}, "setting 'codeswitch.seed' is set by the pipeline"),
    ([{**RATIO, "values": [0.3, 0.5]}], {}, r"studies.ratio: values \[0.3, 0.5\] do not include the default 0.8"),
    ([{**RATIO, "default": 0.5, "values": [0.3, 0.5]}], {}, "studies.ratio: default 0.5 is not what the rows have"),
    ([{**RATIO, "values": [0.8]}], {}, "values must be a list of at least two values"),
    ([{**RATIO, "values": [0.3, 0.3, 0.8]}], {}, "value 0.3 is listed twice"),
    ([{**RATIO, "values": [1.5, 0.8]}], {}, r"studies.ratio: value 1.5: .*ratio must be in \[0, 1\]"),
    ([{**RATIO, "rows": ["codeswitch"]}], {}, "studies.ratio: row 'codeswitch' is not one of the recipe's rows"),
    ([{**THRESHOLD, "rows": ["relation_contrastive"]}], {}, "row relation_contrastive does not read self_train.threshold"),
    ([{**RATIO, "nmae": "x"}], {}, "studies.ratio: unknown key 'nmae'"),
    ([RATIO, RATIO], {}, "studies.ratio: two studies have this name"),
    ([{"name": "steps", "setting": "train.max_steps", "values": [1, 3], "rows": ["self_training"]}], {},
     "value 3 does not reach row self_training"),
    ([RATIO], {"split": {"choose": ["ja"], "confirm": ["ja"]}}, "split: 'ja' is in both choose and confirm"),
    ([RATIO], {"split": {"choose": ["ja"], "confirm": ["fr"]}}, "split.confirm: 'fr' is not one of the targets"),
    ([], {"split": {"choose": ["ja"], "confirm": ["de"]}}, "split needs studies"),
])
def test_bad_studies_are_one_line_errors(tiny_encoder: Path, data_root: Path, tmp_path: Path, studies: list,
                                         extra: dict, message: str) -> None:
    path = write_recipe(tmp_path / "bad.yaml", tiny_encoder, data_root, rows=ROWS, diagnose=None, studies=studies,
                        **extra)
    with pytest.raises(RecipeError, match=message) as exc:
        load_recipe(path)
    assert "\n" not in str(exc.value) and str(path) in str(exc.value)


def test_a_study_runs_reports_and_reruns_only_what_a_changed_value_reads(tiny_encoder: Path, data_root: Path,
                                                                          tmp_path: Path) -> None:
    settings = {"rows": ROWS, "diagnose": None, "split": {"choose": ["ja"], "confirm": ["de"]},
                "eval": {"limit": 10, "batch_size": 8, "bootstrap": 50}}
    path = write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, studies=[RATIO, THRESHOLD], **settings)
    report = run_recipe(load_recipe(path)).read_text()
    out = tmp_path / "out"
    section = report.split("## Studies")[1]
    assert "### ratio: `codeswitch.ratio` on row relation_contrastive" in section
    assert "| **0.8** (default) |" in section and "Choose / confirm" in section and "Best value on the choose half" in section
    assert "rows switched %" in section and "Kept pseudo-labels per round" in section
    for name in ("ratio", "threshold"):
        assert (out / f"study_{name}.png").stat().st_size > 10_000
    studies = json.loads((out / "report.json").read_text())["studies"]
    point = studies["ratio"]["rows"]["relation_contrastive"]["points"][0]
    assert point["value"] == 0.3 and "vs_default_confirm" in point and point["shards"]["rows_switched_fraction"] > 0
    rounds = studies["threshold"]["rows"]["self_training"]["points"][1]["pseudo_labels"]
    assert rounds[0]["round"] == 1 and set(rounds[0]["all"]) == {"precision", "recall"}
    recipe_yaml = (out / "recipe.yaml").read_text()
    assert "relation_contrastive.ratio" not in recipe_yaml and "studies:" in recipe_yaml

    # a second run with one value changed: its shards, training and evaluation run, every other step is cached
    write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, studies=[{**RATIO, "values": [0.5, 0.8]}, THRESHOLD],
                 **settings)
    run_recipe(load_recipe(path))
    stages = json.loads((out / "report.json").read_text())["stages"]
    ran = {name for name, s in stages.items() if not s["cached"]}
    assert ran == {"codeswitch/ja/ratio-0.5", "codeswitch/de/ratio-0.5", "train/relation_contrastive.ratio-0.5/seed-13",
                   "eval/relation_contrastive.ratio-0.5/seed-13"}


def test_shipped_studies_load(data_root: Path) -> None:
    for name, rows in (("study_codeswitch", ["relation_contrastive"]), ("study_self_training", ["self_training"]),
                       ("study_threshold", ["self_training"])):
        recipe = load_recipe(Path(f"pipelines/{name}.yaml"), data_root=str(data_root))
        assert recipe.training_seeds() == [13, 14, 15] and recipe.halves is not None, name
        assert all(study.rows == rows for study in recipe.sweeps), name
        assert set(recipe.halves.choose) | set(recipe.halves.confirm) == set(recipe.targets), name
        assert "Estimated wall time" in recipe.description, name
        plan_recipe(recipe)


def test_pseudo_labels_are_scored_against_the_pools_gold(data_root: Path, tmp_path: Path) -> None:
    from cslib import load_split
    from pipelines.pseudo_quality import precision_recall, score_rounds

    gold = [s for s in load_split("panx", "de", "train", data_root=str(data_root), limit=40) if set(s.tags) != {"O"}][:2]
    rows = [{"id": "a", "lang": "de", "tokens": gold[0].tokens, "tags": gold[0].tags},  # right
            {"id": "b", "lang": "de", "tokens": gold[1].tokens, "tags": ["O"] * len(gold[1].tokens)},  # every entity missed
            {"id": "c", "lang": "de", "tokens": ["nicht", "im", "Korpus", "xyzzy"], "tags": ["O"] * 4}]  # not found
    rdir = tmp_path / "round-1"
    rdir.mkdir()
    (rdir / "pseudo.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (rdir / "pseudo_stats.json").write_text(json.dumps({"sentences": 10, "kept": 3}), encoding="utf-8")
    scores = score_rounds(tmp_path, ["de"], str(data_root))
    (round1,) = scores["rounds"]
    counts = round1["languages"]["de"]
    n0 = sum(t.startswith("B-") for t in gold[0].tags)
    n1 = sum(t.startswith("B-") for t in gold[1].tags)
    assert round1["round"] == 1 and round1["pool"] == 10 and round1["unknown"] == {"de": 1}
    assert counts == {"kept": 2, "tp": n0, "predicted": n0, "gold": n0 + n1, "missed": n1}
    assert precision_recall([counts]) == (1.0, n0 / (n0 + n1))
