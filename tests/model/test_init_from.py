"""``model.init_from``: training starts from a converted release; its runs and exports load without surprises."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sphinx_x.convert.accessory import convert_accessory
from sphinx_x.inference import SphinxInference
from sphinx_x.model.build import build_sphinx
from sphinx_x.train import train
from tests.testkit.accessory import TINY_OVERRIDES, train_tokenizer, write_release
from tests.testkit.configs import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")
# model=sphinx_tiny_1k sized like the tiny SPHINX-Tiny-1k release of tests/testkit/accessory.py
TINY_TINY_1K = ["model=sphinx_tiny_1k", *TINY_OVERRIDES["llama_ens5_light"], "model.llm.config.hidden_size=64",
                "model.llm.config.intermediate_size=192", "model.llm.config.num_hidden_layers=2",
                "model.llm.config.num_attention_heads=4", "model.llm.config.num_key_value_heads=2",
                "model.llm.config.vocab_size=360", "model.max_length=512"]


@pytest.fixture(scope="module")
def release_export(tmp_path_factory) -> Path:
    """A converted tiny SPHINX-Tiny-1k release."""
    root = tmp_path_factory.mktemp("tiny_1k")
    tokenizer = train_tokenizer(root / "spm" / "tokenizer.model")
    write_release(root / "release", "llama_ens5_light", tokenizer)
    convert_accessory(root / "release", root / "export", "llama_ens5_light", TINY_OVERRIDES["llama_ens5_light"])
    return root / "export"


def _config(tmp_path: Path, demo_dir: Path, export: Path, *extra: str):
    return compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "demo_world=null", *TINY_TINY_1K,
                           f"model.init_from={export}", "data.num_workers=0", "data.num_samples=16",
                           "data.micro_batch_size=2", "global_batch_size=2", "trainer.max_steps=2",
                           "trainer.enable_progress_bar=false", "trainer.val_check_interval=null",
                           "callbacks.benchmark_validation=null", *extra], tmp_path / "run")


def test_a_built_model_holds_the_exported_weights(release_export, demo_dir, tmp_path):
    cfg = _config(tmp_path, demo_dir, release_export)
    assert cfg.model.tokenizer == str(release_export)  # the release's tokenizer comes with it
    model = build_sphinx(cfg.model, vocab_size=360)
    stored = load_file(str(release_export / "model.safetensors"))
    state = model.state_dict()
    assert set(stored) == set(state)
    assert all(torch.equal(state[k], v) for k, v in stored.items())


def test_training_from_a_converted_release_then_its_run_and_export_load(release_export, demo_dir, tmp_path):
    result = train(_config(tmp_path, demo_dir, release_export), str(tmp_path / "run"))
    assert result["global_step"] == 2
    stored = load_file(str(release_export / "model.safetensors"))
    run = SphinxInference.from_run(tmp_path / "run")  # the checkpoint holds no encoders: they come from init_from
    state = run.model.state_dict()
    for key in ("vision.experts.dinov2.model.embeddings.position_embeddings",
                "vision.experts.convnext.trunk.stages.3.blocks.0.mlp.fc2.weight"):
        assert torch.equal(state[key], stored[key])
    assert not torch.equal(state["llm.lm_head.weight"], stored["llm.lm_head.weight"])  # trained

    exported = run.export(tmp_path / "finetuned")
    config = json.loads((exported / "sphinx_config.json").read_text())["model"]
    assert config["init_from"] == str(release_export)  # the base it started from, for sphinx-x-mix
    assert set(load_file(str(exported / "model.safetensors"))) == set(stored)  # whole: encoders included
    moved = tmp_path / "elsewhere"
    shutil.move(release_export, moved)
    try:
        again = SphinxInference.from_run(exported)  # loads without the folder it started from
        assert all(torch.equal(again.model.state_dict()[k], v) for k, v in state.items())
    finally:
        shutil.move(moved, release_export)


def test_init_from_errors_name_the_field(release_export, demo_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"model.init_from: .*no-such is not a folder"):
        build_sphinx(_config(tmp_path, demo_dir, tmp_path / "no-such").model, vocab_size=360)
    with pytest.raises(ValueError, match=r"model.llm.config.rope_theta: 20000.0 here but 10000.0 in"):
        build_sphinx(_config(tmp_path, demo_dir, release_export, "+model.llm.config.rope_theta=20000.0").model,
                     vocab_size=360)
    wider = _config(tmp_path, demo_dir, release_export, "model.encoders.dinov2.config.hidden_size=48")
    with pytest.raises(ValueError, match=r"model.init_from: .*(holds|is \(1, 1, 24\))"):
        build_sphinx(wider.model, vocab_size=360)


def test_a_released_type_config_needs_init_from(demo_dir, tmp_path):
    from sphinx_x.runtime.config import ConfigError

    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "demo_world=null", *TINY_TINY_1K,
                          "data.num_workers=0", "trainer.max_steps=1"], tmp_path)
    with pytest.raises(ConfigError, match="Missing mandatory value: model.init_from"):  # at start-up
        train(cfg, str(tmp_path))


def test_lora_over_a_converted_release_trains_resumes_and_merges(release_export, demo_dir, tmp_path):
    from sphinx_x.export import main as export_main
    from sphinx_x.model.lora import has_lora
    from sphinx_x.safe_loading import load_checkpoint

    lora = "model.llm.lora={r:4,alpha:8,target_modules:[q_proj,v_proj]}"
    result = train(_config(tmp_path, demo_dir, release_export, lora, "optim.lr=0.01"), str(tmp_path / "run"))
    saved = load_checkpoint(Path(result["checkpoint"]))["state_dict"]
    assert not any(k.startswith("model.llm.") and ".lora_" not in k for k in saved)  # the base is the release's
    stored = load_file(str(release_export / "model.safetensors"))
    run = SphinxInference.from_run(tmp_path / "run")  # the base comes back from init_from
    state = run.model.state_dict()
    q = "llm.model.layers.0.self_attn.q_proj"
    assert has_lora(run.model.llm) and torch.equal(state[f"{q}.base_layer.weight"], stored[f"{q}.weight"])
    assert export_main([str(tmp_path / "run"), str(tmp_path / "merged")]) == 0
    merged = load_file(str(tmp_path / "merged" / "model.safetensors"))
    assert set(merged) == set(stored)  # a plain model again: adapters folded into the release's weights
    assert not torch.equal(merged[f"{q}.weight"], stored[f"{q}.weight"])
    k = "llm.model.layers.0.self_attn.k_proj.weight"
    assert torch.equal(merged[k], stored[k])  # no adapter there


def test_init_from_refuses_a_quantized_base(release_export, demo_dir, tmp_path):
    from sphinx_x.runtime.config import ConfigError, validate_config

    cfg = _config(tmp_path, demo_dir, release_export, "model.llm.lora={r:4}", "model.llm.quantization=4bit",
                  "trainer=gpu")
    with pytest.raises(ConfigError, match="model.init_from: cannot load an export into a 4bit base"):
        validate_config(cfg)
