"""Parameter names of the authors' released SPHINX models -> this project's ``SphinxX`` state dict.

Every function takes the parameters it maps out of a :class:`Checkpoint` (so what is left at the
end was never mapped) and returns ``{our name: tensor}``. The authors' names and the code that
defines them (LLaMA2-Accessory at 3777c43, ``accessory/model/LLM/``):

- LLM (``llama_ens*.py``): ``tok_embeddings`` (258-260), ``layers.N.attention.w{q,k,v,o}`` (63-91),
  ``layers.N.feed_forward.w{1,2,3}`` (188-211), ``attention_norm`` / ``ffn_norm`` (234-235),
  ``norm`` / ``output`` (266-269); RoPE on interleaved pairs (llama.py:67-77).
- Mixtral experts (``mixtral_sparse_ens*.py``): ``feed_forward.w{1,2,3}`` stacked per expert
  ``(experts * hidden, dim)``, ``w2`` transposed (248-270, ``stk.ops.dsd(x, w2)`` at 462), router ``gate``.
- Visual side: ``visual_proj`` / ``qformer_proj`` (Linear + LayerNorm), ``start_img`` / ``end_img``;
  encoders ``openclip_convnext_xxl`` (open_clip's timm trunk), ``dinov2_vitg14`` (torch.hub
  DINOv2), ``clip`` (open_clip ViT-L-14, text tower unused), ``qformer`` (transformers ``Blip2Model``
  without its language model).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import torch

PREFIX = "llma."  # MetaModel keeps the inner Transformer as ``self.llma`` (accessory/model/meta.py:56)


class Checkpoint:
    """The merged authors' state dict; mapping functions take tensors out of it by name."""

    def __init__(self, state: dict[str, torch.Tensor], type_name: str):
        self.state = state  # taken over: tensors leave it as they are mapped
        self.type_name = type_name
        self.ignored: dict[str, str] = {}  # name -> why the authors' forward never reads it

    def take(self, name: str) -> torch.Tensor:
        if name not in self.state:
            raise KeyError(f"the checkpoint lacks {name}, which a {self.type_name} model has")
        return self.state.pop(name)

    def has_prefix(self, prefix: str) -> bool:
        return any(k.startswith(prefix) for k in self.state)

    def take_prefix(self, prefix: str) -> dict[str, torch.Tensor]:
        """Every tensor under ``prefix``, keyed by the rest of its name."""
        names = [k for k in self.state if k.startswith(prefix)]
        return {name[len(prefix):]: self.state.pop(name) for name in names}

    def ignore(self, names: Iterable[str], reason: str) -> None:
        for name in names:
            if name in self.state:
                self.state.pop(name)
                self.ignored[name] = reason

    def leftover(self) -> list[str]:
        return sorted(self.state)


