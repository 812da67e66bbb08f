"""Encoders, MoV and SphinxX: real-size token counts on the meta device, slot filling, losses."""

from __future__ import annotations

import pytest
import torch
from omegaconf import open_dict

from sphinx_x.data.slots import END, IGNORE_INDEX, SKIP, START, VISUAL
from sphinx_x.data.tiling import VisualLayout
from sphinx_x.model.build import build_sphinx, build_vision
from sphinx_x.model.mov import align_grid
from tests.testkit.configs import compose_config


def _model_cfg(tmp_path, *overrides):
    return compose_config(list(overrides), tmp_path).model


@pytest.mark.parametrize(("family", "count_square", "count_wide"), [
    ("sphinx_tiny", 1295, 779), ("sphinx_plus", 1295, 779), ("sphinx_plus_2k", 2590, 7 * 259 + 3)])
def test_paper_token_counts_from_real_configs(tmp_path, family, count_square, count_wide):
    layout = VisualLayout.from_model_config(_model_cfg(tmp_path, f"model={family}"))
    assert layout.tokens_per_tile == 257
    assert layout.num_slots(layout.keep_mask(layout.frame(800, 800))) == count_square
    assert layout.num_slots(layout.keep_mask(layout.frame(800, 400))) == count_wide


def test_paper_experts_give_257_tokens_on_meta_device(tmp_path):
    cfg = _model_cfg(tmp_path, "model=sphinx_tiny")
    with open_dict(cfg):
        cfg.encoders.convnext.pretrained = None
        cfg.encoders.dinov2.name_or_path = None
    mov = build_vision(cfg, out_dim=2048, device="meta")
    assert mov.in_dim == 3072 + 1536
    tiles = torch.zeros(2, 3, 512, 512, dtype=torch.uint8, device="meta")
    for name, expert in mov.experts.items():
        assert expert(tiles).shape[1] == 257, name
    assert mov(tiles).shape == (2, 257, 2048)
    # the trunk alone (open_clip adds a head and projection on top: 846.5M for the whole visual tower)
    assert sum(p.numel() for p in mov.experts["convnext"].parameters()) == pytest.approx(843.4e6, rel=1e-3)


def test_align_grid_keeps_cls_and_resamples_patches():
    tokens = torch.randn(3, 1 + 4 * 4, 8)
    out = align_grid(tokens, 2)
    assert out.shape == (3, 5, 8)
    assert torch.equal(out[:, 0], tokens[:, 0])
    assert torch.allclose(out[:, 1], tokens[:, 1:].view(3, 4, 4, 8)[:, :2, :2].mean((1, 2)), atol=1e-5)


def _demo_batch(model, n_groups=2):
    tokens = model.vision.tokens_per_tile
    kinds = [START, *[VISUAL] * tokens, END] * n_groups + [SKIP, 0, 0, 0]
    slot_kind = torch.tensor([kinds, [0] * len(kinds)], dtype=torch.uint8)
    input_ids = torch.randint(5, 50, slot_kind.shape)
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    labels[:, -2:] = input_ids[:, -2:]
    pixels = torch.randint(0, 255, (n_groups, 3, 64, 64), dtype=torch.uint8)
    return input_ids, torch.ones_like(input_ids), slot_kind, pixels, labels


def test_sphinx_fills_slots_and_trains_only_llm_projector_and_special_embeddings(tmp_path):
    model = build_sphinx(_model_cfg(tmp_path, "experiment=demo"), vocab_size=700)
    input_ids, mask, slot_kind, pixels, labels = _demo_batch(model)
    embeds = model.embed(input_ids, slot_kind, pixels)
    t = model.vision.tokens_per_tile
    assert torch.equal(embeds[0, 0], model.start_embed.detach()) and torch.equal(embeds[0, t + 1], model.end_embed)
    assert torch.equal(embeds[0, 2 * (t + 2)], model.skip_embed.detach())
    visual = model.vision(pixels).reshape(-1, embeds.shape[-1])
    assert torch.allclose(embeds[0][slot_kind[0] == VISUAL], visual, atol=1e-6)
    out = model(input_ids, mask, slot_kind, pixels, labels)
    assert out.per_sample_tokens.tolist() == [2, 2] and out.aux_loss is None
    out.loss.backward()
    assert all(p.grad is None for p in model.vision.experts.parameters())
    assert model.vision.projector[0].weight.grad is not None and model.skip_embed.grad is not None
    assert not model.vision.experts.training


def test_slot_mismatch_is_a_clear_error(tmp_path):
    model = build_sphinx(_model_cfg(tmp_path, "experiment=demo"), vocab_size=700)
    input_ids, mask, slot_kind, pixels, labels = _demo_batch(model)
    with pytest.raises(ValueError, match="do not fill"):
        model.embed(input_ids, slot_kind, pixels[:1])


def test_mixture_of_experts_llm_adds_router_loss(tmp_path):
    cfg = _model_cfg(tmp_path, "experiment=demo", "model/llm=mixtral_8x7b", "model.llm.name_or_path=null",
                     "model.llm.config.hidden_size=64", "model.llm.config.intermediate_size=64",
                     "model.llm.config.num_hidden_layers=2", "model.llm.config.num_attention_heads=4",
                     "model.llm.config.num_key_value_heads=2", "model.llm.config.vocab_size=128",
                     "model.llm.dtype=float32", "model.llm.attn_implementation=eager")
    model = build_sphinx(cfg)
    out = model(*_demo_batch(model))
    assert out.aux_loss is not None and out.aux_loss > 0
    assert torch.allclose(out.loss, out.lm_loss + 0.01 * out.aux_loss)  # the authors' weight, not HF's 0.02


@pytest.mark.parametrize("family", ["sphinx_tiny", "sphinx_moe"])
def test_family_llm_shapes_on_meta_device(tmp_path, family):
    from sphinx_x.model.llm import build_llm

    llm_cfg = dict(_model_cfg(tmp_path, f"model={family}").llm)
    llm_cfg["name_or_path"] = None
    llm_cfg.pop("lora")  # applied by build_sphinx (sphinx_x.model.lora), not build_llm
    llm_cfg.pop("adapters")  # likewise (sphinx_x.model.adapters)
    model = build_llm(**llm_cfg, device="meta")
    expected = {"sphinx_tiny": 1.100e9, "sphinx_moe": 46.70e9}[family]
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(expected, rel=2e-3)


def test_convnext_tokens_are_the_trunk_map_after_the_head_norm(tmp_path):
    """As the authors run the open_clip trunk (head pooling removed): head.norm is applied to the map."""
    import hydra

    encoder = hydra.utils.instantiate(_model_cfg(tmp_path, "experiment=demo").encoders.convnext, _convert_="all")
    x = torch.randn(2, 3, encoder.input_size, encoder.input_size)
    with torch.no_grad():
        tokens = encoder.encode(x)
        raw = encoder.trunk.forward_features(x)  # (2, C, g, g)
        normed = encoder.trunk.head.norm(raw)
    assert tokens.shape == (2, 1 + encoder.grid**2, encoder.width)
    assert torch.allclose(tokens[:, 1:], normed.flatten(2).transpose(1, 2), atol=1e-6)
    assert torch.allclose(tokens[:, 0], normed.mean(dim=(2, 3)), atol=1e-6)
    assert not torch.allclose(tokens[:, 1:], raw.flatten(2).transpose(1, 2), atol=1e-3)
