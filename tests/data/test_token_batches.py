"""Token-budget micro-batches (``data.max_tokens_per_batch``): first-fit decreasing over a shuffle
buffer, deterministic, every draw once, ranks in step, resumable; and the batches the DataModule makes."""

from __future__ import annotations

import numpy as np
import pytest

from sphinx_x.data.mixture import MixtureSampler
from sphinx_x.data.token_batches import TokenBudgetBatchSampler, first_fit_decreasing, plan_micro_batches
from sphinx_x.runtime.config import ConfigError, validate_config


def test_first_fit_decreasing_exact_bins():
    # longest first: 7 -> bin 0; 5 -> bin 1; 4 -> bin 1 (5+4); 3 -> bin 0 (7+3); 2 -> bin 2; 1 -> bin 1 (5+4+1)
    assert first_fit_decreasing([4, 7, 1, 5, 3, 2], capacity=10) == [[1, 4], [3, 0, 2], [5]]
    assert first_fit_decreasing([12, 3], capacity=10) == [[0], [1]]  # too long: a bin of its own


def _sampler(world_size: int = 1, rank: int = 0, num_samples: int = 200) -> tuple[MixtureSampler, np.ndarray]:
    counts = [50, 30, 20]
    mixture = MixtureSampler(counts, [0.5, 0.3, 0.2], num_samples, seed=3, rank=rank, world_size=world_size)
    lengths = np.random.default_rng(0).integers(20, 300, sum(counts))
    return mixture, lengths


def test_plan_fills_the_budget_with_every_draw_once():
    mixture, lengths = _sampler()
    draws = mixture.epoch_draws()
    plan = plan_micro_batches(draws, lengths[draws], max_length=384, rows_per_batch=2, buffer=64, seed=(3, 0, 2))
    assert sorted(i for batch in plan for i in batch) == sorted(draws.tolist())
    for batch in plan:  # whole samples in at most 2 rows of 384 estimated tokens
        assert len(first_fit_decreasing([int(lengths[i]) for i in batch], 384)) <= 2
    assert np.mean([len(b) for b in plan]) > 3  # ~160 tokens a draw: several per micro-batch
    assert plan_micro_batches(draws, lengths[draws], 384, 2, 64, seed=(3, 0, 2)) == plan
    # by position in the epoch: each buffer's draws fill that buffer's micro-batches, which come in order
    positions = plan_micro_batches(np.arange(len(draws)), lengths[draws], 384, 2, 64, seed=(3, 0, 2))
    buffers = [max(batch) // 64 for batch in positions]
    assert all(min(batch) // 64 == b for batch, b in zip(positions, buffers, strict=True))
    assert buffers == sorted(buffers)


def test_ranks_share_the_plan_and_resume_skips_what_was_trained():
    ranks = []
    for rank in range(2):
        mixture, lengths = _sampler(world_size=2, rank=rank)
        ranks.append(TokenBudgetBatchSampler(mixture, lengths, max_length=384, max_tokens=768, buffer=64))
    plan = ranks[0].epoch_plan()
    assert len(plan) % 2 == 0 and len(ranks[0]) == len(ranks[1]) == len(plan) // 2
    assert list(ranks[0]) == plan[0::2] and list(ranks[1]) == plan[1::2]
    state = {**ranks[0].state_dict(), "consumed_batches": 3}
    mixture, lengths = _sampler(world_size=2, rank=0)
    resumed = TokenBudgetBatchSampler(mixture, lengths, max_length=384, max_tokens=768, buffer=64)
    resumed.load_state_dict(state)
    assert list(resumed) == plan[0::2][3:]
    assert len(resumed) == len(plan) // 2  # the whole epoch: Lightning counts from its restored progress
    resumed.set_epoch(1)
    assert resumed.consumed_batches == 0 and list(resumed) != plan[0::2]


def test_budget_below_one_row_is_refused():
    mixture, lengths = _sampler()
    with pytest.raises(ValueError, match="data.max_tokens_per_batch: 300 is less than one row"):
        TokenBudgetBatchSampler(mixture, lengths, max_length=384, max_tokens=300, buffer=64)


def test_config_errors_name_the_field(demo_config):
    with pytest.raises(ConfigError, match="data.max_tokens_per_batch: fills rows of packed samples"):
        validate_config(demo_config("data.max_tokens_per_batch=768"))
    with pytest.raises(ConfigError, match="data.max_tokens_per_batch: 100 is less than one row"):
        validate_config(demo_config("data.packing=true", "data.max_tokens_per_batch=100"))
    validate_config(demo_config("data.packing=true", "data.max_tokens_per_batch=768"))


def test_datamodule_batches_hold_whole_samples_in_the_budget(demo_config, demo_tokenizer):
    from sphinx_x.data.datamodule import SphinxDataModule
    from sphinx_x.data.processor import SphinxProcessor

    cfg = demo_config("data.packing=true", "data.max_tokens_per_batch=768", "data.pack_buffer=32")
    datamodule = SphinxDataModule(cfg.data, SphinxProcessor.from_config(demo_tokenizer, cfg.model, cfg.data))
    datamodule.setup("fit")
    batches = list(datamodule.train_dataloader())
    assert len(batches) == len(datamodule.token_batches)
    assert sum(len(b) for b in batches) == 64  # every draw of the epoch, whole (one rank: nothing left out)
    assert max(len(b) for b in batches) > 4  # more samples than the fixed micro-batch of 4
    for batch in batches:
        assert batch.input_ids.shape[1] <= 384
        # lengths are estimates (the measured tokens per character): a row more than planned at most
        assert batch.input_ids.shape[0] <= 3
        assert batch.sample_index.max() + 1 == len(batch)
