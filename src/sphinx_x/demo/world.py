"""The demo world: a small procedurally drawn corpus written in the real public formats.

The demo must exercise the same readers as real data, so it writes LLaVA-Instruct conversations,
ShareGPT dialogues, VQA / REC evaluation files and a Hugging Face tokenizer, all from scenes of
coloured shapes that a tiny randomly-initialised model can learn in minutes on a CPU.

Layout under ``out_dir``::

    images/{train,heldout}_00000.png   scenes (sizes cycle 192x192, 256x128, 128x256, 384x128)
    scenes_{train,heldout}.json        ground truth: objects with shape|text, colour, size, pixel box
    llava_{train,heldout}.json         per scene: caption, multi-turn VQA, grounding (REC + region caption)
    sharegpt_{train,heldout}.json      text-only dialogues about the demo world
    vqa_heldout.jsonl                  held-out VQA questions (without the answer-format suffix)
    rec_heldout.jsonl                  held-out referring expressions with pixel boxes
    tokenizer/                         byte-level BPE, loadable with ``AutoTokenizer.from_pretrained``
    manifest.json                      {"params", "counts", "paths" (relative to out_dir)}

Conventions chosen here:

* Object sizes are fractions of the image's *long* side, so "small" and "large" look the same in
  the model's padded square whatever the aspect ratio.
* Every shape has a unique (colour, shape) pair, so "the red circle" always names one object and
  each scene has at least three answerable VQA questions (the count plus two colour / shape ones).
* Text is drawn in white (dark background) or black (light background), colours no shape uses, so
  "the green object" never means a word; counting counts shapes only ("How many shapes are there?").
* "left"/"right" is asked only when both readings agree: the object's centre lies in that half of
  the image *and* it is clearly the left-most (right-most) object.
* Grounding boxes in LLaVA answers are normalised by the ORIGINAL width / height with two decimals,
  as LLaVA-1.5-style grounding data writes them; readers map them into the model frame.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from sphinx_x.data.geometry import format_coords
from sphinx_x.data.prompts import DEFAULT_POOLS

FORMAT_VERSION = 2  # 2: tokenizer scaffolding in the authors' conv_v1 template
SIZES: tuple[tuple[int, int], ...] = ((192, 192), (256, 128), (128, 256), (384, 128))
SHAPES = ("circle", "square", "triangle")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40), "green": (40, 180, 60), "blue": (50, 80, 230), "yellow": (240, 210, 40),
}
SHAPE_SIZES = {"small": 0.12, "large": 0.22}  # fraction of the long side
TEXT_SIZES = {"small": 0.06, "large": 0.10}  # font size as a fraction of the long side
WORDS = ("CAT", "SUN", "MAP", "BOX", "DOG", "CUP")
TEXT_PROBABILITY = 0.25
MARGIN = 0.03  # of the long side, kept free at the image border
GAP = 0.05  # of the long side, between any two objects
CENTRE_GAP = 0.08  # of the width: object centres stay this far from the vertical centre line
SIDE_GAP = 0.10  # of the width: a "left-most" object is this much left of every other one

VQA_SUFFIX = DEFAULT_POOLS["vqa"][0]
CAPTION_PROMPT = DEFAULT_POOLS["caption"][0]
REC_PROMPT = DEFAULT_POOLS["rec"][0]
REGION_PROMPT = DEFAULT_POOLS["region_caption"][0]
SYSTEM_PROMPT = ("A chat between a curious human and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the human's questions.")
SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<pad>")
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
CHAT_TEMPLATE = ("<s>{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
FILES = {
    "images": "images", "scenes_train": "scenes_train.json", "scenes_heldout": "scenes_heldout.json",
    "llava_train": "llava_train.json", "llava_heldout": "llava_heldout.json",
    "sharegpt_train": "sharegpt_train.json", "sharegpt_heldout": "sharegpt_heldout.json",
    "vqa_heldout": "vqa_heldout.jsonl", "rec_heldout": "rec_heldout.jsonl",
    "tokenizer": "tokenizer", "manifest": "manifest.json",
}

Scene = dict[str, Any]
Conversation = list[dict[str, str]]


# ----------------------------------------------------------------------------------------- scenes
def _centre_x(obj: dict[str, Any]) -> float:
    return (obj["box"][0] + obj["box"][2]) / 2


def _place(rng: random.Random, box_w: int, box_h: int, width: int, height: int,
           taken: list[list[int]]) -> list[int] | None:
    """A free box of the given size, well away from other objects and from the centre line."""
    long_side = max(width, height)
    margin, gap = round(MARGIN * long_side), round(GAP * long_side)
    if box_w + 2 * margin > width or box_h + 2 * margin > height:
        return None
    for _ in range(200):
        x1 = rng.randint(margin, width - margin - box_w)
        y1 = rng.randint(margin, height - margin - box_h)
        box = [x1, y1, x1 + box_w, y1 + box_h]
        if abs((box[0] + box[2]) / 2 - width / 2) < CENTRE_GAP * width:
            continue
        if all(box[2] + gap <= o[0] or o[2] + gap <= box[0] or box[3] + gap <= o[1] or o[3] + gap <= box[1]
               for o in taken):
            return box
    return None


def _font(size_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size_px)


def _text_extent(word: str, size_px: int) -> tuple[int, int, int, int]:
    """Ink box of ``word`` drawn at the origin, as (left, top, right, bottom)."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left, top, right, bottom = probe.textbbox((0, 0), word, font=_font(size_px))
    return int(left), int(top), int(right), int(bottom)


