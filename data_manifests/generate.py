"""Regenerate the YAML manifests from a local mirror (maintainers only).

    python data_manifests/generate.py --data-root ../shared/data

The checksums are those of the mirror's files; the remote fields say where real users get
the same data. Hand edits to descriptions are overwritten: edit this script instead.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
TATOEBA = {"deu": "de", "spa": "es", "nld": "nl", "cmn": "zh", "jpn": "ja",
           "ind": "id", "ara": "ar", "hin": "hi", "rus": "ru", "fra": "fr",
           # PAN-X languages MUSE lacks (align mode): 1,000 pairs for eus mar urd, fewer for the rest
           "eus": "eu", "mar": "mr", "urd": "ur", "kat": "ka", "mal": "ml", "kaz": "kk", "swh": "sw",
           "tel": "te", "jav": "jv"}
LASER = "https://raw.githubusercontent.com/facebookresearch/LASER/main/data/tatoeba/v1"
MUSE = "https://dl.fbaipublicfiles.com/arrival/dictionaries"
XTREME_PANX = "https://raw.githubusercontent.com/rohanshah13/xtreme/master/download/panx"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(dataset: str, name: str, doc: dict) -> None:
    out = HERE / dataset / f"{name}.yaml"
    out.parent.mkdir(exist_ok=True)
    out.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", required=True, type=Path)
    root = ap.parse_args().data_root
    for f in sorted((root / "panx").glob("train-*.tsv")):
        lang = f.stem.split("-", 1)[1]
        files = {}
        for split, hf in (("train", "train"), ("dev", "validation")):
            p = root / "panx" / f"{split}-{lang}.tsv"
            if p.exists():
                files[split] = {"path": f"panx/{p.name}", "sha256": sha(p), "hf_split": hf,
                                "url": f"{XTREME_PANX}/{p.name}"}
        write("panx", lang, {
            "name": f"panx-{lang}", "dataset": "panx", "lang": lang, "format": "panx-tsv",
            "description": f"WikiANN / PAN-X NER ({lang}), XTREME splits; zh/ja split into characters",
            "license": "as published by WikiANN/XTREME (no explicit licence stated)",
            "citation": "Pan et al. 2017, Cross-lingual Name Tagging and Linking for 282 Languages",
            "remote": {"hf_dataset": "google/xtreme", "hf_config": f"PAN-X.{lang}"},
            "files": files})
    for p in sorted((root / "muse").glob("en-*.txt")):
        pair = p.stem
        write("muse", pair, {
            "name": f"muse-{pair}", "dataset": "muse", "src_lang": "en", "lang": pair.split("-")[1],
            "format": "muse-tsv",
            "description": f"MUSE ground-truth bilingual dictionary {pair} (full version)",
            "license": "CC BY-NC 4.0", "citation": "Conneau et al. 2018, Word Translation Without Parallel Data",
            "files": {"dict": {"path": f"muse/{p.name}", "sha256": sha(p), "url": f"{MUSE}/{p.name}"}}})
    for iso3, lang in TATOEBA.items():
        stem = f"tatoeba.{iso3}-eng"
        files = {}
        for key, ext in (("eng", "eng"), ("tgt", iso3)):
            p = root / "tatoeba" / f"{stem}.{ext}"
            files[key] = {"path": f"tatoeba/{p.name}", "sha256": sha(p), "url": f"{LASER}/{p.name}"}
        n_pairs = sum(1 for _ in (root / "tatoeba" / f"{stem}.eng").open(encoding="utf-8"))
        write("tatoeba", f"{iso3}-eng", {
            "name": f"tatoeba-{iso3}-eng", "dataset": "tatoeba", "src_lang": "en", "lang": lang,
            "format": "parallel-text",
            "description": f"Tatoeba English-{lang} sentence pairs (LASER test set, {n_pairs:,} pairs)",
            "license": "CC-BY 2.0 FR", "citation": "Tatoeba via Artetxe & Schwenk 2019 (LASER)",
            "files": files})
    for lang in ("es", "nl"):
        files = {}
        for split, hf in (("train", "train"), ("dev", "validation")):
            p = root / "conll2002" / f"{lang}.{split}.txt"
            files[split] = {"path": f"conll2002/{p.name}", "sha256": sha(p), "hf_split": hf}
        write("conll2002", lang, {
            "name": f"conll2002-{lang}", "dataset": "conll2002", "lang": lang, "format": "conll",
            "description": f"CoNLL-2002 NER ({lang}), IOB2, PER/ORG/LOC/MISC",
            "license": "free for research use", "citation": "Tjong Kim Sang 2002",
            "remote": {"hf_dataset": "conll2002", "hf_config": lang}, "files": files})


if __name__ == "__main__":
    main()
