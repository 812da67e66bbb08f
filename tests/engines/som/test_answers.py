"""Parsing and validating the VLM's structured answer; every failure has its own reason."""

from __future__ import annotations

import json

import pytest

from sphinx_x.engines.som.answers import AnswerError, parse_answer
from sphinx_x.engines.som.templates import instruction

GOOD = {"caption": "A man [1] holds a cup [2].",
        "marks": [{"id": 1, "caption": "a man in a blue shirt"}, {"id": "2", "caption": "a white  cup"}],
        "relations": [{"ids": [1, 2], "relation": "[1] is holding [2]"}]}


def test_a_valid_answer_is_parsed_with_string_ids_and_normalised_spaces():
    answer = parse_answer("```json\n" + json.dumps(GOOD) + "\n```", ["1", "2", "3"])
    assert answer.caption == "A man [1] holds a cup [2]."
    assert answer.marks == {"1": "a man in a blue shirt", "2": "a white cup"}
    assert answer.relations == [("1", "2", "[1] is holding [2]")]
    assert parse_answer(json.dumps(answer.to_json()), ["1", "2"]).to_json() == answer.to_json()


@pytest.mark.parametrize(("change", "reason"), [
    ({"marks": [{"id": 7, "caption": "x"}]}, "invented_mark"),
    ({"caption": "A man [9]."}, "invented_mark"),
    ({"relations": [{"ids": [1, 5], "relation": "near"}]}, "invented_mark"),
    ({"relations": [{"ids": [1, 1], "relation": "is itself"}]}, "bad_relation"),
    ({"relations": [{"ids": [1], "relation": "alone"}]}, "bad_structure"),
    ({"marks": [{"id": 1, "caption": "a"}, {"id": 1, "caption": "b"}]}, "duplicate_mark"),
    ({"marks": [{"id": 1, "caption": " "}]}, "empty_mark_caption"),
    ({"marks": []}, "no_mark_captions"),
    ({"marks": {"1": "a man"}}, "bad_structure"),
    ({"caption": None}, "missing_caption"),
    ({"caption": "Mark 2 is a cup."}, "bare_mark_reference"),
    ({"caption": "x" * 3000}, "too_long"),
])
def test_invalid_answers_are_rejected_with_a_reason(change, reason):
    with pytest.raises(AnswerError) as error:
        parse_answer(json.dumps({**GOOD, **change}), ["1", "2"])
    assert error.value.reason == reason


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty_answer"), ("The image shows a man.", "unparsable_json"), ('{"caption": "a", ', "unparsable_json"),
    ("[1, 2]", "unparsable_json"), ("{1: 2}", "unparsable_json"),
])
def test_unparsable_text_is_rejected(text, reason):
    with pytest.raises(AnswerError) as error:
        parse_answer(text, ["1"])
    assert error.value.reason == reason


def test_panel_ids_and_the_instruction_lists_the_marks_and_their_hints():
    answer = parse_answer(json.dumps({"caption": "[a] and [b] show cats.", "marks": [{"id": "a", "caption": "a cat"}],
                                      "relations": [{"ids": ["a", "(b)"], "relation": "same cat"}]}), ["a", "b"])
    assert answer.relations == [("a", "b", "same cat")]
    text = instruction("document", ["1", "2"], ["title", "table"])
    assert "document page" in text and "describe every mark (1, 2)" in text and "[1] title; [2] table" in text
    assert "screenshot" in instruction("screen", ["1"]) and "(a), (b)" in instruction("multipanel", ["a", "b"])
    with pytest.raises(ValueError, match="domain"):
        instruction("medical", ["1"])