def rope_halves(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """q/k rows from the authors' RoPE layout (pairs ``(2i, 2i+1)`` rotate together, llama.py:72-76)
    to transformers' (``i`` rotates with ``i + head_dim/2``)."""
    rows, cols = weight.shape
    per_head = rows // heads
    # (heads, head_dim/2, 2, cols) -> (heads, 2, head_dim/2, cols): even rows first, then odd rows
    return weight.reshape(heads, per_head // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


def map_llm(ckpt: Checkpoint, layers: int, heads: int, kv_heads: int, experts: int | None) -> dict[str, torch.Tensor]:
    """LLaMA (``experts`` None) or Mixtral decoder -> ``llm.*`` of a transformers causal LM."""
    src, out = PREFIX, {}
    out["llm.model.embed_tokens.weight"] = ckpt.take(src + "tok_embeddings.weight")
    for i in range(layers):
        a, b = f"{src}layers.{i}.", f"llm.model.layers.{i}."
        out[b + "self_attn.q_proj.weight"] = rope_halves(ckpt.take(a + "attention.wq.weight"), heads)
        out[b + "self_attn.k_proj.weight"] = rope_halves(ckpt.take(a + "attention.wk.weight"), kv_heads)
        out[b + "self_attn.v_proj.weight"] = ckpt.take(a + "attention.wv.weight")
        out[b + "self_attn.o_proj.weight"] = ckpt.take(a + "attention.wo.weight")
        out[b + "input_layernorm.weight"] = ckpt.take(a + "attention_norm.weight")
        out[b + "post_attention_layernorm.weight"] = ckpt.take(a + "ffn_norm.weight")
        if experts is None:
            out[b + "mlp.gate_proj.weight"] = ckpt.take(a + "feed_forward.w1.weight")
            out[b + "mlp.up_proj.weight"] = ckpt.take(a + "feed_forward.w3.weight")
            out[b + "mlp.down_proj.weight"] = ckpt.take(a + "feed_forward.w2.weight")
        else:
            out.update(_experts(ckpt, a + "feed_forward.", b + "mlp.", experts))
    if ckpt.has_prefix(f"{src}layers.{layers}."):
        raise ValueError(f"the checkpoint has more than the {layers} layers its config.json gives "
                         f"({src}layers.{layers}.* exists)")
    out["llm.model.norm.weight"] = ckpt.take(src + "norm.weight")
    out["llm.lm_head.weight"] = ckpt.take(src + "output.weight")
    return out


def _experts(ckpt: Checkpoint, a: str, b: str, experts: int) -> dict[str, torch.Tensor]:
    """Accessory's stacked experts -> transformers' ``gate_up_proj`` (E, 2F, D) and ``down_proj`` (E, D, F)."""
    w1, w2, w3 = (ckpt.take(a + name) for name in ("w1", "w2", "w3"))
    dim = w1.shape[-1]
    gate, down, up = (w.reshape(experts, -1, dim) for w in (w1, w2, w3))  # each (experts, hidden, dim)
    return {b + "gate.weight": ckpt.take(a + "gate.weight"),
            b + "experts.gate_up_proj": torch.cat([gate, up], dim=1),  # silu(x W1^T) * (x W3^T)
            b + "experts.down_proj": down.transpose(1, 2).contiguous()}  # x @ W2 -> Linear weight W2^T


def map_visual_heads(ckpt: Checkpoint, query_experts: Iterable[str]) -> dict[str, torch.Tensor]:
    """Projectors and the image tags (``start_img`` / ``end_img``, (1, 1, dim) -> (dim,))."""
    out = {}
    for layer in ("0", "1"):
        for kind in ("weight", "bias"):
            out[f"vision.projector.{layer}.{kind}"] = ckpt.take(f"{PREFIX}visual_proj.{layer}.{kind}")
            for name in query_experts:  # SPHINX v1's Q-Former has its own projector
                out[f"vision.query_projectors.{name}.{layer}.{kind}"] = ckpt.take(
                    f"{PREFIX}{name}_proj.{layer}.{kind}")
    out["start_embed"] = ckpt.take(PREFIX + "start_img").reshape(-1)
    out["end_embed"] = ckpt.take(PREFIX + "end_img").reshape(-1)
    return out


def map_convnext(ckpt: Checkpoint, ours: str) -> dict[str, torch.Tensor]:
    """open_clip's ConvNeXt trunk (timm): the same module here, so the names carry over."""
    trunk = ckpt.take_prefix(PREFIX + "openclip_convnext_xxl.")
    return {f"vision.experts.{ours}.trunk.{name}": value for name, value in trunk.items()}


_DINOV2_BLOCK = {"norm1.weight": "norm1.weight", "norm1.bias": "norm1.bias", "norm2.weight": "norm2.weight",
                 "norm2.bias": "norm2.bias", "attn.proj.weight": "attention.o_proj.weight",
                 "attn.proj.bias": "attention.o_proj.bias", "ls1.gamma": "layer_scale1.lambda1",
                 "ls2.gamma": "layer_scale2.lambda1", "mlp.w3.weight": "mlp.down_proj.weight",
                 "mlp.w3.bias": "mlp.down_proj.bias", "mlp.fc1.weight": "mlp.fc1.weight", "mlp.fc1.bias": "mlp.fc1.bias",
                 "mlp.fc2.weight": "mlp.fc2.weight", "mlp.fc2.bias": "mlp.fc2.bias"}
_DINOV2_TOP = {"cls_token": "embeddings.cls_token", "pos_embed": "embeddings.position_embeddings",
               "mask_token": "embeddings.mask_token", "patch_embed.proj.weight": "embeddings.patch_embeddings.projection.weight",
               "patch_embed.proj.bias": "embeddings.patch_embeddings.projection.bias", "norm.weight": "layernorm.weight",
               "norm.bias": "layernorm.bias"}


def map_dinov2(ckpt: Checkpoint, ours: str) -> dict[str, torch.Tensor]:
    """torch.hub DINOv2 (facebookresearch/dinov2, dinov2/models/vision_transformer.py:107-169,
    dinov2/layers/{block,attention,layer_scale,swiglu_ffn}.py) -> transformers ``Dinov2Model``."""
    hub = ckpt.take_prefix(PREFIX + "dinov2_vitg14.")
    dst, out = f"vision.experts.{ours}.model.", {}
    block = re.compile(r"blocks\.(\d+)\.(.+)")
    for name, value in hub.items():
        if name in _DINOV2_TOP:
            out[dst + _DINOV2_TOP[name]] = value
            continue
        match = block.fullmatch(name)
        if not match:
            raise KeyError(f"{PREFIX}dinov2_vitg14.{name}: no place for it in a transformers Dinov2Model "
                           "(not a parameter of torch.hub's dinov2_vitg14)")
        layer, rest = f"{dst}encoder.layer.{match.group(1)}.", match.group(2)
        kind = rest.rsplit(".", 1)[-1]
        if rest in ("attn.qkv.weight", "attn.qkv.bias"):  # rows: q, k, v (attention.py:52, reshape(B, N, 3, H, d))
            for part, tensor in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0), strict=True):
                out[f"{layer}attention.{part}.{kind}"] = tensor
        elif rest in ("mlp.w12.weight", "mlp.w12.bias"):  # x1, x2 = w12(x).chunk(2): silu(x1) * x2 (swiglu_ffn.py:31-33)
            for part, tensor in zip(("gate_proj", "up_proj"), value.chunk(2, dim=0), strict=True):
                out[f"{layer}mlp.{part}.{kind}"] = tensor
        elif rest in _DINOV2_BLOCK:
            out[layer + _DINOV2_BLOCK[rest]] = value
        else:
            raise KeyError(f"{PREFIX}dinov2_vitg14.{name}: no place for it in a transformers Dinov2Model")
    return out


