"""Mixture-of-experts LLMs: config overrides on saved checkpoints, the authors' router loss weight,
expert pruning, and evaluation with 1..8 active experts (SPHINX-X Figure 5) on a tiny saved Mixtral."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import MixtralConfig, MixtralForCausalLM

from sphinx_x.evaluate import evaluate
from sphinx_x.inference import SphinxInference
from sphinx_x.model.build import build_sphinx
from sphinx_x.model.llm import build_llm
from sphinx_x.runtime.config import ConfigError
from tests.testkit.configs import compose_config
from tests.testkit.inference import random_engine

TINY = {"vocab_size": 128, "hidden_size": 32, "intermediate_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "num_local_experts": 8, "num_experts_per_tok": 2,
        "router_aux_loss_coef": 0.02}  # 0.02: what Mixtral's own config says
TINY_OVERRIDES = ("model/llm=mixtral_8x7b", "model.llm.name_or_path=null", "model.llm.dtype=float32",
                  "model.llm.gradient_checkpointing=false", "model.llm.attn_implementation=eager",
                  *(f"model.llm.config.{k}={v}" for k, v in TINY.items() if k not in ("vocab_size", "router_aux_loss_coef")),
                  "model.llm.config.vocab_size=640")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def saved_mixtral(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("mixtral")
    MixtralForCausalLM(MixtralConfig(**TINY)).save_pretrained(path)
    return path


def _routers(llm):
    return [layer.mlp.gate for layer in llm.model.layers]


IDS = torch.arange(40, 52).view(1, 12)


def _logits(llm, ids=IDS):
    with torch.no_grad():
        return llm(input_ids=ids).logits


def test_overrides_reach_a_saved_checkpoint(saved_mixtral):
    llm = build_llm(str(saved_mixtral), overrides={"num_experts_per_tok": 1, "router_aux_loss_coef": 0.01})
    assert (llm.config.num_experts_per_tok, llm.config.router_aux_loss_coef) == (1, 0.01)
    assert [router.top_k for router in _routers(llm)] == [1, 1]  # the layers were built with it, not only the config
    with pytest.raises(ValueError, match=r"model.llm.overrides: \['num_expert'\] are not fields of MixtralConfig"):
        build_llm(str(saved_mixtral), overrides={"num_expert": 4})
    with pytest.raises(ValueError, match=r"does not fit its config .*: weights of another shape"):
        build_llm(str(saved_mixtral), overrides={"num_local_experts": 4})  # never silently re-initialised
    with pytest.raises(ValueError, match=r"num_experts_per_tok: must be in \[1, 8\], got 9"):
        build_llm(str(saved_mixtral), overrides={"num_experts_per_tok": 9})


def test_router_loss_weight_is_the_authors_unless_overridden(saved_mixtral, tmp_path):
    from tests.model.test_sphinx import _demo_batch

    cfg = compose_config(["experiment=demo", "model/llm=mixtral_8x7b", f"model.llm.name_or_path={saved_mixtral}",
                          "model.llm.dtype=float32", "model.llm.attn_implementation=eager"], tmp_path).model
    model = build_sphinx(cfg, vocab_size=640)
    assert model.llm.config.router_aux_loss_coef == 0.01  # the checkpoint says 0.02
    out = model(*_demo_batch(model))
    assert out.aux_loss > 0 and torch.allclose(out.loss, out.lm_loss + 0.01 * out.aux_loss)


def test_pruning_keeps_exactly_the_chosen_experts(saved_mixtral):
    full = build_llm(str(saved_mixtral))
    pruned = build_llm(str(saved_mixtral), keep_experts=[1, 3, 6])
    assert pruned.config.num_local_experts == 3 and pruned.config.num_experts_per_tok == 2
    for a, b in zip(_routers(full), _routers(pruned), strict=True):
        assert b.weight.shape == (3, 32) and torch.equal(b.weight, a.weight[[1, 3, 6]])
    for a, b in zip(full.model.layers, pruned.model.layers, strict=True):
        assert torch.equal(b.mlp.experts.gate_up_proj, a.mlp.experts.gate_up_proj[[1, 3, 6]])
        assert torch.equal(b.mlp.experts.down_proj, a.mlp.experts.down_proj[[1, 3, 6]])
    assert torch.isfinite(_logits(pruned)).all() and not torch.allclose(_logits(pruned), _logits(full))
    assert torch.allclose(_logits(build_llm(str(saved_mixtral), keep_experts=8)), _logits(full))  # keeping all: same
    one = build_llm(str(saved_mixtral), keep_experts=1)
    assert (one.config.num_local_experts, one.config.num_experts_per_tok) == (1, 1)
    with pytest.raises(ValueError, match=r"model.llm.keep_experts: needs 1..8 experts within \[0, 7\], got \[2, 8\]"):
        build_llm(str(saved_mixtral), keep_experts=[2, 8])


@pytest.fixture(scope="module")
def exported_moe(demo_dir, demo_tokenizer, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("moe")
    return random_engine(demo_dir, demo_tokenizer, tmp, overrides=TINY_OVERRIDES).export(tmp / "export")


def test_active_experts_at_inference_one_to_eight(exported_moe, demo_dir):
    logits = {}
    for k in range(1, 9):
        engine = SphinxInference.from_run(exported_moe, active_experts=k)
        assert [router.top_k for router in _routers(engine.model.llm)] == [k, k]
        assert engine.model_cfg["llm"]["overrides"]["num_experts_per_tok"] == k
        logits[k] = _logits(engine.model.llm)
    assert torch.allclose(logits[2], _logits(SphinxInference.from_run(exported_moe).model.llm))  # as trained
    assert all(not torch.allclose(logits[k], logits[k + 1]) for k in range(1, 8))
    with pytest.raises(ConfigError, match=r"active_experts: active experts must be in \[1, 8\], got 9"):
        SphinxInference.from_run(exported_moe, active_experts=9)


def test_evaluate_sweeps_active_experts_and_prunes(exported_moe, demo_dir, tmp_path):
    accuracy = {}
    for k in (1, 8):
        out = tmp_path / f"k{k}"
        cfg = compose_config([f"ckpt_path={exported_moe}", f"paths.demo_dir={demo_dir}", "benchmarks=[demo_vqa]",
                              "limit=4", "generation.max_new_tokens=3", f"active_experts={k}"], out,
                             config_name="evaluate")
        accuracy[k] = evaluate(cfg, str(out))["demo_vqa"]["accuracy"]
        assert json.loads((out / "scores" / "demo_vqa.json").read_text())["scores"]["n_samples"] == 4
    assert all(0 <= a <= 1 for a in accuracy.values())
    out = tmp_path / "pruned"
    cfg = compose_config([f"ckpt_path={exported_moe}", f"paths.demo_dir={demo_dir}", "benchmarks=[demo_vqa]",
                          "limit=2", "generation.max_new_tokens=2", "keep_experts=[0,5]"], out, config_name="evaluate")
    assert "accuracy" in evaluate(cfg, str(out))["demo_vqa"]
