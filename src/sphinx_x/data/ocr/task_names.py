"""Names of the OCR engine's tasks and of the record tasks they produce (``record["task"]``)."""

from __future__ import annotations

# engine task (``ocr.tasks``) -> record task, in the engine's build order
TASK_NAMES: dict[str, str] = {"reading": "ocr_reading", "spotting": "text_spotting",
                              "region_reading": "ocr_region_reading", "grounding": "text_grounding",
                              "layout": "layout"}
