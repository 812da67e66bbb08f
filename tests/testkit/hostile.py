"""Hostile input for the readers and the sample builder: one small valid fixture per reader (in the
dataset's published layout, through the real source configs) and seeded mutations that put any JSON
value in any field, break text lines and damage images.

:data:`FIXTURES` maps every reader name in ``READERS`` to a writer ``(root) -> Fixture``; a reader
without one fails the property test, so a new reader is covered the day it is registered.
"""

from __future__ import annotations

import copy
import io
import json
import pickle
import random
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from sphinx_x.data.sources import SourceSpec
from tests.testkit.files import write_image, write_json, write_jsonl
from tests.testkit.sources import load_spec
from tests.testkit.videos import write_video

HOSTILE_VALUES: list[Any] = [
    None, float("nan"), float("inf"), -float("inf"), -1, 0, 10**30, -(10**30), True, False, 1.5, "", "   ",
    "None", "nan", "x" * 20_000, "\ud800", "<image>", "<region:99>", "[nan, 0, 1, 1]", [], {}, [None],
    [float("nan")] * 4, {"a": None}, [[[[]]]], "../../../etc/passwd", "\x00", 7,
]
PIXEL_LIMIT = 100 * 100  # the sample builder's max_image_pixels in the property test (fixture images are 64 x 48)
HOSTILE_TOKENS = ["", "nan", "inf", "-inf", "1e309", "-5", "abc", "\x00", "x" * 5000, ",,,,", '"', "###", "\ud800"]


@dataclass
class Fixture:
    """A reader's spec and the files a mutation may damage."""

    spec: SourceSpec
    json_files: list[Path] = field(default_factory=list)  # JSON documents (also JSONL, pickles of lists)
    text_files: list[Path] = field(default_factory=list)  # line-based annotations
    images: list[Path] = field(default_factory=list)
    shards: list[Path] = field(default_factory=list)  # engine shards: their JSON members are mutated


# ------------------------------------------------------------------------------------------ mutation
def mutate_value(doc: Any, rng: random.Random, n: int) -> Any:
    """``doc`` with ``n`` random places (any depth, the root too) replaced, deleted or filled with junk."""
    for _ in range(n):
        paths = list(_paths(doc, ()))
        path = rng.choice(paths)
        value = copy.deepcopy(rng.choice(HOSTILE_VALUES))
        if not path:
            doc = value
            continue
        parent = _get(doc, path[:-1])
        key = path[-1]
        action = rng.random()
        if action < 0.15 and isinstance(parent, dict):
            parent.pop(key, None)
        elif action < 0.25 and isinstance(parent, list) and parent:
            parent.pop(key)
        elif action < 0.3 and isinstance(parent, list):
            parent.append(value)
        else:
            parent[key] = value
    return doc


def _paths(doc: Any, prefix: tuple) -> Any:
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _paths(value, (*prefix, i))


def _get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def mutate_fixture(fixture: Fixture, rng: random.Random) -> str:
    """Damage one of the fixture's files (or images) at random; returns what was done."""
    kinds = [k for k, files in (("json", fixture.json_files), ("text", fixture.text_files),
                                ("image", fixture.images), ("shard", fixture.shards)) if files]
    kind = rng.choice(kinds + ["json"] * (len(fixture.json_files) > 0) + ["shard"] * (len(fixture.shards) > 0))
    if kind == "json":
        path = rng.choice(fixture.json_files)
        return f"json {path.name}: " + _mutate_json_file(path, rng)
    if kind == "text":
        path = rng.choice(fixture.text_files)
        return f"text {path.name}: " + _mutate_text_file(path, rng)
    if kind == "shard":
        return f"shard: {_mutate_shard(rng.choice(fixture.shards), rng)}"
    path = rng.choice(fixture.images)
    return f"image {path.name}: {damage_image(path, rng)}"


def _mutate_json_file(path: Path, rng: random.Random) -> str:
    try:
        return _mutate_json(path, rng)
    except (ValueError, pickle.UnpicklingError, EOFError):
        return "already broken"


