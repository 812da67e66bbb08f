"""The two requests of the engine: a detailed caption of the image from the VLM, and question/answer items
of one type written by a text-only LLM from that caption, in the tagged format
``<Q1>question</Q1> <C1>options or context</C1> <A1>answer</A1>``."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

CAPTION_SYSTEM = "You describe images in detail for building a visual instruction-tuning dataset."
CAPTION_INSTRUCTION = (
    "This image belongs to the domain '{domain}'. Describe it in detail: every visible object with its colour, "
    "size, position and count; people and what they do; the setting; and every piece of text, read exactly. "
    "Then add a last line 'Tags:' with comma-separated keywords. Write plain prose, no lists.")

QA_SYSTEM = ("You write question-answer pairs about an image that you cannot see, only from its description. "
             "Every answer must follow from the description alone.")
TYPE_INSTRUCTIONS: dict[str, str] = {
    "judgement": ("Write {yes_no} questions answered by Yes or No: {yes} whose answer is Yes and {no} whose answer is "
                  "No. In <Ck> copy the sentence of the description that decides it; <Ak> is exactly Yes or No."),
    "choice": ("Write {n} multiple-choice questions, each with exactly four options and exactly one correct. In <Ck> "
               "put the four options on four lines 'A. ...', 'B. ...', 'C. ...', 'D. ...'; <Ak> is the letter of the "
               "correct option."),
    "short": ("Write {n} questions answered by a word or a short phrase taken from the description. In <Ck> copy "
              "the sentence of the description that holds the answer."),
    "long": ("Write {n} questions that need a detailed answer of several sentences, using only the description. "
             "In <Ck> copy the sentences of the description the answer uses."),
}
QA_INSTRUCTION = (
    "Question type: {qtype}\nImage domain: {domain}\n\nDescription of the image:\n{caption}\n\n"
    "Example questions for this domain (write new ones in their spirit, not copies):\n{seeds}\n\n{task}\n"
    "Answer only with the items, numbered from 1, in this format:\n<Q1>question</Q1> <C1>...</C1> <A1>answer</A1>")


def caption_request(model: str, image_png: bytes, domain: str, temperature: float, max_tokens: int) -> dict[str, Any]:
    """``chat.completions.create`` arguments asking the VLM for a detailed caption of the image."""
    url = "data:image/png;base64," + base64.b64encode(image_png).decode()
    return {"model": model, "temperature": temperature, "max_tokens": max_tokens,
            "messages": [{"role": "system", "content": CAPTION_SYSTEM},
                         {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                      {"type": "text", "text": CAPTION_INSTRUCTION.format(domain=domain)}]}]}


def qa_instruction(qtype: str, domain: str, caption: str, seeds: Sequence[str], n: int, yes: int = 2,
                   no: int = 2) -> str:
    """The LLM's instruction for ``n`` items of ``qtype`` (judgement: ``yes`` + ``no`` items)."""
    if qtype not in TYPE_INSTRUCTIONS:
        raise ValueError(f"question type must be one of {tuple(TYPE_INSTRUCTIONS)}, got {qtype!r}")
    task = TYPE_INSTRUCTIONS[qtype].format(n=n, yes=yes, no=no, yes_no=yes + no)
    return QA_INSTRUCTION.format(qtype=qtype, domain=domain, caption=caption, task=task,
                                 seeds="\n".join(f"- {s}" for s in seeds))


def qa_request(model: str, instruction: str, temperature: float, max_tokens: int) -> dict[str, Any]:
    """``chat.completions.create`` arguments of a text-only request."""
    return {"model": model, "temperature": temperature, "max_tokens": max_tokens,
            "messages": [{"role": "system", "content": QA_SYSTEM}, {"role": "user", "content": instruction}]}
