"""Training throughput under the collations (padded, length-bucketed, packed, packed by token budget),
skip tokens on and off, and the data pipeline alone at the paper's tile sizes.

    python scripts/benchmark_throughput.py [--steps 30] [--device cpu|cuda] [--out FILE]

On CPU the demo model trains in float32. On CUDA the model is SPHINX-Tiny at its real shapes (random
TinyLlama-1.1B, ConvNeXt-XXL and DINOv2-g built from the configs, no downloads) under bf16 autocast with
SDPA attention, and the model FLOPs utilisation is reported against the device's dense bf16 peak:

    model FLOPs per micro-batch = 6 * N_llm * real_tokens + F_tile * tiles

``N_llm`` is the LLM's parameter count (forward + backward: 6 FLOPs per parameter and token; attention
scores are left out, as in the usual 6N estimate), ``real_tokens`` the non-pad tokens, ``F_tile`` the
frozen encoders' (and projector's) forward FLOPs for one tile, counted once by
``torch.utils.flop_counter.FlopCounterMode``, and ``tiles`` the micro-batch's encoded tiles.

Every configuration trains the same model from the same initial weights on the same mixture stream
(the demo world: images of several aspect ratios, short VQA answers to long captions and dialogues)
for ``--steps`` micro-batches after 3 warm-up ones, with forward, backward and AdamW, and reports
samples/s, real (non-pad) tokens/s, the padding fraction and peak memory (RSS on CPU,
``torch.cuda.max_memory_allocated`` on a GPU). The data pipeline alone (decode, tile, tokenise,
collate in DataLoader workers) runs on JPEG and PNG photos of the seven aspect ratios below, at
SPHINX-Tiny's tiling (512 px tiles, 2x2 "448" and 3x3 "672" grids), with 0..N workers. Results go to
``experiments/benchmarks/throughput_<device>.json`` with the command line and the device.
"""

from __future__ import annotations

import argparse
import json
import os
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

ASPECTS = [(1, 1), (4, 3), (3, 4), (16, 9), (2, 1), (1, 2), (3, 1)]
COLLATIONS = {"padded": [], "bucketed": ["data.bucket_by_length=true"], "packed": ["data.packing=true"],
              # the budget of the padded micro-batch of 8 (8 x 384 tokens) spent on rows of whole samples
              "packed_budget": ["data.packing=true", "data.max_tokens_per_batch=3072"]}
PEAK_BF16_FLOPS = {"H100": 989.4e12, "H200": 989.4e12, "A100": 312e12, "L40S": 362e12}  # dense, per GPU
TINY_AT_REAL_SHAPES = ["model=sphinx_tiny", "model.llm.name_or_path=null", "model.tokenizer=${paths.demo_dir}/tokenizer",
                       "model.max_length=2048", "model.llm.attn_implementation=sdpa"]


def compose_benchmark(overrides: list[str], device: str, workdir: Path) -> Any:
    """The demo experiment's config (SPHINX-Tiny's shapes, random weights, on CUDA) with ``overrides``."""
    from omegaconf import OmegaConf, open_dict

    shapes = TINY_AT_REAL_SHAPES if device == "cuda" else []
    with initialize_config_module("sphinx_x.conf", version_base=None):
        cfg = compose("train", overrides=["experiment=demo", "data.num_workers=0", *shapes,
                                          f"data.rejects_path={workdir / 'rejects.jsonl'}",
                                          f"paths.output_dir={workdir}", *overrides])
    with open_dict(cfg):
        for expert in cfg.model.encoders.values():  # random-init encoders: no downloads
            if OmegaConf.is_dict(expert):
                for key in ("pretrained", "name_or_path"):
                    if expert.get(key):
                        expert[key] = None
    return cfg


