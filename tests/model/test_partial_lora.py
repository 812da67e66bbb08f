"""Partial LoRA (model/partial_lora.py): LoRA on the LLM's linear layers applied only at image positions;
text positions keep the base model's outputs exactly."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from sphinx_x.data.slots import END, IGNORE_INDEX, START, TEXT, VISUAL
from sphinx_x.model.build import build_sphinx
from sphinx_x.model.partial_lora import PartialLoRALinear, VisualPositions, partial_lora_settings
from sphinx_x.runtime.config import ConfigError, validate_config
from tests.testkit.configs import compose_config


def _linear_with_lora(positions: VisualPositions) -> tuple[nn.Linear, PartialLoRALinear]:
    torch.manual_seed(0)
    base = nn.Linear(8, 6)
    reference = nn.Linear(8, 6)
    reference.load_state_dict(base.state_dict())
    wrapped = PartialLoRALinear(base, r=4, alpha=8.0, dropout=0.0, positions=positions)
    with torch.no_grad():
        wrapped.plora_B.normal_()  # as after training: the LoRA update is not zero
    return reference, wrapped


def test_wrapper_changes_only_the_marked_positions():
    positions = VisualPositions()
    reference, wrapped = _linear_with_lora(positions)
    x = torch.randn(2, 5, 8)
    mask = torch.tensor([[False, True, True, False, False], [False, False, False, False, True]])
    positions.set(mask)
    out = wrapped(x)
    base = reference(x)
    assert torch.equal(out[~mask], base[~mask])  # bit for bit: text positions never see the LoRA weights
    delta = (x[mask] @ wrapped.plora_A.T @ wrapped.plora_B.T) * 2.0  # alpha / r = 2
    assert torch.allclose(out[mask], base[mask] + delta, atol=1e-5)
    assert not torch.allclose(out[mask], base[mask])
    positions.set(None)
    assert torch.equal(wrapped(x), base)
    positions.set(mask)
    assert torch.equal(wrapped(x[:, :1]), base[:, :1])  # a decoding step (another length): text, no LoRA


def test_wrapper_keeps_the_base_parameter_names_and_objects():
    base = nn.Linear(8, 6)
    wrapped = PartialLoRALinear(base, r=2, alpha=2.0, dropout=0.0, positions=VisualPositions())
    assert wrapped.weight is base.weight and wrapped.bias is base.bias
    assert set(wrapped.state_dict()) == {"weight", "bias", "plora_A", "plora_B"}
    assert wrapped.plora_A.shape == (2, 8) and wrapped.plora_B.shape == (6, 2) and not wrapped.plora_B.any()


@pytest.mark.parametrize(("cfg", "message"), [
    ({"r": 0}, "model.partial_lora.r: must be an integer >= 1"),
    ({"r": 4, "alpha": -1}, "model.partial_lora.alpha: must be a number > 0"),
    ({"dropout": 1.5}, r"model.partial_lora.dropout: must be in \[0, 1\)"),
    ({"rank": 4}, r"model.partial_lora: unknown fields \['rank'\]"),
    ({"target_modules": []}, "model.partial_lora.target_modules"),
])
def test_settings_errors_name_the_field(cfg, message):
    with pytest.raises(ValueError, match=message):
        partial_lora_settings(cfg)


def test_settings_defaults_are_the_papers_rank():
    assert partial_lora_settings({}) == {"r": 256, "alpha": 256.0, "dropout": 0.0, "target_modules": None}
    assert partial_lora_settings(None) is None


def _demo_model(tmp_path, demo_dir, vocab, *overrides):
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", *overrides], tmp_path)
    torch.manual_seed(0)
    return build_sphinx(cfg.model, vocab_size=vocab), cfg


def _image_batch(model, vocab):
    tokens = model.vision.tokens_per_tile
    kinds = [TEXT, START, *[VISUAL] * tokens, END, TEXT, TEXT, TEXT, TEXT]
    slot_kind = torch.tensor([kinds], dtype=torch.uint8)
    input_ids = torch.randint(5, vocab, slot_kind.shape, generator=torch.Generator().manual_seed(1))
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    labels[:, -3:] = input_ids[:, -3:]
    pixels = torch.randint(0, 255, (1, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    return input_ids, torch.ones_like(input_ids), slot_kind, pixels, labels


def test_demo_model_text_positions_equal_the_base_model_after_training(tmp_path, demo_dir, demo_tokenizer,
                                                                       one_thread):
    vocab = len(demo_tokenizer)
    plain, _ = _demo_model(tmp_path, demo_dir, vocab)
    model, _ = _demo_model(tmp_path, demo_dir, vocab, "model.partial_lora={r: 4, alpha: 8}")
    wrapped = [m for m in model.llm.modules() if isinstance(m, PartialLoRALinear)]
    # every linear layer of the 4 decoder layers (q, k, v, o, gate, up, down), never the output head
    assert len(wrapped) == 4 * 7 and not isinstance(model.llm.get_output_embeddings(), PartialLoRALinear)
    extra = set(model.state_dict()) - set(plain.state_dict())
    assert set(plain.state_dict()) <= set(model.state_dict())  # base names unchanged: old checkpoints load
    assert extra and all(k.endswith(("plora_A", "plora_B")) for k in extra)
    assert extra <= set(model.trainable_state_dict())
    batch = _image_batch(model, vocab)
    model.eval()
    plain.eval()
    with torch.no_grad():  # at initialisation (plora_B = 0) the model is the base model
        assert torch.equal(model(*batch[:4], return_logits=True).logits, plain(*batch[:4], return_logits=True).logits)
    optimizer = torch.optim.SGD([p for n, p in model.named_parameters() if "plora_" in n], lr=1.0)
    model.train()
    model(*batch[:4], labels=batch[4]).loss.backward()
    optimizer.step()
    assert any(m.plora_B.abs().sum() > 0 for m in wrapped)
    model.eval()
    with torch.no_grad():
        image_logits = model(*batch[:4], return_logits=True).logits
        base_logits = plain(*batch[:4], return_logits=True).logits
        assert torch.equal(image_logits[:, 0], base_logits[:, 0])  # BOS comes before every image position
        visual = batch[2][0] != TEXT
        assert not torch.allclose(image_logits[0, visual], base_logits[0, visual])
        text_only = (batch[0], batch[1], torch.zeros_like(batch[2]), batch[3][:0])
        assert torch.equal(model(*text_only, return_logits=True).logits, plain(*text_only, return_logits=True).logits)


def test_partial_lora_trains_with_a_frozen_llm(tmp_path, demo_dir, demo_tokenizer):
    model, _ = _demo_model(tmp_path, demo_dir, len(demo_tokenizer), "model.train_llm=false",
                           "model.partial_lora={r: 2, target_modules: [q_proj, v_proj]}")
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    llm_trainable = {n for n in trainable if n.startswith("llm.")}
    assert len(llm_trainable) == 4 * 2 * 2 and all(n.endswith(("plora_A", "plora_B")) for n in llm_trainable)
    assert {n for n in trainable - llm_trainable if not n.startswith("vision.projector")} == {
        "start_embed", "end_embed", "skip_embed"}


def test_config_validation_names_partial_lora(tmp_path, demo_dir):
    base = ["experiment=demo", f"paths.demo_dir={demo_dir}"]
    cfg = compose_config([*base, "model.partial_lora={r: 0}"], tmp_path)
    with pytest.raises(ConfigError, match="model.partial_lora.r: must be an integer >= 1"):
        validate_config(cfg)
    cfg = compose_config([*base, "model.partial_lora={r: 4}", "model.llm.lora={r: 4}"], tmp_path)
    with pytest.raises(ConfigError, match="model.partial_lora: and model.llm.lora would adapt the same layers"):
        validate_config(cfg)
    cfg = compose_config([*base, "model.partial_lora={r: 4, target_modules: [nope]}"], tmp_path)
    validate_config(cfg)  # names are checked against the built model
    with pytest.raises(ValueError, match=r"model.partial_lora.target_modules: \['nope'\] are not nn.Linear"):
        build_sphinx(OmegaConf.create(OmegaConf.to_container(cfg.model, resolve=True)))


def test_generation_applies_partial_lora_to_the_prompts_image_slots_only(tmp_path, demo_dir, demo_tokenizer,
                                                                          one_thread):
    from PIL import Image

    from sphinx_x.inference import Conversation, GenerationConfig
    from tests.testkit.inference import random_engine

    engine = random_engine(demo_dir, demo_tokenizer, tmp_path, overrides=("model.partial_lora={r: 4}",))
    config = GenerationConfig(max_new_tokens=6)
    image = Image.new("RGB", (96, 64), (200, 30, 30))
    with_image = [Conversation([{"role": "user", "content": "<image>\nWhat colour?"}], [image])]
    text_only = [Conversation([{"role": "user", "content": "Say something."}])]
    trained = [g.token_ids for g in engine.generate_full(with_image + text_only, config)]
    with torch.no_grad():
        for module in engine.model.llm.modules():
            if isinstance(module, PartialLoRALinear):
                module.plora_B.zero_()  # the base model
    base = [g.token_ids for g in engine.generate_full(with_image + text_only, config)]
    assert trained[0] != base[0]  # the prompt's image slots went through the LoRA weights
    assert trained[1] == base[1]  # a text-only prompt never does, nor does any generated token