def sample_scene(rng: random.Random, width: int, height: int) -> Scene:
    """Background, 1-3 shapes with unique (colour, shape) and sometimes one word."""
    dark = rng.random() < 0.5
    grey = rng.randint(10, 40) if dark else rng.randint(225, 245)
    long_side = max(width, height)
    objects: list[dict[str, Any]] = []
    used: set[tuple[str, str]] = set()
    for _ in range(rng.randint(1, 3)):
        size = rng.choice(tuple(SHAPE_SIZES))
        colour, shape = rng.choice([(c, s) for c in COLOURS for s in SHAPES if (c, s) not in used])
        side = round(SHAPE_SIZES[size] * long_side * rng.uniform(0.9, 1.1))
        box = _place(rng, side, side, width, height, [o["box"] for o in objects])
        if box is not None:
            used.add((colour, shape))
            objects.append({"shape": shape, "colour": colour, "size": size, "box": box})
    if rng.random() < TEXT_PROBABILITY:
        size = rng.choice(tuple(TEXT_SIZES))
        word = rng.choice(WORDS)
        font_px = max(10, round(TEXT_SIZES[size] * long_side))
        left, top, right, bottom = _text_extent(word, font_px)
        box = _place(rng, right - left, bottom - top, width, height, [o["box"] for o in objects])
        if box is not None:
            objects.append({"text": word, "colour": "white" if dark else "black", "size": size, "box": box,
                            "font_px": font_px})
    if not any("shape" in o for o in objects):  # cannot happen with a free canvas; keep the contract
        raise RuntimeError(f"could not place any shape on a {width}x{height} canvas")
    return {"width": width, "height": height, "background": [grey] * 3, "objects": objects}


def render_scene(scene: Scene) -> Image.Image:
    """Draw the scene; every object's ink fills exactly its box (shapes) or its text ink box."""
    image = Image.new("RGB", (scene["width"], scene["height"]), tuple(scene["background"]))
    draw = ImageDraw.Draw(image)
    for obj in scene["objects"]:
        x1, y1, x2, y2 = obj["box"]
        if "text" in obj:
            font = _font(obj["font_px"])
            left, top, _, _ = _text_extent(obj["text"], obj["font_px"])
            fill = (255, 255, 255) if obj["colour"] == "white" else (0, 0, 0)
            draw.text((x1 - left, y1 - top), obj["text"], fill=fill, font=font)
            continue
        fill = COLOURS[obj["colour"]]
        if obj["shape"] == "circle":
            draw.ellipse((x1, y1, x2 - 1, y2 - 1), fill=fill)
        elif obj["shape"] == "square":
            draw.rectangle((x1, y1, x2 - 1, y2 - 1), fill=fill)
        else:
            draw.polygon([(x1, y2 - 1), (x2 - 1, y2 - 1), ((x1 + x2 - 1) / 2, y1)], fill=fill)
    return image


def public_scene(scene: Scene, image: str) -> Scene:
    """The ground-truth entry written to ``scenes_*.json`` (drawing details left out)."""
    objects = [{k: v for k, v in o.items() if k != "font_px"} for o in scene["objects"]]
    return {"image": image, "width": scene["width"], "height": scene["height"], "objects": objects}


