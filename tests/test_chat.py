"""``sphinx-x-chat``: the terminal chat session, its commands, and the command line on a trained run."""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image

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
    assert "cannot use image" in err.getvalue() and "unknown command /bogus" in err.getvalue()
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


def test_chat_command_line_refuses_a_missing_image(trained_run, capsys, monkeypatch):
    from sphinx_x.chat import main

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # main sets it for the process

    assert main([str(trained_run), "--image", "/no/such.png"]) == 2
    assert "cannot use image '/no/such.png'" in capsys.readouterr().err


# ---------------------------------------------------------------------- bad input keeps the conversation (issue 10)
def bomb_png(path: Path, width: int = 12000, height: int = 12000) -> Path:
    """A few hundred bytes whose PNG header claims ``width`` x ``height`` pixels."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


class Interrupting(io.BytesIO):
    """stdin whose ``readline`` raises KeyboardInterrupt (Ctrl-C at the prompt) at the given calls."""

    def __init__(self, data: bytes, at: set[int]):
        super().__init__(data)
        self.at, self.calls = at, 0

    def readline(self, *args) -> bytes:
        self.calls += 1
        if self.calls in self.at:
            raise KeyboardInterrupt
        return super().readline(*args)


def test_bad_input_and_ctrl_c_at_the_prompt_keep_the_conversation(engine, image_paths, tmp_path):
    session = ChatSession(engine, GenerationConfig(max_new_tokens=2))
    (tmp_path / "text.png").write_text("not an image")
    stdin = Interrupting(b"Hello\n" + f"/image {bomb_png(tmp_path / 'bomb.png')}\n".encode()
                         + f"/image {tmp_path / 'text.png'}\n".encode() + b"caf\xe9 \xff\xfe?\n"
                         + f"/image '{image_paths[0]}'\n".encode() + b"/image\nAnd now?\n", at={3, 5})
    out, err = io.StringIO(), io.StringIO()
    assert run_chat(session, stdin, out, err) == 0
    errors = err.getvalue()
    assert "image too large" in errors and "not a readable image" in errors
    assert "not UTF-8 text" in errors and errors.count("(Ctrl-C: the conversation is kept") == 2
    assert "/image needs a path" in errors and "Traceback" not in errors
    assert [m["role"] for m in session.messages] == ["user", "assistant", "user", "assistant"]
    assert session.messages[2]["content"] == "<image>\nAnd now?" and len(session.images) == 1


def test_ctrl_c_during_an_answer_stops_it_and_keeps_the_conversation(engine):
    session = ChatSession(engine, GenerationConfig(max_new_tokens=2))
    session.ask("Hi", io.StringIO())
    before = list(session.messages)
    session.config = GenerationConfig(max_new_tokens=2000)

    class Interrupted(io.StringIO):
        def write(self, text: str) -> int:
            if text not in ("sphinx> ", "\n"):
                raise KeyboardInterrupt
            return super().write(text)

    err = io.StringIO()
    assert run_chat(session, io.StringIO("Tell me a long story about shapes\n"), Interrupted(), err) == 0
    assert "answer interrupted" in err.getvalue() and session.messages == before
    assert not engine.lock.locked()  # the generation stopped; the next answer does not wait for it
    session.config = GenerationConfig(max_new_tokens=2)
    session.ask("Again?", io.StringIO())
    assert len(session.messages) == 4


def test_a_failed_answer_keeps_the_session(engine, monkeypatch):
    session = ChatSession(engine, GenerationConfig(max_new_tokens=2))

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(session.engine, "stream", broken)
    err = io.StringIO()
    assert run_chat(session, io.StringIO("Hi\n/quit\n"), io.StringIO(), err) == 0
    assert "the answer failed (RuntimeError)" in err.getvalue() and session.messages == []


def test_chat_process_survives_a_bomb_bad_bytes_and_ctrl_c(engine, tmp_path):
    """The real process: the issue's three ways to lose the conversation, then it answers again."""
    exported = engine.export(tmp_path / "model")
    cmd = [sys.executable, "-m", "sphinx_x.chat", str(exported), "--max-new-tokens", "3", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    chat = subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.extend(chat.stderr), daemon=True)
    reader.start()
    try:
        bomb = bomb_png(tmp_path / "bomb.png", 20000, 20000)  # past twice PIL's default limit: it raised
        chat.stdin.write(f"/image {bomb}\n".encode() + b"\xff\xfe\xfd\nFirst?\n")
        chat.stdin.flush()
        assert chat.stdout.readline().startswith(b"sphinx> ")  # answered after the bomb and the bad bytes
        time.sleep(0.5)  # back at the prompt, waiting for a line
        chat.send_signal(signal.SIGINT)
        deadline = time.time() + 30
        while not any(b"Ctrl-C" in line for line in errors):
            assert time.time() < deadline and chat.poll() is None, b"".join(errors)[-2000:]
            time.sleep(0.1)
        out, _ = chat.communicate(b"Second?\n/quit\n", timeout=120)
    finally:
        chat.kill()
    reader.join(timeout=10)
    text = b"".join(errors).decode()
    assert chat.returncode == 0, text[-3000:]
    assert out.count(b"sphinx> ") == 1 and "Traceback" not in text
    assert "image too large" in text and "not UTF-8" in text and "the conversation is kept" in text


def test_ctrl_c_received_by_another_thread_still_reaches_the_prompt():
    """SIGINT may land on any thread (the tokenizer's, the answer stream's): the prompt's read wakes up
    and raises KeyboardInterrupt in the main thread instead of waiting for the next line."""
    from sphinx_x.chat import WakefulLines

    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"first\nsecond")
    lines = WakefulLines(read_fd)
    assert lines.readline() == b"first\n"

    def interrupt_from_this_thread() -> None:
        time.sleep(0.3)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        time.sleep(5)
        os.close(write_fd)  # a blocking read would wake only here

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as sphinx-x-chat sets it
    try:
        threading.Thread(target=interrupt_from_this_thread, daemon=True).start()
        started = time.time()
        with pytest.raises(KeyboardInterrupt):
            lines.readline()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert time.time() - started < 2
    assert lines.buffer == b"second"  # nothing read so far is lost
