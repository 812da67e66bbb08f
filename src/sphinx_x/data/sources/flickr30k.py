"""Flickr30k Entities: grounded captions and phrase grounding.

``path`` is the release folder: ``Sentences/<image id>.txt`` (five captions with phrases marked
``[/EN#<entity id>/<type> phrase]``), ``Annotations/<image id>.xml`` (Pascal-VOC ``size`` and ``object``
boxes whose ``name`` elements are entity ids; entities without a box have ``nobndbox``/``scene``),
and ``<split>.txt`` listing the image ids of ``options.split`` (default ``train``). Images are
``<image id>.jpg`` under ``image_root``.

``options.tasks`` (default ``grounded_caption`` and ``rec``; ``region_caption`` also allowed):

- ``grounded_caption``: one record per caption; each boxed phrase is written
  ``<p>a child</p> <region:0>`` (an entity with several boxes: ``<region:0>, <region:1>``);
- ``rec`` / ``region_caption``: every entity with boxes is a referent described by its phrases
  (case-insensitively deduplicated), see :mod:`sphinx_x.data.sources.grounding`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from sphinx_x.data.boxes import Box
from sphinx_x.data.image_dialogue import ImageDialogue
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import Record, RecordError
from sphinx_x.data.sources.base import SourceSpec, read_text_lines, register_reader
from sphinx_x.data.sources.checked_boxes import checked_box
from sphinx_x.data.sources.dialogue import named, tasks_option
from sphinx_x.data.sources.grounding import GROUNDING_TASKS, Referent, referent_records
from sphinx_x.data.sources.values import number

PHRASE = re.compile(r"\[/EN#(\d+)(?:/[^\s\]]+)*\s+([^\]]*)\]")
FLICKR_TASKS = ("grounded_caption", *GROUNDING_TASKS)


def parse_boxes(xml_path: Path, rid: str) -> tuple[tuple[float, float], dict[str, list[Box]]]:
    """((width, height), {entity id: [pixel boxes]}) from one Annotations XML file."""
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise RecordError("unreadable_annotation", f"{xml_path.name}: {e}", rid) from e
    size = tuple(number(root.findtext(f"size/{k}"), f"{xml_path.name} size/{k}", rid, reason="bad_image_size")
                 for k in ("width", "height"))
    if not size[0] > 0 or not size[1] > 0:
        raise RecordError("bad_image_size", f"{xml_path.name}: {size[0]}x{size[1]}", rid)
    boxes: dict[str, list[Box]] = {}
    for obj in root.iter("object"):
        bndbox = obj.find("bndbox")
        if bndbox is None:
            continue
        coords = [bndbox.findtext(k) for k in ("xmin", "ymin", "xmax", "ymax")]
        box = checked_box(coords, size, rid, decimals=2)
        for name in obj.iter("name"):
            boxes.setdefault((name.text or "").strip(), []).append(box)
    return size, boxes


@register_reader("flickr30k_entities")
def read_flickr30k_entities(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """Flickr30k Entities release folder (see the module docstring)."""
    tasks = tasks_option(spec, ("grounded_caption", "rec"), FLICKR_TASKS)
    root = Path(spec.path)
    split_file = root / f"{spec.options.get('split', 'train')}.txt"
    for image_id in " ".join(read_text_lines(split_file)).split():
        rid = f"{spec.name}/{image_id}"
        try:
            _, boxes = parse_boxes(root / "Annotations" / f"{image_id}.xml", rid)
            sentences = read_text_lines(root / "Sentences" / f"{image_id}.txt", rid)
        except (OSError, ValueError) as e:  # ValueError: a path with a NUL byte
            yield RecordError("missing_file", str(e)[:300], rid, where=f"{split_file.name}:{image_id[:80]}")
            continue
        except RecordError as error:
            yield error
            continue
        path = spec.resolve_image(f"{image_id}.jpg")
        sentences = [s.strip() for s in sentences if s.strip()]
        if "grounded_caption" in tasks:
            for k, sentence in enumerate(sentences):
                dialogue = ImageDialogue(f"{rid}/grounded_caption/{k}")
                dialogue.add(prompts.pick("grounded_caption", f"{rid}:{k}"), _ground(sentence, boxes, dialogue))
                yield dialogue.record(spec.name, "grounded_caption", path)
        referents = _referents(sentences, boxes)
        for task in tasks:
            if task != "grounded_caption":
                yield from referent_records(spec, prompts, image_id, path, referents, task)


def _ground(sentence: str, boxes: dict[str, list[Box]], dialogue: ImageDialogue) -> str:
    """The caption with each boxed phrase written ``<p>phrase</p> <region:K>``."""

    def replace(match: re.Match[str]) -> str:
        entity, phrase = match.group(1), match.group(2).strip()
        if entity not in boxes:
            return phrase
        return named(phrase, [dialogue.box(box) for box in boxes[entity]])

    text = PHRASE.sub(replace, sentence)
    return re.sub(r"\s+([.,!?;:])", r"\1", re.sub(r"\s+", " ", text)).strip()


def _referents(sentences: list[str], boxes: dict[str, list[Box]]) -> list[Referent]:
    """One referent per boxed entity, in order of first mention, with its distinct phrases."""
    phrases: dict[str, list[str]] = {}
    for sentence in sentences:
        for entity, phrase in PHRASE.findall(sentence):
            phrase = phrase.strip()
            seen = phrases.setdefault(entity, [])
            if entity in boxes and phrase and phrase.lower() not in (p.lower() for p in seen):
                seen.append(phrase)
    return [Referent(boxes[e], found) for e, found in phrases.items() if found]
