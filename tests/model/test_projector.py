"""Projectors (``model/projector=linear|resampler|merge2x2``): exact visual-token counts shared by the data
side and the model, the real configs' counts on the meta device, the merge order, and errors naming the field."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf, open_dict
from PIL import Image

from sphinx_x.data.collate import Collator
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.records import conversation, make_record
from sphinx_x.data.slots import VISUAL
from sphinx_x.data.tiling import VisualLayout
from sphinx_x.data.visual_tokens import ProjectorSpec, projector_spec, tokens_per_tile
from sphinx_x.model.build import build_sphinx, build_vision
from sphinx_x.model.projector import PerceiverResampler, TokenMerge2x2
from sphinx_x.runtime.config import ConfigError, validate_config
from tests.testkit.configs import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")
# demo encoders: token_grid 4 -> linear 1 + 16, resampler 32 latents, merge2x2 (4/2)^2
DEMO_TOKENS = {"linear": 17, "resampler": 32, "merge2x2": 4}


@pytest.mark.parametrize(("projector", "tokens"), sorted(DEMO_TOKENS.items()))
def test_data_and_model_agree_on_the_tokens_per_tile(tmp_path, demo_dir, demo_tokenizer, projector, tokens):
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", f"model/projector={projector}"], tmp_path)
    layout = VisualLayout.from_model_config(cfg.model)
    model = build_sphinx(cfg.model, vocab_size=len(demo_tokenizer))
    assert layout.tokens_per_tile == model.vision.tokens_per_tile == tokens
    assert layout.max_slots == 5 * (tokens + 2)  # square image: global view + 2 x 2 tiles, each [start] T [end]
    wide, square = tmp_path / "wide.png", tmp_path / "square.png"
    Image.new("RGB", (120, 60), "red").save(wide)
    Image.new("RGB", (50, 50), "blue").save(square)
    processor = SphinxProcessor.from_config(demo_tokenizer, cfg.model, cfg.data)
    record = make_record("a", "demo", "t", conversation("<image> and <image>: same colour?", "no"),
                         images=[str(wide), str(square)])
    batch = Collator(processor.pad_id, ["demo"])([processor(record)])
    assert batch.pixels.shape[0] == 3 + 5  # kept groups: wide 3 (two bottom tiles skipped), square 5
    assert int((batch.slot_kind == VISUAL).sum()) == 8 * tokens
    assert model.vision(batch.pixels).shape == (8, tokens, model.llm.config.hidden_size)
    out = model(batch.input_ids, batch.attention_mask, batch.slot_kind, batch.pixels, labels=batch.labels)
    out.loss.backward()  # the slots are filled exactly (a mismatch is a ValueError) and the projector learns
    assert all(p.grad is not None for p in model.vision.projector.parameters())


@pytest.mark.parametrize(("projector", "token_grid", "tokens"), [
    ("linear", 16, 257), ("resampler", 16, 32), ("resampler", 30, 32), ("merge2x2", 40, 400), ("merge2x2", 16, 64)])
def test_tokens_per_tile_is_one_function_of_the_config(projector, token_grid, tokens):
    cfg = OmegaConf.create({"encoders": {"token_grid": token_grid}, "projector": {"name": projector}})
    assert tokens_per_tile(cfg) == tokens
    assert tokens_per_tile(cfg, query_tokens=32) == tokens + 32  # SPHINX v1's Q-Former queries come first


def test_real_configs_on_the_meta_device(tmp_path):
    cfg = compose_config(["model=sphinx_tiny", "model/projector=resampler"], tmp_path).model
    with open_dict(cfg):
        cfg.encoders.convnext.pretrained = None
        cfg.encoders.dinov2.name_or_path = None
    layout = VisualLayout.from_model_config(cfg)
    assert layout.tokens_per_tile == 32 and layout.max_slots == 5 * 34
    tiles = torch.zeros(2, 3, 512, 512, dtype=torch.uint8, device="meta")
    assert build_vision(cfg, out_dim=2048, device="meta")(tiles).shape == (2, 32, 2048)
    with open_dict(cfg):
        cfg.projector = {"name": "merge2x2"}
    assert VisualLayout.from_model_config(cfg).tokens_per_tile == 64  # 16 x 16 -> 8 x 8
    assert build_vision(cfg, out_dim=2048, device="meta")(tiles).shape == (2, 64, 2048)


def test_linear_is_the_default_and_keeps_the_state_dict_names(tmp_path):
    cfg = compose_config(["experiment=demo"], tmp_path).model
    assert projector_spec(cfg) == ProjectorSpec(name="linear")
    torch.manual_seed(0)
    named = build_vision(cfg, out_dim=64).state_dict()
    with open_dict(cfg):
        del cfg["projector"]  # a config (or export) written before the projector group existed
    assert projector_spec(cfg).name == "linear"
    torch.manual_seed(0)
    old = build_vision(cfg, out_dim=64).state_dict()
    projector_keys = sorted(k for k in named if k.startswith("projector."))
    assert projector_keys == ["projector.0.bias", "projector.0.weight", "projector.1.bias", "projector.1.weight"]
    assert named.keys() == old.keys() and all(torch.equal(named[k], old[k]) for k in named)


def test_merge2x2_concatenates_each_neighbourhood_along_channels():
    merge = TokenMerge2x2(in_dim=3, out_dim=8, grid=4)
    merge.mlp = torch.nn.Identity()  # look at what the MLP receives
    grid = torch.arange(16 * 3, dtype=torch.float32).view(1, 4, 4, 3)  # (n, row, col, C)
    tokens = torch.cat([torch.full((1, 1, 3), -1.0), grid.view(1, 16, 3)], dim=1)  # class token first
    merged = merge(tokens)
    assert merged.shape == (1, 4, 12)
    # token 1 is the top-right 2x2 block: rows 0-1, columns 2-3, in the order TL, TR, BL, BR
    expected = torch.cat([grid[0, 0, 2], grid[0, 0, 3], grid[0, 1, 2], grid[0, 1, 3]])
    assert torch.equal(merged[0, 1], expected)
    assert (merged >= 0).all()  # the class token is dropped


def test_resampler_gives_its_latents_whatever_the_grid():
    torch.manual_seed(0)
    resampler = PerceiverResampler(in_dim=12, out_dim=16, latents=5, layers=3, heads=4)
    assert len(resampler.layers) == 3
    assert resampler(torch.randn(2, 1 + 4 * 4, 12)).shape == (2, 5, 16)
    assert resampler(torch.randn(3, 1 + 9 * 9, 12)).shape == (3, 5, 16)
    with pytest.raises(ValueError, match=r"model.projector.heads: 3 does not divide the LLM width 16"):
        PerceiverResampler(in_dim=12, out_dim=16, heads=3)


@pytest.mark.parametrize(("override", "message"), [
    ("model.projector.name=mlp", r"model.projector.name: must be one of \['linear', 'resampler', 'merge2x2'\]"),
    ("model.projector.latents=0", r"model.projector.latents: must be an integer >= 1, got 0"),
    ("+model.projector.depth=2", r"model.projector: unknown fields \['depth'\]"),
])
def test_bad_projector_fields_are_named_at_start_up(tmp_path, demo_dir, override, message):
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "model/projector=resampler", override],
                         tmp_path)
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg)


def test_merge2x2_needs_an_even_grid(tmp_path, demo_dir):
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "model/projector=merge2x2",
                          "model.encoders.token_grid=5"], tmp_path)
    with pytest.raises(ConfigError, match="model.encoders.token_grid: model.projector=merge2x2 .* even grid, got 5"):
        validate_config(cfg)
