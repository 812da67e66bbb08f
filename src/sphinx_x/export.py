"""``sphinx-x-export RUN_OR_CKPT OUT_DIR``: a training checkpoint -> a folder of safetensors + config + tokenizer
that :meth:`sphinx_x.inference.SphinxInference.from_run` (and so evaluate / chat / serve) loads."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sphinx_x.inference import SphinxInference


def main(argv: Sequence[str] | None = None) -> int:
    """Export a run and print the folder written."""
    parser = argparse.ArgumentParser(prog="sphinx-x-export", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run", help="a training run folder or a .ckpt inside one")
    parser.add_argument("out_dir", help="folder to write model.safetensors, sphinx_config.json, tokenizer/")
    args = parser.parse_args(argv)
    print(SphinxInference.from_run(args.run).export(args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
