"""Every task's instruction pool, in one registry, and the deterministic choice of a prompt.

:data:`DEFAULT_POOLS` registers every pool: the papers' tasks (:data:`PAPER_POOLS`, verbatim SPHINX
prompts first, then paraphrases), dataset tasks the papers give no verbatim prompt for
(:data:`DATASET_POOLS`), the OCR tasks (:data:`OCR_POOLS`) and the Set-of-Mark
and multipanel tasks (:data:`SOM_POOLS`) and MMInstruct's question types (:data:`MMINSTRUCT_POOLS`). A :class:`PromptPool` is that registry
with a run's own pools on top (theirs win): the one way pools are merged.

A prompt is picked deterministically from ``(seed, key)`` so that a rebuilt dataset is identical;
``fixed=True`` always takes the first (verbatim) prompt, for Lynx's "diverse prompts" ablation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

# SPHINX's multiple-choice form: the question, this line, one "A. option" line per option, then the prompt.
OPTIONS_HEADER = "There are several options:"

# Verbatim SPHINX prompts come first in every pool (PAPER_NOTES.md).
PAPER_POOLS: dict[str, list[str]] = {
    "vqa": [
        "Answer the question using a single word or phrase.",
        "Reply with a single word or a short phrase.",
        "Give a one-word or short-phrase answer.",
    ],
    # Follows the options block (OPTIONS_HEADER, then "A. ..." lines).
    "multiple_choice": [
        "Answer with the option's letter from the given choices directly.",
        "Reply with the letter of the correct option only.",
    ],
    "rec": [
        "Please provide the bounding box coordinate of the region this sentence describes: {description}.",
        "Locate the region described by \"{description}\" and give its bounding box.",
        "Where is {description}? Answer with a bounding box.",
    ],
    "region_caption": [
        "Please provide a short description for this region: {box}",
        "Briefly describe what is inside {box}.",
        "What is shown in the region {box}? Answer briefly.",
    ],
    "detection": [
        "Detect all objects shown in the image.",
        "Find every object in the image and give its bounding box.",
        "List all objects in the image with their bounding boxes.",
    ],
    # SPHINX's pose data starts by finding the people, then asks for each one's key points.
    "person_detection": [
        "Detect all people shown in the image.",
        "Find every person in the image and give their bounding boxes.",
        "Locate all the people in the image.",
    ],
    # Relationship grounding: {description} is "subject predicate object"; the answer is the subject's box.
    # Verbatim from the authors' SPHINX demo (accessory/demos/multi_turn_mm_box.py), space before the colon included.
    "relation": [
        "Please provide the bounding box coordinate of the region this sentence describes : {description}.",
        "Locate the {description} and give its bounding box.",
        "Where is the {description}? Answer with a bounding box.",
    ],
    "detection_category": [
        "detect all {category} shown in the image.",
        "Find every {category} in the image and give the bounding boxes.",
        "Locate all instances of {category}.",
    ],
    "pose": [
        "Detect the key points of the person in the region {box}.",
        "Give the body key points of the person at {box}.",
    ],
    "layout": [
        "Detect all texts and provide their bounding box coordinates.",
        "Find every piece of text in the image and give its bounding box.",
    ],
    "grounded_caption": [
        "Describe the image concisely. Include the bounding box for each mentioned object.",
        "Give a short description of the image with a bounding box after every object you mention.",
    ],
    "caption": [
        "Describe the image concisely.",
        "Write a short caption for this image.",
        "Summarise the image in one sentence.",
    ],
    "detailed_caption": [
        "Describe the image in detail.",
        "Give a detailed description of this image.",
        "Describe everything you see in this image.",
    ],
    "classification": [
        "What is the main object in the image? Answer with its category name.",
        "Classify the image. Answer with a category name.",
        "Which category does the main object of this image belong to?",
    ],
    "textvqa": [
        "Reference OCR token: {ocr} Answer the question using a single word or phrase.",
    ],
    "vizwiz": [
        "When the provided information is insufficient, respond with 'Unanswerable'. "
        "Answer the question using a single word or phrase.",
    ],
}

# Dataset tasks the papers give no verbatim prompt for.
DATASET_POOLS: dict[str, list[str]] = {
    # Key information extraction (DeepForm, KleisterCharity): {field} is the field name in words.
    "kie": [
        "What is the value for the {field}?",
        "What is the {field} in this document?",
        "Extract the {field} from the document.",
    ],
    # Table fact verification (TabFact): the answer is "Yes" or "No".
    "table_fact": [
        "Is the following statement supported by the table? {statement} Answer yes or no.",
        "According to the table, is this statement true? {statement} Answer yes or no.",
        "Verify the statement against the table: {statement} Answer yes or no.",
    ],
    # Abstractive reading comprehension (VisualMRC): answers are full sentences.
    "sentence_qa": [
        "Answer the question with a complete sentence.",
        "Reply in one full sentence.",
        "Give a short answer written as a complete sentence.",
    ],
}

# OCR tasks (readers of OCR datasets and the PDF engine). Fields: ``{box}`` is a ``<region:K>``
# placeholder, ``{text}`` a quoted piece of page text.
OCR_POOLS: dict[str, list[str]] = {
    "ocr_page": [
        "Read all the text in the image.",
        "Transcribe all the text on this page in reading order.",
        "What is written in this document? Give the full text in reading order.",
        "Perform OCR on this page and output its text.",
    ],
    "ocr_region": [
        "Read the text inside {box}.",
        "What text is written in the region {box}?",
        "Transcribe the text in {box}.",
        "Give the text contained in {box}.",
    ],
    "text_spotting": [
        "Detect all texts and provide their bounding box coordinates.",
        "Find every line of text in the image and give its bounding box.",
        "Spot all the text in the image: write each text line followed by its bounding box.",
    ],
    "text_spotting_region": [
        "Detect all texts inside {box} and provide their bounding box coordinates.",
        "Find every line of text inside {box} and give its bounding box.",
        "Spot all the text in the region {box}: write each text line followed by its bounding box.",
    ],
    "text_grounding": [
        "Where is the text \"{text}\"? Answer with its bounding box.",
        "Locate the text \"{text}\" in the image and give its bounding box.",
        "Please provide the bounding box coordinate of the text \"{text}\".",
    ],
    "layout_blocks": [
        "Detect all layout elements in the document and provide their categories and bounding box coordinates.",
        "Find every layout block on this page and give its category and bounding box.",
        "Analyse the page layout: list each block's category with its bounding box.",
    ],
    "layout_blocks_region": [
        "Detect all layout elements inside {box} and provide their categories and bounding box coordinates.",
        "Find every layout block inside {box} and give its category and bounding box.",
    ],
}

# Set-of-Mark and multipanel tasks (sphinx-x-build-som, docs/som.md); records are about the raw image, so a
# mark is named by its box: ``{box}``, ``{a}``, ``{b}`` are ``<region:K>`` placeholders, ``{kind}`` says what
# the marks are ("object", "UI element", ...), ``{panel}`` / ``{a}`` / ``{b}`` in panel pools name a panel: "panel (b)".
SOM_POOLS: dict[str, list[str]] = {
    "som_caption": [
        "Describe the image in detail. Include the bounding box for each mentioned object.",
        "Give a detailed description of the image with a bounding box after every object you mention.",
        "What does this image show? Describe it and give the bounding box of each thing you mention.",
    ],
    "som_relation": [
        "What is the relation between {a} and {b}?",
        "How is {a} related to {b}?",
        "Describe how {a} and {b} relate to each other.",
    ],
    "som_list": [
        "List every {kind} in the image with its name and bounding box.",
        "Find all the {kind}s in the image and give each one's name and bounding box.",
        "Name each {kind} you can see and give its bounding box.",
    ],
    "som_count": [
        "How many {category} are there in the image? Answer with a number.",
        "Count the {category} in the image. Answer with a number.",
        "What is the number of {category} in this image?",
    ],
    "som_region_name": [
        "What is the {kind} at {box}? Answer with its name.",
        "Name the {kind} in the region {box}.",
        "Which {kind} is shown at {box}? Give its name only.",
    ],
    "panel_count": [
        "How many panels does this figure have?",
        "How many sub-images are in this picture? Answer with a number.",
    ],
    "panel_which": [
        "Which panel shows {thing}? Answer with the panel label.",
        "In which panel can you see {thing}? Answer with its label.",
    ],
    "panel_caption": [
        "Describe {panel}.",
        "What is shown in {panel}?",
        "Give a short description of {panel}.",
    ],
    "panel_compare": [
        "Which panel shows more {thing}: {a} or {b}? Answer with the panel label.",
        "Compare {a} and {b}: which one has more {thing}? Answer with the panel label.",
    ],
    "panel_locate": [
        "In {panel}, where is the {thing}? Answer with its bounding box.",
        "Locate the {thing} in {panel} and give its bounding box.",
    ],
    "panel_relation": [
        "How does {a} relate to {b}?",
        "Compare {a} with {b}.",
    ],
}


# MMInstruct's four question types (sphinx-x-build-instruct, docs/mminstruct.md): the question, then the type
# hint (the paper's verbatim hint first). ``{options}`` is the options block (OPTIONS_HEADER, "A. ..." lines).
MMINSTRUCT_POOLS: dict[str, list[str]] = {
    "mmi_judgement": [
        "{question} Please answer with 'Yes' or 'No'.",
        "{question} Answer with 'Yes' or 'No'.",
        "{question} Reply Yes or No.",
    ],
    "mmi_choice": [
        "{question}\n{options}\nChoose the correct option.",
        "{question}\n{options}\nPick the right option.",
        "{question}\n{options}\nWhich option is correct?",
    ],
    "mmi_short": [
        "{question} Answer concisely.",
        "{question} Give a short answer.",
        "{question} Answer in a few words.",
    ],
    "mmi_long": [
        "{question} Provide an extensive response.",
        "{question} Answer in detail.",
        "{question} Give a thorough, detailed answer.",
    ],
}


def _register(*groups: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The groups' pools in one dict; a task registered twice is an error (one pool per task)."""
    pools: dict[str, list[str]] = {}
    for group in groups:
        if twice := sorted(set(pools) & set(group)):
            raise ValueError(f"prompt pools registered twice: {twice}")
        pools.update(group)
    return pools


DEFAULT_POOLS: dict[str, list[str]] = _register(PAPER_POOLS, DATASET_POOLS, OCR_POOLS, SOM_POOLS,
                                                     MMINSTRUCT_POOLS)


class PromptPool:
    """Chooses an instruction for a task, deterministically from ``(seed, key)``; ``pools`` are added
    to (and override) the registry :data:`DEFAULT_POOLS`."""

    def __init__(self, pools: Mapping[str, list[str]] | None = None, seed: int = 0, fixed: bool = False):
        self.pools = {**DEFAULT_POOLS, **{k: list(v) for k, v in (pools or {}).items()}}
        for task, pool in self.pools.items():
            if not pool:
                raise ValueError(f"prompt pool for task {task!r} is empty")
        self.seed = seed
        self.fixed = fixed

    def pick(self, task: str, key: str = "", **fields: str) -> str:
        """The chosen prompt for ``task`` with ``{fields}`` filled in."""
        if task not in self.pools:
            raise KeyError(f"no prompt pool for task {task!r}; known: {sorted(self.pools)}")
        pool = self.pools[task]
        index = 0 if self.fixed else _stable_hash(f"{self.seed}:{task}:{key}") % len(pool)
        return pool[index].format(**fields) if fields else pool[index]


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
