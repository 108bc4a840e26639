"""Task-generic code-switching: text, sentence-labeled records and token/span-labeled data.

A task input becomes one Arrow table (`_key` plus the record's fields). `switch_batch` turns
any slice of it into output rows; each row's variants draw from an RNG seeded by
(seed, key, variant), so the output depends only on the seed and the rows' keys, never on
how the table was cut into batches. That is what lets the local engine (shards, optionally in
worker processes), Ray Data and `datasets.Dataset.map` share this one function and agree row
for row.

Kinds written (docs/shards.md): `text`, `classification`, `tagging`; `ner` is the existing
`codeswitch` kind (PAN-X/CoNLL IOB2), which `--engine ray` can also build.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import pyarrow as pa

from .errors import CslibError, at
from .iob import spans
from .schemes import SCHEMES, SchemeError, decode, detect_scheme, encode
from .shards import OPTIONAL
from .substitute import CodeSwitcher, switch_method
from .task_inputs import Records
from .tokenizers import word_tokenize
from .validate import row_problem

TASKS = ("auto", "ner", "text", "classification", "tagging")
KINDS = {"ner": "codeswitch", "text": "text", "classification": "classification", "tagging": "tagging"}
TEXT_CANDIDATES = (("premise", "hypothesis"), ("sentence1", "sentence2"), ("question1", "question2"),
                   ("text",), ("sentence",), ("tokens",))
TAGS_CANDIDATES = ("tags", "ner_tags", "slot_tags", "slots", "labels")
TOKENS_CANDIDATES = ("tokens", "words")
META = ("id", "src_lang", "tgt_lang", "method", "n_switched")
INPUT_PREFIX = "input_"  # a carried field named like a column cslib writes is written as input_NAME
_STR_LIST = pa.list_(pa.string())
_TOKEN_COLUMNS = [("src_tokens", _STR_LIST), ("cs_tokens", _STR_LIST), ("cs_langs", _STR_LIST),
                  ("cs_src_index", pa.list_(pa.int32()))]
KEY = "_key"


@dataclass
class TaskOptions:
    """How to read a task input (`cslib build --task ...`); none of it changes for a given file
    except what is stated. `engine` and `address` never change the output bytes."""

    task: str = "auto"
    text_fields: list[str] | None = None  # record fields switched; default: inferred
    tokens_field: str | None = None  # tagging records: the token list (default tokens/words)
    tags_field: str | None = None  # tagging records: the tag list (default tags/ner_tags/...)
    label_fields: list[str] | None = None  # fields every record must have (else an error)
    id_field: str | None = None  # a unique field used as the row key (default: `id` if present, else the position)
    scheme: str = "auto"  # tagging scheme of the input: auto | iob1 | iob2 | bioes | bilou | io
    output_scheme: str | None = None  # default: the input's scheme
    input_format: str = "auto"  # auto | jsonl | csv | parquet | conll | text
    pretokenized: bool = False  # plain-text input: whitespace-separated tokens
    engine: str = "local"  # local | ray
    address: str | None = None  # Ray cluster address (default: start a local Ray)

    def validate(self) -> None:
        if self.task not in TASKS:
            raise CslibError(f"unknown task {self.task!r} (expected one of {', '.join(TASKS)})")
        for name in (self.scheme, self.output_scheme):
            if name is not None and name != "auto" and name not in SCHEMES:
                raise CslibError(f"unknown tagging scheme {name!r} (expected one of {', '.join(SCHEMES)})")
        if self.engine not in ("local", "ray"):
            raise CslibError(f"unknown engine {self.engine!r} (expected local or ray)")


@dataclass
class TaskSpec:
    """A resolved task: what `switch_batch` needs besides the switcher (and the manifest's `task`)."""

    task: str
    src: str
    tgt: str
    seed: int = 13
    variants: int = 1
    text_fields: list[str] = field(default_factory=list)  # classification/text; tagging: [tokens field]
    text_types: dict[str, str] = field(default_factory=dict)  # field -> "text" | "tokens"
    tags_field: str | None = None
    scheme: str = "iob2"
    output_scheme: str = "iob2"
    carried: list[str] = field(default_factory=list)  # fields copied unchanged, by the column names written
    columns: list[str] = field(default_factory=list)  # input field order, as written (classification output order)
    id_field: str | None = None  # the record field whose values key the rows (None: the position)
    renamed: dict[str, str] = field(default_factory=dict)  # written column -> its input field, where they differ

    @property
    def kind(self) -> str:
        return KINDS[self.task]

    def to_dict(self) -> dict:
        """Everything the output depends on (a build's fingerprint). The row key and renamed
        fields appear only when used, so a build without them keeps its earlier fingerprint."""
        d = asdict(self)
        for name in ("id_field", "renamed"):
            if not d[name]:
                del d[name]
        return d

    def field_of(self, column: str) -> str:
        """The input field written as `column`."""
        return self.renamed.get(column, column)


# ----------------------------------------------------------------------------- resolving a task


def _pick(names: tuple[str, ...], fields: dict) -> str | None:
    return next((n for n in names if n in fields), None)


def resolve(records: Records, opts: TaskOptions, src: str, tgt: str, seed: int = 13,
            variants: int = 1) -> TaskSpec:
    """Decide the task and fields from the options and the first record; check every record."""
    opts.validate()
    first = records.rows[0]
    task = opts.task
    tags_field = opts.tags_field
    if records.fmt == "conll":
        tags_field = "tags"
    elif tags_field is None and task in ("auto", "tagging"):
        # A list-valued `labels` next to a plain text field is multi-label classification, not tags:
        # tags are only inferred beside a token list.
        tok = opts.tokens_field or _pick(TOKENS_CANDIDATES, first)
        if task == "tagging" or (tok and isinstance(first.get(tok), list)):
            tags_field = next((n for n in TAGS_CANDIDATES if isinstance(first.get(n), list)), None)
    if task == "auto":
        if tags_field:
            task = "tagging"
        elif records.fmt == "text":
            task = "text"
        else:
            task = "classification" if len(first) > len(_text_fields(records, opts, None)) else "text"
    if task == "ner":
        raise CslibError("--task ner reads PAN-X/CoNLL IOB2 files (cslib build --input FILE)")
    spec = TaskSpec(task, src, tgt, seed, variants)
    if task == "tagging":
        if not tags_field:
            raise records.at(0, f"no tags field (has: {', '.join(first)}); pass --tags-field")
        tok = opts.tokens_field or _pick(TOKENS_CANDIDATES, first)
        if not tok:
            raise records.at(0, f"no tokens field (has: {', '.join(first)}); pass --tokens-field")
        spec.text_fields, spec.tags_field = [tok], tags_field
        spec.text_types = {tok: "tokens"}
    else:
        spec.text_fields = _text_fields(records, opts, task)
        if task == "text" and len(spec.text_fields) != 1:
            raise CslibError(f"--task text switches one field, got {spec.text_fields}; "
                             f"use --task classification for sentence pairs")
    fields = list(dict.fromkeys(c for row in records.rows for c in row))  # union, first-seen order
    spec.id_field = opts.id_field or ("id" if "id" in fields and "id" not in spec.text_fields
                                      and spec.tags_field != "id" else None)
    carried = [c for c in fields if c not in spec.text_fields and c != spec.tags_field
               and not (spec.id_field == "id" and c == "id")]
    written = _written_names(carried, fields, spec.text_fields)
    spec.renamed = {w: c for c, w in written.items() if w != c}
    spec.carried = [written[c] for c in carried]
    spec.columns = [written.get(c, c) for c in fields]
    _check_records(records, spec, opts)
    if task == "tagging":
        seqs = [r[spec.tags_field] for r in records.rows]
        spec.scheme = detect_scheme(seqs) if opts.scheme == "auto" else opts.scheme
        spec.output_scheme = opts.output_scheme or spec.scheme
        for i, seq in enumerate(seqs):
            try:
                decode(seq, spec.scheme)
            except SchemeError as exc:
                line = records.where[i]
                if isinstance(line, int) and records.fmt == "conll":  # the token's own line
                    raise at(records.path, line + exc.token, exc.problem) from None
                raise records.at(i, f"{spec.tags_field}: {exc}") from None
    return spec


def _written_names(carried: list[str], fields: list[str], text_fields: list[str]) -> dict[str, str]:
    """The column each carried field is written as: its own name, or `input_NAME` when cslib
    writes a column of that name in any task kind or the name starts with `_` (cslib's working
    columns), prefixed again while that is still the name of a column or another field."""
    reserved = set(META) | {f"src_{f}" for f in text_fields} | {n for n, _ in _TOKEN_COLUMNS}
    reserved |= {"src_text", "cs_text", "src_tags", "cs_tags"}
    taken = reserved | set(fields)
    out: dict[str, str] = {}
    for c in carried:
        name = c
        if c in reserved or c.startswith("_"):
            name = INPUT_PREFIX + c
            while name in taken:
                name = INPUT_PREFIX + name
            taken.add(name)
        out[c] = name
    return out


def _text_fields(records: Records, opts: TaskOptions, task: str | None) -> list[str]:
    first = records.rows[0]
    if opts.text_fields:
        return list(opts.text_fields)
    for group in TEXT_CANDIDATES:
        if all(f in first for f in group):
            return list(group)
    if task is None:
        return []
    raise records.at(0, f"no text field (has: {', '.join(first) or 'nothing'}); pass --text-field")


def _check_records(records: Records, spec: TaskSpec, opts: TaskOptions) -> None:
    required = list(opts.label_fields or [])
    if spec.id_field:
        required.append(spec.id_field)
    keys: set = set()
    for i, row in enumerate(records.rows):
        for f in spec.text_fields:
            if f not in row or row[f] is None:
                raise records.at(i, f"missing text field {f!r} (has: {', '.join(row) or 'nothing'})")
            kind = "tokens" if isinstance(row[f], list) else "text"
            if kind == "text" and not isinstance(row[f], str):
                raise records.at(i, f"text field {f!r} is {type(row[f]).__name__}, expected a string or "
                                    f"a list of tokens")
            if kind == "tokens" and not all(isinstance(t, str) for t in row[f]):
                raise records.at(i, f"token list {f!r} holds non-strings")
            if spec.text_types.setdefault(f, kind) != kind:
                raise records.at(i, f"field {f!r} is {kind} here but {spec.text_types[f]} in the first record")
        for f in required:
            if f not in row or row[f] is None:
                what = "id field" if f == spec.id_field else "label field"
                raise records.at(i, f"missing {what} {f!r} (has: {', '.join(row) or 'nothing'})")
        if spec.tags_field:
            tags, toks = row.get(spec.tags_field), row[spec.text_fields[0]]
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise records.at(i, f"tags field {spec.tags_field!r} missing or not a list of strings")
            if len(tags) != len(toks):
                raise records.at(i, f"{len(toks)} tokens but {len(tags)} tags")
            if not toks:
                raise records.at(i, "empty token list")
        if spec.id_field:
            key = str(row[spec.id_field])
            if key in keys:
                raise records.at(i, f"duplicate {spec.id_field} {key!r}")
            keys.add(key)


def input_table(records: Records, spec: TaskSpec) -> pa.Table:
    """The records as one Arrow table: a string `_key` column (the position, or `spec.id_field`),
    then the text, tags and carried fields, carried ones under the names they are written as."""
    keys = ([str(r[spec.id_field]) for r in records.rows] if spec.id_field else
            [str(i) for i in range(len(records.rows))])
    names = list(dict.fromkeys([*spec.text_fields, *([spec.tags_field] if spec.tags_field else []),
                                *spec.carried]))
    arrays = {KEY: pa.array(keys, pa.string())}
    for name in names:
        values = [r.get(spec.field_of(name)) for r in records.rows]
        try:
            arrays[name] = pa.array(values, _STR_LIST if spec.text_types.get(name) == "tokens" or
                                    name == spec.tags_field else
                                    pa.string() if name in spec.text_types else None)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            first_type = type(next((v for v in values if v is not None), None))
            i = next(i for i, v in enumerate(values) if v is not None and not isinstance(v, first_type))
            raise records.at(i, f"field {spec.field_of(name)!r} is {type(values[i]).__name__} here but "
                                f"{first_type.__name__} in earlier records") from None
    return pa.table(arrays)


def tagged_rows(table: pa.Table, spec: TaskSpec) -> Iterator[tuple[list[str], list[str]]]:
    """(tokens, IOB2 tags) of each row of a tagged input table; a row whose tags do not fit the
    scheme is left out here (switching reports it)."""
    tokens = table.column(spec.text_fields[0]).to_pylist()
    for toks, raw in zip(tokens, table.column(spec.tags_field).to_pylist(), strict=True):
        try:
            yield toks, encode(decode(raw, spec.scheme), len(toks), "iob2")
        except SchemeError:
            continue


def as_written(table: pa.Table, spec: TaskSpec) -> pa.Table:
    """A table of input fields (a `datasets` batch) with its carried fields renamed as `spec` writes them."""
    if not spec.renamed:
        return table
    written = {f: c for c, f in spec.renamed.items()}
    return table.rename_columns([written.get(n, n) for n in table.column_names])


# ----------------------------------------------------------------------------- switching


def output_schema(spec: TaskSpec, inp: pa.Schema) -> pa.Schema:
    """The Arrow schema of a shard of `spec.kind` for an input table with schema `inp`."""
    meta = [("id", pa.string()), ("src_lang", pa.string()), ("tgt_lang", pa.string())]
    carried = [(c, inp.field(c).type) for c in spec.carried]
    if spec.kind in ("codeswitch", "tagging"):
        fields = [*meta, ("src_tokens", _STR_LIST), ("src_tags", _STR_LIST), ("cs_tokens", _STR_LIST),
                  ("cs_tags", _STR_LIST), *_TOKEN_COLUMNS[2:], ("method", pa.string()),
                  ("n_switched", pa.int32())]
        if spec.kind == "codeswitch":  # the same columns as the local NER build, optional ones included
            return pa.schema(fields + [(f.name, f.type) for f in OPTIONAL["codeswitch"]])
        return pa.schema(fields + carried)
    if spec.kind == "text":
        return pa.schema([*meta, ("src_text", pa.string()), ("cs_text", pa.string()), *_TOKEN_COLUMNS,
                          ("method", pa.string()), ("n_switched", pa.int32()), *carried])
    fields = [*meta, ("method", pa.string()), ("n_switched", pa.int32())]
    for c in spec.columns:
        if c in spec.text_fields:
            typ = _STR_LIST if spec.text_types[c] == "tokens" else pa.string()
            fields += [(c, typ), (f"src_{c}", typ)]
        elif c in spec.carried:
            fields.append((c, inp.field(c).type))
    return pa.schema(fields)


def detokenize(tokens: list[str], lang: str) -> str:
    """Text from tokens (Moses rules; no spaces inside runs of zh/ja characters)."""
    return _detok(lang).detokenize(tokens)


_DETOK: dict = {}


def _detok(lang: str):
    if lang not in _DETOK:
        from sacremoses import MosesDetokenizer  # 0.5 s to import: only when text is detokenized

        _DETOK[lang] = MosesDetokenizer(lang=lang)
    return _DETOK[lang]


def switch_batch(table: pa.Table, spec: TaskSpec, switcher: CodeSwitcher) -> pa.Table:
    """Code-switch every row of `table` (`_key` + input fields) into `spec.variants` rows each.

    Engine-agnostic: the result for a row depends only on `spec`, the dictionary and the row
    itself (its key seeds the RNG), so any partitioning of a table gives the same rows.
    Every labeled row is re-checked (`validate.row_problem`) before it is returned.
    """
    cols = table.to_pydict()
    schema = output_schema(spec, table.schema)
    out: dict[str, list] = {f.name: [] for f in schema}
    keys = cols[KEY]
    pair = f"{spec.src}-{spec.tgt}"
    for r in range(table.num_rows):
        for v in range(spec.variants):
            rng = random.Random(f"{spec.seed}:{keys[r]}:{v}")
            out["id"].append(f"{pair}:{keys[r]}:{v}")
            out["src_lang"].append(spec.src)
            out["tgt_lang"].append(spec.tgt)
            if spec.kind in ("codeswitch", "tagging"):
                _switch_tagged(cols, r, v, spec, switcher, rng, out)
            else:
                _switch_texts(cols, r, spec, switcher, rng, out)
            for c in spec.carried:
                out[c].append(cols[c][r])
    return pa.Table.from_pydict(out, schema=schema)


def _switch_tagged(cols: dict, r: int, v: int, spec: TaskSpec, sw: CodeSwitcher, rng: random.Random,
                   out: dict) -> None:
    tokens = cols[spec.text_fields[0]][r]
    raw = cols[spec.tags_field][r]
    try:
        ents = decode(raw, spec.scheme)
    except SchemeError as exc:
        raise CslibError(f"row {cols[KEY][r]}: {exc}") from None
    tags = encode(ents, len(tokens), "iob2")
    s = sw.switch(tokens, tags, rng)
    problem = row_problem(tokens, tags, s.tokens, s.tags, s.src_index, s.langs)
    if problem:  # a bug, never user error: refuse to write a wrong label
        raise RuntimeError(f"label check failed for row {cols[KEY][r]} variant {v}: {problem}")
    out["src_tokens"].append(tokens)
    out["src_tags"].append(raw if spec.output_scheme == spec.scheme else
                           encode(ents, len(tokens), spec.output_scheme))
    out["cs_tokens"].append(s.tokens)
    out["cs_tags"].append(encode(spans(s.tags), len(s.tokens), spec.output_scheme))
    out["cs_langs"].append(s.langs)
    out["cs_src_index"].append(s.src_index)
    out["method"].append(switch_method(s.origins))
    out["n_switched"].append(s.n_switched)
    if "cs_sources" in out:
        out["cs_sources"].append(s.sources)
        out["n_translatable"].append(s.n_translatable)


def _switch_texts(cols: dict, r: int, spec: TaskSpec, sw: CodeSwitcher, rng: random.Random, out: dict) -> None:
    origins: set[str] = set()
    n_switched = 0
    for f in spec.text_fields:
        value = cols[f][r]
        if value is None:
            raise CslibError(f"row {cols[KEY][r]}: missing text field {f!r}")
        pre = isinstance(value, list)
        tokens = list(value) if pre else word_tokenize(value, spec.src)
        s = sw.switch(tokens, ["O"] * len(tokens), rng)
        # Nothing switched: the text is written back exactly as it came (no re-detokenization).
        cs_text = value if pre or not s.n_switched else detokenize(s.tokens, spec.src)
        problem = row_problem(tokens, ["O"] * len(tokens), s.tokens, s.tags, s.src_index, s.langs) if tokens \
            else None
        if problem:
            raise RuntimeError(f"check failed for row {cols[KEY][r]} field {f}: {problem}")
        origins |= s.origins
        n_switched += s.n_switched
        if spec.kind == "text":
            src_text = detokenize(tokens, spec.src) if pre else value
            out["src_text"].append(src_text)
            out["cs_text"].append(src_text if not s.n_switched else detokenize(s.tokens, spec.src))
            out["src_tokens"].append(tokens)
            out["cs_tokens"].append(s.tokens)
            out["cs_langs"].append(s.langs)
            out["cs_src_index"].append(s.src_index)
        else:
            out[f].append(s.tokens if pre else cs_text)
            out[f"src_{f}"].append(value)
    out["method"].append(switch_method(origins))
    out["n_switched"].append(n_switched)
