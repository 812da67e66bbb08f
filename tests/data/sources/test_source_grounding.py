"""Grounding: RefCOCO / RefCOCO+ / RefCOCOg (refer layout), Visual Genome regions, Flickr30k Entities."""

from __future__ import annotations

import pickle

from sphinx_x.data.geometry import ImageFrame
from tests.testkit.files import write_image, write_json
from tests.testkit.sources import load_spec, read, render, turns

REC = "Please provide the bounding box coordinate of the region this sentence describes: {}."
CAPTION = "Please provide a short description for this region: {}"


def write_refer(folder, refs, split_by="unc"):
    """``refs(<split_by>).p`` + ``instances.json`` as released for the refer API."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"refs({split_by}).p").open("wb") as f:
        pickle.dump(refs, f)
    write_json(folder / "instances.json", {
        "info": {}, "licenses": [], "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
        "images": [{"id": 1, "file_name": "COCO_train2014_000000000001.jpg", "width": 200, "height": 100},
                   {"id": 2, "file_name": "COCO_train2014_000000000002.jpg", "width": 100, "height": 100},
                   {"id": 3, "file_name": "COCO_train2014_000000000003.jpg", "width": 100, "height": 100}],
        "annotations": [{"id": 101, "image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 50], "iscrowd": 0},
                        {"id": 102, "image_id": 1, "category_id": 2, "bbox": [120, 20, 60, 70], "iscrowd": 0},
                        {"id": 103, "image_id": 2, "category_id": 2, "bbox": [0, 0, 50, 50], "iscrowd": 0},
                        {"id": 104, "image_id": 3, "category_id": 2, "bbox": [0, 0, 10, 10], "iscrowd": 0}]})


def ref(ref_id, ann_id, image_id, split, *sentences):
    return {"ref_id": ref_id, "ann_id": ann_id, "image_id": image_id, "split": split, "category_id": 1,
            "file_name": f"COCO_train2014_{image_id:012d}_{ann_id}.jpg", "sent_ids": list(range(len(sentences))),
            "sentences": [{"sent": s, "raw": s.capitalize() + ".", "tokens": s.split(), "sent_id": i}
                          for i, s in enumerate(sentences)]}


def test_refcoco_asks_both_directions_one_sentence_per_referent_per_record(tmp_path):
    write_image(tmp_path / "coco" / "train2014" / "COCO_train2014_000000000001.jpg", (200, 100))
    write_refer(tmp_path / "refer" / "refcoco", [
        ref(0, 101, 1, "train", "left cat", "cat on the left"),
        ref(1, 102, 1, "train", "right dog"),
        ref(2, 103, 2, "val", "dog"),
        ref(3, 999, 1, "train", "ghost"),
        ref(4, 104, 3, "train", ""),
    ])

    records, errors = read(load_spec("refcoco", tmp_path))

    image = str(tmp_path / "coco" / "train2014" / "COCO_train2014_000000000001.jpg")
    cat, dog = {"image": 0, "box": [0.0, 0.0, 100.0, 50.0]}, {"image": 0, "box": [120.0, 20.0, 180.0, 90.0]}
    common = {"source": "refcoco", "images": [image]}
    assert records == [
        {"id": "refcoco/1/rec/0", "task": "rec", **common, "regions": [cat, dog],
         "messages": turns("<image>\n" + REC.format("left cat"), "<region:0>", REC.format("right dog"), "<region:1>")},
        {"id": "refcoco/1/rec/1", "task": "rec", **common, "regions": [cat],
         "messages": turns("<image>\n" + REC.format("cat on the left"), "<region:0>")},
        {"id": "refcoco/1/region_caption/0", "task": "region_caption", **common, "regions": [cat, dog],
         "messages": turns("<image>\n" + CAPTION.format("<region:0>"), "left cat",
                           CAPTION.format("<region:1>"), "right dog")},
        {"id": "refcoco/1/region_caption/1", "task": "region_caption", **common, "regions": [cat],
         "messages": turns("<image>\n" + CAPTION.format("<region:0>"), "cat on the left")},
    ]
    assert errors == [("unknown_annotation", "refcoco/1/ref3"), ("no_description", "refcoco/3/ref4")]
    frame = ImageFrame.fit(200, 100, side=448, grid=2)
    assert render(records[0]["messages"][1]["content"], records[0], frame) == "[0.00, 0.00, 0.50, 0.25]"
    assert render(records[0]["messages"][3]["content"], records[0], frame) == "[0.60, 0.10, 0.90, 0.45]"


def test_refcocog_reads_the_umd_split_and_refcoco_plus_its_own_folder(tmp_path):
    write_refer(tmp_path / "refer" / "refcocog", [ref(0, 103, 2, "train", "a brown dog lying down")], "umd")
    write_refer(tmp_path / "refer" / "refcoco+", [ref(0, 102, 1, "train", "dog")])

    refcocog, _ = read(load_spec("refcocog", tmp_path, tasks=["rec"]))
    plus, _ = read(load_spec("refcoco_plus", tmp_path, tasks=["region_caption"]))

    assert [(r["id"], r["messages"][0]["content"], r["regions"]) for r in refcocog] == [
        ("refcocog/2/rec/0", "<image>\n" + REC.format("a brown dog lying down"), [{"image": 0, "box": [0.0, 0.0, 50.0, 50.0]}])]
    assert [(r["id"], r["messages"][1]["content"]) for r in plus] == [("refcoco_plus/1/region_caption/0", "dog")]


def write_visual_genome(tmp_path):
    write_json(tmp_path / "visual_genome" / "image_data.json", [
        {"image_id": 1, "url": "https://cs.stanford.edu/people/rak248/VG_100K/1.jpg", "width": 800, "height": 600,
         "coco_id": None, "flickr_id": None},
        {"image_id": 2, "url": "https://cs.stanford.edu/people/rak248/VG_100K_2/2.jpg", "width": 100, "height": 100,
         "coco_id": 5, "flickr_id": None},
    ])


def test_vg_regions_ground_phrases_in_both_directions(tmp_path):
    write_visual_genome(tmp_path)
    region = {"image_id": 1, "region_id": 11, "x": 200, "y": 300, "width": 100, "height": 50, "phrase": "a red car"}
    write_json(tmp_path / "visual_genome" / "region_descriptions.json", [
        {"id": 1, "regions": [
            region,
            {"image_id": 1, "region_id": 12, "x": 700, "y": 5, "width": 150, "height": 30, "phrase": "sky"},
            {"image_id": 1, "region_id": 13, "x": 5, "y": 5, "width": 0, "height": 30, "phrase": "nothing"},
            {"image_id": 1, "region_id": 14, "x": 5, "y": 5, "width": 10, "height": 30, "phrase": " "},
        ]},
        {"id": 3, "regions": [region]},
    ])

    records, errors = read(load_spec("vg_regions", tmp_path, max_turns=1))

    image = str(tmp_path / "visual_genome" / "VG_100K" / "1.jpg")
    car, sky = {"image": 0, "box": [200.0, 300.0, 300.0, 350.0]}, {"image": 0, "box": [700.0, 5.0, 800.0, 35.0]}
    common = {"source": "vg_regions", "images": [image]}
    assert records == [
        {"id": "vg_regions/1/rec/0", "task": "rec", **common, "regions": [car],
         "messages": turns("<image>\n" + REC.format("a red car"), "<region:0>")},
        {"id": "vg_regions/1/rec/1", "task": "rec", **common, "regions": [sky],
         "messages": turns("<image>\n" + REC.format("sky"), "<region:0>")},
        {"id": "vg_regions/1/region_caption/0", "task": "region_caption", **common, "regions": [car],
         "messages": turns("<image>\n" + CAPTION.format("<region:0>"), "a red car")},
        {"id": "vg_regions/1/region_caption/1", "task": "region_caption", **common, "regions": [sky],
         "messages": turns("<image>\n" + CAPTION.format("<region:0>"), "sky")},
    ]
    assert errors == [("degenerate_box", "vg_regions/1/region13"), ("empty_field", "vg_regions/1/region14"),
                      ("unknown_image", "vg_regions/3")]


def test_vg_relations_ground_the_subject_with_the_authors_relation_prompt(tmp_path):
    write_visual_genome(tmp_path)
    man = {"object_id": 1, "x": 10, "y": 20, "w": 100, "h": 200, "names": ["Man"]}
    horse = {"object_id": 2, "x": 50, "y": 150, "w": 300, "h": 250, "name": "horse"}
    write_json(tmp_path / "visual_genome" / "relationships.json", [
        {"image_id": 1, "relationships": [
            {"relationship_id": 7, "predicate": "Riding", "subject": man, "object": horse},
            {"relationship_id": 8, "predicate": "riding", "subject": man, "object": horse},  # VG repeats itself
            {"relationship_id": 9, "predicate": "on", "subject": {**horse, "w": 0}, "object": man},
            {"relationship_id": 10, "predicate": "near", "subject": {**man, "names": []}, "object": horse},
        ]},
        {"image_id": 3, "relationships": []},
    ])

    records, errors = read(load_spec("vg_relations", tmp_path))

    assert records == [{
        "id": "vg_relations/1/relation/0", "source": "vg_relations", "task": "relation",
        "images": [str(tmp_path / "visual_genome" / "VG_100K" / "1.jpg")],
        "regions": [{"image": 0, "box": [10.0, 20.0, 110.0, 220.0]}],
        "messages": turns("<image>\nPlease provide the bounding box coordinate of the region this sentence describes "
                          ": man riding horse.", "<region:0>")}]
    assert errors == [("degenerate_box", "vg_relations/1/relation9"), ("missing_field", "vg_relations/1/relation10"),
                      ("unknown_image", "vg_relations/3")]


SENTENCES = (
    "[/EN#1/people A child] in [/EN#2/clothing a pink dress] is climbing up [/EN#3/other a set of stairs] "
    "in [/EN#4/scene an entry way] .\n"
    "[/EN#1/people A little girl] climbing [/EN#3/other the stairs] .\n"
)
ANNOTATION = """<annotation>
  <filename>1000.jpg</filename>
  <size><width>200</width><height>100</height><depth>3</depth></size>
  <object><name>1</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>50</xmax><ymax>90</ymax></bndbox></object>
  <object><name>2</name><bndbox><xmin>15</xmin><ymin>40</ymin><xmax>45</xmax><ymax>80</ymax></bndbox></object>
  <object><name>3</name><bndbox><xmin>60</xmin><ymin>20</ymin><xmax>190</xmax><ymax>100</ymax></bndbox></object>
  <object><name>3</name><bndbox><xmin>100</xmin><ymin>30</ymin><xmax>120</xmax><ymax>50</ymax></bndbox></object>
  <object><name>4</name><scene>1</scene></object>
