"""pipelines: a real recipe end to end on the mirror (tiny encoder, a few steps), caching and errors."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

from cslib import stats
from ner.errors import NerError
from ner.inference.evaluate import length_buckets
from ner.training.config import TrainConfig
from pipelines import RecipeError, load_recipe, run_recipe
from pipelines.cli import main, recipes
from pipelines.plan import FINGERPRINT_VERSIONS, plan_recipe, settings
from pipelines.rows import DEFAULT_ROWS, ROWS
from pipelines.runner import plan_status
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
    # the benchmark recipes: every PAN-X target code-switched; the control leaves my and yo without shards
    xtreme = load_recipe(Path("pipelines/panx_xtreme.yaml"), data_root=str(data_root))
    off = load_recipe(Path("pipelines/panx_xtreme_sources_off.yaml"), data_root=str(data_root))
    assert len(xtreme.targets) == 38 and xtreme.training_seeds() == off.training_seeds() == [13, 14, 15]
    assert xtreme.train == off.train and set(off.rows) < set(xtreme.rows) and xtreme.eval == off.eval
    built = {s.name for s in plan_recipe(xtreme) if s.name.startswith("codeswitch/")}
    assert built == {f"codeswitch/{t}" for t in xtreme.targets}
    assert {s.name for s in plan_recipe(off) if s.name.startswith("codeswitch/")} == built - {"codeswitch/my",
                                                                                               "codeswitch/yo"}


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


def status(path: Path, **overrides) -> dict[str, str]:
    recipe = load_recipe(path, **overrides)
    return plan_status(recipe, plan_recipe(recipe))


def test_recipe_end_to_end_then_cached(tiny_encoder: Path, data_root: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root))
    out = tmp_path / "out"
    # The plan: every step, its dependencies before it, nothing cached yet, and nothing run by planning.
    plan = plan_recipe(recipe)
    names = [s.name for s in plan]
    assert names[:4] == ["codeswitch/ja", "codeswitch/de", "unlabeled/ja", "unlabeled/de"] and names[-1] == "report"
    assert len(names) == 4 + 3 * len(DEFAULT_ROWS) + 1 and len(set(names)) == len(names)
    for i, step in enumerate(plan):
        assert set(step.deps) <= set(names[:i]), step.name
    by_name = {s.name: s for s in plan}
    assert by_name["train/self_training/seed-13"].kind == "self_train"
    assert by_name["train/self_training/seed-13"].deps[0] == "train/relation_contrastive/seed-13"  # its teacher
    assert set(by_name["train/zero_shot/seed-13"].deps) == {"codeswitch/ja", "codeswitch/de"}
    assert set(plan_status(recipe, plan).values()) == {"not cached", "always"}
    assert main(["plan", str(tmp_path / "r.yaml")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"tiny: 23 steps in {out} (0 cached, 0 stale, 22 not cached)"
    for step in plan:
        line = next(x for x in printed if step.fingerprint in x).split()
        assert line[0] == ("always" if step.name == "report" else "not") and step.kind in line and step.name in line
    assert not out.exists()  # planning runs nothing

    report = run_recipe(recipe)
    data = json.loads((out / "report.json").read_text())
    assert list(data["rows"]) == DEFAULT_ROWS
    for row in data["rows"].values():
        assert set(row["f1"]) == {"en", "ja", "de"} and all(0.0 <= v["mean"] <= 1.0 for v in row["f1"].values())
        assert row["seeds"] == [13] and row["zero_shot"] and row["selection_langs"] == ["en"]
    assert (out / "f1.png").stat().st_size > 1000
    text = report.read_text()
    assert "| 6 | + self-training (full mCL-NER) |" in text and "## Wall time per stage" in text
    assert "## By sentence length" in text and all("by_length" in row for row in data["rows"].values())
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

    # After the run the plan finds every step cached (the report is rewritten at every run).
    after = status(tmp_path / "r.yaml")
    assert after.pop("report") == "always" and set(after.values()) == {"cached"} and len(after) == len(plan) - 1
    assert main(["plan", str(tmp_path / "r.yaml")]) == 0
    assert f"tiny: 23 steps in {out} (22 cached, 0 stale, 0 not cached)" in capsys.readouterr().out

    # A changed setting makes exactly its step and the steps downstream of it stale, before anything runs;
    # settings that change no result (workers, eval.bootstrap) leave every step cached.
    def stale_after(**changes) -> set[str]:
        data = yaml.safe_load((tmp_path / "r.yaml").read_text())
        data.update(changes)
        (tmp_path / "changed.yaml").write_text(yaml.safe_dump(data))
        return {name for name, st in status(tmp_path / "changed.yaml").items() if st == "stale"}

    base = yaml.safe_load((tmp_path / "r.yaml").read_text())
    row6 = {"train/self_training/seed-13", "eval/self_training/seed-13", "diagnose/self_training/seed-13"}
    assert stale_after(self_train={**base["self_train"], "threshold": 0.5}) == row6  # row 6's own setting
    models = {f"{k}/{row}/seed-13" for row in DEFAULT_ROWS for k in ("train", "eval", "diagnose")}
    assert stale_after(train={**base["train"], "lr": 0.01}) == models  # every row; no shard, no pool
    assert stale_after(eval={**base["eval"], "limit": 9}) == {f"eval/{row}/seed-13" for row in DEFAULT_ROWS}
    assert stale_after(unlabeled={"limit": 11}) == {"unlabeled/ja", "unlabeled/de", *row6}
    assert stale_after(codeswitch_by_lang={}) == {"codeswitch/ja"} | models  # ja's shards feed every row
    assert stale_after(workers=2, eval={**base["eval"], "bootstrap": 10}) == set()
    # --rows: a row added to a finished run is all that is left to do
    more = status(tmp_path / "r.yaml", rows=["relation_contrastive", "self_training", "continued"])
    assert {name for name, st in more.items() if st != "cached"} == \
        {"train/continued/seed-13", "eval/continued/seed-13", "diagnose/continued/seed-13", "report"}

    # Second run: everything cached, results identical.
    mtime = (out / "rows" / "semantic" / "seed-13" / "model" / "model.pt").stat().st_mtime_ns
    run_recipe(load_recipe(tmp_path / "r.yaml"))
    again = json.loads((out / "report.json").read_text())
    assert all(s["cached"] for s in again["stages"].values())
    assert again["rows"] == data["rows"]
    assert (out / "rows" / "semantic" / "seed-13" / "model" / "model.pt").stat().st_mtime_ns == mtime

    # A step interrupted after its work started (marker of completion missing) resumes, not restarts.
    (out / "steps" / "train__semantic__seed-13.json").unlink()
    assert status(tmp_path / "r.yaml")["train/semantic/seed-13"] == "not cached"
    assert main(["plan", str(tmp_path / "r.yaml")]) == 0
    assert re.search(r"^not cached \(resumes\) +\w+ +train +train/semantic/seed-13 ", capsys.readouterr().out, re.M)
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
    # by sentence length: per bucket the average over the targets with gold entities there, mean ± sd over seeds
    for name in rows:
        by_length = data["rows"][name]["by_length"]
        metrics = {s: {t: json.loads((out / "eval" / name / f"seed-{s}" / t / "metrics.json").read_text())["by_length"]
                       for t in data["targets"]} for s in (13, 14)}
        assert by_length["f1"] and set(by_length["f1"]) == set(by_length["recall"]) <= set(length_buckets())
        for bucket, stat in by_length["recall"].items():
            langs = [t for t in data["targets"] if metrics[13][t][bucket]["support"]]
            assert by_length["gold"][bucket] == sum(metrics[13][t][bucket]["support"] for t in langs)
            assert stat["per_seed"] == pytest.approx([sum(metrics[s][t][bucket]["recall"] for t in langs) / len(langs)
                                                      for s in (13, 14)])
    section = text.split("## By sentence length")[1].split("\n## ")[0]
    assert "| # | row | F1 <=10 | F1 11-25 | F1 26-50 | F1 >50 |" in section and "| # | row | recall <=10 |" in section
    assert section.count("| 3 | + code-switched data (CE only) | ") == 2 and "± " in section

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

    # `benchmark`: the same numbers per language, grouped by script, with the group and benchmark averages
    assert main(["benchmark", str(out), "--last", "codeswitch", "--samples", "200"]) == 0
    assert "| **avg, targets** | 2 |" in capsys.readouterr().out
    bench = json.loads((out / "benchmark.json").read_text())
    assert list(bench["languages"]) == ["en", "de", "ja"] and bench["averages"]["targets"]["langs"] == ["de", "ja"]
    assert bench["averages"]["CJK and Korean"]["langs"] == ["ja"] and (out / "benchmark.png").stat().st_size > 0
    for lang in ("de", "ja"):
        entry = bench["languages"][lang]
        assert entry["zero_shot"] == pytest.approx(first["f1"][lang]["mean"])
        assert entry["difference"]["diff"] == pytest.approx(third["f1"][lang]["mean"] - first["f1"][lang]["mean"])
        assert entry["difference"]["diff"] == pytest.approx(cmp["difference"][lang]["diff"])
        assert entry["rows_switched"] == stats(out / "data" / "cs" / f"en-{lang}")["rows_switched_fraction"]
    assert bench["averages"]["targets"]["difference"]["diff"] == pytest.approx(avg["diff"])
    assert bench["languages"]["ja"]["reference"] == pytest.approx(0.21)  # reported elsewhere, shown as is
    # every target not significantly above the first row is listed with its evidence, and only those
    listed = {lang for lang, e in bench["languages"].items()
              if lang != "en" and not (e["difference"]["significant"] and e["difference"]["diff"] > 0)}
    assert set(bench["not_above"]) == listed
    for entry in bench["languages"].values():  # pooled over seeds, for the first and the last row
        assert set(entry["precision_recall"]) == {"zero_shot", "codeswitch"}
        assert all(pr is None or 0 <= pr["precision"] <= 1 and 0 <= pr["recall"] <= 1
                   for pr in entry["precision_recall"].values())
    for lang, entry in bench["not_above"].items():
        assert f"only {bench['languages'][lang]['sentences']:,} dev sentences" in entry["evidence"]  # 10 sentences
        assert f"- **{lang}** " in (out / "benchmark.md").read_text()

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
    from cslib.inspection.report import validate_dir
    from cslib.iob import spans
    from cslib.lexicons.entity_sources import read_entity_lexicon

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


def test_fingerprints_are_versioned_and_leave_out_run_settings(tiny_encoder: Path, data_root: Path,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, rows=["zero_shot", "relation_contrastive",
                                                                            "self_training", "continued"])
    recipe = load_recipe(path)
    fps = {s.name: s.fingerprint for s in plan_recipe(recipe)}
    # settings that change how a step runs, never what it makes: at any depth
    assert settings({"workers": 3, "overwrite": True, "a": [{"report_to": ["tensorboard"], "log_every": 5}]}) == \
        {"a": [{"log_every": 5}]}
    assert {s.name: s.fingerprint for s in plan_recipe(load_recipe(path, workers=7))} == fps
    # a kind's version is part of its fingerprints: raising it redoes that kind and what is downstream of it
    monkeypatch.setitem(FINGERPRINT_VERSIONS, "unlabeled", FINGERPRINT_VERSIONS["unlabeled"] + 1)
    changed = {s.name for s in plan_recipe(recipe) if s.fingerprint != fps[s.name]}
    assert changed == {"unlabeled/ja", "unlabeled/de", "train/self_training/seed-13", "eval/self_training/seed-13",
                       "diagnose/self_training/seed-13", "report"}
    monkeypatch.setitem(FINGERPRINT_VERSIONS, "unlabeled", FINGERPRINT_VERSIONS["unlabeled"] - 1)
    monkeypatch.setitem(FINGERPRINT_VERSIONS, "train", FINGERPRINT_VERSIONS["train"] + 1)
    changed = {s.name for s in plan_recipe(recipe) if s.fingerprint != fps[s.name]}
    assert not any(name.startswith(("codeswitch/", "unlabeled/")) for name in changed)
    assert {name for name in fps if name.startswith(("train/", "eval/", "diagnose/"))} <= changed
    # Row 8 starts from row 5's model with the student's settings; row 6's student has row 5's settings.
    plan = {s.name: s for s in plan_recipe(recipe)}
    continued, student = plan["train/continued/seed-13"].config, plan["train/self_training/seed-13"].config
    assert continued.init_from == student.teacher == "train/relation_contrastive/seed-13"
    assert continued.out.endswith("rows/continued/seed-13") and student.out.endswith("rows/self_training/seed-13")
    assert continued.max_steps == student.train.max_steps == 1 and continued.pseudo == []
    assert student.unlabeled == ["unlabeled/ja", "unlabeled/de"] and student.train.shards == ["codeswitch/ja", "codeswitch/de"]


def test_report_to(tiny_encoder: Path, data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--report-to tensorboard` reaches every training config, and no fingerprint."""
    path = write_recipe(tmp_path / "r.yaml", tiny_encoder, data_root, rows=["zero_shot", "relation_contrastive",
                                                                            "self_training"])
    recipe = load_recipe(path)
    if "report_to" not in {f.name for f in dataclasses.fields(TrainConfig)}:
        with pytest.raises(RecipeError, match="--report-to needs ner.training.config.TrainConfig.report_to"):
            plan_recipe(recipe, report_to=["tensorboard"])
        assert main(["run", str(path), "--report-to", "tensorboard"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("pipelines: error: --report-to needs") and err.count("\n") == 1
        assert not (tmp_path / "out").exists()
        return
    if importlib.util.find_spec("tensorboard") is None:  # checked by TrainConfig.validate, before anything runs
        with pytest.raises(NerError, match="tensorboard"):
            plan_recipe(recipe, report_to=["tensorboard"])
        return
    plain = plan_recipe(recipe)
    reported = plan_recipe(recipe, report_to=["tensorboard"])
    assert [s.fingerprint for s in reported] == [s.fingerprint for s in plain]
    trainings = [s.config for s in reported if s.kind in ("train", "self_train")]
    assert len(trainings) == 3
    for cfg in trainings:
        assert getattr(cfg, "train", cfg).report_to == ["tensorboard"]


def test_runner_knows_no_row() -> None:
    """What differs between rows is data on the rows (pipelines/rows.py), not row names in the code that
    plans and runs the steps."""
    for module in ("runner.py", "plan.py"):
        text = (Path(__file__).resolve().parents[1] / "pipelines" / module).read_text(encoding="utf-8")
        for row in ROWS:
            assert not re.search(rf"[\"']{row}[\"']", text), f"{module} names row {row}"
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


def test_benchmark_names_a_diagnosed_cause(tmp_path: Path) -> None:
    from pipelines.benchmark import not_above

    def entry(diff: float, low: float, sig: bool, sentences: int = 1000, switched: float = 0.5) -> dict:
        return {"difference": {"diff": diff, "ci_low": low, "ci_high": diff + 0.02, "significant": sig},
                "sentences": sentences, "rows_switched": switched, "zero_shot": 0.5, "codeswitch": 0.5 + diff}

    table = {"first": "zero_shot", "last": "self_training", "rows": ["zero_shot", "codeswitch", "self_training"],
             "languages": {"en": entry(0.01, -0.01, False), "de": entry(0.05, 0.02, True),
                           "kk": entry(-0.09, -0.12, True), "yo": entry(0.02, -0.05, False, 100, 0.16)},
             "frame_sentences": {"kk": {"share": 0.2, "zero_shot": {"framed": 0.45, "rest": 0.46},
                                        "self_training": {"framed": None, "rest": 0.37}}}}
    notes = tmp_path / "diagnoses.yaml"
    notes.write_text("kk: a dev template labels only the inflected place name\n", encoding="utf-8")
    got = not_above(table, notes)
    assert list(got) == ["kk", "yo"]  # en is no target; de is significantly above
    assert got["kk"]["cause"] == "a dev template labels only the inflected place name" and got["yo"]["cause"] is None
    assert got["kk"]["evidence"] == ["codeswitch − zero_shot -9.0", "20% of sentences framed: 45.0 → -, the rest 46.0 → 37.0"]
    assert got["yo"]["evidence"][:2] == ["only 100 dev sentences", "16% of its rows switched"]
