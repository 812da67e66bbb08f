"""Video as one image (data/video.py) from real files written with PyAV: uniform frame sampling, the
labelled concatenation along the short side, rejects with reasons, and the slot count of a 64-frame
video under the dynamic partition (through the processor)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from sphinx_x.data.dynamic_tiling import DynamicLayout
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.records import RecordError
from sphinx_x.data.slots import NEWLINE, START, TEXT
from sphinx_x.data.video import (
    VideoSettings,
    frames_to_image,
    is_video,
    load_video,
    read_frames,
    sample_indices,
)
from tests.testkit.videos import frame_colour, frame_index, write_video


@pytest.mark.parametrize(("total", "count", "expected"), [
    (8, 4, [1, 3, 5, 7]),
    (10, 64, list(range(10))),  # fewer frames than asked: all of them
    (64, 64, list(range(64))),
    (100, 4, [12, 37, 62, 87]),  # the middle of four equal segments
])
def test_sample_indices_are_uniform(total, count, expected):
    assert sample_indices(total, count) == expected


def test_reads_the_uniformly_sampled_frames_of_a_real_video(tmp_path):
    path = write_video(tmp_path / "clip.mp4", frames=200)
    frames = read_frames(path, "r", max_frames=64)
    assert len(frames) == 64 and frames[0].size == (32, 24)
    assert [frame_index(f.getpixel((16, 12)), 200) for f in frames] == sample_indices(200, 64)
    short = write_video(tmp_path / "short.mp4", frames=5)
    assert [frame_index(f.getpixel((16, 12)), 5) for f in read_frames(short, "r", 64)] == [0, 1, 2, 3, 4]


def test_a_container_without_a_frame_count_is_sampled_from_what_decodes(tmp_path):
    path = write_video(tmp_path / "clip.mkv", frames=150, codec="ffv1")  # Matroska headers hold no frame count
    import av

    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0
    frames = read_frames(path, "r", max_frames=8)
    picked = [frame_index(f.getpixel((16, 12)), 150) for f in frames]
    assert len(picked) == 8 and picked == sorted(set(picked)) and picked[0] < 19 and picked[-1] > 130


def test_landscape_frames_stack_into_a_tall_image_with_their_index_drawn():
    frames = [Image.new("RGB", (32, 24), frame_colour(k)) for k in range(3)]
    settings = VideoSettings(frame_side=64)  # frames 64 x 48, a 12 px band above each
    image = frames_to_image(frames, settings)
    assert settings.label_height == 12 and image.size == (64, 3 * (48 + 12))
    for k in range(3):
        assert image.getpixel((32, k * 60 + 12 + 24)) == frame_colour(k)  # frame k under its band
        band = image.crop((0, k * 60, 64, k * 60 + 12))
        assert min(band.convert("L").getdata()) < 100  # ink: "Frame k" is written there
    bands = [image.crop((0, k * 60, 64, k * 60 + 12)).tobytes() for k in range(3)]
    assert len(set(bands)) == 3  # each band says a different index
    portrait = frames_to_image([Image.new("RGB", (24, 32))] * 3, settings)
    assert portrait.size == (3 * 48, 64 + 12)  # portrait frames sit side by side
    plain = frames_to_image(frames, VideoSettings(frame_side=64, label=False))
    assert plain.size == (64, 3 * 48)


def test_bad_videos_are_rejects_with_reasons(tmp_path):
    settings = VideoSettings(frame_side=32)
    (tmp_path / "noise.mp4").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "empty.mp4").write_bytes(b"")
    whole = write_video(tmp_path / "whole.mp4", frames=8).read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(whole[: len(whole) // 2])  # its index (moov) is at the end
    (tmp_path / "folder.mp4").mkdir()
    good = write_video(tmp_path / "big.mp4", frames=2, size=(16, 12))
    cases = {"missing.mp4": "missing_video", "folder.mp4": "missing_video", "noise.mp4": "unreadable_video",
             "empty.mp4": "unreadable_video", "truncated.mp4": "unreadable_video"}
    for name, reason in cases.items():
        with pytest.raises(RecordError) as caught:
            load_video(tmp_path / name, "r", settings)
        assert (caught.value.reason, caught.value.record_id) == (reason, "r"), name
    with pytest.raises(RecordError, match="16x12 frames, over data.max_image_pixels=100") as caught:
        load_video(good, "r", settings, max_pixels=100)
    assert caught.value.reason == "video_too_large"
    with pytest.raises(RecordError, match="as one image, over data.max_image_pixels=2000"):
        load_video(good, "r", settings, max_pixels=2000)  # 32 x (24 + 12) x 2 frames = 2304
    with pytest.raises(RecordError) as caught:
        load_video(None, "r", settings)
    assert caught.value.reason == "bad_video_path"
    with pytest.raises(ValueError, match="data.video.max_frames: must be an integer >= 1"):
        VideoSettings(max_frames=0)
    with pytest.raises(ValueError, match=r"data.video: unknown fields \['fps'\]"):
        VideoSettings.from_config({"fps": 2})
    assert is_video("a/b.MP4") and is_video(Path("x.webm")) and not is_video("a.png") and not is_video(None)


def _video_record(path: Path) -> dict:
    return {"id": "v", "source": "video", "task": "video", "images": [str(path)],
            "messages": [{"role": "user", "content": "<image>\nWhat changes?"},
                         {"role": "assistant", "content": "The colour."}]}


def test_a_64_frame_video_at_the_papers_size_takes_24_tiles_in_one_column(tmp_path, demo_tokenizer):
    """64 frames of 16:9 -> 1120 x 64 * (630 + 40) px; ratio 38: s = 24 (24 * 1 <= 24) -> one column of 24
    tiles of 560 px: 25 groups of 400 + 2, a separator and 24 newlines = 10075 slots."""
    path = write_video(tmp_path / "clip.mp4", frames=64, size=(64, 36))
    layout = DynamicLayout(tile_pixels=560, tokens_per_tile=400, max_tiles=24)
    image = load_video(path, "v", VideoSettings())
    assert image.size == (1120, 64 * (630 + 40))
    frame = layout.frame(*image.size)
    assert (frame.cols, frame.rows) == (1, 24)
    assert layout.num_slots(layout.keep_mask(frame)) == 25 * 402 + 1 + 24 == 10075
    processor = SphinxProcessor(demo_tokenizer, layout, "sphinx", max_length=10200)
    sample = processor(_video_record(path))
    assert int((sample.slot_kind != TEXT).sum()) == 10075 and int((sample.slot_kind == NEWLINE).sum()) == 24
    assert sample.pixels.shape == (25, 3, 560, 560)


def test_processor_reads_video_records_with_its_saved_settings(tmp_path, demo_tokenizer):
    path = write_video(tmp_path / "clip.mp4", frames=30, size=(32, 24))
    layout = DynamicLayout(tile_pixels=32, tokens_per_tile=3, max_tiles=6)
    processor = SphinxProcessor(demo_tokenizer, layout, "sphinx", max_length=512,
                                video=VideoSettings(max_frames=8, frame_side=32))
    sample = processor(_video_record(path))
    # 8 frames of 32 x 24 under 12 px bands: 32 x 288, ratio 9 -> one column of 6 tiles
    assert (sample.frames[0].width, sample.frames[0].height) == (32, 288)
    assert int((sample.slot_kind == START).sum()) == 7 and sample.pixels.shape == (7, 3, 32, 32)
    assert int((sample.slot_kind != TEXT).sum()) == 7 * 5 + 1 + 6
    processor.save_pretrained(tmp_path / "proc")
    loaded = SphinxProcessor.from_pretrained(tmp_path / "proc")
    assert loaded.video == processor.video
    assert torch.equal(loaded(_video_record(path)).pixels, sample.pixels)
    with pytest.raises(RecordError) as caught:
        processor(_video_record(tmp_path / "gone.mp4"))
    assert caught.value.reason == "missing_video"
