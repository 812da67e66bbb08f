"""SPHINX v1's two training stages as configs: stage 1 trains the projectors on captions with the LLM
frozen, stage 2 starts from stage 1's export (``model.init_from``) and trains everything but the encoders."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForCausalLM

from sphinx_x.data.tiling import VisualLayout
from sphinx_x.inference import SphinxInference
from sphinx_x.model.build import build_sphinx
from sphinx_x.train import train
from tests.testkit.configs import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")
TINY_V1 = ["model/encoders=sphinx_v1_tiny", "model.encoders.convnext.input_size=32", "model.tiling.tile_pixels=28",
           "model.llm.dtype=float32", "model.max_length=512"]


def test_stage_configs_follow_the_paper(tmp_path):
    one = compose_config(["experiment=sphinx_v1_stage1"], tmp_path / "1")
    assert one.model.name == "sphinx_v1_base" and one.model.train_llm is False and one.model.freeze_vision
    assert (one.optim.lr, one.optim.weight_decay, one.optim.lr * one.optim.min_lr_ratio) == (5e-5, 0.1, 5e-6)
    assert sorted(one.data.sources) == ["coco_caption", "laion_gpt4v", "sharegpt4v"]
    assert VisualLayout.from_model_config(one.model).max_slots == 32 + 257 + 2  # llama_ens.py:335
    two = compose_config(["experiment=sphinx_v1_stage2", "model.init_from=/stage1"], tmp_path / "2")
    assert two.model.train_llm is True and two.model.init_from == "/stage1" and two.global_batch_size == 128
    assert (two.optim.lr, two.optim.warmup_epochs, two.optim.min_lr_ratio, two.data.max_length) == (2e-5, 0.03, 0.0, 3072)
    assert "vqav2" in two.data.sources and two.data.weighting == "size"


@pytest.fixture(scope="module")
def llm_checkpoint(demo_tokenizer, tmp_path_factory) -> Path:
    """A tiny LLaMA saved like a hub checkpoint (stands in for LLaMA2-13B), with the demo tokenizer."""
    folder = tmp_path_factory.mktemp("llama")
    config = AutoConfig.for_model("llama", vocab_size=len(demo_tokenizer), hidden_size=64, intermediate_size=128,
                                  num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    demo_tokenizer.save_pretrained(folder)
    return folder


def _stage(experiment: str, demo_dir: Path, llm: Path, out: Path, *extra: str):
    return compose_config([f"experiment={experiment}", "data=demo", f"paths.demo_dir={demo_dir}", *TINY_V1,
                           f"model.llm.name_or_path={llm}", "data.num_workers=0", "data.num_samples=16",
                           "data.micro_batch_size=2", "global_batch_size=2", "trainer.max_steps=2",
                           "trainer.enable_progress_bar=false", *extra], out)


def test_two_stages_end_to_end(demo_dir, llm_checkpoint, tmp_path):
    cfg_one = _stage("sphinx_v1_stage1", demo_dir, llm_checkpoint, tmp_path / "stage1")
    train(cfg_one, str(tmp_path / "stage1"))
    stage_one = SphinxInference.from_run(tmp_path / "stage1")
    initial = build_sphinx(cfg_one.model, vocab_size=len(stage_one.tokenizer)).state_dict()
    trained = stage_one.model.state_dict()
    assert torch.equal(trained["llm.lm_head.weight"], initial["llm.lm_head.weight"])  # frozen in stage 1
    assert not torch.equal(trained["vision.projector.0.weight"], initial["vision.projector.0.weight"])
    assert not torch.equal(trained["vision.query_projectors.qformer.0.weight"],
                           initial["vision.query_projectors.qformer.0.weight"])
    export = stage_one.export(tmp_path / "stage1_export")
    assert not any(k.startswith("llm.") for k in load_file(str(export / "model.safetensors")))  # the LLM is the checkpoint's

    cfg_two = _stage("sphinx_v1_stage2", demo_dir, llm_checkpoint, tmp_path / "stage2", f"model.init_from={export}")
    start = build_sphinx(cfg_two.model, vocab_size=len(stage_one.tokenizer)).state_dict()
    assert torch.equal(start["vision.projector.0.weight"], trained["vision.projector.0.weight"])  # from stage 1
    assert torch.equal(start["llm.lm_head.weight"], initial["llm.lm_head.weight"])  # from the LLM checkpoint
    train(cfg_two, str(tmp_path / "stage2"))
    stage_two = SphinxInference.from_run(tmp_path / "stage2").model.state_dict()
    assert not torch.equal(stage_two["llm.lm_head.weight"], start["llm.lm_head.weight"])  # trains in stage 2
    assert torch.equal(stage_two["vision.experts.dinov2.model.layernorm.weight"],
                       start["vision.experts.dinov2.model.layernorm.weight"])  # encoders stay frozen
