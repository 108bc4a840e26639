"""Using a trained model: device and precision, loading, batched tagging, evaluation, prediction, export
and entity mining. Imports nothing from `ner.training` or `ner.diagnostics`."""

from ner.inference.evaluate import evaluate, evaluate_langs
from ner.inference.export import export_run
from ner.inference.loading import load_model
from ner.inference.predict import predict_texts
from ner.inference.tagging import predict_entities, predict_tags

__all__ = ["evaluate", "evaluate_langs", "export_run", "load_model", "predict_entities", "predict_tags",
           "predict_texts"]
