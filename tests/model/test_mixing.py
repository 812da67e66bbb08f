"""``sphinx-x-mix``: SPHINX's weight mixing of two exports fine-tuned from one base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sphinx_x.inference import Conversation, GenerationConfig, SphinxInference
from sphinx_x.mix import main
from sphinx_x.model.mixing import mix_exports
from tests.testkit.inference import random_engine

pytestmark = pytest.mark.usefixtures("one_thread")


def _finetuned(engine: SphinxInference, base: Path, out: Path, seed: int, **model_changes) -> Path:
    """An export 'trained' from ``base``: the engine's weights moved by seeded noise."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in engine.model.parameters():
            if param.requires_grad:
                param.add_(torch.randn(param.shape, generator=generator) * 0.01)
    cfg = {**engine.model_cfg, "init_from": str(base), **model_changes}
    return SphinxInference(engine.model, engine.processor, cfg).export(out)


@pytest.fixture(scope="module")
def exports(demo_dir, demo_tokenizer, tmp_path_factory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("mix")
    engine = random_engine(demo_dir, demo_tokenizer, root / "cfg")
    base = engine.export(root / "base")
    a = _finetuned(engine, base, root / "a", seed=1)
    b = _finetuned(random_engine(demo_dir, demo_tokenizer, root / "cfg2"), base, root / "b", seed=2)
    return base, a, b


def test_llm_weights_are_interpolated_and_the_rest_is_a(exports, tmp_path):
    _, a, b = exports
    report = mix_exports(a, b, 0.25, tmp_path / "mixed")
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    mixed = load_file(str(tmp_path / "mixed" / "model.safetensors"))
    llm = [k for k in wa if k.startswith("llm.")]
    assert report.mixed == len(llm) > 0
    for key in llm:
        assert torch.allclose(mixed[key], 0.25 * wa[key] + 0.75 * wb[key], atol=1e-7), key
    for key in set(wa) - set(llm):
        assert torch.equal(mixed[key], wa[key]), key
    assert "vision.projector.0.weight" in report.kept_from_a and "start_embed" in report.kept_from_a
    provenance = json.loads((tmp_path / "mixed" / "sphinx_config.json").read_text())["mixed_from"]
    assert provenance["beta"] == 0.25 and provenance["scope"] == "llm" and provenance["base"].endswith("base")


def test_scope_all_and_the_ends_of_beta(exports, tmp_path):
    _, a, b = exports
    wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
    mix_exports(a, b, 0.5, tmp_path / "half", scope="all")
    half = load_file(str(tmp_path / "half" / "model.safetensors"))
    assert torch.allclose(half["vision.projector.0.weight"], (wa["vision.projector.0.weight"] +
                                                              wb["vision.projector.0.weight"]) / 2)
    mix_exports(a, b, 0.0, tmp_path / "zero")
    zero = load_file(str(tmp_path / "zero" / "model.safetensors"))
    assert torch.equal(zero["llm.lm_head.weight"], wb["llm.lm_head.weight"])


def test_the_mixed_export_loads_and_generates(exports, tmp_path, image_paths):
    from PIL import Image

    _, a, b = exports
    mix_exports(a, b, 0.5, tmp_path / "mixed")
    engine = SphinxInference.from_run(tmp_path / "mixed")
    (answer,) = engine.generate_full([Conversation([{"role": "user", "content": "<image>\nWhat colour?"}],
                                                   [Image.open(image_paths[0])])], GenerationConfig(max_new_tokens=3))
    assert 1 <= len(answer.token_ids) <= 3


def test_what_cannot_be_mixed_is_named(exports, demo_dir, demo_tokenizer, tmp_path):
    base, a, _ = exports
    engine = random_engine(demo_dir, demo_tokenizer, tmp_path / "cfg")
    other_base = _finetuned(engine, tmp_path / "other_base", tmp_path / "c", seed=3)
    with pytest.raises(ValueError, match=r"starts from model.init_from=.*base but .* from model.init_from=.*other_base"):
        mix_exports(a, other_base, 0.5, tmp_path / "out")
    with pytest.raises(ValueError, match="cannot tell that .* were trained from the same base"):
        mix_exports(base, a, 0.5, tmp_path / "out")  # the base itself has no recorded base
    wider = _finetuned(engine, base, tmp_path / "d", seed=4,
                       tiling={**engine.model_cfg["tiling"], "anchor": "center"})
    with pytest.raises(ValueError, match="model.tiling differs between"):
        mix_exports(a, wider, 0.5, tmp_path / "out")
    with pytest.raises(ValueError, match=r"--beta must be in \[0, 1\], got 1.5"):
        mix_exports(a, a, 1.5, tmp_path / "out")


def test_mix_command_line(exports, tmp_path, capsys):
    base, a, b = exports
    assert main([str(a), str(b), str(tmp_path / "m"), "--beta", "0.7"]) == 0
    out = capsys.readouterr().out
    assert "with beta=0.7" in out and "A's kept" in out
    assert main([str(a), str(tmp_path / "nothing"), str(tmp_path / "m2")]) == 2
    assert "B: " in capsys.readouterr().err
