"""Natural-image VQA: VQAv2, OKVQA, GQA, CLEVR, TextVQA, Visual Genome QA."""

from __future__ import annotations

from tests.testkit.files import write_json
from tests.testkit.sources import load_spec, read, turns

VQA = "Answer the question using a single word or phrase."


def answers(*texts, field="answer"):
    return [{field: t, "answer_confidence": "yes", "answer_id": i + 1} for i, t in enumerate(texts)]


def test_vqav2_groups_questions_by_image_and_takes_the_most_common_answer(tmp_path):
    questions = [{"image_id": 9, "question": "What color is the cat?", "question_id": 9000},
                 {"image_id": 9, "question": "How many cats?", "question_id": 9001},
                 {"image_id": 25, "question": "Is it raining?", "question_id": 25000},
                 {"image_id": 25, "question": "Who knows?", "question_id": 25001},
                 {"image_id": 30, "question": "Orphan?", "question_id": 30000}]
    write_json(tmp_path / "vqav2" / "v2_OpenEnded_mscoco_train2014_questions.json", {
        "info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "data_subtype": "train2014", "license": {},
        "questions": questions})
    write_json(tmp_path / "vqav2" / "v2_mscoco_train2014_annotations.json", {"annotations": [
        {"question_id": 9000, "image_id": 9, "question_type": "what color", "answer_type": "other",
         "multiple_choice_answer": "white", "answers": answers("white", "black", "white", "grey")},
        {"question_id": 9001, "image_id": 9, "question_type": "how many", "answer_type": "number",
         "multiple_choice_answer": "2", "answers": answers("2", "3", "3", "2")},
        {"question_id": 25000, "image_id": 25, "answer_type": "yes/no", "answers": answers(*["no"] * 10)},
        {"question_id": 25001, "image_id": 25, "answer_type": "other", "answers": answers("", " ")},
    ]})

    records, errors = read(load_spec("vqav2", tmp_path))

    coco = tmp_path / "coco" / "train2014"
    assert records == [
        {"id": "vqav2/9/vqa/0", "source": "vqav2", "task": "vqa", "images": [str(coco / "COCO_train2014_000000000009.jpg")],
         "messages": turns(f"<image>\nWhat color is the cat?\n{VQA}", "white", f"How many cats?\n{VQA}", "2")},
        {"id": "vqav2/25/vqa/0", "source": "vqav2", "task": "vqa", "images": [str(coco / "COCO_train2014_000000000025.jpg")],
         "messages": turns(f"<image>\nIs it raining?\n{VQA}", "no")},
    ]
    assert errors == [("empty_answer", "vqav2/25/q25001"), ("no_annotation", "vqav2/30/q30000")]


def test_okvqa_trains_on_the_unstemmed_raw_answers(tmp_path):
    write_json(tmp_path / "okvqa" / "OpenEnded_mscoco_train2014_questions.json", {
        "data_subtype": "train2014", "questions": [{"image_id": 51606, "question": "What sport is this?", "question_id": 516065}]})
    raw = [{"answer_id": i, "raw_answer": r, "answer_confidence": "yes", "answer": a}
           for i, (r, a) in enumerate([("racing", "race"), ("racing", "race"), ("motocross", "motocross")])]
    write_json(tmp_path / "okvqa" / "mscoco_train2014_annotations.json",
               {"annotations": [{"question_id": 516065, "image_id": 51606, "answers": raw}]})

    records, errors = read(load_spec("okvqa", tmp_path))

    assert errors == []
    assert records[0]["messages"] == turns(f"<image>\nWhat sport is this?\n{VQA}", "racing")
    assert records[0]["images"] == [str(tmp_path / "coco" / "train2014" / "COCO_train2014_000000051606.jpg")]


def test_gqa_questions_keyed_by_id(tmp_path):
    write_json(tmp_path / "gqa" / "questions1.2" / "train_balanced_questions.json", {
        "02930152": {"semantic": [], "entailed": [], "equivalent": ["02930152"], "question": "Is the sky dark?",
                     "imageId": "2354786", "isBalanced": True, "groups": {}, "answer": "yes",
                     "semanticStr": "select: sky", "annotations": {}, "types": {}, "fullAnswer": "Yes, the sky is dark."},
        "07333408": {"question": "What is on the white wall?", "imageId": "2354786", "answer": "pipe",
                     "fullAnswer": "The pipe is on the wall."},
        "07333409": {"question": "What is this?", "imageId": "1", "answer": ""},
    })

    records, errors = read(load_spec("gqa", tmp_path))
    full, _ = read(load_spec("gqa", tmp_path, full_answer=True, max_turns=1))

    assert records == [{
        "id": "gqa/2354786/vqa/0", "source": "gqa", "task": "vqa", "images": [str(tmp_path / "gqa" / "images" / "2354786.jpg")],
        "messages": turns(f"<image>\nIs the sky dark?\n{VQA}", "yes", f"What is on the white wall?\n{VQA}", "pipe")}]
    assert errors == [("empty_answer", "gqa/1/q07333409")]
    assert [(r["id"], r["messages"][1]["content"]) for r in full] == [
        ("gqa/2354786/vqa/0", "Yes, the sky is dark."), ("gqa/2354786/vqa/1", "The pipe is on the wall.")]


