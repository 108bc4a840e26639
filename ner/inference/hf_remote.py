"""The transformers side of an export: a config, a model and a pipeline that `trust_remote_code` loads.

`ner export` writes this module, with every toolkit function and class it uses inlined
(`ner.inference.hf_remote_source`), as `DIR/modeling_xner.py`, and names its classes in `DIR/config.json`
(`auto_map`, `custom_pipelines`), so that

    pipeline("token-classification", model=DIR, trust_remote_code=True)(text, lang="en")

tags `text` as `ner predict` does -- the same sentence splitting, word splitting, sub-word pooling, grid
decoding and windows, because it is the same code -- without this toolkit installed (torch, transformers,
safetensors and sacremoses suffice). Here, inside the toolkit, the module imports those names instead.

The weights stay where the export keeps them for `ner predict` (`encoder/`, a Hugging Face encoder and
tokenizer; `head.safetensors`, the head), so `XnerModel.from_pretrained` reads those two rather than a
`model.safetensors`: nothing is stored twice.
"""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

from safetensors.torch import load_file
from transformers import AutoConfig, AutoModel, AutoTokenizer, Pipeline, PretrainedConfig, PreTrainedModel
from transformers.utils import cached_file

from cslib import tokenize
from ner.inference.predict import document, tag_records
from ner.inference.windows import MAX_WORDS, WINDOW_OVERLAP, check_window
from ner.model.encoder import BaseWordEncoder
from ner.model.grid import MAX_ENTITY_WORDS
from ner.model.heads.relation import RelationHead
from ner.model.heads.token import TokenHead
from ner.model.ner_model import NerInference

MODEL_TYPE = "xner"
MODULE_FILE = "modeling_xner.py"
PIPELINE_TASK = "token-classification"
ENCODER_SUBFOLDER = "encoder"  # ner.inference.export_format.ENCODER_DIR
HEAD_WEIGHTS = "head.safetensors"  # ner.inference.export_format.HEAD_FILE
ENCODER_KEYS = "encoder.model."  # state-dict prefix of the encoder's weights (they live in ENCODER_SUBFOLDER)
UNUSED_KEYS = ("pair_projector.", "sentence_projector.")  # training-only projections in HEAD_WEIGHTS
REMOTE_HEADS = {cls.name: cls for cls in (RelationHead, TokenHead)}  # heads whose code is shipped
_HUB_KWARGS = ("cache_dir", "force_download", "local_files_only", "token", "revision", "proxies")


def remote_code_config() -> dict[str, Any]:
    """The keys `config.json` needs for transformers to find the classes of `MODULE_FILE`: `model_type`,
    `auto_map` (AutoConfig, AutoModel, AutoModelForTokenClassification) and `custom_pipelines`, whose one
    task, "token-classification", makes `pipeline("token-classification", ...)` and `pipeline(model=...)`
    both use `XnerPipeline`."""
    module = MODULE_FILE.removesuffix(".py")
    return {
        "model_type": MODEL_TYPE, "architectures": [XnerModel.__name__],
        "auto_map": {"AutoConfig": f"{module}.{XnerConfig.__name__}", "AutoModel": f"{module}.{XnerModel.__name__}",
                     "AutoModelForTokenClassification": f"{module}.{XnerModel.__name__}"},
        "custom_pipelines": {PIPELINE_TASK: {"impl": f"{module}.{XnerPipeline.__name__}",
                                             "pt": ["AutoModelForTokenClassification"], "tf": [], "type": "text"}},
    }


class XnerConfig(PretrainedConfig):
    """The export's `config.json`: `model_config` (the toolkit's ModelConfig as a dict), `entity_types`,
    `head`, `labels`, and the encoder's own config in `ENCODER_SUBFOLDER/config.json`."""

    model_type = MODEL_TYPE


