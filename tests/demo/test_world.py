"""The demo world: files in the real public formats, consistent ground truth, a usable tokenizer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from sphinx_x.data.geometry import parse_boxes
from sphinx_x.data.records import IMAGE_TOKEN, make_record, validate_record
from sphinx_x.demo.world import FILES, VQA_SUFFIX, build_demo_world, main

N_TRAIN, N_HELDOUT = 24, 8
QUESTION_TYPES = {"colour", "shape", "count", "position"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return build_demo_world(tmp_path_factory.mktemp("demo"), n_train=N_TRAIN, n_heldout=N_HELDOUT, seed=0)


def _json(paths: dict[str, str], key: str):
    return json.loads(Path(paths[key]).read_text())


def _jsonl(paths: dict[str, str], key: str) -> list[dict]:
    return [json.loads(line) for line in Path(paths[key]).read_text().splitlines()]


def _scenes(paths: dict[str, str]) -> dict[str, dict]:
    return {s["image"]: s for split in ("train", "heldout") for s in _json(paths, f"scenes_{split}")}


def _llava(paths: dict[str, str]) -> list[dict]:
    return _json(paths, "llava_train") + _json(paths, "llava_heldout")


def test_files_exist_and_parse(world):
    assert set(world) == set(FILES)
    root = Path(world["manifest"]).parent
    for key, name in FILES.items():
        assert Path(world[key]) == (root / name).resolve()
        assert Path(world[key]).exists(), key
    manifest = _json(world, "manifest")
    assert manifest["params"]["n_train"] == N_TRAIN and manifest["params"]["n_heldout"] == N_HELDOUT
    assert manifest["paths"] == FILES
    counts = manifest["counts"]
    assert counts["scenes_train"] == N_TRAIN and counts["scenes_heldout"] == N_HELDOUT
    assert len(_json(world, "llava_train")) == 3 * N_TRAIN == counts["llava_train"]
    assert len(_json(world, "llava_heldout")) == 3 * N_HELDOUT
    assert len(_json(world, "sharegpt_train")) == N_TRAIN // 2
    assert len(_jsonl(world, "vqa_heldout")) == counts["vqa_heldout"] >= 3 * N_HELDOUT
    assert len(_jsonl(world, "rec_heldout")) == N_HELDOUT
    assert len(list(Path(world["images"]).glob("*.png"))) == N_TRAIN + N_HELDOUT


def test_llava_records_have_one_image_of_the_stated_size(world):
    root, scenes = Path(world["manifest"]).parent, _scenes(world)
    for record in _llava(world):
        turns = record["conversations"]
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2)
        assert sum(t["value"].count(IMAGE_TOKEN) for t in turns) == 1
        assert turns[0]["value"].startswith(IMAGE_TOKEN + "\n")
        scene = scenes[record["image"]]
        with Image.open(root / record["image"]) as image:
            assert image.size == (scene["width"], scene["height"])
        messages = [{"role": "user" if t["from"] == "human" else "assistant", "content": t["value"]} for t in turns]
        validate_record(make_record(record["id"], "demo", "vl", messages, images=[record["image"]]))


def test_three_records_per_scene(world):
    ids = {r["id"] for r in _llava(world)}
    for image in _scenes(world):
        stem = Path(image).stem
        assert {f"{stem}_caption", f"{stem}_vqa", f"{stem}_grounding"} <= ids
    vqa_turns = [len(r["conversations"]) // 2 for r in _llava(world) if r["id"].endswith("_vqa")]
    assert all(3 <= n <= 4 for n in vqa_turns)


def test_rec_boxes_lie_inside_the_image_and_match_the_scene(world):
    scenes = _scenes(world)
    for row in _jsonl(world, "rec_heldout"):
        x1, y1, x2, y2 = row["box"]
        assert 0 <= x1 < x2 <= row["width"] and 0 <= y1 < y2 <= row["height"]
        scene = scenes[row["image"]]
        assert (row["width"], row["height"]) == (scene["width"], scene["height"])
        assert row["box"] in [o["box"] for o in scene["objects"]]


def _close(normalised: list[float], box: list[int], w: int, h: int) -> bool:
    pixels = [normalised[0] * w, normalised[1] * h, normalised[2] * w, normalised[3] * h]
    return all(abs(p - q) <= 0.005 * side + 1e-9 for p, q, side in zip(pixels, box, (w, h, w, h), strict=True))


def _expression(obj: dict) -> str:
    return f"the word {obj['text']}" if "text" in obj else f"the {obj['colour']} {obj['shape']}"


def _description(obj: dict) -> str:
    return f"the word {obj['text']}" if "text" in obj else f"a {obj['size']} {obj['colour']} {obj['shape']}"


def test_grounding_boxes_convert_back_to_scene_boxes(world):
    scenes = _scenes(world)
    grounding = [r for r in _llava(world) if r["id"].endswith("_grounding")]
    assert len(grounding) == N_TRAIN + N_HELDOUT
    for record in grounding:
        scene = scenes[record["image"]]
        w, h = scene["width"], scene["height"]
        rec_question, rec_answer, region_question, region_answer = (t["value"] for t in record["conversations"])
        assert re.fullmatch(r"\[\d\.\d\d, \d\.\d\d, \d\.\d\d, \d\.\d\d\]", rec_answer)
        expression = rec_question.rsplit("describes: ", 1)[1].removesuffix(".")
        (target,) = [o for o in scene["objects"] if _expression(o) == expression]
        assert _close(parse_boxes(rec_answer)[0], target["box"], w, h), record["id"]
        (region_box,) = parse_boxes(region_question)
        (region,) = [o for o in scene["objects"] if _close(region_box, o["box"], w, h)]
        assert region_answer == _description(region)


def test_vqa_answers_are_single_lower_case_words_and_match_the_scene(world):
    scenes = _scenes(world)
    rows = _jsonl(world, "vqa_heldout")
    assert {r["question_type"] for r in rows} <= QUESTION_TYPES
    assert [r["question_id"] for r in rows] == list(range(len(rows)))
    for row in rows:
        assert re.fullmatch(r"[a-z]+|\d", row["answer"]), row
        assert VQA_SUFFIX not in row["question"] and row["image"].startswith("images/heldout_")
        shapes = [o for o in scenes[row["image"]]["objects"] if "shape" in o]
        if row["question_type"] == "count":
            assert row["answer"] == str(len(shapes))
        elif row["question_type"] == "colour":
            assert [o["colour"] for o in shapes if f"the {o['shape']}?" in row["question"]] == [row["answer"]]
        elif row["question_type"] == "shape":
            assert [o["shape"] for o in shapes if f"the {o['colour']} object" in row["question"]] == [row["answer"]]
        else:
            (obj,) = [o for o in shapes if f"the {o['colour']} {o['shape']} " in row["question"]]
            centre, width = (obj["box"][0] + obj["box"][2]) / 2, scenes[row["image"]]["width"]
            assert row["answer"] == ("left" if centre < width / 2 else "right")
    for record in _llava(world):
        if record["id"].endswith("_vqa"):
            for question, answer in zip(record["conversations"][::2], record["conversations"][1::2], strict=True):
                assert question["value"].endswith("\n" + VQA_SUFFIX)
                assert re.fullmatch(r"[a-z]+|\d", answer["value"])


def test_sharegpt_is_text_only(world):
    for record in _json(world, "sharegpt_train") + _json(world, "sharegpt_heldout"):
        assert "image" not in record and 1 <= len(record["conversations"]) // 2 <= 3
        assert [t["from"] for t in record["conversations"]] == ["human", "gpt"] * (len(record["conversations"]) // 2)
        assert all(IMAGE_TOKEN not in t["value"] and t["value"] for t in record["conversations"])


def test_all_aspect_ratios_occur(world):
    sizes = {(s["width"], s["height"]) for s in _scenes(world).values()}
    ratios = {round(w / h, 2) for w, h in sizes}
    assert ratios == {1.0, 2.0, 0.5, 3.0}


def test_some_scenes_have_text_and_objects_do_not_overlap(world):
    scenes = list(_scenes(world).values())
    assert any(any("text" in o for o in s["objects"]) for s in scenes)
    for scene in scenes:
        assert 1 <= sum("shape" in o for o in scene["objects"]) <= 3
        boxes = [o["box"] for o in scene["objects"]]
        assert all(0 <= x1 < x2 <= scene["width"] and 0 <= y1 < y2 <= scene["height"] for x1, y1, x2, y2 in boxes)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_tokenizer_round_trips_and_adds_no_special_tokens(world):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(world["tokenizer"])
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token, tokenizer.unk_token) == (
        "<s>", "</s>", "<pad>", "<unk>")
    record = _json(world, "llava_train")[2]
    text = ("A chat between a curious human and an artificial intelligence assistant. ###Human: "
            + record["conversations"][0]["value"] + "###Assistant: <p>circle</p> "
            + record["conversations"][1]["value"] + "</s>  odd  spacing , é ✓")
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert ids[0] != tokenizer.bos_token_id
    assert tokenizer("red")["input_ids"] == tokenizer("red", add_special_tokens=False)["input_ids"]
    assert tokenizer.convert_ids_to_tokens(tokenizer("[0.12, 0.34]")["input_ids"])[1:3] == ["0", "."]
    assert len(tokenizer) <= 1024


def test_tokenizer_chat_template_uses_role_tokens(world):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(world["tokenizer"])
    messages = [{"role": "user", "content": "What is 3 plus 4?"}, {"role": "assistant", "content": "7"}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    assert rendered == "<s><|user|>\nWhat is 3 plus 4?</s>\n<|assistant|>\n7</s>\n"
    prompt = tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|assistant|>\n")
    for role in ("<|system|>", "<|user|>", "<|assistant|>"):
        assert len(tokenizer(role)["input_ids"]) == 1


def test_build_is_idempotent(world):
    manifest = Path(world["manifest"])
    before = {p: p.stat().st_mtime_ns for p in (manifest, Path(world["llava_train"]),
                                                 Path(world["images"]) / "train_00000.png")}
    again = build_demo_world(manifest.parent, n_train=N_TRAIN, n_heldout=N_HELDOUT, seed=0)
    assert again == world
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_cli_prints_manifest_path(world, capsys):
    root = Path(world["manifest"]).parent
    main(["--out", str(root), "--train", str(N_TRAIN), "--heldout", str(N_HELDOUT), "--seed", "0"])
    assert capsys.readouterr().out.strip() == world["manifest"]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files(world, tmp_path):
    build_demo_world(tmp_path / "a", n_train=N_TRAIN, n_heldout=N_HELDOUT, seed=0)
    assert _tree(tmp_path / "a") == _tree(Path(world["manifest"]).parent)
    build_demo_world(tmp_path / "b", n_train=N_TRAIN, n_heldout=N_HELDOUT, seed=1)
    assert _tree(tmp_path / "b")["scenes_train.json"] != _tree(tmp_path / "a")["scenes_train.json"]


def test_rebuild_with_other_parameters_removes_stale_images(tmp_path):
    build_demo_world(tmp_path, n_train=6, n_heldout=2, seed=0)
    build_demo_world(tmp_path, n_train=4, n_heldout=2, seed=0)
    assert len(list((tmp_path / "images").glob("train_*.png"))) == 4
    assert json.loads((tmp_path / "manifest.json").read_text())["params"]["n_train"] == 4
