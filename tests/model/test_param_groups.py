"""Optimiser parameter groups (model/param_groups.py): the exact learning rate of every group for the LLM
lr scale and the vision encoder's layer-wise decay (IXC-2.5), and the unchanged default groups."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sphinx_x.model.build import build_sphinx
from sphinx_x.model.param_groups import parameter_groups
from sphinx_x.runtime.config import ConfigError, validate_config
from sphinx_x.train import train
from tests.testkit.configs import compose_config

LR = 1e-3


def _model(tmp_path, demo_dir, *overrides):
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", *overrides], tmp_path)
    torch.manual_seed(0)
    return build_sphinx(cfg.model, vocab_size=600)


def _lr_of(groups) -> dict[int, tuple[str, float]]:
    """id(parameter) -> (group name, lr); every parameter in exactly one group."""
    owner: dict[int, tuple[str, float]] = {}
    for group in groups:
        for param in group["params"]:
            assert id(param) not in owner
            owner[id(param)] = (group["name"], group["lr"])
    return owner


def test_default_options_keep_the_two_groups_of_before(tmp_path, demo_dir):
    model = _model(tmp_path, demo_dir)
    groups = parameter_groups(model, LR, 0.1)
    assert [(g["name"], g["lr"], g["weight_decay"]) for g in groups] == [
        ("base", LR, 0.1), ("base/no_decay", LR, 0.0)]
    trainable = [p for p in model.parameters() if p.requires_grad]
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2 and not n.endswith("_embed")]
    assert [id(p) for p in groups[0]["params"]] == [id(p) for p in decay]  # same order as before: states load
    assert len(_lr_of(groups)) == len(trainable)


def test_llm_lr_scale_applies_to_the_llms_own_weights_only(tmp_path, demo_dir):
    model = _model(tmp_path, demo_dir, "model.partial_lora={r: 2}")
    groups = parameter_groups(model, LR, 0.0, llm_lr_scale=0.2)
    lr = _lr_of(groups)
    params = dict(model.named_parameters())
    assert lr[id(params["llm.model.layers.0.self_attn.q_proj.weight"])] == ("llm", pytest.approx(2e-4))
    assert lr[id(params["llm.model.embed_tokens.weight"])] == ("llm", pytest.approx(2e-4))
    assert lr[id(params["llm.model.norm.weight"])] == ("llm/no_decay", pytest.approx(2e-4))
    assert lr[id(params["llm.model.layers.0.self_attn.q_proj.plora_A"])] == ("base", LR)  # new: full lr
    assert lr[id(params["vision.projector.0.weight"])] == ("base", LR)
    assert lr[id(params["start_embed"])] == ("base/no_decay", LR)
    assert [g["name"] for g in groups] == ["base", "base/no_decay", "llm", "llm/no_decay"]
    llm_own = {n for n, p in model.named_parameters() if p.requires_grad and n.startswith("llm.") and "plora_" not in n}
    assert {n for n, p in params.items() if lr.get(id(p), ("", 0))[0].startswith("llm")} == llm_own


def test_vision_layer_decay_gives_each_block_its_lr(tmp_path, demo_dir):
    model = _model(tmp_path, demo_dir, "model.freeze_vision=false")
    lr = _lr_of(parameter_groups(model, LR, 0.0, vision_layer_decay=0.9))
    params = dict(model.named_parameters())

    def at(name: str) -> tuple[str, float]:
        return lr[id(params[f"vision.experts.{name}"])]

    # DINOv2 (2 layers): embeddings 0.9^3, layer 0 0.9^2, layer 1 0.9, the final norm lr itself
    assert at("dinov2.model.embeddings.patch_embeddings.projection.weight") == (
        "vision.dinov2.layer0", pytest.approx(LR * 0.9**3))
    assert at("dinov2.model.encoder.layer.0.attention.q_proj.weight") == (
        "vision.dinov2.layer1", pytest.approx(LR * 0.9**2))
    assert at("dinov2.model.encoder.layer.1.mlp.fc1.weight") == ("vision.dinov2.layer2", pytest.approx(LR * 0.9))
    assert at("dinov2.model.layernorm.weight") == ("base/no_decay", LR)
    # ConvNeXt (4 stages): stem 0.9^5, stage k (0-based) 0.9^(4-k), the head's norm lr itself
    assert at("convnext.trunk.stem.0.weight") == ("vision.convnext.layer0", pytest.approx(LR * 0.9**5))
    assert at("convnext.trunk.stages.0.blocks.0.conv_dw.weight") == (
        "vision.convnext.layer1", pytest.approx(LR * 0.9**4))
    assert at("convnext.trunk.stages.3.downsample.1.weight") == ("vision.convnext.layer4", pytest.approx(LR * 0.9))
    assert at("convnext.trunk.head.norm.weight") == ("base/no_decay", LR)
    frozen = _model(tmp_path, demo_dir)  # frozen encoders: nothing of them in any group
    assert [g["name"] for g in parameter_groups(frozen, LR, 0.0, vision_layer_decay=0.9)] == ["base", "base/no_decay"]


@pytest.mark.parametrize(("override", "message"), [
    ("optim.llm_lr_scale=0", "optim.llm_lr_scale: must be > 0"),
    ("optim.vision_layer_decay=1.5", r"optim.vision_layer_decay: must be in \(0, 1\]"),
    ("optim.llm_lr_scale=fast", "optim.llm_lr_scale: must be a finite number"),
])
def test_config_errors_name_the_optim_field(tmp_path, demo_dir, override, message):
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", override], tmp_path)
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg)


def test_ixc_options_train_and_the_optimizer_holds_each_groups_lr(demo_config, tmp_path):
    """The IXC-2.5 options together on the demo: dynamic partition, partial LoRA, LLM lr x 0.2, a trainable
    vision encoder with layer decay 0.9; the checkpoint's optimiser groups carry the exact initial lrs."""
    cfg = demo_config("trainer.max_steps=2", "callbacks.checkpoint.every_n_train_steps=2",
                      "model/tiling=ixc_dynamic_demo", "model.partial_lora={r: 4}", "optim.llm_lr_scale=0.2",
                      "model.freeze_vision=false", "optim.vision_layer_decay=0.9", "optim.lr=1e-3")
    validate_config(cfg)
    result = train(cfg, str(tmp_path / "run"))
    assert result["global_step"] == 2
    state = torch.load(Path(result["checkpoint"]), map_location="cpu", weights_only=False)
    initial = {g["name"]: g["initial_lr"] for g in state["optimizer_states"][0]["param_groups"]}
    assert initial["base"] == LR and initial["llm"] == pytest.approx(0.2 * LR)
    assert initial["vision.dinov2.layer1"] == pytest.approx(LR * 0.9**2)
    assert initial["vision.convnext.layer0"] == pytest.approx(LR * 0.9**5)
    weights = state["state_dict"]
    assert {"model.newline_embed", "model.separator_embed"} <= set(weights)
    assert any(k.endswith("plora_B") and weights[k].abs().sum() > 0 for k in weights)


def test_groups_are_the_same_when_wrappers_rename_the_parameters(tmp_path, demo_dir):
    """FSDP and activation checkpointing wrap modules in place and put their prefix into parameter names."""
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import apply_activation_checkpointing

    model = _model(tmp_path, demo_dir, "model.freeze_vision=false")
    count = len(list(model.parameters()))
    expected = _lr_of(parameter_groups(model, LR, 0.0, llm_lr_scale=0.2, vision_layer_decay=0.9))
    layer_type = type(model.llm.model.layers[0])
    apply_activation_checkpointing(model, check_fn=lambda m: isinstance(m, layer_type))
    names = [n for n, _ in model.named_parameters()]
    assert any("_checkpoint_wrapped_module." in n for n in names) and len(names) == count
    assert _lr_of(parameter_groups(model, LR, 0.0, llm_lr_scale=0.2, vision_layer_decay=0.9)) == expected
