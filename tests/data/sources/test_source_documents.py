"""Document and chart QA: DocVQA, InfographicsVQA, ChartQA, DVQA, VisualMRC and the DUE format
(DeepForm, KleisterCharity, TabFact, WikiTableQuestions)."""

from __future__ import annotations

import pytest

from tests.testkit.files import write_json, write_jsonl
from tests.testkit.sources import load_spec, read, turns

VQA = "Answer the question using a single word or phrase."


def test_docvqa_takes_the_first_answer(tmp_path):
    def question(qid, text, image, answers):
        return {"questionId": qid, "question": text, "question_types": ["form"], "image": image, "docId": 279,
                "ucsf_document_id": "xnbl0037", "ucsf_document_page_no": "1", "answers": answers, "data_split": "train"}

    write_json(tmp_path / "docvqa" / "spdocvqa_qas" / "train_v1.0_withQT.json", {
        "dataset_name": "docvqa", "dataset_split": "train", "dataset_version": "1.0", "data": [
            question(337, "what is the date mentioned in this letter?", "documents/xnbl0037_1.png", ["1/8/93"]),
            question(338, "who signed the letter?", "documents/xnbl0037_1.png", ["Dr. Smith", "Smith"]),
            question(339, "what is the title?", "documents/pybv0228_81.png", [" "]),
        ]})

    records, errors = read(load_spec("docvqa", tmp_path))

    assert records == [{
        "id": "docvqa/documents/xnbl0037_1.png/vqa/0", "source": "docvqa", "task": "vqa",
        "images": [str(tmp_path / "docvqa" / "documents" / "xnbl0037_1.png")],
        "messages": turns(f"<image>\nwhat is the date mentioned in this letter?\n{VQA}", "1/8/93",
                          f"who signed the letter?\n{VQA}", "Dr. Smith")}]
    assert errors == [("empty_answer", "docvqa/documents/pybv0228_81.png/q339")]


def test_infographicsvqa_uses_image_local_name(tmp_path):
    write_json(tmp_path / "infographicsvqa" / "infographicsVQA_train_v1.0.json", {"dataset_name": "infographicVQA", "data": [
        {"questionId": 65718, "question": "Which social platform has heavy female audience?",
         "image_local_name": "37313.jpeg", "image_url": "https://example.org/x.jpg", "ocr_output_file": "37313.json",
         "answers": ["pinterest"], "data_split": "train"}]})

    records, errors = read(load_spec("infovqa", tmp_path))

    assert errors == []
    assert records == [{
        "id": "infovqa/37313.jpeg/vqa/0", "source": "infovqa", "task": "vqa",
        "images": [str(tmp_path / "infographicsvqa" / "infographicsvqa_images" / "37313.jpeg")],
        "messages": turns(f"<image>\nWhich social platform has heavy female audience?\n{VQA}", "pinterest")}]


def test_chartqa_reads_human_and_augmented_files_of_the_split_folder(tmp_path):
    split = tmp_path / "chartqa" / "ChartQA Dataset" / "train"
    write_json(split / "train_human.json", [
        {"imgname": "41699051005347.png", "query": "How many food items are shown?", "label": "14"}])
    write_json(split / "train_augmented.json", [
        {"imgname": "41699051005347.png", "query": "What is the highest value?", "label": 5},
        {"imgname": "multi_col_1.png", "query": "What is the lowest value?", "label": ""}])

    records, errors = read(load_spec("chartqa", tmp_path))

    assert records == [{
        "id": "chartqa/41699051005347.png/vqa/0", "source": "chartqa", "task": "vqa",
        "images": [str(split / "png" / "41699051005347.png")],
        "messages": turns(f"<image>\nHow many food items are shown?\n{VQA}", "14",
                          f"What is the highest value?\n{VQA}", "5")}]
    assert errors == [("empty_answer", "chartqa/multi_col_1.png/train_augmented:1")]


def test_dvqa_questions(tmp_path):
    write_json(tmp_path / "dvqa" / "qa" / "train_qa.json", [
        {"image": "bar_train_00000000.png", "question": "What is the label of the third bar from the bottom?",
         "answer": "dollar", "question_id": 1, "template_id": "data_retrieval", "answer_bbox": [1, 2, 3, 4]},
        {"image": "bar_train_00000001.png", "question": "Does the chart contain any negative values?",
         "question_id": 2, "template_id": "structure"},
        "not an object"])

    records, errors = read(load_spec("dvqa", tmp_path))

    assert records == [{
        "id": "dvqa/bar_train_00000000.png/vqa/0", "source": "dvqa", "task": "vqa",
        "images": [str(tmp_path / "dvqa" / "images" / "bar_train_00000000.png")],
        "messages": turns(f"<image>\nWhat is the label of the third bar from the bottom?\n{VQA}", "dollar")}]
    assert errors == [("missing_field", "dvqa/bar_train_00000001.png/q2"), ("malformed_item", "dvqa/2")]