# ------------------------------------------------------------------------------------- language
def shapes_of(scene: Scene) -> list[dict[str, Any]]:
    return [o for o in scene["objects"] if "shape" in o]


def describe(obj: dict[str, Any]) -> str:
    """Region caption: "a small blue square" or "the word CAT"."""
    if "text" in obj:
        return f"the word {obj['text']}"
    return f"a {obj['size']} {obj['colour']} {obj['shape']}"


def refer(obj: dict[str, Any]) -> str:
    """Referring expression: "the red circle" ((colour, shape) is unique in a scene) or "the word CAT"."""
    if "text" in obj:
        return f"the word {obj['text']}"
    return f"the {obj['colour']} {obj['shape']}"


def caption(scene: Scene) -> str:
    """Objects listed left to right: "A large red circle and a small blue square."."""
    phrases = [describe(o) for o in sorted(scene["objects"], key=_centre_x)]
    text = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return text[0].upper() + text[1:] + "."


def side_of(obj: dict[str, Any], scene: Scene) -> str | None:
    """"left"/"right" when the image half and the order among objects agree clearly, else None."""
    others = [_centre_x(o) for o in scene["objects"] if o is not obj]
    if not others:
        return None
    cx, width, gap = _centre_x(obj), scene["width"], SIDE_GAP * scene["width"]
    if cx < width / 2 and all(cx + gap <= x for x in others):
        return "left"
    if cx > width / 2 and all(cx - gap >= x for x in others):
        return "right"
    return None


def vqa_candidates(scene: Scene) -> list[tuple[str, str, str]]:
    """Every answerable (question_type, question, one-word answer) about the scene's shapes."""
    shapes = shapes_of(scene)
    shape_counts = Counter(o["shape"] for o in shapes)
    colour_counts = Counter(o["colour"] for o in shapes)
    items = [("count", "How many shapes are there?", str(len(shapes)))]
    for obj in shapes:
        if shape_counts[obj["shape"]] == 1:
            items.append(("colour", f"What colour is the {obj['shape']}?", obj["colour"]))
        if colour_counts[obj["colour"]] == 1:
            items.append(("shape", f"What shape is the {obj['colour']} object?", obj["shape"]))
        side = side_of(obj, scene) if len(shapes) >= 2 else None
        if side is not None:
            items.append(("position", f"Is {refer(obj)} on the left or the right?", side))
    return items


def pick_vqa(rng: random.Random, scene: Scene) -> list[tuple[str, str, str]]:
    """3-4 questions, one per question type first so every type is practised."""
    candidates = vqa_candidates(scene)
    rng.shuffle(candidates)
    first, rest, seen = [], [], set()
    for item in candidates:
        (rest if item[0] in seen else first).append(item)
        seen.add(item[0])
    return (first + rest)[: rng.randint(3, 4)]


def norm_box_text(box: Sequence[float], width: int, height: int) -> str:
    """``[x1, y1, x2, y2]`` normalised by the original image size, two decimals."""
    return format_coords([box[0] / width, box[1] / height, box[2] / width, box[3] / height])


def _llava(record_id: str, image: str, turns: Sequence[str]) -> dict[str, Any]:
    """A LLaVA-Instruct record: ``<image>`` at the start of the first human turn only."""
    conversations = []
    for i, text in enumerate(turns):
        if i == 0:
            text = "<image>\n" + text
        conversations.append({"from": "human" if i % 2 == 0 else "gpt", "value": text})
    return {"id": record_id, "image": image, "conversations": conversations}


@dataclass
class SceneText:
    """Everything written about one scene: the three LLaVA records and the held-out eval items."""

    llava: list[dict[str, Any]]
    vqa: list[tuple[str, str, str]]
    rec: tuple[str, list[int]]


def scene_text(rng: random.Random, scene: Scene, image: str, stem: str) -> SceneText:
    """Caption, multi-turn VQA and grounding (REC then region caption) records for a scene."""
    width, height = scene["width"], scene["height"]
    questions = pick_vqa(rng, scene)
    vqa_turns = [t for _, q, a in questions for t in (f"{q}\n{VQA_SUFFIX}", a)]
    target = rng.choice(scene["objects"])
    region = rng.choice(scene["objects"])
    expression = refer(target)
    grounding = [
        REC_PROMPT.format(description=expression), norm_box_text(target["box"], width, height),
        REGION_PROMPT.format(box=norm_box_text(region["box"], width, height)), describe(region),
    ]
    llava = [
        _llava(f"{stem}_caption", image, [CAPTION_PROMPT, caption(scene)]),
        _llava(f"{stem}_vqa", image, vqa_turns),
        _llava(f"{stem}_grounding", image, grounding),
    ]
    return SceneText(llava, questions, (expression, list(target["box"])))


