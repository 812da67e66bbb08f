"""A demo-sized inference engine with random weights, for generation, serving and chat tests.

The trainable weights are drawn at a large scale (at the usual 0.02 a random LLM repeats one token
whatever it is shown), so answers depend on the prompt and images.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf

from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.inference import SphinxInference
from sphinx_x.model.build import build_sphinx
from tests.testkit.configs import compose_config


def random_engine(demo_dir: Path, demo_tokenizer, tmp_dir: Path, std: float = 0.3, overrides: tuple[str, ...] = ()
                  ) -> SphinxInference:
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", *overrides], tmp_dir)
    model = build_sphinx(cfg.model, vocab_size=len(demo_tokenizer))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("vision.experts."):
                continue  # frozen encoders are rebuilt from the config on loading: keep them as built
            noise = torch.randn(param.shape, generator=generator)
            if param.ndim >= 2:
                param.copy_(noise * std)
            else:
                param.copy_(noise * 0.1 + (1.0 if "norm" in name else 0.0))
    processor = SphinxProcessor.from_config(demo_tokenizer, cfg.model, cfg.data)
    return SphinxInference(model, processor, OmegaConf.to_container(cfg.model, resolve=True))
