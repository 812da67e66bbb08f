"""Property-style: seeded hostile input (any JSON value in any field, broken lines, truncated files, bad
images) through every reader in ``READERS`` and the sample builder never raises: every item is a Record
that honours the contract or a RecordError with a reason and a location."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError, validate_record
from sphinx_x.data.sources import READERS
from sphinx_x.data.tiling import VisualLayout
from tests.testkit.hostile import FIXTURES, PIXEL_LIMIT, mutate_fixture, mutate_value

TRIALS = 24  # mutated fixtures per reader (each seeded by the reader's name and the trial)
PROMPTS = PromptPool(seed=0)


@pytest.fixture(scope="module")
def builder(demo_tokenizer) -> SphinxProcessor:
    layout = VisualLayout(grid=2, tile_pixels=32, tokens_per_tile=5)
    return SphinxProcessor(demo_tokenizer, layout, "sphinx", max_length=256, max_image_pixels=PIXEL_LIMIT)


def _read(reader: str, fixture: Any) -> tuple[list[Record], list[RecordError]]:
    """Everything the reader yields; a RecordError it raises (an unreadable file) ends it, as in the loader."""
    records, errors = [], []
    try:
        for item in READERS[reader](fixture.spec, PROMPTS):
            (errors if isinstance(item, RecordError) else records).append(item)
    except RecordError as error:
        errors.append(error)
    return records, errors


def _check(records: list[Record], errors: list[RecordError], builder: SphinxProcessor, what: str) -> None:
    for error in errors:
        assert error.reason and (error.record_id or error.where), what
        assert error.reason != "unexpected_value", f"{what}: a value no explicit check caught: {error}"
    for record in records:
        try:  # the loader validates every record; a reader may still yield one that fails here
            validate_record(record)
        except RecordError as error:
            assert error.reason != "unexpected_value", what
            continue
        json.dumps(record, allow_nan=False)  # plain JSON: no NaN or infinity slipped into text, regions or meta
        try:
            sample = builder(record)
        except RecordError as error:
            assert error.reason and error.reason != "unexpected_value", what
        else:
            assert 0 < sample.input_ids.numel() <= builder.max_length


@pytest.mark.parametrize("reader", sorted(READERS))
def test_hostile_annotations_are_records_or_rejects_with_reasons(reader, tmp_path, builder):
    assert reader in FIXTURES, f"reader {reader!r} has no fixture in tests/testkit/hostile.py"
    intact = FIXTURES[reader](tmp_path / "intact")
    records, errors = _read(reader, intact)
    assert records and not errors, "the unmutated fixture is valid"
    _check(records, errors, builder, "intact")
    for trial in range(TRIALS):
        rng = random.Random(f"{reader}:{trial}")
        fixture = FIXTURES[reader](tmp_path / str(trial))
        done = [mutate_fixture(fixture, rng) for _ in range(rng.randint(1, 3))]
        _check(*_read(reader, fixture), builder, f"trial {trial}: {done}")


def test_hostile_records_through_the_sample_builder(builder, tmp_path):
    """Records with any value in any field: the builder makes a sample or raises a RecordError."""
    image = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (64, 48)).save(image)
    base = {"id": "s/1", "source": "s", "task": "t", "images": [str(image)],
            "messages": [{"role": "user", "content": "<image>\nWhere? <region:0>"},
                         {"role": "assistant", "content": "There."}],
            "regions": [{"image": 0, "box": [1.0, 2.0, 30.0, 20.0]}], "meta": {"k": 1}}
    assert builder(json.loads(json.dumps(base))).input_ids.numel() > 0
    outcomes = set()
    for trial in range(400):
        rng = random.Random(trial)
        record = mutate_value(json.loads(json.dumps(base)), rng, rng.randint(1, 3))
        try:
            builder(record)
            outcomes.add("sample")
        except RecordError as error:
            assert error.reason != "unexpected_value", record
            outcomes.add(error.reason)
    assert "sample" in outcomes and len(outcomes) > 5
