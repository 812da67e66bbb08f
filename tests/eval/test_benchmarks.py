"""Each reader on a tiny fixture written in the benchmark's official layout."""

from __future__ import annotations

import base64
import csv
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from sphinx_x.eval.benchmarks import BENCHMARKS, EvalSample, get_benchmark
from sphinx_x.eval.metrics import ChoiceTarget, MMETarget, RecTarget
from tests.testkit.paths import REPO

VQA = "Answer the question using a single word or phrase."
CHOICE = "Answer with the option's letter from the given choices directly."
REC = "Please provide the bounding box coordinate of the region this sentence describes: {}."


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


# --- VQAv2 / OK-VQA ---------------------------------------------------------------------------

def vqa_answers(*answers: str) -> list[dict[str, Any]]:
    return [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)]


def test_vqav2_val(tmp_path: Path) -> None:
    write_json(tmp_path / "v2_OpenEnded_mscoco_val2014_questions.json", {
        "info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "license": {}, "data_subtype": "val2014",
        "questions": [{"image_id": 42, "question": "What is the man holding?", "question_id": 42000}],
    })
    write_json(tmp_path / "v2_mscoco_val2014_annotations.json", {
        "info": {}, "license": {}, "data_subtype": "val2014", "annotations": [{
            "question_type": "what is the", "multiple_choice_answer": "bat", "image_id": 42,
            "answer_type": "other", "question_id": 42000, "answers": vqa_answers(*["bat"] * 9, "stick"),
        }],
    })
    assert BENCHMARKS["vqav2"].load(tmp_path) == [EvalSample(
        question_id="42000",
        images=[str(tmp_path / "val2014" / "COCO_val2014_000000000042.jpg")],
        prompt=f"<image>\nWhat is the man holding?\n{VQA}",
        target=["bat"] * 9 + ["stick"],
        meta={"image_id": 42, "question_type": "what is the", "answer_type": "other"},
    )]


def test_vqav2_test_dev_has_no_targets_and_writes_server_file(tmp_path: Path) -> None:
    write_json(tmp_path / "v2_OpenEnded_mscoco_test-dev2015_questions.json", {
        "data_subtype": "test-dev2015",
        "questions": [{"image_id": 1, "question": "Is it raining?", "question_id": 10},
                      {"image_id": 2, "question": "How many cats?", "question_id": 20}],
    })
    spec = BENCHMARKS["vqav2"]
    samples = spec.load(tmp_path, split="test-dev2015")
    assert [s.images for s in samples] == [[str(tmp_path / "test2015" / "COCO_test2015_000000000001.jpg")],
                                           [str(tmp_path / "test2015" / "COCO_test2015_000000000002.jpg")]]
    assert [s.target for s in samples] == [None, None]
    out = tmp_path / "results.json"
    assert spec.write_results is not None
    assert spec.write_results(out, {"10": " no "}, samples) == 1  # one missing, written as ""
    assert json.loads(out.read_text()) == [{"question_id": 10, "answer": "no"}, {"question_id": 20, "answer": ""}]


def test_okvqa(tmp_path: Path) -> None:
    write_json(tmp_path / "OpenEnded_mscoco_val2014_questions.json", {
        "data_subtype": "val2014", "questions": [{"image_id": 7, "question": "What sport is this?", "question_id": 70}],
    })
    write_json(tmp_path / "mscoco_val2014_annotations.json", {"annotations": [{
        "question_type": "eight", "answer_type": "other", "image_id": 7, "question_id": 70,
        "answers": vqa_answers(*["tennis"] * 10), "confidence": 3,
    }]})
    assert BENCHMARKS["okvqa"].load(tmp_path) == [EvalSample(
        "70", [str(tmp_path / "val2014" / "COCO_val2014_000000000007.jpg")], f"<image>\nWhat sport is this?\n{VQA}",
        ["tennis"] * 10, {"image_id": 7, "question_type": "eight", "answer_type": "other"},
    )]


# --- GQA, VizWiz, TextVQA ---------------------------------------------------------------------

