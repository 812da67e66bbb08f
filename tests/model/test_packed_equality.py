"""Packed batches compute what the samples compute one by one (float32, CPU, SDPA)."""

from __future__ import annotations

import pytest
import torch

from sphinx_x.data.collate import Collator
from sphinx_x.data.datamodule import SphinxDataModule
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.slots import TEXT
from sphinx_x.model.build import build_sphinx

ATOL = 1e-5  # float32 sums over a few hundred tokens


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_dir, demo_tokenizer, one_thread):
    from tests.testkit.configs import compose_config

    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "demo_world=null", "data.num_workers=0",
                          "data.num_samples=64", "data.micro_batch_size=6", "global_batch_size=6"],
                         tmp_path_factory.mktemp("packed"))
    processor = SphinxProcessor.from_config(demo_tokenizer, cfg.model, cfg.data)
    datamodule = SphinxDataModule(cfg.data, processor)
    datamodule.setup("fit")
    samples = [datamodule.train_set[i] for i in (0, 1, 2, len(datamodule.train_set) - 1, 5, 7)]
    torch.manual_seed(0)
    model = build_sphinx(cfg.model, vocab_size=len(demo_tokenizer)).eval()
    names = datamodule.train_set.names
    return model, samples, Collator(processor.pad_id, names, pack_length=cfg.data.max_length), \
        Collator(processor.pad_id, names), cfg, processor


def _run(model, batch, return_logits=False):
    return model(batch.input_ids, batch.attention_mask, batch.slot_kind, batch.pixels, batch.labels,
                 return_logits=return_logits, position_ids=batch.position_ids, sample_index=batch.sample_index)


def test_packing_puts_several_samples_in_a_row(world):
    _, samples, pack, _, cfg, _ = world
    batch = pack(samples)
    assert len(batch) == len(samples) and batch.input_ids.shape[0] < len(samples)
    assert batch.input_ids.shape[1] <= cfg.data.max_length
    assert sorted(batch.ids) == sorted(s.id for s in samples)
    for sample in samples:  # every sample whole, positions restarting at 0
        at = batch.sample_index == batch.ids.index(sample.id)
        assert torch.equal(batch.input_ids[at], sample.input_ids)
        assert torch.equal(batch.position_ids[at], torch.arange(sample.input_ids.numel()))
    assert torch.equal(batch.sample_lengths(), torch.tensor([batch.input_ids[batch.sample_index == k].numel()
                                                             for k in range(len(samples))]))


def test_losses_and_gradients_equal_one_by_one(world):
    model, samples, pack, pad, _, _ = world
    model.zero_grad()
    packed = _run(model, pack(samples))
    packed.loss.backward()
    packed_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    total_tokens = 0
    sums = {}
    for sample in samples:
        out = _run(model, pad([sample]))
        sums[sample.id] = (out.per_sample_loss_sum[0], out.per_sample_tokens[0])
        total_tokens += int(out.per_sample_tokens[0])
    batch = pack(samples)
    for k, sample_id in enumerate(batch.ids):
        assert int(packed.per_sample_tokens[k]) == int(sums[sample_id][1])
        assert float(packed.per_sample_loss_sum[k]) == pytest.approx(float(sums[sample_id][0]), abs=ATOL * 100)
    # the same loss (mean over every answer token of the batch), sample by sample, has the same gradient
    model.zero_grad()
    reference = sum(_loss_sum(model, pad([s])) for s in samples) / total_tokens
    reference.backward()
    assert packed_grads
    for name, grad in packed_grads.items():
        torch.testing.assert_close(grad, model.get_parameter(name).grad, atol=ATOL, rtol=1e-4, msg=name)


def _loss_sum(model, batch):
    out = _run(model, batch)
    return out.lm_loss * out.per_sample_tokens.sum()


def test_a_sample_never_sees_its_neighbour(world):
    model, samples, pack, _, _, _ = world
    batch = pack(samples)
    first = int(batch.sample_index[0, 0])  # the first sample of the first row: its neighbour comes after it
    assert int(batch.sample_index[0].max()) > first
    with torch.no_grad():
        before = _run(model, batch, return_logits=True).logits
        changed = pack(samples)
        text = (changed.sample_index == first) & (changed.slot_kind == TEXT)
        changed.input_ids[text] = (changed.input_ids[text] + 7) % 600 + 5
        after = _run(model, changed, return_logits=True).logits
    neighbour = batch.sample_index == first + 1
    assert torch.allclose(before[neighbour], after[neighbour], atol=1e-6)
    assert not torch.allclose(before[batch.sample_index == first], after[batch.sample_index == first])
