"""Tiny LLaMA2-Accessory checkpoints of every released SPHINX type, built from the parameter list in
``tests/convert/accessory_params.yaml`` and saved as the authors' code saves them: one
``consolidated.NN-of-MM.model.pth`` per model-parallel rank, plus config.json, meta.json and a
sentencepiece ``tokenizer.model``.
"""

from __future__ import annotations

import ast
import json
import operator
from pathlib import Path
from typing import Any

import torch
import yaml

FIXTURE = Path(__file__).resolve().parents[1] / "convert" / "accessory_params.yaml"

# Sizes of the tiny checkpoints; the encoder ones match sphinx_x/conf/model/encoders/sphinx_v1_tiny.yaml.
ENCODER_SIZES: dict[str, Any] = {
    "convnext_dims": [8, 16, 24, 32], "convnext_depths": [1, 1, 1, 1], "convnext_width": 32,
    "dinov2_width": 24, "dinov2_layers": 2, "dinov2_ffn": 64, "dinov2_pos": 4,
    "clip_width": 32, "clip_layers": 2, "clip_mlp": 64, "clip_grid": 2, "clip_embed": 16,
    "text_vocab": 50, "text_width": 16, "text_context": 8,
    "blip_width": 24, "blip_layers": 2, "blip_mlp": 48, "blip_grid": 2,
    "qformer_width": 16, "qformer_layers": 2, "qformer_mlp": 32, "cross_every": 2, "queries": 3,
}
LLAMA_ARGS = {"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "multiple_of": 32, "norm_eps": 1e-5,
              "rope_theta": 10000.0}
MIXTRAL_ARGS = {"dim": 64, "hidden_dim": 48, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "norm_eps": 1e-5,
                "rope_theta": 1000000.0, "moe": {"num_experts": 4, "num_experts_per_tok": 2}}
# Hydra overrides that size a released type's config like the tiny checkpoints.
TINY = ["model/encoders=sphinx_v1_tiny", "model.llm.dtype=float32"]
V1_TINY = [*TINY, "model.encoders.convnext.input_size=32", "model.tiling.tile_pixels=28"]
TINY_OVERRIDES = {"llama_ens": V1_TINY, "llama_ens5": V1_TINY, "llama_ens_light": TINY, "llama_ens5_light": TINY,
                  "mixtral_sparse_ens": TINY, "mixtral_sparse_ens5": TINY}


def fixture() -> dict[str, Any]:
    return yaml.safe_load(FIXTURE.read_text())


def accessory_args(type_name: str) -> dict[str, Any]:
    return dict(MIXTRAL_ARGS if type_name.startswith("mixtral") else LLAMA_ARGS)