def test_gqa_testdev_balanced(tmp_path: Path) -> None:
    write_json(tmp_path / "testdev_balanced_questions.json", {"20968255": {
        "semantic": [], "entailed": [], "equivalent": ["20968255"], "question": "Who is wearing the shirt?",
        "imageId": "n288870", "isBalanced": True, "groups": {"global": None, "local": "13-shirt"},
        "answer": "girl", "semanticStr": "select: shirt ->relate: person,wearing,s", "annotations": {},
        "types": {"detailed": "relS", "semantic": "rel", "structural": "query"},
        "fullAnswer": "The girl is wearing the shirt.",
    }})
    assert BENCHMARKS["gqa"].load(tmp_path) == [EvalSample(
        "20968255", [str(tmp_path / "images" / "n288870.jpg")], f"<image>\nWho is wearing the shirt?\n{VQA}",
        "girl", {"image_id": "n288870", "structural": "query", "semantic": "rel"},
    )]


def test_vizwiz(tmp_path: Path) -> None:
    write_json(tmp_path / "Annotations" / "val.json", [{
        "image": "VizWiz_val_00000000.jpg", "question": "What is this?", "answer_type": "other", "answerable": 1,
        "answers": [{"answer": "soup", "answer_confidence": "yes"}] * 10,
    }])
    instruction = ("When the provided information is insufficient, respond with 'Unanswerable'. "
                   "Answer the question using a single word or phrase.")
    assert BENCHMARKS["vizwiz"].load(tmp_path) == [EvalSample(
        "VizWiz_val_00000000.jpg", [str(tmp_path / "val" / "VizWiz_val_00000000.jpg")],
        f"<image>\nWhat is this?\n{instruction}", ["soup"] * 10, {"answer_type": "other", "answerable": 1},
    )]


def test_textvqa_with_and_without_ocr_tokens(tmp_path: Path) -> None:
    common = {"image_classes": ["Mobile phone"], "flickr_original_url": "", "flickr_300k_url": "",
              "image_width": 1024, "image_height": 730, "set_name": "val", "answers": ["nokia"] * 10}
    write_json(tmp_path / "TextVQA_0.5.1_val.json", {"dataset_type": "val", "dataset_name": "textvqa",
                                                      "dataset_version": "0.5.1", "data": [
        {**common, "question": "what brand is the phone?", "image_id": "0054c91397f2fe05", "question_id": 34602,
         "ocr_tokens": ["NOKIA", "2"]},
        {**common, "question": "what is written?", "image_id": "00685bc495504d61", "question_id": 34603},
    ]})
    samples = BENCHMARKS["textvqa"].load(tmp_path)
    assert samples == [
        EvalSample("34602", [str(tmp_path / "train_images" / "0054c91397f2fe05.jpg")],
                   f"<image>\nwhat brand is the phone?\nReference OCR token: NOKIA, 2 {VQA}", ["nokia"] * 10,
                   {"image_id": "0054c91397f2fe05"}),
        EvalSample("34603", [str(tmp_path / "train_images" / "00685bc495504d61.jpg")],
                   f"<image>\nwhat is written?\n{VQA}", ["nokia"] * 10, {"image_id": "00685bc495504d61"}),
    ]
    assert BENCHMARKS["textvqa"].load(tmp_path, ocr=False)[0].prompt == f"<image>\nwhat brand is the phone?\n{VQA}"


# --- DocVQA, InfographicsVQA, ChartQA ---------------------------------------------------------

def test_docvqa(tmp_path: Path) -> None:
    write_json(tmp_path / "val_v1.0.json", {"dataset_name": "docvqa", "dataset_split": "val",
                                             "dataset_version": "1.0", "data": [{
        "questionId": 49153, "question": "What is the date?", "question_types": ["form"],
        "image": "documents/pybv0228_81.png", "docId": 14465, "ucsf_document_id": "pybv0228",
        "ucsf_document_page_no": "81", "answers": ["1975", "1975."], "data_split": "val",
    }]})
    assert BENCHMARKS["docvqa"].load(tmp_path) == [EvalSample(
        "49153", [str(tmp_path / "documents" / "pybv0228_81.png")], f"<image>\nWhat is the date?\n{VQA}",
        ["1975", "1975."], {"question_types": ["form"], "doc_id": 14465},
    )]


def test_infovqa(tmp_path: Path) -> None:
    write_json(tmp_path / "infographicsVQA_val_v1.0_withQT.json", {"dataset_name": "infographicVQA",
                                                                    "dataset_split": "val", "data": [{
        "questionId": 65718, "question": "What share said yes?", "image_local_name": "37313.jpeg",
        "image_url": "https://example.org/37313.jpeg", "ocr_output_file": "37313.json", "answers": ["14%"],
        "data_split": "val", "answer_type": ["single span"], "evidence": ["figure"], "operation/reasoning": [],
    }]})
    assert BENCHMARKS["infovqa"].load(tmp_path) == [EvalSample(
        "65718", [str(tmp_path / "infographicsvqa_images" / "37313.jpeg")],
        f"<image>\nWhat share said yes?\n{VQA}", ["14%"], {"answer_type": ["single span"], "operation": []},
    )]


