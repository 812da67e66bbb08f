"""Length-aware micro-batches: same draws, less padding, deterministic and resumable."""

from __future__ import annotations

import numpy as np
import pytest

from sphinx_x.data.bucketing import bucket_order, estimated_length
from sphinx_x.data.mixture import MixtureSampler

COUNTS = [300, 200]
LENGTHS = np.random.default_rng(0).integers(20, 400, size=sum(COUNTS))


def padded_tokens(order: list[int], batch: int) -> int:
    """Tokens after padding each consecutive micro-batch to its longest sample."""
    return sum(int(LENGTHS[order[i:i + batch]].max()) * len(order[i:i + batch]) for i in range(0, len(order), batch))


def test_estimated_length_counts_text_and_image_slots():
    record = {"messages": [{"role": "user", "content": "x" * 35}, {"role": "assistant", "content": "y" * 7}],
              "images": ["a.jpg", "b.jpg"]}
    assert estimated_length(record, image_slots=95) == 12 + 2 * 95
    assert estimated_length({"messages": []}, image_slots=95) == 0


def test_bucketing_keeps_the_draws_and_cuts_padding():
    plain = MixtureSampler(COUNTS, [0.6, 0.4], 500, seed=2)
    bucketed = MixtureSampler(COUNTS, [0.6, 0.4], 500, seed=2, lengths=LENGTHS, micro_batch_size=8)
    a, b = list(plain), list(bucketed)
    assert sorted(a) == sorted(b) and a != b
    real = int(LENGTHS[a].sum())
    pad_plain, pad_bucketed = padded_tokens(a, 8) - real, padded_tokens(b, 8) - real
    assert pad_bucketed < pad_plain / 3, (pad_plain, pad_bucketed)


def test_bucketing_is_deterministic_and_resumes_mid_epoch():
    def sampler() -> MixtureSampler:
        return MixtureSampler(COUNTS, [0.6, 0.4], 500, seed=5, lengths=LENGTHS, micro_batch_size=8)

    full = list(sampler())
    assert full == list(sampler())
    resumed = sampler()
    resumed.load_state_dict({"epoch": 0, "consumed": 136, "seed": 5, "num_samples": 500})
    assert list(resumed) == full[136:]


def test_each_rank_gets_one_micro_batch_of_neighbours():
    ranks = [MixtureSampler(COUNTS, [0.5, 0.5], 512, seed=1, rank=r, world_size=2, lengths=LENGTHS,
                            micro_batch_size=4) for r in range(2)]
    streams = [list(s) for s in ranks]
    assert sorted(streams[0] + streams[1]) == sorted(MixtureSampler(COUNTS, [0.5, 0.5], 512, seed=1))
    for step in range(0, 128, 4):  # one step's two micro-batches are one sorted group of their window
        group = streams[0][step:step + 4] + streams[1][step:step + 4]
        start = step - step % 256
        others = set(streams[0][start:start + 256] + streams[1][start:start + 256]) - set(group)
        low, high = LENGTHS[group].min(), LENGTHS[group].max()
        assert not any(low < LENGTHS[i] < high for i in others)


def test_a_short_last_group_stays_at_the_end():
    draws = np.arange(10)
    order = bucket_order(draws, np.arange(10), group=4, seed=(0,), window_groups=8)
    assert sorted(order.tolist()) == list(range(10))
    assert sorted(order[-2:].tolist()) == [0, 1]  # the two shortest: the partial group, last
    with pytest.raises(ValueError, match="group"):
        bucket_order(draws, np.arange(10), group=0, seed=(0,))


def test_tokens_per_character_is_measured_through_the_template(demo_tokenizer):
    from sphinx_x.data.bucketing import measured_tokens_per_char
    from sphinx_x.data.templates import build_template

    template = build_template("sphinx", demo_tokenizer, None)
    good = {"messages": [{"role": "user", "content": "What colour is the circle?"},
                         {"role": "assistant", "content": "The circle is red."}]}
    bad = {"messages": None}  # the processor rejects it later; here it only leaves the sample
    rate = measured_tokens_per_char([good, bad, good], lambda m: template.render(m)[0], demo_tokenizer)
    text = template.render(good["messages"])[0]
    expected = len(demo_tokenizer(text)["input_ids"]) / len("What colour is the circle?The circle is red.")
    assert rate == pytest.approx(expected)
    assert rate > 1 / 3.5  # the template's markers and a small vocabulary: more than the English average
