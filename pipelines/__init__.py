"""Runnable end-to-end recipes (`python -m pipelines run pipelines/panx_quick.yaml`)."""

from .recipe import Recipe, RecipeError, load_recipe
from .runner import run_recipe

__all__ = ["Recipe", "RecipeError", "load_recipe", "run_recipe"]
