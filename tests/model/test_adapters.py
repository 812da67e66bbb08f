"""Lynx adapters (``model.llm.adapters={every: M}``): found in any decoder's layer list, exactly neutral at
initialisation, the only LLM weights that train with ``model.train_llm=false``, saved and resumed."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM

from sphinx_x.data.slots import END, IGNORE_INDEX, START, VISUAL
from sphinx_x.model.adapters import ADAPTER_ATTRIBUTE, adapter_parameters, add_adapters, decoder_layers
from sphinx_x.model.build import build_sphinx
from sphinx_x.runtime.config import ConfigError, validate_config
from sphinx_x.train import train
from tests.testkit.configs import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")
LYNX = ("model.llm.adapters={every: 2}", "model.train_llm=false", "model/projector=resampler")
TINY_MIXTRAL = ("model/llm=mixtral_8x7b", "model.llm.name_or_path=null", "model.llm.dtype=float32",
                "model.llm.gradient_checkpointing=false", "model.llm.attn_implementation=eager",
                "model.llm.config.hidden_size=32", "model.llm.config.intermediate_size=32",
                "model.llm.config.num_hidden_layers=4", "model.llm.config.num_attention_heads=4",
                "model.llm.config.num_key_value_heads=2", "model.llm.config.num_local_experts=4",
                "model.llm.config.num_experts_per_tok=2", "model.llm.config.vocab_size=640")
LLMS = {
    "llama": ("llama", {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
                        "num_key_value_heads": 2}),
    "mixtral": ("mixtral", {"hidden_size": 32, "intermediate_size": 32, "num_hidden_layers": 4, "num_attention_heads": 4,
                            "num_key_value_heads": 2, "num_local_experts": 4, "num_experts_per_tok": 2}),
    "gpt2": ("gpt2", {"n_embd": 32, "n_layer": 4, "n_head": 4}),  # other naming: transformer.h
}


def _llm(family: str) -> nn.Module:
    model_type, config = LLMS[family]
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, vocab_size=96, **config)).eval()


@pytest.mark.parametrize("family", sorted(LLMS))
def test_any_decoder_starts_exactly_unchanged(family):
    llm = _llm(family)
    ids = torch.randint(0, 96, (2, 9))
    before = llm(input_ids=ids).logits
    assert add_adapters(llm, {"every": 2}) == [1, 3]
    layers = decoder_layers(llm)
    assert [hasattr(layer, ADAPTER_ATTRIBUTE) for layer in layers] == [False, True, False, True]
    assert len(adapter_parameters(llm)) == 2 * 7  # norm (2), down (2), up (2), scale, per adapter
    assert torch.equal(llm(input_ids=ids).logits, before)  # the scale starts at 0: exactly the same LLM
    with torch.no_grad():
        getattr(layers[1], ADAPTER_ATTRIBUTE).scale.fill_(1.0)
    assert not torch.allclose(llm(input_ids=ids).logits, before)  # and they are in the forward pass


class TupleBlock(nn.Module):
    """A decoder layer that returns (hidden_states, attention weights), as InternLM2's remote code does."""

    def __init__(self, width: int):
        super().__init__()
        self.mix = nn.Linear(width, width)

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, None]:
        return hidden + self.mix(hidden), None


class TupleDecoder(nn.Module):
    _no_split_modules = ["TupleBlock"]

    def __init__(self, width: int = 8, count: int = 3):
        super().__init__()
        self.config = SimpleNamespace(num_hidden_layers=count, hidden_size=width)
        self.heads = nn.ModuleList(nn.Linear(width, width) for _ in range(count))  # same length, not the layers
        self.blocks = nn.ModuleList(TupleBlock(width) for _ in range(count))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            hidden = block(hidden)[0]
        return hidden


def test_the_decoder_class_is_preferred_and_tuple_outputs_are_adapted():
    torch.manual_seed(0)
    model = TupleDecoder()
    x = torch.randn(2, 5, 8)
    before = model(x)
    assert decoder_layers(model) is model.blocks
    assert add_adapters(model, {"every": 1}) == [0, 1, 2]
    assert torch.equal(model(x), before)
    with torch.no_grad():
        model.blocks[2].lynx_adapter.scale.fill_(0.5)
    adapter = model.blocks[2].lynx_adapter
    hidden = x
    for block in model.blocks[:2]:
        hidden = block(hidden)[0]
    plain = hidden + model.blocks[2].mix(hidden)
    assert torch.allclose(model(x), plain + 0.5 * adapter.up(torch.nn.functional.silu(adapter.down(adapter.norm(plain)))))


def _batch(model, vocab: int):
    tokens = model.vision.tokens_per_tile
    kinds = [0, START, *[VISUAL] * tokens, END, 0, 0, 0, 0]
    slot_kind = torch.tensor([kinds, kinds], dtype=torch.uint8)
    torch.manual_seed(1)
    input_ids = torch.randint(5, vocab, slot_kind.shape)
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    labels[:, -3:] = input_ids[:, -3:]
    pixels = torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8)
    return input_ids, torch.ones_like(input_ids), slot_kind, pixels, labels


