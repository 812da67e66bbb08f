"""The authors' released SPHINX / SPHINX-X checkpoints (LLaMA2-Accessory) -> this project's export.

A released folder holds ``consolidated.NN-of-MM.model.pth`` (one per model-parallel rank),
``config.json`` (the model's ``ModelArgs``), ``meta.json`` (``llama_type``) and a tokenizer
(``tokenizer.model`` or a transformers tokenizer folder). :func:`convert_accessory` merges the ranks,
maps every parameter onto the ``SphinxX`` built from this project's config for that type
(``model=sphinx_v1``, ``sphinx_tiny_1k``, ...), fails on anything left unmapped or missing, and
writes ``model.safetensors`` + ``sphinx_config.json`` + the processor (tokenizer included): the
folder that evaluation, chat, the server and ``model.init_from`` read.

Skip tokens are not in the released models; the converted model's skip embedding starts as a copy
of the authors' ``end_img`` (a skipped tile reads as an empty tile group). The released types'
configs pad centred and never skip, exactly as the authors' models were trained.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from safetensors.torch import save_file

from sphinx_x.convert.mapping import (
    Checkpoint,
    map_clip,
    map_convnext,
    map_dinov2,
    map_llm,
    map_qformer,
    map_visual_heads,
)
from sphinx_x.convert.shards import Split, load_shard, merge_shards, shard_files, split_rules

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# accessory/model/meta.py:90-92 (MetaModel.from_pretrained): max_seq_len=4096 unless the caller says otherwise
ACCESSORY_MAX_SEQ_LEN = 4096

# ModelArgs defaults, used for fields a config.json leaves out.
LLAMA_ARGS: dict[str, Any] = {  # llama_ens*.py:33-52
    "dim": 5120, "n_layers": 40, "n_heads": 40, "n_kv_heads": None, "multiple_of": 256,
    "ffn_dim_multiplier": None, "norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None}
MIXTRAL_ARGS: dict[str, Any] = {  # mixtral_sparse_ens*.py:49-72
    "dim": 4096, "hidden_dim": 16384, "n_layers": 32, "n_heads": 32, "n_kv_heads": None, "norm_eps": 1e-5,
    "rope_theta": 1e6, "moe": {"num_experts_per_tok": 2, "num_experts": 8}, "rope_scaling": None}

# Model-parallel layouts (accessory/util/tensor_parallel.py:34-38): ColumnParallelLinear on dim 0,
# RowParallelLinear and ParallelEmbedding on dim 1; MoE experts per expert (mixtral_sparse_ens.py:214-223).
_ATTENTION: list[tuple[str, Split]] = [
    (r"llma\.tok_embeddings\.weight", "embedding"), (r"llma\.output\.weight", "column"),
    (r"llma\.layers\.\d+\.attention\.w[qkv]\.weight", "column"), (r"llma\.layers\.\d+\.attention\.wo\.weight", "row")]
LLAMA_SPLITS = [*_ATTENTION, (r"llma\.layers\.\d+\.feed_forward\.w[13]\.weight", "column"),
                (r"llma\.layers\.\d+\.feed_forward\.w2\.weight", "row")]
MIXTRAL_SPLITS = [*_ATTENTION, (r"llma\.layers\.\d+\.feed_forward\.w[123]", "experts")]

V1_PATCH = ("clip_vit", "convnext", "dinov2")  # channel order of visual_proj's input (llama_ens.py:428-432)
X_PATCH = ("convnext", "dinov2")  # (llama_ens5_light.py:408-411)


@dataclass(frozen=True)
class ReleasedType:
    """One ``llama_type`` of the released checkpoints and the config that rebuilds it here."""

    name: str
    llm: str  # "llama" or "mixtral"
    config: str  # this project's model config (conf/model/<config>.yaml)
    patch_experts: tuple[str, ...]
    query_experts: tuple[str, ...]
    views: int  # 1: one view; 5: a global view + 2 x 2 sub-images
    image_words: int  # the authors' image_words at full size (start/end included)
    released: str  # the models of SPHINX/README.md's table with this type
    load_balancing_weight: float | None = None  # ModelArgs default of the MoE types


TYPES: dict[str, ReleasedType] = {t.name: t for t in (
    ReleasedType("llama_ens", "llama", "sphinx_v1", V1_PATCH, ("qformer",), 1, 32 + 257 + 2, "SPHINX"),
    ReleasedType("llama_ens5", "llama", "sphinx_v1_1k", V1_PATCH, ("qformer",), 5, (32 + 257 + 2) * 5,
                 "SPHINX-1k, SPHINX-v2-1k"),
    ReleasedType("llama_ens_light", "llama", "sphinx_tiny_512", X_PATCH, (), 1, 257 + 2, "SPHINX-Tiny"),
    ReleasedType("llama_ens5_light", "llama", "sphinx_tiny_1k", X_PATCH, (), 5, (257 + 2) * 5, "SPHINX-Tiny-1k"),
    ReleasedType("mixtral_sparse_ens", "mixtral", "sphinx_moe_512", V1_PATCH, ("qformer",), 1, 32 + 257 + 2,
                 "SPHINX-MoE", load_balancing_weight=0.1),
    ReleasedType("mixtral_sparse_ens5", "mixtral", "sphinx_moe_1k", V1_PATCH, ("qformer",), 5, (32 + 257 + 2) * 5,
                 "SPHINX-MoE-1k", load_balancing_weight=0.01),
)}


@dataclass
class ConversionReport:
    """What a conversion did (also written into ``sphinx_config.json`` as ``converted_from``)."""

    type: str
    source: str
    shards: int
    parameters: int  # tensors written
    ignored: dict[str, str] = field(default_factory=dict)  # authors' tensors their forward never reads
    unequal_replicas: list[str] = field(default_factory=list)
    skip_embed: str = "copy of end_img"


def released_type(name: str) -> ReleasedType:
    if name not in TYPES:
        raise ValueError(f"--type must be one of {sorted(TYPES)}, got {name!r}")
    return TYPES[name]


def read_type(src: Path, given: str | None) -> ReleasedType:
    """``--type``, checked against ``meta.json``'s ``llama_type`` when the folder has one."""
    meta = src / "meta.json"
    stored = json.loads(meta.read_text()).get("llama_type") if meta.is_file() else None
    if given is None and stored is None:
        raise ValueError(f"{src} has no meta.json: pass --type (one of {sorted(TYPES)})")
    if given is not None and stored is not None and given != stored:
        raise ValueError(f"--type {given} but {meta} says llama_type={stored!r}")
    return released_type(given or stored)


