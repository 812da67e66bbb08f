"""The tagged format, the quality rules, dedup, seeds and settings of the MMInstruct engine."""

from __future__ import annotations

import json

import pytest

from sphinx_x.engines.instruct.config import InstructConfig
from sphinx_x.engines.instruct.dedup import dhash
from sphinx_x.engines.instruct.quality import check_items, grounding
from sphinx_x.engines.instruct.seeds import DEFAULT_SEEDS, load_seeds, sample_seeds
from sphinx_x.engines.instruct.tagged import TaggedError, TaggedItem, parse_tagged
from tests.testkit.instruct import CAPTION
from tests.testkit.som import scene

CFG = InstructConfig()


def items(*triples: tuple[str, str, str]) -> list[TaggedItem]:
    return [TaggedItem(k, q, c, a) for k, (q, c, a) in enumerate(triples, 1)]


def test_tagged_items_parsed_in_order_incomplete_and_oversized_ones_reported() -> None:
    text = ("Here you go:\n<Q2>Second?</Q2><A2> two </A2>\n<Q1>First?</Q1> <C1>ctx</C1> <A1>one</A1>\n"
            "<Q3>No answer?</Q3> <C3>x</C3>\n<Q4>Long?</Q4><A4>" + "w" * 50 + "</A4><Q5>bad</Q6>")
    got, problems = parse_tagged(text, max_chars=40)
    assert got == [TaggedItem(1, "First?", "ctx", "one"), TaggedItem(2, "Second?", "", "two")]
    assert problems == [(3, "incomplete_item", "item 3 has no A"),
                        (4, "field_too_long", "item 4: A over 40 characters")]
    with pytest.raises(TaggedError) as e:
        parse_tagged("Sure! Q1: what? A1: that.")
    assert e.value.reason == "no_tagged_items"


def test_grounding_counts_content_words_found_in_the_caption() -> None:
    assert grounding("the red balls", CAPTION) == 1.0  # plural, stop word
    assert grounding("two kites", "There are 2 kites.") == 1.0  # number words as digits
    assert grounding("a purple elephant", CAPTION) == 0.0
    assert grounding("a red elephant", CAPTION) == 0.5
    assert grounding("it is", CAPTION) == 0.0  # nothing to ground


def test_choice_needs_four_options_one_correct_and_is_shuffled_keeping_the_answer() -> None:
    good = ("What colour is the ball?", "A. green\nB. red\nC. black\nD. white", "B")
    kept, rejects = check_items("choice", items(good), CAPTION, CFG, "k", set())
    assert rejects == [] and len(kept) == 1
    qa = kept[0]
    assert sorted(qa.options) == ["black", "green", "red", "white"]
    assert qa.options["ABCD".index(qa.answer)] == "red"
    orders = {check_items("choice", items(good), CAPTION, CFG, f"key{i}", set())[0][0].options for i in range(12)}
    assert len(orders) > 3  # seeded shuffles differ between images
    assert check_items("choice", items(good), CAPTION, CFG, "k", set())[0][0] == qa  # and are deterministic
    bad = [("Q1?", "A. red\nB. blue\nC. black", "A"), ("Q2?", "A. red B. red C. x D. y", "A"),
           ("Q3?", "A. red\nB. blue\nC. black\nD. white", "A and B"), ("Q4?", "A. red\nB. blue\nC. x\nD. y", "none"),
           ("Q5?", "A. pink\nB. blue\nC. black\nD. white", "A"), ("Q6?", "A red\nB blue\nC x\nD y", "A"),
           ("Q7?", "A. green\nB. red\nC. black\nD. white", "red")]
    kept, rejects = check_items("choice", items(*bad), CAPTION, CFG, "k", set())
    assert [r[1] for r in rejects] == ["bad_options", "duplicate_options", "several_correct", "no_correct_option",
                                       "ungrounded_answer", "bad_options"]
    assert [qa.options["ABCD".index(qa.answer)] for qa in kept] == ["red"]  # the option's text as the answer


