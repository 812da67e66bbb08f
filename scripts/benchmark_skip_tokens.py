"""Benchmark: what skip tokens save. Visual slots per image and the time of one training step
(forward + backward) with padded tiles skipped vs. encoded, for several aspect ratios.

    python scripts/benchmark_skip_tokens.py --out experiments/benchmarks/skip_tokens_cpu.json

Uses the demo-size model (random weights) on whatever device is given; paper-size slot counts are
computed from the real configs (no weights).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_module
from omegaconf import open_dict

from sphinx_x.data.slots import TEXT
from sphinx_x.data.tiling import GridTiler, VisualLayout
from sphinx_x.model.build import build_sphinx
from sphinx_x.runtime.config import CONF_PACKAGE

RATIOS = {"1:1": (448, 448), "2:1": (448, 224), "3:1": (672, 224)}


def model_config(overrides: list[str]):
    with initialize_config_module(CONF_PACKAGE, version_base="1.3"):
        return compose("train", overrides=overrides).model


def step_ms(model, layout, size: tuple[int, int], batch: int, device: str, repeats: int) -> tuple[int, float]:
    """Slots per image and the median ms of forward + backward on a batch of one-image samples."""
    from PIL import Image

    image = Image.new("RGB", size, (120, 60, 30))
    frame = layout.frame(*size)
    keep = layout.keep_mask(frame)
    tiles = GridTiler(layout)(image, frame, keep)
    kinds = layout.slot_kinds(keep) + [TEXT] * 32  # a short question and answer
    slot_kind = torch.tensor([kinds] * batch, dtype=torch.uint8, device=device)
    input_ids = torch.randint(5, 500, slot_kind.shape, device=device)
    labels = input_ids.clone()
    labels[:, :-8] = -100
    pixels = tiles.repeat(batch, 1, 1, 1).to(device)
    times = []
    for i in range(repeats + 2):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = model(input_ids, torch.ones_like(input_ids), slot_kind, pixels, labels)
        out.loss.backward()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i >= 2:
            times.append((time.perf_counter() - start) * 1000)
        model.zero_grad(set_to_none=True)
    return layout.num_slots(keep), sorted(times)[len(times) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="experiments/benchmarks/skip_tokens_cpu.json")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rows = []
    for tiling in ("grid448", "grid672"):
        for skip in (True, False):
            cfg = model_config(["experiment=demo", f"model/tiling={tiling}",
                                f"model.tiling.skip_padded_tiles={str(skip).lower()}"])
            with open_dict(cfg):
                cfg.llm.config.vocab_size = 512
            model = build_sphinx(cfg).to(args.device).train()
            layout = VisualLayout.from_model_config(cfg)
            for ratio, size in RATIOS.items():
                slots, ms = step_ms(model, layout, size, args.batch, args.device, args.repeats)
                rows.append({"tiling": tiling, "skip_padded_tiles": skip, "aspect": ratio,
                             "demo_slots_per_image": slots, "step_ms": round(ms, 2)})
    paper = {}
    for family in ("sphinx_tiny", "sphinx_plus_2k"):
        layout = VisualLayout.from_model_config(model_config([f"model={family}"]))
        paper[family] = {ratio: layout.num_slots(layout.keep_mask(layout.frame(*size))) for ratio, size in RATIOS.items()}
    result = {"command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
              "device": args.device if args.device != "cpu" else f"cpu ({platform.processor() or platform.machine()}, "
                                                                   f"{torch.get_num_threads()} threads)",
              "batch": args.batch, "rows": rows, "paper_size_slots_per_image": paper}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