def _sharegpt_turn(rng: random.Random) -> tuple[str, str]:
    """One question / answer about the demo world, arithmetic or small talk."""
    kind = rng.randrange(8)
    a, b = rng.randint(0, 9), rng.randint(0, 9)
    if kind == 0:
        return "What colours can objects have?", "Objects can be red, green, blue or yellow."
    if kind == 1:
        return "What shapes can objects have?", "Objects can be a circle, a square or a triangle."
    if kind == 2:
        return f"What is {a} plus {b}?", str(a + b)
    if kind == 3:
        return f"What is {max(a, b)} minus {min(a, b)}?", str(max(a, b) - min(a, b))
    if kind == 4:
        corners = rng.choice((("three", "triangle"), ("four", "square"), ("no", "circle")))
        return f"Name a shape with {corners[0]} corners.", corners[1]
    if kind == 5:
        lo = rng.randint(1, 5)
        hi = lo + rng.randint(1, 4)
        return f"Count from {lo} to {hi}.", " ".join(str(n) for n in range(lo, hi + 1))
    if kind == 6:
        word = rng.choice(WORDS)
        return f"Spell the word {word}.", " ".join(word)
    return rng.choice(("Hello!", "Hi there.")), "Hello! Ask me about shapes, colours and numbers."


def sharegpt_records(rng: random.Random, n: int, split: str) -> list[dict[str, Any]]:
    """``n`` ShareGPT dialogues of 1-3 turns."""
    records = []
    for i in range(n):
        conversations = []
        for _ in range(rng.randint(1, 3)):
            question, answer = _sharegpt_turn(rng)
            conversations += [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]
        records.append({"id": f"{split}_{i:05d}_chat", "conversations": conversations})
    return records


# ------------------------------------------------------------------------------------ tokenizer
def scaffolding_text() -> list[str]:
    """Text the model sees besides the corpus: system prompt, separators, role names, digits, boxes."""
    lines = [SYSTEM_PROMPT, "\n###", " Human: ", " Assistant: ", "<p>", "</p>", "0123456789", *WORDS]
    rng = random.Random("demo-tokenizer-boxes")
    for _ in range(500):
        coords = sorted(rng.random() for _ in range(4))
        lines.append(f"<p>{rng.choice(SHAPES)}</p> " + format_coords([coords[0], coords[1], coords[2], coords[3]]))
    lines.append(f"{SYSTEM_PROMPT}\n\n### Human: Hello\n### Assistant: Hello!\n###</s>")  # the sphinx template
    return lines


def corpus_text(records: list[dict[str, Any]]) -> Iterator[str]:
    """Every turn of LLaVA / ShareGPT records."""
    for record in records:
        for turn in record["conversations"]:
            yield turn["value"]


