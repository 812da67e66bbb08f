"""``sphinx-x-serve`` against hostile and careless clients (issue 10, item 2): each failure the issue
reproduced (a 50 MB prompt tokenised before any check, a disconnected client's generation left running,
``max_tokens=10**12`` and 2,000 stop strings accepted, a 12000x12000 PNG decoded, local files read by
default with an existence oracle, a lone surrogate giving a 500, parse errors outside the OpenAI error
shape with an object address) is answered here, on a real uvicorn server on loopback."""

from __future__ import annotations

import base64
import io
import json
import socket
import struct
import threading
import time
import zlib
from contextlib import contextmanager
from urllib.parse import urlparse

import httpx
import pytest
from PIL import Image

from sphinx_x.serve import create_app
from sphinx_x.serve_guard import ServerLimits
from tests.testkit.serving import serve_in_thread

pytestmark = pytest.mark.usefixtures("one_thread")
LONG_PROMPT = "Hello"  # the random demo model answers it until max_tokens (2000 tokens: about 9 s)


@contextmanager
def running(engine, **limits):
    app = create_app(engine, "sphinx-demo", default_max_tokens=8, **limits)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield app, client


@pytest.fixture(scope="module")
def served(engine, tmp_path_factory):
    """One server with small limits (a 64 KiB body, 2,000 prompt characters, 2 images, 1 Mpx)."""
    shared = tmp_path_factory.mktemp("shared")
    Image.new("RGB", (32, 24), "red").save(shared / "ok.png")
    (shared / "notes.txt").write_text("not an image")
    (shared / "escape.png").symlink_to("/etc/hostname")
    limits = ServerLimits(max_body_bytes=64 * 1024, max_prompt_chars=2000, max_images=2, max_image_pixels=1 << 20,
                          max_tokens_limit=2048, body_timeout=1.0, allow_local_images=shared.resolve())
    with running(engine, limits=limits) as (app, client):
        yield app, client, shared


def chat(text: str = "Hello", **extra) -> dict:
    return {"messages": [{"role": "user", "content": text}], "max_tokens": 2, **extra}


def image_chat(url: str) -> dict:
    return {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                       {"type": "text", "text": "What is it?"}]}], "max_tokens": 2}


