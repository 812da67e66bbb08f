"""Length-aware micro-batches: an epoch's draws reordered so each micro-batch holds similar lengths.

The reordering is a fixed permutation of the epoch (it depends only on the draws, their estimated
lengths and the seed), so the mixture, per-source quotas and mid-epoch resumption are unchanged:
only which draws share a micro-batch changes, and with it the padding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

CHARS_PER_TOKEN = 3.5  # a rough English average; only the ranking of lengths matters
WINDOW_GROUPS = 64  # micro-batch groups sorted together (larger: less padding, coarser shuffling)


def estimated_length(record: Mapping, image_slots: int, tokens_per_char: float = 1 / CHARS_PER_TOKEN) -> int:
    """Tokens a record will take, without tokenising or opening images: text characters x
    ``tokens_per_char`` plus ``image_slots`` (the layout's largest image) per image."""
    return int(_chars(record) * tokens_per_char) + image_slots * len(record.get("images") or [])


def _chars(record: Mapping) -> int:
    return sum(len(str(m.get("content", ""))) for m in record.get("messages", []))


def measured_tokens_per_char(records: Sequence[Mapping], render: Callable[[list[dict]], str], tokenizer: Any,
                             sample: int = 256) -> float:
    """Text tokens per character of ``sample`` records spread over ``records``, rendered by the
    conversation template (its role markers and separators included) and tokenised: the rate of this
    tokenizer and template, so token budgets planned from estimates hold (3.5 characters a token is
    an English average; a small or code-heavy vocabulary differs by 2x)."""
    chars = tokens = 0
    for i in np.linspace(0, len(records) - 1, min(sample, len(records))).astype(int):
        try:  # a record the processor will reject later only leaves the sample
            text = render(list(records[i]["messages"]))
        except (KeyError, TypeError, ValueError):
            continue
        chars += _chars(records[i])
        tokens += len(tokenizer(text, add_special_tokens=True)["input_ids"])
    return tokens / chars if chars else 1 / CHARS_PER_TOKEN


def bucket_order(draws: np.ndarray, lengths: np.ndarray, group: int, seed: Sequence[int],
                 window_groups: int = WINDOW_GROUPS) -> np.ndarray:
    """``draws`` permuted: within each window of ``group * window_groups`` draws, sorted by length,
    cut into groups of ``group`` (one micro-batch per rank), and the groups shuffled.

    ``lengths[i]`` is the estimated length of ``draws[i]``; ``group`` is micro-batch size x ranks,
    so the ``world_size``-strided split gives every rank one micro-batch of neighbours in length.
    """
    if group < 1 or window_groups < 1:
        raise ValueError(f"group ({group}) and window_groups ({window_groups}) must be >= 1")
    rng = np.random.default_rng(list(seed))
    window = group * window_groups
    out = np.empty_like(draws)
    for start in range(0, len(draws), window):
        stop = min(start + window, len(draws))
        by_length = start + np.argsort(-lengths[start:stop], kind="stable")  # longest first
        groups = [by_length[i:i + group] for i in range(0, len(by_length), group)]
        full = len(groups) - (len(groups[-1]) < group)  # a short last group stays last (the epoch's end)
        order = [*rng.permutation(full), *range(full, len(groups))]
        out[start:stop] = draws[np.concatenate([groups[k] for k in order])]
    return out
