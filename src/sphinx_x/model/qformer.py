"""BLIP-2's Q-Former as a visual expert (SPHINX v1): learned queries read a frozen ViT's tokens.

Built from ``transformers``' BLIP-2 classes (``Blip2VisionModel``, ``Blip2QFormerModel``) plus the
query tokens, exactly the parts SPHINX v1 keeps of ``Blip2Model`` (it drops the language model and
its projection). Unlike the patch experts it returns ``num_query_tokens`` tokens per tile, which
SPHINX v1 projects on their own and puts before the patch tokens.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sphinx_x.data.tiling import CLIP_MEAN
from sphinx_x.model.encoders import CLIP_STD, VisionEncoder


class QFormerEncoder(VisionEncoder):
    """uint8 tiles (n, 3, P, P) -> Q-Former query outputs (n, num_query_tokens, qformer width).

    Either ``name_or_path`` (a BLIP-2 checkpoint; its language model is loaded, then dropped) or
    ``vision_config`` + ``qformer_config`` (random init; weights come from a converted export).
    BLIP-2 normalises with the CLIP mean/std, as SPHINX v1 feeds it.
    """

    def __init__(self, name_or_path: str | None = None, vision_config: dict[str, Any] | None = None,
                 qformer_config: dict[str, Any] | None = None, num_query_tokens: int = 32, input_size: int = 224,
                 device: str | None = None, resize_mode: str = "bicubic"):
        vision, qformer, queries = _blip2_parts(name_or_path, vision_config, qformer_config, num_query_tokens, device)
        super().__init__(input_size, qformer.config.hidden_size, 0, CLIP_MEAN, CLIP_STD, device, resize_mode)
        self.vision_model = vision
        self.qformer = qformer
        self.query_tokens = queries  # (1, num_query_tokens, qformer width)

    @property
    def num_tokens(self) -> int:
        return self.query_tokens.shape[1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        image = self.vision_model(pixel_values=x).last_hidden_state  # (n, 1 + g*g, vision width), post-LN
        queries = self.query_tokens.expand(image.shape[0], -1, -1)  # (n, Q, width)
        mask = torch.ones(image.shape[:-1], dtype=torch.long, device=image.device)
        return self.qformer(query_embeds=queries, encoder_hidden_states=image,
                            encoder_attention_mask=mask).last_hidden_state  # (n, Q, width)


def _blip2_parts(name_or_path: str | None, vision_config: dict[str, Any] | None,
                 qformer_config: dict[str, Any] | None, num_query_tokens: int, device: str | None
                 ) -> tuple[nn.Module, nn.Module, nn.Parameter]:
    import transformers

    if name_or_path:
        full = transformers.Blip2Model.from_pretrained(name_or_path, device_map=device)
        return full.vision_model, full.qformer, full.query_tokens
    if vision_config is None or qformer_config is None:
        raise ValueError("a qformer encoder needs name_or_path (a BLIP-2 checkpoint) or vision_config and "
                         "qformer_config (random init)")
    if num_query_tokens < 1:
        raise ValueError(f"model.encoders.qformer.num_query_tokens: must be >= 1, got {num_query_tokens}")
    qformer_cfg = transformers.Blip2QFormerConfig(**qformer_config)
    vision_cfg = transformers.Blip2VisionConfig(**vision_config)
    if qformer_cfg.encoder_hidden_size != vision_cfg.hidden_size:
        raise ValueError(f"model.encoders.qformer.qformer_config.encoder_hidden_size ({qformer_cfg.encoder_hidden_size}) "
                         f"must equal vision_config.hidden_size ({vision_cfg.hidden_size})")
    with torch.device(device or "cpu"):
        vision = transformers.Blip2VisionModel(vision_cfg)
        qformer = transformers.Blip2QFormerModel(qformer_cfg)
        queries = nn.Parameter(torch.zeros(1, num_query_tokens, qformer_cfg.hidden_size))
        nn.init.normal_(queries, std=qformer_cfg.initializer_range)
    return vision, qformer, queries
