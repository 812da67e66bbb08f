"""Generation: greedy determinism, left-padded batches, stop strings, length limits, streaming, describe-first.

The engine is the demo-sized model with random trainable weights drawn at a large scale
(:func:`tests.testkit.inference.random_engine`), so answers depend on the prompt and images.
"""

from __future__ import annotations

import threading

import pytest
import torch
from PIL import Image

from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.slots import SKIP
from sphinx_x.inference import (
    DESCRIBE_FIRST_PROMPT,
    Conversation,
    GenerationCancelled,
    GenerationConfig,
    SphinxInference,
)
from tests.testkit.configs import compose_config

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def conversations(demo_dir) -> list[Conversation]:
    """Text-only, one image and two images, of different lengths (so the batch is left-padded)."""
    images = [Image.open(p).convert("RGB") for p in sorted((demo_dir / "images").glob("heldout_*.png"))[:3]]
    assert len({im.size for im in images}) > 1
    return [
        Conversation([{"role": "user", "content": "How many shapes are in the demo world, and which colours?"}]),
        Conversation([{"role": "user", "content": "<image>\nWhat colour?"}], [images[0]]),
        Conversation([{"role": "user", "content": "<image>\n<image>\nCompare the two pictures."}], images[1:3]),
    ]


GREEDY = GenerationConfig(max_new_tokens=10)


def test_greedy_is_deterministic_and_depends_on_the_prompt(engine, conversations):
    first = engine.generate_full(conversations, GREEDY)
    second = engine.generate_full(conversations, GREEDY)
    assert [g.token_ids for g in first] == [g.token_ids for g in second]
    assert [g.text for g in first] == engine.generate(conversations, GREEDY)
    assert len({tuple(g.token_ids) for g in first}) == 3, "answers should differ between prompts"
    lengths = [g.prompt_tokens for g in first]
    assert len(set(lengths)) == 3 and lengths[0] < lengths[1] < lengths[2]


def test_batch_under_left_padding_matches_one_at_a_time(engine, conversations):
    batched = engine.generate_full(conversations, GREEDY)
    for conversation, in_batch in zip(conversations, batched, strict=True):
        alone = engine.generate_full([conversation], GREEDY)[0]
        assert in_batch.token_ids == alone.token_ids  # float32 on CPU: exact greedy ids
        assert in_batch.text == alone.text and in_batch.prompt_tokens == alone.prompt_tokens


def test_images_change_the_answer(engine, conversations):
    text_only = Conversation([{"role": "user", "content": "What colour?"}])
    with_image = conversations[1]
    a, b = engine.generate_full([text_only, with_image], GREEDY)
    assert a.token_ids != b.token_ids


@pytest.mark.parametrize("max_new_tokens", [1, 4, 9])
def test_max_new_tokens_is_respected(engine, conversations, max_new_tokens):
    out = engine.generate_full(conversations, GenerationConfig(max_new_tokens=max_new_tokens))
    for generation in out:
        assert len(generation.token_ids) <= max_new_tokens
        if generation.finish_reason == "length":
            assert len(generation.token_ids) == max_new_tokens


def test_stop_string_cuts_the_answer(engine, conversations):
    full = engine.generate_full([conversations[0]], GenerationConfig(max_new_tokens=16))[0]
    assert full.finish_reason == "length"
    stop = next(full.text[i:i + 2] for i in range(2, len(full.text) - 1) if full.text[i:i + 2].isalnum())
    cut = engine.generate_full([conversations[0]], GenerationConfig(max_new_tokens=16, stop_strings=[stop]))[0]
    assert cut.text == full.text[:full.text.find(stop)].strip()
    assert stop not in cut.text
    assert cut.finish_reason == "stop"
    assert len(cut.token_ids) < len(full.token_ids)
    assert cut.token_ids == full.token_ids[:len(cut.token_ids)]


def test_template_end_of_turn_is_a_stop_string(engine):
    assert "\n###" in engine.stop_strings(GenerationConfig())


def test_stream_pieces_join_to_the_answer(engine, conversations):
    config = GenerationConfig(max_new_tokens=16)
    expected = engine.generate_full([conversations[1]], config)[0]
    stream = engine.stream(conversations[1], config)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == expected.text
    assert stream.result is not None and stream.result.token_ids == expected.token_ids


def test_stream_never_shows_a_stop_string(engine, conversations):
    full = engine.generate_full([conversations[1]], GenerationConfig(max_new_tokens=16))[0]
    stop = next(full.text[i:i + 2] for i in range(3, len(full.text) - 1) if full.text[i:i + 2].isalnum())
    stream = engine.stream(conversations[1], GenerationConfig(max_new_tokens=16, stop_strings=[stop]))
    shown = ""
    for piece in stream:
        shown += piece
        assert stop not in shown
    assert shown == full.text[:full.text.find(stop)].strip()
    assert stream.result is not None and stream.result.finish_reason == "stop"


