"""GPU memory per device for a training config, by strategy: model states, activations, total.

Parameter counts and dtypes come from building the model on the meta device (no memory, no
downloads). Model states follow each strategy's layout:

- torch optimizers (``ddp``, ``fsdp``): weights, gradients and AdamW's two states in the parameter's
  own dtype (1 byte per state for ``adamw_8bit``); DDP adds one gradient-sized bucket copy; FSDP
  ``FULL_SHARD`` shards all of it over the devices and gathers the largest wrapped layer twice
  (current + prefetch), ``SHARD_GRAD_OP`` keeps the weights whole.
- DeepSpeed (bf16 weights, fp32 master + states): per trainable parameter 2 bytes of weights plus
  18 bytes of gradients, master weights and states over the devices (ZeRO-2), or 18 bytes in all over
  the devices plus 4 bytes per parameter of the largest layer (ZeRO-3): DeepSpeed's own estimators
  (``estimate_zero2/3_model_states_mem_needs``) when every parameter trains. Frozen parameters hold
  only their bf16 weights (sharded under ZeRO-3).

Activations of one micro-batch at ``data.max_length`` tokens per sample, bf16, per decoder layer and
token: ``5h + 2h_kv + 4I`` values (norm inputs, q/k/v, attention output, gate/up/act/down inputs; the
MLP part times the active experts of a MoE), plus ``a * s`` attention scores per token without SDPA;
with activation checkpointing, one ``h`` per layer plus one layer recomputed. Logits cost 10 bytes per
token and vocabulary entry (bf16 logits, their fp32 copy for the loss and its gradient). Frozen
encoders run without gradients and are not counted. A fixed ``overhead`` covers the CUDA context,
NCCL buffers and fragmentation. These are estimates: the GPU suite (``sphinx_x.runtime.gpu_suite``) records
the planner's error against measured peak memory per configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

GiB = 1024**3
# Strategies from the least to the most communication / offload: the planner recommends the first that fits.
CANDIDATES: tuple[dict[str, Any], ...] = (
    {"name": "ddp"},
    {"name": "deepspeed", "stage": 2},
    {"name": "fsdp", "sharding_strategy": "SHARD_GRAD_OP"},
    {"name": "fsdp", "sharding_strategy": "FULL_SHARD"},
    {"name": "deepspeed", "stage": 3},
    {"name": "deepspeed", "stage": 2, "offload_optimizer": True},
    {"name": "deepspeed", "stage": 3, "offload_optimizer": True},
    {"name": "deepspeed", "stage": 3, "offload_optimizer": True, "offload_parameters": True},
)


@dataclass(frozen=True)
class ModelShape:
    """What memory depends on, read from a meta-device build of the model."""

    trainable: int  # parameters
    trainable_bytes: int
    frozen: int
    frozen_bytes: int
    largest_layer: int  # parameters of the largest LLM decoder layer (one FSDP / ZeRO-3 unit)
    hidden: int
    kv_hidden: int
    intermediate: int
    layers: int
    heads: int
    vocab: int
    active_experts: int  # MLPs a token passes through per layer (1 for dense LLMs)

    @property
    def total(self) -> int:
        return self.trainable + self.frozen


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes per device of one strategy."""

    strategy: str
    weights: int
    gradients: int
    optimizer: int
    activations: int
    overhead: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.overhead

    def fits(self, device_bytes: int) -> bool:
        return self.total <= device_bytes


def model_shape(model_cfg: DictConfig, vocab_size: int | None = None) -> ModelShape:
    """Build the model on the meta device (pretrained weights switched off) and measure it."""
    from sphinx_x.model.build import build_sphinx

    cfg = OmegaConf.create(OmegaConf.to_container(model_cfg, resolve=True))
    with open_dict(cfg):
        cfg.llm.name_or_path = None
        cfg.llm.quantization = None
        for expert in cfg.encoders.values():
            if OmegaConf.is_dict(expert):
                for key in ("pretrained", "name_or_path"):
                    if key in expert:
                        expert[key] = None
    model = build_sphinx(cfg, vocab_size=vocab_size, device="meta")
    trainable = [p for p in model.parameters() if p.requires_grad]
    frozen = [p for p in model.parameters() if not p.requires_grad]
    llm_cfg = model.llm.config
    layers = model.llm.model.layers
    hidden = int(llm_cfg.hidden_size)
    heads = int(llm_cfg.num_attention_heads)
    return ModelShape(
        trainable=sum(p.numel() for p in trainable), trainable_bytes=sum(p.numel() * p.element_size() for p in trainable),
        frozen=sum(p.numel() for p in frozen), frozen_bytes=sum(p.numel() * p.element_size() for p in frozen),
        largest_layer=max(sum(p.numel() for p in layer.parameters()) for layer in layers),
        hidden=hidden, kv_hidden=hidden // heads * int(getattr(llm_cfg, "num_key_value_heads", None) or heads),
        intermediate=int(llm_cfg.intermediate_size), layers=len(layers), heads=heads,
        vocab=int(model.llm.get_input_embeddings().num_embeddings),
        active_experts=int(getattr(llm_cfg, "num_experts_per_tok", None) or 1))