def test_visualmrc_answers_with_sentences(tmp_path):
    page = {"id": "news_1", "url": "https://example.org", "image_filename": "screenshot/news_1.png",
            "bounding_boxes": [{"structure": "Paragraph", "shape": {}, "ocr_info": []}],
            "qa_data": [{"id": "q1", "question": {"text": "What is the article about?"},
                         "answer": {"text": "It is about a new bridge.", "relevant": []}},
                        {"id": "q2", "question": {"text": "Who wrote it?"}, "answer": {"text": ""}}]}
    write_jsonl(tmp_path / "visualmrc" / "train.jsonl", [page])

    records, errors = read(load_spec("visualmrc", tmp_path))

    assert records == [{
        "id": "visualmrc/screenshot/news_1.png/sentence_qa/0", "source": "visualmrc", "task": "sentence_qa",
        "images": [str(tmp_path / "visualmrc" / "images" / "screenshot" / "news_1.png")],
        "messages": turns("<image>\nWhat is the article about?\nAnswer the question with a complete sentence.",
                          "It is about a new bridge.")}]
    assert errors == [("empty_answer", "visualmrc/screenshot/news_1.png/qa1")]


def due_document(name, *annotations):
    return {"name": name, "language": "en", "split": "train",
            "annotations": [{"id": f"{name}-{i}", "key": key, "values": [{"value": v} for v in values], "metadata": {}}
                            for i, (key, values) in enumerate(annotations)]}


def test_due_kie_asks_for_fields_in_words(tmp_path):
    write_jsonl(tmp_path / "due" / "DeepForm" / "train" / "document.jsonl", [
        due_document("0a1b2c", ("gross_amount", ["$1,200.00"]), ("advertiser", ["Smith for Senate"]), ("flight_to", [])),
        due_document(""),
    ])
    write_jsonl(tmp_path / "due" / "KleisterCharity" / "train" / "document.jsonl", [
        due_document("charity1.pdf", ("address__post_town", ["BROADWAY"]))])

    deepform, deepform_errors = read(load_spec("deepform", tmp_path))
    klc, _ = read(load_spec("kleister_charity", tmp_path))

    assert deepform == [{
        "id": "deepform/0a1b2c/kie/0", "source": "deepform", "task": "kie",
        "images": [str(tmp_path / "due" / "DeepForm" / "images" / "0a1b2c.png")],
        "messages": turns("<image>\nWhat is the value for the gross amount?", "$1,200.00",
                          "What is the value for the advertiser?", "Smith for Senate")}]
    assert deepform_errors == [("empty_answer", "deepform/0a1b2c/0a1b2c-2"), ("missing_field", "deepform/1")]
    assert klc[0]["images"] == [str(tmp_path / "due" / "KleisterCharity" / "images" / "charity1.png")]
    assert klc[0]["messages"] == turns("<image>\nWhat is the value for the address post town?", "BROADWAY")


def test_due_tabfact_answers_yes_or_no_and_wtq_joins_values(tmp_path):
    write_jsonl(tmp_path / "due" / "TabFact" / "train" / "document.jsonl", [due_document(
        "2-1859269-1.html.csv", ("the team won 3 games", ["1"]), ("the team lost every game", ["0"]),
        ("the team is red", ["maybe"]))])
    write_jsonl(tmp_path / "due" / "WikiTableQuestions" / "train" / "document.jsonl", [due_document(
        "csv-204-56", ("which teams won?", ["Ajax", "PSV"]))])

    tabfact, tabfact_errors = read(load_spec("tabfact", tmp_path))
    wtq, _ = read(load_spec("wtq", tmp_path))

    prompt = "Is the following statement supported by the table? {} Answer yes or no."
    assert tabfact[0]["messages"] == turns("<image>\n" + prompt.format("the team won 3 games"), "Yes",
                                           prompt.format("the team lost every game"), "No")
    assert tabfact_errors == [("bad_answer", "tabfact/2-1859269-1.html.csv/2-1859269-1.html.csv-2")]
    assert wtq == [{"id": "wtq/csv-204-56/vqa/0", "source": "wtq", "task": "vqa",
                    "images": [str(tmp_path / "due" / "WikiTableQuestions" / "images" / "csv-204-56.png")],
                    "messages": turns(f"<image>\nwhich teams won?\n{VQA}", "Ajax, PSV")}]


def test_due_rejects_an_unknown_style_by_option_name(tmp_path):
    write_jsonl(tmp_path / "due" / "DeepForm" / "train" / "document.jsonl", [due_document("x")])
    with pytest.raises(ValueError, match=r"data.sources.deepform.options.style"):
        read(load_spec("deepform", tmp_path, style="ner"))
