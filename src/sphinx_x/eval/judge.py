"""A judge model over an OpenAI-compatible chat API, for benchmarks scored by a model.

MM-Vet and LLaVA-Bench (in-the-wild) are graded by GPT-4 with their official prompts
(:mod:`sphinx_x.eval.metrics.judge_prompts`); MathVista can ask it to extract an answer the rules
could not read. Requests go through the same :class:`~sphinx_x.engines.api_client.VlmClient` as the
data engines (requests-per-minute limit, retries with backoff on 429 / 5xx / timeouts / broken
bodies). On top of that the judge:

- re-asks when the reply cannot be read as a score (the official scripts do the same; MM-Vet's second
  and later asks add "Predict the correctness of the answer (digit): " and raise the temperature);
- caches every *readable* verdict, in memory and, with ``cache_dir``, on disk keyed by the endpoint
  and the request, so a rerun (or a second scoring of the same answers) asks nothing again; unreadable replies and
  failures are never cached, so the next run asks again;
- counts what happened (``stats``) and keeps the reason of every failure (``failures``).

Configured by ``judge.{base_url,model,api_key_env,...}`` in ``evaluate.yaml`` or, for
``sphinx-x-score``, the environment variables ``SPHINX_X_JUDGE_BASE_URL`` and ``SPHINX_X_JUDGE_MODEL``
(and optionally ``SPHINX_X_JUDGE_API_KEY_ENV``, ``SPHINX_X_JUDGE_CACHE``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from sphinx_x.engines.api_client import (
    ApiConfig,
    ApiUnavailable,
    RequestRefused,
    ResponseCache,
    VlmClient,
    request_key,
)

T = TypeVar("T")
R = TypeVar("R")
ENV_PREFIX = "SPHINX_X_JUDGE_"


class JudgeNotConfigured(ValueError):
    """A benchmark needs a judge model and none is configured."""


@dataclass(frozen=True)
class JudgeConfig:
    """Where the judge is and how hard to try. ``base_url`` and ``model`` are required to use it."""

    base_url: str | None = None  # e.g. https://api.openai.com/v1, or a local OpenAI-compatible server
    model: str | None = None  # MM-Vet's official grader is gpt-4-0613, LLaVA-Bench's gpt-4-0314
    api_key_env: str = "OPENAI_API_KEY"  # the environment variable holding the key (never the key itself)
    cache_dir: str | None = None  # verdicts cached here (on disk); None: in memory only
    timeout: float = 60.0  # seconds per request
    max_retries: int = 5  # transport retries per ask (429, 5xx, timeouts, broken bodies)
    max_attempts: int = 5  # asks per question while the reply cannot be read as a score
    backoff: float = 2.0  # seconds before the first transport retry, doubled each time
    max_backoff: float = 60.0
    concurrency: int = 4  # questions graded at once
    requests_per_minute: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"judge.max_attempts: must be >= 1, got {self.max_attempts}")
        if self.concurrency < 1:
            raise ValueError(f"judge.concurrency: must be >= 1, got {self.concurrency}")

    @property
    def configured(self) -> bool:
        return bool(self.base_url) and bool(self.model)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> JudgeConfig:
        """From ``evaluate.judge``; an unknown key is an error naming it."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown option(s) {unknown}; allowed: {sorted(known)}")
        return cls(**{k: v for k, v in values.items() if v is not None})

    @classmethod
    def from_env(cls) -> JudgeConfig:
        """From ``SPHINX_X_JUDGE_BASE_URL``, ``_MODEL``, ``_API_KEY_ENV``, ``_CACHE`` (unset: not configured)."""
        env = os.environ
        values = {"base_url": env.get(ENV_PREFIX + "BASE_URL"), "model": env.get(ENV_PREFIX + "MODEL"),
                  "api_key_env": env.get(ENV_PREFIX + "API_KEY_ENV"), "cache_dir": env.get(ENV_PREFIX + "CACHE")}
        return cls(**{k: v for k, v in values.items() if v})


def not_configured_message(benchmark: str) -> str:
    return (f"{benchmark} is scored by a judge model and none is configured: set judge.base_url and judge.model "
            f"(evaluate.yaml; e.g. judge.base_url=https://api.openai.com/v1 judge.model=gpt-4-0613, the key in "
            f"the variable named by judge.api_key_env), or {ENV_PREFIX}BASE_URL and {ENV_PREFIX}MODEL for "
            f"sphinx-x-score")


@dataclass(frozen=True)
class Verdict:
    """What the judge said about one question: ``value`` is the parsed reply (None when it failed)."""

    value: Any
    content: str
    attempts: int  # asks made for this verdict (0 when it came from the cache)
    unreadable: int  # replies that could not be parsed before this verdict
    error: str | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


Request = dict[str, Any]