_CLIP_TOP = {"conv1.weight": "embeddings.patch_embedding.weight", "class_embedding": "embeddings.class_embedding",
             "positional_embedding": "embeddings.position_embedding.weight", "ln_pre.weight": "pre_layrnorm.weight",
             "ln_pre.bias": "pre_layrnorm.bias", "ln_post.weight": "post_layernorm.weight",
             "ln_post.bias": "post_layernorm.bias"}
_CLIP_BLOCK = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "attn.out_proj": "self_attn.out_proj",
               "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
# open_clip's CLIP keeps its text tower beside ``visual``; the authors drop only its transformer
# (llama_ens.py:300) and read ``visual`` alone, without its final projection (llama_ens.py:352-375).
CLIP_UNUSED = {"token_embedding.weight", "positional_embedding", "ln_final.weight", "ln_final.bias",
               "text_projection", "logit_scale", "logit_bias", "visual.proj"}


def map_clip(ckpt: Checkpoint, ours: str) -> dict[str, torch.Tensor]:
    """open_clip ViT-L-14 (the authors' ``clip.visual``) -> transformers ``CLIPVisionModel``."""
    src = PREFIX + "clip."
    ckpt.ignore([src + name for name in CLIP_UNUSED],
                "CLIP text tower / visual projection: the authors' clip_encode_image never reads it")
    tower = ckpt.take_prefix(src + "visual.")
    dst, out = f"vision.experts.{ours}.model.", {}
    in_proj = re.compile(r"transformer\.resblocks\.(\d+)\.attn\.in_proj_(weight|bias)")
    block = re.compile(r"transformer\.resblocks\.(\d+)\.(.+)\.(weight|bias)")
    for name, value in tower.items():
        if name in _CLIP_TOP:
            out[dst + _CLIP_TOP[name]] = value
        elif match := in_proj.fullmatch(name):  # nn.MultiheadAttention: rows q, k, v
            for part, tensor in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0), strict=True):
                out[f"{dst}encoder.layers.{match.group(1)}.self_attn.{part}.{match.group(2)}"] = tensor
        elif (match := block.fullmatch(name)) and match.group(2) in _CLIP_BLOCK:
            out[f"{dst}encoder.layers.{match.group(1)}.{_CLIP_BLOCK[match.group(2)]}.{match.group(3)}"] = value
        else:
            raise KeyError(f"{src}visual.{name}: no place for it in a transformers CLIPVisionModel")
    return out


def map_qformer(ckpt: Checkpoint, ours: str) -> dict[str, torch.Tensor]:
    """transformers ``Blip2Model`` minus its language model (llama_ens.py:283-293) -> ``QFormerEncoder``:
    ``vision_model.*``, ``query_tokens`` and ``qformer.*`` keep their names."""
    parts = ckpt.take_prefix(PREFIX + "qformer.")
    out = {}
    for name, value in parts.items():
        if not (name.startswith(("vision_model.", "qformer.")) or name == "query_tokens"):
            raise KeyError(f"{PREFIX}qformer.{name}: not a part of BLIP-2 that SPHINX keeps "
                           "(vision_model, query_tokens, qformer)")
        out[f"vision.query_experts.{ours}.{name}"] = value
    return out
