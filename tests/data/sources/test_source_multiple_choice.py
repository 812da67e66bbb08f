"""Multiple-choice diagrams: AI2D and Geometry3K."""

from __future__ import annotations

from tests.testkit.files import write_image, write_json
from tests.testkit.sources import load_spec, read, turns

MC = "Answer with the option's letter from the given choices directly."


def test_ai2d_lists_options_and_answers_with_the_letter_leaving_out_test_ids(tmp_path):
    root = tmp_path / "ai2d"
    write_json(root / "questions" / "0.png.json", {"imageName": "0.png", "questions": {
        "What is A in the diagram?": {"abcLabel": True, "answerTexts": ["ears", "nose", "mouth", "face"],
                                      "correctAnswer": 3, "questionId": "0.png-0"},
        "Which part is shown?": {"abcLabel": False, "answerTexts": ["leaf", "root"], "correctAnswer": 5,
                                 "questionId": "0.png-1"}}})
    write_json(root / "questions" / "1.png.json", {"imageName": "1.png", "questions": {
        "Test question?": {"answerTexts": ["a", "b"], "correctAnswer": 0, "questionId": "1.png-0"}}})
    (root / "questions" / "2.png.json").write_text("{broken")
    (root / "ai2d_test_ids.csv").write_text("1\n")
    write_image(root / "images" / "0.png", (60, 40))

    records, errors = read(load_spec("ai2d", tmp_path))

    assert records == [{
        "id": "ai2d/0.png/multiple_choice/0", "source": "ai2d", "task": "multiple_choice",
        "images": [str(root / "images" / "0.png")],
        "messages": turns(f"<image>\nWhat is A in the diagram?\nThere are several options:\nA. ears\nB. nose\nC. mouth\nD. face\n{MC}", "D")}]
    assert errors == [("bad_answer", "ai2d/0.png/0.png-1"), ("malformed_json", "ai2d/2.png")]


def test_geometry3k_problem_folders(tmp_path):
    train = tmp_path / "geometry3k" / "train"
    write_json(train / "0" / "data.json", {
        "id": 0, "problem_text": "Find x.", "choices": ["3", "7", "9", "12"], "answer": "B",
        "problem_type_graph": ["Triangle"], "problem_type_goal": ["Length"], "source": "textbook1_chapter_1.pdf",
        "comment": "", "annotat_text": "Find x.", "unit": "", "compact_choices": ["3", "7", "9", "12"],
        "precise_value": [3.0, 7.0, 9.0, 12.0], "rough_value": [3, 7, 9, 12], "compact_text": "Find x."})
    write_json(train / "10" / "data.json", {"id": 10, "problem_text": "Find y.", "choices": ["1", "2", "3", "4"],
                                            "answer": "E"})
    (train / "2").mkdir()

    records, errors = read(load_spec("geometry3k", tmp_path))

    assert records == [{
        "id": "geometry3k/0/multiple_choice/0", "source": "geometry3k", "task": "multiple_choice",
        "images": [str(train / "0" / "img_diagram.png")],
        "messages": turns(f"<image>\nFind x.\nThere are several options:\nA. 3\nB. 7\nC. 9\nD. 12\n{MC}", "B")}]
    assert errors == [("unreadable_item", "geometry3k/2"), ("bad_answer", "geometry3k/10")]