class Judge:
    """Thread-safe. ``ask`` grades one question; ``map`` grades many at ``concurrency`` at once."""

    def __init__(self, config: JudgeConfig, sleep: Callable[[float], None] = time.sleep):
        if not config.configured:
            raise JudgeNotConfigured(not_configured_message("this benchmark"))
        self.config = config
        api = ApiConfig(base_url=str(config.base_url), model=str(config.model), api_key_env=config.api_key_env,
                        concurrency=config.concurrency, requests_per_minute=config.requests_per_minute,
                        max_retries=config.max_retries, timeout=config.timeout, backoff=config.backoff,
                        max_backoff=config.max_backoff)
        self.client = VlmClient(api, cache=None, sleep=sleep)  # only readable verdicts are cached (below)
        self.disk = ResponseCache(config.cache_dir) if config.cache_dir else None
        self.memory: dict[str, dict[str, Any]] = {}
        self.stats: Counter[str] = Counter()
        self.failures: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def model(self) -> str:
        return str(self.config.model)

    def ask(self, task: str, build: Callable[[int], Request], parse: Callable[[str], T | None],
            label: str = "") -> Verdict:
        """Ask ``build(1)``; while the reply does not ``parse`` (None), ask ``build(k)`` for k = 2 ..
        ``max_attempts``. Transport errors are retried inside the client; a question still without a
        readable verdict gets ``Verdict.error`` and is listed in ``failures`` (``label`` names it)."""
        first = build(1)
        key = request_key({"task": task, "base_url": self.config.base_url, "request": first})
        hit = self._cached(key)
        if hit is not None:
            with self.lock:
                self.stats["cache_hits"] += 1
            return Verdict(hit["value"], hit["content"], 0, 0, cached=True)
        content, unreadable = "", 0
        for attempt in range(1, self.config.max_attempts + 1):
            request = first if attempt == 1 else build(attempt)
            try:
                completion = self.client.complete(request)
            except ApiUnavailable as error:
                with self.lock:
                    self.stats["requests"] += error.attempts
                    self.stats["transport_retries"] += max(0, error.attempts - 1)
                return self._fail(task, label, "unavailable", str(error), attempt, unreadable)
            except RequestRefused as error:
                with self.lock:
                    self.stats["requests"] += 1
                return self._fail(task, label, "refused", str(error), attempt, unreadable)
            with self.lock:
                self.stats["requests"] += completion.attempts
                self.stats["transport_retries"] += max(0, completion.attempts - 1)
            content = completion.content
            value = parse(content)
            if value is not None:
                with self.lock:
                    self.stats["graded"] += 1
                self._store(key, {"value": value, "content": content})
                return Verdict(value, content, attempt, unreadable)
            unreadable += 1
            with self.lock:
                self.stats["unreadable_replies"] += 1
        return self._fail(task, label, "unreadable", f"no readable score in {self.config.max_attempts} replies; "
                          f"last: {content[:120]!r}", self.config.max_attempts, unreadable)

    def map(self, work: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[work(item) for item in items]``, ``concurrency`` at a time, in order."""
        items = list(items)
        if self.config.concurrency == 1 or len(items) <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(self.config.concurrency) as pool:
            return list(pool.map(work, items))

    def report(self) -> dict[str, Any]:
        """Counts and failures, for the scores file (never the key)."""
        with self.lock:
            return {"model": self.model, "base_url": self.config.base_url, "stats": dict(sorted(self.stats.items())),
                    "failures": list(self.failures)}

    def _fail(self, task: str, label: str, kind: str, reason: str, attempts: int, unreadable: int) -> Verdict:
        with self.lock:
            self.stats[f"failed_{kind}"] += 1
            self.failures.append({"task": task, "question": label, "kind": kind, "reason": reason})
        return Verdict(None, "", attempts, unreadable, error=f"{kind}: {reason}")

    def _cached(self, key: str) -> dict[str, Any] | None:
        with self.lock:
            if key in self.memory:
                return self.memory[key]
        hit = self.disk.get(key) if self.disk is not None else None
        if hit is not None and "value" in hit:
            with self.lock:
                self.memory[key] = hit
            return hit
        return None

    def _store(self, key: str, entry: dict[str, Any]) -> None:
        json.dumps(entry)  # a verdict must be JSON (it goes to the disk cache)
        with self.lock:
            self.memory[key] = entry
        if self.disk is not None:
            self.disk.put(key, entry)


def resolve_judge(judge: Judge | Mapping[str, Any] | JudgeConfig | None, benchmark: str,
                  required: bool) -> Judge | None:
    """The judge to use: the one given, one built from a mapping / config, else from the environment.

    Raises :class:`JudgeNotConfigured` (naming the fields to set) when ``required`` and there is none.
    """
    if isinstance(judge, Judge):
        return judge
    config = judge if isinstance(judge, JudgeConfig) else (
        JudgeConfig.from_mapping(judge) if judge is not None else JudgeConfig.from_env())
    if not config.configured:
        if required:
            raise JudgeNotConfigured(not_configured_message(benchmark))
        return None
    return Judge(config)


def chat_request(model: str, messages: Sequence[Mapping[str, str]], temperature: float, max_tokens: int) -> Request:
    """``chat.completions.create`` arguments."""
    return {"model": model, "messages": [dict(m) for m in messages], "temperature": temperature,
            "max_tokens": max_tokens}
