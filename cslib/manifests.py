"""Declarative data sources (`data_manifests/*/*.yaml`) and their resolution to local files.

Resolution order for every file: an explicit `data_root` (the `--data-root` flag), then the
`CSLIB_DATA_ROOT` environment variable (both point at a local mirror laid out like the
manifests' `path` fields), then the download cache (`$CSLIB_CACHE_DIR`, default `data/` in
the xner cache: `$XNER_CACHE_DIR/data`, else `~/.cache/xner/data`), then the remote source (a
URL, or a Hugging Face dataset converted to the mirror's format). Every file is checked against
its sha256 before use.
"""

from __future__ import annotations

import logging
import os
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .environment import cache_root
from .errors import CslibError
from .files import atomic_path, file_sha256
from .textio import read_text_file

log = logging.getLogger(__name__)

ENV_DATA_ROOT = "CSLIB_DATA_ROOT"
ENV_CACHE_DIR = "CSLIB_CACHE_DIR"
ENV_MANIFESTS = "CSLIB_MANIFESTS"


def manifests_dir() -> Path:
    env = os.environ.get(ENV_MANIFESTS)
    return Path(env) if env else Path(__file__).resolve().parent.parent / "data_manifests"


def cache_dir() -> Path:
    """The download cache: `$CSLIB_CACHE_DIR`, else `cache_root()/data`."""
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env) if env else cache_root() / "data"


@dataclass
class FileSpec:
    key: str
    path: str  # relative to a mirror root
    sha256: str
    url: str | None = None
    hf_split: str | None = None


@dataclass
class SourceManifest:
    name: str
    dataset: str
    lang: str
    format: str
    license: str
    description: str
    files: dict[str, FileSpec]
    hf_dataset: str | None = None
    hf_config: str | None = None
    src_lang: str | None = None
    origin: Path | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> SourceManifest:
        try:
            raw = yaml.safe_load(read_text_file(path))
            files = {k: FileSpec(key=k, **v) for k, v in raw.pop("files").items()}
            remote = raw.pop("remote", {}) or {}
            known = {"name", "dataset", "lang", "format", "license", "description", "src_lang"}
            kw = {k: raw.pop(k) for k in list(raw) if k in known}
            return cls(files=files, hf_dataset=remote.get("hf_dataset"), hf_config=remote.get("hf_config"),
                       origin=path, extra=raw, **kw)
        except (yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as exc:
            msg = " ".join(str(exc).split())[:200]
            raise CslibError(f"{path}: malformed data manifest ({msg})") from None


def manifest_path(dataset: str, name: str) -> Path:
    return manifests_dir() / dataset / f"{name}.yaml"


def load_manifest(dataset: str, name: str) -> SourceManifest:
    """`name` is the language for panx/conll2002, `en-ja` for muse, `jpn-eng` for tatoeba."""
    path = manifest_path(dataset, name)
    if not path.exists():
        folder = manifests_dir() / dataset
        have = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        hint = f" (have: {' '.join(have)})" if have else f" (no folder {folder})"
        raise CslibError(f"no data manifest for {dataset}/{name}{hint}")
    return SourceManifest.load(path)


def all_manifests() -> list[SourceManifest]:
    return [SourceManifest.load(p) for p in sorted(manifests_dir().glob("*/*.yaml"))]


_VERIFIED: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime) because the same files are read often."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = file_sha256(path)
    return _VERIFIED[key]


def verify(path: Path, spec: FileSpec, manifest: SourceManifest) -> None:
    got = sha256_file(path)
    if got != spec.sha256:
        raise CslibError(
            f"{path}: sha256 mismatch for {manifest.name}:{spec.key} (manifest {manifest.origin} "
            f"says {spec.sha256[:12]}…, file is {got[:12]}…)")


def resolve_file(dataset: str, name: str, key: str, data_root: str | Path | None = None,
                 check: bool = True) -> Path:
    """Local path of one file of a source, downloading into the cache only when no mirror is set."""
    manifest = load_manifest(dataset, name)
    spec = manifest.files.get(key)
    if spec is None:
        raise CslibError(f"{manifest.origin}: source {manifest.name} has no file {key!r} "
                         f"(has: {', '.join(manifest.files)})")
    root = data_root or os.environ.get(ENV_DATA_ROOT)
    if root:
        path = Path(root) / spec.path
        if not path.exists():
            how = "--data-root" if data_root else f"${ENV_DATA_ROOT}"
            raise CslibError(f"{path}: not found in the data mirror given by {how} ({root})")
    else:
        path = cache_dir() / spec.path
        if not path.exists():
            _fetch(manifest, spec, path)
    if check:
        verify(path, spec, manifest)
    return path


def _fetch(manifest: SourceManifest, spec: FileSpec, dest: Path) -> None:
    """Download one file into the cache, atomically (temp file, then rename)."""
    with atomic_path(dest) as tmp:
        if spec.url:
            log.info("downloading %s", spec.url)
            try:
                with urllib.request.urlopen(spec.url, timeout=60) as resp, tmp.open("wb") as out:
                    shutil.copyfileobj(resp, out)
            except OSError as exc:
                raise CslibError(f"{spec.url}: download failed ({exc}); set --data-root or "
                                 f"${ENV_DATA_ROOT} to a local mirror") from None
        elif manifest.hf_dataset:
            _fetch_hf(manifest, spec, tmp)
        else:
            raise CslibError(f"{manifest.origin}: {spec.key} has no url and the source no hf_dataset")


def _fetch_hf(manifest: SourceManifest, spec: FileSpec, out: Path) -> None:
    """Convert a Hugging Face token-classification split into the mirror's text format."""
    try:
        import datasets  # noqa: PLC0415  (optional dependency, only for hub users)
    except ImportError:
        raise CslibError("the 'datasets' package is needed to fetch from the hub: "
                         "pip install 'xner[hub]', or use --data-root with a local mirror") from None
    log.info("loading %s/%s split %s from the hub", manifest.hf_dataset, manifest.hf_config, spec.hf_split)
    try:
        ds = datasets.load_dataset(manifest.hf_dataset, manifest.hf_config, split=spec.hf_split)
    except Exception as exc:  # noqa: BLE001  (network, auth, missing config: all user-facing)
        raise CslibError(f"{manifest.hf_dataset}: could not load from the hub ({type(exc).__name__}); "
                         f"set --data-root or ${ENV_DATA_ROOT} to a local mirror") from None
    names = ds.features["ner_tags"].feature.names
    sep = "\t" if manifest.format == "panx-tsv" else " "
    with out.open("w", encoding="utf-8") as fh:
        for row in ds:
            for tok, tag in zip(row["tokens"], row["ner_tags"], strict=True):
                fh.write(f"{tok}{sep}{names[tag]}\n")
            fh.write("\n")
