"""sphinx-x-build-instruct against a scripted OpenAI-compatible server on loopback: records of the four
types with type hints, dedup, rejects with reasons, faults retried or deferred, resume and cache."""

from __future__ import annotations

import json

from sphinx_x.build_instruct import main
from sphinx_x.data.prompts import MMINSTRUCT_POOLS, PromptPool
from sphinx_x.data.sources.base import SourceSpec
from sphinx_x.data.sources.instruct_shards import read_instruct_shards
from sphinx_x.engines.api_shards import read_manifest
from tests.testkit.fake_vlm import fake_vlm
from tests.testkit.instruct import instruct_answer, write_domains


def run(images, out, url, *extra: str) -> int:
    return main(["--images", str(images), "--out", str(out), "--base-url", url, "--model", "fake", "--quiet",
                 "--backoff", "0.01", "--concurrency", "1", "--rpm", "60000", *extra])


def rejects_of(out) -> list[dict]:
    return [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]


def test_build_records_dedup_reader_and_rerun(tmp_path) -> None:
    images = write_domains(tmp_path / "images", {"natural": 2, "chart": 1})
    out = tmp_path / "out"
    with fake_vlm(answer=instruct_answer, script=["answer"] * 5 + ["bad"] * 5) as fake:
        assert run(images, out, fake.url) == 0
        assert len(fake.requests) == 15  # 3 images x (caption + 4 types); the copy is not asked about
        caption_request, item_request = fake.requests[0], fake.requests[1]
        assert caption_request["messages"][1]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
        text = item_request["messages"][1]["content"]
        assert isinstance(text, str) and "A red ball sits on the left" in text and "<Q1>" in text
        assert sum(line.startswith("- ") for line in text.splitlines()) == 3  # three seed questions
        manifest = read_manifest(out)
        # chart/000 and natural/001 are fine; natural/000 got "bad" items of every type, so
        # it keeps none (rejected), and its copy is a duplicate (not asked about)
        assert manifest["units"] == {"seen": 4, "written": 2, "rejected": 2}
        assert manifest["records_per_task"] == {"mmi_choice": 2, "mmi_judgement": 2, "mmi_long": 2, "mmi_short": 2}
        assert manifest["rejects"] == {"answer_too_short": 1, "bad_options": 1, "duplicate_image": 1,
                                       "judgement_unbalanced": 3, "no_records": 1, "ungrounded_answer": 1}
        bad = [r for r in rejects_of(out) if r["pdf"] == "natural/000.png" and r["reason"] != "no_records"]
        assert {r["type"] for r in bad} == {"judgement", "choice", "short", "long"} and all(r["detail"] for r in bad)
        assert manifest["usage"]["api_requests"] == 15 and manifest["usage"]["prompt_tokens"] == 15000
        # a rerun asks nothing; a build into a new folder is answered from the cache
        assert run(images, out, fake.url) == 0 and len(fake.requests) == 15
        assert run(images, tmp_path / "again", fake.url, "--cache", str(out / "api_cache")) == 0
        assert len(fake.requests) == 15 and read_manifest(tmp_path / "again")["usage"]["api_cache_hits"] == 15
    records = list(read_instruct_shards(SourceSpec("mminstruct", "instruct_shards", str(out)), PromptPool()))
    assert len(records) == 8 and {r["meta"]["domain"] for r in records} == {"natural", "chart"}
    judgement = next(r for r in records if r["task"] == "mmi_judgement")
    answers = [m["content"] for m in judgement["messages"] if m["role"] == "assistant"]
    assert sorted(answers) == ["No", "No", "Yes", "Yes"]
    assert judgement["messages"][0]["content"].startswith("<image>\n")
    hints = [p.split("}", 1)[1] for p in MMINSTRUCT_POOLS["mmi_judgement"]]
    assert all(any(m["content"].endswith(h) for h in hints) for m in judgement["messages"] if m["role"] == "user")
    choice = next(r for r in records if r["task"] == "mmi_choice")
    question, answer = choice["messages"][0]["content"], choice["messages"][1]["content"]
    assert "There are several options:\nA. " in question and answer.split(". ", 1)[1] == "red"
    assert f"{answer.split('.')[0]}. red" in question
    spec = SourceSpec("mminstruct", "instruct_shards", str(out), options={"types": ["long"], "domains": ["chart"]})
    assert [r["task"] for r in read_instruct_shards(spec, PromptPool())] == ["mmi_long"]


def test_faults_retried_deferred_refused_and_garbage_rejected(tmp_path) -> None:
    images = write_domains(tmp_path / "images", {"chart": 2}, duplicate=False)
    out = tmp_path / "out"
    # image 1: 429, 500 and a cut-off body are retried; image 2's caption keeps failing -> left for a rerun
    script = ["429", "answer", "500", "answer", "malformed_body", "answer", "answer", "answer"] + ["503"] * 3
    with fake_vlm(answer=instruct_answer, script=script) as fake:
        assert run(images, out, fake.url, "--max-retries", "2") == 3
        manifest = read_manifest(out)
        assert manifest["pending"] == 1 and manifest["units"]["written"] == 1
        assert manifest["usage"]["api_retries"] == 3
        assert run(images, out, fake.url, "--max-retries", "2") == 0
        assert read_manifest(out)["units"] == {"seen": 2, "written": 2, "rejected": 0}
    # prose instead of tags, a refused request, a too-short caption
    out2 = tmp_path / "out2"
    script = ["answer", "prose", "400", "answer", "answer", "short_caption"]
    with fake_vlm(answer=instruct_answer, script=script) as fake:
        assert run(images, out2, fake.url, "--max-retries", "0") == 0
    reasons = [(r["pdf"], r["reason"]) for r in rejects_of(out2)]
    assert reasons == [("chart/000.png", "no_tagged_items"), ("chart/000.png", "api_refused"),
                       ("chart/001.png", "short_caption")]
    assert read_manifest(out2)["records_per_task"] == {"mmi_long": 1, "mmi_short": 1}


def test_cli_refuses_unknown_domains_and_other_settings(tmp_path, capsys) -> None:
    images = write_domains(tmp_path / "images", {"memes": 1}, duplicate=False)
    with fake_vlm(answer=instruct_answer) as fake:
        assert run(images, tmp_path / "out", fake.url) == 2
        assert "no seed questions for domain(s) ['memes']" in capsys.readouterr().err
        seeds = tmp_path / "seeds.json"
        seeds.write_text(json.dumps({"memes": ["Why is this funny?", "What does the text say?"]}))
        assert run(images, tmp_path / "out", fake.url, "--seeds", str(seeds)) == 0
        assert run(images, tmp_path / "out", fake.url, "--seeds", str(seeds), "--min-grounding", "0.9") == 2
        assert "min_grounding=0.5 there, 0.9 now" in capsys.readouterr().err
