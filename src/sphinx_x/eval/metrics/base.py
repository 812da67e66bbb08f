"""What every scorer shares: the ``EvalMetric`` base class and state helpers.

Convention: ``update(predictions, targets)`` takes the generated texts (``None`` for a missing
prediction, always scored as wrong) and one target per prediction; ``compute()`` returns a dict of
named float64 scalars. Accuracies are fractions in [0, 1]; MME scores are in MME points.
``score_each(predictions, targets)`` gives each question's own score (1.0 / 0.0 for right / wrong,
the soft score for VQA accuracy and ANLS), so a total can be traced back to the questions.

States are sums and counts (synced with ``sum``). Metrics that group questions (MME's per-image
acc+, MMBench's CircularEval) keep one row per question in ``cat`` states and name groups with a
stable 63-bit hash, so rows scored on different DDP ranks still meet in ``compute``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


class EvalMetric(Metric):
    """A non-differentiable, higher-is-better text scorer."""

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def add_sum(self, name: str, dtype: torch.dtype = torch.int64) -> None:
        """A scalar state summed across processes."""
        self.add_state(name, default=torch.tensor(0, dtype=dtype), dist_reduce_fx="sum")

    def add_rows(self, name: str) -> None:
        """A per-question state concatenated across processes."""
        self.add_state(name, default=[], dist_reduce_fx="cat")

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[Any]) -> list[float]:
        """Each question's score under this metric's options (a missing prediction scores 0.0)."""
        raise NotImplementedError(f"{type(self).__name__} has no per-question score")


def check_lengths(predictions: Sequence[object], targets: Sequence[object]) -> None:
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions for {len(targets)} targets")


def ratio(numerator: Tensor, denominator: Tensor) -> Tensor:
    """``numerator / denominator`` as float64, 0 when nothing was counted."""
    numerator, denominator = numerator.double(), denominator.double()
    if float(denominator) == 0.0:
        return torch.zeros((), dtype=torch.float64, device=numerator.device)
    return numerator / denominator


def stable_key(text: str) -> int:
    """A process-independent int64 id for a group name (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


def as_rows(values: Sequence[int | bool], device: torch.device) -> Tensor:
    return torch.tensor([int(v) for v in values], dtype=torch.int64, device=device)


def cat_rows(state: Tensor | list[Tensor]) -> Tensor:
    """A ``cat`` state as one 1-D int64 tensor, synced or not, updated or not."""
    if isinstance(state, list) and not state:
        return torch.zeros(0, dtype=torch.int64)
    return dim_zero_cat(state).long()
