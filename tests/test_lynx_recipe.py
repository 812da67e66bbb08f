"""Lynx's three stages as experiment configs (``experiment=lynx_stage1|2|3``): the paper's numbers, the
layout they give, and the chain on the demo world where each stage starts from the previous export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import open_dict
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForCausalLM

from sphinx_x.data.tiling import VisualLayout
from sphinx_x.inference import GenerationConfig, SphinxInference
from sphinx_x.model.adapters import adapter_parameters
from sphinx_x.model.build import build_sphinx
from sphinx_x.runtime.config import validate_config
from sphinx_x.safe_loading import load_checkpoint
from sphinx_x.train import train
from tests.testkit.configs import compose_config
from tests.testkit.paths import REPO

pytestmark = pytest.mark.usefixtures("one_thread")
VIT = "vision.experts.dinov2.model.encoder.layer.0.attention.q_proj.weight"


def _stage(n: int, out: Path, *extra: str):
    init = ["model.init_from=/exports/previous_stage"] if n > 1 else []
    return compose_config([f"experiment=lynx_stage{n}", *init, *extra], out)


def test_stages_follow_the_paper(tmp_path):
    one, two, three = (_stage(n, tmp_path / str(n)) for n in (1, 2, 3))
    for cfg in (one, two, three):
        validate_config(cfg)
        assert cfg.model.projector.name == "resampler" and cfg.model.projector.latents == 32
        assert cfg.model.projector.layers == 3 and cfg.model.llm.adapters.every == 2
        assert cfg.model.train_llm is False and list(cfg.model.vision.experts) == ["dinov2"]
    assert [(c.optim.lr, c.global_batch_size, c.trainer.max_steps) for c in (one, two, three)] == [
        (1e-4, 1536, 100_000), (1e-5, 1536, 10_000), (2e-5, 256, 20_000)]
    assert [c.model.freeze_vision for c in (one, two, three)] == [True, False, True]  # the ViT trains in stage 2
    assert [c.model.init_from for c in (one, two, three)] == [None, "/exports/previous_stage", "/exports/previous_stage"]
    assert sorted(one.data.sources) == sorted(two.data.sources) == ["coco_caption", "laion_gpt4v", "sharegpt4v"]
    assert "vqav2" in three.data.sources and "llava_instruct" in three.data.sources
    layouts = [VisualLayout.from_model_config(c.model) for c in (one, two, three)]
    assert [(la.tile_pixels, la.grid, la.sub_images) for la in layouts] == [(224, 1, False), (420, 1, False),
                                                                            (420, 1, False)]
    assert [la.max_slots for la in layouts] == [32 + 2] * 3  # [start] 32 resampler tokens [end], at 224 and at 420


def test_real_size_stage_one_on_the_meta_device(tmp_path):
    cfg = _stage(1, tmp_path).model
    with open_dict(cfg):
        cfg.llm.name_or_path = None  # TinyLlama's shape from model.llm.config, no download
        cfg.encoders.dinov2.name_or_path = None
    model = build_sphinx(cfg, device="meta")
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    adapters = adapter_parameters(model)
    assert {name.split(".lynx_adapter.")[0] for name in adapters} == {
        f"llm.model.layers.{i}" for i in range(1, 22, 2)}  # 22 blocks, an adapter after every 2nd
    assert trainable == set(adapters) | {f"vision.{n}" for n, _ in model.vision.projector.named_parameters(
        prefix="projector")} | {n for n, _ in model.named_parameters() if "." not in n}
    per_adapter = 2 * 2048 + (2048 * 1024 + 1024) + (1024 * 2048 + 2048) + 2048
    assert sum(p.numel() for p in adapters.values()) == 11 * per_adapter
    tiles = torch.zeros(2, 3, 224, 224, dtype=torch.uint8, device="meta")
    assert model.vision(tiles).shape == (2, 32, 2048)


@pytest.fixture(scope="module")
def llm_checkpoint(demo_tokenizer, tmp_path_factory) -> Path:
    """A tiny LLaMA saved like a hub checkpoint (stands in for Vicuna / TinyLlama), with the demo tokenizer."""
    folder = tmp_path_factory.mktemp("llama")
    config = AutoConfig.for_model("llama", vocab_size=len(demo_tokenizer), hidden_size=64, intermediate_size=128,
                                  num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    demo_tokenizer.save_pretrained(folder)
    return folder


def _demo_stage(n: int, demo_dir: Path, llm: Path, out: Path, *extra: str):
    return compose_config([f"experiment=lynx_stage{n}", "model=demo", "data=demo", f"paths.demo_dir={demo_dir}",
                           f"model.llm.name_or_path={llm}", "data.num_workers=0", "data.num_samples=16",
                           "data.micro_batch_size=2", "global_batch_size=2", "trainer.max_steps=2",
                           "optim.lr=0.01", "trainer.enable_progress_bar=false", *extra], out)


def test_three_stages_chain_through_their_exports(demo_dir, llm_checkpoint, tmp_path):
    one = _demo_stage(1, demo_dir, llm_checkpoint, tmp_path / "1")
    train(one, str(tmp_path / "1"))
    stage_one = SphinxInference.from_run(tmp_path / "1")
    vocab = len(stage_one.tokenizer)
    initial = build_sphinx(one.model, vocab_size=vocab).state_dict()
    trained_one = stage_one.model.state_dict()
    scale = "llm.model.layers.1.lynx_adapter.scale"
    assert not torch.equal(trained_one[scale], initial[scale]) and not torch.equal(
        trained_one["vision.projector.latents"], initial["vision.projector.latents"])
    assert torch.equal(trained_one["llm.lm_head.weight"], initial["llm.lm_head.weight"])  # the LLM stays frozen
    assert torch.equal(trained_one[VIT], initial[VIT])  # so does the ViT at 224
    export_one = stage_one.export(tmp_path / "export1")
    assert scale in load_file(str(export_one / "model.safetensors"))

    two = _demo_stage(2, demo_dir, llm_checkpoint, tmp_path / "2", f"model.init_from={export_one}")
    assert VisualLayout.from_model_config(two.model).tile_pixels == 420
    start_two = build_sphinx(two.model, vocab_size=vocab).state_dict()
    assert torch.equal(start_two[scale], trained_one[scale])  # stage 2 starts from stage 1's export
    assert torch.equal(start_two["vision.projector.latents"], trained_one["vision.projector.latents"])
    train(two, str(tmp_path / "2"))
    stage_two = SphinxInference.from_run(tmp_path / "2")
    trained_two = stage_two.model.state_dict()
    assert not torch.equal(trained_two[VIT], start_two[VIT])  # the ViT trains at 420
    assert torch.equal(trained_two["llm.lm_head.weight"], initial["llm.lm_head.weight"])
    export_two = stage_two.export(tmp_path / "export2")

    three = _demo_stage(3, demo_dir, llm_checkpoint, tmp_path / "3", f"model.init_from={export_two}")
    start_three = build_sphinx(three.model, vocab_size=vocab).state_dict()
    assert torch.equal(start_three[VIT], trained_two[VIT]) and torch.equal(start_three[scale], trained_two[scale])
    train(three, str(tmp_path / "3"))
    stage_three = SphinxInference.from_run(tmp_path / "3")
    trained_three = stage_three.model.state_dict()
    assert torch.equal(trained_three[VIT], trained_two[VIT])  # frozen again for instruction tuning
    assert not torch.equal(trained_three[scale], trained_two[scale])
    engine = SphinxInference.from_run(stage_three.export(tmp_path / "export3"))  # the adapters travel with it
    assert torch.equal(engine.model.state_dict()[scale], trained_three[scale])
    image = Image.new("RGB", (80, 40), "red")
    answers = engine.answer(["<image>\nWhat colour is it?"], [[image]], GenerationConfig(max_new_tokens=3, do_sample=False),
                            describe_first=True)  # Lynx's describe-first, through the KV-cached generation loop
    assert len(answers) == 1 and isinstance(answers[0], str)


@pytest.mark.slow
def test_projectors_and_adapters_multirun_beside_the_defaults(tmp_path, demo_dir):
    """docs/lynx.md's sweep, shortened: 3 projectors x adapters off / every 2nd block, 2 steps each."""
    cmd = [sys.executable, "-m", "sphinx_x.train", "-m", "experiment=demo", "model/projector=linear,resampler,merge2x2",
           "model.llm.adapters=null,{every:2}", "trainer.max_steps=2", f"paths.demo_dir={demo_dir}",
           "demo_world=null", "data.num_workers=0", "trainer.enable_progress_bar=false",
           "callbacks.benchmark_validation=null", f"hydra.sweep.dir={tmp_path}"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == [str(i) for i in range(6)]
    for job in jobs:
        state = load_checkpoint(job / "checkpoints" / "last.ckpt")["state_dict"]
        overrides = (job / ".hydra" / "overrides.yaml").read_text()
        assert any(".lynx_adapter." in k for k in state) == ("every" in overrides), job.name
        assert ("model.vision.projector.latents" in state) == ("resampler" in overrides), job.name
