"""``sphinx-x-serve``: the OpenAI-compatible server (real uvicorn on loopback, real HTTP) and its command line."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import httpx
import pytest
import uvicorn
from PIL import Image

import sphinx_x.serve
from sphinx_x.inference import Conversation, GenerationConfig
from sphinx_x.serve import create_app
from sphinx_x.serve_guard import ServerLimits
from tests.testkit.serving import serve_in_thread

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def server(engine, image_paths):
    """The app under a real uvicorn server on 127.0.0.1 (a free port), in a background thread; local
    images only from the demo images' folder."""
    limits = ServerLimits(allow_local_images=image_paths[0].parent.resolve())
    with serve_in_thread(create_app(engine, "sphinx-demo", default_max_tokens=12, limits=limits)) as url, \
            httpx.Client(base_url=url, timeout=60) as client:
        yield client


def data_url(path: Path) -> str:
    buffer = io.BytesIO()
    Image.open(path).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def image_request(url: str, question: str = "What colour is the circle?", **extra) -> dict:
    return {"model": "sphinx-demo", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": question}]}], **extra}


def test_models(server):
    body = server.get("/v1/models").json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["sphinx-demo"]
    assert body["data"][0]["object"] == "model"


def test_chat_completion_with_a_data_url_image(server, engine, image_paths):
    response = server.post("/v1/chat/completions", json=image_request(data_url(image_paths[0]), max_tokens=6))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == "sphinx-demo" and isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["message"]["role"] == "assistant"
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert 0 < usage["completion_tokens"] <= 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    # the same answer as the engine gives directly (greedy by default)
    image = Image.open(image_paths[0]).convert("RGB")
    direct = engine.generate_full([Conversation([{"role": "user", "content": "<image>\nWhat colour is the circle?"}],
                                                [image])], GenerationConfig(max_new_tokens=6))[0]
    assert choice["message"]["content"] == direct.text
    assert usage["prompt_tokens"] == direct.prompt_tokens


def test_streaming_sends_chunks_then_done(server, image_paths):
    request = image_request(data_url(image_paths[0]), max_tokens=8, stream=True,
                            stream_options={"include_usage": True})
    with server.stream("POST", "/v1/chat/completions", json=request) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all(e["object"] == "chat.completion.chunk" and e["model"] == "sphinx-demo" for e in events)
    assert len({e["id"] for e in events}) == 1
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    *content, final, usage = events
    assert final["choices"][0]["finish_reason"] in ("stop", "length") and final["choices"][0]["delta"] == {}
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] <= 8
    streamed = "".join(e["choices"][0]["delta"].get("content", "") for e in content)
    plain = server.post("/v1/chat/completions", json=image_request(data_url(image_paths[0]), max_tokens=8)).json()
    assert streamed == plain["choices"][0]["message"]["content"]


def test_local_path_file_url_and_multi_turn(server, image_paths):
    messages = [
        {"role": "system", "content": "You answer briefly."},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": str(image_paths[0])}},
                                     {"type": "text", "text": "What is this?"}]},
        {"role": "assistant", "content": "Shapes."},
        {"role": "user", "content": [{"type": "text", "text": "And this?"},
                                     {"type": "image_url", "image_url": {"url": image_paths[1].as_uri()}}]},
    ]
    response = server.post("/v1/chat/completions", json={"messages": messages, "max_tokens": 4})
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["completion_tokens"] <= 4


def test_stop_and_sampling_parameters(server):
    request = {"messages": [{"role": "user", "content": "How many shapes are in the demo world, and which colours?"}],
               "max_tokens": 16}
    full = server.post("/v1/chat/completions", json=request).json()["choices"][0]
    text = full["message"]["content"]
    stop = next(text[i:i + 2] for i in range(2, len(text) - 1) if text[i:i + 2].isalnum())
    cut = server.post("/v1/chat/completions", json={**request, "stop": [stop]}).json()["choices"][0]
    assert cut["message"]["content"] == text[:text.find(stop)].strip() and cut["finish_reason"] == "stop"
    sampled = server.post("/v1/chat/completions", json={**request, "temperature": 0.8, "top_p": 0.9})
    assert sampled.status_code == 200


@pytest.mark.parametrize(("change", "message"), [
    ({"url": "https://example.com/cat.png"}, "remote image URLs are not supported"),
    ({"url": "data:image/png;base64,%%%"}, "invalid base64"),
    ({"url": "data:image/png;base64," + base64.b64encode(b"not an image").decode()}, "not a readable image"),
    ({"url": "/no/such/image.png"}, "no image at this path among the files this server shares"),
])
def test_bad_images_are_400(server, change, message):
    response = server.post("/v1/chat/completions", json=image_request(change["url"]))
    assert response.status_code == 400
    error = response.json()["error"]
    assert message in error["message"] and error["type"] == "invalid_request_error"


@pytest.mark.parametrize(("request_body", "message"), [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "user", "content": "hi"}], "temperature": 5}, "temperature"),
    ({"messages": [{"role": "assistant", "content": "hi"}]}, "last message must be from the user"),
    ({"messages": [{"role": "user", "content": "hi"}], "n": 2}, "only n=1"),
    ({"messages": [{"role": "user", "content": "<image> hi"}]}, "may not contain"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "role"),
    ({"messages": [{"role": "user", "content": "word " * 5000}], "stream": True}, "max_length"),
    ({"messages": [{"role": "user", "content": "word " * 5000}]}, "max_length"),
])
def test_bad_requests_are_openai_style_400(server, request_body, message):
    response = server.post("/v1/chat/completions", json=request_body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]


def test_serve_command_line(tmp_path, engine, monkeypatch):
    exported = engine.export(tmp_path / "my-model")
    seen = {}
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # main sets it for the process
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **options: seen.update(
        app=app, host=host, port=port, options=options))
    assert sphinx_x.serve.main([str(exported), "--port", "8123"]) == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8123
    assert seen["options"] == {"server_header": False}  # no "server: uvicorn" header
    from fastapi.testclient import TestClient

    client = TestClient(seen["app"])
    assert client.get("/v1/models").json()["data"][0]["id"] == "my-model"
    question = {"messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 5}
    expected = engine.generate([Conversation([{"role": "user", "content": "Hello there"}])],
                               GenerationConfig(max_new_tokens=5))[0]
    assert client.post("/v1/chat/completions", json=question).json()["choices"][0]["message"]["content"] == expected
    response = client.post("/v1/chat/completions", json=image_request("/etc/hostname"))
    assert response.status_code == 400 and "does not read local files" in response.json()["error"]["message"]
