"""Runnable end-to-end recipes (`python -m pipelines run pipelines/panx_quick.yaml`)."""

from pipelines.plan import Step, plan_recipe
from pipelines.recipe import Recipe, RecipeError, load_recipe
from pipelines.runner import run_recipe

__all__ = ["Recipe", "RecipeError", "Step", "load_recipe", "plan_recipe", "run_recipe"]
