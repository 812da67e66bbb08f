"""Safe loading everywhere (issue 10, item 1): a checkpoint carrying a pickle payload and an exported folder
whose ``sphinx_config.json`` names a hostile ``_target_`` go through every entry point (sphinx-x-chat,
sphinx-x-serve, python -m sphinx_x.evaluate, sphinx-x-export); nothing runs and the error says why."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import uvicorn
from omegaconf import OmegaConf

from sphinx_x.inference import Conversation, GenerationConfig, SphinxInference
from sphinx_x.safe_loading import UnsafeLoadError, load_checkpoint
from tests.testkit.configs import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")


class Payload:
    """Unpickled with ``weights_only=False``, this calls ``open(marker, "w")``: the marker file appears."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def write_run(engine: SphinxInference, folder: Path, extra: dict | None = None) -> Path:
    """A run folder as training leaves it (processor/, checkpoints/last.ckpt with Lightning's keys)."""
    engine.processor.save_pretrained(folder / "processor")
    (folder / "checkpoints").mkdir(parents=True)
    state = {f"model.{k}": v for k, v in engine.model.trainable_state_dict().items()}
    torch.save({"epoch": 0, "global_step": 2, "pytorch-lightning_version": "2.6.6", "state_dict": state,
                "hyper_parameters": {"model": engine.model_cfg, "optim": {"lr": 1e-4}, "vocab_size": None},
                "loops": {}, "callbacks": {}, "optimizer_states": [], "lr_schedulers": [],
                "SphinxDataModule": {"sampler": {"epoch": 0, "consumed": 8}, "rejected": {}, "rejects": {}},
                **(extra or {})}, folder / "checkpoints" / "last.ckpt")
    return folder


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "payload-ran"


@pytest.fixture
def payload_run(engine, tmp_path, marker) -> Path:
    return write_run(engine, tmp_path / "payload_run", {"loops": {"fit_loop": Payload(marker)}})


@pytest.fixture
def hostile_export(engine, tmp_path, marker) -> Path:
    """An export whose ConvNeXt config holds a nested ``_target_`` (Hydra would call it first)."""
    folder = engine.export(tmp_path / "hostile_export")
    config = json.loads((folder / "sphinx_config.json").read_text())
    config["model"]["encoders"]["convnext"]["timm_kwargs"] = {"_target_": "builtins.open", "file": str(marker),
                                                              "mode": "w"}
    (folder / "sphinx_config.json").write_text(json.dumps(config))
    return folder


def test_the_payloads_are_live(payload_run, hostile_export, marker):
    """Loaded the old ways (weights_only=False, hydra.utils.instantiate), both run their code."""
    import hydra

    torch.load(payload_run / "checkpoints" / "last.ckpt", weights_only=False)
    assert marker.exists()
    marker.unlink()
    convnext = json.loads((hostile_export / "sphinx_config.json").read_text())["model"]["encoders"]["convnext"]
    with pytest.raises(Exception):  # noqa: B017  the encoder then fails on a file object, after open ran
        hydra.utils.instantiate(OmegaConf.create(convnext), _convert_="all")
    assert marker.exists()
    marker.unlink()


def test_a_clean_checkpoint_loads_with_weights_only(engine, tmp_path):
    loaded = SphinxInference.from_run(write_run(engine, tmp_path / "run"))
    question = [Conversation([{"role": "user", "content": "Hello"}])]
    config = GenerationConfig(max_new_tokens=4)
    assert loaded.generate(question, config) == engine.generate(question, config)


# ---------------------------------------------------------------------- every entry point
def run_chat(path: Path, capsys) -> str:
    from sphinx_x.chat import main

    assert main([str(path), "--device", "cpu"]) == 2
    return capsys.readouterr().err


def run_serve(path: Path, capsys) -> str:
    from sphinx_x.serve import main

    assert main([str(path), "--device", "cpu"]) == 2
    return capsys.readouterr().err


