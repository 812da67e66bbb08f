"""End-to-end training on the small demo world: fit, resume, validation errors, DDP on CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sphinx_x.runtime.config import ConfigError, validate_config
from sphinx_x.train import train
from tests.testkit.paths import REPO


def _trainable(ckpt: Path) -> dict[str, torch.Tensor]:
    return torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]


def test_fit_writes_slim_checkpoint_and_logs(demo_config, tmp_path):
    cfg = demo_config("trainer.max_steps=3", "callbacks.checkpoint.every_n_train_steps=3")
    result = train(cfg, str(tmp_path / "run"))
    assert result["global_step"] == 3
    state = _trainable(Path(result["checkpoint"]))
    assert not [k for k in state if k.startswith("model.vision.experts.")]
    assert {"model.start_embed", "model.end_embed", "model.skip_embed", "model.vision.projector.0.weight"} <= set(state)
    metrics = (tmp_path / "run" / "csv" / "version_0" / "metrics.csv").read_text().splitlines()[0].split(",")
    for name in ("train/loss", "train/loss/demo_llava", "train/tokens_per_s", "train/visual_tokens_per_sample",
                 "train/skipped_tile_fraction", "train/samples/demo_llava", "train/tokens/demo_text"):
        assert name in metrics
    assert (tmp_path / "run" / "processor" / "tokenizer.json").exists()
    # export: a from_pretrained-style folder with the same trainable weights
    from safetensors.torch import load_file

    from sphinx_x.export import main as export_main

    assert export_main([str(tmp_path / "run"), str(tmp_path / "exported")]) == 0
    exported = load_file(str(tmp_path / "exported" / "model.safetensors"))
    assert exported.keys() == {k.removeprefix("model.") for k in state}
    assert all(torch.equal(exported[k.removeprefix("model.")], v) for k, v in state.items())


def test_resume_continues_at_saved_step_with_same_weights(demo_config, tmp_path):
    first = train(demo_config("trainer.max_steps=4", "callbacks.checkpoint.every_n_train_steps=2",
                              output_dir=tmp_path / "a"), str(tmp_path / "a"))
    step2 = tmp_path / "a" / "checkpoints" / "step-00000002.ckpt"
    assert step2.exists()
    saved = _trainable(step2)
    # resume from step 2 and stop at once: the weights must be exactly the saved ones
    resumed_dir = tmp_path / "b"
    cfg = demo_config(f"ckpt_path={step2}", "trainer.max_steps=2", output_dir=resumed_dir)
    from sphinx_x.data.datamodule import SphinxDataModule
    from sphinx_x.data.processor import SphinxProcessor
    from sphinx_x.data.tokenize import load_tokenizer
    from sphinx_x.model.module import SphinxModule
    from sphinx_x.runtime.trainer import build_trainer

    tokenizer = load_tokenizer(cfg.model.tokenizer)
    module = SphinxModule(cfg.model, cfg.optim, vocab_size=len(tokenizer))
    datamodule = SphinxDataModule(cfg.data, SphinxProcessor.from_config(tokenizer, cfg.model, cfg.data))
    trainer = build_trainer(cfg, str(resumed_dir))
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(step2))
    assert trainer.global_step == 2
    for key, value in saved.items():
        assert torch.equal(module.state_dict()[key.removeprefix("")], value), key
    assert datamodule.sampler.consumed == 2 * 4  # 2 steps x 4 samples: the mixture continues mid-epoch
    # continuing to step 4 reproduces the uninterrupted run
    cont = train(demo_config(f"ckpt_path={step2}", "trainer.max_steps=4", output_dir=tmp_path / "c"),
                 str(tmp_path / "c"))
    assert cont["global_step"] == first["global_step"] == 4
    a, c = _trainable(Path(first["checkpoint"])), _trainable(Path(cont["checkpoint"]))
    assert all(torch.allclose(a[k], c[k], atol=1e-6) for k in a)
    # the resumed run's checkpoint records the whole epoch's position, not only what came after resuming
    saved_state = torch.load(cont["checkpoint"], map_location="cpu", weights_only=False)["SphinxDataModule"]
    assert saved_state["sampler"]["consumed"] == 4 * 4


@pytest.mark.parametrize(("override", "message"), [
    ("data.weighting=random", "data.weighting: must be one of"),
    ("model/vision=mov", None),
    ("model.vision.experts=[siglip]", "model.vision.experts: must be one of"),
    ("global_batch_size=6", "global_batch_size: 6 is not a multiple"),
    ("optim.warmup_epochs=2", "optim.warmup_epochs"),
    ("model.tiling.anchor=middle", "model.tiling.anchor: must be one of"),
    ("strategy=fsdp", None),  # FSDP runs on CPU with gloo
    ("strategy=deepspeed_zero2", "strategy.name: deepspeed needs a GPU"),
    ("model.llm.lora={r:0}", "model.llm.lora.r: must be an integer >= 1"),
    ("model.llm.lora={rank:4}", "model.llm.lora: unknown fields ['rank']"),
    ("model.llm.quantization=4bit", "model.llm.quantization: 4bit loads through bitsandbytes and needs a GPU"),
])
def test_config_errors_name_the_field(demo_config, override, message):
    cfg = demo_config(override)
    if message is None:
        validate_config(cfg)
        return
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        validate_config(cfg)


def test_max_length_must_hold_a_square_image_and_a_turn(demo_config):
    cfg = demo_config("model=sphinx_plus_2k", "trainer=gpu", "global_batch_size=256")
    assert cfg.data.max_length == 4096  # the family's, not a global default
    validate_config(cfg)
    too_small = demo_config("model=sphinx_plus_2k", "trainer=gpu", "global_batch_size=256", "data.max_length=2048")
    with pytest.raises(ConfigError, match=r"data.max_length: 2048 cannot hold a square image \(2590 visual slots "
                                          r"at 3x3 tiles\) plus a minimal turn \(64 tokens\): use >= 2654"):
        validate_config(too_small)


def test_square_672_image_fits_sphinx_plus_2k(demo_config, demo_tokenizer, tmp_path):
    from PIL import Image

    from sphinx_x.data.processor import SphinxProcessor
    from sphinx_x.data.records import conversation, make_record
    from sphinx_x.data.slots import SKIP, TEXT

    cfg = demo_config("model=sphinx_plus_2k", "trainer=gpu", "global_batch_size=256")
    Image.new("RGB", (672, 672), "white").save(tmp_path / "square.png")
    processor = SphinxProcessor.from_config(demo_tokenizer, cfg.model, cfg.data)
    sample = processor(make_record("square", "test", "caption", conversation("<image>\nWhat is shown?", "A square."),
                                   images=[str(tmp_path / "square.png")]))
    kinds = sample.slot_kind.tolist()
    assert sum(k != TEXT for k in kinds) == 2590 and SKIP not in kinds  # (257 + 2) x (9 tiles + 1 global view)
    assert (sample.labels != -100).any()


@pytest.mark.parametrize("family", ["sphinx_tiny", "sphinx_intern2", "sphinx_plus", "sphinx_plus_2k", "sphinx_moe"])
@pytest.mark.parametrize("strategy", ["single_device", "ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"])
def test_families_and_strategies_compose_and_validate(demo_config, family, strategy):
    cfg = demo_config(f"model={family}", f"strategy={strategy}", "trainer=gpu", "global_batch_size=256")
    validate_config(cfg)
    from sphinx_x.runtime.trainer import build_strategy

    assert build_strategy(cfg.strategy) is not None
    assert cfg.optim.lr == (5e-6 if family == "sphinx_moe" else 2e-5)
    assert set(cfg.model.recipe) == {"lr", "global_batch_size", "launch"}  # read by optim, train, sphinx-x-plan


def test_two_process_ddp_on_cpu(tmp_path, demo_dir):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "sphinx_x.train", "experiment=demo", f"paths.demo_dir={demo_dir}", "demo_world=null",
           "strategy=ddp", "trainer.devices=2", "trainer.max_steps=2", "data.num_workers=0", "data.num_samples=64",
           "data.micro_batch_size=2", "global_batch_size=4", "trainer.enable_progress_bar=false",
           "trainer.val_check_interval=null",
           f"hydra.run.dir={out}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "world_size: 2" in (done.stdout + done.stderr) or "distributed_backend=gloo" in (done.stdout + done.stderr)
    assert (out / "checkpoints" / "last.ckpt").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_mixed_training_on_gpu(demo_config, tmp_path):
    result = train(demo_config("trainer=gpu", "trainer.max_steps=2"), str(tmp_path / "run"))
    assert result["global_step"] == 2 and result["metrics"]["train/loss"] == result["metrics"]["train/loss"]


def test_each_epoch_draws_a_new_mixture_order(demo_config, tmp_path):
    from sphinx_x.data.datamodule import SphinxDataModule
    from sphinx_x.data.processor import SphinxProcessor
    from sphinx_x.data.tokenize import load_tokenizer
    from sphinx_x.model.module import SphinxModule
    from sphinx_x.runtime.trainer import build_trainer

    cfg = demo_config("data.num_samples=8", "trainer.max_epochs=-1", "trainer.max_steps=5")
    tokenizer = load_tokenizer(cfg.model.tokenizer)
    datamodule = SphinxDataModule(cfg.data, SphinxProcessor.from_config(tokenizer, cfg.model, cfg.data))
    trainer = build_trainer(cfg, str(tmp_path / "run"))
    trainer.fit(SphinxModule(cfg.model, cfg.optim, vocab_size=len(tokenizer)), datamodule=datamodule)
    assert trainer.global_step == 5 and datamodule.sampler.epoch == 2  # 2 batches per epoch
    orders = [datamodule.sampler.global_sequence(epoch)[1].tolist() for epoch in range(3)]
    assert orders[0] != orders[1] != orders[2]


def test_default_epoch_is_one_pass_and_warmup_is_measured_in_it(demo_config, tmp_path):
    from sphinx_x.data.datamodule import SphinxDataModule
    from sphinx_x.data.processor import SphinxProcessor
    from sphinx_x.data.tokenize import load_tokenizer
    from sphinx_x.model.module import SphinxModule
    from sphinx_x.runtime.trainer import build_trainer

    cfg = demo_config("data.num_samples=null", "optim.warmup_epochs=0.5", "trainer.max_steps=1")
    tokenizer = load_tokenizer(cfg.model.tokenizer)
    datamodule = SphinxDataModule(cfg.data, SphinxProcessor.from_config(tokenizer, cfg.model, cfg.data))
    trainer = build_trainer(cfg, str(tmp_path / "run"))
    trainer.fit(SphinxModule(cfg.model, cfg.optim, vocab_size=len(tokenizer), global_batch_size=4),
                datamodule=datamodule)
    records = sum(datamodule.train_set.counts)  # the demo sources give no `size`: their record counts
    assert datamodule.samples_per_epoch == records == len(datamodule.sampler)
    warmup = round(0.5 * records / 4)
    schedule = trainer.lr_scheduler_configs[0].scheduler.lr_lambdas[0]
    assert [schedule(step) for step in (0, warmup - 1)] == [1 / warmup, 1.0]


def test_slurm_launcher_composes_from_trainer_fields(tmp_path):
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from sphinx_x.runtime.config import CONF_PACKAGE

    GlobalHydra.instance().clear()
    with initialize_config_module(CONF_PACKAGE, version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm", "model=sphinx_tiny", "trainer=gpu",
                                          "trainer.devices=8", "trainer.num_nodes=2"], return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 8, 8)
    # preemption: SLURM signals 120 s before the kill, submitit requeues up to 3 times (ckpt_path auto resumes)
    assert (launcher.signal_delay_s, launcher.max_num_timeout) == (120, 3)