def test_clevr_questions(tmp_path):
    write_json(tmp_path / "CLEVR_v1.0" / "questions" / "CLEVR_train_questions.json", {"info": {"split": "train"}, "questions": [
        {"image_index": 0, "program": [], "question_index": 0, "image_filename": "CLEVR_train_000000.png",
         "question_family_index": 29, "split": "train", "answer": "yes", "question": "Are there any cubes?"},
        {"image_index": 0, "program": [], "question_index": 1, "image_filename": "CLEVR_train_000000.png",
         "question_family_index": 3, "split": "train", "answer": "2", "question": "How many spheres are there?"},
        {"image_index": 1, "program": [], "question_index": 2, "split": "train", "answer": "no", "question": "Is it red?"},
    ]})

    records, errors = read(load_spec("clevr", tmp_path))

    assert records == [{
        "id": "clevr/CLEVR_train_000000.png/vqa/0", "source": "clevr", "task": "vqa",
        "images": [str(tmp_path / "CLEVR_v1.0" / "images" / "train" / "CLEVR_train_000000.png")],
        "messages": turns(f"<image>\nAre there any cubes?\n{VQA}", "yes", f"How many spheres are there?\n{VQA}", "2")}]
    assert errors == [("missing_field", "clevr/None/q2")]


def test_textvqa_puts_the_rosetta_ocr_tokens_in_the_prompt(tmp_path):
    def question(qid, image_id, text, answers):
        return {"question": text, "image_id": image_id, "image_classes": ["Mobile phone"], "flickr_original_url": "",
                "flickr_300k_url": "", "image_width": 1024, "image_height": 768, "answers": answers,
                "question_tokens": text.split(), "question_id": qid, "set_name": "train"}

    write_json(tmp_path / "textvqa" / "TextVQA_0.5.1_train.json", {
        "dataset_type": "train", "dataset_name": "textvqa", "dataset_version": "0.5.1", "data": [
            question(0, "0054c91397f2fe05", "what brand is this?", ["nokia"] * 7 + ["toshiba"] * 3),
            question(1, "00685bc495504d61", "what number is shown?", ["5", "5", "6"]),
            question(2, "00685bc495504d61", "what else?", []),
        ]})
    write_json(tmp_path / "textvqa" / "TextVQA_Rosetta_OCR_v0.2_train.json", {"dataset_type": "train", "data": [
        {"image_id": "0054c91397f2fe05", "ocr_tokens": ["NOKIA", "Connecting"], "ocr_info": []},
        {"image_id": "00685bc495504d61", "ocr_info": [{"word": "5", "bounding_box": {}}, {"word": "min", "bounding_box": {}}]},
    ]})

    records, errors = read(load_spec("textvqa", tmp_path))

    images = tmp_path / "textvqa" / "train_images"
    assert records == [
        {"id": "textvqa/0054c91397f2fe05/textvqa/0", "source": "textvqa", "task": "textvqa",
         "images": [str(images / "0054c91397f2fe05.jpg")],
         "messages": turns(f"<image>\nwhat brand is this?\nReference OCR token: NOKIA, Connecting {VQA}", "nokia")},
        {"id": "textvqa/00685bc495504d61/textvqa/0", "source": "textvqa", "task": "textvqa",
         "images": [str(images / "00685bc495504d61.jpg")],
         "messages": turns(f"<image>\nwhat number is shown?\nReference OCR token: 5, min {VQA}", "5")},
    ]
    assert errors == [("empty_answer", "textvqa/00685bc495504d61/q2")]


def test_vg_qa_drops_the_final_period_of_answers(tmp_path):
    write_json(tmp_path / "visual_genome" / "image_data.json", [
        {"image_id": 1, "url": "https://cs.stanford.edu/people/rak248/VG_100K_2/1.jpg", "width": 800, "height": 600}])
    write_json(tmp_path / "visual_genome" / "question_answers.json", [
        {"id": 1, "qas": [
            {"a_objects": [], "question": "What color is the car?", "image_id": 1, "qa_id": 101, "answer": "Red.", "q_objects": []},
            {"a_objects": [], "question": "Where is it?", "image_id": 1, "qa_id": 102, "answer": ".", "q_objects": []},
            {"a_objects": [], "image_id": 1, "qa_id": 103, "answer": "Yes.", "q_objects": []}]},
        {"id": 7, "qas": []},
    ])

    records, errors = read(load_spec("vg_qa", tmp_path))

    assert records == [{"id": "vg_qa/1/vqa/0", "source": "vg_qa", "task": "vqa",
                        "images": [str(tmp_path / "visual_genome" / "VG_100K_2" / "1.jpg")],
                        "messages": turns(f"<image>\nWhat color is the car?\n{VQA}", "Red")}]
    assert errors == [("empty_answer", "vg_qa/1/qa102"), ("missing_field", "vg_qa/1/qa103"), ("unknown_image", "vg_qa/7")]
