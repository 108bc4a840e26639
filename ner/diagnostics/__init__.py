"""Diagnostics of a trained run: cross-lingual alignment, the relation space, training dynamics and
pseudo-label quality (`ner diagnose`). See `ner.diagnostics.run` for what is written where."""

from ner.diagnostics.run import DiagnoseConfig, diagnose
from ner.diagnostics.summary import summary_table

__all__ = ["DiagnoseConfig", "diagnose", "summary_table"]
