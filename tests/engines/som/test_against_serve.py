"""The whole loop against this project's own ``sphinx-x-serve`` on loopback as the VLM (real HTTP, the
``openai`` client, a tiny random model): its answers are not the JSON asked for, so they must land in
rejects.jsonl with reasons while the annotation-free records are still written and tokens are counted."""

from __future__ import annotations

import json

import pytest

from sphinx_x.build_som import main
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.engines.som.shards import read_manifest
from sphinx_x.inference import SphinxInference
from sphinx_x.serve import create_app
from tests.testkit.serving import serve_in_thread
from tests.testkit.som import write_coco

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def long_engine(engine):
    """The random demo engine with room for the SoM instruction (the demo LLM has 1024 positions; the
    demo config cuts prompts at 384 tokens)."""
    p = engine.processor
    processor = SphinxProcessor(p.tokenizer, p.layout, p.template_name, p.system_prompt, max_length=1024)
    return SphinxInference(engine.model, processor, engine.model_cfg)


def test_build_with_sphinx_x_serve_as_the_vlm(long_engine, tmp_path):
    coco, images = write_coco(tmp_path / "coco", n=2)
    out = tmp_path / "out"
    args = ["--coco", str(coco), "--image-root", str(images), "--out", str(out), "--model", "sphinx-demo",
            "--max-tokens", "8", "--request-side", "224", "--concurrency", "2", "--quiet"]
    with serve_in_thread(create_app(long_engine, "sphinx-demo", default_max_tokens=8)) as url:
        assert main([*args, "--base-url", f"{url}/v1"]) == 0
        manifest = read_manifest(out)
        rejects = [json.loads(line) for line in (out / "rejects.jsonl").read_text().splitlines()]
        assert [r["pdf"] for r in rejects] == ["coco/1", "coco/2"]
        assert {r["reason"] for r in rejects} <= {"unparsable_json", "empty_answer", "bad_structure"}
        assert all(r["detail"] for r in rejects)
        assert manifest["records_per_task"] == {"som_marks": 2} and manifest["units"]["written"] == 2
        usage = manifest["usage"]
        assert usage["api_requests"] == 2 and usage["api_cache_hits"] == 0
        assert usage["prompt_tokens"] > 2 * 100 and 0 < usage["completion_tokens"] <= 2 * 8  # counted by the server
        # a rerun into a new folder is answered from the cache: no request reaches the server
        assert main([*args, "--base-url", f"{url}/v1", "--out", str(tmp_path / "again"),
                     "--cache", str(out / "api_cache")]) == 0
    again = read_manifest(tmp_path / "again")["usage"]
    assert again["api_cache_hits"] == 2 and again["api_requests"] == again["prompt_tokens"] == 0