def test_chartqa_both_subsets_from_the_release_folder(tmp_path: Path) -> None:
    test = tmp_path / "ChartQA Dataset" / "test"
    write_json(test / "test_human.json", [{"imgname": "41699051005347.png", "query": "How many bars?", "label": "14"}])
    write_json(test / "test_augmented.json", [{"imgname": "two_col_1.png", "query": "Peak year?", "label": "2019"},
                                              {"imgname": "two_col_2.png", "query": "Lowest?", "label": "1.5"}])
    samples = BENCHMARKS["chartqa"].load(tmp_path / "ChartQA Dataset")
    assert samples == [
        EvalSample("human/0", [str(test / "png" / "41699051005347.png")], f"<image>\nHow many bars?\n{VQA}", "14",
                   {"subset": "human"}),
        EvalSample("augmented/0", [str(test / "png" / "two_col_1.png")], f"<image>\nPeak year?\n{VQA}", "2019",
                   {"subset": "augmented"}),
        EvalSample("augmented/1", [str(test / "png" / "two_col_2.png")], f"<image>\nLowest?\n{VQA}", "1.5",
                   {"subset": "augmented"}),
    ]
    assert [s.question_id for s in BENCHMARKS["chartqa"].load(test, split="test_human")] == ["human/0"]


# --- multiple choice: AI2D, ScienceQA, SEED, MMBench ------------------------------------------

def ai2d_question(text: str, answers: list[str], correct: int, qid: str, abc: bool = False) -> dict[str, Any]:
    return {text: {"abcLabel": abc, "answerTexts": answers, "correctAnswer": correct, "questionId": qid}}


def test_ai2d_official_folder(tmp_path: Path) -> None:
    write_json(tmp_path / "questions" / "10.png.json", {"imageName": "10.png", "questions": ai2d_question(
        "What eats grass?", ["fox", "rabbit", "hawk", "snake"], 1, "10.png-0")})
    write_json(tmp_path / "questions" / "2.png.json", {"imageName": "2.png", "questions": ai2d_question(
        "Which label shows the root?", ["A", "B", "C", "D"], 3, "2.png-0", abc=True)})
    (tmp_path / "ai2d_test_ids.csv").write_text("10\n")
    options = {"A": "fox", "B": "rabbit", "C": "hawk", "D": "snake"}
    expected = EvalSample(
        "10.png-0", [str(tmp_path / "images" / "10.png")],
        f"<image>\nWhat eats grass?\nA. fox\nB. rabbit\nC. hawk\nD. snake\n{CHOICE}",
        ChoiceTarget("B", options), {"image": "10.png", "abc_label": False},
    )
    assert BENCHMARKS["ai2d"].load(tmp_path) == [expected]
    assert [s.question_id for s in BENCHMARKS["ai2d"].load(tmp_path, split="all")] == ["2.png-0", "10.png-0"]


def test_scienceqa_keeps_image_questions_of_the_split(tmp_path: Path) -> None:
    base = {"task": "closed choice", "grade": "grade4", "subject": "natural science", "topic": "biology",
            "category": "Classification", "skill": "", "lecture": "", "solution": "", "split": "test"}
    write_json(tmp_path / "problems.json", {
        "5": {**base, "question": "Which animal is a mammal?", "choices": ["frog", "whale"], "answer": 1,
              "hint": "Look at the picture.", "image": "image.png"},
        "6": {**base, "question": "Which word is a noun?", "choices": ["run", "dog"], "answer": 1, "hint": "",
              "image": None},
        "7": {**base, "question": "Which is hotter?", "choices": ["ice", "tea", "snow"], "answer": 1, "hint": "",
              "image": "image.png", "split": "val"},
    })
    write_json(tmp_path / "pid_splits.json", {"train": [], "val": ["7"], "test": ["5", "6"], "minival": []})
    assert BENCHMARKS["scienceqa_img"].load(tmp_path) == [EvalSample(
        "5", [str(tmp_path / "images" / "test" / "5" / "image.png")],
        f"<image>\nContext: Look at the picture.\nWhich animal is a mammal?\nA. frog\nB. whale\n{CHOICE}",
        ChoiceTarget("B", {"A": "frog", "B": "whale"}),
        {"subject": "natural science", "grade": "grade4", "category": "Classification", "topic": "biology"},
    )]


