"""Environment defaults of the `ner` command, set when `ner.cli` is imported.

huggingface_hub reads HF_HUB_OFFLINE once, when it is first imported, so the command's "never
download at run time" default must be in place before `ner.cli` imports the training and
inference modules (which import transformers): `ner.cli` imports this module before them.
Library code that imports `ner` modules directly keeps the caller's environment.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download at run time
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
