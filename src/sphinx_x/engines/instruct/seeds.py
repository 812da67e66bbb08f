"""Seed questions per domain (about ten each, as in the paper) and the deterministic choice of the few
shown to the LLM per call. A JSON file ``{"domain": ["question", ...]}`` adds domains or replaces these."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from pathlib import Path

DEFAULT_SEEDS: dict[str, list[str]] = {
    "natural": [
        "What is the main object in the image?", "How many people are in the picture?",
        "What colour is the largest object?", "What is the weather like in this scene?",
        "Where is the object on the left placed relative to the one on the right?",
        "What activity is taking place?", "Is this scene indoors or outdoors?",
        "What material does the main object seem to be made of?", "What time of day does it seem to be?",
        "What is behind the main object?"],
    "chart": [
        "What type of chart is shown?", "What is the title of the chart?", "Which category has the highest value?",
        "Which category has the lowest value?", "What does the x-axis represent?", "What unit is the y-axis in?",
        "How many categories are compared?", "What trend does the chart show over time?",
        "What is the difference between the two largest values?", "What does the legend say?"],
    "document": [
        "What is the title of the document?", "What kind of document is this?", "Who is the author or sender?",
        "What date is written on the page?", "What is the main topic of the first paragraph?",
        "How many sections does the page have?", "What is written in the header?", "Is there a table on the page?",
        "What does the caption of the figure say?", "What is the total amount mentioned?"],
    "screen": [
        "Which application is shown?", "What can the user do on this screen?", "What does the largest button say?",
        "Is there a search field?", "What is the title of the page?", "How many menu items are visible?",
        "What happens when the highlighted button is pressed?", "Is the user logged in?",
        "What notification is shown?", "Which tab is selected?"],
    "artwork": [
        "What style is this artwork painted in?", "What is the subject of the painting?",
        "Which colours dominate the artwork?", "What mood does the artwork convey?",
        "Is this a portrait, a landscape or a still life?", "What is in the foreground?",
        "What medium was used?", "Where is the light coming from?", "How many figures are depicted?",
        "What is the figure in the centre doing?"],
    "landmark": [
        "Which landmark is shown?", "In which city is this building?", "What architectural style is it?",
        "What is the building made of?", "How many towers does it have?", "Are there people near the landmark?",
        "What is in front of the building?", "Is the photo taken at day or at night?",
        "What is the landmark used for?", "What stands next to the landmark?"],
    "food": [
        "What dish is shown?", "What ingredients can be seen?", "How many plates are on the table?",
        "What is the food served on?", "Is the dish hot or cold?", "Which cuisine does the dish belong to?",
        "What drink is next to the food?", "What colour is the sauce?", "Is there any cutlery?",
        "How is the food garnished?"],
    "traffic_sign": [
        "What does the traffic sign mean?", "What shape is the sign?", "What colour is the sign?",
        "What text is written on the sign?", "What should a driver do here?", "How many signs are visible?",
        "What speed limit is shown?", "Where is the sign mounted?", "Is there a traffic light?",
        "What vehicles are near the sign?"],
}


def load_seeds(path: str | Path | None) -> dict[str, list[str]]:
    """The default seeds with the file's domains on top (a ValueError names what is wrong with the file)."""
    seeds = {domain: list(questions) for domain, questions in DEFAULT_SEEDS.items()}
    if path is None:
        return seeds
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"seeds file {path}: {e}") from e
    if not isinstance(data, dict):
        raise ValueError(f"seeds file {path}: expected an object {{domain: [questions]}}")
    for domain, questions in data.items():
        if not isinstance(questions, list) or not questions or not all(isinstance(q, str) and q.strip() for q in questions):
            raise ValueError(f"seeds file {path}: domain {domain!r} needs a non-empty list of question strings")
        seeds[domain] = [q.strip() for q in questions]
    return seeds


def sample_seeds(seeds: Mapping[str, list[str]], domain: str, k: int, key: str, seed: int = 0) -> list[str]:
    """``k`` of the domain's seed questions (all when fewer), chosen from ``(seed, key)``."""
    pool = seeds[domain]
    rng = random.Random(int.from_bytes(hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest(), "little"))
    return rng.sample(pool, min(k, len(pool)))
