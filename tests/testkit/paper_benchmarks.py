"""Tiny fixtures in the official release formats of the paper benchmarks, and a fake judge.

Each ``write_*`` writes a few questions in the exact layout the benchmark's reader expects (see
``docs/benchmarks.md``) with grey images, and returns the folder. :func:`judge_answer` is the
``answer`` callback of :class:`tests.testkit.fake_vlm.FakeVlm` that plays the judge: it reads the
official prompts back and grades by substring, so the expected scores can be worked out by hand.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from sphinx_x.eval.metrics.judge_prompts import LLAVA_SYSTEM, MMVET_PROMPT, MMVET_RETRY_SUFFIX
from tests.testkit.files import write_image, write_json, write_jsonl

# --- the fake judge ------------------------------------------------------------------------------


def mmvet_grade(answer: str, prediction: str) -> float:
    """<AND>: the share of the parts present; <OR>: 1 if any is; else 1 if the answer is in the prediction."""
    said = prediction.lower()
    if " <AND> " in answer:
        parts = answer.split(" <AND> ")
        return sum(p.strip().lower() in said for p in parts) / len(parts)
    return float(any(p.strip().lower() in said for p in answer.split(" <OR> ")))


def judge_answer(request: dict[str, Any], behaviour: str) -> str:
    """The judge's reply to an MM-Vet, LLaVA-Bench or MathVista request (MathVista: the "(X)" letter
    in the response, else its last number).

    Behaviours: ``"answer"`` grades; ``"garbage"`` replies prose; ``"out_of_range"`` an MM-Vet score of 7.5.
    """
    messages = request["messages"]
    text = messages[-1]["content"]
    if behaviour == "garbage":
        return "I am not able to grade this answer."
    if text.startswith(MMVET_PROMPT):
        if behaviour == "out_of_range":
            return "7.5"
        row = text[len(MMVET_PROMPT) + 1:].removesuffix(MMVET_RETRY_SUFFIX)
        _, answer, prediction, _ = row.split(" | ")
        return f"{mmvet_grade(answer, prediction):.1f}"
    if messages[0]["content"] == LLAVA_SYSTEM:
        reference = text.split("[Assistant 1]\n", 1)[1].split("\n\n[End of Assistant 1]", 1)[0]
        answer = text.split("[Assistant 2]\n", 1)[1].split("\n\n[End of Assistant 2]", 1)[0]
        score = 8 if answer == reference else (4 if answer else 1)
        return f"8 {score}\nAssistant 1 is detailed; Assistant 2 is {'as good' if score == 8 else 'weaker'}."
    if text.endswith("Extracted answer: "):
        response = text.rsplit("\n\nExtracted answer: ", 1)[0].rsplit("\n\n", 1)[1]
        letter = re.search(r"\(([A-E])\)", response)
        numbers = re.findall(r"-?\d+(?:\.\d+)?", response)
        return letter.group(1) if letter else (numbers[-1] if numbers else response)
    raise AssertionError(f"not a judge request: {text[:80]!r}")


# --- writers -------------------------------------------------------------------------------------


def png_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (127, 127, 127)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_mmvet(folder: Path) -> Path:
    """Three questions: an <AND> answer (ocr, math), an <OR> answer (ocr, math), a free one (rec, know, gen)."""
    write_json(folder / "mm-vet.json", {
        "v1_0": {"imagename": "v1_0.png", "question": "What is x in the equation?", "answer": "-1<AND>-5",
                 "capability": ["ocr", "math"], "imagesource": "web"},
        "v1_1": {"imagename": "v1_1.png", "question": "What is d in the last equation?",
                 "answer": "1.25<OR>=1.25<OR>5/4", "capability": ["ocr", "math"], "imagesource": "web"},
        "v1_2": {"imagename": "v1_2.png", "question": "Who is the person in the image?", "answer": "Mona Lisa",
                 "capability": ["rec", "know", "gen"], "imagesource": "web"},
    })
    for name in ("v1_0", "v1_1", "v1_2"):
        write_image(folder / "images" / f"{name}.png", (40, 30))
    return folder


def write_llava_bench(folder: Path) -> Path:
    """Two images, three questions (conv, detail, complex); contexts as a string and as a sentence list."""
    write_jsonl(folder / "questions.jsonl", [
        {"image": "001.jpg", "text": "What is the name of this sight?", "category": "conv", "question_id": 0},
        {"image": "001.jpg", "text": "Describe this photo in detail.", "category": "detail", "question_id": 1},
        {"image": "002.jpg", "text": "Why is this funny?", "category": "complex", "question_id": 2},
    ])
    write_jsonl(folder / "context.jsonl", [
        {"id": "001", "image": "001.jpg", "caption": "An aerial view of Diamond Head."},
        {"id": "002", "image": "002.jpg", "caption": ["A dog as the Mona Lisa.", "It is a painting."]},
    ])
    write_jsonl(folder / "answers_gpt4.jsonl", [
        {"question_id": q, "prompt": "", "text": text, "answer_id": f"a{q}", "model_id": "gpt-4-0314", "metadata": {}}
        for q, text in enumerate(["Diamond Head.", "An aerial view of a crater.", "A dog poses like the Mona Lisa."])
    ])
    for name in ("001.jpg", "002.jpg"):
        write_image(folder / "images" / name, (40, 30))
    return folder


MATHVISTA_PROBLEMS: dict[str, dict[str, Any]] = {
    "1": {"question": "What fraction of the shape is blue?", "image": "images/1.jpg",
          "choices": ["3/11", "8/11", "6/11", "3/5"], "unit": None, "precision": None, "answer": "8/11",
          "question_type": "multi_choice", "answer_type": "text",
          "metadata": {"split": "testmini", "language": "english", "source": "Geometry3K", "category": "math-targeted-vqa",
                       "task": "geometry problem solving", "context": "geometry diagram", "grade": "high school",
                       "skills": ["geometry reasoning", "arithmetic reasoning"]},
          "query": "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the "
                   "end.\nQuestion: What fraction of the shape is blue?\nChoices:\n(A) 3/11\n(B) 8/11\n(C) 6/11\n"
                   "(D) 3/5"},
    "2": {"question": "Which number is missing?", "image": "images/2.jpg", "choices": None, "unit": None,
          "precision": None, "answer": "14", "question_type": "free_form", "answer_type": "integer",
          "metadata": {"split": "testmini", "language": "english", "source": "IQTest", "category": "math-targeted-vqa",
                       "task": "figure question answering", "context": "puzzle test", "grade": "elementary school",
                       "skills": ["logical reasoning", "arithmetic reasoning"]},
          "query": "Hint: Please answer the question requiring an integer answer and provide the final value, e.g., "
                   "1, 2, 3, at the end.\nQuestion: Which number is missing?"},
    "3": {"question": "How much money does Luca need?", "image": "images/3.jpg", "choices": None, "unit": "$",
          "precision": 2.0, "answer": "1.45", "question_type": "free_form", "answer_type": "float",
          "metadata": {"split": "testmini", "language": "english", "source": "TabMWP", "category": "math-targeted-vqa",
                       "task": "math word problem", "context": "table", "grade": "elementary school",
                       "skills": ["arithmetic reasoning", "statistical reasoning"]},
          "query": "Hint: Please answer the question requiring a floating-point number with two decimal places and "
                   "provide the final value, e.g., 1.23, 1.34, 1.45, at the end.\nQuestion: How much money does Luca "
                   "need? (Unit: $)"},
}


def write_mathvista_json(folder: Path) -> Path:
    """The original release: ``data/testmini.json`` (pid -> problem, with ``pid``) and ``data/images/``."""
    write_json(folder / "data" / "testmini.json", {pid: {**p, "pid": pid} for pid, p in MATHVISTA_PROBLEMS.items()})
    for pid in MATHVISTA_PROBLEMS:
        write_image(folder / "data" / "images" / f"{pid}.jpg", (30, 20))
    return folder


def write_mathvista_parquet(folder: Path) -> Path:
    """The Hugging Face release: ``data/testmini-00000-of-00001.parquet`` with the image bytes."""
    rows = [{"pid": pid, **p, "precision": p["precision"], "decoded_image": {"bytes": png_bytes(), "path": p["image"]}}
            for pid, p in MATHVISTA_PROBLEMS.items()]
    (folder / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "data" / "testmini-00000-of-00001.parquet")
    return folder


def mmmu_rows() -> dict[str, list[dict[str, Any]]]:
    """Subject -> validation rows: a multiple-choice question with two images, an open one, one without images."""
    empty = {f"image_{k}": None for k in range(1, 8)}
    return {
        "Art": [
            {**empty, "id": "validation_Art_1", "question": "Which painting is older, <image 1> or <image 2>?",
             "options": "['The first', 'The second']", "explanation": "", "img_type": "['Paintings']",
             "answer": "B", "topic_difficulty": "Easy", "question_type": "multiple-choice", "subfield": "Fine Arts",
             "image_1": "a.png", "image_2": "b.png"},
        ],
        "Math": [
            {**empty, "id": "validation_Math_1", "question": "<image 1> What is the area of the square?",
             "options": "[]", "explanation": "", "img_type": "['Diagrams']", "answer": "['24', '24.0']",
             "topic_difficulty": "Medium", "question_type": "open", "subfield": "Geometry", "image_1": "c.png"},
            {**empty, "id": "validation_Math_2", "question": "What is 2 + 2?", "options": "['3', '4', '5']",
             "explanation": "", "img_type": "[]", "answer": "B", "topic_difficulty": "Easy",
             "question_type": "multiple-choice", "subfield": "Arithmetic"},
        ],
    }


def write_mmmu(folder: Path, parquet: bool = True) -> Path:
    """``<Subject>/validation-00000-of-00001.parquet`` (images as bytes) or ``<Subject>/validation.json``."""
    for subject, rows in mmmu_rows().items():
        if parquet:
            table_rows = [{k: ({"bytes": png_bytes(), "path": v} if k.startswith("image_") and v else v)
                           for k, v in row.items()} for row in rows]
            (folder / subject).mkdir(parents=True, exist_ok=True)
            schema = pa.schema([(k, pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
                                if k.startswith("image_") else (k, pa.string()) for k in table_rows[0]])
            pq.write_table(pa.Table.from_pylist(table_rows, schema=schema),
                           folder / subject / "validation-00000-of-00001.parquet")
        else:
            write_json(folder / subject / "validation.json", rows)
            for row in rows:
                for k in range(1, 8):
                    if row[f"image_{k}"]:
                        write_image(folder / subject / row[f"image_{k}"], (20, 20))
    return folder


def write_hallusion(folder: Path) -> Path:
    """Set 0 of VD/chart: two figures x two questions; plus one VS question without a figure."""
    items = []
    for figure in ("0", "1"):
        for question, answers in (("0", {"0": "1", "1": "0"}), ("1", {"0": "1", "1": "1"})):
            items.append({"category": "VD", "subcategory": "chart", "visual_input": "1", "set_id": "0",
                          "figure_id": figure, "sample_note": "chart", "question_id": question,
                          "question": f"Is statement {question} true for this chart?",
                          "gt_answer_details": "details", "gt_answer": answers[figure],
                          "filename": f"./hallusion_bench/VD/chart/0_{figure}.png"})
            write_image(folder / "hallusion_bench" / "VD" / "chart" / f"0_{figure}.png", (30, 30))
    items.append({"category": "VS", "subcategory": "map", "visual_input": "0", "set_id": "3", "figure_id": "0",
                  "sample_note": "map", "question_id": "0", "question": "Is Paris the capital of France?",
                  "gt_answer_details": "Yes", "gt_answer": "1", "filename": None})
    write_json(folder / "HallusionBench.json", items)
    return folder


def write_ocrvqa(folder: Path) -> Path:
    """Three book covers, one per split (1 train, 2 val, 3 test); the test one has two questions."""
    write_json(folder / "dataset.json", {
        "0000000001": {"imageURL": "http://ecx.images-amazon.com/images/I/51+abc.jpg", "questions": [
            "Who wrote this book?", "Is this a comedy book?"], "answers": ["Jane Doe", "No"], "title": "T",
            "authorName": "Jane Doe", "genre": "Travel", "genreID": 1, "split": 3},
        "0000000002": {"imageURL": "http://ecx.images-amazon.com/images/I/61xyz.png", "questions": ["Title?"],
                       "answers": ["A"], "title": "A", "authorName": "B", "genre": "Art", "genreID": 2, "split": 2},
        "0000000003": {"imageURL": "http://x/7.jpg", "questions": ["Genre?"], "answers": ["Art"], "title": "C",
                       "authorName": "D", "genre": "Art", "genreID": 2, "split": 1},
    })
    write_image(folder / "images" / "0000000001.jpg", (30, 40))
    return folder


def write_accessory_refcoco(folder: Path) -> Path:
    """``eval_mm/annotations/refcoco_val.json`` (two expressions, one image) under ``folder``; returns the annotations folder."""
    annotations = folder / "annotations"
    write_json(annotations / "refcoco_val.json", [
        {"image_path": "data/coco/train2014/COCO_train2014_000000580957.jpg", "question": "bowl behind the others",
         "question_id": "height428_width640", "dataset_name": "refcoco_val", "gt_answers": [468.3, 0.91, 640.0, 117.03]},
        {"image_path": "data/coco/train2014/COCO_train2014_000000580957.jpg", "question": "dish in top right corner",
         "question_id": "height428_width640", "dataset_name": "refcoco_val", "gt_answers": [468.3, 0.91, 640.0, 117.03]},
    ])
    return annotations