def png_url(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def claimed_png(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` (a decompression bomb's calling card)."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def assert_openai_error(response: httpx.Response, status: int, *fragments: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and isinstance(error["message"], str)
    assert " at 0x" not in error["message"] and "object at" not in error["message"]
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    return error


def raw_request(url: str, head: str, body: bytes = b"", wait: float = 10.0) -> tuple[int, float]:
    """Send raw bytes; (status code, seconds until the status line came)."""
    parsed = urlparse(url)
    started = time.perf_counter()
    with socket.create_connection((parsed.hostname, parsed.port), timeout=wait) as sock:
        sock.sendall(head.encode() + body)
        status_line = sock.makefile("rb").readline().decode()
    return int(status_line.split()[1]), time.perf_counter() - started


# ---------------------------------------------------------------------- size limits
def test_a_huge_body_is_refused_from_its_content_length_before_it_is_read(served):
    app, client, _ = served
    head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {50_000_000}\r\n\r\n")
    status, seconds = raw_request(str(client.base_url), head, b'{"messages": [')  # 50 MB announced, 14 B sent
    assert status == 413 and seconds < 5
    too_big = chat("x" * 70_000)
    assert_openai_error(client.post("/v1/chat/completions", json=too_big), 413, "--max-body-bytes")
    chunked = client.post("/v1/chat/completions", content=iter([json.dumps(too_big).encode()]))  # no Content-Length
    assert_openai_error(chunked, 413, "request body too large")


def test_a_long_prompt_is_refused_before_tokenising(served, engine, monkeypatch):
    _, client, _ = served
    calls = []
    monkeypatch.setattr(engine.processor, "prompt", lambda *a, **k: calls.append(a))
    error = assert_openai_error(client.post("/v1/chat/completions", json=chat("word " * 1000)), 400,
                                "prompt too long", "--max-prompt-chars")
    assert error["code"] == "context_length_exceeded" and calls == []
    many = {"messages": [{"role": "user"}] * 200 + [{"role": "user", "content": "hi"}]}  # empty turns still cost markup
    assert_openai_error(client.post("/v1/chat/completions", json=many), 400, "prompt too long")
    assert calls == []


def test_max_tokens_and_stop_strings_are_bounded(served):
    _, client, _ = served
    assert_openai_error(client.post("/v1/chat/completions", json=chat(max_tokens=10**12)), 400, "max_tokens",
                        "--max-tokens-limit")
    assert_openai_error(client.post("/v1/chat/completions", json={**chat(), "max_completion_tokens": 10**12}), 400,
                        "max_completion_tokens")
    stops = [f"s{i}" for i in range(2000)]
    assert_openai_error(client.post("/v1/chat/completions", json=chat(stop=stops)), 400, "at most 4 stop strings")
    assert_openai_error(client.post("/v1/chat/completions", json=chat(stop=["x" * 1000])), 400, "--max-stop-chars")
    assert client.post("/v1/chat/completions", json=chat(stop=["a", "b"])).status_code == 200


# ---------------------------------------------------------------------- images
def test_an_image_bomb_is_refused_from_its_header(served):
    _, client, _ = served
    bomb = claimed_png(12000, 12000)
    assert len(bomb) < 1000
    started = time.perf_counter()
    response = client.post("/v1/chat/completions", json=image_chat(png_url(bomb)))
    assert_openai_error(response, 400, "12000x12000", "image too large")
    assert time.perf_counter() - started < 5
    past_pil = claimed_png(60000, 60000)  # beyond twice PIL's own limit too
    assert_openai_error(client.post("/v1/chat/completions", json=image_chat(png_url(past_pil))), 400,
                        "image too large")


@pytest.mark.parametrize(("data", "fragment"), [
    (b"not an image", "not a readable image"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "allowed formats"),  # EPS would run Ghostscript
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a readable image"),
])
def test_unreadable_images_are_400_without_reprs(served, data, fragment):
    _, client, _ = served
    assert_openai_error(client.post("/v1/chat/completions", json=image_chat(png_url(data))), 400, fragment)


def test_a_truncated_image_is_400(served):
    _, client, _ = served
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "blue").save(buffer, format="PNG")
    assert_openai_error(client.post("/v1/chat/completions", json=image_chat(png_url(buffer.getvalue()[:60]))), 400,
                        "not a readable image")


def test_too_many_images(served):
    _, client, shared = served
    part = {"type": "image_url", "image_url": {"url": str(shared / "ok.png")}}
    body = {"messages": [{"role": "user", "content": [part, part, part, {"type": "text", "text": "?"}]}]}
    assert_openai_error(client.post("/v1/chat/completions", json=body), 400, "too many images", "--max-images")


def test_local_files_only_inside_the_shared_folder_and_no_existence_oracle(served, engine):
    _, client, shared = served
    assert client.post("/v1/chat/completions", json=image_chat(str(shared / "ok.png"))).status_code == 200
    assert client.post("/v1/chat/completions", json=image_chat("ok.png")).status_code == 200  # relative to it
    assert client.post("/v1/chat/completions", json=image_chat((shared / "ok.png").as_uri())).status_code == 200
    refusals = ["/etc/hostname", "/no/such/file.png", str(shared / "missing.png"), str(shared / "notes.txt"),
                str(shared / "escape.png"), str(shared / ".." / ".." / "etc" / "hostname"), "file:///etc/hostname",
                "file://otherhost/etc/hostname", "/etc", "bad\x00path"]
    messages = {assert_openai_error(client.post("/v1/chat/completions", json=image_chat(url)), 400)["message"]
                for url in refusals}
    assert len(messages) == 1 and "/etc" not in messages.pop()
    with running(engine) as (_, default):  # no --allow-local-images: no local file at all
        for url in ("/etc/hostname", "/no/such/file.png"):
            assert_openai_error(default.post("/v1/chat/completions", json=image_chat(url)), 400,
                                "does not read local files")


# ---------------------------------------------------------------------- parsing
@pytest.mark.parametrize(("body", "fragment"), [
    (b'{"messages": [{"role": "user", "content": "hi \\ud800"}]}', "lone UTF-16 surrogate"),
    (b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "\\udfff"}]}]}', "lone UTF-16 surrogate"),
    (b'{"messages": [', "not valid JSON"),
    (b"\xff\xfe\xfa not utf-8", "not valid JSON"),
    (b"[1, 2]", "invalid request"),
    (b"", "empty request body"),
    (b"[" * 20000 + b"]" * 20000, "not valid JSON"),
    (b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": ' + b"9" * 5000 + b"}", "not valid JSON"),
    (b'{"messages": [{"role": "user", "content": {"a": 1}}]}', "messages.0.content"),
    (b'{"messages": "hello"}', "messages"),
])
def test_bad_bodies_are_400_in_the_openai_error_shape(served, body, fragment):
    _, client, _ = served
    response = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert_openai_error(response, 400, fragment)


def test_unknown_paths_and_methods_are_in_the_openai_error_shape(served):
    _, client, _ = served
    assert_openai_error(client.get("/v1/nothing"), 404, "no such endpoint")
    assert_openai_error(client.get("/v1/chat/completions"), 405, "no such endpoint")
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


def test_an_internal_error_is_500_without_its_repr(served, engine, monkeypatch):
    _, client, _ = served

    def broken(*args, **kwargs):
        raise RuntimeError("secret state <object at 0xdeadbeef>")

    monkeypatch.setattr(engine, "generate_full", broken)
    error = assert_openai_error(client.post("/v1/chat/completions", json=chat()), 500, "internal server error")
    assert "secret" not in error["message"] and error["type"] == "server_error"


def test_a_slow_body_is_408(served):
    _, client, _ = served
    head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    status, seconds = raw_request(str(client.base_url), head, b'{"mess')
    assert status == 408 and seconds < 8


# ---------------------------------------------------------------------- queue, disconnects, key
def wait_for(predicate, seconds: float = 20.0) -> None:
    deadline = time.time() + seconds
    while not predicate():
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_a_disconnected_client_stops_its_generation(served):
    app, client, _ = served
    before = app.state.stats["cancelled"]
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v1/chat/completions", json=chat(LONG_PROMPT, max_tokens=2000), timeout=0.5)
    wait_for(lambda: app.state.stats["cancelled"] == before + 1)
    with client.stream("POST", "/v1/chat/completions", json=chat(LONG_PROMPT, max_tokens=2000, stream=True)) as stream:
        assert next(stream.iter_lines()).startswith("data: ")
    wait_for(lambda: app.state.stats["cancelled"] == before + 2)
    assert app.state.admission.admitted == 0 and not app.state.admission.slot.locked()
    started = time.perf_counter()
    assert client.post("/v1/chat/completions", json=chat()).status_code == 200  # not behind a ghost generation
    assert time.perf_counter() - started < 10


def test_a_full_queue_answers_429(engine):
    with running(engine, limits=ServerLimits(max_queue=1)) as (app, client):
        def long_request() -> None:  # holds the only place, then gives up (its generation is cancelled)
            with pytest.raises(httpx.ReadTimeout):
                client.post("/v1/chat/completions", json=chat(LONG_PROMPT, max_tokens=2000), timeout=1.5)

        first = threading.Thread(target=long_request, daemon=True)
        first.start()
        wait_for(lambda: app.state.admission.admitted == 1)
        response = client.post("/v1/chat/completions", json=chat())
        error = assert_openai_error(response, 429, "server busy")
        assert error["code"] == "queue_full" and response.headers["retry-after"] == "1"
        first.join()
        wait_for(lambda: app.state.admission.admitted == 0)
        assert client.post("/v1/chat/completions", json=chat()).status_code == 200


def test_api_key(engine):
    with running(engine, api_key="s3cret-key") as (_, client):
        assert_openai_error(client.post("/v1/chat/completions", json=chat()), 401, "missing API key")
        wrong = client.post("/v1/chat/completions", json=chat(), headers={"Authorization": "Bearer nope"})
        assert assert_openai_error(wrong, 401, "incorrect API key")["code"] == "invalid_api_key"
        assert_openai_error(client.get("/v1/models"), 401)
        ok = {"Authorization": "Bearer s3cret-key"}
        assert client.post("/v1/chat/completions", json=chat(), headers=ok).status_code == 200
        assert client.get("/v1/models", headers=ok).status_code == 200
        assert client.get("/health").status_code == 200


def test_serve_flags_and_api_key_from_the_environment(tmp_path, engine, monkeypatch):
    import uvicorn
    from PIL import Image as PILImage

    import sphinx_x.serve

    exported = engine.export(tmp_path / "model")
    seen = {}
    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", PILImage.MAX_IMAGE_PIXELS)  # restored after the test
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **options: seen.update(app=app))
    monkeypatch.setenv("SPHINX_X_API_KEY", "from-env")
    assert sphinx_x.serve.main([str(exported), "--max-queue", "3", "--max-image-pixels", "1000000",
                                "--allow-local-images", str(tmp_path)]) == 0
    limits = seen["app"].state.limits
    assert limits.max_queue == 3 and limits.allow_local_images == tmp_path.resolve()
    assert PILImage.MAX_IMAGE_PIXELS == 1_000_000
    from fastapi.testclient import TestClient

    client = TestClient(seen["app"])
    assert client.get("/v1/models").status_code == 401
    assert client.get("/v1/models", headers={"Authorization": "Bearer from-env"}).status_code == 200
    with pytest.raises(SystemExit):
        sphinx_x.serve.main([str(exported), "--allow-local-images", str(tmp_path / "none")])


def test_every_flag_has_help_and_a_shown_default(capsys):
    import sphinx_x.serve

    with pytest.raises(SystemExit):
        sphinx_x.serve.main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--max-body-bytes", "--max-prompt-chars", "--max-tokens-limit", "--max-stop ", "--max-stop-chars",
                 "--max-images", "--max-image-pixels", "--max-queue", "--body-timeout", "--allow-local-images",
                 "--api-key", "--trust-remote-code"):
        assert flag in text, flag
    assert text.count("(default:") >= 17
