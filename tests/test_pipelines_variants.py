"""pipelines: row variants (`variants:`), their fingerprints, and extra labeled evaluation sets (`eval.extra`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines import RecipeError, load_recipe, run_recipe
from pipelines.plan import plan_recipe
from tests.test_pipelines import write_recipe
from tests.tiny_encoder import tiny_encoder_dir

LONG = {"joined_inputs": 0.5, "joined_max": 4, "grid_loss": "equal"}
VARIANTS = {
    "codeswitch_long": {"row": "codeswitch", "train": LONG},
    "relation_contrastive_long": {"row": "relation_contrastive", "train": LONG, "label": "row 5, long inputs"},
    "self_training_long": {"row": "self_training", "teacher": "relation_contrastive_long"},
}
ROWS = ["codeswitch", "codeswitch_long", "relation_contrastive", "relation_contrastive_long", "self_training",
        "self_training_long"]
CONLL = [{"name": "conll2002-es", "file": "conll2002/es.dev.txt", "lang": "es", "format": "conll",
          "drop_types": ["MISC"], "limit": 12}]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_encoder_dir(tmp_path_factory.getbasetemp() / "tiny-encoder-variants", seed=0)


def test_variants_are_rows_with_their_settings(tiny_encoder: Path, data_root: Path, tmp_path: Path) -> None:
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, rows=ROWS, variants=VARIANTS,
                                      diagnose=None))
    assert recipe.rows == ROWS  # number order; a variant after its base row
    plan = {s.name: s for s in plan_recipe(recipe)}
    base, long = plan["train/codeswitch/seed-13"].config, plan["train/codeswitch_long/seed-13"].config
    assert (base.joined_inputs, base.grid_loss) == (0.0, "cell")
    assert (long.joined_inputs, long.joined_max, long.grid_loss) == (0.5, 4, "equal")
    assert long.use_cs and long.out.endswith("rows/codeswitch_long/seed-13")
    student = plan["train/self_training_long/seed-13"].config
    assert student.teacher == "train/relation_contrastive_long/seed-13" and student.train.grid_loss == "equal"
    assert plan["train/self_training/seed-13"].config.train.grid_loss == "cell"
    spec = recipe.spec("codeswitch_long")
    assert spec.number == 3 and spec.baseline == "codeswitch" and "joined_inputs 0.5" in spec.label
    assert recipe.spec("relation_contrastive_long").label == "row 5, long inputs"


def test_fingerprints_follow_the_options(tiny_encoder: Path, data_root: Path, tmp_path: Path) -> None:
    def fingerprints(**extra) -> dict[str, str]:
        path = write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, rows=ROWS, diagnose=None, **extra)
        return {s.name: s.fingerprint for s in plan_recipe(load_recipe(path))}

    plain = fingerprints(variants=VARIANTS)
    assert plain["train/codeswitch_long/seed-13"] != plain["train/codeswitch/seed-13"]
    other = {**VARIANTS, "codeswitch_long": {"row": "codeswitch", "train": {**LONG, "joined_inputs": 0.3}}}
    changed = {k for k, v in fingerprints(variants=other).items() if v != plain[k]}
    assert changed == {"train/codeswitch_long/seed-13", "eval/codeswitch_long/seed-13", "report"}
    teacher = {**VARIANTS, "relation_contrastive_long": {"row": "relation_contrastive", "train": {**LONG, "joined_max": 6}}}
    changed = {k for k, v in fingerprints(variants=teacher).items() if v != plain[k]}
    assert changed == {f"{kind}/{row}/seed-13" for kind in ("train", "eval")
                       for row in ("relation_contrastive_long", "self_training_long")} | {"report"}
    # the recipe's own train: section reaches every row
    train = {"max_steps": 2, "batch_size": 4, "eval_every": 0, "dev_limit": 8, "log_every": 1,
             "model": {"encoder": str(tiny_encoder), "max_subwords": 64}, "grid_loss": "equal"}
    everything = fingerprints(variants=VARIANTS, train=train)
    assert all(everything[k] != plain[k] for k in plain if k.startswith("train/"))
    assert all(everything[k] == plain[k] for k in plain if k.startswith("codeswitch/"))


@pytest.mark.parametrize(("extra", "message"), [
    ({"variants": {"codeswitch": {"row": "codeswitch"}}}, "variants.codeswitch: a variant needs a new lowercase name"),
    ({"variants": {"x": {"row": "nope"}}}, "variants.x: needs row: one of"),
    ({"variants": {"x": {"row": "codeswitch", "trian": {}}}}, "variants.x: unknown key 'trian'"),
    ({"variants": {"x": {"row": "codeswitch", "train": {"joined_inputs": 2.0}}}}, "joined_inputs must be in"),
    ({"variants": {"x": {"row": "codeswitch", "train": {"seed": 3}}}}, "variants.x.train.seed is set by the pipeline"),
    ({"variants": {"x": {"row": "codeswitch", "teacher": "zero_shot"}}}, "row codeswitch has no teacher"),
    ({"rows": ["codeswitch", "y"]}, "rows: unknown row 'y'"),
    ({"eval": {"extra": [{**CONLL[0], "file": "conll2002/xx.dev.txt"}]}},
     r"eval.extra\[0\]: conll2002/xx.dev.txt: file not found under"),
    ({"eval": {"extra": [{**CONLL[0], "fmt": "conll"}]}}, r"eval: extra\[0\]: got an unexpected keyword argument 'fmt'"),
    ({"eval": {"extra": [{**CONLL[0], "lang": "xx"}]}}, r"eval.extra\[0\]: .*xx"),
    ({"eval": {"extra": [CONLL[0], CONLL[0]]}}, r"eval.extra\[1\]: name 'conll2002-es' must be a new"),
])
def test_bad_variants_and_extra_sets_are_one_line_errors(tiny_encoder: Path, data_root: Path, tmp_path: Path,
                                                         extra: dict, message: str) -> None:
    path = write_recipe(tmp_path / "bad.yaml", tiny_encoder, data_root, **extra)
    with pytest.raises(RecipeError, match=message) as exc:
        load_recipe(path)
    assert "\n" not in str(exc.value) and str(path) in str(exc.value)


def test_extra_sets_are_evaluated_and_reported(tiny_encoder: Path, data_root: Path, tmp_path: Path) -> None:
    path = write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, targets=["de"], rows=["codeswitch", "codeswitch_long"],
                        variants={"codeswitch_long": VARIANTS["codeswitch_long"]}, diagnose=None,
                        eval={"limit": 10, "batch_size": 8, "bootstrap": 50, "extra": CONLL})
    report = run_recipe(load_recipe(path)).read_text()
    out = tmp_path / "out"
    metrics = json.loads((out / "eval_extra" / "codeswitch_long" / "seed-13" / "conll2002-es" / "metrics.json").read_text())
    assert metrics["n_sentences"] == 12 and metrics["dropped_types"] == ["MISC"] and "by_length" in metrics
    section = report.split("## Extra evaluation sets")[1]
    assert "### conll2002-es (`conll2002/es.dev.txt`, es, first 12 sentences; gold MISC counted as O)" in section
    assert "| R <=10 | R 11-25 | R 26-50 | R >50 |" in section
    line = next(x for x in section.splitlines() if "joined_inputs 0.5" in x)
    assert line.split(" | ")[5] == "3" and "[" in line.split(" | ")[6]  # vs row 3, with an interval
    summary = json.loads((out / "report.json").read_text())["extra_sets"]["conll2002-es"]["rows"]
    assert summary["codeswitch_long"]["vs"]["row"] == "codeswitch"
    log = (out / "rows" / "codeswitch_long" / "seed-13" / "train.log").read_text()
    assert "joined long inputs" in log and "grid loss equal" in log


def test_shipped_long_inputs_recipe(data_root: Path) -> None:
    recipe = load_recipe(Path("pipelines/long_inputs.yaml"), data_root=str(data_root))
    evidence = load_recipe(Path("pipelines/panx_evidence.yaml"), data_root=str(data_root))
    assert recipe.targets == evidence.targets and recipe.training_seeds() == [13, 14, 15]
    assert recipe.rows == ["zero_shot", "codeswitch", "codeswitch_long", "relation_contrastive",
                           "relation_contrastive_long", "self_training", "self_training_long"]
    assert recipe.codeswitch == evidence.codeswitch and recipe.eval.limit == evidence.eval.limit
    fixed = {"codeswitch_long", "relation_contrastive_long", "self_training_long"}
    plan = {s.name: s.config for s in plan_recipe(recipe)}
    for row in recipe.rows:
        cfg = plan[f"train/{row}/seed-13"]
        cfg = getattr(cfg, "train", cfg)
        assert (cfg.joined_inputs, cfg.grid_loss) == ((0.5, "equal") if row in fixed else (0.0, "cell")), row
        assert cfg.max_steps == (500 if row.startswith("self_training") else 1000)
    assert [x.file for x in recipe.eval.extra] == ["conll2002/es.dev.txt", "conll2002/nl.dev.txt"]
    assert all(x.drop_types == ["MISC"] for x in recipe.eval.extra)
