"""Tokenise a conversation: label masking, image-slot expansion and cutting at turn boundaries.

Each ``<image>`` becomes the exact run of slots the model fills, by the layout's slot rule
(:meth:`VisualLayout.slot_kinds`); ``slot_kind`` marks them so the model never has to search token ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from sphinx_x.data.records import IMAGE_TOKEN, RecordError
from sphinx_x.data.slots import IGNORE_INDEX, TEXT
from sphinx_x.data.templates import ConversationTemplate
from sphinx_x.data.tiling import VisualLayout


@dataclass
class TokenizedSample:
    input_ids: torch.Tensor  # (length,) text token ids; image slots hold pad_id
    labels: torch.Tensor  # (length,) IGNORE_INDEX except assistant tokens
    slot_kind: torch.Tensor  # (length,) uint8: TEXT / VISUAL / START / END / SKIP
    num_images: int  # images actually placed (later ones may be cut with their turns)
    num_turns: int  # user/assistant pairs kept


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False) -> Any:
    """A fast tokenizer with a pad token (unk, else eos, when the checkpoint has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(name_or_path, use_fast=True, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
    return tokenizer


class ConversationTokenizer:
    """Turns messages (regions already written as text) into model inputs."""

    def __init__(self, tokenizer: Any, template: ConversationTemplate, max_length: int, layout: VisualLayout):
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError("a fast (Rust) tokenizer is required: offsets map labels to tokens")
        self.tokenizer = tokenizer
        self.template = template
        self.max_length = max_length
        self.layout = layout
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    def __call__(self, messages: list[dict[str, str]], keeps: list[list[bool]], record_id: str = "") -> TokenizedSample:
        """Tokenise, dropping whole trailing turns (and their images) when over ``max_length``."""
        has_system = bool(messages) and messages[0]["role"] == "system"
        head, body = (messages[:1], messages[1:]) if has_system else ([], messages)
        n_turns = len(body) // 2
        while n_turns > 0:
            kept_messages = head + body[: 2 * n_turns]
            n_images = sum(m["content"].count(IMAGE_TOKEN) for m in kept_messages)
            sample = self.encode(kept_messages, keeps[:n_images])
            if sample.input_ids.numel() <= self.max_length:
                sample.num_turns = n_turns
                return sample
            n_turns -= 1
        raise RecordError("too_long", f"first turn alone exceeds max_length={self.max_length}", record_id)

    def encode_prompt(self, messages: list[dict[str, str]], keeps: list[list[bool]]) -> TokenizedSample:
        """Inputs for generation: the conversation so far, ending where the assistant answers."""
        return self._encode(self.template.generation_prompt(messages), [], keeps)

    def encode(self, messages: list[dict[str, str]], keeps: list[list[bool]]) -> TokenizedSample:
        text, spans = self.template.render(messages)
        return self._encode(text, spans, keeps)

    def _encode(self, text: str, spans: list[tuple[int, int]], keeps: list[list[bool]]) -> TokenizedSample:
        chunks = text.split(IMAGE_TOKEN)
        if len(chunks) - 1 != len(keeps):
            raise ValueError(f"{len(chunks) - 1} <image> tokens but {len(keeps)} images")
        ids: list[int] = []
        labels: list[int] = []
        kinds: list[int] = []
        if self.template.adds_bos and self.tokenizer.bos_token_id is not None:
            ids.append(self.tokenizer.bos_token_id)
            labels.append(IGNORE_INDEX)
            kinds.append(TEXT)
        offset = 0
        for i, chunk in enumerate(chunks):
            if chunk:
                encoding = self.tokenizer(chunk, add_special_tokens=False, return_offsets_mapping=True)
                for token_id, (start, end) in zip(encoding["input_ids"], encoding["offset_mapping"], strict=True):
                    ids.append(token_id)
                    labels.append(token_id if _overlaps(offset + start, offset + end, spans) else IGNORE_INDEX)
                    kinds.append(TEXT)
            offset += len(chunk) + len(IMAGE_TOKEN)
            if i < len(keeps):
                slot_kinds = self.layout.slot_kinds(keeps[i])
                kinds.extend(slot_kinds)
                ids.extend([self.pad_id] * len(slot_kinds))
                labels.extend([IGNORE_INDEX] * len(slot_kinds))
        return TokenizedSample(torch.tensor(ids), torch.tensor(labels), torch.tensor(kinds, dtype=torch.uint8),
                               num_images=len(keeps), num_turns=len(spans))


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """Whether a token's characters [start, end) touch a labelled span (a space merged into the
    answer's first token, as SentencePiece and byte-level BPE do, keeps that token labelled)."""
    end = max(end, start + 1)
    return any(s < end and start < e for s, e in spans)
