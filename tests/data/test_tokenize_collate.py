"""Templates, label masking, image-slot expansion, turn-boundary cuts and mixed batches."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from sphinx_x.data.collate import Collator
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.records import RecordError, conversation, make_record
from sphinx_x.data.slots import END, IGNORE_INDEX, SKIP, START, TEXT, VISUAL
from sphinx_x.data.templates import SPHINX_SYSTEM, SphinxTemplate, build_template
from sphinx_x.data.tiling import VisualLayout
from sphinx_x.data.tokenize import ConversationTokenizer

LAYOUT = VisualLayout(grid=2, tile_pixels=32, tokens_per_tile=5)


def test_sphinx_template_is_the_authors_conv_v1():
    text, spans = SphinxTemplate().render(conversation("q1", "a1", "q2", "a2"))
    assert text == f"{SPHINX_SYSTEM}\n\n### Human: q1\n### Assistant: a1\n### Human: q2\n### Assistant: a2\n###"
    assert [text[s:e] for s, e in spans] == [" a1\n###", " a2\n###"]  # the prompt ends at "Assistant:"
    prompt = SphinxTemplate().generation_prompt(conversation("q1", "a1", "q2"))
    assert prompt == f"{SPHINX_SYSTEM}\n\n### Human: q1\n### Assistant: a1\n### Human: q2\n### Assistant:"
    assert SphinxTemplate().stop_strings == ["\n###"]


def test_labels_cover_exactly_the_answers(demo_tokenizer):
    tok = ConversationTokenizer(demo_tokenizer, SphinxTemplate(), max_length=512, layout=LAYOUT)
    sample = tok(conversation("What colour is the circle?", "red", "How many shapes are there?", "2"), [])
    labelled = sample.labels[sample.labels != IGNORE_INDEX]
    # " red" is one token (its space merged in, as in SentencePiece); before a digit the space is a token of
    # its own, which the model must learn to produce since generation starts right after "Assistant:"
    assert demo_tokenizer.decode(labelled) == " red\n### 2\n###"
    assert sample.input_ids[0] == demo_tokenizer.bos_token_id
    assert (sample.labels[sample.labels != IGNORE_INDEX] == sample.input_ids[sample.labels != IGNORE_INDEX]).all()


def test_one_image_sits_right_after_bos_before_the_system_text(demo_tokenizer):
    tok = ConversationTokenizer(demo_tokenizer, SphinxTemplate(), max_length=512, layout=LAYOUT)
    sample = tok(conversation("<image>\nWhat is it?", "a circle"), [[True] * 5])
    kinds = sample.slot_kind.tolist()
    slots = LAYOUT.num_slots([True] * 5)
    assert sample.input_ids[0] == demo_tokenizer.bos_token_id and kinds[0] == TEXT
    assert kinds[1:1 + slots] == LAYOUT.slot_kinds([True] * 5) and kinds[1 + slots] == TEXT
    text = demo_tokenizer.decode(sample.input_ids[1 + slots:])
    assert text == f"{SPHINX_SYSTEM}\n\n### Human: What is it?\n### Assistant: a circle\n###"


def test_several_images_stay_at_their_markers(demo_tokenizer):
    tok = ConversationTokenizer(demo_tokenizer, SphinxTemplate(), max_length=512, layout=LAYOUT)
    sample = tok(conversation("first <image> then <image>: same?", "no"), [[True] * 5, [True] * 5])
    kinds = sample.slot_kind.tolist()
    before = demo_tokenizer.decode(sample.input_ids[:kinds.index(START)], skip_special_tokens=True)
    assert before == f"{SPHINX_SYSTEM}\n\n### Human: first "


def test_chat_template_labels(demo_tokenizer):
    template = build_template("chat", demo_tokenizer)
    tok = ConversationTokenizer(demo_tokenizer, template, max_length=512, layout=LAYOUT)
    sample = tok(conversation("hi", "hello there"), [])
    labelled = demo_tokenizer.decode(sample.labels[sample.labels != IGNORE_INDEX])
    assert labelled.startswith("hello there") and "<|user|>" not in labelled


def test_image_slots_expand_exactly(demo_tokenizer):
    tok = ConversationTokenizer(demo_tokenizer, SphinxTemplate(), max_length=512, layout=LAYOUT)
    keep = [True, True, True, False, False]  # a 2:1 image: global + top row kept
    sample = tok(conversation("<image>\nWhat is it?", "a circle"), [keep])
    kinds = sample.slot_kind.tolist()
    first = kinds.index(START)
    assert kinds[first:first + 3 * 7 + 2] == ([START] + [VISUAL] * 5 + [END]) * 3 + [SKIP, SKIP]
    assert sum(k != TEXT for k in kinds) == LAYOUT.num_slots(keep) == 23
    assert (sample.labels[sample.slot_kind != TEXT] == IGNORE_INDEX).all()


def test_over_long_samples_are_cut_between_turns(demo_tokenizer):
    messages = conversation("<image>\nfirst question", "first answer", "<image>\nsecond question", "second answer")
    full = ConversationTokenizer(demo_tokenizer, SphinxTemplate(), 512, LAYOUT)(messages, [[True] * 5] * 2)
    limit = full.input_ids.numel() - 1
    cut = ConversationTokenizer(demo_tokenizer, SphinxTemplate(), limit, LAYOUT)(messages, [[True] * 5] * 2)
    assert (cut.num_turns, cut.num_images) == (1, 1)
    assert demo_tokenizer.decode(cut.labels[cut.labels != IGNORE_INDEX]) == " first answer\n###"
    with pytest.raises(RecordError, match="too_long"):
        ConversationTokenizer(demo_tokenizer, SphinxTemplate(), 20, LAYOUT)(messages, [[True] * 5] * 2, "r1")


def test_text_only_and_two_image_samples_share_a_batch(tmp_path, demo_tokenizer):
    wide, square = tmp_path / "wide.png", tmp_path / "square.png"
    Image.new("RGB", (64, 32), "red").save(wide)
    Image.new("RGB", (40, 40), "blue").save(square)
    builder = SphinxProcessor(demo_tokenizer, LAYOUT, "sphinx", max_length=512)
    two = make_record("a", "s1", "t", conversation("<image> and <image>: same colour?", "no"),
                      images=[str(wide), str(square)])
    text = make_record("b", "s2", "t", conversation("What is 3 plus 4?", "7"))
    batch = Collator(demo_tokenizer.pad_token_id, ["s1", "s2"])([builder(two), builder(text)])
    assert batch.pixels.shape == (3 + 5, 3, 32, 32)  # kept groups: wide 3, square 5
    kinds = batch.slot_kind
    assert int((kinds[0] == VISUAL).sum()) == 8 * 5 and int((kinds[0] == SKIP).sum()) == 2
    assert int((kinds[1] != TEXT).sum()) == 0
    assert batch.source_index.tolist() == [0, 1]
    assert batch.attention_mask.shape[1] % 8 == 0
    assert (batch.labels[batch.attention_mask == 0] == IGNORE_INDEX).all()


def test_left_padding_keeps_slots_aligned(demo_tokenizer):
    builder = SphinxProcessor(demo_tokenizer, LAYOUT, "sphinx", max_length=512)
    short = builder.prompt(make_record("a", "s", "t", [{"role": "user", "content": "hi"}]), [])
    long = builder.prompt(make_record("b", "s", "t", [{"role": "user", "content": "<image>\nhello there"}]),
                          [Image.new("RGB", (32, 32))])
    batch = Collator(0, ["s"], padding_side="left", pad_to_multiple_of=1)([short, long])
    assert batch.attention_mask[0, -1] == 1 and batch.attention_mask[0, 0] == 0
    assert torch.equal(batch.input_ids[0, -short.input_ids.numel():], short.input_ids)


def _cut_by_retokenising(tok: ConversationTokenizer, messages, keeps):
    """The reference: drop trailing turns one by one, tokenising what is left each time."""
    for n in range(len(messages) // 2, 0, -1):
        kept = messages[: 2 * n]
        n_images = sum(m["content"].count("<image>") for m in kept)
        sample = tok.encode(kept, keeps[:n_images])
        if sample.input_ids.numel() <= tok.max_length:
            return sample, n
    return None, 0


def test_cutting_by_offsets_equals_retokenising_the_kept_turns(demo_tokenizer):
    import random

    rng = random.Random(0)
    words = ["cat", "dog", "é", "漢字", "  ", "\n", "###", "Human:", "0.5", "[0.1, 0.2]", "Assistant", "!", "<p>x</p>"]
    checked = 0
    for _ in range(150):
        texts, keeps = [], []
        for _ in range(rng.randint(1, 6)):
            question = " ".join(rng.choice(words) for _ in range(rng.randint(1, 20)))
            if rng.random() < 0.4:
                question = "<image>\n" + question
                keeps.append([rng.random() < 0.7 for _ in range(5)])
            texts += [question, " ".join(rng.choice(words) for _ in range(rng.randint(1, 20)))]
        messages = conversation(*texts)
        tok = ConversationTokenizer(demo_tokenizer, SphinxTemplate(), rng.randint(40, 250), LAYOUT)
        expected, turns = _cut_by_retokenising(tok, messages, keeps)
        if expected is None:
            with pytest.raises(RecordError, match="too_long"):
                tok(messages, keeps)
            continue
        got = tok(messages, keeps)
        assert (got.num_turns, got.num_images) == (turns, expected.num_images)
        for name in ("input_ids", "labels", "slot_kind"):
            assert torch.equal(getattr(got, name), getattr(expected, name)), name
        checked += 1
    assert checked > 50


def test_an_800_turn_conversation_is_tokenised_once(demo_tokenizer):
    calls = []

    class Counting:
        """The demo tokenizer, counting the characters it is asked to tokenise."""

        def __getattr__(self, name):
            return getattr(demo_tokenizer, name)

        def __call__(self, text, **kwargs):
            calls.append(len(text))
            return demo_tokenizer(text, **kwargs)

    texts = [t for i in range(800) for t in (f"Question {i}: what is {i} plus {i}?", f"It is {2 * i}.")]
    messages = conversation("<image>\n" + texts[0], *texts[1:])
    tok = ConversationTokenizer(Counting(), SphinxTemplate(), 384, LAYOUT)
    sample = tok(messages, [[True] * 5])
    full = len(SphinxTemplate().render(messages)[0])
    assert 0 < sample.num_turns < 800 and sample.input_ids.numel() <= 384
    assert sum(calls) <= full + 100  # each character once (the text around the one image), not once per dropped turn
