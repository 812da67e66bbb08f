"""Load and abuse test of ``sphinx-x-serve`` on loopback: 50 concurrent clients for a bounded time, then the
hostile requests of issue 10, against the real command-line server with the tiny random demo model.

    python scripts/benchmark_serve_load.py --out experiments/benchmarks/serve_load.json

Records p50/p95 latency, throughput and error counts under load, each abuse case's status code, time and
message, whether a dropped client's generation was stopped (the next request's latency), and the server's
peak memory. Stops by itself: every phase has a deadline and the server is terminated at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import platform
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
API_KEY = "load-test-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
LONG_PROMPT = "Tell me a long story about the shapes in the picture, every detail."


# ---------------------------------------------------------------------- the model and the server
def export_demo_model(folder: Path) -> Path:
    """The demo-size model with random weights, exported as sphinx-x-serve loads it."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    from sphinx_x.data.processor import SphinxProcessor
    from sphinx_x.data.tokenize import load_tokenizer
    from sphinx_x.demo.world import build_demo_world
    from sphinx_x.inference import SphinxInference
    from sphinx_x.model.build import build_sphinx
    from sphinx_x.runtime.config import CONF_PACKAGE

    world = folder / "demo_world"
    build_demo_world(world, n_train=40, n_heldout=8, seed=0)
    tokenizer = load_tokenizer(str(world / "tokenizer"))
    with initialize_config_module(CONF_PACKAGE, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=demo", f"paths.demo_dir={world}"])
    torch.manual_seed(0)
    model = build_sphinx(cfg.model, vocab_size=len(tokenizer))
    processor = SphinxProcessor.from_config(tokenizer, cfg.model, cfg.data)
    engine = SphinxInference(model, processor, OmegaConf.to_container(cfg.model, resolve=True))
    return engine.export(folder / "sphinx-demo")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: Path, port: int, flags: list[str]) -> subprocess.Popen:
    env = {**os.environ, "SPHINX_X_API_KEY": API_KEY, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "sphinx_x.serve", str(model), "--port", str(port), "--device", "cpu", *flags]
    server = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 180
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"sphinx-x-serve exited: {server.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.time() > deadline:
            server.kill()
            raise RuntimeError("sphinx-x-serve did not start in 180 s")
        time.sleep(0.5)


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------- requests
def png_data_url(size: tuple[int, int] = (96, 64), seed: int = 0) -> str:
    rng = random.Random(seed)
    image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def claimed_png(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height (what a decompression bomb looks like first)."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def load_request(rng: random.Random, image_url: str, max_tokens: int) -> tuple[str, dict[str, Any]]:
    """A mix of what clients send: text, one image, streamed text."""
    roll = rng.random()
    if roll < 0.3:
        content: Any = [{"type": "image_url", "image_url": {"url": image_url}},
                        {"type": "text", "text": "What colour is the shape?"}]
        return "image", {"messages": [{"role": "user", "content": content}], "max_tokens": max_tokens}
    question = rng.choice(["How many shapes are there?", "Describe the scene.", "Which colour is on the left?"])
    body = {"messages": [{"role": "user", "content": question}], "max_tokens": max_tokens}
    if roll < 0.5:
        return "stream", {**body, "stream": True}
    return "text", body


async def one_request(client: httpx.AsyncClient, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        if kind == "stream":
            async with client.stream("POST", "/v1/chat/completions", json=body, headers=AUTH) as response:
                first = None
                async for line in response.aiter_lines():
                    if first is None and line.startswith("data: "):
                        first = time.perf_counter() - started
                status = response.status_code
        else:
            response = await client.post("/v1/chat/completions", json=body, headers=AUTH)
            status, first = response.status_code, None
    except httpx.HTTPError as error:
        return {"kind": kind, "status": type(error).__name__, "seconds": time.perf_counter() - started}
    return {"kind": kind, "status": status, "seconds": time.perf_counter() - started, "first_event": first}


async def load_phase(url: str, clients: int, seconds: float, max_tokens: int) -> dict[str, Any]:
    """``clients`` loops sending requests back to back until ``seconds`` have passed."""
    image_url = png_data_url()
    results: list[dict[str, Any]] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients + 8, max_keepalive_connections=clients + 8)

    async def client_loop(index: int, client: httpx.AsyncClient) -> None:
        rng = random.Random(index)
        while time.perf_counter() < deadline:
            kind, body = load_request(rng, image_url, max_tokens)
            results.append(await one_request(client, kind, body))

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        await asyncio.gather(*(client_loop(i, client) for i in range(clients)))
    elapsed = time.perf_counter() - started
    ok = [r for r in results if r["status"] == 200]
    latencies = sorted(r["seconds"] for r in ok)

    def pct(values: list[float], q: float) -> float | None:
        return round(values[min(len(values) - 1, int(q * len(values)))], 3) if values else None

    per_kind = {}
    for kind in ("text", "image", "stream"):
        values = sorted(r["seconds"] for r in ok if r["kind"] == kind)
        per_kind[kind] = {"ok": len(values), "p50_s": pct(values, 0.5), "p95_s": pct(values, 0.95)}
    firsts = sorted(r["first_event"] for r in ok if r.get("first_event") is not None)
    return {"clients": clients, "duration_s": round(elapsed, 1), "max_tokens": max_tokens,
            "requests": len(results), "ok": len(ok), "errors": dict(Counter(str(r["status"]) for r in results
                                                                           if r["status"] != 200)),
            "throughput_rps": round(len(ok) / elapsed, 2),
            "latency_s": {"p50": pct(latencies, 0.5), "p95": pct(latencies, 0.95), "max": pct(latencies, 1.0),
                          "mean": round(statistics.fmean(latencies), 3) if latencies else None},
            "stream_first_event_s": {"p50": pct(firsts, 0.5), "p95": pct(firsts, 0.95)},
            "per_kind": per_kind}


# ---------------------------------------------------------------------- abuse cases
def raw(port: int, head: str, body: bytes = b"", wait: float = 60) -> tuple[int, float, str]:
    """Raw bytes on a socket: (status, seconds until the answer, the body's message if any)."""
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head.encode() + body)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < 20:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    seconds = time.perf_counter() - started
    status = int(reply.split(b" ", 2)[1]) if reply else 0
    return status, seconds, _message(reply.split(b"\r\n\r\n", 1)[-1])


