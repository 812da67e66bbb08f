"""Conversation templates: messages -> one string plus the character spans that carry labels.

Only assistant answers and their end-of-turn marker are labelled. Two templates:
``sphinx`` (the authors' ``conv_v1`` from LLaMA2-Accessory) and ``chat`` (the tokenizer's own Jinja
chat template, spans found by rendering growing prefixes).
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from sphinx_x.data.records import IMAGE_TOKEN

SPHINX_SYSTEM = ("A chat between a curious human and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the human's questions.")
TEMPLATES = ("sphinx", "chat")

Span = tuple[int, int]


class ConversationTemplate(Protocol):
    adds_bos: bool
    stop_strings: list[str]

    def render(self, messages: list[dict[str, str]]) -> tuple[str, list[Span]]: ...

    def generation_prompt(self, messages: list[dict[str, str]]) -> str: ...

    def layout_key(self, n_images: int) -> object:
        """Conversations with equal keys render each other's turns as prefixes of one text."""
        ...


class SphinxTemplate:
    """The authors' ``conv_v1``: ``{system}\n\n### Human: {q}\n### Assistant: {a}\n###``.

    Labels cover `` {a}\n###`` of every answer, with the space before it: the prompt ends with
    ``Assistant:``, so the model must produce that space (a token of its own before digits in many
    tokenizers; the authors' SentencePiece tokenizer puts it in the answer's first token, which they
    label). Generation stops at ``\n###``. With ``image_first``
    (the authors' layout) a conversation with exactly one image has it right after BOS, before the
    system text, and its ``<image>`` marker is removed from the text; several images stay where their
    markers are.
    """

    sep = "###"
    adds_bos = True

    def __init__(self, system: str | None = None, image_first: bool = True):
        self.system = SPHINX_SYSTEM if system is None else system
        self.image_first = image_first
        self.stop_strings = ["\n" + self.sep]

    def render(self, messages: list[dict[str, str]]) -> tuple[str, list[Span]]:
        system, turns = _split_system(messages, self.system)
        prefix = ""
        if self.image_first and sum(m["content"].count(IMAGE_TOKEN) for m in turns) == 1:
            prefix, turns = IMAGE_TOKEN, [{**m, "content": _without_image(m["content"])} for m in turns]
        text, spans = f"{prefix}{system}\n\n{self.sep}", []
        for message in turns:
            if message["role"] == "user":
                text += f" Human: {message['content']}\n{self.sep} Assistant:"
            else:
                start = len(text)
                text += f" {message['content']}\n{self.sep}"
                spans.append((start, len(text)))
        return text, spans

    def generation_prompt(self, messages: list[dict[str, str]]) -> str:
        """The prompt ends with `` Assistant:``; the model continues with the answer."""
        return self.render(messages)[0]

    def layout_key(self, n_images: int) -> object:
        """A lone image moves first; otherwise images stay at their markers."""
        return self.image_first and n_images == 1


def _without_image(text: str) -> str:
    """A user turn without its ``<image>`` marker (and the line break or spaces around it)."""
    return re.sub(rf"\s*{re.escape(IMAGE_TOKEN)}\s*", " ", text).strip()


class ChatTemplate:
    """The tokenizer's own chat template; labelled spans from rendering growing prefixes."""

    adds_bos = False

    def __init__(self, tokenizer: Any, system: str | None = None):
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("data.template=chat needs a tokenizer with a chat_template")
        self.tokenizer = tokenizer
        self.system = system
        self.stop_strings = [s for s in (tokenizer.eos_token,) if s]

    def _apply(self, messages: list[dict[str, str]], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)

    def _with_system(self, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        if self.system and messages and messages[0]["role"] != "system":
            return [{"role": "system", "content": self.system}, *messages]
        return messages

    def render(self, messages: list[dict[str, str]]) -> tuple[str, list[Span]]:
        messages = self._with_system(messages)
        text = self._apply(messages, False)
        spans = []
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            before = self._apply(messages[:i], True)
            through = self._apply(messages[: i + 1], False)
            if not text.startswith(through) or not through.startswith(before):
                raise ValueError("the tokenizer's chat template is not prefix-stable; use data.template=sphinx")
            spans.append((len(before), len(through)))
        return text, spans

    def generation_prompt(self, messages: list[dict[str, str]]) -> str:
        return self._apply(self._with_system(messages), True)

    def layout_key(self, n_images: int) -> object:
        return None


def build_template(name: str, tokenizer: Any = None, system: str | None = None) -> ConversationTemplate:
    if name == "sphinx":
        return SphinxTemplate(system)
    if name == "chat":
        return ChatTemplate(tokenizer, system)
    raise ValueError(f"data.template: must be one of {list(TEMPLATES)}, got {name!r}")


def _split_system(messages: list[dict[str, str]], default: str) -> tuple[str, list[dict[str, str]]]:
    if messages and messages[0]["role"] == "system":
        return messages[0]["content"], messages[1:]
    return default, messages
