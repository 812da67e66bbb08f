"""Referring expression comprehension: top-1 accuracy at IoU >= 0.5 (RefCOCO/+/g, demo REC).

The first box written in the answer (normalised to the model's padded square) is mapped back to
original pixels through the image's :class:`~sphinx_x.data.geometry.ImageFrame` and compared
with the ground-truth pixel box. An answer without a box is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from sphinx_x.data.geometry import ANCHORS, Anchor, ImageFrame, box_iou, parse_boxes
from sphinx_x.eval.metrics.base import EvalMetric, check_lengths, ratio


@dataclass(frozen=True)
class RecTarget:
    """Ground-truth ``[x1, y1, x2, y2]`` in original pixels and the image size; ``frame`` overrides
    the metric's (side, grid, anchor) when the model saw this image through another frame."""

    box: tuple[float, float, float, float]
    width: int
    height: int
    frame: ImageFrame | None = None


def predicted_box(text: str, frame: ImageFrame) -> list[float] | None:
    """The first box in ``text``, in original pixels, or None."""
    boxes = parse_boxes(text)
    return frame.denormalise_box(boxes[0]) if boxes else None


class RecAccuracy(EvalMetric):
    """Targets: :class:`RecTarget`. ``compute() -> {"accuracy"}`` (Acc@IoU ``iou_threshold``)."""

    def __init__(self, side: int = 448, grid: int = 2, anchor: Anchor = "top_left",
                 iou_threshold: float = 0.5, **kwargs) -> None:
        super().__init__(**kwargs)
        if anchor not in ANCHORS:
            raise ValueError(f"anchor must be one of {ANCHORS}, got {anchor!r}")
        self.side, self.grid, self.anchor, self.iou_threshold = side, grid, anchor, iou_threshold
        self.add_sum("correct")
        self.add_sum("total")

    def frame_for(self, target: RecTarget) -> ImageFrame:
        return target.frame or ImageFrame.fit(target.width, target.height, self.side, self.grid, self.anchor)

    def score_each(self, predictions: Sequence[str | None], targets: Sequence[RecTarget]) -> list[float]:
        """1.0 where the first predicted box has IoU >= ``iou_threshold`` with the ground truth."""
        check_lengths(predictions, targets)
        scores = []
        for prediction, target in zip(predictions, targets, strict=True):
            box = None if prediction is None else predicted_box(prediction, self.frame_for(target))
            scores.append(float(box is not None and box_iou(box, target.box) >= self.iou_threshold))
        return scores

    def update(self, predictions: Sequence[str | None], targets: Sequence[RecTarget]) -> None:
        self.correct += int(sum(self.score_each(predictions, targets)))
        self.total += len(predictions)

    def compute(self) -> dict[str, Tensor]:
        return {"accuracy": ratio(self.correct, self.total)}