def _mutate_json(path: Path, rng: random.Random) -> str:
    if path.suffix == ".p":
        doc = pickle.loads(path.read_bytes())
        path.write_bytes(pickle.dumps(mutate_value(doc, rng, rng.randint(1, 4))))
        return "pickle"
    if path.suffix == ".jsonl":
        lines = path.read_text().splitlines()
        k = rng.randrange(len(lines))
        if rng.random() < 0.2:
            lines[k] = rng.choice(["{not json", "[1, 2", "null", "42", '"text"', "[]", "\ud800"])
        else:
            lines[k] = json.dumps(mutate_value(json.loads(lines[k]), rng, rng.randint(1, 3)))
        path.write_text("\n".join(lines) + "\n", errors="surrogatepass")
        return f"line {k + 1}"
    if rng.random() < 0.1:
        text = path.read_text()
        path.write_text(text[: rng.randrange(len(text))])  # truncated
        return "truncated"
    doc = mutate_value(json.loads(path.read_text()), rng, rng.randint(1, 4))
    path.write_text(json.dumps(doc))
    return "values"


def _mutate_text_file(path: Path, rng: random.Random) -> str:
    lines = path.read_bytes().split(b"\n")
    k = rng.randrange(len(lines))
    choice = rng.random()
    if choice < 0.1:
        lines[k] = b"\xff\xfe\x80 not utf-8"
    elif choice < 0.2:
        lines[k] = b""
        lines = lines[: k + 1]
    else:
        text = lines[k].decode("utf-8", "replace")
        parts = [p for p in _split_keep(text)]
        i = rng.randrange(len(parts))
        parts[i] = rng.choice(HOSTILE_TOKENS)
        lines[k] = "".join(parts).encode("utf-8", "surrogatepass")
    path.write_bytes(b"\n".join(lines))
    return f"line {k + 1}"


def _split_keep(text: str) -> list[str]:
    """Fields and their separators (commas, tabs, spaces, brackets, quotes) as separate parts."""
    parts, word = [], ""
    for ch in text:
        if ch in ",\t []\"'<>":
            if word:
                parts.append(word)
            parts.append(ch)
            word = ""
        else:
            word += ch
    return parts + [word] if word else parts or [""]


def _mutate_shard(shard: Path, rng: random.Random) -> str:
    members: list[tuple[tarfile.TarInfo, bytes]] = []
    with tarfile.open(shard) as tar:  # the fixture's own shard: intact, whatever its members hold
        for member in tar:
            members.append((member, tar.extractfile(member).read()))
    docs = [i for i, (m, _) in enumerate(members) if m.name.endswith(".json")]
    k = rng.choice(docs)
    member, raw = members[k]
    if rng.random() < 0.15:
        raw = raw[: rng.randrange(len(raw))]
    elif raw.startswith(b"{") and raw.endswith(b"}"):
        raw = json.dumps(mutate_value(json.loads(raw), rng, rng.randint(1, 4))).encode("utf-8", "surrogatepass")
    members[k] = (member, raw)
    _write_tar(shard, [(m.name, data) for m, data in members])
    return member.name


