"""``sphinx-x-chat``: the terminal chat session, its commands, and the command line on a trained run."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sphinx_x.chat import ChatSession, run_chat
from sphinx_x.inference import GenerationConfig
from sphinx_x.train import train
from tests.testkit.configs import compose_config
from tests.testkit.paths import REPO

pytestmark = pytest.mark.usefixtures("one_thread")


def test_chat_session_keeps_history_and_images(engine, image_paths):
    session = ChatSession(engine, GenerationConfig(max_new_tokens=3))
    session.add_image(image_paths[0])
    out = io.StringIO()
    session.ask("What colour?", out)
    session.ask("And the shape?", out)
    assert [m["role"] for m in session.messages] == ["user", "assistant", "user", "assistant"]
    assert session.messages[0]["content"] == "<image>\nWhat colour?"
    assert session.messages[2]["content"] == "And the shape?"
    session.add_image(image_paths[1])
    session.ask("Compare.", out)
    assert session.messages[4]["content"] == "<image>\nCompare." and len(session.shown) == 2
    assert out.getvalue().count("sphinx> ") == 3
    session.reset()
    assert session.messages == [] and len(session.pending) == 2
    session.ask("Both?", out)
    assert session.messages[0]["content"] == "<image>\n<image>\nBoth?"


def test_chat_commands(engine, image_paths):
    session = ChatSession(engine, GenerationConfig(max_new_tokens=2))
    lines = io.StringIO(f"/image {image_paths[0]}\n/image /no/such.png\n/bogus\nHi\n\n/reset\nHello\n/quit\nNever\n")
    out, err = io.StringIO(), io.StringIO()
    assert run_chat(session, lines, out, err) == 0
    assert out.getvalue().count("sphinx> ") == 2 and "(image 1 attached" in out.getvalue()
    assert "cannot open image" in err.getvalue() and "unknown command /bogus" in err.getvalue()
    assert session.messages[0]["content"] == "<image>\nHello"  # after /reset the image goes with the next question


@pytest.fixture(scope="module")
def trained_run(demo_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}", "demo_world=null", "data.num_workers=0",
                          "data.num_samples=64", "data.micro_batch_size=4", "global_batch_size=4",
                          "trainer.enable_progress_bar=false", "trainer.max_steps=2"], out)
    train(cfg, str(out))
    return out


def test_chat_command_line_with_piped_stdin(trained_run, image_paths):
    cmd = [sys.executable, "-m", "sphinx_x.chat", str(trained_run), "--image", str(image_paths[0]),
           "--max-new-tokens", "3"]
    stdin = f"What colour is the circle?\n/image {image_paths[1]}\nAnd here?\n/reset\nHello\n/quit\n"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=REPO, input=stdin, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("sphinx> ") == 3
    assert "(image 2 attached" in done.stdout and "(new conversation; 2 image(s) attached)" in done.stdout


def test_chat_command_line_refuses_a_missing_image(trained_run, capsys):
    from sphinx_x.chat import main

    assert main([str(trained_run), "--image", "/no/such.png"]) == 2
    assert "cannot open image '/no/such.png'" in capsys.readouterr().err
