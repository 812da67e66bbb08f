"""sphinx-x-convert-accessory on tiny checkpoints of every released type: the fixture's names match
the libraries the authors used, every tensor lands where it should, the converted model computes
what the authors' code computes, and it runs and generates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from safetensors.torch import load_file

from sphinx_x.convert.accessory import TYPES, convert_accessory
from sphinx_x.inference import Conversation, GenerationConfig, SphinxInference
from tests.testkit import accessory_reference as ref
from tests.testkit.accessory import ENCODER_SIZES, TINY_OVERRIDES, accessory_args, parameters

pytestmark = pytest.mark.usefixtures("one_thread")
ALL_TYPES = sorted(TYPES)
CLIP_UNUSED = {f"llma.clip.{n}" for n in ("token_embedding.weight", "positional_embedding", "ln_final.weight",
                                          "ln_final.bias", "text_projection", "logit_scale", "visual.proj")}
TINY_ENCODERS = OmegaConf.create(OmegaConf.to_container(OmegaConf.load(
    Path(__file__).resolve().parents[2] / "src/sphinx_x/conf/model/encoders/sphinx_v1_tiny.yaml")))


# --------------------------------------------------------------------------- the fixture vs the libraries
def _group_names(type_name: str, prefix: str) -> dict[str, tuple[int, ...]]:
    return {k[len(prefix):]: shape for k, (shape, _) in parameters(type_name, 100).items() if k.startswith(prefix)}


def test_fixture_names_match_the_libraries_the_authors_used():
    import open_clip
    import timm
    import transformers

    sizes = ENCODER_SIZES
    trunk = timm.create_model("convnext_tiny", pretrained=False, num_classes=0, depths=sizes["convnext_depths"],
                              dims=sizes["convnext_dims"])
    trunk.reset_classifier(0, global_pool="")  # open_clip's TimmModel with timm_pool ""
    clip = open_clip.model.CLIP(
        embed_dim=sizes["clip_embed"], quick_gelu=True,
        vision_cfg=open_clip.model.CLIPVisionCfg(layers=sizes["clip_layers"], width=sizes["clip_width"], head_width=16,
                                                 mlp_ratio=sizes["clip_mlp"] / sizes["clip_width"], patch_size=14,
                                                 image_size=14 * sizes["clip_grid"]),
        text_cfg=open_clip.model.CLIPTextCfg(context_length=sizes["text_context"], vocab_size=sizes["text_vocab"],
                                             width=sizes["text_width"], heads=2, layers=1))
    clip.transformer = None  # llama_ens.py:300
    encoders = TINY_ENCODERS.qformer
    vision = transformers.Blip2VisionModel(transformers.Blip2VisionConfig(**encoders.vision_config))
    qformer = transformers.Blip2QFormerModel(transformers.Blip2QFormerConfig(**encoders.qformer_config))
    blip = {**{f"vision_model.{k}": v for k, v in vision.state_dict().items()},
            **{f"qformer.{k}": v for k, v in qformer.state_dict().items()},
            "query_tokens": torch.zeros(1, encoders.num_query_tokens, encoders.qformer_config.hidden_size)}
    for prefix, library in (("llma.openclip_convnext_xxl.", trunk.state_dict()), ("llma.clip.", clip.state_dict()),
                            ("llma.qformer.", blip)):
        listed = _group_names("llama_ens", prefix)
        assert listed == {k: tuple(v.shape) for k, v in library.items()}, prefix


def test_fixture_lists_each_type_once_with_known_splits():
    for type_name in ALL_TYPES:
        params = parameters(type_name, 100)
        assert {split for _, split in params.values()} <= {"column", "row", "embedding", "experts", "replicated"}
        assert ("llma.qformer.query_tokens" in params) == (type_name not in ("llama_ens_light", "llama_ens5_light"))


# --------------------------------------------------------------------------- every tensor lands
def _rope_rows(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """Rows of each head reordered: the authors rotate pairs (2j, 2j+1); transformers rotates (j, j + d/2)."""
    head_dim = weight.shape[0] // heads
    order = [h * head_dim + 2 * j + p for h in range(heads) for p in (0, 1) for j in range(head_dim // 2)]
    return weight[order]


def expected_export(type_name: str, full: dict[str, torch.Tensor]) -> dict[str, tuple[list[str], torch.Tensor]]:
    """Our name -> (the authors' names it comes from, the value it must hold), written independently of the converter."""
    args = accessory_args(type_name)
    heads, kv = args["n_heads"], args["n_kv_heads"]
    out: dict[str, tuple[list[str], torch.Tensor]] = {}

    def put(ours: str, value: torch.Tensor, *sources: str) -> None:
        assert ours not in out
        out[ours] = (list(sources), value)

    put("llm.model.embed_tokens.weight", full["llma.tok_embeddings.weight"], "llma.tok_embeddings.weight")
    put("llm.model.norm.weight", full["llma.norm.weight"], "llma.norm.weight")
    put("llm.lm_head.weight", full["llma.output.weight"], "llma.output.weight")
    for i in range(args["n_layers"]):
        a, b = f"llma.layers.{i}.", f"llm.model.layers.{i}."
        put(b + "self_attn.q_proj.weight", _rope_rows(full[a + "attention.wq.weight"], heads), a + "attention.wq.weight")
        put(b + "self_attn.k_proj.weight", _rope_rows(full[a + "attention.wk.weight"], kv), a + "attention.wk.weight")
        for src, ours in (("attention.wv.weight", "self_attn.v_proj.weight"), ("attention.wo.weight", "self_attn.o_proj.weight"),
                          ("attention_norm.weight", "input_layernorm.weight"),
                          ("ffn_norm.weight", "post_attention_layernorm.weight")):
            put(b + ours, full[a + src], a + src)
        if "moe" in args:
            experts, hidden = args["moe"]["num_experts"], args["hidden_dim"]
            w1, w2, w3 = (full[f"{a}feed_forward.{n}"] for n in ("w1", "w2", "w3"))
            gate_up = torch.stack([torch.cat([w1[e * hidden:(e + 1) * hidden], w3[e * hidden:(e + 1) * hidden]])
                                   for e in range(experts)])
            down = torch.stack([w2[e * hidden:(e + 1) * hidden].T for e in range(experts)])
            put(b + "mlp.experts.gate_up_proj", gate_up, a + "feed_forward.w1", a + "feed_forward.w3")
            put(b + "mlp.experts.down_proj", down, a + "feed_forward.w2")
            put(b + "mlp.gate.weight", full[a + "feed_forward.gate.weight"], a + "feed_forward.gate.weight")
        else:
            for src, ours in (("w1", "gate_proj"), ("w3", "up_proj"), ("w2", "down_proj")):
                put(f"{b}mlp.{ours}.weight", full[f"{a}feed_forward.{src}.weight"], f"{a}feed_forward.{src}.weight")
    for name in [k for k in full if k.startswith(("llma.visual_proj.", "llma.qformer_proj."))]:
        head = "vision.projector." if name.startswith("llma.visual_proj.") else "vision.query_projectors.qformer."
        put(head + name.split("_proj.", 1)[1], full[name], name)
    put("start_embed", full["llma.start_img"].reshape(-1), "llma.start_img")
    put("end_embed", full["llma.end_img"].reshape(-1), "llma.end_img")
    put("skip_embed", full["llma.end_img"].reshape(-1), "llma.end_img")  # documented: starts as end_img
    for name, value in full.items():
        if name.startswith("llma.openclip_convnext_xxl."):
            put("vision.experts.convnext.trunk." + name.split(".", 2)[2], value, name)
        elif name.startswith("llma.qformer."):
            put("vision.query_experts.qformer." + name.split(".", 2)[2], value, name)
    _expected_dinov2(full, put)
    if "llma.clip.visual.conv1.weight" in full:
        _expected_clip(full, put)
    return out


def _expected_dinov2(full, put) -> None:
    src, dst = "llma.dinov2_vitg14.", "vision.experts.dinov2.model."
    for theirs, ours in (("cls_token", "embeddings.cls_token"), ("pos_embed", "embeddings.position_embeddings"),
                         ("mask_token", "embeddings.mask_token"), ("norm.weight", "layernorm.weight"),
                         ("norm.bias", "layernorm.bias"),
                         ("patch_embed.proj.weight", "embeddings.patch_embeddings.projection.weight"),
                         ("patch_embed.proj.bias", "embeddings.patch_embeddings.projection.bias")):
        put(dst + ours, full[src + theirs], src + theirs)
    width, ffn = ENCODER_SIZES["dinov2_width"], ENCODER_SIZES["dinov2_ffn"]
    for i in range(ENCODER_SIZES["dinov2_layers"]):
        a, b = f"{src}blocks.{i}.", f"{dst}encoder.layer.{i}."
        for kind in ("weight", "bias"):
            qkv = full[f"{a}attn.qkv.{kind}"]
            for n, part in enumerate(("q_proj", "k_proj", "v_proj")):
                put(f"{b}attention.{part}.{kind}", qkv[n * width:(n + 1) * width], f"{a}attn.qkv.{kind}")
            w12 = full[f"{a}mlp.w12.{kind}"]
            put(f"{b}mlp.gate_proj.{kind}", w12[:ffn], f"{a}mlp.w12.{kind}")
            put(f"{b}mlp.up_proj.{kind}", w12[ffn:], f"{a}mlp.w12.{kind}")
            for theirs, ours in (("norm1", "norm1"), ("norm2", "norm2"), ("attn.proj", "attention.o_proj"),
                                 ("mlp.w3", "mlp.down_proj")):
                put(f"{b}{ours}.{kind}", full[f"{a}{theirs}.{kind}"], f"{a}{theirs}.{kind}")
        put(b + "layer_scale1.lambda1", full[a + "ls1.gamma"], a + "ls1.gamma")
        put(b + "layer_scale2.lambda1", full[a + "ls2.gamma"], a + "ls2.gamma")


def _expected_clip(full, put) -> None:
    src, dst = "llma.clip.visual.", "vision.experts.clip_vit.model."
    for theirs, ours in (("conv1.weight", "embeddings.patch_embedding.weight"),
                         ("class_embedding", "embeddings.class_embedding"),
                         ("positional_embedding", "embeddings.position_embedding.weight"),
                         ("ln_pre.weight", "pre_layrnorm.weight"), ("ln_pre.bias", "pre_layrnorm.bias"),
                         ("ln_post.weight", "post_layernorm.weight"), ("ln_post.bias", "post_layernorm.bias")):
        put(dst + ours, full[src + theirs], src + theirs)
    width = ENCODER_SIZES["clip_width"]
    for i in range(ENCODER_SIZES["clip_layers"]):
        a, b = f"{src}transformer.resblocks.{i}.", f"{dst}encoder.layers.{i}."
        for kind in ("weight", "bias"):
            packed = full[f"{a}attn.in_proj_{kind}"]
            for n, part in enumerate(("q_proj", "k_proj", "v_proj")):
                put(f"{b}self_attn.{part}.{kind}", packed[n * width:(n + 1) * width], f"{a}attn.in_proj_{kind}")
            for theirs, ours in (("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"), ("attn.out_proj", "self_attn.out_proj"),
                                 ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
                put(f"{b}{ours}.{kind}", full[f"{a}{theirs}.{kind}"], f"{a}{theirs}.{kind}")


@pytest.mark.parametrize("type_name", ALL_TYPES)
def test_every_tensor_lands_where_it_should(type_name, release, converted):
    _, full = release(type_name)
    written = load_file(str(converted(type_name) / "model.safetensors"))
    expected = expected_export(type_name, full)
    assert sorted(written) == sorted(expected)
    for ours, (_, value) in expected.items():
        assert written[ours].dtype == torch.float32 and torch.equal(written[ours], value), ours
    used = {name for sources, _ in expected.values() for name in sources}
    unused = set(full) - used
    assert unused == (CLIP_UNUSED if "llma.clip.visual.conv1.weight" in full else set())
    report = json.loads((converted(type_name) / "sphinx_config.json").read_text())["converted_from"]
    assert set(report["ignored"]) == unused and report["shards"] == 2 and report["type"] == type_name


@pytest.mark.parametrize("type_name", ["llama_ens5_light", "mixtral_sparse_ens"])
def test_the_written_config_and_processor(type_name, converted):
    out = converted(type_name)
    model = json.loads((out / "sphinx_config.json").read_text())["model"]
    args = accessory_args(type_name)
    llm = model["llm"]
    assert llm["name_or_path"] is None and llm["dtype"] == "float32" and model["init_from"] is None
    assert llm["config"]["hidden_size"] == args["dim"] and llm["config"]["num_key_value_heads"] == args["n_kv_heads"]
    assert llm["config"]["rope_theta"] == args["rope_theta"] and llm["config"]["tie_word_embeddings"] is False
    if type_name.startswith("mixtral"):
        assert llm["model_type"] == "mixtral" and llm["config"]["num_local_experts"] == 4
        assert llm["overrides"] == {"num_experts_per_tok": 2, "router_aux_loss_coef": 0.1}  # mixtral_sparse_ens.py:68
    else:
        assert llm["model_type"] == "llama" and llm["config"]["intermediate_size"] == 192  # 2/3 * 4 * 64 -> x32
    processor = json.loads((out / "processor_config.json").read_text())
    views = TYPES[type_name].views
    assert processor["template"] == "sphinx" and processor["layout"]["anchor"] == "center"
    assert processor["layout"]["skip_padded_tiles"] is False and processor["layout"]["sub_images"] == (views == 5)
    assert (out / "tokenizer.json").is_file()


# --------------------------------------------------------------------------- what the converted model computes
@pytest.mark.parametrize("type_name", ["llama_ens5_light", "mixtral_sparse_ens5"])
def test_llm_computes_what_the_authors_did(type_name, release, converted):
    _, full = release(type_name)
    engine = SphinxInference.from_run(converted(type_name))
    embeds = torch.randn(2, 9, accessory_args(type_name)["dim"], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = engine.model.llm(inputs_embeds=embeds).logits
    theirs = ref.llm_logits(full, accessory_args(type_name), embeds)
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()


@pytest.mark.parametrize("type_name", ["llama_ens", "mixtral_sparse_ens5", "llama_ens5_light"])
def test_one_view_is_embedded_as_the_authors_did(type_name, release, converted):
    """A tile through the four (or two) encoders, the channel order and the projectors: the same tokens."""
    _, full = release(type_name)
    engine = SphinxInference.from_run(converted(type_name))
    side = engine.layout.tile_pixels
    tiles = torch.randint(0, 256, (2, 3, side, side), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    with torch.no_grad():
        ours = engine.model.vision(tiles)
        x = ref.clip_normalise(tiles)  # the authors' normalised image at the view's size
        v224 = torch.nn.functional.interpolate(x, size=(28, 28), mode="bicubic") if side != 28 else x
        dinov2 = ref.dinov2_tokens(full, v224, heads=2)
        if type_name.startswith("llama_ens5_light"):
            convnext = ref.convnext_tokens(full, x, OmegaConf.to_container(TINY_ENCODERS.convnext.timm_kwargs), size=64, upsample=1)
            theirs = ref.projected(full, "visual_proj", torch.cat([convnext, dinov2], dim=2))
        else:
            s = ENCODER_SIZES
            v1 = type_name == "llama_ens"  # llama_ens.py:398-407: 224 -> 256 nearest, 8x8 -> 16x16
            convnext = ref.convnext_tokens(full, x, OmegaConf.to_container(TINY_ENCODERS.convnext.timm_kwargs), size=32 if v1 else 64,
                                           upsample=2 if v1 else 1)
            clip = ref.clip_tokens(full, v224, s["clip_layers"], s["clip_width"], 2, s["clip_mlp"],
                                   {"embed": s["clip_embed"], "context": s["text_context"], "vocab": s["text_vocab"],
                                    "width": s["text_width"]})
            queries = ref.qformer_tokens(full, v224, dict(TINY_ENCODERS.qformer.vision_config),
                                         dict(TINY_ENCODERS.qformer.qformer_config))
            theirs = torch.cat([ref.projected(full, "qformer_proj", queries),
                                ref.projected(full, "visual_proj", torch.cat([clip, convnext, dinov2], dim=2))], dim=1)
    assert ours.shape == theirs.shape == (2, engine.layout.tokens_per_tile, accessory_args(type_name)["dim"])
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()


@pytest.mark.parametrize("type_name", ALL_TYPES)
def test_converted_model_runs_a_forward_pass_and_generates(type_name, converted):
    engine = SphinxInference.from_run(converted(type_name))
    image = Image.new("RGB", (90, 60), (200, 40, 30))
    conversation = Conversation([{"role": "user", "content": "<image>\nWhat is in the image?"}], [image])
    sample = engine.processor.prompt({"id": "0", "messages": conversation.messages}, [image])
    slots = engine.layout.max_slots  # square-padded, nothing skipped: every view, as the release
    assert slots == TYPES[type_name].views * (engine.layout.tokens_per_tile + 2)
    assert sample.input_ids[0] == engine.tokenizer.bos_token_id
    assert sample.slot_kind[1:1 + slots].ne(0).all() and sample.slot_kind[1 + slots:].eq(0).all()  # right after BOS
    batch = engine.collate([sample])
    with torch.no_grad():
        out = engine.model(batch.input_ids, batch.attention_mask, batch.slot_kind, batch.pixels, return_logits=True)
    assert out.logits.shape[:2] == batch.input_ids.shape and torch.isfinite(out.logits).all()
    (generation,) = engine.generate_full([conversation], GenerationConfig(max_new_tokens=4))
    assert 1 <= len(generation.token_ids) <= 4 and generation.prompt_tokens == batch.input_ids.shape[1]


# --------------------------------------------------------------------------- errors name what is wrong
def _copy(src: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(src, tmp_path / "src"))


def _rewrite_shards(folder: Path, edit) -> None:
    for path in sorted(folder.glob("consolidated.*.model.pth")):
        state = torch.load(path, weights_only=True)
        edit(state["model"])
        torch.save(state, path)


def test_an_unmapped_parameter_is_an_error(release, tmp_path):
    src = _copy(release("llama_ens5_light")[0], tmp_path)
    _rewrite_shards(src, lambda state: state.update({"llma.extra_head.weight": torch.ones(2)}))
    with pytest.raises(ValueError, match=r"1 parameters of the checkpoint map to nothing .*llma.extra_head.weight"):
        convert_accessory(src, tmp_path / "out", "llama_ens5_light", TINY_OVERRIDES["llama_ens5_light"])


def test_a_missing_parameter_is_an_error(release, tmp_path):
    src = _copy(release("llama_ens5_light")[0], tmp_path)
    _rewrite_shards(src, lambda state: state.pop("llma.layers.1.ffn_norm.weight"))
    with pytest.raises(KeyError, match=r"lacks llma.layers.1.ffn_norm.weight, which a llama_ens5_light model has"):
        convert_accessory(src, tmp_path / "out", "llama_ens5_light", TINY_OVERRIDES["llama_ens5_light"])


def test_a_missing_encoder_weight_is_named(release, tmp_path):
    src = _copy(release("llama_ens5_light")[0], tmp_path)
    _rewrite_shards(src, lambda state: state.pop("llma.dinov2_vitg14.blocks.1.ls2.gamma"))
    with pytest.raises(ValueError, match=r"1 weights of the sphinx_tiny_1k model got nothing.*encoder.layer.1.layer_scale2"):
        convert_accessory(src, tmp_path / "out", "llama_ens5_light", TINY_OVERRIDES["llama_ens5_light"])


def test_type_config_and_order_mismatches_are_named(release, tmp_path):
    src = _copy(release("llama_ens5_light")[0], tmp_path)
    with pytest.raises(ValueError, match=r"--type llama_ens5 but .*meta.json says llama_type='llama_ens5_light'"):
        convert_accessory(src, tmp_path / "out", "llama_ens5", TINY_OVERRIDES["llama_ens5"])
    with pytest.raises(ValueError, match=r"model.vision.experts: a llama_ens5_light model concatenates \['convnext', 'dinov2'\]"):
        convert_accessory(src, tmp_path / "out", None, [*TINY_OVERRIDES["llama_ens5_light"],
                                                        "model.vision.experts=[dinov2,convnext]"])
    with pytest.raises(ValueError, match=r"differ in shape .*dinov2.model.embeddings.cls_token: checkpoint \(1, 1, 24\) "
                                         r"vs model \(1, 1, 48\)"):
        convert_accessory(src, tmp_path / "out", None, [*TINY_OVERRIDES["llama_ens5_light"],
                                                        "model.encoders.dinov2.config.hidden_size=48"])
    config = json.loads((src / "config.json").read_text())
    (src / "config.json").write_text(json.dumps({**config, "dim": 96}))
    with pytest.raises(ValueError, match=r"config.json: dim=96 but llma.tok_embeddings.weight is \(360, 64\)"):
        convert_accessory(src, tmp_path / "out", None, TINY_OVERRIDES["llama_ens5_light"])
