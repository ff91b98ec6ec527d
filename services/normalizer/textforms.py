"""Character-level text forms shared by every stage.

* :func:`display_form` cleans text for people: NFKC, no tashkeel, tatweel,
  zero-width or bidi control characters, ASCII digits.
* :func:`matching_form` maps a display text to the form used for matching
  (alef/hamza forms unified, ى→ي, ة→ه, Latin lower-cased) **character for
  character**, so ``len(matching_form(t)) == len(t)`` and an offset found in the
  matching form indexes the display text unchanged.
"""

from __future__ import annotations

import re
import unicodedata

# Arabic harakat, tanwin, shadda, sukun, superscript alef, Quranic marks.
_TASHKEEL = "".join(chr(c) for c in [*range(0x0610, 0x061B), *range(0x064B, 0x0660), 0x0670,
                                      *range(0x06D6, 0x06DD), *range(0x06DF, 0x06E5), 0x06E7, 0x06E8,
                                      *range(0x06EA, 0x06EE)])
_TATWEEL = "\u0640"
# Zero-width and bidirectional control characters, BOM, soft hyphen.
_CONTROLS = ("\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
             "\u2066\u2067\u2068\u2069\u061c\ufeff\u00ad")
_DROP = str.maketrans("", "", _TASHKEEL + _TATWEEL + _CONTROLS)

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_PUNCT = str.maketrans({"«": '"', "»": '"', "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'",
                        "\u00a0": " "})

_MATCH = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})

_SPACES = re.compile(r"[ \t\f\v]+")


def display_form(text: str) -> str:
    """Clean ``text`` for display; line breaks are kept, runs of spaces collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(_DROP).translate(_DIGITS).translate(_PUNCT)
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(lines)


def _lower1(ch: str) -> str:
    low = ch.lower()
    return low if len(low) == 1 else ch


def matching_form(display: str) -> str:
    """Matching form of a display text, with exactly the same length."""
    mapped = display.translate(_MATCH)
    if mapped.isascii() or not any(c.isupper() for c in mapped):
        return mapped.lower() if mapped.isascii() else mapped
    return "".join(_lower1(c) for c in mapped)