def tile_flops(model: torch.nn.Module, pixels: torch.Tensor) -> int:
    """Forward FLOPs of the vision side (frozen experts + projector) for one tile group."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.vision(pixels[:1])
    return int(counter.get_total_flops())


def measure(overrides: list[str], steps: int, device: str, workdir: Path) -> dict[str, Any]:
    """Train ``steps`` micro-batches of the composed config; throughput, padding and model FLOP/s."""
    cfg = compose_benchmark(overrides, device, workdir)
    ensure_demo_world(cfg)
    tokenizer = load_tokenizer(cfg.model.tokenizer)
    datamodule = SphinxDataModule(cfg.data, SphinxProcessor.from_config(tokenizer, cfg.model, cfg.data))
    datamodule.setup("fit")
    torch.manual_seed(0)
    model = build_sphinx(cfg.model, vocab_size=len(tokenizer), device=device).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4,
                                  fused=True)
    llm_params = sum(p.numel() for p in model.llm.parameters())
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda")  # Lightning's bf16-mixed
    batches = iter(datamodule.train_dataloader())
    samples = real = total = tiles = 0
    elapsed, per_tile = 0.0, None
    for step in range(steps + 3):
        if step == 3:
            loop_started = time.perf_counter()
        batch = next(batches).to(device)
        if per_tile is None and batch.pixels.shape[0]:
            with autocast:
                per_tile = tile_flops(model, batch.pixels)
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        with autocast:
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
            tiles += int(batch.pixels.shape[0])
    peak = (torch.cuda.max_memory_allocated() if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    loop_s = (time.perf_counter() - loop_started) / steps
    flops = 6 * llm_params * real + (per_tile or 0) * tiles
    result = {"samples_per_s": round(samples / elapsed, 2), "real_tokens_per_s": round(real / elapsed, 1),
              "padding_fraction": round(1 - real / total, 4), "step_s": round(elapsed / steps, 4),
              "step_with_data_s": round(loop_s, 4), "peak_memory_mb": round(peak / 2**20, 1), "samples": samples,
              "model_tflops_per_s": round(flops / elapsed / 1e12, 4), "llm_params": llm_params,
              "tile_forward_gflops": round((per_tile or 0) / 1e9, 3)}
    peak_flops = next((v for k, v in PEAK_BF16_FLOPS.items() if k in torch.cuda.get_device_name()), None) \
        if device == "cuda" else None
    if peak_flops:
        result["mfu"] = round(flops / elapsed / peak_flops, 4)
    return result


def measure_lightning(steps: int, workdir: Path) -> dict[str, Any]:
    """Seconds between consecutive training-batch starts in ``sphinx_x.train`` (Lightning, one
    micro-batch per step, no validation or checkpoints in the window): data, step, logging, callbacks."""
    import lightning as L
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    import sphinx_x.train as training

    starts: list[float] = []

    class Clock(L.Callback):
        def on_train_batch_start(self, *args: Any) -> None:
            starts.append(time.perf_counter())

    run = workdir / "lightning"
    GlobalHydra.instance().clear()
    with initialize_config_module("sphinx_x.conf", version_base=None):
        cfg = compose("train", return_hydra_config=True, overrides=[
            "experiment=demo", "data.num_workers=0", "global_batch_size=8", f"trainer.max_steps={steps + 4}",
            "trainer.val_check_interval=100000", "callbacks.benchmark_validation=null",
            "callbacks.checkpoint.every_n_train_steps=100000", f"hydra.run.dir={run}"])
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(run)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]
    training.train(cfg, str(run), [Clock()])
    gaps = [b - a for a, b in zip(starts[3:], starts[4:], strict=False)]
    return {"step_with_data_s": round(sum(gaps) / len(gaps), 4), "steps": len(gaps)}


def write_photos(folder: Path, count: int = 56) -> list[dict[str, Any]]:
    """Noise-textured photos (JPEG and PNG, long side 1024 px) and records with short to long answers."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    records = []
    for i in range(count):
        w, h = ASPECTS[i % len(ASPECTS)]
        scale = 1024 / max(w, h)
        size = (round(w * scale), round(h * scale))
        pixels = rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
        path = folder / f"photo_{i}.{'jpg' if i % 2 else 'png'}"
        Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR).save(path)
        answer = " ".join(["word"] * int(rng.choice([1, 8, 60, 250])))  # short VQA ... a long OCR page
        records.append({"id": str(i), "source": "photos", "task": "vqa", "images": [str(path)],
                        "messages": [{"role": "user", "content": "<image>\nWhat does the page say?"},
                                     {"role": "assistant", "content": answer}]})
    return records


