"""SPHINX v1's visual side: the Q-Former expert, the single view, tile size and the released types' layouts."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from sphinx_x.convert.accessory import TYPES, compose_model_config
from sphinx_x.data.slots import END, START, VISUAL
from sphinx_x.data.tiling import GridTiler, VisualLayout
from sphinx_x.model.build import build_vision
from sphinx_x.model.encoders import ConvNeXtEncoder, HFViTEncoder
from sphinx_x.model.qformer import QFormerEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


def test_released_types_lay_out_the_authors_image_words():
    for name, rtype in TYPES.items():
        layout = VisualLayout.from_model_config(compose_model_config(rtype, []))
        assert layout.max_slots == rtype.image_words, name  # e.g. llama_ens.py:335, llama_ens5_light.py:310
        assert (layout.anchor, layout.skip_padded_tiles) == ("center", False)  # PadToSquare, no skip tokens
        side = layout.grid * layout.tile_pixels  # the authors' image_size: 224 / 448 / 512 / 1024
        assert side == {"llama_ens": 224, "llama_ens5": 448}.get(name, 512 if rtype.views == 1 else 1024), name


def test_single_view_layout_and_tiler():
    layout = VisualLayout(grid=1, tile_pixels=28, tokens_per_tile=8, anchor="center", skip_padded_tiles=False,
                          sub_images=False)
    frame = layout.frame(90, 30)
    keep = layout.keep_mask(frame)
    assert keep == [True] and layout.slot_kinds(keep) == [START, *[VISUAL] * 8, END] and layout.max_slots == 10
    tiles = GridTiler(layout)(Image.new("RGB", (90, 30), (255, 0, 0)), frame, keep)
    assert tiles.shape == (1, 3, 28, 28) and tiles.dtype == torch.uint8
    assert tiles[0, :, 0, 0].tolist() == [122, 116, 104] and tiles[0, :, 14, 14].tolist() == [255, 0, 0]  # centred
    with pytest.raises(ValueError, match=r"model.tiling.sub_images=false \(one global view\) needs grid: 1, got 2"):
        VisualLayout(grid=2, sub_images=False)


def test_qformer_expert_gives_its_queries_first(tmp_path):
    cfg = compose_model_config(TYPES["llama_ens"], ["model/encoders=sphinx_v1_tiny", "model.encoders.convnext.input_size=32",
                                                    "model.tiling.tile_pixels=28"])
    layout = VisualLayout.from_model_config(cfg)
    assert layout.tokens_per_tile == 3 + 2 * 2 + 1 and layout.tile_pixels == 28
    vision = build_vision(cfg, out_dim=16)
    assert list(vision.query_experts) == ["qformer"] and vision.tokens_per_tile == layout.tokens_per_tile
    assert not any(p.requires_grad for p in vision.query_experts.parameters())
    assert all(p.requires_grad for p in vision.query_projectors.parameters())
    tiles = torch.randint(0, 256, (2, 3, 28, 28), dtype=torch.uint8)
    with torch.no_grad():
        out = vision(tiles)
        queries = vision.query_projectors["qformer"](vision.query_experts["qformer"](tiles))
    assert out.shape == (2, 8, 16) and torch.equal(out[:, :3], queries)
    vision.train()
    assert not vision.query_experts.training  # frozen experts stay in eval mode


def test_encoder_options_are_checked():
    qformer = QFormerEncoder(vision_config={"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
                                            "num_attention_heads": 2, "image_size": 28, "patch_size": 14},
                             qformer_config={"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
                                             "num_attention_heads": 2, "encoder_hidden_size": 8},
                             num_query_tokens=4, input_size=28)
    assert qformer(torch.zeros(1, 3, 56, 56, dtype=torch.uint8)).shape == (1, 4, 8)  # resized to 28 first
    with pytest.raises(ValueError, match=r"encoder_hidden_size \(8\) must equal vision_config.hidden_size \(16\)"):
        QFormerEncoder(vision_config={"hidden_size": 16, "num_attention_heads": 2},
                       qformer_config={"hidden_size": 8, "num_attention_heads": 2, "encoder_hidden_size": 8})
    with pytest.raises(ValueError, match="resize_mode must be one of"):
        ConvNeXtEncoder(source="timm", model_name="convnext_atto", input_size=64, resize_mode="lanczos")
    with pytest.raises(ValueError, match="final_norm is for CLIP towers"):
        HFViTEncoder(kind="dinov2", config={"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2},
                     input_size=28, final_norm=True)


def test_convnext_upsample_repeats_each_cell():
    encoder = ConvNeXtEncoder(source="timm", model_name="convnext_tiny", input_size=64, upsample=2,
                              timm_kwargs={"depths": [1, 1, 1, 1], "dims": [8, 8, 8, 8]})
    assert encoder.grid == 4 and encoder.num_tokens == 17
    with torch.no_grad():
        tokens = encoder(torch.randint(0, 256, (1, 3, 64, 64), dtype=torch.uint8))  # (1, 1 + 16, 8)
    cells = tokens[0, 1:].reshape(4, 4, 8)
    assert torch.equal(cells[0, 0], cells[1, 1]) and torch.equal(cells[2, 3], cells[3, 2])
    assert torch.allclose(tokens[0, 0], cells.reshape(16, 8).mean(0))


def test_tile_pixels_overrides_the_largest_input():
    cfg = OmegaConf.create({"tiling": {"grid": 2, "anchor": "center", "skip_padded_tiles": False, "tile_pixels": 224},
                            "encoders": {"token_grid": 16, "a": {"input_size": 256}, "q": {"input_size": 224,
                                                                                          "num_query_tokens": 32}},
                            "vision": {"experts": ["a"], "query_experts": ["q"]}})
    layout = VisualLayout.from_model_config(cfg)
    assert (layout.tile_pixels, layout.tokens_per_tile, layout.max_slots) == (224, 289, 1455)
    cfg.vision.query_experts = ["nope"]
    with pytest.raises(ValueError, match=r"model.vision.query_experts: must be one of \['a', 'q'\]"):
        VisualLayout.from_model_config(cfg)