def test_judgement_keeps_two_yes_two_no_or_nothing() -> None:
    triples = [("Is there a red ball?", "", "Yes."), ("Is the box blue?", "", "yes"), ("Is the kite yellow?", "", "Yes"),
               ("Is there a dog?", "", "No"), ("Is it raining?", "", "no, it is not"), ("Maybe?", "", "Perhaps"),
               ("Is there a green tiger?", "", "Yes")]
    kept, rejects = check_items("judgement", items(*triples), CAPTION, CFG, "k", set())
    assert sorted(qa.answer for qa in kept) == ["No", "No", "Yes", "Yes"]
    assert sorted(r[1] for r in rejects) == ["bad_yes_no", "judgement_surplus", "ungrounded_answer"]
    kept, rejects = check_items("judgement", items(*triples[:4]), CAPTION, CFG, "k", set())
    assert kept == [] and {r[1] for r in rejects} == {"judgement_unbalanced"} and len(rejects) == 4
    assert "3 Yes and 1 No" in rejects[0][2]


def test_short_and_long_answers_bounded_grounded_and_questions_not_repeated() -> None:
    seen: set[str] = set()
    kept, rejects = check_items("short", items(("What colour is the box?", "", "blue"),
                                               ("What colour is the box", "", "blue"),
                                               ("What animal?", "", "a purple elephant"),
                                               ("Where?", "", " ".join(["ball"] * 13))), CAPTION, CFG, "k", seen)
    assert [qa.answer for qa in kept] == ["blue"]
    assert [r[1] for r in rejects] == ["duplicate_question", "ungrounded_answer", "answer_too_long"]
    kept, rejects = check_items("long", items(("What colour is the box?", "", "x"), ("Describe it.", "", "A red ball.")),
                                CAPTION, CFG, "k", seen)  # same image: the short question was asked already
    assert kept == [] and [r[1] for r in rejects] == ["duplicate_question", "answer_too_short"]


def test_dhash_matches_a_resized_recompressed_copy_not_another_scene(tmp_path) -> None:
    image = scene(0)[0]
    image.resize((160, 120)).save(tmp_path / "copy.jpg", quality=80)
    from PIL import Image

    assert dhash(Image.open(tmp_path / "copy.jpg")) == dhash(image)
    assert dhash(scene(1)[0]) != dhash(image) and len(dhash(image)) == 16


def test_seeds_sampled_deterministically_and_file_validated(tmp_path) -> None:
    assert all(len(q) >= 10 for q in DEFAULT_SEEDS.values())
    picked = sample_seeds(DEFAULT_SEEDS, "chart", 3, "img:choice")
    assert len(set(picked)) == 3 and set(picked) <= set(DEFAULT_SEEDS["chart"])
    assert picked == sample_seeds(DEFAULT_SEEDS, "chart", 3, "img:choice")
    assert picked != sample_seeds(DEFAULT_SEEDS, "chart", 3, "img:choice", seed=1) or \
        picked != sample_seeds(DEFAULT_SEEDS, "chart", 3, "other")
    path = tmp_path / "seeds.json"
    path.write_text(json.dumps({"meme": ["What is funny here?"], "chart": ["Only this?"]}))
    seeds = load_seeds(path)
    assert seeds["meme"] == ["What is funny here?"] and seeds["chart"] == ["Only this?"] and "food" in seeds
    path.write_text(json.dumps({"meme": []}))
    with pytest.raises(ValueError, match="'meme' needs a non-empty list"):
        load_seeds(path)


def test_config_validated_with_the_field_name() -> None:
    with pytest.raises(ValueError, match="instruct.types"):
        InstructConfig(types=("judgement", "essay"))
    with pytest.raises(ValueError, match="min_grounding"):
        InstructConfig(min_grounding=1.5)
