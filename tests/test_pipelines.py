"""pipelines: a real recipe end to end on the mirror (tiny encoder, a few steps), caching and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ner.training.config import TrainConfig, to_dict
from pipelines import RecipeError, load_recipe, run_recipe
from pipelines.cli import main, recipes
from pipelines.rows import DEFAULT_ROWS, ROWS
from pipelines.runner import _train_fingerprint_config, fingerprint
from tests.tiny_encoder import tiny_encoder_dir

TINY_MODEL = {"max_subwords": 64, "dist_emb": 8, "region_emb": 8, "conv_hidden": 16, "dilations": [1, 2],
              "biaffine_size": 32, "ffn_size": 32, "proj_dim": 16}


def write_recipe(path: Path, encoder: Path, data_root: Path, **extra) -> Path:
    recipe = {
        "name": "tiny", "targets": ["ja", "de"], "out": str(path.parent / "out"), "data_root": str(data_root),
        "workers": 1, "codeswitch": {"limit": 24}, "codeswitch_by_lang": {"ja": {"extra_dicts": ["jmdict"]}},
        "unlabeled": {"limit": 12},
        "train": {"max_steps": 2, "batch_size": 4, "eval_every": 0, "dev_limit": 8, "log_every": 1,
                  "grad_norm_every": 1, "model": {"encoder": str(encoder), **TINY_MODEL}},
        "self_train": {"threshold": 0.0, "train": {"max_steps": 1}},
        "diagnose": {"tatoeba": 20, "heldout": 8, "tsne_points": 0, "raw": False},
        "eval": {"limit": 10, "batch_size": 8},
    }
    recipe.update(extra)
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_encoder_dir(tmp_path_factory.getbasetemp() / "tiny-encoder-pipelines", seed=0)


def test_shipped_recipes_load(data_root: Path) -> None:
    names = {p.name for p in recipes()}
    assert {"panx_quick.yaml", "panx_full.yaml", "panx_all.yaml", "panx_evidence.yaml"} <= names
    evidence = load_recipe(Path("pipelines/panx_evidence.yaml"), data_root=str(data_root))
    assert evidence.training_seeds() == [13, 14, 15] and len(evidence.targets) == 10
    assert evidence.eval.limit >= 1000 and evidence.eval.bootstrap >= 1000
    assert evidence.rows == [*DEFAULT_ROWS, "continued"]  # row 8: the control of row 6's extra steps
    assert evidence.self_train["train"]["max_steps"] * 2 == evidence.train["max_steps"]
    fp32 = load_recipe(Path("pipelines/panx_evidence_fp32.yaml"), data_root=str(data_root))
    assert fp32.rows == ["relation_en"] and fp32.eval.amp == "off"
    assert fp32.train_config("relation_en", ["-"]).amp == "off" and evidence.train_config("relation_en", ["-"]).amp == "auto"
    default = load_recipe(Path("pipelines/panx_evidence_relation_only.yaml"), data_root=str(data_root))
    cfg = default.train_config("relation_contrastive", ["-"])
    assert (cfg.semantic_weight, cfg.effective_relation_weight()) == (0.0, 0.5) and default.seeds == evidence.seeds
    assert set(default.rows) < set(evidence.rows) and default.train == evidence.train  # rows 5, 6, 8 alone
    for name in ("codeswitch", "unlabeled", "self_train", "seeds", "targets", "seed"):  # the same data and budget
        assert getattr(fp32, name) == getattr(evidence, name), name
    assert {k: v for k, v in fp32.train.items() if k != "amp"} == evidence.train
    assert evidence.mine_config().min_count == 1 and evidence.mine_teacher() == "self_training"
    assert load_recipe(Path("pipelines/panx_full.yaml"), data_root=str(data_root)).training_seeds() == [13, 14, 15]
    quick = load_recipe(Path("pipelines/panx_quick.yaml"), data_root=str(data_root))
    assert {"de", "es", "nl", "zh", "ja", "id", "ar", "hi", "ru", "fr"} <= set(quick.targets)
    assert quick.rows == DEFAULT_ROWS and [ROWS[r].number for r in quick.rows] == [1, 2, 3, 4, 5, 6]
    everything = load_recipe(Path("pipelines/panx_all.yaml"), data_root=str(data_root))
    assert len(everything.targets) >= 30 and "en" not in everything.targets


def test_rows_differ_only_in_their_ingredient(tiny_encoder: Path, data_root: Path, tmp_path: Path) -> None:
    r = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root))
    cfgs = {row: r.train_config(row, ["x"]) for row in ROWS if row != "self_training"}
    assert cfgs["zero_shot"].model.head == "token" and not cfgs["zero_shot"].use_cs
    assert cfgs["relation_en"].model.head == "relation" and not cfgs["relation_en"].use_cs
    assert cfgs["codeswitch"].use_cs and cfgs["codeswitch"].semantic_weight == 0
    assert cfgs["semantic"].semantic_weight > 0 and cfgs["semantic"].effective_relation_weight() == 0
    assert cfgs["relation_contrastive"].effective_relation_weight() > 0
    # rows 5 and 8 train the default objective (no semantic term); row 4 alone measures that term
    for row in ("relation_contrastive", "continued"):
        assert cfgs[row].semantic_weight == TrainConfig().semantic_weight == 0, row
    assert ROWS["relation_contrastive"].baseline == "codeswitch"
    r.train["semantic_weight"] = 0.3  # a recipe's own weight wins over row 4's default and reaches rows 5-8
    assert r.train_config("semantic", ["x"]).semantic_weight == r.train_config("continued", ["x"]).semantic_weight == 0.3
    assert {c.max_steps for c in cfgs.values()} == {2} and {tuple(c.eval_langs) for c in cfgs.values()} == {("en",)}


def test_recipe_end_to_end_then_cached(tiny_encoder: Path, data_root: Path, tmp_path: Path) -> None:
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root))
    report = run_recipe(recipe)
    out = tmp_path / "out"
    data = json.loads((out / "report.json").read_text())
    assert list(data["rows"]) == DEFAULT_ROWS
    for row in data["rows"].values():
        assert set(row["f1"]) == {"en", "ja", "de"} and all(0.0 <= v["mean"] <= 1.0 for v in row["f1"].values())
        assert row["seeds"] == [13] and row["zero_shot"] and row["selection_langs"] == ["en"]
    assert (out / "f1.png").stat().st_size > 1000
    text = report.read_text()
    assert "| 6 | + self-training (full mCL-NER) |" in text and "## Wall time per stage" in text
    assert "torch:" in text and "codeswitch_by_lang" in text
    # the shards are real cslib output with the per-language extra dictionary
    manifest = json.loads((out / "data" / "cs" / "en-ja" / "manifest.json").read_text())
    assert manifest["counts"]["rows"] == 24 and manifest["config"]["extra_dicts"] == ["jmdict"]
    assert json.loads((out / "rows" / "self_training" / "seed-13" / "self_training.json").read_text())["rounds"]
    stages = data["stages"]
    assert {"codeswitch/ja", "unlabeled/de", "train/zero_shot/seed-13", "train/self_training/seed-13",
            "eval/semantic/seed-13", "diagnose/relation_contrastive/seed-13"} <= set(stages)
    # Every row diagnosed (ja, the default language among the targets), in report.md and report.json.
    diag = data["diagnostics"]
    assert set(diag) == {f"{row}/seed-13" for row in DEFAULT_ROWS} and diag["codeswitch/seed-13"]["langs"] == ["ja"]
    assert diag["self_training/seed-13"]["pseudo_labels"]["ja"]["pool"] == 12
    assert "## Diagnostics (ja" in text and "| self_training/seed-13 | ja |" in text
    # metrics.jsonl logs the relation term times its weight (0.5); the report sets it beside the
    # floor of the unweighted loss
    rel = diag["relation_contrastive/seed-13"]
    line = next(x for x in text.splitlines() if x.startswith("| relation_contrastive/seed-13 |"))
    assert f"| {rel['terms']['relation']['loss_last'] / 0.5:.2f} / {rel['contrastive_floor']:.2f} |" in line

    # Second run: everything cached, results identical.
    mtime = (out / "rows" / "semantic" / "seed-13" / "model" / "model.pt").stat().st_mtime_ns
    run_recipe(load_recipe(tmp_path / "r.yaml"))
    again = json.loads((out / "report.json").read_text())
    assert all(s["cached"] for s in again["stages"].values())
    assert again["rows"] == data["rows"]
    assert (out / "rows" / "semantic" / "seed-13" / "model" / "model.pt").stat().st_mtime_ns == mtime

    # A step interrupted after its work started (marker of completion missing) resumes, not restarts.
    (out / "steps" / "train__semantic__seed-13.json").unlink()
    run_recipe(load_recipe(tmp_path / "r.yaml"))
    resumed = json.loads((out / "report.json").read_text())["stages"]
    assert not resumed["train/semantic/seed-13"]["cached"] and resumed["eval/semantic/seed-13"]["cached"]
    assert (out / "rows" / "semantic" / "seed-13" / "model" / "model.pt").stat().st_mtime_ns == mtime  # ner train: nothing left to do

    # Changing one row's inputs reruns that row and what depends on it, nothing else.
    write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, self_train={"threshold": 0.5, "train": {"max_steps": 1}})
    run_recipe(load_recipe(tmp_path / "r.yaml"))
    third = json.loads((out / "report.json").read_text())["stages"]
    rerun = {name for name, s in third.items() if not s["cached"]}
    assert rerun == {"train/self_training/seed-13", "eval/self_training/seed-13", "diagnose/self_training/seed-13"}


def test_bad_recipes_are_one_line_errors(tiny_encoder: Path, data_root: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        ({"tragets": ["ja"]}, "unknown key 'tragets'"),
        ({"targets": ["xx"]}, "xx"),
        ({"rows": ["zero_shot", "self_training"]}, "self_training needs relation_contrastive"),
        ({"train": {"max_step": 3}}, "unknown key 'train.max_step'"),
        ({"codeswitch": {"ratoi": 0.5}}, "codeswitch: got an unexpected keyword argument 'ratoi'"),
        ({"train": {"shards": ["a"]}}, "train.shards is set by the pipeline"),
        ({"seeds": [13, 13]}, "seeds must be a non-empty list of distinct integers"),
        ({"eval": {"bootstrap": -1}}, "eval.bootstrap must be an integer >= 0"),
        ({"rows": ["zero_shot", "mined_entities"]}, "mined_entities needs relation_contrastive"),
        ({"mine": {"min_scor": 0.5}}, "mine: got an unexpected keyword argument 'min_scor'"),
        ({"rows": ["relation_contrastive", "mined_entities"], "mine": {"teacher": "zero_shot"}},
         "mine.teacher 'zero_shot' is not one of this recipe's rows"),
    ]
    for extra, message in cases:
        path = write_recipe(tmp_path / "bad.yaml", tiny_encoder, data_root, **extra)
        with pytest.raises(RecipeError, match=message) as exc:
            load_recipe(path)
        assert "\n" not in str(exc.value) and str(path) in str(exc.value)
    assert main(["run", str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pipelines: error: ") and err.count("\n") == 1


def test_two_seed_recipe_reports_mean_sd_and_intervals(tiny_encoder: Path, data_root: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["zero_shot", "relation_en", "codeswitch"]
    path = write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, seeds=[13, 14], rows=rows,
                        eval={"limit": 10, "batch_size": 8, "bootstrap": 200})
    report = run_recipe(load_recipe(path))
    out = tmp_path / "out"
    data = json.loads((out / "report.json").read_text())
    assert data["seeds"] == [13, 14] and list(data["rows"]) == rows
    for name in rows:
        for seed in (13, 14):
            counts = json.loads((out / "eval" / name / f"seed-{seed}" / "ja" / "sentence_counts.json").read_text())
            assert len(counts["counts"]) == 10
    first = data["rows"]["zero_shot"]
    for lang, stat in first["f1"].items():
        per_seed = [json.loads((out / "eval" / "zero_shot" / f"seed-{s}" / lang / "metrics.json").read_text())["f1"]
                    for s in (13, 14)]
        assert stat["per_seed"] == per_seed
        assert stat["mean"] == pytest.approx(sum(per_seed) / 2)
        assert stat["sd"] == pytest.approx(abs(per_seed[0] - per_seed[1]) / 2 ** 0.5)
    third = data["rows"]["codeswitch"]
    for key, other in (("vs_first", "zero_shot"), ("vs_previous", "relation_en")):
        gain = third[key]
        assert gain["row"] == other
        assert gain["avg_targets"] == pytest.approx(third["avg_targets"]["mean"] - data["rows"][other]["avg_targets"]["mean"])
        ci = gain["interval"]
        assert ci["ci_low"] <= ci["ci_high"] and ci["bootstrap_samples"] == 200
        assert ci["diff"] == pytest.approx(gain["avg_targets"])
        assert ci["significant"] == (ci["ci_low"] > 0 or ci["ci_high"] < 0)
    text = report.read_text()
    assert "± " in text and "paired bootstrap" in text and "| 3 | + code-switched data (CE only) |" in text

    # `compare` across runs gives the report's own numbers when both sides are rows of one run
    assert main(["compare", f"{out}:codeswitch", f"{out}:zero_shot", "--samples", "200", "--seed", "13", "--json"]) == 0
    cmp = json.loads(capsys.readouterr().out)
    assert cmp["seeds"] == [13, 14] and cmp["langs"] == data["targets"] and cmp["sentences"]["ja"] == 10
    for lang in data["targets"]:
        assert cmp["f1_a"][lang]["mean"] == pytest.approx(third["f1"][lang]["mean"])
        assert cmp["f1_b"][lang]["sd"] == pytest.approx(first["f1"][lang]["sd"])
    avg = cmp["difference"]["avg"]
    assert avg["diff"] == pytest.approx(third["vs_first"]["interval"]["diff"])
    assert (avg["ci_low"], avg["ci_high"]) == pytest.approx((third["vs_first"]["interval"]["ci_low"],
                                                             third["vs_first"]["interval"]["ci_high"]))
    assert main(["compare", str(out), f"{out}:relation_en", "--langs", "ja"]) == 0  # default row: the last one
    table = capsys.readouterr().out
    assert f"A = {out}:codeswitch" in table and "| ja | 10 |" in table and "| avg |" not in table

    # another run scored on other sentences: a one-line error, not a meaningless interval
    import shutil

    other = tmp_path / "other"
    shutil.copytree(out / "eval", other / "eval")
    counts_file = other / "eval" / "zero_shot" / "seed-13" / "de" / "sentence_counts.json"
    counts = json.loads(counts_file.read_text())
    counts_file.write_text(json.dumps({**counts, "counts": counts["counts"][:-1]}))
    assert main(["compare", f"{out}:codeswitch", f"{other}:zero_shot", "--langs", "ja", "de"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "de: the runs scored different sentence sets" in err
    assert main(["compare", f"{out}:nope", str(out)]) == 2
    assert "row 'nope' was not evaluated" in capsys.readouterr().err


def test_mined_entities_row(tiny_encoder: Path, data_root: Path, tmp_path: Path) -> None:
    """Row 7: mine typed target entities with a trained row's model, rebuild the shards with them replacing
    switched entities (labels exact, types kept), train row 5's objective on those, compare to row 5."""
    from cslib import read_table
    from cslib.iob import spans
    from cslib.lexicons.entity_sources import read_entity_lexicon
    from cslib.report import validate_dir

    train = {"max_steps": 16, "batch_size": 4, "eval_every": 0, "dev_limit": 8, "log_every": 1, "lr": 1e-2,
             "encoder_lr": 1e-2, "model": {"encoder": str(tiny_encoder), **TINY_MODEL}}
    path = write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, rows=["mined_entities", "relation_contrastive", "zero_shot"],
                        train=train, unlabeled={"limit": 40}, codeswitch={"limit": 24, "ratio": 1.0},
                        # the token head (row 1) tags entities after a few steps; the tiny relation head does not
                        mine={"teacher": "zero_shot", "limit": 30, "min_score": 0.0, "min_count": 1,
                              "min_type_share": 0.0})
    recipe = load_recipe(path)
    assert recipe.rows == ["zero_shot", "relation_contrastive", "mined_entities"]  # teachers first, any order given
    data = json.loads(run_recipe(recipe).with_suffix(".json").read_text())
    row7 = data["rows"]["mined_entities"]
    assert row7["number"] == 7 and row7["vs_previous"]["row"] == "relation_contrastive"
    out = tmp_path / "out"
    pool = json.loads((out / "steps" / "unlabeled_mine__ja.json").read_text())["result"]  # mine.limit: its own pool
    assert pool["rows"] == 30 and pool["dir"].endswith("unlabeled-mine/ja")
    built = 0
    for tgt in ("ja", "de"):
        mined = json.loads((out / "steps" / f"mine__{tgt}__seed-13.json").read_text())["result"]
        if not mined["lexicon"]:
            continue
        pool = {t: {e.text.replace(" ", "") for e in es}
                for t, es in read_entity_lexicon(mined["lexicon"], origin="replace").by_type().items()}
        shards = out / "data" / "cs-mined" / "seed-13" / f"en-{tgt}"
        checked, problems = validate_dir(shards)
        assert checked > 0 and problems == []
        replaced = 0
        for row in read_table(shards).to_pylist():
            for s in spans(row["cs_tags"]):
                if row["cs_sources"][s.start] == "replace":
                    replaced += 1
                    assert "".join(row["cs_tokens"][s.start:s.end]) in pool[s.type]
        assert replaced > 0
        built += 1
    assert built, "the tiny model mined no entity in any target: the replace path was not exercised"
    assert "## Mined target entities (row 7)" in (out / "report.md").read_text()
    markers = {p: p.stat().st_mtime_ns for p in (out / "steps").glob("*.json") if not p.name.endswith(".started.json")}
    run_recipe(load_recipe(path))  # everything cached, a target that mined nothing included
    assert {p: p.stat().st_mtime_ns for p in markers} == markers


