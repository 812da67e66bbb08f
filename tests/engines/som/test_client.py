"""The API client against a scripted loopback server: retries on 429 / 5xx / timeouts / malformed bodies,
refused requests, the on-disk cache, and the requests-per-minute limit."""

from __future__ import annotations

import json

import pytest

from sphinx_x.engines.api_client import (
    ApiConfig,
    ApiUnavailable,
    RateLimiter,
    RequestRefused,
    ResponseCache,
    VlmClient,
    request_key,
)
from sphinx_x.engines.som.templates import chat_request, instruction
from tests.testkit.fake_vlm import USAGE, fake_vlm

REQUEST = chat_request("fake", b"\x89PNG not really", instruction("natural", ["1", "2"], ["ball", "box"]), 0.2, 256)


def client(url: str, cache=None, **overrides) -> tuple[VlmClient, list[float]]:
    sleeps: list[float] = []
    cfg = ApiConfig(url, "fake", **{"max_retries": 3, "backoff": 0.01, "timeout": 5.0, "requests_per_minute": 1e9,
                                    **overrides})
    return VlmClient(cfg, cache, sleep=sleeps.append), sleeps


@pytest.mark.parametrize("failure", ["429", "500", "503", "malformed_body", "timeout"])
def test_a_transient_failure_is_retried_with_backoff(failure):
    with fake_vlm(script=[failure, failure], slow=1.0) as fake:
        vlm, sleeps = client(fake.url, timeout=0.4)
        completion = vlm.complete(REQUEST)
    assert fake.behaviours == [failure, failure, "answer"]
    assert completion.attempts == 3 and not completion.cached
    assert json.loads(completion.content)["marks"][0]["id"] == 1
    assert (completion.prompt_tokens, completion.completion_tokens) == (USAGE["prompt_tokens"], USAGE["completion_tokens"])
    backoff = [s for s in sleeps if s >= 1e-4]  # the rate limiter waits ~1e-7 s at 1e9 per minute
    assert len(backoff) == 2 and backoff[1] > backoff[0] * 0.5


def test_retries_run_out_and_a_client_error_is_not_retried():
    with fake_vlm(default="500") as fake:
        vlm, _ = client(fake.url, max_retries=2)
        with pytest.raises(ApiUnavailable, match="3 attempts"):
            vlm.complete(REQUEST)
        assert len(fake.requests) == 3
    with fake_vlm(script=["400"]) as fake:
        vlm, _ = client(fake.url)
        with pytest.raises(RequestRefused) as refused:
            vlm.complete(REQUEST)
        assert refused.value.status == 400 and len(fake.requests) == 1


def test_the_cache_answers_a_repeated_request_without_http(tmp_path):
    cache = ResponseCache(tmp_path / "cache")
    with fake_vlm() as fake:
        first = client(fake.url, cache)[0].complete(REQUEST)
        again = client(fake.url, cache)[0].complete(REQUEST)
        other = client(fake.url, cache)[0].complete({**REQUEST, "temperature": 0.7})
        assert len(fake.requests) == 2
    assert again.cached and again.attempts == 0 and again.content == first.content
    assert not other.cached
    files = sorted((tmp_path / "cache").rglob("*.json"))
    assert [f.stem for f in files] == sorted([request_key(REQUEST), request_key({**REQUEST, "temperature": 0.7})])
    assert json.loads(files[0].read_text())["prompt_tokens"] == USAGE["prompt_tokens"]  # JSON, readable
    files[0].write_text('{"content": "torn')  # a torn file is asked again, not trusted
    assert ResponseCache(tmp_path / "cache").get(files[0].stem) is None


def test_rate_limiter_spaces_requests_evenly():
    now = [0.0]
    waits: list[float] = []
    limiter = RateLimiter(120, clock=lambda: now[0], sleep=waits.append)  # one every 0.5 s
    for _ in range(4):
        limiter.wait()
    assert waits == [0.5, 1.0, 1.5]
    now[0] = 10.0
    limiter.wait()
    assert waits == [0.5, 1.0, 1.5]  # idle long enough: no wait


def test_the_api_key_comes_from_the_environment_and_is_never_stored(monkeypatch):
    monkeypatch.setenv("SOM_TEST_KEY", "sk-secret")
    vlm, _ = client("http://127.0.0.1:9/v1", api_key_env="SOM_TEST_KEY")
    assert vlm.client.api_key == "sk-secret"
    assert "sk-secret" not in json.dumps(vlm.cfg.to_dict())