</annotation>
"""


def test_flickr30k_entities_grounded_captions_and_phrase_grounding(tmp_path):
    root = tmp_path / "flickr30k_entities"
    (root / "Sentences").mkdir(parents=True)
    (root / "Annotations").mkdir()
    (root / "train.txt").write_text("1000\n1001\n")
    (root / "Sentences" / "1000.txt").write_text(SENTENCES)
    (root / "Annotations" / "1000.xml").write_text(ANNOTATION)

    records, errors = read(load_spec("flickr30k", tmp_path))

    child, dress = {"image": 0, "box": [10.0, 10.0, 50.0, 90.0]}, {"image": 0, "box": [15.0, 40.0, 45.0, 80.0]}
    stairs = [{"image": 0, "box": [60.0, 20.0, 190.0, 100.0]}, {"image": 0, "box": [100.0, 30.0, 120.0, 50.0]}]
    common = {"source": "flickr30k", "images": [str(tmp_path / "flickr30k" / "flickr30k-images" / "1000.jpg")]}
    grounded = "<image>\nDescribe the image concisely. Include the bounding box for each mentioned object."
    assert records == [
        {"id": "flickr30k/1000/grounded_caption/0", "task": "grounded_caption", **common,
         "regions": [child, dress, *stairs],
         "messages": turns(grounded, "<p>A child</p> <region:0> in <p>a pink dress</p> <region:1> is climbing up "
                                     "<p>a set of stairs</p> <region:2>, <region:3> in an entry way.")},
        {"id": "flickr30k/1000/grounded_caption/1", "task": "grounded_caption", **common, "regions": [child, *stairs],
         "messages": turns(grounded, "<p>A little girl</p> <region:0> climbing <p>the stairs</p> <region:1>, <region:2>.")},
        {"id": "flickr30k/1000/rec/0", "task": "rec", **common, "regions": [child, dress, *stairs],
         "messages": turns("<image>\n" + REC.format("A child"), "<region:0>", REC.format("a pink dress"), "<region:1>",
                           REC.format("a set of stairs"), "<region:2>, <region:3>")},
        {"id": "flickr30k/1000/rec/1", "task": "rec", **common, "regions": [child, *stairs],
         "messages": turns("<image>\n" + REC.format("A little girl"), "<region:0>",
                           REC.format("the stairs"), "<region:1>, <region:2>")},
    ]
    assert errors == [("missing_file", "flickr30k/1001")]
    frame = ImageFrame.fit(200, 100, side=448, grid=2)
    assert render(records[1]["messages"][1]["content"], records[1], frame) == (
        "<p>A little girl</p> [0.05, 0.05, 0.25, 0.45] climbing "
        "<p>the stairs</p> [0.30, 0.10, 0.95, 0.50], [0.50, 0.15, 0.60, 0.25].")
