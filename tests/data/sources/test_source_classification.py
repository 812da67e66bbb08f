"""ImageNet folder layout with LOC_synset_mapping.txt."""

from __future__ import annotations

import pytest

from tests.testkit.files import write_image
from tests.testkit.sources import load_spec, read, turns

PROMPT = "<image>\nWhat is the main object in the image? Answer with its category name."


def test_imagenet_labels_each_image_with_the_first_synset_name(tmp_path):
    train = tmp_path / "imagenet" / "train"
    for relative in ("n01440764/n01440764_10027.JPEG", "n01440764/n01440764_10026.JPEG",
                     "n01443537/n01443537_1.JPEG", "n99999999/n99999999_1.JPEG"):
        write_image(train / relative, (32, 24))
    (train / "n01440764" / "notes.txt").write_text("not an image")
    (tmp_path / "imagenet" / "LOC_synset_mapping.txt").write_text(
        "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n")

    records, errors = read(load_spec("imagenet", tmp_path))

    assert records == [
        {"id": "imagenet/n01440764/n01440764_10026", "source": "imagenet", "task": "classification",
         "images": [str(train / "n01440764" / "n01440764_10026.JPEG")], "messages": turns(PROMPT, "tench")},
        {"id": "imagenet/n01440764/n01440764_10027", "source": "imagenet", "task": "classification",
         "images": [str(train / "n01440764" / "n01440764_10027.JPEG")], "messages": turns(PROMPT, "tench")},
        {"id": "imagenet/n01443537/n01443537_1", "source": "imagenet", "task": "classification",
         "images": [str(train / "n01443537" / "n01443537_1.JPEG")], "messages": turns(PROMPT, "goldfish")},
    ]
    assert errors == [("unknown_class", "imagenet/n99999999")]


def test_imagenet_needs_the_synset_mapping(tmp_path):
    (tmp_path / "imagenet" / "train").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"data.sources.imagenet.options.synsets"):
        read(load_spec("imagenet", tmp_path, synsets=None))
