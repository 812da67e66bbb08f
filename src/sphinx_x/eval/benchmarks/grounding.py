"""RefCOCO / RefCOCO+ / RefCOCOg in the format the SPHINX authors evaluate from (LLaMA2-Accessory's
``accessory/eval_mm/annotations/<dataset>_<split>.json``): a list of ``{"image_path", "question"
(the referring expression), "question_id": "height<h>_width<w>", "dataset_name", "gt_answers":
[x1, y1, x2, y2] (original pixels)}``. ``<path>`` is the annotations folder (or one file); image paths
(``data/coco/train2014/...``) are relative to its parent, the authors' ``eval_mm/`` (or ``image_root``).
The file's ids are not unique, so a sample's id is ``<split>/<position in the file>``. Scored like
``refcoco`` (Acc@IoU0.5 through the model's image frame; the authors' script centres the padding,
i.e. ``anchor=center``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from sphinx_x.eval.benchmarks.files import read_json, require_file
from sphinx_x.eval.benchmarks.registry import REC_PROMPT, BenchmarkSpec, Reader, register
from sphinx_x.eval.benchmarks.sample import EvalSample, user_prompt
from sphinx_x.eval.metrics import RecAccuracy, RecTarget

SIZE = re.compile(r"height(\d+)_width(\d+)")


def accessory_rec_reader(dataset: str) -> Reader:
    """A reader of ``<dataset>_<split>.json``."""

    def read(path: Path, *, split: str | None, image_root: Path | None, instruction: str) -> Iterator[EvalSample]:
        file = path if path.is_file() else require_file(path / f"{dataset}_{split}.json", f"{dataset} {split} file")
        root = image_root or file.parent.parent
        for index, item in enumerate(read_json(file)):
            size = SIZE.search(str(item["question_id"]))
            if size is None:
                raise ValueError(f"{file}: item {index}: question_id {item['question_id']!r} is not height<h>_width<w>")
            height, width = int(size.group(1)), int(size.group(2))
            x1, y1, x2, y2 = (float(v) for v in item["gt_answers"])
            yield EvalSample(f"{split}/{index}", [str(root / item["image_path"])],
                             user_prompt(instruction.format(description=item["question"])),
                             RecTarget((x1, y1, x2, y2), width, height), {"expression": item["question"]})

    return read


for _dataset, _splits in (("refcoco", ("val", "testA", "testB")), ("refcoco+", ("val", "testA", "testB")),
                          ("refcocog", ("val", "test"))):
    register(BenchmarkSpec(
        name=f"{_dataset}_sphinx", reader=accessory_rec_reader(_dataset), metric=RecAccuracy, prompt_suffix=REC_PROMPT,
        max_new_tokens=64, task="rec", files=f"{_dataset}_<split>.json (LLaMA2-Accessory eval_mm/annotations)",
        splits=_splits,
    ))
