"""The judge (``sphinx_x.eval.judge``) against a scripted OpenAI-compatible server on loopback:
re-asking unreadable replies, transport retries (timeouts, 5xx), caching, refusals, configuration errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sphinx_x.eval.judge import Judge, JudgeConfig, JudgeNotConfigured, chat_request, resolve_judge
from sphinx_x.eval.metrics.judge_prompts import MMVET_PROMPT, MMVET_RETRY_SUFFIX, mmvet_query
from sphinx_x.eval.metrics.judged import parse_mmvet_score
from tests.testkit.fake_vlm import fake_vlm
from tests.testkit.paper_benchmarks import judge_answer


def make_judge(url: str, cache: Path | None = None, **overrides) -> Judge:
    settings = {"base_url": url, "model": "judge", "timeout": 0.5, "max_retries": 2, "max_attempts": 3,
                "backoff": 0.0, "concurrency": 1, "requests_per_minute": 60000.0,
                "cache_dir": str(cache) if cache else None, **overrides}
    return Judge(JudgeConfig(**settings), sleep=lambda seconds: None)


def mmvet_ask(judge: Judge, prediction: str = "x = -1 or x = -5"):
    def build(attempt: int):
        return chat_request(judge.model, [{"role": "user", "content": mmvet_query(
            "What is x?", "-1<AND>-5", prediction, retry=attempt > 1)}], temperature=0.5 * (attempt - 1), max_tokens=3)

    return judge.ask("mmvet", build, parse_mmvet_score, label="What is x?")


def test_a_readable_score_is_returned_and_cached_in_memory_and_on_disk(tmp_path: Path) -> None:
    with fake_vlm(answer=judge_answer) as server:
        judge = make_judge(server.url, tmp_path / "cache")
        first = mmvet_ask(judge)
        again = mmvet_ask(judge)
        assert (first.value, first.attempts, first.unreadable, first.ok) == (1.0, 1, 0, True)
        assert (again.value, again.cached, again.attempts) == (1.0, True, 0)
        assert len(server.requests) == 1
        request = server.requests[0]
        assert request["model"] == "judge" and request["temperature"] == 0.0 and request["max_tokens"] == 3
        assert request["messages"][0]["content"] == (
            MMVET_PROMPT + "\nWhat is x? | -1 <AND> -5 | x = -1 or x = -5 | ")
        fresh = make_judge(server.url, tmp_path / "cache")  # a rerun: the disk cache answers
        assert mmvet_ask(fresh).value == 1.0 and fresh.stats["cache_hits"] == 1
        assert len(server.requests) == 1
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 1


def test_unreadable_replies_are_asked_again_with_the_official_retry_prompt(tmp_path: Path) -> None:
    with fake_vlm(script=["garbage", "out_of_range"], answer=judge_answer) as server:
        judge = make_judge(server.url, tmp_path / "cache")
        verdict = mmvet_ask(judge, "x = -1")
        assert (verdict.value, verdict.attempts, verdict.unreadable) == (0.5, 3, 2)
        assert [r["temperature"] for r in server.requests] == [0.0, 0.5, 1.0]
        assert not server.requests[0]["messages"][0]["content"].endswith(MMVET_RETRY_SUFFIX)
        assert all(r["messages"][0]["content"].endswith(MMVET_RETRY_SUFFIX) for r in server.requests[1:])
        assert judge.stats["unreadable_replies"] == 2 and judge.stats["graded"] == 1
        assert mmvet_ask(judge, "x = -1").cached  # the readable verdict is cached under the first request


def test_never_readable_is_a_reported_failure_and_not_cached(tmp_path: Path) -> None:
    with fake_vlm(default="garbage", answer=judge_answer) as server:
        judge = make_judge(server.url, tmp_path / "cache")
        verdict = mmvet_ask(judge)
        assert not verdict.ok and verdict.value is None and verdict.unreadable == 3
        assert verdict.error.startswith("unreadable: no readable score in 3 replies; last: 'I am not able")
        report = judge.report()
        assert report["stats"]["failed_unreadable"] == 1 and report["stats"]["requests"] == 3
        assert report["failures"] == [{"task": "mmvet", "question": "What is x?", "kind": "unreadable",
                                       "reason": verdict.error.removeprefix("unreadable: ")}]
        assert not (tmp_path / "cache").exists()
        server.default = "answer"
        assert mmvet_ask(judge).value == 1.0  # nothing was cached: the next run asks again
        assert len(server.requests) == 4 and len(list((tmp_path / "cache").rglob("*.json"))) == 1


def test_timeouts_and_server_errors_are_retried_by_the_transport() -> None:
    with fake_vlm(script=["timeout", "500"], answer=judge_answer, slow=1.5) as server:
        judge = make_judge(server.url)
        verdict = mmvet_ask(judge)
        assert (verdict.value, verdict.attempts) == (1.0, 1)
        assert server.behaviours == ["timeout", "500", "answer"]
        assert judge.stats["requests"] == 3 and judge.stats["transport_retries"] == 2


def test_a_judge_that_stays_down_is_a_failure_with_its_reason() -> None:
    with fake_vlm(default="503", answer=judge_answer) as server:
        judge = make_judge(server.url)
        verdict = mmvet_ask(judge)
        assert not verdict.ok and verdict.error.startswith("unavailable: no answer after 3 attempts")
        assert judge.stats["failed_unavailable"] == 1 and judge.stats["requests"] == 3
        assert judge.stats["transport_retries"] == 2
        assert len(server.requests) == 3


def test_a_refused_request_is_not_retried() -> None:
    with fake_vlm(default="400", answer=judge_answer) as server:
        judge = make_judge(server.url)
        verdict = mmvet_ask(judge)
        assert not verdict.ok and verdict.error.startswith("refused: HTTP 400")
        assert len(server.requests) == 1
        assert judge.stats["requests"] == 1 and judge.stats["failed_refused"] == 1


def test_map_keeps_the_order_with_concurrency() -> None:
    with fake_vlm(answer=judge_answer) as server:
        judge = make_judge(server.url, concurrency=4)
        predictions = ["x = -1", "x = 3", "x = -5 and x = -1", "nothing", "x = -5"]
        verdicts = judge.map(lambda p: mmvet_ask(judge, p), predictions)
        assert [v.value for v in verdicts] == [0.5, 0.0, 1.0, 0.0, 0.5]


def test_configuration_errors_name_the_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("BASE_URL", "MODEL", "API_KEY_ENV", "CACHE"):
        monkeypatch.delenv(f"SPHINX_X_JUDGE_{variable}", raising=False)
    with pytest.raises(JudgeNotConfigured, match=r"mmvet is scored by a judge model and none is configured: "
                                                 r"set judge.base_url and judge.model"):
        resolve_judge(None, "mmvet", required=True)
    assert resolve_judge({"base_url": None, "model": None}, "mathvista", required=False) is None
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['modle'\]; allowed: \['api_key_env'"):
        JudgeConfig.from_mapping({"modle": "gpt-4"})
    with pytest.raises(ValueError, match="judge.max_attempts: must be >= 1, got 0"):
        JudgeConfig(base_url="http://x", model="m", max_attempts=0)
    monkeypatch.setenv("SPHINX_X_JUDGE_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("SPHINX_X_JUDGE_MODEL", "gpt-4-0613")
    judge = resolve_judge(None, "mmvet", required=True)
    assert judge is not None and judge.model == "gpt-4-0613" and judge.config.api_key_env == "OPENAI_API_KEY"
    assert "key" not in str(judge.report()).lower().replace("api_key_env", "")


def test_mmvet_score_parsing_follows_the_official_reading() -> None:
    assert parse_mmvet_score("0.7") == 0.7
    assert parse_mmvet_score("1.0 (totally right)") == 1.0
    assert parse_mmvet_score("0.5\n") == 0.5
    assert parse_mmvet_score("Correctness: 0.5") is None  # the first word must be the number
    assert parse_mmvet_score("1.5") is None and parse_mmvet_score("-0.1") is None
    assert parse_mmvet_score("nan") is None and parse_mmvet_score("") is None
