"""Runnable end-to-end recipes (`python -m pipelines run pipelines/panx_quick.yaml`)."""

from pipelines.recipe import Recipe, RecipeError, load_recipe
from pipelines.runner import run_recipe

__all__ = ["Recipe", "RecipeError", "load_recipe", "run_recipe"]
