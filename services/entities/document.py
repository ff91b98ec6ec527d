"""Tokenising: an article as the rules and the tagger read it, and the spans the passes claim on it.

:class:`_Doc` splits the matching text into runs of word characters (the tokens) and the gaps between them, with
offsets into the display text (the two forms have the same length); :func:`_candidates` gives a token's forms without
an attached Arabic proclitic (و ف ب ل ك and their combinations, لل = ل + ال).  A pass claims tokens with a
:class:`_Span` (:func:`_claim`): its type, canonical id, name, confidence (the ``CONF_*`` of its evidence) and kind.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from operator import itemgetter
from typing import Final

from schemas.models import EntityType

# Confidence by the kind of evidence.
CONF_MULTI: Final = 0.95
CONF_SINGLE: Final = 0.85
CONF_CONTEXT_ALIAS: Final = 0.7
CONF_MINISTRY: Final = 0.75
CONF_TITLE_PERSON: Final = 0.65
CONF_NISBA: Final = 0.6
CONF_SHORT_FORM: Final = 0.6
CONF_GIVEN_NAME: Final = 0.6
CONF_REPORTED: Final = 0.55
CONF_VARIANT: Final = 0.6  # a spelling variant of an alias (services/entities/variants.py)
CONF_ORG_PATTERN: Final = 0.6

_TOKEN: Final = re.compile(r"\w+\+?")
_SPLIT: Final = re.compile(r"(\w+\+?)")


def _bmp_word_class() -> str:
    r"""``\w`` as an explicit class: the runs of consecutive word characters of the Basic Multilingual Plane
    (U+0000-U+FFFF), as ranges, found by ``\w`` itself (so it is ``\w`` on any Python's Unicode data).

    The engine tests ``\w`` as alpha, decimal, digit or numeric: up to four Unicode table lookups per character; a
    class of ranges below U+10000 compiles to one bitmap, one lookup per character.
    """
    plane = "".join(map(chr, range(0x10000)))
    return "[" + "".join(f"\\u{m.start():04x}-\\u{m.end() - 1:04x}" for m in re.finditer(r"\w+", plane)) + "]"


# _SPLIT for texts without characters beyond the BMP (nearly all): the same parts, 82 -> 63 us for an article.
# (Possessive: a run of word characters and its "+" are never given back, as no match could need them.)  The class
# is written twice, "[w][w]*+" for "[w]++": a pattern that opens with a class lets the engine skip to the next word
# character in one C loop instead of trying a match at every gap character (61 -> 58 us).
_WORD_CLASS: Final = _bmp_word_class()
_SPLIT_BMP: Final = re.compile(f"({_WORD_CLASS}{_WORD_CLASS}*+\\+?+)")
# The size of a str of one character beyond the BMP, less that character (4 bytes) and the terminating NUL (4 bytes).
_WIDE_STR_HEADER: Final = sys.getsizeof("\U00010000") - 8


def _may_leave_the_bmp(text: str) -> bool:
    """True when ``text`` may hold a character beyond the BMP; False only when it holds none.

    CPython keeps a str at 1, 2 or 4 bytes per character (PEP 393) and only 4 bytes can hold one beyond U+FFFF, so
    a size under that of the 4-byte form rules them out in O(1) (encoding to UTF-16 to look costs ~5 us).
    """
    return sys.getsizeof(text) >= _WIDE_STR_HEADER + 4 * (len(text) + 1)


def _split(match: str) -> list[str]:
    """``_SPLIT.split(match)``, through the faster :data:`_SPLIT_BMP` when every character is in the BMP."""
    return _SPLIT.split(match) if _may_leave_the_bmp(match) else _SPLIT_BMP.split(match)


_ARABIC: Final = re.compile(r"[\u0600-\u06ff]")

# Proclitic clusters that may be attached to the first token of a mention, longest first.
_PROCLITICS: Final = ("وب", "ول", "وك", "فب", "فل", "فك", "و", "ف", "ب", "ل", "ك")
# ل + ال contracts to لل: "للأمم المتحدة" is ل + "الأمم المتحدة".
_LAM_ARTICLE: Final = ("ولل", "فلل", "لل")
_CLITIC_LETTERS: Final = frozenset("وفبلك")

# Alias kinds.
_NAME: Final = 0  # an ordinary name
_CTX: Final = 1  # a name that is also a common word: needs a place cue or a neighbouring place
_ADJ: Final = 2  # a nisba adjective ("الأرمينية"), only with ``nisba=True``

# Token indices made once: compress() over them picks positions without making an int object per token.
_INDICES: Final = tuple(range(1 << 14))


def _indices(n: int) -> Sequence[int]:
    return _INDICES if n <= len(_INDICES) else range(n)


def _lookup_all(table: dict[str, int], toks: list[str]) -> bytes:
    """``bytes(map(table.__getitem__, toks))`` (KeyError on a token not in ``table``), through one
    ``itemgetter`` of all the tokens: C looks each one up without a method call per token (22 -> 19 us for an
    article).  ``itemgetter`` of one key gives the value itself, of none is an error: those go the plain way."""
    if len(toks) < 2:
        return bytes(map(table.__getitem__, toks))
    return bytes(itemgetter(*toks)(table))


@lru_cache(maxsize=1 << 14)
def _slug(text: str) -> str:
    return "-".join(m.group() for m in _TOKEN.finditer(text.lower())) or "x"


@dataclass(slots=True)
class _Span:
    first: int  # first token index
    last: int  # last token index (inclusive)
    start: int  # character offsets in the text
    end: int
    type: EntityType
    canonical: str
    name: str
    confidence: float
    kind: int = _NAME


class _Doc:
    """One article: its text, matching text and tokens (with lazily computed offsets)."""

    __slots__ = ("_cum", "_parts", "match", "owner", "text", "toks")

    def __init__(self, text: str, match: str) -> None:
        self.text = text
        self.match = match
        # Alternating gaps and tokens: parts[2i + 1] is token i, parts[2i + 2] the gap after it.
        self._parts: list[str] = _split(match)
        self._cum: list[int] = list(accumulate(map(len, self._parts), initial=0))
        self.toks: list[str] = self._parts[1::2]
        self.owner: list[int] = [-1] * len(self.toks)  # token index -> span index or -1

    def start(self, i: int) -> int:
        return self._cum[2 * i + 1]

    def end(self, i: int) -> int:
        return self._cum[2 * i + 2]

    def word(self, i: int) -> str:
        """The display form of token i."""
        return self.text[self._cum[2 * i + 1]:self._cum[2 * i + 2]]

    def gap_before(self, i: int) -> str:
        return self._parts[2 * i]

    def gap_after(self, i: int) -> str:
        return self._parts[2 * i + 2]

    def joined(self, i: int) -> bool:
        """Are tokens i and i+1 in one phrase (only spaces or a hyphen between them)?"""
        gap = self._parts[2 * i + 2]
        if gap in (" ", "-", " - ", "'"):
            return True
        # "U.S." -> tokens "u", "s" with a "." between them.
        return gap == "." and len(self.toks[i]) == 1


@lru_cache(maxsize=1 << 17)
def _candidates(tok: str) -> tuple[tuple[str, int], ...]:
    """The token and its forms without an attached proclitic, with the proclitic's length.

    For لل the stem gets its article back ("للأمم" -> "الأمم") and the offset stays on the ل,
    since the display text has no "ال" to point at.  Cached: tokens repeat across articles.
    """
    if tok[0] not in _CLITIC_LETTERS:
        return ((tok, 0),)
    out = [(tok, 0)]
    for p in _LAM_ARTICLE:
        if tok.startswith(p) and len(tok) - len(p) >= 2:
            out.append(("ال" + tok[len(p):], len(p) - 2))
            break
    for p in _PROCLITICS:
        if tok.startswith(p) and len(tok) - len(p) >= 3:
            out.append((tok[len(p):], len(p)))
    return tuple(out)


def _capitalised(display: str) -> bool:
    return display[:1].isupper()


def _claim(doc: _Doc, spans: list[_Span], span: _Span) -> None:
    doc.owner[span.first:span.last + 1] = [len(spans)] * (span.last - span.first + 1)
    spans.append(span)


@lru_cache(maxsize=1 << 17)
def _strip(tok: str) -> frozenset[str]:
    return frozenset(stem for stem, _ in _candidates(tok))


def _any_in(tok: str, words: frozenset[str]) -> bool:
    return not _strip(tok).isdisjoint(words)


_SENTENCE_END: Final = frozenset(".!?\n:؟")


def _sentence_start(doc: _Doc, i: int) -> bool:
    gap = doc.gap_before(i).strip(" \"'«“”")
    return i == 0 or gap[-1:] in _SENTENCE_END or "\n" in doc.gap_before(i)


def _title_case_line(doc: _Doc, i: int, cache: dict[int, bool] | None = None) -> bool:
    """Is token i in a Title Case line (an English headline), where capitals say nothing about names?"""
    start = doc.text.rfind("\n", 0, doc.start(i)) + 1
    if cache is not None and start in cache:
        return cache[start]
    stop = doc.text.find("\n", doc.end(i))
    words = [w for w in doc.text[start:stop if stop >= 0 else len(doc.text)].split() if len(w) >= 4]
    found = len(words) >= 5 and sum(1 for w in words if w[:1].isupper()) >= 0.7 * len(words)
    if cache is not None:
        cache[start] = found
    return found