def activation_bytes(shape: ModelShape, micro_batch: int, seq_len: int, checkpointing: bool, sdpa: bool) -> int:
    """Activations kept for the backward pass of one micro-batch (see the module docstring)."""
    tokens = micro_batch * seq_len
    per_token = 5 * shape.hidden + 2 * shape.kv_hidden + 4 * shape.intermediate * shape.active_experts
    per_token += 0 if sdpa else shape.heads * seq_len
    layer = 2 * tokens * per_token
    kept = 2 * tokens * shape.hidden * shape.layers + layer if checkpointing else layer * shape.layers
    return kept + 10 * tokens * shape.vocab


def plan_strategy(shape: ModelShape, strategy: dict[str, Any], devices: int, activations: int, overhead: int,
                  optimizer: str = "adamw") -> MemoryPlan:
    """Bytes per device for ``strategy`` (a ``strategy`` config as a dict) over ``devices`` GPUs."""
    name, n = strategy["name"], max(devices, 1)
    if name == "auto":  # Lightning picks one device, or DDP over several
        name = "single_device" if n == 1 else "ddp"
        strategy = {**strategy, "name": name}
    label = strategy_label(strategy)
    t, tb, fb = shape.trainable, shape.trainable_bytes, shape.frozen_bytes
    state_bytes = 2 * t if optimizer == "adamw_8bit" else 2 * tb  # AdamW's two states
    if name in ("ddp", "single_device", "auto"):
        buckets = tb if name == "ddp" and n > 1 else 0
        return MemoryPlan(label, tb + fb, tb + buckets, state_bytes, activations, overhead)
    if name == "fsdp":
        if strategy.get("cpu_offload"):
            return MemoryPlan(label, 2 * _layer_bytes(shape), 0, 0, activations, overhead)
        gather = 2 * _layer_bytes(shape)
        if strategy.get("sharding_strategy", "FULL_SHARD") == "SHARD_GRAD_OP":
            return MemoryPlan(label, tb + fb, tb // n, state_bytes // n, activations, overhead)
        return MemoryPlan(label, (tb + fb) // n + gather, tb // n, state_bytes // n, activations, overhead)
    if name == "deepspeed":
        stage = int(strategy.get("stage", 2))
        offload_opt, offload_params = bool(strategy.get("offload_optimizer")), bool(strategy.get("offload_parameters"))
        frozen = 2 * shape.frozen  # DeepSpeed casts the whole module to bf16
        if stage == 3:
            layer = 4 * shape.largest_layer
            if offload_params:
                return MemoryPlan(label, layer, 0, 0, activations, overhead)
            weights = layer + (2 * t + frozen) // n
            return MemoryPlan(label, weights, 0 if offload_opt else 4 * t // n, 0 if offload_opt else 12 * t // n,
                              activations, overhead)
        if offload_opt:
            return MemoryPlan(label, 2 * t + frozen, 0, 0, activations, overhead)
        return MemoryPlan(label, 2 * t + frozen, 6 * t // n, 12 * t // n, activations, overhead)
    raise ValueError(f"strategy.name: no memory model for {name!r}")


def _layer_bytes(shape: ModelShape) -> int:
    return shape.largest_layer * max(shape.trainable_bytes // max(shape.trainable, 1), 1)


def strategy_label(strategy: dict[str, Any]) -> str:
    """``deepspeed_zero3+offload_optimizer``, ``fsdp_FULL_SHARD``, ``ddp`` ..."""
    name = strategy["name"]
    if name == "deepspeed":
        label = f"deepspeed_zero{int(strategy.get('stage', 2))}"
        extras = [k for k in ("offload_optimizer", "offload_parameters") if strategy.get(k)]
    elif name == "fsdp":
        label = f"fsdp_{strategy.get('sharding_strategy', 'FULL_SHARD')}"
        extras = ["cpu_offload"] if strategy.get("cpu_offload") else []
    else:
        label, extras = name, []
    return "+".join([label, *extras])


@dataclass(frozen=True)
class PlanReport:
    """The chosen strategy's plan, every candidate's, and the cheapest that fits."""

    chosen: MemoryPlan
    candidates: list[MemoryPlan]
    device_bytes: int

    @property
    def cheapest_fit(self) -> MemoryPlan | None:
        return next((plan for plan in self.candidates if plan.fits(self.device_bytes)), None)


def plan_config(cfg: DictConfig, shape: ModelShape | None = None) -> PlanReport:
    """Plan the run ``cfg`` describes: its strategy and every candidate, on ``plan.gpu_memory_gb`` GPUs."""
    shape = shape or model_shape(cfg.model)
    devices = int(cfg.trainer.devices) * int(cfg.trainer.num_nodes)
    strategy = OmegaConf.to_container(cfg.strategy, resolve=True)
    checkpointing = bool(cfg.model.llm.get("gradient_checkpointing")) or bool(strategy.get("activation_checkpointing"))
    sdpa = cfg.model.llm.get("attn_implementation") in ("sdpa", "flash_attention_2")
    activations = activation_bytes(shape, int(cfg.data.micro_batch_size), int(cfg.data.max_length), checkpointing, sdpa)
    overhead = int(float(cfg.plan.overhead_gb) * GiB)
    optimizer = str(cfg.optim.name)
    candidates = [plan_strategy(shape, c, devices, activations, overhead, optimizer) for c in CANDIDATES]
    chosen = plan_strategy(shape, strategy, devices, activations, overhead, optimizer)  # type: ignore[arg-type]
    return PlanReport(chosen, candidates, int(float(cfg.plan.gpu_memory_gb) * GiB))


def format_report(report: PlanReport, shape: ModelShape) -> str:
    """A table in GiB per device, the verdict for the chosen strategy and the cheapest that fits."""
    gib = lambda b: f"{b / GiB:8.1f}"  # noqa: E731
    lines = [f"parameters: {shape.total / 1e9:.2f}B ({shape.trainable / 1e9:.2f}B trainable, "
             f"{shape.frozen / 1e9:.2f}B frozen); device memory {report.device_bytes / GiB:.0f} GiB",
             f"{'strategy (GiB per device)':59} {'weights':>8} {'grads':>8} {'optim':>8} {'activ':>8} {'total':>8}"]
    for plan in [report.chosen, *report.candidates]:
        mark = "chosen " if plan is report.chosen else "       "
        fits = "fits" if plan.fits(report.device_bytes) else "DOES NOT FIT"
        lines.append(f"{mark}{plan.strategy:52} {gib(plan.weights)} {gib(plan.gradients)} {gib(plan.optimizer)} "
                     f"{gib(plan.activations)} {gib(plan.total)}  {fits}")
    best = report.cheapest_fit
    lines.append(f"cheapest strategy that fits: {best.strategy if best else 'none (more devices or a smaller batch)'}")
    return "\n".join(lines)


def check_fits(cfg: DictConfig, shape: ModelShape | None = None) -> PlanReport | None:
    """At training start-up on GPUs: raise before any allocation when the plan does not fit."""
    if cfg.trainer.accelerator == "cpu" or not cfg.plan.check:
        return None
    report = plan_config(cfg, shape)
    if not report.chosen.fits(report.device_bytes):
        best = report.cheapest_fit
        raise MemoryError(
            f"strategy: {report.chosen.strategy} needs about {report.chosen.total / GiB:.1f} GiB per device, more than "
            f"plan.gpu_memory_gb={cfg.plan.gpu_memory_gb}; "
            f"{'try strategy ' + best.strategy if best else 'no strategy fits: add devices or shrink the batch'} "
            "(sphinx-x-plan shows the breakdown; plan.check=false skips this check)")
    return report