@pytest.mark.parametrize("llm", ["demo", "mixtral"])
def test_frozen_llm_trains_only_adapters_projector_and_special_embeddings(tmp_path, llm):
    overrides = ["experiment=demo", *LYNX, *(TINY_MIXTRAL if llm == "mixtral" else ())]
    cfg = compose_config(overrides, tmp_path).model
    torch.manual_seed(0)
    model = build_sphinx(cfg, vocab_size=700)
    cfg.llm.adapters = None
    torch.manual_seed(0)
    plain = build_sphinx(cfg, vocab_size=700)  # the same weights, drawn in the same order, without adapters
    batch = _batch(model, 700)
    with torch.no_grad():
        assert torch.equal(model(*batch, return_logits=True).logits, plain(*batch, return_logits=True).logits)

    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    adapters = {f"llm.model.layers.{i}.lynx_adapter.{p}" for i in (1, 3)
                for p in ("norm.weight", "norm.bias", "down.weight", "down.bias", "up.weight", "up.bias", "scale")}
    projector = {f"vision.{name}" for name, _ in model.vision.projector.named_parameters(prefix="projector")}
    embeddings = {name for name, _ in model.named_parameters() if "." not in name}  # start/end/skip (+ row slots)
    assert {"start_embed", "end_embed", "skip_embed", "vision.projector.latents"} <= embeddings | projector
    assert trainable == adapters | projector | embeddings
    assert set(model.trainable_state_dict()) == trainable  # what checkpoints hold

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    for _ in range(3):
        optimizer.zero_grad()
        model(*batch).loss.backward()
        optimizer.step()
    end = model.state_dict()
    moved = {k for k in start if not torch.equal(start[k], end[k])}
    assert adapters <= moved and projector <= moved  # step 1 moves the scales, then the adapters learn too
    assert not {k for k in moved if k.startswith("llm.") and ".lynx_adapter." not in k}  # the LLM stays frozen
    assert not {k for k in moved if k.startswith("vision.experts.")}


def test_checkpoints_hold_the_adapters_and_resume_equals_the_straight_run(demo_config, tmp_path):
    straight = train(demo_config(*LYNX, "trainer.max_steps=4", "callbacks.checkpoint.every_n_train_steps=2",
                                 output_dir=tmp_path / "a"), str(tmp_path / "a"))
    step2 = tmp_path / "a" / "checkpoints" / "step-00000002.ckpt"
    saved = torch.load(step2, map_location="cpu", weights_only=False)["state_dict"]
    assert {k for k in saved if k.startswith("model.llm.")} == {
        f"model.llm.model.layers.{i}.lynx_adapter.{p}" for i in (1, 3)
        for p in ("norm.weight", "norm.bias", "down.weight", "down.bias", "up.weight", "up.bias", "scale")}
    resumed = train(demo_config(*LYNX, f"ckpt_path={step2}", "trainer.max_steps=4", output_dir=tmp_path / "b"),
                    str(tmp_path / "b"))
    assert resumed["global_step"] == straight["global_step"] == 4
    a = torch.load(Path(straight["checkpoint"]), map_location="cpu", weights_only=False)["state_dict"]
    b = torch.load(Path(resumed["checkpoint"]), map_location="cpu", weights_only=False)["state_dict"]
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert not torch.equal(a["model.llm.model.layers.1.lynx_adapter.scale"], saved["model.llm.model.layers.1.lynx_adapter.scale"])


@pytest.mark.parametrize(("override", "message"), [
    ("model.llm.adapters={every: 0}", r"model.llm.adapters.every: must be an integer >= 1, got 0"),
    ("model.llm.adapters={every: 2, width: 8}", r"model.llm.adapters: unknown fields \['width'\]"),
    ("model.llm.adapters=2", r"model.llm.adapters: must be null or a mapping"),
])
def test_bad_adapter_settings_are_named_at_start_up(demo_config, override, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(demo_config(override))


def test_more_layers_than_the_llm_has_is_an_error():
    with pytest.raises(ValueError, match="model.llm.adapters.every: 5 exceeds the LLM's 4 decoder layers"):
        add_adapters(_llm("llama"), {"every": 5})


def test_gradient_checkpointing_gives_the_same_adapter_gradients(tmp_path):
    """Lynx's stages inherit SPHINX-Tiny's activation checkpointing: the hooks run inside the checkpointed block."""
    grads = []
    for checkpointing in (False, True):
        cfg = compose_config(["experiment=demo", *LYNX, f"model.llm.gradient_checkpointing={checkpointing}"],
                             tmp_path).model
        torch.manual_seed(0)
        model = build_sphinx(cfg, vocab_size=700)
        with torch.no_grad():
            for name, param in adapter_parameters(model).items():
                if name.endswith(".scale"):
                    param.fill_(0.3)  # past the first step: the bottleneck weights get gradients too
        model(*_batch(model, 700)).loss.backward()
        grads.append({name: p.grad for name, p in adapter_parameters(model).items()})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) == 14
    assert all(grads[0][k].abs().sum() > 0 and torch.allclose(grads[0][k], grads[1][k], atol=1e-6) for k in grads[0])
