"""Image classification from the ImageNet folder layout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import IMAGE_TOKEN, Record, RecordError, conversation, make_record
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.values import SourceOptionError

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")


def load_synsets(path: str | Path) -> dict[str, str]:
    """``LOC_synset_mapping.txt`` / ``synset_words.txt`` lines ``n01440764 tench, Tinca tinca`` ->
    {wnid: first name} ("tench"). A line that is not UTF-8 is skipped (its class: ``unknown_class``)."""
    names = {}
    for line in Path(path).read_bytes().decode("utf-8", "replace").splitlines():
        if "\ufffd" in line:
            continue
        wnid, _, words = line.strip().partition(" ")
        if wnid and words.strip():
            names[wnid] = words.split(",")[0].strip()
    return names


@register_reader("imagenet")
def read_imagenet(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """ImageNet-1K training folder ``<path>/<wnid>/*.JPEG`` with ``options.synsets`` naming the
    wnid -> name file (``LOC_synset_mapping.txt``). One record per image: the task prompt answered by
    the class's first name. A folder whose wnid is not in the mapping is one ``unknown_class`` reject.
    """
    if not spec.options.get("synsets"):
        raise SourceOptionError(f"data.sources.{spec.name}.options.synsets: path to LOC_synset_mapping.txt is required")
    names = load_synsets(spec.options["synsets"])
    for folder in sorted(p for p in Path(spec.path).iterdir() if p.is_dir()):
        if folder.name not in names:
            yield RecordError("unknown_class", f"{folder.name} is not in {spec.options['synsets']}",
                              f"{spec.name}/{folder.name}")
            continue
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            rid = f"{spec.name}/{folder.name}/{file.stem}"
            messages = conversation(f"{IMAGE_TOKEN}\n{prompts.pick(spec.task, rid)}", names[folder.name])
            yield make_record(rid, spec.name, spec.task, messages, [str(file)])
