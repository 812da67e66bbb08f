"""The docs/som.md recipe: COCO-format annotations + a VLM server -> sphinx-x-build-som shards for every
Set-of-Mark source -> ``python -m sphinx_x.train data=som`` trains (demo model, 2 steps)."""

from __future__ import annotations

import pytest

from sphinx_x.build_som import main as build_som
from sphinx_x.train import train
from tests.testkit.fake_vlm import fake_vlm
from tests.testkit.som import write_coco

pytestmark = pytest.mark.usefixtures("one_thread")


def test_engine_output_trains_with_data_som(tmp_path, demo_config):
    coco, images = write_coco(tmp_path / "coco", n=3)
    data = tmp_path / "data"
    common = ["--coco", str(coco), "--image-root", str(images), "--quiet", "--backoff", "0.01"]
    with fake_vlm() as fake:
        api = ["--base-url", fake.url, "--model", "fake"]
        for domain in ("natural", "screen", "text", "document"):
            assert build_som([*common, *api, "--domain", domain, "--out", str(data / "som" / domain)]) == 0
        assert build_som([*common, *api, "--multipanel", "3", "--max-panels", "3", "--panel-unit", "128",
                          "--out", str(data / "som" / "multipanel")]) == 0
    cfg = demo_config("data=som", f"paths.data_root={data}", "trainer.max_steps=2", "data.num_samples=8",
                      "data.max_length=1024")
    result = train(cfg, str(tmp_path / "run"))
    assert result["global_step"] == 2 and result["rejected"] == {}
