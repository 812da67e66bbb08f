"""Page quality checks: Unicode character statistics, normalised-text hashes, the page verdict.

Broken font encodings show up in three ways, each judged on its own:

- glyphs MuPDF cannot map to Unicode (U+FFFD, private-use, unassigned, control characters):
  ``bad_unicode``;
- symbol soup (glyph codes read as punctuation): ``symbol_soup``, the share of punctuation and
  symbols among the characters once leaders (runs like ``. . . .``, ``____``) are set aside, so
  tables of contents, number tables and code, which are legitimately light on letters, pass;
- letters strewn over scripts the page does not use (a CID font read without its map):
  ``foreign_script``, the share of letters outside the page's own scripts (those holding at least
  ``FOREIGN_SCRIPT_SHARE`` of its letters; Latin, Greek and mathematical letters always belong).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from sphinx_x.engines.ocr.config import OcrConfig

BAD_CHARS = re.compile("[\ufffd\ue000-\uf8ff\U000f0000-\U0010ffff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
LEADERS = re.compile(r"([.\u00b7\u2022\u2219\u22c5\u2026_\-\u2013\u2014])(?:\s*\1){2,}")
FOREIGN_SCRIPT_SHARE = 0.1  # a script holding less of the page's letters is foreign to it
_ALWAYS_OWN = frozenset({"LATIN", "GREEK", "MATHEMATICAL"})
_FAMILIES = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK", "BOPOMOFO": "CJK", "HALFWIDTH": "CJK",
             "FULLWIDTH": "LATIN", "IDEOGRAPHIC": "CJK"}
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CharStats:
    """Counts over the non-space characters of a page."""

    chars: int
    bad: int  # replacement, private-use, unassigned, surrogate or control characters
    alnum: int
    symbols: int = 0  # punctuation and symbols outside leaders
    leaders: int = 0  # characters in leader runs (". . . .", "____", "----")
    letters: int = 0
    foreign: int = 0  # letters outside the page's scripts

    @property
    def bad_ratio(self) -> float:
        return self.bad / self.chars if self.chars else 0.0

    @property
    def alnum_ratio(self) -> float:
        return self.alnum / self.chars if self.chars else 0.0

    @property
    def symbol_ratio(self) -> float:
        counted = self.chars - self.leaders
        return self.symbols / counted if counted > 0 else 0.0

    @property
    def foreign_ratio(self) -> float:
        return self.foreign / self.letters if self.letters else 0.0


def char_stats(text: str) -> CharStats:
    """Unicode characteristics of ``text`` (whitespace ignored)."""
    compact = _SPACE.sub("", text)
    counts = Counter(compact)
    bad = sum(n for c, n in counts.items() if _is_bad(c))
    leaders = sum(len(_SPACE.sub("", m.group(0))) for m in LEADERS.finditer(text))
    alnum = symbols = 0
    scripts: Counter[str] = Counter()
    for c, n in counts.items():
        if _is_bad(c):
            continue
        kind = _kind(c)
        if kind == "symbol":
            symbols += n
        elif kind != "other":
            alnum += n
            if kind != "digit":
                scripts[kind] += n
    symbols = max(0, symbols - leaders)
    letters = sum(scripts.values())
    own = {s for s, n in scripts.items() if s in _ALWAYS_OWN or n >= FOREIGN_SCRIPT_SHARE * letters}
    foreign = sum(n for s, n in scripts.items() if s not in own)
    return CharStats(len(compact), bad, alnum, symbols, leaders, letters, foreign)


def text_verdict(stats: CharStats, cfg: OcrConfig) -> tuple[str, str] | None:
    """``(reason, detail)`` when a page with text fails a filter, else None."""
    if stats.chars < cfg.min_chars:
        return "too_little_text", f"{stats.chars} chars < min_chars={cfg.min_chars}"
    if stats.bad_ratio > cfg.max_bad_char_ratio:
        return "bad_unicode", f"{stats.bad_ratio:.2f} unmapped chars > max_bad_char_ratio={cfg.max_bad_char_ratio}"
    if stats.symbol_ratio > cfg.max_symbol_ratio:
        return "symbol_soup", (f"{stats.symbol_ratio:.2f} punctuation/symbols (leaders aside) > "
                               f"max_symbol_ratio={cfg.max_symbol_ratio}")
    if stats.foreign_ratio > cfg.max_foreign_script_ratio:
        return "foreign_script", (f"{stats.foreign_ratio:.2f} of letters outside the page's scripts > "
                                  f"max_foreign_script_ratio={cfg.max_foreign_script_ratio}")
    return None


def has_bad_chars(text: str) -> bool:
    """Whether ``text`` holds a glyph that did not map to Unicode (its line is left out of answers)."""
    return bool(BAD_CHARS.search(text)) or (not text.isascii() and any(_is_bad(c) for c in text if ord(c) > 0x9F))


def text_hash(text: str) -> str:
    """Hash of the text lower-cased with whitespace collapsed: equal for duplicate pages."""
    normal = " ".join(text.lower().split())
    return hashlib.blake2b(normal.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


@lru_cache(maxsize=65536)
def _is_bad(c: str) -> bool:
    return bool(BAD_CHARS.match(c)) or (ord(c) > 0x9F and unicodedata.category(c) in ("Cn", "Cs"))


@lru_cache(maxsize=65536)
def _kind(c: str) -> str:
    """``digit``, ``symbol``, ``other`` (marks, bad characters) or the letter's script."""
    category = unicodedata.category(c)
    if category[0] == "N":
        return "digit"
    if category[0] in "PS":
        return "symbol"
    if category[0] != "L":
        return "other"
    script = unicodedata.name(c, "UNKNOWN").split(" ", 1)[0]
    return _FAMILIES.get(script, script)