def test_stream_raises_generation_errors(engine):
    too_long = Conversation([{"role": "user", "content": "word " * 5000}])
    with pytest.raises(ValueError, match="max_length"):
        list(engine.stream(too_long, GREEDY))


def test_a_set_cancel_event_stops_generation_after_the_current_token(engine):
    """What the server does when a client disconnects (issue 10): the engine is free again at once."""
    hello = [Conversation([{"role": "user", "content": "Hello"}])]  # answered until max_new_tokens
    cancel = threading.Event()
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    with pytest.raises(GenerationCancelled) as stopped:
        engine.generate_full(hello, GenerationConfig(max_new_tokens=2000), cancel=cancel)
    assert 0 < stopped.value.tokens < 2000 and not engine.lock.locked()
    with pytest.raises(GenerationCancelled, match="after 0 tokens"):  # set before it starts: nothing is generated
        engine.generate_full(hello, GenerationConfig(max_new_tokens=2000), cancel=cancel)
    assert engine.generate_full(hello, GenerationConfig(max_new_tokens=3), cancel=threading.Event())[0].token_ids


def test_a_cancelled_stream_raises_after_its_pieces(engine):
    stream = engine.stream(Conversation([{"role": "user", "content": "Hello"}]), GenerationConfig(max_new_tokens=2000))
    pieces = iter(stream)
    assert next(pieces)
    stream.cancel()
    with pytest.raises(GenerationCancelled):
        list(pieces)
    assert stream.result is None and not stream.thread.is_alive()


def test_sampling_with_a_seed_is_reproducible(engine, conversations):
    config = GenerationConfig(max_new_tokens=8, do_sample=True, temperature=1.5, top_p=0.95)
    torch.manual_seed(3)
    a = engine.generate(conversations, config)
    torch.manual_seed(3)
    assert engine.generate(conversations, config) == a


def test_describe_first_keeps_the_description_in_the_history(engine, conversations):
    question = conversations[2]
    built = engine.describe_first([question], GenerationConfig(max_new_tokens=6))
    messages = built[0].messages
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "<image>\n<image>\n" + DESCRIBE_FIRST_PROMPT
    description = engine.generate([Conversation(messages[:1], question.images)], GenerationConfig(max_new_tokens=6))
    assert messages[1]["content"] == (description[0] or ".")
    assert messages[2]["content"] == "Compare the two pictures."
    assert built[0].images == question.images
    answers = engine.answer([question.messages[0]["content"]], [question.images], GenerationConfig(max_new_tokens=6),
                            describe_first=True)
    assert answers == engine.generate(built, GenerationConfig(max_new_tokens=6))


def test_export_round_trip_gives_the_same_answers(engine, conversations, tmp_path):
    loaded = SphinxInference.from_run(engine.export(tmp_path / "exported"))
    expected = engine.generate_full(conversations, GREEDY)
    assert [g.token_ids for g in loaded.generate_full(conversations, GREEDY)] == [g.token_ids for g in expected]


def test_exported_processor_reproduces_training_preprocessing(engine, demo_dir, demo_tokenizer, tmp_path):
    """An export's processor gives the training-time ids, labels, slot kinds and tiles for a two-image sample."""
    from sphinx_x.data.records import conversation, make_record

    cfg = compose_config(["experiment=demo", f"paths.demo_dir={demo_dir}"], tmp_path / "cfg")
    training = SphinxProcessor.from_config(demo_tokenizer, cfg.model, cfg.data)
    loaded = SphinxProcessor.from_pretrained(engine.export(tmp_path / "exported"))
    wide, tall = demo_dir / "images" / "train_00001.png", demo_dir / "images" / "train_00002.png"
    record = make_record("two", "s", "t", conversation("<image>\n<image>\nWhere is <region:0>?", "left", "And?",
                                                       "right"), images=[str(wide), str(tall)],
                         regions=[{"image": 1, "box": [4, 8, 60, 100]}])
    expected, actual = training(record), loaded(record)
    assert actual.slot_kind.tolist() == expected.slot_kind.tolist()
    assert actual.input_ids.tolist() == expected.input_ids.tolist()
    assert actual.labels.tolist() == expected.labels.tolist()
    assert torch.equal(actual.pixels, expected.pixels)
    assert int((expected.slot_kind == SKIP).sum()) == 4  # 256x128 and 128x256 each skip a row / column of 2
    assert loaded.to_dict() == training.to_dict()


def test_processor_from_a_folder_without_its_config_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="processor_config.json"):
        SphinxProcessor.from_pretrained(tmp_path)
