"""Tokenise a conversation: label masking, image-slot expansion and cutting at turn boundaries.

Each ``<image>`` becomes the exact run of slots the model fills, by the layout's slot rule
(:meth:`VisualLayout.slot_kinds`); ``slot_kind`` marks them so the model never has to search token ids.
"""

from __future__ import annotations

import bisect
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
        """Tokenise, dropping whole trailing turns (and their images) when over ``max_length``.

        Linear in the conversation's length: the conversation is tokenised once and an over-long one is
        cut at the end of the last answer that fits, found from the tokens' character offsets. Kept
        turns that the template lays out differently (SPHINX moves a lone image first) are measured on
        one more tokenisation of that layout; a cut inside a token is tokenised exactly.
        """
        has_system = bool(messages) and messages[0]["role"] == "system"
        head, body = (messages[:1], messages[1:]) if has_system else ([], messages)
        n_turns = len(body) // 2
        images = [sum(m["content"].count(IMAGE_TOKEN) for m in head)]  # images[k]: in the first k turns
        for k in range(n_turns):
            images.append(images[-1] + sum(m["content"].count(IMAGE_TOKEN) for m in body[2 * k: 2 * k + 2]))
        references: dict[object, _Reference] = {}
        for k in range(n_turns, 0, -1):
            layout = self.template.layout_key(images[k])
            if layout not in references:
                kept = head + body[: 2 * k]
                text, spans = self.template.render(kept)
                references[layout] = _Reference(text, spans, *self._encode_with_offsets(text, spans, keeps[: images[k]]))
            sample = self._cut(references[layout], head + body[: 2 * k], k, keeps[: images[k]])
            if sample is not None:
                return sample
        raise RecordError("too_long", f"first turn alone exceeds max_length={self.max_length}", record_id)

    def _cut(self, ref: _Reference, kept: list[dict[str, str]], k: int, keeps: list[list[bool]]
             ) -> TokenizedSample | None:
        """The first ``k`` turns from ``ref``'s tokens (their text is a prefix of ``ref.text``), or None
        when they do not fit."""
        end = ref.spans[k - 1][1]
        length = bisect.bisect_right(ref.ends, end)
        if length > self.max_length:
            return None
        if length == len(ref.ends) and end == len(ref.text):
            ref.sample.num_turns = k
            return ref.sample
        if ref.ends[length - 1] == end and self.template.render(kept)[0] == ref.text[:end]:
            return TokenizedSample(ref.sample.input_ids[:length], ref.sample.labels[:length],
                                   ref.sample.slot_kind[:length], num_images=len(keeps), num_turns=k)
        sample = self.encode(kept, keeps)  # the cut falls inside a token: tokenise these turns exactly
        sample.num_turns = k
        return sample if sample.input_ids.numel() <= self.max_length else None

    def encode_prompt(self, messages: list[dict[str, str]], keeps: list[list[bool]]) -> TokenizedSample:
        """Inputs for generation: the conversation so far, ending where the assistant answers."""
        return self._encode(self.template.generation_prompt(messages), [], keeps)

    def encode(self, messages: list[dict[str, str]], keeps: list[list[bool]]) -> TokenizedSample:
        text, spans = self.template.render(messages)
        return self._encode(text, spans, keeps)

    def _encode(self, text: str, spans: list[tuple[int, int]], keeps: list[list[bool]]) -> TokenizedSample:
        return self._encode_with_offsets(text, spans, keeps)[0]

    def _encode_with_offsets(self, text: str, spans: list[tuple[int, int]], keeps: list[list[bool]]
                             ) -> tuple[TokenizedSample, list[int]]:
        """The sample and, per position, the character offset in ``text`` where it ends (an image's
        slots end where its ``<image>`` marker ends)."""
        chunks = text.split(IMAGE_TOKEN)
        if len(chunks) - 1 != len(keeps):
            raise ValueError(f"{len(chunks) - 1} <image> tokens but {len(keeps)} images")
        ids: list[int] = []
        labels: list[int] = []
        kinds: list[int] = []
        ends: list[int] = []
        span_ends = [e for _, e in spans]
        if self.template.adds_bos and self.tokenizer.bos_token_id is not None:
            ids.append(self.tokenizer.bos_token_id)
            labels.append(IGNORE_INDEX)
            kinds.append(TEXT)
            ends.append(0)
        offset = 0
        for i, chunk in enumerate(chunks):
            if chunk:
                encoding = self.tokenizer(chunk, add_special_tokens=False, return_offsets_mapping=True)
                for token_id, (start, end) in zip(encoding["input_ids"], encoding["offset_mapping"], strict=True):
                    ids.append(token_id)
                    labelled = _overlaps(offset + start, offset + end, spans, span_ends)
                    labels.append(token_id if labelled else IGNORE_INDEX)
                    kinds.append(TEXT)
                    ends.append(max(offset + end, ends[-1] if ends else 0))
            offset += len(chunk) + len(IMAGE_TOKEN)
            if i < len(keeps):
                slot_kinds = self.layout.slot_kinds(keeps[i])
                kinds.extend(slot_kinds)
                ids.extend([self.pad_id] * len(slot_kinds))
                labels.extend([IGNORE_INDEX] * len(slot_kinds))
                ends.extend([offset] * len(slot_kinds))
        sample = TokenizedSample(torch.tensor(ids), torch.tensor(labels), torch.tensor(kinds, dtype=torch.uint8),
                                 num_images=len(keeps), num_turns=len(spans))
        return sample, ends


@dataclass
class _Reference:
    """One tokenised rendering; the turns laid out like it are cut from it by character offsets."""

    text: str
    spans: list[tuple[int, int]]
    sample: TokenizedSample
    ends: list[int]  # per position: where its characters end in ``text``


def _overlaps(start: int, end: int, spans: list[tuple[int, int]], span_ends: list[int]) -> bool:
    """Whether a token's characters [start, end) touch a labelled span (a space merged into the
    answer's first token, as SentencePiece and byte-level BPE do, keeps that token labelled).
    ``spans`` are sorted and disjoint; ``span_ends`` are their ends (a binary search, not a scan)."""
    end = max(end, start + 1)
    k = bisect.bisect_right(span_ends, start)  # the first span ending after ``start``
    return k < len(spans) and spans[k][0] < end
