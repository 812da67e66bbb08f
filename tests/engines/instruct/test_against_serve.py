"""The engine against this project's own ``sphinx-x-serve`` on loopback (real HTTP, the ``openai`` client,
a tiny random model) as both the VLM and the LLM: its captions are too short or its items untagged, so
every image lands in rejects.jsonl with reasons, tokens are counted, and a rerun is answered from the cache."""

from __future__ import annotations

import json

import pytest

from sphinx_x.build_instruct import main
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.engines.api_shards import read_manifest
from sphinx_x.inference import SphinxInference
from sphinx_x.serve import create_app
from tests.testkit.instruct import write_domains
from tests.testkit.serving import serve_in_thread

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def long_engine(engine):
    """The random demo engine with room for the item-writing instruction (the demo LLM has 1024 positions)."""
    p = engine.processor
    processor = SphinxProcessor(p.tokenizer, p.layout, p.template_name, p.system_prompt, max_length=1024)
    return SphinxInference(engine.model, processor, engine.model_cfg)


def test_build_with_sphinx_x_serve_as_vlm_and_llm(long_engine, tmp_path):
    images = write_domains(tmp_path / "images", {"chart": 2}, duplicate=False)
    out = tmp_path / "out"
    args = ["--images", str(images), "--out", str(out), "--model", "sphinx-demo", "--max-tokens", "8",
            "--request-side", "224", "--concurrency", "2", "--rpm", "60000", "--min-caption-chars", "1", "--quiet"]
    with serve_in_thread(create_app(long_engine, "sphinx-demo", default_max_tokens=8)) as url:
        assert main([*args, "--base-url", f"{url}/v1"]) == 0
        manifest = read_manifest(out)
        rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
        assert {r["pdf"] for r in rejects} == {"chart/000.png", "chart/001.png"}
        assert {r["reason"] for r in rejects} <= {"no_tagged_items", "incomplete_item", "no_records", "short_caption"}
        assert all(r["detail"] for r in rejects) and manifest["units"]["written"] == 0
        usage = manifest["usage"]
        assert usage["api_requests"] == 10 and usage["api_cache_hits"] == 0  # caption + 4 types per image
        assert usage["prompt_tokens"] > 10 * 100 and 0 < usage["completion_tokens"] <= 10 * 8  # counted by the server
        assert main([*args, "--base-url", f"{url}/v1", "--out", str(tmp_path / "again"),
                     "--cache", str(out / "api_cache")]) == 0
    again = read_manifest(tmp_path / "again")["usage"]
    assert again["api_cache_hits"] == 10 and again["api_requests"] == again["prompt_tokens"] == 0
