"""Recipes: YAML files a maintainer writes. `load_recipe(path)` returns a validated `Recipe`."""

from .model import Recipe
from .schema import load_recipe

__all__ = ["Recipe", "load_recipe"]
