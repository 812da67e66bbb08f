"""What ``sphinx-x-serve`` checks before a request costs anything: the API key, a place in the bounded
queue, the body's size and arrival time, JSON that parses, text that is valid Unicode.

Every refusal is an :class:`APIError`, answered in the OpenAI error shape
``{"error": {"message", "type", "param", "code"}}``; messages never hold object reprs.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect, Request

from sphinx_x.safe_images import DEFAULT_MAX_PIXELS

API_KEY_ENV = "SPHINX_X_API_KEY"
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class ServerLimits:
    """What one request may ask for (every field is a ``sphinx-x-serve`` flag, see conf/serve.yaml)."""

    max_body_bytes: int = 16 * 1024 * 1024
    max_prompt_chars: int = 200_000
    max_tokens_limit: int = 4096
    max_stop: int = 4
    max_stop_chars: int = 64
    max_images: int = 8
    max_image_pixels: int = DEFAULT_MAX_PIXELS
    max_queue: int = 64
    body_timeout: float = 30.0
    allow_local_images: Path | None = None  # a folder whose files image_url may name; None: no local files

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_prompt_chars", "max_tokens_limit", "max_stop_chars", "max_image_pixels",
                     "max_queue"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.max_stop < 0 or self.max_images < 0 or self.body_timeout <= 0:
            raise ValueError("max_stop and max_images must be >= 0, body_timeout > 0")


class APIError(Exception):
    """Answered as ``{"error": {"message", "type", "param", "code"}}`` with ``status``."""

    def __init__(self, message: str, status: int = 400, param: str | None = None,
                 kind: str = "invalid_request_error", code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message, self.status, self.param, self.kind, self.code = message, status, param, kind, code
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


class ClientGone(Exception):
    """The client closed the connection; nothing is answered."""


# ---------------------------------------------------------------------- key and queue
def check_api_key(request: Request, key: str | None) -> None:
    """``Authorization: Bearer <key>`` compared in constant time; no key configured: anyone."""
    if not key:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise APIError("missing API key: send the header 'Authorization: Bearer <key>'", 401, code="invalid_api_key")
    if not hmac.compare_digest(given.strip().encode("utf-8", "surrogateescape"), key.encode("utf-8")):
        raise APIError("incorrect API key provided", 401, code="invalid_api_key")


class Admission:
    """At most ``capacity`` requests admitted at once (one generating, the rest waiting in arrival
    order for :attr:`slot`); one more is refused at once with 429."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.admitted = 0
        self.slot = asyncio.Lock()  # the model answers one request at a time; asyncio's Lock is FIFO

    def enter(self) -> None:
        if self.admitted >= self.capacity:
            raise APIError(f"server busy: {self.capacity} requests are already queued; retry shortly", 429,
                           kind="rate_limit_error", code="queue_full", headers={"Retry-After": "1"})
        self.admitted += 1

    def leave(self) -> None:
        self.admitted -= 1


async def watch_disconnect(request: Request, gone: Any) -> None:
    """Set ``gone`` (a threading.Event) when the client disconnects (run as a task once the body is read)."""
    while True:
        message = await request.receive()
        if message.get("type") == "http.disconnect":
            gone.set()
            return


# ---------------------------------------------------------------------- body and JSON
async def read_body(request: Request, limits: ServerLimits) -> bytes:
    """The body, refused (413) from ``Content-Length`` before reading or as soon as it grows past the limit."""
    limit = limits.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise APIError("invalid Content-Length header", 400)
        if int(declared) > limit:
            raise _too_large(int(declared), limit)
    body = bytearray()
    try:
        async with asyncio.timeout(limits.body_timeout):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise _too_large(None, limit)
    except TimeoutError:
        raise APIError(f"request body not received within {limits.body_timeout:g} s (--body-timeout)", 408,
                       code="request_timeout") from None
    except ClientDisconnect:
        raise ClientGone from None
    return bytes(body)


def _too_large(size: int | None, limit: int) -> APIError:
    told = f"{size} bytes" if size is not None else "more bytes"
    return APIError(f"request body too large: {told}; this server takes at most {limit} bytes (--max-body-bytes)",
                    413, code="request_too_large")


def parse_json(body: bytes) -> Any:
    """The body as JSON; a 400 saying where it is broken (never the parser's object reprs)."""
    if not body.strip():
        raise APIError("empty request body: send a JSON object", 400)
    try:
        value = json.loads(body)
    except json.JSONDecodeError as error:
        raise APIError(f"request body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}",
                       400) from None
    except UnicodeDecodeError:
        raise APIError("request body is not valid JSON: not UTF-8 text", 400) from None
    except RecursionError:
        raise APIError("request body is not valid JSON: nested too deeply", 400) from None
    except ValueError:  # e.g. an integer with more digits than Python converts
        raise APIError("request body is not valid JSON: a value is out of range", 400) from None
    where = lone_surrogate(value)
    if where is not None:
        raise APIError(f"{where or 'body'}: text holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not "
                       "valid Unicode", 400, param=where or None)
    return value


def lone_surrogate(value: Any) -> str | None:
    """The dotted path of the first string (or key) holding a lone surrogate, else None."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if _SURROGATE.search(key):
                    return where
                stack.append((f"{where}.{key}" if where else key, child))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", child) for i, child in enumerate(item))
    return None
