"""Named data sets resolved through the manifests: the entry points notebooks and `ner` use."""

from __future__ import annotations

from pathlib import Path

from .errors import CslibError
from .languages import get_language
from .manifests import load_manifest, resolve_file
from .readers import LabeledSentence, read_labeled_file, read_text

_FORMATS = {"panx-tsv": "panx", "conll": "conll"}


def load_split(dataset: str, lang: str, split: str, data_root: str | Path | None = None,
               limit: int | None = None, on_invalid: str = "repair") -> list[LabeledSentence]:
    """A labeled split, e.g. `load_split("panx", "ja", "dev")`, checksum-verified."""
    get_language(lang)
    manifest = load_manifest(dataset, lang)
    if split not in manifest.files:
        raise CslibError(f"{manifest.origin}: {dataset}/{lang} has no split {split!r} "
                         f"(has: {', '.join(manifest.files)})")
    path = resolve_file(dataset, lang, split, data_root)
    return read_labeled_file(path, _FORMATS.get(manifest.format, "auto"), on_invalid, limit)


def muse_path(src: str, tgt: str, data_root: str | Path | None = None) -> Path:
    return resolve_file("muse", f"{src}-{tgt}", "dict", data_root)


def has_muse(src: str, tgt: str) -> bool:
    try:
        load_manifest("muse", f"{src}-{tgt}")
    except CslibError:
        return False
    return True


def load_parallel(tgt: str, data_root: str | Path | None = None) -> tuple[list[str], list[str]]:
    """Tatoeba English–tgt sentence pairs (line-aligned)."""
    iso3 = get_language(tgt).iso3
    if iso3 is None:
        raise CslibError(f"no Tatoeba parallel data for {tgt!r} in the manifests; "
                         f"pass a parallel corpus with --parallel SRC_FILE TGT_FILE")
    name = f"{iso3}-eng"
    eng = read_text(resolve_file("tatoeba", name, "eng", data_root))
    other = read_text(resolve_file("tatoeba", name, "tgt", data_root))
    if len(eng) != len(other):
        raise CslibError(f"tatoeba/{name}: {len(eng)} English lines but {len(other)} {tgt} lines")
    return eng, other
