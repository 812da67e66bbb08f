"""A scripted OpenAI-compatible chat server on loopback (``http.server`` in a thread) for the SoM engine.

Each request takes the next behaviour from ``script`` (then ``default``):

- ``"answer"``: a valid structured answer about exactly the marks the instruction lists;
- ``"429"`` (with ``Retry-After: 0``), ``"500"``, ``"503"``, ``"400"``: that HTTP error;
- ``"timeout"``: answers only after ``slow`` seconds (past the client's timeout);
- ``"malformed_body"``: HTTP 200 whose body is cut-off JSON;
- ``"not_json"``: a valid response whose message is prose, not the JSON asked for;
- ``"invented"``: a valid-looking answer that describes a mark that was not drawn.

``answer(request, behaviour)``, when given, writes the content of every other behaviour (other engines'
fakes, e.g. :mod:`tests.testkit.instruct`).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MARKS = re.compile(r"describe every mark \(([^)]*)\)")
USAGE = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}


class FakeVlm:
    def __init__(self, script: list[str] | None = None, default: str = "answer", slow: float = 1.0, delay: float = 0.0,
                 answer: Callable[[dict[str, Any], str], str] | None = None):
        self.answer = answer
        self.script = list(script or [])
        self.default = default
        self.slow = slow  # seconds a "timeout" behaviour waits
        self.delay = delay  # seconds every answer waits (to slow a build down)
        self.requests: list[dict[str, Any]] = []
        self.behaviours: list[str] = []
        self.lock = threading.Lock()
        self.url = ""

    def next(self, request: dict[str, Any]) -> str:
        with self.lock:
            self.requests.append(request)
            behaviour = self.script.pop(0) if self.script else self.default
            self.behaviours.append(behaviour)
            return behaviour


def answer_for(text: str, invent: bool = False) -> str:
    """A valid answer about the marks listed in the instruction ``text``."""
    ids = [i.strip() for i in MARKS.search(text).group(1).split(",")]
    ref = [i if i.isdigit() else i for i in ids]
    marks = [{"id": int(i) if i.isdigit() else i, "caption": f"thing [{i}] seen clearly"} for i in ref]
    if invent:
        marks.append({"id": 99, "caption": "a thing that was never marked"})
    relations = [{"ids": [marks[0]["id"], marks[1]["id"]], "relation": f"[{ref[0]}] is left of [{ref[1]}]"}] \
        if len(ref) > 1 else []
    return json.dumps({"caption": f"A scene with [{ref[0]}] in it.", "marks": marks, "relations": relations})


def _handler(fake: FakeVlm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            behaviour = fake.next(request)
            if behaviour in ("429", "500", "503", "400"):
                headers = {"Retry-After": "0"} if behaviour == "429" else {}
                return self._send(int(behaviour), {"error": {"message": f"scripted {behaviour}"}}, headers)
            if behaviour == "timeout":
                time.sleep(fake.slow)
            if behaviour == "malformed_body":
                return self._raw(200, b'{"id": "chatcmpl-1", "choices": [{"mess')
            time.sleep(fake.delay)
            if behaviour == "not_json":
                content = "The image shows some things. Mark 1 is a ball."
            elif fake.answer is not None:
                content = fake.answer(request, behaviour)
            else:
                content = answer_for(request["messages"][-1]["content"][-1]["text"], invent=behaviour == "invented")
            self._send(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": request["model"],
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": content}}],
                             "usage": USAGE})

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            self._raw(status, json.dumps(body).encode(), headers)

        def _raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a scripted timeout)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def fake_vlm(**kwargs: Any) -> Iterator[FakeVlm]:
    """A running :class:`FakeVlm`; ``.url`` is its ``/v1`` base URL."""
    fake = FakeVlm(**kwargs)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
