"""The ``video_json`` reader (data/sources/video.py) on real video files: records in the common layout, and
hostile items (paths outside the root, missing or corrupt videos) as counted, logged rejects."""

from __future__ import annotations

import logging

import pytest

from sphinx_x.data.records import IMAGE_TOKEN, RecordError, RejectLog
from sphinx_x.data.sources.base import load_source
from sphinx_x.data.sources.values import SourceOptionError
from tests.testkit.files import write_json, write_jsonl
from tests.testkit.sources import PROMPTS, load_spec, read, turns
from tests.testkit.videos import write_video


def _world(tmp_path, items, jsonl=False):
    videos = tmp_path / "video" / "videos"
    write_video(videos / "a.mp4", frames=4)
    write_video(videos / "sub" / "b.mkv", frames=3, codec="ffv1")
    (videos / "noise.mp4").write_bytes(b"\x00\x01junk" * 50)
    (videos / "notes.txt").write_text("not a video")
    write_video(tmp_path / "video" / "outside.mp4", frames=2)
    writer = write_jsonl if jsonl else write_json
    writer(tmp_path / "video" / ("conversations.jsonl" if jsonl else "conversations.json"), items)
    spec = load_spec("video_json", tmp_path)
    if jsonl:
        spec.path = str(tmp_path / "video" / "conversations.jsonl")
    return spec, videos


def _turns(*texts):
    return [{"from": "human" if i % 2 == 0 else "gpt", "value": t} for i, t in enumerate(texts)]


def test_reads_video_conversations_in_the_common_layout(tmp_path):
    spec, videos = _world(tmp_path, [
        {"id": "q1", "video": "a.mp4", "conversations": _turns("<video>\nWhat happens?", "The colour changes.")},
        {"id": "q2", "video": "sub/b.mkv", "conversations": _turns("Describe it.", "Flat colours.", "And?", "Done.")},
    ])
    assert (spec.reader, spec.group, spec.task, spec.image_root) == ("video_json", "vl", "video", str(videos))
    records, errors = read(spec)
    assert errors == []
    assert [r["id"] for r in records] == ["video_json/q1", "video_json/q2"]
    assert records[0]["images"] == [str((videos / "a.mp4").resolve())]
    assert records[0]["messages"] == turns(f"{IMAGE_TOKEN}\nWhat happens?", "The colour changes.")
    assert records[1]["messages"][0]["content"] == f"{IMAGE_TOKEN}\nDescribe it."  # marker added before the first question
    assert records[1]["images"] == [str((videos / "sub" / "b.mkv").resolve())]


@pytest.mark.parametrize(("video", "reason"), [
    ("../outside.mp4", "bad_video_path"),      # leaves the root
    ("/etc/passwd", "bad_video_path"),          # absolute
    ("sub/../../outside.mp4", "bad_video_path"),
    ("notes.txt", "bad_video_path"),            # not a video extension
    ("gone.mp4", "missing_video"),
    ("noise.mp4", "unreadable_video"),          # probed: PyAV cannot open it
    (None, "missing_field"),
    (["a.mp4"], "bad_type"),
    ("", "bad_video_path"),
])
def test_hostile_items_are_rejects_with_reasons(tmp_path, video, reason):
    spec, _ = _world(tmp_path, [{"id": "bad", "video": video, "conversations": _turns("Q?", "A.")},
                                {"id": "ok", "video": "a.mp4", "conversations": _turns("Q?", "A.")}])
    records, errors = read(spec)
    assert [r["id"] for r in records] == ["video_json/ok"]
    assert errors == [(reason, "video_json/bad")]


def test_rejects_are_counted_and_logged_by_the_loader(tmp_path, caplog):
    spec, _ = _world(tmp_path, [
        {"id": "1", "video": "a.mp4", "conversations": _turns("Q?", "A.")},
        {"id": "2", "video": "../outside.mp4", "conversations": _turns("Q?", "A.")},
        {"id": "3", "video": "noise.mp4", "conversations": _turns("Q?", "A.")},
        "not an object",
    ], jsonl=True)
    rejects = RejectLog()
    with caplog.at_level(logging.INFO):
        records = load_source(spec, PROMPTS, rejects)
    assert [r["id"] for r in records] == ["video_json/1"]
    assert rejects.loaded["video_json"] == 3
    assert "source video_json: 1 records, 3 rejected" in caplog.text


def test_probe_off_leaves_corrupt_videos_to_the_sample_builder(tmp_path, demo_tokenizer):
    from sphinx_x.data.processor import SphinxProcessor
    from sphinx_x.data.tiling import VisualLayout

    spec, _ = _world(tmp_path, [{"id": "n", "video": "noise.mp4", "conversations": _turns("Q?", "A.")}])
    spec.options["probe"] = False
    records, errors = read(spec)
    assert len(records) == 1 and errors == []
    processor = SphinxProcessor(demo_tokenizer, VisualLayout(grid=2, tile_pixels=32, tokens_per_tile=5), "sphinx",
                                max_length=256)
    with pytest.raises(RecordError) as caught:
        processor(records[0])
    assert caught.value.reason == "unreadable_video"
    spec.options["probe"] = "yes"
    with pytest.raises(SourceOptionError, match="options.probe: must be true or false"):
        read(spec)


def test_a_video_source_trains_beside_the_demo_mixture(demo_config, tmp_path):
    """``+data/source@data.sources.video_json=video_json`` with the dynamic partition: videos become tall
    images of labelled frames, trained on with the demo's images and text."""
    from sphinx_x.runtime.config import validate_config
    from sphinx_x.train import train

    write_json(tmp_path / "data" / "video" / "conversations.json", [
        {"id": str(k), "video": f"{k}.mp4", "conversations": _turns("<video>\nWhat changes?", "The colour.")}
        for k in range(6)])
    for k in range(6):
        write_video(tmp_path / "data" / "video" / "videos" / f"{k}.mp4", frames=10 + k)
    cfg = demo_config("+data/source@data.sources.video_json=video_json", f"paths.data_root={tmp_path / 'data'}",
                      "data.sources.video_json.weight=3.0", "data.video.max_frames=8", "data.video.frame_side=64",
                      "model/tiling=ixc_dynamic_demo", "trainer.max_steps=2")
    validate_config(cfg)
    result = train(cfg, str(tmp_path / "run"))
    assert result["global_step"] == 2
    rows = (tmp_path / "run" / "csv" / "version_0" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert "train/samples/video_json" in header
    seen = [row.split(",")[header.index("train/samples/video_json")] for row in rows[1:]]
    assert max(float(v) for v in seen if v) > 0  # video samples were drawn and trained on