def test_target_view_rows(tiny_encoder: Path, data_root: Path, tmp_path: Path) -> None:
    """A row with `semantic_target_weight` trains on each target's unlabeled pool switched into English."""
    path = write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, rows=["codeswitch", "semantic"],
                        diagnose=None, target_view={"ratio": 0.8})
    data = yaml.safe_load(path.read_text())
    data["train"]["semantic_target_weight"] = 0.3
    path.write_text(yaml.safe_dump(data))
    recipe = load_recipe(path)
    assert recipe.uses_target_view() and recipe.train_config("codeswitch", ["x"]).semantic_target_weight == 0
    run_recipe(recipe)
    out = tmp_path / "out"
    manifest = json.loads((out / "data" / "target_view" / "ja-en" / "manifest.json").read_text())
    assert manifest["kind"] == "text" and manifest["src_lang"] == "ja" and manifest["tgt_lang"] == "en"
    cfg = yaml.safe_load((out / "rows" / "semantic" / "seed-13" / "config.yaml").read_text())
    assert len(cfg["target_pairs"]) == 2 and cfg["semantic_target_weight"] == 0.3
    steps = [json.loads(line) for line in (out / "rows" / "semantic" / "seed-13" / "metrics.jsonl").read_text().splitlines()]
    assert any("semantic_target" in s for s in steps)
    assert "target_pairs" not in yaml.safe_load((out / "rows" / "codeswitch" / "seed-13" / "config.yaml").read_text()) \
        or not yaml.safe_load((out / "rows" / "codeswitch" / "seed-13" / "config.yaml").read_text())["target_pairs"]


