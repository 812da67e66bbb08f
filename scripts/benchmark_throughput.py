"""Training throughput under three collations (padded, length-bucketed, packed), skip tokens on and off.

    python scripts/benchmark_throughput.py [--steps 30] [--device cpu|cuda] [--model demo] [--out FILE]

Every configuration trains the same model from the same initial weights on the same mixture stream
(the demo world: images of several aspect ratios, short VQA answers to long captions and dialogues)
for ``--steps`` micro-batches after 3 warm-up ones, with forward, backward and AdamW, and reports
samples/s, real (non-pad) tokens/s, the padding fraction and peak memory (RSS on CPU,
``torch.cuda.max_memory_allocated`` on a GPU). Results go to
``experiments/benchmarks/throughput_<device>.json`` with the command line and the device.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch
from hydra import compose, initialize_config_module

from sphinx_x.data.datamodule import SphinxDataModule
from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.data.tokenize import load_tokenizer
from sphinx_x.model.build import build_sphinx
from sphinx_x.train import ensure_demo_world

COLLATIONS = {"padded": [], "bucketed": ["data.bucket_by_length=true"], "packed": ["data.packing=true"]}


def measure(overrides: list[str], steps: int, device: str, workdir: Path) -> dict[str, Any]:
    """Train ``steps`` micro-batches of the composed config; throughput and padding of the stream."""
    with initialize_config_module("sphinx_x.conf", version_base=None):
        cfg = compose("train", overrides=["experiment=demo", "data.num_workers=0",
                                          f"data.rejects_path={workdir / 'rejects.jsonl'}",
                                          f"paths.output_dir={workdir}", *overrides])
    ensure_demo_world(cfg)
    tokenizer = load_tokenizer(cfg.model.tokenizer)
    datamodule = SphinxDataModule(cfg.data, SphinxProcessor.from_config(tokenizer, cfg.model, cfg.data))
    datamodule.setup("fit")
    torch.manual_seed(0)
    model = build_sphinx(cfg.model, vocab_size=len(tokenizer), device=device).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batches = iter(datamodule.train_dataloader())
    samples = real = total = 0
    elapsed = 0.0
    for step in range(steps + 3):
        batch = next(batches).to(device)
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        out = model(batch.input_ids, batch.attention_mask, batch.slot_kind, batch.pixels, batch.labels,
                    position_ids=batch.position_ids, sample_index=batch.sample_index)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if step >= 3:  # warm-up excluded
            elapsed += time.perf_counter() - started
            samples += len(batch)
            real += int(batch.attention_mask.sum())
            total += batch.attention_mask.numel()
    peak = (torch.cuda.max_memory_allocated() if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"samples_per_s": round(samples / elapsed, 2), "real_tokens_per_s": round(real / elapsed, 1),
            "padding_fraction": round(1 - real / total, 4), "step_s": round(elapsed / steps, 4),
            "peak_memory_mb": round(peak / 2**20, 1), "samples": samples}


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", type=int, default=30, help="measured micro-batches per configuration")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--workdir", type=Path, default=Path("outputs/benchmark_throughput"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device here")
    results: dict[str, Any] = {}
    for skip in (True, False):
        for name, overrides in COLLATIONS.items():
            key = f"{name}/skip_tokens={'on' if skip else 'off'}"
            results[key] = measure([*overrides, f"model.tiling.skip_padded_tiles={str(skip).lower()}"],
                                   args.steps, args.device, args.workdir)
            print(key, results[key], flush=True)
    for skip in ("on", "off"):
        padded = results[f"padded/skip_tokens={skip}"]["real_tokens_per_s"]
        for name in ("bucketed", "packed"):
            entry = results[f"{name}/skip_tokens={skip}"]
            entry["real_tokens_per_s_vs_padded"] = round(entry["real_tokens_per_s"] / padded, 3)
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"{platform.processor() or 'cpu'}, " \
        f"{torch.get_num_threads()} threads"
    out = args.out or Path("experiments/benchmarks") / f"throughput_{args.device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": " ".join(["python", "scripts/benchmark_throughput.py", *(argv or sys.argv[1:])]),
        "device": device, "model": "demo (tiny random LLaMA + tiny ConvNeXt/DINOv2 MoV), float32",
        "stream": "the demo world's training mixture (demo_llava + demo_text), micro-batch 8",
        "steps_measured": args.steps, "results": results}, indent=2) + "\n")
    print(out)
    return out


if __name__ == "__main__":
    main()
