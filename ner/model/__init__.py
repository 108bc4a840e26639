"""The model: word encoder, NER heads, the word-pair grid, losses and `NerModel`, which assembles them.

This layer imports nothing from `ner.data`, `ner.training`, `ner.inference` or `ner.diagnostics`.
"""

from ner.model.ner_model import CONFIG_FILE, WEIGHTS_FILE, ModelConfig, NerModel, NerOutput

__all__ = ["CONFIG_FILE", "WEIGHTS_FILE", "ModelConfig", "NerModel", "NerOutput"]
