"""Ablation studies: a grid of Hydra overrides, trained and scored on held-out benchmarks.

A study is ``experiments/<study>/study.yaml`` (see ``study.py``). ``python -m sphinx_x.experiments.run
<study>`` runs its grid as one Hydra multirun of ``sphinx_x.experiments.trial`` (train, then answer the
held-out benchmarks), ``python -m sphinx_x.experiments.report <study>`` gathers the runs into
``results.csv``, the README table and plots, ``python -m sphinx_x.experiments.sweep <study>`` writes the
same grid as a Weights & Biases sweep.
"""
