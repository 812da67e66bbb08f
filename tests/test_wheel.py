"""A built wheel carries the Hydra configs: installed in a fresh virtualenv, it composes ``experiment=demo``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.testkit.paths import REPO

SNIPPET = """
import json, sys
from hydra import compose, initialize_config_module
import sphinx_x

with initialize_config_module("sphinx_x.conf", version_base="1.3"):
    demo = compose("train", ["experiment=demo"])
    mine = compose("train", ["hydra.searchpath=[file://" + sys.argv[1] + "]", "experiment=mine"])
print(json.dumps({"file": sphinx_x.__file__, "task": demo.task_name, "layers": demo.model.llm.config.num_hidden_layers,
                  "demo_dir": demo.paths.demo_dir, "mine_seed": mine.seed}))
"""


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_wheel_installs_configs_and_composes_demo(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")
    source = tmp_path / "source"  # a copy, so the build leaves no build/ or egg-info in the checkout
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
          str(source), "-w", str(tmp_path / "dist")], cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("sphinx_x-*.whl"))

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path)
                .strip())
    # The test environment's packages (torch, hydra, ...) stay visible, after the venv's own; a plain path line
    # does not run that folder's .pth files, so the editable install's src/ is not put on sys.path.
    (site / "test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
          str(wheel)], cwd=tmp_path)
    assert (venv / "bin" / "sphinx-x-train").exists()

    user_conf = tmp_path / "my_configs"
    (user_conf / "experiment").mkdir(parents=True)
    (user_conf / "experiment" / "mine.yaml").write_text("# @package _global_\nseed: 7\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PROJECT_ROOT")}
    out = json.loads(_run([str(python), "-c", SNIPPET, str(user_conf)], cwd=tmp_path, env=env).splitlines()[-1])

    assert Path(out["file"]).resolve().is_relative_to(site.resolve())
    assert out["task"] == "demo" and out["layers"] == 4
    assert out["demo_dir"] == "./runs/demo_world"  # relative: runs/ under the working directory
    assert out["mine_seed"] == 7  # a user's own config folder through hydra.searchpath
    shown = _run([str(venv / "bin" / "sphinx-x-train"), "experiment=demo", "--cfg", "job"], cwd=tmp_path, env=env)
    assert "task_name: demo" in shown
