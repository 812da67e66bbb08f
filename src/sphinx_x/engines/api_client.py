"""Calling an OpenAI-compatible chat API with the ``openai`` client, for the data engines (Set-of-Mark,
MMInstruct): an on-disk cache keyed by the request, a requests-per-minute limit shared by all threads,
and retries with exponential backoff on 429, 5xx, timeouts, dropped connections and malformed bodies.

A request the server refuses (another 4xx) is :class:`RequestRefused`: final, its unit is rejected. A
request still failing after every retry is :class:`ApiUnavailable`: its unit is left for the next run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import openai

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError, openai.APIConnectionError,
             openai.APIResponseValidationError, json.JSONDecodeError)


@dataclass(frozen=True)
class ApiConfig:
    """Where and how to ask; prices are USD per million tokens (0: not priced)."""

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this environment variable
    concurrency: int = 4  # requests in flight at once
    requests_per_minute: float = 60.0
    max_retries: int = 5
    timeout: float = 120.0  # seconds per request
    backoff: float = 2.0  # seconds before the first retry, doubled each time (with jitter)
    max_backoff: float = 60.0
    temperature: float = 0.2
    max_tokens: int = 1024
    json_mode: bool = False  # send response_format={"type": "json_object"} (servers that support it)
    price_input: float = 0.0
    price_output: float = 0.0

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.requests_per_minute <= 0 or self.max_retries < 0 or self.timeout <= 0:
            raise ValueError("api: concurrency >= 1, requests_per_minute > 0, max_retries >= 0, timeout > 0")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # holds the name of the key's variable, never the key


@dataclass
class Completion:
    content: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    attempts: int  # HTTP requests made for this answer (0 when cached)


@dataclass
class Usage:
    """Counts for one unit (summed into the manifest through done.jsonl)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, completion: Completion) -> None:
        for key, value in (("api_requests", completion.attempts), ("api_retries", max(0, completion.attempts - 1)),
                           ("api_cache_hits", int(completion.cached)),
                           ("prompt_tokens", 0 if completion.cached else completion.prompt_tokens),
                           ("completion_tokens", 0 if completion.cached else completion.completion_tokens)):
            self.counts[key] = self.counts.get(key, 0) + value


class RequestRefused(Exception):
    """The server answered the request with a client error (4xx other than 429): retrying cannot help."""

    def __init__(self, status: int, detail: str):
        self.status = status
        super().__init__(f"HTTP {status}: {detail}")


class ApiUnavailable(Exception):
    """No answer after every retry (rate limits, server errors, timeouts)."""

    def __init__(self, attempts: int, last: str):
        self.attempts = attempts
        super().__init__(f"no answer after {attempts} attempts; last error: {last}")


class RateLimiter:
    """At most ``per_minute`` starts per minute, spaced evenly, across threads."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 60.0 / per_minute
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self.sleep(start - now)


class ResponseCache:
    """Answers stored as JSON files ``<root>/<key[:2]>/<key>.json``, written atomically."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError):
            return None  # a torn file from a killed run: ask again

    def put(self, key: str, value: dict[str, Any]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(value, ensure_ascii=False))
        os.replace(tmp, path)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"


def request_key(request: dict[str, Any]) -> str:
    """SHA-256 of the request as canonical JSON (model, messages with the image, sampling settings)."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class VlmClient:
    """Thread-safe: ``complete`` may be called from ``cfg.concurrency`` threads at once."""

    def __init__(self, cfg: ApiConfig, cache: ResponseCache | None, sleep: Callable[[float], None] = time.sleep):
        self.cfg = cfg
        self.cache = cache
        self.sleep = sleep
        self.limiter = RateLimiter(cfg.requests_per_minute, sleep=sleep)
        key = os.environ.get(cfg.api_key_env) or "none"  # local servers take any key
        self.client = openai.OpenAI(base_url=cfg.base_url, api_key=key, max_retries=0, timeout=cfg.timeout)

    def complete(self, request: dict[str, Any]) -> Completion:
        """The answer to ``request`` (``chat.completions.create`` arguments), from the cache when there."""
        key = request_key(request)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            return Completion(hit["content"], hit["prompt_tokens"], hit["completion_tokens"], True, 0)
        last = ""
        for attempt in range(1, self.cfg.max_retries + 2):
            self.limiter.wait()
            try:
                response = self.client.chat.completions.create(**request)
                content = response.choices[0].message.content or ""
            except RETRYABLE as e:
                last = f"{type(e).__name__}: {str(e)[:200]}"
                if attempt <= self.cfg.max_retries:
                    self.sleep(self._delay(attempt, e))
                continue
            except openai.APIStatusError as e:
                raise RequestRefused(e.status_code, str(e)[:300]) from None
            except (AttributeError, IndexError, TypeError) as e:  # 200 without choices / message
                last = f"malformed response: {e}"
                if attempt <= self.cfg.max_retries:
                    self.sleep(self._delay(attempt, None))
                continue
            usage = response.usage
            completion = Completion(content, int(getattr(usage, "prompt_tokens", 0) or 0),
                                    int(getattr(usage, "completion_tokens", 0) or 0), False, attempt)
            if self.cache is not None:
                self.cache.put(key, {"content": completion.content, "prompt_tokens": completion.prompt_tokens,
                                     "completion_tokens": completion.completion_tokens, "model": response.model})
            return completion
        raise ApiUnavailable(self.cfg.max_retries + 1, last)

    def _delay(self, attempt: int, error: Exception | None) -> float:
        """Exponential backoff with jitter; a 429's Retry-After is honoured (capped by ``max_backoff``)."""
        delay = min(self.cfg.max_backoff, self.cfg.backoff * 2 ** (attempt - 1)) * (0.5 + random.random())
        response = getattr(error, "response", None)
        after = response.headers.get("retry-after") if response is not None else None
        try:
            delay = max(delay, float(after)) if after else delay
        except ValueError:
            pass
        return min(delay, self.cfg.max_backoff)


T = TypeVar("T")
R = TypeVar("R")


def map_in_order(pool: ThreadPoolExecutor, work: Callable[[T], R], items: Iterator[T], window: int
                 ) -> Iterator[tuple[T, Future[R]]]:
    """``(item, future of work(item))`` in input order, with at most ``window`` items submitted and not
    yet consumed (so a long input is never all in flight, and output stays resumable in order)."""
    pending: deque[tuple[T, Future[R]]] = deque((i, pool.submit(work, i)) for i in itertools.islice(items, window))
    while pending:
        item, future = pending.popleft()
        for nxt in itertools.islice(items, 1):
            pending.append((nxt, pool.submit(work, nxt)))
        yield item, future
