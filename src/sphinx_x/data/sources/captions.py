"""Image captions from COCO caption files (``captions_train2017.json``)."""

from __future__ import annotations

from collections.abc import Iterator

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import IMAGE_TOKEN, Record, RecordError, conversation, make_record
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.coco_json import CocoFile, image_file


@register_reader("coco_captions")
def read_coco_captions(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """COCO ``captions_*.json`` (``images`` with ``file_name``; ``annotations`` [{``id``, ``image_id``,
    ``caption``}]): one record per caption, the ``task`` prompt (``caption``) answered by the caption.
    Images under ``image_root``."""
    coco = CocoFile.load(spec.path)
    for entry in coco.annotated_images(spec.name):
        if isinstance(entry, RecordError):
            yield entry
            continue
        image, annotations = entry
        for annotation in annotations:
            rid = f"{spec.name}/{image['id']}/{annotation.get('id')}"
            caption = annotation.get("caption")
            if not isinstance(caption, str) or not caption.strip():
                yield RecordError("empty_answer", "caption", rid)
                continue
            try:
                path = spec.resolve_image(image_file(image, rid))
            except RecordError as error:
                yield error
                continue
            messages = conversation(f"{IMAGE_TOKEN}\n{prompts.pick(spec.task, rid)}", caption.strip())
            yield make_record(rid, spec.name, spec.task, messages, [path])