class XnerModel(NerInference, PreTrainedModel):
    """Encoder + head with the toolkit's inference methods (`collate`, `forward(batch, decode_only)`,
    `decode`); it carries its tokenizer, because words become sub-words inside `collate`."""

    config_class = XnerConfig
    base_model_prefix = "xner"

    def __init__(self, config: XnerConfig, encoder: Any = None, tokenizer: Any = None) -> None:
        super().__init__(config)
        cfg = SimpleNamespace(**config.model_config)
        if cfg.head not in REMOTE_HEADS:
            raise ValueError(f"config.json: head {cfg.head!r} has no shipped code (shipped: {sorted(REMOTE_HEADS)})")
        if encoder is None or tokenizer is None:
            raise ValueError("XnerModel is built by XnerModel.from_pretrained(DIR), which loads its encoder "
                             f"and tokenizer from DIR/{ENCODER_SUBFOLDER}")
        self.encoder = BaseWordEncoder(encoder, tokenizer, cfg.pooling, cfg.max_subwords, cfg.subword_space)
        hidden = int(self.encoder.hidden_size)
        self.head = REMOTE_HEADS[cfg.head].from_config(hidden, list(config.entity_types), cfg)
        if list(self.head.labels) != list(config.labels):
            raise ValueError(f"config.json: labels {config.labels} do not match {list(self.head.labels)}")
        self.entity_types = list(self.head.schema.entity_types)  # both heads' schemas sort the types
        self._encoder_keys = self._accepted_keys(self.encoder.forward)
        self.max_entity_words = MAX_ENTITY_WORDS
        self.post_init()

    def _init_weights(self, module: Any) -> None:
        """Weights come from the export's files, never from initialisation."""

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike[str], *model_args: Any,
                        config: XnerConfig | None = None, **kwargs: Any) -> XnerModel:
        """Load an export (a directory or a Hub repository): `ENCODER_SUBFOLDER/` with transformers,
        `HEAD_WEIGHTS` with safetensors; in eval mode, fp32 (as `ner predict` runs it)."""
        path = str(pretrained_model_name_or_path)
        hub = {k: kwargs[k] for k in _HUB_KWARGS if kwargs.get(k) is not None}
        if config is None:
            config = XnerConfig.from_pretrained(path, **hub)
        tokenizer = AutoTokenizer.from_pretrained(path, subfolder=ENCODER_SUBFOLDER, **hub)
        enc_config = AutoConfig.from_pretrained(path, subfolder=ENCODER_SUBFOLDER, **hub)
        try:  # the pooler is never used (the toolkit loads the encoder the same way)
            encoder = AutoModel.from_pretrained(path, subfolder=ENCODER_SUBFOLDER, config=enc_config,
                                                add_pooling_layer=False, **hub)
        except TypeError:
            encoder = AutoModel.from_pretrained(path, subfolder=ENCODER_SUBFOLDER, config=enc_config, **hub)
        model = cls(config, encoder, tokenizer)
        weights = cached_file(path, HEAD_WEIGHTS, **hub)
        missing, unexpected = model.load_state_dict(load_file(weights), strict=False)
        missing = [k for k in missing if not k.startswith(ENCODER_KEYS)]
        unexpected = [k for k in unexpected if not k.startswith(UNUSED_KEYS)]
        if missing or unexpected:
            raise ValueError(f"{weights}: missing {missing[:3]}, unexpected {unexpected[:3]}")
        return model.float().eval()


class XnerPipeline(Pipeline):
    """`ner predict` as a transformers pipeline: raw text in, entities out, as
    `{"entity_group": TYPE, "score", "word", "start", "end"}` (character offsets, end-exclusive; None where
    the word splitter changed characters, as in `ner predict --json`).

    Call options (also accepted by `pipeline(...)`): `lang` (required: it picks the word splitter, Moses
    or characters for zh/ja, and the sentence rules), `split_sentences` (default True; False = `ner predict
    --keep-lines`), `max_words` / `window_overlap` (`--max-words` / `--window-overlap`, defaults 128 / 32),
    `max_entity_words` (default 32) and `tag_batch_size` (sentences per forward pass, default 64). One text
    is tagged like one input line of `ner predict`: all its sentences and windows in the same batches.
    """

    _load_tokenizer = False  # the model carries its tokenizer
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False

    def _sanitize_parameters(self, lang: str | None = None, split_sentences: bool | None = None,
                             max_words: int | None = None, window_overlap: int | None = None,
                             max_entity_words: int | None = None, tag_batch_size: int | None = None,
                             **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unknown options {sorted(kwargs)} (lang, split_sentences, "
                            f"max_words, window_overlap, max_entity_words, tag_batch_size)")
        pre = {k: v for k, v in (("lang", lang), ("split_sentences", split_sentences)) if v is not None}
        fwd = {k: v for k, v in (("max_words", max_words), ("overlap", window_overlap),
                                 ("max_entity_words", max_entity_words), ("batch_size", tag_batch_size))
               if v is not None}
        return pre, fwd, {}

    def preprocess(self, text: str, lang: str | None = None, split_sentences: bool = True) -> dict[str, Any]:
        if lang is None:
            raise ValueError("pass the text's language, e.g. ner(text, lang='en'): it picks the word splitter")
        if not isinstance(text, str):
            raise TypeError(f"expected a string (or a list of strings), got {type(text).__name__}")
        tokenize("check", lang)  # an unknown code fails here, naming the known ones (as in ner predict)
        return {"record": document(text, lang, split_sentences)}

    def _forward(self, inputs: dict[str, Any], max_words: int = MAX_WORDS, overlap: int = WINDOW_OVERLAP,
                 max_entity_words: int = MAX_ENTITY_WORDS, batch_size: int = 64) -> dict[str, Any]:
        check_window(max_words, overlap)
        self.model.max_entity_words = max_entity_words
        return {"result": tag_records(self.model, [inputs["record"]], batch_size, max_words, overlap)[0]}

    def postprocess(self, outputs: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"entity_group": e["type"], "score": e["score"], "word": e["text"], "start": e["char_start"],
                 "end": e["char_end"]} for e in outputs["result"]["entities"]]
