"""The authors' forward computations (LLaMA2-Accessory), re-derived from their code for tests: given
their parameter names and values, what their model computes. Tests compare a converted model with it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

CLIP_MEAN = torch.tensor([0.48145466, 0.4578275, 0.40821073]).view(1, 3, 1, 1)
CLIP_STD = torch.tensor([0.26862954, 0.26130258, 0.27577711]).view(1, 3, 1, 1)
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def _rms(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    # accessory/model/components.py RMSNorm: x * rsqrt(mean(x^2) + eps), computed in float
    return (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps)).type_as(x) * weight


def _rope(x: torch.Tensor, theta: float) -> torch.Tensor:
    """llama.py:46-77: consecutive pairs of a head rotate together (complex multiplication)."""
    batch, length, heads, head_dim = x.shape
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    angles = torch.outer(torch.arange(length).float(), freqs)  # (length, head_dim/2)
    rotation = torch.polar(torch.ones_like(angles), angles)[None, :, None, :]
    pairs = torch.view_as_complex(x.float().reshape(batch, length, heads, -1, 2))
    return torch.view_as_real(pairs * rotation).flatten(3).type_as(x)


def llm_logits(state: dict[str, torch.Tensor], args: dict[str, Any], embeds: torch.Tensor) -> torch.Tensor:
    """Transformer.forward of llama_ens*.py / mixtral_sparse_ens*.py on input embeddings (batch, length, dim)."""
    dim, heads = args["dim"], args["n_heads"]
    kv_heads, head_dim, eps = args.get("n_kv_heads") or heads, dim // heads, args["norm_eps"]
    batch, length, _ = embeds.shape
    h = embeds
    for i in range(args["n_layers"]):
        p = f"llma.layers.{i}."
        x = _rms(h, state[p + "attention_norm.weight"], eps)
        q = (x @ state[p + "attention.wq.weight"].T).view(batch, length, heads, head_dim)
        k = (x @ state[p + "attention.wk.weight"].T).view(batch, length, kv_heads, head_dim)
        v = (x @ state[p + "attention.wv.weight"].T).view(batch, length, kv_heads, head_dim)
        q, k = _rope(q, args["rope_theta"]), _rope(k, args["rope_theta"])
        k, v = (t.repeat_interleave(heads // kv_heads, dim=2) for t in (k, v))  # repeat_kv (llama.py:80-90)
        attended = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                                  is_causal=True)
        h = h + attended.transpose(1, 2).reshape(batch, length, -1) @ state[p + "attention.wo.weight"].T
        x = _rms(h, state[p + "ffn_norm.weight"], eps)
        h = h + (_moe(state, p, args, x) if "moe" in args else _swiglu(state, p, x))
    return _rms(h, state["llma.norm.weight"], eps) @ state["llma.output.weight"].T


def _swiglu(state: dict[str, torch.Tensor], p: str, x: torch.Tensor) -> torch.Tensor:
    # llama_ens.py:213-218: w2(silu(w1 x) * w3 x)
    w1, w2, w3 = (state[f"{p}feed_forward.{n}.weight"] for n in ("w1", "w2", "w3"))
    return (F.silu(x @ w1.T) * (x @ w3.T)) @ w2.T


def _moe(state: dict[str, torch.Tensor], p: str, args: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """mixtral_sparse_ens.py:409-493: softmax over all experts, top-k, renormalised; expert e is
    silu(x w1[e]^T) * (x w3[e]^T) @ w2[e] with w1, w2, w3 stacked (experts * hidden, dim)."""
    experts, top = args["moe"]["num_experts"], args["moe"]["num_experts_per_tok"]
    flat = x.reshape(-1, x.shape[-1])
    probs = F.softmax(flat @ state[p + "feed_forward.gate.weight"].T, dim=1, dtype=torch.float)
    weights, chosen = torch.topk(probs, top, dim=-1)
    weights = (weights / weights.sum(dim=-1, keepdim=True)).to(flat.dtype)
    w1, w2, w3 = (state[f"{p}feed_forward.{n}"].reshape(experts, -1, flat.shape[-1]) for n in ("w1", "w2", "w3"))
    out = torch.zeros_like(flat)
    for token in range(flat.shape[0]):
        for slot in range(top):
            e = int(chosen[token, slot])
            hidden = F.silu(flat[token] @ w1[e].T) * (flat[token] @ w3[e].T)
            out[token] += weights[token, slot] * (hidden @ w2[e])
    return out.view_as(x)


def _sub(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def clip_normalise(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 (n, 3, S, S) -> the authors' input: ToTensor + Normalize(CLIP mean/std) (accessory/data/transform.py:57-65)."""
    return (pixels.float() / 255.0 - CLIP_MEAN) / CLIP_STD


def convnext_tokens(state: dict[str, torch.Tensor], x: torch.Tensor, timm_kwargs: dict[str, Any], size: int,
                    upsample: int) -> torch.Tensor:
    """llama_ens.py:398-412 / llama_ens5_light.py:387-393: the open_clip trunk with its head's pooling
    removed, on x resized (nearest) to ``size``; map cells repeated; mean token first."""
    import timm

    trunk = timm.create_model("convnext_tiny", pretrained=False, num_classes=0, **timm_kwargs)
    trunk.reset_classifier(0, global_pool="")
    trunk.load_state_dict(_sub(state, "llma.openclip_convnext_xxl."))
    trunk.head.global_pool, trunk.head.flatten = torch.nn.Identity(), torch.nn.Identity()
    features = trunk.eval()(F.interpolate(x, size=(size, size)))
    features = features.repeat_interleave(upsample, dim=-1).repeat_interleave(upsample, dim=-2)
    tokens = features.flatten(-2).permute(0, 2, 1)
    return torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)