def damage_image(path: Path, rng: random.Random) -> str:
    """Truncate, empty, scramble, remove, replace by a folder, or make it too large for the limit
    (:data:`PIXEL_LIMIT`)."""
    data = path.read_bytes() if path.is_file() else b""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    choice = rng.randrange(6)
    if choice == 0:
        path.write_bytes(data[: len(data) // 2])
        return "truncated"
    if choice == 1:
        path.write_bytes(b"")
        return "empty"
    if choice == 2:
        path.write_bytes(bytes(rng.randrange(256) for _ in range(300)))
        return "random bytes"
    if choice == 3:
        return "missing"
    if choice == 4:
        path.mkdir()
        return "a folder"
    side = int(PIXEL_LIMIT ** 0.5) + 1
    Image.new("RGB", (side, side), (9, 9, 9)).save(path, format="PNG")
    return "over the pixel limit"


# --------------------------------------------------------------------------------------- fixtures
def _image(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    return write_image(path, size)


def _turns(*texts: str) -> list[dict[str, str]]:
    return [{"from": "human" if i % 2 == 0 else "gpt", "value": t} for i, t in enumerate(texts)]


def _llava(root: Path) -> Fixture:
    images = [_image(root / "coco" / "train2017" / f"{k}.jpg") for k in range(2)]
    path = write_json(root / "llava" / "llava_instruct_150k.json", [
        {"id": "a", "image": "0.jpg", "conversations": _turns("<image>\nWhere is the cat?", "At [0.1, 0.2, 0.5, 0.6].")},
        {"id": "b", "image": "1.jpg", "conversations": _turns("Describe it.", "Grey.", "More?", "No.")}])
    return Fixture(load_spec("llava_instruct", root, box_format="normalized_original"), [path], images=images)


def _sharegpt(root: Path) -> Fixture:
    path = write_json(root / "flan_mini" / "flan_mini.json", [
        {"id": "a", "conversations": _turns("Hi", "Hello", "How are you?", "Fine.")},
        {"id": "b", "conversations": [{"from": "system", "value": "Be brief."}, *_turns("2+2?", "4")]}])
    return Fixture(load_spec("flan_mini", root), [path])


def _ultrachat(root: Path) -> Fixture:
    path = write_jsonl(root / "ultrachat" / "train_0.jsonl", [
        {"id": "0", "data": ["Hi", "Hello", "Why?", "Because."]}, {"id": "1", "data": ["Q", "A"]}])
    return Fixture(load_spec("ultrachat", root), [path])


def _openorca(root: Path) -> Fixture:
    path = write_jsonl(root / "openorca" / "part.jsonl", [
        {"id": "o1", "system_prompt": "Be kind.", "question": "Q1", "response": "A1"},
        {"id": "o2", "system_prompt": "", "question": "Q2", "response": "A2"}])
    return Fixture(load_spec("openorca", root), [path])


def _metamathqa(root: Path) -> Fixture:
    path = write_json(root / "MetaMathQA" / "MetaMathQA-395K.json", [
        {"query": "1+1?", "response": "2", "type": "GSM"}, {"query": "2+2?", "response": "4", "type": "GSM"}])
    return Fixture(load_spec("metamathqa", root), [path])


def _alpaca(root: Path) -> Fixture:
    path = write_json(root / "MathInstruct" / "MathInstruct.json", [
        {"instruction": "Add.", "input": "1 and 2", "output": "3"}, {"instruction": "Say hi.", "output": "hi"}])
    return Fixture(load_spec("mathinstruct", root), [path])


COCO_IMAGES = [{"id": 1, "file_name": "000000000001.jpg", "width": 64, "height": 48},
               {"id": 2, "file_name": "000000000002.jpg", "width": 64, "height": 48}]


def _coco_images(root: Path, folder: str = "train2017") -> list[Path]:
    return [_image(root / "coco" / folder / image["file_name"]) for image in COCO_IMAGES]


def _coco_captions(root: Path) -> Fixture:
    path = write_json(root / "coco" / "annotations" / "captions_train2017.json", {
        "images": COCO_IMAGES, "annotations": [{"id": 5, "image_id": 1, "caption": "A grey square."},
                                               {"id": 6, "image_id": 2, "caption": "Grey."}]})
    return Fixture(load_spec("coco_caption", root), [path], images=_coco_images(root))


def _coco_detection(root: Path) -> Fixture:
    path = write_json(root / "coco" / "annotations" / "instances_train2017.json", {
        "images": COCO_IMAGES, "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "baseball_bat"}],
        "annotations": [{"id": 11, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 20], "iscrowd": 0},
                        {"id": 12, "image_id": 1, "category_id": 2, "bbox": [10, 10, 5, 5], "iscrowd": 0},
                        {"id": 13, "image_id": 2, "category_id": 1, "bbox": [0, 0, 64, 48], "iscrowd": 0}]})
    return Fixture(load_spec("coco_detection", root), [path], images=_coco_images(root))


def _coco_keypoints(root: Path) -> Fixture:
    path = write_json(root / "coco" / "annotations" / "person_keypoints_train2017.json", {
        "images": COCO_IMAGES, "categories": [{"id": 1, "name": "person", "keypoints": ["nose", "left_eye"]}],
        "annotations": [{"id": 21, "image_id": 1, "category_id": 1, "bbox": [1, 1, 40, 40], "iscrowd": 0,
                         "keypoints": [10, 10, 2, 12, 9, 1]},
                        {"id": 22, "image_id": 2, "category_id": 1, "bbox": [5, 5, 20, 20], "iscrowd": 0,
                         "keypoints": [8, 8, 2, 0, 0, 0]}]})
    return Fixture(load_spec("coco_pose", root), [path], images=_coco_images(root))


def _coco_layout(root: Path) -> Fixture:
    images = [_image(root / "publaynet" / "train" / image["file_name"]) for image in COCO_IMAGES]
    path = write_json(root / "publaynet" / "train.json", {
        "images": COCO_IMAGES, "categories": [{"id": 1, "name": "text"}, {"id": 2, "name": "title"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 40, 10]},
                        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [2, 20, 40, 10]},
                        {"id": 3, "image_id": 2, "category_id": 1, "bbox": [5, 5, 20, 20]}]})
    return Fixture(load_spec("publaynet", root), [path], images=images)


