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
    assert rejects.per_source() == {"chat": 2} and rejects.total() == 2
    rows = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    # one id format: <source>:<file>:<line>, whichever check rejected the item
    assert [(r["id"], r["reason"], r["record"], r["stage"]) for r in rows] == [
        ("chat:chat.jsonl:2", "malformed_json", None, "load"), ("chat:chat.jsonl:3", "empty_conversation", "chat/2", "load")]
    with pytest.raises(RecordError, match="malformed_json"):
        load_source(SourceSpec(name="chat", reader="sharegpt", path=str(path), group="language"),
                    PromptPool(), RejectLog(strict=True))


def test_only_rank_zero_writes_load_time_rows_but_every_rank_counts_them(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text("{not json\n")
    other_rank = RejectLog(tmp_path / "rejects.jsonl", rank=1)
    load_source(SourceSpec(name="chat", reader="sharegpt", path=str(path), group="language"), PromptPool(), other_rank)
    assert other_rank.per_source() == {"chat": 1} and not (tmp_path / "rejects.jsonl").exists()


def test_a_truncated_json_list_is_one_reject_naming_file_and_line(tmp_path):
    path = tmp_path / "chat.json"
    path.write_text('[{"id": "1", "conversations": [{"from": "human", "value": "hi"},\n {"from": "gpt"')
    rejects = RejectLog(tmp_path / "rejects.jsonl")
    assert load_source(SourceSpec(name="chat", reader="sharegpt", path=str(path), group="language"),
                       PromptPool(), rejects) == []
    (row,) = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert row["id"] == "chat:chat.json:2" and row["reason"] == "malformed_json"
    assert str(path) in row["detail"] and "line 2" in row["detail"]


def test_null_values_and_nan_boxes_are_rejected_not_trained_as_text(tmp_path):
    turns = [{"from": "human", "value": "<image> where is it?"}, {"from": "gpt", "value": None}]
    nan_box = [{"from": "human", "value": "<image> where is it?"}, {"from": "gpt", "value": "at [NaN, 0.1, 0.5, 0.5]"}]
    Image.new("RGB", (40, 20)).save(tmp_path / "a.png")
    path = tmp_path / "llava.json"
    path.write_text(json.dumps([{"id": "a", "image": "a.png", "conversations": turns},
                                {"id": "b", "image": "a.png", "conversations": nan_box}]))
    spec = SourceSpec(name="llava", reader="llava", path=str(path), image_root=str(tmp_path),
                      options={"box_format": "normalized_original"})
    rejects = RejectLog()
    assert load_source(spec, PromptPool(), rejects) == []
    assert rejects.counts == {("llava", "missing_field"): 1, ("llava", "bad_box"): 1}


def _worker_records(tmp_path):
    Image.new("RGB", (40, 20)).save(tmp_path / "ok.png")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG not really")
    (tmp_path / "folder.png").mkdir()
    return [
        make_record("ok", "s", "t", conversation("<image> q", "a"), [str(tmp_path / "ok.png")]),
        make_record("s/missing", "s", "t", conversation("<image> q", "a"), [str(tmp_path / "nope.png")]),
        make_record("s/folder", "s", "t", conversation("<image> q", "a"), [str(tmp_path / "folder.png")]),
        make_record("s/corrupt", "s", "t", conversation("<image> q", "a"), [str(tmp_path / "corrupt.png")]),
        make_record("s/outside", "s", "t", conversation("<image> <region:0>", "a"), [str(tmp_path / "ok.png")],
                    [{"box": [0, 0, 50, 10]}]),
        make_record("s/long", "s", "t", conversation("word " * 400, "a")),
    ]


def test_worker_side_failures_are_returned_for_the_consumer_to_count(tmp_path, demo_tokenizer):
    records = _worker_records(tmp_path)
    layout = VisualLayout(grid=2, tile_pixels=32, tokens_per_tile=5)
    builder = SphinxProcessor(demo_tokenizer, layout, "sphinx", max_length=256)
    dataset = MixtureDataset([("s", records)], builder, files={"s": "s.json"})
    batch = Collator(0, ["s"])([dataset[i] for i in range(len(records))])
    assert batch.ids == ["ok"] and batch.rejected == {"s": 5}
    assert [(row["id"], row["reason"]) for row in batch.reject_rows] == [
        ("s:s.json:id=missing", "missing_image"), ("s:s.json:id=folder", "missing_image"),
        ("s:s.json:id=corrupt", "unreadable_image"), ("s:s.json:id=outside", "box_outside_image"),
        ("s:s.json:id=long", "too_long")]
    strict = MixtureDataset([("s", records)], builder, strict=True)
    with pytest.raises(RecordError, match=r"missing_image \(record s/missing\)"):
        strict[1]


def test_image_size_is_checked_from_the_header_before_decoding(tmp_path):
    from sphinx_x.data.images import header_size, load_image

    big, bomb = tmp_path / "big.png", tmp_path / "bomb.png"
    Image.new("1", (12000, 12000)).save(big)  # 144 megapixels in a few kilobytes
    assert big.stat().st_size < 100_000 and header_size(str(big), "r") == (12000, 12000)
    with pytest.raises(RecordError, match="image_too_large.*over data.max_image_pixels=1000000"):
        load_image(str(big), "r", max_pixels=1_000_000)
    Image.new("1", (14000, 14000)).save(bomb)  # over twice PIL's limit: PIL refuses it when opening
    for read in (lambda: header_size(str(bomb), "r"), lambda: load_image(str(bomb), "r", max_pixels=None)):
        with pytest.raises(RecordError, match="image_too_large.*decompression bomb"):
            read()
    with pytest.raises(RecordError, match="bad_image_path"):
        load_image(123, "r")


def test_consumed_rejects_are_counted_once_summed_and_carried_by_the_checkpoint_state(tmp_path):
    rejects = RejectLog(tmp_path / "rejects.jsonl")
    rejects.add("a", RecordError("malformed_json", "x", where="a.jsonl:3"))
    row = RejectLog.row("b", RecordError("missing_image", "nope.png", "b/7"), "b.json", "train")
    rejects.write_consumed([row])  # this rank's row
    rejects.add_consumed({"b": 3, "a": 0})  # the step's total over ranks
    assert rejects.per_source() == {"a": 1, "b": 3} and rejects.total() == 4
    resumed = RejectLog()
    resumed.load_state_dict(rejects.state_dict())
    assert resumed.per_source() == {"b": 3}  # load-time rejects are counted again when the sources are read
    val = RejectLog.row("v", RecordError("missing_image", "", "v/1"), "v.json", "val")
    rejects.write_validation([val])
    rejects.write_validation([val])  # every validation pass sees it again: written once, never counted
    rows = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [(r["id"], r["stage"]) for r in rows] == [
        ("a:a.jsonl:3", "load"), ("b:b.json:id=7", "train"), ("v:v.json:id=1", "val")]
    assert rejects.total() == 4
