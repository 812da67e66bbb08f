"""Study files: the grid, seeds and scales are read and checked; bad names, fields and grid keys fail
naming the file and the field; every committed study composes at demo scale."""

from __future__ import annotations

import pytest

from sphinx_x.experiments.study import StudyError, available_studies, load_study, sweep_overrides
from sphinx_x.experiments.trial import check_grid
from tests.testkit.paths import REPO
from tests.testkit.studies import QUICK_DEMO, study_fields, write_study

COMMITTED = ("resolution", "encoders", "skip_tokens", "prompts", "active_experts", "describe_first", "data_subsets")


def test_a_study_reads_into_grid_points_seeds_and_overrides(tmp_path):
    write_study(tmp_path, grid={"model/tiling": ["grid448", "grid672"], "data.prompts.fixed": [True, False]})
    study = load_study("tiny", tmp_path)
    assert study.grid_points() == [
        {"model/tiling": "grid448", "data.prompts.fixed": True}, {"model/tiling": "grid448", "data.prompts.fixed": False},
        {"model/tiling": "grid672", "data.prompts.fixed": True}, {"model/tiling": "grid672", "data.prompts.fixed": False}]
    assert len(list(study.runs())) == 8 and study.eval_points() == [{}]
    assert sweep_overrides(study) == ["model/tiling=grid448,grid672", "data.prompts.fixed=true,false", "seed=0,1"]
    scale = study.scale("demo")
    assert (scale.steps, scale.evals, scale.eval_limit, scale.overrides) == (2, ("demo_vqa", "demo_rec"), 2,
                                                                              tuple(QUICK_DEMO))


def test_a_scale_may_have_its_own_grid(tmp_path):
    fields = study_fields(grid={"data": ["language", "vision", "vl", "ocr", "all"]})
    fields["scales"]["demo"]["grid"] = {"data": ["demo_language", "demo_vision", "demo_vl", "demo"]}
    write_study(tmp_path, **fields)
    study = load_study("tiny", tmp_path)
    assert study.grid == {"data": ("language", "vision", "vl", "ocr", "all")}
    demo = study.at("demo")
    assert demo.grid == {"data": ("demo_language", "demo_vision", "demo_vl", "demo")}
    assert sweep_overrides(demo) == ["data=demo_language,demo_vision,demo_vl,demo", "seed=0,1"]
    check_grid(study, "demo")  # the demo subsets are registered mixtures (data group)
    fields["scales"]["demo"]["grid"] = {"data": ["demo"]}
    write_study(tmp_path, **fields)
    with pytest.raises(StudyError, match=r"scales.demo.grid.data: a list of at least two values"):
        load_study("tiny", tmp_path)


def test_an_eval_grid_varies_inference_only(tmp_path):
    write_study(tmp_path, grid={}, eval_grid={"active_experts": [1, 2, 8]})
    study = load_study("tiny", tmp_path)
    assert study.grid_points() == [{}]
    assert study.eval_points() == [{"active_experts": 1}, {"active_experts": 2}, {"active_experts": 8}]
    assert sweep_overrides(study) == ["seed=0,1"]


@pytest.mark.parametrize(("name", "message"), [
    ("Resolution", r"study name 'Resolution': lower-case letters, digits and '_' only"),
    ("../tiny", r"study name '../tiny'"),
    ("nope", r"unknown study 'nope': no .*nope/study.yaml; studies under .*: \['tiny'\]"),
])
def test_bad_study_names_are_refused(tmp_path, name, message):
    write_study(tmp_path)
    with pytest.raises(StudyError, match=message):
        load_study(name, tmp_path)


