"""Recipes: YAML files a maintainer writes. model.py holds the recipe as data, schema.py validates a YAML file into
it (`schema.load_recipe(path)`), load.py reads YAML with line marks and bounds."""
