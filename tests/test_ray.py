"""`cslib build --engine ray` on a small local Ray instance equals the local build, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cslib import BuildConfig, TaskOptions, build_codeswitch, run_build

ray = pytest.importorskip("ray")  # installed by `make setup` (the ray extra); CI runs this

FIX = Path(__file__).parent / "fixtures" / "tasks"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, object_store_memory=96 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def shard_bytes(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.glob("shard-*.parquet"))}


def manifest(d: Path) -> dict:
    m = json.loads((d / "manifest.json").read_text())
    m["config"].pop("out")
    return m


def test_ray_ner_build_equals_local_and_resumes_it(tmp_path, data_root, local_ray):
    kw = dict(src="en", tgt="de", data_root=str(data_root), limit=300, shard_size=100, seed=3, variants=2)
    local = build_codeswitch(BuildConfig(out=str(tmp_path / "local"), **kw))
    remote = run_build(BuildConfig(out=str(tmp_path / "ray"), **kw), TaskOptions(engine="ray"))
    assert len(shard_bytes(local)) == 6 and shard_bytes(remote) == shard_bytes(local)
    assert manifest(remote) == manifest(local)
    assert not (remote / ".ray").exists()
    # An interrupted local build is finished by Ray (same .build.json protocol), and vice versa.
    (local / "manifest.json").unlink()
    (local / "shard-00004.parquet").unlink()
    full = shard_bytes(remote)
    run_build(BuildConfig(out=str(local), **kw), TaskOptions(engine="ray"))
    assert shard_bytes(local) == full


def test_ray_task_builds_equal_local(tmp_path, local_ray, monkeypatch):
    from cslib import ray_engine

    monkeypatch.setattr(ray_engine, "WAVE_ROWS", 5)  # several Ray jobs (waves of shards) per build
    for name, variants in (("reviews.jsonl", 2), ("slots.bioes", 3), ("sentences.txt", 1)):
        kw = dict(tgt="de", input=str(FIX / name), dictionary=str(FIX / "en-de.dict"), seed=9, shard_size=4,
                  variants=variants)
        local = run_build(BuildConfig(out=str(tmp_path / f"l-{name}"), workers=2, **kw), TaskOptions())
        remote = run_build(BuildConfig(out=str(tmp_path / f"r-{name}"), **kw), TaskOptions(engine="ray"))
        assert shard_bytes(remote) == shard_bytes(local), name
        assert manifest(remote) == {**manifest(local), "config": manifest(remote)["config"]}
