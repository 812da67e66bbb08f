"""LoRA (peft) on CPU end to end: only adapters train and are saved, resume is exact, the export merges
the adapters into the LLM and generates exactly what the adapted model generates; QLoRA is refused on CPU
(it runs in the GPU suite, tests/gpu/)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sphinx_x.export import main as export_main
from sphinx_x.inference import Conversation, GenerationConfig, SphinxInference
from sphinx_x.model.build import build_sphinx
from sphinx_x.model.lora import has_lora, lora_settings, merge_lora
from sphinx_x.runtime.config import ConfigError, validate_config
from sphinx_x.safe_loading import load_checkpoint
from sphinx_x.train import train

pytestmark = pytest.mark.usefixtures("one_thread")
LORA = "model.llm.lora={r:4,alpha:8,dropout:0.0,target_modules:[q_proj,v_proj]}"
RUN = (LORA, "data.micro_batch_size=2", "global_batch_size=4", "trainer.max_steps=4",
       "callbacks.checkpoint.every_n_train_steps=2", "optim.lr=0.01")


def _state(path: Path | str) -> dict[str, torch.Tensor]:
    return load_checkpoint(Path(path))["state_dict"]


def test_only_adapters_projector_and_special_embeddings_train(demo_config):
    cfg = demo_config(LORA)
    validate_config(cfg)
    model = build_sphinx(cfg.model, vocab_size=640)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    llm = {n for n in trainable if n.startswith("llm.")}
    assert llm and all(".lora_A." in n or ".lora_B." in n for n in llm)
    assert len(llm) == 4 * 2 * 2  # 4 layers x (q_proj, v_proj) x (A, B)
    assert {n for n in trainable - llm if not n.startswith("vision.")} == {"start_embed", "end_embed", "skip_embed"}
    assert all(n.startswith("vision.projector") for n in trainable - llm - {"start_embed", "end_embed", "skip_embed"})
    # the frozen base is drawn from a fixed seed: a second build is the same model
    again = build_sphinx(cfg.model, vocab_size=640)
    frozen = model.frozen_state_keys()  # tied lm_head included
    assert {k for k in frozen if k.startswith("llm.")} == {k for k in model.state_dict() if k.startswith("llm.")
                                                           and "lora_" not in k}
    assert all(torch.equal(model.state_dict()[k], again.state_dict()[k]) for k in frozen)


def test_lora_settings_defaults_and_errors():
    assert lora_settings(None) is None
    assert lora_settings({"r": 8}) == {"r": 8, "alpha": 16.0, "dropout": 0.0,
                                       "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
    with pytest.raises(ValueError, match="model.llm.lora.dropout: must be in"):
        lora_settings({"r": 8, "dropout": 1.5})


def test_lora_config_errors(demo_config):
    with pytest.raises(ConfigError, match="model.llm.lora: adapters are trained with the LLM"):
        validate_config(demo_config(LORA, "model.train_llm=false"))
    with pytest.raises(ValueError, match=r"model.llm.lora.target_modules: \['qkv'\] are not modules"):
        build_sphinx(demo_config("model.llm.lora={r:4,target_modules:[qkv]}").model, vocab_size=640)
    with pytest.raises(ConfigError, match="model.llm.quantization: 8bit loads through bitsandbytes and needs a GPU"):
        validate_config(demo_config(LORA, "model.llm.quantization=8bit"))


def test_train_resume_export_generate(demo_config, tmp_path, capsys):
    straight = train(demo_config(*RUN, output_dir=tmp_path / "straight"), str(tmp_path / "straight"))
    saved = _state(straight["checkpoint"])
    keys = set(saved)
    lora_keys = {k for k in keys if k.startswith("model.llm.")}
    assert lora_keys and all(".lora_A." in k or ".lora_B." in k for k in lora_keys)
    assert not any("base_layer" in k or "embed_tokens" in k or "lm_head" in k for k in keys)
    lora_b = [k for k in lora_keys if ".lora_B." in k]
    assert all(saved[k].abs().max() > 0 for k in lora_b)  # B starts at zero: the adapters did train

    # resume from the step-2 checkpoint: the same weights as the uninterrupted run
    step2 = tmp_path / "straight" / "checkpoints" / "step-00000002.ckpt"
    resumed = train(demo_config(*RUN, f"ckpt_path={step2}", output_dir=tmp_path / "resumed"), str(tmp_path / "resumed"))
    assert resumed["global_step"] == 4
    got = _state(resumed["checkpoint"])
    assert set(got) == keys
    for key, value in saved.items():
        torch.testing.assert_close(got[key], value, rtol=0, atol=1e-6, msg=key)

    # export merges the adapters: a plain LLM whose greedy answers equal the adapted model's
    engine = SphinxInference.from_run(tmp_path / "straight")
    assert has_lora(engine.model.llm)
    conversations = [Conversation([{"role": "user", "content": "What colour is the circle?"}]),
                     Conversation([{"role": "user", "content": "Count the shapes."}])]
    config = GenerationConfig(max_new_tokens=8)
    adapted = engine.generate_full(conversations, config)
    assert export_main([str(tmp_path / "straight"), str(tmp_path / "export")]) == 0
    assert "merged 8 LoRA adapters" in capsys.readouterr().out
    exported = SphinxInference.from_run(tmp_path / "export")
    assert exported.model_cfg["llm"]["lora"] is None and not has_lora(exported.model.llm)
    merged = exported.generate_full(conversations, config)
    assert [g.token_ids for g in merged] == [g.token_ids for g in adapted]
    # and the logits agree to float32 rounding
    batch = engine.collate([engine.processor.prompt({"id": "0", "messages": c.messages}, c.images)
                            for c in conversations])
    with torch.no_grad():
        a = engine.model(batch.input_ids, batch.attention_mask, batch.slot_kind, batch.pixels, return_logits=True)
        b = exported.model(batch.input_ids, batch.attention_mask, batch.slot_kind, batch.pixels, return_logits=True)
    torch.testing.assert_close(b.logits, a.logits, rtol=1e-4, atol=1e-4)


def test_merge_refuses_a_4bit_base():
    class Linear4bit(torch.nn.Linear):  # stands for bitsandbytes' class (matched by name; no GPU here)
        pass

    llm = torch.nn.Sequential(Linear4bit(2, 2))
    with pytest.raises(ValueError, match="cannot merge LoRA adapters into a 4-bit base"):
        merge_lora(llm)
