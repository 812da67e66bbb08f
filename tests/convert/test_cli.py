"""The command lines on a released checkpoint: sphinx-x-convert-accessory writes the export, then
sphinx-x-chat and sphinx-x-serve answer with the converted model (in process; as real processes with
real HTTP under -m slow)."""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from PIL import Image

from sphinx_x.convert_accessory import main
from tests.testkit.accessory import TINY_OVERRIDES
from tests.testkit.paths import REPO

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def test_convert_command_line(release, tmp_path, capsys):
    src, _ = release("llama_ens")
    assert main([str(src), str(tmp_path / "out"), "--type", "llama_ens", *TINY_OVERRIDES["llama_ens"]]) == 0
    printed = capsys.readouterr().out
    assert "converted llama_ens (2 model-parallel shards, 247 tensors)" in printed
    assert "7 tensors the authors' forward never reads were left out" in printed and "copy of end_img" in printed
    assert {p.name for p in (tmp_path / "out").iterdir()} >= {"model.safetensors", "sphinx_config.json",
                                                               "processor_config.json", "tokenizer.json"}


def test_convert_command_line_errors(release, tmp_path, capsys):
    src, _ = release("llama_ens5_light")
    assert main([str(src), str(tmp_path / "out"), "--type", "llama_ens5"]) == 2
    assert capsys.readouterr().err.strip().endswith("meta.json says llama_type='llama_ens5_light'")
    assert main([str(tmp_path / "missing"), str(tmp_path / "out"), "--type", "llama_ens"]) == 2
    assert "is not a folder (a LLaMA2-Accessory checkpoint folder)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path), str(tmp_path / "out"), "--type", "llama_ens7"])
    assert "invalid choice: 'llama_ens7'" in capsys.readouterr().err


def test_chat_session_on_a_converted_model(converted, tmp_path):
    from sphinx_x.chat import ChatSession, run_chat
    from sphinx_x.inference import GenerationConfig, SphinxInference

    image = tmp_path / "red.png"
    Image.new("RGB", (80, 48), (220, 30, 30)).save(image)
    session = ChatSession(SphinxInference.from_run(converted("llama_ens")), GenerationConfig(max_new_tokens=3))
    out, err = io.StringIO(), io.StringIO()
    assert run_chat(session, io.StringIO(f"/image {image}\nWhat colour is it?\nAnd now?\n/quit\n"), out, err) == 0
    assert out.getvalue().count("sphinx> ") == 2 and not err.getvalue()
    assert session.messages[0]["content"] == "<image>\nWhat colour is it?" and len(session.messages) == 4


def test_server_app_on_a_converted_model(converted):
    from sphinx_x.inference import SphinxInference
    from sphinx_x.serve import create_app
    from tests.testkit.serving import serve_in_thread

    engine = SphinxInference.from_run(converted("mixtral_sparse_ens"))
    with serve_in_thread(create_app(engine, "sphinx-moe", default_max_tokens=4)) as url, \
            httpx.Client(base_url=url, timeout=60) as client:
        response = client.post("/v1/chat/completions", json=_image_request("sphinx-moe"))
    assert response.status_code == 200, response.text
    assert 0 < response.json()["usage"]["completion_tokens"] <= 4


def _image_request(model: str) -> dict:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 96), (30, 30, 220)).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"model": model, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "What is shown?"}]}]}


@pytest.mark.slow
def test_chat_answers_with_a_converted_model(converted, tmp_path):
    image = tmp_path / "red.png"
    Image.new("RGB", (80, 48), (220, 30, 30)).save(image)
    cmd = [sys.executable, "-m", "sphinx_x.chat", str(converted("llama_ens5_light")), "--image", str(image),
           "--max-new-tokens", "3", "--device", "cpu"]
    done = subprocess.run(cmd, cwd=REPO, input="What colour is it?\nAnd now?\n/quit\n", env=ENV, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("sphinx> ") == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_with_a_converted_model(converted):
    port = _free_port()
    cmd = [sys.executable, "-m", "sphinx_x.serve", str(converted("mixtral_sparse_ens5")), "--port", str(port),
           "--model-name", "sphinx-moe-1k", "--max-new-tokens", "4", "--device", "cpu"]
    server = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.time() + 150
            while True:
                assert server.poll() is None, server.stdout.read()[-3000:]
                try:
                    models = client.get("/v1/models").json()
                    break
                except httpx.TransportError:
                    assert time.time() < deadline, "sphinx-x-serve did not start"
                    time.sleep(0.5)
            assert [m["id"] for m in models["data"]] == ["sphinx-moe-1k"]
            response = client.post("/v1/chat/completions", json=_image_request("sphinx-moe-1k"))
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["choices"][0]["message"]["role"] == "assistant"
            assert 0 < body["usage"]["completion_tokens"] <= 4 and body["usage"]["prompt_tokens"] > 5 * 7
    finally:
        server.terminate()
        server.wait(timeout=30)