def test_settings_added_later_leave_cached_fingerprints_alone(tiny_encoder: Path, data_root: Path, tmp_path: Path) -> None:
    r = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root))
    cfg = r.train_config("relation_contrastive", ["x"])
    assert cfg.model.subword_space == "script"  # the default since the setting exists
    cfg.model.subword_space = "word"  # the input of every run cached before it
    old = to_dict(cfg)
    del old["model"]["subword_space"]  # such a run's config
    assert fingerprint(_train_fingerprint_config(cfg)) == fingerprint(old)
    cfg.model.subword_space = "script"
    assert fingerprint(_train_fingerprint_config(cfg)) != fingerprint(old)


def test_cli_compare_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`pipelines compare` on runs that cannot be compared: one line and exit 2 from the shared wrapper,
    also when a run's report.json is not the JSON a run writes."""
    run = tmp_path / "run"
    (run / "eval").mkdir(parents=True)
    (run / "report.json").write_text("{", encoding="utf-8")
    assert main(["compare", str(run), str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pipelines: error: ") and err.count("\n") == 1
    assert main(["compare", str(tmp_path / "none"), str(run)]) == 2
    assert capsys.readouterr().err == f"pipelines: error: {tmp_path / 'none'}: not a pipelines run directory (no eval/ inside)\n"
    assert main(["compare", f"{run}:zero_shot", f"{run}:zero_shot", "--level", "1.5"]) == 2
    assert "--level between 0 and 1" in capsys.readouterr().err
