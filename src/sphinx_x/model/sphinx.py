"""SPHINX-X: MoV visual embeddings scattered into the slots the data pipeline reserved, then the LLM."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from sphinx_x.data.slots import END, IGNORE_INDEX, NEWLINE, SEPARATOR, SKIP, START, TEXT, VISUAL
from sphinx_x.model.llm import is_mixture_of_experts
from sphinx_x.model.mov import MixtureOfVisualExperts
from sphinx_x.model.partial_lora import VisualPositions


@dataclass
class SphinxOutput:
    loss: torch.Tensor  # scalar: token-mean LM loss (+ router aux loss for MoE LLMs)
    lm_loss: torch.Tensor  # scalar
    per_sample_loss_sum: torch.Tensor  # (samples,)
    per_sample_tokens: torch.Tensor  # (samples,)
    aux_loss: torch.Tensor | None
    logits: torch.Tensor | None


class SphinxX(nn.Module):
    """The multimodal LLM: ``vision`` (MoV + projector), learnable start/end/skip embeddings, ``llm``.

    ``newline`` / ``separator`` (IXC-2.5's dynamic partition) add learnable embeddings for those slots.
    ``visual_positions`` (set by partial LoRA) learns, before every LLM call, which positions hold
    image slots.
    """

    def __init__(self, llm: PreTrainedModel, vision: MixtureOfVisualExperts, newline: bool = False,
                 separator: bool = False):
        super().__init__()
        self.llm = llm
        self.vision = vision
        width = llm.get_input_embeddings().embedding_dim
        std = getattr(llm.config, "initializer_range", 0.02)
        self.start_embed = nn.Parameter(torch.randn(width) * std)
        self.end_embed = nn.Parameter(torch.randn(width) * std)
        self.skip_embed = nn.Parameter(torch.randn(width) * std)
        if newline:
            self.newline_embed = nn.Parameter(torch.randn(width) * std)
        if separator:
            self.separator_embed = nn.Parameter(torch.randn(width) * std)
        self.visual_positions: VisualPositions | None = None
        # the LLM's own parameters (and its peft LoRA): optim.llm_lr_scale applies to them, not to modules
        # added later (partial LoRA, adapters)
        self.llm_own_parameters = frozenset(name for name, _ in llm.named_parameters())

    def set_visual_positions(self, slot_kind: torch.Tensor | None) -> None:
        """Tell partial LoRA which positions of the next LLM call hold image slots (None: none)."""
        if self.visual_positions is not None:
            self.visual_positions.set(None if slot_kind is None else slot_kind != TEXT)

    def embed(self, input_ids: torch.Tensor, slot_kind: torch.Tensor, pixels: torch.Tensor) -> torch.Tensor:
        """Text embeddings with image slots filled: (batch, length) -> (batch, length, width)."""
        embeds = self.llm.get_input_embeddings()(input_ids)  # (batch, length, width)
        visual_slots = slot_kind == VISUAL
        if pixels.shape[0]:
            features = self.vision(pixels)  # (tile groups, tokens_per_tile, width)
            if features.shape[0] * features.shape[1] != int(visual_slots.sum()):
                raise ValueError(f"{features.shape[0]} tile groups x {features.shape[1]} tokens do not fill "
                                 f"{int(visual_slots.sum())} visual slots: tiling and model.vision disagree")
            embeds = embeds.masked_scatter(visual_slots[..., None], features.to(embeds.dtype))
        elif visual_slots.any():
            raise ValueError("visual slots without pixels")
        for kind, vector in ((START, self.start_embed), (END, self.end_embed), (SKIP, self.skip_embed),
                             (NEWLINE, getattr(self, "newline_embed", None)),
                             (SEPARATOR, getattr(self, "separator_embed", None))):
            slots = slot_kind == kind
            if vector is None:
                if slots.any():
                    raise ValueError(f"slot kind {kind} (newline/separator) but the model has no embedding "
                                     "for it: model.tiling and the model disagree")
                continue
            embeds = torch.where(slots[..., None], vector.to(embeds.dtype), embeds)
        return embeds

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, slot_kind: torch.Tensor,
                pixels: torch.Tensor, labels: torch.Tensor | None = None, return_logits: bool = False,
                position_ids: torch.Tensor | None = None, sample_index: torch.Tensor | None = None) -> SphinxOutput:
        """Packed rows (see ``Collator``) pass ``position_ids`` restarting at 0 per sample and
        ``sample_index``; transformers then keeps the samples apart, and per-sample sums are per sample."""
        embeds = self.embed(input_ids, slot_kind, pixels)
        self.set_visual_positions(slot_kind)  # kept until the next call: gradient checkpointing recomputes with it
        moe = is_mixture_of_experts(self.llm)
        extra = {"output_router_logits": True} if moe else {}
        if position_ids is not None:  # packed: the mask comes from the position restarts
            extra["position_ids"] = position_ids
            attention_mask = None
        out = self.llm(inputs_embeds=embeds, attention_mask=attention_mask, use_cache=False, **extra)
        logits = out.logits  # (rows, length, vocab)
        samples = len(logits) if sample_index is None else int(sample_index.max()) + 1
        if labels is None:
            zero = logits.new_zeros(())
            return SphinxOutput(zero, zero, logits.new_zeros(samples), logits.new_zeros(samples), None, logits)
        targets = labels[:, 1:]
        token_loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(),
                                     ignore_index=IGNORE_INDEX, reduction="none").view_as(targets)
        counted = targets != IGNORE_INDEX
        if sample_index is None:
            per_sample_sum, per_sample_tokens = token_loss.sum(dim=1), counted.sum(dim=1)  # (batch,)
        else:
            owner = sample_index[:, 1:][counted]  # the sample of each counted target
            per_sample_sum = token_loss.new_zeros(samples).index_add_(0, owner, token_loss[counted])
            per_sample_tokens = torch.bincount(owner, minlength=samples)
        lm_loss = per_sample_sum.sum() / per_sample_tokens.sum().clamp(min=1)
        aux = getattr(out, "aux_loss", None) if moe else None
        loss = lm_loss + self.llm.config.router_aux_loss_coef * aux if aux is not None else lm_loss
        return SphinxOutput(loss, lm_loss, per_sample_sum.detach(), per_sample_tokens, aux,
                            logits if return_logits else None)

    def frozen_state_keys(self) -> set[str]:
        """State-dict keys rebuilt from the config, not saved: frozen parameters (and frozen experts' buffers)."""
        frozen = {name for name, p in self.named_parameters(remove_duplicate=False) if not p.requires_grad}
        if self.vision.freeze:
            frozen |= {k for k in self.state_dict() if k.startswith("vision.experts.")}
        return frozen

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        frozen = self.frozen_state_keys()
        return {k: v for k, v in self.state_dict().items() if k not in frozen}
