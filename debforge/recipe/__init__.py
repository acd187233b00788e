"""Recipes: YAML files a maintainer writes. `load_recipe(path)` returns a validated `Recipe`."""

from .schema import Recipe, load_recipe

__all__ = ["Recipe", "load_recipe"]