def test_seed_bench_image_questions(tmp_path: Path) -> None:
    write_json(tmp_path / "SEED-Bench.json", {
        "question_type": {"Scene Understanding": 1, "Instance Counting": 5, "Action Recognition": 10},
        "questions": [
            {"answer": "A", "choice_a": "One", "choice_b": "Two", "choice_c": "Three", "choice_d": "Four",
             "data_id": "1454426_2591111986.jpg", "data_type": "image", "question": "How many towels?",
             "question_id": "101669", "question_type_id": 5},
            {"answer": "B", "choice_a": "a", "choice_b": "b", "choice_c": "c", "choice_d": "d",
             "data_id": "v_123.mp4", "data_type": "video", "question": "What happens?",
             "question_id": "200000", "question_type_id": 10},
        ],
    })
    options = {"A": "One", "B": "Two", "C": "Three", "D": "Four"}
    assert BENCHMARKS["seed"].load(tmp_path) == [EvalSample(
        "101669", [str(tmp_path / "SEED-Bench-image" / "1454426_2591111986.jpg")],
        f"<image>\nHow many towels?\nA. One\nB. Two\nC. Three\nD. Four\n{CHOICE}",
        ChoiceTarget("A", options), {"question_type": "Instance Counting"},
    )]


MMBENCH_COLUMNS = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "source",
                   "l2-category", "comment", "split"]
PNG = b"\x89PNG\r\n\x1a\nfake"
JPEG = b"\xff\xd8\xff\xe0fake"


def write_tsv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, MMBENCH_COLUMNS, delimiter="\t")
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column, "nan") for column in MMBENCH_COLUMNS})
    return path


def test_mmbench_circular_shifts_and_image_cache(tmp_path: Path) -> None:
    tsv = write_tsv(tmp_path / "mmbench_dev_en_20231003.tsv", [
        {"index": 3, "question": "Which animal is shown?", "hint": "A farm photo.", "A": "cow", "B": "pig",
         "C": "hen", "answer": "B", "category": "object_localization", "image": base64.b64encode(PNG).decode(),
         "l2-category": "fine-grained perception"},
        {"index": 9, "question": "What colour is the sky?", "A": "blue", "B": "red", "answer": "A",
         "category": "attribute_recognition", "image": base64.b64encode(JPEG).decode(),
         "l2-category": "attribute"},
    ])
    samples = BENCHMARKS["mmbench"].load(tsv)
    cache = tmp_path / "mmbench_dev_en_20231003_images"
    assert (cache / "3.png").read_bytes() == PNG and (cache / "9.jpg").read_bytes() == JPEG
    assert [s.question_id for s in samples] == ["3", "1000003", "2000003", "9", "1000009"]
    meta = {"category": "object_localization", "l2_category": "fine-grained perception", "index": 3}
    assert samples[0] == EvalSample(
        "3", [str(cache / "3.png")],
        f"<image>\nA farm photo.\nWhich animal is shown?\nA. cow\nB. pig\nC. hen\n{CHOICE}",
        ChoiceTarget("B", {"A": "cow", "B": "pig", "C": "hen"}, group="3"), {**meta, "shift": 0},
    )
    assert samples[1] == EvalSample(  # options rotated by one: the pig moves from B to A
        "1000003", [str(cache / "3.png")],
        f"<image>\nA farm photo.\nWhich animal is shown?\nA. pig\nB. hen\nC. cow\n{CHOICE}",
        ChoiceTarget("A", {"A": "pig", "B": "hen", "C": "cow"}, group="3"), {**meta, "shift": 1},
    )
    assert samples[2].target == ChoiceTarget("C", {"A": "hen", "B": "cow", "C": "pig"}, group="3")
    assert samples[4].prompt == f"<image>\nWhat colour is the sky?\nA. red\nB. blue\n{CHOICE}"  # "nan" hint dropped
    assert samples[4].target == ChoiceTarget("B", {"A": "red", "B": "blue"}, group="9")
    assert [s.question_id for s in BENCHMARKS["mmbench"].load(tsv, circular=False)] == ["3", "9"]