def _refcoco(root: Path) -> Fixture:
    folder = root / "refer" / "refcoco"
    write_json(folder / "instances.json", {
        "images": [{**image, "file_name": f"COCO_train2014_{image['id']:012d}.jpg"} for image in COCO_IMAGES],
        "annotations": [{"id": 101, "image_id": 1, "bbox": [0, 0, 30, 20]}, {"id": 102, "image_id": 2, "bbox": [5, 5, 9, 9]}]})
    refs = [{"ref_id": 0, "ann_id": 101, "image_id": 1, "split": "train",
             "sentences": [{"sent": "left cat", "raw": "Left cat."}, {"sent": "the cat"}]},
            {"ref_id": 1, "ann_id": 102, "image_id": 2, "split": "train", "sentences": [{"sent": "a dog"}]}]
    (folder / "refs(unc).p").write_bytes(pickle.dumps(refs))
    images = [_image(root / "coco" / "train2014" / f"COCO_train2014_{k:012d}.jpg") for k in (1, 2)]
    return Fixture(load_spec("refcoco", root), [folder / "refs(unc).p", folder / "instances.json"], images=images)


def _visual_genome(root: Path, name: str) -> Fixture:
    vg = root / "visual_genome"
    data = write_json(vg / "image_data.json", [{"image_id": k, "url": f"https://x/VG_100K/{k}.jpg", "width": 64,
                                                "height": 48} for k in (1, 2)])
    images = [_image(vg / "VG_100K" / f"{k}.jpg") for k in (1, 2)]
    if name == "vg_regions":
        path = write_json(vg / "region_descriptions.json", [
            {"id": 1, "regions": [{"region_id": 7, "x": 1, "y": 2, "width": 20, "height": 10, "phrase": "a cat"}]},
            {"id": 2, "regions": [{"region_id": 8, "x": 0, "y": 0, "width": 9, "height": 9, "phrase": "a hat"}]}])
    elif name == "vg_relations":
        box = {"x": 1, "y": 1, "w": 10, "h": 10}
        path = write_json(vg / "relationships.json", [
            {"image_id": 1, "relationships": [{"relationship_id": 3, "predicate": "ON", "subject": {"name": "cat", **box},
                                               "object": {"names": ["mat"], **box}}]},
            {"image_id": 2, "relationships": [{"relationship_id": 4, "predicate": "has",
                                               "subject": {"names": ["man"], **box}, "object": {"name": "hat", **box}}]}])
    else:
        path = write_json(vg / "question_answers.json", [
            {"id": 1, "qas": [{"qa_id": 1, "question": "What colour?", "answer": "Grey."}]},
            {"id": 2, "qas": [{"qa_id": 2, "question": "How many?", "answer": "2"}]}])
    return Fixture(load_spec(name, root), [path, data], images=images)


def _flickr30k(root: Path) -> Fixture:
    folder = root / "flickr30k_entities"
    (folder / "Annotations").mkdir(parents=True)
    (folder / "Sentences").mkdir(parents=True)
    (folder / "train.txt").write_text("1\n2\n")
    texts, images = [folder / "train.txt"], []
    for k in (1, 2):
        xml = folder / "Annotations" / f"{k}.xml"
        xml.write_text(f"<annotation><size><width>64</width><height>48</height><depth>3</depth></size>"
                       f"<object><name>{k}0</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax>"
                       f"<ymax>20</ymax></bndbox></object></annotation>")
        sentences = folder / "Sentences" / f"{k}.txt"
        sentences.write_text(f"[/EN#{k}0/people A child] plays with [/EN#99/other a ball] .\n")
        texts += [xml, sentences]
        images.append(_image(root / "flickr30k" / "flickr30k-images" / f"{k}.jpg"))
    return Fixture(load_spec("flickr30k", root), text_files=texts, images=images)