def run_export(path: Path, capsys) -> str:
    from sphinx_x.export import main

    assert main([str(path), str(path.parent / "exported_again")]) == 2
    assert not (path.parent / "exported_again").exists()
    return capsys.readouterr().err


def run_evaluate(path: Path, capsys) -> str:
    from sphinx_x.evaluate import evaluate

    out = path.parent / "eval_out"
    cfg = compose_config([f"ckpt_path={path}", "benchmarks=[demo_vqa]", "device=cpu"], out, config_name="evaluate")
    with pytest.raises(UnsafeLoadError) as error:
        evaluate(cfg, str(out))
    return str(error.value)


ENTRY_POINTS: dict[str, Callable[[Path, object], str]] = {
    "chat": run_chat, "serve": run_serve, "export": run_export, "evaluate": run_evaluate}


@pytest.fixture
def no_server(monkeypatch):
    """sphinx-x-serve must refuse before it serves; and main() sets PIL's limit for the process."""
    from PIL import Image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("served a refused model"))


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_a_payload_checkpoint_is_refused_everywhere(entry, payload_run, marker, capsys, no_server):
    message = ENTRY_POINTS[entry](payload_run, capsys)
    assert not marker.exists()
    assert "refused to load" in message and ("io.open" in message or "builtins.open" in message)
    assert "last.ckpt" in message and "could run code" in message


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_a_hostile_target_in_an_export_is_refused_everywhere(entry, hostile_export, marker, capsys, no_server):
    message = ENTRY_POINTS[entry](hostile_export, capsys)
    assert not marker.exists()
    assert "model.encoders.convnext.timm_kwargs._target_" in message and "not allowed" in message


def test_a_target_outside_the_allow_list_is_refused(engine, tmp_path, marker):
    folder = engine.export(tmp_path / "export")
    config = json.loads((folder / "sphinx_config.json").read_text())
    config["model"]["encoders"]["dinov2"] = {"_target_": "builtins.open", "file": str(marker), "mode": "w"}
    (folder / "sphinx_config.json").write_text(json.dumps(config))
    with pytest.raises(UnsafeLoadError, match=r"model.encoders.dinov2._target_: 'builtins.open' is not an encoder"):
        SphinxInference.from_run(folder)
    assert not marker.exists()


# ---------------------------------------------------------------------- remote code, broken files
def test_a_saved_trust_remote_code_needs_consent(engine, tmp_path, monkeypatch):
    folder = engine.export(tmp_path / "export")
    config = json.loads((folder / "sphinx_config.json").read_text())
    config["model"]["llm"]["trust_remote_code"] = True
    (folder / "sphinx_config.json").write_text(json.dumps(config))
    monkeypatch.delenv("SPHINX_X_TRUST_REMOTE_CODE", raising=False)
    with pytest.raises(UnsafeLoadError, match="llm.trust_remote_code.*--trust-remote-code"):
        SphinxInference.from_run(folder)
    assert SphinxInference.from_run(folder, trust_remote_code=True).model_cfg["llm"]["trust_remote_code"]
    monkeypatch.setenv("SPHINX_X_TRUST_REMOTE_CODE", "1")
    SphinxInference.from_run(folder)
    own = dict(engine.model_cfg, llm={**engine.model_cfg["llm"], "trust_remote_code": True})
    SphinxInference.from_run(folder, model_config=own, trust_remote_code=False)  # the caller's own config decides


@pytest.mark.parametrize(("content", "fragment"), [
    (b"not a checkpoint at all", "not a readable checkpoint"),
    (b"", "not a readable checkpoint"),
])
def test_broken_checkpoints_get_a_clear_error(tmp_path, content, fragment):
    path = tmp_path / "broken.ckpt"
    path.write_bytes(content)
    with pytest.raises(UnsafeLoadError, match=fragment):
        load_checkpoint(path)


def test_a_checkpoint_of_something_else_is_named(tmp_path):
    path = tmp_path / "other.ckpt"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(UnsafeLoadError, match="not a sphinx_x training checkpoint"):
        load_checkpoint(path)
