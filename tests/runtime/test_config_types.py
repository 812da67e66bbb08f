"""Typed config: a value of the wrong type stops the run at start-up with the field's name; a source
named anywhere that the mixture does not have is a config error."""

from __future__ import annotations

import pytest

from sphinx_x.runtime.config import ConfigError, validate_config


@pytest.mark.parametrize(("overrides", "message"), [
    (["trainer.max_steps=abc"], "trainer.max_steps: must be an integer, got 'abc'"),
    (["optim.lr=fast"], "optim.lr: must be a finite number, got 'fast'"),
    (["optim.lr=nan"], "optim.lr: must be a finite number, got nan"),
    (["optim.betas=[0.9]"], r"optim.betas: must be a list of 2 numbers, got \[0.9\]"),
    (["data.micro_batch_size=4.5"], "data.micro_batch_size: must be an integer, got 4.5"),
    (["data.strict=maybe"], "data.strict: must be true or false, got 'maybe'"),
    (["trainer.devices=auto"], "trainer.devices: must be an integer, got 'auto'"),
    (["data.max_image_pixels=big"], "data.max_image_pixels: must be an integer or null, got 'big'"),
    (["callbacks.checkpoint.every_n_train_steps=often"],
     "callbacks.checkpoint.every_n_train_steps: must be an integer or null"),
    (["seed=one"], "seed: must be an integer, got 'one'"),
    (["num_threads=two"], "num_threads: must be an integer or null, got 'two'"),
    (["num_threads=0"], "num_threads: must be >= 1, or null"),
])
def test_wrong_types_name_the_field(demo_config, overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(demo_config(*overrides))


def test_every_wrong_field_is_named_at_once(demo_config):
    with pytest.raises(ConfigError) as info:
        validate_config(demo_config("trainer.max_steps=abc", "optim.lr=fast", "data.num_workers=two"))
    assert all(field in str(info.value) for field in ("trainer.max_steps", "optim.lr", "data.num_workers"))


def test_right_types_pass(demo_config):
    validate_config(demo_config("optim.lr=1e-3", "trainer.max_steps=5", "data.max_image_pixels=null",
                                "trainer.val_check_interval=0.5", "trainer.precision=32"))


@pytest.mark.parametrize(("override", "message"), [
    ("data.val_sources=[demo_lava_heldout]", r"data.val_sources: unknown source \['demo_lava_heldout'\]; "
                                             r"the mixture's sources are \['demo_llava', 'demo_text', 'demo_llava_heldout'\]"),
    ("data.val_sources=demo_llava_heldout", "data.val_sources: must be a list of source names"),
    ("data.val_sources=[demo_llava,demo_text,demo_llava_heldout]", "at least one must be left for training"),
])
def test_unknown_or_misused_source_names_are_config_errors(demo_config, override, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(demo_config(override))
