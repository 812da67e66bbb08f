"""Joining the lines of a paragraph, and deciding whether a hyphen at a line end is the typesetter's
(remove it: "infor-" + "mation") or the word's own (keep it: "non-" + "overlapping").

The decision uses the document's own vocabulary (words and hyphenated words seen elsewhere in the
PDF) and a small list shipped here: compound-forming prefixes, and common closed compounds whose
two halves are words themselves ("with-" + "out").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HYPHENS = ("-", "\u2010")
SOFT_HYPHEN = "\u00ad"
# prefixes that form hyphenated compounds ("non-overlapping", "self-attention", "multi-scale")
PREFIXES = frozenset("""non self multi semi anti pseudo quasi cross inter intra post pre sub super ultra
well ill half counter meta micro macro mid""".split())
# common closed compounds whose halves are words too; the document's own vocabulary adds more
CLOSED_COMPOUNDS = frozenset("""without within withdraw something someone somewhat sometimes somewhere anything
anyone anyway anywhere everything everyone everywhere nothing nowhere however whatever whenever wherever
whereas whereby therefore thereby therein thereafter furthermore moreover nevertheless nonetheless
otherwise meanwhile throughout understand understanding underlying undergo underline overall overview
overlap overlapping overcome override overhead output outcome outline outperform outperforms
outperformed input inputs insight inside outside online offline upon into onto itself himself herself
themselves ourselves yourself another cannot become became background benchmark benchmarks breakthrough
database dataset datasets framework frameworks network networks workflow workload keyword keywords
pipeline pipelines software hardware firmware feedback footnote headline highlight landmark lifetime
notebook password playground postprocessing preprocessing runtime setup shortcut spreadsheet standpoint
textbook timestamp toolkit trademark viewpoint website whiteboard worldwide checkpoint checkpoints
downstream upstream groundtruth layout layouts""".split())
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")
_LETTERS = re.compile(r"[^\W\d_]+")
_HYPHENATED = re.compile(r"(?<![^\W\d_])[^\W\d_]+(?:[-\u2010][^\W\d_]+)+")
_URLISH = re.compile(r"://|www\.|[/@\\]")


@dataclass
class Vocabulary:
    """Lower-cased words and hyphenated words seen in a document."""

    words: set[str] = field(default_factory=set)
    hyphenated: set[str] = field(default_factory=set)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Vocabulary:
        """Words of ``texts`` (lines), leaving out a fragment hyphenated at a line end."""
        vocab = cls()
        for text in texts:
            low = text.lower()
            if low.endswith((*HYPHENS, SOFT_HYPHEN)):
                low = low[: low.rfind(" ") + 1]
            vocab.words.update(_LETTERS.findall(low))
            if "-" in low or "\u2010" in low:
                vocab.hyphenated.update(w.replace("\u2010", "-") for w in _HYPHENATED.findall(low))
        return vocab

    def knows(self, word: str) -> bool:
        """Whether ``word`` (or it without a common suffix) was seen or is shipped."""
        candidates = {word}
        for suffix in ("s", "es", "ed", "d", "ing", "ly", "er"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                candidates.add(word[: -len(suffix)])
        return any(w in self.words or w in CLOSED_COMPOUNDS or w in PREFIXES for w in candidates)


def join_lines(texts: Sequence[str], vocab: Vocabulary | None = None) -> tuple[str, int]:
    """Lines of one paragraph joined with spaces; a word hyphenated at a line end before a lower-case
    continuation is joined ("infor-" + "mation" -> "information") unless :func:`keeps_hyphen` says
    the hyphen is the word's own; soft hyphens always join. Returns the text and the joins made."""
    out = ""
    merges = 0
    for text in texts:
        if out.endswith(SOFT_HYPHEN):
            out = out[:-1] + text
            merges += 1
        elif out.endswith(HYPHENS) and len(out) > 1 and out[-2].isalpha() and text[:1].islower():
            left = out.rsplit(" ", 1)[-1][:-1]
            out = (out if keeps_hyphen(left, text.split(" ", 1)[0], vocab) else out[:-1]) + text
            merges += 1
        else:
            out = f"{out} {text}" if out else text
    return out.replace(SOFT_HYPHEN, ""), merges


def keeps_hyphen(left: str, right: str, vocab: Vocabulary | None = None) -> bool:
    """Whether "``left``-" at a line end followed by ``right`` is a hyphenated word (keep "-"): a URL
    or a compound already; the hyphenated form seen in the document (unless the joined one is too);
    or both halves known words (a prefix counts) while the joined form is neither seen nor shipped."""
    if _URLISH.search(left) or any(h in left for h in HYPHENS):
        return True  # a URL or path, or a compound already ("state-of-the-" + "art")
    head = _WORD.findall(left.lower())
    tail = _WORD.match(right.lower())
    if not head or tail is None:
        return False
    first, second = head[-1], tail.group(0)
    vocab = vocab or Vocabulary()
    if first + second in vocab.words:
        return False
    if f"{first}-{second}" in vocab.hyphenated:
        return True
    if first + second in CLOSED_COMPOUNDS:
        return False
    return len(first) >= 2 and vocab.knows(first) and vocab.knows(second) and not vocab.knows(first + second)
