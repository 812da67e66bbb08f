"""``sphinx-x-convert-accessory SRC_DIR OUT_DIR --type llama_ens5_light``: a released SPHINX / SPHINX-X
checkpoint (LLaMA2-Accessory format: consolidated.NN-of-MM.model.pth + config.json + meta.json +
tokenizer) -> an exported folder that sphinx-x-evaluate / -chat / -serve load and that training
starts from with ``model.init_from=OUT_DIR``.

Released types: llama_ens (SPHINX), llama_ens5 (SPHINX-1k, SPHINX-v2-1k), llama_ens_light
(SPHINX-Tiny), llama_ens5_light (SPHINX-Tiny-1k), mixtral_sparse_ens (SPHINX-MoE),
mixtral_sparse_ens5 (SPHINX-MoE-1k).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sphinx_x.convert.accessory import DTYPES, TYPES, convert_accessory


def main(argv: Sequence[str] | None = None) -> int:
    """Convert one checkpoint folder; print what was written. Exit 2 on a bad input."""
    parser = argparse.ArgumentParser(prog="sphinx-x-convert-accessory", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("src", help="the released checkpoint folder (consolidated.*.model.pth, config.json, "
                                    "meta.json, tokenizer.model)")
    parser.add_argument("out", help="folder to write model.safetensors, sphinx_config.json and the processor into")
    parser.add_argument("--type", choices=sorted(TYPES), default=None,
                        help="the checkpoint's llama_type (SPHINX/README.md's table); default: meta.json's")
    parser.add_argument("--dtype", choices=["auto", *DTYPES], default="auto",
                        help="dtype of the written weights; auto keeps the checkpoint's")
    parser.add_argument("overrides", nargs="*", default=[],
                        help="Hydra overrides of the type's model config (e.g. model.max_length=2048)")
    args = parser.parse_intermixed_args(argv)  # overrides may follow --type
    try:
        report = convert_accessory(args.src, args.out, args.type, list(args.overrides), args.dtype)
    except (FileNotFoundError, KeyError, ValueError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error  # KeyError quotes its str
        print(f"sphinx-x-convert-accessory: {message}", file=sys.stderr)
        return 2
    print(f"converted {report.type} ({report.shards} model-parallel shards, {report.parameters} tensors) "
          f"-> {args.out}")
    if report.ignored:
        print(f"  {len(report.ignored)} tensors the authors' forward never reads were left out: "
              f"{sorted(report.ignored)[:4]}{' ...' if len(report.ignored) > 4 else ''}")
    if report.unequal_replicas:
        print(f"  warning: {len(report.unequal_replicas)} replicated tensors differed across shards (rank 0 kept)")
    print(f"  skip embedding: {report.skip_embed} (the release has none)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
