"""Bad input is skipped with a counted reason in the rejects file, or raises when strict."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from sphinx_x.data.collate import Collator
from sphinx_x.data.dataset import MixtureDataset
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import RecordError, RejectLog, conversation, make_record, validate_record
from sphinx_x.data.sources.base import SourceSpec, load_source
from sphinx_x.data.tiling import VisualLayout


@pytest.mark.parametrize(("record", "reason"), [
    (make_record("a", "s", "t", []), "empty_conversation"),
    (make_record("a", "s", "t", conversation("q", "a")[::-1]), "roles_out_of_order"),
    (make_record("a", "s", "t", conversation("q")), "no_answer"),
    (make_record("a", "s", "t", conversation("q", " ")), "empty_turn"),
    (make_record("a", "s", "t", conversation("<image> q", "a")), "image_count_mismatch"),
    (make_record("a", "s", "t", conversation("<image> <region:1>", "a"), ["x.png"], [{"box": [0, 0, 1, 1]}]),
     "unknown_region"),
    (make_record("a", "s", "t", conversation("<image> <region:0>", "a"), ["x.png"], [{"box": [5, 5, 5, 9]}]),
     "degenerate_box"),
])
def test_contract_violations_have_reasons(record, reason):
    with pytest.raises(RecordError) as info:
        validate_record(record)
    assert info.value.reason == reason and info.value.record_id == "a"


def test_box_outside_image_needs_sizes():
    record = make_record("a", "s", "t", conversation("<image> <region:0>", "a"), ["x.png"], [{"box": [0, 0, 120, 10]}])
    validate_record(record)
    with pytest.raises(RecordError, match="box_outside_image"):
        validate_record(record, [(100, 50)])


def test_reader_rejects_go_to_file_with_counts(tmp_path):
    good = {"id": "1", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}
    empty = {"id": "2", "conversations": []}
    lines = [json.dumps(good), "{not json", json.dumps(empty)]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(lines))
    rejects = RejectLog(tmp_path / "rejects.jsonl")
    records = load_source(SourceSpec(name="chat", reader="sharegpt", path=str(path), group="language"),
                          PromptPool(), rejects)
    assert [r["id"] for r in records] == ["chat/1"]
    assert rejects.counts == {("chat", "malformed_json"): 1, ("chat", "empty_conversation"): 1}
    rows = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert {r["reason"] for r in rows} == {"malformed_json", "empty_conversation"}
    with pytest.raises(RecordError, match="malformed_json"):
        load_source(SourceSpec(name="chat", reader="sharegpt", path=str(path), group="language"),
                    PromptPool(), RejectLog(strict=True))


def test_worker_side_failures_are_counted_not_fatal(tmp_path, demo_tokenizer):
    Image.new("RGB", (40, 20)).save(tmp_path / "ok.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG not really")
    records = [
        make_record("ok", "s", "t", conversation("<image> q", "a"), [str(tmp_path / "ok.png")]),
        make_record("missing", "s", "t", conversation("<image> q", "a"), [str(tmp_path / "nope.png")]),
        make_record("corrupt", "s", "t", conversation("<image> q", "a"), [str(tmp_path / "corrupt.png")]),
        make_record("outside", "s", "t", conversation("<image> <region:0>", "a"), [str(tmp_path / "ok.png")],
                    [{"box": [0, 0, 50, 10]}]),
        make_record("long", "s", "t", conversation("word " * 400, "a")),
    ]
    layout = VisualLayout(grid=2, tile_pixels=32, tokens_per_tile=5)
    builder = SphinxProcessor(demo_tokenizer, layout, "sphinx", max_length=256)
    rejects = RejectLog(tmp_path / "rejects.jsonl")
    dataset = MixtureDataset([("s", records)], builder, rejects)
    batch = Collator(0, ["s"])([dataset[i] for i in range(len(records))])
    assert batch.ids == ["ok"] and batch.rejected == {"s": 4}
    assert {r for (_, r) in rejects.counts} == {"missing_image", "unreadable_image", "box_outside_image", "too_long"}
    strict = MixtureDataset([("s", records)], builder, RejectLog(strict=True))
    with pytest.raises(RecordError, match=r"missing_image \(record missing\)"):
        strict[1]