def _imagenet(root: Path) -> Fixture:
    synsets = root / "imagenet" / "LOC_synset_mapping.txt"
    synsets.parent.mkdir(parents=True)
    synsets.write_text("n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n")
    images = [_image(root / "imagenet" / "train" / wnid / f"{wnid}_1.JPEG") for wnid in ("n01440764", "n01443537")]
    return Fixture(load_spec("imagenet", root), text_files=[synsets], images=images)


def _ai2d(root: Path) -> Fixture:
    folder = root / "ai2d"
    files = [write_json(folder / "questions" / f"{k}.png.json", {"imageName": f"{k}.png", "questions": {
        "Which part?": {"answerTexts": ["leaf", "root"], "correctAnswer": 1, "questionId": f"{k}.png-0"}}})
        for k in (0, 1)]
    (folder / "ai2d_test_ids.csv").write_text("9\n")
    images = [_image(folder / "images" / f"{k}.png") for k in (0, 1)]
    return Fixture(load_spec("ai2d", root), files, images=images)


def _geometry3k(root: Path) -> Fixture:
    train = root / "geometry3k" / "train"
    files = [write_json(train / str(k) / "data.json", {"id": k, "problem_text": "Find x.",
                                                       "choices": ["3", "7", "9", "12"], "answer": "B"}) for k in (0, 1)]
    images = [_image(train / str(k) / "img_diagram.png") for k in (0, 1)]
    return Fixture(load_spec("geometry3k", root), files, images=images)


def _vqa_v2(root: Path) -> Fixture:
    questions = write_json(root / "vqav2" / "v2_OpenEnded_mscoco_train2014_questions.json", {
        "data_subtype": "train2014", "questions": [{"image_id": 1, "question": "What colour?", "question_id": 10},
                                                   {"image_id": 2, "question": "How many?", "question_id": 20}]})
    annotations = write_json(root / "vqav2" / "v2_mscoco_train2014_annotations.json", {"annotations": [
        {"question_id": 10, "answers": [{"answer": "grey"}, {"answer": "gray"}, {"answer": "grey"}]},
        {"question_id": 20, "answers": [{"answer": "2"}]}]})
    images = [_image(root / "coco" / "train2014" / f"COCO_train2014_{k:012d}.jpg") for k in (1, 2)]
    return Fixture(load_spec("vqav2", root), [questions, annotations], images=images)


def _gqa(root: Path) -> Fixture:
    path = write_json(root / "gqa" / "questions1.2" / "train_balanced_questions.json", {
        "q1": {"imageId": "n1", "question": "Is it grey?", "answer": "yes", "fullAnswer": "Yes, it is."},
        "q2": {"imageId": "n2", "question": "What is it?", "answer": "square", "fullAnswer": "A square."}})
    images = [_image(root / "gqa" / "images" / f"n{k}.jpg") for k in (1, 2)]
    return Fixture(load_spec("gqa", root), [path], images=images)


def _clevr(root: Path) -> Fixture:
    path = write_json(root / "CLEVR_v1.0" / "questions" / "CLEVR_train_questions.json", {"questions": [
        {"image_filename": "CLEVR_train_000000.png", "question_index": 0, "question": "How many?", "answer": "2"},
        {"image_filename": "CLEVR_train_000001.png", "question_index": 1, "question": "Colour?", "answer": "grey"}]})
    images = [_image(root / "CLEVR_v1.0" / "images" / "train" / f"CLEVR_train_00000{k}.png") for k in (0, 1)]
    return Fixture(load_spec("clevr", root), [path], images=images)


def _textvqa(root: Path) -> Fixture:
    path = write_json(root / "textvqa" / "TextVQA_0.5.1_train.json", {"data": [
        {"question_id": 1, "image_id": "a1", "question": "What does it say?", "answers": ["stop"] * 10},
        {"question_id": 2, "image_id": "a2", "question": "Brand?", "answers": ["acme", "acme"],
         "ocr_tokens": ["acme"]}]})
    ocr = write_json(root / "textvqa" / "TextVQA_Rosetta_OCR_v0.2_train.json", {"data": [
        {"image_id": "a1", "ocr_tokens": ["stop"]}, {"image_id": "a2", "ocr_info": [{"word": "acme"}]}]})
    images = [_image(root / "textvqa" / "train_images" / f"a{k}.jpg") for k in (1, 2)]
    return Fixture(load_spec("textvqa", root), [path, ocr], images=images)