def accessory_args(src: Path, rtype: ReleasedType) -> dict[str, Any]:
    """``config.json`` over the type's ``ModelArgs`` defaults."""
    args = dict(LLAMA_ARGS if rtype.llm == "llama" else MIXTRAL_ARGS)
    if rtype.load_balancing_weight is not None:
        args["load_balancing_weight"] = rtype.load_balancing_weight
    path = src / "config.json"
    if path.is_file():
        given = json.loads(path.read_text())
        if not isinstance(given, dict):
            raise ValueError(f"{path}: expected a JSON object of ModelArgs fields")
        args.update(given)
    return args


def llama_ffn_dim(dim: int, multiple_of: int, ffn_dim_multiplier: float | None) -> int:
    """The SwiGLU width LLaMA derives from ``dim`` (llama_ens.py:188-201)."""
    hidden = int(2 * (4 * dim) / 3)
    if ffn_dim_multiplier is not None:
        hidden = int(ffn_dim_multiplier * hidden)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


def llm_settings(args: dict[str, Any], rtype: ReleasedType, vocab: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(transformers config fields, ``model.llm.overrides``) of the released LLM."""
    heads = int(args["n_heads"])
    common: dict[str, Any] = {
        "vocab_size": vocab, "hidden_size": int(args["dim"]), "num_hidden_layers": int(args["n_layers"]),
        "num_attention_heads": heads, "num_key_value_heads": int(args["n_kv_heads"] or heads),
        "max_position_embeddings": ACCESSORY_MAX_SEQ_LEN, "rms_norm_eps": float(args["norm_eps"]),
        "rope_theta": float(args["rope_theta"]), "tie_word_embeddings": False}
    if args.get("rope_scaling"):  # positions multiplied by the factor (llama.py:50-53) = linear scaling by 1/factor
        common["rope_scaling"] = {"rope_type": "linear", "factor": 1.0 / float(args["rope_scaling"])}
    if rtype.llm == "llama":
        ffn = llama_ffn_dim(int(args["dim"]), int(args["multiple_of"]), args.get("ffn_dim_multiplier"))
        return {**common, "intermediate_size": ffn}, {}
    moe = args["moe"]
    config = {**common, "intermediate_size": int(args["hidden_dim"]), "num_local_experts": int(moe["num_experts"]),
              "num_experts_per_tok": int(moe["num_experts_per_tok"]), "head_dim": int(args["dim"]) // heads}
    overrides = {"num_experts_per_tok": int(moe["num_experts_per_tok"]),
                 "router_aux_loss_coef": float(args["load_balancing_weight"])}
    return config, overrides


def convert_tokenizer(src: Path) -> Any:
    """The released tokenizer as a fast transformers tokenizer (BOS added by the template, as theirs)."""
    from transformers import AutoTokenizer, LlamaTokenizer

    spm = src / "tokenizer.model"
    if spm.is_file():
        with tempfile.TemporaryDirectory() as tmp:  # only the sentencepiece file: src's config.json is not HF's
            shutil.copy(spm, Path(tmp) / "tokenizer.model")
            tokenizer = LlamaTokenizer.from_pretrained(tmp, add_bos_token=True, add_eos_token=False)
        _check_against_sentencepiece(tokenizer, spm)
    elif (src / "tokenizer.json").is_file():
        with tempfile.TemporaryDirectory() as tmp:  # the tokenizer's own files only (config.json is Accessory's)
            for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
                if (src / name).is_file():
                    shutil.copy(src / name, Path(tmp) / name)
            tokenizer = AutoTokenizer.from_pretrained(tmp, use_fast=True, trust_remote_code=False)
    else:
        raise FileNotFoundError(f"{src} has no tokenizer (tokenizer.model or tokenizer.json)")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return tokenizer


def _check_against_sentencepiece(tokenizer: Any, spm: Path) -> None:
    """The converted tokenizer must split text exactly as the authors' sentencepiece model does."""
    try:
        import sentencepiece
    except ImportError:  # nothing to compare with
        return
    from sphinx_x.data.templates import SPHINX_SYSTEM

    processor = sentencepiece.SentencePieceProcessor(model_file=str(spm))
    probe = f"{SPHINX_SYSTEM}\n\n### Human: What is at [0.12, 0.50, 0.99, 1.00]?\n### Assistant: A cat.\n###"
    ours = tokenizer(probe, add_special_tokens=False)["input_ids"]
    theirs = processor.encode(probe)
    if ours != theirs:
        first = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs)))
        raise ValueError(f"{spm}: the converted tokenizer splits text differently from sentencepiece "
                         f"(first difference at token {first}: {ours[first:first + 3]} vs {theirs[first:first + 3]})")
    if tokenizer.bos_token_id != processor.bos_id() or tokenizer.eos_token_id != processor.eos_id():
        raise ValueError(f"{spm}: BOS/EOS ids differ after conversion ({tokenizer.bos_token_id}/"
                         f"{tokenizer.eos_token_id} vs {processor.bos_id()}/{processor.eos_id()})")


