"""``sphinx-x-mix A B --beta 0.5 OUT``: SPHINX's weight mixing of two exported models fine-tuned from
the same base: theta = beta * theta_A + (1 - beta) * theta_B (LLM weights by default; the rest is A's).
The result is an exported folder that sphinx-x-evaluate / -chat / -serve load.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sphinx_x.model.mixing import SCOPES, mix_exports


def main(argv: Sequence[str] | None = None) -> int:
    """Mix two exports; exit 2 when they cannot be mixed (the message says why)."""
    parser = argparse.ArgumentParser(prog="sphinx-x-mix", description=__doc__,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("a", help="exported folder A (sphinx-x-export or sphinx-x-convert-accessory output)")
    parser.add_argument("b", help="exported folder B, fine-tuned from the same base as A")
    parser.add_argument("out", help="folder to write the mixed export into")
    parser.add_argument("--beta", type=float, default=0.5, help="weight of A: theta = beta * A + (1 - beta) * B")
    parser.add_argument("--scope", choices=SCOPES, default="llm",
                        help="llm: mix the language model's weights (the paper's), keep A's projector and "
                             "special embeddings; all: mix every floating-point weight")
    args = parser.parse_intermixed_args(argv)
    try:
        report = mix_exports(args.a, args.b, args.beta, args.out, args.scope)
    except (FileNotFoundError, ValueError) as error:
        print(f"sphinx-x-mix: {error}", file=sys.stderr)
        return 2
    print(f"mixed {report.mixed} tensors ({report.scope}) with beta={report.beta} -> {args.out}")
    if report.kept_from_a:
        print(f"  {len(report.kept_from_a)} tensors outside the scope differ in B; A's kept: "
              f"{report.kept_from_a[:4]}{' ...' if len(report.kept_from_a) > 4 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
