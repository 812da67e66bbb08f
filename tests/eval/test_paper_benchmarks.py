"""The paper benchmarks (MM-Vet, LLaVA-Bench, MathVista, MMMU, HallusionBench, OCR-VQA, the SPHINX
authors' REC files): each reader on a tiny fixture in the official format, each metric on answers
whose scores are worked out by hand, the judge-graded ones through a fake judge on loopback, and the
generation loop and ``sphinx-x-evaluate`` / ``sphinx-x-score`` wiring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sphinx_x import score
from sphinx_x.eval.benchmarks import BENCHMARKS, EvalSample, get_benchmark
from sphinx_x.eval.judge import Judge, JudgeConfig
from sphinx_x.eval.loop import evaluate_benchmark, write_outputs
from sphinx_x.eval.metrics import RecTarget
from sphinx_x.eval.metrics.hallusion import HallusionTarget, parse_yes_no_words
from sphinx_x.eval.metrics.judge_prompts import LLAVA_RULE, LLAVA_SYSTEM
from sphinx_x.eval.metrics.judged import LlavaBenchTarget, MMVetTarget
from sphinx_x.eval.metrics.mathvista import MathVistaTarget, normalise_extraction
from sphinx_x.eval.metrics.mmmu import MMMUTarget, parse_multi_choice, parse_open
from sphinx_x.eval.metrics.ocrvqa import strict_match
from sphinx_x.eval.scoring import per_question_scores, score_predictions
from sphinx_x.evaluate import evaluate, validate_eval_config
from sphinx_x.runtime.config import ConfigError
from sphinx_x.serve import create_app
from tests.testkit.configs import compose_config
from tests.testkit.fake_vlm import fake_vlm
from tests.testkit.inference import random_engine
from tests.testkit.paper_benchmarks import (
    judge_answer,
    write_accessory_refcoco,
    write_hallusion,
    write_llava_bench,
    write_mathvista_json,
    write_mathvista_parquet,
    write_mmmu,
    write_mmvet,
    write_ocrvqa,
)
from tests.testkit.serving import serve_in_thread

VQA = "Answer the question using a single word or phrase."
CHOICE = "Answer with the option's letter from the given choices directly."
NEW = ("mmvet", "llava_bench", "mathvista", "mmmu", "hallusionbench", "ocrvqa", "refcoco_sphinx", "refcoco+_sphinx",
       "refcocog_sphinx")


def judge_for(url: str, **overrides) -> Judge:
    settings = {"base_url": url, "model": "judge", "timeout": 5.0, "max_retries": 1, "max_attempts": 2,
                "backoff": 0.0, "concurrency": 1, "requests_per_minute": 60000.0, **overrides}
    return Judge(JudgeConfig(**settings), sleep=lambda seconds: None)


@pytest.fixture
def no_env_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("BASE_URL", "MODEL", "API_KEY_ENV", "CACHE"):
        monkeypatch.delenv(f"SPHINX_X_JUDGE_{variable}", raising=False)


def test_every_paper_benchmark_is_registered_with_its_judge_need() -> None:
    assert set(NEW) <= set(BENCHMARKS)
    assert {name: BENCHMARKS[name].judge for name in NEW} == {
        "mmvet": "required", "llava_bench": "required", "mathvista": "optional", "mmmu": "none",
        "hallusionbench": "none", "ocrvqa": "none", "refcoco_sphinx": "none", "refcoco+_sphinx": "none",
        "refcocog_sphinx": "none"}


# --- MM-Vet ------------------------------------------------------------------------------------

def test_mmvet_reader(tmp_path: Path) -> None:
    samples = get_benchmark("mmvet").load(write_mmvet(tmp_path))
    assert [s.question_id for s in samples] == ["v1_0", "v1_1", "v1_2"]
    assert samples[0] == EvalSample("v1_0", [str(tmp_path / "images" / "v1_0.png")], "<image>\nWhat is x in the equation?",
                                    MMVetTarget("What is x in the equation?", "-1<AND>-5", ("ocr", "math")),
                                    {"capability": "ocr,math"})
    data = json.loads((tmp_path / "mm-vet.json").read_text())
    data["v1_0"]["capability"] = ["ocr", "smell"]
    (tmp_path / "mm-vet.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"v1_0: unknown capability \['smell'\]"):
        get_benchmark("mmvet").load(tmp_path)


def test_mmvet_scores_per_capability_and_combination(tmp_path: Path) -> None:
    spec = get_benchmark("mmvet")
    samples = spec.load(write_mmvet(tmp_path))
    predictions = {"v1_0": "x = -1", "v1_1": "d = 5/4"}  # 0.5 (one of two <AND> parts), 1.0; v1_2 missing: 0.0
    with fake_vlm(answer=judge_answer) as server:
        judge = judge_for(server.url)
        scores = score_predictions(spec, predictions, samples, judge=judge)
        assert len(server.requests) == 2  # the missing answer is not sent
        each = per_question_scores(spec, predictions, samples, judge=judge)
        assert len(server.requests) == 2  # scored again from the cache
    assert scores == pytest.approx({
        "score": 0.5, "score[capability=rec]": 0.0, "score[capability=ocr]": 0.75, "score[capability=know]": 0.0,
        "score[capability=gen]": 0.0, "score[capability=math]": 0.75, "score[integration=math_ocr]": 0.75,
        "score[integration=gen_know_rec]": 0.0, "judge_failed": 0.0, "n_samples": 3.0, "n_missing": 1.0})
    assert each == {"v1_0": 0.5, "v1_1": 1.0, "v1_2": 0.0}
    server_file = tmp_path / "server.json"
    assert spec.write_results(server_file, predictions, samples) == 1
    assert json.loads(server_file.read_text()) == {"v1_0": "x = -1", "v1_1": "d = 5/4", "v1_2": ""}


def test_mmvet_unreadable_verdicts_score_zero_and_are_counted(tmp_path: Path) -> None:
    spec = get_benchmark("mmvet")
    samples = spec.load(write_mmvet(tmp_path))
    predictions = {"v1_0": "x = -1 or x = -5", "v1_1": "d = 5/4", "v1_2": "Mona Lisa"}
    with fake_vlm(script=["garbage", "out_of_range"], answer=judge_answer) as server:  # v1_0: two bad replies
        judge = judge_for(server.url)
        scores = score_predictions(spec, predictions, samples, judge=judge)
    assert scores["score"] == pytest.approx(2 / 3) and scores["judge_failed"] == 1.0
    assert judge.report()["failures"][0]["kind"] == "unreadable"
    assert judge.stats["unreadable_replies"] == 2 and judge.stats["graded"] == 2


def test_mmvet_without_a_judge_names_the_fields(tmp_path: Path, no_env_judge: None) -> None:
    spec = get_benchmark("mmvet")
    samples = spec.load(write_mmvet(tmp_path))
    with pytest.raises(ValueError, match="mmvet is scored by a judge model and none is configured: set judge.base_url"):
        score_predictions(spec, {"v1_0": "x"}, samples)


# --- LLaVA-Bench -------------------------------------------------------------------------------

def test_llava_bench_relative_scores_per_category(tmp_path: Path) -> None:
    spec = get_benchmark("llava_bench")
    samples = spec.load(write_llava_bench(tmp_path))
    assert samples[2].target == LlavaBenchTarget("Why is this funny?", "A dog as the Mona Lisa.\nIt is a painting.",
                                                 "A dog poses like the Mona Lisa.", "complex")
    assert samples[0].prompt == "<image>\nWhat is the name of this sight?"
    # q0 equals GPT-4's answer (8 vs 8), q1 differs (8 vs 4), q2 is missing: judged as empty (8 vs 1)
    predictions = {"0": "Diamond Head.", "1": "A crater."}
    with fake_vlm(answer=judge_answer) as server:
        scores = score_predictions(spec, predictions, samples, judge=judge_for(server.url))
        first = server.requests[0]
    assert scores == pytest.approx({
        "relative_score": 13 / 24, "relative_score[category=conv]": 1.0, "relative_score[category=detail]": 0.5,
        "relative_score[category=complex]": 1 / 8, "model_score": 13 / 30, "reference_score": 0.8,
        "judge_failed": 0.0, "n_samples": 3.0, "n_missing": 1.0})
    assert first["temperature"] == 0.2 and first["max_tokens"] == 1024
    assert first["messages"] == [{"role": "system", "content": LLAVA_SYSTEM}, {"role": "user", "content": (
        "[Context]\nAn aerial view of Diamond Head.\n\n[Question]\nWhat is the name of this sight?\n\n"
        "[Assistant 1]\nDiamond Head.\n\n[End of Assistant 1]\n\n[Assistant 2]\nDiamond Head.\n\n"
        f"[End of Assistant 2]\n\n[System]\n{LLAVA_RULE}\n\n")}]


def test_llava_bench_ungraded_questions_are_left_out_and_counted(tmp_path: Path) -> None:
    spec = get_benchmark("llava_bench")
    samples = spec.load(write_llava_bench(tmp_path))
    predictions = {"0": "Diamond Head.", "1": "A crater.", "2": "A dog poses like the Mona Lisa."}
    with fake_vlm(script=["answer", "garbage", "timeout", "garbage"], answer=judge_answer, slow=1.0) as server:
        judge = judge_for(server.url, timeout=0.3)
        scores = score_predictions(spec, predictions, samples, judge=judge)
    # q1: garbage, a timeout (retried by the transport), garbage again: no verdict after 2 asks
    assert scores["judge_failed"] == 1.0
    assert scores["relative_score"] == pytest.approx(1.0) and scores["relative_score[category=detail]"] == 0.0
    assert judge.stats["transport_retries"] == 1 and judge.stats["failed_unreadable"] == 1


def test_llava_bench_reader_errors(tmp_path: Path) -> None:
    folder = write_llava_bench(tmp_path)
    (folder / "answers_gpt4.jsonl").write_text(json.dumps({"question_id": 0, "text": "x"}) + "\n")
    with pytest.raises(ValueError, match="LLaVA-Bench question 1: no GPT-4 answer in answers_gpt4.jsonl"):
        get_benchmark("llava_bench").load(folder)
    (folder / "context.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="missing LLaVA-Bench context"):
        get_benchmark("llava_bench").load(folder)


# --- MathVista ---------------------------------------------------------------------------------

def test_mathvista_json_and_parquet_releases_read_the_same(tmp_path: Path) -> None:
    spec = get_benchmark("mathvista")
    from_json = spec.load(write_mathvista_json(tmp_path / "json"))
    from_parquet = spec.load(write_mathvista_parquet(tmp_path / "hf"))
    assert [s.question_id for s in from_json] == ["1", "2", "3"]
    assert [(s.prompt, s.target, s.meta) for s in from_json] == [(s.prompt, s.target, s.meta) for s in from_parquet]
    assert from_json[2].target == MathVistaTarget(
        "1.45", "free_form", "float", (), 2, from_json[2].target.query, "math word problem",
        ("arithmetic reasoning", "statistical reasoning"))
    assert from_json[0].images == [str(tmp_path / "json" / "data" / "images" / "1.jpg")]
    assert from_parquet[0].images == [str(tmp_path / "hf" / "testmini_images" / "1.png")]
    assert Path(from_parquet[0].images[0]).read_bytes().startswith(b"\x89PNG")
    with pytest.raises(FileNotFoundError, match="missing MathVista test: expected test.json or test-"):
        spec.load(tmp_path / "json", split="test")


def test_mathvista_extraction_rules_fallback_and_judge(tmp_path: Path, no_env_judge: None) -> None:
    spec = get_benchmark("mathvista")
    samples = spec.load(write_mathvista_json(tmp_path))
    predictions = {"1": "The correct answer is (B) 8/11.", "2": "14", "3": "Luca needs 2.45 dollars."}
    local = score_predictions(spec, predictions, samples)
    assert local == pytest.approx({
        "accuracy": 2 / 3, "accuracy[task=figure question answering]": 1.0,
        "accuracy[task=geometry problem solving]": 1.0, "accuracy[task=math word problem]": 0.0,
        "accuracy[skill=arithmetic reasoning]": 2 / 3, "accuracy[skill=geometry reasoning]": 1.0,
        "accuracy[skill=logical reasoning]": 1.0, "accuracy[skill=statistical reasoning]": 0.0,
        "accuracy[question_type=multi_choice]": 1.0, "accuracy[question_type=free_form]": 0.5,
        "n_rule_extracted": 1.0, "n_judge_extracted": 0.0, "n_fallback_extracted": 2.0, "judge_failed": 0.0,
        "n_samples": 3.0, "n_missing": 0.0})
    predictions["3"] = "Luca needs $1.45 to buy both."
    with fake_vlm(answer=judge_answer) as server:
        judged = score_predictions(spec, predictions, samples, judge=judge_for(server.url))
        asked = [r["messages"][0]["content"] for r in server.requests]
    assert judged["accuracy"] == 1.0 and judged["n_judge_extracted"] == 2.0 and judged["n_rule_extracted"] == 1.0
    assert len(asked) == 2 and asked[0].startswith("Please read the following example.")
    assert asked[0].endswith(f"{samples[0].target.query}\n\nThe correct answer is (B) 8/11.\n\nExtracted answer: ")
    assert score_predictions(spec, predictions, samples, judge={"base_url": "http://x", "model": "m"},
                             use_judge=False)["n_fallback_extracted"] == 2.0


def test_mathvista_normalisation_is_the_official_one() -> None:
    choice = MathVistaTarget("8/11", "multi_choice", "text", ("3/11", "8/11", "6/11", "3/5"))
    assert normalise_extraction("(C) 6/11", choice) == "6/11"
    assert normalise_extraction("B", choice) == "8/11"
    assert normalise_extraction("8/12", choice) == "8/11"  # the nearest option by edit distance
    assert normalise_extraction("14.0", MathVistaTarget("14", "free_form", "integer")) == "14"
    assert normalise_extraction("3.14159", MathVistaTarget("3.1", "free_form", "float", precision=1)) == "3.1"
    assert normalise_extraction("about three", MathVistaTarget("3", "free_form", "integer")) is None
    assert normalise_extraction("[2007, 2008]", MathVistaTarget("[2007, 2008]", "free_form", "list")) == "[2007, 2008]"


# --- MMMU --------------------------------------------------------------------------------------

def test_mmmu_parquet_and_json_read_the_same(tmp_path: Path) -> None:
    spec = get_benchmark("mmmu")
    parquet = spec.load(write_mmmu(tmp_path / "hf"))
    plain = spec.load(write_mmmu(tmp_path / "json", parquet=False))
    assert [s.question_id for s in parquet] == ["validation_Art_1", "validation_Math_1", "validation_Math_2"]
    assert [(s.prompt, s.target, s.meta) for s in parquet] == [(s.prompt, s.target, s.meta) for s in plain]
    art, area, plus = parquet
    assert art.prompt == ("<image>\n<image>\nWhich painting is older, <image 1> or <image 2>?\n\n(A) The first\n"
                          f"(B) The second\n\n\n{CHOICE}")
    assert [Path(p).name for p in art.images] == ["validation_Art_1_1.png", "validation_Art_1_2.png"]
    assert area.prompt == f"<image>\n<image 1> What is the area of the square?\n\n{VQA}"
    assert area.target == MMMUTarget("open", ("24", "24.0"), {}, "validation_Math_1")
    assert plus.images == [] and plus.prompt.startswith("What is 2 + 2?\n\n(A) 3\n(B) 4\n(C) 5\n")
    assert art.meta == {"subject": "Art", "discipline": "Art and Design", "question_type": "multiple-choice",
                        "subfield": "Fine Arts"}
    assert [s.question_id for s in spec.load(tmp_path / "hf", single_image=True)] == ["validation_Math_1"]
    assert [s.question_id for s in spec.load(tmp_path / "hf", subjects=["Art"])] == ["validation_Art_1"]
    with pytest.raises(ValueError, match=r"MMMU subjects \['Astrology'\] unknown"):
        spec.load(tmp_path / "hf", subjects=["Astrology"])
    with pytest.raises(FileNotFoundError, match="no MMMU dev file under"):
        spec.load(tmp_path / "hf", split="dev")


def test_mmmu_accuracy_per_subject_and_discipline(tmp_path: Path) -> None:
    spec = get_benchmark("mmmu")
    samples = spec.load(write_mmmu(tmp_path, parquet=False))
    predictions = {"validation_Art_1": "(B) The second", "validation_Math_1": "The area is 24.",
                   "validation_Math_2": "A"}
    assert score_predictions(spec, predictions, samples) == pytest.approx({
        "accuracy": 2 / 3, "accuracy[discipline=Art and Design]": 1.0, "accuracy[discipline=Science]": 0.5,
        "accuracy[subject=Art]": 1.0, "accuracy[subject=Math]": 0.5, "n_samples": 3.0, "n_missing": 0.0})


def test_mmmu_answer_parsing_follows_the_official_rules() -> None:
    options = {"A": "The first", "B": "The second", "C": "Neither"}
    assert parse_multi_choice("(A) or maybe (B).", options) == "B"  # several: the last one written
    assert parse_multi_choice("B", options) == "B"
    assert parse_multi_choice("I would say that the second painting is older", options) == "B"  # by option text
    assert parse_multi_choice("A surely", options) == "A"
    # "A," is not " A " and the text is short: the official rules fall back to the random letter
    assert parse_multi_choice("A, surely.", options, seed="q2") == parse_multi_choice("?", options, seed="q2")
    random_pick = parse_multi_choice("no idea", options, seed="q1")
    assert random_pick in options and all(parse_multi_choice("no idea", options, seed="q1") == random_pick
                                          for _ in range(3))
    assert 24.0 in parse_open("The area is 24.0 square units")
    assert 3000.0 in parse_open("so x = 3,000")
    assert "paris" in parse_open("Therefore the answer is Paris.")
    assert parse_open("Yes") == ["yes"]


# --- HallusionBench ----------------------------------------------------------------------------

def test_hallusionbench_question_figure_and_all_accuracy(tmp_path: Path) -> None:
    spec = get_benchmark("hallusionbench")
    samples = spec.load(write_hallusion(tmp_path))
    assert [s.question_id for s in samples] == ["VD_chart_0_0_0", "VD_chart_0_0_1", "VD_chart_0_1_0",
                                               "VD_chart_0_1_1", "VS_map_3_0_0"]
    assert samples[2].target == HallusionTarget("0", "VD_chart_0_1", "VD_chart_0_0")
    assert samples[0].images == [str(tmp_path / "hallusion_bench" / "VD" / "chart" / "0_0.png")]
    assert samples[4].images == [] and samples[4].prompt == f"Is Paris the capital of France?\n{VQA}"
    predictions = {"VD_chart_0_0_0": "Yes", "VD_chart_0_0_1": "Yes.", "VD_chart_0_1_0": "Yes",
                   "VD_chart_0_1_1": "yes, it is", "VS_map_3_0_0": "Maybe yes or no"}
    assert score_predictions(spec, predictions, samples) == pytest.approx({
        "aAcc": 0.6, "fAcc": 1 / 3, "qAcc": 1 / 3,
        "aAcc[category=VD]": 0.75, "fAcc[category=VD]": 0.5, "qAcc[category=VD]": 0.5,
        "aAcc[category=VS]": 0.0, "fAcc[category=VS]": 0.0, "qAcc[category=VS]": 0.0,
        "n_samples": 5.0, "n_missing": 0.0})
    assert len(spec.load(tmp_path, with_text_only=False)) == 4
    assert [parse_yes_no_words(t) for t in ("No, it is not.", "YES!", "yes and no", "")] == [
        "no", "yes", "unknown", "unknown"]


# --- OCR-VQA -----------------------------------------------------------------------------------

def test_ocrvqa_splits_images_and_exact_match(tmp_path: Path) -> None:
    spec = get_benchmark("ocrvqa")
    folder = write_ocrvqa(tmp_path)
    test = spec.load(folder)
    assert test == [
        EvalSample("0000000001_0", [str(folder / "images" / "0000000001.jpg")],
                   f"<image>\nWho wrote this book?\n{VQA}", "Jane Doe", {"genre": "Travel"}),
        EvalSample("0000000001_1", [str(folder / "images" / "0000000001.jpg")],
                   f"<image>\nIs this a comedy book?\n{VQA}", "No", {"genre": "Travel"}),
    ]
    assert [s.images[0] for s in spec.load(folder, split="val")] == [str(folder / "images" / "0000000002.png")]
    scores = score_predictions(spec, {"0000000001_0": "Jane Doe.", "0000000001_1": "no, it is not"}, test)
    assert scores["accuracy"] == 0.5
    assert strict_match(" JANE DOE ", "jane doe") and not strict_match("Jane", "Jane Doe")
    assert strict_match("e.g", ["eg", "x"])  # periods are removed, as the authors' scorer removes them


# --- the SPHINX authors' REC files -------------------------------------------------------------

def test_refcoco_sphinx_reads_the_authors_files_and_scores_through_the_frame(tmp_path: Path) -> None:
    spec = get_benchmark("refcoco_sphinx")
    annotations = write_accessory_refcoco(tmp_path / "eval_mm")
    samples = spec.load(annotations)
    assert samples[0] == EvalSample(
        "val/0", [str(tmp_path / "eval_mm" / "data" / "coco" / "train2014" / "COCO_train2014_000000580957.jpg")],
        "<image>\nPlease provide the bounding box coordinate of the region this sentence describes: "
        "bowl behind the others.", RecTarget((468.3, 0.91, 640.0, 117.03), 640, 428),
        {"expression": "bowl behind the others"})
    # the box in the authors' centred square: y shifted by (640 - 428) / 2 = 106 pixels, then / 640
    predictions = {"val/0": "[0.73, 0.17, 1.00, 0.35]", "val/1": "no box"}
    assert score_predictions(spec, predictions, samples, anchor="center")["accuracy"] == 0.5
    assert score_predictions(spec, predictions, samples, anchor="top_left")["accuracy"] == 0.0
    with pytest.raises(FileNotFoundError, match="missing refcoco testA file: .*refcoco_testA.json"):
        spec.load(annotations, split="testA")


# --- the loop, sphinx-x-evaluate and sphinx-x-score ----------------------------------------------

@pytest.mark.usefixtures("one_thread")
def test_the_loop_answers_and_the_judge_grades(engine, tmp_path: Path) -> None:
    spec = get_benchmark("mmvet")
    samples = spec.load(write_mmvet(tmp_path / "mmvet"))
    with fake_vlm(answer=judge_answer) as server:
        judge = judge_for(server.url)
        rows, scores = evaluate_benchmark(engine, spec, samples, batch_size=3, generation={"max_new_tokens": 3},
                                          scoring={"judge": judge})
        assert len(server.requests) == 3
    assert [row["question_id"] for row in rows] == ["v1_0", "v1_1", "v1_2"]
    assert scores["n_samples"] == 3.0 and scores["n_failed"] == 0.0 and scores["judge_failed"] == 0.0
    assert 0.0 <= scores["score"] <= 1.0
    paths = write_outputs(tmp_path / "out", spec, rows, scores, samples, info={"judge": judge.report()})
    report = json.loads(paths["scores"].read_text())
    assert report["judge"]["stats"]["graded"] == 3 and report["judge"]["failures"] == []
    assert set(json.loads(paths["server"].read_text())) == {"v1_0", "v1_1", "v1_2"}


@pytest.mark.usefixtures("one_thread")
def test_the_loop_answers_text_only_and_several_image_questions(engine, tmp_path: Path) -> None:
    for name, write in (("hallusionbench", write_hallusion), ("mmmu", write_mmmu)):
        spec = get_benchmark(name)
        samples = spec.load(write(tmp_path / name))
        rejects: list[dict] = []
        rows, scores = evaluate_benchmark(engine, spec, samples, batch_size=4, generation={"max_new_tokens": 2},
                                          rejects=rejects)
        assert rejects == [] and len(rows) == len(samples) and scores["n_failed"] == 0.0


@pytest.mark.usefixtures("one_thread")
def test_evaluate_runs_a_judged_benchmark_end_to_end(engine, tmp_path: Path) -> None:
    export = engine.export(tmp_path / "export")
    folder = write_mmvet(tmp_path / "mmvet")
    with fake_vlm(script=["garbage", "garbage"], answer=judge_answer) as server:  # the first question: no verdict
        cfg = compose_config([f"ckpt_path={export}", "benchmarks=[mmvet]", f"+benchmark_options.mmvet.path={folder}",
                              "generation.max_new_tokens=2", f"judge.base_url={server.url}", "judge.model=judge",
                              "judge.max_attempts=2", "judge.concurrency=1", f"judge.cache_dir={tmp_path / 'cache'}"],
                             tmp_path / "out", config_name="evaluate")
        results = evaluate(cfg, str(tmp_path / "out"))
        assert len(server.requests) == 4
    report = json.loads((tmp_path / "out" / "scores" / "mmvet.json").read_text())
    assert report["scores"] == results["mmvet"] and results["mmvet"]["judge_failed"] == 1.0
    assert report["judge"]["model"] == "judge" and report["judge"]["stats"]["failed_unreadable"] == 1
    assert report["judge"]["stats"]["graded"] == 2 and len(report["judge"]["failures"]) == 1
    assert len((tmp_path / "out" / "predictions" / "mmvet.jsonl").read_text().splitlines()) == 3
    assert len(list((tmp_path / "cache").rglob("*.json"))) == 2


@pytest.mark.usefixtures("one_thread")
def test_the_projects_own_server_as_a_judge(demo_dir: Path, demo_tokenizer, tmp_path: Path) -> None:
    """sphinx-x-serve (a random demo model, long prompts allowed) plays the judge: its MM-Vet replies are
    not scores, so each question is asked ``max_attempts`` times, then reported; MathVista's
    extraction takes whatever it says (the official extraction accepts any non-empty text)."""
    engine = random_engine(demo_dir, demo_tokenizer, tmp_path / "cfg", overrides=("data.max_length=4096",))
    with serve_in_thread(create_app(engine, "sphinx-judge", default_max_tokens=8)) as url:
        judge = Judge(JudgeConfig(base_url=f"{url}/v1", model="sphinx-judge", max_attempts=2, max_retries=0,
                                  concurrency=1, timeout=60.0))
        mmvet = get_benchmark("mmvet")
        scores = score_predictions(mmvet, {"v1_0": "x = -1", "v1_1": "d = 1.25"},
                                   mmvet.load(write_mmvet(tmp_path / "mmvet")), judge=judge)
        assert (scores["score"], scores["judge_failed"], scores["n_missing"]) == (0.0, 2.0, 1.0)
        assert judge.stats["requests"] == 4 and judge.stats["unreadable_replies"] == 4
        assert [f["kind"] for f in judge.report()["failures"]] == ["unreadable", "unreadable"]
        mathvista = get_benchmark("mathvista")
        scores = score_predictions(mathvista, {"1": "the blue one", "2": "fourteen", "3": "a dollar"},
                                   mathvista.load(write_mathvista_json(tmp_path / "mathvista")), judge=judge)
    assert scores["n_judge_extracted"] + scores["judge_failed"] == 3.0 and judge.stats["requests"] >= 7


def test_evaluate_refuses_a_judged_benchmark_without_a_judge(tmp_path: Path) -> None:
    base = [f"ckpt_path={tmp_path}", "benchmarks=[mmvet,mmmu]"]
    cfg = compose_config(base, tmp_path / "a", config_name="evaluate")
    with pytest.raises(ConfigError, match="judge.base_url, judge.model: mmvet is scored by a judge model"):
        validate_eval_config(cfg)
    cfg = compose_config([*base, "judge.base_url=http://127.0.0.1:9/v1", "judge.model=gpt-4-0613"], tmp_path / "b",
                         config_name="evaluate")
    assert [spec.name for spec in validate_eval_config(cfg)] == ["mmvet", "mmmu"]
    cfg = compose_config([*base, "+judge.modle=x"], tmp_path / "c", config_name="evaluate")
    with pytest.raises(ConfigError, match=r"judge: unknown option\(s\) \['modle'\]"):
        validate_eval_config(cfg)
    cfg = compose_config([f"ckpt_path={tmp_path}", "benchmarks=[mathvista]", "+scoring.mathvista.use_judge=false"],
                         tmp_path / "d", config_name="evaluate")
    assert [spec.name for spec in validate_eval_config(cfg)] == ["mathvista"]


def test_score_command_uses_the_judge_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str], no_env_judge: None) -> None:
    folder = write_mmvet(tmp_path / "mmvet")
    predictions = tmp_path / "preds.jsonl"
    predictions.write_text("".join(json.dumps({"question_id": q, "prediction": p}) + "\n"
                                   for q, p in (("v1_0", "x = -1 or x = -5"), ("v1_1", "d = 1.25"),
                                                ("v1_2", "the Mona Lisa"))))
    assert score.main(["mmvet", str(predictions), str(folder)]) == 2
    assert "mmvet is scored by a judge model and none is configured" in capsys.readouterr().err
    with fake_vlm(answer=judge_answer) as server:
        monkeypatch.setenv("SPHINX_X_JUDGE_BASE_URL", server.url)
        monkeypatch.setenv("SPHINX_X_JUDGE_MODEL", "judge")
        monkeypatch.setenv("SPHINX_X_JUDGE_CACHE", str(tmp_path / "cache"))
        assert score.main(["mmvet", str(predictions), str(folder), "--out", str(tmp_path / "scores.json")]) == 0
    report = json.loads((tmp_path / "scores.json").read_text())
    assert report["scores"]["score"] == 1.0 and report["per_question"] == {"v1_0": 1.0, "v1_1": 1.0, "v1_2": 1.0}
    assert "score[capability=ocr]" in capsys.readouterr().out