def compose_model_config(rtype: ReleasedType, overrides: list[str]) -> DictConfig:
    """This project's model config for the type (``model=<config>`` plus Hydra overrides)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra

    from sphinx_x.runtime.config import CONF_PACKAGE

    GlobalHydra.instance().clear()
    with initialize_config_module(CONF_PACKAGE, version_base="1.3"):
        cfg = compose("train", overrides=[f"model={rtype.config}", "model.init_from=null", *overrides])
    GlobalHydra.instance().clear()
    return cfg.model


def convert_accessory(src: str | Path, out: str | Path, type_name: str | None = None,
                      overrides: list[str] | None = None, dtype: str = "auto") -> ConversionReport:
    """Convert a released checkpoint folder ``src`` into an export folder ``out``."""
    from sphinx_x.data.processor import SphinxProcessor
    from sphinx_x.data.tiling import VisualLayout
    from sphinx_x.model.build import build_sphinx

    src, out = Path(src), Path(out)
    files = shard_files(src)
    rtype = read_type(src, type_name)
    args = accessory_args(src, rtype)
    experts = int(args["moe"]["num_experts"]) if rtype.llm == "mixtral" else None
    split_of = split_rules(LLAMA_SPLITS if rtype.llm == "llama" else MIXTRAL_SPLITS)
    merged, merge = merge_shards([load_shard(f) for f in files], split_of, experts)
    stored_dtype = _stored_dtype(merged)
    target = stored_dtype if dtype == "auto" and stored_dtype in DTYPES.values() else (
        torch.float32 if dtype == "auto" else _dtype(dtype))

    tokenizer = convert_tokenizer(src)
    embed = merged.get("llma.tok_embeddings.weight")
    if embed is None:
        raise KeyError(f"{src}: the checkpoint lacks llma.tok_embeddings.weight: not a {rtype.name} model")
    if embed.shape[1] != int(args["dim"]):
        raise ValueError(f"{src}/config.json: dim={args['dim']} but llma.tok_embeddings.weight is {tuple(embed.shape)}")
    if len(tokenizer) != embed.shape[0]:
        raise ValueError(f"{src}: the tokenizer has {len(tokenizer)} tokens but llma.tok_embeddings.weight "
                         f"has {embed.shape[0]} rows")
    llm_config, llm_overrides = llm_settings(args, rtype, int(embed.shape[0]))

    cfg = compose_model_config(rtype, list(overrides or []))
    if tuple(cfg.vision.experts) != rtype.patch_experts:
        raise ValueError(f"model.vision.experts: a {rtype.name} model concatenates {list(rtype.patch_experts)} "
                         f"in that order, got {list(cfg.vision.experts)}")
    if tuple(cfg.vision.get("query_experts") or ()) != rtype.query_experts:
        raise ValueError(f"model.vision.query_experts: a {rtype.name} model has {list(rtype.query_experts)}, "
                         f"got {list(cfg.vision.get('query_experts') or [])}")
    model_cfg: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    model_cfg["llm"].update(name_or_path=None, model_type=rtype.llm, config=llm_config, dtype=_dtype_name(target),
                            overrides=llm_overrides)
    model_cfg["tokenizer"] = str(out.resolve())
    model_cfg["init_from"] = None

    ckpt = Checkpoint(merged, rtype.name)
    del merged, embed  # the Checkpoint owns the tensors now: each is freed once mapped
    heads = int(args["n_heads"])
    state = map_llm(ckpt, int(args["n_layers"]), heads, int(args["n_kv_heads"] or heads), experts)
    state.update(map_visual_heads(ckpt, rtype.query_experts))
    state["skip_embed"] = state["end_embed"].clone()  # not in the release: an empty tile group's closing tag
    encoders = {"convnext": map_convnext, "dinov2": map_dinov2, "clip_vit": map_clip, "qformer": map_qformer}
    for name in (*rtype.patch_experts, *rtype.query_experts):
        state.update(encoders[name](ckpt, name))
    if ckpt.leftover():
        raise ValueError(f"{len(ckpt.leftover())} parameters of the checkpoint map to nothing in a {rtype.name} "
                         f"model: {ckpt.leftover()[:10]}")

    expected = build_sphinx(OmegaConf.create(model_cfg), vocab_size=len(tokenizer), device="meta").state_dict()
    _check_against_model(state, expected, rtype)
    layout = VisualLayout.from_model_config(OmegaConf.create(model_cfg))
    if layout.max_slots != rtype.views * (layout.tokens_per_tile + 2):
        raise ValueError(f"model.tiling: a {rtype.name} image is {rtype.views} views of [start] tokens [end], "
                         f"but this config lays out {layout.max_slots} slots")

    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.to(target).contiguous() for k, v in state.items()}, str(out / "model.safetensors"))
    report = ConversionReport(rtype.name, str(src.resolve()), len(files), len(state), dict(ckpt.ignored),
                              merge.unequal_replicas)
    (out / "sphinx_config.json").write_text(json.dumps({"model": model_cfg, "converted_from": vars(report)}, indent=2))
    SphinxProcessor(tokenizer, layout, template="sphinx", system_prompt=None,
                    max_length=int(model_cfg["max_length"])).save_pretrained(out)
    return report


def _check_against_model(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], rtype: ReleasedType) -> None:
    """Every weight of the model gets one of the right shape, and nothing else is written."""
    missing = sorted(k for k in expected if k not in state)
    if missing:
        raise ValueError(f"{len(missing)} weights of the {rtype.config} model got nothing from the checkpoint: "
                         f"{missing[:10]}")
    extra = sorted(k for k in state if k not in expected)
    if extra:
        raise ValueError(f"{len(extra)} converted weights have no place in the {rtype.config} model "
                         f"(does the config match the checkpoint?): {extra[:10]}")
    wrong = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
             for k in expected if tuple(state[k].shape) != tuple(expected[k].shape)]
    if wrong:
        raise ValueError(f"{len(wrong)} weights differ in shape from the {rtype.config} model config "
                         f"(set its sizes with overrides): {wrong[:5]}")


def _stored_dtype(state: dict[str, torch.Tensor]) -> torch.dtype:
    embed = state.get("llma.tok_embeddings.weight")
    return embed.dtype if embed is not None and embed.is_floating_point() else torch.float32


def _dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise ValueError(f"--dtype must be 'auto' or one of {sorted(DTYPES)}, got {name!r}")
    return DTYPES[name]


def _dtype_name(dtype: torch.dtype) -> str:
    return next((name for name, value in DTYPES.items() if value == dtype), "float32")