def _docvqa(root: Path) -> Fixture:
    path = write_json(root / "docvqa" / "spdocvqa_qas" / "train_v1.0_withQT.json", {"data": [
        {"questionId": 1, "question": "Date?", "image": "documents/a.png", "answers": ["1 May"]},
        {"questionId": 2, "question": "Name?", "image": "documents/b.png", "answers": ["Ann", "ann"]}]})
    images = [_image(root / "docvqa" / "documents" / f"{k}.png") for k in ("a", "b")]
    return Fixture(load_spec("docvqa", root), [path], images=images)


def _chartqa(root: Path) -> Fixture:
    folder = root / "chartqa" / "ChartQA Dataset" / "train"
    human = write_json(folder / "train_human.json", [{"imgname": "1.png", "query": "Max?", "label": "7"}])
    augmented = write_json(folder / "train_augmented.json", [{"imgname": "2.png", "query": "Min?", "label": 1}])
    images = [_image(folder / "png" / f"{k}.png") for k in (1, 2)]
    return Fixture(load_spec("chartqa", root), [human, augmented], images=images)


def _dvqa(root: Path) -> Fixture:
    path = write_json(root / "dvqa" / "qa" / "train_qa.json", [
        {"image": "bar_1.png", "question": "Largest?", "answer": "a", "question_id": 1},
        {"image": "bar_2.png", "question": "How many bars?", "answer": 3, "question_id": 2}])
    images = [_image(root / "dvqa" / "images" / f"bar_{k}.png") for k in (1, 2)]
    return Fixture(load_spec("dvqa", root), [path], images=images)


def _visualmrc(root: Path) -> Fixture:
    path = write_jsonl(root / "visualmrc" / "train.jsonl", [
        {"id": 1, "image_filename": "s1.png", "qa_data": [{"question": {"text": "What?"}, "answer": {"text": "A page."}}]},
        {"id": 2, "image_filename": "s2.png", "qa_data": [{"question": {"text": "Who?"}, "answer": {"text": "Ann."}}]}])
    images = [_image(root / "visualmrc" / "images" / f"s{k}.png") for k in (1, 2)]
    return Fixture(load_spec("visualmrc", root), [path], images=images)


def _due(root: Path) -> Fixture:
    path = write_jsonl(root / "due" / "TabFact" / "train" / "document.jsonl", [
        {"name": "t1.pdf", "annotations": [{"id": "a", "key": "The table has two rows.", "values": [{"value": "1"}]}]},
        {"name": "t2", "annotations": [{"id": "b", "key": "It is empty.", "values": [{"value": "0"}]}]}])
    images = [_image(root / "due" / "TabFact" / "images" / f"t{k}.png") for k in (1, 2)]
    return Fixture(load_spec("tabfact", root), [path], images=images)


DOCBANK_LINES = ["Hello\t100\t100\t300\t150\t0\t0\t0\tArial\tparagraph", "world\t320\t100\t500\t150\t0\t0\t0\tArial\tparagraph",
                 "Title\t100\t300\t400\t350\t0\t0\t0\tArial\ttitle"]


def _docbank(root: Path) -> Fixture:
    txt = root / "docbank" / "DocBank_500K_txt"
    txt.mkdir(parents=True)
    texts, images = [], []
    for k in (1, 2):
        (txt / f"p{k}.txt").write_text("\n".join(DOCBANK_LINES) + "\n")
        texts.append(txt / f"p{k}.txt")
        images.append(_image(root / "docbank" / "DocBank_500K_ori_img" / f"p{k}_ori.jpg", (100, 100)))
    return Fixture(load_spec("docbank", root), text_files=texts, images=images)


def _spotting(root: Path, name: str) -> Fixture:
    layouts = {"icdar2013": ("icdar2013/Challenge2_Training_Task1_GT", "icdar2013/Challenge2_Training_Task12_Images",
                             "gt_{}.txt", '2 3 30 20 "Stop"\n32 3 60 20 "here"\n'),
               "icdar2015": ("icdar2015/ch4_training_localization_transcription_gt", "icdar2015/ch4_training_images",
                             "gt_{}.txt", "2,3,30,3,30,20,2,20,Stop\n32,3,60,3,60,20,32,20,###\n"),
               "totaltext": ("totaltext/Groundtruth/Text/Train", "totaltext/Images/Train", "poly_gt_{}.txt",
                             "x: [[2 30 30 2]], y: [[3 3 20 20]], ornt: [u'h'], transcriptions: [u'Stop']\n"),
               "ctw1500": ("ctw1500/ctw1500_train_labels", "ctw1500/train_images", "{}.txt",
                           "2,3,30,3,30,20,2,20,####Stop\n")}
    gt_dir, image_dir, pattern, content = layouts[name]
    (root / gt_dir).mkdir(parents=True)
    texts, images = [], []
    for stem in ("img_1", "img_2") if name != "ctw1500" else ("0001", "0002"):
        (root / gt_dir / pattern.format(stem)).write_text(content)
        texts.append(root / gt_dir / pattern.format(stem))
        images.append(_image(root / image_dir / f"{stem}.jpg"))
    return Fixture(load_spec(name, root), text_files=texts, images=images)


