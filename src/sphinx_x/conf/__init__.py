"""Hydra configs, found through ``pkg://sphinx_x.conf`` (so an installed wheel has them too)."""
