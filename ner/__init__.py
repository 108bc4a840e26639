"""mCL-NER: train, evaluate and run cross-lingual NER models on `cslib` shards.

The package by concern (each layer imports only the ones listed before it):

- `ner.model`: word encoder, heads (`ner.model.heads`), the word-pair grid, losses, `NerModel`;
- `ner.data`: shard sets, pseudo-label files, records, length buckets, the seeded training order;
- `ner.inference`: device and precision, loading, batched tagging, evaluation, prediction, export, mining;
- `ner.integrations`: other libraries' entry points into a model (the spaCy component `xner`);
- `ner.training`: configuration, objective, loop, checkpoints, model selection, torchrun, self-training;
- `ner.diagnostics`: what each part of the method does to a trained model;
- `ner.cli`: the `ner` command.

The names below are the API notebooks use (`from ner import train, TrainConfig, load_model, ...`); they are
imported on first use, so `import ner` stays cheap.

Importing `ner` before torch makes torch's OpenMP threads sleep, rather than spin, between parallel regions
(OMP_WAIT_POLICY=PASSIVE, unless the environment already sets it): on a CPU shared with other jobs, spinning
threads steal the cores their own process waits for (docs/benchmarks.md). Set OMP_WAIT_POLICY=ACTIVE to get
spinning back on a dedicated machine.
"""

import importlib
import os
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_API = {
    "NerError": "ner.errors",
    "ModelConfig": "ner.model.config",
    "NerModel": "ner.model.ner_model",
    "TrainConfig": "ner.training.config",
    "SelfTrainConfig": "ner.training.config",
    "train": "ner.training.loop",
    "self_train": "ner.training.self_training",
    "load_model": "ner.inference.loading",
    "predict_entities": "ner.inference.tagging",
    "predict_texts": "ner.inference.predict",
    "evaluate": "ner.inference.evaluate",
    "evaluate_langs": "ner.inference.evaluate",
    "export_run": "ner.inference.export",
    "load_export": "ner.inference.export_format",
    "diagnose": "ner.diagnostics.run",
    "DiagnoseConfig": "ner.diagnostics.run",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'ner' has no attribute {name!r}")