def _shard_record(key: str, task: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"x/{key}/0", "source": "x", "task": task, "images": [f"{key}.png"],
            "messages": [{"role": "user", "content": "<image>\nRead <region:0>."},
                         {"role": "assistant", "content": "Hello."}],
            "regions": [{"image": 0, "box": [1.0, 1.0, 20.0, 10.0]}], "meta": meta}


def _write_tar(path: Path, members: list[tuple[str, bytes]]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _shards(root: Path, name: str) -> Fixture:
    folder, task, meta = {"ocr_pages": ("ocr_pages", "ocr_reading", {}),
                          "som_shards": ("som/natural", "som_marks", {"domain": "natural"}),
                          "instruct_shards": ("mminstruct", "mmi_short", {"domain": "a", "question_type": "short"})}[name]
    out = root / folder
    out.mkdir(parents=True)
    png = io.BytesIO()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(png, format="PNG")
    members = []
    for key in ("p1", "p2"):
        members += [(f"{key}.png", png.getvalue()),
                    (f"{key}.json", json.dumps({"records": [_shard_record(key, task, meta)]}).encode())]
    _write_tar(out / "shard-000000.tar", members)
    config = {"ocr_pages": "pdf_ocr", "som_shards": "som_natural", "instruct_shards": "mminstruct"}[name]
    return Fixture(load_spec(config, root), shards=[out / "shard-000000.tar"])


def _video_json(root: Path) -> Fixture:
    videos = [write_video(root / "video" / "videos" / f"{k}.mp4", frames=4) for k in range(2)]
    path = write_json(root / "video" / "conversations.json", [
        {"id": "a", "video": "0.mp4", "conversations": _turns("<video>\nWhat happens?", "Colours change.")},
        {"id": "b", "video": "1.mp4", "conversations": _turns("How many frames?", "Four.", "Sure?", "Yes.")}])
    return Fixture(load_spec("video_json", root), [path], images=videos)  # damaged like images


FIXTURES: dict[str, Callable[[Path], Fixture]] = {
    "llava": _llava, "sharegpt": _sharegpt, "ultrachat": _ultrachat, "openorca": _openorca,
    "metamathqa": _metamathqa, "alpaca": _alpaca, "coco_captions": _coco_captions, "coco_detection": _coco_detection,
    "coco_keypoints": _coco_keypoints, "coco_layout": _coco_layout, "refcoco": _refcoco,
    "vg_regions": lambda root: _visual_genome(root, "vg_regions"),
    "vg_relations": lambda root: _visual_genome(root, "vg_relations"),
    "vg_qa": lambda root: _visual_genome(root, "vg_qa"),
    "flickr30k_entities": _flickr30k, "imagenet": _imagenet, "ai2d": _ai2d, "geometry3k": _geometry3k,
    "vqa_v2": _vqa_v2, "gqa": _gqa, "clevr": _clevr, "textvqa": _textvqa, "docvqa": _docvqa, "chartqa": _chartqa,
    "dvqa": _dvqa, "visualmrc": _visualmrc, "due": _due, "docbank": _docbank,
    "icdar2013": lambda root: _spotting(root, "icdar2013"), "icdar2015": lambda root: _spotting(root, "icdar2015"),
    "totaltext": lambda root: _spotting(root, "totaltext"), "ctw1500": lambda root: _spotting(root, "ctw1500"),
    "ocr_pages": lambda root: _shards(root, "ocr_pages"), "som_shards": lambda root: _shards(root, "som_shards"),
    "instruct_shards": lambda root: _shards(root, "instruct_shards"), "video_json": _video_json,
}