def _message(body: bytes) -> str:
    try:
        return json.loads(body)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return body[:200].decode(errors="replace")


def post(client: httpx.Client, body: Any = None, content: bytes | None = None, headers: dict | None = None,
         timeout: float = 60) -> tuple[int, float, str]:
    started = time.perf_counter()
    response = client.post("/v1/chat/completions", json=body if content is None else None, content=content,
                           headers={**AUTH, "content-type": "application/json", **(headers or {})}, timeout=timeout)
    message = "" if response.status_code == 200 else _message(response.content)
    return response.status_code, time.perf_counter() - started, message


def image_body(url: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                       {"type": "text", "text": "What is it?"}]}], "max_tokens": 2}


def chat_body(text: str = "Hello", **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], "max_tokens": 4, **extra}


def abuse_phase(port: int, max_queue: int, shared_image: Path) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}"
    cases: list[dict[str, Any]] = []

    def record(case: str, expected: int, result: tuple[int, float, str], **extra: Any) -> None:
        status, seconds, message = result
        cases.append({"case": case, "expected": expected, "status": status, "seconds": round(seconds, 3),
                      "message": message[:240], **extra})

    with httpx.Client(base_url=url, timeout=60) as client:
        head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {API_KEY}\r\nContent-Length: {50_000_000}\r\n\r\n")
        record("50 MB prompt (Content-Length announced, body not read)", 413,
               raw(port, head, b'{"messages": [{"role": "user", "content": "' + b"word " * 10000))
        record("15 MB prompt sent whole (under the body limit)", 400,
               post(client, chat_body("word " * 3_000_000)))
        record("max_tokens=10**12", 400, post(client, chat_body(max_tokens=10**12)))
        record("2,000 stop strings", 400, post(client, chat_body(stop=[f"s{i}" for i in range(2000)])))
        bomb = claimed_png(12000, 12000)
        record("12000x12000 PNG (header), decompression bomb", 400,
               post(client, image_body("data:image/png;base64," + base64.b64encode(bomb).decode())),
               bytes=len(bomb))
        record("local image inside the --allow-local-images folder", 200, post(client, image_body(str(shared_image))))
        exists = post(client, image_body("/etc/hostname"))
        missing = post(client, image_body("/no/such/file.png"))
        escape = post(client, image_body(str(shared_image.parent / ".." / ".." / "etc" / "hostname")))
        record("local path outside the folder that exists (/etc/hostname)", 400, exists)
        record("local path that does not exist", 400, missing, same_message_as_existing=exists[2] == missing[2])
        record("../ out of the folder", 400, escape, same_message_as_existing=exists[2] == escape[2])
        record("lone surrogate in text", 400,
               post(client, content=b'{"messages": [{"role": "user", "content": "hi \\ud800"}]}'))
        record("invalid JSON", 400, post(client, content=b'{"messages": ['))
        record("body not UTF-8", 400, post(client, content=b"\xff\xfe\xfa"))
        record("JSON nested 100,000 deep", 400, post(client, content=b"[" * 100_000 + b"]" * 100_000))
        record("no API key", 401, post(client, chat_body(), headers={"Authorization": ""}))
        record("wrong API key", 401, post(client, chat_body(), headers={"Authorization": "Bearer wrong"}))
        record("unknown path", 404, (lambda r: (r.status_code, 0.0, _message(r.content)))(client.get("/v1/nope")))
        slow_head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Authorization: Bearer {API_KEY}\r\nContent-Length: 1000\r\n\r\n")
        record("body that never arrives (slowloris)", 408, raw(port, slow_head, b'{"mess'))
        cases.extend(disconnect_cases(client))
    cases.append(queue_case(url, max_queue))
    return cases


