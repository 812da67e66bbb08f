"""``sphinx-x-score`` end to end: reports, errors, options, the server file and a real demo world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sphinx_x.eval.benchmarks import BENCHMARKS
from sphinx_x.score import main
from tests.testkit.benchmarks import write_demo_benchmark
from tests.testkit.files import write_jsonl


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    return write_demo_benchmark(tmp_path / "demo")


def test_cli_scores_reports_missing_and_writes_json(demo: Path, tmp_path: Path, capsys) -> None:
    predictions = write_jsonl(tmp_path / "preds.jsonl", [
        {"question_id": 0, "prediction": "3"},
        {"question_id": 1, "prediction": "Three."},       # wrong
        {"question_id": 2, "prediction": "Red."},         # right after normalisation
    ])                                                    # question 3 missing -> wrong
    out = tmp_path / "scores.json"
    assert main(["demo_vqa", str(predictions), str(demo), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "accuracy[question_type=count]" in captured.out and "n_missing" in captured.out
    assert "1 of 4 questions have no prediction and were scored as wrong: 3" in captured.err
    report = json.loads(out.read_text())
    assert report["benchmark"] == "demo_vqa"
    assert report["missing_question_ids"] == ["3"]
    assert report["per_question"] == {"0": 1.0, "1": 0.0, "2": 1.0, "3": 0.0}
    assert report["metric_options"] == {}
    assert report["scores"] == {
        "accuracy": 0.5,
        "accuracy[question_type=colour]": 0.5,
        "accuracy[question_type=count]": 0.5,
        "n_samples": 4.0,
        "n_missing": 1.0,
    }


def test_cli_rejects_unknown_question_ids(demo: Path, tmp_path: Path, capsys) -> None:
    predictions = write_jsonl(tmp_path / "preds.jsonl", [{"question_id": 0, "prediction": "3"},
                                                         {"question_id": 99, "prediction": "x"}])
    assert main(["demo_vqa", str(predictions), str(demo)]) == 2
    err = capsys.readouterr().err
    assert "1 predictions have question_ids that are not in the benchmark: '99'" in err


@pytest.mark.parametrize(("lines", "message"), [
    (['{"question_id": 0, "prediction": "3"}', "not json"], "preds.jsonl:2: not JSON"),
    (['{"question_id": 0, "answer": "3"}'], 'preds.jsonl:1: expected {"question_id": ..., "prediction"'),
    (['{"question_id": 0, "prediction": "3"}', '{"question_id": "0", "prediction": "3"}'],
     "preds.jsonl:2: question_id '0' predicted twice"),
])
def test_cli_rejects_malformed_predictions(demo: Path, tmp_path: Path, capsys, lines: list[str],
                                           message: str) -> None:
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text("\n".join(lines) + "\n")
    assert main(["demo_vqa", str(predictions), str(demo)]) == 2
    assert message in capsys.readouterr().err


def test_cli_unknown_benchmark_and_default_annotation_root(demo: Path, tmp_path: Path, capsys,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    predictions = write_jsonl(tmp_path / "preds.jsonl", [{"question_id": 0, "prediction": "3"}])
    assert main(["vqa3", str(predictions)]) == 2
    assert "unknown benchmark 'vqa3'" in capsys.readouterr().err
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "demo_vqa").symlink_to(demo)
    monkeypatch.setenv("SPHINX_X_BENCHMARKS", str(tmp_path / "root"))
    assert main(["demo_vqa", str(predictions)]) == 0
    assert "3 of 4 questions have no prediction" in capsys.readouterr().err


def test_cli_rec_maps_boxes_through_the_model_frame(demo: Path, tmp_path: Path, capsys) -> None:
    # 256x128 image anchored top-left: normalised = pixels / 256 -> [10, 20, 50, 60] exactly
    predictions = write_jsonl(tmp_path / "preds.jsonl", [
        {"question_id": 0, "prediction": "[0.0390625, 0.078125, 0.1953125, 0.234375]"},
    ])
    out = tmp_path / "scores.json"
    assert main(["demo_rec", str(predictions), str(demo), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["scores"]["accuracy"] == 1.0
    # read in a centred frame (112 px of padding above) the same box lies above the image: wrong
    assert main(["demo_rec", str(predictions), str(demo), "--anchor", "center", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["scores"]["accuracy"] == 0.0


def test_cli_test_split_writes_the_server_file(tmp_path: Path, capsys) -> None:
    (tmp_path / "v2_OpenEnded_mscoco_test-dev2015_questions.json").write_text(json.dumps({
        "data_subtype": "test-dev2015", "questions": [{"image_id": 1, "question": "Is it raining?", "question_id": 10}],
    }))
    predictions = write_jsonl(tmp_path / "preds.jsonl", [{"question_id": 10, "prediction": "no"}])
    args = ["vqav2", str(predictions), str(tmp_path), "--split", "test-dev2015"]
    assert main(args) == 2
    assert "1 of 1 samples have no ground truth" in capsys.readouterr().err
    server = tmp_path / "server.json"
    assert main([*args, "--server-out", str(server)]) == 0
    assert json.loads(server.read_text()) == [{"question_id": 10, "answer": "no"}]


def test_round_trip_on_a_real_demo_world(tmp_path: Path, capsys) -> None:
    """Oracle answers written the way the model writes them score 1.0 through the CLI."""
    from sphinx_x.data.geometry import ImageFrame
    from sphinx_x.demo.world import build_demo_world

    demo = tmp_path / "world"
    build_demo_world(demo, n_train=2, n_heldout=4, seed=0)
    vqa = BENCHMARKS["demo_vqa"].load(demo)
    rec = BENCHMARKS["demo_rec"].load(demo)
    assert all(Path(s.images[0]).is_file() for s in vqa + rec)
    boxes = [{"question_id": s.question_id,
              "prediction": "<p>it</p> " + ImageFrame.fit(s.target.width, s.target.height, 448, 2).box_to_text(s.target.box)}
             for s in rec]  # two decimals in the padded square, as the model writes boxes
    answers = [{"question_id": s.question_id, "prediction": s.target.capitalize() + "."} for s in vqa]
    out = tmp_path / "scores.json"
    assert main(["demo_rec", str(write_jsonl(tmp_path / "rec.jsonl", boxes)), str(demo), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["scores"]["accuracy"] == 1.0
    assert main(["demo_vqa", str(write_jsonl(tmp_path / "vqa.jsonl", answers)), str(demo), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["scores"]["accuracy"] == 1.0


def write_vqav2_val(folder: Path, answers: dict[int, list[str]]) -> Path:
    """A VQAv2 val2014 question / annotation pair; ``answers``: question id -> the ten answers."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "v2_OpenEnded_mscoco_val2014_questions.json").write_text(json.dumps({
        "data_subtype": "val2014",
        "questions": [{"image_id": qid, "question": "?", "question_id": qid} for qid in answers],
    }))
    (folder / "v2_mscoco_val2014_annotations.json").write_text(json.dumps({"annotations": [
        {"question_id": qid, "image_id": qid, "question_type": "what", "answer_type": "other",
         "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(given)]}
        for qid, given in answers.items()
    ]}))
    return folder


def test_cli_vqa_official_mode_and_per_question(tmp_path: Path, capsys) -> None:
    folder = write_vqav2_val(tmp_path / "vqav2", {1: ["yes"] * 10, 2: ["2", "two."] + ["3"] * 8})
    predictions = write_jsonl(tmp_path / "preds.jsonl", [{"question_id": 1, "prediction": "Yes"},
                                                         {"question_id": 2, "prediction": "Two"}])
    out = tmp_path / "scores.json"
    assert main(["vqav2", str(predictions), str(folder), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["scores"]["accuracy"] == pytest.approx((1.0 + 0.6) / 2)
    assert report["per_question"] == {"1": 1.0, "2": pytest.approx(0.6)}
    # official script: all ten agree -> "Yes" is compared unprocessed with "yes" -> 0
    assert main(["vqav2", str(predictions), str(folder), "--vqa-mode", "official", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["metric_options"] == {"mode": "official"}
    assert report["scores"]["accuracy"] == pytest.approx(0.6 / 2)
    assert report["per_question"] == {"1": 0.0, "2": pytest.approx(0.6)}
    capsys.readouterr()
    assert main(["demo_vqa", str(predictions), str(tmp_path), "--vqa-mode", "official"]) == 2
    assert "--vqa-mode applies to VQA-accuracy benchmarks, not demo_vqa" in capsys.readouterr().err


def test_cli_chartqa_digit_commas_option(tmp_path: Path, capsys) -> None:
    test = tmp_path / "chartqa" / "test"
    test.mkdir(parents=True)
    (test / "test_human.json").write_text(json.dumps([{"imgname": "a.png", "query": "?", "label": "1000"}]))
    (test / "test_augmented.json").write_text(json.dumps([{"imgname": "b.png", "query": "?", "label": "Brazil"}]))
    predictions = write_jsonl(tmp_path / "preds.jsonl", [{"question_id": "human/0", "prediction": "1,000"},
                                                         {"question_id": "augmented/0", "prediction": "brazil"}])
    out = tmp_path / "scores.json"
    assert main(["chartqa", str(predictions), str(test), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["per_question"] == {"human/0": 0.0, "augmented/0": 1.0}
    assert report["scores"]["relaxed_accuracy[mean over subset]"] == 0.5
    assert main(["chartqa", str(predictions), str(test), "--remove-digit-commas", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["metric_options"] == {"remove_digit_commas": True}
    assert report["per_question"] == {"human/0": 1.0, "augmented/0": 1.0}
    capsys.readouterr()
    assert main(["vqav2", str(predictions), str(tmp_path), "--remove-digit-commas"]) == 2
    assert "--remove-digit-commas applies to relaxed accuracy (chartqa), not vqav2" in capsys.readouterr().err