def measure_pipeline(records: list[dict[str, Any]], tiling: str, workers: int, workdir: Path) -> dict[str, Any]:
    """Samples/s of decode + tile + tokenise + collate alone (no model), micro-batches of 8."""
    from sphinx_x.data.dataset import MixtureDataset

    with initialize_config_module("sphinx_x.conf", version_base=None):
        cfg = compose("train", overrides=["experiment=demo", f"paths.output_dir={workdir}",
                                          f"data.rejects_path={workdir / 'rejects.jsonl'}"])
        paper = compose("train", overrides=["model=sphinx_tiny", f"model/tiling={tiling}", "model.max_length=4096",
                                            f"paths.output_dir={workdir}"])
    ensure_demo_world(cfg)
    processor = SphinxProcessor.from_config(load_tokenizer(cfg.model.tokenizer), paper.model, paper.data)
    dataset = MixtureDataset([("photos", records)], processor)
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, num_workers=workers,
                                         collate_fn=processor.collator(["photos"]))
    started = time.perf_counter()
    samples = sum(len(batch) for batch in loader)
    return {"samples_per_s": round(samples / (time.perf_counter() - started), 2), "samples": samples}


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", type=int, default=30, help="measured micro-batches per configuration")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--workdir", type=Path, default=Path("outputs/benchmark_throughput"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1, as experiment=demo trains: the tiny model gains nothing from more)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
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
        for name in ("bucketed", "packed", "packed_budget"):
            entry = results[f"{name}/skip_tokens={skip}"]
            entry["real_tokens_per_s_vs_padded"] = round(entry["real_tokens_per_s"] / padded, 3)
    lightning = measure_lightning(args.steps, args.workdir)
    plain = results["padded/skip_tokens=on"]["step_with_data_s"]
    overhead = {"plain_loop_step_s": plain, "lightning_step_s": lightning["step_with_data_s"],
                "ratio": round(lightning["step_with_data_s"] / plain, 3),
                "what": "the same config (padded, skip on, micro-batch 8, no workers) in sphinx_x.train vs "
                        "the plain forward/backward/AdamW loop above, data fetch included in both"}
    print("lightning overhead", overhead, flush=True)
    photos = write_photos(args.workdir / "photos")
    pipeline: dict[str, Any] = {}
    for tiling in ("grid448", "grid672"):
        for workers in range(0, (os.cpu_count() or 1) + 1):
            key = f"{tiling}/workers={workers}"
            pipeline[key] = measure_pipeline(photos, tiling, workers, args.workdir)
            print(key, pipeline[key], flush=True)
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"{platform.processor() or 'cpu'}, " \
        f"{torch.get_num_threads()} threads"
    out = args.out or Path("experiments/benchmarks") / f"throughput_{args.device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": " ".join(["python", "scripts/benchmark_throughput.py", *(argv or sys.argv[1:])]),
        "device": device,
        "model": "SPHINX-Tiny shapes (random TinyLlama-1.1B, ConvNeXt-XXL, DINOv2-g), bf16 autocast, SDPA"
        if args.device == "cuda" else "demo (tiny random LLaMA + tiny ConvNeXt/DINOv2 MoV), float32",
        "stream": "the demo world's training mixture (demo_llava + demo_text), micro-batch 8 "
                  "(packed_budget: 3072 tokens a micro-batch)",
        "flops": "6 * N_llm * real_tokens + F_tile * tiles (module docstring); mfu against the dense bf16 peak",
        "steps_measured": args.steps, "results": results, "lightning_overhead": overhead,
        "data_pipeline": {"what": "decode + tile + tokenise + collate of 56 photos (JPEG/PNG, long side 1024, "
                                  "aspect ratios " + ", ".join(f"{w}:{h}" for w, h in ASPECTS) + ") at "
                                  "SPHINX-Tiny's tiling, micro-batches of 8, no model; compare with the "
                                  "training samples/s above",
                          "results": pipeline}}, indent=2) + "\n")
    print(out)
    return out


if __name__ == "__main__":
    main()
