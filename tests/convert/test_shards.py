"""Model-parallel shards: files found and checked, merged exactly as the authors split them."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from sphinx_x.convert.shards import load_shard, merge_shards, shard_files, split_rules
from tests.testkit.accessory import shard


@pytest.mark.parametrize("split", ["column", "row", "embedding", "experts", "replicated"])
@pytest.mark.parametrize("ranks", [1, 2, 4])
def test_merge_undoes_the_authors_split(split, ranks):
    full = torch.randn(4 * 8, 8)  # experts: 4 experts x hidden 8, dim 8
    parts = shard(full, split, ranks, experts=4)
    merged, report = merge_shards([{"w": p} for p in parts], lambda key: split, num_experts=4)
    assert torch.equal(merged["w"], full) and report.shards == ranks and not report.unequal_replicas


def test_experts_are_split_per_expert_not_by_rows():
    full = torch.arange(4 * 8 * 2, dtype=torch.float32).reshape(4 * 8, 2)  # (experts * hidden, dim)
    parts = shard(full, "experts", 2, experts=4)
    assert torch.equal(parts[0][:4], full[:4]) and torch.equal(parts[0][4:8], full[8:12])  # expert 1's first half
    assert not torch.equal(torch.cat(parts), full)  # a plain row concatenation would scramble the experts


def test_split_rules_first_match_else_replicated():
    split_of = split_rules([(r"a\.\d+\.w", "column"), (r"a\.\d+\..*", "row")])
    assert [split_of(k) for k in ("a.0.w", "a.1.x", "b")] == ["column", "row", "replicated"]


def test_unequal_replicas_keep_rank_zero_with_a_warning(capsys):
    merged, report = merge_shards([{"n": torch.ones(3)}, {"n": torch.zeros(3)}], lambda key: "replicated")
    assert torch.equal(merged["n"], torch.ones(3)) and report.unequal_replicas == ["n"]
    assert "replicas of n differ" in capsys.readouterr().err


def test_a_key_missing_on_one_rank_is_an_error():
    with pytest.raises(ValueError, match=r"llma.x is in model-parallel shards \[0\] but not in all 2"):
        merge_shards([{"llma.x": torch.ones(2)}, {}], lambda key: "replicated")


def _save(folder: Path, rank: int, total: int, obj) -> None:
    torch.save(obj, folder / f"consolidated.{rank:02d}-of-{total:02d}.model.pth")


def test_shard_files_in_rank_order_and_complete(tmp_path):
    for rank in (1, 0):
        _save(tmp_path, rank, 2, {"model": {"w": torch.ones(1)}})
    (tmp_path / "consolidated.00-of-02.optimizer.pth").write_bytes(b"")
    assert [p.name for p in shard_files(tmp_path)] == ["consolidated.00-of-02.model.pth",
                                                      "consolidated.01-of-02.model.pth"]
    (tmp_path / "consolidated.01-of-02.model.pth").unlink()
    with pytest.raises(FileNotFoundError, match=r"shards missing: \['consolidated.01-of-02.model.pth'\]"):
        shard_files(tmp_path)
    _save(tmp_path, 0, 4, {"model": {}})
    with pytest.raises(ValueError, match="different model-parallel sizes"):
        shard_files(tmp_path)


def test_a_folder_without_shards_is_named(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="no consolidated.NN-of-MM.model.pth files"):
        shard_files(tmp_path)


def test_load_shard_unwraps_model_and_refuses_non_tensors(tmp_path):
    _save(tmp_path, 0, 1, {"model": {"w": torch.ones(2)}})
    assert torch.equal(load_shard(tmp_path / "consolidated.00-of-01.model.pth")["w"], torch.ones(2))
    _save(tmp_path, 0, 1, {"w": torch.ones(2), "step": 3})
    with pytest.raises(ValueError, match=r"entries that are not tensors: \['step'\]"):
        load_shard(tmp_path / "consolidated.00-of-01.model.pth")


class Payload:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_load_shard_never_unpickles_code(tmp_path, capsys):
    path = tmp_path / "consolidated.00-of-01.model.pth"
    with open(path, "wb") as handle:
        pickle.dump({"model": {"w": Payload()}}, handle)
    with pytest.raises(ValueError, match="refused: it holds more than tensors"):
        load_shard(path)
    assert "pickled code ran" not in capsys.readouterr().out