def dinov2_tokens(state: dict[str, torch.Tensor], x: torch.Tensor, heads: int, offset: float = 0.1) -> torch.Tensor:
    """torch.hub DINOv2's forward_features (dinov2/models/vision_transformer.py, layers/*) on the authors'
    re-normalised input (llama_ens.py:420-424): [x_norm_clstoken, x_norm_patchtokens]."""
    s = _sub(state, "llma.dinov2_vitg14.")
    x = (x * CLIP_STD + CLIP_MEAN - IMAGENET_MEAN) / IMAGENET_STD
    patches = F.conv2d(x, s["patch_embed.proj.weight"], s["patch_embed.proj.bias"], stride=14)
    n, width, rows, cols = patches.shape
    tokens = torch.cat([s["cls_token"].expand(n, -1, -1), patches.flatten(2).transpose(1, 2)], dim=1)
    table = s["pos_embed"]
    side = round((table.shape[1] - 1) ** 0.5)
    grid = table[:, 1:].reshape(1, side, side, width).permute(0, 3, 1, 2)
    if (rows, cols) != (side, side):  # interpolate_pos_encoding with interpolate_offset
        grid = F.interpolate(grid, scale_factor=((rows + offset) / side, (cols + offset) / side), mode="bicubic")
    tokens = tokens + torch.cat([table[:, :1], grid.permute(0, 2, 3, 1).reshape(1, -1, width)], dim=1)
    head_dim = width // heads
    i = 0
    while f"blocks.{i}.norm1.weight" in s:
        b = f"blocks.{i}."
        y = F.layer_norm(tokens, (width,), s[b + "norm1.weight"], s[b + "norm1.bias"], eps=1e-6)
        qkv = (y @ s[b + "attn.qkv.weight"].T + s[b + "attn.qkv.bias"]).reshape(n, -1, 3, heads, head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, -1, width)
        tokens = tokens + s[b + "ls1.gamma"] * (y @ s[b + "attn.proj.weight"].T + s[b + "attn.proj.bias"])
        y = F.layer_norm(tokens, (width,), s[b + "norm2.weight"], s[b + "norm2.bias"], eps=1e-6)
        gate, up = (y @ s[b + "mlp.w12.weight"].T + s[b + "mlp.w12.bias"]).chunk(2, dim=-1)
        y = (F.silu(gate) * up) @ s[b + "mlp.w3.weight"].T + s[b + "mlp.w3.bias"]
        tokens = tokens + s[b + "ls2.gamma"] * y
        i += 1
    return F.layer_norm(tokens, (width,), s["norm.weight"], s["norm.bias"], eps=1e-6)


def clip_tokens(state: dict[str, torch.Tensor], x: torch.Tensor, layers: int, width: int, heads: int, mlp: int,
                text: dict[str, int]) -> torch.Tensor:
    """llama_ens.py:352-375 clip_encode_image on open_clip's ViT: every token through ln_post, no proj."""
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    clip = CLIP(embed_dim=text["embed"], quick_gelu=True,
                vision_cfg=CLIPVisionCfg(layers=layers, width=width, head_width=width // heads, mlp_ratio=mlp / width,
                                         patch_size=14, image_size=x.shape[-1]),
                text_cfg=CLIPTextCfg(context_length=text["context"], vocab_size=text["vocab"], width=text["width"],
                                     heads=2, layers=1))
    clip.transformer = None
    clip.load_state_dict(_sub(state, "llma.clip."))
    visual = clip.visual.eval()
    y = visual.conv1(x).flatten(2).transpose(1, 2)
    y = torch.cat([visual.class_embedding.expand(y.shape[0], 1, -1), y], dim=1) + visual.positional_embedding
    y = visual.transformer(visual.ln_pre(y))
    return visual.ln_post(y)


def qformer_tokens(state: dict[str, torch.Tensor], x: torch.Tensor, vision: dict[str, Any],
                   qformer: dict[str, Any]) -> torch.Tensor:
    """Blip2Model.get_qformer_features without the language model (llama_ens.py:393-396)."""
    import transformers

    vision_model = transformers.Blip2VisionModel(transformers.Blip2VisionConfig(**vision)).eval()
    qformer_model = transformers.Blip2QFormerModel(transformers.Blip2QFormerConfig(**qformer)).eval()
    vision_model.load_state_dict(_sub(state, "llma.qformer.vision_model."))
    qformer_model.load_state_dict(_sub(state, "llma.qformer.qformer."))
    image = vision_model(pixel_values=x).last_hidden_state
    queries = state["llma.qformer.query_tokens"].expand(x.shape[0], -1, -1)
    return qformer_model(query_embeds=queries, encoder_hidden_states=image,
                         encoder_attention_mask=torch.ones(image.shape[:-1], dtype=torch.long)).last_hidden_state


def projected(state: dict[str, torch.Tensor], name: str, features: torch.Tensor) -> torch.Tensor:
    """``visual_proj`` / ``qformer_proj``: Linear + LayerNorm."""
    y = features @ state[f"llma.{name}.0.weight"].T + state[f"llma.{name}.0.bias"]
    return F.layer_norm(y, (y.shape[-1],), state[f"llma.{name}.1.weight"], state[f"llma.{name}.1.bias"])
