"""Prompt pools: at least 10 prompts per task (Lynx's diverse prompts), each pool's prompts take the same
fields, the verbatim prompts stay first, the choice is deterministic, and ``fixed`` gives the verbatim one."""

from __future__ import annotations

import string

import pytest

from sphinx_x.data.prompts import DEFAULT_POOLS, MIN_POOL_SIZE, PromptPool
from tests.testkit.files import write_json
from tests.testkit.sources import load_spec, read


def _fields(prompt: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(prompt) if name}


@pytest.mark.parametrize("task", sorted(DEFAULT_POOLS))
def test_every_task_has_ten_distinct_prompts_with_the_same_fields(task):
    pool = DEFAULT_POOLS[task]
    assert MIN_POOL_SIZE == 10 and len(pool) >= 10
    assert len(set(pool)) == len(pool)
    assert all(_fields(prompt) == _fields(pool[0]) for prompt in pool), task  # any pick can be filled alike
    assert all(prompt == prompt.strip() and "  " not in prompt for prompt in pool)


def test_the_verbatim_prompts_stay_first():
    assert DEFAULT_POOLS["vqa"][0] == "Answer the question using a single word or phrase."
    assert DEFAULT_POOLS["multiple_choice"][0] == "Answer with the option's letter from the given choices directly."
    assert DEFAULT_POOLS["caption"][0] == "Describe the image concisely."
    assert DEFAULT_POOLS["detailed_caption"][0] == "Describe the image in detail."  # Lynx's describe-first
    assert DEFAULT_POOLS["relation"][0] == ("Please provide the bounding box coordinate of the region this "
                                            "sentence describes : {description}.")
    assert DEFAULT_POOLS["mmi_judgement"][0] == "{question} Please answer with 'Yes' or 'No'."


def test_the_choice_is_deterministic_and_spreads_over_the_pool():
    a, b = PromptPool(seed=0), PromptPool(seed=0)
    keys = [f"vqav2/{i}" for i in range(400)]
    picks = [a.pick("vqa", key) for key in keys]
    assert picks == [b.pick("vqa", key) for key in keys]  # same sample -> same prompt, in any process
    assert set(picks) == set(DEFAULT_POOLS["vqa"])  # every prompt of the pool is used
    assert a.pick("vqa", "vqav2/0") == "State the answer only, in a word or phrase."  # blake2b, not hash()
    assert [PromptPool(seed=1).pick("vqa", key) for key in keys] != picks  # another seed, another draw
    assert a.pick("rec", "r/1", description="the red cup").count("the red cup") == 1


def test_fixed_gives_the_verbatim_prompt_of_every_task():
    fixed = PromptPool(fixed=True)
    for task, pool in DEFAULT_POOLS.items():
        fields = {name: f"<{name}>" for name in _fields(pool[0])}
        assert {fixed.pick(task, f"k{i}", **fields) for i in range(20)} == {pool[0].format(**fields)}, task


def test_a_run_pool_overrides_the_registry_and_errors_are_clear():
    pool = PromptPool({"vqa": ["Short answer."], "my_task": ["Do {x}."]})
    assert pool.pick("vqa", "anything") == "Short answer." and pool.pick("my_task", "k", x="it") == "Do it."
    assert len(pool.pools["caption"]) == len(DEFAULT_POOLS["caption"])
    with pytest.raises(ValueError, match="prompt pool for task 'vqa' is empty"):
        PromptPool({"vqa": []})
    with pytest.raises(KeyError, match="no prompt pool for task 'nope'"):
        pool.pick("nope")


def test_a_reader_draws_diverse_prompts_unless_fixed(tmp_path):
    write_json(tmp_path / "coco" / "annotations" / "captions_train2017.json", {
        "images": [{"id": 9, "file_name": "000000000009.jpg", "width": 640, "height": 480}],
        "annotations": [{"image_id": 9, "id": i, "caption": f"Caption number {i}."} for i in range(60)]})
    spec = load_spec("coco_caption", tmp_path)

    def questions(prompts: PromptPool) -> list[str]:
        return [r["messages"][0]["content"].removeprefix("<image>\n") for r in read(spec, prompts)[0]]

    diverse = questions(PromptPool(seed=0))
    assert diverse == questions(PromptPool(seed=0))  # a rebuilt dataset is identical
    assert set(diverse) == set(DEFAULT_POOLS["caption"])  # 60 captions use all 10 prompts
    assert set(questions(PromptPool(seed=0, fixed=True))) == {"Describe the image concisely."}