def disconnect_cases(client: httpx.Client) -> list[dict[str, Any]]:
    """A client that drops a long generation: the next request is answered without waiting for it."""
    baseline = post(client, chat_body())[1]
    cases = []
    for stream in (False, True):
        body = chat_body(LONG_PROMPT, max_tokens=4000, stream=stream)
        started = time.perf_counter()
        try:
            if stream:
                with client.stream("POST", "/v1/chat/completions", json=body, headers=AUTH) as response:
                    next(response.iter_lines())
            else:
                client.post("/v1/chat/completions", json=body, headers=AUTH, timeout=0.5)
        except httpx.ReadTimeout:
            pass
        dropped_after = time.perf_counter() - started
        status, seconds, message = post(client, chat_body())
        cases.append({"case": f"client drops a 4000-token generation ({'streaming' if stream else 'plain'})",
                      "expected": 200, "status": status, "dropped_after_s": round(dropped_after, 3),
                      "next_request_s": round(seconds, 3), "unloaded_request_s": round(baseline, 3),
                      "message": message[:120]})
    return cases


def queue_case(url: str, max_queue: int) -> dict[str, Any]:
    """``max_queue + 16`` simultaneous long requests: the overflow gets 429 at once."""
    async def flood() -> list[tuple[int | str, float]]:
        limits = httpx.Limits(max_connections=max_queue + 32)
        async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
            async def one() -> tuple[int | str, float]:
                started = time.perf_counter()
                try:
                    response = await client.post("/v1/chat/completions", headers=AUTH,
                                                 json=chat_body(LONG_PROMPT, max_tokens=24))
                    return response.status_code, time.perf_counter() - started
                except httpx.HTTPError as error:
                    return type(error).__name__, time.perf_counter() - started
            return await asyncio.gather(*(one() for _ in range(max_queue + 16)))

    results = asyncio.run(flood())
    statuses = Counter(str(s) for s, _ in results)
    refused = [t for s, t in results if s == 429]
    return {"case": f"{max_queue + 16} simultaneous requests, queue of {max_queue}", "expected": 429,
            "status": 429 if refused else None, "statuses": dict(statuses),
            "max_seconds_to_429": round(max(refused), 3) if refused else None}


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "experiments/benchmarks/serve_load.json")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients in the load phase")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load phase")
    parser.add_argument("--max-tokens", type=int, default=16, help="max_tokens of each load request")
    parser.add_argument("--max-queue", type=int, default=64, help="the server's --max-queue")
    args = parser.parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        model = export_demo_model(Path(tmp))
        port = free_port()
        shared = Path(tmp) / "shared"
        shared.mkdir()
        Image.new("RGB", (64, 48), "green").save(shared / "shape.png")
        flags = ["--max-queue", str(args.max_queue), "--body-timeout", "5", "--allow-local-images", str(shared)]
        server = start_server(model, port, flags)
        try:
            load = asyncio.run(load_phase(f"http://127.0.0.1:{port}", args.clients, args.seconds, args.max_tokens))
            rss_after_load = peak_rss_mb(server.pid)
            abuse = abuse_phase(port, args.max_queue, shared / "shape.png")
            rss_after_abuse = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
    result = {
        "command": " ".join(["python scripts/benchmark_serve_load.py", *(argv if argv is not None else sys.argv[1:])]),
        "server_command": f"sphinx-x-serve <demo export> --device cpu {' '.join(flags).replace(tmp, '<tmp>')} "
                          "(SPHINX_X_API_KEY set, "
                          "OMP_NUM_THREADS=1, other flags at their defaults)",
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "note": "2 CPU cores shared with other jobs; the server runs one torch thread"},
        "model": "demo-size SPHINX-X (4-layer 128-wide LLaMA, 3 tiny encoders), random weights, CPU",
        "load": load, "server_peak_rss_mb": {"after_load": rss_after_load, "after_abuse": rss_after_abuse},
        "abuse": abuse, "all_abuse_as_expected": all(c["status"] == c["expected"] for c in abuse),
        "wall_s": round(time.time() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("load", "all_abuse_as_expected", "server_peak_rss_mb")}, indent=2))
    print(args.out)
    return 0 if result["all_abuse_as_expected"] else 1


if __name__ == "__main__":
    sys.exit(main())