@pytest.mark.parametrize(("changes", "message"), [
    ({"grids": {}}, r"study.yaml: unknown fields \['grids'\]; allowed: \["),
    ({"grid": {"model tiling": ["a", "b"]}}, r"grid: bad key 'model tiling' \(a Hydra override key"),
    ({"grid": {"seed": [1, 2]}}, r"grid: bad key 'seed' .*seeds go in 'seeds'"),
    ({"grid": {"model/tiling": ["grid448"]}}, r"grid.model/tiling: a list of at least two values, got \['grid448'\]"),
    ({"grid": {"model/tiling": ["grid448", "grid448"]}}, r"grid.model/tiling: distinct scalar values"),
    ({"grid": {"model/tiling": ["grid448", "a,b"]}}, r"grid.model/tiling: values may not hold commas"),
    ({"grid": {}}, r"grid: a mapping of override key -> list of values, got \{\}"),
    ({"eval_grid": {"temperature": [0.1, 1.0]}}, r"eval_grid: unknown option 'temperature'; allowed: \['active_experts', 'describe_first'\]"),
    ({"eval_grid": {"active_experts": [1, "2"]}}, r"eval_grid.active_experts: values must be int"),
    ({"seeds": []}, r"seeds: a non-empty list of integers, got \[\]"),
    ({"seeds": [0, 0]}, r"seeds: repeated values in \[0, 0\]"),
    ({"metric": "demo_rec"}, r"metric: <benchmark>/<score> with the benchmark among scales.demo.evals"),
    ({"metric": "textvqa/accuracy"}, r"metric: .* got 'textvqa/accuracy'"),
    ({"scales": {"paper": {"evals": ["gqa"]}}}, r"scales: a mapping with at least 'demo'"),
])
def test_bad_study_files_name_the_field(tmp_path, changes, message):
    write_study(tmp_path, **changes)
    with pytest.raises(StudyError, match=message):
        load_study("tiny", tmp_path)


@pytest.mark.parametrize(("demo", "message"), [
    ({"evals": ["demo_vqa", "mmvet2"]}, r"scales.demo.evals: unknown benchmarks \['mmvet2'\]; choose from \["),
    ({"evals": []}, r"scales.demo.evals: a non-empty list of benchmarks"),
    ({"evals": ["demo_vqa"], "steps": 0}, r"scales.demo.steps: an integer >= 1 or null, got 0"),
    ({"evals": ["demo_vqa"], "overrides": ["experiment"]}, r"scales.demo.overrides: a list of key=value strings"),
    ({"evals": ["demo_vqa"], "prepare": "download_coco"}, r"scales.demo.prepare: unknown preparer 'download_coco'"),
    ({"evals": ["demo_vqa"], "lr": 1}, r"scales.demo: unknown fields \['lr'\]"),
])
def test_bad_scales_name_the_field(tmp_path, demo, message):
    write_study(tmp_path, scales={"demo": demo})
    with pytest.raises(StudyError, match=message):
        load_study("tiny", tmp_path)


def test_an_unknown_scale_is_refused(tmp_path):
    write_study(tmp_path)
    with pytest.raises(StudyError, match=r"scales: no scale 'paper'; the study has \['demo'\]"):
        load_study("tiny", tmp_path).scale("paper")


@pytest.mark.parametrize(("grid", "message"), [
    ({"model.tiling.skip_tiles": [True, False]}, r"grid key 'model.tiling.skip_tiles' value True is not a valid "
                                                 r"override of the training config: .*skip_tiles"),
    ({"model/tiling": ["grid448", "grid999"]}, r"grid key 'model/tiling' value 'grid999' is not a valid override"
                                               r".*grid999"),
])
def test_grid_keys_that_do_not_compose_are_refused_before_running(tmp_path, grid, message):
    write_study(tmp_path, grid=grid)
    with pytest.raises(StudyError, match=message):
        check_grid(load_study("tiny", tmp_path), "demo")


def test_scale_overrides_that_do_not_compose_are_refused(tmp_path):
    fields = study_fields()
    fields["scales"]["demo"]["overrides"] = ["experiment=demo", "model/vision=resnet"]
    write_study(tmp_path, **{k: v for k, v in fields.items()})
    with pytest.raises(StudyError, match=r"scales.demo.overrides do not compose: .*resnet"):
        check_grid(load_study("tiny", tmp_path), "demo")


def test_every_committed_study_composes_at_demo_scale():
    root = REPO / "experiments"
    assert set(COMMITTED) <= set(available_studies(root))
    for name in COMMITTED:
        study = load_study(name, root)
        assert len(study.seeds) >= 2, name
        check_grid(study, "demo")
        check_grid(study, "paper")  # the cluster command composes too (real model, data=all, SLURM)
