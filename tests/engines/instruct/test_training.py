"""The docs/mminstruct.md recipe: domain folders + an API -> sphinx-x-build-instruct shards ->
``python -m sphinx_x.train data=mminstruct`` trains (demo model, 2 steps)."""

from __future__ import annotations

import pytest

from sphinx_x.build_instruct import main as build_instruct
from sphinx_x.train import train
from tests.testkit.fake_vlm import fake_vlm
from tests.testkit.instruct import instruct_answer, write_domains

pytestmark = pytest.mark.usefixtures("one_thread")


def test_engine_output_trains_with_data_mminstruct(tmp_path, demo_config):
    images = write_domains(tmp_path / "images", {"natural": 2, "chart": 1})
    data = tmp_path / "data"
    with fake_vlm(answer=instruct_answer) as fake:
        assert build_instruct(["--images", str(images), "--out", str(data / "mminstruct"), "--base-url", fake.url,
                               "--model", "fake", "--rpm", "60000", "--quiet"]) == 0
    cfg = demo_config("data=mminstruct", f"paths.data_root={data}", "trainer.max_steps=2", "data.num_samples=8",
                      "data.max_length=1024")
    result = train(cfg, str(tmp_path / "run"))
    assert result["global_step"] == 2 and result["rejected"] == {}