def test_mmbench_file_with_circular_copies_is_used_as_is(tmp_path: Path) -> None:
    write_tsv(tmp_path / "MMBench_DEV_EN.tsv", [
        {"index": 5, "question": "Q?", "A": "x", "B": "y", "answer": "A", "category": "c",
         "image": base64.b64encode(PNG).decode()},
        {"index": 1000005, "question": "Q?", "A": "y", "B": "x", "answer": "B", "category": "c", "image": "5"},
    ])
    samples = BENCHMARKS["mmbench"].load(tmp_path)
    assert [s.question_id for s in samples] == ["5", "1000005"]
    assert samples[1].images == samples[0].images == [str(tmp_path / "MMBench_DEV_EN_images" / "5.png")]
    assert [s.target.group for s in samples] == ["5", "5"]


# --- POPE, MME --------------------------------------------------------------------------------

def test_pope_sets(tmp_path: Path) -> None:
    for category in ("random", "popular", "adversarial"):
        write_jsonl(tmp_path / f"coco_pope_{category}.json", [
            {"question_id": 1, "image": "COCO_val2014_000000310196.jpg", "text": f"Is there a {category} dog?",
             "label": "yes" if category == "random" else "no"},
        ])
    samples = BENCHMARKS["pope"].load(tmp_path)
    image = str(tmp_path / "val2014" / "COCO_val2014_000000310196.jpg")
    assert samples[0] == EvalSample("random/1", [image], f"<image>\nIs there a random dog?\n{VQA}", "yes",
                                    {"category": "random"})
    assert [(s.question_id, s.target) for s in samples] == [("random/1", "yes"), ("popular/1", "no"),
                                                            ("adversarial/1", "no")]
    assert [s.question_id for s in BENCHMARKS["pope"].load(tmp_path, split="popular")] == ["popular/1"]


def test_mme_both_folder_layouts(tmp_path: Path) -> None:
    color = tmp_path / "color"
    color.mkdir()
    (color / "000000012120.jpg").write_bytes(JPEG)
    (color / "000000012120.txt").write_text(
        "Is there a red coat in the image? Please answer yes or no.\tYes\n"
        "Is there a yellow coat in the image? Please answer yes or no.\tNo\n")
    artwork = tmp_path / "artwork"
    (artwork / "images").mkdir(parents=True)
    (artwork / "questions_answers_YN").mkdir()
    (artwork / "images" / "10002.png").write_bytes(PNG)
    (artwork / "questions_answers_YN" / "10002.txt").write_text(
        "Is this artwork by Rembrandt? Please answer yes or no.\tYes\n"
        "Is this artwork by Monet? Please answer yes or no.\tNo\n")
    samples = BENCHMARKS["mme"].load(tmp_path)
    assert samples[0] == EvalSample(
        "color/000000012120.jpg/0", [str(color / "000000012120.jpg")],
        f"<image>\nIs there a red coat in the image? Please answer yes or no.\n{VQA}",
        MMETarget("Yes", "color", "000000012120.jpg"), {"subtask": "color"},
    )
    assert [(s.question_id, s.target) for s in samples[1:]] == [
        ("color/000000012120.jpg/1", MMETarget("No", "color", "000000012120.jpg")),
        ("artwork/10002.png/0", MMETarget("Yes", "artwork", "10002.png")),
        ("artwork/10002.png/1", MMETarget("No", "artwork", "10002.png")),
    ]
    assert samples[2].images == [str(artwork / "images" / "10002.png")]


def test_mme_without_subtasks_names_the_expected_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no MME subtask folder.*existence"):
        BENCHMARKS["mme"].load(tmp_path)


# --- RefCOCO family, demo world ---------------------------------------------------------------

def write_refer(folder: Path, split_by: str) -> None:
    folder.mkdir(parents=True)
    refs = [
        {"sent_ids": [100, 101], "file_name": "COCO_train2014_000000000009_5.jpg", "ann_id": 5, "ref_id": 0,
         "image_id": 9, "split": "val", "category_id": 1,
         "sentences": [{"tokens": ["man", "left"], "raw": "Man, left", "sent_id": 100, "sent": "man left"},
                       {"tokens": ["guy"], "raw": "guy", "sent_id": 101, "sent": "guy"}]},
        {"sent_ids": [200], "file_name": "COCO_train2014_000000000009_6.jpg", "ann_id": 6, "ref_id": 1,
         "image_id": 9, "split": "train", "category_id": 1,
         "sentences": [{"tokens": ["dog"], "raw": "dog", "sent_id": 200, "sent": "dog"}]},
    ]
    with (folder / f"refs({split_by}).p").open("wb") as f:
        pickle.dump(refs, f)
    write_json(folder / "instances.json", {
        "images": [{"id": 9, "width": 640, "height": 480, "file_name": "COCO_train2014_000000000009.jpg"}],
        "annotations": [{"id": 5, "image_id": 9, "bbox": [10.0, 20.0, 100.0, 50.5], "category_id": 1},
                        {"id": 6, "image_id": 9, "bbox": [0, 0, 5, 5], "category_id": 18}],
        "categories": [{"id": 1, "name": "person"}],
    })


