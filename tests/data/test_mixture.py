"""Mixture weights and the sampler: shares, determinism, resumption, ranks."""

from __future__ import annotations

import numpy as np
import pytest

from sphinx_x.data.mixture import MixtureSampler, mixture_weights, source_quotas

COUNTS = [500, 120, 40, 7]


@pytest.mark.parametrize(("weighting", "explicit", "temperature"), [
    ("size", [None] * 4, 1.0), ("explicit", [0.4, 0.3, 0.2, 0.1], 1.0), ("temperature", [None] * 4, 3.0)])
def test_each_source_share_within_two_points_over_10000_draws(weighting, explicit, temperature):
    weights = mixture_weights([1_800_000, 600_000, 80_000, 5_000], explicit, weighting, temperature)
    sampler = MixtureSampler(COUNTS, weights, num_samples=10_000, seed=3)
    sources, _ = sampler.global_sequence(0)
    shares = np.bincount(sources, minlength=4) / 10_000
    assert np.abs(shares - weights).max() < 0.02
    offsets = np.cumsum([0, *COUNTS])
    drawn = np.array(list(sampler))
    assert ((drawn >= 0) & (drawn < offsets[-1])).all()


def test_weights_by_rule():
    assert mixture_weights([3, 1], [None, None]).tolist() == [0.75, 0.25]
    assert mixture_weights([9, 1], [None, None], "temperature", 2.0).tolist() == pytest.approx([0.75, 0.25])
    assert mixture_weights([3, 1], [1.0, 3.0], "explicit").tolist() == [0.25, 0.75]
    with pytest.raises(ValueError, match="data.weighting"):
        mixture_weights([1], [None], "uniform")


def test_quotas_are_exact_and_sum_to_the_epoch():
    assert source_quotas([0.5, 0.3, 0.2], 10).tolist() == [5, 3, 2]
    assert source_quotas([1 / 3] * 3, 10).tolist() == [4, 3, 3]  # largest remainder, ties to the first
    assert source_quotas([0.999, 0.001], 7).tolist() == [7, 0]


def test_an_epoch_at_the_sources_sizes_draws_every_record_exactly_once():
    weights = mixture_weights(COUNTS, [None] * 4)
    sampler = MixtureSampler(COUNTS, weights, num_samples=sum(COUNTS), seed=4)
    assert sorted(sampler) == list(range(sum(COUNTS)))


def test_sources_are_cycled_without_repeats_within_a_pass():
    sampler = MixtureSampler([7], [1.0], num_samples=14, seed=0)
    items = list(sampler)
    assert sorted(items[:7]) == list(range(7)) and sorted(items[7:]) == list(range(7))


def test_deterministic_and_new_order_each_epoch():
    a = MixtureSampler(COUNTS, [0.25] * 4, 200, seed=1)
    b = MixtureSampler(COUNTS, [0.25] * 4, 200, seed=1)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first


def test_resume_mid_epoch_continues_the_same_sequence():
    full = list(MixtureSampler(COUNTS, [0.25] * 4, 300, seed=5))
    interrupted = MixtureSampler(COUNTS, [0.25] * 4, 300, seed=5)
    interrupted.load_state_dict({"epoch": 0, "consumed": 120, "seed": 5, "num_samples": 300})
    assert list(interrupted) == full[120:]
    # the length stays the epoch's: Lightning counts on from its restored progress (120 + 180 = 300);
    # the remaining 180 here ended a resumed epoch 120 draws early (tests/test_train_resume.py)
    assert len(interrupted) == 300
    with pytest.raises(ValueError, match="data.seed"):
        interrupted.load_state_dict({"epoch": 0, "consumed": 0, "seed": 6, "num_samples": 300})


def test_ranks_split_one_global_sequence():
    full = list(MixtureSampler(COUNTS, [0.25] * 4, 100, seed=2))
    ranks = [list(MixtureSampler(COUNTS, [0.25] * 4, 100, seed=2, rank=r, world_size=2)) for r in range(2)]
    assert ranks[0] == full[0::2] and ranks[1] == full[1::2]
