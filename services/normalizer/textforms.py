"""Character-level text forms shared by every stage.

* :func:`display_form` cleans text for people: NFKC, no tashkeel, tatweel,
  zero-width or bidi control characters, ASCII digits (and the Arabic decimal,
  thousands and percent signs as ``.``, ``,`` and ``%``), straight quotes.
* :func:`matching_form` maps a display text to the form used for matching
  (alef/hamza forms unified, ى→ي, ة→ه, ؤ→و, ئ→ي, Persian ی/ک/ھ→ي/ك/ه, Latin
  lower-cased) **character for character**, so ``len(matching_form(t)) == len(t)``
  and an offset found in the matching form indexes the display text unchanged.

Both run on the normalizer's hot path.  ``str.translate`` costs ~50 ns per
character on non-ASCII text, so the passes below use regular expressions (which
only do work where something matches) and ``str.replace``.
"""

from __future__ import annotations

import re
import unicodedata

# Arabic harakat, tanwin, shadda, sukun, superscript alef, Quranic marks.
_TASHKEEL = "".join(chr(c) for c in [*range(0x0610, 0x061B), *range(0x064B, 0x0660), 0x0670,
                                      *range(0x06D6, 0x06DD), *range(0x06DF, 0x06E5), 0x06E7, 0x06E8,
                                      *range(0x06EA, 0x06EE)])
_TATWEEL = "\u0640"
# Zero-width, joiner and bidirectional control characters, BOM, soft hyphen.
_CONTROLS = ("\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
             "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u206a\u206b\u206c\u206d\u206e\u206f"
             "\u061c\u180e\ufeff\u00ad")

# One-to-one character replacements of the display form.
_MAP: dict[str, str] = {
    **dict(zip("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789", strict=True)),
    "٫": ".", "٬": ",", "٪": "%",
    "«": '"', "»": '"', "“": '"', "”": '"', "„": '"', "‟": '"', "‘": "'", "’": "'", "‚": "'",
    # compatibility spaces (no-break, en/em/thin..., narrow no-break, ideographic), as NFKC would
    **dict.fromkeys("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                    "\u202f\u205f\u3000", " "),
}
# A single pass finds the characters to drop or map; the callback only runs on those.  The class
# matches one character, not runs (``[...]+``): ``re`` then scans with its fast first-character
# loop, 30 µs → 13 µs on a 3,300-character Arabic body (callbacks included).
_CLEAN_CHARS: dict[str, str] = {**_MAP, **dict.fromkeys(_TASHKEEL + _TATWEEL + _CONTROLS, "")}
_COMPOSING_MARKS = "\u0653\u0654\u0655"  # madda and hamza above/below: NFC composes them
_CLEAN_RE = re.compile("[" + re.escape("".join(c for c in _CLEAN_CHARS if c not in _COMPOSING_MARKS)) + "]")
_CLEAN_ALL_RE = re.compile("[" + re.escape("".join(_CLEAN_CHARS)) + "]")

_LINEBREAK_RE = re.compile("\r\n?|[\u2028\u2029\u0085]")
# Whitespace that NFKC leaves alone and that needs collapsing to one space.
_ODD_SPACES = ("  ", "\t", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\u1680")

_MATCH_PAIRS: tuple[tuple[str, str], ...] = (
    ("أ", "ا"), ("إ", "ا"), ("آ", "ا"), ("ٱ", "ا"), ("ى", "ي"), ("ة", "ه"), ("ؤ", "و"), ("ئ", "ي"),
    ("ی", "ي"), ("ک", "ك"), ("ھ", "ه"),
)


def _clean_char(m: re.Match[str]) -> str:
    return _CLEAN_CHARS[m.group()]


def display_form(text: str) -> str:
    """Clean ``text`` for display; line breaks are kept, runs of spaces collapsed, lines stripped."""
    if "\r" in text or "\u2028" in text or "\u2029" in text or "\x85" in text:
        text = _LINEBREAK_RE.sub("\n", text)
    # Dropping the marks first keeps the (expensive) NFKC pass to texts that need it; the hamza
    # and madda marks are kept for it, since NFKC composes "ا" + "ٔ" into "أ".
    text = _CLEAN_RE.sub(_clean_char, text)
    if not unicodedata.is_normalized("NFKC", text) or any(c in text for c in _COMPOSING_MARKS):
        text = _CLEAN_ALL_RE.sub(_clean_char, unicodedata.normalize("NFKC", text))
    lines = text.split("\n")
    if any(ws in text for ws in _ODD_SPACES):
        return "\n".join([" ".join(line.split()) for line in lines])
    return "\n".join([line.strip() for line in lines])


# The one character whose lower case is longer than itself ("İ" → "i̇"; a unit test checks all of Unicode).
_LONG_LOWER = "\u0130"


def matching_form_is_per_line(display: str) -> bool:
    """Is ``matching_form(display)`` made line by line, i.e. is the matching form of a text joined from
    lines of ``display`` the join of those lines' matching forms?

    It is unless ``display`` holds a character whose lower case is longer (then :func:`matching_form`
    lowers it character by character, without the final-sigma context): the letter pairs are
    context-free, and ``str.lower``'s only context (final sigma) stops at a line break.
    """
    return _LONG_LOWER not in display


def _lower1(ch: str) -> str:
    low = ch.lower()
    return low if len(low) == 1 else ch


def matching_form(display: str) -> str:
    """Matching form of a display text, with exactly the same length."""
    mapped = display
    for src, dst in _MATCH_PAIRS:
        if src in mapped:
            mapped = mapped.replace(src, dst)
    low = mapped.lower()
    # ``str.lower`` only ever lengthens (e.g. "İ" -> "i̇"); fall back per character then.
    if len(low) == len(mapped):
        return low
    return "".join(_lower1(c) for c in mapped)