@pytest.mark.parametrize(("name", "split_by"), [("refcoco", "unc"), ("refcoco+", "unc"), ("refcocog", "umd")])
def test_refcoco_family(tmp_path: Path, name: str, split_by: str) -> None:
    folder = tmp_path / "data" / name
    write_refer(folder, split_by)
    image = str(tmp_path / "data" / "images" / "mscoco" / "images" / "train2014" / "COCO_train2014_000000000009.jpg")
    target = RecTarget((10.0, 20.0, 110.0, 70.5), 640, 480)  # xywh -> xyxy pixels
    meta = {"ref_id": 0, "ann_id": 5, "image_id": 9}
    assert BENCHMARKS[name].load(folder, split="val") == [
        EvalSample("100", [image], "<image>\n" + REC.format("man left"), target, {**meta, "expression": "man left"}),
        EvalSample("101", [image], "<image>\n" + REC.format("guy"), target, {**meta, "expression": "guy"}),
    ]


def test_demo_world_heldout(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "vqa_heldout.jsonl", [
        {"question_id": 0, "image": "images/heldout_00000.png", "question": "How many shapes are there?",
         "answer": "3", "question_type": "count"},
    ])
    write_jsonl(tmp_path / "rec_heldout.jsonl", [
        {"question_id": 0, "image": "images/heldout_00001.png", "expression": "the red circle",
         "box": [10, 20, 50, 60], "width": 256, "height": 128},
    ])
    assert BENCHMARKS["demo_vqa"].load(tmp_path) == [EvalSample(
        "0", [str(tmp_path / "images" / "heldout_00000.png")], f"<image>\nHow many shapes are there?\n{VQA}", "3",
        {"question_type": "count"},
    )]
    assert BENCHMARKS["demo_rec"].load(tmp_path / "rec_heldout.jsonl") == [EvalSample(
        "0", [str(tmp_path / "images" / "heldout_00001.png")], "<image>\n" + REC.format("the red circle"),
        RecTarget((10.0, 20.0, 50.0, 60.0), 256, 128), {"expression": "the red circle"},
    )]


# --- the registry -----------------------------------------------------------------------------

def test_registry_errors_name_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown benchmark 'vqa3'; known: ai2d, chartqa"):
        get_benchmark("vqa3")
    with pytest.raises(ValueError, match=r"vqav2: split must be one of \('val2014'"):
        BENCHMARKS["vqav2"].load(tmp_path, split="val")
    with pytest.raises(FileNotFoundError, match="missing VQA questions file: .*v2_OpenEnded_mscoco_val2014"):
        BENCHMARKS["vqav2"].load(tmp_path)
    with pytest.raises(FileNotFoundError, match="gqa: annotations not found"):
        BENCHMARKS["gqa"].load(tmp_path / "nowhere")
    write_json(tmp_path / "testdev_balanced_questions.json", {"1": {"question": "q?", "answer": "a"}})
    with pytest.raises(ValueError, match="gqa: malformed annotations .* missing field 'imageId'"):
        BENCHMARKS["gqa"].load(tmp_path)


def test_duplicate_question_ids_are_rejected(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "vqa_heldout.jsonl", [
        {"question_id": 4, "image": "a.png", "question": "q", "answer": "a", "question_type": "t"},
    ] * 2)
    with pytest.raises(ValueError, match="question_id '4' appears twice"):
        BENCHMARKS["demo_vqa"].load(tmp_path)


def test_every_benchmark_is_documented() -> None:
    docs = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for name, spec in BENCHMARKS.items():
        assert f"`{name}`" in docs, f"docs/benchmarks.md does not describe {name}"
        assert spec.max_new_tokens > 0 and spec.files