def train_tokenizer(texts: list[str], vocab_size: int, out: Path) -> int:
    """Byte-level BPE (digits split one by one) saved for ``AutoTokenizer``; returns its length.

    No post-processor: encoding adds no special tokens, the training code adds ``<s>`` itself.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - len(ROLE_TOKENS), special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        additional_special_tokens=list(ROLE_TOKENS), clean_up_tokenization_spaces=False,
        chat_template=CHAT_TEMPLATE, model_max_length=4096)
    fast.save_pretrained(str(out))
    return len(fast)


# ---------------------------------------------------------------------------------------- build
def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n")


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def _build_split(out: Path, split: str, n: int, seed: int) -> tuple[list[Scene], list[SceneText]]:
    """Draw, render and describe ``n`` scenes; each scene has its own RNG so prefixes are stable."""
    scenes, texts = [], []
    for i in range(n):
        rng = random.Random(f"demo:{seed}:{split}:{i}")
        width, height = SIZES[i % len(SIZES)]
        scene = sample_scene(rng, width, height)
        image = f"images/{split}_{i:05d}.png"
        render_scene(scene).save(out / image)
        scenes.append(public_scene(scene, image))
        texts.append(scene_text(rng, scene, image, f"{split}_{i:05d}"))
    return scenes, texts


def _clear_old_images(images: Path) -> None:
    """Remove images from an earlier build with other parameters (only files this module writes)."""
    for split in ("train", "heldout"):
        for path in images.glob(f"{split}_*.png"):
            path.unlink()


def build_demo_world(out_dir: str | Path, n_train: int = 1500, n_heldout: int = 200, seed: int = 0,
                     vocab_size: int = 1024) -> dict[str, str]:
    """Write the demo corpus under ``out_dir`` and return the absolute path of every part.

    Idempotent: when ``manifest.json`` records the same parameters, nothing is rewritten. The manifest
    is written last, so an interrupted build is redone on the next call.
    """
    out = Path(out_dir)
    paths = {key: str((out / name).resolve()) for key, name in FILES.items()}
    params = {"n_train": n_train, "n_heldout": n_heldout, "seed": seed, "vocab_size": vocab_size,
              "format_version": FORMAT_VERSION}
    manifest_path = out / FILES["manifest"]
    if manifest_path.exists():
        try:
            if json.loads(manifest_path.read_text()).get("params") == params:
                return paths
        except json.JSONDecodeError:
            pass
    if n_train < 1 or n_heldout < 1:
        raise ValueError(f"n_train and n_heldout must be >= 1, got {n_train} and {n_heldout}")
    (out / "images").mkdir(parents=True, exist_ok=True)
    _clear_old_images(out / "images")

    counts: dict[str, Any] = {}
    corpus: list[str] = []
    built: dict[str, tuple[list[Scene], list[SceneText]]] = {}
    for split, n in (("train", n_train), ("heldout", n_heldout)):
        scenes, texts = built[split] = _build_split(out, split, n, seed)
        llava = [r for t in texts for r in t.llava]
        sharegpt = sharegpt_records(random.Random(f"demo:{seed}:{split}:sharegpt"), max(1, n // 2), split)
        _write_json(out / FILES[f"scenes_{split}"], scenes)
        _write_json(out / FILES[f"llava_{split}"], llava)
        _write_json(out / FILES[f"sharegpt_{split}"], sharegpt)
        corpus += corpus_text(llava + sharegpt)
        counts.update({f"scenes_{split}": len(scenes), f"llava_{split}": len(llava),
                       f"sharegpt_{split}": len(sharegpt)})
    vqa_rows, rec_rows = _eval_rows(*built["heldout"])
    _write_jsonl(out / FILES["vqa_heldout"], vqa_rows)
    _write_jsonl(out / FILES["rec_heldout"], rec_rows)
    counts["vqa_heldout"] = len(vqa_rows)
    counts["vqa_heldout_by_type"] = dict(sorted(Counter(r["question_type"] for r in vqa_rows).items()))
    counts["rec_heldout"] = len(rec_rows)

    counts["tokenizer_vocab"] = train_tokenizer(corpus + scaffolding_text(), vocab_size, out / FILES["tokenizer"])
    _write_json(manifest_path, {"params": params, "counts": counts, "paths": dict(FILES)})
    return paths


def _eval_rows(scenes: list[Scene], texts: list[SceneText]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Held-out VQA questions (no answer-format suffix) and REC items, numbered from 0."""
    vqa_rows, rec_rows = [], []
    for scene, text in zip(scenes, texts, strict=True):
        for question_type, question, answer in text.vqa:
            vqa_rows.append({"question_id": len(vqa_rows), "image": scene["image"], "question": question,
                             "answer": answer, "question_type": question_type})
        expression, box = text.rec
        rec_rows.append({"question_id": len(rec_rows), "image": scene["image"], "expression": expression,
                         "box": box, "width": scene["width"], "height": scene["height"]})
    return vqa_rows, rec_rows


def main(argv: Sequence[str] | None = None) -> int:
    """``sphinx-x-demo-data --out DIR``: build the demo world and print its manifest path."""
    parser = argparse.ArgumentParser(prog="sphinx-x-demo-data", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--train", type=int, default=1500, help="training scenes")
    parser.add_argument("--heldout", type=int, default=200, help="held-out scenes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the scenes and their texts")
    parser.add_argument("--vocab-size", type=int, default=1024, help="size of the byte-level BPE tokenizer")
    args = parser.parse_args(argv)
    paths = build_demo_world(args.out, args.train, args.heldout, args.seed, args.vocab_size)
    print(paths["manifest"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
