"""``sphinx-x-export RUN_OR_CKPT OUT_DIR``: a training checkpoint -> a folder of safetensors + config + tokenizer
that :meth:`sphinx_x.inference.SphinxInference.from_run` (and so evaluate / chat / serve) loads.

The checkpoint is read with ``torch.load(weights_only=True)``: one that holds anything but tensors and plain
data is refused before it can run code (see :mod:`sphinx_x.safe_loading`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sphinx_x.inference import engine_for_cli


def main(argv: Sequence[str] | None = None) -> int:
    """Export a run and print the folder written."""
    parser = argparse.ArgumentParser(prog="sphinx-x-export", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run", help="a training run folder or a .ckpt inside one")
    parser.add_argument("out_dir", help="folder to write model.safetensors, sphinx_config.json, tokenizer/")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="allow a saved config's llm.trust_remote_code (runs the LLM folder's Python code)")
    args = parser.parse_args(argv)
    engine = engine_for_cli("sphinx-x-export", args.run, trust_remote_code=args.trust_remote_code)
    if engine is None:
        return 2
    print(engine.export(args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