def symbols(type_name: str, vocab: int) -> dict[str, Any]:
    """The shape symbols of a tiny checkpoint of ``type_name``."""
    args = accessory_args(type_name)
    dim, heads = args["dim"], args["n_heads"]
    values = {**ENCODER_SIZES, "vocab": vocab, "dim": dim, "heads": heads, "kv_heads": args["n_kv_heads"],
              "head_dim": dim // heads, "layers": args["n_layers"]}
    if type_name.startswith("mixtral"):
        values.update(experts=args["moe"]["num_experts"], moe_ffn=args["hidden_dim"])
    else:
        hidden = int(2 * (4 * dim) / 3)
        values["ffn"] = args["multiple_of"] * ((hidden + args["multiple_of"] - 1) // args["multiple_of"])
    return values


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}


def evaluate(expression: str, names: dict[str, Any]) -> Any:
    """Arithmetic over names, lists and subscripts (the fixture's shape and range expressions)."""

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return names[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Subscript):
            return walk(node.value)[walk(node.slice)]
        if isinstance(node, ast.List):
            return [walk(element) for element in node.elts]
        raise ValueError(f"unsupported expression {ast.dump(node)} in {expression!r}")

    return walk(ast.parse(expression, mode="eval"))


def _bindings(loops: dict[str, str], names: dict[str, Any]) -> list[dict[str, int]]:
    bound = [dict()]
    for var, spec in loops.items():
        expanded = []
        for binding in bound:
            bounds = [evaluate(part, {**names, **binding}) for part in spec.split(":")]
            expanded += [{**binding, var: value} for value in range(*bounds)]
        bound = expanded
    return bound


def parameters(type_name: str, vocab: int) -> dict[str, tuple[tuple[int, ...], str]]:
    """name -> (shape, split) of every tensor in a tiny ``type_name`` checkpoint."""
    spec = fixture()
    names = symbols(type_name, vocab)
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    for group_name in spec["types"][type_name]:
        group = spec["groups"][group_name]
        for binding in _bindings(group.get("for", {}), names):
            for param in group["params"]:
                name = param["name"].format(**binding)
                assert name not in out, f"{name} listed twice"
                shape = tuple(evaluate(param["shape"], {**names, **binding}))
                out[name] = (shape, param.get("split", "replicated"))
    return out


def random_tensor(name: str, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Values that keep a tiny network's activations in range: norms near 1, layer scales small."""
    noise = torch.randn(shape, generator=generator)
    last = name.rsplit(".", 2)
    if any(n in name for n in ("norm", "ln_", "LayerNorm", "layer_norm")) and name.endswith("weight") and len(shape) == 1:
        return 1.0 + 0.1 * noise
    if name.endswith(("gamma", "bias")) or "ls1" in last or "ls2" in last:
        return 0.1 * noise
    return 0.2 * noise


def shard(tensor: torch.Tensor, split: str, ranks: int, experts: int | None) -> list[torch.Tensor]:
    """One tensor as the authors' ranks hold it (the inverse of their merge)."""
    if split == "column":
        return [t.clone() for t in tensor.chunk(ranks, dim=0)]
    if split in ("row", "embedding"):
        return [t.clone() for t in tensor.chunk(ranks, dim=1)]
    if split == "experts":  # mixtral_sparse_ens.py:220-223: view (experts, -1, dim), chunk the middle
        stacked = tensor.reshape(experts, -1, tensor.shape[-1]).chunk(ranks, dim=1)
        return [t.reshape(-1, tensor.shape[-1]).clone() for t in stacked]
    return [tensor.clone() for _ in range(ranks)]


def train_tokenizer(path: Path) -> Path:
    """A small sentencepiece BPE model shaped like LLaMA's (byte fallback, no normalisation, digits split)."""
    import sentencepiece

    text = ["A chat between a curious human and an artificial intelligence assistant.",
            "The assistant gives helpful, detailed, and polite answers to the human's questions.",
            "### Human: What is in the image? ### Assistant: A red square and a blue circle.",
            "Please provide the bounding box coordinate of the region: [0.12, 0.50, 0.99, 1.00]."] * 40
    path.parent.mkdir(parents=True, exist_ok=True)
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(text), model_prefix=str(path.with_suffix("")), vocab_size=360, model_type="bpe",
        byte_fallback=True, split_digits=True, normalization_rule_name="identity", remove_extra_whitespaces=False,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2, num_threads=1)
    return path


def vocab_size(tokenizer_model: Path) -> int:
    import sentencepiece

    return sentencepiece.SentencePieceProcessor(model_file=str(tokenizer_model)).get_piece_size()


def write_release(folder: Path, type_name: str, tokenizer_model: Path, ranks: int = 2, seed: int = 0,
                  extra: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """A tiny released checkpoint folder of ``type_name``; returns the full (unsplit) tensors."""
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    args = accessory_args(type_name)
    experts = args["moe"]["num_experts"] if "moe" in args else None
    full: dict[str, torch.Tensor] = {}
    shards: list[dict[str, torch.Tensor]] = [{} for _ in range(ranks)]
    for name, (shape, split) in parameters(type_name, vocab_size(tokenizer_model)).items():
        full[name] = random_tensor(name, shape, generator)
        for rank, part in enumerate(shard(full[name], split, ranks, experts)):
            shards[rank][name] = part
    for name, tensor in (extra or {}).items():
        for rank in range(ranks):
            shards[rank][name] = tensor.clone()
    for rank, state in enumerate(shards):  # accessory/util/misc.py:350-363
        torch.save({"model": state}, folder / f"consolidated.{rank:02d}-of-{ranks:02d}.model.pth")
    (folder / "config.json").write_text(json.dumps(args))
    (folder / "meta.json").write_text(json.dumps({"llama_type": type_name}))
    (folder / "tokenizer.model").write_bytes(tokenizer_model.read_bytes())
    return full
