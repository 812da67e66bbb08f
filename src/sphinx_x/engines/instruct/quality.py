"""MMInstruct's quality rules on the LLM's items: answers grounded in the caption, exactly four options with
exactly one correct (then shuffled), Yes/No balance per image, length bounds per type, no repeated question.
Every dropped item gets a reason (rejects.jsonl)."""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sphinx_x.engines.instruct.config import InstructConfig
from sphinx_x.engines.instruct.tagged import TaggedItem

LETTERS = "ABCD"
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
OPTION_SPLIT = re.compile(r"(?:^|\s+)\(?([A-D])[.):]\s+")
STOPWORDS = frozenset(
    "a an the and or but of in on at to for from by with without into onto over under is are was were be been being "
    "it its this that these those there here he she they them his her their we you your i me my our as than then so "
    "very can could would should will do does did has have had not no yes some any all each every which what who whom "
    "whose where when why how image picture photo shown shows seen visible appears".split())
NUMBERS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}

Reject = tuple[int | None, str, str]  # (item index, reason, detail)


@dataclass(frozen=True)
class QA:
    """One kept question/answer item (multiple choice: ``options`` after shuffling, ``answer`` a letter)."""

    qtype: str
    question: str
    answer: str
    options: tuple[str, ...] = ()
    context: str = ""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["options"] = list(self.options)
        return out


def content_words(text: str) -> set[str]:
    """Lower-case words without stop words; number words as digits."""
    return {NUMBERS.get(w, w) for w in WORD.findall(text.lower()) if w not in STOPWORDS}


def _forms(word: str) -> set[str]:
    forms = {word}
    if len(word) > 3 and word.endswith("s"):
        forms |= {word[:-1], word[:-2] if word.endswith("es") else word[:-1]}
    return forms


def grounding(text: str, caption: str) -> float:
    """Share of ``text``'s content words (up to a plural s / es) found in ``caption``; 0 without any."""
    words = content_words(text)
    if not words:
        return 0.0
    known = set().union(*(_forms(w) for w in content_words(caption))) if caption else set()
    return sum(1 for w in words if _forms(w) & known) / len(words)


def normalise_question(text: str) -> str:
    return " ".join(WORD.findall(text.lower()))


def check_items(qtype: str, items: Iterable[TaggedItem], caption: str, cfg: InstructConfig, key: str,
                seen: set[str]) -> tuple[list[QA], list[Reject]]:
    """The items of one call that pass ``qtype``'s rules, and a reject per dropped item. ``seen`` holds the
    image's questions so far (normalised) and is updated; ``key`` seeds the option and judgement order."""
    kept: list[QA] = []
    rejects: list[Reject] = []
    for item in items:
        norm = normalise_question(item.question)
        if norm in seen:
            rejects.append((item.index, "duplicate_question", item.question[:200]))
            continue
        try:
            qa = _check_one(qtype, item, caption, cfg, f"{key}:{item.index}")
        except _Dropped as e:
            rejects.append((item.index, e.reason, e.detail))
            continue
        seen.add(norm)
        kept.append(qa)
    if qtype == "judgement":
        kept, more = _balance(kept, cfg, key)
        rejects += more
    return kept, rejects


class _Dropped(Exception):
    def __init__(self, reason: str, detail: str):
        self.reason, self.detail = reason, detail


def _check_one(qtype: str, item: TaggedItem, caption: str, cfg: InstructConfig, key: str) -> QA:
    if qtype == "judgement":
        first = WORD.findall(item.answer.lower())[:1]
        if first not in (["yes"], ["no"]):
            raise _Dropped("bad_yes_no", f"answer {item.answer[:80]!r} is not Yes or No")
        answer = first[0].capitalize()
        if answer == "Yes":
            _grounded(item.question, caption, cfg, "ungrounded_answer", "a Yes question")
        return QA(qtype, item.question, answer, context=item.context)
    if qtype == "choice":
        return _choice(item, caption, cfg, key)
    words = len(WORD.findall(item.answer.lower()))
    if qtype == "short" and words > cfg.short_max_words:
        raise _Dropped("answer_too_long", f"{words} words in a short answer (at most {cfg.short_max_words})")
    if qtype == "long" and words < cfg.long_min_words:
        raise _Dropped("answer_too_short", f"{words} words in a long answer (at least {cfg.long_min_words})")
    _grounded(item.answer, caption, cfg, "ungrounded_answer", "the answer")
    return QA(qtype, item.question, item.answer, context=item.context)


def _grounded(text: str, caption: str, cfg: InstructConfig, reason: str, what: str) -> None:
    share = grounding(text, caption)
    if share < cfg.min_grounding:
        missing = sorted(w for w in content_words(text) if grounding(w, caption) == 0)[:8]
        raise _Dropped(reason, f"{what}: {share:.2f} of its words in the caption (need {cfg.min_grounding}); "
                               f"not there: {missing}")


def _choice(item: TaggedItem, caption: str, cfg: InstructConfig, key: str) -> QA:
    parts = OPTION_SPLIT.split(item.context.strip())
    letters, texts = parts[1::2], [t.strip() for t in parts[2::2]]
    if "".join(letters) != LETTERS or parts[0].strip():
        raise _Dropped("bad_options", f"need options A, B, C, D in order, got {letters or 'none'} in "
                                      f"{item.context[:120]!r}")
    if not all(texts) or len({t.casefold() for t in texts}) != 4:
        raise _Dropped("duplicate_options", f"options must be four distinct non-empty texts: {texts}")
    correct = _correct_letter(item.answer, texts)
    _grounded(texts[LETTERS.index(correct)], caption, cfg, "ungrounded_answer", "the correct option")
    order = _rng(key).sample(range(4), 4)
    options = tuple(texts[i] for i in order)
    return QA("choice", item.question, LETTERS[order.index(LETTERS.index(correct))], options, "")


def _correct_letter(answer: str, texts: list[str]) -> str:
    matches = [LETTERS[i] for i, t in enumerate(texts) if answer.strip().rstrip(".").casefold() == t.rstrip(".").casefold()]
    if matches:
        return matches[0]
    named = set(re.findall(r"(?<![A-Za-z])([A-D])(?![A-Za-z])", answer))
    if len(named) > 1:
        raise _Dropped("several_correct", f"answer {answer[:80]!r} names options {sorted(named)}")
    if not named:
        raise _Dropped("no_correct_option", f"answer {answer[:80]!r} names no option A-D")
    return named.pop()


def _balance(kept: list[QA], cfg: InstructConfig, key: str) -> tuple[list[QA], list[Reject]]:
    """``cfg.yes`` Yes and ``cfg.no`` No items in a seeded order, or none when the call gave fewer."""
    yes = [qa for qa in kept if qa.answer == "Yes"]
    no = [qa for qa in kept if qa.answer == "No"]
    if len(yes) < cfg.yes or len(no) < cfg.no:
        detail = f"{len(yes)} Yes and {len(no)} No items; need {cfg.yes} + {cfg.no}"
        return [], [(None, "judgement_unbalanced", detail)] * max(1, len(kept))
    surplus = [(None, "judgement_surplus", f"beyond {cfg.yes} Yes + {cfg.no} No: {qa.question[:120]}")
               for qa in yes[cfg.yes:] + no[cfg.no:]]
    chosen = yes[:cfg.yes] + no[:cfg.no]
    _rng(key).shuffle(chosen)
    return chosen, surplus


def _rng(key: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little"))
