"""``sphinx-x-export RUN_OR_CKPT OUT_DIR``: a training checkpoint -> a folder of safetensors + config + tokenizer
that :meth:`sphinx_x.inference.SphinxInference.from_run` (and so evaluate / chat / serve) loads.

The checkpoint is read with ``torch.load(weights_only=True)``: one that holds anything but tensors and plain
data is refused before it can run code (see :mod:`sphinx_x.safe_loading`). A LoRA run's adapters are merged
into the LLM first (a 4-bit QLoRA base is refused: export with ``quantization: null``)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sphinx_x.inference import SphinxInference, engine_for_cli
from sphinx_x.model.lora import merge_lora


def consolidate_sharded(run: Path, scratch: Path) -> Path:
    """A sharded FSDP checkpoint (a folder: ``strategy.state_dict_type=sharded``) gathered into one
    Lightning checkpoint under ``scratch`` (next to a link to the run's processor); any other run or
    checkpoint is returned as it is. Its ``.metadata`` is read by ``torch.distributed.checkpoint``
    (a pickle): consolidate only sharded checkpoints of your own runs."""
    checkpoint = run
    if not (run / "meta.pt").is_file():  # a run folder: its newest checkpoint
        found = sorted((run / "checkpoints").glob("*.ckpt"), key=lambda p: (p.stat().st_mtime, p.name == "last.ckpt"))
        if not found:
            return run
        checkpoint = found[-1]
    if not (checkpoint / "meta.pt").is_file():
        return run
    import torch
    from lightning.fabric.utilities.load import _load_distributed_checkpoint
    from lightning.pytorch.utilities.consolidate_checkpoint import _format_checkpoint

    full = _format_checkpoint(_load_distributed_checkpoint(checkpoint))
    (scratch / "checkpoints").mkdir(parents=True)
    torch.save(full, scratch / "checkpoints" / "last.ckpt")
    (scratch / "processor").symlink_to((checkpoint.parent.parent / "processor").resolve())
    print(f"consolidated the sharded checkpoint {checkpoint}")
    return scratch / "checkpoints" / "last.ckpt"


def merge_adapters(engine: SphinxInference) -> int:
    """Fold a LoRA run's adapters into its LLM (see :func:`sphinx_x.model.lora.merge_lora`): the export
    then holds the whole merged LLM and a config with ``lora: null``, and loads without peft. Returns
    how many adapters were merged (0 for a run without LoRA)."""
    llm_cfg = engine.model_cfg["llm"]
    if not llm_cfg.get("lora"):
        return 0
    merged = merge_lora(engine.model.llm)
    engine.model.llm.requires_grad_(True)  # now trained weights: exported whole (trainable_state_dict)
    engine.model_cfg = {**engine.model_cfg, "train_llm": True, "llm": {**llm_cfg, "lora": None}}
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    """Export a run and print the folder written."""
    parser = argparse.ArgumentParser(prog="sphinx-x-export", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run", help="a training run folder or a .ckpt inside one")
    parser.add_argument("out_dir", help="folder to write model.safetensors, sphinx_config.json, tokenizer/")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="allow a saved config's llm.trust_remote_code (runs the LLM folder's Python code)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        run = consolidate_sharded(Path(args.run), Path(scratch))
        engine = engine_for_cli("sphinx-x-export", run, trust_remote_code=args.trust_remote_code)
    if engine is None:
        return 2
    try:
        merged = merge_adapters(engine)
    except ValueError as error:
        print(f"sphinx-x-export: error: {error}", file=sys.stderr)
        return 2
    if merged:
        print(f"merged {merged} LoRA adapters into the LLM")
    print(engine.export(args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
